/* anomaly_int.h - what the workers' and the main thread's halves of the
 * statistical detectors share: the layout of one tick's snapshot, the
 * per-packet classification and the inline per-packet update.
 *
 * Internal to detectors/ (and its tests and benchmark); the public API is
 * anomaly_worker.h (worker side) and anomaly.h (main side).
 *
 * A snapshot is everything one worker learned during one 1 s tick of packet
 * time, in fixed-size tables of hashed cells (sizes from the configuration,
 * so memory never depends on the traffic):
 *
 *   dst    per destination address, every packet: packets and bytes per
 *          packet class (SYN, unsolicited SYN-ACK, UDP, reflector response,
 *          fragment...), new flows. Two rows (Count-Min): a key's count is
 *          the smaller of its two cells, and never below the truth.
 *   dsrc   per destination, on each new flow: HyperLogLog of the sources.
 *   pair   per (source, destination), on each new flow: flows, a weight
 *          (flows + packets in steps of 1024) for "top sources", and for
 *          connection attempts a HyperLogLog of the destination ports
 *          (port scan).
 *   svc    per (source, destination port), on each attempt: HyperLogLog of
 *          the destination hosts (host sweep).
 *   bf     per (source, destination, service port), for brute-force ports:
 *          connections, long ones, failed ones.
 *
 * Cells of every table but dsrc also keep a key: the address (or tuple)
 * that holds the majority of the cell's updates (Boyer-Moore vote: the
 * same key adds a vote, another takes one away and replaces the key at
 * zero). That is how the main thread learns which keys are heavy without a
 * per-packet heap: it reads the keys out of the cells, then estimates each
 * key from both rows. A key that owns more than half of its cell's updates
 * is always found; under a spoofed flood nobody owns the cells of the
 * sources, and their votes stay near zero.
 *
 * Merging two workers' snapshots adds counters and takes the register-wise
 * maximum of HyperLogLogs, so counts and distinct counts of the merge equal
 * those of one worker that saw every packet. Keys merge by vote (the larger
 * vote wins, the votes subtract), which can differ from one worker's votes
 * when two keys share a cell. */
#ifndef MAMORI_ANOMALY_INT_H
#define MAMORI_ANOMALY_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <netinet/in.h>

#include "anomaly.h"
#include "anomaly_worker.h"
#include "decoder.h"
#include "flow.h"
#include "sketch.h"

#define AN_ROWS 2
#define AN_HLL_P 6
#define AN_HLL_BYTES 64
#define AN_NO_TICK UINT64_MAX
#define AN_NS 1000000000ull

#define AN_TH_FIN 0x01
#define AN_TH_SYN 0x02
#define AN_TH_RST 0x04
#define AN_TH_ACK 0x10
#define AN_TH_ECE 0x40
#define AN_TH_CWR 0x80

/* What a packet is, for the per-destination counters. One class per packet. */
enum an_class {
    AN_C_SYN = 0,        /* SYN without ACK */
    AN_C_SYN_ECN,        /* SYN with ECE and CWR */
    AN_C_SYNACK,         /* SYN-ACK answering a SYN the flow saw */
    AN_C_SYNACK_UNSOL,   /* SYN-ACK with no SYN from the other side (or no flow) */
    AN_C_ACK,            /* ACK (data, FIN) of a flow both sides spoke in */
    AN_C_ACK_UNSOL,      /* ACK toward a host that never sent in that flow, no SYN seen */
    AN_C_HS_DONE,        /* the ACK that completes a handshake (toward the server) */
    AN_C_RST,
    AN_C_TCP_OTHER,      /* no SYN/ACK/RST (FIN, NULL, XMAS), or TCP without header */
    AN_C_UDP,
    AN_C_REFL_UNSOL,     /* UDP from a reflector port, no packet seen the other way */
    AN_C_ICMP,
    AN_C_FRAG,           /* any IP fragment, first or later */
    AN_C_OTHER,          /* other IP protocols */
    AN_NCLASS
};

/* Bytes are kept per family of classes (whole-packet wire bytes). */
enum an_bclass { AN_B_TCP = 0, AN_B_UDP, AN_B_REFL, AN_B_ICMP, AN_B_FRAG, AN_B_OTHER, AN_NBCLASS };

