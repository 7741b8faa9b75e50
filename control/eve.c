/* eve.c - EVE JSON events: formatting (jansson) and the log file. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "eve.h"
#include "export.h"

/* The writer (exporters): each event is formatted once into buf and the
 * line handed to the export fan-out, whose first sink is the EVE file. */
struct eve_writer {
    struct export *ex;
    char *buf;                   /* the last line formatted */
    size_t buf_size;
    uint64_t events;
    uint64_t format_errors;
};

struct eve_writer *eve_open(const char *path, char *err, size_t errlen)
{
    struct eve_writer *w = calloc(1, sizeof(*w));
    struct export_sink *file;

    if (w == NULL || (w->ex = export_create()) == NULL) {
        snprintf(err, errlen, "%s: out of memory", path ? path : "EVE writer");
        free(w);
        return NULL;
    }
    if (path == NULL)
        return w;
    if ((file = export_file_open(path, 0, err, errlen)) == NULL ||
        export_add(w->ex, file) < 0) {
        if (file != NULL)
            snprintf(err, errlen, "%s: out of memory", path);
        eve_close(w);
        return NULL;
    }
    return w;
}

void eve_close(struct eve_writer *w)
{
    if (w == NULL)
        return;
    export_destroy(w->ex);
    free(w->buf);
    free(w);
}

struct export *eve_export(struct eve_writer *w)
{
    return w->ex;
}
/* end writer */

void eve_format_timestamp(uint64_t ts_ns, char *buf, size_t len)
{
    time_t secs = (time_t)(ts_ns / 1000000000ull);
    unsigned usecs = (unsigned)(ts_ns % 1000000000ull / 1000);
    struct tm tm;
    char date[32];

    gmtime_r(&secs, &tm);
    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, len, "%s.%06u+0000", date, usecs);
}

void eve_format_proto(uint8_t ip_proto, char *buf, size_t len)
{
    static const struct { uint8_t proto; const char *name; } names[] = {
        { 1, "ICMP" }, { 2, "IGMP" }, { 6, "TCP" }, { 17, "UDP" }, { 47, "GRE" },
        { 50, "ESP" }, { 51, "AH" }, { 58, "IPv6-ICMP" }, { 89, "OSPF" },
        { 103, "PIM" }, { 112, "VRRP" }, { 132, "SCTP" },
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (names[i].proto == ip_proto) {
            snprintf(buf, len, "%s", names[i].name);
            return;
        }
    }
    snprintf(buf, len, "%u", ip_proto);
}

void eve_format_addr(const uint8_t addr[16], uint8_t ip_version, char *buf, size_t len)
{
    if (inet_ntop(ip_version == 6 ? AF_INET6 : AF_INET, addr, buf, (socklen_t)len) == NULL)
        snprintf(buf, len, "?");
}

static void set_string(json_t *obj, const char *key, const char *value)
{
    json_object_set_new(obj, key, json_string(value));
}

static void set_uint(json_t *obj, const char *key, uint64_t value)
{
    json_object_set_new(obj, key, json_integer((json_int_t)value));
}

static void set_time(json_t *obj, const char *key, uint64_t ts_ns)
{
    char ts[48];
    eve_format_timestamp(ts_ns, ts, sizeof(ts));
    set_string(obj, key, ts);
}

/* Suricata's tcp object: flags as hex strings plus one boolean per flag. */
static json_t *eve_tcp_object(const struct flow *f)
{
    static const char *const flag_names[8] = { "fin", "syn", "rst", "psh", "ack", "urg", "ecn", "cwr" };
    uint8_t all = f->tcp_flags[FLOW_TOSERVER] | f->tcp_flags[FLOW_TOCLIENT];
    json_t *tcp = json_object();
    char hex[4];

    snprintf(hex, sizeof(hex), "%02x", all);
    set_string(tcp, "tcp_flags", hex);
    snprintf(hex, sizeof(hex), "%02x", f->tcp_flags[FLOW_TOSERVER]);
    set_string(tcp, "tcp_flags_ts", hex);
    snprintf(hex, sizeof(hex), "%02x", f->tcp_flags[FLOW_TOCLIENT]);
    set_string(tcp, "tcp_flags_tc", hex);
    for (unsigned bit = 0; bit < 8; bit++)
        if (all & (1u << bit))
            json_object_set_new(tcp, flag_names[bit], json_true());
    set_string(tcp, "state", tcp_state_name(f->tcp_state));
    return tcp;
}

