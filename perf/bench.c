/* bench.c - mamori-bench: replay traffic from memory through the worker
 * pipeline and report packet rate and cycles per packet per stage.
 *
 * The traffic (a pcap file, possibly multiplied, or synthetic flows) is
 * loaded into mbufs once and spread over the workers by the software RSS
 * the pcap path uses (bench_load.c). Each worker then gets its share L
 * times, either straight from memory or through a ring-backed DPDK port
 * (bench_rx.c), and runs decode, flow, statistics and matching; the main
 * lcore takes the ended flows and alerts, counting them or writing EVE
 * (bench_export.c). With rules (-S) or the statistical detectors (-A) the
 * replay runs twice in the same process, without and with them: the
 * difference of the totals is cycles_per_packet.detect. The result is one
 * JSON object on stdout (bench_report.c). */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_launch.h>
#include <rte_lcore.h>

#include "bench.h"

/* Ring mode with the feeder on the main lcore: drain records and alerts
 * every this many feeder steps. */
#define FEED_STEPS_PER_DRAIN 64

static void usage(FILE *out)
{
    fprintf(out,
"Usage: mamori-bench [-r FILE | synthetic options] [options] [-- EAL_ARGS]\n"
"Replay traffic from memory through mamori's workers; print one JSON object.\n"
"Traffic:\n"
"  -r, --read FILE     replay a pcap/pcapng file (else synthetic traffic)\n"
"      --multiply K    with -r: K copies of the capture, copy c with c xor'ed\n"
"                      into the low 16 bits of both addresses (K times the\n"
"                      flows, interleaved at the capture's times; 1..65536)\n"
"  -f, --synth-flows N synthetic: distinct flows (default 1000000)\n"
"  -n, --synth-packets N  synthetic: packets (default 2000000)\n"
"  -s, --size S        synthetic: frame size 64..1518 or imix (default 64)\n"
"  -z, --zipf A        synthetic: Zipf popularity exponent (default uniform)\n"
"  -p, --proto P       synthetic: udp, tcp, or syn: a SYN flood, each flow a\n"
"                      spoofed source address and port sending SYNs to\n"
"                      " SYNTH_VICTIM ":80 (default udp)\n"
"Replay:\n"
"  -L, --loops L       replay the traffic L times (default 10)\n"
"  -w, --workers N     worker lcores (default 1)\n"
"      --rx MODE       direct (default): workers replay from memory; ring:\n"
"                      through a net_ring DPDK port, an RX queue per worker\n"
"                      (rte_eth_rx_burst), fed by a feeder lcore - or by the\n"
"                      main lcore between drains when the EAL has no spare\n"
"                      lcore (default EAL lcores: workers+2 if the machine\n"
"                      has that many cores, else workers+1)\n"
"      --rate R        target rate: packets/s (R, Rk, RM) or Gbit/s (Rg,\n"
"                      Rgbps; at the traffic's mean frame size); default max.\n"
"                      ring: a full queue is a drop (drops.rx_ring_full), at\n"
"                      max rate the feeder waits; direct: each worker paces\n"
"                      its share\n"
"      --flows N       flow table capacity per worker (default 2097152)\n"
"Detection and export:\n"
"  -S, --rules FILE    also match these rules (repeatable)\n"
"  -A, --anomaly       also run the statistical detectors\n"
"      --stream-flows N  TCP reassembly slots per worker (default 65536; 16 =\n"
"                      next to none: TCP matched packet by packet)\n"
"      --eve FILE      write flow records and alerts of the final pass to\n"
"                      FILE (appended) with the sensor's EVE writer, no alert\n"
"                      thresholds applied; else they are only counted\n"
"  -h, --help          this help\n"
"Output: cycles_per_packet {rx, decode, flow, statistics, matching,\n"
"  statistics_main, export, total, idle}: per worker packet, the workers'\n"
"  stages (rx, decode, flow, statistics, matching add up to total);\n"
"  statistics and matching are timed in the worker on one burst in %u\n"
"  (worker_stage_cycles), flow is the flow pass without them; idle is the\n"
"  workers' empty polls and pacing waits (not in total). On the main lcore:\n"
"  statistics_main (the detectors' tick evaluation) and export (draining\n"
"  records and alerts, EVE writing). rx is, in ring mode, rte_eth_rx_burst,\n"
"  mbufs to packets and rte_pktmbuf_free_bulk (rx_burst_mean: packets per\n"
"  non-empty burst). With -S or -A the replay runs twice, without and with\n"
"  them: detect = the difference of the totals, total_without_detect = the\n"
"  first. Direct replay: loops {min, median, max, n}: single loops' total\n"
"  cycles per packet, for comparing builds on a busy machine. Also rx,\n"
"  rate_target_pps (0 = max), rate_target_gbps, drops {\n"
"  rx_ring_full, rx_missed, records_dropped, alerts_dropped, flows_evicted},\n"
"  memory {max_rss_bytes, hugepages_bytes (the EAL heap when on hugepages),\n"
"  eal_heap_bytes, eal_allocated_bytes, flow_table_bytes, bytes_per_flow (of\n"
"  the table's capacity)}, system {cpu_model, cores, dpdk, hyperscan,\n"
"  commit}, and with -A anomaly {alerts, by_detector}.\n"
"EAL arguments default to -l 0-N (N = workers, + 1 for a ring feeder)\n"
"--in-memory, or --no-huge -m (half the RAM, >= 4096; reserved, touched as\n"
"used) when fewer than 256 hugepages are free\n"
"(run scripts/setup-hugepages).\n", WORKER_STAGE_SAMPLE);
}

