/* flow_table.c - a worker's bounded flow table with packet-time expiry.
 *
 * Memory, all allocated by flow_table_create() and never resized:
 *
 *   flows[capacity]     the flow records, 64-byte aligned;
 *   buckets[2^n]        one cache line each: 8 (signature, flow index + 1)
 *                       slots, about two slots per flow so buckets rarely
 *                       fill;
 *   free_list[capacity] a stack of unused flow indices;
 *   wheel[WHEEL_SLOTS]  heads of per-second lists of flows, by index + 1.
 *
 * Index 0 always means "none", which is why buckets and links hold index + 1.
 * The layout is in flow_table_inline.h, which the worker includes to run
 * the lookup's prefetch stages inline.
 *
 * Expiry. A flow is expired at time `now` when, in whole seconds of packet
 * time, now > last_seen + timeout(protocol, state). Lookup applies that rule
 * to the flow it finds, and the timer wheel applies the same rule on
 * flow_table_advance(), so which flows are live at a given packet time does
 * not depend on when the wheel last ran.
 *
 * The wheel is lazy. A flow sits in the slot of a second at or before the
 * one it expires in, and a packet does not move it: its last_seen just
 * grows. When advance() reaches the slot, each flow there is either ended
 * (really expired) or relinked into the slot of its real expiry. The one
 * case that needs an eager move is a state change that shortens the timeout
 * (TCP established -> closed): flow_update() happens outside the table, so
 * the table remembers the flow it last handed out ("touched") and checks it
 * at the next call, before anything else can look at the wheel. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>

#include "counter.h"
#include "flow_table_inline.h"
#include "table_mem.h"

#define CAPACITY_MAX (1u << 30)

/* ------------------------------------------------------------------------
 * Configuration and counters
 * ------------------------------------------------------------------------ */

void flow_table_config_default(struct flow_table_config *cfg)
{
    static const struct flow_timeouts defaults = {
        .tcp   = { 60, 600, 120, 10 },
        .udp   = { 30, 300, 300, 300 },
        .icmp  = { 30, 300, 300, 300 },
        .other = { 30, 300, 300, 300 },
    };

    memset(cfg, 0, sizeof(*cfg));
    cfg->capacity = 1048576;
    cfg->timeouts = defaults;
}

const char *flow_table_counter_name(enum flow_table_counter i)
{
    static const char *const names[] = {
#define FLOW_TABLE_COUNTER_NAME(id, name) [FLOW_TABLE_##id] = name,
        FLOW_TABLE_COUNTERS(FLOW_TABLE_COUNTER_NAME)
#undef FLOW_TABLE_COUNTER_NAME
    };
    return (unsigned)i < FLOW_TABLE_COUNTER_COUNT ? names[i] : "unknown";
}

static void count(struct flow_table *ft, enum flow_table_counter i)
{
    counter_inc(&ft->counters[i]);
}

/* `active` is read by the stats thread; same relaxed discipline as counters. */
static void set_active(struct flow_table *ft, uint32_t v)
{
    __atomic_store_n(&ft->active, v, __ATOMIC_RELAXED);
}

/* ------------------------------------------------------------------------
 * Time and timeouts
 * ------------------------------------------------------------------------ */

/* A flow that ran out its time in CLOSED state ended as "closed", any other
 * as "timeout". */
static enum flow_end_reason expiry_reason(const struct flow *f)
{
    return f->state == FLOW_STATE_CLOSED ? FLOW_END_CLOSED : FLOW_END_TIMEOUT;
}

/* ------------------------------------------------------------------------
 * Buckets
 * ------------------------------------------------------------------------ */

static struct bucket *bucket_of(const struct flow_table *ft, uint32_t hash)
{
    return &ft->buckets[flow_table_bucket_index(ft, hash)];
}

static void bucket_remove(struct flow_table *ft, const struct flow *f)
{
    struct bucket *b = bucket_of(ft, f->hash);
    uint32_t ref = flow_index(ft, f) + 1;

    for (int i = 0; i < BUCKET_SLOTS; i++) {
        if (b->idx[i] == ref) {
            b->idx[i] = 0;
            b->sig[i] = 0;
            return;
        }
    }
}

static int bucket_free_slot(const struct bucket *b)
{
    for (int i = 0; i < BUCKET_SLOTS; i++)
        if (b->idx[i] == 0)
            return i;
    return -1;
}

/* ------------------------------------------------------------------------
 * Timer wheel
 * ------------------------------------------------------------------------ */

/* Link flow idx into the slot of second `due`, clamped to the seconds the
 * wheel can tell apart: [wheel_sec, wheel_sec + WHEEL_SLOTS). A flow due
 * later than that is simply looked at again when its slot comes round. */
