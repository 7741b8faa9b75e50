/* sensor.c - the main thread's loop over any capture path. */
#include <signal.h>
#include <stdio.h>
#include <time.h>

#include "sensor.h"
#include "stats.h"

static volatile sig_atomic_t stop_requested;

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
    }
    stats_add(stats, "flow.logged", s->flows_logged);
    stats_add(stats, "eve.events", eve_events_written(s->eve));
    stats_add(stats, "eve.write_errors", eve_write_errors(s->eve));
    return stats;
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

static void on_stop_signal(int sig)
{
    (void)sig;
    sensor_request_stop();
}

static void install_signal_handlers(void)
{
    struct sigaction sa = { .sa_handler = on_stop_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int sensor_run(struct sensor *s, char *err, size_t errlen)
{
    struct capture *c = s->capture;
    uint64_t interval_ns = (uint64_t)s->cfg.stats_interval * 1000000000ull;
    uint64_t idle_ns = (uint64_t)s->cfg.idle_exit * 1000000000ull;
    uint64_t last_stats = mono_ns(), last_rx = last_stats, rx_seen = 0;
    bool stopping = false;

    s->started_ns = wall_ns();
    install_signal_handlers();
    if (c->ops->start(c, err, errlen) < 0)
        return -1;

    while (c->ops->running(c)) {
        unsigned drained = drain_records(s);
        uint64_t now = mono_ns();

        if (interval_ns && now - last_stats >= interval_ns) {
            write_stats(s);
            last_stats = now;
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
        if (drained == 0) {
            struct timespec pause = { 0, 1000000 };   /* 1 ms: the tick needs no more */
            nanosleep(&pause, NULL);
        }
    }
    c->ops->join(c);
    while (drain_records(s) > 0)
        ;
    write_stats(s);
    return 0;
}
