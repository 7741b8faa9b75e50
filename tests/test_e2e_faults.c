/* test_e2e_faults.c - faults and exhaustion at run time (issue 8):
 *   - a flood from random sources fills the flow table: processing goes
 *     on, every flow is accounted for (evicted, ended, logged or counted
 *     as dropped) and the SYN flood detector still names the victim;
 *   - the disk under eve.json fills up: said on stderr, events held within
 *     a bound, the rest dropped and counted, exit 0;
 *   - no hugepages, or too little EAL memory: mamori stops at once with one
 *     line saying how much it needs and how to get it;
 *   - an mbuf pool too small for the port: receives that fail are counted
 *     (rx_nombuf, per port and summed) in the stats and /metrics, and the
 *     sensor stops cleanly on mamorictl shutdown or SIGTERM.
 * Redis and syslog going down are in test_e2e_export.c. */
#include <arpa/inet.h>
#include <pcap/pcap.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "cunit_run.h"
#include "e2e.h"

#define FLOOD_PACKETS 200000u
#define FLOOD_PPS 50000u
#define VICTIM "10.9.9.9"
/* The shared SYN flood: 37,841 SYNs from 37.6k sources toward 10.10.10.10. */
#define SYNFLOOD_PCAP "pcaps/stopddos/pkt.TCP.synflood.spoofed.pcap"
#define SYNFLOOD_PACKETS 37841
#define LOOP_PCAP "pcaps/ndpi/dns_exfiltration.pcap"

/* One TCP SYN from src:sport to VICTIM:80 at packet n of a flood at pps. */
static void put_syn(pcap_dumper_t *d, uint32_t src, uint16_t sport, unsigned n, unsigned pps)
{
    uint8_t f[54] = { 0 };
    uint8_t *ip = f + 14, *tcp = ip + 20;
    uint32_t s = htonl(src), dst;
    uint16_t sp = htons(sport), dp = htons(80);

    inet_pton(AF_INET, VICTIM, &dst);
    f[12] = 0x08;                                   /* IPv4 */
    ip[0] = 0x45, ip[3] = 40, ip[8] = 64, ip[9] = 6;
    memcpy(ip + 12, &s, 4);
    memcpy(ip + 16, &dst, 4);
    memcpy(tcp, &sp, 2);
    memcpy(tcp + 2, &dp, 2);
    tcp[12] = 0x50, tcp[13] = 0x02, tcp[14] = 0x72;  /* SYN, window 29184 */

    struct pcap_pkthdr h = { .caplen = sizeof(f), .len = sizeof(f) };
    h.ts.tv_sec = 1700000000 + n / pps;
    h.ts.tv_usec = (suseconds_t)((uint64_t)(n % pps) * 1000000 / pps);
    pcap_dump((u_char *)d, &h, f);
}

/* FLOOD_PACKETS SYNs, each from a source of its own in 100.64.0.0/10 (i
 * times an odd constant is a permutation, so sources look random and never
 * repeat): every packet is a new flow. */
static void write_flood(const char *path)
{
    pcap_t *p = pcap_open_dead(DLT_EN10MB, 65535);
    pcap_dumper_t *d = pcap_dump_open(p, path);

    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    for (unsigned i = 0; i < FLOOD_PACKETS; i++)
        put_syn(d, 0x64400000u | ((i * 2654435761u) & 0x3fffffu),
                (uint16_t)(1024 + (i * 40503u) % 60000), i, FLOOD_PPS);
    pcap_dump_close(d);
    pcap_close(p);
}

/* Whether eve holds a statistical alert whose signature is sig. */
static bool has_alert(const char *eve, const char *sig)
{
    json_t *alerts = e2e_read_events(eve, "alert");
    size_t i;
    json_t *ev;
    bool found = false;

    json_array_foreach(alerts, i, ev) {
        const char *s = json_string_value(json_object_get(json_object_get(ev, "alert"),
                                                          "signature"));
        found |= s != NULL && strcmp(s, sig) == 0;
    }
    json_decref(alerts);
    return found;
}

