/* sensor.c - the main thread's loop over any capture path. */
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_cycles.h>

#include "ctl_commands.h"
#include "ctl_server.h"
#include "metrics.h"
#include "reload.h"
#include "sensor.h"
#include "stats.h"

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t hangup_requested;   /* SIGHUP: reload rules, reopen logs */

void sensor_request_stop(void)
{
    stop_requested = 1;
}

static uint64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void add_counter(void *ctx, const char *name, uint64_t value)
{
    stats_add(ctx, name, value);
}

/* ---- control socket: alerts to "alerts tail" subscribers ---- */
static void sensor_broadcast_alert(struct sensor *s, json_t *ev)
{
    if (!ctl_server_subscribed(s->ctl, "alerts"))
        return;              /* nobody follows: no second serialisation */
    char *line = json_dumps(ev, JSON_COMPACT);
    if (line != NULL)
        ctl_server_broadcast(s->ctl, "alerts", line);
    free(line);
}
/* ---- end control socket ---- */

void sensor_log_anomaly(void *ctx, const struct anomaly_alert *a)
{
    struct sensor *s = ctx;
    json_t *ev = eve_anomaly_alert(a, s->cfg.in_iface);
    if (a->detector < ANOMALY_DETECTOR_COUNT) {
        s->anomaly_alerts[a->detector]++;
        s->anomaly_attacks[a->detector] += a->phase == ANOMALY_START;
    }
    eve_write(s->eve, ev);
    sensor_broadcast_alert(s, ev);                  /* control socket */
    ctl_commands_note_anomaly(s->ctl_cmds, a);      /* control socket: top talkers */
    json_decref(ev);
    s->alerts_logged++;
}

static void sensor_anomaly_stats(const struct sensor *s, json_t *stats)
{
    if (s->anomaly == NULL)
        return;
    for (unsigned i = 0; i < ANOMALY_ENGINE_COUNTER_COUNT; i++)
        stats_add(stats, anomaly_engine_counter_name(i), anomaly_engine_counter(s->anomaly, i));
    /* per detector: "detector.syn_flood.attacks", a label in /metrics */
    for (unsigned d = 0; d < ANOMALY_DETECTOR_COUNT; d++) {
        char name[96];
        snprintf(name, sizeof(name), "detector.%s.attacks", anomaly_detector_name(d));
        stats_add(stats, name, s->anomaly_attacks[d]);
        snprintf(name, sizeof(name), "detector.%s.alerts", anomaly_detector_name(d));
        stats_add(stats, name, s->anomaly_alerts[d]);
    }
    size_t memory = anomaly_engine_memory(s->anomaly);
    for (unsigned w = 0; w < s->n_workers; w++) {
        const struct anomaly_worker *aw = anomaly_engine_worker(s->anomaly, w);
        stats_add(stats, "anomaly.ticks_dropped", anomaly_worker_ticks_dropped(aw));
        memory += anomaly_worker_memory(aw);
    }
    stats_add(stats, "anomaly.memory_bytes", memory);
}

/* Rule set, stream reassembly and thresholding figures. */
static void sensor_detect_stats(const struct sensor *s, json_t *stats)
{
    if (s->rules == NULL)
        return;
    const struct ruleset *rs = &s->rules->rs;
    const struct engine_stats *es = engine_stats(s->rules->engine);
    stats_add(stats, "detect.rules_loaded", rs->loaded);
    stats_add(stats, "detect.rules_skipped", rs->skipped);
    stats_add(stats, "detect.rules_failed", rs->failed + es->rules_dropped);
    stats_add(stats, "detect.databases", es->databases);
    stats_add(stats, "detect.database_bytes", es->db_bytes);
    stats_add(stats, "detect.compile_ms", (uint64_t)es->compile_ms);
    for (unsigned g = 0; g < 4; g++) {   /* "rulegroup.tcp.rules": a label in /metrics */
        char name[64];
        snprintf(name, sizeof(name), "rulegroup.%s.rules", engine_group_name(g));
        stats_add(stats, name, es->group[g].rules);
        snprintf(name, sizeof(name), "rulegroup.%s.databases", engine_group_name(g));
        stats_add(stats, name, es->group[g].databases);
        snprintf(name, sizeof(name), "rulegroup.%s.always", engine_group_name(g));
        stats_add(stats, name, es->group[g].always);
    }
    for (unsigned i = 0; i < THRESHOLD_COUNTER_COUNT; i++)
        stats_add(stats, threshold_counter_name(i), threshold_counter(s->thresholds, i));
    for (unsigned i = 0; i < RELOAD_COUNTER_COUNT; i++)
        stats_add(stats, reload_counter_name(i), rule_reload_counter(s, i));
    for (unsigned w = 0; w < s->n_workers; w++) {
        const struct stream_table *st = worker_stream_table(s->workers[w]);
        if (st == NULL)
            continue;
        for (unsigned i = 0; i < STREAM_COUNTER_COUNT; i++)
            stats_add(stats, stream_counter_name(i), stream_counter(st, i));
        stats_add(stats, "stream.memory_bytes", stream_table_memory(st));
    }
}

