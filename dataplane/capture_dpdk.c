/* capture_dpdk.c - DPDK ports feeding the workers, one lcore each. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>

#include "capture_dpdk.h"
#include "counter.h"
#include "mbuf_packet.h"
#include "worker.h"

#define RX_DESCRIPTORS 1024
#define MEMPOOL_CACHE 256
#define MIN_MBUFS 8191

/* The symmetric RSS key: 0x6D5A repeated hashes (a, b) and (b, a) alike,
 * so both directions of a flow land on one queue (Woo and Park, 2012). */
static uint8_t symmetric_rss_key[52];

struct dpdk_port {
    uint16_t port_id;
    uint16_t n_queues;             /* RX queues: min(workers, what the port has) */
    bool started;
    bool file_timestamps;          /* net_pcap: mbufs carry the file's time in us */
    char name[RTE_ETH_NAME_MAX_LEN];
};

struct dpdk_lane {
    struct dpdk_capture *owner;
    struct worker *worker;
    unsigned lcore;
    bool finished;
};

struct dpdk_capture {
    struct capture base;
    struct dpdk_port *ports;
    unsigned n_ports;
    struct dpdk_lane *lanes;
    struct rte_mempool *pool;
    bool stop_requested;
    bool launched;
    int ts_offset;                 /* mbuf timestamp dynfield, -1 if none */
    uint64_t ts_flag;
    uint64_t tsc_hz;
    uint64_t tsc_base;             /* TSC and wall clock at start, for */
    uint64_t wall_base_ns;         /* packets without a driver timestamp */
};

/* ---- memory: what a capture needs, and advice when it is not there ---- */

/* DPDK memory the EAL and the ports take beside the mbuf pool: the smallest
 * --no-huge -m that starts one net_pcap port, less its pool, was 14.6 MB. */
#define EAL_OVERHEAD_MB 16
#define HUGEPAGE_MB 2
#define HUGEPAGES_FREE "/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages"

unsigned capture_dpdk_default_mbufs(unsigned n_ports, unsigned n_workers)
{
    /* Enough to fill every RX ring, plus each lcore's cache and a burst in
     * flight per worker. */
    unsigned n = n_ports * n_workers * (RX_DESCRIPTORS + WORKER_BURST) +
                 (n_workers + 1) * MEMPOOL_CACHE + 1024;
    return n < MIN_MBUFS ? MIN_MBUFS : n;
}

/* MB of DPDK memory for a pool of n mbufs and what the EAL takes itself. */
static unsigned memory_needed_mb(unsigned n)
{
    struct rte_mempool_objsz sz;
    uint64_t obj = rte_mempool_calc_obj_size(sizeof(struct rte_mbuf) + RTE_MBUF_DEFAULT_BUF_SIZE,
                                             0, &sz);
    return (unsigned)(((uint64_t)n * obj + (1u << 20) - 1) >> 20) + EAL_OVERHEAD_MB;
}

static unsigned free_hugepages(void)
{
    FILE *f = fopen(HUGEPAGES_FREE, "r");
    unsigned n = 0;

    if (f != NULL) {
        if (fscanf(f, "%u", &n) != 1)
            n = 0;
        fclose(f);
    }
    return n;
}

/* CPUs in an EAL core list "0-3,6". */
static unsigned count_cores(const char *list)
{
    unsigned n = 0;

    while (*list != '\0') {
        char *end;
        unsigned long a = strtoul(list, &end, 10), b = a;
        if (end == list)
            break;
        if (*end == '-')
            b = strtoul(end + 1, &end, 10);
        n += b >= a ? (unsigned)(b - a + 1) : 1;
        list = *end == ',' ? end + 1 : end;
        if (*end != ',')
            break;
    }
    return n;
}

/* The value of EAL option name in argv ("-m 512" or "-m512"), or NULL. */
static const char *eal_arg(int argc, char **argv, const char *name)
{
    size_t len = strlen(name);

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], name) == 0)
            return i + 1 < argc ? argv[i + 1] : "";
        if (strncmp(argv[i], name, len) == 0 && name[1] != '-' && argv[i][len] != '\0')
            return argv[i] + len;
        if (strncmp(argv[i], name, len) == 0 && argv[i][len] == '=')
            return argv[i] + len + 1;
    }
    return NULL;
}