static const uint8_t an_bclass_of[AN_NCLASS] = {
    [AN_C_SYN] = AN_B_TCP, [AN_C_SYN_ECN] = AN_B_TCP, [AN_C_SYNACK] = AN_B_TCP,
    [AN_C_SYNACK_UNSOL] = AN_B_TCP, [AN_C_ACK] = AN_B_TCP, [AN_C_ACK_UNSOL] = AN_B_TCP,
    [AN_C_HS_DONE] = AN_B_TCP, [AN_C_RST] = AN_B_TCP, [AN_C_TCP_OTHER] = AN_B_TCP,
    [AN_C_UDP] = AN_B_UDP, [AN_C_REFL_UNSOL] = AN_B_REFL, [AN_C_ICMP] = AN_B_ICMP,
    [AN_C_FRAG] = AN_B_FRAG, [AN_C_OTHER] = AN_B_OTHER,
};

/* An address as a cell key: the 16 bytes as two words, plus the version. */
struct an_addr {
    uint64_t w[2];
    uint8_t version;
};

/* A destination's cell is split by how often it is written. The line every
 * packet touches (struct an_dst_cell, 64 bytes) holds the key's tag, its
 * votes and the low 16 bits of the packet counters; the rest (struct
 * an_dst_ext, the same index in a parallel array) is touched on new flows,
 * reflector responses, an IPv6 key taking the cell and a counter's carry,
 * once in 65536 packets. Two lines a packet, not four, is what the
 * statistics cost on traffic toward many destinations (every packet a
 * cache miss per row).
 *
 * The key is the tag, the address as one number (an_addr_x()): an IPv4
 * address itself, or a hash of an IPv6 one with the top bit set, whose
 * address is then kept in the ext's key[] for the main thread to report. A
 * cell with votes == 0 and tag 0 is empty. Votes saturate at 65535: a key
 * that heavy keeps its cell for a while, which is the point. Bytes are
 * counted in units of 8 (a 32-bit counter then holds 34 GB a tick: no
 * saturation test per packet; frames lose < 8 bytes each). Read packet
 * counts with an_dst_count(). */
#define AN_BYTE_SHIFT 3

/* The counters of a destination cell: packets per class, then new flows. */
#define AN_NEW_FLOWS AN_NCLASS
#define AN_NCOUNT (AN_NCLASS + 1)

struct an_dst_cell {
    uint64_t tag;
    uint16_t votes;
    uint16_t count[AN_NCOUNT];     /* low halves; high halves in an_dst_ext */
    uint32_t bytes[AN_NBCLASS];    /* in units of 1 << AN_BYTE_SHIFT */
};
_Static_assert(sizeof(struct an_dst_cell) == 64, "dst cell is one line");

struct an_dst_ext {
    uint64_t key[2];               /* IPv6 only */
    uint32_t refl_votes;
    uint16_t refl_port;            /* majority source port of REFL_UNSOL */
    uint16_t count_hi[AN_NCOUNT];
    uint8_t pad1[12];
};
_Static_assert(sizeof(struct an_dst_ext) == 64, "dst ext is one line");

struct an_hll_cell {
    uint8_t reg[AN_HLL_BYTES];
};

struct an_pair_cell {
    uint64_t src[2], dst[2];
    uint32_t votes;
    uint8_t version;
    uint8_t pad0[3];
    uint32_t flows;                /* new flows src -> dst */
    uint32_t weight;               /* flows + packets src -> dst in steps of 1024 */
    uint32_t attempts;             /* connection attempts (SYN, UDP request, echo) */
    uint32_t failed;               /* attempts that ended unanswered or refused */
    uint8_t pad1[8];
    uint8_t ports[AN_HLL_BYTES];   /* HyperLogLog of the attempts' destination ports */
};
_Static_assert(sizeof(struct an_pair_cell) == 128, "pair cell is two lines");

