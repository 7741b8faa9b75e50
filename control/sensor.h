/* sensor.h - the main thread: workers, a capture, the EVE log, the tick.
 *
 * sensor_run() starts the capture and loops until it ends or is stopped:
 * it drains the workers' ended flows into EVE, writes a stats event every
 * interval, and stops the capture on SIGINT/SIGTERM or after the idle
 * timeout. The loop is the same for every capture path. */
#ifndef MAMORI_SENSOR_H
#define MAMORI_SENSOR_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "capture.h"
#include "eve.h"
#include "worker.h"

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
    uint64_t flows_logged;
    uint64_t started_ns;         /* wall clock */
};

/* Run until the capture ends or a stop is asked for. 0, or -1 with the
 * cause in err (the capture could not start). */
int sensor_run(struct sensor *s, char *err, size_t errlen);

/* Ask the running sensor to stop (async-signal-safe). */
void sensor_request_stop(void);

/* Every counter of the sensor (capture, decoder, flow, worker, eve). */
json_t *sensor_stats(const struct sensor *s);

#endif
