/* export.c - the fan-out of EVE lines to sinks, and what sinks share: the
 * bounded queue, the backoff, the option parsing. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "export_int.h"

struct export {
    struct export_sink **sinks;
    unsigned n;
};

struct export *export_create(void)
{
    return calloc(1, sizeof(struct export));
}

int export_add(struct export *ex, struct export_sink *sink)
{
    struct export_sink **sinks = realloc(ex->sinks, (ex->n + 1) * sizeof(*sinks));

    if (sinks == NULL) {
        sink->ops->destroy(sink);
        return -1;
    }
    sinks[ex->n++] = sink;
    ex->sinks = sinks;
    return 0;
}

unsigned export_count(const struct export *ex)
{
    return ex->n;
}

struct export_sink *export_sink_at(const struct export *ex, unsigned i)
{
    return i < ex->n ? ex->sinks[i] : NULL;
}

struct export_sink *export_find(const struct export *ex, const char *name)
{
    for (unsigned i = 0; i < ex->n; i++)
        if (strcmp(ex->sinks[i]->name, name) == 0)
            return ex->sinks[i];
    return NULL;
}

unsigned export_write(struct export *ex, const struct export_line *line)
{
    unsigned dropped = 0;

    for (unsigned i = 0; i < ex->n; i++)
        if (ex->sinks[i]->ops->write(ex->sinks[i], line) < 0)
            dropped++;
    return dropped;
}

void export_flush(struct export *ex)
{
    for (unsigned i = 0; i < ex->n; i++)
        ex->sinks[i]->ops->flush(ex->sinks[i]);
}

int export_reopen(struct export *ex, char *err, size_t errlen)
{
    int rc = 0;
    char why[512];

    for (unsigned i = 0; i < ex->n; i++) {
        if (ex->sinks[i]->ops->reopen(ex->sinks[i], why, sizeof(why)) < 0 && rc == 0) {
            snprintf(err, errlen, "%s", why);
            rc = -1;
        }
    }
    return rc;
}

static uint64_t export_buffered(const struct export *ex)
{
    uint64_t n = 0;

    for (unsigned i = 0; i < ex->n; i++) {
        struct export_counters c = { 0 };
        ex->sinks[i]->ops->counters(ex->sinks[i], &c);
        n += c.buffered;
    }
    return n;
}

bool export_drain(struct export *ex, unsigned timeout_ms)
{
    uint64_t deadline = export_mono_ns() + (uint64_t)timeout_ms * 1000000ull;

    for (;;) {
        export_flush(ex);
        if (export_buffered(ex) == 0)
            return true;
        if (export_mono_ns() >= deadline)
            return false;
        struct timespec pause = { 0, 5000000 };   /* 5 ms: a reconnect or a reply */
        nanosleep(&pause, NULL);
    }
}

void export_counters(const struct export *ex,
                     void (*add)(void *ctx, const char *name, uint64_t value), void *ctx)
{
    char name[64];

    for (unsigned i = 0; i < ex->n; i++) {
        struct export_counters c = { 0 };
        const char *sink = ex->sinks[i]->name;

        ex->sinks[i]->ops->counters(ex->sinks[i], &c);
        snprintf(name, sizeof(name), "export.%s.written", sink);
        add(ctx, name, c.written);
        snprintf(name, sizeof(name), "export.%s.dropped", sink);
        add(ctx, name, c.dropped);
        snprintf(name, sizeof(name), "export.%s.errors", sink);
        add(ctx, name, c.errors);
        snprintf(name, sizeof(name), "export.%s.buffered", sink);
        add(ctx, name, c.buffered);
    }
}

void export_destroy(struct export *ex)
{
    if (ex == NULL)
        return;
    for (unsigned i = 0; i < ex->n; i++) {
        struct export_sink *s = ex->sinks[i];
        struct export_counters c = { 0 };
        /* What a sink still holds now is lost (and counted as dropped):
         * said here, after the summary that showed it as buffered. */
        s->ops->flush(s);
        s->ops->counters(s, &c);
        if (c.buffered > 0)
            fprintf(stderr, "mamori: %s sink: %llu events undelivered at exit, dropped\n",
                    s->name, (unsigned long long)c.buffered);
        s->ops->destroy(s);
    }
    free(ex->sinks);
    free(ex);
}

int export_alert_severity(unsigned sev)
{
    switch (sev) {
    case 1: return 2;    /* crit */
    case 2: return 3;    /* err */
    case 3: return 4;    /* warning */
    default: return 5;   /* notice */
    }
}

/* The queue. */

int export_queue_init(struct export_queue *q, size_t max_lines, size_t max_bytes)
{
    memset(q, 0, sizeof(*q));
    q->cap = max_lines ? max_lines : 1;
    q->max_bytes = max_bytes;
    q->items = calloc(q->cap, sizeof(*q->items));
    return q->items ? 0 : -1;
}

int export_queue_push(struct export_queue *q, const char *text, size_t len, int severity)
{
    if (q->count == q->cap || q->bytes + len + 1 > q->max_bytes || len > UINT32_MAX) {
        q->dropped++;
        return -1;
    }
    char *copy = malloc(len + 1);
    if (copy == NULL) {
        q->dropped++;
        return -1;
    }
    memcpy(copy, text, len);
    copy[len] = '\n';
    struct export_item *it = &q->items[(q->head + q->count) % q->cap];
    it->text = copy;
    it->len = (uint32_t)len;
    it->severity = severity;
    q->count++;
    q->bytes += len + 1;
    return 0;
}

