/* test_threshold.c - alert thresholding: each threshold type and
 * detection_filter with exact alert patterns over a sequence of matches and
 * window expiry, every track key, IPv6, separate rules, a full table.
 *
 * Rules are parsed from real rule text. A pattern such as "0010" lists, per
 * match in order, whether it alerted. Windows are inclusive (Suricata): a
 * window that starts at t covers t .. t + seconds. */
#include <arpa/inet.h>
#include <string.h>

#include "cunit_run.h"
#include "rule_parser.h"
#include "threshold.h"

#define NS 1000000000ull

static struct rule parse_rule(const char *text)
{
    struct rule r;
    char why[256] = "";
    enum rule_parse_status st = rule_parse_line(text, NULL, NULL, &r, why, sizeof(why));
    if (st != RULE_PARSE_OK)
        fprintf(stderr, "\n    %s: %s\n", text, why);
    CU_ASSERT_EQUAL_FATAL(st, RULE_PARSE_OK);
    return r;
}

/* alert icmp any any -> any any (msg:"x"; OPTION; sid:SID;) */
static struct rule rule_with(const char *option, uint32_t sid)
{
    char text[512];
    snprintf(text, sizeof(text), "alert icmp any any -> any any (msg:\"x\"; %s; sid:%u;)",
             option, sid);
    return parse_rule(text);
}

