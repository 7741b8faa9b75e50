/* anomaly_engine_int.h - the main thread's state, shared by anomaly.c
 * (configuration, tick merging, attack lifecycle, alerts) and
 * anomaly_detect.c (the detectors). Internal to detectors/. */
#ifndef MAMORI_ANOMALY_ENGINE_INT_H
#define MAMORI_ANOMALY_ENGINE_INT_H

#include "anomaly_int.h"

#define AN_WIN_MAX 64          /* longest brute-force window, seconds */
#define AN_SCAN_WIN_MAX 16     /* longest scan window (HyperLogLog per second) */
#define AN_EMPTY_TICKS_MAX 64  /* empty ticks evaluated in a row, beyond hold_s */
#define AN_SCAN_TRACK_MIN 4    /* attempts in a tick that make a scan candidate */

/* Per-destination metrics with a baseline. */
enum an_metric {
    AN_M_SYN, AN_M_SYN_ECN, AN_M_ACK, AN_M_RST, AN_M_SYNACK,
    AN_M_UDP_PPS, AN_M_UDP_BPS, AN_M_ICMP_PPS, AN_M_ICMP_BPS,
    AN_M_AMP_PPS, AN_M_AMP_BPS, AN_M_FRAG_PPS, AN_M_FRAG_BPS,
    AN_M_NEW_FLOWS, AN_M_BPS,
    AN_M_COUNT
};

/* A destination's counters in one tick: the smaller of its two cells,
 * counter by counter (each is an upper bound; the smaller is closer). */
struct an_dst_est {
    double pkts[AN_NCLASS];
    double bytes[AN_NBCLASS];
    double new_flows;
    double total_pkts, total_bytes;
    uint16_t refl_port;
    double distinct_sources;
};

struct an_tracked_dst {
    bool used;
    uint64_t h;                    /* an_addr_hash(): the slot, distinct sources */
    uint64_t x;                    /* an_addr_x(): the per-destination cells */
    struct an_addr addr;
    uint64_t first_tick;
    uint64_t last_active;          /* last tick at or above track_min_pps */
    uint64_t eval_tick;            /* last tick evaluated (dedup) */
    const struct anomaly_thresholds *th;
    struct ewma base[AN_M_COUNT];
    struct cusum cu_flows, cu_bps;
};

enum an_cand_kind { AN_K_PAIR = 0, AN_K_SVC, AN_K_BF };

/* A scan, sweep or brute-force candidate, with its sliding window. */
struct an_cand {
    bool used;
    uint8_t kind;
    uint8_t proto;
    uint16_t port;
    uint64_t h;                    /* the table hash of its key */
    uint64_t xsrc;                 /* the source as a destination: answers it received */
    struct an_addr src, dst;
    uint64_t first_tick, last_active, eval_tick;
    const struct anomaly_thresholds *th;
    uint32_t attempts[AN_WIN_MAX];
    uint32_t failed[AN_WIN_MAX];   /* brute force: long connections in longc */
    uint32_t longc[AN_WIN_MAX];
    uint32_t answers[AN_WIN_MAX];  /* SYN-ACKs and UDP the source received */
    uint8_t regs[AN_SCAN_WIN_MAX][AN_HLL_BYTES];   /* pair, svc only */
};

/* One detection in one tick, handed to the lifecycle. */
struct an_obs {
    enum anomaly_detector det;
    struct anomaly_addr victim, attacker;
    uint16_t port;
    uint8_t proto;
    uint16_t refl_port;            /* amplification: the reflectors' service */
    bool above;                    /* at or above the start threshold */
    const char *metric;
    double value, threshold, mean, std, score;
    double pps, bps;
    double distinct_sources;
};

struct an_attack {
    bool used;
    bool started;
    struct an_obs o;               /* the latest figures */
    uint64_t id;
    uint64_t first_tick, last_above, last_update, last_obs;
    unsigned above_run;
    double peak_pps, peak_bps, peak_value;
    unsigned n_top;
    struct anomaly_source top[ANOMALY_TOP_SOURCES * 2];
};

struct anomaly_engine {
    struct anomaly_config cfg;
    struct an_dims dims;
    struct an_portset refl_ports, bf_ports;
    anomaly_alert_fn fn;
    void *ctx;
    unsigned nworkers;
    struct anomaly_worker **workers;

    struct an_snap merged_buf;     /* owned; swapped with worker snapshots */
    struct an_snap *merged;
    bool merged_dirty;
    uint64_t next_tick;            /* AN_NO_TICK until the first snapshot */
    unsigned empty_run;

    struct an_tracked_dst *dsts;   /* open addressing, linear probing */
    uint32_t dst_mask;
    uint32_t dst_count;
    struct an_cand *cands;
    uint32_t cand_mask;
    uint32_t cand_count;

    struct an_attack *attacks;     /* max_active */

    struct ewma g_flows, g_bps, g_invalid;
    struct cusum gc_flows, gc_bps;
    uint64_t g_ticks;

    an_tick_hook_fn hook;
    void *hook_ctx;
    uint64_t counters[ANOMALY_ENGINE_COUNTER_COUNT];
};

/* anomaly.c */
void an_observe(struct anomaly_engine *e, const struct an_obs *o, uint64_t tick);
bool an_flood_active(const struct anomaly_engine *e);
bool an_victim_flooded(const struct anomaly_engine *e, const struct anomaly_addr *victim);
bool an_victim_under_attack(const struct anomaly_engine *e, const struct anomaly_addr *victim,
                            enum anomaly_detector except);
const struct anomaly_thresholds *an_thresholds_for(const struct anomaly_engine *e,
                                                   const struct an_addr *a);
void an_to_anomaly_addr(struct anomaly_addr *out, const struct an_addr *a);

/* anomaly_detect.c: everything that looks at one merged tick. */
void an_detect_tick(struct anomaly_engine *e, const struct an_snap *s, uint64_t tick);
/* Top sources toward a victim in this tick's pair table, by weight. */
unsigned an_top_sources(const struct anomaly_engine *e, const struct an_snap *s,
                        const struct anomaly_addr *victim, struct anomaly_source *out,
                        unsigned max);

#endif
