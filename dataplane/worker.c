/* worker.c - decode, flow lookup and update, and signature matching for
 * one core's packets. */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_branch_prediction.h>
#include <rte_cycles.h>

#include "anomaly_int.h"
#include "counter.h"
#include "flow_inline.h"
#include "flow_table_inline.h"
#include "spsc_ring.h"
#include "tls_track.h"
#include "worker.h"

/* How many packets ahead of its lookup a flow is prefetched (stage 2, see
 * flow_table_inline.h): far enough for that miss to resolve. Its bucket was
 * prefetched (stage 1) when the burst's hashes were computed, a whole
 * burst's key building earlier. */
#define PREFETCH_AHEAD 4

/* A flow slot's flowbits and stream carries (per direction), of the rule
 * set generation that made them: ids mean nothing to another engine, so a
 * reload starts them over. */
/* What matching keeps per flow, in its stream slot's extra bytes. */
struct flow_bits {
    uint32_t generation;
    struct engine_flowbits bits;        /* both zeroed when the rules change */
    struct engine_carry carry[2];
    struct tls_track tls;               /* of the traffic: kept across reloads */
};

struct worker {
    unsigned id;
    bool lossless;
    uint64_t now_ns;           /* packet-time clock: never goes backwards */
    uint64_t next_second_ns;   /* when the clock next crosses a second */
    struct flow_table *flows;
    bool records_pending;      /* records reserved since the last commit */
    struct spsc_ring records;
    bool alerts_pending;
    struct spsc_ring alerts;
    struct worker_shared *shared;       /* NULL: no matching */
    const struct worker_rules *rules;   /* the set in use (taken at a burst's start) */
    const struct engine *engine;        /* rules->engine, NULL when none */
    struct engine_scratch *scratch;     /* rules->scratch[id] */
    uint32_t flowbit_bytes;             /* of engine_flowbits the engine's names use; not 0:
                                           non-TCP flows need a slot */
    bool qsbr_online;
    bool midstream;
    bool inspect_encrypted;
    struct stream_table *streams;
    struct flow_bits no_slot_bits;      /* for flows without a slot: none set */
    struct anomaly_worker *anomaly;      /* NULL: no statistical detectors */
    struct decoder_counters decoder;
    uint64_t counters[WORKER_COUNTER_COUNT];
    uint64_t burst_cycles[WORKER_BURST_HIST];   /* bursts by log2 of their TSC cycles */
    /* Sampled stage timing (worker_stage_cycles()): one burst in
     * WORKER_STAGE_SAMPLE of those that run a detector is timed per stage. */
    uint64_t bursts;
    bool timing;               /* this burst is timed */
    uint64_t rdtsc_cost;       /* cycles one rte_rdtsc() adds to an interval */
    uint64_t stage_packets;    /* packets of the timed bursts */
    uint64_t stage_cycles[WORKER_STAGE_COUNT];
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
    cfg->alert_ring_bytes = 4u << 20;
    stream_config_default(&cfg->stream);
}

/* Room for one record in a ring to the main thread. Live capture never
 * waits for the main thread, so a full ring is a counted drop (NULL);
 * offline input waits, because a file can always be read later. */
static void *worker_ring_reserve(struct worker *w, struct spsc_ring *ring, uint32_t size,
                                 enum worker_counter dropped)
{
    void *rec;

    while ((rec = spsc_ring_reserve(ring, size)) == NULL) {
        if (!w->lossless) {
            counter_inc(&w->counters[dropped]);
            return NULL;
        }
        spsc_ring_commit(ring);
        sched_yield();
    }
    return rec;
}

/* Add the cycles since *t to a stage's timing and restart the interval. */
static inline void worker_stage_add(struct worker *w, enum worker_stage stage, uint64_t *t)
{
    uint64_t now = rte_rdtsc(), d = now - *t;
    w->stage_cycles[stage] += d > w->rdtsc_cost ? d - w->rdtsc_cost : 0;
    *t = now;
}

/* The statistics stage's work outside a packet's own update: a flow's end
 * and a second's tick. In a timed burst (worker_stage_cycles()) it is
 * timed too: a tick can cost more than the packets of a second. */
static void worker_anomaly_flow_end(struct worker *w, const struct flow *f,
                                    enum flow_end_reason reason)
{
    uint64_t t = w->timing ? rte_rdtsc() : 0;

