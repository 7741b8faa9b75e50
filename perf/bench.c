/* bench.c - mamori-bench: replay traffic from memory through the worker
 * pipeline and report packet rate and cycles per packet per stage.
 *
 * The traffic (a pcap file, or synthetic flows) is loaded into mbufs once,
 * spread over the workers by the same software RSS the pcap path uses, then
 * each worker replays its share L times on its own lcore: mbuf to packet
 * (rx), decode, flow lookup and update. Timestamps move forward by the
 * capture's duration each loop, so flows live and expire as they would.
 * With rules (-S) or the statistical detectors (-A), the replay runs twice
 * in the same process, without and with them, and the difference of the
 * totals is reported as cycles_per_packet.detect (they run inside the flow
 * stage's loop, so they are not timed on their own). The result is one
 * JSON object on stdout. */
#include <getopt.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>
#include <rte_version.h>

#include "mamori_version.h"
#include "mbuf_packet.h"
#include "anomaly.h"
#include "rules.h"
#include "traffic.h"
#include "worker.h"

/* Mbuf data room for captured frames; larger ones (GRO/TSO captures) go
 * to a second pool sized for them, up to what a 16-bit data room holds. */
#define POOL_FRAME 9216u
#define JUMBO_FRAME_MAX (UINT16_MAX - RTE_PKTMBUF_HEADROOM - 63u)

struct bench_options {
    const char *pcap;
    struct synth_config synth;
    unsigned loops;
    unsigned workers;
    uint32_t flows_per_worker;
    const char **rule_files;
    unsigned n_rule_files;
    bool anomaly;                  /* -A: the statistical detectors too */
    uint32_t stream_flows;         /* reassembly slots per worker, 0 = default */
};

/* What one worker replays and what it measured. */
struct lane {
    struct worker *worker;
    struct rte_mbuf **mbufs;
    uint64_t *ts;
    uint64_t n, cap;
    enum link_type link;
    unsigned loops;
    uint64_t loop_ns;              /* time shift per loop */
    uint64_t cycles_rx, cycles_decode, cycles_flow, cycles_total;
    uint64_t packets, bytes;
    bool done;
};

struct loader {
    struct rte_mempool *pool;
    struct rte_mempool *jumbo_pool; /* frames past POOL_FRAME (GRO/TSO captures) */
    struct lane *lanes;
    unsigned n_lanes;
    enum link_type link;
    struct decoder_counters scratch;
    uint64_t first_ts, last_ts, packets, bytes;
    const char *error;
};

static void usage(FILE *out)
{
    fprintf(out,
"Usage: mamori-bench [-r FILE | synthetic options] [options] [-- EAL_ARGS]\n"
"Replay traffic from memory through mamori's workers; print one JSON object.\n"
"  -r, --read FILE     replay a pcap/pcapng file (else synthetic traffic)\n"
"  -f, --synth-flows N synthetic: distinct flows (default 1000000)\n"
"  -n, --synth-packets N  synthetic: packets (default 2000000)\n"
"  -s, --size S        synthetic: frame size 64..1518 or imix (default 64)\n"
"  -z, --zipf A        synthetic: Zipf popularity exponent (default uniform)\n"
"  -p, --proto P       synthetic: udp or tcp (default udp)\n"
"  -L, --loops L       replay the traffic L times (default 10)\n"
"  -w, --workers N     worker lcores (default 1)\n"
"      --flows N       flow table capacity per worker (default 2097152)\n"
"  -S, --rules FILE    also match these rules (repeatable)\n"
"  -A, --anomaly       also run the statistical detectors\n"
"      --stream-flows N  TCP reassembly slots per worker (default 65536; 16 =\n"
"                      next to none: TCP matched packet by packet)\n"
"                      With -S or -A the replay runs twice, without and with\n"
"                      them; cycles_per_packet.detect is the difference\n"
"  -h, --help          this help\n"
"EAL arguments default to -l 0-N --in-memory, or --no-huge when no hugepages\n"
"are free (run scripts/setup-hugepages).\n");
}

