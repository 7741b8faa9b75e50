/* bench_report.c - mamori-bench's result as one JSON object: rates, cycles
 * per packet per stage, drops, memory, and the system it ran on. */
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <hs.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_malloc.h>
#include <rte_version.h>

#include "bench.h"
#include "bench_commit.h"
#include "mamori_version.h"

static double per(uint64_t v, uint64_t n)
{
    return n ? (double)v / (double)n : 0;
}

/* Cycles per packet by stage. statistics and matching are the workers'
 * sampled timing (worker_stage_cycles()); flow is what is left of
 * worker_flow_burst() once they are taken off. */
static json_t *stage_report(const struct pass_result *r, const struct pass_result *base)
{
    double stats = per(r->statistics, r->stage_pkts), match = per(r->matching, r->stage_pkts);
    double flow = per(r->flow, r->pkts) - stats - match;
    json_t *cpp = json_pack("{s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f}",
                            "rx", per(r->rx, r->pkts), "decode", per(r->dec, r->pkts),
                            "flow", flow > 0 ? flow : 0, "statistics", stats, "matching", match,
                            "statistics_main", per(r->statistics_main_cycles, r->pkts),
                            "export", per(r->export_cycles, r->pkts),
                            "total", per(r->total, r->pkts), "idle", per(r->idle, r->pkts));
    if (r->n_loops > 0)
        json_object_set_new(cpp, "loops", json_pack("{s:f, s:f, s:f, s:i}", "min", r->loop_min,
                                                      "median", r->loop_median,
                                                      "max", r->loop_max,
                                                      "n", (int)r->n_loops));
    if (base != NULL) {
        json_object_set_new(cpp, "detect", json_real(per(r->total, r->pkts) -
                                                     per(base->total, base->pkts)));
        json_object_set_new(cpp, "total_without_detect", json_real(per(base->total, base->pkts)));
    }
    return cpp;
}

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

static json_t *anomaly_report(const struct pass_result *r)
{
    json_t *by = json_object();
    for (unsigned d = 0; d < ANOMALY_DETECTOR_COUNT; d++)
        if (r->by_detector[d] > 0)
            json_object_set_new(by, anomaly_detector_name((enum anomaly_detector)d),
                                json_integer((json_int_t)r->by_detector[d]));
    return json_pack("{s:I, s:o}", "alerts", (json_int_t)r->anomaly_alerts, "by_detector", by);
}

/* Bytes of the EAL's heaps (the memory they reserved: from hugepages, with
 * them, grown as needed) and of what is allocated in them (mempools, rings). */
static void eal_heap_bytes(uint64_t *heap, uint64_t *allocated)
{
    struct rte_malloc_socket_stats st;

    *heap = *allocated = 0;
    for (unsigned s = 0; s < rte_socket_count(); s++) {
        if (rte_malloc_get_socket_stats(rte_socket_id_by_idx(s), &st) == 0) {
            *heap += st.heap_totalsz_bytes;
            *allocated += st.heap_allocsz_bytes;
        }
    }
}

static json_t *memory_report(const struct bench_options *o, const struct pass_result *r)
{
    struct rusage ru;
    uint64_t heap, allocated;
    uint64_t slots = (uint64_t)o->flows_per_worker * o->workers;

    getrusage(RUSAGE_SELF, &ru);
    eal_heap_bytes(&heap, &allocated);
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:f}",
                     "max_rss_bytes", (json_int_t)ru.ru_maxrss * 1024,
                     "hugepages_bytes", (json_int_t)(rte_eal_has_hugepages() ? heap : 0),
                     "eal_heap_bytes", (json_int_t)heap,
                     "eal_allocated_bytes", (json_int_t)allocated,
                     "flow_table_bytes", (json_int_t)r->memory,
                     "bytes_per_flow", per(r->memory, slots));
}

/* "model name" of /proc/cpuinfo's first processor. */
static void cpu_model(char *buf, size_t len)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];

    snprintf(buf, len, "unknown");
    if (f == NULL)
        return;
    while (fgets(line, sizeof(line), f) != NULL) {
        char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) == 0 && colon != NULL) {
            snprintf(buf, len, "%s", colon + 2);
            buf[strcspn(buf, "\n")] = '\0';
            break;
        }
    }
    fclose(f);
}

