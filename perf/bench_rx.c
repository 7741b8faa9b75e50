/* bench_rx.c - how mamori-bench's traffic reaches the workers.
 *
 * direct: each worker replays its lane from memory on its own lcore, the
 *   mbufs turned into packets in place (no ethdev in the way).
 * ring: as the sensor receives, through a DPDK port: one net_ring port
 *   (rte_eth_from_rings) with an RX queue per worker, each an rte_ring. A
 *   feeder enqueues the lanes' mbufs L times; workers run the sensor's loop
 *   rte_eth_rx_burst -> decode -> flow -> rte_pktmbuf_free_bulk. The feeder
 *   takes a reference on each mbuf before enqueueing it, so the worker's
 *   free only gives it back and the same mbufs are replayed every loop.
 *
 * Timestamps move forward by the traffic's duration each loop. A ring
 * worker finds a packet's time from its index in the lane (an mbuf field
 * set at load) and counts loops by the index going back. */
#include <stdio.h>
#include <stdlib.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_prefetch.h>
#include <rte_ring.h>

#include "bench.h"
#include "mbuf_packet.h"

#define RING_SIZE 4096                 /* a queue's descriptors, as a NIC's RX ring */

static int ring_port = -1;

/* When a pacer lets the packet numbered `sent` go: start + sent / rate. */
static inline uint64_t pacer_due(uint64_t start, double cycles_per_pkt, uint64_t sent)
{
    return start + (uint64_t)((double)sent * cycles_per_pkt);
}

static inline double cycles_per_packet_at(double rate_pps)
{
    return rate_pps > 0 ? (double)rte_get_tsc_hz() / rate_pps : 0;
}

/* ---- direct --------------------------------------------------------------- */

/* Bring the mbufs of later bursts into cache, as a NIC's rx path would have
 * them: the PMD has just written the mbuf headers and DMA'd the frames. A
 * replay from memory reads both cold, so, like DPDK's l3fwd, prefetch the
 * headers two bursts ahead and the frames one burst ahead - the latter
 * reads a header, which the previous burst's prefetch brought in. */
static inline void replay_prefetch(const struct lane *lane, uint64_t i)
{
    uint64_t hdr = i + 2 * WORKER_BURST, data = i + WORKER_BURST;

    for (uint64_t k = hdr; k < hdr + WORKER_BURST && k < lane->n; k++)
        rte_prefetch0(lane->mbufs[k]);
    for (uint64_t k = data; k < data + WORKER_BURST && k < lane->n; k++)
        rte_prefetch0(rte_pktmbuf_mtod(lane->mbufs[k], void *));
}

/* Decode and flow stages of one burst, timed; t0 is the burst's start.
 * Returns the TSC at the end of the flow stage. */
static inline uint64_t run_burst(struct lane *lane, const struct packet *pkts, unsigned n,
                                 uint64_t t0)
{
    struct decoded_packet decoded[WORKER_BURST];
    uint64_t t1 = rte_rdtsc();

    worker_decode_burst(lane->worker, pkts, decoded, n);
    uint64_t t2 = rte_rdtsc();
    worker_flow_burst(lane->worker, pkts, decoded, n);
    uint64_t t3 = rte_rdtsc();
    lane->cycles_rx += t1 - t0;
    lane->cycles_decode += t2 - t1;
    lane->cycles_flow += t3 - t2;
    lane->packets += n;
    lane->bursts++;
    return t3;
}

static void lane_finish(struct lane *lane, uint64_t start)
{
    lane->cycles_total = rte_rdtsc() - start - lane->cycles_idle;
    worker_finish(lane->worker, 0);
    __atomic_store_n(&lane->done, true, __ATOMIC_RELEASE);
}

/* Wait for a pacer's due time; the wait counts as idle. Returns the TSC. */
static inline uint64_t pace(struct lane *lane, uint64_t due, uint64_t now)
{
    uint64_t t = now;

    while (t < due) {
        rte_pause();
        t = rte_rdtsc();
    }
    lane->cycles_idle += t - now;
    return t;
}