/* Every flow the table made ended somewhere (evicted, timed out, at
 * shutdown), and every ended flow was logged or counted as dropped. */
static void expect_flows_accounted(const char *eve, long long created, long long capacity)
{
    long long evicted = e2e_stat(eve, "flow", "evicted");
    long long ended = evicted + e2e_stat(eve, "flow", "ended_timeout") +
                      e2e_stat(eve, "flow", "ended_closed") +
                      e2e_stat(eve, "flow", "ended_shutdown");

    printf("\n    %lld flows in a table of %lld: %lld evicted, %lld insert failures, "
           "%lld logged, %lld records dropped", created, capacity, evicted,
           e2e_stat(eve, "flow", "insert_failed"), e2e_stat(eve, "flow", "logged"),
           e2e_stat(eve, "flow", "records_dropped"));
    CU_ASSERT_EQUAL(e2e_stat(eve, "flow", "capacity"), capacity);
    CU_ASSERT(evicted >= created - capacity);
    CU_ASSERT_EQUAL(ended, created);
    CU_ASSERT_EQUAL(e2e_stat(eve, "flow", "logged") + e2e_stat(eve, "flow", "records_dropped"),
                    ended);
    CU_ASSERT_EQUAL(e2e_stat(eve, "flow", "active"), 0);
}

/* 200k SYNs from 200k sources through a table of 4096 flows per worker. */
static void test_flow_table_full_flood(void)
{
    char *dir = e2e_mkdtemp(), pcap[4200], eve[4200];

    snprintf(pcap, sizeof(pcap), "%s/flood.pcap", dir);
    write_flood(pcap);
    for (unsigned workers = 1; workers <= 2; workers++) {
        snprintf(eve, sizeof(eve), "%s/w%u/eve.json", dir, workers);
        CU_ASSERT_EQUAL(e2e_run("timeout 120 '%s' -w %u --flows 4096 --stats-interval 0 "
                                "-l '%s/w%u' -r '%s' 2>'%s/stderr'",
                                e2e_mamori(), workers, dir, workers, pcap, dir), 0);
        CU_ASSERT_EQUAL(e2e_stat(eve, "decoder", "pkts"), FLOOD_PACKETS);
        CU_ASSERT_EQUAL(e2e_stat(eve, "flow", "created"), FLOOD_PACKETS);
        expect_flows_accounted(eve, FLOOD_PACKETS, 4096ll * workers);
        CU_ASSERT(has_alert(eve, "MAMORI SYN flood toward " VICTIM));
        CU_ASSERT(e2e_stat(eve, "detector", "syn_flood.attacks") >= 1);
    }
    e2e_rmdir(dir);
}

/* The shared capture of a real spoofed flood, 37 times the table. */
static void test_flow_table_full_real_flood(void)
{
    char *dir = e2e_mkdtemp(), eve[4200];

    snprintf(eve, sizeof(eve), "%s/eve.json", dir);
    CU_ASSERT_EQUAL(e2e_run("timeout 120 '%s' -w 1 --flows 1024 --stats-interval 0 -l '%s' "
                            "-r '%s' 2>'%s/stderr'",
                            e2e_mamori(), dir, e2e_data_path(SYNFLOOD_PCAP), dir), 0);
    CU_ASSERT_EQUAL(e2e_stat(eve, "decoder", "pkts"), SYNFLOOD_PACKETS);
    expect_flows_accounted(eve, e2e_stat(eve, "flow", "created"), 1024);
    CU_ASSERT(e2e_stat(eve, "flow", "created") > 30000);
    CU_ASSERT(has_alert(eve, "MAMORI SYN flood toward 10.10.10.10"));
    e2e_rmdir(dir);
}

/* The "mamori: ..." line of dir/stderr that holds text, in a static
 * buffer; "" when there is none. */
