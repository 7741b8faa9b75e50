/* stream.c - TCP stream reassembly: [window | new] delivery per direction.
 *
 * Memory, all allocated by stream_table_create():
 *   slots[]      per-flow state: two directions, 1-based (slot 0 = none)
 *   free_stack[] indexes of free slots, so alloc and free are O(1)
 *   windows      `window` bytes per slot and direction: the last in-order
 *                bytes delivered, kept linear (oldest first)
 *   extra        extra_bytes per slot for the caller
 *   pool         held out-of-order data in STREAM_CHUNK-byte chunks; a held
 *                segment is a descriptor plus a chain of chunks, so any
 *                segment length fits without fragmenting the pool
 *   scratch      `window` bytes of room, then where new bytes merged from
 *                held segments are assembled (STREAM_MAX_SEGMENT + the most
 *                one direction can hold); the callback may join the window
 *                in front of them (struct stream_span: join)
 *
 * Descriptors and chunks are index-linked (0 = none), as there are at most
 * as many held segments as chunks. */
#include "stream.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "counter.h"
#include "table_mem.h"

#define STREAM_CHUNK 256u       /* pool granule: small enough that short segments waste little */
#define STREAM_TCP_SYN 0x02u
#define STREAM_EXTRA_ALIGN 16u

/* Config limits: keep every size computation far from overflow. */
#define STREAM_MAX_FLOWS (1u << 24)
#define STREAM_MAX_WINDOW (1u << 20)
#define STREAM_MAX_OOO 1024u
#define STREAM_MAX_EXTRA 4096u

enum stream_dir_state {
    DIR_NEW = 0,   /* no segment seen: the next one sets next_seq */
    DIR_OPEN,      /* reassembling */
    DIR_DONE,      /* depth reached: counted only */
};

struct stream_dir {
    uint32_t next_seq;     /* next in-order sequence number expected */
    uint32_t ooo_head;     /* first held segment (sorted by seq), 0 = none */
    uint64_t delivered;    /* in-order bytes delivered (compared with depth) */
    uint32_t win_len;      /* bytes in the window */
    uint16_t ooo_count;    /* held segments */
    uint8_t  state;        /* enum stream_dir_state */
};

struct stream_slot {
    struct stream_dir dir[2];
    uint8_t in_use;
};

/* A held out-of-order segment. */
struct stream_seg {
    uint32_t seq;
    uint32_t len;
    uint32_t next;         /* next held segment of the direction, or next free */
    uint32_t chunk;        /* first chunk of its data */
};

struct stream_table {
    struct stream_config cfg;
    struct stream_slot *slots;     /* [flows + 1], [0] unused */
    uint32_t *free_stack;          /* free slot indexes */
    uint32_t free_top;             /* entries in free_stack */
    uint8_t *windows;              /* [flows * 2 * window] */
    uint8_t *extra;                /* [flows * extra_stride] */
    size_t extra_stride;
    struct stream_seg *segs;       /* [nchunks + 1], [0] unused */
    uint32_t seg_free;             /* free descriptor list */
    uint32_t *chunk_next;          /* [nchunks + 1]: chunk chains and free list */
    uint8_t *chunks;               /* [nchunks * STREAM_CHUNK] */
    uint32_t nchunks;
    uint32_t chunk_free;           /* free chunk list */
    uint32_t chunks_free;          /* chunks on it */
    uint8_t *scratch;
    size_t scratch_size;
    size_t memory;
    uint64_t counters[STREAM_COUNTER_COUNT];
};

static const char *const stream_counter_names[] = {
#define STREAM_COUNTER_NAME(id, name) name,
    STREAM_COUNTERS(STREAM_COUNTER_NAME)
#undef STREAM_COUNTER_NAME
};

const char *stream_counter_name(enum stream_counter i)
{
    return (unsigned)i < STREAM_COUNTER_COUNT ? stream_counter_names[i] : NULL;
}

void stream_config_default(struct stream_config *c)
{
    c->flows = 65536;
    c->window = 512;
    c->depth = 1u << 20;
    c->ooo_segments = 8;
    c->ooo_pool_bytes = 4u << 20;
    c->extra_bytes = 0;
}