    anomaly_worker_flow_end(w->anomaly, f, reason);
    if (w->timing)
        worker_stage_add(w, WORKER_STAGE_STATISTICS, &t);
}

static void worker_anomaly_tick(struct worker *w, uint64_t clock)
{
    uint64_t t = w->timing ? rte_rdtsc() : 0;

    anomaly_worker_tick(w->anomaly, clock);
    if (w->timing)
        worker_stage_add(w, WORKER_STAGE_STATISTICS, &t);
}

/* flow_table's on_end callback: free the flow's matching slot and hand the
 * ended flow to the main thread. */
static void worker_emit_record(void *ctx, const struct flow *f, enum flow_end_reason reason)
{
    struct worker *w = ctx;
    struct flow_record *rec;

    if (f->match_slot)
        stream_slot_free(w->streams, f->match_slot);
    if (w->anomaly)
        worker_anomaly_flow_end(w, f, reason);
    rec = worker_ring_reserve(w, &w->records, sizeof(*rec), WORKER_RECORDS_DROPPED);
    if (rec == NULL)
        return;
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
    if (w->alerts_pending) {
        spsc_ring_commit(&w->alerts);
        w->alerts_pending = false;
    }
}

struct worker_rules *worker_rules_create(const struct engine *e, unsigned n_workers,
                                         uint32_t generation)
{
    struct worker_rules *r = calloc(1, sizeof(*r) + n_workers * sizeof(r->scratch[0]));
    if (r == NULL)
        return NULL;
    r->engine = e;
    r->generation = generation;
    r->n_scratch = n_workers;
    for (unsigned i = 0; i < n_workers; i++) {
        if ((r->scratch[i] = engine_scratch_alloc(e)) == NULL) {
            worker_rules_free(r);
            return NULL;
        }
    }
    return r;
}

void worker_rules_free(struct worker_rules *r)
{
    if (r == NULL)
        return;
    for (unsigned i = 0; i < r->n_scratch; i++)
        engine_scratch_free(r->scratch[i]);
    free(r);
}

struct worker_shared *worker_shared_create(unsigned n_workers, struct worker_rules *rules)
{
    struct worker_shared *sh = calloc(1, sizeof(*sh));
    size_t size = rte_rcu_qsbr_get_memsize(n_workers);
    if (sh == NULL)
        return NULL;
    sh->qsbr = aligned_alloc(RTE_CACHE_LINE_SIZE, (size + RTE_CACHE_LINE_SIZE - 1) &
                             ~(size_t)(RTE_CACHE_LINE_SIZE - 1));
    if (sh->qsbr == NULL || rte_rcu_qsbr_init(sh->qsbr, n_workers) != 0) {
        worker_shared_free(sh);
        return NULL;
    }
    atomic_init(&sh->rules, rules);
    return sh;
}

void worker_shared_free(struct worker_shared *sh)
{
    if (sh == NULL)
        return;
    free(sh->qsbr);
    free(sh);
}

/* Take the rule set the main thread published, if it changed. */
static inline void worker_take_rules(struct worker *w)
{
    const struct worker_rules *r = atomic_load_explicit(&w->shared->rules, memory_order_acquire);
    if (likely(r == w->rules))
        return;
    w->rules = r;
    w->engine = r ? r->engine : NULL;
    w->scratch = r ? r->scratch[w->id] : NULL;
    uint32_t names = r ? engine_stats(r->engine)->flowbit_names : 0;
    w->flowbit_bytes = (names + 63) / 64 * sizeof(uint64_t);
}

/* After a burst: this worker holds nothing of an older rule set. */
static inline void worker_quiescent(struct worker *w)
{
    if (w->shared == NULL)
        return;
    if (unlikely(!w->qsbr_online)) {
        rte_rcu_qsbr_thread_register(w->shared->qsbr, w->id);
        rte_rcu_qsbr_thread_online(w->shared->qsbr, w->id);
        w->qsbr_online = true;
    }
    rte_rcu_qsbr_quiescent(w->shared->qsbr, w->id);
}

void worker_idle(struct worker *w)
{
    if (w->shared != NULL)
        worker_take_rules(w);
    worker_quiescent(w);
}

