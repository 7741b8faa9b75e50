/* config.c - the YAML configuration file and --dump-config.
 *
 * One table of keys per section: name, type, the field it fills (offset
 * and size), the accepted range, and a line of help. The loader walks the
 * YAML document (libyaml's document API, which keeps line numbers) against
 * the tables; the dumper walks the tables and prints every field, so the
 * two cannot drift apart and a dump always loads back.
 *
 * Offsets are relative to the struct a table describes: struct
 * mamori_options for most, struct anomaly_thresholds for the per-host
 * thresholds, which serve both anomaly.thresholds and every host group. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "config.h"
#include "mamori_version.h"
#include "rules.h"
#include "stream.h"

/* ---- the key tables ------------------------------------------------------ */

enum key_type {
    K_END,
    K_SECTION,   /* a mapping described by .sub */
    K_BOOL,      /* true/false, yes/no, on/off */
    K_NOT,       /* a bool stored inverted (anomaly.enabled -> no_anomaly) */
    K_UINT,      /* a whole number in [lo, hi] */
    K_SIZE,      /* bytes: 4096, 64kb, 1mb */
    K_DOUBLE,    /* a finite number in [lo, hi] */
    K_STRING,
    K_CHOICE,    /* one of .choices, stored as its value */
    K_OCTAL,     /* a file mode: 0660 */
    K_CUSTOM,    /* .parse and .dump do the work */
};

struct choice {
    const char *name;
    int value;
};

struct conf;
struct key;
typedef int (*parse_fn)(struct conf *c, const struct key *k, yaml_node_t *n, void *base);
typedef void (*dump_fn)(FILE *out, const struct key *k, const void *base, int indent);

struct key {
    const char *name;
    enum key_type type;
    size_t off, size;        /* the field, from the table's base */
    size_t off2;             /* K_CUSTOM lists: their count field */
    double lo, hi;           /* numbers; hi == 0: the type's largest */
    bool pow2;               /* K_UINT: a power of two */
    bool zero_ok;            /* K_UINT: 0 ("automatic") too, below lo */
    int arg;                 /* K_CUSTOM: what the parser needs to know */
    bool late;               /* parsed after every other key (it reads them) */
    const struct key *sub;
    const struct choice *choices;
    parse_fn parse;
    dump_fn dump;
    const char *help;
};

#define FLD(T, f) .off = offsetof(T, f), .size = sizeof(((T *)0)->f)
#define OPT(f) FLD(struct mamori_options, f)
#define TH(f) FLD(struct anomaly_thresholds, f)
#define SECTION(n, t, h) { .name = n, .type = K_SECTION, .sub = t, .help = h }
#define END { .name = NULL, .type = K_END }

/* A rate detector (struct anomaly_rate_cfg), a scan, brute force or a
 * change-point detector, at field f of a struct F() describes. */
#define RATE_KEYS(F, f) \
    { .name = "enabled", .type = K_BOOL, F(f.enabled), .help = "this detector on or off" }, \
    { .name = "pps", .type = K_DOUBLE, F(f.pps), .help = "floor: packets/s (0: not used)" }, \
    { .name = "bps", .type = K_DOUBLE, F(f.bps), .help = "floor: bits/s (0: not used)" }, \
    { .name = "z", .type = K_DOUBLE, F(f.z), \
      .help = "with a learned baseline, also above mean + z * std" }, \
    { .name = "ratio", .type = K_DOUBLE, F(f.ratio), .help = "... and above ratio * mean" }
#define SCAN_KEYS(F, f) \
    { .name = "enabled", .type = K_BOOL, F(f.enabled), .help = "this detector on or off" }, \
    { .name = "score", .type = K_DOUBLE, F(f.score), \
      .help = "alert at this score: distinct targets weighted by outcome" }, \
    { .name = "success-weight", .type = K_DOUBLE, F(f.success_weight), \
      .help = "weight of a target that answered" }, \
    { .name = "fail-weight", .type = K_DOUBLE, F(f.fail_weight), \
      .help = "weight of a target that refused or stayed silent" }, \
    { .name = "window", .type = K_UINT, F(f.window), .lo = 1, .hi = 16, \
      .help = "seconds the score is counted over (1..16)" }
#define SPIKE_KEYS(F, f) \
    { .name = "enabled", .type = K_BOOL, F(f.enabled), .help = "this detector on or off" }, \
    { .name = "new-flows", .type = K_DOUBLE, F(f.new_flows), \
      .help = "floor: new flows/s (0: not used)" }, \
    { .name = "bps", .type = K_DOUBLE, F(f.bps), .help = "floor: bits/s (0: not used)" }, \
    { .name = "cusum-k", .type = K_DOUBLE, F(f.cusum_k), \
      .help = "CUSUM slack, in standard deviations" }, \
    { .name = "cusum-h", .type = K_DOUBLE, F(f.cusum_h), .help = "CUSUM alarm level" }, \
    { .name = "ratio", .type = K_DOUBLE, F(f.ratio), .help = "and at least ratio * mean" }

static const struct key th_syn_flood[] = {
    RATE_KEYS(TH, syn_flood),
    { .name = "completion-max", .type = K_DOUBLE, TH(syn_completion_max), .lo = 0, .hi = 1,
      .help = "and handshakes completed per SYN below this" },
    END,
};
static const struct key th_syn_ecn_flood[] = { RATE_KEYS(TH, syn_ecn_flood), END };
static const struct key th_ack_flood[] = { RATE_KEYS(TH, ack_flood), END };
static const struct key th_rst_flood[] = { RATE_KEYS(TH, rst_flood), END };
static const struct key th_synack_reflection[] = { RATE_KEYS(TH, synack_reflection), END };
static const struct key th_udp_flood[] = { RATE_KEYS(TH, udp_flood), END };
static const struct key th_icmp_flood[] = { RATE_KEYS(TH, icmp_flood), END };
static const struct key th_amplification[] = {
    RATE_KEYS(TH, amplification),
    { .name = "min-sources", .type = K_DOUBLE, TH(amplification_min_sources),
      .help = "and from at least this many reflectors" },
    END,
};
static const struct key th_frag_flood[] = { RATE_KEYS(TH, frag_flood), END };
static const struct key th_port_scan[] = { SCAN_KEYS(TH, port_scan), END };
static const struct key th_host_sweep[] = { SCAN_KEYS(TH, host_sweep), END };
static const struct key th_brute_force[] = {
    { .name = "enabled", .type = K_BOOL, TH(brute_force.enabled), .help = "this detector on or off" },
    { .name = "attempts", .type = K_DOUBLE, TH(brute_force.attempts),
      .help = "connections to one service within the window" },
    { .name = "window", .type = K_UINT, TH(brute_force.window), .lo = 1, .hi = 64,
      .help = "seconds (1..64)" },
    END,
};
static const struct key th_dst_spike[] = { SPIKE_KEYS(TH, dst_spike), END };

/* Per host: anomaly.thresholds and each host group's thresholds. */
static const struct key threshold_keys[] = {
    SECTION("syn-flood", th_syn_flood, "SYN packets/s toward a host"),
    SECTION("syn-ecn-flood", th_syn_ecn_flood, "SYN+ECE+CWR packets/s"),
    SECTION("ack-flood", th_ack_flood, "unsolicited ACK packets/s"),
    SECTION("rst-flood", th_rst_flood, "RST packets/s"),
    SECTION("synack-reflection", th_synack_reflection, "SYN-ACKs toward a host that sent no SYN"),
    SECTION("udp-flood", th_udp_flood, "UDP packets/s and bits/s (fragments excluded)"),
    SECTION("icmp-flood", th_icmp_flood, "ICMP and ICMPv6 packets/s and bits/s"),
    SECTION("amplification", th_amplification,
            "unsolicited responses from reflector ports (and fragments)"),
    SECTION("frag-flood", th_frag_flood, "IP fragments packets/s and bits/s"),
    SECTION("port-scan", th_port_scan, "one source, many ports of one host"),
    SECTION("host-sweep", th_host_sweep, "one source, one port, many hosts"),
    SECTION("brute-force", th_brute_force, "one source, many connections to one service"),
    SECTION("dst-spike", th_dst_spike, "change points of one host's new flows/s and bits/s"),
    END,
};

static const struct key flow_spike_keys[] = { SPIKE_KEYS(OPT, anomaly.flow_spike), END };
static const struct key volume_spike_keys[] = { SPIKE_KEYS(OPT, anomaly.volume_spike), END };
static const struct key decode_keys[] = { RATE_KEYS(OPT, anomaly.decode), END };