/* --rate: "5000000", "5M", "800k" (packets/s) or "10g", "10gbps" (Gbit/s). */
static int parse_rate(const char *text, struct bench_options *o)
{
    char *end;
    double v = strtod(text, &end);

    o->rate_pps = o->rate_gbps = 0;
    if (end == text || !(v > 0) || !isfinite(v))
        return -1;
    if (*end == '\0')
        o->rate_pps = v;
    else if (strcmp(end, "k") == 0 || strcmp(end, "K") == 0)
        o->rate_pps = v * 1e3;
    else if (strcmp(end, "M") == 0 || strcmp(end, "m") == 0)
        o->rate_pps = v * 1e6;
    else if (strcasecmp(end, "g") == 0 || strcasecmp(end, "gbps") == 0)
        o->rate_gbps = v;
    else
        return -1;
    return 0;
}

enum {
    OPT_FLOWS = 0x100, OPT_STREAM_FLOWS, OPT_RX, OPT_RATE, OPT_MULTIPLY, OPT_EVE,
};

static int parse_option(struct bench_options *o, int c, const char *arg)
{
    switch (c) {
    case 'r': o->pcap = arg; break;
    case 'f': o->synth.flows = strtoull(arg, NULL, 10); break;
    case 'n': o->synth.packets = strtoull(arg, NULL, 10); break;
    case 's':
        if (synth_parse_size(arg, &o->synth.size) < 0) {
            fprintf(stderr, "mamori-bench: -s: '%s' is not 64..1518 or imix\n", arg);
            return -1;
        }
        break;
    case 'z': o->synth.zipf = strtod(arg, NULL); break;
    case 'p':
        if (synth_parse_proto(arg, &o->synth) < 0) {
            fprintf(stderr, "mamori-bench: -p: '%s' is not udp, tcp or syn\n", arg);
            return -1;
        }
        break;
    case 'L': o->loops = (unsigned)strtoul(arg, NULL, 10); break;
    case 'w': o->workers = (unsigned)strtoul(arg, NULL, 10); break;
    case 'A': o->anomaly = true; break;
    case OPT_FLOWS: o->flows_per_worker = (uint32_t)strtoul(arg, NULL, 10); break;
    case OPT_STREAM_FLOWS: o->stream_flows = (uint32_t)strtoul(arg, NULL, 10); break;
    case OPT_MULTIPLY: o->multiply = (unsigned)strtoul(arg, NULL, 10); break;
    case OPT_EVE: o->eve = arg; break;
    case OPT_RX:
        if (strcmp(arg, "ring") != 0 && strcmp(arg, "direct") != 0) {
            fprintf(stderr, "mamori-bench: --rx: '%s' is not direct or ring\n", arg);
            return -1;
        }
        o->rx_ring = strcmp(arg, "ring") == 0;
        break;
    case OPT_RATE:
        if (parse_rate(arg, o) < 0) {
            fprintf(stderr, "mamori-bench: --rate: '%s' is not N, Nk, NM, Ng or Ngbps\n", arg);
            return -1;
        }
        break;
    case 'S': {
        const char **files = realloc(o->rule_files, (o->n_rule_files + 1) * sizeof(char *));
        if (files == NULL)
            return -1;
        o->rule_files = files;
        o->rule_files[o->n_rule_files++] = arg;
        break;
    }
    default:
        return -1;
    }
    return 0;
}