static int parse_options(struct bench_options *o, int argc, char **argv)
{
    static const struct option opts[] = {
        { "read", required_argument, NULL, 'r' }, { "synth-flows", required_argument, NULL, 'f' },
        { "synth-packets", required_argument, NULL, 'n' }, { "size", required_argument, NULL, 's' },
        { "zipf", required_argument, NULL, 'z' }, { "proto", required_argument, NULL, 'p' },
        { "loops", required_argument, NULL, 'L' }, { "workers", required_argument, NULL, 'w' },
        { "flows", required_argument, NULL, 'F' }, { "help", no_argument, NULL, 'h' },
        { "rules", required_argument, NULL, 'S' }, { "anomaly", no_argument, NULL, 'A' },
        { "stream-flows", required_argument, NULL, 'T' },
        { NULL, 0, NULL, 0 },
    };
    int c;

    memset(o, 0, sizeof(*o));
    synth_config_default(&o->synth);
    o->loops = 10;
    o->workers = 1;
    o->flows_per_worker = 1u << 21;
    while ((c = getopt_long(argc, argv, "r:f:n:s:z:p:L:w:S:Ah", opts, NULL)) != -1) {
        switch (c) {
        case 'r': o->pcap = optarg; break;
        case 'f': o->synth.flows = strtoull(optarg, NULL, 10); break;
        case 'n': o->synth.packets = strtoull(optarg, NULL, 10); break;
        case 's':
            if (synth_parse_size(optarg, &o->synth.size) < 0) {
                fprintf(stderr, "mamori-bench: -s: '%s' is not 64..1518 or imix\n", optarg);
                return -1;
            }
            break;
        case 'z': o->synth.zipf = strtod(optarg, NULL); break;
        case 'p': o->synth.proto = strcmp(optarg, "tcp") == 0 ? 6 : 17; break;
        case 'L': o->loops = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'w': o->workers = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'F': o->flows_per_worker = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 'A': o->anomaly = true; break;
        case 'T': o->stream_flows = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 'S':
            o->rule_files = realloc(o->rule_files, (o->n_rule_files + 1) * sizeof(char *));
            if (o->rule_files == NULL)
                return -1;
            o->rule_files[o->n_rule_files++] = optarg;
            break;
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); return -1;
        }
    }
    if (o->loops == 0 || o->workers == 0 || o->synth.flows == 0 || o->flows_per_worker < 16) {
        fprintf(stderr, "mamori-bench: loops, workers, flows must be positive\n");
        return -1;
    }
    return 0;
}

/* ---- loading ------------------------------------------------------------- */

static int lane_append(struct lane *lane, struct rte_mbuf *m, uint64_t ts)
{
    if (lane->n == lane->cap) {
        uint64_t cap = lane->cap ? lane->cap * 2 : 4096;
        struct rte_mbuf **mb = realloc(lane->mbufs, cap * sizeof(*mb));
        uint64_t *t = realloc(lane->ts, cap * sizeof(*t));
        if (mb == NULL || t == NULL)
            return -1;
        lane->mbufs = mb;
        lane->ts = t;
        lane->cap = cap;
    }
    lane->mbufs[lane->n] = m;
    lane->ts[lane->n++] = ts;
    return 0;
}

/* Copy one frame into an mbuf and give it to the worker that owns its flow. */
static int load_frame(void *ctx, const uint8_t *frame, uint32_t len, uint64_t ts)
{
    struct loader *ld = ctx;
    struct rte_mempool *pool = len > POOL_FRAME && ld->jumbo_pool ? ld->jumbo_pool : ld->pool;
    struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
    struct packet pkt;
    struct decoded_packet d;
    unsigned lane = 0;

    if (m == NULL || rte_pktmbuf_tailroom(m) < len) {
        ld->error = m ? "a frame is larger than the mbuf data room" : "mbuf pool exhausted";
        rte_pktmbuf_free(m);
        return 1;
    }
    memcpy(rte_pktmbuf_append(m, (uint16_t)len), frame, len);
    packet_from_mbuf(&pkt, m, ts, 0);
    pkt.link_type = (uint16_t)ld->link;
    if (decode_packet(&pkt, &d, &ld->scratch) && ld->n_lanes > 1) {
        struct flow_key key;
        flow_key_from_decoded(&key, &d);
        lane = worker_for_hash(flow_key_hash(&key), ld->n_lanes);
    }
    if (ld->packets == 0 || ts < ld->first_ts)
        ld->first_ts = ts;
    if (ts > ld->last_ts)
        ld->last_ts = ts;
    ld->packets++;
    ld->bytes += len;
    if (lane_append(&ld->lanes[lane], m, ts) < 0) {
        ld->error = "out of memory";
        return 1;
    }
    return 0;
}

