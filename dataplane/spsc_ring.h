/* spsc_ring.h - single-producer, single-consumer ring of variable-size records.
 *
 * The one hand-off mechanism between threads on the data path: the pcap
 * reader to its workers (packets), and each worker to the main thread (flow
 * records, later alerts). One producer and one consumer, so no locks and no
 * compare-and-swap: each side owns one index and publishes it with a
 * release store.
 *
 * A record is an 8-byte header plus its bytes, padded to 8. A record that
 * would straddle the end of the buffer is preceded by a wrap marker and
 * placed at the start instead, so every record is contiguous.
 *
 * Producer:  p = spsc_ring_reserve(r, len); fill p; ... spsc_ring_commit(r);
 * Consumer:  p = spsc_ring_peek(r, &len); ... (more peeks) ...; spsc_ring_consume(r);
 * A peeked record stays valid until the next spsc_ring_consume(), which
 * hands back the space of every record peeked so far: a consumer can hold a
 * whole burst and release it at once. */
#ifndef MAMORI_SPSC_RING_H
#define MAMORI_SPSC_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SPSC_RING_WRAP 0xffffffffu   /* header length of a wrap marker */
#define SPSC_RING_ALIGN 8u

struct spsc_ring {
    uint8_t *buf;
    uint64_t size;                        /* bytes, a power of two */
    uint64_t mask;
    /* producer side */
    _Alignas(64) uint64_t head;           /* published: bytes written */
    uint64_t head_pending;                /* reserved, not yet committed */
    uint64_t tail_cache;                  /* last tail the producer read */
    /* consumer side */
    _Alignas(64) uint64_t tail;           /* published: bytes consumed */
    uint64_t head_cache;                  /* last head the consumer read */
    uint64_t read_pos;                    /* past the last peeked record */
};

/* Setup: a ring of at least `bytes` (rounded up to a power of two).
 * Returns 0, or -ENOMEM / -EINVAL. */
int spsc_ring_init(struct spsc_ring *r, size_t bytes);
void spsc_ring_free(struct spsc_ring *r);

static inline uint64_t spsc_ring_record_space(uint32_t len)
{
    return 8 + (((uint64_t)len + SPSC_RING_ALIGN - 1) & ~(uint64_t)(SPSC_RING_ALIGN - 1));
}

/* Producer: room for a record of len bytes, or NULL when the ring is full
 * (the caller counts the drop or waits). Not visible until commit. */
static inline void *spsc_ring_reserve(struct spsc_ring *r, uint32_t len)
{
    uint64_t need = spsc_ring_record_space(len);
    uint64_t pos = r->head_pending;
    uint64_t offset = pos & r->mask;
    uint64_t to_end = r->size - offset;
    uint64_t skip = need > to_end ? to_end : 0;

    if (need + skip > r->size)
        return NULL;                       /* never fits */
    if (pos + skip + need - r->tail_cache > r->size) {
        r->tail_cache = __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);
        if (pos + skip + need - r->tail_cache > r->size)
            return NULL;
    }
    if (skip) {
        if (to_end >= 4)
            *(uint32_t *)(r->buf + offset) = SPSC_RING_WRAP;
        pos += skip;
        offset = 0;
    }
    *(uint32_t *)(r->buf + offset) = len;
    r->head_pending = pos + need;
    return r->buf + offset + 8;
}

/* Producer: make every reserved record visible to the consumer. */
static inline void spsc_ring_commit(struct spsc_ring *r)
{
    __atomic_store_n(&r->head, r->head_pending, __ATOMIC_RELEASE);
}

/* Consumer: the next record not yet peeked (its length in *len), or NULL. */
static inline void *spsc_ring_peek(struct spsc_ring *r, uint32_t *len)
{
    uint64_t pos = r->read_pos;

    for (;;) {
        if (pos == r->head_cache) {
            r->head_cache = __atomic_load_n(&r->head, __ATOMIC_ACQUIRE);
            if (pos == r->head_cache)
                return NULL;
        }
        uint64_t offset = pos & r->mask;
        uint64_t to_end = r->size - offset;
        if (to_end < 8 || *(uint32_t *)(r->buf + offset) == SPSC_RING_WRAP) {
            pos += to_end;                 /* the record starts at the beginning */
            r->read_pos = pos;
            continue;
        }
        *len = *(uint32_t *)(r->buf + offset);
        r->read_pos = pos + spsc_ring_record_space(*len);
        return r->buf + offset + 8;
    }
}

/* Consumer: done with every record peeked so far; their space is reused. */
static inline void spsc_ring_consume(struct spsc_ring *r)
{
    __atomic_store_n(&r->tail, r->read_pos, __ATOMIC_RELEASE);
}

/* Either side: true when nothing is published and unconsumed. */
static inline bool spsc_ring_empty(const struct spsc_ring *r)
{
    return __atomic_load_n(&r->head, __ATOMIC_ACQUIRE) ==
           __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);
}

#endif
