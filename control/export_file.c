/* export_file.c - the EVE JSON file sink.
 *
 * Lines are appended with writev() from the sink's queue. A failed write
 * (disk full, I/O error) is counted and never fatal: the lines stay queued
 * and the write is retried with backoff, while new lines fill the bounded
 * queue and, beyond it, are dropped and counted. stderr says when writes
 * start failing (once, with the cause) and when they succeed again.
 * reopen() starts a new file at the same path after logrotate has moved
 * the old one away. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "export_int.h"

/* Queued bytes that make write() flush at once: batches stay large, and a
 * burst of thousands of events does not wait for the loop's next flush. */
#define FILE_FLUSH_BYTES (256u << 10)

struct file_sink {
    struct export_sink base;
    char *path;
    int fd;                      /* -1: to be opened again */
    struct export_queue q;
    struct export_backoff retry; /* after a failed write or open */
    uint64_t written, errors;
    bool failing;                /* the last write or open failed (said on stderr) */
    uint64_t dropped_before;     /* q.dropped when writes started failing */
};

/* Say once per outage that the file cannot be written, and why: an
 * operator whose disk is full learns it before the events are gone. */
static void file_failed(struct file_sink *f, const char *cause, uint64_t now)
{
    f->errors++;
    export_backoff_failed(&f->retry, now);
    if (f->failing)
        return;
    f->failing = true;
    f->dropped_before = f->q.dropped;
    fprintf(stderr, "mamori: %s: cannot write: %s; events are held (at most %zu lines) "
            "and the write retried, beyond that they are dropped and counted in "
            "export.file.dropped\n", f->path, cause, f->q.cap);
}

static void file_recovered(struct file_sink *f)
{
    if (!f->failing)
        return;
    f->failing = false;
    fprintf(stderr, "mamori: %s: writing again; %llu events were dropped meanwhile\n", f->path,
            (unsigned long long)(f->q.dropped - f->dropped_before));
}

static int file_open_fd(struct file_sink *f, char *err, size_t errlen)
{
    /* 0666 less the umask, as fopen(path, "a") did. */
    f->fd = open(f->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
    if (f->fd < 0) {
        snprintf(err, errlen, "%s: %s", f->path, strerror(errno));
        return -1;
    }
    return 0;
}

static void file_flush(struct export_sink *s)
{
    struct file_sink *f = (struct file_sink *)s;
    char err[256];

    if (f->q.count == 0)
        return;
    uint64_t now = export_mono_ns();
    if (!export_backoff_due(&f->retry, now))
        return;
    if (f->fd < 0 && file_open_fd(f, err, sizeof(err)) < 0) {
        file_failed(f, strerror(errno), now);
        return;
    }
    while (f->q.count > 0) {
        ssize_t n = export_queue_writev(&f->q, f->fd, false);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            file_failed(f, strerror(errno), now);
            return;
        }
        f->written += (uint64_t)n;
    }
    export_backoff_reset(&f->retry);
    file_recovered(f);
}

static int file_write(struct export_sink *s, const struct export_line *line)
{
    struct file_sink *f = (struct file_sink *)s;

    if (export_queue_push(&f->q, line->text, line->len, line->severity) < 0)
        return -1;
    if (f->q.bytes >= FILE_FLUSH_BYTES)
        file_flush(s);
    return 0;
}

static int file_reopen(struct export_sink *s, char *err, size_t errlen)
{
    struct file_sink *f = (struct file_sink *)s;
    int old = f->fd;

    /* What is queued belongs to the old file: a reader of the rotated file
     * expects every line written before the reopen. */
    export_backoff_reset(&f->retry);
    file_flush(s);
    /* The new file first: when it cannot be opened the old one is kept. */
    if (file_open_fd(f, err, errlen) < 0) {
        f->errors++;
        f->fd = old;
        return -1;
    }
    if (old >= 0 && close(old) != 0)
        f->errors++;
    return 0;
}

static void file_counters(const struct export_sink *s, struct export_counters *c)
{
    const struct file_sink *f = (const struct file_sink *)s;

    c->written = f->written;
    c->dropped = f->q.dropped;
    c->errors = f->errors;
    c->buffered = f->q.count;
}

static void file_destroy(struct export_sink *s)
{
    struct file_sink *f = (struct file_sink *)s;

    export_backoff_reset(&f->retry);
    file_flush(s);
    export_queue_drop_all(&f->q);
    export_queue_free(&f->q);
    if (f->fd >= 0)
        close(f->fd);
    free(f->path);
    free(f);
}

static const struct export_sink_ops file_ops = {
    .write = file_write,
    .flush = file_flush,
    .reopen = file_reopen,
    .counters = file_counters,
    .destroy = file_destroy,
};

struct export_sink *export_file_open(const char *path, size_t buffer_lines,
                                     char *err, size_t errlen)
{
    struct file_sink *f = calloc(1, sizeof(*f));

    if (f == NULL || (f->path = strdup(path)) == NULL ||
        export_queue_init(&f->q, buffer_lines ? buffer_lines : EXPORT_DEFAULT_BUFFER_LINES,
                          EXPORT_DEFAULT_BUFFER_BYTES) < 0) {
        snprintf(err, errlen, "%s: out of memory", path);
        if (f != NULL)
            free(f->path);
        free(f);
        return NULL;
    }
    f->base.ops = &file_ops;
    snprintf(f->base.name, sizeof(f->base.name), "file");
    /* The file is opened now: a path that cannot be written stops the
     * start, as it always did. Later failures are only counted. */
    if (file_open_fd(f, err, errlen) < 0) {
        export_queue_free(&f->q);
        free(f->path);
        free(f);
        return NULL;
    }
    return &f->base;
}
