/* stream.h - TCP stream reassembly for the signature engine.
 *
 * Content may span TCP segments, so the engine scans each direction of a
 * TCP flow as a stream. For every span of NEW in-order bytes, this module
 * hands the caller
 *
 *     [ window | new ]
 *
 * where the window is up to `window` in-order bytes that came just before
 * the new ones (struct stream_span: two pieces, joined on request, so an
 * in-order segment is not copied). The engine reports only matches that
 * touch the new bytes, so data seen twice (retransmissions, overlaps) never
 * alerts twice. The module knows nothing of rules or Hyperscan.
 *
 * One table per worker, never shared, so nothing locks. All memory is
 * allocated by stream_table_create(); the hot path never allocates. A flow
 * owns a slot (1..flows) from stream_slot_alloc() until the caller frees it
 * when the flow ends.
 *
 * Per direction:
 *  - Sequence numbers compare with serial arithmetic (wrap at 2^32).
 *  - A SYN starts the direction at seq+1; data it carries (TCP Fast Open)
 *    is delivered. A SYN with a new ISN restarts a direction that has
 *    delivered nothing yet (dropping what it held); otherwise a SYN is a
 *    retransmission. A direction first seen without SYN starts midstream at
 *    the seq of its first segment with data.
 *  - Bytes before the next expected seq are trimmed: the copy delivered
 *    first wins. Among held segments that overlap, the lower seq wins (on
 *    equal seqs, the one that came first).
 *  - A segment beyond the next expected seq is copied and held (sorted by
 *    seq, at most ooo_segments per direction, within the table's pool) until
 *    the gap is filled; the held segments it makes contiguous are delivered
 *    in the same callback.
 *  - Gap policy, when an out-of-order segment cannot be held (direction
 *    limit or pool full): the direction gives up its first gap. It jumps
 *    to the earliest data it has (the earliest held segment, or the new one)
 *    and delivers from there with an empty window, since the bytes before
 *    are missing. The new segment is delivered, or held if it still lies
 *    beyond a gap and now fits, or else lost (its bytes become a later gap).
 *    A lost packet thus costs at most ooo_segments segments of delay and
 *    never wedges a flow.
 *  - Once `depth` bytes are delivered the direction is done: its held
 *    segments are discarded and later bytes are only counted.
 *  - FIN and RST need nothing: data they carry is data. */
#ifndef MAMORI_STREAM_H
#define MAMORI_STREAM_H

#include <stddef.h>
#include <stdint.h>

#define STREAM_MAX_SEGMENT 65535u  /* longest payload stream_segment() accepts */

struct stream_config {
    uint32_t flows;          /* slots: flows reassembled at once (default 65536) */
    uint32_t window;         /* bytes of preceding in-order data kept per direction (default 512) */
    uint32_t depth;          /* bytes per direction after which it is no longer delivered
                                (default 1 MiB; 0 = unlimited) */
    uint32_t ooo_segments;   /* out-of-order segments held per direction at most (default 8) */
    uint32_t ooo_pool_bytes; /* per-table bytes for held out-of-order data (default 4 MiB) */
    uint32_t extra_bytes;    /* caller-owned bytes per slot, zeroed at slot allocation
                                (the worker keeps the flow's flowbits there) */
};

void stream_config_default(struct stream_config *c);

/* What stream_segment() did with a segment. */
enum stream_result {
    STREAM_DELIVERED = 0,  /* fn was called with new in-order bytes */
    STREAM_HELD,           /* out of order: copied and held for later */
    STREAM_RETRANSMIT,     /* nothing new: every byte was seen (or is held) already */
    STREAM_DEPTH,          /* the direction is past its depth: not delivered */
    STREAM_EMPTY,          /* no payload: only state changed (SYN), if anything */
    STREAM_INVALID,        /* bad slot or direction, or payload over STREAM_MAX_SEGMENT */
};

