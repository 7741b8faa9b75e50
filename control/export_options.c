/* export_options.c - --syslog, --unix-socket, --redis and --metrics onto
 * struct mamori_outputs, and the sinks made from it.
 *
 * The command line and the configuration file's outputs keys fill the same
 * fields, so one set-up path serves both. A field the configuration left
 * at zero takes the exporter's default (facility 0, kern, is the kernel's
 * and means local5 here; severity 0 means info). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export_int.h"
#include "export_options.h"

#define DEFAULT_FACILITY 21          /* local5, as Suricata */
#define DEFAULT_SEVERITY 6           /* info */
#define DEFAULT_SYSLOG_PORT 514

/* A copy of text[0..len) that lives as long as the options. */
static const char *keep(struct mamori_options *o, const char *text, size_t len)
{
    return options_keep_string(o, text, len);
}

static int out_of_memory(const char *opt, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s: out of memory", opt);
    return -1;
}

/* HOST:PORT into a kept host and a port. */
static int host_port(struct mamori_options *o, const char *opt, const char *text,
                     const char *default_host, const char **host, unsigned *port,
                     char *err, size_t errlen)
{
    char h[256];

    if (export_parse_hostport(opt, text, default_host, h, sizeof(h), port, err, errlen) < 0)
        return -1;
    if ((*host = keep(o, h, strlen(h))) == NULL)
        return out_of_memory(opt, err, errlen);
    return 0;
}

/* --syslog [unix:PATH|udp:HOST:PORT][,facility=NAME][,severity=NAME] */
static int syslog_option(struct mamori_options *o, const char *arg, char *err, size_t errlen)
{
    const char *cursor = arg ? arg : "", *v;
    char part[512];
    int n;

    o->outputs.syslog.enabled = true;
    while (export_spec_next(&cursor, part, sizeof(part))) {
        if (strncmp(part, "unix:", 5) == 0) {
            const char *path = strcmp(part + 5, "/dev/log") == 0 ? "" : part + 5;
            if (part[5] != '/') {
                snprintf(err, errlen, "--syslog: '%s' is not an absolute socket path", part + 5);
                return -1;
            }
            if ((o->outputs.syslog.server = keep(o, path, strlen(path))) == NULL)
                return out_of_memory("--syslog", err, errlen);
        } else if (strncmp(part, "udp:", 4) == 0) {
            if (host_port(o, "--syslog", part + 4, NULL, &o->outputs.syslog.server,
                          &o->outputs.syslog.port, err, errlen) < 0)
                return -1;
        } else if ((v = export_spec_value(part, "facility")) != NULL) {
            if ((n = export_syslog_facility(v)) < 0) {
                snprintf(err, errlen, "--syslog: facility '%s' is unknown (user, daemon, "
                         "local0 ... local7, ...)", v);
                return -1;
            }
            o->outputs.syslog.facility = (unsigned)n;
        } else if ((v = export_spec_value(part, "severity")) != NULL) {
            if ((n = export_syslog_severity(v)) < 0) {
                snprintf(err, errlen, "--syslog: severity '%s' is unknown (emerg, alert, crit, "
                         "err, warning, notice, info, debug)", v);
                return -1;
            }
            o->outputs.syslog.severity = (unsigned)n;
        } else {
            snprintf(err, errlen, "--syslog: '%s' is unknown (unix:PATH, udp:HOST:PORT, "
                     "facility=NAME or severity=NAME)", part);
            return -1;
        }
    }
    return 0;
}

/* --unix-socket PATH[,stream|dgram] */
static int unix_option(struct mamori_options *o, const char *arg, char *err, size_t errlen)
{
    const char *cursor = arg;
    char part[512];

    if (!export_spec_next(&cursor, part, sizeof(part)) || part[0] == '\0') {
        snprintf(err, errlen, "--unix-socket: '%s' names no socket path", arg);
        return -1;
    }
    if ((o->outputs.unix_socket.path = keep(o, part, strlen(part))) == NULL)
        return out_of_memory("--unix-socket", err, errlen);
    while (export_spec_next(&cursor, part, sizeof(part))) {
        if (strcmp(part, "stream") == 0) {
            o->outputs.unix_socket.type = SOCKET_STREAM;
        } else if (strcmp(part, "dgram") == 0) {
            o->outputs.unix_socket.type = SOCKET_DGRAM;
        } else {
            snprintf(err, errlen, "--unix-socket: '%s' is neither stream nor dgram", part);
            return -1;
        }
    }
    o->outputs.unix_socket.enabled = true;
    return 0;
}