struct an_svc_cell {
    uint64_t src[2];
    uint32_t votes;
    uint16_t port;
    uint8_t version;
    uint8_t proto;
    uint32_t attempts;
    uint32_t failed;
    uint8_t pad1[32];
    uint8_t hosts[AN_HLL_BYTES];   /* HyperLogLog of the attempts' destinations */
};
_Static_assert(sizeof(struct an_svc_cell) == 128, "svc cell is two lines");

struct an_bf_cell {
    uint64_t src[2], dst[2];
    uint32_t votes;
    uint16_t port;
    uint8_t version;
    uint8_t pad0;
    uint32_t attempts;             /* new connections to the service */
    uint32_t longc;                /* of those ended, the long ones */
    uint32_t failed;               /* of those ended, the refused / unanswered */
    uint8_t pad1[12];
};
_Static_assert(sizeof(struct an_bf_cell) == 64, "bf cell is one line");

/* Whole-tick totals of one worker. */
struct an_totals {
    uint64_t pkts;
    uint64_t bytes;
    uint64_t nonip;
    uint64_t invalid;              /* packets the decoder flagged malformed */
    uint64_t new_flows;
    uint64_t flow_ends;
    uint64_t events_skipped;       /* new flows past event_budget: dst counts only */
};

/* Table dimensions: every snapshot of an engine has the same. */
struct an_dims {
    uint32_t dst_width, dst_shift;     /* width a power of two; shift = 64 - log2 */
    uint64_t dst_a[2], dst_b[2];       /* per-row multiply-add-shift, from the seed */
    uint32_t dsrc_width, dsrc_shift;
    uint32_t ev_width, ev_shift;       /* pair and svc */
    uint32_t bf_width, bf_shift;
};

/* One worker's tick. The tables are AN_ROWS rows of width cells each. */
struct an_snap {
    uint64_t tick;                 /* seconds of packet time */
    struct an_totals tot;
    struct an_dst_cell *dst;
    struct an_dst_ext *dst_ext;    /* parallel to dst */
    struct an_hll_cell *dsrc;
    struct an_pair_cell *pair;
    struct an_svc_cell *svc;
    struct an_bf_cell *bf;
    void *mem;                     /* one allocation for all tables */
    size_t mem_bytes;
    uint64_t *dirty;               /* a bit per block of mem that may be non-zero */
    size_t dirty_words;
    bool all_dirty;                /* dense: the bits are not kept, all of mem counts */
};

/* ---- sparse ticks ------------------------------------------------------------
 * A tick of a few packets writes a few cells, but merging, scanning and
 * clearing a whole snapshot reads and writes all of it (6.75 MiB with the
 * defaults): replayed offline, a capture whose packets spread over
 * thousands of seconds (most real ones: the merged nDPI capture has 11
 * packets a second) spent 90% of its time there. So a snapshot marks the
 * 4 KiB blocks it writes while it is sparse - the per-packet path while the
 * tick has at most AN_SPARSE_PKTS packets (one predictable branch), the
 * out-of-line paths always - and the main thread visits only those.
 * Past that the worker calls it dense when it publishes it (all_dirty),
 * and it is merged, scanned and cleared whole. */
#define AN_BLOCK_SHIFT 12
#define AN_SPARSE_PKTS 256

static inline void an_snap_mark(struct an_snap *s, size_t block)
{
    s->dirty[block >> 6] |= 1ull << (block & 63);
}

/* The bytes [p, p + size) of s's tables may now be non-zero. */
static inline void an_snap_touch(struct an_snap *s, const void *p, size_t size)
{
    size_t a = (size_t)((const uint8_t *)p - (const uint8_t *)s->mem);
    an_snap_mark(s, a >> AN_BLOCK_SHIFT);
    an_snap_mark(s, (a + size - 1) >> AN_BLOCK_SHIFT);
}

/* Out of line: destination cells k0 and k1 of a sparse tick's packet. */
void an_snap_touch_dst(struct an_snap *s, size_t k0, size_t k1);

/* The cells of one table of s that may be non-zero, as runs [lo, hi) in
 * order, each cell once: the whole table when s is dense.
 *
 *   struct an_cells it;
 *   an_cells_begin(&it, s, s->pair, sizeof(*s->pair), n);
 *   for (size_t lo, hi; an_cells_next(&it, &lo, &hi);)
 *       for (size_t k = lo; k < hi; k++) ... */