/* ---- counters and sequence arithmetic --------------------------------------- */

static inline void count(struct stream_table *t, enum stream_counter i, uint64_t v)
{
    counter_add(&t->counters[i], v);
}

static inline void uncount(struct stream_table *t, enum stream_counter i, uint64_t v)
{
    counter_add(&t->counters[i], -v);
}

/* Serial number arithmetic (RFC 1982): a before b when b - a, as a signed
 * 32-bit distance, is positive. */
static inline int32_t seq_diff(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b);
}

static inline bool seq_le(uint32_t a, uint32_t b)
{
    return seq_diff(a, b) <= 0;
}

static inline uint8_t *dir_window(struct stream_table *t, uint32_t slot, unsigned dir)
{
    return t->windows + ((size_t)(slot - 1) * 2 + dir) * t->cfg.window;
}

/* ---- the out-of-order pool ------------------------------------------------- */

/* Copy len bytes into a new held segment; 0 when the pool lacks room. */
static uint32_t pool_store(struct stream_table *t, uint32_t seq, const uint8_t *data, uint32_t len)
{
    uint32_t need = (len + STREAM_CHUNK - 1) / STREAM_CHUNK;

    if (need > t->chunks_free || t->seg_free == 0)
        return 0;
    uint32_t s = t->seg_free;
    t->seg_free = t->segs[s].next;
    t->segs[s] = (struct stream_seg){ .seq = seq, .len = len, .next = 0, .chunk = t->chunk_free };
    /* Take `need` chunks off the free list; they stay chained in order. */
    uint32_t c = t->chunk_free, last = 0;
    for (uint32_t done = 0; done < len; done += STREAM_CHUNK) {
        uint32_t n = len - done < STREAM_CHUNK ? len - done : STREAM_CHUNK;
        memcpy(t->chunks + (size_t)(c - 1) * STREAM_CHUNK, data + done, n);
        last = c;
        c = t->chunk_next[c];
    }
    t->chunk_free = c;
    t->chunk_next[last] = 0;
    t->chunks_free -= need;
    count(t, STREAM_OOO_BYTES, len);
    return s;
}

/* Return a held segment's chunks and descriptor to the pool. */
static void pool_release(struct stream_table *t, uint32_t s)
{
    struct stream_seg *g = &t->segs[s];
    uint32_t c = g->chunk, n = 1;

    while (t->chunk_next[c] != 0) {
        c = t->chunk_next[c];
        n++;
    }
    t->chunk_next[c] = t->chunk_free;
    t->chunk_free = g->chunk;
    t->chunks_free += n;
    uncount(t, STREAM_OOO_BYTES, g->len);
    g->next = t->seg_free;
    t->seg_free = s;
}

/* Copy bytes [off, len) of a held segment to dst. */
static void pool_copy_out(const struct stream_table *t, const struct stream_seg *g,
                          uint32_t off, uint8_t *dst)
{
    uint32_t c = g->chunk, left = g->len - off;

    for (; off >= STREAM_CHUNK; off -= STREAM_CHUNK)
        c = t->chunk_next[c];
    while (left > 0) {
        uint32_t n = STREAM_CHUNK - off < left ? STREAM_CHUNK - off : left;
        memcpy(dst, t->chunks + (size_t)(c - 1) * STREAM_CHUNK + off, n);
        dst += n;
        left -= n;
        off = 0;
        c = t->chunk_next[c];
    }
}

/* Throw away every held segment of a direction (slot freed, depth reached). */
static void dir_discard(struct stream_table *t, struct stream_dir *d)
{
    uint32_t s = d->ooo_head;

    while (s != 0) {
        uint32_t next = t->segs[s].next;
        pool_release(t, s);
        count(t, STREAM_OOO_DISCARDED, 1);
        s = next;
    }
    d->ooo_head = 0;
    d->ooo_count = 0;
}

/* Hold an out-of-order segment in the direction's sorted list. Returns
 * STREAM_HELD, STREAM_RETRANSMIT when a held segment already covers it, or
 * STREAM_INVALID when there is no room (the caller applies the gap policy). */