int bench_replay_direct(void *arg)
{
    struct lane *lane = arg;
    struct packet pkts[WORKER_BURST];
    double cpp = cycles_per_packet_at(lane->rate_pps);
    uint64_t start = rte_rdtsc(), bytes = 0, sent = 0;

    for (unsigned loop = 0; loop < lane->loops; loop++) {
        uint64_t shift = lane->loop_ns * loop;
        uint64_t loop_start = rte_rdtsc(), idle_before = lane->cycles_idle;
        for (uint64_t i = 0; i < lane->n; i += WORKER_BURST) {
            unsigned n = (unsigned)RTE_MIN((uint64_t)WORKER_BURST, lane->n - i);
            uint64_t t0 = rte_rdtsc();
            if (cpp > 0)
                t0 = pace(lane, pacer_due(start, cpp, sent), t0);
            sent += n;
            replay_prefetch(lane, i);
            for (unsigned k = 0; k < n; k++) {
                packet_from_mbuf(&pkts[k], lane->mbufs[i + k], lane->ts[i + k] + shift, 0);
                pkts[k].link_type = (uint16_t)lane->link;
                bytes += pkts[k].wirelen;
            }
            run_burst(lane, pkts, n, t0);
        }
        if (lane->loop_cycles != NULL)
            lane->loop_cycles[loop] = rte_rdtsc() - loop_start - (lane->cycles_idle - idle_before);
    }
    lane->bytes = bytes;
    lane_finish(lane, start);
    return 0;
}

/* ---- ring: the port ------------------------------------------------------- */

int bench_ring_setup(struct lane *lanes, unsigned n, struct rte_mempool *pool)
{
    struct rte_ring *rings[RTE_MAX_LCORE];
    struct rte_eth_conf conf = { 0 };
    char name[RTE_RING_NAMESIZE];

    for (unsigned i = 0; i < n; i++) {
        snprintf(name, sizeof(name), "bench_rx%u", i);
        rings[i] = rte_ring_create(name, RING_SIZE, rte_socket_id(), RING_F_SP_ENQ | RING_F_SC_DEQ);
        if (rings[i] == NULL) {
            fprintf(stderr, "mamori-bench: ring %s: %s\n", name, rte_strerror(rte_errno));
            return -1;
        }
        lanes[i].ring = rings[i];
    }
    ring_port = rte_eth_from_rings("net_ring_bench", rings, n, rings, n, rte_socket_id());
    if (ring_port < 0) {
        fprintf(stderr, "mamori-bench: net_ring port: %s\n", rte_strerror(rte_errno));
        return -1;
    }
    uint16_t port = (uint16_t)ring_port;
    int rc = rte_eth_dev_configure(port, (uint16_t)n, (uint16_t)n, &conf);
    for (unsigned q = 0; rc == 0 && q < n; q++) {
        rc = rte_eth_rx_queue_setup(port, (uint16_t)q, RING_SIZE, rte_socket_id(), NULL, pool);
        if (rc == 0)
            rc = rte_eth_tx_queue_setup(port, (uint16_t)q, RING_SIZE, rte_socket_id(), NULL);
        lanes[q].port = port;
        lanes[q].queue = (uint16_t)q;
    }
    if (rc == 0)
        rc = rte_eth_dev_start(port);
    if (rc != 0) {
        fprintf(stderr, "mamori-bench: net_ring port %u: %s\n", port, rte_strerror(-rc));
        return -1;
    }
    return 0;
}

uint64_t bench_ring_missed(void)
{
    struct rte_eth_stats st;

    if (ring_port < 0 || rte_eth_stats_get((uint16_t)ring_port, &st) != 0)
        return 0;
    return st.imissed + st.rx_nombuf;
}

void bench_ring_teardown(struct lane *lanes, unsigned n)
{
    if (ring_port >= 0) {
        rte_eth_dev_stop((uint16_t)ring_port);
        rte_eth_dev_close((uint16_t)ring_port);
        ring_port = -1;
    }
    for (unsigned i = 0; i < n; i++) {
        rte_ring_free(lanes[i].ring);
        lanes[i].ring = NULL;
    }
}

/* ---- ring: the worker ----------------------------------------------------- */

