/* flow_table_inline.h - the flow table's layout and the per-packet helpers
 * the worker inlines into its loop.
 *
 * Internal to dataplane/: flow_table.c and worker.c include it, nothing
 * else should. Everyone else goes through flow_table.h.
 *
 * A lookup at 1M live flows misses the cache twice, once for the bucket and
 * once for the flow, and the second address depends on the first. A burst
 * hides both by prefetching in two stages, a few packets apart:
 *
 *   flow_table_prefetch_bucket()  as soon as the hash is known;
 *   flow_table_prefetch_flow()    once that bucket has had time to arrive:
 *                                 reads it and prefetches the flow whose
 *                                 signature matches;
 *   flow_table_lookup_inline()    finds both in cache. */
#ifndef MAMORI_FLOW_TABLE_INLINE_H
#define MAMORI_FLOW_TABLE_INLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <netinet/in.h>

#include <rte_prefetch.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "flow_table.h"

#define BUCKET_SLOTS 8
#define WHEEL_SLOTS 4096u              /* seconds; a power of two */
#define WHEEL_MASK (WHEEL_SLOTS - 1)
#define CACHE_LINE 64
#define NS_PER_SEC 1000000000ULL

/* One cache line: signatures first, so a miss reads only the first half.
 * The array is cache-line aligned, so the signatures load as two vectors. */
struct bucket {
    uint32_t sig[BUCKET_SLOTS];        /* full 32-bit flow hash */
    uint32_t idx[BUCKET_SLOTS];        /* flow index + 1, 0 when empty */
};

_Static_assert(sizeof(struct bucket) == CACHE_LINE, "a bucket is one cache line");
_Static_assert(sizeof(struct flow) == 2 * CACHE_LINE, "a flow is two cache lines");

/* Timeout rows, by protocol. */
enum proto_class { PROTO_TCP, PROTO_UDP, PROTO_ICMP, PROTO_OTHER, PROTO_CLASS_COUNT };

struct flow_table {
    struct flow *flows;
    struct bucket *buckets;
    uint32_t *free_list;
    uint32_t nfree;
    uint32_t capacity;
    uint32_t bucket_shift;             /* 32 - log2(number of buckets) */
    uint32_t touched;                  /* index + 1 of the flow last returned by lookup */
    uint32_t active;                   /* live flows; relaxed atomic for readers */
    bool clock_started;
    uint64_t wheel_sec;                /* every second before this one is processed */
    uint32_t timeout[PROTO_CLASS_COUNT][FLOW_STATE_COUNT];  /* seconds, >= 1 */
    flow_end_fn on_end;
    void *ctx;
    size_t memory;
    uint64_t counters[FLOW_TABLE_COUNTER_COUNT];
    uint32_t wheel[WHEEL_SLOTS];       /* list heads, flow index + 1 */
};

/* ---- buckets ------------------------------------------------------------ */

/* The bucket comes from the top bits of a multiplicative mix of the hash.
 * Software RSS picks workers by the top bits of the hash itself, so those
 * are nearly constant within one table; the multiply brings every bit of
 * the hash into the top bits. With the whole hash as the signature, flows
 * sharing a bucket rarely share a signature. */
static inline uint32_t flow_table_bucket_index(const struct flow_table *ft, uint32_t hash)
{
    /* 64-bit shift: a one-bucket table shifts by 32. */
    return (uint32_t)((uint64_t)(uint32_t)(hash * 0x9e3779b1u) >> ft->bucket_shift);
}

/* Slots of b whose signature is hash, as a bit mask (bit i = slot i). An
 * empty slot has signature 0 and index 0, so a hash of 0 also needs a live
 * index. Computed without a branch per slot: which slot holds a flow is
 * random, and a branch on it would mispredict on most lookups. */
static inline unsigned bucket_match(const struct bucket *b, uint32_t hash)
{
    unsigned mask = 0;

#if defined(__SSE2__)
    /* Four signatures per compare, one mask bit per slot. */
    const __m128i *sig = (const __m128i *)b->sig;
    __m128i h = _mm_set1_epi32((int)hash);

    mask = (unsigned)_mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(_mm_load_si128(sig), h))) |
           (unsigned)_mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(_mm_load_si128(sig + 1), h))) << 4;
#else
    for (unsigned i = 0; i < BUCKET_SLOTS; i++)
        mask |= (unsigned)(b->sig[i] == hash) << i;
#endif
    if (hash == 0) {
        for (unsigned i = 0; i < BUCKET_SLOTS; i++)
            if (b->idx[i] == 0)
                mask &= ~(1u << i);
    }
    return mask;
}

