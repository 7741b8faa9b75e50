/* anomaly_bench.c - mamori-anomaly-bench: cycles per packet of the
 * statistical detectors' per-packet update (anomaly_worker_packet), alone.
 *
 * Packets are decoded_packet records built in memory beforehand: 64-byte
 * frames from N distinct sources (default 1M) toward D destinations.
 * Scenarios:
 *   est      TCP ACKs of established flows (flow record hot in cache, as
 *            right after flow_update()); no new flows
 *   udp      the same with UDP
 *   syn      a spoofed SYN flood: every packet a new flow toward 16 victims
 *            (the out-of-line flow-event path on every packet)
 *   scatter  established traffic toward 1M destinations (every packet
 *            misses the destination table), with and without prefetch
 * Each scenario runs the packets through a loop that does everything but
 * the detectors (reading the record, bumping the flow's counter as
 * flow_update() would) and through the same loop with them; the difference
 * is the detectors' cost. The worker is ticked every 2^20 packets (one
 * snapshot hand-over per pass, like a 1 Mpps tick) and the engine polled
 * outside the timed sections. rdtsc counts reference cycles; each figure is
 * the fastest chunk of 16384 packets over all passes (a chunk that was not
 * preempted, on a shared machine).
 *
 * A pass is one tick, so with the default event budget (262144 new flows a
 * tick) most of the syn scenario's flow events take the budget's short way;
 * -b 0 lifts the budget and shows the full flow-event cost.
 *
 *   mamori-anomaly-bench [-n sources] [-d destinations] [-p passes] [-b budget]
 *                        [-w dst_width] */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <x86intrin.h>

#include "anomaly.h"
#include "anomaly_int.h"

#define SEC 1000000000ull
#define NFLOWS 256

/* The traffic: a few hundred decoded records (they sit in L1, as a burst
 * just decoded does), whose addresses are rewritten from two arrays of n
 * addresses before each packet - 8 bytes a packet from memory, not a whole
 * record. */
#define NTMPL 512

struct traffic {
    struct decoded_packet tmpl[NTMPL];
    uint32_t *src, *dst;
    size_t n;
};

static int build(struct traffic *t, size_t n, uint32_t ndst, uint8_t proto, uint8_t flags,
                 uint64_t seed)
{
    t->n = n;
    t->src = malloc(n * sizeof(uint32_t));
    t->dst = malloc(n * sizeof(uint32_t));
    if (t->src == NULL || t->dst == NULL)
        return -1;
    for (size_t i = 0; i < n; i++) {
        t->src[i] = __builtin_bswap32((uint32_t)(0x0b000000u + i));      /* 11.0.0.0 + i */
        t->dst[i] = __builtin_bswap32((uint32_t)(0x0a000000u + sketch_hash64(i, seed) % ndst));
    }
    /* Shuffle the sources so that consecutive packets are unrelated. */
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = sketch_hash64(i, seed ^ 1) % (i + 1);
        uint32_t x = t->src[i];
        t->src[i] = t->src[j];
        t->src[j] = x;
    }
    for (unsigned i = 0; i < NTMPL; i++) {
        struct decoded_packet *d = &t->tmpl[i];
        memset(d, 0, sizeof(*d));
        d->src_port = (uint16_t)(1024 + i * 97);
        d->dst_port = proto == 17 ? 5004 : 443;
        d->ip_version = 4;
        d->ip_proto = proto;
        d->flags = DECODED_IP | DECODED_L4;
        d->tcp_flags = proto == 6 ? flags : 0;
        d->ttl = 64;
    }
    return 0;
}

static void traffic_free(struct traffic *t)
{
    free(t->src);
    free(t->dst);
}

static struct flow flows[NFLOWS];

static void flows_init(bool established)
{
    memset(flows, 0, sizeof(flows));
    for (unsigned i = 0; i < NFLOWS; i++) {
        struct flow *f = &flows[i];
        f->key.ip_proto = 6;
        f->key.ip_version = 4;
        f->pkts[0] = established ? 5 + i : 0;
        f->pkts[1] = established ? 5 + i : 0;
        f->tcp_flags[0] = established ? 0x12 : 0;
        f->tcp_flags[1] = established ? 0x12 : 0;
        f->tcp_state = established ? TCP_STATE_ESTABLISHED : TCP_STATE_NONE;
    }
}

enum mode { BASE, DETECT, DETECT_PREFETCH, DETECT_CALL };

/* One pass over the packets. The flow counter bump and the loads stand in
 * for the pipeline around the detectors; BASE does only them. */
/* One pass over the packets, timed in chunks of CHUNK packets; returns the
 * fastest chunk's cycles per packet. On a shared machine a chunk that was
 * not preempted is the steady-state cost; the slower ones are noise. */
#define CHUNK 16384

