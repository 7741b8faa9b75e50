/* anomaly.h - the main thread's half of the statistical detectors: floods,
 * reflection and amplification, scans, brute force, volume change and
 * decode anomalies, with learned baselines and one story per attack.
 *
 * Use:
 *     struct anomaly_config cfg;
 *     anomaly_config_default(&cfg);            then change what you need
 *     e = anomaly_engine_create(&cfg, nworkers, on_alert, ctx, err, sizeof(err));
 *     worker i: aw = anomaly_engine_worker(e, i)  (anomaly_worker.h)
 *     main thread, as often as convenient (e.g. every 10 ms, or after each
 *     packet-time second offline):  anomaly_engine_poll(e);
 *     at the end of input, after every worker's anomaly_worker_finish():
 *     anomaly_engine_finish(e);  then anomaly_engine_destroy(e).
 *
 * Ticks. Time is packet time: tick T holds the packets whose worker clock
 * was in second T (ts / 1e9). The engine evaluates tick T once every worker
 * has moved past T (anomaly_worker_tick() with a later second, or finish),
 * or once some worker is max_wait_ticks ahead (a stuck or idle worker's
 * late snapshot of T is then dropped and counted). It merges the workers'
 * snapshots of T first, so alerts do not depend on how flows were spread
 * over workers, and a capture read offline gives the alerts it gives live.
 * Ticks in which no worker saw anything are evaluated as empty (so that
 * hold times run out in packet time), at most `hold_s + 64` of them in a
 * row.
 *
 * Detection. Each tick, every destination that carried at least
 * track_min_pps packets is tracked (up to track_max of them; idle ones are
 * dropped after track_idle_s) and gets its own baselines: an EWMA mean and
 * variance of each metric, updated every tick unless the destination is
 * under attack. A rate detector fires for a destination when its metric
 * reaches the floor (pps and/or bps, whichever are non-zero) and, once the
 * baseline has seen baseline_warmup ticks, ALSO exceeds both
 * mean + z * std and ratio * mean of that baseline. The floor is thus the
 * least that ever alerts; the baseline only raises it for busy hosts. An
 * active attack continues while its metric stays above sustain_ratio times
 * the threshold, and ends after hold_s seconds without (no flapping).
 *
 * Host groups. Thresholds (struct anomaly_thresholds) can be overridden for
 * hosts and subnets: anomaly_config_add_group(). The group whose prefix is
 * the LONGEST match of the address applies; no match: cfg.th. Floods,
 * reflection and per-destination spikes look up the VICTIM (destination);
 * port scans, host sweeps and brute force look up the ATTACKER (source), so
 * that a vulnerability scanner or a monitoring host can be exempted. The
 * global spike and decode detectors are not per host.
 *
 * Alerts go to one callback, on the thread that calls anomaly_engine_poll()
 * or anomaly_engine_finish(). The struct is only valid during the call. */
#ifndef MAMORI_ANOMALY_H
#define MAMORI_ANOMALY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "anomaly_worker.h"

/* One gid for every statistical alert; sid = ANOMALY_SID_BASE + 1 + detector. */
#define ANOMALY_GID 9000
#define ANOMALY_SID_BASE 9000000

/* X(enum suffix, sid, short name). The sid is fixed: never renumber. */
#define ANOMALY_DETECTORS(X) \
    X(SYN_FLOOD,          9000001, "syn_flood") \
    X(SYN_ECN_FLOOD,      9000002, "syn_ecn_flood") \
    X(ACK_FLOOD,          9000003, "ack_flood") \
    X(RST_FLOOD,          9000004, "rst_flood") \
    X(SYNACK_REFLECTION,  9000005, "synack_reflection") \
    X(UDP_FLOOD,          9000006, "udp_flood") \
    X(ICMP_FLOOD,         9000007, "icmp_flood") \
    X(AMPLIFICATION,      9000008, "amplification") \
    X(FRAG_FLOOD,         9000009, "frag_flood") \
    X(PORT_SCAN,          9000010, "port_scan") \
    X(HOST_SWEEP,         9000011, "host_sweep") \
    X(BRUTE_FORCE,        9000012, "brute_force") \
    X(FLOW_SPIKE,         9000013, "flow_spike") \
    X(VOLUME_SPIKE,       9000014, "volume_spike") \
    X(DST_FLOW_SPIKE,     9000015, "dst_flow_spike") \
    X(DST_VOLUME_SPIKE,   9000016, "dst_volume_spike") \
    X(DECODE,             9000017, "decode_anomaly")