/* Stage 1: the bucket of hash. */
static inline void flow_table_prefetch_bucket(const struct flow_table *ft, uint32_t hash)
{
    rte_prefetch0(&ft->buckets[flow_table_bucket_index(ft, hash)]);
}

/* Stage 2, a few packets after stage 1: the flows of the bucket whose
 * signature matches (the flow of the key, when it is live), both lines -
 * the lookup reads the key and times in the first, flow_update() writes
 * the counters in the second. */
static inline void flow_table_prefetch_flow(const struct flow_table *ft, uint32_t hash)
{
    const struct bucket *b = &ft->buckets[flow_table_bucket_index(ft, hash)];
    unsigned mask = bucket_match(b, hash);

    while (mask) {
        const struct flow *f = &ft->flows[b->idx[__builtin_ctz(mask)] - 1];

        rte_prefetch0(f);
        rte_prefetch0((const char *)f + CACHE_LINE);
        mask &= mask - 1;
    }
}

/* ---- timeouts ----------------------------------------------------------- */

static inline enum proto_class proto_class(uint8_t ip_proto)
{
    switch (ip_proto) {
    case IPPROTO_TCP:
        return PROTO_TCP;
    case IPPROTO_UDP:
        return PROTO_UDP;
    case IPPROTO_ICMP:
    case IPPROTO_ICMPV6:
        return PROTO_ICMP;
    default:
        return PROTO_OTHER;
    }
}

static inline uint32_t flow_timeout(const struct flow_table *ft, const struct flow *f)
{
    unsigned state = f->state < FLOW_STATE_COUNT ? f->state : FLOW_STATE_CLOSED;

    return ft->timeout[proto_class(f->key.ip_proto)][state];
}

/* The last second in which the flow is still live: it is expired at any
 * time whose second is later than this. */
static inline uint64_t expiry_sec(const struct flow_table *ft, const struct flow *f)
{
    return f->last_ts_ns / NS_PER_SEC + flow_timeout(ft, f);
}

static inline bool expired(const struct flow_table *ft, const struct flow *f, uint64_t now_sec)
{
    return now_sec > expiry_sec(ft, f);
}

/* The wheel needs a notion of "now" before it can place flows; the first
 * packet time the table sees, from lookup or advance, sets it. */
static inline void clock_start(struct flow_table *ft, uint64_t now_sec)
{
    if (!ft->clock_started) {
        ft->wheel_sec = now_sec;
        ft->clock_started = true;
    }
}

/* ---- lookup ------------------------------------------------------------- */

static inline uint32_t flow_index(const struct flow_table *ft, const struct flow *f)
{
    return (uint32_t)(f - ft->flows);
}

static inline struct flow *bucket_find(const struct flow_table *ft, const struct bucket *b,
                                       const struct flow_key *key, uint32_t hash)
{
    unsigned mask = bucket_match(b, hash);

    while (mask) {
        struct flow *f = &ft->flows[b->idx[__builtin_ctz(mask)] - 1];

        if (flow_key_equal(&f->key, key))
            return f;
        mask &= mask - 1;
    }
    return NULL;
}

/* Out of line, in flow_table.c: the rare parts of a lookup. */
void flow_table_settle(struct flow_table *ft, struct flow *f);
struct flow *flow_table_lookup_miss(struct flow_table *ft, struct flow *f,
                                    const struct flow_key *key, uint32_t hash,
                                    uint64_t now_ns, bool *created);

/* Before anything else in the table: the flow handed out last may have
 * changed state, and with it its timeout (see flow_table.c). */
static inline void settle_touched(struct flow_table *ft)
{
    struct flow *f;

    if (!ft->touched)
        return;
    f = &ft->flows[ft->touched - 1];
    ft->touched = 0;
    if (f->in_use && f->state != f->timeout_kind)
        flow_table_settle(ft, f);
}

/* flow_table_lookup(), with the common case - the key's flow is live - in
 * the caller's loop, and everything else out of line. */
static inline struct flow *flow_table_lookup_inline(struct flow_table *ft,
                                                    const struct flow_key *key,
                                                    uint32_t hash, uint64_t now_ns,
                                                    bool *created)
{
    uint64_t now_sec = now_ns / NS_PER_SEC;
    struct flow *f;

    settle_touched(ft);
    clock_start(ft, now_sec);
    f = bucket_find(ft, &ft->buckets[flow_table_bucket_index(ft, hash)], key, hash);
    if (f == NULL || expired(ft, f, now_sec))
        return flow_table_lookup_miss(ft, f, key, hash, now_ns, created);
    ft->touched = flow_index(ft, f) + 1;
    *created = false;
    return f;
}

#endif