static double pass(struct anomaly_worker *aw, struct traffic *t, bool created, enum mode mode,
                   uint64_t *sink)
{
    uint64_t acc = 0;
    const size_t n = t->n;
    double best = 1e30;
    /* Addresses are written AHEAD packets early, as a decoded burst's are
     * long stored when the flow stage reads them (a store just before the
     * wider load of the same bytes would stall store forwarding). */
    enum { AHEAD = 64 };
    for (size_t i = 0; i < AHEAD && i < n; i++) {
        memcpy(t->tmpl[i].src_addr, &t->src[i], 4);
        memcpy(t->tmpl[i].dst_addr, &t->dst[i], 4);
    }
    for (size_t c0 = 0; c0 < n; c0 += CHUNK) {
        size_t c1 = c0 + CHUNK < n ? c0 + CHUNK : n;
        uint64_t t0 = __rdtsc();
        for (size_t i = c0; i < c1; i++) {
            struct decoded_packet *d = &t->tmpl[i & (NTMPL - 1)];
            if (i + AHEAD < n) {
                struct decoded_packet *a = &t->tmpl[(i + AHEAD) & (NTMPL - 1)];
                memcpy(a->src_addr, &t->src[i + AHEAD], 4);
                memcpy(a->dst_addr, &t->dst[i + AHEAD], 4);
            }
            struct flow *f = &flows[i & (NFLOWS - 1)];
            f->pkts[0]++;
            if (created)
                f->pkts[0] = 1;
            switch (mode) {
            case BASE:
                acc += d->dst_addr[3] + f->pkts[0];
                break;
            case DETECT_PREFETCH:
                anomaly_worker_prefetch_inline(aw, &t->tmpl[(i + 8) & (NTMPL - 1)]);
                /* fall through */
            case DETECT:
                anomaly_worker_packet_inline(aw, d, f, FLOW_TOSERVER, created, 64);
                break;
            case DETECT_CALL:
                anomaly_worker_packet(aw, d, f, FLOW_TOSERVER, created, 64);
                break;
            }
        }
        double cpp = (double)(__rdtsc() - t0) / (double)(c1 - c0);
        if (cpp < best)
            best = cpp;
    }
    *sink += acc;
    return best;
}

struct result {
    double base, detect, prefetch, call;
};

static void run(struct anomaly_engine *e, struct anomaly_worker *aw, const char *name,
                struct traffic *t, bool created, bool established, unsigned passes,
                uint64_t *clock)
{
    double best[4] = { 1e30, 1e30, 1e30, 1e30 };
    uint64_t sink = 0;
    for (unsigned p = 0; p < passes; p++) {
        for (int m = BASE; m <= DETECT_CALL; m++) {
            flows_init(established);
            double c = pass(aw, t, created, (enum mode)m, &sink);
            if (c < best[m])
                best[m] = c;
            *clock += SEC;                     /* a tick per pass */
            anomaly_worker_tick(aw, *clock);
            anomaly_engine_poll(e);
        }
    }
    printf("  %-8s base %5.1f  +detectors %5.1f (= %4.1f)  +prefetch %5.1f (= %4.1f)  "
           "called %5.1f (= %4.1f) cycles/packet\n",
           name, best[BASE], best[DETECT], best[DETECT] - best[BASE], best[DETECT_PREFETCH],
           best[DETECT_PREFETCH] - best[BASE], best[DETECT_CALL], best[DETECT_CALL] - best[BASE]);
    if (sink == 42)
        printf(" ");
}

int main(int argc, char **argv)
{
    size_t nsrc = 1u << 20;
    uint32_t ndst = 1024;
    unsigned passes = 5;
    int c;
    uint64_t budget = 262144;
    uint32_t width = 0;
    while ((c = getopt(argc, argv, "n:d:p:b:w:")) != -1) {
        switch (c) {
        case 'w': width = (uint32_t)strtoul(optarg, NULL, 0); break;
        case 'b': budget = strtoull(optarg, NULL, 0); break;
        case 'n': nsrc = strtoul(optarg, NULL, 0); break;
        case 'd': ndst = (uint32_t)strtoul(optarg, NULL, 0); break;
        case 'p': passes = (unsigned)strtoul(optarg, NULL, 0); break;
        default:
            fprintf(stderr, "usage: %s [-n sources] [-d destinations] [-p passes] "
                    "[-b event budget] [-w dst_width]\n", argv[0]);
            return 2;
        }
    }
    struct anomaly_config cfg;
    anomaly_config_default(&cfg);
    cfg.event_budget = budget;
    if (width)
        cfg.dst_width = width;
    char err[256];
    struct anomaly_engine *e = anomaly_engine_create(&cfg, 1, NULL, NULL, err, sizeof(err));
    if (e == NULL) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    struct anomaly_worker *aw = anomaly_engine_worker(e, 0);
    uint64_t clock = 1700000000ull * SEC;
    anomaly_worker_tick(aw, clock);

    static struct traffic est, udp, syn, scatter;
    if (build(&est, nsrc, ndst, 6, 0x10, 1) < 0 || build(&udp, nsrc, ndst, 17, 0, 2) < 0 ||
        build(&syn, nsrc, 16, 6, 0x02, 3) < 0 || build(&scatter, nsrc, 1u << 20, 6, 0x10, 4) < 0) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    printf("mamori-anomaly-bench: %zu sources, %u destinations, 64-byte packets, best of %u, "
           "dst_width %u\n", nsrc, ndst, passes, cfg.dst_width);
    run(e, aw, "est", &est, false, true, passes, &clock);
    run(e, aw, "udp", &udp, false, true, passes, &clock);
    run(e, aw, "syn", &syn, true, false, passes, &clock);
    run(e, aw, "scatter", &scatter, false, true, passes, &clock);
    printf("memory: worker %.1f MiB (%u snapshots of %.2f MiB), engine %.1f MiB\n",
           anomaly_worker_memory(aw) / 1048576.0, cfg.snapshots,
           aw->snaps[0].mem_bytes / 1048576.0, anomaly_engine_memory(e) / 1048576.0);
    printf("ticks dropped: %llu\n", (unsigned long long)anomaly_worker_ticks_dropped(aw));
    anomaly_worker_finish(aw);
    anomaly_engine_finish(e);
    anomaly_engine_destroy(e);
    traffic_free(&est);
    traffic_free(&udp);
    traffic_free(&syn);
    traffic_free(&scatter);
    return 0;
}