static void set_vlan(json_t *ev, const uint16_t vlan[2])
{
    if (vlan[0] == 0)
        return;
    json_t *v = json_array();
    json_array_append_new(v, json_integer(vlan[0]));
    if (vlan[1])
        json_array_append_new(v, json_integer(vlan[1]));
    json_object_set_new(ev, "vlan", v);
}

/* Add the 5-tuple as the initiator saw it: src is the client. */
static void eve_add_tuple(json_t *ev, const struct flow *f)
{
    unsigned client = f->initiator, server = !f->initiator;
    char addr[INET6_ADDRSTRLEN], proto[16];

    eve_format_addr(f->key.addr[client], f->key.ip_version, addr, sizeof(addr));
    set_string(ev, "src_ip", addr);
    set_uint(ev, "src_port", f->key.port[client]);
    eve_format_addr(f->key.addr[server], f->key.ip_version, addr, sizeof(addr));
    set_string(ev, "dest_ip", addr);
    set_uint(ev, "dest_port", f->key.port[server]);
    eve_format_proto(f->key.ip_proto, proto, sizeof(proto));
    set_string(ev, "proto", proto);
    set_vlan(ev, f->key.vlan);
}

json_t *eve_flow_event(const struct flow_record *rec, const char *in_iface)
{
    const struct flow *f = &rec->flow;
    json_t *ev = json_object();
    json_t *flow = json_object();

    /* The flow's end time, not the wall clock: a capture replayed offline
     * logs the same records as it did live. */
    set_time(ev, "timestamp", f->last_ts_ns);
    set_uint(ev, "flow_id", flow_id(f));
    if (in_iface != NULL)
        set_string(ev, "in_iface", in_iface);
    set_string(ev, "event_type", "flow");
    eve_add_tuple(ev, f);

    set_uint(flow, "pkts_toserver", f->pkts[FLOW_TOSERVER]);
    set_uint(flow, "pkts_toclient", f->pkts[FLOW_TOCLIENT]);
    set_uint(flow, "bytes_toserver", f->bytes[FLOW_TOSERVER]);
    set_uint(flow, "bytes_toclient", f->bytes[FLOW_TOCLIENT]);
    set_time(flow, "start", f->first_ts_ns);
    set_time(flow, "end", f->last_ts_ns);
    set_uint(flow, "age", (f->last_ts_ns - f->first_ts_ns) / 1000000000ull);
    set_string(flow, "state", flow_state_name(f->state));
    set_string(flow, "reason", flow_end_reason_name(rec->reason));
    json_object_set_new(flow, "alerted", json_false());
    json_object_set_new(ev, "flow", flow);
    if (f->key.ip_proto == 6)
        json_object_set_new(ev, "tcp", eve_tcp_object(f));
    return ev;
}