struct an_cells {
    const struct an_snap *s;
    size_t off, size, n;           /* the table: byte offset in mem, cell size, cells */
    size_t block, last_block;      /* blocks still to look at */
    size_t next;                   /* first cell not yet returned */
};

void an_cells_begin(struct an_cells *it, const struct an_snap *s, const void *table, size_t size,
                    size_t n);
bool an_cells_next(struct an_cells *it, size_t *lo, size_t *hi);

static inline bool an_snap_used(const struct an_snap *s)
{
    return s->tot.pkts != 0 || s->tot.flow_ends != 0;
}

/* Row multipliers (odd): one multiply-shift per row picks the column. */
static const uint64_t an_row_mult[AN_ROWS] = { 0xe220a8397b1dcdafULL, 0x6e789e6aa1b965f5ULL };

static inline size_t an_col(uint64_t h, unsigned row, uint32_t shift)
{
    return (size_t)((h * an_row_mult[row]) >> shift);
}

/* A single-producer single-consumer ring of snapshot pointers. */
#define AN_RING_SLOTS 16
struct an_ring {
    _Atomic uint32_t head;         /* written by the producer */
    uint8_t pad0[60];
    _Atomic uint32_t tail;         /* written by the consumer */
    uint8_t pad1[60];
    struct an_snap *slot[AN_RING_SLOTS];
};

static inline bool an_ring_push(struct an_ring *r, struct an_snap *s)
{
    uint32_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
    uint32_t t = atomic_load_explicit(&r->tail, memory_order_acquire);
    if (h - t >= AN_RING_SLOTS)
        return false;
    r->slot[h % AN_RING_SLOTS] = s;
    atomic_store_explicit(&r->head, h + 1, memory_order_release);
    return true;
}

static inline struct an_snap *an_ring_peek(struct an_ring *r)
{
    uint32_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
    uint32_t h = atomic_load_explicit(&r->head, memory_order_acquire);
    return h == t ? NULL : r->slot[t % AN_RING_SLOTS];
}

static inline void an_ring_pop(struct an_ring *r)
{
    uint32_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
    atomic_store_explicit(&r->tail, t + 1, memory_order_release);
}

/* Port sets as bitmaps: one bit test per packet. */
struct an_portset {
    uint64_t bits[65536 / 64];
};

static inline bool an_port_in(const struct an_portset *s, uint16_t port)
{
    return (s->bits[port >> 6] >> (port & 63)) & 1;
}

struct anomaly_worker {
    /* hot, read per packet */
    struct an_snap *cur;
    uint64_t seed;
    struct an_dims dims;
    const struct an_portset *refl_ports;   /* the engine's */
    const struct an_portset *bf_ports;
    uint64_t tick;                         /* current tick, AN_NO_TICK before the first */
    uint64_t bf_long_ns;                   /* a brute-force connection this long is a session */
    uint64_t event_budget;                 /* new flows a tick fully accounted */
    /* tick hand-over */
    bool lossless;
    struct an_ring published;              /* worker -> main */
    struct an_ring free;                   /* main -> worker (cleared snapshots) */
    _Atomic uint64_t done_tick;            /* every tick below is published; UINT64_MAX: finished */
    _Atomic uint64_t ticks_dropped;
    _Atomic bool starved;                  /* lossless, waiting for a free snapshot */
    unsigned id;
    unsigned nsnaps;
    struct an_snap *snaps;                 /* all of them, for destroy */
};

/* ---- hashing ------------------------------------------------------------ */

static inline void an_addr_load(struct an_addr *a, const uint8_t addr[16], uint8_t version)
{
    memcpy(a->w, addr, 16);
    a->version = version;
}

/* An address as one 64-bit number: IPv4 as it is (bytes 4..15 are zero),
 * IPv6 folded by a keyed hash (top bit set, so never equal to an IPv4). */
static inline uint64_t an_addr_x(const struct an_addr *a, uint64_t seed)
{
    if (a->version != 6)
        return a->w[0];
    return sketch_hash64(a->w[1], sketch_hash64(a->w[0], seed ^ 6)) | (1ull << 63);
}