static const char *stderr_line(const char *dir, const char *text)
{
    static char line[4096];
    char path[4200];
    FILE *f;

    snprintf(path, sizeof(path), "%s/stderr", dir);
    if ((f = fopen(path, "r")) != NULL) {
        while (fgets(line, sizeof(line), f) != NULL)
            if (strncmp(line, "mamori: ", 8) == 0 && strstr(line, text) != NULL) {
                fclose(f);
                return line;
            }
        fclose(f);
    }
    line[0] = '\0';
    return line;
}

/* ---- the disk full under eve.json --------------------------------------------- */

/* The log directory on a 64 KiB tmpfs and the flood's 200k flow events to
 * write: mamori says at once that eve.json cannot be written and why,
 * processes every packet, holds what it can (65536 lines), drops and
 * counts the rest, and exits 0 with the figures on stderr. As root only
 * (mount); skipped otherwise. */
static void test_eve_disk_full(void)
{
    char *dir = e2e_mkdtemp(), pcap[4200], log[4200];
    unsigned long long w = 0, d = 0, e = 0, b = 0, pkts = 0;

    snprintf(pcap, sizeof(pcap), "%s/flood.pcap", dir);
    snprintf(log, sizeof(log), "%s/log", dir);
    write_flood(pcap);
    if (e2e_run("mkdir '%s' && mount -t tmpfs -o size=64k tmpfs '%s' 2>/dev/null", log, log) != 0) {
        printf("\n    skipped: cannot mount a tmpfs (not root?)");
        e2e_rmdir(dir);
        return;
    }
    CU_ASSERT_EQUAL(e2e_run("timeout 120 '%s' -w 1 --flows 4096 --stats-interval 1 -l '%s' "
                            "-r '%s' 2>'%s/stderr'", e2e_mamori(), log, pcap, dir), 0);
    e2e_run("umount '%s'", log);
    const char *line = stderr_line(dir, "eve.json: cannot write: ");
    printf("\n    %s", line);
    CU_ASSERT_PTR_NOT_NULL(strstr(line, "No space left on device"));
    CU_ASSERT(sscanf(stderr_line(dir, " packets ("), "mamori: %llu packets", &pkts) == 1);
    CU_ASSERT_EQUAL(pkts, FLOOD_PACKETS);
    line = stderr_line(dir, "export file: ");
    printf("    %s", line);
    CU_ASSERT_FATAL(sscanf(line, "mamori: export file: %llu written, %llu dropped, %llu errors, "
                           "%llu buffered", &w, &d, &e, &b) == 4);
    CU_ASSERT(e > 0);
    CU_ASSERT(d > 0);                         /* more than the 65536 lines held */
    CU_ASSERT(w + d + b >= FLOOD_PACKETS);    /* a flow event per packet, and stats */
    if (b > 0)
        CU_ASSERT_PTR_NOT_NULL(strstr(stderr_line(dir, "undelivered at exit"), "dropped"));
    e2e_rmdir(dir);
}

/* ---- DPDK memory ------------------------------------------------------------ */

/* mamori --dpdk with opts and EAL arguments eal on one net_pcap port, under
 * a timeout (124 = it hung). Its stderr is in dir/stderr. */
static int run_dpdk(const char *dir, const char *opts, const char *eal, const char *pcap_args)
{
    return e2e_run("timeout 60 '%s' --dpdk -w 1 --control-socket none -l '%s' %s -- -l 0-1 "
                   "--no-pci --log-level=lib.eal:error %s --vdev='net_pcap0,rx_pcap=%s' "
                   ">'%s/stdout' 2>'%s/stderr'",
                   e2e_mamori(), dir, opts, eal, pcap_args, dir, dir);
}

/* The hugepage advice: MB needed, hugepages said (and the same number in
 * each remedy); false if the line is not there. */
