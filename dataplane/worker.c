/* worker.c - decode, flow lookup and update for one core's packets. */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_branch_prediction.h>

#include "counter.h"
#include "flow_inline.h"
#include "flow_table_inline.h"
#include "spsc_ring.h"
#include "worker.h"

/* How many packets ahead of its lookup a flow is prefetched (stage 2, see
 * flow_table_inline.h): far enough for that miss to resolve. Its bucket was
 * prefetched (stage 1) when the burst's hashes were computed, a whole
 * burst's key building earlier. */
#define PREFETCH_AHEAD 4

struct worker {
    unsigned id;
    bool lossless;
    uint64_t now_ns;           /* packet-time clock: never goes backwards */
    uint64_t next_second_ns;   /* when the clock next crosses a second */
    struct flow_table *flows;
    bool records_pending;      /* records reserved since the last commit */
    struct spsc_ring records;
    struct decoder_counters decoder;
    uint64_t counters[WORKER_COUNTER_COUNT];
};

static const char *const worker_counter_names[] = {
#define WORKER_COUNTER_NAME(id, name) name,
    WORKER_COUNTERS(WORKER_COUNTER_NAME)
#undef WORKER_COUNTER_NAME
};

const char *worker_counter_name(enum worker_counter i)
{
    return i < WORKER_COUNTER_COUNT ? worker_counter_names[i] : NULL;
}

void worker_config_default(struct worker_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    flow_table_config_default(&cfg->flows);
    cfg->record_ring_bytes = 4u << 20;
}

/* flow_table's on_end callback: hand the ended flow to the main thread.
 * Live capture never waits for the main thread, so a full ring is a counted
 * drop; offline input waits, because a file can always be read later. */
static void worker_emit_record(void *ctx, const struct flow *f, enum flow_end_reason reason)
{
    struct worker *w = ctx;
    struct flow_record *rec;

    while ((rec = spsc_ring_reserve(&w->records, sizeof(*rec))) == NULL) {
        if (!w->lossless) {
            counter_inc(&w->counters[WORKER_RECORDS_DROPPED]);
            return;
        }
        spsc_ring_commit(&w->records);
        sched_yield();
    }
    rec->flow = *f;
    rec->reason = (uint8_t)reason;
    w->records_pending = true;
}

/* Publish the records of this burst, if any. Only then: the main thread
 * polls the ring's head, and a store to it on every burst would move that
 * cache line between cores, stalling the worker's stores behind it. */
static inline void worker_commit_records(struct worker *w)
{
    if (w->records_pending) {
        spsc_ring_commit(&w->records);
        w->records_pending = false;
    }
}

struct worker *worker_create(const struct worker_config *cfg, char *errbuf, size_t errlen)
{
    struct worker *w = calloc(1, sizeof(*w));

    if (w == NULL) {
        snprintf(errbuf, errlen, "worker %u: out of memory", cfg->id);
        return NULL;
    }
    w->id = cfg->id;
    w->lossless = cfg->lossless;
    int rc = spsc_ring_init(&w->records, cfg->record_ring_bytes);
    if (rc < 0) {
        snprintf(errbuf, errlen, "worker %u: record ring of %zu bytes: %s",
                 cfg->id, cfg->record_ring_bytes, strerror(-rc));
        free(w);
        return NULL;
    }
    w->flows = flow_table_create(&cfg->flows, worker_emit_record, w);
    if (w->flows == NULL) {
        snprintf(errbuf, errlen, "worker %u: flow table of %u flows: %s",
                 cfg->id, cfg->flows.capacity, strerror(errno));
        spsc_ring_free(&w->records);
        free(w);
        return NULL;
    }
    return w;
}

void worker_destroy(struct worker *w)
{
    if (w == NULL)
        return;
    flow_table_destroy(w->flows);
    spsc_ring_free(&w->records);
    free(w);
}

void worker_decode_burst(struct worker *w, const struct packet *pkts,
                         struct decoded_packet *decoded, unsigned n)
{
    decode_burst(pkts, decoded, n, &w->decoder);
}

/* Packets that cannot be put in a flow: not IP, or an IP fragment after the
 * first (no ports without reassembly). */
static inline bool has_flow(const struct decoded_packet *d)
{
    return (d->flags & DECODED_IP) && !(d->flags & DECODED_FRAG_LATER);
}

/* Find or start the packet's flow; a closed TCP flow whose tuple is reused
 * by a new SYN is ended first so the new connection gets its own record. */