static int load_pcap(struct loader *ld, const char *path)
{
    char errbuf[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, errbuf);
    struct pcap_pkthdr *h;
    const u_char *bytes;

    if (p == NULL) {
        fprintf(stderr, "mamori-bench: %s: %s\n", path, errbuf);
        return -1;
    }
    ld->link = link_type_from_dlt(pcap_datalink(p));
    while (pcap_next_ex(p, &h, &bytes) == 1)
        if (load_frame(ld, bytes, h->caplen,
                       (uint64_t)h->ts.tv_sec * 1000000000ull + (uint64_t)h->ts.tv_usec) != 0)
            break;
    pcap_close(p);
    return ld->error ? -1 : 0;
}

/* Mbufs for every frame: the pool holds the whole capture. */
static struct rte_mempool *create_pool(const char *name, uint64_t packets, uint32_t max_frame)
{
    uint32_t room = RTE_PKTMBUF_HEADROOM + ((max_frame + 63) & ~63u);
    return rte_pktmbuf_pool_create(name, (unsigned)(packets + 1024), 256, 0,
                                   (uint16_t)room, rte_socket_id());
}

/* ---- replay -------------------------------------------------------------- */

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

static int replay_lane(void *arg)
{
    struct lane *lane = arg;
    struct packet pkts[WORKER_BURST];
    struct decoded_packet decoded[WORKER_BURST];
    uint64_t start = rte_rdtsc(), bytes = 0;

    for (unsigned loop = 0; loop < lane->loops; loop++) {
        uint64_t shift = lane->loop_ns * loop;
        for (uint64_t i = 0; i < lane->n; i += WORKER_BURST) {
            unsigned n = (unsigned)RTE_MIN((uint64_t)WORKER_BURST, lane->n - i);
            uint64_t t0 = rte_rdtsc();
            replay_prefetch(lane, i);
            for (unsigned k = 0; k < n; k++) {
                packet_from_mbuf(&pkts[k], lane->mbufs[i + k], lane->ts[i + k] + shift, 0);
                pkts[k].link_type = (uint16_t)lane->link;
                bytes += pkts[k].wirelen;
            }
            uint64_t t1 = rte_rdtsc();
            worker_decode_burst(lane->worker, pkts, decoded, n);
            uint64_t t2 = rte_rdtsc();
            worker_flow_burst(lane->worker, pkts, decoded, n);
            uint64_t t3 = rte_rdtsc();
            lane->cycles_rx += t1 - t0;
            lane->cycles_decode += t2 - t1;
            lane->cycles_flow += t3 - t2;
            lane->packets += n;
        }
    }
    lane->cycles_total = rte_rdtsc() - start;
    lane->bytes = bytes;
    worker_finish(lane->worker, 0);
    __atomic_store_n(&lane->done, true, __ATOMIC_RELEASE);
    return 0;
}

/* The main lcore consumes ended flows and alerts while the workers run, as
 * the sensor's main thread does. */
static uint64_t drain(struct lane *lanes, unsigned n, uint64_t *alerts,
                      struct anomaly_engine *anomaly)
{
    uint64_t total = 0;
    if (anomaly != NULL)
        anomaly_engine_poll(anomaly);
    for (unsigned i = 0; i < n; i++) {
        while (worker_next_record(lanes[i].worker) != NULL) {
            worker_record_done(lanes[i].worker);
            total++;
        }
        while (worker_next_alert(lanes[i].worker) != NULL) {
            worker_alert_done(lanes[i].worker);
            (*alerts)++;
        }
    }
    return total;
}

static bool all_done(struct lane *lanes, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        if (!__atomic_load_n(&lanes[i].done, __ATOMIC_ACQUIRE))
            return false;
    return true;
}

/* ---- one pass -------------------------------------------------------------- */

struct pass_result {
    uint64_t pkts, bytes, rx, dec, flow, total;
    uint64_t created, evicted, dropped, memory, records, alerts, alerts_dropped;
    double seconds;
};

