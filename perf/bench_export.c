/* bench_export.c - the main lcore's part of a mamori-bench pass: take the
 * ended flows and alerts the workers publish, as the sensor's main thread
 * does, and (with --eve) write them with the sensor's own EVE writer.
 * Its cycles are the export stage. Unlike the sensor, no alert threshold
 * (threshold.config) is applied: every alert is written. */
#include <stdio.h>
#include <stdlib.h>

#include <rte_cycles.h>

#include "bench.h"
#include "eve.h"

#define EVE_DRAIN_MS 5000              /* at the end: time for the file to take the rest */

struct bench_export {
    struct eve_writer *eve;            /* NULL: count only */
    struct pass_result *r;
};

struct bench_export *bench_export_create(const char *eve_path, struct pass_result *r)
{
    struct bench_export *x = calloc(1, sizeof(*x));
    char err[256];

    if (x == NULL) {
        fprintf(stderr, "mamori-bench: export: out of memory\n");
        return NULL;
    }
    x->r = r;
    if (eve_path != NULL && (x->eve = eve_open(eve_path, err, sizeof(err))) == NULL) {
        fprintf(stderr, "mamori-bench: --eve: %s\n", err);
        free(x);
        return NULL;
    }
    return x;
}

/* Write one event, if there is an EVE log; the reference is the caller's. */
static void export_event(struct bench_export *x, json_t *ev)
{
    if (ev != NULL) {
        eve_write(x->eve, ev);
        json_decref(ev);
    }
}

void bench_export_anomaly_alert(void *ctx, const struct anomaly_alert *a)
{
    struct bench_export *x = ctx;

    x->r->anomaly_alerts++;
    if (a->detector < ANOMALY_DETECTOR_COUNT)
        x->r->by_detector[a->detector]++;
    if (x->eve != NULL)
        export_event(x, eve_anomaly_alert(a, NULL));
}

/* Alerts before records: a flow's alerts are logged before its flow event. */
static uint64_t drain_lane(struct bench_export *x, struct lane *lane)
{
    const struct alert_record *a;
    const struct flow_record *rec;
    uint64_t n = 0;

    while ((a = worker_next_alert(lane->worker)) != NULL) {
        if (x->eve != NULL)
            export_event(x, eve_signature_alert(a, NULL));
        worker_alert_done(lane->worker);
        x->r->alerts++;
        n++;
    }
    while ((rec = worker_next_record(lane->worker)) != NULL) {
        if (x->eve != NULL)
            export_event(x, eve_flow_event(rec, NULL));
        worker_record_done(lane->worker);
        x->r->records++;
        n++;
    }
    return n;
}

uint64_t bench_export_drain(struct bench_export *x, struct lane *lanes, unsigned n,
                            struct anomaly_engine *ae)
{
    uint64_t t0 = rte_rdtsc(), got = 0;

    for (unsigned i = 0; i < n; i++)
        got += drain_lane(x, &lanes[i]);
    if (ae != NULL) {
        /* The detectors' evaluation of closed ticks is the statistics
         * stage's main-lcore half, timed apart (with its alerts' writing). */
        uint64_t t1 = rte_rdtsc();
        got += anomaly_engine_poll(ae);
        uint64_t t2 = rte_rdtsc();
        x->r->statistics_main_cycles += t2 - t1;
        t0 += t2 - t1;
    }
    if (x->eve != NULL && got > 0)
        eve_flush(x->eve);
    x->r->export_cycles += rte_rdtsc() - t0;
    return got;
}

int bench_export_close(struct bench_export *x)
{
    int rc = 0;

    if (x == NULL)
        return 0;
    if (x->eve != NULL) {
        uint64_t t0 = rte_rdtsc();
        if (!eve_drain(x->eve, EVE_DRAIN_MS) || eve_write_errors(x->eve) > 0) {
            fprintf(stderr, "mamori-bench: --eve: %llu events lost\n",
                    (unsigned long long)eve_write_errors(x->eve));
            rc = -1;
        }
        x->r->export_cycles += rte_rdtsc() - t0;
        eve_close(x->eve);
    }
    free(x);
    return rc;
}