static int parse_options(struct bench_options *o, int argc, char **argv)
{
    static const struct option opts[] = {
        { "read", required_argument, NULL, 'r' }, { "synth-flows", required_argument, NULL, 'f' },
        { "synth-packets", required_argument, NULL, 'n' }, { "size", required_argument, NULL, 's' },
        { "zipf", required_argument, NULL, 'z' }, { "proto", required_argument, NULL, 'p' },
        { "loops", required_argument, NULL, 'L' }, { "workers", required_argument, NULL, 'w' },
        { "flows", required_argument, NULL, OPT_FLOWS }, { "help", no_argument, NULL, 'h' },
        { "rules", required_argument, NULL, 'S' }, { "anomaly", no_argument, NULL, 'A' },
        { "stream-flows", required_argument, NULL, OPT_STREAM_FLOWS },
        { "rx", required_argument, NULL, OPT_RX }, { "rate", required_argument, NULL, OPT_RATE },
        { "multiply", required_argument, NULL, OPT_MULTIPLY },
        { "eve", required_argument, NULL, OPT_EVE },
        { NULL, 0, NULL, 0 },
    };
    int c;

    memset(o, 0, sizeof(*o));
    synth_config_default(&o->synth);
    o->loops = 10;
    o->workers = 1;
    o->multiply = 1;
    o->flows_per_worker = 1u << 21;
    while ((c = getopt_long(argc, argv, "r:f:n:s:z:p:L:w:S:Ah", opts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            exit(0);
        }
        if (parse_option(o, c, optarg) < 0) {
            usage(stderr);
            return -1;
        }
    }
    if (o->loops == 0 || o->workers == 0 || o->synth.flows == 0 || o->flows_per_worker < 16) {
        fprintf(stderr, "mamori-bench: loops, workers, flows must be positive\n");
        return -1;
    }
    if (o->multiply == 0 || o->multiply > BENCH_MULTIPLY_MAX) {
        fprintf(stderr, "mamori-bench: --multiply: 1..%u\n", BENCH_MULTIPLY_MAX);
        return -1;
    }
    return 0;
}

/* ---- one pass -------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The single loops' cycles per packet: on a shared machine the fastest
 * loops are the ones nothing else ran beside, so comparisons between
 * builds can rest on them (and on the median) rather than on the whole
 * run's mean. */
static void collect_loops(const struct bench_options *o, const struct lane *lanes,
                          struct pass_result *r)
{
    double *v = calloc((size_t)o->workers * o->loops, sizeof(double));
    unsigned n = 0;
    for (unsigned i = 0; v != NULL && i < o->workers; i++)
        for (unsigned l = 0; lanes[i].loop_cycles != NULL && lanes[i].n > 0 && l < o->loops; l++)
            v[n++] = (double)lanes[i].loop_cycles[l] / (double)lanes[i].n;
    if (n > 0) {
        qsort(v, n, sizeof(double), cmp_double);
        r->loop_min = v[0], r->loop_max = v[n - 1];
        r->loop_median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
        r->n_loops = n;
    }
    free(v);
}

static void collect(const struct bench_options *o, struct lane *lanes, struct pass_result *r)
{
    collect_loops(o, lanes, r);
    for (unsigned i = 0; i < o->workers; i++) {
        const struct flow_table *ft = worker_flow_table(lanes[i].worker);
        struct worker_stage_timing st;
        worker_stage_cycles(lanes[i].worker, &st);
        r->pkts += lanes[i].packets;
        r->bytes += lanes[i].bytes;
        r->rx += lanes[i].cycles_rx;
        r->dec += lanes[i].cycles_decode;
        r->flow += lanes[i].cycles_flow;
        r->total += lanes[i].cycles_total;
        r->idle += lanes[i].cycles_idle;
        r->bursts += lanes[i].bursts;
        r->stage_pkts += st.packets;
        r->statistics += st.cycles[WORKER_STAGE_STATISTICS];
        r->matching += st.cycles[WORKER_STAGE_MATCHING];
        r->created += flow_table_counter(ft, FLOW_TABLE_CREATED);
        r->evicted += flow_table_counter(ft, FLOW_TABLE_EVICTED);
        r->dropped += worker_counter(lanes[i].worker, WORKER_RECORDS_DROPPED);
        r->alerts_dropped += worker_counter(lanes[i].worker, WORKER_ALERTS_DROPPED);
        r->memory += flow_table_memory(ft);
    }
}

static int create_workers(const struct bench_options *o, struct lane *lanes,
                          struct worker_shared *shared, struct anomaly_engine *ae)
{
    char err[256];

    for (unsigned i = 0; i < o->workers; i++) {
        struct worker_config cfg;
        worker_config_default(&cfg);
        cfg.id = i;
        cfg.flows.capacity = o->flows_per_worker;
        cfg.shared = shared;
        cfg.anomaly = ae ? anomaly_engine_worker(ae, i) : NULL;
        if (o->stream_flows)
            cfg.stream.flows = o->stream_flows;
        if ((lanes[i].worker = worker_create(&cfg, err, sizeof(err))) == NULL) {
            fprintf(stderr, "mamori-bench: %s\n", err);
            return -1;
        }
        lanes[i].cycles_rx = lanes[i].cycles_decode = lanes[i].cycles_flow = 0;
        lanes[i].cycles_total = lanes[i].cycles_idle = 0;
        lanes[i].packets = lanes[i].bytes = lanes[i].bursts = 0;
        lanes[i].done = lanes[i].fed = false;
    }
    return 0;
}

static bool all_done(struct lane *lanes, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        if (!__atomic_load_n(&lanes[i].done, __ATOMIC_ACQUIRE))
            return false;
    return true;
}

/* Launch the workers (and, in ring mode, the feeder when there is an lcore
 * for it); *feeder is left for the main lcore to run otherwise. */
static void launch(const struct bench_options *o, struct lane *lanes, struct bench_feeder **feeder)
{
    unsigned lcore, i = 0;

    RTE_LCORE_FOREACH_WORKER(lcore) {
        if (i < o->workers) {
            rte_eal_remote_launch(o->rx_ring ? bench_ring_worker : bench_replay_direct,
                                  &lanes[i], lcore);
            i++;
        } else if (*feeder != NULL) {
            rte_eal_remote_launch(bench_feeder_run, *feeder, lcore);
            break;
        }
    }
    if (i < o->workers || lcore >= RTE_MAX_LCORE)
        return;                        /* the feeder is the main lcore's */
    *feeder = NULL;
}

/* The main lcore while the workers run: like the sensor's main loop, drain,
 * and sleep a tick when there was nothing rather than spin on a core a
 * worker may need; feed too when the feeder is ours. */
static void main_loop(const struct bench_options *o, struct lane *lanes, struct bench_feeder *feeder,
                      struct bench_export *x, struct anomaly_engine *ae)
{
    unsigned steps = 0;

    while (feeder != NULL && bench_feeder_step(feeder))
        if (++steps % FEED_STEPS_PER_DRAIN == 0)
            bench_export_drain(x, lanes, o->workers, ae);
    while (!all_done(lanes, o->workers))
        if (bench_export_drain(x, lanes, o->workers, ae) == 0)
            nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
}

/* Replay every lane once through fresh workers (engine may be NULL; with
 * anomaly, the statistical detectors run too; eve NULL: count only). */
static int run_pass(const struct bench_options *o, struct lane *lanes, const struct engine *engine,
                    bool anomaly, const char *eve, double rate_pps, struct pass_result *r)
{
    char err[256];
    struct anomaly_engine *ae = NULL;
    struct bench_feeder *feeder = NULL;

    memset(r, 0, sizeof(*r));
    struct bench_export *x = bench_export_create(eve, r);
    struct worker_rules *wr = engine ? worker_rules_create(engine, o->workers, 0) : NULL;
    struct worker_shared *shared = engine ? worker_shared_create(o->workers, wr) : NULL;
    if (x == NULL || (engine && (wr == NULL || shared == NULL))) {
        fprintf(stderr, "mamori-bench: %s\n", x ? "matching scratch: out of memory" : "export");
        return -1;
    }
    if (anomaly) {
        struct anomaly_config acfg;
        anomaly_config_default(&acfg);
        if ((ae = anomaly_engine_create(&acfg, o->workers, bench_export_anomaly_alert, x, err,
                                        sizeof(err))) == NULL) {
            fprintf(stderr, "mamori-bench: %s\n", err);
            return -1;
        }
    }
    if (create_workers(o, lanes, shared, ae) < 0)
        return -1;
    for (unsigned i = 0; !o->rx_ring && i < o->workers; i++) {
        free(lanes[i].loop_cycles);
        if ((lanes[i].loop_cycles = calloc(o->loops, sizeof(uint64_t))) == NULL) {
            fprintf(stderr, "mamori-bench: out of memory\n");
            return -1;
        }
    }
    if (o->rx_ring && (feeder = bench_feeder_create(lanes, o->workers, rate_pps)) == NULL) {
        fprintf(stderr, "mamori-bench: feeder: out of memory\n");
        return -1;
    }
    uint64_t t0 = rte_rdtsc();
    struct bench_feeder *mine = feeder;
    launch(o, lanes, &mine);
    main_loop(o, lanes, mine, x, ae);
    r->seconds = (double)(rte_rdtsc() - t0) / (double)rte_get_tsc_hz();
    rte_eal_mp_wait_lcore();
    while (bench_export_drain(x, lanes, o->workers, ae) > 0)
        ;
    if (ae != NULL)
        anomaly_engine_finish(ae);
    collect(o, lanes, r);
    if (feeder != NULL) {
        r->rx_ring_full = bench_feeder_ring_full(feeder);
        r->rx_missed = bench_ring_missed();
        bench_feeder_free(feeder);
    }
    int rc = bench_export_close(x);
    for (unsigned i = 0; i < o->workers; i++) {
        worker_destroy(lanes[i].worker);
        lanes[i].worker = NULL;
    }
    anomaly_engine_destroy(ae);
    worker_shared_free(shared);
    worker_rules_free(wr);
    return rc;
}

/* ---- main ---------------------------------------------------------------- */

/* Plain memory for the EAL without hugepages: half of the machine's, at
 * least 4 GiB. It is reserved, not touched: only what the mbufs of the
 * traffic take becomes resident. */
static unsigned long no_huge_megabytes(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    unsigned long kb = 0;

    if (f != NULL) {
        if (fscanf(f, "MemTotal: %lu kB", &kb) != 1)
            kb = 0;
        fclose(f);
    }
    return RTE_MAX(4096ul, kb / 1024 / 2);
}

/* Default EAL arguments: workers + 1 lcores (+ 1 for a ring feeder when
 * the machine has the cores), hugepages if free. */
static int eal_start(int argc, char **argv, const struct bench_options *o)
{
    char lcores[32], megabytes[32];
    FILE *f = fopen("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages", "r");
    long free_pages = 0, cores = sysconf(_SC_NPROCESSORS_ONLN);

    if (f != NULL) {
        if (fscanf(f, "%ld", &free_pages) != 1)
            free_pages = 0;
        fclose(f);
    }
    if (argc > 0)
        return rte_eal_init(argc, argv);
    unsigned last = o->workers + (o->rx_ring && cores >= (long)o->workers + 2 ? 1 : 0);
    snprintf(lcores, sizeof(lcores), "0-%u", last);
    snprintf(megabytes, sizeof(megabytes), "%lu", no_huge_megabytes());
    char *args[] = { "mamori-bench", "-l", lcores, "--no-pci", "--log-level=lib.eal:error",
                     free_pages >= 256 ? "--in-memory" : "--no-huge",
                     free_pages >= 256 ? NULL : "-m", free_pages >= 256 ? NULL : megabytes, NULL };
    int n = 0;
    while (args[n] != NULL)
        n++;
    return rte_eal_init(n, args);
}

static void free_lanes(struct lane *lanes, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        free(lanes[i].mbufs);
        free(lanes[i].ts);
        free(lanes[i].loop_cycles);
    }
    free(lanes);
}

