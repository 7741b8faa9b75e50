/* test_bench_smoke.c - mamori-bench runs and prints the JSON it promises,
 * in each of its modes (direct and ring-fed replay, a target rate, the SYN
 * flood synthesizer, a multiplied capture, EVE export). Timing is the perf
 * suite's business: nothing here looks at a rate or a cycle count's size. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cunit_run.h"
#include "e2e.h"

/* Small flow tables: the tests replay at most a few thousand flows. */
#define SMALL "--flows 65536 "

/* mamori-bench ARGS (where "%s" in args, if any, is replaced by dir): its
 * JSON report. */
static json_t *run_bench_in(const char *dir, const char *args)
{
    char out[4200];
    const char *bench = getenv("MAMORI_BENCH");

    snprintf(out, sizeof(out), "%s/bench.json", dir);
    CU_ASSERT_PTR_NOT_NULL_FATAL(bench);
    int rc = e2e_run("timeout 120 '%s' %s > '%s' 2>'%s/stderr'", bench, args, out, dir);
    CU_ASSERT_EQUAL(rc, 0);
    if (rc != 0)
        e2e_run("cat '%s/stderr' >&2", dir);
    return json_load_file(out, 0, NULL);
}

static json_t *run_bench(const char *args)
{
    char *dir = e2e_mkdtemp();
    json_t *result = run_bench_in(dir, args);
    e2e_rmdir(dir);
    return result;
}

static json_int_t get_int(json_t *r, const char *object, const char *key)
{
    return json_integer_value(json_object_get(object ? json_object_get(r, object) : r, key));
}

static void check_report(json_t *r, long long packets)
{
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL(get_int(r, NULL, "packets"), packets);
    CU_ASSERT(get_int(r, NULL, "bytes") > 0);
    CU_ASSERT(json_is_number(json_object_get(r, "mpps")));
    CU_ASSERT(json_is_number(json_object_get(r, "gbps")));
    json_t *cpp = json_object_get(r, "cycles_per_packet");
    static const char *const stages[] = { "rx", "decode", "flow", "statistics", "matching",
                                          "statistics_main", "export", "total" };
    for (unsigned i = 0; i < sizeof(stages) / sizeof(stages[0]); i++)
        CU_ASSERT(json_is_number(json_object_get(cpp, stages[i])));
    CU_ASSERT(get_int(r, "flows", "created") > 0);
    static const char *const drops[] = { "rx_ring_full", "rx_missed", "records_dropped",
                                         "alerts_dropped", "flows_evicted" };
    for (unsigned i = 0; i < sizeof(drops) / sizeof(drops[0]); i++)
        CU_ASSERT(json_is_integer(json_object_get(json_object_get(r, "drops"), drops[i])));
    CU_ASSERT(get_int(r, "memory", "max_rss_bytes") > 0);
    CU_ASSERT(get_int(r, "memory", "flow_table_bytes") > 0);
    CU_ASSERT(json_is_integer(json_object_get(json_object_get(r, "memory"), "hugepages_bytes")));
    CU_ASSERT(json_number_value(json_object_get(json_object_get(r, "memory"),
                                                "bytes_per_flow")) > 0);
    json_t *sys = json_object_get(r, "system");
    CU_ASSERT(json_string_length(json_object_get(sys, "cpu_model")) > 0);
    CU_ASSERT(get_int(r, "system", "cores") > 0);
    CU_ASSERT(json_string_length(json_object_get(sys, "dpdk")) > 0);
    CU_ASSERT(json_string_length(json_object_get(sys, "hyperscan")) > 0);
    CU_ASSERT(json_string_length(json_object_get(sys, "commit")) > 0);
}

static void test_synthetic(void)
{
    json_t *r = run_bench(SMALL "-f 1000 -n 10000 -L 2");
    check_report(r, 20000);
    CU_ASSERT_EQUAL(get_int(r, "input", "flows"), 1000);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(r, "rx")), "direct");
    CU_ASSERT_EQUAL(json_number_value(json_object_get(r, "rate_target_pps")), 0);
    /* each loop timed on its own: min <= median <= max, one per loop */
    json_t *loops = json_object_get(json_object_get(r, "cycles_per_packet"), "loops");
    CU_ASSERT_EQUAL(get_int(loops, NULL, "n"), 2);
    double lo = json_number_value(json_object_get(loops, "min"));
    double mid = json_number_value(json_object_get(loops, "median"));
    double hi = json_number_value(json_object_get(loops, "max"));
    CU_ASSERT(lo > 0 && lo <= mid && mid <= hi);
    json_decref(r);
}

static void test_capture(void)
{
    char args[4200];
    snprintf(args, sizeof(args), SMALL "-r '%s' -L 2",
             e2e_data_path("pcaps/zeek/http_bro.org.pcap"));
    json_t *r = run_bench(args);
    check_report(r, 2 * 751);
    json_decref(r);
}

/* Through the net_ring port at max rate: the feeder waits for room, so
 * every packet arrives and none is counted as a ring drop. */