/* The keyed hash of an address, for everything but the per-destination
 * table's columns (distinct sources, pairs, the main thread's tables). */
static inline uint64_t an_addr_hash(const struct an_addr *a, uint64_t seed)
{
    return sketch_hash64(an_addr_x(a, seed), seed);
}

/* an_addr_x() of a packet's destination, straight from the record. */
static inline uint64_t an_dst_x(const struct decoded_packet *d, uint64_t seed)
{
    uint64_t w[2];
    memcpy(w, d->dst_addr, 16);
    if (d->ip_version != 6)
        return w[0];
    return sketch_hash64(w[1], sketch_hash64(w[0], seed ^ 6)) | (1ull << 63);
}

/* The address of destination cell k's key. */
static inline void an_dst_cell_addr(struct an_addr *a, const struct an_snap *s, size_t k)
{
    uint64_t tag = s->dst[k].tag;
    if (tag >> 63) {
        a->w[0] = s->dst_ext[k].key[0];
        a->w[1] = s->dst_ext[k].key[1];
        a->version = 6;
    } else {
        a->w[0] = tag;
        a->w[1] = 0;
        a->version = 4;
    }
}

/* Counter i of destination cell k: packets of class i, or AN_NEW_FLOWS. */
static inline uint32_t an_dst_count(const struct an_snap *s, size_t k, unsigned i)
{
    return (uint32_t)s->dst_ext[k].count_hi[i] << 16 | s->dst[k].count[i];
}

static inline bool an_key_eq(const uint64_t k[2], uint8_t kv, const struct an_addr *a)
{
    return ((k[0] ^ a->w[0]) | (k[1] ^ a->w[1]) | (uint64_t)(kv ^ a->version)) == 0;
}

/* Keys of the flow-event tables, from the addresses' hashes. */
static inline uint64_t an_pair_hash(uint64_t hsrc, uint64_t hdst, uint64_t seed)
{
    return sketch_hash128(hsrc, hdst, seed ^ 0x7061697200000000ull);    /* "pair" */
}

static inline uint64_t an_svc_hash(uint64_t hsrc, uint16_t port, uint8_t proto, uint64_t seed)
{
    return sketch_hash128(hsrc, (uint64_t)port << 8 | proto, seed ^ 0x7376630000000000ull);
}

static inline uint64_t an_bf_hash(uint64_t hsrc, uint64_t hdst, uint16_t port, uint64_t seed)
{
    return sketch_hash128(hsrc, hdst ^ port, seed ^ 0x6266000000000000ull);
}

static inline uint32_t an_sat_add(uint32_t c, uint32_t n)
{
    uint32_t s = c + n;
    return s < n ? UINT32_MAX : s;
}

/* ---- the per-packet path -------------------------------------------------- */

static inline unsigned an_tcp_class(const struct decoded_packet *d, const struct flow *f,
                                    unsigned dir)
{
    uint8_t fl = d->tcp_flags;
    unsigned other = dir ^ 1;

    if (fl & AN_TH_RST)
        return AN_C_RST;
    if (fl & AN_TH_SYN) {
        if (fl & AN_TH_ACK)
            return f && (f->tcp_flags[other] & AN_TH_SYN) ? AN_C_SYNACK : AN_C_SYNACK_UNSOL;
        return (fl & (AN_TH_ECE | AN_TH_CWR)) == (AN_TH_ECE | AN_TH_CWR) ? AN_C_SYN_ECN : AN_C_SYN;
    }
    if (!(fl & AN_TH_ACK))
        return AN_C_TCP_OTHER;
    if (f == NULL)
        return AN_C_ACK_UNSOL;
    if (f->pkts[other] == 0 && !(f->tcp_flags[dir] & AN_TH_SYN))
        return AN_C_ACK_UNSOL;
    /* flow_update() already counted this ACK: the client's second packet,
     * in a flow that opened with a SYN and is now established. */
    if (dir == FLOW_TOSERVER && f->pkts[FLOW_TOSERVER] == 2 &&
        f->tcp_state == TCP_STATE_ESTABLISHED && (f->tcp_flags[FLOW_TOSERVER] & AN_TH_SYN))
        return AN_C_HS_DONE;
    return AN_C_ACK;
}

