/* eve.h - the one EVE JSON writer: every event mamori logs goes through it.
 *
 * Events are Suricata-compatible JSON lines (field names in DESIGN.md), so
 * Filebeat, Elastic's Suricata module, jq recipes and SIEM parsers read them
 * unchanged. Strings are escaped by jansson. A failed write (disk full) is
 * counted, never fatal. */
#ifndef MAMORI_EVE_H
#define MAMORI_EVE_H

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "worker.h"

struct eve_writer;

/* Open (append, create) the EVE log at path. NULL with the cause in err. */
struct eve_writer *eve_open(const char *path, char *err, size_t errlen);
void eve_close(struct eve_writer *w);

/* The flow event of an ended flow; in_iface may be NULL. Caller decrefs. */
json_t *eve_flow_event(const struct flow_record *rec, const char *in_iface);
/* A stats event around a nested counters object (reference stolen). */
json_t *eve_stats_event(uint64_t ts_ns, json_t *counters);

/* Write one event as a line. 0, or -1 (counted in eve_write_errors). The
 * event's reference is not taken. */
int eve_write(struct eve_writer *w, json_t *event);
int eve_flush(struct eve_writer *w);

uint64_t eve_events_written(const struct eve_writer *w);
uint64_t eve_write_errors(const struct eve_writer *w);

/* "2024-04-21T10:11:12.123456+0000", Suricata's timestamp format, in UTC. */
void eve_format_timestamp(uint64_t ts_ns, char *buf, size_t len);
/* "TCP", "UDP", "ICMP", "IPv6-ICMP", ... or the number as a string. */
void eve_format_proto(uint8_t ip_proto, char *buf, size_t len);
/* Printable address of a flow key endpoint (IPv4 or IPv6). */
void eve_format_addr(const uint8_t addr[16], uint8_t ip_version, char *buf, size_t len);

#endif