static void collect(const struct bench_options *o, struct lane *lanes, struct pass_result *r)
{
    for (unsigned i = 0; i < o->workers; i++) {
        const struct flow_table *ft = worker_flow_table(lanes[i].worker);
        r->pkts += lanes[i].packets;
        r->bytes += lanes[i].bytes;
        r->rx += lanes[i].cycles_rx;
        r->dec += lanes[i].cycles_decode;
        r->flow += lanes[i].cycles_flow;
        r->total += lanes[i].cycles_total;
        r->created += flow_table_counter(ft, FLOW_TABLE_CREATED);
        r->evicted += flow_table_counter(ft, FLOW_TABLE_EVICTED);
        r->dropped += worker_counter(lanes[i].worker, WORKER_RECORDS_DROPPED);
        r->alerts_dropped += worker_counter(lanes[i].worker, WORKER_ALERTS_DROPPED);
        r->memory += flow_table_memory(ft);
    }
}

static void count_anomaly_alert(void *ctx, const struct anomaly_alert *a)
{
    (void)a;
    ((struct pass_result *)ctx)->alerts++;
}

/* Replay every lane once through fresh workers (engine may be NULL; with
 * anomaly, the statistical detectors run too). */
static int run_pass(const struct bench_options *o, struct lane *lanes, const struct engine *engine,
                    bool anomaly, struct pass_result *r)
{
    char err[256];
    struct anomaly_engine *ae = NULL;

    memset(r, 0, sizeof(*r));
    struct worker_rules *wr = engine ? worker_rules_create(engine, o->workers, 0) : NULL;
    struct worker_shared *shared = worker_shared_create(o->workers, wr);
    if ((engine && wr == NULL) || shared == NULL) {
        fprintf(stderr, "mamori-bench: matching scratch: out of memory\n");
        return -1;
    }
    if (anomaly) {
        struct anomaly_config acfg;
        anomaly_config_default(&acfg);
        if ((ae = anomaly_engine_create(&acfg, o->workers, count_anomaly_alert, r, err,
                                        sizeof(err))) == NULL) {
            fprintf(stderr, "mamori-bench: %s\n", err);
            return -1;
        }
    }
    for (unsigned i = 0; i < o->workers; i++) {
        struct worker_config cfg;
        worker_config_default(&cfg);
        cfg.id = i;
        cfg.flows.capacity = o->flows_per_worker;
        cfg.shared = engine ? shared : NULL;
        cfg.anomaly = ae ? anomaly_engine_worker(ae, i) : NULL;
        if (o->stream_flows)
            cfg.stream.flows = o->stream_flows;
        if ((lanes[i].worker = worker_create(&cfg, err, sizeof(err))) == NULL) {
            fprintf(stderr, "mamori-bench: %s\n", err);
            return -1;
        }
        lanes[i].cycles_rx = lanes[i].cycles_decode = lanes[i].cycles_flow = 0;
        lanes[i].packets = lanes[i].bytes = 0;
        lanes[i].done = false;
    }
    unsigned lcore, i = 0;
    uint64_t t0 = rte_rdtsc();
    RTE_LCORE_FOREACH_WORKER(lcore) {
        if (i == o->workers)
            break;
        rte_eal_remote_launch(replay_lane, &lanes[i++], lcore);
    }
    /* Like the sensor's main loop: drain, and sleep a tick when there was
     * nothing, rather than spin on a core a worker may need. */
    while (!all_done(lanes, o->workers)) {
        uint64_t got = drain(lanes, o->workers, &r->alerts, ae);
        if (got == 0)
            nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
        r->records += got;
    }
    r->seconds = (double)(rte_rdtsc() - t0) / (double)rte_get_tsc_hz();
    rte_eal_mp_wait_lcore();
    r->records += drain(lanes, o->workers, &r->alerts, ae);
    if (ae != NULL)
        anomaly_engine_finish(ae);
    collect(o, lanes, r);
    for (i = 0; i < o->workers; i++) {
        worker_destroy(lanes[i].worker);
        lanes[i].worker = NULL;
    }
    anomaly_engine_destroy(ae);
    worker_shared_free(shared);
    worker_rules_free(wr);
    return 0;
}

/* ---- report -------------------------------------------------------------- */

static json_t *rules_report(const struct loaded_rules *lr, const struct pass_result *r)
{
    const struct engine_stats *st = engine_stats(lr->engine);
    return json_pack("{s:i, s:i, s:i, s:i, s:i, s:I, s:f, s:I, s:I}",
                     "loaded", (int)lr->rs.loaded, "skipped", (int)lr->rs.skipped,
                     "failed", (int)lr->rs.failed, "databases", (int)st->databases,
                     "patterns", (int)st->patterns, "database_bytes", (json_int_t)st->db_bytes,
                     "compile_ms", st->compile_ms, "alerts", (json_int_t)r->alerts,
                     "alerts_dropped", (json_int_t)r->alerts_dropped);
}