static enum stream_result dir_hold(struct stream_table *t, struct stream_dir *d,
                                   uint32_t seq, const uint8_t *data, uint32_t len)
{
    uint32_t *link = &d->ooo_head;

    /* Walk to the first held segment starting after seq (equal seqs keep
     * arrival order). The list is at most ooo_segments long. */
    while (*link != 0) {
        const struct stream_seg *g = &t->segs[*link];
        if (seq_le(g->seq, seq) && seq_le(seq + len, g->seq + g->len)) {
            count(t, STREAM_RETRANSMITS, 1);
            count(t, STREAM_RETRANSMIT_BYTES, len);
            return STREAM_RETRANSMIT;
        }
        if (seq_diff(g->seq, seq) > 0)
            break;
        link = &t->segs[*link].next;
    }
    if (d->ooo_count >= t->cfg.ooo_segments)
        return STREAM_INVALID;
    uint32_t s = pool_store(t, seq, data, len);
    if (s == 0)
        return STREAM_INVALID;
    t->segs[s].next = *link;
    *link = s;
    d->ooo_count++;
    count(t, STREAM_OOO_HELD, 1);
    return STREAM_HELD;
}

/* ---- delivery ---------------------------------------------------------------- */

/* The segment being handled, while it has not been consumed. */
struct pending {
    uint32_t seq;
    const uint8_t *data;
    uint32_t len;
    bool live;
};

/* Append one piece starting at or before *end to out at *pos,
 * trimming what lies before *end: the first copy of a byte wins. */
static void append_piece(struct stream_table *t, uint8_t *out, uint32_t *end, size_t *pos,
                         uint32_t seq, uint32_t len, const uint8_t *data,
                         const struct stream_seg *held)
{
    uint32_t off = *end - seq;

    if (off >= len) {
        count(t, STREAM_RETRANSMIT_BYTES, len);
        return;
    }
    count(t, STREAM_RETRANSMIT_BYTES, off);
    if (held)
        pool_copy_out(t, held, off, out + *pos);
    else
        memcpy(out + *pos, data + off, len - off);
    *pos += len - off;
    *end = seq + len;
}

/* Assemble the new bytes from d->next_seq on at `out`: the pending
 * segment and the held segments, merged in seq order for as long as they
 * are contiguous. Held segments used are released. Returns the length;
 * *end is the sequence number after the new bytes. */
static size_t assemble(struct stream_table *t, struct stream_dir *d, uint8_t *out,
                       struct pending *p, uint32_t *end)
{
    size_t pos = 0;

    *end = d->next_seq;
    for (;;) {
        uint32_t h = d->ooo_head;
        /* on equal seqs the held copy came first, so it goes first */
        bool take_pending = p->live && (h == 0 || seq_diff(p->seq, t->segs[h].seq) < 0);
        if (take_pending) {
            if (seq_diff(p->seq, *end) > 0)
                break;
            append_piece(t, out, end, &pos, p->seq, p->len, p->data, NULL);
            p->live = false;
        } else {
            if (h == 0 || seq_diff(t->segs[h].seq, *end) > 0)
                break;
            struct stream_seg *g = &t->segs[h];
            append_piece(t, out, end, &pos, g->seq, g->len, NULL, g);
            d->ooo_head = g->next;
            d->ooo_count--;
            pool_release(t, h);
            count(t, STREAM_OOO_RELEASED, 1);
        }
    }
    return pos;
}

/* Keep the last `window` bytes of [window | data] as the next window. */
static void window_advance(struct stream_table *t, struct stream_dir *d, uint8_t *win,
                           const uint8_t *data, uint32_t len)
{
    uint32_t w = t->cfg.window;

    if (len >= w) {
        memcpy(win, data + len - w, w);
        d->win_len = w;
        return;
    }
    uint32_t keep = d->win_len + len > w ? w - len : d->win_len;   /* old bytes kept */
    memmove(win, win + d->win_len - keep, keep);
    memcpy(win + keep, data, len);
    d->win_len = keep + len;
}

/* Hand [window | new] to fn, clipped at depth, and move the window on.
 * Returns whether fn was called. */