enum anomaly_detector {
#define ANOMALY_DETECTOR_ENUM(id, sid, name) ANOMALY_##id,
    ANOMALY_DETECTORS(ANOMALY_DETECTOR_ENUM)
#undef ANOMALY_DETECTOR_ENUM
    ANOMALY_DETECTOR_COUNT
};

const char *anomaly_detector_name(enum anomaly_detector d);   /* "syn_flood" */
uint32_t anomaly_detector_sid(enum anomaly_detector d);

/* ---- configuration ------------------------------------------------------------ */

/* A rate detector on one destination (see "Detection" above). pps and bps
 * are floors; 0 leaves that unit unused. Defaults in anomaly_config_default(). */
struct anomaly_rate_cfg {
    bool enabled;
    double pps;
    double bps;
    double z;           /* with a baseline: above mean + z * std ... */
    double ratio;       /* ... and above ratio * mean */
};

/* Scans: a score over a sliding window of `window` seconds. The score is the
 * distinct targets (ports of one host, or hosts on one port) weighted in the
 * spirit of threshold random walk: score = distinct *
 * (success_weight * (1 - f) + fail_weight * f), f the attacker's share of
 * failed attempts (attempts answered by RST / ICMP, or not at all, as seen
 * from the SYN-ACKs it received and the flows that ended unanswered). */
struct anomaly_scan_cfg {
    bool enabled;
    double score;
    double success_weight;
    double fail_weight;
    unsigned window;    /* seconds, 1..16 */
};

/* Brute force: connections from one source to one login port
 * (brute_force_ports) of one host within `window` seconds. A connection
 * counts once it opened with a SYN and its client sent 5 packets (a login
 * exchange, not a port check of SYN, ACK, FIN), and is taken back if it
 * ends up lasting brute_force_long_s or more (a session, not a guess). */
struct anomaly_brute_cfg {
    bool enabled;
    double attempts;
    unsigned window;    /* seconds, 1..64 */
};

/* Change points (CUSUM on z-scores against the EWMA baseline) of new flows
 * per second and bits per second. Alarm when the CUSUM exceeds h, the value
 * is at least the floor, and at least ratio times the mean. */
struct anomaly_spike_cfg {
    bool enabled;
    double new_flows;   /* floor, new flows/s */
    double bps;         /* floor, bits/s */
    double cusum_k;
    double cusum_h;
    double ratio;
};

/* Everything that a host group may override. Defaults (anomaly_config_default),
 * rate floors as pps / bps, then z 6 and ratio 3 for every rate detector:
 *   syn_flood          1000 SYN/s, and completed handshakes / SYNs < 0.3
 *   syn_ecn_flood      1000 SYN+ECE+CWR/s, same completion test
 *   ack_flood          20000 unsolicited ACK/s
 *   rst_flood          5000 RST/s
 *   synack_reflection  1000 unsolicited SYN-ACK/s
 *   udp_flood          50000 pps or 500 Mbit/s
 *   icmp_flood         5000 pps or 50 Mbit/s
 *   amplification      1000 pps or 2 Mbit/s of unsolicited reflector-port
 *                      responses + fragments, from >= 3 sources, responses
 *                      >= 5 % of those packets
 *   frag_flood         5000 pps or 50 Mbit/s of IP fragments
 *   port_scan          score 64 in 5 s, success weight 0.5, failure weight 2
 *                      (32 refused ports, or 128 answered ones)
 *   host_sweep         the same over hosts on one port
 *   brute_force        10 connections in 60 s
 *   dst_spike          CUSUM k 0.5 h 10, >= 2000 new flows/s or 200 Mbit/s,
 *                      >= 5x the mean; not while a flood of that host is on
 * Global (anomaly_config): flow_spike 5000 new flows/s, volume_spike 1 Gbit/s
 * (CUSUM k 0.5 h 10, ratio 3; not while a flood is on), decode 100
 * malformed packets/s (z 6, ratio 5). */