/* Custom parsers and dumpers, defined below. */
static int parse_strings(struct conf *, const struct key *, yaml_node_t *, void *);
static void dump_strings(FILE *, const struct key *, const void *, int);
static int parse_eal_args(struct conf *, const struct key *, yaml_node_t *, void *);
static void dump_eal_args(FILE *, const struct key *, const void *, int);
static int parse_ports(struct conf *, const struct key *, yaml_node_t *, void *);
static void dump_ports(FILE *, const struct key *, const void *, int);
static int parse_vars(struct conf *, const struct key *, yaml_node_t *, void *);
static void dump_vars(FILE *, const struct key *, const void *, int);
static int parse_groups(struct conf *, const struct key *, yaml_node_t *, void *);
static void dump_groups(FILE *, const struct key *, const void *, int);
static int parse_optional_path(struct conf *, const struct key *, yaml_node_t *, void *);
static void dump_optional_path(FILE *, const struct key *, const void *, int);

/* parse_strings: what a list is (arg). */
enum { LIST_FILES, LIST_RULES, LIST_IFACES };
/* parse_optional_path: what an empty or "none" value means (arg). */
enum { PATH_CLASSIFICATION, PATH_RULE_CACHE, PATH_CONTROL_SOCKET };

#define STRINGS(n, arr, cnt, what, h) \
    { .name = n, .type = K_CUSTOM, OPT(arr), .off2 = offsetof(struct mamori_options, cnt), \
      .arg = what, .late = what == LIST_RULES, .parse = parse_strings, .dump = dump_strings, \
      .help = h }

static const struct key vars_keys[] = {
    { .name = "address-groups", .type = K_CUSTOM, .arg = RULE_VAR_ADDRESS, .late = true,
      .parse = parse_vars, .dump = dump_vars, .help = "$NAME: address group" },
    { .name = "port-groups", .type = K_CUSTOM, .arg = RULE_VAR_PORT, .late = true,
      .parse = parse_vars, .dump = dump_vars, .help = "$NAME: port group" },
    END,
};

static const struct choice capture_modes[] = {
    { "none", MODE_NONE }, { "pcap", MODE_PCAP }, { "dpdk", MODE_DPDK }, { "af-xdp", MODE_AFXDP },
    { NULL, 0 },
};
static const struct choice xdp_modes[] = {
    { "auto", AFXDP_XDP_DEFAULT }, { "native", AFXDP_XDP_NATIVE },
    { "generic", AFXDP_XDP_GENERIC }, { NULL, 0 },
};
static const struct choice bind_modes[] = {
    { "auto", AFXDP_BIND_DEFAULT }, { "zerocopy", AFXDP_BIND_ZEROCOPY },
    { "copy", AFXDP_BIND_COPY }, { NULL, 0 },
};
static const struct choice fallbacks[] = { { "none", 0 }, { "af-xdp", 1 }, { NULL, 0 } };

static const struct key pcap_keys[] = {
    STRINGS("files", pcap_files, n_pcap_files, LIST_FILES,
            "-r: capture files read in order (pcap or pcapng)"),
    END,
};
static const struct key dpdk_keys[] = {
    { .name = "eal-args", .type = K_CUSTOM, .parse = parse_eal_args, .dump = dump_eal_args,
      .help = "what follows --dpdk --: the EAL's arguments" },
    { .name = "fallback", .type = K_CHOICE, OPT(fallback_afxdp), .choices = fallbacks,
      .help = "--fallback afxdp: capture af-xdp.interfaces if DPDK cannot start" },
    { .name = "mbufs", .type = K_UINT, OPT(mbufs), .lo = 16, .zero_ok = true, .hi = 1u << 24,
      .help = "--mbufs: RX mempool buffers (0: sized from the ports and workers)" },
    END,
};
static const struct key afxdp_keys[] = {
    STRINGS("interfaces", ifaces, n_ifaces, LIST_IFACES, "-i: network interfaces"),
    { .name = "queues", .type = K_UINT, OPT(afxdp.queues), .lo = 0, .hi = 1024,
      .help = "--queues: sockets per interface (0: all its channels)" },
    { .name = "xdp-mode", .type = K_CHOICE, OPT(afxdp.xdp_mode), .choices = xdp_modes,
      .help = "--xdp-mode: auto (native, else generic), native or generic" },
    { .name = "bind-mode", .type = K_CHOICE, OPT(afxdp.bind_mode), .choices = bind_modes,
      .help = "--bind-mode: auto (zero-copy where possible), zerocopy or copy" },
    { .name = "xsk-frames", .type = K_UINT, OPT(afxdp.frames), .lo = 64, .hi = 1u << 20,
      .pow2 = true, .help = "--xsk-frames: 4 KiB UMEM frames per socket, a power of two" },
    END,
};
static const struct key capture_keys[] = {
    { .name = "mode", .type = K_CHOICE, OPT(capture), .choices = capture_modes,
      .help = "none, pcap, dpdk or af-xdp (-r, --dpdk and -i choose on the command line)" },
    { .name = "workers", .type = K_UINT, OPT(workers), .lo = 0, .hi = 1024,
      .help = "-w: worker threads (0: one per core beside the main one)" },
    { .name = "idle-exit", .type = K_UINT, OPT(idle_exit), .lo = 0, .hi = 86400,
      .help = "--idle-exit: stop after this many seconds without a packet (0: never)" },
    SECTION("pcap", pcap_keys, NULL),
    SECTION("dpdk", dpdk_keys, NULL),
    SECTION("af-xdp", afxdp_keys, NULL),
    END,
};

#define TIMEOUT(n, f, h) { .name = n, .type = K_UINT, OPT(flow_timeouts.f), .lo = 1, \
                           .hi = 1u << 30, .help = h }
static const struct key tcp_timeout_keys[] = {
    TIMEOUT("new", tcp[FLOW_STATE_NEW], "seconds, before the handshake completes"),
    TIMEOUT("established", tcp[FLOW_STATE_ESTABLISHED], "seconds, once established"),
    TIMEOUT("closing", tcp[FLOW_STATE_CLOSING], "seconds, after a FIN"),
    TIMEOUT("closed", tcp[FLOW_STATE_CLOSED], "seconds, after both FINs or a RST"),
    END,
};
#define STATELESS_TIMEOUTS(name, p) \
    static const struct key name[] = { \
        TIMEOUT("new", p[FLOW_STATE_NEW], "seconds, one direction seen"), \
        TIMEOUT("established", p[FLOW_STATE_ESTABLISHED], "seconds, both directions seen"), \
        END, \
    }
STATELESS_TIMEOUTS(udp_timeout_keys, udp);
STATELESS_TIMEOUTS(icmp_timeout_keys, icmp);
STATELESS_TIMEOUTS(other_timeout_keys, other);
static const struct key timeout_keys[] = {
    SECTION("tcp", tcp_timeout_keys, NULL),
    SECTION("udp", udp_timeout_keys, NULL),
    SECTION("icmp", icmp_timeout_keys, NULL),
    SECTION("other", other_timeout_keys, NULL),
    END,
};
static const struct key flow_keys[] = {
    { .name = "capacity", .type = K_UINT, OPT(flows_per_worker), .lo = 16, .hi = 1u << 28,
      .help = "--flows: live flows per worker" },
    { .name = "timeout", .type = K_UINT, OPT(flow_timeout), .lo = 0, .hi = 1u << 30,
      .help = "--flow-timeout: one idle timeout in seconds for all (0: timeouts below)" },
    SECTION("timeouts", timeout_keys, "idle timeouts per protocol and state, packet time"),
    END,
};

static const struct key stream_keys[] = {
    { .name = "depth", .type = K_SIZE, OPT(stream_depth), .lo = 0, .hi = UINT32_MAX,
      .help = "--stream-depth: TCP bytes matched per direction (0: all)" },
    { .name = "flows", .type = K_UINT, OPT(stream_flows), .lo = 16, .hi = 1u << 24,
      .help = "--stream-flows: flows per worker reassembled at once" },
    { .name = "midstream", .type = K_BOOL, OPT(midstream),
      .help = "--midstream: connections joined without handshake are established" },
    { .name = "inspect-encrypted", .type = K_BOOL, OPT(inspect_encrypted),
      .help = "match content rules past a TLS handshake too (default: header rules only)" },
    { .name = "window", .type = K_SIZE, OPT(stream_window), .lo = 0, .hi = 1u << 20,
      .help = "bytes before new data kept for matches across segments" },
    { .name = "ooo-segments", .type = K_UINT, OPT(stream_ooo_segments), .lo = 0, .hi = 1024,
      .help = "out-of-order segments held per direction" },
    { .name = "ooo-pool", .type = K_SIZE, OPT(stream_ooo_pool), .lo = 0, .hi = UINT32_MAX,
      .help = "bytes per worker for held out-of-order data" },
    END,
};

