/* test_e2e_stream.c - TCP stream matching end to end: crafted captures
 * through mamori -r with one rule whose content is split across segments.
 * Each case asserts the number of alerts: a match across segments is found
 * exactly once, in order or out of order, and retransmissions never alert
 * twice; content past a TLS handshake is not matched unless asked. */
#include <arpa/inet.h>
#include <pcap/pcap.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cunit_run.h"
#include "e2e.h"

#define CLIENT_ISN 1000u
#define SERVER_ISN 5000u

static const char *RULE =
    "alert tcp any any -> any 80 (msg:\"split content\"; content:\"EVILPAYLOAD\"; "
    "classtype:trojan-activity; sid:100; rev:1;)\n";

/* One Ethernet/IPv4/TCP frame: client 10.0.0.1:40000 <-> server 10.0.0.2:80,
 * with len bytes of payload. */
static void put_bytes(pcap_dumper_t *d, unsigned *n, bool from_client, uint32_t seq,
                      uint32_t ack, uint8_t flags, const void *payload, size_t len)
{
    uint8_t f[1514] = { 0 };
    uint8_t *ip = f + 14, *tcp = ip + 20;
    uint8_t a[4] = { 10, 0, 0, 1 }, b[4] = { 10, 0, 0, 2 };

    f[12] = 0x08;                                   /* IPv4 */
    ip[0] = 0x45;
    ip[2] = (uint8_t)((40 + len) >> 8), ip[3] = (uint8_t)(40 + len);
    ip[8] = 64, ip[9] = 6;
    memcpy(ip + 12, from_client ? a : b, 4);
    memcpy(ip + 16, from_client ? b : a, 4);
    uint16_t sp = from_client ? 40000 : 80, dp = from_client ? 80 : 40000;
    tcp[0] = (uint8_t)(sp >> 8), tcp[1] = (uint8_t)sp;
    tcp[2] = (uint8_t)(dp >> 8), tcp[3] = (uint8_t)dp;
    uint32_t s = htonl(seq), k = htonl(ack);
    memcpy(tcp + 4, &s, 4);
    memcpy(tcp + 8, &k, 4);
    tcp[12] = 0x50, tcp[13] = flags, tcp[14] = 0xff;
    if (len > 0)
        memcpy(tcp + 20, payload, len);

    struct pcap_pkthdr h = { .caplen = (bpf_u_int32)(54 + len), .len = (bpf_u_int32)(54 + len) };
    h.ts.tv_sec = 1700000000 + *n / 1000;
    h.ts.tv_usec = (*n % 1000) * 1000;
    (*n)++;
    pcap_dump((u_char *)d, &h, f);
}

static void put_segment(pcap_dumper_t *d, unsigned *n, bool from_client, uint32_t seq,
                        uint32_t ack, uint8_t flags, const char *payload)
{
    put_bytes(d, n, from_client, seq, ack, flags, payload, payload ? strlen(payload) : 0);
}

enum { SYN = 0x02, ACK = 0x10, PSH_ACK = 0x18, SYN_ACK = 0x12 };

static void handshake(pcap_dumper_t *d, unsigned *n)
{
    put_segment(d, n, true, CLIENT_ISN, 0, SYN, NULL);
    put_segment(d, n, false, SERVER_ISN, CLIENT_ISN + 1, SYN_ACK, NULL);
    put_segment(d, n, true, CLIENT_ISN + 1, SERVER_ISN + 1, ACK, NULL);
}

/* The two halves of the request; "EVILPAYLOAD" spans them. */
static const char *HALF1 = "GET /EVILPA";
static const char *HALF2 = "YLOAD HTTP/1.0\r\n\r\n";

enum scenario { IN_ORDER, OUT_OF_ORDER, RETRANSMITTED, MIDSTREAM, WHOLE_RETRANSMITTED,
                TLS_HANDSHAKE, TLS_ENCRYPTED };

/* A TLS record of content type `type` around `body` into out; its length. */
static size_t tls_record(uint8_t *out, uint8_t type, const char *body)
{
    size_t len = strlen(body);
    out[0] = type, out[1] = 3, out[2] = 3;
    out[3] = (uint8_t)(len >> 8), out[4] = (uint8_t)len;
    memcpy(out + 5, body, len);
    return 5 + len;
}

/* TLS: the client's handshake record, then (TLS_ENCRYPTED) the server's
 * first application data, then the client's application data holding the
 * rule's content: ciphertext by then, not matched by default. */
static uint32_t write_tls(pcap_dumper_t *d, unsigned *n, enum scenario sc, uint32_t s1, uint32_t a)
{
    uint8_t rec[256];
    size_t len = tls_record(rec, 22, "client hello");
    put_bytes(d, n, true, s1, a, PSH_ACK, rec, len);
    s1 += (uint32_t)len;
    if (sc == TLS_ENCRYPTED) {
        size_t sl = tls_record(rec, 23, "server data");
        put_bytes(d, n, false, a, s1, PSH_ACK, rec, sl);
        a += (uint32_t)sl;
    }
    len = tls_record(rec, sc == TLS_ENCRYPTED ? 23 : 22, "..EVILPAYLOAD..");
    put_bytes(d, n, true, s1, a, PSH_ACK, rec, len);
    return s1 + (uint32_t)len;
}