static bool hugepage_advice(const char *dir, unsigned *mb, unsigned *pages)
{
    const char *line = stderr_line(dir, "hugepages of 2 MB");
    const char *needs = strstr(line, "mamori needs "), *count = strstr(line, " hugepages of 2 MB");
    const char *setup = strstr(line, "scripts/setup-hugepages "), *echo = strstr(line, "echo ");
    unsigned in_setup = 0, in_echo = 0;

    if (line[0] == '\0')
        e2e_run("cat '%s/stderr' >&2", dir);
    while (count != NULL && count > line && count[-1] >= '0' && count[-1] <= '9')
        count--;                                    /* "...: 18 hugepages of 2 MB" */
    if (needs == NULL || count == NULL || setup == NULL || echo == NULL ||
        sscanf(needs, "mamori needs %u MB", mb) != 1 || sscanf(count, "%u", pages) != 1 ||
        sscanf(setup, "scripts/setup-hugepages %u", &in_setup) != 1 ||
        sscanf(echo, "echo %u > /proc/sys/vm/nr_hugepages", &in_echo) != 1)
        return false;
    CU_ASSERT_EQUAL(in_setup, *pages);
    CU_ASSERT_EQUAL(in_echo, *pages);
    CU_ASSERT_PTR_NOT_NULL(strstr(line, "--no-huge -m "));
    return true;
}

/* The EAL asks for more hugepage memory than any host here has free (-m,
 * 1 TB): one clear line, exit 1, no hang. */
static void test_hugepages_missing(void)
{
    char *dir = e2e_mkdtemp();
    unsigned mb = 0, pages = 0;

    CU_ASSERT_EQUAL(run_dpdk(dir, "", "--in-memory -m 1000000", e2e_data_path(LOOP_PCAP)), 1);
    CU_ASSERT_FATAL(hugepage_advice(dir, &mb, &pages));
    printf("\n    %s", stderr_line(dir, "hugepages of 2 MB"));
    CU_ASSERT_EQUAL(pages, 500000);                 /* the EAL's -m, larger than the pool */
    CU_ASSERT_PTR_NOT_NULL(strstr(stderr_line(dir, "hugepages"), "-m asks for 1000000 MB"));
    CU_ASSERT_PTR_NOT_NULL(strstr(stderr_line(dir, "hugepages"), "for 1 worker and 1 port"));
    e2e_rmdir(dir);
}

/* Without -m the need is mamori's own, and grows with --mbufs. Only when
 * this host has too few free hugepages for it (else it would start). */
static void test_hugepages_too_few(void)
{
    char *dir = e2e_mkdtemp();
    unsigned mb = 0, pages = 0, mb_big = 0, pages_big = 0;

    if (e2e_run("test \"$(cat /sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages "
                "2>/dev/null || echo 0)\" -lt 32") != 0) {
        printf("\n    skipped: this host has hugepages free");
        e2e_rmdir(dir);
        return;
    }
    CU_ASSERT_EQUAL(run_dpdk(dir, "", "--in-memory", e2e_data_path(LOOP_PCAP)), 1);
    CU_ASSERT_FATAL(hugepage_advice(dir, &mb, &pages));
    CU_ASSERT_EQUAL(pages, (mb + 1) / 2);
    CU_ASSERT(mb > 16 && mb < 256);
    CU_ASSERT_EQUAL(run_dpdk(dir, "--mbufs 100000", "--in-memory", e2e_data_path(LOOP_PCAP)), 1);
    CU_ASSERT_FATAL(hugepage_advice(dir, &mb_big, &pages_big));
    printf("\n    default pool: %u MB, %u pages; --mbufs 100000: %u MB, %u pages",
           mb, pages, mb_big, pages_big);
    CU_ASSERT(mb_big > mb + 150);                   /* 100000 mbufs of over 2 KB */
    e2e_rmdir(dir);
}

/* --no-huge with too small a -m: the pool does not fit, the message names
 * the -m that does, and with that -m the same run starts. */