/* What the EAL arguments ask for, before the EAL can say: workers (the
 * cores of -l less the main one, else every CPU but one) and ports (the
 * --vdev and -a arguments, at least one). */
static void eal_shape(int argc, char **argv, unsigned *ports, unsigned *workers)
{
    const char *cores = eal_arg(argc, argv, "-l");
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned n = cores ? count_cores(cores) : (unsigned)(cpus > 0 ? cpus : 2);

    *workers = n > 1 ? n - 1 : 1;
    *ports = 0;
    for (int i = 1; i < argc; i++)
        *ports += strncmp(argv[i], "--vdev", 6) == 0 || strcmp(argv[i], "-a") == 0 ||
                  strncmp(argv[i], "--allow", 7) == 0;
    if (*ports == 0)
        *ports = 1;
}

/* One line for an operator without enough hugepages: how many mamori needs
 * for its pool (or the EAL's -m, eal_mb, when larger) and the ways to get
 * them. */
static void hugepage_advice(char *out, size_t len, unsigned need_mb, unsigned eal_mb,
                            unsigned mbufs, unsigned ports, unsigned workers)
{
    unsigned pages = (RTE_MAX(need_mb, eal_mb) + HUGEPAGE_MB - 1) / HUGEPAGE_MB;
    char ask[64] = "";

    if (eal_mb > need_mb)
        snprintf(ask, sizeof(ask), ", and the EAL's -m asks for %u MB", eal_mb);
    snprintf(out, len, "mamori needs %u MB of DPDK memory for %u worker%s and %u port%s "
             "(an mbuf pool of %u buffers and the EAL's own)%s: %u hugepages of 2 MB, and %u "
             "are free. Reserve them as root: scripts/setup-hugepages %u (make hugepages), "
             "or echo %u > /proc/sys/vm/nr_hugepages and mount -t hugetlbfs nodev "
             "/dev/hugepages; small tests need none with the EAL arguments --no-huge -m %u",
             need_mb, workers, workers == 1 ? "" : "s", ports, ports == 1 ? "" : "s", mbufs,
             ask, pages, free_hugepages(), pages, pages, need_mb);
}

int capture_dpdk_init(int argc, char **argv, unsigned mbufs, char *err, size_t errlen)
{
    if (rte_eal_init(argc, argv) < 0) {
        char advice[768] = "";
        const char *m = eal_arg(argc, argv, "-m");
        unsigned ports, workers;

        eal_shape(argc, argv, &ports, &workers);
        if (mbufs == 0)
            mbufs = capture_dpdk_default_mbufs(ports, workers);
        unsigned need_mb = memory_needed_mb(mbufs);
        unsigned eal_mb = m != NULL ? (unsigned)strtoul(m, NULL, 10) : 0;
        /* Without --no-huge the EAL needs hugepages first of all: it says
         * EACCES when it finds none, ENOMEM when too few (EINVAL: bad
         * arguments, which it has named). */
        if ((rte_errno == EACCES || rte_errno == ENOMEM) &&
            eal_arg(argc, argv, "--no-huge") == NULL &&
            free_hugepages() * HUGEPAGE_MB < RTE_MAX(need_mb, eal_mb))
            hugepage_advice(advice, sizeof(advice), need_mb, eal_mb, mbufs, ports, workers);
        snprintf(err, errlen, "DPDK EAL initialisation failed: %s%s%s",
                 rte_strerror(rte_errno), advice[0] ? ". " : "", advice);
        return -1;
    }
    unsigned workers = rte_lcore_count() - 1;
    if (workers == 0) {
        snprintf(err, errlen, "DPDK: no worker lcore; give the EAL two or more (e.g. -l 0-1)");
        return -1;
    }
    return (int)workers;
}

static uint64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- worker lcore --------------------------------------------------------- */

/* The capture time of a packet. net_pcap stamps each mbuf with the file's
 * time in microseconds, which keeps a replayed capture on its own clock (so
 * --dpdk on a file gives what -r gives). Other drivers' stamps count NIC
 * clock ticks of unknown origin, so for them the TSC, converted to wall
 * time, is the clock. */
static inline uint64_t mbuf_time(const struct dpdk_capture *dc, const struct dpdk_port *port,
                                 const struct rte_mbuf *m, uint64_t tsc_now_ns)
{
    if (port->file_timestamps && (m->ol_flags & dc->ts_flag))
        return *RTE_MBUF_DYNFIELD(m, dc->ts_offset, rte_mbuf_timestamp_t *) * 1000;
    return tsc_now_ns;
}

