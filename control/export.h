/* export.h - the export fan-out: every EVE line goes to a list of sinks.
 *
 * eve_write() formats an event once (compact JSON, one line) and hands it
 * to export_write(), which gives it to every sink: the EVE file, a Unix
 * socket, syslog, Redis. All of it runs on the main thread and none of it
 * blocks there:
 *
 *   - a sink's write() only queues the line in the sink's bounded buffer;
 *     when the buffer is full the line is dropped and counted;
 *   - export_flush() (called from the sensor's loop) lets each sink deliver
 *     what it holds with non-blocking I/O, as far as the destination takes
 *     it now, and reconnect a destination that is down once its backoff has
 *     run out.
 *
 * Every sink counts, for export.<sink>.* in the stats:
 *   written   lines delivered (the file: written; Redis: acknowledged)
 *   dropped   lines given up: buffer full, refused by the destination, or
 *             still buffered when mamori stopped
 *   errors    failed deliveries and connections (a line retried after an
 *             error is counted once in written or dropped, maybe more
 *             often here)
 *   buffered  lines held now (a gauge)
 * so that, once a sink is closed, written + dropped is every line it was
 * given. */
#ifndef MAMORI_EXPORT_H
#define MAMORI_EXPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One line, as every sink is given it. */
struct export_line {
    const char *text;        /* compact JSON, no newline */
    size_t len;
    const char *type;        /* its event_type: "alert", "flow", "stats", ... */
    int severity;            /* syslog severity 0 (emerg) to 7 (debug) */
};

struct export_counters {
    uint64_t written, dropped, errors, buffered;
};

struct export_sink;

struct export_sink_ops {
    /* Queue the line. 0, or -1 when it was dropped (counted). */
    int (*write)(struct export_sink *s, const struct export_line *line);
    /* Deliver what is queued without blocking; reconnect when due. */
    void (*flush)(struct export_sink *s);
    /* The file: reopen it (logrotate). Sockets: reconnect at once. 0, or -1
     * with the cause in err. */
    int (*reopen)(struct export_sink *s, char *err, size_t errlen);
    void (*counters)(const struct export_sink *s, struct export_counters *c);
    /* Release everything; lines still queued are counted as dropped. */
    void (*destroy)(struct export_sink *s);
};

/* What every sink starts with. name is its key in the stats
 * ("file", "unix", "syslog", "redis"). */
struct export_sink {
    const struct export_sink_ops *ops;
    char name[16];
};

struct export;

struct export *export_create(void);
/* Append a sink; the fan-out owns it from now on. 0, or -1 (no memory; the
 * sink is destroyed). */
int export_add(struct export *ex, struct export_sink *sink);
unsigned export_count(const struct export *ex);
struct export_sink *export_sink_at(const struct export *ex, unsigned i);
struct export_sink *export_find(const struct export *ex, const char *name);

/* Give the line to every sink. Returns how many dropped it. */
unsigned export_write(struct export *ex, const struct export_line *line);
void export_flush(struct export *ex);
/* Reopen every sink; 0, or -1 with the first failure in err (the other
 * sinks are reopened all the same). */
int export_reopen(struct export *ex, char *err, size_t errlen);
/* Flush until every sink is empty or timeout_ms has passed (at exit).
 * true if all were emptied. */
bool export_drain(struct export *ex, unsigned timeout_ms);
/* Each sink's counters as "export.<name>.<counter>". */
void export_counters(const struct export *ex,
                     void (*add)(void *ctx, const char *name, uint64_t value), void *ctx);
void export_destroy(struct export *ex);

/* The syslog severity of an alert of Suricata severity sev (1 the highest):
 * 1 crit, 2 err, 3 warning, others notice. */
int export_alert_severity(unsigned sev);

/* Bounds of a sink's buffer. */
#define EXPORT_DEFAULT_BUFFER_LINES 65536u
#define EXPORT_DEFAULT_BUFFER_BYTES (64u << 20)

/* The sinks. None connects before returning: a destination that is down
 * at start is retried with backoff, like one that goes down later.
 * buffer_lines 0 is EXPORT_DEFAULT_BUFFER_LINES. */

/* The EVE file at path, appended to. */
struct export_sink *export_file_open(const char *path, size_t buffer_lines,
                                     char *err, size_t errlen);

/* A client of a consumer listening at path: stream sends newline-ended
 * lines, dgram one line per datagram. */
struct export_unix_config {
    const char *path;
    bool dgram;
    size_t buffer_lines;
};
struct export_sink *export_unix_open(const struct export_unix_config *cfg,
                                     char *err, size_t errlen);

/* RFC 5424 messages with the EVE JSON as MSG, one datagram each. */
struct export_syslog_config {
    const char *server;          /* NULL or "": /dev/log; "/PATH": that local
                                  * socket; else a UDP collector's host */
    unsigned port;               /* the collector's UDP port */
    int facility;                /* 0-23 (local5: 21) */
    int severity;                /* of events that are not alerts (info: 6);
                                  * alerts: export_alert_severity() */
    const char *ident;           /* APP-NAME, "mamori" if NULL */
    size_t buffer_lines;
};
struct export_sink *export_syslog_open(const struct export_syslog_config *cfg,
                                       char *err, size_t errlen);
/* A facility or severity by its name ("local5", "info"), -1 if unknown. */
int export_syslog_facility(const char *name);
int export_syslog_severity(const char *name);

/* RPUSH key, PUBLISH key or XADD key MAXLEN ~ maxlen * eve LINE. */
enum export_redis_mode { EXPORT_REDIS_LIST, EXPORT_REDIS_CHANNEL, EXPORT_REDIS_STREAM };
struct export_redis_config {
    const char *host;            /* resolved once, at open */
    unsigned port;
    enum export_redis_mode mode;
    const char *key;             /* "mamori" if NULL */
    uint64_t maxlen;             /* stream mode; 0: 100000 */
    size_t buffer_lines;
};
struct export_sink *export_redis_open(const struct export_redis_config *cfg,
                                      char *err, size_t errlen);

/* RFC 5424 framing of one line: "<PRI>1 TIMESTAMP HOST APP PROCID MSGID - MSG".
 * Returns the length it needs (as snprintf); buf holds a truncated message
 * when that is >= size. */
size_t export_syslog_format(char *buf, size_t size, int facility, int severity,
                            uint64_t wall_ns, const char *host, const char *app,
                            long pid, const char *msgid, const char *msg, size_t msg_len);

/* "HOST:PORT", "[V6ADDR]:PORT" or, with default_host, ":PORT" and "PORT".
 * 0, or -1 with a message naming opt. */
int export_parse_hostport(const char *opt, const char *text, const char *default_host,
                          char *host, size_t hostlen, unsigned *port, char *err, size_t errlen);

#endif