static void wheel_link(struct flow_table *ft, uint32_t idx, uint64_t due)
{
    struct flow *f = &ft->flows[idx];
    uint32_t slot;

    if (due < ft->wheel_sec)
        due = ft->wheel_sec;
    if (due > ft->wheel_sec + WHEEL_SLOTS - 1)
        due = ft->wheel_sec + WHEEL_SLOTS - 1;
    slot = (uint32_t)(due & WHEEL_MASK);

    f->wheel_slot = slot;
    f->wheel_prev = 0;
    f->wheel_next = ft->wheel[slot];
    if (f->wheel_next)
        ft->flows[f->wheel_next - 1].wheel_prev = idx + 1;
    ft->wheel[slot] = idx + 1;
}

/* Safe on a flow that advance() has already taken off its slot's list: its
 * links are then zero and it is no slot's head. */
static void wheel_unlink(struct flow_table *ft, uint32_t idx)
{
    struct flow *f = &ft->flows[idx];

    if (f->wheel_prev)
        ft->flows[f->wheel_prev - 1].wheel_next = f->wheel_next;
    else if (ft->wheel[f->wheel_slot] == idx + 1)
        ft->wheel[f->wheel_slot] = f->wheel_next;
    if (f->wheel_next)
        ft->flows[f->wheel_next - 1].wheel_prev = f->wheel_prev;
    f->wheel_prev = f->wheel_next = 0;
}

/* The second a linked flow's slot stands for, within the wheel's window. */
static uint64_t wheel_due(const struct flow_table *ft, const struct flow *f)
{
    return ft->wheel_sec + ((f->wheel_slot - ft->wheel_sec) & WHEEL_MASK);
}

/* ------------------------------------------------------------------------
 * Ending flows
 * ------------------------------------------------------------------------ */

static void count_end(struct flow_table *ft, enum flow_end_reason reason)
{
    switch (reason) {
    case FLOW_END_TIMEOUT:
        count(ft, FLOW_TABLE_ENDED_TIMEOUT);
        break;
    case FLOW_END_CLOSED:
        count(ft, FLOW_TABLE_ENDED_CLOSED);
        break;
    case FLOW_END_EVICTED:
        count(ft, FLOW_TABLE_EVICTED);
        break;
    case FLOW_END_SHUTDOWN:
        count(ft, FLOW_TABLE_ENDED_SHUTDOWN);
        break;
    }
}

/* Take the flow out of the bucket and the wheel, report it, and only then
 * recycle its memory. */
static void end_flow(struct flow_table *ft, struct flow *f, enum flow_end_reason reason)
{
    uint32_t idx = flow_index(ft, f);

    bucket_remove(ft, f);
    wheel_unlink(ft, idx);
    if (ft->touched == idx + 1)
        ft->touched = 0;
    count_end(ft, reason);
    if (ft->on_end)
        ft->on_end(ft->ctx, f, reason);
    f->in_use = 0;
    ft->free_list[ft->nfree++] = idx;
    set_active(ft, ft->active - 1);
}

/* The caller changed the state of the flow lookup last returned. If that
 * shortened its timeout (e.g. a RST), move it to an earlier slot now: the
 * wheel must never hold a flow in a slot later than its expiry. */
void flow_table_settle(struct flow_table *ft, struct flow *f)
{
    uint64_t due;

    f->timeout_kind = f->state;
    due = expiry_sec(ft, f);
    if (due < wheel_due(ft, f)) {
        uint32_t idx = flow_index(ft, f);

        wheel_unlink(ft, idx);
        wheel_link(ft, idx, due);
    }
}

/* Look at every flow in one slot: end it if it is expired at now_sec,
 * otherwise relink it where its real expiry is. The list is detached first,
 * so a flow relinked into this same slot is not seen twice. */
static void wheel_process_slot(struct flow_table *ft, uint32_t slot, uint64_t now_sec)
{
    uint32_t next = ft->wheel[slot];

    ft->wheel[slot] = 0;
    while (next) {
        uint32_t idx = next - 1;
        struct flow *f = &ft->flows[idx];

        next = f->wheel_next;
        f->wheel_prev = f->wheel_next = 0;
        f->timeout_kind = f->state;
        if (expired(ft, f, now_sec))
            end_flow(ft, f, expiry_reason(f));
        else
            wheel_link(ft, idx, expiry_sec(ft, f));
    }
}

/* Table full: end the flow due to expire soonest. Slots before wheel_sec
 * are empty, so walk forward from there. A flow found in a slot earlier
 * than its real expiry (seen since it was linked) is moved on to its real
 * slot, which the wheel would do anyway when it got there; the last slot of
 * the window holds everything due beyond it, so its head is taken as is. */