static const struct key detect_keys[] = {
    { .name = "rule-path", .type = K_STRING, OPT(rule_path),
      .help = "relative rule files are found here (\"\": beside this file)" },
    STRINGS("rules", rule_files, n_rule_files, LIST_RULES, "-S: rule files, in order"),
    { .name = "classification-file", .type = K_CUSTOM, OPT(classification),
      .arg = PATH_CLASSIFICATION, .parse = parse_optional_path, .dump = dump_optional_path,
      .help = "--classification-file (\"\": the installed one)" },
    { .name = "rule-cache", .type = K_CUSTOM, OPT(rule_cache), .arg = PATH_RULE_CACHE,
      .parse = parse_optional_path, .dump = dump_optional_path,
      .help = "--rule-cache: compiled databases kept here (none: no cache)" },
    { .name = "test-rules", .type = K_BOOL, OPT(test_rules),
      .help = "-T: check the rule files and exit" },
    END,
};

#define A(f) OPT(anomaly.f)
#define WIDTH(n, f, h) { .name = n, .type = K_UINT, A(f), .lo = 16, .hi = 1u << 24, \
                         .pow2 = true, .help = h }
static const struct key anomaly_keys[] = {
    { .name = "enabled", .type = K_NOT, OPT(no_anomaly),
      .help = "statistical detectors on (--no-anomaly: off)" },
    WIDTH("dst-width", dst_width, "cells per row of the per-destination table"),
    WIDTH("dsrc-width", dsrc_width, "distinct sources per destination"),
    WIDTH("event-width", event_width, "(source, destination) and (source, port) tables"),
    WIDTH("bf-width", bf_width, "(source, destination, service) table"),
    { .name = "snapshots", .type = K_UINT, A(snapshots), .lo = 2, .hi = 16,
      .help = "tick buffers per worker" },
    { .name = "seed", .type = K_UINT, A(seed), .help = "hash seed (0: fixed, reproducible)" },
    { .name = "event-budget", .type = K_UINT, A(event_budget),
      .help = "new flows per worker per tick fully analysed (0: no limit)" },
    { .name = "track-max", .type = K_UINT, A(track_max), .lo = 1,
      .help = "destinations with baselines" },
    { .name = "track-candidates-max", .type = K_UINT, A(track_candidates_max), .lo = 1,
      .help = "scan, sweep and brute-force candidates followed" },
    { .name = "track-min-pps", .type = K_DOUBLE, A(track_min_pps),
      .help = "a destination this busy in a tick gets a baseline" },
    { .name = "track-idle", .type = K_UINT, A(track_idle_s),
      .help = "seconds below track-min-pps before it is dropped" },
    { .name = "baseline-alpha", .type = K_DOUBLE, A(baseline_alpha), .lo = 1e-9, .hi = 1,
      .help = "EWMA weight of a new tick, in (0, 1]" },
    { .name = "baseline-warmup", .type = K_UINT, A(baseline_warmup),
      .help = "ticks before a baseline is trusted" },
    { .name = "max-wait-ticks", .type = K_UINT, A(max_wait_ticks),
      .help = "evaluate a tick once a worker is this far past it (0: wait for all)" },
    { .name = "start-ticks", .type = K_UINT, A(start_ticks),
      .help = "ticks above threshold before the start alert" },
    { .name = "hold", .type = K_UINT, A(hold_s),
      .help = "seconds below threshold before the end alert" },
    { .name = "update", .type = K_UINT, A(update_s), .help = "seconds between update alerts" },
    { .name = "sustain-ratio", .type = K_DOUBLE, A(sustain_ratio),
      .help = "an attack goes on above this * threshold" },
    { .name = "max-active", .type = K_UINT, A(max_active), .lo = 1,
      .help = "attacks followed at once (more are counted)" },
    { .name = "reflector-ports", .type = K_CUSTOM, A(reflector_ports),
      .off2 = offsetof(struct mamori_options, anomaly.n_reflector_ports),
      .parse = parse_ports, .dump = dump_ports,
      .help = "UDP source ports of amplification" },
    { .name = "brute-force-ports", .type = K_CUSTOM, A(brute_force_ports),
      .off2 = offsetof(struct mamori_options, anomaly.n_brute_force_ports),
      .parse = parse_ports, .dump = dump_ports, .help = "services watched for brute force" },
    { .name = "brute-force-long", .type = K_UINT, A(brute_force_long_s),
      .help = "seconds: a connection this long is a session, not a guess" },
    { .name = "thresholds", .type = K_SECTION, OPT(anomaly.th), .sub = threshold_keys,
      .help = "per host; host-groups override them" },
    SECTION("flow-spike", flow_spike_keys, "change points of all new flows/s"),
    SECTION("volume-spike", volume_spike_keys, "change points of all bits/s"),
    SECTION("decode", decode_keys, "malformed packets/s"),
    { .name = "host-groups", .type = K_CUSTOM, .late = true, .parse = parse_groups,
      .dump = dump_groups, .help = "thresholds for some hosts and networks" },
    END,
};

static const struct choice facilities[] = {
    { "kern", 0 }, { "user", 1 }, { "mail", 2 }, { "daemon", 3 }, { "auth", 4 },
    { "syslog", 5 }, { "lpr", 6 }, { "news", 7 }, { "uucp", 8 }, { "cron", 9 },
    { "authpriv", 10 }, { "ftp", 11 }, { "local0", 16 }, { "local1", 17 }, { "local2", 18 },
    { "local3", 19 }, { "local4", 20 }, { "local5", 21 }, { "local6", 22 }, { "local7", 23 },
    { NULL, 0 },
};
static const struct choice severities[] = {
    { "emerg", 0 }, { "alert", 1 }, { "crit", 2 }, { "err", 3 }, { "warning", 4 },
    { "notice", 5 }, { "info", 6 }, { "debug", 7 }, { NULL, 0 },
};
static const struct choice redis_modes[] = {
    { "list", REDIS_LIST }, { "channel", REDIS_CHANNEL }, { "stream", REDIS_STREAM },
    { NULL, 0 },
};
static const struct choice socket_types[] = {
    { "stream", SOCKET_STREAM }, { "dgram", SOCKET_DGRAM }, { NULL, 0 },
};