static inline unsigned an_class(const struct anomaly_worker *aw, const struct decoded_packet *d,
                                const struct flow *f, unsigned dir)
{
    if (d->flags & DECODED_FRAGMENT)
        return AN_C_FRAG;
    switch (d->ip_proto) {
    case IPPROTO_TCP:
        if (!(d->flags & DECODED_L4))
            return AN_C_TCP_OTHER;
        return an_tcp_class(d, f, dir);
    case IPPROTO_UDP:
        if ((d->flags & DECODED_L4) && an_port_in(aw->refl_ports, d->src_port) &&
            d->src_port != d->dst_port && (f == NULL || f->pkts[dir ^ 1] == 0))
            return AN_C_REFL_UNSOL;
        return AN_C_UDP;
    case IPPROTO_ICMP:
    case IPPROTO_ICMPV6:
        return AN_C_ICMP;
    default:
        return AN_C_OTHER;
    }
}

/* Boyer-Moore majority vote of a destination cell's key: the same key adds
 * a vote, another takes one away, and takes the cell over at zero. The tag
 * of an IPv4 address is the address; an IPv6 address is stored apart when
 * it takes a cell (a branch on the version, which traffic makes
 * predictable). */
static inline void an_dst_vote(struct an_snap *s, size_t k, uint64_t x,
                               const struct decoded_packet *d)
{
    struct an_dst_cell *c = &s->dst[k];
    uint64_t tag = c->tag;
    uint32_t v = c->votes;
    if (tag == x) {                 /* predictable: a key owns its cell, or many share it */
        c->votes = (uint16_t)(v + (v != UINT16_MAX));
        return;
    }
    /* Whether another key takes the cell (its votes ran out) is a coin
     * toss when many destinations share it: masks, not a branch, which
     * would mispredict on every other packet of such traffic. */
    uint32_t take = v == 0;
    uint64_t keep = (uint64_t)take - 1;       /* all ones when not taking */
    c->votes = (uint16_t)(v + 2 * take - 1);  /* take: 1, else v - 1 */
    c->tag = (tag & keep) | (x & ~keep);
    if (__builtin_expect(d->ip_version == 6, 0) && take)
        memcpy(s->dst_ext[k].key, d->dst_addr, 16);
}

/* Out of line (anomaly_worker.c): counter i's low half wrapped to zero;
 * carry into the high half, or saturate at UINT32_MAX. */
void an_dst_carry(struct an_snap *s, size_t k, unsigned i);

static inline void an_dst_add(struct an_snap *s, size_t k, unsigned i)
{
    if (__builtin_expect(++s->dst[k].count[i] == 0, 0))
        an_dst_carry(s, k, i);
}

/* Index of a destination's cell in row `row`, from its an_addr_x(). The
 * columns are multiply-add-shift (Dietzfelbinger): ((a * x + b) mod 2^64)
 * >> shift with a random odd a and random b per row, strongly universal for
 * 32-bit keys and one multiply a row - the per-packet path skips the full
 * mix. */
static inline size_t an_dst_index(const struct an_dims *dm, unsigned row, uint64_t x)
{
    size_t col = (size_t)((x * dm->dst_a[row] + dm->dst_b[row]) >> dm->dst_shift);
    return (size_t)row * dm->dst_width + col;
}

/* A brute-force guess is a connection to a login service whose client sent
 * this many packets: a login exchange, not a port check (SYN, ACK, FIN). */
#define AN_BF_CLIENT_PKTS 5

/* Packets of a flow direction that call the out-of-line path: every 1024th
 * (traffic weight for "top sources") and the brute-force mark. */
static inline bool an_flow_milestone(uint64_t n)
{
    return (n & 1023) == 0 || n == AN_BF_CLIENT_PKTS;
}

/* Out of line (anomaly_worker.c): what only new flows (within the tick's
 * event budget: `created`), flow milestones and unsolicited reflector
 * responses need. */