/* Signature matching state; none without shared rules. */
static int worker_create_matching(struct worker *w, const struct worker_config *cfg,
                                  char *errbuf, size_t errlen)
{
    int rc = spsc_ring_init(&w->alerts, cfg->alert_ring_bytes);
    if (rc < 0) {
        snprintf(errbuf, errlen, "worker %u: alert ring of %zu bytes: %s",
                 cfg->id, cfg->alert_ring_bytes, strerror(-rc));
        return -1;
    }
    if (cfg->shared == NULL)
        return 0;
    w->shared = cfg->shared;
    w->midstream = cfg->midstream;
    w->inspect_encrypted = cfg->inspect_encrypted;
    struct stream_config sc = cfg->stream;
    sc.extra_bytes = sizeof(struct flow_bits);
    char msg[256];
    if ((w->streams = stream_table_create(&sc, msg, sizeof(msg))) == NULL) {
        snprintf(errbuf, errlen, "worker %u: %s", cfg->id, msg);
        return -1;
    }
    return 0;
}

static void worker_destroy_matching(struct worker *w)
{
    stream_table_destroy(w->streams);
    spsc_ring_free(&w->alerts);
}

/* What reading the TSC adds to an interval it closes: the least of a few
 * back-to-back reads, subtracted from each stage's timed interval. */
static uint64_t rdtsc_cost(void)
{
    uint64_t best = UINT64_MAX;

    for (unsigned i = 0; i < 64; i++) {
        uint64_t t0 = rte_rdtsc();
        uint64_t d = rte_rdtsc() - t0;
        if (d < best)
            best = d;
    }
    return best;
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
    w->rdtsc_cost = rdtsc_cost();
    w->anomaly = cfg->anomaly;
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
    if (worker_create_matching(w, cfg, errbuf, errlen) < 0) {
        worker_destroy(w);
        return NULL;
    }
    return w;
}

