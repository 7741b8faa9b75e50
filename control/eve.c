/* eve.c - EVE JSON events: formatting (jansson) and the log file. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "eve.h"

struct eve_writer {
    FILE *file;
    char *path;
    uint64_t written;
    uint64_t errors;
};

struct eve_writer *eve_open(const char *path, char *err, size_t errlen)
{
    struct eve_writer *w = calloc(1, sizeof(*w));

    if (w == NULL || (w->path = strdup(path)) == NULL) {
        snprintf(err, errlen, "%s: out of memory", path);
        free(w);
        return NULL;
    }
    w->file = fopen(path, "a");
    if (w->file == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        free(w->path);
        free(w);
        return NULL;
    }
    return w;
}

void eve_close(struct eve_writer *w)
{
    if (w == NULL)
        return;
    if (fclose(w->file) != 0)
        w->errors++;
    free(w->path);
    free(w);
}

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
    if (f->key.vlan[0]) {
        json_t *vlan = json_array();
        json_array_append_new(vlan, json_integer(f->key.vlan[0]));
        if (f->key.vlan[1])
            json_array_append_new(vlan, json_integer(f->key.vlan[1]));
        json_object_set_new(ev, "vlan", vlan);
    }
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

json_t *eve_stats_event(uint64_t ts_ns, json_t *counters)
{
    json_t *ev = json_object();

    set_time(ev, "timestamp", ts_ns);
    set_string(ev, "event_type", "stats");
    json_object_set_new(ev, "stats", counters);
    return ev;
}

int eve_write(struct eve_writer *w, json_t *event)
{
    /* One line per event: compact, no embedded newlines (jansson escapes
     * them inside strings). */
    if (json_dumpf(event, w->file, JSON_COMPACT) != 0 || fputc('\n', w->file) == EOF) {
        w->errors++;
        return -1;
    }
    w->written++;
    return 0;
}

int eve_flush(struct eve_writer *w)
{
    if (fflush(w->file) != 0) {
        w->errors++;
        return -1;
    }
    return 0;
}

uint64_t eve_events_written(const struct eve_writer *w)
{
    return w->written;
}

uint64_t eve_write_errors(const struct eve_writer *w)
{
    return w->errors;
}