/* Gauges (slots_in_use, ooo_bytes) go up and down; the rest only count up. */
#define STREAM_COUNTERS(X) \
    X(SEGMENTS,         "stream.segments")             /* segments given to stream_segment() */ \
    X(DELIVERIES,       "stream.deliveries")           /* callbacks made */ \
    X(BYTES,            "stream.bytes")                /* new in-order bytes delivered */ \
    X(RETRANSMITS,      "stream.retransmits")          /* segments with nothing new */ \
    X(RETRANSMIT_BYTES, "stream.retransmit_bytes")     /* bytes trimmed as seen before */ \
    X(OOO_HELD,         "stream.ooo_held")             /* segments held out of order */ \
    X(OOO_RELEASED,     "stream.ooo_released")         /* held segments reached by in-order data */ \
    X(OOO_DISCARDED,    "stream.ooo_discarded")        /* held segments thrown away (slot freed, depth) */ \
    X(OOO_DROPPED,      "stream.ooo_dropped")          /* out-of-order segments that found no room */ \
    X(OOO_BYTES,        "stream.ooo_bytes")            /* gauge: payload bytes held now */ \
    X(GAPS,             "stream.gaps")                 /* gaps given up by the gap policy */ \
    X(GAP_BYTES,        "stream.gap_bytes")            /* sequence space skipped by gaps */ \
    X(DEPTH_REACHED,    "stream.depth_reached")        /* directions that reached depth */ \
    X(DEPTH_BYTES,      "stream.depth_bytes_skipped")  /* new bytes not delivered past depth */ \
    X(SLOTS_IN_USE,     "stream.slots_in_use")         /* gauge */ \
    X(NO_SLOT,          "stream.no_slot")              /* stream_slot_alloc() found none free */ \
    X(INVALID_SEGMENTS, "stream.invalid_segments")     /* segments refused as STREAM_INVALID */

enum stream_counter {
#define STREAM_COUNTER_ENUM(id, name) STREAM_##id,
    STREAM_COUNTERS(STREAM_COUNTER_ENUM)
#undef STREAM_COUNTER_ENUM
    STREAM_COUNTER_COUNT
};

const char *stream_counter_name(enum stream_counter i);

struct stream_table;

/* Setup: allocates everything the table will ever use. NULL on a bad
 * config or no memory, with the cause in err. */
struct stream_table *stream_table_create(const struct stream_config *c, char *err, size_t errlen);
void stream_table_destroy(struct stream_table *t);

/* A free slot (1..flows), its state fresh and its extra bytes zeroed; 0 when
 * none is free (counted in stream.no_slot). O(1). */
uint32_t stream_slot_alloc(struct stream_table *t);

/* Give a slot back, with the held segments of both directions. O(held). */
void stream_slot_free(struct stream_table *t, uint32_t slot);

/* The slot's extra_bytes caller-owned bytes (16-byte aligned). */
void *stream_slot_extra(struct stream_table *t, uint32_t slot);

/* What a delivery hands over: the new in-order bytes, and the window, the
 * up to `window` in-order bytes just before them. The two are not adjacent
 * in memory: the new bytes are most often the packet's own payload, and
 * nothing is copied unless the callback asks. `join` is where the new
 * bytes must lie for the pair to be one buffer: it has window_len bytes of
 * room before it, for the window, and len bytes from it (data may be join
 * already: the bytes were merged from held segments). All pointers are
 * valid only during the call. */
struct stream_span {
    const uint8_t *window;
    uint32_t window_len;
    const uint8_t *data;
    uint32_t len;
    uint8_t *join;
};

typedef void (*stream_data_fn)(void *ctx, const struct stream_span *span);

/* One TCP segment of direction dir (0/1) of the flow owning slot: seq and
 * tcp_flags (the header's flags byte) as on the wire, payload of len bytes.
 * Calls fn at most once, when the segment (with any held segments it makes
 * contiguous) adds new in-order bytes below depth. */
enum stream_result stream_segment(struct stream_table *t, uint32_t slot, unsigned dir,
                                  uint32_t seq, uint8_t tcp_flags,
                                  const uint8_t *payload, uint32_t len,
                                  stream_data_fn fn, void *ctx);

/* Any thread may read counters while the owning worker runs. */
uint64_t stream_counter(const struct stream_table *t, enum stream_counter i);

/* Bytes allocated by stream_table_create(). */
size_t stream_table_memory(const struct stream_table *t);

#endif
