/* xdp_loader.h - the user side of mamori's XDP program (mamori_xdp.bpf.c).
 *
 * One loader per interface: it opens the libbpf skeleton, sizes the XSKMAP
 * to the interface's queues, loads the program and attaches it through
 * netlink in native (driver) or generic (skb) mode. AF_XDP sockets are
 * placed in the XSKMAP by the caller through xdp_loader_add_socket(): the
 * capture never lets libxdp load a program of its own (its dispatcher
 * fails with EPERM on some kernels).
 *
 * A netlink attachment outlives the process that made it, so a mamori
 * killed with SIGKILL leaves its program attached: xdp_loader_open() finds
 * such a program by its name, checks that the mamori that attached it is
 * gone, detaches it and says so on stderr. */
#ifndef MAMORI_XDP_LOADER_H
#define MAMORI_XDP_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include "mamori_xdp.h"

enum xdp_loader_mode {
    XDP_LOADER_NATIVE,    /* in the driver (XDP_FLAGS_DRV_MODE) */
    XDP_LOADER_GENERIC,   /* after the skb is built (XDP_FLAGS_SKB_MODE) */
};

const char *xdp_loader_mode_name(enum xdp_loader_mode mode);

struct xdp_loader;

/* Clear a stale mamori program from ifname, then open and load the
 * program with n_queues XSKMAP slots (RX queues 0..n_queues-1). NULL with
 * the cause (interface, errno text) in err. */
struct xdp_loader *xdp_loader_open(const char *ifname, unsigned n_queues,
                                   char *err, size_t errlen);

/* Attach in mode; fails if the interface has an XDP program already. */
int xdp_loader_attach(struct xdp_loader *l, enum xdp_loader_mode mode, char *err, size_t errlen);

/* Redirect RX queue `queue` to the AF_XDP socket fd. */
int xdp_loader_add_socket(struct xdp_loader *l, unsigned queue, int fd, char *err, size_t errlen);

/* Stop redirecting RX queue `queue`: its frames are passed from now on. */
void xdp_loader_remove_socket(struct xdp_loader *l, unsigned queue);

/* The kernel-side counters summed over CPUs, MAMORI_XDP_SLOTS of them.
 * Safe while the program runs; zeros if the map cannot be read. */
void xdp_loader_counts(struct xdp_loader *l, struct mamori_xdp_count out[MAMORI_XDP_SLOTS]);

/* The per-source rates as of now: how many sources the LRU holds and the
 * highest packet rate of the last complete second (address in top_addr,
 * IPv4 mapped into ::ffff:0:0/96). Walks the whole map: a stats-interval
 * call, not a per-packet one. */
struct xdp_source_summary {
    uint64_t tracked;
    uint64_t top_pps;
    uint64_t top_bps;           /* bytes per second of that source */
    uint8_t top_addr[16];
};
void xdp_loader_sources(struct xdp_loader *l, struct xdp_source_summary *out);

/* Detach (if attached, and only our program) and free. */
void xdp_loader_close(struct xdp_loader *l);

#endif