#define OUT(f) OPT(outputs.f)
#define ENABLED(f, h) { .name = "enabled", .type = K_BOOL, OUT(f.enabled), .help = h }
static const struct key stats_keys[] = {
    { .name = "interval", .type = K_UINT, OPT(stats_interval), .lo = 0, .hi = 86400,
      .help = "--stats-interval: seconds between stats events (0: at exit)" },
    END,
};
static const struct key eve_keys[] = {
    ENABLED(eve, "the EVE JSON file in log-dir (--no-eve-file: false)"),
    { .name = "filename", .type = K_STRING, OUT(eve.filename),
      .help = "in log-dir unless absolute" },
    END,
};
static const struct key syslog_keys[] = {
    ENABLED(syslog, "--syslog: RFC 5424, the EVE JSON as message"),
    { .name = "facility", .type = K_CHOICE, OUT(syslog.facility), .choices = facilities,
      .help = "kern .. local7" },
    { .name = "severity", .type = K_CHOICE, OUT(syslog.severity), .choices = severities,
      .help = "of events other than alerts: emerg .. debug" },
    { .name = "identity", .type = K_STRING, OUT(syslog.identity), .help = "APP-NAME" },
    { .name = "server", .type = K_STRING, OUT(syslog.server),
      .help = "UDP collector (\"\": the local /dev/log)" },
    { .name = "port", .type = K_UINT, OUT(syslog.port), .lo = 1, .hi = 65535,
      .help = "the collector's UDP port" },
    END,
};
static const struct key redis_keys[] = {
    ENABLED(redis, "--redis: EVE JSON to Redis"),
    { .name = "server", .type = K_STRING, OUT(redis.server), .help = "host name or address" },
    { .name = "port", .type = K_UINT, OUT(redis.port), .lo = 1, .hi = 65535, .help = "TCP port" },
    { .name = "mode", .type = K_CHOICE, OUT(redis.mode), .choices = redis_modes,
      .help = "list (RPUSH), channel (PUBLISH) or stream (XADD)" },
    { .name = "key", .type = K_STRING, OUT(redis.key), .help = "list, channel or stream name" },
    { .name = "stream-maxlen", .type = K_UINT, OUT(redis.stream_maxlen),
      .help = "stream mode: XADD MAXLEN ~" },
    { .name = "buffer", .type = K_UINT, OUT(redis.buffer),
      .help = "events kept while Redis is unreachable" },
    END,
};
static const struct key unix_socket_keys[] = {
    ENABLED(unix_socket, "--unix-socket: EVE JSON to a local socket"),
    { .name = "path", .type = K_STRING, OUT(unix_socket.path), .help = "the socket" },
    { .name = "type", .type = K_CHOICE, OUT(unix_socket.type), .choices = socket_types,
      .help = "stream or dgram" },
    END,
};
static const struct key prometheus_keys[] = {
    ENABLED(prometheus, "--metrics: /metrics over HTTP"),
    { .name = "address", .type = K_STRING, OUT(prometheus.address), .help = "listen address" },
    { .name = "port", .type = K_UINT, OUT(prometheus.port), .lo = 1, .hi = 65535,
      .help = "listen port" },
    END,
};
static const struct key outputs_keys[] = {
    { .name = "log-dir", .type = K_STRING, OPT(log_dir), .help = "-l: output directory" },
    SECTION("stats", stats_keys, NULL),
    SECTION("eve", eve_keys, NULL),
    SECTION("syslog", syslog_keys, NULL),
    SECTION("redis", redis_keys, NULL),
    SECTION("unix-socket", unix_socket_keys, NULL),
    SECTION("prometheus", prometheus_keys, NULL),
    END,
};

static const struct key control_socket_keys[] = {
    { .name = "path", .type = K_CUSTOM, OPT(control_socket.path), .arg = PATH_CONTROL_SOCKET,
      .parse = parse_optional_path, .dump = dump_optional_path,
      .help = "--control-socket (\"\": the default; none: no socket)" },
    { .name = "mode", .type = K_OCTAL, OPT(control_socket.mode), .lo = 0, .hi = 0777,
      .help = "the socket's file mode" },
    END,
};

static const struct key root_keys[] = {
    SECTION("vars", vars_keys, "rule variables: $NAME in rule headers"),
    SECTION("capture", capture_keys, "where packets come from"),
    SECTION("flow", flow_keys, "the per-worker flow table"),
    SECTION("stream", stream_keys, "TCP reassembly for signature matching"),
    SECTION("detect", detect_keys, "signatures"),
    SECTION("anomaly", anomaly_keys, "statistical detectors"),
    SECTION("outputs", outputs_keys, "what mamori writes"),
    SECTION("control-socket", control_socket_keys, "mamorictl's socket"),
    END,
};

/* ---- defaults --------------------------------------------------------------- */

void config_defaults(struct mamori_options *o)
{
    struct flow_table_config fc;
    struct stream_config sc;

    memset(o, 0, sizeof(*o));
    o->log_dir = DEFAULT_LOG_DIR;
    o->stats_interval = DEFAULT_STATS_INTERVAL;
    o->flows_per_worker = DEFAULT_FLOWS;
    o->classification = rules_default_classification();
    o->rule_cache = DEFAULT_RULE_CACHE;
    o->rule_path = "";
    o->afxdp.frames = AFXDP_DEFAULT_FRAMES;
    flow_table_config_default(&fc);
    o->flow_timeouts = fc.timeouts;
    stream_config_default(&sc);
    o->stream_depth = sc.depth;
    o->stream_flows = sc.flows;
    o->stream_window = sc.window;
    o->stream_ooo_segments = sc.ooo_segments;
    o->stream_ooo_pool = sc.ooo_pool_bytes;
    anomaly_config_default(&o->anomaly);
    o->outputs.eve.enabled = true;
    o->outputs.eve.filename = "eve.json";
    o->outputs.syslog.facility = 21;   /* local5 */
    o->outputs.syslog.severity = 6;    /* info */
    o->outputs.syslog.identity = "mamori";
    o->outputs.syslog.server = "";
    o->outputs.syslog.port = 514;
    o->outputs.redis.server = "127.0.0.1";
    o->outputs.redis.port = 6379;
    o->outputs.redis.mode = REDIS_LIST;
    o->outputs.redis.key = "mamori";
    o->outputs.redis.stream_maxlen = 100000;
    o->outputs.redis.buffer = 10000;
    o->outputs.unix_socket.path = "/run/mamori/eve.sock";
    o->outputs.unix_socket.type = SOCKET_STREAM;
    o->outputs.prometheus.address = "127.0.0.1";
    o->outputs.prometheus.port = 9560;
    o->control_socket.path = NULL;     /* the default for the capture (mamori.c) */
    o->control_socket.mode = 0660;
}

/* ---- fields by size ----------------------------------------------------------- */

static uint64_t load_uint(const void *p, size_t size)
{
    uint8_t u8; uint16_t u16; uint32_t u32; uint64_t u64;

    switch (size) {
    case 1: memcpy(&u8, p, 1); return u8;
    case 2: memcpy(&u16, p, 2); return u16;
    case 4: memcpy(&u32, p, 4); return u32;
    default: memcpy(&u64, p, 8); return u64;
    }
}

static void store_uint(void *p, size_t size, uint64_t v)
{
    uint8_t u8 = (uint8_t)v; uint16_t u16 = (uint16_t)v; uint32_t u32 = (uint32_t)v;

    switch (size) {
    case 1: memcpy(p, &u8, 1); break;
    case 2: memcpy(p, &u16, 2); break;
    case 4: memcpy(p, &u32, 4); break;
    default: memcpy(p, &v, 8); break;
    }
}

static uint64_t type_max(size_t size)
{
    return size >= 8 ? UINT64_MAX : (UINT64_C(1) << (8 * size)) - 1;
}

/* ---- loading ---------------------------------------------------------------- */

struct conf {
    const char *file;            /* as given, for messages */
    char dir[PATH_MAX];          /* its directory, absolute */
    yaml_document_t doc;
    struct mamori_options *o;
    char path[512];              /* the key being read: "stream.depth" */
    unsigned *var_lines;         /* line of each o->vars entry */
    char *err;
    size_t errlen;
};

static yaml_node_t *node(struct conf *c, int id)
{
    return yaml_document_get_node(&c->doc, id);
}

static unsigned line_of(const yaml_node_t *n)
{
    return (unsigned)n->start_mark.line + 1;
}

static const char *text(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

/* "key: empty" and "key: ~" mean nothing given. */
static bool is_null(const yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *s = text(n);
    return s[0] == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0
           || strcmp(s, "NULL") == 0;
}

/* "FILE:LINE: KEY: why". Always -1. */
static int fail(struct conf *c, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct conf *c, const yaml_node_t *n, const char *fmt, ...)
{
    char why[768];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    snprintf(c->err, c->errlen, "%s:%u: %s: %s", c->file, line_of(n), c->path, why);
    return -1;
}

/* "FILE:LINE: KEY: 'VALUE' why" for a value that will not do. */
static int bad_value(struct conf *c, const yaml_node_t *n, const char *why)
{
    if (n->type == YAML_MAPPING_NODE)
        return fail(c, n, "a mapping %s", why);
    if (n->type == YAML_SEQUENCE_NODE)
        return fail(c, n, "a list %s", why);
    return fail(c, n, "'%.200s' %s", text(n), why);
}

/* Enter key name under the current path; returns the length to go back to. */
static size_t path_push(struct conf *c, const char *name)
{
    size_t len = strlen(c->path);
    snprintf(c->path + len, sizeof(c->path) - len, "%s%s", len ? "." : "", name);
    return len;
}

static size_t path_push_index(struct conf *c, size_t i)
{
    size_t len = strlen(c->path);
    snprintf(c->path + len, sizeof(c->path) - len, "[%zu]", i);
    return len;
}

/* A copy of s that lives as long as the options. */
static const char *keep(struct conf *c, const char *s)
{
    return options_keep_string(c->o, s, strlen(s));
}

static int out_of_memory(struct conf *c)
{
    snprintf(c->err, c->errlen, "%s: out of memory", c->file);
    return -1;
}

static int want_scalar(struct conf *c, yaml_node_t *n, const char *what)
{
    if (n->type == YAML_SCALAR_NODE)
        return 0;
    char why[128];
    snprintf(why, sizeof(why), "is not %s", what);
    return bad_value(c, n, why);
}

static bool parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = { "true", "yes", "on" }, *const no[] = { "false", "no", "off" };

    for (size_t i = 0; i < 3; i++) {
        if (strcasecmp(s, yes[i]) == 0)
            return *out = true, true;
        if (strcasecmp(s, no[i]) == 0)
            return *out = false, true;
    }
    return false;
}