struct anomaly_thresholds {
    struct anomaly_rate_cfg syn_flood;      /* SYN (+SYN-ECN) pps toward the host */
    double syn_completion_max;              /* ...and handshakes completed / SYNs below this */
    struct anomaly_rate_cfg syn_ecn_flood;  /* SYN+ECE+CWR pps */
    struct anomaly_rate_cfg ack_flood;      /* unsolicited ACK pps (no flow, or no packet back) */
    struct anomaly_rate_cfg rst_flood;      /* RST pps */
    struct anomaly_rate_cfg synack_reflection; /* SYN-ACKs toward a host that sent no SYN */
    struct anomaly_rate_cfg udp_flood;      /* UDP pps / bps (fragments excluded) */
    struct anomaly_rate_cfg icmp_flood;     /* ICMP + ICMPv6 pps / bps */
    struct anomaly_rate_cfg amplification;  /* unsolicited reflector-port responses + fragments */
    double amplification_min_sources;       /* ...from at least this many distinct sources */
    struct anomaly_rate_cfg frag_flood;     /* IP fragments pps / bps */
    struct anomaly_scan_cfg port_scan;      /* one source, many ports of one host */
    struct anomaly_scan_cfg host_sweep;     /* one source, one port, many hosts */
    struct anomaly_brute_cfg brute_force;
    struct anomaly_spike_cfg dst_spike;     /* per tracked destination */
};

#define ANOMALY_GROUPS_MAX 64
#define ANOMALY_PORTS_MAX 64

struct anomaly_host_group {
    char name[32];
    uint8_t version;                        /* 4 or 6 */
    uint8_t prefix_len;
    uint8_t addr[16];                       /* network order, IPv4 in the first 4 */
    struct anomaly_thresholds th;
};

struct anomaly_config {
    /* Sizes, fixed at create. Widths are powers of two. Memory per worker is
     * about snapshots * (256 * dst_width + 128 * dsrc_width + 512 * event_width
     * + 128 * bf_width) bytes: 20 MiB with the defaults. */
    uint32_t dst_width;          /* 16384: cells per row of the per-destination table */
    uint32_t dsrc_width;         /* 4096: distinct sources per destination */
    uint32_t event_width;        /* 4096: (source, destination) and (source, port) tables */
    uint32_t bf_width;           /* 2048: (source, destination, service) table */
    uint32_t snapshots;          /* 3: tick buffers per worker (2..16) */
    uint64_t seed;               /* hash seed; 0: fixed default (reproducible runs) */
    /* Offline input: a worker with no free snapshot waits (yields) instead of
     * dropping the tick. Then every worker must be ticked, idle ones too
     * (e.g. with the capture clock when their input is empty): a worker
     * waiting for the main thread and an idle one left at an old second
     * would wait for each other. With max_wait_ticks = 0 the engine waits
     * for every worker: the same alerts whatever the worker count. */
    bool lossless;
    /* 262144: new flows per worker per tick that get the full flow-event
     * work (distinct sources, scans, top sources); beyond, a spoofed flood
     * costs per-destination counts only. Counted in anomaly.events_skipped.
     * 0: no limit. */
    uint64_t event_budget;

    /* Main thread tracking. */
    uint32_t track_max;          /* 8192: destinations with baselines */
    uint32_t track_candidates_max; /* 1024: scan / sweep / brute-force candidates */
    double track_min_pps;        /* 20: a destination this busy in a tick gets tracked */
    unsigned track_idle_s;       /* 300: untracked after this long below track_min_pps */
    double baseline_alpha;       /* 0.05: EWMA weight (about the last 40 ticks) */
    unsigned baseline_warmup;    /* 20: ticks before a baseline is trusted */
    unsigned max_wait_ticks;     /* 2: evaluate T once a worker is this far past it;
                                  * 0: wait for every worker */

    /* Attack lifecycle. */
    unsigned start_ticks;        /* 1: ticks above threshold before the start alert */
    unsigned hold_s;             /* 10: seconds below threshold before the end alert */
    unsigned update_s;           /* 10: seconds between update alerts */
    double sustain_ratio;        /* 0.5: an attack continues above this * threshold */
    unsigned max_active;         /* 256: attacks followed at once; more are counted, not alerted */

