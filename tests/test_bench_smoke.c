/* test_bench_smoke.c - mamori-bench runs and prints the JSON it promises.
 * Timing is the perf suite's business: nothing here looks at a rate. */
#include <stdio.h>
#include <stdlib.h>

#include "cunit_run.h"
#include "e2e.h"

static json_t *run_bench(const char *args)
{
    char *dir = e2e_mkdtemp(), out[4200];
    const char *bench = getenv("MAMORI_BENCH");

    snprintf(out, sizeof(out), "%s/bench.json", dir);
    CU_ASSERT_PTR_NOT_NULL_FATAL(bench);
    int rc = e2e_run("timeout 120 '%s' %s > '%s' 2>'%s/stderr'", bench, args, out, dir);
    CU_ASSERT_EQUAL(rc, 0);
    json_t *result = json_load_file(out, 0, NULL);
    e2e_rmdir(dir);
    return result;
}

static void check_report(json_t *r, long long packets)
{
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(r, "packets")), packets);
    CU_ASSERT(json_integer_value(json_object_get(r, "bytes")) > 0);
    CU_ASSERT(json_is_number(json_object_get(r, "mpps")));
    CU_ASSERT(json_is_number(json_object_get(r, "gbps")));
    json_t *cpp = json_object_get(r, "cycles_per_packet");
    CU_ASSERT(json_is_number(json_object_get(cpp, "decode")));
    CU_ASSERT(json_is_number(json_object_get(cpp, "flow")));
    CU_ASSERT(json_is_number(json_object_get(cpp, "total")));
    CU_ASSERT(json_integer_value(json_object_get(json_object_get(r, "flows"), "created")) > 0);
}

static void test_synthetic(void)
{
    json_t *r = run_bench("-f 1000 -n 10000 -L 2");
    check_report(r, 20000);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_object_get(r, "input"), "flows")), 1000);
    json_decref(r);
}

static void test_capture(void)
{
    char args[4200];
    snprintf(args, sizeof(args), "-r '%s' -L 2", e2e_data_path("pcaps/zeek/http_bro.org.pcap"));
    json_t *r = run_bench(args);
    check_report(r, 2 * 751);
    json_decref(r);
}

static CU_TestInfo cases[] = {
    { "synthetic traffic", test_synthetic },
    { "a capture file", test_capture },
    CU_TEST_INFO_NULL,
};

int main(void)
{
    return cunit_run("bench_smoke", cases);
}
