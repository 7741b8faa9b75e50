/* test_e2e_reload.c - live rule reload under load: a sensor fed without
 * pause (DPDK net_pcap looping over a capture) has its rules reloaded 20
 * times through mamorictl, alternating two rule sets. Asserted: no packet
 * is lost (the port's missed and no-mbuf counters stay 0 and every packet
 * received is decoded), every reload is published, a rule added by the last
 * reload alerts afterwards and the one it removed stops; printed: the
 * per-burst worker latency (p99, max) over the run. No timing is judged.
 * Then a strict reload of a set with a bad rule is refused and the old set
 * keeps alerting. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cunit_run.h"
#include "e2e.h"

#define RELOADS 20

static char *dir;
static char sock[4200];

/* The stats message of `mamorictl --json stats`, or NULL. */
static json_t *stats_now(void)
{
    char path[4300];
    json_error_t jerr;
    if (e2e_run("timeout 30 '%s' -s '%s' --json stats >'%s/out' 2>/dev/null", e2e_mamorictl(), sock,
                dir) != 0)
        return NULL;
    snprintf(path, sizeof(path), "%s/out", dir);
    json_t *r = json_load_file(path, 0, &jerr);
    json_t *m = json_incref(json_object_get(r, "message"));
    json_decref(r);
    return m;
}

static long long stat_of(json_t *stats, const char *section, const char *key)
{
    return json_integer_value(json_object_get(json_object_get(stats, section), key));
}

/* Two rule sets over the same traffic (zeek/http_bro.org.pcap): the same
 * request matched under two sids. */
static void write_rules(const char *path, unsigned sid)
{
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fprintf(f, "alert tcp any any -> any 80 (msg:\"reload test %u\"; flow:to_server,established; "
               "content:\"pygments.css\"; sid:%u; rev:1;)\n", sid, sid);
    fclose(f);
}

/* Wait until stats say `done` reloads are published. */
static bool wait_reloads(long long done)
{
    for (int i = 0; i < 600; i++) {
        json_t *st = stats_now();
        long long d = st ? stat_of(st, "detect", "reloads_done") : -1;
        long long failed = st ? stat_of(st, "detect", "reloads_failed") : 0;
        json_decref(st);
        if (d >= done)
            return true;
        if (failed > 0)
            return false;
        e2e_sleep_ms(100);
    }
    return false;
}

/* Alerts of sid after packet time `after` (ns) in the EVE log. */
static long alerts_after(unsigned sid, uint64_t after_s)
{
    char eve[4300];
    snprintf(eve, sizeof(eve), "%s/eve.json", dir);
    json_t *alerts = e2e_read_events(eve, "alert");
    long n = 0;
    size_t i;
    json_t *ev;
    json_array_foreach(alerts, i, ev) {
        json_t *a = json_object_get(ev, "alert");
        if (json_integer_value(json_object_get(a, "signature_id")) != sid)
            continue;
        struct tm tm = { 0 };
        const char *ts = json_string_value(json_object_get(ev, "timestamp"));
        if (ts != NULL && strptime(ts, "%Y-%m-%dT%H:%M:%S", &tm) != NULL &&
            (uint64_t)timegm(&tm) > after_s)
            n++;
    }
    json_decref(alerts);
    return n;
}