    /* Ports. */
    uint16_t reflector_ports[ANOMALY_PORTS_MAX];
    unsigned n_reflector_ports;  /* 17, 19, 53, 69, 111, 123, 137, 161, 389, 427, 520, 1434,
                                  * 1900, 3283, 3702, 5353, 11211, 37810, 47808 */
    uint16_t brute_force_ports[ANOMALY_PORTS_MAX];
    unsigned n_brute_force_ports; /* 21, 22, 23, 25, 110, 143, 445, 465, 587, 993, 995,
                                   * 1433, 3306, 3389, 5432, 5900 */
    unsigned brute_force_long_s; /* 60: a connection this long is a session, not a guess */

    /* Defaults for every host, and the overrides. */
    struct anomaly_thresholds th;
    struct anomaly_host_group groups[ANOMALY_GROUPS_MAX];
    unsigned n_groups;

    /* Global detectors. */
    struct anomaly_spike_cfg flow_spike;    /* new flows/s of all traffic */
    struct anomaly_spike_cfg volume_spike;  /* bits/s of all traffic */
    struct anomaly_rate_cfg decode;         /* packets flagged malformed per second */
};

void anomaly_config_default(struct anomaly_config *cfg);

/* Add a host group "10.0.0.0/8", "192.0.2.7" (a /32), "2001:db8::/32";
 * its thresholds start as a copy of cfg->th, returned in *th to change.
 * Returns 0, -EINVAL (bad prefix), -ENOSPC (ANOMALY_GROUPS_MAX). */
int anomaly_config_add_group(struct anomaly_config *cfg, const char *prefix, const char *name,
                             struct anomaly_thresholds **th);

/* The thresholds for an address: its longest-prefix group, or cfg->th. */
const struct anomaly_thresholds *anomaly_config_lookup(const struct anomaly_config *cfg,
                                                       const uint8_t addr[16], uint8_t version,
                                                       const char **group_name);

/* ---- alerts ---------------------------------------------------------------------- */

enum anomaly_phase { ANOMALY_START = 0, ANOMALY_UPDATE, ANOMALY_END };

const char *anomaly_phase_name(enum anomaly_phase p);   /* "start", "update", "end" */

struct anomaly_addr {
    uint8_t version;             /* 4 or 6; 0: none */
    uint8_t addr[16];            /* network order, IPv4 in the first 4 bytes */
};

struct anomaly_source {
    struct anomaly_addr addr;
    uint64_t count;              /* flows, plus packets in steps of 1024 (see below) */
};

#define ANOMALY_TOP_SOURCES 5

struct anomaly_alert {
    enum anomaly_phase phase;
    enum anomaly_detector detector;
    uint32_t gid;                /* ANOMALY_GID */
    uint32_t sid;
    uint32_t rev;                /* 1 */
    char signature[192];         /* "MAMORI SYN flood toward 10.10.10.10" */
    const char *category;        /* "Attempted Denial of Service", ... */
    uint8_t severity;            /* 1 (high) .. 3 */
    uint64_t attack_id;          /* the same in start, updates and end; < 2^51 */
    uint64_t ts_ns;              /* packet time: the end of the tick evaluated */
    uint64_t start_ns;           /* packet time the attack was first seen (tick start) */
    struct anomaly_addr victim;  /* version 0 when none (global detectors, host sweep) */
    struct anomaly_addr attacker;/* version 0 when not a single source (floods) */
    uint16_t port;               /* service port (brute force, sweep); 0 if none */
    uint8_t proto;               /* IPPROTO_TCP/UDP/ICMP of the attack; 0 if mixed */
    const char *metric;          /* what was compared: "syn_pps", "distinct_ports", ... */
    double value;                /* that metric in the last tick (or window) */
    double threshold;            /* what it was compared with (effective, after baseline) */
    double baseline_mean;        /* of the metric; 0 without a learned baseline */
    double baseline_std;
    double score;                /* z-score against the baseline (rates, spikes), the
                                  * weighted scan score, or attempts (brute force) */
    double pps, bps;             /* the victim's (or attack's) traffic in the last tick */
    double peak_pps, peak_bps;   /* highest tick since the start */
    double peak_value;           /* highest value of the metric since the start */
    uint64_t distinct_sources;   /* toward the victim, last tick (HyperLogLog estimate) */
    uint64_t ticks;              /* seconds the attack has lasted */
    unsigned n_top;
    /* Heaviest sources since the start, by flows opened plus, for long flows,
     * packets in steps of 1024. Under a spoofed flood they mean little. */
    struct anomaly_source top[ANOMALY_TOP_SOURCES];
};

