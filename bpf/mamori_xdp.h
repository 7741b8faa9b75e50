/* mamori_xdp.h - what the XDP program (kernel side) and its loader (user
 * side) agree on: the counter slots and the per-source rate record.
 *
 * Included by mamori_xdp.bpf.c (clang -target bpf) and by xdp_loader.c, so
 * it uses only the kernel's fixed-width types. */
#ifndef MAMORI_XDP_H
#define MAMORI_XDP_H

#include <linux/types.h>

/* The program's name as the kernel keeps it (at most 15 characters): how
 * a later run recognises a program a crashed run left attached. */
#define MAMORI_XDP_PROG_NAME "mamori_xdp"

/* Slots of the per-CPU counter array. The first four split every frame
 * by protocol; the last two say what the program did with it. */
enum mamori_xdp_slot {
    MAMORI_XDP_TCP = 0,
    MAMORI_XDP_UDP,
    MAMORI_XDP_ICMP,          /* ICMP and ICMPv6 */
    MAMORI_XDP_OTHER,         /* other IP protocols, non-IP frames */
    MAMORI_XDP_REDIRECTED,    /* handed to the AF_XDP socket of its queue */
    MAMORI_XDP_PASSED,        /* no socket on its queue: to the kernel stack */
    MAMORI_XDP_SLOTS
};

struct mamori_xdp_count {
    __u64 pkts;
    __u64 bytes;
};

/* Per-source rate key: the IPv6 address, or the IPv4 one mapped into
 * ::ffff:0:0/96. */
struct mamori_xdp_src {
    __u8 addr[16];
};

/* Per-source rate, in whole seconds of CLOCK_MONOTONIC (bpf_ktime_get_ns).
 * pkts/bytes count the current second; last_* hold the second before it,
 * i.e. the packet and byte rate per second when second is the current or
 * the previous one. */
struct mamori_xdp_rate {
    __u64 second;
    __u64 pkts;
    __u64 bytes;
    __u64 last_pkts;
    __u64 last_bytes;
};

#define MAMORI_XDP_SOURCES 65536

#endif