static json_t *system_report(void)
{
    char model[256];

    cpu_model(model, sizeof(model));
    return json_pack("{s:s, s:i, s:s, s:s, s:s}", "cpu_model", model,
                     "cores", (int)sysconf(_SC_NPROCESSORS_ONLN), "dpdk", rte_version(),
                     "hyperscan", hs_version(), "commit", MAMORI_COMMIT);
}

static json_t *input_report(const struct bench_options *o, const struct bench_input *in)
{
    if (o->pcap != NULL)
        return json_pack("{s:s, s:I, s:I, s:i}", "pcap", o->pcap,
                         "packets", (json_int_t)in->packets, "bytes", (json_int_t)in->bytes,
                         "multiply", (int)o->multiply);
    return json_pack("{s:s, s:I, s:I, s:i, s:f, s:s}", "synthetic", "ethernet/ipv4",
                     "flows", (json_int_t)o->synth.flows, "packets", (json_int_t)o->synth.packets,
                     "size", (int)o->synth.size, "zipf", o->synth.zipf,
                     "proto", synth_proto_name(&o->synth));
}

/* The rate asked for, in packets/s: Gbit/s at the traffic's mean frame. */
static double rate_target_pps(const struct bench_options *o, const struct bench_input *in)
{
    if (o->rate_gbps > 0)
        return o->rate_gbps * 1e9 / 8 / (in->packets ? (double)in->bytes / (double)in->packets : 1);
    return o->rate_pps;
}

json_t *bench_report(const struct bench_options *o, const struct bench_input *in,
                     const struct pass_result *r, const struct pass_result *base,
                     const struct loaded_rules *lr)
{
    json_t *out = json_pack("{s:s, s:s, s:o, s:s, s:f, s:f, s:i, s:i, s:I, s:I, s:f, s:f, s:f, "
                            "s:f, s:I, s:f, s:o}",
                            "mamori", MAMORI_VERSION, "dpdk", rte_version(),
                            "input", input_report(o, in), "rx", o->rx_ring ? "ring" : "direct",
                            "rate_target_pps", rate_target_pps(o, in),
                            "rate_target_gbps", o->rate_gbps,
                            "workers", (int)o->workers, "loops", (int)o->loops,
                            "packets", (json_int_t)r->pkts, "bytes", (json_int_t)r->bytes,
                            "seconds", r->seconds, "mpps", (double)r->pkts / r->seconds / 1e6,
                            "gbps", (double)r->bytes * 8 / r->seconds / 1e9,
                            "line_gbps", (double)(r->bytes + 24 * r->pkts) * 8 / r->seconds / 1e9,
                            "tsc_hz", (json_int_t)rte_get_tsc_hz(),
                            "rx_burst_mean", per(r->pkts, r->bursts),
                            "cycles_per_packet", stage_report(r, base));
    json_object_set_new(out, "flows", json_pack("{s:I, s:I, s:I, s:I, s:I}",
                        "capacity_per_worker", (json_int_t)o->flows_per_worker,
                        "created", (json_int_t)r->created, "evicted", (json_int_t)r->evicted,
                        "records", (json_int_t)r->records,
                        "records_dropped", (json_int_t)r->dropped));
    json_object_set_new(out, "drops", json_pack("{s:I, s:I, s:I, s:I, s:I}",
                        "rx_ring_full", (json_int_t)r->rx_ring_full,
                        "rx_missed", (json_int_t)r->rx_missed,
                        "records_dropped", (json_int_t)r->dropped,
                        "alerts_dropped", (json_int_t)r->alerts_dropped,
                        "flows_evicted", (json_int_t)r->evicted));
    json_t *mem = memory_report(o, r);
    json_object_set(out, "flow_table_bytes", json_object_get(mem, "flow_table_bytes"));
    json_object_set(out, "max_rss_bytes", json_object_get(mem, "max_rss_bytes"));
    json_object_set_new(out, "memory", mem);
    json_object_set_new(out, "system", system_report());
    if (lr != NULL)
        json_object_set_new(out, "rules", rules_report(lr, r));
    if (o->anomaly) {
        json_object_set_new(out, "anomaly_alerts", json_integer((json_int_t)r->anomaly_alerts));
        json_object_set_new(out, "anomaly", anomaly_report(r));
    }
    return out;
}
