/* ctl_server.c - the control socket (see ctl_server.h).
 *
 * Shaped like Redis's networking code, on a smaller scale: one listening
 * socket and a fixed array of clients, each with an input buffer (one
 * request line at most, CTL_REQUEST_MAX) and an output buffer written as
 * the socket takes it. ctl_server_poll() makes one poll() call with a zero
 * timeout and touches only the sockets that are ready, so the main thread
 * pays one system call per loop when nobody talks to it.
 *
 * A connection that must end (an oversized request, a refused client)
 * sends its last reply, shuts its writing side and keeps reading (and
 * discarding) for up to a second: closing a socket with unread input makes
 * the kernel send a reset, which could destroy the reply before the
 * client reads it. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ctl_server.h"

#define DRAIN_TIMEOUT_NS 1000000000ull   /* how long a closing client may keep sending */
#define READS_PER_POLL 4                 /* reads per client per poll: bounds one poll's work */
#define ACCEPTS_PER_POLL 8

struct ctl_command {
    char *name;
    char *help;
    ctl_command_fn fn;           /* NULL for a streaming command */
    void *ctx;
    char *channel;               /* streaming command: what it subscribes to */
};

enum client_state {
    CLIENT_OPEN,                 /* reading requests */
    CLIENT_CLOSING,              /* last reply queued: flush, then drain */
    CLIENT_DRAINING,             /* writing side shut: discard input until EOF or timeout */
};

struct ctl_client {
    int fd;
    enum client_state state;
    bool dead;                   /* close at the end of this poll */
    bool eof;                    /* the peer has shut its sending side */
    char *in;                    /* request_max + 1 bytes */
    size_t in_len;
    char *out;
    size_t out_len, out_sent, out_cap;
    const char *channel;         /* subscribed channel (a command's string), or NULL */
    uint64_t lost;               /* stream lines lost since the last notice */
    uint64_t lost_total;
    uint64_t drain_deadline_ns;
};

struct ctl_server {
    int fd;
    char *path;
    dev_t dev;                   /* of the socket file we bound, to remove only ours */
    ino_t ino;
    struct ctl_options lim;      /* limits and mode */
    struct ctl_command *cmds;
    unsigned n_cmds;
    struct ctl_client **clients; /* lim.clients_max slots, the first n_clients used */
    unsigned n_clients;
    unsigned n_subscribers;
    struct pollfd *pfds;         /* 1 + lim.clients_max */
    uint64_t counters[CTL_SERVER_COUNTER_COUNT];
};

static const char *const counter_names[] = {
#define CTL_SERVER_COUNTER_NAME(id, name) name,
    CTL_SERVER_COUNTERS(CTL_SERVER_COUNTER_NAME)
#undef CTL_SERVER_COUNTER_NAME
};

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- the listening socket ------------------------------------------------ */

/* mkdir -p of the directory part of path. */
static int make_parent_dirs(const char *path, char *err, size_t errlen)
{
    char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];

    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == NULL || slash == dir)
        return 0;
    *slash = '\0';
    for (char *p = dir + 1; ; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
            snprintf(err, errlen, "control socket directory %s: %s", dir, strerror(errno));
            return -1;
        }
        *p = c;
        if (c == '\0')
            return 0;
    }
}

/* A socket file nobody listens on (a crashed run) is removed; a live one,
 * or a file that is not a socket, is the caller's problem to name. */