static struct threshold_table *table(uint32_t capacity)
{
    char err[128];
    struct threshold_table *t = threshold_table_create(capacity, err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    return t;
}

static struct threshold_event ev4(uint64_t sec, const char *src, const char *dst)
{
    struct threshold_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.ts_ns = sec * NS;
    ev.ip_version = 4;
    CU_ASSERT_EQUAL(inet_pton(AF_INET, src, ev.src_addr), 1);
    CU_ASSERT_EQUAL(inet_pton(AF_INET, dst, ev.dst_addr), 1);
    return ev;
}

static struct threshold_event ev6(uint64_t sec, const char *src, const char *dst)
{
    struct threshold_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.ts_ns = sec * NS;
    ev.ip_version = 6;
    CU_ASSERT_EQUAL(inet_pton(AF_INET6, src, ev.src_addr), 1);
    CU_ASSERT_EQUAL(inet_pton(AF_INET6, dst, ev.dst_addr), 1);
    return ev;
}

static char admit(struct threshold_table *t, const struct rule *r, struct threshold_event ev)
{
    return threshold_admit(t, r, &ev) ? '1' : '0';
}

/* The pattern of matches src -> dst at the given seconds. */
static const char *at_times(struct threshold_table *t, const struct rule *r, const char *src,
                            const char *dst, const unsigned *secs, size_t n)
{
    static char out[128];
    CU_ASSERT_FATAL(n < sizeof(out));
    for (size_t i = 0; i < n; i++)
        out[i] = admit(t, r, ev4(secs[i], src, dst));
    out[n] = '\0';
    return out;
}

#define AT(t, r, src, dst, ...)                                                   \
    at_times((t), (r), (src), (dst), (const unsigned[]){ __VA_ARGS__ },          \
             sizeof((const unsigned[]){ __VA_ARGS__ }) / sizeof(unsigned))

#define A "10.0.0.1"
#define B "10.0.0.2"
#define C "10.0.0.3"
#define D "192.168.1.9"

/* ---- no threshold ---------------------------------------------------------- */

static void test_no_threshold(void)
{
    struct threshold_table *t = table(64);
    struct rule r = parse_rule("alert icmp any any -> any any (msg:\"x\"; sid:1;)");
    CU_ASSERT_STRING_EQUAL(AT(t, &r, A, B, 0, 0, 0, 1, 100, 1000), "111111");
    for (int i = 0; i < THRESHOLD_COUNTER_COUNT; i++)
        CU_ASSERT_EQUAL(threshold_counter(t, (enum threshold_counter)i), 0);
    rule_free(&r);
    threshold_table_destroy(t);
}

/* ---- limit ------------------------------------------------------------------ */

static void test_limit_by_src(void)
{
    struct threshold_table *t = table(64);
    struct rule r = rule_with("threshold:type limit, track by_src, count 2, seconds 60", 1);

    CU_ASSERT_STRING_EQUAL(AT(t, &r, A, B, 0, 1, 2, 3), "1100");
    CU_ASSERT_STRING_EQUAL(AT(t, &r, A, C, 4), "0");          /* same source */
    CU_ASSERT_STRING_EQUAL(AT(t, &r, B, A, 5, 6, 7), "110");  /* another source */
    CU_ASSERT_STRING_EQUAL(AT(t, &r, A, B, 60), "0");         /* 0 + 60: still in */
    CU_ASSERT_STRING_EQUAL(AT(t, &r, A, B, 61, 62, 63, 121, 122), "11001");
    CU_ASSERT_EQUAL(threshold_counter(t, THRESHOLD_MATCHES), 14);
    CU_ASSERT_EQUAL(threshold_counter(t, THRESHOLD_SUPPRESSED), 7);
    CU_ASSERT_EQUAL(threshold_counter(t, THRESHOLD_ENTRIES), 2);
    rule_free(&r);
    threshold_table_destroy(t);
}

static void test_limit_by_dst(void)
{
    struct threshold_table *t = table(64);
    struct rule r = rule_with("threshold:type limit, track by_dst, count 1, seconds 10", 1);

    CU_ASSERT_STRING_EQUAL(AT(t, &r, A, D, 0), "1");
    CU_ASSERT_STRING_EQUAL(AT(t, &r, B, D, 1), "0");          /* same destination */
    CU_ASSERT_STRING_EQUAL(AT(t, &r, C, D, 10), "0");
    CU_ASSERT_STRING_EQUAL(AT(t, &r, A, B, 2, 3), "10");      /* another destination */
    CU_ASSERT_STRING_EQUAL(AT(t, &r, B, D, 11, 12, 21, 22), "1001");
    rule_free(&r);
    threshold_table_destroy(t);
}

/* ---- threshold ------------------------------------------------------------------ */

static void test_threshold_by_src(void)
{
    struct threshold_table *t = table(64);
    struct rule r = rule_with("threshold:type threshold, track by_src, count 3, seconds 60", 1);

    /* every 3rd match of the window; 2 left over when it ends */
    CU_ASSERT_STRING_EQUAL(AT(t, &r, A, B, 0, 1, 2, 3, 4, 5, 6, 7), "00100100");
    CU_ASSERT_STRING_EQUAL(AT(t, &r, B, A, 8, 9, 10), "001");
    /* a new window from 61 does not inherit the 2 */
    CU_ASSERT_STRING_EQUAL(AT(t, &r, A, C, 61, 62, 63, 64), "0010");
    CU_ASSERT_EQUAL(threshold_counter(t, THRESHOLD_SUPPRESSED), 11);
    rule_free(&r);
    threshold_table_destroy(t);
}

static void test_threshold_window_fixed(void)
{
    /* An alert resets the count but not the window (Suricata): with the
     * window started at 0, 11 is past it; were it restarted at the alert (2),
     * 11 would be the 3rd match of that window and alert. */
    struct threshold_table *t = table(64);
    struct rule r = rule_with("threshold:type threshold, track by_dst, count 3, seconds 10", 1);
    CU_ASSERT_STRING_EQUAL(AT(t, &r, A, D, 0, 1, 2, 9, 10, 11), "001000");
    CU_ASSERT_STRING_EQUAL(AT(t, &r, B, D, 12, 13), "01");     /* by_dst: shared */
    CU_ASSERT_STRING_EQUAL(AT(t, &r, A, B, 12, 13), "00");     /* other destination */
    rule_free(&r);
    threshold_table_destroy(t);
}

static void test_threshold_count1(void)
{
    struct threshold_table *t = table(64);
    struct rule r = rule_with("threshold:type threshold, track by_src, count 1, seconds 60", 1);
    CU_ASSERT_STRING_EQUAL(AT(t, &r, A, B, 0, 0, 1, 100), "1111");
    CU_ASSERT_EQUAL(threshold_counter(t, THRESHOLD_ENTRIES), 0);   /* needs no state */
    rule_free(&r);
    threshold_table_destroy(t);
}

/* ---- both ------------------------------------------------------------------ */

static void test_both_by_src(void)
{
    struct threshold_table *t = table(64);
    struct rule r = rule_with("threshold:type both, track by_src, count 3, seconds 60", 1);

    CU_ASSERT_STRING_EQUAL(AT(t, &r, A, B, 0, 1, 2, 3, 4, 60), "001000");
    CU_ASSERT_STRING_EQUAL(AT(t, &r, B, A, 1, 2), "00");
    CU_ASSERT_STRING_EQUAL(AT(t, &r, A, C, 61, 62, 63, 64, 120), "00100");
    CU_ASSERT_STRING_EQUAL(AT(t, &r, B, A, 30), "1");
    rule_free(&r);
    threshold_table_destroy(t);
}

static void test_both_by_dst(void)
{
    struct threshold_table *t = table(64);
    struct rule r = rule_with("threshold:type both, track by_dst, count 2, seconds 5", 1);

    CU_ASSERT_STRING_EQUAL(AT(t, &r, A, D, 0), "0");
    CU_ASSERT_STRING_EQUAL(AT(t, &r, B, D, 1), "1");
    CU_ASSERT_STRING_EQUAL(AT(t, &r, C, D, 2, 5), "00");
    CU_ASSERT_STRING_EQUAL(AT(t, &r, A, D, 6, 7, 8, 12, 13), "01001");
    CU_ASSERT_STRING_EQUAL(AT(t, &r, D, A, 6, 7), "01");       /* another destination */

    /* count 1: the first match of each window */
    struct rule r1 = rule_with("threshold:type both, track by_dst, count 1, seconds 5", 2);
    CU_ASSERT_STRING_EQUAL(AT(t, &r1, A, D, 0, 1, 5, 6, 7), "10010");
    rule_free(&r1);
    rule_free(&r);
    threshold_table_destroy(t);
}

/* ---- detection_filter ------------------------------------------------------- */

static void test_detection_filter(void)
{
    struct threshold_table *t = table(64);
    struct rule r = parse_rule("alert icmp any any -> any any (msg:\"x\"; "
                               "detection_filter:track by_src, count 3, seconds 60; sid:1;)");
    CU_ASSERT_TRUE(r.detection_filter.present);

    /* every match after the 3rd, to the end of the window */
    CU_ASSERT_STRING_EQUAL(AT(t, &r, A, B, 0, 1, 2, 3, 4, 59, 60), "0001111");
    CU_ASSERT_STRING_EQUAL(AT(t, &r, B, A, 5, 6, 7, 8), "0001");   /* own count */
    /* a new window: three silent matches again */
    CU_ASSERT_STRING_EQUAL(AT(t, &r, A, B, 61, 62, 63, 64, 65), "00011");
    CU_ASSERT_EQUAL(threshold_counter(t, THRESHOLD_MATCHES), 16);
    CU_ASSERT_EQUAL(threshold_counter(t, THRESHOLD_SUPPRESSED), 9);
    rule_free(&r);
    threshold_table_destroy(t);
}

static void test_detection_filter_by_dst(void)
{
    struct threshold_table *t = table(64);
    struct rule r = rule_with("detection_filter:track by_dst, count 2, seconds 10", 1);
    CU_ASSERT_STRING_EQUAL(AT(t, &r, A, D, 0), "0");
    CU_ASSERT_STRING_EQUAL(AT(t, &r, B, D, 1), "0");
    CU_ASSERT_STRING_EQUAL(AT(t, &r, C, D, 2), "1");
    CU_ASSERT_STRING_EQUAL(AT(t, &r, C, A, 3), "0");
    rule_free(&r);
    threshold_table_destroy(t);
}

/* Our parser refuses both in one rule, like Suricata. Built by hand, the
 * detection_filter goes first and the threshold sees what it let through. */
static void test_threshold_and_detection_filter(void)
{
    struct rule bad;
    char why[256];
    CU_ASSERT_EQUAL(rule_parse_line("alert icmp any any -> any any (msg:\"x\"; "
                                    "detection_filter:track by_src, count 2, seconds 60; "
                                    "threshold:type limit, track by_src, count 1, seconds 60; "
                                    "sid:1;)", NULL, NULL, &bad, why, sizeof(why)),
                    RULE_PARSE_ERROR);

    struct threshold_table *t = table(64);
    struct rule r = rule_with("detection_filter:track by_src, count 2, seconds 60", 1);
    r.threshold = (struct rule_threshold){ .present = true, .type = RULE_THRESHOLD_LIMIT,
                                           .track = RULE_TRACK_BY_SRC, .count = 2,
                                           .seconds = 60 };
    CU_ASSERT_STRING_EQUAL(AT(t, &r, A, B, 0, 1, 2, 3, 4, 5), "001100");
    CU_ASSERT_STRING_EQUAL(AT(t, &r, A, B, 61, 62, 63), "001");
    CU_ASSERT_EQUAL(threshold_counter(t, THRESHOLD_ENTRIES), 2);
    rule_free(&r);
    threshold_table_destroy(t);
}

/* ---- keys ------------------------------------------------------------------ */

static void test_by_rule(void)
{
    struct threshold_table *t = table(64);
    struct rule r = rule_with("threshold:type limit, track by_rule, count 2, seconds 60", 1);
    CU_ASSERT_STRING_EQUAL(AT(t, &r, A, B, 0), "1");
    CU_ASSERT_STRING_EQUAL(AT(t, &r, C, D, 1), "1");
    CU_ASSERT_STRING_EQUAL(AT(t, &r, D, C, 2), "0");
    CU_ASSERT_EQUAL(admit(t, &r, ev6(3, "2001:db8::1", "2001:db8::2")), '0');
    CU_ASSERT_STRING_EQUAL(AT(t, &r, B, A, 61), "1");
    rule_free(&r);
    threshold_table_destroy(t);
}

static void test_by_both(void)
{
    struct threshold_table *t = table(64);
    struct rule r = rule_with("threshold:type both, track by_both, count 2, seconds 60", 1);
    CU_ASSERT_STRING_EQUAL(AT(t, &r, A, B, 0), "0");
    CU_ASSERT_STRING_EQUAL(AT(t, &r, B, A, 1), "1");     /* the pair, either direction */
    CU_ASSERT_STRING_EQUAL(AT(t, &r, A, C, 2), "0");     /* another pair */
    CU_ASSERT_STRING_EQUAL(AT(t, &r, C, B, 3), "0");
    CU_ASSERT_STRING_EQUAL(AT(t, &r, A, C, 4), "1");
    CU_ASSERT_STRING_EQUAL(AT(t, &r, B, C, 5), "1");
    CU_ASSERT_EQUAL(threshold_counter(t, THRESHOLD_ENTRIES), 3);
    rule_free(&r);
    threshold_table_destroy(t);
}

static void test_by_flow(void)
{
    struct threshold_table *t = table(64);
    struct rule r = rule_with("threshold:type limit, track by_flow, count 1, seconds 60", 1);
    struct threshold_event e = ev4(0, A, B);
    e.flow_id = 7;
    CU_ASSERT_EQUAL(admit(t, &r, e), '1');
    e.ts_ns = 1 * NS;
    CU_ASSERT_EQUAL(admit(t, &r, e), '0');
    struct threshold_event other = ev4(2, A, B);          /* same hosts, other flow */
    other.flow_id = 8;
    CU_ASSERT_EQUAL(admit(t, &r, other), '1');
    struct threshold_event moved = ev4(3, C, D);          /* flow_id alone decides */
    moved.flow_id = 7;
    CU_ASSERT_EQUAL(admit(t, &r, moved), '0');
    moved.ts_ns = 61 * NS;
    CU_ASSERT_EQUAL(admit(t, &r, moved), '1');
    rule_free(&r);
    threshold_table_destroy(t);
}

static void test_ipv6(void)
{
    struct threshold_table *t = table(64);
    struct rule r = rule_with("detection_filter:track by_src, count 1, seconds 60", 1);

    CU_ASSERT_EQUAL(admit(t, &r, ev6(0, "2001:db8::1", "2001:db8::ff")), '0');
    CU_ASSERT_EQUAL(admit(t, &r, ev6(1, "2001:db8::2", "2001:db8::ff")), '0');  /* last byte */
    CU_ASSERT_EQUAL(admit(t, &r, ev6(2, "2001:db8::1", "2001:db8::fe")), '1');
    CU_ASSERT_EQUAL(admit(t, &r, ev6(3, "2001:db8::2", "::1")), '1');

    /* An IPv4 address equal to an IPv6 address's first 4 bytes is another key. */
    struct threshold_event v6 = ev6(4, "a00:1::", "::1");
    struct threshold_event v4 = ev4(5, A, B);
    CU_ASSERT_EQUAL(memcmp(v6.src_addr, v4.src_addr, 4), 0);
    CU_ASSERT_EQUAL(admit(t, &r, v6), '0');
    CU_ASSERT_EQUAL(admit(t, &r, v4), '0');

    /* IPv4: bytes 4..15 are not part of the address. */
    struct threshold_event junk = ev4(6, A, B);
    memset(junk.src_addr + 4, 0xab, 12);
    CU_ASSERT_EQUAL(admit(t, &r, junk), '1');

    /* by_both with IPv6, both directions */
    struct rule rb = rule_with("detection_filter:track by_both, count 1, seconds 60", 2);
    CU_ASSERT_EQUAL(admit(t, &rb, ev6(0, "2001:db8::1", "fe80::1")), '0');
    CU_ASSERT_EQUAL(admit(t, &rb, ev6(1, "fe80::1", "2001:db8::1")), '1');
    CU_ASSERT_EQUAL(admit(t, &rb, ev6(2, "fe80::1", "2001:db8::2")), '0');
    rule_free(&rb);
    rule_free(&r);
    threshold_table_destroy(t);
}

static void test_rules_separate(void)
{
    struct threshold_table *t = table(64);
    struct rule r1 = rule_with("threshold:type limit, track by_src, count 1, seconds 60", 1);
    struct rule r2 = rule_with("threshold:type limit, track by_src, count 1, seconds 60", 2);
    struct rule r3 = rule_with("threshold:type limit, track by_src, count 1, seconds 60; "
                               "gid:3", 1);
    CU_ASSERT_EQUAL(r3.gid, 3);
    CU_ASSERT_STRING_EQUAL(AT(t, &r1, A, B, 0, 1), "10");
    CU_ASSERT_STRING_EQUAL(AT(t, &r2, A, B, 2, 3), "10");
    CU_ASSERT_STRING_EQUAL(AT(t, &r3, A, B, 4, 5), "10");
    CU_ASSERT_STRING_EQUAL(AT(t, &r1, A, B, 6), "0");
    /* a new rev of the rule starts afresh; the same rev keeps its state
     * (a reload parses the rule again: another struct, the same key) */
    struct rule r1b = rule_with("threshold:type limit, track by_src, count 1, seconds 60", 1);
    CU_ASSERT_STRING_EQUAL(AT(t, &r1b, A, B, 7), "0");
    r1b.rev = 2;
    CU_ASSERT_STRING_EQUAL(AT(t, &r1b, A, B, 8), "1");
    CU_ASSERT_EQUAL(threshold_counter(t, THRESHOLD_ENTRIES), 4);
    rule_free(&r1b);
    rule_free(&r3);
    rule_free(&r2);
    rule_free(&r1);
    threshold_table_destroy(t);
}

/* ---- the table -------------------------------------------------------------- */

static void source(char *buf, size_t len, unsigned i)
{
    snprintf(buf, len, "10.%u.%u.%u", (i >> 16) & 255, (i >> 8) & 255, i & 255);
}

static void test_table_full(void)
{
    char err[128] = "";
    CU_ASSERT_PTR_NULL(threshold_table_create(0, err, sizeof(err)));
    CU_ASSERT_NOT_EQUAL(err[0], '\0');
    CU_ASSERT_PTR_NULL(threshold_table_create(UINT32_MAX, NULL, 0));

    struct threshold_table *t = table(10);
    CU_ASSERT_EQUAL(threshold_table_capacity(t), 16);
    struct rule r = rule_with("detection_filter:track by_src, count 1, seconds 60", 1);
    char ip[32];

    for (unsigned i = 0; i < 16; i++) {
        source(ip, sizeof(ip), i);
        CU_ASSERT_EQUAL(admit(t, &r, ev4(0, ip, B)), '0');
    }
    CU_ASSERT_EQUAL(threshold_counter(t, THRESHOLD_ENTRIES), 16);
    CU_ASSERT_EQUAL(threshold_counter(t, THRESHOLD_TABLE_FULL), 0);

    /* full: a new key's matches are alerted and counted, never lost */
    source(ip, sizeof(ip), 16);
    CU_ASSERT_STRING_EQUAL(AT(t, &r, ip, B, 1, 2), "11");
    CU_ASSERT_EQUAL(threshold_counter(t, THRESHOLD_TABLE_FULL), 2);
    /* keys already in keep working */
    source(ip, sizeof(ip), 3);
    CU_ASSERT_STRING_EQUAL(AT(t, &r, ip, B, 3), "1");

    /* Source 5 renews its window at 70; the rest expire. At 70, the window
     * started at 0 is over (0 + 60 < 70), so new keys take expired entries. */
    source(ip, sizeof(ip), 5);
    CU_ASSERT_STRING_EQUAL(AT(t, &r, ip, B, 70), "0");
    for (unsigned i = 100; i < 115; i++) {
        source(ip, sizeof(ip), i);
        CU_ASSERT_STRING_EQUAL(AT(t, &r, ip, B, 70, 71), "01");
    }
    CU_ASSERT_EQUAL(threshold_counter(t, THRESHOLD_REUSED), 15);
    CU_ASSERT_EQUAL(threshold_counter(t, THRESHOLD_ENTRIES), 16);
    CU_ASSERT_EQUAL(threshold_counter(t, THRESHOLD_TABLE_FULL), 2);
    /* now every entry is live again (source 5 and 15 new ones) */
    source(ip, sizeof(ip), 200);
    CU_ASSERT_STRING_EQUAL(AT(t, &r, ip, B, 72), "1");
    CU_ASSERT_EQUAL(threshold_counter(t, THRESHOLD_TABLE_FULL), 3);
    source(ip, sizeof(ip), 5);
    CU_ASSERT_STRING_EQUAL(AT(t, &r, ip, B, 73), "1");       /* kept its count */
    rule_free(&r);
    threshold_table_destroy(t);
}

/* Many keys in a table sized for them: each one counted on its own. */
static void test_many_keys(void)
{
    enum { KEYS = 5000 };
    struct threshold_table *t = table(4 * KEYS);
    struct rule r = rule_with("threshold:type both, track by_src, count 2, seconds 60", 1);
    char ip[32];
    unsigned alerts = 0;

    for (unsigned round = 0; round < 3; round++) {
        for (unsigned i = 0; i < KEYS; i++) {
            source(ip, sizeof(ip), i);
            alerts += admit(t, &r, ev4(round, ip, B)) == '1';
        }
    }
    CU_ASSERT_EQUAL(alerts, KEYS);           /* the 2nd match of each source */
    CU_ASSERT_EQUAL(threshold_counter(t, THRESHOLD_ENTRIES), KEYS);
    CU_ASSERT_EQUAL(threshold_counter(t, THRESHOLD_TABLE_FULL), 0);
    CU_ASSERT_EQUAL(threshold_counter(t, THRESHOLD_SUPPRESSED), 2 * KEYS);
    rule_free(&r);
    threshold_table_destroy(t);
}

/* Matches from several workers reach the main thread slightly out of order:
 * a match before its window's start still counts in it. */
static void test_out_of_order(void)
{
    struct threshold_table *t = table(64);
    struct rule r = rule_with("detection_filter:track by_src, count 2, seconds 10", 1);
    CU_ASSERT_STRING_EQUAL(AT(t, &r, A, B, 5, 4, 3, 15, 16), "00110");
    rule_free(&r);
    threshold_table_destroy(t);
}

static void test_counter_names(void)
{
    for (int i = 0; i < THRESHOLD_COUNTER_COUNT; i++) {
        const char *a = threshold_counter_name((enum threshold_counter)i);
        CU_ASSERT_PTR_NOT_NULL_FATAL(a);
        CU_ASSERT_EQUAL(strncmp(a, "threshold.", 10), 0);
        for (int j = 0; j < i; j++)
            CU_ASSERT_NOT_EQUAL(strcmp(a, threshold_counter_name((enum threshold_counter)j)), 0);
    }
    CU_ASSERT_STRING_EQUAL(threshold_counter_name(THRESHOLD_SUPPRESSED), "threshold.suppressed");
    CU_ASSERT_STRING_EQUAL(threshold_counter_name(THRESHOLD_TABLE_FULL), "threshold.table_full");
    CU_ASSERT_STRING_EQUAL(threshold_counter_name(THRESHOLD_ENTRIES), "threshold.entries");
    CU_ASSERT_PTR_NULL(threshold_counter_name(THRESHOLD_COUNTER_COUNT));
}

static CU_TestInfo cases[] = {
    { "no threshold: every match, no state", test_no_threshold },
    { "limit by_src: first C per window", test_limit_by_src },
    { "limit by_dst", test_limit_by_dst },
    { "threshold by_src: every C-th in the window", test_threshold_by_src },
    { "threshold by_dst: the window does not move at an alert", test_threshold_window_fixed },
    { "threshold count 1: every match, stateless", test_threshold_count1 },
    { "both by_src: the C-th only, once per window", test_both_by_src },
    { "both by_dst, count 1", test_both_by_dst },
    { "detection_filter by_src: every match after C", test_detection_filter },
    { "detection_filter by_dst", test_detection_filter_by_dst },
    { "threshold and detection_filter: parser refuses, by hand chained",
      test_threshold_and_detection_filter },
    { "track by_rule", test_by_rule },
    { "track by_both: unordered pair", test_by_both },
    { "track by_flow", test_by_flow },
    { "IPv6 keys, IPv4 distinct", test_ipv6 },
    { "rules (gid, sid, rev) do not share state", test_rules_separate },
    { "full table: admit and count; expired entries reused", test_table_full },
    { "5000 keys counted apart", test_many_keys },
    { "out-of-order packet time", test_out_of_order },
    { "counter names", test_counter_names },
    CU_TEST_INFO_NULL,
};

int main(void)
{
    return cunit_run("threshold", cases);
}