/* --redis HOST:PORT[,list|channel|stream][,key=NAME][,maxlen=N][,buffer=N] */
static int redis_option(struct mamori_options *o, const char *arg, char *err, size_t errlen)
{
    const char *cursor = arg, *v;
    char part[512];
    unsigned long n;

    if (!export_spec_next(&cursor, part, sizeof(part)) ||
        host_port(o, "--redis", part, NULL, &o->outputs.redis.server, &o->outputs.redis.port,
                  err, errlen) < 0)
        return -1;
    while (export_spec_next(&cursor, part, sizeof(part))) {
        if (strcmp(part, "list") == 0) {
            o->outputs.redis.mode = REDIS_LIST;
        } else if (strcmp(part, "channel") == 0) {
            o->outputs.redis.mode = REDIS_CHANNEL;
        } else if (strcmp(part, "stream") == 0) {
            o->outputs.redis.mode = REDIS_STREAM;
        } else if ((v = export_spec_value(part, "key")) != NULL) {
            if (*v == '\0' || (o->outputs.redis.key = keep(o, v, strlen(v))) == NULL) {
                snprintf(err, errlen, "--redis: key '%s' is empty or too long", v);
                return -1;
            }
        } else if ((v = export_spec_value(part, "maxlen")) != NULL) {
            if (export_parse_number("--redis", "maxlen", v, 1, 1ul << 40, &n, err, errlen) < 0)
                return -1;
            o->outputs.redis.stream_maxlen = n;
        } else if ((v = export_spec_value(part, "buffer")) != NULL) {
            if (export_parse_number("--redis", "buffer", v, 1, 1u << 24, &n, err, errlen) < 0)
                return -1;
            o->outputs.redis.buffer = n;
        } else {
            snprintf(err, errlen, "--redis: '%s' is unknown (list, channel, stream, key=NAME, "
                     "maxlen=N or buffer=N)", part);
            return -1;
        }
    }
    o->outputs.redis.enabled = true;
    return 0;
}

int export_option(struct mamori_options *o, const char *opt, const char *arg,
                  char *err, size_t errlen)
{
    if (strcmp(opt, "--syslog") == 0)
        return syslog_option(o, arg, err, errlen);
    if (strcmp(opt, "--unix-socket") == 0)
        return unix_option(o, arg, err, errlen);
    if (strcmp(opt, "--redis") == 0)
        return redis_option(o, arg, err, errlen);
    if (strcmp(opt, "--metrics") == 0) {
        /* Loopback unless an address is given. */
        if (host_port(o, "--metrics", arg, "127.0.0.1", &o->outputs.prometheus.address,
                      &o->outputs.prometheus.port, err, errlen) < 0)
            return -1;
        o->outputs.prometheus.enabled = true;
        return 0;
    }
    snprintf(err, errlen, "%s: not an exporter option", opt);
    return -1;
}

/* Add a sink just opened (NULL: err says why). */
static int add_sink(struct export *ex, struct export_sink *sink, char *err, size_t errlen)
{
    if (sink == NULL)
        return -1;
    if (export_add(ex, sink) < 0) {
        snprintf(err, errlen, "exporters: out of memory");   /* sink destroyed */
        return -1;
    }
    return 0;
}

int export_add_configured(struct export *ex, const struct mamori_outputs *out,
                          char *err, size_t errlen)
{
    if (out->syslog.enabled) {
        struct export_syslog_config c = {
            .server = out->syslog.server,
            .port = out->syslog.port ? out->syslog.port : DEFAULT_SYSLOG_PORT,
            .facility = out->syslog.facility ? (int)out->syslog.facility : DEFAULT_FACILITY,
            .severity = out->syslog.severity ? (int)out->syslog.severity : DEFAULT_SEVERITY,
            .ident = out->syslog.identity,
        };
        if (add_sink(ex, export_syslog_open(&c, err, errlen), err, errlen) < 0)
            return -1;
    }
    if (out->unix_socket.enabled) {
        struct export_unix_config c = {
            .path = out->unix_socket.path, .dgram = out->unix_socket.type == SOCKET_DGRAM,
        };
        if (add_sink(ex, export_unix_open(&c, err, errlen), err, errlen) < 0)
            return -1;
    }
    if (out->redis.enabled) {
        struct export_redis_config c = {
            .host = out->redis.server, .port = out->redis.port, .key = out->redis.key,
            .mode = out->redis.mode == REDIS_CHANNEL ? EXPORT_REDIS_CHANNEL
                  : out->redis.mode == REDIS_STREAM ? EXPORT_REDIS_STREAM : EXPORT_REDIS_LIST,
            .maxlen = out->redis.stream_maxlen, .buffer_lines = (size_t)out->redis.buffer,
        };
        if (add_sink(ex, export_redis_open(&c, err, errlen), err, errlen) < 0)
            return -1;
    }
    return 0;
}

bool export_metrics_address(const struct mamori_outputs *out, char *buf, size_t size)
{
    const char *a = out->prometheus.address && out->prometheus.address[0]
                        ? out->prometheus.address : "127.0.0.1";

    if (!out->prometheus.enabled)
        return false;
    /* An IPv6 address goes in brackets, as export_parse_hostport() reads it. */
    snprintf(buf, size, strchr(a, ':') ? "[%s]:%u" : "%s:%u", a, out->prometheus.port);
    return true;
}