static void test_eal_memory_too_small(void)
{
    char *dir = e2e_mkdtemp(), eal[128];
    unsigned need = 0;

    CU_ASSERT_EQUAL(run_dpdk(dir, "--idle-exit 1", "--no-huge -m 16 --no-shconf",
                             e2e_data_path(LOOP_PCAP)), 1);
    const char *line = stderr_line(dir, "mbuf pool of");
    printf("\n    %s", line);
    const char *give = strstr(line, "give the EAL -m ");
    CU_ASSERT_FATAL(give != NULL && sscanf(give, "give the EAL -m %u", &need) == 1);
    CU_ASSERT(need > 16);
    snprintf(eal, sizeof(eal), "--no-huge -m %u --no-shconf", need);
    CU_ASSERT_EQUAL(run_dpdk(dir, "--idle-exit 1", eal, e2e_data_path(LOOP_PCAP)), 0);
    e2e_rmdir(dir);
}

/* ---- mbufs exhausted -------------------------------------------------------- */

/* The value of the sample "name{label}" in a /metrics page, -1 if absent. */
static long long metric(const char *path, const char *sample)
{
    char line[1024];
    long long v = -1;
    size_t n = strlen(sample);
    FILE *f = fopen(path, "r");

    while (f != NULL && fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, sample, n) == 0 && line[n] == ' ')
            v = atoll(line + n + 1);
    if (f != NULL)
        fclose(f);
    return v;
}

/* A pool of 16 mbufs, fewer than a burst of 32: net_pcap fails a receive
 * in every burst (the packet read is lost) and counts it in rx_nombuf. The
 * file is read to its end, and every packet of it is either received or
 * counted there. Stopped with mamorictl shutdown, exit 0. */
static void test_mbufs_exhausted(void)
{
    char *dir = e2e_mkdtemp(), args[8192], eve[4200], page[4200];
    unsigned port = e2e_free_port(false);

    snprintf(eve, sizeof(eve), "%s/eve.json", dir);
    snprintf(page, sizeof(page), "%s/metrics", dir);
    snprintf(args, sizeof(args), "--dpdk -w 1 --mbufs 16 --stats-interval 1 -l '%s' "
             "--control-socket '%s/ctl.sock' --metrics %u -- -l 0-1 --no-pci "
             "--no-huge -m 512 --no-shconf --log-level=lib.eal:error "
             "--vdev='net_pcap0,rx_pcap=%s'", dir, dir, port, e2e_data_path(SYNFLOOD_PCAP));
    pid_t pid = e2e_spawn_mamori(dir, args);
    long long rx = 0, nombuf = 0;
    for (int i = 0; i < 300 && rx + nombuf < SYNFLOOD_PACKETS; i++) {
        e2e_sleep_ms(100);
        e2e_run("curl -s -m 5 http://127.0.0.1:%u/metrics >'%s' 2>/dev/null || true", port, page);
        rx = metric(page, "mamori_port_ipackets_total{port=\"net_pcap0\"}");
        nombuf = metric(page, "mamori_port_rx_nombuf_total{port=\"net_pcap0\"}");
    }
    printf("\n    /metrics: %lld received, %lld without an mbuf", rx, nombuf);
    CU_ASSERT(nombuf > 0);
    CU_ASSERT_EQUAL(rx + nombuf, SYNFLOOD_PACKETS);
    CU_ASSERT(metric(page, "mamori_port_imissed_total{port=\"net_pcap0\"}") >= 0);
    CU_ASSERT(metric(page, "mamori_port_ierrors_total{port=\"net_pcap0\"}") >= 0);
    CU_ASSERT_EQUAL(metric(page, "mamori_capture_mbuf_capacity"), 16);

    CU_ASSERT_EQUAL(e2e_run("timeout 30 '%s' -s '%s/ctl.sock' shutdown >/dev/null",
                            e2e_mamorictl(), dir), 0);
    CU_ASSERT_EQUAL(e2e_stop_mamori(pid, false), 0);
    /* the final stats event: per port and summed, and the packets decoded */
    CU_ASSERT_EQUAL(e2e_stat(eve, "capture", "rx_nombuf"), nombuf);
    CU_ASSERT_EQUAL(e2e_stat(eve, "port", "net_pcap0.rx_nombuf"), nombuf);
    CU_ASSERT_EQUAL(e2e_stat(eve, "capture", "ipackets"), rx);
    CU_ASSERT_EQUAL(e2e_stat(eve, "decoder", "pkts"), rx);
    CU_ASSERT_EQUAL(e2e_stat(eve, "capture", "mbuf_capacity"), 16);
    unsigned long long lost = 0, said_nombuf = 0;
    CU_ASSERT(sscanf(stderr_line(dir, "capture lost "), "mamori: capture lost %llu packets: "
                     "%*u missed by the ports (workers too slow), %llu without an mbuf",
                     &lost, &said_nombuf) == 2);
    CU_ASSERT_EQUAL(said_nombuf, (unsigned long long)nombuf);
    json_t *stats = e2e_read_events(eve, "stats");
    json_t *capture = json_object_get(json_object_get(json_array_get(stats, 0), "stats"),
                                      "capture");
    CU_ASSERT_PTR_NOT_NULL(json_object_get(capture, "imissed"));
    CU_ASSERT_PTR_NOT_NULL(json_object_get(capture, "ierrors"));
    CU_ASSERT_PTR_NOT_NULL(json_object_get(capture, "mbufs_in_use"));
    json_decref(stats);
    e2e_rmdir(dir);
}

