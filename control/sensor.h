/* sensor.h - the main thread: workers, a capture, the EVE log, the tick.
 *
 * sensor_run() starts the capture and loops until it ends or is stopped:
 * it drains the workers' alerts (through thresholds) and ended flows into
 * EVE, writes a stats event every
 * interval, and stops the capture on SIGINT/SIGTERM or after the idle
 * timeout. The loop is the same for every capture path. */
#ifndef MAMORI_SENSOR_H
#define MAMORI_SENSOR_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "capture.h"
#include "eve.h"
#include "options.h"
#include "rules.h"
#include "threshold.h"
#include "worker.h"

struct ctl_server;
struct metrics;
struct ctl_commands;

struct sensor_config {
    unsigned stats_interval;     /* seconds, 0 = at exit only */
    unsigned idle_exit;          /* seconds without packets, 0 = never */
    const char *in_iface;        /* EVE in_iface of flow events, or NULL */
};

struct sensor {
    struct sensor_config cfg;
    struct worker **workers;
    unsigned n_workers;
    struct capture *capture;
    struct eve_writer *eve;
    const struct mamori_options *opts;   /* what the sensor was started with */
    struct loaded_rules *rules;          /* NULL: no signatures */
    struct worker_shared *shared;        /* the workers' current rule set and QSBR */
    struct worker_rules *wrules;         /* the rule set published to them */
    struct reload_state *reload;         /* live rule reload (reload.h) */
    struct threshold_table *thresholds;  /* threshold/detection_filter state */
    struct anomaly_engine *anomaly;      /* statistical detectors; NULL: off */
    /* control socket (ctl_server.h, ctl_commands.h); NULL: none */
    struct anomaly_config *anomaly_cfg;  /* the detectors' current settings, for the
                                          * control commands; NULL when they are off */
    struct ctl_server *ctl;
    struct ctl_commands *ctl_cmds;
    /* end control socket */
    struct metrics *metrics;             /* exporters: /metrics; NULL: none */
    uint64_t flows_logged;
    uint64_t alerts_logged;
    uint64_t anomaly_alerts[ANOMALY_DETECTOR_COUNT];   /* per detector, every phase */
    uint64_t anomaly_attacks[ANOMALY_DETECTOR_COUNT];  /* per detector, start alerts */
    uint64_t started_ns;         /* wall clock */
    uint64_t started_tsc;        /* TSC then (burst latency in time) */
};

/* Run until the capture ends or a stop is asked for. 0, or -1 with the
 * cause in err (the capture could not start). */
int sensor_run(struct sensor *s, char *err, size_t errlen);

/* Ask the running sensor to stop (async-signal-safe). */
void sensor_request_stop(void);

/* Log every alert the workers have queued (before rules they name go). */
void sensor_drain_alerts_all(struct sensor *s);

/* anomaly_alert_fn: log a statistical alert (ctx: the sensor). */
void sensor_log_anomaly(void *ctx, const struct anomaly_alert *a);

/* Every counter of the sensor (capture, decoder, flow, worker, eve). */
json_t *sensor_stats(const struct sensor *s);

#endif
