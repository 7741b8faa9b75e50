/* test_eve.c - EVE formatting: timestamps, protocol names, the flow event's
 * fields, string escaping, and stats nesting. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cunit_run.h"
#include "eve.h"
#include "stats.h"

static void test_timestamp_format(void)
{
    char buf[64];

    eve_format_timestamp(1713694272123456789ull, buf, sizeof(buf));
    CU_ASSERT_STRING_EQUAL(buf, "2024-04-21T10:11:12.123456+0000");
    eve_format_timestamp(0, buf, sizeof(buf));
    CU_ASSERT_STRING_EQUAL(buf, "1970-01-01T00:00:00.000000+0000");
}

static void test_proto_names(void)
{
    char buf[16];

    eve_format_proto(6, buf, sizeof(buf));
    CU_ASSERT_STRING_EQUAL(buf, "TCP");
    eve_format_proto(58, buf, sizeof(buf));
    CU_ASSERT_STRING_EQUAL(buf, "IPv6-ICMP");
    eve_format_proto(253, buf, sizeof(buf));
    CU_ASSERT_STRING_EQUAL(buf, "253");
}

static struct flow_record sample_record(void)
{
    struct flow_record rec;
    struct decoded_packet d;

    memset(&rec, 0, sizeof(rec));
    memset(&d, 0, sizeof(d));
    d.ip_version = 4;
    d.ip_proto = 6;
    d.flags = DECODED_IP | DECODED_L4;
    memcpy(d.src_addr, (uint8_t[]){ 10, 0, 0, 2 }, 4);
    memcpy(d.dst_addr, (uint8_t[]){ 10, 0, 0, 1 }, 4);
    d.src_port = 40000;
    d.dst_port = 80;
    d.tcp_flags = 0x02;
    unsigned side = flow_key_from_decoded(&rec.flow.key, &d);
    rec.flow.hash = flow_key_hash(&rec.flow.key);
    flow_init(&rec.flow, &rec.flow.key, rec.flow.hash, side, &d, 1000000000ull);
    flow_update(&rec.flow, side, &d, 60, 1000000000ull);
    rec.reason = FLOW_END_TIMEOUT;
    return rec;
}

static void test_flow_event_fields(void)
{
    struct flow_record rec = sample_record();
    json_t *ev = eve_flow_event(&rec, "eth0");
    json_t *flow = json_object_get(ev, "flow");

    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(ev, "event_type")), "flow");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(ev, "src_ip")), "10.0.0.2");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(ev, "src_port")), 40000);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(ev, "dest_ip")), "10.0.0.1");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(ev, "dest_port")), 80);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(ev, "proto")), "TCP");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(ev, "in_iface")), "eth0");
    CU_ASSERT(json_integer_value(json_object_get(ev, "flow_id")) > 0);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(flow, "pkts_toserver")), 1);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(flow, "bytes_toserver")), 60);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(flow, "pkts_toclient")), 0);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(flow, "state")), "new");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(flow, "reason")), "timeout");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(flow, "start")), "1970-01-01T00:00:01.000000+0000");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_object_get(ev, "tcp"), "tcp_flags")), "02");
    CU_ASSERT(json_is_true(json_object_get(json_object_get(ev, "tcp"), "syn")));
    json_decref(ev);
}

/* Quotes, backslashes, control characters and UTF-8 survive a write and a
 * parse, and the line stays one line. */
static void test_string_escaping(void)
{
    const char *nasty = "eth\"0\\\n\t\x01 ü/</script>";
    struct flow_record rec = sample_record();
    char path[] = "/tmp/mamori-test-eve-XXXXXX", err[256];
    int fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    close(fd);

    struct eve_writer *w = eve_open(path, err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    json_t *ev = eve_flow_event(&rec, nasty);
    CU_ASSERT_EQUAL(eve_write(w, ev), 0);
    json_decref(ev);
    eve_close(w);

    FILE *f = fopen(path, "r");
    char line[4096];
    CU_ASSERT_PTR_NOT_NULL_FATAL(fgets(line, sizeof(line), f));
    CU_ASSERT_PTR_NULL(fgets(line + strlen(line), 16, f));   /* exactly one line */
    fclose(f);
    unlink(path);
    CU_ASSERT_PTR_NOT_NULL(strstr(line, "eth\\\"0\\\\\\n\\t\\u0001"));
    json_error_t jerr;
    json_t *back = json_loads(line, 0, &jerr);
    CU_ASSERT_PTR_NOT_NULL_FATAL(back);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(back, "in_iface")), nasty);
    json_decref(back);
}

static void test_eve_open_error_names_path(void)
{
    char err[256];
    CU_ASSERT_PTR_NULL(eve_open("/nonexistent-dir/eve.json", err, sizeof(err)));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "/nonexistent-dir/eve.json"));
}

static void test_stats_nesting_and_sums(void)
{
    json_t *s = stats_new();

    stats_add(s, "decoder.pkts", 3);
    stats_add(s, "decoder.pkts", 4);
    stats_add(s, "decoder.ipv4.truncated", 1);
    stats_add(s, "uptime", 9);
    CU_ASSERT_EQUAL(stats_get(s, "decoder.pkts"), 7);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_object_get(s, "decoder"), "ipv4.truncated")), 1);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_object_get(s, "sensor"), "uptime")), 9);
    CU_ASSERT_EQUAL(stats_get(s, "flow.none"), 0);
    json_decref(s);
}

static CU_TestInfo cases[] = {
    { "timestamp format", test_timestamp_format },
    { "protocol names", test_proto_names },
    { "flow event fields", test_flow_event_fields },
    { "string escaping", test_string_escaping },
    { "open error names the path", test_eve_open_error_names_path },
    { "stats nesting and sums", test_stats_nesting_and_sums },
    CU_TEST_INFO_NULL,
};

int main(void)
{
    return cunit_run("eve", cases);
}