static json_t *report(const struct bench_options *o, struct loader *ld, const struct pass_result *r,
                      const struct pass_result *base, const struct loaded_rules *lr)
{
    double p = r->pkts ? (double)r->pkts : 1;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);

    json_t *cpp = json_pack("{s:f, s:f, s:f, s:f}",
                            "rx", (double)r->rx / p, "decode", (double)r->dec / p,
                            "flow", (double)r->flow / p, "total", (double)r->total / p);
    if (base != NULL) {
        double bp = base->pkts ? (double)base->pkts : 1;
        json_object_set_new(cpp, "detect", json_real((double)r->total / p - (double)base->total / bp));
        json_object_set_new(cpp, "total_without_detect", json_real((double)base->total / bp));
    }
    json_t *input = o->pcap
        ? json_pack("{s:s, s:I, s:I}", "pcap", o->pcap, "packets", (json_int_t)ld->packets,
                    "bytes", (json_int_t)ld->bytes)
        : json_pack("{s:s, s:I, s:I, s:i, s:f, s:s}", "synthetic", "ethernet/ipv4",
                    "flows", (json_int_t)o->synth.flows, "packets", (json_int_t)o->synth.packets,
                    "size", (int)o->synth.size, "zipf", o->synth.zipf,
                    "proto", o->synth.proto == 6 ? "tcp" : "udp");
    json_t *out = json_pack("{s:s, s:s, s:o, s:i, s:i, s:I, s:I, s:f, s:f, s:f, s:f, s:I, s:o, "
                     "s:{s:I, s:I, s:I, s:I, s:I}, s:I}",
                     "mamori", MAMORI_VERSION, "dpdk", rte_version(), "input", input,
                     "workers", (int)o->workers, "loops", (int)o->loops,
                     "packets", (json_int_t)r->pkts, "bytes", (json_int_t)r->bytes,
                     "seconds", r->seconds, "mpps", (double)r->pkts / r->seconds / 1e6,
                     "gbps", (double)r->bytes * 8 / r->seconds / 1e9,
                     "line_gbps", (double)(r->bytes + 24 * r->pkts) * 8 / r->seconds / 1e9,
                     "tsc_hz", (json_int_t)rte_get_tsc_hz(),
                     "cycles_per_packet", cpp,
                     "flows", "capacity_per_worker", (json_int_t)o->flows_per_worker,
                     "created", (json_int_t)r->created, "evicted", (json_int_t)r->evicted,
                     "records", (json_int_t)r->records, "records_dropped", (json_int_t)r->dropped,
                     "flow_table_bytes", (json_int_t)r->memory,
                     "max_rss_bytes", (json_int_t)ru.ru_maxrss * 1024);
    if (lr != NULL)
        json_object_set_new(out, "rules", rules_report(lr, r));
    return out;
}

/* ---- main ---------------------------------------------------------------- */

/* Default EAL arguments: workers + 1 lcores, hugepages if free. */
static int eal_start(int argc, char **argv, unsigned workers)
{
    char lcores[32];
    FILE *f = fopen("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages", "r");
    long free_pages = 0;

    if (f != NULL) {
        if (fscanf(f, "%ld", &free_pages) != 1)
            free_pages = 0;
        fclose(f);
    }
    if (argc > 0)
        return rte_eal_init(argc, argv);
    snprintf(lcores, sizeof(lcores), "0-%u", workers);
    char *args[] = { "mamori-bench", "-l", lcores, "--no-pci", "--log-level=lib.eal:error",
                     free_pages >= 256 ? "--in-memory" : "--no-huge",
                     free_pages >= 256 ? NULL : "-m", free_pages >= 256 ? NULL : "4096", NULL };
    int n = 0;
    while (args[n] != NULL)
        n++;
    return rte_eal_init(n, args);
}

