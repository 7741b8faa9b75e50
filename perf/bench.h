/* bench.h - mamori-bench's parts: loading traffic into mbufs (bench_load.c),
 * feeding it to the workers directly or through ring-backed DPDK ports
 * (bench_rx.c), the main lcore's export of records and alerts
 * (bench_export.c) and the JSON report (bench_report.c). bench.c holds the
 * options and runs the passes. */
#ifndef MAMORI_BENCH_H
#define MAMORI_BENCH_H

#include <stdalign.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <rte_mbuf.h>

#include "anomaly.h"
#include "rules.h"
#include "traffic.h"
#include "worker.h"

#define BENCH_MULTIPLY_MAX 65536u      /* copies told apart by 16 address bits */

struct bench_options {
    const char *pcap;
    struct synth_config synth;
    unsigned loops;
    unsigned workers;
    uint32_t flows_per_worker;
    const char **rule_files;
    unsigned n_rule_files;
    bool anomaly;                  /* -A: the statistical detectors too */
    uint32_t stream_flows;         /* reassembly slots per worker, 0 = default */
    bool rx_ring;                  /* --rx ring: through net_ring ports */
    double rate_pps;               /* --rate in packets/s; 0 = max */
    double rate_gbps;              /* --rate in Gbit/s; 0 = given in pps or max */
    unsigned multiply;             /* --multiply K: copies of the capture */
    const char *eve;               /* --eve FILE: EVE log of the final pass */
};

/* What one worker replays and what it measured. */
struct lane {
    struct worker *worker;
    struct rte_mbuf **mbufs;
    uint64_t *ts;
    uint64_t n, cap;
    enum link_type link;
    unsigned loops;
    uint64_t loop_ns;              /* time shift per loop */
    double rate_pps;               /* direct mode pacing: this lane's share; 0 = max */
    uint16_t port, queue;          /* --rx ring: the worker's RX queue */
    struct rte_ring *ring;         /* and the rte_ring behind it */
    /* Written by the worker as it runs: a cache line of their own, so the
     * feeder's reads of the fields above do not steal it at every burst. */
    alignas(RTE_CACHE_LINE_SIZE) uint64_t cycles_rx, cycles_decode, cycles_flow;
    uint64_t cycles_total, cycles_idle;
    uint64_t packets, bytes, bursts;
    uint64_t *loop_cycles;         /* direct: each loop's cycles, idle taken off (`loops`) */
    bool done;
    alignas(RTE_CACHE_LINE_SIZE) bool fed; /* --rx ring: the feeder has enqueued everything */
};

/* The loaded traffic. */
struct bench_input {
    struct rte_mempool *pool;
    struct rte_mempool *jumbo_pool; /* frames past the pool's data room */
    uint64_t packets, bytes;        /* once, all copies */
    uint64_t first_ts, last_ts;
};

/* What one pass measured, summed over the workers. */
struct pass_result {
    uint64_t pkts, bytes, rx, dec, flow, total, idle, bursts;
    uint64_t stage_pkts, statistics, matching;   /* sampled (worker_stage_cycles) */
    uint64_t export_cycles;        /* main lcore: draining, EVE writing */
    uint64_t statistics_main_cycles; /* main lcore: anomaly_engine_poll() */
    uint64_t created, evicted, dropped, memory, records, alerts, alerts_dropped;
    uint64_t rx_ring_full, rx_missed;
    uint64_t anomaly_alerts, by_detector[ANOMALY_DETECTOR_COUNT];
    double seconds;
    /* direct replay: cycles per packet of single loops (each lane's), the
     * fastest, median and slowest; n_loops 0 when not measured (ring) */
    double loop_min, loop_median, loop_max;
    unsigned n_loops;
};

/* bench_load.c: register the mbuf field that numbers a lane's packets,
 * size the pools, load the capture (times opt->multiply) or the synthetic
 * traffic into the lanes. 0, or -1 with a message on stderr. */
int bench_load(const struct bench_options *o, struct lane *lanes, struct bench_input *in);
/* A packet's index in its lane, set at load (ring mode's workers find its
 * timestamp with it). */
uint32_t bench_mbuf_index(const struct rte_mbuf *m);

/* bench_rx.c: the direct replay of one lane (an lcore function). */
int bench_replay_direct(void *lane);
/* Ring mode: one net_ring port, an RX queue (an rte_ring) per lane (pool:
 * what the queues are said to receive into; the feeder brings its own). 0, or
 * -1 with a message on stderr. */
int bench_ring_setup(struct lane *lanes, unsigned n, struct rte_mempool *pool);
/* The ring mode worker loop (an lcore function): rte_eth_rx_burst and the
 * pipeline, until the feeder is done and the queue empty. */
int bench_ring_worker(void *lane);
/* The feeder: enqueue every lane's mbufs L times, at rate_pps (0 = max).
 * Its state, so the main lcore can run it between drains. */
struct bench_feeder;
struct bench_feeder *bench_feeder_create(struct lane *lanes, unsigned n, double rate_pps);
/* Offer one burst per lane; false when everything has been fed. */
bool bench_feeder_step(struct bench_feeder *f);
/* An lcore function running the feeder to its end. */
int bench_feeder_run(void *feeder);
uint64_t bench_feeder_ring_full(const struct bench_feeder *f);
void bench_feeder_free(struct bench_feeder *f);
/* imissed + rx_nombuf of the ring port. */
uint64_t bench_ring_missed(void);
void bench_ring_teardown(struct lane *lanes, unsigned n);

/* bench_export.c: the main lcore's side of a pass (NULL eve: count only). */
struct bench_export;
struct bench_export *bench_export_create(const char *eve_path, struct pass_result *r);
/* The anomaly engine's alert callback (ctx: the bench_export). */
void bench_export_anomaly_alert(void *ctx, const struct anomaly_alert *a);
/* Take what the workers published (and poll the anomaly engine): records
 * and alerts counted, or written as EVE events. Returns how many. */
uint64_t bench_export_drain(struct bench_export *x, struct lane *lanes, unsigned n,
                            struct anomaly_engine *ae);
/* Flush the EVE file and close it. -1 when it lost events. */
int bench_export_close(struct bench_export *x);

/* bench_report.c: the JSON report. */
json_t *bench_report(const struct bench_options *o, const struct bench_input *in,
                            const struct pass_result *r, const struct pass_result *base,
                            const struct loaded_rules *lr);

#endif
