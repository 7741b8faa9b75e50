/* test_e2e_tune.c - a detector threshold changed while the sensor runs
 * takes effect on the next tick: a SYN flood replayed without pause (DPDK
 * net_pcap looping over 4,000 packets of the stopddos capture) stays below a SYN-flood
 * threshold set absurdly high in the configuration, then alerts within
 * seconds of `mamorictl detector set syn_flood pps 1000`. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cunit_run.h"
#include "e2e.h"

#define SYN_FLOOD_SID 9000001

/* SYN-flood start alerts in DIR/eve.json so far. */
static long syn_flood_starts(const char *dir)
{
    char eve[4300];
    snprintf(eve, sizeof(eve), "%s/eve.json", dir);
    json_t *alerts = e2e_read_events(eve, "alert");
    long n = 0;
    size_t i;
    json_t *ev;
    json_array_foreach(alerts, i, ev) {
        json_t *a = json_object_get(ev, "alert"), *m = json_object_get(ev, "mamori");
        const char *phase = json_string_value(json_object_get(m, "phase"));
        n += json_integer_value(json_object_get(a, "signature_id")) == SYN_FLOOD_SID &&
             phase != NULL && strcmp(phase, "start") == 0;
    }
    json_decref(alerts);
    return n;
}

static void test_threshold_change_takes_effect(void)
{
    char *dir = e2e_mkdtemp(), cfg[4300], sock[4300];
    snprintf(cfg, sizeof(cfg), "%s/tune.yaml", dir);
    snprintf(sock, sizeof(sock), "%s/mamori.sock", dir);
    FILE *f = fopen(cfg, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("anomaly:\n  thresholds:\n    syn-flood:\n      pps: 1000000000\n", f);
    fclose(f);
    /* net_pcap's infinite_rx holds the whole file in mbufs: take 4,000
     * packets of the flood, as many as the port's pool has room for. */
    CU_ASSERT_EQUAL_FATAL(e2e_run("editcap -r '%s' '%s/flood.pcap' 1-4000",
                                  e2e_data_path("pcaps/stopddos/pkt.TCP.synflood.spoofed.pcap"),
                                  dir), 0);
    CU_ASSERT_EQUAL_FATAL(e2e_run(
        "( timeout -s KILL 120 '%s' -c '%s' --dpdk --stats-interval 1 -l '%s' "
        "--control-socket '%s' -- -l 0-1 --no-pci %s --log-level=lib.eal:error "
        "--vdev='net_pcap0,rx_pcap=%s/flood.pcap,infinite_rx=1' >'%s/stdout' 2>'%s/stderr'; "
        "echo $? >'%s/status' ) &",
        e2e_mamori(), cfg, dir, sock, e2e_eal_memory_args(), dir, dir, dir, dir), 0);
    int rc = -1;
    for (int i = 0; i < 60 && rc != 0; i++) {
        e2e_sleep_ms(500);
        rc = e2e_run("'%s' -s '%s' version >/dev/null 2>&1", e2e_mamorictl(), sock);
    }
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    e2e_sleep_ms(3000);                                   /* three ticks of flood */
    long before = syn_flood_starts(dir);
    CU_ASSERT_EQUAL(e2e_run("'%s' -s '%s' detector set syn_flood pps 1000 >/dev/null",
                            e2e_mamorictl(), sock), 0);
    long after = 0;
    for (int i = 0; i < 50 && after == 0; i++) {      /* the next tick, flushed */
        e2e_sleep_ms(200);
        after = syn_flood_starts(dir);
    }
    fprintf(stderr, "\n    SYN flood starts: %ld with pps 1e9, %ld after setting pps 1000\n",
            before, after);
    CU_ASSERT_EQUAL(before, 0);
    CU_ASSERT(after >= 1);
    CU_ASSERT_EQUAL(e2e_run("'%s' -s '%s' shutdown >/dev/null 2>&1; "
                            "for i in $(seq 100); do test -s '%s/status' && break; sleep 0.1; done; "
                            "grep -qx 0 '%s/status'", e2e_mamorictl(), sock, dir, dir), 0);
    e2e_rmdir(dir);
}

int main(void)
{
    CU_TestInfo cases[] = {
        { "detector set: the new threshold holds from the next tick", test_threshold_change_takes_effect },
        CU_TEST_INFO_NULL,
    };
    return cunit_run("e2e_tune", cases);
}
