// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* mamori_xdp.bpf.c - the kernel side of the AF_XDP capture.
 *
 * For every frame on the interface it is attached to:
 *   1. count it per CPU, by protocol (TCP, UDP, ICMP, other), packets and bytes;
 *   2. count it for its IP source in an LRU hash, per second, so that the
 *      volumetric detectors can still see who floods when user space is
 *      saturated and the AF_XDP ring overflows;
 *   3. redirect it to the AF_XDP socket of its RX queue (XSKMAP), or pass it
 *      to the kernel stack when that queue has no socket.
 * mamori watches a copy of the traffic: nothing is ever dropped here. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "mamori_xdp.h"

/* The loader sets max_entries to the interface's queue count before load. */
struct {
    __uint(type, BPF_MAP_TYPE_XSKMAP);
    __uint(max_entries, 64);
    __type(key, __u32);
    __type(value, __u32);
} xsks SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, MAMORI_XDP_SLOTS);
    __type(key, __u32);
    __type(value, struct mamori_xdp_count);
} counts SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, MAMORI_XDP_SOURCES);
    __type(key, struct mamori_xdp_src);
    __type(value, struct mamori_xdp_rate);
} sources SEC(".maps");

/* The pid of the mamori that attached this program: a later run tells a
 * program left by a crashed run (pid gone) from a live one. */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u32);
} mamori_owner SEC(".maps");

#define ETH_P_8021Q_ 0x8100
#define ETH_P_8021AD_ 0x88A8
#define IPV6_EXT_MAX 4

struct vlan_hdr_ {
    __be16 tci;
    __be16 proto;
};

static __always_inline void count(__u32 slot, __u64 bytes)
{
    struct mamori_xdp_count *c = bpf_map_lookup_elem(&counts, &slot);

    if (c) {            /* per CPU: no atomics needed */
        c->pkts++;
        c->bytes += bytes;
    }
}

static __always_inline __u32 slot_of(__u8 ip_proto)
{
    switch (ip_proto) {
    case IPPROTO_TCP:
        return MAMORI_XDP_TCP;
    case IPPROTO_UDP:
        return MAMORI_XDP_UDP;
    case IPPROTO_ICMP:
    case IPPROTO_ICMPV6:
        return MAMORI_XDP_ICMP;
    default:
        return MAMORI_XDP_OTHER;
    }
}

/* The upper-layer protocol after IPv6 extension headers (a few of them:
 * enough to classify, not a full walk). */
static __always_inline __u8 ipv6_upper(struct ipv6hdr *ip6, void *end)
{
    __u8 next = ip6->nexthdr;
    __u8 *p = (__u8 *)(ip6 + 1);

#pragma unroll
    for (int i = 0; i < IPV6_EXT_MAX; i++) {
        if (next != IPPROTO_HOPOPTS && next != IPPROTO_ROUTING &&
            next != IPPROTO_DSTOPTS && next != IPPROTO_FRAGMENT)
            return next;
        if ((void *)(p + 8) > end)
            return next;
        __u8 hdr_len = next == IPPROTO_FRAGMENT ? 8 : (__u8)((p[1] + 1) * 8);
        next = p[0];
        p += hdr_len;
    }
    return next;
}

/* Ethernet, up to two VLAN tags, IPv4 or IPv6: the counter slot, and the
 * source address when the frame is IP (*is_ip set). */
static __always_inline __u32 parse(void *data, void *end, struct mamori_xdp_src *src, int *is_ip)
{
    struct ethhdr *eth = data;
    __u8 *p = data;
    __be16 type;

    *is_ip = 0;
    if ((void *)(eth + 1) > end)
        return MAMORI_XDP_OTHER;
    type = eth->h_proto;
    p += sizeof(*eth);
#pragma unroll
    for (int i = 0; i < 2; i++) {
        if (type != bpf_htons(ETH_P_8021Q_) && type != bpf_htons(ETH_P_8021AD_))
            break;
        struct vlan_hdr_ *vlan = (struct vlan_hdr_ *)p;
        if ((void *)(vlan + 1) > end)
            return MAMORI_XDP_OTHER;
        type = vlan->proto;
        p += sizeof(*vlan);
    }
    if (type == bpf_htons(ETH_P_IP)) {
        struct iphdr *ip = (struct iphdr *)p;
        if ((void *)(ip + 1) > end)
            return MAMORI_XDP_OTHER;
        __builtin_memset(src->addr, 0, 10);
        src->addr[10] = 0xff;
        src->addr[11] = 0xff;
        __builtin_memcpy(&src->addr[12], &ip->saddr, 4);
        *is_ip = 1;
        return slot_of(ip->protocol);
    }
    if (type == bpf_htons(ETH_P_IPV6)) {
        struct ipv6hdr *ip6 = (struct ipv6hdr *)p;
        if ((void *)(ip6 + 1) > end)
            return MAMORI_XDP_OTHER;
        __builtin_memcpy(src->addr, &ip6->saddr, 16);
        *is_ip = 1;
        return slot_of(ipv6_upper(ip6, end));
    }
    return MAMORI_XDP_OTHER;
}

/* This second's count for the source. CPUs race on the roll-over to a new
 * second; the loss is a few packets of one second, not worth a lock. */
static __always_inline void track_source(const struct mamori_xdp_src *src, __u64 bytes)
{
    __u64 second = bpf_ktime_get_ns() / 1000000000ull;
    struct mamori_xdp_rate *r = bpf_map_lookup_elem(&sources, src);

    if (r == NULL) {
        struct mamori_xdp_rate fresh = { .second = second, .pkts = 1, .bytes = bytes };
        bpf_map_update_elem(&sources, src, &fresh, BPF_NOEXIST);
        return;
    }
    if (r->second != second) {
        int consecutive = r->second + 1 == second;
        r->last_pkts = consecutive ? r->pkts : 0;
        r->last_bytes = consecutive ? r->bytes : 0;
        r->pkts = 0;
        r->bytes = 0;
        r->second = second;
    }
    __sync_fetch_and_add(&r->pkts, 1);
    __sync_fetch_and_add(&r->bytes, bytes);
}

SEC("xdp")
int mamori_xdp(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *end = (void *)(long)ctx->data_end;
    __u64 bytes = (__u64)(end - data);
    struct mamori_xdp_src src;
    __u32 zero = 0;
    int is_ip;

    /* Reading the owner map makes the kernel keep it, and the pid a later
     * run checks, for as long as the program stays attached (an array
     * lookup is inlined: a few instructions). No owner yet: not ours to
     * handle. */
    __u32 *owner = bpf_map_lookup_elem(&mamori_owner, &zero);
    if (owner == NULL || *owner == 0)
        return XDP_PASS;
    count(parse(data, end, &src, &is_ip), bytes);
    if (is_ip)
        track_source(&src, bytes);
    /* XDP_PASS in the flags is what the helper returns when the queue has
     * no socket in the map. */
    long action = bpf_redirect_map(&xsks, ctx->rx_queue_index, XDP_PASS);
    count(action == XDP_REDIRECT ? MAMORI_XDP_REDIRECTED : MAMORI_XDP_PASSED, bytes);
    return (int)action;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