static bool emit(struct stream_table *t, struct stream_dir *d, uint8_t *win,
                 const uint8_t *data, size_t len, stream_data_fn fn, void *ctx)
{
    uint64_t fresh = len;

    if (t->cfg.depth != 0) {
        uint64_t room = t->cfg.depth - d->delivered;
        if (fresh >= room) {
            count(t, STREAM_DEPTH_BYTES, fresh - room);
            count(t, STREAM_DEPTH_REACHED, 1);
            fresh = room;
            d->state = DIR_DONE;
            dir_discard(t, d);
        }
    }
    if (fresh == 0)
        return false;
    struct stream_span span = {
        .window = win, .window_len = d->win_len, .data = data, .len = (uint32_t)fresh,
        .join = t->scratch + t->cfg.window,
    };
    fn(ctx, &span);
    d->delivered += fresh;
    count(t, STREAM_DELIVERIES, 1);
    count(t, STREAM_BYTES, fresh);
    window_advance(t, d, win, data, (uint32_t)fresh);
    return true;
}

/* Deliver from d->next_seq on: the pending segment and/or the held ones it
 * makes contiguous. The first piece must start at or before next_seq. */
static bool deliver(struct stream_table *t, struct stream_dir *d, uint8_t *win,
                    struct pending *p, stream_data_fn fn, void *ctx)
{
    uint32_t h = d->ooo_head;

    /* The pending segment alone (no held segment joins it): its payload is
     * handed over as it is, nothing is copied. */
    if (p->live && p->seq == d->next_seq &&
        (h == 0 || seq_diff(t->segs[h].seq, p->seq + p->len) > 0)) {
        p->live = false;
        d->next_seq = p->seq + p->len;
        return emit(t, d, win, p->data, p->len, fn, ctx);
    }
    uint8_t *out = t->scratch + t->cfg.window;
    uint32_t end;
    size_t len = assemble(t, d, out, p, &end);
    d->next_seq = end;
    return emit(t, d, win, out, len, fn, ctx);
}

/* The gap policy: pending could not be held. Give up the first gap: jump to
 * the earliest data the direction has and deliver from there, with no
 * window since the bytes before it are missing. Pending is then delivered,
 * held, or lost. */
static enum stream_result give_up_gap(struct stream_table *t, struct stream_dir *d,
                                      uint8_t *win, struct pending *p,
                                      stream_data_fn fn, void *ctx)
{
    uint32_t target = p->seq, h = d->ooo_head;

    if (h != 0 && seq_diff(t->segs[h].seq, target) < 0)
        target = t->segs[h].seq;
    count(t, STREAM_OOO_DROPPED, 1);
    count(t, STREAM_GAPS, 1);
    count(t, STREAM_GAP_BYTES, target - d->next_seq);
    d->next_seq = target;
    d->win_len = 0;
    bool called = deliver(t, d, win, p, fn, ctx);
    /* Still live, pending lies beyond another gap: hold it if the release
     * made room, else it is lost. */
    if (p->live && d->state == DIR_OPEN)
        dir_hold(t, d, p->seq, p->data, p->len);
    return called ? STREAM_DELIVERED : STREAM_DEPTH;
}

/* Past depth: advance next_seq only to count the new bytes skipped. */
static enum stream_result dir_past_depth(struct stream_table *t, struct stream_dir *d,
                                         uint32_t seq, uint32_t len)
{
    int32_t ahead = seq_diff(seq + len, d->next_seq);

    if (ahead > 0) {
        count(t, STREAM_DEPTH_BYTES, (uint32_t)ahead);
        d->next_seq = seq + len;
    }
    return STREAM_DEPTH;
}

