/* export_unix.c - the Unix socket sink, and the client socket it shares
 * with syslog.
 *
 * mamori is the client: a consumer listens at a path (stream or datagram)
 * and mamori connects to it. A consumer that is not there yet, restarts or
 * stops reading costs nothing but buffer space: connects are retried with
 * backoff and lines wait in the bounded queue, the overflow counted. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "export_int.h"

/* Datagrams sent per flush: enough for any burst the loop hands over, and
 * a bound on the time one flush may take. */
#define SOCK_DGRAMS_PER_FLUSH 4096

int export_sock_init(struct export_sock *s, const char *name, const struct export_sink_ops *ops,
                     size_t buffer_lines)
{
    s->base.ops = ops;
    snprintf(s->base.name, sizeof(s->base.name), "%s", name);
    s->fd = -1;
    return export_queue_init(&s->q, buffer_lines ? buffer_lines : EXPORT_DEFAULT_BUFFER_LINES,
                             EXPORT_DEFAULT_BUFFER_BYTES);
}

static void sock_disconnect(struct export_sock *s, uint64_t now)
{
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    /* A stream consumer saw a partial line at most; the next connection
     * gets the whole line again. */
    s->q.head_off = 0;
    s->errors++;
    export_backoff_failed(&s->backoff, now);
}

/* Connect without blocking. A Unix socket connects at once or fails; a UDP
 * socket only records its peer. */
static bool sock_connect(struct export_sock *s, uint64_t now)
{
    s->fd = socket(s->family, s->type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->fd < 0 || connect(s->fd, (struct sockaddr *)&s->addr, s->addrlen) < 0) {
        sock_disconnect(s, now);
        return false;
    }
    return true;
}

/* Whether errno after a send means the peer is gone (reconnect) rather
 * than busy (try later). */
static bool sock_peer_gone(int err)
{
    return err != EAGAIN && err != EWOULDBLOCK && err != EINTR && err != ENOBUFS;
}

static void sock_send_stream(struct export_sock *s, uint64_t now)
{
    while (s->q.count > 0) {
        ssize_t n = export_queue_writev(&s->q, s->fd, true);
        if (n < 0) {
            if (sock_peer_gone(errno))
                sock_disconnect(s, now);
            return;
        }
        s->written += (uint64_t)n;
    }
}

static void sock_send_dgrams(struct export_sock *s, uint64_t now)
{
    for (unsigned sent = 0; s->q.count > 0 && sent < SOCK_DGRAMS_PER_FLUSH; sent++) {
        struct export_item *it = export_queue_at(&s->q, 0);
        if (send(s->fd, it->text, it->len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
            if (errno == EMSGSIZE) {
                /* Larger than a datagram can be: no retry will help. */
                s->errors++;
                s->q.dropped++;
                export_queue_pop(&s->q);
                continue;
            }
            if (sock_peer_gone(errno))
                sock_disconnect(s, now);
            return;
        }
        export_queue_pop(&s->q);
        s->written++;
    }
}

void export_sock_flush(struct export_sink *sink)
{
    struct export_sock *s = (struct export_sock *)sink;

    if (s->q.count == 0)
        return;
    uint64_t now = export_mono_ns();
    if (s->fd < 0 && (!export_backoff_due(&s->backoff, now) || !sock_connect(s, now)))
        return;
    if (s->type == SOCK_STREAM)
        sock_send_stream(s, now);
    else
        sock_send_dgrams(s, now);
    if (s->fd >= 0)
        export_backoff_reset(&s->backoff);
}

int export_sock_write(struct export_sink *sink, const struct export_line *line)
{
    struct export_sock *s = (struct export_sock *)sink;

    if (export_queue_push(&s->q, line->text, line->len, line->severity) < 0)
        return -1;
    /* Half full: deliver now rather than at the loop's next flush. */
    if (s->q.count >= s->q.cap / 2)
        export_sock_flush(sink);
    return 0;
}

int export_sock_reopen(struct export_sink *sink, char *err, size_t errlen)
{
    struct export_sock *s = (struct export_sock *)sink;

    (void)err;
    (void)errlen;
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    s->q.head_off = 0;
    export_backoff_reset(&s->backoff);
    return 0;
}

void export_sock_counters(const struct export_sink *sink, struct export_counters *c)
{
    const struct export_sock *s = (const struct export_sock *)sink;

    c->written = s->written;
    c->dropped = s->q.dropped;
    c->errors = s->errors;
    c->buffered = s->q.count;
}

void export_sock_release(struct export_sock *s)
{
    export_backoff_reset(&s->backoff);
    export_sock_flush(&s->base);
    export_queue_drop_all(&s->q);
    export_queue_free(&s->q);
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
}

static void unix_destroy(struct export_sink *sink)
{
    export_sock_release((struct export_sock *)sink);
    free(sink);
}

static const struct export_sink_ops unix_ops = {
    .write = export_sock_write,
    .flush = export_sock_flush,
    .reopen = export_sock_reopen,
    .counters = export_sock_counters,
    .destroy = unix_destroy,
};

struct export_sink *export_unix_open(const struct export_unix_config *cfg,
                                     char *err, size_t errlen)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };

    if (cfg->path == NULL || cfg->path[0] == '\0' || strlen(cfg->path) >= sizeof(sun.sun_path)) {
        snprintf(err, errlen, "unix socket: '%s' is not a socket path (at most %zu characters)",
                 cfg->path ? cfg->path : "", sizeof(sun.sun_path) - 1);
        return NULL;
    }
    memcpy(sun.sun_path, cfg->path, strlen(cfg->path) + 1);

    struct export_sock *s = calloc(1, sizeof(*s));
    if (s == NULL || export_sock_init(s, "unix", &unix_ops, cfg->buffer_lines) < 0) {
        free(s);
        snprintf(err, errlen, "unix socket: out of memory");
        return NULL;
    }
    s->family = AF_UNIX;
    s->type = cfg->dgram ? SOCK_DGRAM : SOCK_STREAM;
    memcpy(&s->addr, &sun, sizeof(sun));
    s->addrlen = sizeof(sun);
    return &s->base;
}