static void test_ring(void)
{
    json_t *r = run_bench(SMALL "-f 1000 -n 10000 -L 3 --rx ring");
    check_report(r, 30000);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(r, "rx")), "ring");
    CU_ASSERT_PTR_NULL(json_object_get(json_object_get(r, "cycles_per_packet"), "loops"));
    CU_ASSERT_EQUAL(get_int(r, "drops", "rx_ring_full"), 0);
    CU_ASSERT_EQUAL(get_int(r, "flows", "created"), 1000);
    json_decref(r);
}

/* At a target rate a full queue drops: what was processed and what was
 * dropped add up to what was offered, whichever it was. */
static void test_ring_rate(void)
{
    json_t *r = run_bench(SMALL "-f 100 -n 5000 -L 2 --rx ring --rate 500k");
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL(json_number_value(json_object_get(r, "rate_target_pps")), 500000);
    CU_ASSERT_EQUAL(get_int(r, NULL, "packets") + get_int(r, "drops", "rx_ring_full"), 10000);
    json_decref(r);
    r = run_bench(SMALL "-f 100 -n 5000 -L 1 --rate 1g");
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL(get_int(r, NULL, "packets"), 5000);
    /* 1 Gbit/s of 60-byte frames (64 on the wire, less the FCS) */
    CU_ASSERT_DOUBLE_EQUAL(json_number_value(json_object_get(r, "rate_target_pps")),
                           1e9 / 8 / 60, 1);
    json_decref(r);
}

/* Each SYN flood flow is its own spoofed source toward one victim: as many
 * flows as sources, and the SYN flood detector sees it. */
static void test_syn_flood(void)
{
    json_t *r = run_bench(SMALL "-p syn -f 5000 -n 100000 -L 3 -A");
    check_report(r, 300000);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_object_get(r, "input"),
                                                             "proto")), "syn");
    CU_ASSERT_EQUAL(get_int(r, "flows", "created"), 5000);   /* loops 2, 3: the same sources */
    json_t *by = json_object_get(json_object_get(r, "anomaly"), "by_detector");
    CU_ASSERT(json_integer_value(json_object_get(by, "syn_flood")) > 0);
    CU_ASSERT(get_int(r, "anomaly", "alerts") > 0);
    json_decref(r);
}

/* Three rewritten copies of a capture: three times the packets and flows. */
static void test_multiply(void)
{
    char args[4200];
    const char *pcap = e2e_data_path("pcaps/zeek/http_bro.org.pcap");

    snprintf(args, sizeof(args), SMALL "-r '%s' -L 1", pcap);
    json_t *one = run_bench(args);
    snprintf(args, sizeof(args), SMALL "-r '%s' -L 1 --multiply 3 --rx ring", pcap);
    json_t *three = run_bench(args);
    check_report(one, 751);
    check_report(three, 3 * 751);
    CU_ASSERT_EQUAL(get_int(three, "input", "multiply"), 3);
    CU_ASSERT_EQUAL(get_int(three, "flows", "created"), 3 * get_int(one, "flows", "created"));
    json_decref(one);
    json_decref(three);
}

/* --eve: the flow records and alerts the report counts are the events in
 * the file, written by the sensor's EVE writer. */
static void test_eve(void)
{
    char *dir = e2e_mkdtemp(), args[8200], path[4200];
    FILE *f;

    snprintf(path, sizeof(path), "%s/get.rules", dir);
    f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fprintf(f, "alert tcp any any -> any any (msg:\"bench GET\"; flow:to_server; "
               "content:\"GET \"; depth:4; sid:1000001; rev:1;)\n");
    fclose(f);
    snprintf(args, sizeof(args), SMALL "-r '%s' -L 2 -S '%s/get.rules' -A --eve '%s/eve.json'",
             e2e_data_path("pcaps/zeek/http_bro.org.pcap"), dir, dir);
    json_t *r = run_bench_in(dir, args);
    check_report(r, 2 * 751);
    snprintf(path, sizeof(path), "%s/eve.json", dir);
    json_t *flows = e2e_read_events(path, "flow"), *alerts = e2e_read_events(path, "alert");
    CU_ASSERT(get_int(r, "flows", "records") > 0);
    CU_ASSERT_EQUAL((json_int_t)json_array_size(flows), get_int(r, "flows", "records"));
    CU_ASSERT(get_int(r, "rules", "alerts") > 0);
    CU_ASSERT_EQUAL((json_int_t)json_array_size(alerts),
                    get_int(r, "rules", "alerts") + get_int(r, "anomaly", "alerts"));
    CU_ASSERT(json_number_value(json_object_get(json_object_get(r, "cycles_per_packet"),
                                                "export")) > 0);
    json_decref(flows);
    json_decref(alerts);
    json_decref(r);
    e2e_rmdir(dir);
}

static CU_TestInfo cases[] = {
    { "synthetic traffic", test_synthetic },
    { "a capture file", test_capture },
    { "ring-backed ports", test_ring },
    { "a target rate", test_ring_rate },
    { "a SYN flood", test_syn_flood },
    { "a multiplied capture", test_multiply },
    { "EVE export", test_eve },
    CU_TEST_INFO_NULL,
};

int main(void)
{
    return cunit_run("bench_smoke", cases);
}
