/* eve.h - the one EVE JSON writer: every event mamori logs goes through it.
 *
 * Events are Suricata-compatible JSON lines (field names in DESIGN.md), so
 * Filebeat, Elastic's Suricata module, jq recipes and SIEM parsers read them
 * unchanged. Strings are escaped by jansson. A failed write (disk full) is
 * counted, never fatal. */
#ifndef MAMORI_EVE_H
#define MAMORI_EVE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "anomaly.h"
#include "worker.h"

struct eve_writer;
struct export;

/* The writer (exporters): events go to an export fan-out (export.h) whose
 * sinks are the EVE file and whatever else is configured. */
/* Open (append, create) the EVE log at path, the fan-out's first sink;
 * path NULL: no file (--no-eve-file). NULL with the cause in err. */
struct eve_writer *eve_open(const char *path, char *err, size_t errlen);
/* Close every sink; lines still buffered are dropped (eve_drain() first). */
void eve_close(struct eve_writer *w);
/* The fan-out, to add sinks to. */
struct export *eve_export(struct eve_writer *w);
/* end writer */

/* The flow event of an ended flow; in_iface may be NULL. Caller decrefs. */
json_t *eve_flow_event(const struct flow_record *rec, const char *in_iface);
/* What an alert event says, whichever detector raised it: the packet or
 * attack it is about and the signature (Suricata's alert object). */
struct eve_alert {
    uint64_t ts_ns;              /* packet time */
    uint64_t flow_id;            /* 0: none */
    const char *in_iface;        /* NULL: omitted */
    uint8_t ip_version;          /* 0: no addresses */
    uint8_t ip_proto;
    const uint8_t *src_addr;     /* 16 bytes, IPv4 in the first 4; NULL: omitted */
    const uint8_t *dst_addr;
    uint16_t src_port, dst_port;
    uint16_t vlan[2];
    const char *direction;       /* "to_server", "to_client" or NULL */
    uint32_t gid, sid, rev;
    const char *signature;
    const char *category;        /* NULL: "" */
    unsigned severity;
};

/* The alert event; `extra` (reference stolen, may be NULL) is added under
 * the key "mamori" for the figures behind a statistical alert. */
json_t *eve_alert_event(const struct eve_alert *a, json_t *extra);
/* The alert event of a signature match. */
json_t *eve_signature_alert(const struct alert_record *a, const char *in_iface);
/* The alert event of a statistical detection (start, update or end of an
 * attack), its figures under "mamori". */
json_t *eve_anomaly_alert(const struct anomaly_alert *a, const char *in_iface);
/* A stats event around a nested counters object (reference stolen). */
json_t *eve_stats_event(uint64_t ts_ns, json_t *counters);

/* Format one event as a line (once) and hand it to every sink; a sink that
 * cannot take it counts it as dropped. 0, or -1 when it could not be
 * formatted (counted in eve_write_errors). The event's reference is not
 * taken. */
int eve_write(struct eve_writer *w, json_t *event);
/* Let every sink deliver what it holds, without blocking (the main loop
 * calls it often; it also retries destinations that are down). */
int eve_flush(struct eve_writer *w);
/* Reopen the log at its path (after logrotate moved it): the old file is
 * flushed and closed once the new one is open. 0, or -1 with the cause in
 * err and the old file kept. */
int eve_reopen(struct eve_writer *w, char *err, size_t errlen);

/* At exit: flush until every sink is empty or timeout_ms has passed. */
bool eve_drain(struct eve_writer *w, unsigned timeout_ms);
/* Each sink's counters, "export.<sink>.written|dropped|errors|buffered". */
void eve_export_counters(const struct eve_writer *w,
                         void (*add)(void *ctx, const char *name, uint64_t value), void *ctx);

/* Events formatted, and those the EVE file lost (errors, drops). */
uint64_t eve_events_written(const struct eve_writer *w);
uint64_t eve_write_errors(const struct eve_writer *w);

/* "2024-04-21T10:11:12.123456+0000", Suricata's timestamp format, in UTC. */
void eve_format_timestamp(uint64_t ts_ns, char *buf, size_t len);
/* "TCP", "UDP", "ICMP", "IPv6-ICMP", ... or the number as a string. */
void eve_format_proto(uint8_t ip_proto, char *buf, size_t len);
/* Printable address of a flow key endpoint (IPv4 or IPv6). */
void eve_format_addr(const uint8_t addr[16], uint8_t ip_version, char *buf, size_t len);

#endif