enum stream_result stream_segment(struct stream_table *t, uint32_t slot, unsigned dir,
                                  uint32_t seq, uint8_t tcp_flags,
                                  const uint8_t *payload, uint32_t len,
                                  stream_data_fn fn, void *ctx)
{
    count(t, STREAM_SEGMENTS, 1);
    if (slot == 0 || slot > t->cfg.flows || !t->slots[slot].in_use || dir > 1 ||
        len > STREAM_MAX_SEGMENT) {
        count(t, STREAM_INVALID_SEGMENTS, 1);
        return STREAM_INVALID;
    }
    struct stream_dir *d = &t->slots[slot].dir[dir];
    bool syn = tcp_flags & STREAM_TCP_SYN;
    uint32_t data_seq = seq + syn;     /* a SYN takes one sequence number */

    /* A SYN starts a direction, and any segment with data starts one
     * midstream. A SYN with a new ISN restarts a direction that has
     * delivered nothing yet: what it held belongs to the old ISN. */
    if (d->state == DIR_NEW) {
        if (!syn && len == 0)
            return STREAM_EMPTY;
        d->state = DIR_OPEN;
        d->next_seq = data_seq;
    } else if (syn && d->state == DIR_OPEN && d->delivered == 0 && data_seq != d->next_seq) {
        dir_discard(t, d);
        d->next_seq = data_seq;
    }
    if (len == 0)
        return STREAM_EMPTY;
    if (d->state == DIR_DONE)
        return dir_past_depth(t, d, data_seq, len);

    uint8_t *win = dir_window(t, slot, dir);
    struct pending p = { .seq = data_seq, .data = payload, .len = len, .live = true };
    int32_t ahead = seq_diff(data_seq, d->next_seq);
    if (ahead > 0) {
        enum stream_result r = dir_hold(t, d, data_seq, payload, len);
        if (r != STREAM_INVALID)
            return r;
        return give_up_gap(t, d, win, &p, fn, ctx);
    }
    /* At or before next_seq: trim what was seen already. */
    uint32_t seen = d->next_seq - data_seq;
    if (seen >= len) {
        count(t, STREAM_RETRANSMITS, 1);
        count(t, STREAM_RETRANSMIT_BYTES, len);
        return STREAM_RETRANSMIT;
    }
    count(t, STREAM_RETRANSMIT_BYTES, seen);
    p.seq += seen;
    p.data += seen;
    p.len -= seen;
    return deliver(t, d, win, &p, fn, ctx) ? STREAM_DELIVERED : STREAM_DEPTH;
}

/* ---- slots ------------------------------------------------------------------- */

uint32_t stream_slot_alloc(struct stream_table *t)
{
    if (t->free_top == 0) {
        count(t, STREAM_NO_SLOT, 1);
        return 0;
    }
    uint32_t slot = t->free_stack[--t->free_top];
    struct stream_slot *s = &t->slots[slot];
    memset(s, 0, sizeof(*s));
    s->in_use = 1;
    memset(stream_slot_extra(t, slot), 0, t->cfg.extra_bytes);
    count(t, STREAM_SLOTS_IN_USE, 1);
    return slot;
}

void stream_slot_free(struct stream_table *t, uint32_t slot)
{
    if (slot == 0 || slot > t->cfg.flows || !t->slots[slot].in_use)
        return;
    struct stream_slot *s = &t->slots[slot];
    dir_discard(t, &s->dir[0]);
    dir_discard(t, &s->dir[1]);
    s->in_use = 0;
    t->free_stack[t->free_top++] = slot;
    uncount(t, STREAM_SLOTS_IN_USE, 1);
}

void *stream_slot_extra(struct stream_table *t, uint32_t slot)
{
    return t->extra + (size_t)(slot - 1) * t->extra_stride;
}

uint64_t stream_counter(const struct stream_table *t, enum stream_counter i)
{
    return (unsigned)i < STREAM_COUNTER_COUNT ? counter_read(&t->counters[i]) : 0;
}

size_t stream_table_memory(const struct stream_table *t)
{
    return t->memory;
}

/* ---- setup ------------------------------------------------------------------- */

static int config_check(const struct stream_config *c, char *err, size_t errlen)
{
    if (c->flows == 0 || c->flows > STREAM_MAX_FLOWS) {
        snprintf(err, errlen, "stream: flows must be 1..%u, not %u", STREAM_MAX_FLOWS, c->flows);
        return -1;
    }
    if (c->window > STREAM_MAX_WINDOW) {
        snprintf(err, errlen, "stream: window must be at most %u bytes, not %u",
                 STREAM_MAX_WINDOW, c->window);
        return -1;
    }
    if (c->ooo_segments > STREAM_MAX_OOO) {
        snprintf(err, errlen, "stream: ooo_segments must be at most %u, not %u",
                 STREAM_MAX_OOO, c->ooo_segments);
        return -1;
    }
    if (c->extra_bytes > STREAM_MAX_EXTRA) {
        snprintf(err, errlen, "stream: extra_bytes must be at most %u, not %u",
                 STREAM_MAX_EXTRA, c->extra_bytes);
        return -1;
    }
    return 0;
}