static void test_reload_under_load(void)
{
    char rules[4300], a[4300], b[4300];

    dir = e2e_mkdtemp();
    snprintf(sock, sizeof(sock), "%s/mamori.sock", dir);
    snprintf(rules, sizeof(rules), "%s/live.rules", dir);
    snprintf(a, sizeof(a), "%s/a.rules", dir);
    snprintf(b, sizeof(b), "%s/b.rules", dir);
    write_rules(a, 1000001);
    write_rules(b, 1000002);
    write_rules(rules, 1000001);
    CU_ASSERT_EQUAL_FATAL(e2e_run(
        "( timeout -s KILL 300 '%s' --dpdk --stats-interval 1 --no-anomaly --strict-rules "
        "-S '%s' -l '%s' "
        "--control-socket '%s' -- -l 0-1 --no-pci %s --log-level=lib.eal:error "
        "--vdev='net_pcap0,rx_pcap=%s,infinite_rx=1' >'%s/stdout' 2>'%s/stderr'; "
        "echo $? >'%s/status' ) &",
        e2e_mamori(), rules, dir, sock, e2e_eal_memory_args(),
        e2e_data_path("pcaps/zeek/http_bro.org.pcap"), dir, dir, dir), 0);
    json_t *st = NULL;
    for (int i = 0; i < 60 && st == NULL; i++) {
        e2e_sleep_ms(1000);
        st = stats_now();
    }
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    json_decref(st);

    /* 20 reloads, alternating the two sets; the last leaves sid 1000002. */
    for (int k = 1; k <= RELOADS; k++) {
        /* a reload asked for while the last one's old set still retires is
         * refused (NOK): ask again */
        int rc = -1;
        for (int tries = 0; tries < 100 && rc != 0; tries++) {
            rc = e2e_run("timeout 30 '%s' -s '%s' rules reload '%s' >/dev/null 2>'%s/err'",
                         e2e_mamorictl(), sock, k % 2 ? a : b, dir);
            if (rc != 0)
                e2e_sleep_ms(50);
        }
        if (rc != 0)
            e2e_run("cat '%s/err' >&2", dir);
        CU_ASSERT_EQUAL_FATAL(rc, 0);
        CU_ASSERT_TRUE_FATAL(wait_reloads(k));
    }
    /* A strict reload of a set with a bad rule is refused whole: the old
     * set keeps running (its rule keeps alerting, checked below). */
    char bad[4300];
    snprintf(bad, sizeof(bad), "%s/bad.rules", dir);
    FILE *f = fopen(bad, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("alert tcp any any -> any 80 (msg:\"fine\"; content:\"GET\"; sid:1000003;)\n"
          "alert tcp any any -> any 80 (msg:\"broken\"; content:\"GET\"; depth:nope; sid:1000004;)\n", f);
    fclose(f);
    int rc = -1;
    for (int tries = 0; tries < 100 && rc != 0; tries++) {
        rc = e2e_run("timeout 30 '%s' -s '%s' --json stats >/dev/null 2>&1 && "
                     "timeout 30 '%s' -s '%s' --json rules reload '%s' "
                     "| grep -q '\"return\":\"OK\"'", e2e_mamorictl(), sock, e2e_mamorictl(), sock, bad);
        if (rc != 0)
            e2e_sleep_ms(50);
    }
    CU_ASSERT_EQUAL(rc, 0);
    for (int i = 0; i < 100; i++) {
        json_t *s2 = stats_now();
        long long failed = s2 ? stat_of(s2, "detect", "reloads_failed") : 0;
        json_decref(s2);
        if (failed > 0)
            break;
        e2e_sleep_ms(100);
    }
    e2e_sleep_ms(300);      /* the old set retires; traffic goes on */
    uint64_t switched = (uint64_t)time(NULL) + 1;
    e2e_sleep_ms(3000);

    st = stats_now();
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    long long rx = stat_of(st, "decoder", "pkts");
    json_t *port = json_object_get(st, "port");
    fprintf(stderr, "\n    %d reloads under load: %lld packets, burst latency p99 <= %lld us, "
            "max <= %lld us; reloads done %lld, failed %lld\n", RELOADS, rx,
            stat_of(st, "worker", "burst_p99_us"), stat_of(st, "worker", "burst_max_us"),
            stat_of(st, "detect", "reloads_done"), stat_of(st, "detect", "reloads_failed"));
    CU_ASSERT(rx > 0);
    CU_ASSERT_EQUAL(stat_of(st, "detect", "reloads_done"), RELOADS);
    CU_ASSERT_EQUAL(stat_of(st, "detect", "reloads_failed"), 1);   /* the strict one */
    CU_ASSERT_EQUAL(stat_of(st, "detect", "rules_loaded"), 1);     /* still the old set */
    CU_ASSERT_EQUAL(stat_of(st, "detect", "alerts_dropped"), 0);
    /* nothing missed at the port: every packet received was processed */
    const char *key;
    json_t *v;
    json_object_foreach(port, key, v) {
        if (strstr(key, "imissed") || strstr(key, "rx_nombuf") || strstr(key, "ierrors"))
            CU_ASSERT_EQUAL(json_integer_value(v), 0);
    }
    json_decref(st);
    CU_ASSERT_EQUAL(e2e_run("timeout 30 '%s' -s '%s' shutdown >/dev/null 2>&1", e2e_mamorictl(), sock),
                    0);
    CU_ASSERT_EQUAL(e2e_run("for i in $(seq 100); do test -s '%s/status' && break; sleep 0.1; done; "
                            "grep -qx 0 '%s/status'", dir, dir), 0);
    /* After the last reload: the added rule alerts, the removed one does not. */
    long added = alerts_after(1000002, switched), removed = alerts_after(1000001, switched);
    fprintf(stderr, "    after the last reload: %ld alerts of the added rule, %ld of the removed one\n",
            added, removed);
    CU_ASSERT(added > 0);
    CU_ASSERT_EQUAL(removed, 0);
    e2e_rmdir(dir);
}

int main(void)
{
    CU_TestInfo cases[] = {
        { "20 live reloads under load", test_reload_under_load },
        CU_TEST_INFO_NULL,
    };
    return cunit_run("e2e_reload", cases);
}