/* A looping capture at full speed into a pool just large enough for
 * net_pcap's copy of the file (300 packets): SIGTERM stops it, exit 0. */
static void test_small_pool_sigterm(void)
{
    char *dir = e2e_mkdtemp(), args[8192], eve[4200];

    snprintf(eve, sizeof(eve), "%s/eve.json", dir);
    snprintf(args, sizeof(args), "--dpdk -w 1 --mbufs 400 --stats-interval 1 -l '%s' "
             "--control-socket none -- -l 0-1 --no-pci %s --log-level=lib.eal:error "
             "--vdev='net_pcap0,rx_pcap=%s,infinite_rx=1'",
             dir, e2e_eal_memory_args(), e2e_data_path(LOOP_PCAP));
    pid_t pid = e2e_spawn_mamori(dir, args);
    e2e_sleep_ms(3000);
    CU_ASSERT_EQUAL(e2e_stop_mamori(pid, true), 0);
    printf("\n    %lld packets received, %lld without an mbuf",
           e2e_stat(eve, "capture", "ipackets"), e2e_stat(eve, "capture", "rx_nombuf"));
    CU_ASSERT(e2e_stat(eve, "decoder", "pkts") > 300);
    CU_ASSERT_EQUAL(e2e_stat(eve, "capture", "mbuf_capacity"), 400);
    e2e_rmdir(dir);
}

int main(void)
{
    CU_TestInfo cases[] = {
        { "flow table full: 200k-source SYN flood", test_flow_table_full_flood },
        { "flow table full: shared spoofed SYN flood", test_flow_table_full_real_flood },
        { "disk full under eve.json: said, counted, exit 0", test_eve_disk_full },
        { "hugepages missing: how many and how", test_hugepages_missing },
        { "hugepages too few: grows with --mbufs", test_hugepages_too_few },
        { "--no-huge -m too small: the -m that works", test_eal_memory_too_small },
        { "mbufs exhausted: rx_nombuf counted, shutdown", test_mbufs_exhausted },
        { "small pool under a looping capture: SIGTERM", test_small_pool_sigterm },
        CU_TEST_INFO_NULL,
    };
    return cunit_run("e2e_faults", cases);
}