/* A whole decimal number: digits only. */
static bool parse_whole(const char *s, int base, uint64_t *out)
{
    char *end;

    if (!isdigit((unsigned char)s[0]))
        return false;
    errno = 0;
    unsigned long long v = strtoull(s, &end, base);
    if (errno != 0 || *end != '\0')
        return false;
    *out = v;
    return true;
}

int config_parse_size(const char *s, uint64_t max, uint64_t *out)
{
    static const struct { const char *suffix; unsigned shift; } units[] = {
        { "", 0 }, { "b", 0 }, { "k", 10 }, { "kb", 10 }, { "kib", 10 }, { "m", 20 },
        { "mb", 20 }, { "mib", 20 }, { "g", 30 }, { "gb", 30 }, { "gib", 30 },
    };
    char *end;

    if (!isdigit((unsigned char)s[0]))
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0)
        return -1;
    while (*end == ' ')
        end++;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcasecmp(end, units[i].suffix) != 0)
            continue;
        if (v > (max >> units[i].shift))
            return -1;
        *out = (uint64_t)v << units[i].shift;
        return 0;
    }
    return -1;
}

static int range_error(struct conf *c, yaml_node_t *n, const struct key *k, const char *what)
{
    char why[160];
    uint64_t hi = k->hi > 0 ? (uint64_t)k->hi : type_max(k->size);

    snprintf(why, sizeof(why), "is not %s%s from %.0f to %llu%s", k->zero_ok ? "0 or " : "",
             what, k->lo, (unsigned long long)hi, k->pow2 ? ", a power of two" : "");
    return bad_value(c, n, why);
}

static int set_uint(struct conf *c, const struct key *k, yaml_node_t *n, void *field)
{
    uint64_t v, hi = k->hi > 0 ? (uint64_t)k->hi : type_max(k->size);

    if (want_scalar(c, n, "a whole number") < 0)
        return -1;
    if (!parse_whole(text(n), 10, &v) || (v < (uint64_t)k->lo && !(k->zero_ok && v == 0)) ||
        v > hi || (k->pow2 && (v & (v - 1)) != 0))
        return range_error(c, n, k, "a whole number");
    store_uint(field, k->size, v);
    return 0;
}

static int set_size(struct conf *c, const struct key *k, yaml_node_t *n, void *field)
{
    uint64_t v, hi = k->hi > 0 ? (uint64_t)k->hi : type_max(k->size);

    if (want_scalar(c, n, "a byte count") < 0)
        return -1;
    if (config_parse_size(text(n), UINT64_MAX, &v) < 0)
        return bad_value(c, n, "is not a byte count (e.g. 1mb, 64kb, 4096)");
    if (v < (uint64_t)k->lo || v > hi)
        return range_error(c, n, k, "a byte count");
    store_uint(field, k->size, v);
    return 0;
}

static int set_double(struct conf *c, const struct key *k, yaml_node_t *n, double *field)
{
    char *end, why[128];

    if (want_scalar(c, n, "a number") < 0)
        return -1;
    errno = 0;
    double v = strtod(text(n), &end);
    if (text(n)[0] == '\0' || *end != '\0' || errno != 0 || !isfinite(v))
        return bad_value(c, n, "is not a number");
    if (v < k->lo || (k->hi > 0 && v > k->hi)) {
        if (k->hi > 0)
            snprintf(why, sizeof(why), "is not from %g to %g", k->lo, k->hi);
        else
            snprintf(why, sizeof(why), "is not a number from %g up", k->lo);
        return bad_value(c, n, why);
    }
    *field = v;
    return 0;
}

static int set_choice(struct conf *c, const struct key *k, yaml_node_t *n, void *field)
{
    char why[512];
    size_t len;

    if (want_scalar(c, n, "a name") < 0)
        return -1;
    for (const struct choice *ch = k->choices; ch->name; ch++) {
        if (strcmp(text(n), ch->name) == 0) {
            if (k->size == sizeof(int))
                memcpy(field, &ch->value, sizeof(int));
            else
                store_uint(field, k->size, (uint64_t)ch->value);
            return 0;
        }
    }
    len = (size_t)snprintf(why, sizeof(why), "is not one of:");
    for (const struct choice *ch = k->choices; ch->name && len < sizeof(why); ch++)
        len += (size_t)snprintf(why + len, sizeof(why) - len, "%s %s",
                                ch == k->choices ? "" : ",", ch->name);
    return bad_value(c, n, why);
}

static int set_value(struct conf *c, const struct key *k, yaml_node_t *n, void *base)
{
    void *field = (char *)base + k->off;
    bool b;
    uint64_t v;

    switch (k->type) {
    case K_BOOL:
    case K_NOT:
        if (want_scalar(c, n, "a boolean (true or false)") < 0)
            return -1;
        if (!parse_bool(text(n), &b))
            return bad_value(c, n, "is not a boolean (true or false)");
        b = k->type == K_NOT ? !b : b;
        memcpy(field, &b, sizeof(b));
        return 0;
    case K_UINT:
        return set_uint(c, k, n, field);
    case K_SIZE:
        return set_size(c, k, n, field);
    case K_DOUBLE:
        return set_double(c, k, n, field);
    case K_STRING: {
        if (want_scalar(c, n, "a string") < 0)
            return -1;
        const char *s = keep(c, is_null(n) ? "" : text(n));
        if (s == NULL)
            return out_of_memory(c);
        memcpy(field, &s, sizeof(s));
        return 0;
    }
    case K_CHOICE:
        return set_choice(c, k, n, field);
    case K_OCTAL:
        if (want_scalar(c, n, "a file mode") < 0)
            return -1;
        if (!parse_whole(text(n), 8, &v) || v > (uint64_t)k->hi)
            return bad_value(c, n, "is not a file mode (octal, e.g. 0660)");
        store_uint(field, k->size, v);
        return 0;
    case K_CUSTOM:
        return k->parse(c, k, n, base);
    case K_SECTION:
    case K_END:
        break;
    }
    return 0;
}

/* "depth, flows, ..." : the keys a section has, for the unknown-key error. */
static void key_names(const struct key *t, char *buf, size_t len)
{
    size_t used = 0;

    buf[0] = '\0';
    for (; t->name && used < len; t++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? ", " : "", t->name);
}

static const struct key *find_key(const struct key *t, const char *name)
{
    for (; t->name; t++)
        if (strcmp(t->name, name) == 0)
            return t;
    return NULL;
}

/* The line where key name first appears in map before pair p, or 0. */
static unsigned earlier_key(struct conf *c, yaml_node_t *map, yaml_node_pair_t *p)
{
    for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++) {
        yaml_node_t *k = node(c, q->key);
        if (k->type == YAML_SCALAR_NODE && strcmp(text(k), text(node(c, p->key))) == 0)
            return line_of(k);
    }
    return 0;
}

static int check_mapping(struct conf *c, yaml_node_t *n)
{
    return n->type == YAML_MAPPING_NODE || is_null(n) ? 0 : bad_value(c, n, "is not a mapping");
}

/* Apply map to base through table t. Pass 0 reads every key but the late
 * ones and finds the unknown; pass 1 reads the late ones. */
