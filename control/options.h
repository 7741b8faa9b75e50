/* options.h - mamori's command line. */
#ifndef MAMORI_OPTIONS_H
#define MAMORI_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "anomaly.h"
#include "capture_afxdp.h"
#include "flow_table.h"
#include "vars.h"

#define DEFAULT_LOG_DIR "/var/log/mamori"
#define DEFAULT_STATS_INTERVAL 10
#define DEFAULT_FLOWS (1u << 20)
#define DEFAULT_STREAM_DEPTH (1u << 20)
#define DEFAULT_RULE_CACHE "/var/cache/mamori"
#define DEFAULT_STREAM_FLOWS (1u << 16)

enum capture_mode { MODE_NONE, MODE_PCAP, MODE_DPDK, MODE_AFXDP, MODE_RULE_CHECK };

/* A rule variable the configuration file sets (vars.address-groups and
 * vars.port-groups), over the defaults of detectors/vars.c. */
struct config_var {
    enum rule_var_kind kind;
    const char *name;            /* without '$' */
    const char *value;
};

/* Exporters: the configuration file's outputs keys (and --no-eve-file,
 * --syslog, --redis, --unix-socket, --metrics), plain values for the code
 * that serves them (export_options.c). */
enum redis_mode { REDIS_LIST, REDIS_CHANNEL, REDIS_STREAM };
enum socket_type { SOCKET_STREAM, SOCKET_DGRAM };

struct mamori_outputs {
    struct {
        bool enabled;            /* true; --no-eve-file: exporters only */
        const char *filename;    /* "eve.json", relative to the log directory */
    } eve;
    struct {
        bool enabled;            /* false */
        unsigned facility;       /* syslog(3) facility code, LOG_LOCAL5 >> 3 = 21 */
        unsigned severity;       /* of events other than alerts (exporters: 0 = info) */
        const char *identity;    /* "mamori": the RFC 5424 APP-NAME */
        const char *server;      /* "": the local socket /dev/log; else a UDP collector */
        unsigned port;           /* 514 */
    } syslog;
    struct {
        bool enabled;            /* false */
        const char *server;      /* "127.0.0.1" */
        unsigned port;           /* 6379 */
        enum redis_mode mode;    /* list (RPUSH), channel (PUBLISH), stream (XADD) */
        const char *key;         /* "mamori": list, channel or stream name */
        uint64_t stream_maxlen;  /* 100000: XADD MAXLEN ~ */
        uint64_t buffer;         /* 10000: alerts kept while Redis is away */
    } redis;
    struct {
        bool enabled;            /* false */
        const char *path;        /* "/run/mamori/eve.sock" */
        enum socket_type type;   /* stream or dgram */
    } unix_socket;
    struct {
        bool enabled;            /* false */
        const char *address;     /* "127.0.0.1": /metrics listens here */
        unsigned port;           /* 9560 */
    } prometheus;
};

struct mamori_options {
    enum capture_mode mode;
    const char **pcap_files;     /* -r, in order */
    unsigned n_pcap_files;
    int eal_argc;                /* --dpdk: what follows "--" */
    char **eal_argv;             /* eal_argv[0] is the program name */
    const char **ifaces;         /* -i, split at commas, in order */
    unsigned n_ifaces;
    char **iface_args;           /* copies of the -i arguments the names point into */
    unsigned n_iface_args;
    struct afxdp_config afxdp;   /* ifaces, --queues, --xdp-mode, --bind-mode, --xsk-frames */
    bool fallback_afxdp;         /* --dpdk --fallback afxdp: AF_XDP on -i if DPDK fails */
    unsigned mbufs;              /* --mbufs: the DPDK RX pool's buffers; 0 = sized from
                                  * the ports and workers */
    unsigned workers;            /* -w; 0 = one per core beside the main one */
    const char *log_dir;         /* -l */
    unsigned stats_interval;     /* seconds, 0 = only at exit */
    unsigned idle_exit;          /* seconds without a packet, 0 = never */
    uint32_t flows_per_worker;   /* --flows */
    uint32_t flow_timeout;       /* --flow-timeout: one idle timeout for all; 0 = per state */
    const char **rule_files;     /* -S, in order */
    unsigned n_rule_files;
    const char *classification;  /* --classification-file */
    uint32_t stream_depth;       /* --stream-depth: TCP bytes matched per direction, 0 = all */
    uint32_t stream_flows;       /* --stream-flows: reassembly slots per worker */
    bool midstream;              /* --midstream: joined TCP connections are established */
    bool inspect_encrypted;      /* stream.inspect-encrypted: content rules on TLS ciphertext */
    const char *rule_cache;      /* --rule-cache: compiled databases; NULL = none */
    bool no_anomaly;             /* --no-anomaly: statistical detectors off */
    bool strict_rules;           /* --strict-rules: a reload with a bad rule is refused */
    bool help;
    bool version;

    /* The configuration file (-c) and what only it sets. */
    const char *config_file;     /* -c FILE, or NULL */
    bool dump_config;            /* --dump-config: print the effective configuration */
    enum capture_mode capture;   /* capture.mode, or what -r / --dpdk / -i chose */
    bool test_rules;             /* -T, detect.test-rules */
    const char *rule_path;       /* detect.rule-path: base of relative rule files */
    struct config_var *vars;     /* vars: overrides of the default rule variables */
    unsigned n_vars;
    struct flow_timeouts flow_timeouts;   /* flow.timeouts, unless flow_timeout */
    uint32_t stream_window;      /* stream.window: bytes kept before new data */
    uint32_t stream_ooo_segments;/* stream.ooo-segments: held per direction */
    uint32_t stream_ooo_pool;    /* stream.ooo-pool: bytes per worker for them */
    struct anomaly_config anomaly;        /* the statistical detectors (anomaly:) */
    struct mamori_outputs outputs;
    struct {
        const char *path;        /* --control-socket: NULL = the default, which is
                                  * CTL_DEFAULT_SOCKET with a live capture and none
                                  * with -r (so that offline runs do not collide);
                                  * "none" = no socket */
        unsigned mode;           /* 0660 */
    } control_socket;
    char **strings;              /* text the options own (config file, exporter options) */
    unsigned n_strings;
};

/* Parse argv. 0 on success; -1 with a message naming the bad option in err.
 * Allocates arrays released by options_free(). With -c FILE the file is
 * read first and the options given on the command line override it: a
 * value replaces the file's, a list (-r, -S, -i, the EAL arguments after
 * --dpdk --) replaces the file's list, and -r / --dpdk / -i choose the
 * capture whatever capture.mode says. */
int options_parse(struct mamori_options *o, int argc, char **argv, char *err, size_t errlen);
void options_free(struct mamori_options *o);

/* A copy of text[0, len) that o owns (freed by options_free()): strings
 * the configuration file and exporter options point o's fields at. NULL
 * when out of memory. */
const char *options_keep_string(struct mamori_options *o, const char *text, size_t len);
void options_usage(FILE *out);

#endif