static bool evict_soonest(struct flow_table *ft)
{
    for (uint32_t i = 0; i < WHEEL_SLOTS; i++) {
        uint64_t sec = ft->wheel_sec + i;
        uint32_t slot = (uint32_t)(sec & WHEEL_MASK), head;

        while ((head = ft->wheel[slot]) != 0) {
            struct flow *f = &ft->flows[head - 1];

            if (i == WHEEL_SLOTS - 1 || expiry_sec(ft, f) <= sec) {
                end_flow(ft, f, FLOW_END_EVICTED);
                return true;
            }
            f->timeout_kind = f->state;
            wheel_unlink(ft, head - 1);
            wheel_link(ft, head - 1, expiry_sec(ft, f));
        }
    }
    return false;
}

/* Bucket full: end its least recently seen flow. Returns the freed slot. */
static int evict_from_bucket(struct flow_table *ft, struct bucket *b)
{
    int victim = 0;

    for (int i = 1; i < BUCKET_SLOTS; i++)
        if (ft->flows[b->idx[i] - 1].last_ts_ns < ft->flows[b->idx[victim] - 1].last_ts_ns)
            victim = i;
    end_flow(ft, &ft->flows[b->idx[victim] - 1], FLOW_END_EVICTED);
    return victim;
}

/* ------------------------------------------------------------------------
 * Public API
 * ------------------------------------------------------------------------ */

static uint32_t bucket_count_for(uint32_t capacity)
{
    uint32_t want = (capacity + 3) / 4, n = 1;

    while (n < want)
        n <<= 1;
    return n;
}

static unsigned log2_u32(uint32_t pow2)
{
    unsigned bits = 0;

    while (pow2 >>= 1)
        bits++;
    return bits;
}

/* A table's array (table_mem.h: huge pages, backed from the start), in
 * *total. */
static void *alloc_array(size_t size, size_t *total)
{
    *total += table_mem_size(size);
    return table_mem_alloc(size, TABLE_MEM_RESIDENT);
}

/* The sizes of the three arrays, for allocating and freeing them. */
static size_t flows_bytes(const struct flow_table *ft)
{
    return (size_t)ft->capacity * sizeof(struct flow);
}

static size_t buckets_bytes(const struct flow_table *ft)
{
    return ((size_t)1 << (32 - ft->bucket_shift)) * sizeof(struct bucket);
}

static size_t free_list_bytes(const struct flow_table *ft)
{
    return (size_t)ft->capacity * sizeof(uint32_t);
}

static void copy_timeouts(uint32_t dst[FLOW_STATE_COUNT], const uint32_t src[FLOW_STATE_COUNT])
{
    for (int s = 0; s < FLOW_STATE_COUNT; s++)
        dst[s] = src[s] ? src[s] : 1;   /* 0 would expire a flow on its next second */
}

struct flow_table *flow_table_create(const struct flow_table_config *cfg,
                                     flow_end_fn on_end, void *ctx)
{
    struct flow_table *ft;
    uint32_t nbuckets;

    if (!cfg || cfg->capacity == 0 || cfg->capacity > CAPACITY_MAX) {
        errno = EINVAL;
        return NULL;
    }
    ft = calloc(1, sizeof(*ft));
    if (!ft) {
        errno = ENOMEM;
        return NULL;
    }
    ft->memory = sizeof(*ft);
    ft->capacity = cfg->capacity;
    nbuckets = bucket_count_for(cfg->capacity);
    ft->bucket_shift = 32 - log2_u32(nbuckets);
    ft->flows = alloc_array(flows_bytes(ft), &ft->memory);
    ft->buckets = alloc_array(buckets_bytes(ft), &ft->memory);
    ft->free_list = alloc_array(free_list_bytes(ft), &ft->memory);
    if (!ft->flows || !ft->buckets || !ft->free_list) {
        flow_table_destroy(ft);
        errno = ENOMEM;
        return NULL;
    }

    /* Stacked so that flow 0 is handed out first: low indices stay hot. */
    for (uint32_t i = 0; i < cfg->capacity; i++)
        ft->free_list[i] = cfg->capacity - 1 - i;
    ft->nfree = cfg->capacity;

    copy_timeouts(ft->timeout[PROTO_TCP], cfg->timeouts.tcp);
    copy_timeouts(ft->timeout[PROTO_UDP], cfg->timeouts.udp);
    copy_timeouts(ft->timeout[PROTO_ICMP], cfg->timeouts.icmp);
    copy_timeouts(ft->timeout[PROTO_OTHER], cfg->timeouts.other);
    ft->on_end = on_end;
    ft->ctx = ctx;
    return ft;
}

