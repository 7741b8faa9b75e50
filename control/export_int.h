/* export_int.h - what the sinks share: the bounded line queue, the
 * reconnect backoff and option parsing. Not for users of the fan-out. */
#ifndef MAMORI_EXPORT_INT_H
#define MAMORI_EXPORT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "export.h"

/* A queued line. text holds len bytes and a '\n' after them, so stream
 * sinks send len + 1 bytes and message sinks len. */
struct export_item {
    char *text;
    uint32_t len;
    int severity;
};

/* A FIFO of lines bounded in lines and in bytes. A line that does not fit
 * is refused and counted in dropped: the newest line is the one lost, so
 * what a consumer gets stays in order and without holes until the drop. */
struct export_queue {
    struct export_item *items;   /* ring of cap entries */
    size_t cap, head, count;
    size_t bytes, max_bytes;
    size_t head_off;             /* bytes of the head line a stream has sent */
    uint64_t dropped;
};

int export_queue_init(struct export_queue *q, size_t max_lines, size_t max_bytes);
/* Copy the line in. 0, or -1 when full (counted in dropped). */
int export_queue_push(struct export_queue *q, const char *text, size_t len, int severity);
/* The i-th line from the head (i < count). */
struct export_item *export_queue_at(struct export_queue *q, size_t i);
void export_queue_pop(struct export_queue *q);
/* Pop every line, counting it as dropped. */
void export_queue_drop_all(struct export_queue *q);
void export_queue_free(struct export_queue *q);
/* Write lines from the head to a stream fd (a file, or a stream socket
 * without SIGPIPE) at one go: whole lines are popped, a partial one is
 * resumed next time. Returns the lines completed, or -1 with errno (EAGAIN:
 * try later). */
ssize_t export_queue_writev(struct export_queue *q, int fd, bool socket);

/* Exponential backoff between reconnect attempts: 100 ms doubling to 5 s. */
struct export_backoff {
    uint64_t next_ns;
    uint64_t delay_ns;
};

#define EXPORT_BACKOFF_MIN_NS 100000000ull
#define EXPORT_BACKOFF_MAX_NS 5000000000ull

bool export_backoff_due(const struct export_backoff *b, uint64_t now_ns);
void export_backoff_failed(struct export_backoff *b, uint64_t now_ns);
void export_backoff_reset(struct export_backoff *b);

uint64_t export_mono_ns(void);
uint64_t export_wall_ns(void);

/* Option specs are comma-separated parts: "redis:6379,list,key=x". Copies
 * the next part of *cursor into part and advances; false at the end. */
bool export_spec_next(const char **cursor, char *part, size_t size);
/* The value of "name=value" in part, or NULL if part is not that key. */
const char *export_spec_value(const char *part, const char *name);
/* A whole number in [min, max] for opt's key; -1 with a message. */
int export_parse_number(const char *opt, const char *key, const char *text,
                        unsigned long min, unsigned long max, unsigned long *out,
                        char *err, size_t errlen);

/* A client socket, shared by the Unix socket and syslog sinks: connects
 * (without blocking) to a Unix path or a UDP address, sends the queue as a
 * stream of lines or one datagram per line, and when the peer is gone or
 * refuses, closes and reconnects with backoff. What could not be sent stays
 * queued. */
struct export_sock {
    struct export_sink base;
    int family, type;            /* AF_UNIX/AF_INET/AF_INET6, SOCK_STREAM/SOCK_DGRAM */
    struct sockaddr_storage addr;
    socklen_t addrlen;
    int fd;                      /* -1: not connected */
    struct export_queue q;
    struct export_backoff backoff;
    uint64_t written, errors;
};

int export_sock_init(struct export_sock *s, const char *name, const struct export_sink_ops *ops,
                     size_t buffer_lines);
/* The sink ops for any export_sock. */
int export_sock_write(struct export_sink *s, const struct export_line *line);
void export_sock_flush(struct export_sink *s);
int export_sock_reopen(struct export_sink *s, char *err, size_t errlen);
void export_sock_counters(const struct export_sink *s, struct export_counters *c);
/* Flush once, drop what is left, close; the caller frees s. */
void export_sock_release(struct export_sock *s);

/* Make fd non-blocking and close-on-exec; -1 on failure. */
int export_set_nonblock(int fd);

#endif
