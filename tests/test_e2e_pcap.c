/* test_e2e_pcap.c - mamori -r end to end: the command line, packet
 * accounting, worker-count independence, flow counts against tshark. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cunit_run.h"
#include "e2e.h"

static const char *sample_pcap(void)
{
    static char path[4096];
    const char *src = getenv("MAMORI_SOURCE");
    snprintf(path, sizeof(path), "%s/tests/data/sample.pcap", src ? src : ".");
    return path;
}

/* Run mamori -r on files with extra options into dir/eve.json. */
static int run_mamori(const char *dir, const char *opts, const char *pcap)
{
    return e2e_run("'%s' %s -l '%s' -r '%s' 2>'%s/stderr'", e2e_mamori(), opts, dir, pcap, dir);
}

static void test_help_and_version(void)
{
    char *dir = e2e_mkdtemp();

    CU_ASSERT_EQUAL(e2e_run("'%s' --help > '%s/out'", e2e_mamori(), dir), 0);
    CU_ASSERT_EQUAL(e2e_run("grep -q -- '--read FILE' '%s/out' && grep -q -- '--dpdk' '%s/out'", dir, dir), 0);
    CU_ASSERT_EQUAL(e2e_run("'%s' --version | grep -q '^mamori [0-9]'", e2e_mamori()), 0);
    /* A bad option or value is exit status 2 with a message naming it. */
    CU_ASSERT_EQUAL(e2e_run("'%s' --bogus 2>'%s/err'", e2e_mamori(), dir), 2);
    CU_ASSERT_EQUAL(e2e_run("grep -q -- \"unknown option '--bogus'\" '%s/err'", dir), 0);
    CU_ASSERT_EQUAL(e2e_run("'%s' -r x -w zero 2>'%s/err'", e2e_mamori(), dir), 2);
    CU_ASSERT_EQUAL(e2e_run("grep -q -- \"-w: 'zero'\" '%s/err'", dir), 0);
    CU_ASSERT_EQUAL(e2e_run("'%s' 2>'%s/err'", e2e_mamori(), dir), 2);
    e2e_rmdir(dir);
}

static void test_missing_file_is_named(void)
{
    char *dir = e2e_mkdtemp();

    CU_ASSERT_EQUAL(run_mamori(dir, "", "/nonexistent/capture.pcap"), 1);
    CU_ASSERT_EQUAL(e2e_run("grep -q '/nonexistent/capture.pcap' '%s/stderr'", dir), 0);
    e2e_rmdir(dir);
}

/* Every packet of the sample is counted once and lands in a flow or in
 * flow.unattributed; every flow created is logged. */
static void test_sample_accounting(void)
{
    char *dir = e2e_mkdtemp(), eve[4200];
    snprintf(eve, sizeof(eve), "%s/eve.json", dir);

    CU_ASSERT_EQUAL_FATAL(run_mamori(dir, "-w 2", sample_pcap()), 0);
    json_t *flows = e2e_read_events(eve, "flow");
    long long flow_pkts = 0;
    size_t i;
    json_t *ev;
    json_array_foreach(flows, i, ev) {
        json_t *f = json_object_get(ev, "flow");
        flow_pkts += json_integer_value(json_object_get(f, "pkts_toserver")) +
                     json_integer_value(json_object_get(f, "pkts_toclient"));
        CU_ASSERT_PTR_NOT_NULL(json_object_get(ev, "flow_id"));
        CU_ASSERT_PTR_NOT_NULL(json_object_get(ev, "src_ip"));
        CU_ASSERT_PTR_NOT_NULL(json_object_get(f, "reason"));
    }
    CU_ASSERT_EQUAL(e2e_stat(eve, "capture", "pkts"), 5542);
    CU_ASSERT_EQUAL(e2e_stat(eve, "decoder", "pkts"), 5542);
    CU_ASSERT_EQUAL(flow_pkts + e2e_stat(eve, "flow", "unattributed"), 5542);
    CU_ASSERT_EQUAL(e2e_stat(eve, "flow", "created"), (long long)json_array_size(flows));
    CU_ASSERT_EQUAL(e2e_stat(eve, "flow", "logged"), (long long)json_array_size(flows));
    CU_ASSERT_EQUAL(e2e_stat(eve, "flow", "records_dropped"), 0);
    CU_ASSERT_EQUAL(e2e_stat(eve, "flow", "active"), 0);
    json_decref(flows);
    e2e_rmdir(dir);
}

/* The merged nDPI capture (recipe in MANIFEST.md) in dir/merged.pcap. */
static int make_merged_ndpi(const char *dir)
{
    return e2e_run("cd '%s' && mergecap -a -F pcap -w '%s/merged.pcap' "
                   "$(capinfos -T -r -E pcaps/ndpi/*.pcap* | awk -F'\\t' '$2==\"ether\"{print $1}') 2>/dev/null",
                   e2e_data(), dir);
}