void flow_table_destroy(struct flow_table *ft)
{
    if (!ft)
        return;
    table_mem_free(ft->flows, flows_bytes(ft));
    table_mem_free(ft->buckets, buckets_bytes(ft));
    table_mem_free(ft->free_list, free_list_bytes(ft));
    free(ft);
}

void flow_table_prefetch(const struct flow_table *ft, uint32_t hash)
{
    flow_table_prefetch_bucket(ft, hash);
}

/* A fresh flow with just what the table needs: key, hash, times, state NEW.
 * The caller's flow_init()/flow_update() fill in the rest. */
static struct flow *insert_flow(struct flow_table *ft, struct bucket *b, int slot,
                                const struct flow_key *key, uint32_t hash, uint64_t now_ns)
{
    uint32_t idx = ft->free_list[--ft->nfree];
    struct flow *f = &ft->flows[idx];

    memset(f, 0, sizeof(*f));
    f->key = *key;
    f->hash = hash;
    f->first_ts_ns = f->last_ts_ns = now_ns;
    f->state = FLOW_STATE_NEW;
    f->timeout_kind = FLOW_STATE_NEW;
    f->in_use = 1;
    b->sig[slot] = hash;
    b->idx[slot] = idx + 1;
    wheel_link(ft, idx, expiry_sec(ft, f));
    set_active(ft, ft->active + 1);
    count(ft, FLOW_TABLE_CREATED);
    return f;
}

/* Everything flow_table_lookup_inline() leaves: end the flow of the key if
 * it idled out (f, else NULL), make room, insert. */
struct flow *flow_table_lookup_miss(struct flow_table *ft, struct flow *f,
                                    const struct flow_key *key, uint32_t hash,
                                    uint64_t now_ns, bool *created)
{
    struct bucket *b = bucket_of(ft, hash);
    int slot;

    *created = false;
    /* Idle past its timeout, whether or not the wheel got to it yet. */
    if (f)
        end_flow(ft, f, expiry_reason(f));

    slot = bucket_free_slot(b);
    if (slot < 0)
        slot = evict_from_bucket(ft, b);
    if (ft->nfree == 0 && !evict_soonest(ft)) {
        count(ft, FLOW_TABLE_INSERT_FAILED);
        return NULL;
    }
    f = insert_flow(ft, b, slot, key, hash, now_ns);
    ft->touched = flow_index(ft, f) + 1;
    *created = true;
    return f;
}

struct flow *flow_table_lookup(struct flow_table *ft, const struct flow_key *key,
                               uint32_t hash, uint64_t now_ns, bool *created)
{
    return flow_table_lookup_inline(ft, key, hash, now_ns, created);
}

void flow_table_end(struct flow_table *ft, struct flow *f, enum flow_end_reason reason)
{
    if (!f->in_use)
        return;
    /* From outside the table, "closed" means the worker saw the tuple reused
     * (expiry of closed flows happens in here). */
    if (reason == FLOW_END_CLOSED)
        count(ft, FLOW_TABLE_TUPLE_REUSED);
    end_flow(ft, f, reason);
}

void flow_table_advance(struct flow_table *ft, uint64_t now_ns)
{
    uint64_t now_sec = now_ns / NS_PER_SEC, from, steps;

    settle_touched(ft);
    if (!ft->clock_started) {
        clock_start(ft, now_sec);
        return;
    }
    if (now_sec <= ft->wheel_sec)
        return;                 /* same second, or time went backwards */

    /* However far time jumped, one turn of the wheel visits every flow. */
    from = ft->wheel_sec;
    steps = now_sec - from;
    if (steps > WHEEL_SLOTS)
        steps = WHEEL_SLOTS;
    /* Move the clock first, so flows relinked below land in the new window. */
    ft->wheel_sec = now_sec;
    for (uint64_t i = 0; i < steps; i++)
        wheel_process_slot(ft, (uint32_t)((from + i) & WHEEL_MASK), now_sec);
}

void flow_table_flush(struct flow_table *ft, enum flow_end_reason reason)
{
    ft->touched = 0;
    for (uint32_t i = 0; i < ft->capacity; i++)
        if (ft->flows[i].in_use)
            end_flow(ft, &ft->flows[i], reason);
}

uint32_t flow_table_active(const struct flow_table *ft)
{
    return __atomic_load_n(&ft->active, __ATOMIC_RELAXED);
}

uint32_t flow_table_capacity(const struct flow_table *ft)
{
    return ft->capacity;
}

uint64_t flow_table_counter(const struct flow_table *ft, enum flow_table_counter i)
{
    return (unsigned)i < FLOW_TABLE_COUNTER_COUNT ? counter_read(&ft->counters[i]) : 0;
}

size_t flow_table_memory(const struct flow_table *ft)
{
    return ft->memory;
}