/* TSC cycles as nanoseconds. Whole seconds and the remainder apart: cycles
 * times 1e9 would overflow 64 bits after 1.8e10 cycles, 7 s at 2.5 GHz. */
static inline uint64_t tsc_to_ns(uint64_t cycles, uint64_t hz)
{
    return cycles / hz * 1000000000ull + cycles % hz * 1000000000ull / hz;
}

static void dpdk_poll_port(struct dpdk_lane *lane, const struct dpdk_port *port, uint16_t queue)
{
    const struct dpdk_capture *dc = lane->owner;
    struct rte_mbuf *mbufs[WORKER_BURST];
    struct packet pkts[WORKER_BURST];
    uint16_t n = rte_eth_rx_burst(port->port_id, queue, mbufs, WORKER_BURST);

    if (n == 0)
        return;
    uint64_t now = dc->wall_base_ns + tsc_to_ns(rte_rdtsc() - dc->tsc_base, dc->tsc_hz);
    for (uint16_t i = 0; i < n; i++)
        packet_from_mbuf(&pkts[i], mbufs[i], mbuf_time(dc, port, mbufs[i], now), port->port_id);
    worker_process_burst(lane->worker, pkts, n);
    rte_pktmbuf_free_bulk(mbufs, n);
}

static int dpdk_worker_main(void *arg)
{
    struct dpdk_lane *lane = arg;
    struct dpdk_capture *dc = lane->owner;
    uint16_t queue = (uint16_t)worker_id(lane->worker);

    while (!__atomic_load_n(&dc->stop_requested, __ATOMIC_ACQUIRE)) {
        for (unsigned p = 0; p < dc->n_ports; p++)
            if (queue < dc->ports[p].n_queues)
                dpdk_poll_port(lane, &dc->ports[p], queue);
    }
    worker_finish(lane->worker, 0);
    __atomic_store_n(&lane->finished, true, __ATOMIC_RELEASE);
    return 0;
}

/* ---- capture ops ---------------------------------------------------------- */

static int dpdk_start(struct capture *c, char *err, size_t errlen)
{
    struct dpdk_capture *dc = (struct dpdk_capture *)c;
    unsigned lcore, i = 0;

    RTE_LCORE_FOREACH_WORKER(lcore) {
        if (i == c->n_workers)
            break;
        dc->lanes[i].lcore = lcore;
        int rc = rte_eal_remote_launch(dpdk_worker_main, &dc->lanes[i], lcore);
        if (rc != 0) {
            snprintf(err, errlen, "launching worker %u on lcore %u: %s", i, lcore, strerror(-rc));
            c->ops->stop(c);
            return -1;
        }
        i++;
    }
    dc->launched = true;
    return 0;
}

static bool dpdk_running(struct capture *c)
{
    struct dpdk_capture *dc = (struct dpdk_capture *)c;

    for (unsigned i = 0; i < c->n_workers; i++)
        if (!__atomic_load_n(&dc->lanes[i].finished, __ATOMIC_ACQUIRE))
            return true;
    return false;
}

static void dpdk_stop(struct capture *c)
{
    __atomic_store_n(&((struct dpdk_capture *)c)->stop_requested, true, __ATOMIC_RELEASE);
}

static void dpdk_join(struct capture *c)
{
    if (((struct dpdk_capture *)c)->launched)
        rte_eal_mp_wait_lcore();
}

static void dpdk_counters(struct capture *c, counter_fn fn, void *ctx)
{
    struct dpdk_capture *dc = (struct dpdk_capture *)c;
    char name[RTE_ETH_NAME_MAX_LEN + 64];

    for (unsigned p = 0; p < dc->n_ports; p++) {
        struct rte_eth_stats st;
        if (rte_eth_stats_get(dc->ports[p].port_id, &st) != 0)
            continue;
        const struct { const char *what; uint64_t v; } items[] = {
            { "ipackets", st.ipackets }, { "ibytes", st.ibytes },
            { "imissed", st.imissed }, { "ierrors", st.ierrors },
            { "rx_nombuf", st.rx_nombuf },
        };
        for (size_t i = 0; i < sizeof(items) / sizeof(items[0]); i++) {
            snprintf(name, sizeof(name), "capture.%s", items[i].what);
            fn(ctx, name, items[i].v);
            snprintf(name, sizeof(name), "port.%s.%s", dc->ports[p].name, items[i].what);
            fn(ctx, name, items[i].v);
        }
    }
    /* The pool: near its capacity in use, receives fail (rx_nombuf). */
    if (dc->pool != NULL) {
        fn(ctx, "capture.mbuf_capacity", dc->pool->size);
        fn(ctx, "capture.mbufs_in_use", rte_mempool_in_use_count(dc->pool));
    }
}

