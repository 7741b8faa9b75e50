/* test_e2e_dpdk.c - mamori --dpdk on net_pcap virtual devices: the same
 * flow records as -r on the same capture, a clean stop on SIGTERM, and a
 * clear error when the EAL cannot start. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cunit_run.h"
#include "e2e.h"

static int run_dpdk(const char *dir, const char *mamori_opts, const char *vdev)
{
    return e2e_run("timeout 120 '%s' --dpdk %s -l '%s' -- -l 0-1 --no-pci %s "
                   "--log-level=lib.eal:error --vdev='%s' >'%s/stdout' 2>'%s/stderr'",
                   e2e_mamori(), mamori_opts, dir, e2e_eal_memory_args(), vdev, dir, dir);
}

/* Flow records of `mamori --dpdk` on a net_pcap vdev and of `mamori -r`
 * on the same file are identical (net_pcap keeps the file's timestamps). */
static void compare_with_pcap_mode(const char *pcap)
{
    char *dpdk = e2e_mkdtemp(), *offline = e2e_mkdtemp(), vdev[4200], eve[4200];

    snprintf(vdev, sizeof(vdev), "net_pcap0,rx_pcap=%s", pcap);
    CU_ASSERT_EQUAL_FATAL(run_dpdk(dpdk, "--idle-exit 1", vdev), 0);
    CU_ASSERT_EQUAL_FATAL(e2e_run("'%s' -w 1 -l '%s' -r '%s' 2>/dev/null", e2e_mamori(), offline, pcap), 0);
    snprintf(eve, sizeof(eve), "%s/eve.json", dpdk);
    json_t *a = e2e_flow_lines(eve);
    long long dpdk_pkts = e2e_stat(eve, "decoder", "pkts");
    long long ipackets = e2e_stat(eve, "capture", "ipackets");
    snprintf(eve, sizeof(eve), "%s/eve.json", offline);
    json_t *b = e2e_flow_lines(eve);
    long long pcap_pkts = e2e_stat(eve, "decoder", "pkts");

    printf("\n  %s: %zu flows via DPDK, %zu via -r; %lld/%lld packets\n",
           pcap, json_array_size(a), json_array_size(b), dpdk_pkts, pcap_pkts);
    CU_ASSERT(json_array_size(a) > 0);
    CU_ASSERT(json_equal(a, b));
    CU_ASSERT_EQUAL(dpdk_pkts, pcap_pkts);
    CU_ASSERT_EQUAL(ipackets, pcap_pkts);
    json_decref(a);
    json_decref(b);
    e2e_rmdir(dpdk);
    e2e_rmdir(offline);
}

static void test_net_pcap_equals_read_sample(void)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/tests/data/sample.pcap", getenv("MAMORI_SOURCE"));
    compare_with_pcap_mode(path);
}

static void test_net_pcap_equals_read_http(void)
{
    compare_with_pcap_mode(e2e_data_path("pcaps/zeek/http_bro.org.pcap"));
}

static void test_net_pcap_equals_read_amplification(void)
{
    compare_with_pcap_mode(e2e_data_path("pcaps/stopddos/amp.dns.RRSIG.fragmented.pcap"));
}

/* SIGTERM while traffic flows (a looping capture): exit status 0, live
 * flows logged with reason shutdown, a final stats event. */
static void test_sigterm_stops_cleanly(void)
{
    char *dir = e2e_mkdtemp(), eve[4200];
    int rc = e2e_run("timeout -s KILL 60 '%s' --dpdk --stats-interval 1 -l '%s' -- -l 0-1 --no-pci %s "
                     "--log-level=lib.eal:error "
                     "--vdev='net_pcap0,rx_pcap=%s,infinite_rx=1' >'%s/stdout' 2>'%s/stderr' & "
                     "pid=$!; sleep 4; kill -TERM $pid; wait $pid",
                     e2e_mamori(), dir, e2e_eal_memory_args(),
                     e2e_data_path("pcaps/zeek/http_bro.org.pcap"), dir, dir);
    snprintf(eve, sizeof(eve), "%s/eve.json", dir);
    json_t *flows = e2e_read_events(eve, "flow");
    json_t *stats = e2e_read_events(eve, "stats");
    unsigned shutdown = 0;
    size_t i;
    json_t *ev;

    CU_ASSERT_EQUAL(rc, 0);
    json_array_foreach(flows, i, ev) {
        const char *reason = json_string_value(json_object_get(json_object_get(ev, "flow"), "reason"));
        shutdown += reason && strcmp(reason, "shutdown") == 0;
    }
    CU_ASSERT(shutdown > 0);
    CU_ASSERT(json_array_size(stats) >= 2);   /* at least one interval plus the final one */
    CU_ASSERT(e2e_stat(eve, "decoder", "pkts") > 0);
    CU_ASSERT_EQUAL(e2e_stat(eve, "flow", "active"), 0);
    json_decref(flows);
    json_decref(stats);
    e2e_rmdir(dir);
}