/* One worker's own figures, "workers.<id>.<counter>" (the sections above
 * sum every worker): a label in /metrics, to see an unbalanced RSS or one
 * worker dropping. */
static void sensor_worker_stats(const struct worker *wk, json_t *stats)
{
    char name[96];
    for (unsigned i = 0; i < WORKER_COUNTER_COUNT; i++) {
        const char *counter = strchr(worker_counter_name(i), '.');
        snprintf(name, sizeof(name), "workers.%u.%s", worker_id(wk),
                 counter ? counter + 1 : worker_counter_name(i));
        stats_add(stats, name, worker_counter(wk, i));
    }
    snprintf(name, sizeof(name), "workers.%u.flows_active", worker_id(wk));
    stats_add(stats, name, flow_table_active(worker_flow_table(wk)));
}

/* Per-burst worker latency from the workers' log2 histograms: the burst
 * time 99 % of bursts stay under, and the slowest, in microseconds (the
 * upper bound of their power-of-two bucket; TSC rate measured against the
 * wall clock since start). */
static void sensor_burst_stats(const struct sensor *s, json_t *stats)
{
    uint64_t hist[WORKER_BURST_HIST] = { 0 }, one[WORKER_BURST_HIST], total = 0;
    for (unsigned w = 0; w < s->n_workers; w++) {
        worker_burst_histogram(s->workers[w], one);
        for (unsigned i = 0; i < WORKER_BURST_HIST; i++)
            hist[i] += one[i], total += one[i];
    }
    double elapsed = (double)(wall_ns() - s->started_ns);
    if (total == 0 || elapsed <= 0)
        return;
    double hz = (double)(rte_rdtsc() - s->started_tsc) / elapsed * 1e9;
    uint64_t seen = 0, p99 = 0, max = 0;
    for (unsigned i = 0; i < WORKER_BURST_HIST; i++) {
        if (hist[i] == 0)
            continue;
        seen += hist[i];
        if (p99 == 0 && seen * 100 >= total * 99)
            p99 = 2ull << i;
        max = 2ull << i;
    }
    stats_add(stats, "worker.bursts", total);
    stats_add(stats, "worker.burst_p99_us", (uint64_t)((double)p99 / hz * 1e6 + 0.999));
    stats_add(stats, "worker.burst_max_us", (uint64_t)((double)max / hz * 1e6 + 0.999));
}

json_t *sensor_stats(const struct sensor *s)
{
    json_t *stats = stats_new();

    stats_add(stats, "uptime", (wall_ns() - s->started_ns) / 1000000000ull);
    s->capture->ops->counters(s->capture, add_counter, stats);
    for (unsigned w = 0; w < s->n_workers; w++) {
        const struct worker *wk = s->workers[w];
        const struct flow_table *ft = worker_flow_table(wk);

        for (unsigned i = 0; i < DECODER_COUNTER_COUNT; i++)
            stats_add(stats, decoder_counter_name(i), worker_decoder_counter(wk, i));
        for (unsigned i = 0; i < WORKER_COUNTER_COUNT; i++)
            stats_add(stats, worker_counter_name(i), worker_counter(wk, i));
        for (unsigned i = 0; i < FLOW_TABLE_COUNTER_COUNT; i++)
            stats_add(stats, flow_table_counter_name(i), flow_table_counter(ft, i));
        stats_add(stats, "flow.active", flow_table_active(ft));
        stats_add(stats, "flow.capacity", flow_table_capacity(ft));
        stats_add(stats, "flow.memory_bytes", flow_table_memory(ft));
        sensor_worker_stats(wk, stats);
    }
    stats_add(stats, "flow.logged", s->flows_logged);
    sensor_burst_stats(s, stats);
    stats_add(stats, "detect.alerts_logged", s->alerts_logged);
    sensor_detect_stats(s, stats);
    sensor_anomaly_stats(s, stats);
    stats_add(stats, "eve.events", eve_events_written(s->eve));
    stats_add(stats, "eve.write_errors", eve_write_errors(s->eve));
    eve_export_counters(s->eve, add_counter, stats);        /* exporters */
    return stats;
}

/* Exporters: the page /metrics serves, from the main thread's stats. */
static void publish_metrics(struct sensor *s)
{
    json_t *stats = sensor_stats(s);
    metrics_publish(s->metrics, stats);
    json_decref(stats);
}

static void write_stats(struct sensor *s)
{
    json_t *ev = eve_stats_event(wall_ns(), sensor_stats(s));
    eve_write(s->eve, ev);
    json_decref(ev);
    eve_flush(s->eve);
}

/* Most records taken from one worker per tick: a worker that ends flows
 * faster than they can be written must not keep the main thread from its
 * other duties (stats, signals, the other workers). */
#define DRAIN_BATCH 4096

/* Log the workers' alerts that pass their rule's threshold, up to
 * DRAIN_BATCH each. Returns how many were taken. */
