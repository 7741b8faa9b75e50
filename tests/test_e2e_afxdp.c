/* test_e2e_afxdp.c - mamori -i on a veth pair: the XDP program and AF_XDP
 * sockets see exactly the packets tcpreplay sends, and the flows and alerts
 * equal those of mamori -r on the same capture, in generic and in native
 * mode; --dpdk --fallback afxdp captures when the EAL cannot start; no XDP
 * program and no namespace outlive the test, also when mamori was killed
 * with SIGKILL (the next start detaches the stale program and says so).
 *
 * Needs root (network namespaces, XDP). The test makes its own namespace
 * and veth pair, named after its pid: the outer end stays here for mamori,
 * the inner end goes into the namespace for tcpreplay. IPv6 is off on both
 * ends, so the kernel sends nothing of its own (DAD, router solicitations)
 * that would be counted with the replayed packets. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cunit_run.h"
#include "e2e.h"

#define SKIP 77   /* meson: test skipped */

static char netns[64], outer[16], inner[16];

/* A capture of plain Ethernet frames, none larger than the veth's MTU. */
static const char *capture(void)
{
    static char path[4096];
    snprintf(path, sizeof(path), "%s", e2e_data_path("pcaps/zeek/http_bro.org.pcap"));
    return path;
}

/* Two rules that fire on that capture: one per packet, one in the stream. */
static void write_rules(const char *dir)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/test.rules", dir);
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("alert tcp any any -> any 80 (msg:\"afxdp test: HTTP GET\"; flow:to_server,established; "
          "content:\"GET \"; depth:4; sid:1000001; rev:1;)\n"
          "alert tcp any 80 -> any any (msg:\"afxdp test: HTTP 200\"; content:\"HTTP/1.1 200\"; "
          "sid:1000002; rev:1;)\n", f);
    fclose(f);
}

static int veth_up(void)
{
    return e2e_run("ip netns add %s && ip link add %s type veth peer name %s && "
                   "ip link set %s netns %s && "
                   "sysctl -qw net.ipv6.conf.%s.disable_ipv6=1 && "
                   "ip netns exec %s sysctl -qw net.ipv6.conf.%s.disable_ipv6=1 && "
                   "ip link set %s up && ip -n %s link set %s up",
                   netns, outer, inner, inner, netns, outer, netns, inner, outer, netns, inner);
}

static void veth_down(void)
{
    e2e_run("ip link del %s 2>/dev/null; ip netns del %s 2>/dev/null; true", outer, netns);
}

static bool xdp_attached(void)
{
    return e2e_run("ip link show %s | grep -q xdp", outer) == 0;
}

/* Start mamori in the background with its pid in DIR/pid; wait until its
 * capture runs (it says so on stderr). 0, or -1 when it did not start.
 * opts come last: they may end with "-- EAL_ARGS". */
static int start_mamori(const char *dir, const char *opts)
{
    if (e2e_run("cd '%s' && ('%s' -l '%s' %s >stdout 2>stderr & echo $! >pid)",
                dir, e2e_mamori(), dir, opts) != 0)
        return -1;
    return e2e_run("for i in $(seq 100); do grep -q 'capture, ' '%s/stderr' && exit 0; "
                   "kill -0 $(cat '%s/pid') 2>/dev/null || exit 1; sleep 0.1; done; exit 1",
                   dir, dir) == 0 ? 0 : -1;
}

/* Wait for the mamori started in dir to exit; after 60 s kill it and
 * fail. */
static int wait_mamori(const char *dir)
{
    return e2e_run("pid=$(cat '%s/pid'); for i in $(seq 600); do "
                   "kill -0 $pid 2>/dev/null || exit 0; sleep 0.1; done; kill -KILL $pid; exit 1",
                   dir);
}

/* What mamori said, for a failing case's log. */
static void show_stderr(const char *dir)
{
    e2e_run("sed 's/^/    mamori: /' '%s/stderr'", dir);
}

/* Replay the capture into the inner end at full speed; the number of
 * packets the kernel took, or -1. */