typedef void (*anomaly_alert_fn)(void *ctx, const struct anomaly_alert *a);

/* ---- the engine ------------------------------------------------------------------- */

struct anomaly_engine;

/* Allocates everything: nworkers (1..64) workers' snapshots, the merge buffer,
 * the tracking tables. NULL with a message in err on a bad config or no memory. */
struct anomaly_engine *anomaly_engine_create(const struct anomaly_config *cfg, unsigned nworkers,
                                             anomaly_alert_fn fn, void *ctx,
                                             char *err, size_t errlen);
void anomaly_engine_destroy(struct anomaly_engine *e);

struct anomaly_worker *anomaly_engine_worker(struct anomaly_engine *e, unsigned i);

/* Evaluate every tick that is ready; returns how many. Never blocks. */
unsigned anomaly_engine_poll(struct anomaly_engine *e);

/* Some worker waits for the main thread: it has published a tick not yet
 * taken, or (offline, lossless) it waits for a free snapshot. A main loop
 * that sleeps when idle should poll again soon instead: offline, a worker
 * replaying a capture with packets in thousands of seconds would otherwise
 * wait a sleep per tick or two. */
bool anomaly_engine_wanted(const struct anomaly_engine *e);

/* End of input (every worker finished): evaluate what is left, then end
 * every active attack (an end alert each). */
void anomaly_engine_finish(struct anomaly_engine *e);

/* Replace thresholds, host groups, ports and lifecycle settings while
 * running (main thread). Sizes, seed, snapshots, track and attack limits
 * must be unchanged: -EINVAL otherwise; lossless and event_budget stay as
 * the workers were created. Tracked keys keep their baselines. */
int anomaly_engine_reconfigure(struct anomaly_engine *e, const struct anomaly_config *cfg);

#define ANOMALY_ENGINE_COUNTERS(X) \
    X(TICKS,            "anomaly.ticks")            /* ticks evaluated */ \
    X(TICKS_EMPTY,      "anomaly.ticks_empty")      /* of those, with no snapshot */ \
    X(SNAPSHOTS_LATE,   "anomaly.snapshots_late")   /* arrived after their tick, dropped */ \
    X(TRACKED,          "anomaly.tracked")          /* destinations tracked (gauge) */ \
    X(TRACK_FULL,       "anomaly.track_full")       /* candidates refused, table full */ \
    X(ALERTS,           "anomaly.alerts")           /* alerts emitted (all phases) */ \
    X(ATTACKS,          "anomaly.attacks")          /* attacks started */ \
    X(ATTACKS_ACTIVE,   "anomaly.attacks_active")   /* gauge */ \
    X(ATTACKS_DROPPED,  "anomaly.attacks_dropped")  /* not followed: max_active */ \
    X(EVENTS_SKIPPED,   "anomaly.events_skipped")   /* new flows past event_budget */

enum anomaly_engine_counter {
#define ANOMALY_ENGINE_COUNTER_ENUM(id, name) ANOMALY_ENGINE_##id,
    ANOMALY_ENGINE_COUNTERS(ANOMALY_ENGINE_COUNTER_ENUM)
#undef ANOMALY_ENGINE_COUNTER_ENUM
    ANOMALY_ENGINE_COUNTER_COUNT
};

const char *anomaly_engine_counter_name(enum anomaly_engine_counter i);
/* Main thread. Worker tick drops: anomaly_worker_ticks_dropped(). */
uint64_t anomaly_engine_counter(const struct anomaly_engine *e, enum anomaly_engine_counter i);
/* Bytes the engine holds on the main thread (workers' snapshots excluded). */
size_t anomaly_engine_memory(const struct anomaly_engine *e);

#endif