/* Software RSS keeps both directions on one worker, so the flow records are
 * the same whatever the number of workers. */
static void test_results_independent_of_workers(void)
{
    char *dir = e2e_mkdtemp(), pcap[4200], eve[4200];
    char *one = e2e_mkdtemp(), *two = e2e_mkdtemp(), *three = e2e_mkdtemp();

    snprintf(pcap, sizeof(pcap), "%s/merged.pcap", dir);
    CU_ASSERT_EQUAL_FATAL(make_merged_ndpi(dir), 0);
    CU_ASSERT_EQUAL_FATAL(run_mamori(one, "-w 1", pcap), 0);
    CU_ASSERT_EQUAL_FATAL(run_mamori(two, "-w 2", pcap), 0);
    CU_ASSERT_EQUAL_FATAL(run_mamori(three, "-w 3", pcap), 0);
    snprintf(eve, sizeof(eve), "%s/eve.json", one);
    json_t *a = e2e_flow_lines(eve);
    snprintf(eve, sizeof(eve), "%s/eve.json", two);
    json_t *b = e2e_flow_lines(eve);
    snprintf(eve, sizeof(eve), "%s/eve.json", three);
    json_t *c = e2e_flow_lines(eve);
    CU_ASSERT(json_array_size(a) > 1000);
    CU_ASSERT(json_equal(a, b));
    CU_ASSERT(json_equal(a, c));
    json_decref(a);
    json_decref(b);
    json_decref(c);
    e2e_rmdir(one);
    e2e_rmdir(two);
    e2e_rmdir(three);
    e2e_rmdir(dir);
}

/* A capture cut off mid-packet: the error names the file and where it broke,
 * what came before is kept, and the run ends with exit status 3 (input
 * damaged; more cases in test_e2e_bad_input.c). */
static void test_truncated_capture(void)
{
    char *dir = e2e_mkdtemp(), eve[4200];
    snprintf(eve, sizeof(eve), "%s/eve.json", dir);

    CU_ASSERT_EQUAL(run_mamori(dir, "-w 1", e2e_data_path("pcaps/ndpi/fuzz-2021-10-13.pcap")), 3);
    CU_ASSERT_EQUAL(e2e_run("grep -q 'fuzz-2021-10-13.pcap: damaged capture at byte offset "
                            "[0-9]* (the record after packet [0-9]' '%s/stderr'", dir), 0);
    CU_ASSERT_EQUAL(e2e_stat(eve, "capture", "file_errors"), 1);
    CU_ASSERT(e2e_stat(eve, "decoder", "pkts") > 0);
    e2e_rmdir(dir);
}

/* mamori -T: every ET Open file loads with no failed rule; a broken rule
 * is named by file:line and makes the exit status 1. */
static void test_rule_check(void)
{
    char *dir = e2e_mkdtemp();

    CU_ASSERT_EQUAL(e2e_run("cd '%s/rules/et-open' && '%s' -T $(ls *.rules | sed 's/^/-S /') "
                            ">'%s/out' 2>'%s/err'", e2e_data(), e2e_mamori(), dir, dir), 0);
    CU_ASSERT_EQUAL(e2e_run("grep -q ' 0 failed' '%s/out' && grep -q '^engine: [0-9]* rules compiled, 0 dropped' '%s/out'",
                            dir, dir), 0);
    CU_ASSERT_EQUAL(e2e_run("printf 'alert tcp any any -> any 80 (msg:\"ok\"; content:\"a\"; sid:1;)\n"
                            "alert tcp any any -> any any (msg:\"bad\"; content:\"a; sid:2;)\n' > '%s/bad.rules'",
                            dir), 0);
    CU_ASSERT_EQUAL(e2e_run("'%s' -T -S '%s/bad.rules' >'%s/out' 2>&1", e2e_mamori(), dir, dir), 1);
    CU_ASSERT_EQUAL(e2e_run("grep -q 'bad.rules:2: content: no closing quote' '%s/out'", dir), 0);
    CU_ASSERT_EQUAL(e2e_run("grep -q '1 loaded, 0 skipped, 1 failed' '%s/out'", dir), 0);
    e2e_rmdir(dir);
}

static CU_TestInfo cases[] = {
    { "-T checks rule files", test_rule_check },
    { "help, version and bad options", test_help_and_version },
    { "a missing capture is named", test_missing_file_is_named },
    { "every packet of the sample accounted for", test_sample_accounting },
    { "flow records independent of -w", test_results_independent_of_workers },
    { "truncated capture: error with position, results kept", test_truncated_capture },
    CU_TEST_INFO_NULL,
};

int main(void)
{
    return cunit_run("e2e_pcap", cases);
}
