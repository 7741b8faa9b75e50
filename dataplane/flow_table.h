/* flow_table.h - a worker's bounded flow table with packet-time expiry.
 *
 * One table per worker, never shared, so nothing locks. Memory is fixed at
 * creation: `capacity` flows and a bucket array; the table never grows.
 * Buckets are one cache line of 8 (signature, index) slots, so a lookup
 * touches the bucket and then one flow. Expiry runs on a timer wheel
 * driven by packet time, O(1) amortised per packet.
 *
 * Eviction policy, when a flow must be inserted and there is no room:
 *   - bucket full: the least recently seen flow of that bucket is ended
 *     (reason "evicted");
 *   - table full (capacity flows live): the flow due to expire soonest is
 *     ended (reason "evicted").
 * Both are counted in flow.evicted; an insert that still finds no room is
 * counted in flow.insert_failed and the packet goes unattributed. */
#ifndef MAMORI_FLOW_TABLE_H
#define MAMORI_FLOW_TABLE_H

#include <stdbool.h>
#include <stdint.h>

#include "flow.h"

/* Idle timeouts in seconds, per protocol and state. */
struct flow_timeouts {
    uint32_t tcp[FLOW_STATE_COUNT];    /* new, established, closing, closed */
    uint32_t udp[FLOW_STATE_COUNT];    /* new, established (closing/closed unused) */
    uint32_t icmp[FLOW_STATE_COUNT];
    uint32_t other[FLOW_STATE_COUNT];
};

/* One idle timeout for every protocol and state (--flow-timeout). */
static inline void flow_timeouts_set_all(struct flow_timeouts *t, uint32_t seconds)
{
    for (unsigned i = 0; i < FLOW_STATE_COUNT; i++)
        t->tcp[i] = t->udp[i] = t->icmp[i] = t->other[i] = seconds;
}

struct flow_table_config {
    uint32_t capacity;              /* most live flows, > 0 */
    struct flow_timeouts timeouts;
};

/* Defaults: 1M flows... see flow_table.c for the timeout values. */
void flow_table_config_default(struct flow_table_config *cfg);

/* Called once for every flow that ends, before its memory is reused. It must
 * not call back into the table. */
typedef void (*flow_end_fn)(void *ctx, const struct flow *f, enum flow_end_reason reason);

#define FLOW_TABLE_COUNTERS(X) \
    X(CREATED,        "flow.created") \
    X(ENDED_TIMEOUT,  "flow.ended_timeout") \
    X(ENDED_CLOSED,   "flow.ended_closed") \
    X(EVICTED,        "flow.evicted") \
    X(ENDED_SHUTDOWN, "flow.ended_shutdown") \
    X(INSERT_FAILED,  "flow.insert_failed") \
    X(TUPLE_REUSED,   "flow.tuple_reused")

enum flow_table_counter {
#define FLOW_TABLE_COUNTER_ENUM(id, name) FLOW_TABLE_##id,
    FLOW_TABLE_COUNTERS(FLOW_TABLE_COUNTER_ENUM)
#undef FLOW_TABLE_COUNTER_ENUM
    FLOW_TABLE_COUNTER_COUNT
};

const char *flow_table_counter_name(enum flow_table_counter i);

struct flow_table;

/* Setup (not the hot path): allocates everything the table will ever use.
 * Returns NULL with errno set (EINVAL bad config, ENOMEM). */
struct flow_table *flow_table_create(const struct flow_table_config *cfg,
                                     flow_end_fn on_end, void *ctx);
void flow_table_destroy(struct flow_table *ft);

/* Bring the bucket of `hash` into cache ahead of flow_table_lookup(). */
void flow_table_prefetch(const struct flow_table *ft, uint32_t hash);

/* Find the flow of `key`, or create it (then *created is true). A found flow
 * that has idled past its timeout is ended first and a fresh one created,
 * so results never depend on when the timer wheel last ran. Returns NULL
 * only when no room could be made (flow.insert_failed).
 *
 * Idle past its timeout means, in whole seconds of packet time,
 * now > last_ts + timeout(protocol, state). `hash` must be
 * flow_key_hash(key). The flow returned is the caller's to update (with
 * flow_init()/flow_update()) until its next call into the table, which is
 * when the table takes note of a changed state (and timeout). */
struct flow *flow_table_lookup(struct flow_table *ft, const struct flow_key *key,
                               uint32_t hash, uint64_t now_ns, bool *created);

/* End a flow now (e.g. tuple reuse) with the given reason. Ending with
 * FLOW_END_CLOSED from outside the table means the tuple was reused, and
 * also counts flow.tuple_reused. */
void flow_table_end(struct flow_table *ft, struct flow *f, enum flow_end_reason reason);

/* Advance packet time to now_ns: end every flow whose timeout has passed.
 * Time that goes backwards is ignored; the first call only sets the clock. */
void flow_table_advance(struct flow_table *ft, uint64_t now_ns);

/* End every live flow with `reason` (shutdown). */
void flow_table_flush(struct flow_table *ft, enum flow_end_reason reason);

uint32_t flow_table_active(const struct flow_table *ft);
uint32_t flow_table_capacity(const struct flow_table *ft);
/* Counter i, safe to call from another thread. */
uint64_t flow_table_counter(const struct flow_table *ft, enum flow_table_counter i);
/* Bytes of memory the table holds (fixed at creation). */
size_t flow_table_memory(const struct flow_table *ft);

#endif
