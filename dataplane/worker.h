/* worker.h - the per-core packet pipeline every capture path feeds.
 *
 * A worker owns its decoder counters, its flow table, its TCP stream
 * reassembly and matching scratch, and the rings that carry ended flows and
 * alerts to the main thread; nothing in it is shared for writing, so
 * nothing locks. Capture loops (DPDK, AF_XDP, pcap dispatch) hand it bursts
 * of up to WORKER_BURST packets:
 *
 *   worker_process_burst()   decode + flow + match, for sources with hardware RSS
 *   worker_flow_burst()      flow + match, for sources that decoded already
 *                            (software dispatch decodes to pick the worker)
 *
 * The main thread drains ended flows with worker_next_record(), alerts with
 * worker_next_alert(), and reads counters with worker_counter(); all are
 * safe while the worker runs. */
#ifndef MAMORI_WORKER_H
#define MAMORI_WORKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rte_rcu_qsbr.h>

#include "anomaly_worker.h"
#include "decoder.h"
#include "engine.h"
#include "flow.h"
#include "flow_table.h"
#include "packet.h"
#include "stream.h"

#define WORKER_BURST 32

/* A rule set as the workers use it: one engine, one scratch per worker. */
struct worker_rules {
    const struct engine *engine;
    uint32_t generation;              /* flows keep flowbits of their generation only */
    unsigned n_scratch;
    struct engine_scratch *scratch[]; /* indexed by worker id */
};

/* Scratch for n workers (allocated here, off the workers). NULL when out of
 * memory. */
struct worker_rules *worker_rules_create(const struct engine *e, unsigned n_workers,
                                         uint32_t generation);
void worker_rules_free(struct worker_rules *r);

/* What a sensor's workers share: the current rule set, which the main
 * thread replaces with one atomic store (a live reload), and the quiescent-
 * state variable (rte_rcu_qsbr) through which it learns when every worker
 * has let go of the old one: a worker takes the new set at its next burst
 * and reports a quiescent state after every burst, and when idle. No
 * worker ever waits. */
struct worker_shared {
    _Atomic(struct worker_rules *) rules;   /* NULL: no signature matching */
    struct rte_rcu_qsbr *qsbr;
};

/* For n workers; the rules pointer starts as `rules`. NULL on no memory. */
struct worker_shared *worker_shared_create(unsigned n_workers, struct worker_rules *rules);
void worker_shared_free(struct worker_shared *sh);

struct worker_config {
    unsigned id;
    struct flow_table_config flows;
    size_t record_ring_bytes;  /* ended-flow records to the main thread */
    size_t alert_ring_bytes;   /* alerts to the main thread */
    bool lossless;             /* offline input: wait for ring room, never drop */
    struct worker_shared *shared; /* the rule set (signature matching); NULL = none */
    struct stream_config stream;  /* TCP reassembly for the engine (used with one) */
    bool midstream;               /* a TCP flow picked up without its handshake counts as
                                     established for rules (Suricata's stream.midstream) */
    bool inspect_encrypted;       /* match content rules past a TLS handshake too
                                     (tls_track.h; default: header rules only) */
    struct anomaly_worker *anomaly; /* statistical detectors' worker side; NULL = none */
};

void worker_config_default(struct worker_config *cfg);

/* Software RSS: the worker (of n) that owns the flow with this flow_key_hash.
 * Multiply-shift maps the hash onto 0..n-1 without a division. The flow
 * table's bucket index mixes the hash again (multiplicative), so the flows
 * one worker receives still spread evenly over its buckets. */
static inline unsigned worker_for_hash(uint32_t hash, unsigned n)
{
    return (unsigned)(((uint64_t)hash * n) >> 32);
}

/* An ended flow as the main thread receives it. */
struct flow_record {
    struct flow flow;
    uint8_t reason;            /* enum flow_end_reason */
};

/* A signature match as the main thread receives it: the rule, the packet's
 * own addresses and ports (its direction, as Suricata reports them) and
 * its flow. The rule stays valid while the engine it came from lives. */
struct alert_record {
    const struct rule *rule;
    uint64_t ts_ns;
    uint64_t flow_id;          /* flow_id() of the packet's flow, 0 when it has none */
    uint8_t src_addr[16];
    uint8_t dst_addr[16];
    uint16_t src_port, dst_port;
    uint16_t vlan[2];
    uint8_t ip_version;
    uint8_t ip_proto;
    uint8_t to_server;         /* 1 to_server, 0 to_client or no flow */
    uint8_t stream;            /* 1 when found in reassembled TCP data */
};