int main(int argc, char **argv)
{
    struct bench_options o;
    struct loader ld = { 0 };
    char err[256];

    if (parse_options(&o, argc, argv) < 0)
        return 2;
    /* What follows "--" goes to the EAL. */
    int eal_argc = argc - optind;
    char **eal_argv = argv + optind - 1;
    if (eal_argc > 0)
        eal_argv[0] = argv[0];
    if (eal_start(eal_argc > 0 ? eal_argc + 1 : 0, eal_argv, o.workers) < 0) {
        fprintf(stderr, "mamori-bench: EAL: %s\n", rte_strerror(rte_errno));
        return 1;
    }
    if (rte_lcore_count() < o.workers + 1) {
        fprintf(stderr, "mamori-bench: -w %u needs %u lcores\n", o.workers, o.workers + 1);
        return 1;
    }

    struct lane *lanes = calloc(o.workers, sizeof(*lanes));
    for (unsigned i = 0; i < o.workers; i++)
        lanes[i].loops = o.loops;
    struct loaded_rules *lr = NULL;
    if (o.n_rule_files > 0) {
        lr = rules_load(o.rule_files, o.n_rule_files, rules_default_classification(), NULL,
                        stderr, stderr, err, sizeof(err));
        if (lr == NULL) {
            fprintf(stderr, "mamori-bench: %s\n", err);
            return 1;
        }
    }

    ld.lanes = lanes;
    ld.n_lanes = o.workers;
    ld.link = LINK_ETHERNET;
    uint64_t pool_size = o.synth.packets, jumbo_frames = 0;
    uint32_t jumbo_max = 0;
    if (o.pcap != NULL) {
        char errbuf[PCAP_ERRBUF_SIZE];
        pcap_t *p = pcap_open_offline(o.pcap, errbuf);
        struct pcap_pkthdr *h;
        const u_char *b;
        pool_size = 0;
        if (p == NULL) {
            fprintf(stderr, "mamori-bench: %s: %s\n", o.pcap, errbuf);
            return 1;
        }
        /* Frames past POOL_FRAME get mbufs of their own size, so a few
         * offloaded giants do not make every mbuf huge. */
        while (pcap_next_ex(p, &h, &b) == 1) {
            if (h->caplen <= POOL_FRAME) {
                pool_size++;
            } else {
                jumbo_frames++;
                jumbo_max = RTE_MAX(jumbo_max, h->caplen);
            }
        }
        pcap_close(p);
        if (jumbo_max > JUMBO_FRAME_MAX) {
            fprintf(stderr, "mamori-bench: %s: a %u-byte frame is larger than an mbuf can hold\n",
                    o.pcap, jumbo_max);
            return 1;
        }
    }
    ld.pool = create_pool("bench", pool_size, o.pcap ? POOL_FRAME : SYNTH_MAX_FRAME);
    if (ld.pool != NULL && jumbo_frames > 0)
        ld.jumbo_pool = create_pool("bench_jumbo", jumbo_frames, jumbo_max);
    if (ld.pool == NULL || (jumbo_frames > 0 && ld.jumbo_pool == NULL)) {
        fprintf(stderr, "mamori-bench: mbuf pool of %llu: %s\n",
                (unsigned long long)(pool_size + jumbo_frames), rte_strerror(rte_errno));
        return 1;
    }
    int rc = o.pcap ? load_pcap(&ld, o.pcap) : synth_generate(&o.synth, load_frame, &ld);
    if (rc != 0 || ld.error) {
        fprintf(stderr, "mamori-bench: loading: %s\n", ld.error ? ld.error : "failed");
        return 1;
    }
    for (unsigned i = 0; i < o.workers; i++) {
        lanes[i].link = ld.link;
        lanes[i].loop_ns = ld.last_ts - ld.first_ts + 1000000000ull;
    }

    struct pass_result base, res;
    bool detect = lr != NULL || o.anomaly;
    if (detect && run_pass(&o, lanes, NULL, false, &base) < 0)
        return 1;
    if (run_pass(&o, lanes, lr ? lr->engine : NULL, o.anomaly, &res) < 0)
        return 1;

    json_t *out = report(&o, &ld, &res, detect ? &base : NULL, lr);
    if (o.anomaly)
        json_object_set_new(out, "anomaly_alerts", json_integer((json_int_t)res.alerts));
    json_dumpf(out, stdout, JSON_INDENT(2));
    putchar('\n');
    json_decref(out);
    for (unsigned i = 0; i < o.workers; i++) {
        free(lanes[i].mbufs);
        free(lanes[i].ts);
    }
    free(lanes);
    rules_free(lr);
    free(o.rule_files);
    rte_eal_cleanup();
    return 0;
}