static int apply(struct conf *c, const struct key *t, yaml_node_t *map, void *base, int pass)
{
    if (check_mapping(c, map) < 0)
        return -1;
    if (map->type != YAML_MAPPING_NODE)
        return 0;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
         p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = node(c, p->key), *vn = node(c, p->value);
        const struct key *k;
        unsigned first;
        char names[512];
        int rc = 0;

        if (kn->type != YAML_SCALAR_NODE)
            return fail(c, kn, "a key must be a plain name");
        size_t back = path_push(c, text(kn));
        if ((k = find_key(t, text(kn))) == NULL) {
            key_names(t, names, sizeof(names));
            return fail(c, kn, "unknown key (known here: %s)", names);
        }
        if (pass == 0 && (first = earlier_key(c, map, p)) != 0)
            return fail(c, kn, "given twice (first on line %u)", first);
        if (k->type == K_SECTION)
            rc = apply(c, k->sub, vn, (char *)base + k->off, pass);
        else if ((pass == 1) == k->late)
            rc = set_value(c, k, vn, base);
        if (rc < 0)
            return -1;
        c->path[back] = '\0';
    }
    return 0;
}

/* The items of a list value (a lone scalar counts as a list of one; an
 * empty value as none), each a scalar: calls fn on each. */
static int each_item(struct conf *c, yaml_node_t *n,
                     int (*fn)(struct conf *c, yaml_node_t *item, void *arg), void *arg)
{
    if (is_null(n))
        return 0;
    if (n->type == YAML_SCALAR_NODE)
        return fn(c, n, arg);
    if (n->type != YAML_SEQUENCE_NODE)
        return bad_value(c, n, "is not a list");
    size_t i = 0;
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
         it++, i++) {
        yaml_node_t *item = node(c, *it);
        size_t back = path_push_index(c, i);
        if (want_scalar(c, item, "a single value") < 0 || fn(c, item, arg) < 0)
            return -1;
        c->path[back] = '\0';
    }
    return 0;
}

struct string_list {
    const struct key *k;
    const char ***list;
    unsigned *n;
};

/* A rule file relative to detect.rule-path, else to the file's directory. */
static const char *rule_file_path(struct conf *c, const char *name)
{
    const char *base = c->o->rule_path;
    char path[PATH_MAX * 2 + 2], dir[PATH_MAX + 1];

    if (name[0] == '/')
        return keep(c, name);
    if (base == NULL || base[0] == '\0')
        snprintf(dir, sizeof(dir), "%s", c->dir);
    else if (base[0] == '/')
        snprintf(dir, sizeof(dir), "%s", base);
    else
        snprintf(dir, sizeof(dir), "%s/%s", c->dir, base);
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return keep(c, path);
}

static int add_string(struct conf *c, yaml_node_t *item, void *arg)
{
    struct string_list *l = arg;

    if (text(item)[0] == '\0')
        return bad_value(c, item, "is empty");
    if (l->k->arg == LIST_IFACES)
        for (unsigned i = 0; i < *l->n; i++)
            if (strcmp((*l->list)[i], text(item)) == 0)
                return bad_value(c, item, "is named twice");
    const char *s = l->k->arg == LIST_RULES ? rule_file_path(c, text(item)) : keep(c, text(item));
    const char **grown = realloc(*l->list, (*l->n + 1) * sizeof(*grown));
    if (s == NULL || grown == NULL)
        return out_of_memory(c);
    grown[(*l->n)++] = s;
    *l->list = grown;
    return 0;
}

/* The file's list replaces what the list held. */
static int parse_strings(struct conf *c, const struct key *k, yaml_node_t *n, void *base)
{
    struct string_list l = { k, (const char ***)(void *)((char *)base + k->off),
                             (unsigned *)(void *)((char *)base + k->off2) };

    *l.n = 0;
    return each_item(c, n, add_string, &l);
}

static int append_eal_arg(struct conf *c, struct mamori_options *o, const char *arg)
{
    const char *s = keep(c, arg);
    char **grown = realloc(o->eal_argv, ((size_t)o->eal_argc + 2) * sizeof(*grown));

    if (grown != NULL)
        o->eal_argv = grown;
    if (s == NULL || grown == NULL)
        return out_of_memory(c);
    o->eal_argv[o->eal_argc++] = (char *)s;
    o->eal_argv[o->eal_argc] = NULL;
    return 0;
}

static int add_eal_arg(struct conf *c, yaml_node_t *item, void *arg)
{
    return append_eal_arg(c, arg, text(item));
}

/* The EAL sees "mamori" and then these, as after --dpdk --. */
static int parse_eal_args(struct conf *c, const struct key *k, yaml_node_t *n, void *base)
{
    struct mamori_options *o = base;
    (void)k;

    o->eal_argc = 0;
    if (append_eal_arg(c, o, "mamori") < 0)
        return -1;
    return each_item(c, n, add_eal_arg, o);
}

struct port_list {
    uint16_t *ports;
    unsigned *n;
};

static int add_port(struct conf *c, yaml_node_t *item, void *arg)
{
    struct port_list *l = arg;
    uint64_t v;

    if (!parse_whole(text(item), 10, &v) || v < 1 || v > 65535)
        return bad_value(c, item, "is not a port from 1 to 65535");
    if (*l->n == ANOMALY_PORTS_MAX)
        return bad_value(c, item, "is one port too many (at most 64)");
    l->ports[(*l->n)++] = (uint16_t)v;
    return 0;
}

static int parse_ports(struct conf *c, const struct key *k, yaml_node_t *n, void *base)
{
    struct port_list l = { (uint16_t *)(void *)((char *)base + k->off),
                           (unsigned *)(void *)((char *)base + k->off2) };

    *l.n = 0;
    return each_item(c, n, add_port, &l);
}

/* Add or replace a variable override; the line is kept for check_vars(). */
static int set_var(struct conf *c, enum rule_var_kind kind, const char *name, const char *value,
                   unsigned line)
{
    struct mamori_options *o = c->o;
    unsigned i;

    for (i = 0; i < o->n_vars; i++)
        if (o->vars[i].kind == kind && strcmp(o->vars[i].name, name) == 0)
            break;
    if (i == o->n_vars) {
        struct config_var *vars = realloc(o->vars, (o->n_vars + 1) * sizeof(*vars));
        unsigned *lines = realloc(c->var_lines, (o->n_vars + 1) * sizeof(*lines));
        if (vars != NULL)
            o->vars = vars;
        if (lines != NULL)
            c->var_lines = lines;
        if (vars == NULL || lines == NULL || (name = keep(c, name)) == NULL)
            return out_of_memory(c);
        o->vars[o->n_vars++].name = name;
    }
    o->vars[i].kind = kind;
    if ((o->vars[i].value = keep(c, value)) == NULL)
        return out_of_memory(c);
    c->var_lines[i] = line;
    return 0;
}

/* NAME: "value" pairs; a value may refer to variables set later, so they
 * are resolved once the whole file is read (check_vars). */
static int parse_vars(struct conf *c, const struct key *k, yaml_node_t *n, void *base)
{
    (void)base;
    if (check_mapping(c, n) < 0)
        return -1;
    if (n->type != YAML_MAPPING_NODE)
        return 0;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = node(c, p->key), *vn = node(c, p->value);
        unsigned first;

        if (kn->type != YAML_SCALAR_NODE)
            return fail(c, kn, "a variable name must be a plain name");
        size_t back = path_push(c, text(kn));
        const char *name = text(kn) + (text(kn)[0] == '$');
        if ((first = earlier_key(c, n, p)) != 0)
            return fail(c, kn, "given twice (first on line %u)", first);
        if (want_scalar(c, vn, "a group (text)") < 0)
            return -1;
        if (is_null(vn))
            return bad_value(c, vn, "is empty");
        char err[256];
        struct rule_vars *probe = rule_vars_new_empty();
        int rc = probe ? rule_vars_set(probe, (enum rule_var_kind)k->arg, name, "any", err,
                                       sizeof(err)) : -1;
        rule_vars_free(probe);
        if (rc < 0)
            return fail(c, kn, "'%s': %s", text(kn), probe ? err : "out of memory");
        if (set_var(c, (enum rule_var_kind)k->arg, name, text(vn), line_of(vn)) < 0)
            return -1;
        c->path[back] = '\0';
    }
    return 0;
}

/* Every variable the file sets resolves (no bad group, cycle or unknown
 * variable), reported at the line that set it. */
