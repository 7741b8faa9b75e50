/* export_redis.c - the Redis sink (hiredis): RPUSH to a list, PUBLISH to a
 * channel, or XADD to a capped stream.
 *
 * It runs on the main thread like the other sinks, on a non-blocking
 * hiredis context that the loop's flush drives by hand: connect (checked
 * with a zero-timeout poll), append commands, write what the socket takes,
 * read what replies have come. Nothing waits on the server, so a slow or
 * dead Redis costs buffer space and never a stall; a thread of its own
 * would add locking around the queue and gain nothing, since every step is
 * already non-blocking. The host name is resolved once at start for the
 * same reason: a lookup at reconnect could block.
 *
 * Delivery is at least once, counted when acknowledged: a line stays queued
 * until its reply arrives, commands are pipelined (at most REDIS_INFLIGHT
 * awaiting replies), and when the connection drops every unacknowledged
 * line is sent again on the next one, reconnecting with exponential
 * backoff. An error reply (wrong type, out of memory) counts the line as
 * dropped: resending would fail the same way. */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <hiredis/hiredis.h>

#include "export_int.h"

#define REDIS_DEFAULT_KEY "mamori"
#define REDIS_DEFAULT_MAXLEN 100000
#define REDIS_INFLIGHT 1024
/* A connect not finished after this is given up (and retried). */
#define REDIS_CONNECT_TIMEOUT_NS 5000000000ull

struct redis_sink {
    struct export_sink base;
    char host[64];               /* numeric, resolved at start */
    int port;
    enum export_redis_mode mode;
    char key[256];
    char maxlen[24];             /* XADD's MAXLEN ~ N */
    redisContext *ctx;           /* NULL: not connected */
    bool connecting;
    uint64_t connect_ns;
    size_t inflight;             /* queued lines sent, reply pending */
    struct export_queue q;
    struct export_backoff backoff;
    uint64_t written, errors;
};

static void redis_disconnect(struct redis_sink *r, uint64_t now)
{
    if (r->ctx != NULL)
        redisFree(r->ctx);
    r->ctx = NULL;
    r->connecting = false;
    r->inflight = 0;             /* unacknowledged lines go again */
    r->errors++;
    export_backoff_failed(&r->backoff, now);
}

static void redis_connect(struct redis_sink *r, uint64_t now)
{
    r->ctx = redisConnectNonBlock(r->host, r->port);
    if (r->ctx == NULL || r->ctx->err) {
        redis_disconnect(r, now);
        return;
    }
    r->connecting = true;
    r->connect_ns = now;
}

