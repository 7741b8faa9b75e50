/* stats.h - named counters gathered into one nested JSON object.
 *
 * Counter names are dotted ("decoder.ipv4.truncated"). The first component
 * is the section, the rest the key within it, so the object reads
 *   {"decoder": {"pkts": 10, "ipv4.truncated": 1}, "flow": {...}}
 * and jq finds a counter as .stats.decoder["ipv4.truncated"]. Adding a name
 * twice sums it: per-worker counters add up to the sensor's. */
#ifndef MAMORI_STATS_H
#define MAMORI_STATS_H

#include <stdint.h>

#include <jansson.h>

json_t *stats_new(void);
void stats_add(json_t *stats, const char *name, uint64_t value);
/* The value of a name added before, 0 if none (for tests and summaries). */
uint64_t stats_get(json_t *stats, const char *name);

#endif