#define WORKER_COUNTERS(X) \
    X(PKTS,            "worker.pkts") \
    X(BYTES,           "worker.bytes") \
    X(UNATTRIBUTED,    "flow.unattributed") \
    X(RECORDS_DROPPED, "flow.records_dropped") \
    X(INSPECTED,       "detect.packets_inspected") \
    X(ALERTS,          "detect.alerts") \
    X(ALERTS_DROPPED,  "detect.alerts_dropped") \
    X(PCRE_LIMIT_HITS, "detect.pcre_limit_hits") \
    X(TLS_ENCRYPTED,   "detect.tls_encrypted_flows") /* flows past their TLS handshake */ \
    X(ENCRYPTED_BYTES, "detect.encrypted_bytes")     /* their TCP payload bytes not matched */

enum worker_counter {
#define WORKER_COUNTER_ENUM(id, name) WORKER_##id,
    WORKER_COUNTERS(WORKER_COUNTER_ENUM)
#undef WORKER_COUNTER_ENUM
    WORKER_COUNTER_COUNT
};

const char *worker_counter_name(enum worker_counter i);

struct worker;

/* Setup: allocates the flow table and the record ring. NULL on failure,
 * with a message naming the cause in errbuf. */
struct worker *worker_create(const struct worker_config *cfg, char *errbuf, size_t errlen);
void worker_destroy(struct worker *w);

/* Hot path. n <= WORKER_BURST. */
void worker_process_burst(struct worker *w, const struct packet *pkts, unsigned n);
void worker_decode_burst(struct worker *w, const struct packet *pkts,
                         struct decoded_packet *decoded, unsigned n);
void worker_flow_burst(struct worker *w, const struct packet *pkts,
                       const struct decoded_packet *decoded, unsigned n);

/* No packet for this worker, but the capture's clock has moved on (an
 * idle worker of a multi-worker capture): expire flows and close detector
 * ticks by clock_ns, as a packet at that time would. */
void worker_advance(struct worker *w, uint64_t clock_ns);

/* End of input: move the clock to clock_ns (the capture's last, or 0),
 * end the flows that timed out by it, then every live flow (reason
 * shutdown), and publish them. */
void worker_finish(struct worker *w, uint64_t clock_ns);

/* Main thread: the next ended flow, or NULL. Call worker_record_done()
 * after using it. */
const struct flow_record *worker_next_record(struct worker *w);
void worker_record_done(struct worker *w);

/* Main thread: the next alert, or NULL; worker_alert_done() after use. */
const struct alert_record *worker_next_alert(struct worker *w);
void worker_alert_done(struct worker *w);

/* Nothing to process right now (a capture's idle loop): report a
 * quiescent state, so a rule reload need not wait for traffic here. */
void worker_idle(struct worker *w);

unsigned worker_id(const struct worker *w);
uint64_t worker_counter(const struct worker *w, enum worker_counter i);
uint64_t worker_decoder_counter(const struct worker *w, enum decoder_counter i);
const struct flow_table *worker_flow_table(const struct worker *w);
/* Bursts by the log2 of the TSC cycles worker_flow_burst() took (flow,
 * matching, detectors): out[k] counts bursts of [2^k, 2^(k+1)) cycles. */
#define WORKER_BURST_HIST 40
void worker_burst_histogram(const struct worker *w, uint64_t out[WORKER_BURST_HIST]);

/* Cycles per packet of the detector stages, measured in the worker on a
 * sample: one burst in WORKER_STAGE_SAMPLE of those that run a detector
 * reads the TSC around each packet's statistics (anomaly_worker: the
 * packet's update, and the flow ends and second ticks the burst brings)
 * and matching (engine, reassembly included), the TSC's own cost taken off.
 * Timing every burst would cost ~3 TSC reads (~25 cycles each) a packet;
 * the sample costs ~3 cycles a packet on average and changes nothing in
 * what the stages do or in which order. cycles[s] / packets is the stage's
 * cost per packet. Read it once the worker has stopped. */
#define WORKER_STAGE_SAMPLE 32          /* a power of two */
enum worker_stage {
    WORKER_STAGE_STATISTICS,
    WORKER_STAGE_MATCHING,
    WORKER_STAGE_COUNT
};
struct worker_stage_timing {
    uint64_t packets;                   /* packets of the timed bursts */
    uint64_t cycles[WORKER_STAGE_COUNT];
};
void worker_stage_cycles(const struct worker *w, struct worker_stage_timing *out);

/* NULL when the worker runs no engine. */
const struct stream_table *worker_stream_table(const struct worker *w);

#endif