void worker_destroy(struct worker *w)
{
    if (w == NULL)
        return;
    flow_table_destroy(w->flows);
    worker_destroy_matching(w);
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
 * by a new SYN is ended first so the new connection gets its own record.
 * Inlined: as a call, saving and restoring registers came to 20
 * instructions of every packet (callgrind). */
static inline __attribute__((always_inline)) struct flow *
worker_flow_of(struct worker *w, const struct flow_key *key, uint32_t hash, unsigned side,
               const struct decoded_packet *d, uint64_t ts, bool *created)
{
    struct flow *f = flow_table_lookup_inline(w->flows, key, hash, ts, created);

    if (unlikely(f != NULL && !*created && flow_tuple_reused_inline(f, d))) {
        flow_table_end(w->flows, f, FLOW_END_CLOSED);
        f = flow_table_lookup(w->flows, key, hash, ts, created);
    }
    if (f != NULL && *created)
        flow_init(f, key, hash, side, d, ts);
    return f;
}

/* Move the clock to a packet's: the flow table expires flows by whole
 * seconds, so it only needs telling when a second boundary is crossed. */
static inline void worker_set_clock(struct worker *w, uint64_t clock)
{
    if (clock <= w->now_ns)
        return;
    w->now_ns = clock;
    if (clock >= w->next_second_ns) {
        flow_table_advance(w->flows, clock);
        if (w->anomaly)
            worker_anomaly_tick(w, clock);
        w->next_second_ns = (clock / 1000000000ull + 1) * 1000000000ull;
    }
}

/* ---- signature matching ---------------------------------------------------- */

/* One packet being matched: what the engine's callbacks need. */
struct match_ctx {
    struct worker *w;
    struct engine_packet ep;
    const struct decoded_packet *d;
    const struct flow *f;
    uint64_t ts_ns;
    bool scanned;              /* the stream delivered bytes and they were matched */
    struct tls_track *tls;     /* stream only: the flow's TLS state, NULL when not followed */
    unsigned dir;
};

/* engine_match_fn: hand one alert to the main thread. */
static void worker_emit_alert(void *ctx, const struct rule *r)
{
    struct match_ctx *m = ctx;
    struct worker *w = m->w;
    struct alert_record *a = worker_ring_reserve(w, &w->alerts, sizeof(*a),
                                                 WORKER_ALERTS_DROPPED);
    if (a == NULL)
        return;
    a->rule = r;
    a->ts_ns = m->ts_ns;
    a->flow_id = m->f ? flow_id(m->f) : 0;
    memcpy(a->src_addr, m->d->src_addr, 16);
    memcpy(a->dst_addr, m->d->dst_addr, 16);
    a->src_port = m->d->src_port;
    a->dst_port = m->d->dst_port;
    a->vlan[0] = m->d->vlan[0];
    a->vlan[1] = m->d->vlan[1];
    a->ip_version = m->d->ip_version;
    a->ip_proto = m->d->ip_proto;
    a->to_server = m->f != NULL && m->ep.to_server;
    a->stream = m->ep.stream;
    counter_inc(&w->counters[WORKER_ALERTS]);
    w->alerts_pending = true;
}

static void worker_scan(struct match_ctx *m)
{
    counter_inc(&m->w->counters[WORKER_INSPECTED]);
    engine_scan(m->w->engine, m->w->scratch, &m->ep, worker_emit_alert, m);
    counter_add(&m->w->counters[WORKER_PCRE_LIMIT_HITS],
                engine_scratch_take_pcre_limit_hits(m->w->scratch));
}

/* stream_data_fn: new in-order bytes of the packet's TCP direction. */
static void worker_scan_stream(void *ctx, const struct stream_span *span)
{
    struct match_ctx *m = ctx;
    /* Ciphertext goes unmatched (m->scanned stays false: the packet's
     * header rules are matched after); the bytes that turn the flow
     * encrypted are matched, as is any span with another kind of record. */
    if (m->tls != NULL) {
        bool was = m->tls->encrypted;
        bool skip = tls_track_feed(m->tls, m->dir, span->data, span->len);
        if (!was && m->tls->encrypted)
            counter_inc(&m->w->counters[WORKER_TLS_ENCRYPTED]);
        if (skip) {
            counter_add(&m->w->counters[WORKER_ENCRYPTED_BYTES], span->len);
            /* The carry counts the bytes scanned: zeroed, the next scan
             * takes the whole window again (engine.h). */
            memset(m->ep.carry, 0, sizeof(*m->ep.carry));
            return;
        }
    }
    m->ep.payload = span->data;
    m->ep.payload_len = span->len;
    m->ep.window = span->window;
    m->ep.window_len = span->window_len;
    m->ep.join = span->join;
    m->scanned = true;
    worker_scan(m);
}

/* The flow's slot (flowbits, TCP reassembly), taken on its first packet
 * with payload; 0 when none is free (counted: the flow is then matched
 * packet by packet, without flowbits). */
static uint32_t worker_match_slot(struct worker *w, struct flow *f)
{
    if (f->match_slot == 0)
        f->match_slot = stream_slot_alloc(w->streams);   /* none free: stream.no_slot */
    return f->match_slot;
}

static bool handshake_seen(const struct flow *f)
{
    return (f->tcp_flags[FLOW_TOSERVER] & TCP_SYN) && (f->tcp_flags[FLOW_TOCLIENT] & TCP_SYN);
}

/* The client's first ACK after a handshake: take the flow's slot now and
 * start both directions at their initial sequence numbers (this packet's
 * seq - 1 and ack - 1), so data arriving out of order from the first byte
 * on is held rather than taken for the start of the stream. Waiting for
 * the handshake's end keeps a SYN flood from taking every slot. */
static void worker_start_stream(struct worker *w, struct flow *f, const struct decoded_packet *d)
{
    if (worker_match_slot(w, f) == 0)
        return;
    stream_segment(w->streams, f->match_slot, FLOW_TOSERVER, d->tcp_seq - 1, TCP_SYN, NULL, 0,
                   NULL, NULL);
    stream_segment(w->streams, f->match_slot, FLOW_TOCLIENT, d->tcp_ack - 1, TCP_SYN, NULL, 0,
                   NULL, NULL);
}

/* Every field set by hand: an initializer would clear the whole struct
 * (rep stos, about 200 bytes with the match context) on every packet,
 * which cost more than all the rest of setting it up. A field added to
 * struct engine_packet must be set here. */
static void engine_packet_from(struct engine_packet *ep, const struct decoded_packet *d,
                               const struct packet *p)
{
    ep->ip_version = d->ip_version;
    ep->ip_proto = d->ip_proto;
    memcpy(ep->src_addr, d->src_addr, 16);
    memcpy(ep->dst_addr, d->dst_addr, 16);
    ep->src_port = d->src_port;
    ep->dst_port = d->dst_port;
    ep->tcp_flags = d->tcp_flags;
    ep->ttl = d->ttl;
    ep->icmp_type = d->icmp_type;
    ep->icmp_code = d->icmp_code;
    ep->payload = d->payload_len ? p->data + d->payload_offset : NULL;
    ep->payload_len = d->payload_len;
    ep->stream = false;
    ep->window = NULL;
    ep->window_len = 0;
    ep->join = NULL;
    ep->dsize = 0;
    ep->carry = NULL;
    ep->to_server = false;
    ep->established = false;
    ep->flowbits = NULL;
    ep->ip_only_done = false;
}

/* Suricata's flow:established. TCP: the handshake was seen (or, with
 * midstream pickup, the connection was joined open) and it is not closed;
 * others: both sides have been heard from. */
static bool flow_established(const struct worker *w, const struct flow *f)
{
    if (f->key.ip_proto != IPPROTO_TCP)
        return f->state == FLOW_STATE_ESTABLISHED;
    if (f->tcp_state != TCP_STATE_ESTABLISHED && f->tcp_state != TCP_STATE_FIN_WAIT &&
        f->tcp_state != TCP_STATE_CLOSE_WAIT)
        return false;
    return w->midstream || ((f->tcp_flags[FLOW_TOSERVER] & TCP_SYN) &&
                            (f->tcp_flags[FLOW_TOCLIENT] & TCP_SYN));
}

/* Match one packet (f = its flow, or NULL). A TCP segment with payload goes
 * through its flow's reassembly: the engine sees each byte of a direction
 * once, with the window before it, so retransmissions never alert twice;
 * a segment that brings nothing new (retransmitted, held out of order,
 * past the stream depth) is matched on its header alone. */
static void worker_match(struct worker *w, const struct packet *p,
                         const struct decoded_packet *d, struct flow *f, unsigned side)
{
    struct match_ctx m;             /* set field by field: see engine_packet_from() */

    m.w = w, m.d = d, m.f = f, m.ts_ns = p->ts_ns;
    m.scanned = false, m.tls = NULL, m.dir = 0;
    engine_packet_from(&m.ep, d, p);
    if (f == NULL) {
        worker_scan(&m);
        return;
    }
    m.ep.to_server = (side & 1) == f->initiator;
    unsigned dir = m.ep.to_server ? FLOW_TOSERVER : FLOW_TOCLIENT;
    m.ep.established = flow_established(w, f);
    m.ep.ip_only_done = f->pkts[dir] > 1;
    if (f->match_slot == 0 && m.ep.to_server && has_tcp_header(d) &&
        (d->tcp_flags & (TCP_SYN | TCP_ACK | TCP_RST)) == TCP_ACK && handshake_seen(f))
        worker_start_stream(w, f, d);
    /* A slot holds TCP reassembly and flowbits: other flows take one only
     * when the rules use flowbits. */
    bool wants_slot = d->payload_len && (has_tcp_header(d) || w->flowbit_bytes);
    uint32_t slot = wants_slot ? worker_match_slot(w, f) : f->match_slot;
    struct flow_bits *fb = slot ? stream_slot_extra(w->streams, slot) : &w->no_slot_bits;
    if (slot == 0) {
        /* Bits a rule sets here must not last, and a packet without a slot
         * has no stream (no carry): clearing the words in use is enough,
         * where clearing the whole (256 bytes) took a quarter of this
         * function's time. */
        memset(fb->bits.w, 0, w->flowbit_bytes);
    } else if (fb->generation != w->rules->generation) {
        memset(&fb->bits, 0, sizeof(fb->bits));
        memset(fb->carry, 0, sizeof(fb->carry));
        fb->generation = w->rules->generation;
    }
    m.ep.flowbits = &fb->bits;
    /* Data on a RST is matched in its packet but never joins the stream
     * (Suricata's stream engine drops it too): the receiver discards it. */
    if (slot == 0 || !has_tcp_header(d) || d->payload_len == 0 || (d->tcp_flags & TCP_RST)) {
        worker_scan(&m);
        return;
    }
    if (!w->inspect_encrypted)
        m.tls = &fb->tls;
    m.dir = dir;
    m.ep.stream = true;
    m.ep.dsize = d->payload_len;
    m.ep.carry = &fb->carry[dir];
    stream_segment(w->streams, slot, dir, d->tcp_seq, d->tcp_flags,
                   p->data + d->payload_offset, d->payload_len, worker_scan_stream, &m);
    if (!m.scanned) {
        m.ep.payload = NULL;
        m.ep.payload_len = 0;
        worker_scan(&m);
    }
}

/* The intermediate tunnel layer of a packet (decoder.h: mid_l3_offset),
 * matched as Suricata matches it: as a packet of its own, without a flow,
 * so IP-only rules fire on every such packet, with the layer's addresses
 * and protocol. Counted in detect.packets_inspected, as every scan is.
 * Suricata gives a GRE or IP-in-IP packet no payload (only a UDP tunnel's
 * packet has one): the bytes past its IP header are the inner packet,
 * matched as that packet, and content rules must not see them twice. Out
 * of line: only tunnel-in-tunnel traffic comes here. */
static __attribute__((noinline)) void
worker_match_mid_layer(struct worker *w, const struct packet *p, const struct decoded_packet *d)
{
    struct decoded_packet layer;

    if (!decode_ip_layer(p, d->mid_l3_offset, &layer))
        return;
    layer.vlan[0] = d->vlan[0];
    layer.vlan[1] = d->vlan[1];
    if (!(layer.flags & DECODED_L4))
        layer.payload_len = 0;
    worker_match(w, p, &layer, NULL, 0);
}

/* The detectors' look at one packet: statistics, then signature matching
 * (of its intermediate tunnel layer too, if it has one; the statistics
 * count the packet once, by its innermost layer). f NULL: a packet without
 * a flow (not IP, a later fragment, the table full), still counted by the
 * detectors and matched if it is IP. With `timed`, each stage's cycles are
 * added to the worker's sample. */
static inline __attribute__((always_inline)) void
worker_inspect(struct worker *w, const struct packet *p, const struct decoded_packet *d,
               struct flow *f, unsigned side, bool created, const bool timed)
{
    uint64_t t = timed ? rte_rdtsc() : 0;

    if (w->anomaly) {
        if (f != NULL)
            anomaly_worker_packet_inline(w->anomaly, d, f,
                                         (side & 1) == f->initiator ? FLOW_TOSERVER : FLOW_TOCLIENT,
                                         created, p->wirelen);
        else
            anomaly_worker_packet(w->anomaly, d, NULL, 0, false, p->wirelen);
        if (timed)
            worker_stage_add(w, WORKER_STAGE_STATISTICS, &t);
    }
    if (w->engine && (f != NULL || (d->flags & DECODED_IP))) {
        /* The outer layer first, in the order Suricata matches them. */
        if (unlikely(d->mid_l3_offset != 0))
            worker_match_mid_layer(w, p, d);
        worker_match(w, p, d, f, side);
        if (timed)
            worker_stage_add(w, WORKER_STAGE_MATCHING, &t);
    }
}

static inline void worker_tick(struct worker *w, const struct packet *p)
{
    worker_set_clock(w, p->clock_ns ? p->clock_ns : p->ts_ns);
}

void worker_advance(struct worker *w, uint64_t clock_ns)
{
    worker_set_clock(w, clock_ns);
    worker_commit_records(w);
}

/* The payload the engine will scan: its lines arrive while the packets
 * before it are matched, where the scan (or the TLS tracker's first look)
 * would otherwise wait on each in turn. From its first byte, which after
 * TCP options lies past the line the decoder fetched; at most
 * PREFETCH_PAYLOAD_MAX bytes, a full-size frame's. */
#define PREFETCH_PAYLOAD_MAX 1536u
static inline void prefetch_payload(const struct packet *p, const struct decoded_packet *d)
{
    uint32_t len = d->payload_len < PREFETCH_PAYLOAD_MAX ? d->payload_len : PREFETCH_PAYLOAD_MAX;
    const uint8_t *at = p->data + d->payload_offset;
    for (uint32_t off = 0; off < len; off += 64)
        rte_prefetch0(at + off);
    if (len > 0)
        rte_prefetch0(at + len - 1);     /* the last line, when `at` is not line-aligned */
}

/* The flow pass of a burst, each packet inspected by the detectors after
 * its flow update. Inlined twice: untimed, and timed per stage (`timed` is
 * a constant in each copy, so the untimed one carries no timing at all). */
static inline __attribute__((always_inline)) uint64_t
worker_flow_loop(struct worker *w, const struct packet *pkts, const struct decoded_packet *decoded,
                 const struct flow_key *keys, const uint32_t *hashes, const uint8_t *sides,
                 unsigned n, const bool timed)
{
    uint64_t bytes = 0;

    for (unsigned i = 0; i < n; i++) {
        if (i + PREFETCH_AHEAD < n) {
            const struct decoded_packet *ahead = &decoded[i + PREFETCH_AHEAD];
            if (has_flow(ahead))
                flow_table_prefetch_flow(w->flows, hashes[i + PREFETCH_AHEAD]);
            if (w->engine)
                prefetch_payload(&pkts[i + PREFETCH_AHEAD], ahead);
            /* The destination's statistics lines: a miss per row on
             * traffic to many hosts, behind the flow lookup's own. */
            if (w->anomaly && (ahead->flags & DECODED_IP))
                anomaly_worker_prefetch_inline(w->anomaly, ahead);
        }
        bytes += pkts[i].wirelen;
        worker_tick(w, &pkts[i]);
        if (!has_flow(&decoded[i])) {
            counter_inc(&w->counters[WORKER_UNATTRIBUTED]);
            worker_inspect(w, &pkts[i], &decoded[i], NULL, 0, false, timed);
            continue;
        }
        bool created;
        struct flow *f = worker_flow_of(w, &keys[i], hashes[i], sides[i],
                                        &decoded[i], pkts[i].ts_ns, &created);
        if (unlikely(f == NULL)) {
            counter_inc(&w->counters[WORKER_UNATTRIBUTED]);
            worker_inspect(w, &pkts[i], &decoded[i], NULL, 0, false, timed);
            continue;
        }
        flow_update_inline(f, sides[i], &decoded[i], pkts[i].wirelen, pkts[i].ts_ns);
        worker_inspect(w, &pkts[i], &decoded[i], f, sides[i], created, timed);
    }
    return bytes;
}

void worker_flow_burst(struct worker *w, const struct packet *pkts,
                       const struct decoded_packet *decoded, unsigned n)
{
    struct flow_key keys[WORKER_BURST];
    uint32_t hashes[WORKER_BURST];
    uint8_t sides[WORKER_BURST];
    uint64_t bytes, start = rte_rdtsc();

    if (w->shared != NULL)
        worker_take_rules(w);

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

    /* Timing every packet's stages would cost more than some stages do
     * (a TSC read is tens of cycles), so a sample of bursts is timed. */
    if ((w->anomaly || w->engine) && (w->bursts++ & (WORKER_STAGE_SAMPLE - 1)) == 0) {
        w->timing = true;
        bytes = worker_flow_loop(w, pkts, decoded, keys, hashes, sides, n, true);
        w->timing = false;
        w->stage_packets += n;
    } else {
        bytes = worker_flow_loop(w, pkts, decoded, keys, hashes, sides, n, false);
    }
    counter_add(&w->counters[WORKER_PKTS], n);
    counter_add(&w->counters[WORKER_BYTES], bytes);
    worker_commit_records(w);
    worker_quiescent(w);
    uint64_t cycles = rte_rdtsc() - start;
    counter_inc(&w->burst_cycles[cycles ? 63 - __builtin_clzll(cycles) : 0]);
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
    /* Input has ended: nothing is lost by waiting for the main thread now,
     * and a full table flushed at once would overflow the record ring. */
    w->lossless = true;
    flow_table_flush(w->flows, FLOW_END_SHUTDOWN);
    worker_commit_records(w);
    if (w->qsbr_online) {
        rte_rcu_qsbr_thread_offline(w->shared->qsbr, w->id);
        w->qsbr_online = false;
    }
    if (w->anomaly)
        anomaly_worker_finish(w->anomaly);
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

const struct alert_record *worker_next_alert(struct worker *w)
{
    uint32_t len;
    return spsc_ring_peek(&w->alerts, &len);
}

void worker_alert_done(struct worker *w)
{
    spsc_ring_consume(&w->alerts);
}

void worker_burst_histogram(const struct worker *w, uint64_t out[WORKER_BURST_HIST])
{
    for (unsigned i = 0; i < WORKER_BURST_HIST; i++)
        out[i] = counter_read(&w->burst_cycles[i]);
}

void worker_stage_cycles(const struct worker *w, struct worker_stage_timing *out)
{
    out->packets = w->stage_packets;
    for (unsigned i = 0; i < WORKER_STAGE_COUNT; i++)
        out->cycles[i] = w->stage_cycles[i];
}

const struct stream_table *worker_stream_table(const struct worker *w)
{
    return w->streams;
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
