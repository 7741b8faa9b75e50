/* export_syslog.c - the syslog sink: RFC 5424 messages, the EVE JSON line
 * as MSG, one datagram each, to the local syslog socket or a collector's
 * UDP port.
 *
 *   <PRI>1 2024-04-21T10:11:12.123456Z sensor1 mamori 4242 alert - {"timestamp":...}
 *
 * PRI is facility * 8 + severity: alerts take their severity from the
 * alert's (export_alert_severity()), other events the configured one (info
 * by default). MSGID is the event type, so a collector can route alerts
 * without parsing the JSON. The message is framed when the line is queued:
 * its TIMESTAMP is when mamori logged the event, not when the collector
 * came back. */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "export_int.h"

#define SYSLOG_DEFAULT_SOCKET "/dev/log"

struct syslog_sink {
    struct export_sock sock;
    int facility;
    int severity;                /* of events that are not alerts */
    char host[256];
    char ident[49];              /* APP-NAME */
    long pid;
    char *buf;                   /* the framed message */
    size_t buf_size;
};

static const char *const facility_names[24] = {
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
    "authpriv", "ftp", "ntp", "audit", "alert", "clock",
    "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
};

static const char *const severity_names[8] = {
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
};

static int name_index(const char *const *names, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return i;
    return -1;
}

/* RFC 5424 PRINTUSASCII without spaces, at most max characters, "-" when
 * empty. */
static void header_field(char *out, size_t size, const char *in, size_t max)
{
    size_t n = 0;

    for (; *in && n + 1 < size && n < max; in++)
        out[n++] = *in > 32 && *in < 127 ? *in : '_';
    if (n == 0)
        out[n++] = '-';
    out[n] = '\0';
}

size_t export_syslog_format(char *buf, size_t size, int facility, int severity,
                            uint64_t wall_ns, const char *host, const char *app,
                            long pid, const char *msgid, const char *msg, size_t msg_len)
{
    time_t secs = (time_t)(wall_ns / 1000000000ull);
    unsigned usecs = (unsigned)(wall_ns % 1000000000ull / 1000);
    char date[32], h[256], a[49], m[33];
    struct tm tm;

    gmtime_r(&secs, &tm);
    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
    header_field(h, sizeof(h), host, 255);
    header_field(a, sizeof(a), app, 48);
    header_field(m, sizeof(m), msgid, 32);
    int n = snprintf(buf, size, "<%d>1 %s.%06uZ %s %s %ld %s - %.*s",
                     facility * 8 + severity, date, usecs, h, a, pid, m, (int)msg_len, msg);
    return n < 0 ? 0 : (size_t)n;
}

static int syslog_write(struct export_sink *sink, const struct export_line *line)
{
    struct syslog_sink *s = (struct syslog_sink *)sink;
    int severity = line->type && strcmp(line->type, "alert") == 0 ? line->severity : s->severity;
    size_t need = line->len + 400;

    if (need > s->buf_size) {
        char *buf = realloc(s->buf, need);
        if (buf == NULL) {
            s->sock.q.dropped++;
            return -1;
        }
        s->buf = buf;
        s->buf_size = need;
    }
    size_t n = export_syslog_format(s->buf, s->buf_size, s->facility, severity,
                                    export_wall_ns(), s->host, s->ident, s->pid,
                                    line->type ? line->type : "-", line->text, line->len);
    struct export_line framed = { .text = s->buf, .len = n, .type = line->type,
                                  .severity = severity };
    return export_sock_write(sink, &framed);
}

static void syslog_destroy(struct export_sink *sink)
{
    struct syslog_sink *s = (struct syslog_sink *)sink;

    export_sock_release(&s->sock);
    free(s->buf);
    free(s);
}

static const struct export_sink_ops syslog_ops = {
    .write = syslog_write,
    .flush = export_sock_flush,
    .reopen = export_sock_reopen,
    .counters = export_sock_counters,
    .destroy = syslog_destroy,
};

int export_syslog_facility(const char *name)
{
    return name_index(facility_names, 24, name);
}

int export_syslog_severity(const char *name)
{
    return name_index(severity_names, 8, name);
}

/* The local socket at path. */
static int syslog_local(struct export_sock *s, const char *path, char *err, size_t errlen)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };

    if (strlen(path) >= sizeof(sun.sun_path)) {
        snprintf(err, errlen, "syslog: '%s' is longer than a socket path can be", path);
        return -1;
    }
    memcpy(sun.sun_path, path, strlen(path) + 1);
    memcpy(&s->addr, &sun, sizeof(sun));
    s->addrlen = sizeof(sun);
    s->family = AF_UNIX;
    s->type = SOCK_DGRAM;
    return 0;
}

/* A UDP collector. The host is resolved once, here: a lookup later could
 * block the main thread. */
static int syslog_udp(struct export_sock *s, const char *host, unsigned port,
                      char *err, size_t errlen)
{
    char port_text[8];
    struct addrinfo hints = { .ai_socktype = SOCK_DGRAM }, *res;
    int rc;

    if (port == 0 || port > 65535) {
        snprintf(err, errlen, "syslog: port %u is not a UDP port", port);
        return -1;
    }
    snprintf(port_text, sizeof(port_text), "%u", port);
    if ((rc = getaddrinfo(host, port_text, &hints, &res)) != 0) {
        snprintf(err, errlen, "syslog: %s: %s", host, gai_strerror(rc));
        return -1;
    }
    memcpy(&s->addr, res->ai_addr, res->ai_addrlen);
    s->addrlen = res->ai_addrlen;
    s->family = res->ai_family;
    s->type = SOCK_DGRAM;
    freeaddrinfo(res);
    return 0;
}

struct export_sink *export_syslog_open(const struct export_syslog_config *cfg,
                                       char *err, size_t errlen)
{
    struct syslog_sink *s = calloc(1, sizeof(*s));
    const char *server = cfg->server ? cfg->server : "";
    int rc;

    if (s == NULL) {
        snprintf(err, errlen, "syslog: out of memory");
        return NULL;
    }
    if (cfg->facility < 0 || cfg->facility > 23 || cfg->severity < 0 || cfg->severity > 7) {
        snprintf(err, errlen, "syslog: facility %d or severity %d out of range",
                 cfg->facility, cfg->severity);
        free(s);
        return NULL;
    }
    if (server[0] == '\0')
        rc = syslog_local(&s->sock, SYSLOG_DEFAULT_SOCKET, err, errlen);
    else if (server[0] == '/')
        rc = syslog_local(&s->sock, server, err, errlen);
    else
        rc = syslog_udp(&s->sock, server, cfg->port, err, errlen);
    if (rc < 0 || export_sock_init(&s->sock, "syslog", &syslog_ops, cfg->buffer_lines) < 0) {
        if (rc == 0)
            snprintf(err, errlen, "syslog: out of memory");
        free(s);
        return NULL;
    }
    s->facility = cfg->facility;
    s->severity = cfg->severity;
    snprintf(s->ident, sizeof(s->ident), "%s", cfg->ident ? cfg->ident : "mamori");
    if (gethostname(s->host, sizeof(s->host) - 1) != 0)
        s->host[0] = '\0';
    s->pid = (long)getpid();
    return &s->sock.base;
}