static unsigned drain_alerts(struct sensor *s)
{
    unsigned n = 0;

    for (unsigned w = 0; w < s->n_workers; w++) {
        const struct alert_record *a;
        unsigned taken = 0;
        while (taken++ < DRAIN_BATCH && (a = worker_next_alert(s->workers[w])) != NULL) {
            struct threshold_event te = {
                .ts_ns = a->ts_ns, .ip_version = a->ip_version, .flow_id = a->flow_id,
            };
            memcpy(te.src_addr, a->src_addr, 16);
            memcpy(te.dst_addr, a->dst_addr, 16);
            if (threshold_admit(s->thresholds, a->rule, &te)) {
                json_t *ev = eve_signature_alert(a, s->cfg.in_iface);
                eve_write(s->eve, ev);
                sensor_broadcast_alert(s, ev);      /* control socket */
                json_decref(ev);
                s->alerts_logged++;
            }
            worker_alert_done(s->workers[w]);
            n++;
        }
    }
    return n;
}

/* Log the flows the workers have ended, up to DRAIN_BATCH each. Returns
 * how many. */
static unsigned drain_records(struct sensor *s)
{
    unsigned n = 0;

    for (unsigned w = 0; w < s->n_workers; w++) {
        const struct flow_record *rec;
        unsigned taken = 0;
        while (taken++ < DRAIN_BATCH && (rec = worker_next_record(s->workers[w])) != NULL) {
            json_t *ev = eve_flow_event(rec, s->cfg.in_iface);
            eve_write(s->eve, ev);
            json_decref(ev);
            worker_record_done(s->workers[w]);
            n++;
        }
    }
    s->flows_logged += n;
    return n;
}

/* Alerts first: a flow's alerts are logged before its flow event. The
 * statistical detectors evaluate the ticks every worker has finished. */
void sensor_drain_alerts_all(struct sensor *s)
{
    while (drain_alerts(s) > 0)
        ;
}

static unsigned drain_workers(struct sensor *s)
{
    unsigned n = drain_alerts(s);
    if (s->anomaly)
        n += anomaly_engine_poll(s->anomaly);
    return n + drain_records(s);
}

static void on_stop_signal(int sig)
{
    (void)sig;
    sensor_request_stop();
}

static void on_hangup(int sig)
{
    (void)sig;
    hangup_requested = 1;
}

static void install_signal_handlers(void)
{
    struct sigaction sa = { .sa_handler = on_stop_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = on_hangup;
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* SIGHUP, as logrotate and operators use it: reopen the log files and
 * reload the rules (of the running set, with the configured strictness). */
static void handle_hangup(struct sensor *s)
{
    char err[512];

    hangup_requested = 0;
    if (eve_reopen(s->eve, err, sizeof(err)) < 0)
        fprintf(stderr, "mamori: SIGHUP: %s\n", err);
    if (s->shared != NULL && s->opts->n_rule_files > 0 &&
        rule_reload_start(s, NULL, 0, s->opts->strict_rules, err, sizeof(err)) < 0)
        fprintf(stderr, "mamori: SIGHUP: %s\n", err);
}

int sensor_run(struct sensor *s, char *err, size_t errlen)
{
    struct capture *c = s->capture;
    uint64_t interval_ns = (uint64_t)s->cfg.stats_interval * 1000000000ull;
    uint64_t idle_ns = (uint64_t)s->cfg.idle_exit * 1000000000ull;
    uint64_t last_stats = mono_ns(), last_rx = last_stats, rx_seen = 0;
    bool stopping = false;
    uint64_t last_metrics = 0;   /* exporters */

    s->started_ns = wall_ns();
    s->started_tsc = rte_rdtsc();
    install_signal_handlers();
    if (c->ops->start(c, err, errlen) < 0)
        return -1;

    while (c->ops->running(c)) {
        unsigned drained = drain_workers(s);
        if (hangup_requested)
            handle_hangup(s);
        rule_reload_poll(s);
        if (s->ctl != NULL)
            drained += ctl_server_poll(s->ctl);     /* control socket */
        uint64_t now = mono_ns();

        if (interval_ns && now - last_stats >= interval_ns) {
            write_stats(s);
            last_stats = now;
        }
        /* Exporters: sinks deliver what they hold (never blocking) and
         * retry destinations that are down; /metrics is refreshed each
         * second. */
        eve_flush(s->eve);
        if (s->metrics != NULL && now - last_metrics >= 1000000000ull) {
            publish_metrics(s);
            last_metrics = now;
        }
        uint64_t rx = c->ops->packets(c);
        if (rx != rx_seen) {
            rx_seen = rx;
            last_rx = now;
        }
        if (!stopping && (stop_requested || (idle_ns && now - last_rx >= idle_ns))) {
            c->ops->stop(c);
            stopping = true;
        }
        if (drained == 0 && s->anomaly && anomaly_engine_wanted(s->anomaly)) {
            sched_yield();
        } else if (drained == 0) {
            struct timespec pause = { 0, 1000000 };   /* 1 ms: the tick needs no more */
            nanosleep(&pause, NULL);
        }
    }
    c->ops->join(c);
    while (drain_workers(s) > 0)
        ;
    rule_reload_finish(s);
    if (s->anomaly)
        anomaly_engine_finish(s->anomaly);
    write_stats(s);
    if (s->metrics != NULL)
        publish_metrics(s);                 /* exporters: the final figures */
    return 0;
}
