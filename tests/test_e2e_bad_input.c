/* test_e2e_bad_input.c - damaged captures and bad rules end to end.
 *
 * Captures: damaged copies of a shared capture are made at run time
 * (truncated mid-record, a corrupt record header, a truncated pcapng, not a
 * capture at all, empty). mamori must name the file and the byte offset of
 * the bad record, analyse every packet before it (the same flows as a clean
 * file holding just those packets), and exit 3; a file it cannot open at
 * all stops the start (exit 1).
 *
 * Rules: thousands of malformed rules, a pcre PCRE2 cannot compile, a pcre
 * that backtracks catastrophically (stopped by the match limit, counted in
 * detect.pcre_limit_hits), a 64 KiB content and one past the 256 KiB limit.
 * Every run is under `timeout`: a stall fails the exit status check. */
#include <pcap/pcap.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cunit_run.h"
#include "e2e.h"

#define PCAP_HEADER 24
#define RECORD_HEADER 16

/* ---- helpers ------------------------------------------------------------- */

static uint8_t *load(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    long n;

    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET) != 0 || (buf = malloc((size_t)n + 1)) == NULL ||
        fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    } else {
        *len = (size_t)n;
    }
    if (f != NULL)
        fclose(f);
    return buf;
}

static void save(const char *dir, const char *name, const void *buf, size_t len)
{
    char path[4300];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(fwrite(buf, 1, len, f), len);
    fclose(f);
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Byte offset of record n (from 0) of a little-endian pcap file. */
static size_t record_offset(const uint8_t *buf, size_t len, unsigned n)
{
    size_t off = PCAP_HEADER;

    CU_ASSERT_FATAL(len > PCAP_HEADER && le32(buf) == 0xa1b2c3d4);
    for (unsigned i = 0; i < n; i++) {
        CU_ASSERT_FATAL(off + RECORD_HEADER <= len);
        off += RECORD_HEADER + le32(buf + off + 8);
    }
    return off;
}

/* mamori ARGS with output in DIR/NAME/, stdout and stderr in DIR/NAME.out
 * and DIR/NAME.err; its exit status (124: it stalled). */
static int mamori(const char *dir, const char *name, const char *args)
{
    return e2e_run("timeout 120 '%s' -w 1 --rule-cache none -l '%s/%s' %s >'%s/%s.out' "
                   "2>'%s/%s.err'", e2e_mamori(), dir, name, args, dir, name, dir, name);
}

/* Whether DIR/NAME contains text. */
static bool has(const char *dir, const char *name, const char *text)
{
    char path[4300];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return e2e_file_has(path, text);
}

static long long stat_of(const char *dir, const char *name, const char *section,
                         const char *key)
{
    char eve[4300];
    snprintf(eve, sizeof(eve), "%s/%s/eve.json", dir, name);
    return e2e_stat(eve, section, key);
}

static json_t *flows_of(const char *dir, const char *name)
{
    char eve[4300];
    snprintf(eve, sizeof(eve), "%s/%s/eve.json", dir, name);
    return e2e_flow_lines(eve);
}

/* ---- damaged captures ------------------------------------------------------ */

static const char *CAPTURE = "pcaps/zeek/http_bro.org.pcap";

/* Cut inside record 100: the 100 packets before it are analysed, exactly
 * as in a clean file of those 100 packets; the next file is still read. */
static void test_truncated_mid_record(void)
{
    char *dir = e2e_mkdtemp(), args[4300], want[256];
    size_t len;
    uint8_t *buf = load(e2e_data_path(CAPTURE), &len);

    CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
    size_t at = record_offset(buf, len, 100);
    save(dir, "cut.pcap", buf, at + RECORD_HEADER + 10);
    save(dir, "first100.pcap", buf, at);

    snprintf(args, sizeof(args), "-r '%s/cut.pcap'", dir);
    CU_ASSERT_EQUAL(mamori(dir, "cut", args), 3);
    snprintf(want, sizeof(want), "cut.pcap: damaged capture at byte offset %zu (the record "
             "after packet 100)", at);
    CU_ASSERT(has(dir, "cut.err", want));
    CU_ASSERT(has(dir, "cut.err", "truncated dump file"));
    CU_ASSERT(has(dir, "cut.err", "exit status 3"));
    CU_ASSERT_EQUAL(stat_of(dir, "cut", "decoder", "pkts"), 100);
    CU_ASSERT_EQUAL(stat_of(dir, "cut", "capture", "file_errors"), 1);

    snprintf(args, sizeof(args), "-r '%s/first100.pcap'", dir);
    CU_ASSERT_EQUAL(mamori(dir, "first100", args), 0);
    json_t *damaged = flows_of(dir, "cut"), *clean = flows_of(dir, "first100");
    CU_ASSERT(json_array_size(clean) > 0);
    CU_ASSERT(json_equal(damaged, clean));
    json_decref(damaged);
    json_decref(clean);

    snprintf(args, sizeof(args), "-r '%s/cut.pcap' -r '%s/first100.pcap'", dir, dir);
    CU_ASSERT_EQUAL(mamori(dir, "both", args), 3);
    CU_ASSERT_EQUAL(stat_of(dir, "both", "decoder", "pkts"), 200);
    free(buf);
    e2e_rmdir(dir);
}

/* Record 50's header claims 2 GiB: reported at its offset, 50 packets kept. */
static void test_corrupt_record_header(void)
{
    char *dir = e2e_mkdtemp(), args[4300], want[256];
    size_t len;
    uint8_t *buf = load(e2e_data_path(CAPTURE), &len);

    CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
    size_t at = record_offset(buf, len, 50);
    uint8_t huge[4] = { 0xff, 0xff, 0xff, 0x7f };
    memcpy(buf + at + 8, huge, 4);                    /* caplen */
    save(dir, "corrupt.pcap", buf, len);

    snprintf(args, sizeof(args), "-r '%s/corrupt.pcap'", dir);
    CU_ASSERT_EQUAL(mamori(dir, "corrupt", args), 3);
    snprintf(want, sizeof(want), "corrupt.pcap: damaged capture at byte offset %zu", at);
    CU_ASSERT(has(dir, "corrupt.err", want));
    CU_ASSERT(has(dir, "corrupt.err", "bigger than snaplen"));
    CU_ASSERT_EQUAL(stat_of(dir, "corrupt", "decoder", "pkts"), 50);
    free(buf);
    e2e_rmdir(dir);
}

/* A pcapng cut at two thirds: some packets, not all, and exit 3. */
static void test_truncated_pcapng(void)
{
    char *dir = e2e_mkdtemp(), args[4300];
    size_t len;
    uint8_t *buf = load(e2e_data_path("pcaps/ndpi/anydesk.pcapng"), &len);

    CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
    save(dir, "whole.pcapng", buf, len);
    save(dir, "cut.pcapng", buf, len * 2 / 3);
    snprintf(args, sizeof(args), "-r '%s/whole.pcapng'", dir);
    CU_ASSERT_EQUAL(mamori(dir, "whole", args), 0);
    snprintf(args, sizeof(args), "-r '%s/cut.pcapng'", dir);
    CU_ASSERT_EQUAL(mamori(dir, "cut", args), 3);
    CU_ASSERT(has(dir, "cut.err", "cut.pcapng: damaged capture at byte offset "));
    long long cut = stat_of(dir, "cut", "decoder", "pkts");
    CU_ASSERT(cut > 0);
    CU_ASSERT(cut < stat_of(dir, "whole", "decoder", "pkts"));
    free(buf);
    e2e_rmdir(dir);
}

/* Not a capture, or empty: the start fails (exit 1) naming the file. */
static void test_not_a_capture(void)
{
    char *dir = e2e_mkdtemp(), args[4300];
    const char *text = "this is not a capture file, just text\n";

    save(dir, "text.pcap", text, strlen(text));
    save(dir, "empty.pcap", "", 0);
    snprintf(args, sizeof(args), "-r '%s/text.pcap'", dir);
    CU_ASSERT_EQUAL(mamori(dir, "text", args), 1);
    CU_ASSERT(has(dir, "text.err", "text.pcap: not a capture file, or its header is damaged "
                  "(byte offset 0)"));
    snprintf(args, sizeof(args), "-r '%s/empty.pcap'", dir);
    CU_ASSERT_EQUAL(mamori(dir, "empty", args), 1);
    CU_ASSERT(has(dir, "empty.err", "empty.pcap: not a capture file"));
    e2e_rmdir(dir);
}

/* ---- bad rules ------------------------------------------------------------- */

/* 5,000 rules: every fifth good, the others broken four ways. -T fails,
 * shows the first errors as file:line: reason and counts the rest. */
static void test_thousands_of_bad_rules(void)
{
    static const char *const kinds[] = {
        "alert tcp any any -> any any (msg:\"good\"; content:\"good%u\"; sid:%u;)\n",
        "alert foo any any -> any any (msg:\"bad protocol %u\"; sid:%u;)\n",
        "alert tcp any any -> any any (msg:\"unclosed %u\"; sid:%u;\n",
        "alert tcp any any -> any 99999 (msg:\"bad port %u\"; sid:%u;)\n",
        "alert tcp any any -> any any (msg:\"bad hex %u\"; content:\"|zz|\"; sid:%u;)\n",
    };
    char *dir = e2e_mkdtemp(), path[4300], args[4400];

    snprintf(path, sizeof(path), "%s/bad.rules", dir);
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    for (unsigned i = 0; i < 5000; i++)
        fprintf(f, kinds[i % 5], i, i + 1);
    fclose(f);

    snprintf(args, sizeof(args), "-T -S '%s'", path);
    CU_ASSERT_EQUAL(mamori(dir, "check", args), 1);
    CU_ASSERT(has(dir, "check.out", "rules: 1000 loaded, 0 skipped, 4000 failed"));
    CU_ASSERT(has(dir, "check.out", "bad.rules:2: unknown protocol 'foo'"));
    CU_ASSERT(has(dir, "check.out", "bad.rules:3: options are not closed by ')'"));
    CU_ASSERT(has(dir, "check.out", "bad.rules:4: destination port: invalid port '99999'"));
    CU_ASSERT(has(dir, "check.out", "bad.rules:5: content: invalid hex character 'z'"));
    CU_ASSERT(has(dir, "check.out", "... and 3950 more failed rules"));
    /* bounded output: 50 errors and a count, not 4,000 lines */
    CU_ASSERT_EQUAL(e2e_run("test $(wc -l < '%s/check.out') -lt 100", dir), 0);

    /* The sensor itself runs with the good fifth. */
    snprintf(args, sizeof(args), "-S '%s' -r '%s'", path, e2e_data_path(CAPTURE));
    CU_ASSERT_EQUAL(mamori(dir, "run", args), 0);
    CU_ASSERT_EQUAL(stat_of(dir, "run", "detect", "rules_loaded"), 1000);
    CU_ASSERT_EQUAL(stat_of(dir, "run", "detect", "rules_failed"), 4000);
    e2e_rmdir(dir);
}

static void write_rules(const char *dir, const char *name, const char *text)
{
    save(dir, name, text, strlen(text));
}

/* PCRE2's own message and offset, after file:line. */
static void test_pcre_that_does_not_compile(void)
{
    char *dir = e2e_mkdtemp(), args[4400];

    write_rules(dir, "pcre.rules",
                "alert udp any any -> any any (msg:\"fine\"; pcre:\"/ab+c/\"; sid:1;)\n"
                "alert udp any any -> any any (msg:\"broken\"; pcre:\"/(abc/\"; sid:2;)\n");
    snprintf(args, sizeof(args), "-T -S '%s/pcre.rules'", dir);
    CU_ASSERT_EQUAL(mamori(dir, "check", args), 1);
    CU_ASSERT(has(dir, "check.err", "pcre.rules:2: pcre: missing closing parenthesis at offset 4"));
    CU_ASSERT(has(dir, "check.out", "1 rules compiled, 1 dropped"));
    e2e_rmdir(dir);
}

/* n UDP frames 10.0.0.1:1234 -> 10.0.0.2:5555, each with `size` bytes 'a'. */
static void write_udp_capture(const char *path, unsigned n, unsigned size)
{
    pcap_t *p = pcap_open_dead(DLT_EN10MB, 65535);
    pcap_dumper_t *d = pcap_dump_open(p, path);
    uint8_t *f = calloc(1, 42 + size);

    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    uint8_t *ip = f + 14, *udp = ip + 20;
    f[12] = 0x08;                                       /* IPv4 */
    ip[0] = 0x45;
    ip[2] = (uint8_t)((28 + size) >> 8), ip[3] = (uint8_t)(28 + size);
    ip[8] = 64, ip[9] = 17;
    memcpy(ip + 12, (uint8_t[]){ 10, 0, 0, 1, 10, 0, 0, 2 }, 8);
    udp[0] = 1234 >> 8, udp[1] = 1234 & 0xff, udp[2] = 5555 >> 8, udp[3] = 5555 & 0xff;
    udp[4] = (uint8_t)((8 + size) >> 8), udp[5] = (uint8_t)(8 + size);
    memset(udp + 8, 'a', size);
    for (unsigned i = 0; i < n; i++) {
        struct pcap_pkthdr h = { .caplen = 42 + size, .len = 42 + size };
        h.ts.tv_sec = 1700000000 + i;
        pcap_dump((u_char *)d, &h, f);
    }
    pcap_dump_close(d);
    pcap_close(p);
    free(f);
}

/* Alert events of sid in an eve.json. */
static unsigned alerts_of(const char *dir, const char *name, long long sid)
{
    char eve[4300];
    snprintf(eve, sizeof(eve), "%s/%s/eve.json", dir, name);
    json_t *alerts = e2e_read_events(eve, "alert"), *a;
    size_t i;
    unsigned n = 0;

    json_array_foreach(alerts, i, a)
        n += json_integer_value(json_object_get(json_object_get(a, "alert"),
                                                "signature_id")) == sid;
    json_decref(alerts);
    return n;
}

/* (a+)+[bc] on 4,000 'a's backtracks exponentially; the match limit stops
 * it: no match, counted, the run ends. ((a+)+b would not do: PCRE2 sees
 * that 'b' is missing before it backtracks.) The content rule still fires. */
static void test_catastrophic_pcre(void)
{
    char *dir = e2e_mkdtemp(), cap[4300], args[8800];

    snprintf(cap, sizeof(cap), "%s/aaaa.pcap", dir);
    write_udp_capture(cap, 20, 4000);
    write_rules(dir, "evil.rules",
                "alert udp any any -> any any (msg:\"backtracks\"; pcre:\"/(a+)+[bc]/\"; sid:1;)\n"
                "alert udp any any -> any any (msg:\"plain\"; content:\"aaaa\"; sid:2;)\n");
    snprintf(args, sizeof(args), "-S '%s/evil.rules' -r '%s'", dir, cap);
    CU_ASSERT_EQUAL(mamori(dir, "run", args), 0);
    CU_ASSERT_EQUAL(stat_of(dir, "run", "detect", "pcre_limit_hits"), 20);
    CU_ASSERT_EQUAL(alerts_of(dir, "run", 1), 0);
    CU_ASSERT_EQUAL(alerts_of(dir, "run", 2), 20);
    e2e_rmdir(dir);
}

/* One rule whose content is n bytes 'a'. */
static void write_big_content_rule(const char *dir, const char *name, size_t n)
{
    char path[4300];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("alert udp any any -> any any (msg:\"big content\"; content:\"", f);
    for (size_t i = 0; i < n; i++)
        fputc('a', f);
    fputs("\"; sid:7;)\n", f);
    fclose(f);
}

/* 64 KiB loads (Hyperscan is given only its first ENGINE_FP_LITERAL_MAX
 * bytes, so the rule is prefiltered like any other, with no fallback to
 * every packet); 256 KiB + 1 is past mamori's limit and fails with
 * file:line. */
static void test_64k_content(void)
{
    char *dir = e2e_mkdtemp(), cap[4300], args[8800];

    write_big_content_rule(dir, "64k.rules", 64 * 1024);
    write_big_content_rule(dir, "over.rules", 256 * 1024 + 1);
    snprintf(args, sizeof(args), "-T -S '%s/64k.rules'", dir);
    CU_ASSERT_EQUAL(mamori(dir, "check64k", args), 0);
    CU_ASSERT(has(dir, "check64k.out", "rules: 1 loaded, 0 skipped, 0 failed"));
    CU_ASSERT(!has(dir, "check64k.err", "fast pattern: "));

    snprintf(cap, sizeof(cap), "%s/aaaa.pcap", dir);
    write_udp_capture(cap, 20, 1400);
    snprintf(args, sizeof(args), "-S '%s/64k.rules' -r '%s'", dir, cap);
    CU_ASSERT_EQUAL(mamori(dir, "run", args), 0);
    CU_ASSERT_EQUAL(stat_of(dir, "run", "detect", "rules_loaded"), 1);
    CU_ASSERT_EQUAL(stat_of(dir, "run", "detect", "packets_inspected"), 20);
    CU_ASSERT_EQUAL(alerts_of(dir, "run", 7), 0);

    snprintf(args, sizeof(args), "-T -S '%s/over.rules'", dir);
    CU_ASSERT_EQUAL(mamori(dir, "over", args), 1);
    CU_ASSERT(has(dir, "over.out", "over.rules:1: content: longer than 262144 bytes"));
    e2e_rmdir(dir);
}

int main(void)
{
    CU_TestInfo cases[] = {
        { "capture truncated mid-record", test_truncated_mid_record },
        { "corrupt record header", test_corrupt_record_header },
        { "pcapng truncated", test_truncated_pcapng },
        { "not a capture, empty", test_not_a_capture },
        { "thousands of bad rules", test_thousands_of_bad_rules },
        { "pcre that does not compile", test_pcre_that_does_not_compile },
        { "catastrophic pcre stopped by the match limit", test_catastrophic_pcre },
        { "64 KiB content", test_64k_content },
        CU_TEST_INFO_NULL,
    };
    return cunit_run("e2e_bad_input", cases);
}