static struct flow *worker_flow_of(struct worker *w, const struct flow_key *key, uint32_t hash,
                                   unsigned side, const struct decoded_packet *d, uint64_t ts)
{
    bool created;
    struct flow *f = flow_table_lookup_inline(w->flows, key, hash, ts, &created);

    if (unlikely(f != NULL && !created && flow_tuple_reused_inline(f, d))) {
        flow_table_end(w->flows, f, FLOW_END_CLOSED);
        f = flow_table_lookup(w->flows, key, hash, ts, &created);
    }
    if (f != NULL && created)
        flow_init(f, key, hash, side, d, ts);
    return f;
}

/* Move the clock to a packet's: the flow table expires flows by whole
 * seconds, so it only needs telling when a second boundary is crossed. */
static inline void worker_tick(struct worker *w, const struct packet *p)
{
    uint64_t clock = p->clock_ns ? p->clock_ns : p->ts_ns;

    if (clock <= w->now_ns)
        return;
    w->now_ns = clock;
    if (clock >= w->next_second_ns) {
        flow_table_advance(w->flows, clock);
        w->next_second_ns = (clock / 1000000000ull + 1) * 1000000000ull;
    }
}

void worker_flow_burst(struct worker *w, const struct packet *pkts,
                       const struct decoded_packet *decoded, unsigned n)
{
    struct flow_key keys[WORKER_BURST];
    uint32_t hashes[WORKER_BURST];
    uint8_t sides[WORKER_BURST];
    uint64_t bytes = 0;

    /* Keys and hashes first, each bucket prefetched as soon as known. */
    for (unsigned i = 0; i < n; i++) {
        if (!has_flow(&decoded[i]))
            continue;
        sides[i] = (uint8_t)flow_key_from_decoded(&keys[i], &decoded[i]);
        hashes[i] = flow_key_hash(&keys[i]);
        flow_table_prefetch_bucket(w->flows, hashes[i]);
    }
    for (unsigned i = 0; i < n && i < PREFETCH_AHEAD; i++)
        if (has_flow(&decoded[i]))
            flow_table_prefetch_flow(w->flows, hashes[i]);

    for (unsigned i = 0; i < n; i++) {
        if (i + PREFETCH_AHEAD < n && has_flow(&decoded[i + PREFETCH_AHEAD]))
            flow_table_prefetch_flow(w->flows, hashes[i + PREFETCH_AHEAD]);
        bytes += pkts[i].wirelen;
        worker_tick(w, &pkts[i]);
        if (!has_flow(&decoded[i])) {
            counter_inc(&w->counters[WORKER_UNATTRIBUTED]);
            continue;
        }
        struct flow *f = worker_flow_of(w, &keys[i], hashes[i], sides[i],
                                        &decoded[i], pkts[i].ts_ns);
        if (unlikely(f == NULL)) {
            counter_inc(&w->counters[WORKER_UNATTRIBUTED]);
            continue;
        }
        flow_update_inline(f, sides[i], &decoded[i], pkts[i].wirelen, pkts[i].ts_ns);
    }
    counter_add(&w->counters[WORKER_PKTS], n);
    counter_add(&w->counters[WORKER_BYTES], bytes);
    worker_commit_records(w);
}

void worker_process_burst(struct worker *w, const struct packet *pkts, unsigned n)
{
    struct decoded_packet decoded[WORKER_BURST];

    worker_decode_burst(w, pkts, decoded, n);
    worker_flow_burst(w, pkts, decoded, n);
}

void worker_finish(struct worker *w, uint64_t clock_ns)
{
    /* Flows idle past their timeout by the capture's final clock end as
     * timeouts, whichever worker held them; the rest are still live. */
    if (clock_ns > w->now_ns) {
        w->now_ns = clock_ns;
        flow_table_advance(w->flows, clock_ns);
    }
    flow_table_flush(w->flows, FLOW_END_SHUTDOWN);
    worker_commit_records(w);
}

const struct flow_record *worker_next_record(struct worker *w)
{
    uint32_t len;
    return spsc_ring_peek(&w->records, &len);
}

void worker_record_done(struct worker *w)
{
    spsc_ring_consume(&w->records);
}

unsigned worker_id(const struct worker *w)
{
    return w->id;
}

uint64_t worker_counter(const struct worker *w, enum worker_counter i)
{
    return counter_read(&w->counters[i]);
}

uint64_t worker_decoder_counter(const struct worker *w, enum decoder_counter i)
{
    return counter_read(&w->decoder.v[i]);
}

const struct flow_table *worker_flow_table(const struct worker *w)
{
    return w->flows;
}