json_t *eve_alert_event(const struct eve_alert *a, json_t *extra)
{
    json_t *ev = json_object();
    json_t *alert = json_object();
    char addr[INET6_ADDRSTRLEN], proto[16];

    set_time(ev, "timestamp", a->ts_ns);
    if (a->flow_id)
        set_uint(ev, "flow_id", a->flow_id);
    if (a->in_iface != NULL)
        set_string(ev, "in_iface", a->in_iface);
    set_string(ev, "event_type", "alert");
    set_vlan(ev, a->vlan);
    bool ports = a->ip_proto == 6 || a->ip_proto == 17 || a->ip_proto == 132;
    if (a->ip_version && a->src_addr != NULL) {
        eve_format_addr(a->src_addr, a->ip_version, addr, sizeof(addr));
        set_string(ev, "src_ip", addr);
        if (ports)
            set_uint(ev, "src_port", a->src_port);
    }
    if (a->ip_version && a->dst_addr != NULL) {
        eve_format_addr(a->dst_addr, a->ip_version, addr, sizeof(addr));
        set_string(ev, "dest_ip", addr);
        if (ports)
            set_uint(ev, "dest_port", a->dst_port);
    }
    if (a->ip_proto) {
        eve_format_proto(a->ip_proto, proto, sizeof(proto));
        set_string(ev, "proto", proto);
    }
    if (a->direction != NULL)
        set_string(ev, "direction", a->direction);
    /* A passive sensor never blocks: every alert is "allowed" (Suricata's
     * word in IDS mode), drop and reject rules included. */
    set_string(alert, "action", "allowed");
    set_uint(alert, "gid", a->gid);
    set_uint(alert, "signature_id", a->sid);
    set_uint(alert, "rev", a->rev);
    set_string(alert, "signature", a->signature ? a->signature : "");
    set_string(alert, "category", a->category ? a->category : "");
    set_uint(alert, "severity", a->severity);
    json_object_set_new(ev, "alert", alert);
    if (extra != NULL)
        json_object_set_new(ev, "mamori", extra);
    return ev;
}

json_t *eve_signature_alert(const struct alert_record *a, const char *in_iface)
{
    const struct rule *r = a->rule;
    struct eve_alert e = {
        .ts_ns = a->ts_ns, .flow_id = a->flow_id, .in_iface = in_iface,
        .ip_version = a->ip_version, .ip_proto = a->ip_proto,
        .src_addr = a->src_addr, .dst_addr = a->dst_addr,
        .src_port = a->src_port, .dst_port = a->dst_port,
        .vlan = { a->vlan[0], a->vlan[1] },
        .direction = a->flow_id == 0 ? NULL : a->to_server ? "to_server" : "to_client",
        .gid = r->gid, .sid = r->sid, .rev = r->rev,
        .signature = r->msg, .category = r->category, .severity = r->priority,
    };
    return eve_alert_event(&e, NULL);
}

static json_t *anomaly_addr_json(const struct anomaly_addr *a)
{
    char text[INET6_ADDRSTRLEN];
    eve_format_addr(a->addr, a->version, text, sizeof(text));
    return json_string(text);
}

/* The figures behind a statistical alert: what was measured, against what,
 * and who took part. */
static json_t *anomaly_figures(const struct anomaly_alert *a)
{
    json_t *m = json_object(), *top = json_array();

    set_string(m, "detector", anomaly_detector_name(a->detector));
    set_string(m, "phase", anomaly_phase_name(a->phase));
    set_uint(m, "attack_id", a->attack_id);
    set_time(m, "attack_start", a->start_ns);
    set_uint(m, "duration", a->ticks);
    if (a->victim.version)
        json_object_set_new(m, "victim", anomaly_addr_json(&a->victim));
    if (a->attacker.version)
        json_object_set_new(m, "attacker", anomaly_addr_json(&a->attacker));
    if (a->port)
        set_uint(m, "port", a->port);
    set_string(m, "metric", a->metric);
    json_object_set_new(m, "value", json_real(a->value));
    json_object_set_new(m, "threshold", json_real(a->threshold));
    json_object_set_new(m, "baseline_mean", json_real(a->baseline_mean));
    json_object_set_new(m, "baseline_std", json_real(a->baseline_std));
    json_object_set_new(m, "score", json_real(a->score));
    json_object_set_new(m, "pps", json_real(a->pps));
    json_object_set_new(m, "bps", json_real(a->bps));
    json_object_set_new(m, "peak_pps", json_real(a->peak_pps));
    json_object_set_new(m, "peak_bps", json_real(a->peak_bps));
    set_uint(m, "distinct_sources", a->distinct_sources);
    for (unsigned i = 0; i < a->n_top && i < ANOMALY_TOP_SOURCES; i++) {
        json_t *src = json_object();
        json_object_set_new(src, "ip", anomaly_addr_json(&a->top[i].addr));
        set_uint(src, "count", a->top[i].count);
        json_array_append_new(top, src);
    }
    json_object_set_new(m, "top_sources", top);
    return m;
}