static uint64_t dpdk_packets(struct capture *c)
{
    uint64_t total = 0;

    for (unsigned i = 0; i < c->n_workers; i++)
        total += worker_counter(c->workers[i], WORKER_PKTS);
    return total;
}

static void dpdk_destroy(struct capture *c)
{
    struct dpdk_capture *dc = (struct dpdk_capture *)c;

    if (dc == NULL)
        return;
    for (unsigned p = 0; p < dc->n_ports; p++) {
        if (dc->ports[p].started)
            rte_eth_dev_stop(dc->ports[p].port_id);
        rte_eth_dev_close(dc->ports[p].port_id);
    }
    rte_mempool_free(dc->pool);
    free(dc->ports);
    free(dc->lanes);
    free(dc);
}

static const struct capture_ops dpdk_ops = {
    .name = "dpdk",
    .start = dpdk_start,
    .running = dpdk_running,
    .stop = dpdk_stop,
    .join = dpdk_join,
    .counters = dpdk_counters,
    .packets = dpdk_packets,
    .destroy = dpdk_destroy,
};

/* ---- set-up --------------------------------------------------------------- */

/* RSS over IP addresses and TCP/UDP ports with the symmetric key, where the
 * driver can. A driver without RSS keeps its own queue assignment (net_pcap
 * has one queue per rx_pcap file, a NIC without RSS fills queue 0 only):
 * every queue is still polled, and the operator is told that symmetry is
 * then the driver's business. */
static void port_rss_conf(const struct dpdk_port *port, const struct rte_eth_dev_info *info,
                          struct rte_eth_conf *conf)
{
    uint64_t wanted = RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP;
    uint64_t hf = wanted & info->flow_type_rss_offloads;

    if (port->n_queues <= 1)
        return;
    if (hf == 0) {
        fprintf(stderr, "mamori: port %s has no RSS: its %u queues are filled by the driver, "
                "not by flow\n", port->name, port->n_queues);
        return;
    }
    conf->rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
    conf->rx_adv_conf.rss_conf.rss_key = symmetric_rss_key;
    conf->rx_adv_conf.rss_conf.rss_key_len =
        info->hash_key_size && info->hash_key_size <= sizeof(symmetric_rss_key)
            ? info->hash_key_size : 40;
    conf->rx_adv_conf.rss_conf.rss_hf = hf;
}

static int port_setup(struct dpdk_capture *dc, struct dpdk_port *port, char *err, size_t errlen)
{
    struct rte_eth_dev_info info;
    struct rte_eth_conf conf;
    uint16_t nb_rxd = RX_DESCRIPTORS, nb_txd = 0;
    int rc;

    rte_eth_dev_get_name_by_port(port->port_id, port->name);
    if ((rc = rte_eth_dev_info_get(port->port_id, &info)) != 0) {
        snprintf(err, errlen, "port %s: device info: %s", port->name, strerror(-rc));
        return -1;
    }
    port->file_timestamps = dc->ts_offset >= 0 && strcmp(info.driver_name, "net_pcap") == 0;
    memset(&conf, 0, sizeof(conf));
    port->n_queues = (uint16_t)RTE_MIN(dc->base.n_workers, info.max_rx_queues);
    port_rss_conf(port, &info, &conf);

    if ((rc = rte_eth_dev_configure(port->port_id, port->n_queues, 0, &conf)) != 0) {
        snprintf(err, errlen, "port %s: configure %u RX queues: %s",
                 port->name, port->n_queues, strerror(-rc));
        return -1;
    }
    rte_eth_dev_adjust_nb_rx_tx_desc(port->port_id, &nb_rxd, &nb_txd);
    for (uint16_t q = 0; q < port->n_queues; q++) {
        rc = rte_eth_rx_queue_setup(port->port_id, q, nb_rxd,
                                    (unsigned)rte_eth_dev_socket_id(port->port_id), NULL, dc->pool);
        if (rc != 0) {
            snprintf(err, errlen, "port %s: RX queue %u: %s", port->name, q, strerror(-rc));
            return -1;
        }
    }
    if ((rc = rte_eth_dev_start(port->port_id)) != 0) {
        snprintf(err, errlen, "port %s: start: %s", port->name, strerror(-rc));
        return -1;
    }
    port->started = true;
    /* A span port sees other hosts' traffic; not every PMD has the notion. */
    rte_eth_promiscuous_enable(port->port_id);
    return 0;
}