/* Whether the non-blocking connect has finished; a failed one disconnects. */
static bool redis_connected(struct redis_sink *r, uint64_t now)
{
    struct pollfd p = { .fd = r->ctx->fd, .events = POLLOUT };
    int soerr = 0;
    socklen_t len = sizeof(soerr);

    if (!r->connecting)
        return true;
    if (poll(&p, 1, 0) == 0) {
        if (now - r->connect_ns > REDIS_CONNECT_TIMEOUT_NS)
            redis_disconnect(r, now);
        return false;
    }
    if (getsockopt(r->ctx->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0 || soerr != 0 ||
        (p.revents & (POLLERR | POLLHUP))) {
        redis_disconnect(r, now);
        return false;
    }
    r->connecting = false;
    export_backoff_reset(&r->backoff);
    return true;
}

/* Append the command for one line to the output buffer; false when hiredis
 * could not (no memory): the line is tried again later. */
static bool redis_append(struct redis_sink *r, const struct export_item *it)
{
    const char *argv[8];         /* XADD key MAXLEN ~ N * eve LINE */
    size_t lens[8];
    int argc = 0;

    switch (r->mode) {
    case EXPORT_REDIS_LIST:
        argv[argc++] = "RPUSH";
        break;
    case EXPORT_REDIS_CHANNEL:
        argv[argc++] = "PUBLISH";
        break;
    case EXPORT_REDIS_STREAM:
        argv[argc++] = "XADD";
        break;
    }
    argv[argc++] = r->key;
    if (r->mode == EXPORT_REDIS_STREAM) {
        argv[argc++] = "MAXLEN";
        argv[argc++] = "~";
        argv[argc++] = r->maxlen;
        argv[argc++] = "*";
        argv[argc++] = "eve";
    }
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    argv[argc] = it->text;
    lens[argc++] = it->len;
    return redisAppendCommandArgv(r->ctx, argc, argv, lens) == REDIS_OK;
}

/* Take the replies that have arrived: each acknowledges the head line. */
static bool redis_take_replies(struct redis_sink *r)
{
    while (r->inflight > 0) {
        void *reply = NULL;
        if (redisGetReplyFromReader(r->ctx, &reply) != REDIS_OK)
            return false;
        if (reply == NULL)
            return true;
        if (((redisReply *)reply)->type == REDIS_REPLY_ERROR) {
            r->errors++;
            r->q.dropped++;
        } else {
            r->written++;
        }
        freeReplyObject(reply);
        export_queue_pop(&r->q);
        r->inflight--;
    }
    return true;
}

static void redis_flush(struct export_sink *s)
{
    struct redis_sink *r = (struct redis_sink *)s;
    int done;

    if (r->q.count == 0)
        return;
    uint64_t now = export_mono_ns();
    if (r->ctx == NULL) {
        if (!export_backoff_due(&r->backoff, now))
            return;
        redis_connect(r, now);
        if (r->ctx == NULL)
            return;
    }
    if (!redis_connected(r, now))
        return;
    /* Replies first: a server that answered and then went away has its
     * acknowledgements taken before a write finds the connection closed. */
    bool ok = r->inflight == 0 || redisBufferRead(r->ctx) == REDIS_OK;
    if (!redis_take_replies(r) || !ok) {
        redis_disconnect(r, now);
        return;
    }
    while (r->inflight < r->q.count && r->inflight < REDIS_INFLIGHT &&
           redis_append(r, export_queue_at(&r->q, r->inflight)))
        r->inflight++;
    if (redisBufferWrite(r->ctx, &done) != REDIS_OK)
        redis_disconnect(r, now);
}

static int redis_write(struct export_sink *s, const struct export_line *line)
{
    struct redis_sink *r = (struct redis_sink *)s;

    if (export_queue_push(&r->q, line->text, line->len, line->severity) < 0)
        return -1;
    if (r->q.count >= r->q.cap / 2)
        redis_flush(s);
    return 0;
}

static int redis_reopen(struct export_sink *s, char *err, size_t errlen)
{
    struct redis_sink *r = (struct redis_sink *)s;

    (void)err;
    (void)errlen;
    if (r->ctx != NULL)
        redisFree(r->ctx);
    r->ctx = NULL;
    r->connecting = false;
    r->inflight = 0;
    export_backoff_reset(&r->backoff);
    return 0;
}

static void redis_counters(const struct export_sink *s, struct export_counters *c)
{
    const struct redis_sink *r = (const struct redis_sink *)s;

    c->written = r->written;
    c->dropped = r->q.dropped;
    c->errors = r->errors;
    c->buffered = r->q.count;
}

static void redis_destroy(struct export_sink *s)
{
    struct redis_sink *r = (struct redis_sink *)s;

    if (r->ctx != NULL)
        redisFree(r->ctx);
    export_queue_drop_all(&r->q);
    export_queue_free(&r->q);
    free(r);
}

static const struct export_sink_ops redis_ops = {
    .write = redis_write,
    .flush = redis_flush,
    .reopen = redis_reopen,
    .counters = redis_counters,
    .destroy = redis_destroy,
};

/* HOST to a numeric address, once. */
static int redis_resolve(struct redis_sink *r, const char *host, char *err, size_t errlen)
{
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;
    int rc = getaddrinfo(host, NULL, &hints, &res);

    if (rc != 0) {
        snprintf(err, errlen, "redis: %s: %s", host, gai_strerror(rc));
        return -1;
    }
    rc = getnameinfo(res->ai_addr, res->ai_addrlen, r->host, sizeof(r->host), NULL, 0,
                     NI_NUMERICHOST);
    freeaddrinfo(res);
    if (rc != 0) {
        snprintf(err, errlen, "redis: %s: %s", host, gai_strerror(rc));
        return -1;
    }
    return 0;
}

struct export_sink *export_redis_open(const struct export_redis_config *cfg,
                                      char *err, size_t errlen)
{
    const char *key = cfg->key && cfg->key[0] ? cfg->key : REDIS_DEFAULT_KEY;
    struct redis_sink *r;

    if (cfg->host == NULL || cfg->host[0] == '\0' || cfg->port == 0 || cfg->port > 65535) {
        snprintf(err, errlen, "redis: '%s' port %u is no server address",
                 cfg->host ? cfg->host : "", cfg->port);
        return NULL;
    }
    if (strlen(key) >= sizeof(r->key)) {
        snprintf(err, errlen, "redis: key '%s' is too long", key);
        return NULL;
    }
    if ((r = calloc(1, sizeof(*r))) == NULL) {
        snprintf(err, errlen, "redis: out of memory");
        return NULL;
    }
    if (redis_resolve(r, cfg->host, err, errlen) < 0) {
        free(r);
        return NULL;
    }
    if (export_queue_init(&r->q, cfg->buffer_lines ? cfg->buffer_lines : EXPORT_DEFAULT_BUFFER_LINES,
                          EXPORT_DEFAULT_BUFFER_BYTES) < 0) {
        snprintf(err, errlen, "redis: out of memory");
        free(r);
        return NULL;
    }
    r->base.ops = &redis_ops;
    snprintf(r->base.name, sizeof(r->base.name), "redis");
    r->port = (int)cfg->port;
    r->mode = cfg->mode;
    snprintf(r->key, sizeof(r->key), "%s", key);
    snprintf(r->maxlen, sizeof(r->maxlen), "%llu",
             (unsigned long long)(cfg->maxlen ? cfg->maxlen : REDIS_DEFAULT_MAXLEN));
    return &r->base;
}