static int clear_stale_socket(const struct sockaddr_un *sa, char *err, size_t errlen)
{
    struct stat st;

    if (lstat(sa->sun_path, &st) < 0) {
        if (errno == ENOENT)
            return 0;
        snprintf(err, errlen, "control socket %s: %s", sa->sun_path, strerror(errno));
        return -1;
    }
    if (!S_ISSOCK(st.st_mode)) {
        snprintf(err, errlen, "control socket %s exists and is not a socket (not replacing it)",
                 sa->sun_path);
        return -1;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    int rc = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
    int e = errno;
    close(fd);
    if (rc == 0 || (e != ECONNREFUSED && e != ENOENT)) {
        snprintf(err, errlen, "control socket %s is in use by a running process%s%s "
                 "(another mamori? give it another --control-socket)", sa->sun_path,
                 rc == 0 ? "" : ": ", rc == 0 ? "" : strerror(e));
        return -1;
    }
    if (unlink(sa->sun_path) < 0 && errno != ENOENT) {
        snprintf(err, errlen, "removing stale control socket %s: %s", sa->sun_path, strerror(errno));
        return -1;
    }
    return 0;
}

static int listen_on(struct ctl_server *srv, const char *path, char *err, size_t errlen)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    struct stat st;

    if (path[0] == '\0' || strlen(path) >= sizeof(sa.sun_path)) {
        snprintf(err, errlen, "control socket path is %s: %s", path[0] ? "longer than 107 bytes "
                 "(the limit of a Unix socket address)" : "empty", path);
        return -1;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    if (make_parent_dirs(sa.sun_path, err, errlen) < 0 || clear_stale_socket(&sa, err, errlen) < 0)
        return -1;
    srv->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (srv->fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    if (bind(srv->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        snprintf(err, errlen, "control socket %s: bind: %s", sa.sun_path, strerror(errno));
        return -1;
    }
    if (chmod(sa.sun_path, (mode_t)srv->lim.mode) < 0 || stat(sa.sun_path, &st) < 0) {
        snprintf(err, errlen, "control socket %s: %s", sa.sun_path, strerror(errno));
        unlink(sa.sun_path);
        return -1;
    }
    srv->dev = st.st_dev;
    srv->ino = st.st_ino;
    if (listen(srv->fd, 16) < 0) {
        snprintf(err, errlen, "control socket %s: listen: %s", sa.sun_path, strerror(errno));
        unlink(sa.sun_path);
        return -1;
    }
    return 0;
}

struct ctl_server *ctl_server_create(const char *path, const struct ctl_options *opts,
                                     char *err, size_t errlen)
{
    struct ctl_server *srv = calloc(1, sizeof(*srv));

    if (srv == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    srv->fd = -1;
    srv->lim = (struct ctl_options){ CTL_REQUEST_MAX, CTL_CLIENTS_MAX, CTL_OUTPUT_MAX,
                                     CTL_STREAM_MAX, CTL_SOCKET_MODE };
    if (opts != NULL) {
        if (opts->request_max)
            srv->lim.request_max = opts->request_max;
        if (opts->clients_max)
            srv->lim.clients_max = opts->clients_max;
        if (opts->output_max)
            srv->lim.output_max = opts->output_max;
        if (opts->stream_max)
            srv->lim.stream_max = opts->stream_max;
        if (opts->mode)
            srv->lim.mode = opts->mode & 0777;
    }
    srv->path = strdup(path);
    srv->clients = calloc(srv->lim.clients_max, sizeof(*srv->clients));
    srv->pfds = calloc(srv->lim.clients_max + 1, sizeof(*srv->pfds));
    if (srv->path == NULL || srv->clients == NULL || srv->pfds == NULL) {
        snprintf(err, errlen, "out of memory");
        ctl_server_destroy(srv);
        return NULL;
    }
    if (listen_on(srv, path, err, errlen) < 0) {
        srv->dev = 0;
        srv->ino = 0;        /* nothing of ours to remove */
        ctl_server_destroy(srv);
        return NULL;
    }
    return srv;
}

const char *ctl_server_path(const struct ctl_server *srv)
{
    return srv->path;
}

/* ---- commands ------------------------------------------------------------ */

static const struct ctl_command *find_command(const struct ctl_server *srv, const char *name)
{
    for (unsigned i = 0; i < srv->n_cmds; i++)
        if (strcmp(srv->cmds[i].name, name) == 0)
            return &srv->cmds[i];
    return NULL;
}

static int add_command(struct ctl_server *srv, const char *name, ctl_command_fn fn, void *ctx,
                       const char *channel, const char *help)
{
    if (strcmp(name, "help") == 0 || find_command(srv, name) != NULL)
        return -1;
    struct ctl_command *cmds = realloc(srv->cmds, (srv->n_cmds + 1) * sizeof(*cmds));
    if (cmds == NULL)
        return -1;
    srv->cmds = cmds;
    struct ctl_command *c = &cmds[srv->n_cmds];
    *c = (struct ctl_command){ .name = strdup(name), .help = strdup(help ? help : ""),
                               .fn = fn, .ctx = ctx, .channel = channel ? strdup(channel) : NULL };
    if (c->name == NULL || c->help == NULL || (channel != NULL && c->channel == NULL)) {
        free(c->name);
        free(c->help);
        free(c->channel);
        return -1;
    }
    srv->n_cmds++;
    return 0;
}

int ctl_server_register(struct ctl_server *srv, const char *name, ctl_command_fn fn, void *ctx,
                        const char *help)
{
    return fn ? add_command(srv, name, fn, ctx, NULL, help) : -1;
}

int ctl_server_register_stream(struct ctl_server *srv, const char *name, const char *channel,
                               const char *help)
{
    return channel ? add_command(srv, name, NULL, NULL, channel, help) : -1;
}

/* ---- clients: output ----------------------------------------------------- */

static void drop_client(struct ctl_client *c)
{
    c->dead = true;
}

/* Append line + '\n' to the client's output. A reply that does not fit
 * drops the client (it is not reading); a stream line that does not fit is
 * lost and counted. Returns whether the line was queued. */
static bool queue_line(struct ctl_server *srv, struct ctl_client *c, const char *line, bool stream)
{
    size_t len = strlen(line), pending = c->out_len - c->out_sent;
    size_t limit = stream ? srv->lim.stream_max : srv->lim.output_max;

    if (c->dead)
        return false;
    if (pending + len + 1 > limit) {
        if (stream) {
            c->lost++;
            c->lost_total++;
            srv->counters[CTL_STREAM_LOST]++;
        } else {
            srv->counters[CTL_DROPPED_SLOW]++;
            drop_client(c);
        }
        return false;
    }
    if (c->out_sent > 0) {                   /* keep the unsent bytes at the front */
        memmove(c->out, c->out + c->out_sent, pending);
        c->out_len = pending;
        c->out_sent = 0;
    }
    if (c->out_len + len + 1 > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap : 4096;
        while (cap < c->out_len + len + 1)
            cap *= 2;
        char *out = realloc(c->out, cap);
        if (out == NULL) {
            drop_client(c);
            return false;
        }
        c->out = out;
        c->out_cap = cap;
    }
    memcpy(c->out + c->out_len, line, len);
    c->out[c->out_len + len] = '\n';
    c->out_len += len + 1;
    return true;
}

/* {"return":"OK"|"NOK","message":message}; message stolen, may be NULL. */
static void send_reply(struct ctl_server *srv, struct ctl_client *c, bool ok, json_t *message)
{
    json_t *r = json_object();

    json_object_set_new(r, "return", json_string(ok ? "OK" : "NOK"));
    if (message != NULL)
        json_object_set_new(r, "message", message);
    char *line = json_dumps(r, JSON_COMPACT);
    json_decref(r);
    if (line == NULL) {
        drop_client(c);
        return;
    }
    queue_line(srv, c, line, false);
    free(line);
    if (!ok)
        srv->counters[CTL_ERRORS]++;
}

static void send_error(struct ctl_server *srv, struct ctl_client *c, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void send_error(struct ctl_server *srv, struct ctl_client *c, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    send_reply(srv, c, false, json_string(msg));
}

/* Write what the socket takes. A finished closing client moves to draining. */
static void client_flush(struct ctl_client *c)
{
    while (!c->dead && c->out_sent < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_sent, c->out_len - c->out_sent,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0)
            c->out_sent += (size_t)n;
        else if (n < 0 && errno == EINTR)
            continue;
        else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        else
            drop_client(c);         /* the peer is gone */
    }
    c->out_len = c->out_sent = 0;
    if (c->state == CLIENT_CLOSING && c->eof) {
        drop_client(c);              /* nothing unread can reset the reply: close now */
    } else if (c->state == CLIENT_CLOSING) {
        shutdown(c->fd, SHUT_WR);
        c->state = CLIENT_DRAINING;
        c->drain_deadline_ns = mono_ns() + DRAIN_TIMEOUT_NS;
    }
}

/* ---- clients: requests --------------------------------------------------- */

static void reply_help(struct ctl_server *srv, struct ctl_client *c)
{
    json_t *list = json_array();
    json_t *h = json_object();

    json_object_set_new(h, "command", json_string("help"));
    json_object_set_new(h, "help", json_string("list the commands"));
    json_array_append_new(list, h);
    for (unsigned i = 0; i < srv->n_cmds; i++) {
        h = json_object();
        json_object_set_new(h, "command", json_string(srv->cmds[i].name));
        json_object_set_new(h, "help", json_string(srv->cmds[i].help));
        json_array_append_new(list, h);
    }
    send_reply(srv, c, true, list);
}

static void run_command(struct ctl_server *srv, struct ctl_client *c,
                        const struct ctl_command *cmd, json_t *args)
{
    if (cmd->fn == NULL) {
        char msg[128];
        snprintf(msg, sizeof(msg), "streaming %s, one JSON line each, until the connection "
                 "closes", cmd->channel);
        send_reply(srv, c, true, json_string(msg));
        c->channel = cmd->channel;
        srv->n_subscribers++;
        return;
    }
    json_t *reply = NULL;
    char err[512] = "";
    if (cmd->fn(cmd->ctx, args, &reply, err, sizeof(err)) == 0) {
        send_reply(srv, c, true, reply ? reply : json_string("done"));
    } else {
        json_decref(reply);
        send_error(srv, c, "%s", err[0] ? err : "command failed");
    }
}

/* One request line (no newline). */
static void handle_request(struct ctl_server *srv, struct ctl_client *c, char *line, size_t len)
{
    json_error_t jerr;

    while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
        len--;
    if (len == 0)
        return;                              /* blank lines are allowed between requests */
    srv->counters[CTL_REQUESTS]++;
    json_t *req = json_loadb(line, len, 0, &jerr);
    if (req == NULL) {
        send_error(srv, c, "malformed JSON at column %d: %s", jerr.column, jerr.text);
        return;
    }
    json_t *command = json_object_get(req, "command");
    json_t *args = json_object_get(req, "arguments");
    if (!json_is_object(req)) {
        send_error(srv, c, "a request is a JSON object such as {\"command\":\"help\"}");
    } else if (command == NULL && json_object_get(req, "version") != NULL) {
        send_reply(srv, c, true, NULL);      /* Suricata clients' version handshake */
    } else if (!json_is_string(command)) {
        send_error(srv, c, "the request has no \"command\" string");
    } else if (args != NULL && !json_is_object(args)) {
        send_error(srv, c, "\"arguments\" must be a JSON object");
    } else if (strcmp(json_string_value(command), "help") == 0) {
        reply_help(srv, c);
    } else {
        const struct ctl_command *cmd = find_command(srv, json_string_value(command));
        if (cmd == NULL) {
            send_error(srv, c, "unknown command '%s' (\"help\" lists the commands)",
                       json_string_value(command));
        } else {
            json_t *empty = args ? NULL : json_object();
            run_command(srv, c, cmd, args ? args : empty);
            json_decref(empty);
        }
    }
    json_decref(req);
}

/* Run every complete line in the input buffer; keep the partial rest. */
static unsigned handle_lines(struct ctl_server *srv, struct ctl_client *c, bool at_eof)
{
    char *start = c->in, *end = c->in + c->in_len, *nl;
    unsigned handled = 0;

    while (c->state == CLIENT_OPEN && c->channel == NULL && !c->dead &&
           (nl = memchr(start, '\n', (size_t)(end - start))) != NULL) {
        handle_request(srv, c, start, (size_t)(nl - start));
        start = nl + 1;
        handled++;
    }
    size_t rest = (size_t)(end - start);
    if (c->state != CLIENT_OPEN || c->channel != NULL || c->dead) {
        c->in_len = 0;                       /* what follows is not read as requests */
        return handled;
    }
    if (rest > srv->lim.request_max) {
        srv->counters[CTL_REQUESTS]++;
        srv->counters[CTL_OVERSIZED]++;
        send_error(srv, c, "request longer than %zu bytes: closing the connection",
                   srv->lim.request_max);
        c->state = CLIENT_CLOSING;
        c->in_len = 0;
        return handled + 1;
    }
    if (at_eof && rest > 0) {                /* a last request without its newline */
        handle_request(srv, c, start, rest);
        handled++;
        rest = 0;
    }
    memmove(c->in, start, rest);
    c->in_len = rest;
    return handled;
}

/* Read and discard (subscribers, closing clients). */
static void discard_input(struct ctl_client *c)
{
    char buf[4096];

    for (int i = 0; i < READS_PER_POLL; i++) {
        ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n > 0)
            continue;
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
            drop_client(c);
        return;
    }
}

static unsigned client_read(struct ctl_server *srv, struct ctl_client *c)
{
    unsigned handled = 0;

    if (c->state != CLIENT_OPEN || c->channel != NULL) {
        discard_input(c);
        return 0;
    }
    for (int i = 0; i < READS_PER_POLL && c->state == CLIENT_OPEN && c->channel == NULL &&
                    !c->dead; i++) {
        size_t space = srv->lim.request_max + 1 - c->in_len;
        ssize_t n = recv(c->fd, c->in + c->in_len, space, MSG_DONTWAIT);
        if (n > 0) {
            c->in_len += (size_t)n;
            handled += handle_lines(srv, c, false);
        } else if (n == 0) {
            c->eof = true;
            handled += handle_lines(srv, c, true);
            /* The peer is done sending: answer what it asked, then close. */
            if (c->state == CLIENT_OPEN && c->channel == NULL)
                c->state = CLIENT_CLOSING;
            if (c->channel != NULL)
                drop_client(c);              /* a subscriber that hung up */
            break;
        } else if (errno == EINTR) {
            continue;
        } else {
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                drop_client(c);
            break;
        }
    }
    return handled;
}

/* ---- clients: life ------------------------------------------------------- */

static void client_free(struct ctl_server *srv, struct ctl_client *c)
{
    if (c->channel != NULL)
        srv->n_subscribers--;
    close(c->fd);
    free(c->in);
    free(c->out);
    free(c);
}

/* Refuse a connection over the limit with one NOK line. Whatever the
 * client already sent is read first so that closing does not reset the
 * connection over the reply. */
static void refuse(struct ctl_server *srv, int fd)
{
    char buf[4096], line[160];
    int len = snprintf(line, sizeof(line),
                       "{\"return\":\"NOK\",\"message\":\"too many control clients (%u)\"}\n",
                       srv->lim.clients_max);

    for (int i = 0; i < 16 && recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0; i++)
        ;
    if (send(fd, line, (size_t)len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
        /* nothing more to do: the client is told by the close */
    }
    shutdown(fd, SHUT_WR);
    close(fd);
    srv->counters[CTL_REFUSED]++;
}

static void accept_clients(struct ctl_server *srv)
{
    for (int i = 0; i < ACCEPTS_PER_POLL; i++) {
        int fd = accept4(srv->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;                 /* EAGAIN, or a transient error: retried next poll */
        if (srv->n_clients >= srv->lim.clients_max) {
            refuse(srv, fd);
            continue;
        }
        struct ctl_client *c = calloc(1, sizeof(*c));
        char *in = malloc(srv->lim.request_max + 1);
        if (c == NULL || in == NULL) {
            free(c);
            free(in);
            close(fd);
            continue;
        }
        c->fd = fd;
        c->in = in;
        srv->clients[srv->n_clients++] = c;
        srv->counters[CTL_ACCEPTED]++;
    }
}

/* Free the dead clients and those whose draining is over, keeping order. */
static void sweep_clients(struct ctl_server *srv)
{
    uint64_t now = 0;
    unsigned kept = 0;

    for (unsigned i = 0; i < srv->n_clients; i++) {
        struct ctl_client *c = srv->clients[i];
        if (!c->dead && c->state == CLIENT_DRAINING) {
            if (now == 0)
                now = mono_ns();
            if (now >= c->drain_deadline_ns)
                c->dead = true;
        }
        if (c->dead)
            client_free(srv, c);
        else
            srv->clients[kept++] = c;
    }
    srv->n_clients = kept;
}

unsigned ctl_server_poll(struct ctl_server *srv)
{
    unsigned n = srv->n_clients, handled = 0;

    srv->pfds[0] = (struct pollfd){ .fd = srv->fd, .events = POLLIN };
    for (unsigned i = 0; i < n; i++) {
        struct ctl_client *c = srv->clients[i];
        short events = POLLIN;
        if (c->out_sent < c->out_len)
            events |= POLLOUT;
        srv->pfds[i + 1] = (struct pollfd){ .fd = c->fd, .events = events };
    }
    if (poll(srv->pfds, n + 1, 0) <= 0) {
        if (n > 0)
            sweep_clients(srv);      /* draining deadlines */
        return 0;
    }
    for (unsigned i = 0; i < n; i++) {
        struct ctl_client *c = srv->clients[i];
        short re = srv->pfds[i + 1].revents;
        if (re & (POLLIN | POLLHUP | POLLERR))
            handled += client_read(srv, c);
        /* Replies go out at once: a short reply nearly always fits the
         * socket, and a client that just asked is likely waiting. */
        if (c->out_sent < c->out_len || c->state == CLIENT_CLOSING)
            client_flush(c);
    }
    sweep_clients(srv);
    if (srv->pfds[0].revents & POLLIN)
        accept_clients(srv);
    return handled;
}

/* ---- streams --------------------------------------------------------------- */

bool ctl_server_subscribed(const struct ctl_server *srv, const char *channel)
{
    if (srv == NULL || srv->n_subscribers == 0)
        return false;
    for (unsigned i = 0; i < srv->n_clients; i++)
        if (srv->clients[i]->channel != NULL && strcmp(srv->clients[i]->channel, channel) == 0)
            return true;
    return false;
}

static void lost_notice(const struct ctl_client *c, const char *event, uint64_t lost,
                        char *buf, size_t len)
{
    snprintf(buf, len, "{\"event_type\":\"%s\",\"channel\":\"%s\",\"lost\":%llu}",
             event, c->channel, (unsigned long long)lost);
}

void ctl_server_broadcast(struct ctl_server *srv, const char *channel, const char *json_line)
{
    char notice[160];

    if (srv == NULL || srv->n_subscribers == 0)
        return;
    for (unsigned i = 0; i < srv->n_clients; i++) {
        struct ctl_client *c = srv->clients[i];
        if (c->channel == NULL || c->dead || strcmp(c->channel, channel) != 0)
            continue;
        if (c->lost > 0) {
            /* The notice goes before the next line, so that a reader knows
             * where the gap was: until both fit, the line is lost too. */
            size_t pending = c->out_len - c->out_sent;
            lost_notice(c, "lost", c->lost, notice, sizeof(notice));
            if (pending + strlen(notice) + strlen(json_line) + 2 > srv->lim.stream_max) {
                c->lost++;
                c->lost_total++;
                srv->counters[CTL_STREAM_LOST]++;
                continue;
            }
            queue_line(srv, c, notice, true);
            c->lost = 0;
        }
        if (queue_line(srv, c, json_line, true))
            srv->counters[CTL_STREAM_LINES]++;
    }
}

/* ---- the end ------------------------------------------------------------- */

void ctl_server_destroy(struct ctl_server *srv)
{
    struct stat st;
    char notice[160];

    if (srv == NULL)
        return;
    for (unsigned i = 0; i < srv->n_clients; i++) {
        struct ctl_client *c = srv->clients[i];
        client_flush(c);
        if (c->channel != NULL && !c->dead && c->out_len == 0) {
            /* Best effort: a subscriber that keeps up learns its total losses. */
            size_t len;
            lost_notice(c, "end", c->lost_total, notice, sizeof(notice) - 1);
            len = strlen(notice);
            notice[len++] = '\n';
            if (send(c->fd, notice, len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
                /* it was not reading: nothing more to tell it */
            }
        }
        client_free(srv, c);
    }
    if (srv->fd >= 0)
        close(srv->fd);
    /* Only our socket: another process may have taken the path since. */
    if (srv->path != NULL && srv->ino != 0 && stat(srv->path, &st) == 0 &&
        st.st_dev == srv->dev && st.st_ino == srv->ino)
        unlink(srv->path);
    for (unsigned i = 0; i < srv->n_cmds; i++) {
        free(srv->cmds[i].name);
        free(srv->cmds[i].help);
        free(srv->cmds[i].channel);
    }
    free(srv->cmds);
    free(srv->clients);
    free(srv->pfds);
    free(srv->path);
    free(srv);
}

/* ---- counters ------------------------------------------------------------ */

const char *ctl_server_counter_name(enum ctl_server_counter i)
{
    return (unsigned)i < CTL_SERVER_COUNTER_COUNT ? counter_names[i] : "?";
}

uint64_t ctl_server_counter(const struct ctl_server *srv, enum ctl_server_counter i)
{
    return (unsigned)i < CTL_SERVER_COUNTER_COUNT ? srv->counters[i] : 0;
}

unsigned ctl_server_clients(const struct ctl_server *srv)
{
    return srv->n_clients;
}
