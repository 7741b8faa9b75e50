/* ctl_server.h - the control socket: newline-delimited JSON over a Unix
 * stream socket, served from the main thread without ever blocking it.
 *
 * Requests and replies follow Suricata's unix-socket protocol, one JSON
 * object per line (CONTROL.md has the whole protocol):
 *     {"command":"stats"}                     -> {"return":"OK","message":{...}}
 *     {"command":"detector set","arguments":{"name":"syn_flood",...}}
 *     anything wrong                          -> {"return":"NOK","message":"why"}
 *
 * The caller registers commands by name, then calls ctl_server_poll() from
 * its loop (every millisecond or so). One poll() system call tells which
 * sockets are ready; reads, writes and accepts are non-blocking, each client
 * has a bounded input and output buffer, and a client that does not read
 * its replies is dropped rather than waited for. Handlers run on the
 * caller's thread, inside ctl_server_poll().
 *
 * Streaming commands ("alerts tail") turn a connection into a subscriber of
 * a channel: ctl_server_broadcast() queues one line to every subscriber of
 * that channel. A subscriber that cannot keep up loses lines (counted, and
 * told with a {"event_type":"lost",...} line once it catches up). */
#ifndef MAMORI_CTL_SERVER_H
#define MAMORI_CTL_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define CTL_DEFAULT_SOCKET "/run/mamori/mamori.sock"

/* Defaults of struct ctl_options (a 0 there means these). */
#define CTL_REQUEST_MAX (64u * 1024)       /* bytes of one request line */
#define CTL_CLIENTS_MAX 32u                /* connections at once */
#define CTL_OUTPUT_MAX (4u * 1024 * 1024)  /* unsent reply bytes before a client is dropped */
#define CTL_STREAM_MAX (256u * 1024)       /* unsent stream bytes before lines are lost */

#define CTL_SOCKET_MODE 0660

struct ctl_options {
    size_t request_max;
    unsigned clients_max;
    size_t output_max;
    size_t stream_max;
    unsigned mode;               /* of the socket file */
};

/* A command handler. args is the request's "arguments" object (an empty
 * object when absent; borrowed). Return 0 with *reply set to the message
 * (reference stolen; NULL gives "done"), or -1 with the reason in err. */
typedef int (*ctl_command_fn)(void *ctx, json_t *args, json_t **reply, char *err, size_t errlen);

struct ctl_server;

/* Listen on path (its directory is created, mode 0750; the socket gets
 * opts->mode, 0660 by default). A socket file left by a crashed run is
 * replaced; one a live process listens on is an error, as is a path that
 * is not a socket. NULL with the cause in err. opts may be NULL. */
struct ctl_server *ctl_server_create(const char *path, const struct ctl_options *opts,
                                     char *err, size_t errlen);
/* Close every client (subscribers get a last {"event_type":"end"} line,
 * best effort) and remove the socket file. */
void ctl_server_destroy(struct ctl_server *srv);

const char *ctl_server_path(const struct ctl_server *srv);

/* Add a command; help is one line for the "help" command. Names are unique
 * ("help" is built in). 0, or -1 (duplicate, out of memory). */
int ctl_server_register(struct ctl_server *srv, const char *name, ctl_command_fn fn, void *ctx,
                        const char *help);
/* Add a streaming command: after its OK reply the connection receives
 * every line broadcast on channel, until it closes. */
int ctl_server_register_stream(struct ctl_server *srv, const char *name, const char *channel,
                               const char *help);

/* Accept, read, run commands, write; never blocks. Returns the number of
 * requests handled. */
unsigned ctl_server_poll(struct ctl_server *srv);

/* Whether any client follows channel (so the caller can skip formatting). */
bool ctl_server_subscribed(const struct ctl_server *srv, const char *channel);
/* Queue one line (no newline needed) to every subscriber of channel. */
void ctl_server_broadcast(struct ctl_server *srv, const char *channel, const char *json_line);

#define CTL_SERVER_COUNTERS(X) \
    X(ACCEPTED,        "ctl.clients_accepted") \
    X(REFUSED,         "ctl.clients_refused")      /* over the client limit */ \
    X(DROPPED_SLOW,    "ctl.clients_dropped_slow") /* replies piled up unread */ \
    X(REQUESTS,        "ctl.requests") \
    X(ERRORS,          "ctl.errors")               /* NOK replies */ \
    X(OVERSIZED,       "ctl.requests_oversized") \
    X(STREAM_LINES,    "ctl.stream_lines")         /* lines queued to subscribers */ \
    X(STREAM_LOST,     "ctl.stream_lost")          /* lines a slow subscriber lost */

enum ctl_server_counter {
#define CTL_SERVER_COUNTER_ENUM(id, name) CTL_##id,
    CTL_SERVER_COUNTERS(CTL_SERVER_COUNTER_ENUM)
#undef CTL_SERVER_COUNTER_ENUM
    CTL_SERVER_COUNTER_COUNT
};

const char *ctl_server_counter_name(enum ctl_server_counter i);
uint64_t ctl_server_counter(const struct ctl_server *srv, enum ctl_server_counter i);
/* Connected clients, subscribers included (gauge). */
unsigned ctl_server_clients(const struct ctl_server *srv);

#endif