int bench_ring_worker(void *arg)
{
    struct lane *lane = arg;
    struct rte_mbuf *mbufs[WORKER_BURST];
    struct packet pkts[WORKER_BURST];
    uint64_t start = rte_rdtsc(), bytes = 0, loop = 0, t0 = start;
    uint32_t last = UINT32_MAX;

    /* Every cycle is some stage's: each interval starts where the last
     * ended, so polling and freeing count as rx, empty polls as idle. */
    for (;;) {
        /* Read "fed" before polling: an empty queue after it means done. */
        bool fed = __atomic_load_n(&lane->fed, __ATOMIC_ACQUIRE);
        uint16_t n = rte_eth_rx_burst(lane->port, lane->queue, mbufs, WORKER_BURST);
        if (n == 0) {
            if (fed)
                break;
            worker_idle(lane->worker);
            uint64_t t = rte_rdtsc();
            lane->cycles_idle += t - t0;
            t0 = t;
            continue;
        }
        /* The frames were written at load, long ago: bring them in as a
         * NIC's DMA into the cache (DDIO) would have, as the direct replay
         * does. */
        for (uint16_t k = 0; k < n; k++)
            rte_prefetch0(rte_pktmbuf_mtod(mbufs[k], void *));
        for (uint16_t k = 0; k < n; k++) {
            uint32_t idx = bench_mbuf_index(mbufs[k]);
            if (last != UINT32_MAX && idx <= last)
                loop++;
            last = idx;
            packet_from_mbuf(&pkts[k], mbufs[k], lane->ts[idx] + loop * lane->loop_ns,
                             lane->port);
            pkts[k].link_type = (uint16_t)lane->link;
            bytes += pkts[k].wirelen;
        }
        uint64_t t3 = run_burst(lane, pkts, n, t0);
        rte_pktmbuf_free_bulk(mbufs, n);
        t0 = rte_rdtsc();
        lane->cycles_rx += t0 - t3;
    }
    lane->bytes = bytes;
    lane_finish(lane, start);
    return 0;
}

/* ---- ring: the feeder ----------------------------------------------------- */

struct feed_pos {
    uint64_t next;                 /* index of the lane's next packet */
    unsigned loop;
};

struct bench_feeder {
    struct lane *lanes;
    unsigned n;
    double cycles_per_pkt;         /* 0: max rate, wait for room */
    uint64_t start, offered, ring_full;
    unsigned lanes_left;
    struct feed_pos pos[];
};

struct bench_feeder *bench_feeder_create(struct lane *lanes, unsigned n, double rate_pps)
{
    struct bench_feeder *f = calloc(1, sizeof(*f) + n * sizeof(f->pos[0]));

    if (f == NULL)
        return NULL;
    f->lanes = lanes;
    f->n = n;
    f->cycles_per_pkt = cycles_per_packet_at(rate_pps);
    for (unsigned i = 0; i < n; i++) {
        if (lanes[i].n > 0 && lanes[i].loops > 0)
            f->lanes_left++;
        else
            __atomic_store_n(&lanes[i].fed, true, __ATOMIC_RELEASE);
    }
    return f;
}

/* Offer lane i's next burst. At a target rate a full queue drops what did
 * not fit, as a NIC's full RX ring would; at max rate it is offered again. */
static void feed_lane(struct bench_feeder *f, unsigned i)
{
    struct lane *lane = &f->lanes[i];
    struct feed_pos *p = &f->pos[i];
    unsigned n = (unsigned)RTE_MIN((uint64_t)WORKER_BURST, lane->n - p->next);
    struct rte_mbuf **burst = lane->mbufs + p->next;

    for (unsigned k = 0; k < n; k++)
        rte_mbuf_refcnt_update(burst[k], 1);
    unsigned sent = rte_ring_sp_enqueue_burst(lane->ring, (void **)burst, n, NULL);
    for (unsigned k = sent; k < n; k++)
        rte_mbuf_refcnt_update(burst[k], -1);
    if (f->cycles_per_pkt > 0) {
        f->ring_full += n - sent;
        sent = n;
    }
    f->offered += sent;
    p->next += sent;
    if (p->next == lane->n) {
        p->next = 0;
        if (++p->loop == lane->loops) {
            f->lanes_left--;
            __atomic_store_n(&lane->fed, true, __ATOMIC_RELEASE);
        }
    }
}

bool bench_feeder_step(struct bench_feeder *f)
{
    if (f->start == 0)
        f->start = rte_rdtsc();
    for (unsigned i = 0; i < f->n && f->lanes_left > 0; i++) {
        if (f->pos[i].loop == f->lanes[i].loops)
            continue;
        if (f->cycles_per_pkt > 0 && rte_rdtsc() < pacer_due(f->start, f->cycles_per_pkt,
                                                             f->offered))
            return true;
        feed_lane(f, i);
    }
    return f->lanes_left > 0;
}

int bench_feeder_run(void *arg)
{
    while (bench_feeder_step(arg))
        ;
    return 0;
}

uint64_t bench_feeder_ring_full(const struct bench_feeder *f)
{
    return f->ring_full;
}

void bench_feeder_free(struct bench_feeder *f)
{
    free(f);
}