struct export_item *export_queue_at(struct export_queue *q, size_t i)
{
    return &q->items[(q->head + i) % q->cap];
}

void export_queue_pop(struct export_queue *q)
{
    struct export_item *it = &q->items[q->head];

    q->bytes -= it->len + 1;
    free(it->text);
    it->text = NULL;
    q->head = (q->head + 1) % q->cap;
    q->count--;
    q->head_off = 0;
}

void export_queue_drop_all(struct export_queue *q)
{
    while (q->count > 0) {
        export_queue_pop(q);
        q->dropped++;
    }
}

void export_queue_free(struct export_queue *q)
{
    while (q->count > 0)
        export_queue_pop(q);
    free(q->items);
    q->items = NULL;
}

ssize_t export_queue_writev(struct export_queue *q, int fd, bool socket)
{
    struct iovec iov[64];
    int n = 0;

    for (size_t i = 0; i < q->count && n < 64; i++, n++) {
        struct export_item *it = export_queue_at(q, i);
        size_t skip = i == 0 ? q->head_off : 0;
        iov[n].iov_base = it->text + skip;
        iov[n].iov_len = it->len + 1 - skip;
    }
    if (n == 0)
        return 0;
    /* A socket whose peer has gone must not raise SIGPIPE: the sink counts
     * the error and reconnects. */
    struct msghdr msg = { .msg_iov = iov, .msg_iovlen = (size_t)n };
    ssize_t w = socket ? sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) : writev(fd, iov, n);
    if (w < 0)
        return -1;
    /* Pop the lines written whole; remember how far into the next one. */
    size_t left = (size_t)w;
    ssize_t lines = 0;
    while (q->count > 0) {
        size_t rest = export_queue_at(q, 0)->len + 1 - q->head_off;
        if (left < rest) {
            q->head_off += left;
            break;
        }
        left -= rest;
        export_queue_pop(q);
        lines++;
    }
    return lines;
}

/* Backoff and clocks. */

bool export_backoff_due(const struct export_backoff *b, uint64_t now_ns)
{
    return now_ns >= b->next_ns;
}

void export_backoff_failed(struct export_backoff *b, uint64_t now_ns)
{
    b->delay_ns = b->delay_ns == 0 ? EXPORT_BACKOFF_MIN_NS : b->delay_ns * 2;
    if (b->delay_ns > EXPORT_BACKOFF_MAX_NS)
        b->delay_ns = EXPORT_BACKOFF_MAX_NS;
    b->next_ns = now_ns + b->delay_ns;
}

void export_backoff_reset(struct export_backoff *b)
{
    b->delay_ns = 0;
    b->next_ns = 0;
}

uint64_t export_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t export_wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int export_set_nonblock(int fd)
{
    int flags = fcntl(fd, F_GETFL);

    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
        return -1;
    return fcntl(fd, F_SETFD, FD_CLOEXEC);
}

/* Option specs. */

bool export_spec_next(const char **cursor, char *part, size_t size)
{
    const char *s = *cursor;

    if (s == NULL || *s == '\0')
        return false;
    const char *comma = strchr(s, ',');
    size_t len = comma ? (size_t)(comma - s) : strlen(s);
    snprintf(part, size, "%.*s", (int)len, s);
    *cursor = comma ? comma + 1 : s + len;
    return true;
}

const char *export_spec_value(const char *part, const char *name)
{
    size_t n = strlen(name);
    return strncmp(part, name, n) == 0 && part[n] == '=' ? part + n + 1 : NULL;
}

int export_parse_number(const char *opt, const char *key, const char *text,
                        unsigned long min, unsigned long max, unsigned long *out,
                        char *err, size_t errlen)
{
    char *end;

    errno = 0;
    unsigned long v = strtoul(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || v < min || v > max) {
        snprintf(err, errlen, "%s: %s '%s' is not a whole number from %lu to %lu",
                 opt, key, text, min, max);
        return -1;
    }
    *out = v;
    return 0;
}

int export_parse_hostport(const char *opt, const char *text, const char *default_host,
                          char *host, size_t hostlen, unsigned *port, char *err, size_t errlen)
{
    const char *colon = strrchr(text, ':'), *port_text;
    unsigned long v;
    size_t len;

    if (text[0] == '[') {
        /* [IPv6]:PORT */
        const char *close = strchr(text, ']');
        if (close == NULL || close[1] != ':') {
            snprintf(err, errlen, "%s: '%s' is not [ADDRESS]:PORT", opt, text);
            return -1;
        }
        len = (size_t)(close - text - 1);
        text++;
        port_text = close + 2;
    } else if (colon != NULL && strchr(text, ':') == colon) {
        len = (size_t)(colon - text);
        port_text = colon + 1;
    } else if (colon == NULL && default_host != NULL) {
        len = 0;
        port_text = text;
    } else {
        snprintf(err, errlen, "%s: '%s' is not HOST:PORT%s", opt, text,
                 colon ? " (an IPv6 address goes in brackets: [::1]:PORT)" : "");
        return -1;
    }
    if (len == 0 && default_host == NULL) {
        snprintf(err, errlen, "%s: '%s' names no host", opt, text);
        return -1;
    }
    if (len >= hostlen) {
        snprintf(err, errlen, "%s: host name too long", opt);
        return -1;
    }
    if (len == 0)
        snprintf(host, hostlen, "%s", default_host);
    else
        snprintf(host, hostlen, "%.*s", (int)len, text);
    if (export_parse_number(opt, "port", port_text, 1, 65535, &v, err, errlen) < 0)
        return -1;
    *port = (unsigned)v;
    return 0;
}