/* Drop flow.reason from canonical flow lines. */
static json_t *without_reason(json_t *lines)
{
    json_t *out = json_array();
    size_t i;
    json_t *line;

    json_array_foreach(lines, i, line) {
        json_t *ev = json_loads(json_string_value(line), 0, NULL);
        json_object_del(json_object_get(ev, "flow"), "reason");
        char *text = json_dumps(ev, JSON_COMPACT | JSON_SORT_KEYS);
        json_array_append_new(out, json_string(text));
        free(text);
        json_decref(ev);
    }
    json_decref(lines);
    return out;
}

/* Two workers, one port with two queues (net_pcap: one per rx_pcap file):
 * each worker takes its queue, and together they log the flows -r logs on
 * the two files. Only flow.reason may differ: a worker's clock is its own
 * queue's packet time, so a flow that -r times out by the other file's
 * later packets is still live at the end here. */
static void test_two_queues_two_workers(void)
{
    char *dpdk = e2e_mkdtemp(), *offline = e2e_mkdtemp(), eve[4200];
    char a[4096], b[4096];

    snprintf(a, sizeof(a), "%s", e2e_data_path("pcaps/zeek/http_bro.org.pcap"));
    snprintf(b, sizeof(b), "%s", e2e_data_path("pcaps/ndpi/443-chrome.pcap"));
    CU_ASSERT_EQUAL_FATAL(e2e_run("timeout 120 '%s' --dpdk --idle-exit 1 -l '%s' -- "
                                  "--lcores=0@0,1@1,2@1 --no-pci %s --log-level=lib.eal:error "
                                  "--vdev='net_pcap0,rx_pcap=%s,rx_pcap=%s' >/dev/null 2>'%s/stderr'",
                                  e2e_mamori(), dpdk, e2e_eal_memory_args(), a, b, dpdk), 0);
    CU_ASSERT_EQUAL(e2e_run("grep -q '2 workers' '%s/stderr'", dpdk), 0);
    CU_ASSERT_EQUAL_FATAL(e2e_run("'%s' -w 2 -l '%s' -r '%s' -r '%s' 2>/dev/null",
                                  e2e_mamori(), offline, a, b), 0);
    snprintf(eve, sizeof(eve), "%s/eve.json", dpdk);
    json_t *x = without_reason(e2e_flow_lines(eve));
    snprintf(eve, sizeof(eve), "%s/eve.json", offline);
    json_t *y = without_reason(e2e_flow_lines(eve));
    CU_ASSERT_EQUAL(json_array_size(x), 14);
    CU_ASSERT(json_equal(x, y));
    json_decref(x);
    json_decref(y);
    e2e_rmdir(dpdk);
    e2e_rmdir(offline);
}

static void test_bad_eal_arguments(void)
{
    char *dir = e2e_mkdtemp();

    CU_ASSERT_EQUAL(e2e_run("'%s' --dpdk -l '%s' -- --no-such-eal-option >/dev/null 2>'%s/err'",
                            e2e_mamori(), dir, dir), 1);
    CU_ASSERT_EQUAL(e2e_run("grep -q 'DPDK EAL initialisation failed' '%s/err'", dir), 0);
    e2e_rmdir(dir);
}

static CU_TestInfo cases[] = {
    { "net_pcap vdev equals -r: sample", test_net_pcap_equals_read_sample },
    { "net_pcap vdev equals -r: HTTP", test_net_pcap_equals_read_http },
    { "net_pcap vdev equals -r: fragments", test_net_pcap_equals_read_amplification },
    { "two queues, two workers", test_two_queues_two_workers },
    { "SIGTERM stops cleanly", test_sigterm_stops_cleanly },
    { "bad EAL arguments give a clear error", test_bad_eal_arguments },
    CU_TEST_INFO_NULL,
};

int main(void)
{
    return cunit_run("e2e_dpdk", cases);
}