/* Direct mode paces each worker at its share of the target rate. */
static double set_rates(const struct bench_options *o, struct lane *lanes,
                        const struct bench_input *in)
{
    double avg = in->packets ? (double)in->bytes / (double)in->packets : 1;
    double pps = o->rate_gbps > 0 ? o->rate_gbps * 1e9 / 8 / avg : o->rate_pps;

    for (unsigned i = 0; !o->rx_ring && i < o->workers; i++)
        lanes[i].rate_pps = in->packets ? pps * (double)lanes[i].n / (double)in->packets : 0;
    return pps;
}

int main(int argc, char **argv)
{
    struct bench_options o;
    struct bench_input in = { 0 };
    char err[256];

    if (parse_options(&o, argc, argv) < 0)
        return 2;
    /* What follows "--" goes to the EAL. */
    int eal_argc = argc - optind;
    char **eal_argv = argv + optind - 1;
    if (eal_argc > 0)
        eal_argv[0] = argv[0];
    if (eal_start(eal_argc > 0 ? eal_argc + 1 : 0, eal_argv, &o) < 0) {
        fprintf(stderr, "mamori-bench: EAL: %s\n", rte_strerror(rte_errno));
        return 1;
    }
    if (rte_lcore_count() < o.workers + 1) {
        fprintf(stderr, "mamori-bench: -w %u needs %u lcores\n", o.workers, o.workers + 1);
        return 1;
    }

    struct lane *lanes = calloc(o.workers, sizeof(*lanes));
    struct loaded_rules *lr = NULL;
    if (lanes == NULL) {
        fprintf(stderr, "mamori-bench: out of memory\n");
        return 1;
    }
    if (o.n_rule_files > 0) {
        lr = rules_load(o.rule_files, o.n_rule_files, rules_default_classification(), NULL,
                        stderr, stderr, err, sizeof(err));
        if (lr == NULL) {
            fprintf(stderr, "mamori-bench: %s\n", err);
            return 1;
        }
    }
    if (bench_load(&o, lanes, &in) < 0)
        return 1;
    if (o.rx_ring && bench_ring_setup(lanes, o.workers, in.pool) < 0)
        return 1;
    double rate_pps = set_rates(&o, lanes, &in);

    struct pass_result base, res;
    bool detect = lr != NULL || o.anomaly;
    if (detect && run_pass(&o, lanes, NULL, false, NULL, rate_pps, &base) < 0)
        return 1;
    if (run_pass(&o, lanes, lr ? lr->engine : NULL, o.anomaly, o.eve, rate_pps, &res) < 0)
        return 1;

    json_t *out = bench_report(&o, &in, &res, detect ? &base : NULL, lr);
    json_dumpf(out, stdout, JSON_INDENT(2));
    putchar('\n');
    json_decref(out);
    if (o.rx_ring)
        bench_ring_teardown(lanes, o.workers);
    free_lanes(lanes, o.workers);
    rules_free(lr);
    free(o.rule_files);
    rte_eal_cleanup();
    return 0;
}
