/* capture.h - what every capture path (pcap files, DPDK, AF_XDP) offers the
 * main thread.
 *
 * A capture feeds packets to the workers it was given, on threads or lcores
 * of its own, while the main thread runs the tick loop: it drains the
 * workers' records, writes stats, and asks the capture to stop on a signal
 * or when idle. The main loop is the same for every path:
 *
 *     capture->ops->start(c)   ... while (c->ops->running(c)) tick ...
 *     c->ops->stop(c) on a signal;  c->ops->join(c);  c->ops->destroy(c) */
#ifndef MAMORI_CAPTURE_H
#define MAMORI_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct worker;
struct capture;

/* Receives one named counter of a capture (e.g. "capture.pkts"). */
typedef void (*counter_fn)(void *ctx, const char *name, uint64_t value);

struct capture_ops {
    const char *name;
    /* Start feeding the workers. 0, or -1 with a message in err. */
    int (*start)(struct capture *c, char *err, size_t errlen);
    /* True until every worker has finished and published its last flows. */
    bool (*running)(struct capture *c);
    /* Ask to stop: input ends, queued packets are still processed, flows
     * are flushed. Safe to call more than once. */
    void (*stop)(struct capture *c);
    /* Wait for the capture's threads. */
    void (*join)(struct capture *c);
    /* Report the capture's own counters (packets received, drops, ...). */
    void (*counters)(struct capture *c, counter_fn fn, void *ctx);
    /* Packets received so far, for idle detection. */
    uint64_t (*packets)(struct capture *c);
    void (*destroy)(struct capture *c);
};

struct capture {
    const struct capture_ops *ops;
    struct worker **workers;
    unsigned n_workers;
};

#endif