/* The RX mbuf pool: n buffers (--mbufs), or sized for the ports and
 * workers. A small pool gets a small per-lcore cache: DPDK refuses a cache
 * that would hold more than two thirds of the pool. When the memory is not
 * there, err says how much is needed and how to get it. */
static struct rte_mempool *create_pool(unsigned n, unsigned n_ports, unsigned n_workers,
                                       char *err, size_t errlen)
{
    if (n == 0)
        n = capture_dpdk_default_mbufs(n_ports, n_workers);
    unsigned cache = RTE_MIN((unsigned)MEMPOOL_CACHE, n / 4);
    struct rte_mempool *pool = rte_pktmbuf_pool_create("mamori_rx", n, cache, 0,
                                                       RTE_MBUF_DEFAULT_BUF_SIZE, rte_socket_id());
    if (pool != NULL)
        return pool;
    int cause = rte_errno;
    unsigned need_mb = memory_needed_mb(n);
    char advice[768];
    if (rte_eal_has_hugepages())
        hugepage_advice(advice, sizeof(advice), need_mb, 0, n, n_ports, n_workers);
    else
        snprintf(advice, sizeof(advice), "mamori needs %u MB of DPDK memory for it and the "
                 "EAL's own: give the EAL -m %u (with --no-huge), or fewer --mbufs",
                 need_mb, need_mb);
    snprintf(err, errlen, "mbuf pool of %u buffers: %s. %s", n, rte_strerror(cause), advice);
    return NULL;
}

struct capture *capture_dpdk_open(struct worker **workers, unsigned n_workers, unsigned mbufs,
                                  char *err, size_t errlen)
{
    struct dpdk_capture *dc = calloc(1, sizeof(*dc));
    uint16_t port_id;

    for (size_t i = 0; i < sizeof(symmetric_rss_key); i += 2) {
        symmetric_rss_key[i] = 0x6d;
        symmetric_rss_key[i + 1] = 0x5a;
    }
    if (dc == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    dc->base.ops = &dpdk_ops;
    dc->base.workers = workers;
    dc->base.n_workers = n_workers;
    dc->n_ports = rte_eth_dev_count_avail();
    if (dc->n_ports == 0) {
        snprintf(err, errlen, "DPDK found no port: bind a NIC to a DPDK driver or give "
                 "a virtual device (e.g. --vdev=net_pcap0,rx_pcap=FILE)");
        goto fail;
    }
    dc->ports = calloc(dc->n_ports, sizeof(*dc->ports));
    dc->lanes = calloc(n_workers, sizeof(*dc->lanes));
    if (dc->ports == NULL || dc->lanes == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    for (unsigned i = 0; i < n_workers; i++) {
        dc->lanes[i].owner = dc;
        dc->lanes[i].worker = workers[i];
    }
    if (rte_mbuf_dyn_rx_timestamp_register(&dc->ts_offset, &dc->ts_flag) != 0)
        dc->ts_offset = -1;
    dc->tsc_hz = rte_get_tsc_hz();
    dc->tsc_base = rte_rdtsc();
    dc->wall_base_ns = wall_ns();
    if ((dc->pool = create_pool(mbufs, dc->n_ports, n_workers, err, errlen)) == NULL)
        goto fail;

    unsigned p = 0;
    RTE_ETH_FOREACH_DEV(port_id) {
        dc->ports[p].port_id = port_id;
        if (port_setup(dc, &dc->ports[p++], err, errlen) < 0) {
            dc->n_ports = p;
            goto fail;
        }
    }
    dc->n_ports = p;
    return &dc->base;
fail:
    dpdk_destroy(&dc->base);
    return NULL;
}

void capture_dpdk_cleanup(void)
{
    rte_eal_cleanup();
}