static long replay(const char *dir)
{
    char path[4200];
    long sent = -1;

    if (e2e_run("ip netns exec %s tcpreplay --topspeed -i %s '%s' >'%s/tcpreplay' 2>&1",
                netns, inner, capture(), dir) != 0)
        return -1;
    snprintf(path, sizeof(path), "%s/tcpreplay", dir);
    FILE *f = fopen(path, "r");
    char line[256];
    while (f != NULL && fgets(line, sizeof(line), f) != NULL)
        if (sscanf(line, " Successful packets: %ld", &sent) == 1)
            break;
    if (f != NULL)
        fclose(f);
    return sent;
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Events of one type as canonical sorted lines, without what depends on
 * the clock: replayed at full speed, packets carry the time they arrived,
 * not the capture's, so timestamps, ages and flow ids (which hash the first
 * packet's time) differ, and flows that -r ends by a timeout in file time
 * are still live at the end here (reason shutdown). in_iface is only set
 * for an interface. */
static json_t *timeless_lines(const char *eve, const char *type)
{
    json_t *events = e2e_read_events(eve, type), *lines = json_array(), *ev;
    size_t i, n = json_array_size(events);
    char **text = calloc(n ? n : 1, sizeof(*text));

    json_array_foreach(events, i, ev) {
        json_t *flow = json_object_get(ev, "flow");
        json_object_del(ev, "timestamp");
        json_object_del(ev, "flow_id");
        json_object_del(ev, "in_iface");
        if (flow != NULL && strcmp(type, "flow") == 0) {
            json_object_del(flow, "start");
            json_object_del(flow, "end");
            json_object_del(flow, "age");
            json_object_del(flow, "reason");
        }
        text[i] = json_dumps(ev, JSON_COMPACT | JSON_SORT_KEYS);
    }
    qsort(text, n, sizeof(*text), compare_strings);
    for (i = 0; i < n; i++) {
        json_array_append_new(lines, json_string(text[i]));
        free(text[i]);
    }
    free(text);
    json_decref(events);
    return lines;
}

static char *offline_dir;

/* mamori -r on the capture with the test rules, once. */
static const char *offline_eve(void)
{
    static char eve[4200];
    char *dir = offline_dir;

    if (dir == NULL) {
        offline_dir = dir = e2e_mkdtemp();
        write_rules(dir);
        CU_ASSERT_EQUAL_FATAL(e2e_run("'%s' -w 1 -S '%s/test.rules' -l '%s' -r '%s' 2>/dev/null",
                                      e2e_mamori(), dir, dir, capture()), 0);
        snprintf(eve, sizeof(eve), "%s/eve.json", dir);
    }
    return eve;
}

/* Run mamori -i with opts, replay, and hold its counts and events against
 * what was sent and against -r. */
static void capture_and_compare(const char *opts)
{
    char *dir = e2e_mkdtemp(), eve[4200], all[1024];

    write_rules(dir);
    snprintf(all, sizeof(all), "%s -S '%s/test.rules' --idle-exit 3", opts, dir);
    CU_ASSERT_EQUAL_FATAL(start_mamori(dir, all), 0);
    CU_ASSERT(xdp_attached());
    long sent = replay(dir);
    CU_ASSERT_EQUAL(wait_mamori(dir), 0);
    CU_ASSERT_FALSE(xdp_attached());   /* detached on exit */

    snprintf(eve, sizeof(eve), "%s/eve.json", dir);
    long long pcap_pkts = e2e_stat(offline_eve(), "decoder", "pkts");
    json_t *flows = timeless_lines(eve, "flow"), *flows_r = timeless_lines(offline_eve(), "flow");
    json_t *alerts = timeless_lines(eve, "alert"), *alerts_r = timeless_lines(offline_eve(), "alert");

    printf("\n  %s: sent %ld, XDP redirected %lld, received %lld, decoded %lld (-r %lld); "
           "%zu/%zu flows, %zu/%zu alerts ",
           opts, sent, e2e_stat(eve, "xdp", "redirected_pkts"), e2e_stat(eve, "capture", "pkts"),
           e2e_stat(eve, "decoder", "pkts"), pcap_pkts, json_array_size(flows),
           json_array_size(flows_r), json_array_size(alerts), json_array_size(alerts_r));
    CU_ASSERT_EQUAL(sent, pcap_pkts);
    CU_ASSERT_EQUAL(e2e_stat(eve, "xdp", "pkts"), sent);
    CU_ASSERT_EQUAL(e2e_stat(eve, "xdp", "redirected_pkts"), sent);
    CU_ASSERT_EQUAL(e2e_stat(eve, "capture", "pkts"), sent);
    CU_ASSERT_EQUAL(e2e_stat(eve, "capture", "drops"), 0);
    CU_ASSERT_EQUAL(e2e_stat(eve, "decoder", "pkts"), sent);
    CU_ASSERT_EQUAL(e2e_stat(eve, "decoder", "bytes"), e2e_stat(offline_eve(), "decoder", "bytes"));
    CU_ASSERT(json_array_size(flows) > 0);
    CU_ASSERT(json_equal(flows, flows_r));
    CU_ASSERT(json_array_size(alerts) > 0);
    CU_ASSERT(json_equal(alerts, alerts_r));
    json_decref(flows);
    json_decref(flows_r);
    json_decref(alerts);
    json_decref(alerts_r);
    e2e_rmdir(dir);
}

static void test_generic_mode(void)
{
    char opts[128];
    snprintf(opts, sizeof(opts), "-i %s --xdp-mode generic", outer);
    capture_and_compare(opts);
}

static void test_native_mode(void)
{
    char opts[128];
    snprintf(opts, sizeof(opts), "-i %s --xdp-mode native", outer);
    capture_and_compare(opts);
}

/* --dpdk with EAL arguments the EAL rejects: mamori says why and captures
 * the -i interface through AF_XDP. */
static void test_dpdk_fallback(void)
{
    char *dir = e2e_mkdtemp(), opts[256], eve[4200];

    snprintf(opts, sizeof(opts), "--dpdk --fallback afxdp -i %s --idle-exit 3 -- --no-such-eal-option",
             outer);
    CU_ASSERT_EQUAL_FATAL(start_mamori(dir, opts), 0);
    long sent = replay(dir);
    CU_ASSERT_EQUAL(wait_mamori(dir), 0);
    CU_ASSERT_EQUAL(e2e_run("grep -q 'DPDK EAL initialisation failed' '%s/stderr'", dir), 0);
    CU_ASSERT_EQUAL(e2e_run("grep -q 'falling back to AF_XDP' '%s/stderr'", dir), 0);
    CU_ASSERT_EQUAL(e2e_run("grep -q 'afxdp capture' '%s/stderr'", dir), 0);
    snprintf(eve, sizeof(eve), "%s/eve.json", dir);
    printf("\n  fallback: sent %ld, decoded %lld ", sent, e2e_stat(eve, "decoder", "pkts"));
    CU_ASSERT(sent > 0);
    CU_ASSERT_EQUAL(e2e_stat(eve, "decoder", "pkts"), sent);
    if (e2e_stat(eve, "decoder", "pkts") != sent)
        show_stderr(dir);
    CU_ASSERT_FALSE(xdp_attached());
    e2e_rmdir(dir);
}

/* SIGKILL leaves the program attached (a netlink attachment outlives its
 * process); the next mamori detaches it, says so, and captures. */
static void test_sigkill_then_restart(void)
{
    char *dir = e2e_mkdtemp(), opts[128];

    snprintf(opts, sizeof(opts), "-i %s", outer);
    CU_ASSERT_EQUAL_FATAL(start_mamori(dir, opts), 0);
    CU_ASSERT_EQUAL(e2e_run("kill -KILL $(cat '%s/pid')", dir), 0);
    CU_ASSERT_EQUAL(wait_mamori(dir), 0);
    CU_ASSERT(xdp_attached());

    snprintf(opts, sizeof(opts), "-i %s --idle-exit 1", outer);
    CU_ASSERT_EQUAL_FATAL(start_mamori(dir, opts), 0);
    CU_ASSERT_EQUAL(wait_mamori(dir), 0);
    CU_ASSERT_EQUAL(e2e_run("grep -q 'detached XDP program .* left attached by a mamori' '%s/stderr'",
                            dir), 0);
    CU_ASSERT_EQUAL(e2e_run("grep -q 'afxdp capture' '%s/stderr'", dir), 0);
    CU_ASSERT_FALSE(xdp_attached());
    e2e_rmdir(dir);
}

/* A program that is not mamori's is left alone, with a message. */
static void test_foreign_program_untouched(void)
{
    char *dir = e2e_mkdtemp(), opts[128];

    /* A stub that passes everything, loaded by ip itself. */
    CU_ASSERT_EQUAL_FATAL(e2e_run("printf '%%s\\n' "
                                  "'__attribute__((section(\"xdp\"), used)) int stub(void *ctx) { return 2; }' "
                                  "'__attribute__((section(\"license\"), used)) char lic[] = \"GPL\";' "
                                  ">'%s/stub.c' && clang -target bpf -O2 -c '%s/stub.c' -o '%s/stub.o'",
                                  dir, dir, dir), 0);
    CU_ASSERT_EQUAL_FATAL(e2e_run("ip link set dev %s xdpgeneric obj '%s/stub.o' sec xdp",
                                  outer, dir), 0);
    snprintf(opts, sizeof(opts), "-i %s --idle-exit 1", outer);
    CU_ASSERT_NOT_EQUAL(e2e_run("'%s' %s -l '%s' 2>'%s/stderr' >/dev/null",
                                e2e_mamori(), opts, dir, dir), 0);
    CU_ASSERT_EQUAL(e2e_run("grep -q 'another XDP program' '%s/stderr'", dir), 0);
    CU_ASSERT(xdp_attached());                 /* still there */
    e2e_run("ip link set dev %s xdpgeneric off", outer);
    CU_ASSERT_FALSE(xdp_attached());
    e2e_rmdir(dir);
}

/* Last: removing the pair leaves no namespace and no interface behind. */
static void test_cleanup(void)
{
    veth_down();
    CU_ASSERT_NOT_EQUAL(e2e_run("ip netns list | grep -qw %s", netns), 0);
    CU_ASSERT_NOT_EQUAL(e2e_run("ip link show %s >/dev/null 2>&1", outer), 0);
}

static CU_TestInfo cases[] = {
    { "generic mode: every packet, flows and alerts equal -r", test_generic_mode },
    { "native mode: every packet, flows and alerts equal -r", test_native_mode },
    { "--dpdk --fallback afxdp captures when the EAL fails", test_dpdk_fallback },
    { "SIGKILL: the next start detaches the stale program", test_sigkill_then_restart },
    { "another XDP program is left alone", test_foreign_program_untouched },
    { "no namespace, veth or XDP program left", test_cleanup },
    CU_TEST_INFO_NULL,
};

int main(void)
{
    if (geteuid() != 0 || e2e_run("command -v tcpreplay >/dev/null && command -v ip >/dev/null") != 0) {
        printf("e2e_afxdp: skipped (needs root, ip and tcpreplay)\n");
        return SKIP;
    }
    snprintf(netns, sizeof(netns), "mamori-e2e-%d", (int)getpid());
    snprintf(outer, sizeof(outer), "mxo%d", (int)getpid());
    snprintf(inner, sizeof(inner), "mxi%d", (int)getpid());
    if (veth_up() != 0) {
        /* Not mamori's doing: a container without the right to make
         * namespaces or veth devices. */
        veth_down();
        printf("e2e_afxdp: skipped (could not create namespace %s and veth %s/%s)\n",
               netns, outer, inner);
        return SKIP;
    }
    int rc = cunit_run("e2e_afxdp", cases);
    veth_down();   /* in case a fatal assertion skipped test_cleanup */
    e2e_rmdir(offline_dir);
    return rc;
}
