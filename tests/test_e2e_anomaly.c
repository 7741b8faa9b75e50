/* test_e2e_anomaly.c - the statistical detectors through mamori -r on the
 * shared captures: each attack capture raises the right detector naming the
 * right victim or attacker, with one start and one end alert (one story per
 * attack), whatever the number of workers; the benign captures raise none
 * with the default thresholds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cunit_run.h"
#include "e2e.h"

/* The start alerts of mamori -r CAPTURE -w workers, as an array. */
static json_t *start_alerts(const char *capture, unsigned workers, json_t **all)
{
    char *dir = e2e_mkdtemp(), eve[4200];
    snprintf(eve, sizeof(eve), "%s/eve.json", dir);
    json_t *starts = json_array();
    *all = json_array();
    if (e2e_run("timeout -s KILL 120 '%s' -w %u --stats-interval 0 -l '%s' -r '%s' 2>'%s/stderr'",
                e2e_mamori(),
                workers, dir, e2e_data_path(capture), dir) != 0) {
        e2e_run("cat '%s/stderr' >&2", dir);
        CU_FAIL("mamori failed");
    } else {
        json_t *alerts = e2e_read_events(eve, "alert");
        size_t i;
        json_t *ev;
        json_array_foreach(alerts, i, ev) {
            json_t *m = json_object_get(ev, "mamori");
            if (m == NULL)
                continue;
            json_array_append(*all, ev);
            if (strcmp(json_string_value(json_object_get(m, "phase")), "start") == 0)
                json_array_append(starts, ev);
        }
        json_decref(alerts);
    }
    e2e_rmdir(dir);
    return starts;
}

/* Exactly one attack: its start names `signature`, and it ends. */
static void expect_one_attack(const char *capture, const char *signature, const char *category)
{
    for (unsigned workers = 1; workers <= 2; workers++) {
        json_t *all;
        json_t *starts = start_alerts(capture, workers, &all);
        if (json_array_size(starts) != 1)
            fprintf(stderr, "\n    %s -w %u: %zu start alerts\n", capture, workers,
                    json_array_size(starts));
        CU_ASSERT_EQUAL(json_array_size(starts), 1);
        json_t *a = json_object_get(json_array_get(starts, 0), "alert");
        const char *sig = json_string_value(json_object_get(a, "signature"));
        if (sig == NULL || strcmp(sig, signature) != 0)
            fprintf(stderr, "\n    %s: signature '%s', want '%s'\n", capture, sig ? sig : "",
                    signature);
        CU_ASSERT_TRUE(sig != NULL && strcmp(sig, signature) == 0);
        CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(a, "category")), category);
        CU_ASSERT_EQUAL(json_integer_value(json_object_get(a, "gid")), 9000);
        /* the story ends, and every alert of it carries the same attack id */
        size_t i, ends = 0;
        json_t *ev;
        json_t *id = json_object_get(json_object_get(json_array_get(starts, 0), "mamori"),
                                     "attack_id");
        json_array_foreach(all, i, ev) {
            json_t *m = json_object_get(ev, "mamori");
            CU_ASSERT_TRUE(json_equal(json_object_get(m, "attack_id"), id));
            ends += strcmp(json_string_value(json_object_get(m, "phase")), "end") == 0;
        }
        CU_ASSERT_EQUAL(ends, 1);
        json_decref(starts);
        json_decref(all);
    }
}

static void test_syn_flood(void)
{
    expect_one_attack("pcaps/stopddos/pkt.TCP.synflood.spoofed.pcap",
                      "MAMORI SYN flood toward 10.10.10.10", "Attempted Denial of Service");
}

static void test_synack_reflection(void)
{
    expect_one_attack("pcaps/stopddos/amp.TCP.reflection.SYNACK.pcap",
                      "MAMORI TCP SYN-ACK reflection toward 10.10.10.10",
                      "Attempted Denial of Service");
}

static void test_dns_amplification(void)
{
    expect_one_attack("pcaps/stopddos/amp.dns.RRSIG.fragmented.pcap",
                      "MAMORI DNS amplification toward 10.10.10.10", "Attempted Denial of Service");
}

static void test_snmp_amplification(void)
{
    expect_one_attack("pcaps/stopddos/amp.UDP.snmp.src161.pcapng",
                      "MAMORI SNMP amplification toward 10.10.10.10",
                      "Attempted Denial of Service");
}

static void test_port_scan(void)
{
    expect_one_attack("pcaps/ndpi/synscan.pcap",
                      "MAMORI port scan from 172.16.0.8 against 64.13.134.52",
                      "Detection of a Network Scan");
}

static void test_ssh_brute_force(void)
{
    json_t *all;
    json_t *starts = start_alerts("pcaps/zeek/ssh_sshguess.pcap", 2, &all);
    CU_ASSERT_EQUAL(json_array_size(starts), 1);
    json_t *ev = json_array_get(starts, 0);
    const char *sig = json_string_value(json_object_get(json_object_get(ev, "alert"), "signature"));
    CU_ASSERT_TRUE(sig != NULL && strstr(sig, "brute force from 192.168.56.1 ") != NULL);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(ev, "src_ip")), "192.168.56.1");
    json_decref(starts);
    json_decref(all);
}

/* Offline results do not depend on scheduling: more workers than cores
 * (so threads are preempted at random points), run after run, the same
 * one attack. A worker that started late used to have its first ticks
 * dropped as late (no alert), or to wait forever for a snapshot. */
static void test_same_alerts_every_run(void)
{
    for (unsigned run = 0; run < 8; run++) {
        json_t *all;
        json_t *starts = start_alerts("pcaps/zeek/ssh_sshguess.pcap", 4, &all);
        if (json_array_size(starts) != 1)
            fprintf(stderr, "\n    run %u: %zu start alerts\n", run, json_array_size(starts));
        CU_ASSERT_EQUAL(json_array_size(starts), 1);
        CU_ASSERT_EQUAL(json_array_size(all), 2);
        json_decref(starts);
        json_decref(all);
    }
}

/* Benign traffic: no statistical alert with the defaults. */
static void test_benign_quiet(void)
{
    static const char *benign[] = {
        "pcaps/zeek/wikipedia.pcap", "pcaps/zeek/http_bro.org.pcap",
    };
    for (size_t i = 0; i < sizeof(benign) / sizeof(benign[0]); i++) {
        json_t *all;
        json_t *starts = start_alerts(benign[i], 2, &all);
        if (json_array_size(all) != 0)
            fprintf(stderr, "\n    %s: %zu statistical alerts\n", benign[i], json_array_size(all));
        CU_ASSERT_EQUAL(json_array_size(all), 0);
        json_decref(starts);
        json_decref(all);
    }
}

int main(void)
{
    CU_TestInfo cases[] = {
        { "SYN flood (stopddos)", test_syn_flood },
        { "SYN-ACK reflection (stopddos)", test_synack_reflection },
        { "DNS amplification (stopddos)", test_dns_amplification },
        { "SNMP amplification (stopddos)", test_snmp_amplification },
        { "port scan (nDPI synscan)", test_port_scan },
        { "SSH brute force (Zeek sshguess)", test_ssh_brute_force },
        { "benign captures: no alert", test_benign_quiet },
        { "4 workers, 8 runs: the same alerts", test_same_alerts_every_run },
        CU_TEST_INFO_NULL,
    };
    return cunit_run("e2e_anomaly", cases);
}