void an_worker_flow_event(struct anomaly_worker *aw, const struct decoded_packet *d,
                          const struct flow *f, unsigned dir, bool created, unsigned cls,
                          uint64_t xdst);

static inline void anomaly_worker_packet_inline(struct anomaly_worker *aw,
                                                const struct decoded_packet *d,
                                                const struct flow *f, unsigned dir,
                                                bool flow_created, uint32_t wirelen)
{
    struct an_snap *s = aw->cur;

    s->tot.pkts++;
    s->tot.bytes += wirelen;
    if (__builtin_expect((d->flags & (DECODED_IP | DECODED_INVALID)) != DECODED_IP, 0)) {
        s->tot.invalid += (d->flags & DECODED_INVALID) != 0;
        if (!(d->flags & DECODED_IP)) {
            s->tot.nonip++;
            return;
        }
    }

    unsigned cls = an_class(aw, d, f, dir);
    unsigned bcls = an_bclass_of[cls];
    uint64_t x = an_dst_x(d, aw->seed);
    uint32_t units = (wirelen + (1u << AN_BYTE_SHIFT) / 2) >> AN_BYTE_SHIFT;

    /* Both rows vote: a key that loses its cell in one row to a heavier
     * neighbour is still found in the other. */
    size_t k0 = an_dst_index(&aw->dims, 0, x), k1 = an_dst_index(&aw->dims, 1, x);
    if (__builtin_expect(s->tot.pkts <= AN_SPARSE_PKTS, 0))
        an_snap_touch_dst(s, k0, k1);
    an_dst_vote(s, k0, x, d);
    an_dst_vote(s, k1, x, d);
    an_dst_add(s, k0, cls);
    an_dst_add(s, k1, cls);
    s->dst[k0].bytes[bcls] += units;
    s->dst[k1].bytes[bcls] += units;
    /* A spoofed flood makes every packet a new flow: past the budget, a
     * tick keeps only the per-destination counts, so the cost of a flood
     * stays bounded. Distinct sources and top sources stop growing; the
     * flood itself is still measured in full. */
    bool event = false;
    if (flow_created) {
        an_dst_add(s, k0, AN_NEW_FLOWS);
        an_dst_add(s, k1, AN_NEW_FLOWS);
        event = ++s->tot.new_flows <= aw->event_budget;
        s->tot.events_skipped += !event;
    }
    if (__builtin_expect(event || cls == AN_C_REFL_UNSOL ||
                         (f != NULL && an_flow_milestone(f->pkts[dir])), 0))
        an_worker_flow_event(aw, d, f, dir, event, cls, x);
}

static inline void anomaly_worker_prefetch_inline(const struct anomaly_worker *aw,
                                                  const struct decoded_packet *d)
{
    uint64_t x = an_dst_x(d, aw->seed);
    for (unsigned r = 0; r < AN_ROWS; r++)
        __builtin_prefetch(&aw->cur->dst[an_dst_index(&aw->dims, r, x)], 1);
}

/* ---- shared by the worker and the engine ------------------------------------ */

int an_dims_init(struct an_dims *dm, const struct anomaly_config *cfg);
int an_snap_init(struct an_snap *s, const struct an_dims *dm);
void an_snap_free(struct an_snap *s);
void an_snap_clear(struct an_snap *s);
/* dst += src (same dims). */
void an_snap_merge(struct an_snap *dst, const struct an_snap *src, const struct an_dims *dm);

struct anomaly_worker *an_worker_create(const struct anomaly_config *cfg, const struct an_dims *dm,
                                        const struct an_portset *refl, const struct an_portset *bf,
                                        unsigned id, char *err, size_t errlen);
void an_worker_destroy(struct anomaly_worker *aw);
/* Main thread: give a merged snapshot back, cleared. */
void an_worker_release(struct anomaly_worker *aw, struct an_snap *s);

/* Engine hook for tests: called with each merged tick before evaluation. */
typedef void (*an_tick_hook_fn)(void *ctx, uint64_t tick, const struct an_snap *merged,
                                const struct an_dims *dm);
void an_engine_set_tick_hook(struct anomaly_engine *e, an_tick_hook_fn fn, void *ctx);

#endif
