/* mamori.c - the sensor's entry point: options, set-up, run, tear-down. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capture_afxdp.h"
#include "capture_dpdk.h"
#include "capture_pcap.h"
#include "config.h"
#include "ctl_commands.h"
#include "ctl_server.h"
#include "export_options.h"
#include "metrics.h"
#include "mamori_version.h"
#include "options.h"
#include "privilege.h"
#include "rule_check.h"
#include "sensor.h"
#include "stats.h"

#define ERRLEN 512
/* Exit status when a capture file broke partway (truncated, a corrupt
 * record): the packets before the damage were analysed and logged, but the
 * results do not cover the whole file. 1 is a failed start, 2 bad options. */
#define EXIT_INPUT_DAMAGED 3
#define THRESHOLD_TABLE_ENTRIES (1u << 16)   /* tracked (rule, address) pairs */

static unsigned default_workers(void)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    return cores > 1 ? (unsigned)(cores - 1) : 1;
}

static int make_log_dir(const char *dir, char *err, size_t errlen)
{
    if (mkdir(dir, 0750) == 0 || errno == EEXIST)
        return 0;
    snprintf(err, errlen, "log directory %s: %s", dir, strerror(errno));
    return -1;
}

/* ---- control socket ---- */
/* A copy of the detectors' settings, which "detector get|set" read and change. */
static int keep_anomaly_config(struct sensor *s, const struct anomaly_config *cfg,
                               char *err, size_t errlen)
{
    if ((s->anomaly_cfg = malloc(sizeof(*s->anomaly_cfg))) == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    *s->anomaly_cfg = *cfg;
    return 0;
}

/* The control socket: --control-socket PATH, else the default path with a
 * live capture and none with -r (offline runs side by side must not
 * collide); "none" turns it off. A socket asked for must open; the default
 * one may not (a second sensor on the host has it): then mamori says so and
 * runs without. */
static int open_control(const struct mamori_options *o, struct sensor *s, char *err, size_t errlen)
{
    const char *path = o->control_socket.path;
    struct ctl_options co = { .mode = o->control_socket.mode };

    if (path == NULL)
        path = o->mode == MODE_PCAP ? "none" : CTL_DEFAULT_SOCKET;
    if (strcmp(path, "none") == 0)
        return 0;
    if ((s->ctl = ctl_server_create(path, &co, err, errlen)) == NULL) {
        if (o->control_socket.path != NULL)
            return -1;
        fprintf(stderr, "mamori: no control socket: %s\n", err);
        return 0;
    }
    /* Whoever can write to the socket controls the sensor. */
    if (privilege_check_socket(path, err, errlen) < 0)
        return -1;
    s->ctl_cmds = ctl_commands_create(s->ctl, s, err, errlen);
    if (s->ctl_cmds == NULL)
        return -1;
    fprintf(stderr, "mamori: control socket %s\n", path);
    return 0;
}

static void close_control(struct sensor *s)
{
    ctl_server_destroy(s->ctl);
    ctl_commands_destroy(s->ctl_cmds);
    s->ctl = NULL;
    s->ctl_cmds = NULL;
}
/* ---- end control socket ---- */

/* What the workers share: the rule set (none yet without -S: a reload
 * can add one) and the threshold state every alert passes through. */
static int share_rules(struct sensor *s, char *err, size_t errlen)
{
    if ((s->thresholds = threshold_table_create(THRESHOLD_TABLE_ENTRIES, err, errlen)) == NULL)
        return -1;
    return 0;
}

/* After the worker count is known: scratch for each, and the shared
 * pointer a reload replaces. */
static int create_shared_rules(struct sensor *s, unsigned n, char *err, size_t errlen)
{
    if (s->rules != NULL &&
        (s->wrules = worker_rules_create(s->rules->engine, n, 0)) == NULL) {
        snprintf(err, errlen, "matching scratch for %u workers: out of memory", n);
        return -1;
    }
    if ((s->shared = worker_shared_create(n, s->wrules)) == NULL) {
        snprintf(err, errlen, "rule publication for %u workers: out of memory", n);
        return -1;
    }
    return 0;
}

/* The statistical detectors for n workers, unless --no-anomaly. */
static int create_anomaly(struct sensor *s, unsigned n, const struct mamori_options *o,
                          char *err, size_t errlen)
{
    struct anomaly_config cfg;

    if (o->no_anomaly)
        return 0;
    cfg = o->anomaly;             /* defaults, or the configuration file's anomaly: */
    /* Offline, a worker waits for the main thread rather than drop a tick,
     * the capture ticks every worker with its clock, and the main thread
     * evaluates a tick only once every worker is past it: the alerts do not
     * depend on how the threads were scheduled (with max_wait_ticks, a
     * worker that fell behind had its tick dropped). The reader commits
     * every clock record before it waits for room, so a worker waiting for
     * a snapshot is never waiting on a worker starved of its clock. */
    cfg.lossless = o->mode == MODE_PCAP;
    if (cfg.lossless)
        cfg.max_wait_ticks = 0;
    s->anomaly = anomaly_engine_create(&cfg, n, sensor_log_anomaly, s, err, errlen);
    return s->anomaly ? keep_anomaly_config(s, &cfg, err, errlen) : -1;
}

static void destroy_workers(struct sensor *s)
{
    for (unsigned i = 0; s->workers != NULL && i < s->n_workers; i++)
        worker_destroy(s->workers[i]);
    free(s->workers);
    s->workers = NULL;
    s->n_workers = 0;
    anomaly_engine_destroy(s->anomaly);
    s->anomaly = NULL;
    free(s->anomaly_cfg);
    s->anomaly_cfg = NULL;
}

/* n workers, with the rules' engine and the detectors' worker sides, in
 * s->workers. */
static int create_workers(struct sensor *s, unsigned n, const struct mamori_options *o,
                          char *err, size_t errlen)
{

    if (create_anomaly(s, n, o, err, errlen) < 0 || create_shared_rules(s, n, err, errlen) < 0)
        return -1;
    if ((s->workers = calloc(n, sizeof(*s->workers))) == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    s->n_workers = n;
    for (unsigned i = 0; i < n; i++) {
        struct worker_config cfg;
        worker_config_default(&cfg);
        cfg.id = i;
        cfg.flows.capacity = o->flows_per_worker;
        cfg.flows.timeouts = o->flow_timeouts;
        if (o->flow_timeout)
            flow_timeouts_set_all(&cfg.flows.timeouts, o->flow_timeout);
        cfg.lossless = o->mode == MODE_PCAP;
        cfg.shared = s->shared;
        cfg.stream.depth = o->stream_depth;
        cfg.stream.flows = o->stream_flows;
        cfg.stream.window = o->stream_window;
        cfg.stream.ooo_segments = o->stream_ooo_segments;
        cfg.stream.ooo_pool_bytes = o->stream_ooo_pool;
        cfg.midstream = o->midstream;
        cfg.inspect_encrypted = o->inspect_encrypted;
        cfg.anomaly = s->anomaly ? anomaly_engine_worker(s->anomaly, i) : NULL;
        if ((s->workers[i] = worker_create(&cfg, err, errlen)) == NULL) {
            destroy_workers(s);
            return -1;
        }
    }
    return 0;
}

/* Exporters: what each sink delivered and lost. */
static void print_export_summary(json_t *stats)
{
    const char *sink;
    json_t *c;

    json_object_foreach(json_object_get(stats, "export"), sink, c) {
        /* Keys are "<sink>.<counter>": one line per sink, at its "written". */
        const char *dot = strrchr(sink, '.');
        char name[64];
        if (dot == NULL || strcmp(dot, ".written") != 0)
            continue;
        snprintf(name, sizeof(name), "export.%.*s", (int)(dot - sink), sink);
        size_t n = strlen(name);
        snprintf(name + n, sizeof(name) - n, ".dropped");
        unsigned long long dropped = stats_get(stats, name);
        snprintf(name + n, sizeof(name) - n, ".errors");
        unsigned long long errors = stats_get(stats, name);
        snprintf(name + n, sizeof(name) - n, ".buffered");
        fprintf(stderr, "mamori: export %.*s: %llu written, %llu dropped, %llu errors, "
                "%llu buffered\n", (int)(dot - sink), sink,
                (unsigned long long)json_integer_value(c), dropped, errors,
                (unsigned long long)stats_get(stats, name));
    }
}

static void print_summary(const struct sensor *s)
{
    json_t *stats = sensor_stats(s);

    if (s->rules != NULL)
        fprintf(stderr, "mamori: %llu alerts logged (%llu matches, %llu suppressed by "
                "thresholds, %llu dropped)\n",
                (unsigned long long)s->alerts_logged,
                (unsigned long long)stats_get(stats, "detect.alerts"),
                (unsigned long long)stats_get(stats, "threshold.suppressed"),
                (unsigned long long)stats_get(stats, "detect.alerts_dropped"));
    fprintf(stderr,
            "mamori: %llu packets (%llu bytes), %llu invalid; %llu flows logged, "
            "%llu evicted, %llu unattributed packets\n",
            (unsigned long long)stats_get(stats, "decoder.pkts"),
            (unsigned long long)stats_get(stats, "decoder.bytes"),
            (unsigned long long)stats_get(stats, "decoder.invalid"),
            (unsigned long long)s->flows_logged,
            (unsigned long long)stats_get(stats, "flow.evicted"),
            (unsigned long long)stats_get(stats, "flow.unattributed"));
    /* DPDK: packets the ports could not hand over (capture_dpdk.h) */
    unsigned long long missed = stats_get(stats, "capture.imissed");
    unsigned long long nombuf = stats_get(stats, "capture.rx_nombuf");
    unsigned long long ierrors = stats_get(stats, "capture.ierrors");
    if (missed + nombuf + ierrors > 0)
        fprintf(stderr, "mamori: capture lost %llu packets: %llu missed by the ports (workers "
                "too slow), %llu without an mbuf (pool exhausted), %llu errors\n",
                missed + nombuf + ierrors, missed, nombuf, ierrors);
    print_export_summary(stats);
    json_decref(stats);
}

/* The -S rule files, compiled, and the threshold state their alerts pass
 * through. A bad rule is reported and skipped; a file that cannot be read
 * stops the start: running without rules the operator asked for would look
 * like a quiet network. */
static int load_rules(const struct mamori_options *o, struct sensor *s, char *err, size_t errlen)
{
    struct rule_vars *vars;

    if (o->n_rule_files == 0)
        return share_rules(s, err, errlen);
    if ((vars = config_rule_vars(o, err, errlen)) == NULL)
        return -1;
    s->rules = rules_load_vars(vars, o->rule_files, o->n_rule_files, o->classification,
                               o->rule_cache, stderr, stderr, err, errlen);
    if (s->rules == NULL)
        return -1;
    if (s->rules->files_unreadable) {
        snprintf(err, errlen, "%u rule file%s could not be read (see above)",
                 s->rules->files_unreadable, s->rules->files_unreadable == 1 ? "" : "s");
        return -1;
    }
    return share_rules(s, err, errlen);
}

/* AF_XDP on the -i interfaces, one worker per queue unless -w says. */
static struct capture *open_afxdp(const struct mamori_options *o, struct sensor *s,
                                  char *err, size_t errlen)
{
    int n = o->workers ? (int)o->workers : capture_afxdp_queues(&o->afxdp, err, errlen);

    if (n < 0)
        return NULL;
    s->cfg.in_iface = o->n_ifaces == 1 ? o->ifaces[0] : NULL;
    if (create_workers(s, (unsigned)n, o, err, errlen) < 0)
        return NULL;
    return capture_afxdp_open(&o->afxdp, s->workers, s->n_workers, err, errlen);
}

/* --dpdk --fallback afxdp: DPDK could not start (err says why). Say so,
 * drop the workers made for its lcores, capture -i with AF_XDP. */
static struct capture *fall_back_to_afxdp(const struct mamori_options *o, struct sensor *s,
                                          char *err, size_t errlen)
{
    fprintf(stderr, "mamori: %s\nmamori: falling back to AF_XDP capture (--fallback afxdp)\n", err);
    destroy_workers(s);
    return open_afxdp(o, s, err, errlen);
}

/* Set up the capture the options ask for, and the workers it feeds. */
static struct capture *open_capture(const struct mamori_options *o, struct sensor *s,
                                    char *err, size_t errlen)
{
    unsigned n = o->workers;

    if (o->mode == MODE_AFXDP)
        return open_afxdp(o, s, err, errlen);
    if (o->mode == MODE_DPDK) {
        int lcores = capture_dpdk_init(o->eal_argc, o->eal_argv, o->mbufs, err, errlen);
        if (lcores < 0)
            return o->fallback_afxdp ? fall_back_to_afxdp(o, s, err, errlen) : NULL;
        if (n == 0)
            n = (unsigned)lcores;
        if (n > (unsigned)lcores) {
            snprintf(err, errlen, "-w %u needs %u worker lcores, the EAL has %d "
                     "(give more with -l, e.g. -- -l 0-%u)", n, n, lcores, n);
            return NULL;
        }
    } else if (n == 0) {
        n = default_workers();
    }
    if (create_workers(s, n, o, err, errlen) < 0)
        return NULL;
    if (o->mode == MODE_DPDK) {
        struct capture *c = capture_dpdk_open(s->workers, n, o->mbufs, err, errlen);
        return c == NULL && o->fallback_afxdp ? fall_back_to_afxdp(o, s, err, errlen) : c;
    }
    return capture_pcap_open(o->pcap_files, o->n_pcap_files, s->workers, n, err, errlen);
}

/* Exporters: the EVE writer with the file (unless --no-eve-file) and the
 * configured sinks, and the Prometheus endpoint. */
#define EXPORT_DRAIN_MS 3000     /* at exit, for sinks still delivering */

static int open_exporters(const struct mamori_options *o, struct sensor *s, const char *path,
                          char *err, size_t errlen)
{
    char addr[300];

    if ((s->eve = eve_open(o->outputs.eve.enabled ? path : NULL, err, errlen)) == NULL ||
        export_add_configured(eve_export(s->eve), &o->outputs, err, errlen) < 0)
        return -1;
    if (export_metrics_address(&o->outputs, addr, sizeof(addr)) &&
        (s->metrics = metrics_start(addr, err, errlen)) == NULL)
        return -1;
    return 0;
}
/* end exporters */

/* Everything that needs privilege is open: keep only what the capture
 * still uses until exit (privilege.h says what and why). */
static int drop_privileges(const struct sensor *s, char *err, size_t errlen)
{
    char kept[128];

    if (privilege_drop(privilege_needed(s->capture->ops->name), kept, sizeof(kept),
                       err, errlen) < 0)
        return -1;
    fprintf(stderr, "mamori: capabilities kept: %s\n", kept);
    return 0;
}

/* Whether a capture file broke partway (capture_pcap.c counts them). */
static bool capture_damaged(const struct sensor *s)
{
    json_t *stats = sensor_stats(s);
    uint64_t damaged = stats_get(stats, "capture.file_errors");

    json_decref(stats);
    if (damaged > 0)
        fprintf(stderr, "mamori: %llu capture file%s damaged (see above): results cover the "
                "packets before the damage; exit status %d\n", (unsigned long long)damaged,
                damaged == 1 ? "" : "s", EXIT_INPUT_DAMAGED);
    return damaged > 0;
}

static void teardown(struct sensor *s, const struct mamori_options *o)
{
    close_control(s);
    if (s->capture != NULL)
        s->capture->ops->destroy(s->capture);
    destroy_workers(s);
    metrics_stop(s->metrics);                     /* exporters */
    s->metrics = NULL;
    eve_close(s->eve);
    threshold_table_destroy(s->thresholds);
    worker_shared_free(s->shared);
    worker_rules_free(s->wrules);
    rules_free(s->rules);
    if (o->mode == MODE_DPDK)
        capture_dpdk_cleanup();
}

int main(int argc, char **argv)
{
    struct mamori_options o;
    struct sensor s = { 0 };
    char err[ERRLEN], path[4096];
    int status = 1;

    if (options_parse(&o, argc, argv, err, sizeof(err)) < 0) {
        fprintf(stderr, "mamori: %s\n", err);
        options_free(&o);
        return 2;
    }
    if (o.help || o.version) {
        if (o.help)
            options_usage(stdout);
        else
            printf("mamori %s (DPDK %s)\n", MAMORI_VERSION, MAMORI_DPDK_VERSION);
        options_free(&o);
        return 0;
    }
    if (o.dump_config) {
        config_dump(&o, stdout);
        options_free(&o);
        return 0;
    }

    if (o.mode == MODE_RULE_CHECK) {
        struct rule_vars *vars = config_rule_vars(&o, err, sizeof(err));
        status = vars == NULL ? 1 : rule_check_files_vars(vars, o.rule_files, o.n_rule_files,
                                                          o.classification, o.rule_cache,
                                                          stdout, stderr);
        options_free(&o);
        return status;
    }
    s.opts = &o;
    s.cfg.stats_interval = o.stats_interval;
    s.cfg.idle_exit = o.idle_exit;
    if (o.outputs.eve.filename[0] == '/')
        snprintf(path, sizeof(path), "%s", o.outputs.eve.filename);
    else
        snprintf(path, sizeof(path), "%s/%s", o.log_dir, o.outputs.eve.filename);
    if (load_rules(&o, &s, err, sizeof(err)) < 0 ||
        make_log_dir(o.log_dir, err, sizeof(err)) < 0 ||
        open_exporters(&o, &s, path, err, sizeof(err)) < 0 ||
        (s.capture = open_capture(&o, &s, err, sizeof(err))) == NULL ||
        open_control(&o, &s, err, sizeof(err)) < 0 ||
        drop_privileges(&s, err, sizeof(err)) < 0) {
        fprintf(stderr, "mamori: %s\n", err);
        goto out;
    }
    fprintf(stderr, "mamori %s: %s capture, %u worker%s, %u flows per worker, logging to %s\n",
            MAMORI_VERSION, s.capture->ops->name, s.n_workers, s.n_workers == 1 ? "" : "s",
            o.flows_per_worker, o.outputs.eve.enabled ? path : "the exporters only");
    if (sensor_run(&s, err, sizeof(err)) < 0) {
        fprintf(stderr, "mamori: %s\n", err);
        goto out;
    }
    eve_drain(s.eve, EXPORT_DRAIN_MS);            /* exporters: deliver what is held */
    print_summary(&s);
    status = capture_damaged(&s) ? EXIT_INPUT_DAMAGED : 0;
out:
    teardown(&s, &o);
    options_free(&o);
    return status;
}