json_t *eve_anomaly_alert(const struct anomaly_alert *a, const char *in_iface)
{
    /* src is the attacker when there is one, dest the victim. */
    struct eve_alert e = {
        .ts_ns = a->ts_ns, .in_iface = in_iface,
        .ip_version = a->victim.version ? a->victim.version : a->attacker.version,
        .ip_proto = a->proto,
        .src_addr = a->attacker.version ? a->attacker.addr : NULL,
        .dst_addr = a->victim.version ? a->victim.addr : NULL,
        .dst_port = a->port,
        .gid = a->gid, .sid = a->sid, .rev = a->rev,
        .signature = a->signature, .category = a->category, .severity = a->severity,
    };
    return eve_alert_event(&e, anomaly_figures(a));
}

json_t *eve_stats_event(uint64_t ts_ns, json_t *counters)
{
    json_t *ev = json_object();

    set_time(ev, "timestamp", ts_ns);
    set_string(ev, "event_type", "stats");
    json_object_set_new(ev, "stats", counters);
    return ev;
}

/* The writer (exporters). */

/* The syslog severity of an event: an alert's from its own, others info. */
static int eve_severity(json_t *event)
{
    json_t *alert = json_object_get(event, "alert");
    if (alert == NULL)
        return 6;
    return export_alert_severity((unsigned)json_integer_value(json_object_get(alert, "severity")));
}

int eve_write(struct eve_writer *w, json_t *event)
{
    /* One line per event: compact, no embedded newlines (jansson escapes
     * them inside strings). Formatted into a buffer kept between events. */
    size_t n = json_dumpb(event, w->buf, w->buf_size, JSON_COMPACT);
    if (n > w->buf_size) {
        char *buf = realloc(w->buf, n + 4096);
        if (buf == NULL) {
            w->format_errors++;
            return -1;
        }
        w->buf = buf;
        w->buf_size = n + 4096;
        n = json_dumpb(event, w->buf, w->buf_size, JSON_COMPACT);
    }
    if (n == 0) {
        w->format_errors++;
        return -1;
    }
    struct export_line line = {
        .text = w->buf, .len = n,
        .type = json_string_value(json_object_get(event, "event_type")),
        .severity = eve_severity(event),
    };
    w->events++;
    export_write(w->ex, &line);
    return 0;
}

int eve_flush(struct eve_writer *w)
{
    export_flush(w->ex);
    return 0;
}

int eve_reopen(struct eve_writer *w, char *err, size_t errlen)
{
    return export_reopen(w->ex, err, errlen);
}

bool eve_drain(struct eve_writer *w, unsigned timeout_ms)
{
    return export_drain(w->ex, timeout_ms);
}

void eve_export_counters(const struct eve_writer *w,
                         void (*add)(void *ctx, const char *name, uint64_t value), void *ctx)
{
    export_counters(w->ex, add, ctx);
}

uint64_t eve_events_written(const struct eve_writer *w)
{
    return w->events;
}

/* Lines the EVE file could not take (write errors, or dropped when its
 * buffer was full) and events that could not be formatted. */
uint64_t eve_write_errors(const struct eve_writer *w)
{
    struct export_sink *file = export_find(w->ex, "file");
    struct export_counters c = { 0 };

    if (file != NULL)
        file->ops->counters(file, &c);
    return w->format_errors + c.errors + c.dropped;
}
/* end writer */