static int check_vars(struct conf *c)
{
    char err[512], ref[RULE_VAR_NAME_MAX + 2];
    struct rule_vars *v = config_rule_vars(c->o, err, sizeof(err));
    int rc = 0;

    if (v == NULL) {
        snprintf(c->err, c->errlen, "%s: vars: %s", c->file, err);
        return -1;
    }
    for (unsigned i = 0; i < c->o->n_vars && rc == 0; i++) {
        const struct config_var *cv = &c->o->vars[i];
        struct rule_addrs a = { 0 };
        struct rule_ports p = { 0 };

        snprintf(ref, sizeof(ref), "$%s", cv->name);
        rc = cv->kind == RULE_VAR_ADDRESS ? rule_addrs_parse(ref, v, &a, err, sizeof(err))
                                          : rule_ports_parse(ref, v, &p, err, sizeof(err));
        if (rc == 0) {
            rule_addrs_free(&a);
            rule_ports_free(&p);
            continue;
        }
        snprintf(c->err, c->errlen, "%s:%u: vars.%s.%s: '%.200s': %s", c->file, c->var_lines[i],
                 cv->kind == RULE_VAR_ADDRESS ? "address-groups" : "port-groups", cv->name,
                 cv->value, err);
    }
    rule_vars_free(v);
    return rc < 0 ? -1 : 0;
}

static const struct key group_item_keys[] = {
    { .name = "name", .type = K_STRING },
    { .name = "networks", .type = K_STRING },
    { .name = "thresholds", .type = K_SECTION },
    END,
};

struct group_ctx {
    const char *name;
    yaml_node_t *thresholds;     /* NULL: the defaults */
    char path[400];              /* "anomaly.host-groups[N]" */
};

/* One network of a group: an anomaly host group of its own. */
static int add_group(struct conf *c, yaml_node_t *item, void *arg)
{
    struct group_ctx *g = arg;
    struct anomaly_thresholds *th;
    const char *name = g->name ? g->name : text(item);
    char saved[sizeof(c->path)];
    int rc = anomaly_config_add_group(&c->o->anomaly, text(item), name, &th);

    if (rc == -ENOSPC)
        return bad_value(c, item, "is one host group too many (at most 64 networks in all)");
    if (rc < 0)
        return bad_value(c, item, "is not an address or network (10.0.0.0/8, 2001:db8::/32)");
    if (g->thresholds == NULL)
        return 0;
    memcpy(saved, c->path, sizeof(saved));
    snprintf(c->path, sizeof(c->path), "%s.thresholds", g->path);
    if (apply(c, threshold_keys, g->thresholds, th, 0) < 0)
        return -1;
    memcpy(c->path, saved, sizeof(saved));
    return 0;
}

/* - name: NAME, networks: [PREFIX, ...], thresholds: {...}. Each network
 * becomes a group starting from anomaly.thresholds (read before: late). */
static int parse_group(struct conf *c, yaml_node_t *item)
{
    struct group_ctx g = { .name = NULL };
    yaml_node_t *networks = NULL;

    snprintf(g.path, sizeof(g.path), "%.390s", c->path);

    if (item->type != YAML_MAPPING_NODE)
        return bad_value(c, item, "is not a host group (name, networks, thresholds)");
    for (yaml_node_pair_t *p = item->data.mapping.pairs.start;
         p < item->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = node(c, p->key), *vn = node(c, p->value);
        char names[128];
        unsigned first;

        if (kn->type != YAML_SCALAR_NODE)
            return fail(c, kn, "a key must be a plain name");
        size_t back = path_push(c, text(kn));
        if (find_key(group_item_keys, text(kn)) == NULL) {
            key_names(group_item_keys, names, sizeof(names));
            return fail(c, kn, "unknown key (known here: %s)", names);
        }
        if ((first = earlier_key(c, item, p)) != 0)
            return fail(c, kn, "given twice (first on line %u)", first);
        c->path[back] = '\0';
        if (strcmp(text(kn), "name") == 0) {
            size_t back = path_push(c, "name");
            if (want_scalar(c, vn, "a name") < 0)
                return -1;
            if (strlen(text(vn)) >= sizeof(((struct anomaly_host_group *)0)->name) ||
                text(vn)[0] == '\0')
                return bad_value(c, vn, "is not a name of 1 to 31 characters");
            c->path[back] = '\0';
            g.name = text(vn);
        } else if (strcmp(text(kn), "networks") == 0) {
            networks = vn;
        } else {
            g.thresholds = vn;
        }
    }
    if (networks == NULL || is_null(networks))
        return fail(c, item, "a host group needs networks: [ADDRESS/PREFIX, ...]");
    size_t back = path_push(c, "networks");
    if (each_item(c, networks, add_group, &g) < 0)
        return -1;
    c->path[back] = '\0';
    return 0;
}

/* The file's groups replace what the configuration held. */
static int parse_groups(struct conf *c, const struct key *k, yaml_node_t *n, void *base)
{
    (void)k;
    (void)base;
    c->o->anomaly.n_groups = 0;
    if (is_null(n))
        return 0;
    if (n->type != YAML_SEQUENCE_NODE)
        return bad_value(c, n, "is not a list of host groups");
    size_t i = 0;
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
         it++, i++) {
        size_t back = path_push_index(c, i);
        if (parse_group(c, node(c, *it)) < 0)
            return -1;
        c->path[back] = '\0';
    }
    return 0;
}

/* classification-file "" is the installed one; rule-cache "none" or "" is
 * no cache (NULL); control-socket.path "" is the default (NULL). */
static int parse_optional_path(struct conf *c, const struct key *k, yaml_node_t *n, void *base)
{
    const char *s;

    if (want_scalar(c, n, "a path") < 0)
        return -1;
    s = is_null(n) ? "" : text(n);
    if (k->arg == PATH_CLASSIFICATION && s[0] == '\0')
        s = rules_default_classification();
    else if (k->arg == PATH_RULE_CACHE && (s[0] == '\0' || strcmp(s, "none") == 0))
        s = NULL;
    else if (k->arg == PATH_CONTROL_SOCKET && s[0] == '\0')
        s = NULL;
    else if ((s = keep(c, s)) == NULL)
        return out_of_memory(c);
    memcpy((char *)base + k->off, &s, sizeof(s));
    return 0;
}

/* The directory of path, absolute, so that rule files resolve the same
 * from anywhere (and a dump holds absolute paths). */