static void write_capture(const char *path, enum scenario sc)
{
    pcap_t *p = pcap_open_dead(DLT_EN10MB, 65535);
    pcap_dumper_t *d = pcap_dump_open(p, path);
    unsigned n = 0;
    uint32_t s1 = CLIENT_ISN + 1, s2 = s1 + (uint32_t)strlen(HALF1), a = SERVER_ISN + 1;

    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    if (sc != MIDSTREAM)
        handshake(d, &n);
    switch (sc) {
    case IN_ORDER:
    case MIDSTREAM:
        put_segment(d, &n, true, s1, a, PSH_ACK, HALF1);
        put_segment(d, &n, true, s2, a, PSH_ACK, HALF2);
        break;
    case OUT_OF_ORDER:
        put_segment(d, &n, true, s2, a, PSH_ACK, HALF2);
        put_segment(d, &n, true, s1, a, PSH_ACK, HALF1);
        break;
    case RETRANSMITTED:
        put_segment(d, &n, true, s1, a, PSH_ACK, HALF1);
        put_segment(d, &n, true, s2, a, PSH_ACK, HALF2);
        put_segment(d, &n, true, s2, a, PSH_ACK, HALF2);
        put_segment(d, &n, true, s1, a, PSH_ACK, HALF1);
        break;
    case WHOLE_RETRANSMITTED:
        put_segment(d, &n, true, s1, a, PSH_ACK, "GET /EVILPAYLOAD HTTP/1.0\r\n\r\n");
        put_segment(d, &n, true, s1, a, PSH_ACK, "GET /EVILPAYLOAD HTTP/1.0\r\n\r\n");
        break;
    case TLS_HANDSHAKE:
    case TLS_ENCRYPTED:
        write_tls(d, &n, sc, s1, a);
        break;
    }
    put_segment(d, &n, false, a, s2 + (uint32_t)strlen(HALF2), ACK, NULL);
    pcap_dump_close(d);
    pcap_close(p);
}

/* dir/c.pcap (the scenario) and dir/r.rules (RULE); eve gets dir/eve.json. */
static void write_inputs(const char *dir, enum scenario sc, char *pcap, char *rules, char *eve,
                         size_t len)
{
    snprintf(pcap, len, "%s/c.pcap", dir);
    snprintf(rules, len, "%s/r.rules", dir);
    snprintf(eve, len, "%s/eve.json", dir);
    write_capture(pcap, sc);
    FILE *f = fopen(rules, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(RULE, f);
    fclose(f);
}

/* Alerts of sid 100 when mamori reads the scenario's capture. */
static long alerts_for(enum scenario sc, const char *opts)
{
    char *dir = e2e_mkdtemp(), pcap[4200], rules[4200], eve[4200];
    write_inputs(dir, sc, pcap, rules, eve, sizeof(pcap));

    long n = -1;
    if (e2e_run("'%s' -w 1 --stats-interval 0 %s -l '%s' -r '%s' -S '%s' 2>'%s/stderr'",
                e2e_mamori(), opts, dir, pcap, rules, dir) == 0) {
        json_t *alerts = e2e_read_events(eve, "alert");
        n = (long)json_array_size(alerts);
        size_t i;
        json_t *ev;
        json_array_foreach(alerts, i, ev) {
            json_t *a = json_object_get(ev, "alert");
            CU_ASSERT_EQUAL(json_integer_value(json_object_get(a, "signature_id")), 100);
            CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(a, "action")), "allowed");
            CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(ev, "direction")), "to_server");
            CU_ASSERT_PTR_NOT_NULL(json_object_get(ev, "flow_id"));
        }
        json_decref(alerts);
    } else {
        e2e_run("cat '%s/stderr' >&2", dir);
    }
    e2e_rmdir(dir);
    return n;
}

static void test_split_in_order(void)
{
    CU_ASSERT_EQUAL(alerts_for(IN_ORDER, ""), 1);
}

static void test_split_out_of_order(void)
{
    CU_ASSERT_EQUAL(alerts_for(OUT_OF_ORDER, ""), 1);
}

static void test_retransmissions_alert_once(void)
{
    CU_ASSERT_EQUAL(alerts_for(RETRANSMITTED, ""), 1);
    CU_ASSERT_EQUAL(alerts_for(WHOLE_RETRANSMITTED, ""), 1);
}

static void test_split_midstream(void)
{
    CU_ASSERT_EQUAL(alerts_for(MIDSTREAM, ""), 1);
}

/* Past a TLS handshake only header rules are matched, unless
 * stream.inspect-encrypted says otherwise; before it, content is matched. */
