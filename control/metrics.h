/* metrics.h - Prometheus: every counter of sensor_stats() at /metrics.
 *
 * The main thread renders the stats into the text format and publishes the
 * page (metrics_publish(), once a second); libmicrohttpd's thread only
 * copies the last page out under a mutex, so a scrape never calls into the
 * sensor and a slow scraper never holds up the main thread. No listener is
 * opened unless --metrics asks for one; an address without a host listens
 * on loopback. */
#ifndef MAMORI_METRICS_H
#define MAMORI_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct metrics;

/* Listen on spec ("ADDR:PORT", "[V6]:PORT", ":PORT" or "PORT", the
 * address 127.0.0.1 by default). NULL with the cause in err. */
struct metrics *metrics_start(const char *spec, char *err, size_t errlen);
/* Render stats (nested sections as sensor_stats() makes them) and make the
 * result the page scrapes get. */
void metrics_publish(struct metrics *m, json_t *stats);
uint64_t metrics_scrapes(const struct metrics *m);
void metrics_stop(struct metrics *m);

/* The Prometheus text format (0.0.4) of a stats object: one family per
 * counter, "mamori_<section>_<key>", with # HELP and # TYPE; gauges by an
 * explicit table, counters (suffix _total) otherwise; the sections that
 * hold one counter per port, interface, worker or sink give that as a
 * label. A malloc'd string (NULL without memory), its length in len. */
char *metrics_render(json_t *stats, size_t *len);

#endif