/* The table's arrays: name, elements, element size. Sized from the config
 * (and nchunks, extra_stride, scratch_size, set first), so the same sizes
 * serve allocating and freeing. */
#define STREAM_ARRAYS(X)                                                   \
    X(slots, (size_t)t->cfg.flows + 1, sizeof(*t->slots))                 \
    X(free_stack, t->cfg.flows, sizeof(*t->free_stack))                    \
    X(windows, (size_t)t->cfg.flows * 2, t->cfg.window)                    \
    X(extra, t->cfg.flows, t->extra_stride)                                \
    X(segs, (size_t)t->nchunks + 1, sizeof(*t->segs))                      \
    X(chunk_next, (size_t)t->nchunks + 1, sizeof(*t->chunk_next))          \
    X(chunks, t->nchunks, STREAM_CHUNK)                                    \
    X(scratch, t->scratch_size, 1)

/* One array (table_mem.h: huge pages), in the memory figure. Untouched
 * pages of the large ones (windows, pool) cost nothing until used. */
static void *table_alloc(struct stream_table *t, size_t n, size_t size)
{
    t->memory += table_mem_size(n * size);
    return table_mem_alloc(n * size, TABLE_MEM_ON_USE);
}

struct stream_table *stream_table_create(const struct stream_config *c, char *err, size_t errlen)
{
    if (config_check(c, err, errlen) < 0)
        return NULL;
    struct stream_table *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        snprintf(err, errlen, "stream: out of memory");
        return NULL;
    }
    t->cfg = *c;
    t->memory = sizeof(*t);
    t->extra_stride = (c->extra_bytes + STREAM_EXTRA_ALIGN - 1) & ~(size_t)(STREAM_EXTRA_ALIGN - 1);
    t->nchunks = c->ooo_pool_bytes / STREAM_CHUNK;
    /* The most one delivery can hold: the window, one segment, and all a
     * direction may have held. */
    size_t held = (size_t)c->ooo_segments * STREAM_MAX_SEGMENT;
    size_t pool = (size_t)t->nchunks * STREAM_CHUNK;
    t->scratch_size = c->window + STREAM_MAX_SEGMENT + (held < pool ? held : pool);

#define STREAM_ARRAY_ALLOC(name, n, size) t->name = table_alloc(t, n, size);
    STREAM_ARRAYS(STREAM_ARRAY_ALLOC)
#undef STREAM_ARRAY_ALLOC
    if (!t->slots || !t->free_stack || !t->windows || !t->extra || !t->segs ||
        !t->chunk_next || !t->chunks || !t->scratch) {
        snprintf(err, errlen, "stream: out of memory for %u flows (%zu bytes)",
                 c->flows, t->memory);
        stream_table_destroy(t);
        return NULL;
    }
    /* Slot 1 on top of the stack: slots are handed out 1, 2, 3, ... */
    for (uint32_t i = 0; i < c->flows; i++)
        t->free_stack[i] = c->flows - i;
    t->free_top = c->flows;
    /* Descriptors and chunks 1..n on their free lists, in order. */
    for (uint32_t i = 1; i <= t->nchunks; i++) {
        t->segs[i].next = i < t->nchunks ? i + 1 : 0;
        t->chunk_next[i] = i < t->nchunks ? i + 1 : 0;
    }
    t->seg_free = t->nchunks ? 1 : 0;
    t->chunk_free = t->nchunks ? 1 : 0;
    t->chunks_free = t->nchunks;
    return t;
}

void stream_table_destroy(struct stream_table *t)
{
    if (t == NULL)
        return;
#define STREAM_ARRAY_FREE(name, n, size) table_mem_free(t->name, (n) * (size));
    STREAM_ARRAYS(STREAM_ARRAY_FREE)
#undef STREAM_ARRAY_FREE
    free(t);
}