static int config_dir(struct conf *c, const char *path)
{
    char real[PATH_MAX];

    if (realpath(path, real) == NULL) {
        snprintf(c->err, c->errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char *slash = strrchr(real, '/');
    if (slash == real)
        slash[1] = '\0';
    else
        *slash = '\0';
    snprintf(c->dir, sizeof(c->dir), "%s", real);
    return 0;
}

/* Parse the YAML document from f, or from buf[0..len) when f is NULL. */
static int load_document(struct conf *c, FILE *f, const char *buf, size_t len)
{
    yaml_parser_t parser;
    int rc = 0;

    if (!yaml_parser_initialize(&parser))
        return out_of_memory(c);
    if (f != NULL)
        yaml_parser_set_input_file(&parser, f);
    else
        yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
    if (!yaml_parser_load(&parser, &c->doc)) {
        snprintf(c->err, c->errlen, "%s:%zu: YAML: %s%s%s", c->file,
                 parser.problem_mark.line + 1, parser.problem ? parser.problem : "syntax error",
                 parser.context ? " " : "", parser.context ? parser.context : "");
        rc = -1;
    }
    yaml_parser_delete(&parser);
    return rc;
}

/* Apply the loaded document to c->o (every key, then the variables'
 * checks) and free it. */
static int apply_document(struct conf *c)
{
    int rc = 0;
    yaml_node_t *root = yaml_document_get_root_node(&c->doc);

    if (root != NULL)
        rc = apply(c, root_keys, root, c->o, 0) < 0 || apply(c, root_keys, root, c->o, 1) < 0
             ? -1 : 0;
    if (rc == 0)
        rc = check_vars(c);
    free(c->var_lines);
    yaml_document_delete(&c->doc);
    return rc;
}

int config_load(struct mamori_options *o, const char *path, char *err, size_t errlen)
{
    struct conf c = { .file = path, .o = o, .err = err, .errlen = errlen };
    FILE *f;
    int rc;

    if (config_dir(&c, path) < 0)
        return -1;
    if ((f = fopen(path, "r")) == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    rc = load_document(&c, f, NULL, 0);
    fclose(f);
    return rc < 0 ? -1 : apply_document(&c);
}

int config_load_buffer(struct mamori_options *o, const char *name, const char *dir,
                       const char *buf, size_t len, char *err, size_t errlen)
{
    struct conf c = { .file = name, .o = o, .err = err, .errlen = errlen };

    snprintf(c.dir, sizeof(c.dir), "%s", dir);
    if (load_document(&c, NULL, buf, len) < 0)
        return -1;
    return apply_document(&c);
}

struct rule_vars *config_rule_vars(const struct mamori_options *o, char *err, size_t errlen)
{
    struct rule_vars *v = rule_vars_new();

    if (v == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    for (unsigned i = 0; i < o->n_vars; i++) {
        if (rule_vars_set(v, o->vars[i].kind, o->vars[i].name, o->vars[i].value, err,
                          errlen) < 0) {
            rule_vars_free(v);
            return NULL;
        }
    }
    return v;
}

/* ---- dumping ---------------------------------------------------------------- */

/* A YAML double-quoted string. */
static void put_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (; s != NULL && *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(out, "\\%c", ch);
        else if (ch < 0x20 || ch == 0x7f)
            fprintf(out, "\\x%02x", ch);
        else
            fputc(ch, out);
    }
    fputc('"', out);
}

/* The shortest text strtod() reads back to the same double. */
static void put_double(FILE *out, double v)
{
    char buf[64];

    if (v == floor(v) && fabs(v) < 1e15) {
        fprintf(out, "%.0f", v);
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof(buf), "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    fputs(buf, out);
}

static void put_size(FILE *out, uint64_t v)
{
    static const struct { unsigned shift; const char *unit; } units[] = {
        { 30, "gb" }, { 20, "mb" }, { 10, "kb" },
    };

    for (size_t i = 0; v != 0 && i < sizeof(units) / sizeof(units[0]); i++) {
        if ((v & ((UINT64_C(1) << units[i].shift) - 1)) == 0) {
            fprintf(out, "%llu%s", (unsigned long long)(v >> units[i].shift), units[i].unit);
            return;
        }
    }
    fprintf(out, "%llu", (unsigned long long)v);
}

static const char *choice_name(const struct key *k, const void *field)
{
    int v;

    if (k->size == sizeof(int))
        memcpy(&v, field, sizeof(int));
    else
        v = (int)load_uint(field, k->size);
    for (const struct choice *ch = k->choices; ch->name; ch++)
        if (ch->value == v)
            return ch->name;
    return "?";
}

/* "  name: value" of a leaf, into out. */
static void put_value(FILE *out, const struct key *k, const void *base)
{
    const void *field = (const char *)base + k->off;
    const char *s;
    double d;
    bool b;

    switch (k->type) {
    case K_BOOL:
    case K_NOT:
        memcpy(&b, field, sizeof(b));
        fputs(b != (k->type == K_NOT) ? "true" : "false", out);
        break;
    case K_UINT:
        fprintf(out, "%llu", (unsigned long long)load_uint(field, k->size));
        break;
    case K_SIZE:
        put_size(out, load_uint(field, k->size));
        break;
    case K_DOUBLE:
        memcpy(&d, field, sizeof(d));
        put_double(out, d);
        break;
    case K_STRING:
        memcpy(&s, field, sizeof(s));
        put_string(out, s);
        break;
    case K_CHOICE:
        fputs(choice_name(k, field), out);
        break;
    case K_OCTAL:
        fprintf(out, "0%03llo", (unsigned long long)load_uint(field, k->size));
        break;
    default:
        break;
    }
}

static void put_help(FILE *out, int column, const char *help)
{
    if (help != NULL)
        fprintf(out, "%*s# %s", column < 38 ? 40 - column : 2, "", help);
    fputc('\n', out);
}

static void dump_table(FILE *out, const struct key *t, const void *base, int indent)
{
    for (; t->name; t++) {
        if (t->type == K_SECTION) {
            if (indent == 0)
                fputc('\n', out);
            int col = fprintf(out, "%*s%s:", indent, "", t->name);
            put_help(out, col, t->help);
            dump_table(out, t->sub, (const char *)base + t->off, indent + 2);
        } else if (t->type == K_CUSTOM) {
            t->dump(out, t, base, indent);
        } else {
            char *line = NULL;
            size_t len = 0;
            FILE *mem = open_memstream(&line, &len);
            if (mem == NULL)
                continue;
            fprintf(mem, "%*s%s: ", indent, "", t->name);
            put_value(mem, t, base);
            fclose(mem);
            fputs(line, out);
            put_help(out, (int)len, t->help);
            free(line);
        }
    }
}

static void dump_string_array(FILE *out, const struct key *k, const char *const *a, unsigned n,
                              int indent)
{
    int col = fprintf(out, "%*s%s: [", indent, "", k->name);

    for (unsigned i = 0; i < n; i++) {
        if (i > 0)
            col += fprintf(out, ", ");
        put_string(out, a[i]);
        col += (int)strlen(a[i]) + 2;
    }
    col += fprintf(out, "]");
    put_help(out, col, k->help);
}

static void dump_strings(FILE *out, const struct key *k, const void *base, int indent)
{
    const char *const *a;
    unsigned n;

    memcpy(&a, (const char *)base + k->off, sizeof(a));
    memcpy(&n, (const char *)base + k->off2, sizeof(n));
    dump_string_array(out, k, a, n, indent);
}

static void dump_eal_args(FILE *out, const struct key *k, const void *base, int indent)
{
    const struct mamori_options *o = base;

    dump_string_array(out, k, o->eal_argc > 1 ? (const char *const *)o->eal_argv + 1 : NULL,
                      o->eal_argc > 1 ? (unsigned)o->eal_argc - 1 : 0, indent);
}

static void dump_ports(FILE *out, const struct key *k, const void *base, int indent)
{
    const uint16_t *ports = (const uint16_t *)(const void *)((const char *)base + k->off);
    unsigned n;
    int col = fprintf(out, "%*s%s: [", indent, "", k->name);

    memcpy(&n, (const char *)base + k->off2, sizeof(n));
    for (unsigned i = 0; i < n; i++)
        col += fprintf(out, "%s%u", i ? ", " : "", ports[i]);
    col += fprintf(out, "]");
    put_help(out, col, k->help);
}

/* Every variable, the defaults included, of the key's kind. */
static void dump_vars(FILE *out, const struct key *k, const void *base, int indent)
{
    char err[256];
    struct rule_vars *v = config_rule_vars(base, err, sizeof(err));
    enum rule_var_kind kind;
    const char *name, *value;
    int col = fprintf(out, "%*s%s:", indent, "", k->name);

    put_help(out, col, k->help);
    for (unsigned i = 0; v != NULL && (name = rule_vars_at(v, i, &kind, &value)) != NULL; i++) {
        if ((int)kind != k->arg)
            continue;
        fprintf(out, "%*s%s: ", indent + 2, "", name);
        put_string(out, value);
        fputc('\n', out);
    }
    rule_vars_free(v);
}

static void dump_groups(FILE *out, const struct key *k, const void *base, int indent)
{
    const struct anomaly_config *cfg = &((const struct mamori_options *)base)->anomaly;
    char addr[INET6_ADDRSTRLEN];
    int col = fprintf(out, "%*s%s:%s", indent, "", k->name, cfg->n_groups ? "" : " []");

    put_help(out, col, k->help);
    for (unsigned i = 0; i < cfg->n_groups; i++) {
        const struct anomaly_host_group *g = &cfg->groups[i];
        inet_ntop(g->version == 4 ? AF_INET : AF_INET6, g->addr, addr, sizeof(addr));
        fprintf(out, "%*s- name: ", indent + 2, "");
        put_string(out, g->name);
        fprintf(out, "\n%*snetworks: [\"%s/%u\"]\n", indent + 4, "", addr, g->prefix_len);
        fprintf(out, "%*sthresholds:\n", indent + 4, "");
        dump_table(out, threshold_keys, &g->th, indent + 6);
    }
}

static void dump_optional_path(FILE *out, const struct key *k, const void *base, int indent)
{
    const char *s;
    int col = fprintf(out, "%*s%s: ", indent, "", k->name);

    memcpy(&s, (const char *)base + k->off, sizeof(s));
    if (s == NULL)
        s = k->arg == PATH_RULE_CACHE ? "none" : "";
    put_string(out, s);
    col += (int)strlen(s) + 2;
    put_help(out, col, k->help);
}

void config_dump(const struct mamori_options *o, FILE *out)
{
    fprintf(out, "# mamori %s: the effective configuration (mamori --dump-config).\n"
            "# mamori -c FILE reads it back; see mamori.yaml for what each key means.\n",
            MAMORI_VERSION);
    dump_table(out, root_keys, o, 0);
}