static void test_tls_encrypted(void)
{
    char *cfg_dir = e2e_mkdtemp(), cfg[4200], opt[4300];
    snprintf(cfg, sizeof(cfg), "%s/m.yaml", cfg_dir);
    FILE *f = fopen(cfg, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("stream:\n  inspect-encrypted: true\n", f);
    fclose(f);
    snprintf(opt, sizeof(opt), "-c '%s'", cfg);

    CU_ASSERT_EQUAL(alerts_for(TLS_HANDSHAKE, ""), 1);
    CU_ASSERT_EQUAL(alerts_for(TLS_ENCRYPTED, ""), 0);
    CU_ASSERT_EQUAL(alerts_for(TLS_ENCRYPTED, opt), 1);
    e2e_rmdir(cfg_dir);

    char *dir = e2e_mkdtemp(), pcap[4200], rules[4200], eve[4200];
    write_inputs(dir, TLS_ENCRYPTED, pcap, rules, eve, sizeof(pcap));
    CU_ASSERT_EQUAL_FATAL(e2e_run("'%s' -w 1 -l '%s' -r '%s' -S '%s' 2>/dev/null", e2e_mamori(),
                                  dir, pcap, rules), 0);
    CU_ASSERT_EQUAL(e2e_stat(eve, "detect", "tls_encrypted_flows"), 1);
    CU_ASSERT_EQUAL(e2e_stat(eve, "detect", "encrypted_bytes"), 5 + 15);
    e2e_rmdir(dir);
}

/* The alert's flow_id is the flow event's. */
static void test_alert_flow_id_matches_flow(void)
{
    char *dir = e2e_mkdtemp(), pcap[4200], rules[4200], eve[4200];
    write_inputs(dir, IN_ORDER, pcap, rules, eve, sizeof(pcap));
    CU_ASSERT_EQUAL_FATAL(e2e_run("'%s' -w 1 -l '%s' -r '%s' -S '%s' 2>/dev/null", e2e_mamori(),
                                  dir, pcap, rules), 0);
    json_t *alerts = e2e_read_events(eve, "alert"), *flows = e2e_read_events(eve, "flow");
    CU_ASSERT_EQUAL_FATAL(json_array_size(alerts), 1);
    CU_ASSERT_EQUAL_FATAL(json_array_size(flows), 1);
    json_t *a = json_array_get(alerts, 0);
    CU_ASSERT_TRUE(json_equal(json_object_get(a, "flow_id"),
                              json_object_get(json_array_get(flows, 0), "flow_id")));
    json_t *al = json_object_get(a, "alert");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(al, "signature")), "split content");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(al, "category")),
                           "A Network Trojan was detected");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(al, "severity")), 1);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(al, "gid")), 1);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(al, "rev")), 1);
    CU_ASSERT_EQUAL(e2e_stat(eve, "stream", "bytes"), 29);
    CU_ASSERT_EQUAL(e2e_stat(eve, "detect", "rules_loaded"), 1);
    json_decref(alerts);
    json_decref(flows);
    e2e_rmdir(dir);
}

/* Flowbits live in a flow's slot, which a TCP flow takes with its first
 * data: a bit set on the SYN (no slot yet) must not reach the SYN-ACK,
 * while one set on the first data segment reaches the second. */
static void test_flowbits_live_in_the_slot(void)
{
    char *dir = e2e_mkdtemp(), pcap[4200], rules[4200], eve[4200];
    write_inputs(dir, IN_ORDER, pcap, rules, eve, sizeof(pcap));
    FILE *f = fopen(rules, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("alert tcp any any -> any any (flags:S; flowbits:set,syn; flowbits:noalert; sid:201;)\n"
          "alert tcp any any -> any any (flags:SA; flowbits:isset,syn; sid:202;)\n"
          "alert tcp any any -> any 80 (content:\"EVILPA\"; flowbits:set,got; "
          "flowbits:noalert; sid:203;)\n"
          "alert tcp any any -> any 80 (content:\"YLOAD\"; flowbits:isset,got; sid:204;)\n", f);
    fclose(f);
    CU_ASSERT_EQUAL_FATAL(e2e_run("'%s' -w 1 -l '%s' -r '%s' -S '%s' 2>/dev/null", e2e_mamori(),
                                  dir, pcap, rules), 0);
    json_t *alerts = e2e_read_events(eve, "alert");
    CU_ASSERT_EQUAL(json_array_size(alerts), 1);
    json_t *al = json_object_get(json_array_get(alerts, 0), "alert");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(al, "signature_id")), 204);
    json_decref(alerts);
    e2e_rmdir(dir);
}

int main(void)
{
    CU_TestInfo cases[] = {
        { "split content, in order: one alert", test_split_in_order },
        { "split content, out of order: one alert", test_split_out_of_order },
        { "retransmissions: one alert", test_retransmissions_alert_once },
        { "TLS: ciphertext matched by header rules only", test_tls_encrypted },
        { "split content, midstream: one alert", test_split_midstream },
        { "alert fields, flow_id as the flow's", test_alert_flow_id_matches_flow },
        { "flowbits live in the flow's slot", test_flowbits_live_in_the_slot },
        CU_TEST_INFO_NULL,
    };
    return cunit_run("e2e_stream", cases);
}
