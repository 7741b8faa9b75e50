/* test_rule_parser.c - the Suricata/Snort rule parser: every keyword into its
 * struct fields, content decoding, header groups and variables, every error
 * message with its file:line, skip reasons, limits, classification.config,
 * and loads of the shared ET Open / Snort community rule sets and the
 * suricata-verify simple.rules.
 *
 * Paths: $MAMORI_DATA (default ../shared/data) for the shared data, and
 * $MAMORI_SOURCE (default .) for detectors/classification.config. */
#include <arpa/inet.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cunit_run.h"
#include "rule_parser.h"

/* ---- helpers ---------------------------------------------------------- */

static void small_classifications(struct classifications *c)
{
    classifications_init(c);
    CU_ASSERT_EQUAL(classifications_parse_line(c, "config classification: trojan-activity,"
                                               "A Network Trojan was detected, 1", NULL, 0), 0);
    CU_ASSERT_EQUAL(classifications_parse_line(c, "config classification: misc-activity,"
                                               "Misc activity,3", NULL, 0), 0);
    CU_ASSERT_EQUAL(classifications_parse_line(c, "config classification: bad-unknown,"
                                               "Potentially Bad Traffic, 2", NULL, 0), 0);
}

/* Parse with the default variables and a small classification table. */
static enum rule_parse_status parse(const char *text, struct rule *r, char *why, size_t whylen)
{
    struct rule_vars *v = rule_vars_new();
    struct classifications c;
    small_classifications(&c);
    enum rule_parse_status st = rule_parse_line(text, v, &c, r, why, whylen);
    classifications_free(&c);
    rule_vars_free(v);
    return st;
}

#define PARSE_OK(text, r)                                                        \
    do {                                                                         \
        char why_[512];                                                          \
        enum rule_parse_status st_ = parse((text), (r), why_, sizeof(why_));     \
        if (st_ != RULE_PARSE_OK)                                                \
            fprintf(stderr, "\n    unexpected %d for %s: %s\n", st_, (text), why_); \
        CU_ASSERT_EQUAL_FATAL(st_, RULE_PARSE_OK);                               \
    } while (0)

static void expect_status(const char *text, enum rule_parse_status want, const char *why_want)
{
    struct rule r;
    char why[512];
    enum rule_parse_status st = parse(text, &r, why, sizeof(why));
    if (st != want || strcmp(why, why_want) != 0)
        fprintf(stderr, "\n    %s\n    got %d '%s', want %d '%s'\n", text, st, why, want,
                why_want);
    CU_ASSERT_EQUAL(st, want);
    CU_ASSERT_STRING_EQUAL(why, why_want);
    if (st == RULE_PARSE_OK)
        rule_free(&r);
    else
        CU_ASSERT_EQUAL(r.sid, 0);     /* nothing is left in `out` */
}

static void expect_skip(const char *text, const char *key)
{
    expect_status(text, RULE_PARSE_SKIP, key);
}

static void expect_error(const char *text, const char *msg)
{
    expect_status(text, RULE_PARSE_ERROR, msg);
}

/* A tcp any -> any rule around `opts`, which should end with a blank. */
#define R(opts) "alert tcp any any -> any any (" opts "sid:1;)"

static const struct rule_content *content_at(const struct rule *r, uint32_t i)
{
    CU_ASSERT_FATAL(i < r->n_matches);
    CU_ASSERT_EQUAL_FATAL(r->matches[i].type, RULE_MATCH_CONTENT);
    return &r->matches[i].u.content;
}

static uint32_t ip4(const char *s)
{
    struct in_addr a;
    CU_ASSERT_EQUAL_FATAL(inet_pton(AF_INET, s, &a), 1);
    return ntohl(a.s_addr);
}

static bool in4(const struct rule_addrs *a, const char *s)
{
    return rule_addrs_match_v4(a, ip4(s));
}

static bool in6(const struct rule_addrs *a, const char *s)
{
    uint8_t b[16];
    CU_ASSERT_EQUAL_FATAL(inet_pton(AF_INET6, s, b), 1);
    return rule_addrs_match_v6(a, b);
}

static int addrs(const char *text, const struct rule_vars *v, struct rule_addrs *out, char *err)
{
    return rule_addrs_parse(text, v, out, err, 256);
}

/* ---- header ----------------------------------------------------------- */

static void test_minimal_rule(void)
{
    struct rule r;
    PARSE_OK("  alert tcp any any -> any any (msg:\"hello\"; sid:7;)  ", &r);
    CU_ASSERT_EQUAL(r.action, RULE_ACTION_ALERT);
    CU_ASSERT_EQUAL(r.declared, RULE_DECLARED_ALERT);
    CU_ASSERT_STRING_EQUAL(r.proto.name, "tcp");
    CU_ASSERT_FALSE(r.proto.app);
    CU_ASSERT_EQUAL(r.proto.mask, RULE_PROTO_TCP);
    CU_ASSERT_EQUAL(r.proto.ip_versions, RULE_IP_ANY);
    CU_ASSERT_TRUE(r.src.any && r.dst.any && r.sport.any && r.dport.any);
    CU_ASSERT_FALSE(r.bidirectional);
    CU_ASSERT_EQUAL(r.gid, 1);
    CU_ASSERT_EQUAL(r.sid, 7);
    CU_ASSERT_EQUAL(r.rev, 0);
    CU_ASSERT_STRING_EQUAL(r.msg, "hello");
    CU_ASSERT_PTR_NULL(r.classtype);
    CU_ASSERT_EQUAL(r.priority, 3);
    CU_ASSERT_FALSE(r.priority_explicit);
    CU_ASSERT_EQUAL(r.n_matches, 0);
    CU_ASSERT_EQUAL(r.fast_pattern, -1);
    CU_ASSERT_STRING_EQUAL(r.text, "alert tcp any any -> any any (msg:\"hello\"; sid:7;)");
    CU_ASSERT_PTR_NULL(r.file);
    rule_free(&r);
    rule_free(&r);                     /* zeroed: a second free is harmless */

    PARSE_OK("alert tcp any any -> any any (sid:1;)", &r);
    CU_ASSERT_STRING_EQUAL(r.msg, "");
    rule_free(&r);
}

static void test_actions(void)
{
    static const struct {
        const char *action;
        enum rule_action a;
        enum rule_declared_action d;
    } cases[] = {
        { "alert", RULE_ACTION_ALERT, RULE_DECLARED_ALERT },
        { "pass", RULE_ACTION_PASS, RULE_DECLARED_PASS },
        { "drop", RULE_ACTION_ALERT, RULE_DECLARED_DROP },
        { "sdrop", RULE_ACTION_ALERT, RULE_DECLARED_DROP },
        { "block", RULE_ACTION_ALERT, RULE_DECLARED_DROP },
        { "reject", RULE_ACTION_ALERT, RULE_DECLARED_REJECT },
        { "rejectsrc", RULE_ACTION_ALERT, RULE_DECLARED_REJECT },
        { "rejectdst", RULE_ACTION_ALERT, RULE_DECLARED_REJECT },
        { "rejectboth", RULE_ACTION_ALERT, RULE_DECLARED_REJECT },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[128];
        struct rule r;
        snprintf(text, sizeof(text), "%s ip any any -> any any (sid:1;)", cases[i].action);
        PARSE_OK(text, &r);
        CU_ASSERT_EQUAL(r.action, cases[i].a);
        CU_ASSERT_EQUAL(r.declared, cases[i].d);
        rule_free(&r);
    }
    CU_ASSERT_STRING_EQUAL(rule_action_name(RULE_ACTION_PASS), "pass");
    CU_ASSERT_STRING_EQUAL(rule_declared_name(RULE_DECLARED_REJECT), "reject");
}

static void test_protocols(void)
{
    static const struct {
        const char *name;
        uint8_t mask, ipv;
        bool app;
        enum rule_tcp_view view;
    } cases[] = {
        { "ip", RULE_PROTO_ANY, RULE_IP_ANY, false, RULE_TCP_ANY },
        { "ipv6", RULE_PROTO_ANY, RULE_IPV6, false, RULE_TCP_ANY },
        { "tcp", RULE_PROTO_TCP, RULE_IP_ANY, false, RULE_TCP_ANY },
        { "TCP", RULE_PROTO_TCP, RULE_IP_ANY, false, RULE_TCP_ANY },
        { "tcp-pkt", RULE_PROTO_TCP, RULE_IP_ANY, false, RULE_TCP_PKT },
        { "tcp-stream", RULE_PROTO_TCP, RULE_IP_ANY, false, RULE_TCP_STREAM },
        { "udp", RULE_PROTO_UDP, RULE_IP_ANY, false, RULE_TCP_ANY },
        { "icmp", RULE_PROTO_ICMP4 | RULE_PROTO_ICMP6, RULE_IP_ANY, false, RULE_TCP_ANY },
        { "icmpv6", RULE_PROTO_ICMP6, RULE_IPV6, false, RULE_TCP_ANY },
        { "sctp", RULE_PROTO_SCTP, RULE_IP_ANY, false, RULE_TCP_ANY },
        { "http", RULE_PROTO_TCP, RULE_IP_ANY, true, RULE_TCP_ANY },
        { "smtp", RULE_PROTO_TCP, RULE_IP_ANY, true, RULE_TCP_ANY },
        { "ssh", RULE_PROTO_TCP, RULE_IP_ANY, true, RULE_TCP_ANY },
        { "tls", RULE_PROTO_TCP, RULE_IP_ANY, true, RULE_TCP_ANY },
        { "ftp", RULE_PROTO_TCP, RULE_IP_ANY, true, RULE_TCP_ANY },
        { "smb", RULE_PROTO_TCP, RULE_IP_ANY, true, RULE_TCP_ANY },
        { "dns", RULE_PROTO_TCP | RULE_PROTO_UDP, RULE_IP_ANY, true, RULE_TCP_ANY },
        { "dcerpc", RULE_PROTO_TCP | RULE_PROTO_UDP, RULE_IP_ANY, true, RULE_TCP_ANY },
        { "tftp", RULE_PROTO_UDP, RULE_IP_ANY, true, RULE_TCP_ANY },
        { "snmp", RULE_PROTO_UDP, RULE_IP_ANY, true, RULE_TCP_ANY },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[128];
        struct rule r;
        snprintf(text, sizeof(text), "alert %s any any -> any 53 (sid:1;)", cases[i].name);
        PARSE_OK(text, &r);
        CU_ASSERT_EQUAL(r.proto.mask, cases[i].mask);
        CU_ASSERT_EQUAL(r.proto.ip_versions, cases[i].ipv);
        CU_ASSERT_EQUAL(r.proto.app, cases[i].app);
        CU_ASSERT_EQUAL(r.proto.tcp_view, cases[i].view);
        CU_ASSERT_TRUE(rule_ports_match(&r.dport, 53));
        CU_ASSERT_FALSE(rule_ports_match(&r.dport, 54));
        rule_free(&r);
    }
}

static void test_addresses_v4(void)
{
    struct rule_addrs a;
    char err[256];

    CU_ASSERT_EQUAL(addrs("192.168.1.0/24", NULL, &a, err), 0);
    CU_ASSERT_FALSE(a.any);
    CU_ASSERT_EQUAL(a.n4, 1);
    CU_ASSERT_EQUAL(a.n6, 0);
    CU_ASSERT_EQUAL(a.v4[0].lo, ip4("192.168.1.0"));
    CU_ASSERT_EQUAL(a.v4[0].hi, ip4("192.168.1.255"));
    CU_ASSERT_TRUE(in4(&a, "192.168.1.77"));
    CU_ASSERT_FALSE(in4(&a, "192.168.2.1"));
    CU_ASSERT_FALSE(in6(&a, "::1"));
    rule_addrs_free(&a);

    /* host bits are masked off, as Suricata does; netmask and range forms */
    CU_ASSERT_EQUAL(addrs("10.1.2.3/8", NULL, &a, err), 0);
    CU_ASSERT_EQUAL(a.v4[0].lo, ip4("10.0.0.0"));
    CU_ASSERT_EQUAL(a.v4[0].hi, ip4("10.255.255.255"));
    rule_addrs_free(&a);
    CU_ASSERT_EQUAL(addrs("172.16.0.0/255.240.0.0", NULL, &a, err), 0);
    CU_ASSERT_EQUAL(a.v4[0].hi, ip4("172.31.255.255"));
    rule_addrs_free(&a);
    CU_ASSERT_EQUAL(addrs("1.2.3.4-1.2.3.9", NULL, &a, err), 0);
    CU_ASSERT_EQUAL(a.v4[0].lo, ip4("1.2.3.4"));
    CU_ASSERT_EQUAL(a.v4[0].hi, ip4("1.2.3.9"));
    rule_addrs_free(&a);
    CU_ASSERT_EQUAL(addrs("0.0.0.0/0", NULL, &a, err), 0);
    CU_ASSERT_FALSE(a.any);            /* every IPv4 address but no IPv6 one */
    CU_ASSERT_TRUE(in4(&a, "255.255.255.255"));
    CU_ASSERT_FALSE(in6(&a, "2001:db8::1"));
    rule_addrs_free(&a);

    /* a list is sorted and merged: adjacent and overlapping ranges join */
    CU_ASSERT_EQUAL(addrs("[10.0.0.5, 10.0.0.0/30,10.0.0.4, 8.0.0.0/8]", NULL, &a, err), 0);
    CU_ASSERT_EQUAL(a.n4, 2);
    CU_ASSERT_EQUAL(a.v4[0].lo, ip4("8.0.0.0"));
    CU_ASSERT_EQUAL(a.v4[0].hi, ip4("8.255.255.255"));
    CU_ASSERT_EQUAL(a.v4[1].lo, ip4("10.0.0.0"));
    CU_ASSERT_EQUAL(a.v4[1].hi, ip4("10.0.0.5"));
    rule_addrs_free(&a);
    CU_ASSERT_EQUAL(addrs("[9.0.0.0/8, 10.0.0.0/30]", NULL, &a, err), 0);
    CU_ASSERT_EQUAL(a.n4, 1);          /* adjacent ranges join */
    rule_addrs_free(&a);
}

static void test_addresses_v6(void)
{
    struct rule_addrs a;
    char err[256];

    CU_ASSERT_EQUAL(addrs("2001:db8::/32", NULL, &a, err), 0);
    CU_ASSERT_EQUAL(a.n4, 0);
    CU_ASSERT_EQUAL(a.n6, 1);
    CU_ASSERT_EQUAL(a.v6[0].lo.hi, 0x20010db800000000ull);
    CU_ASSERT_EQUAL(a.v6[0].lo.lo, 0);
    CU_ASSERT_EQUAL(a.v6[0].hi.hi, 0x20010db8ffffffffull);
    CU_ASSERT_EQUAL(a.v6[0].hi.lo, UINT64_MAX);
    CU_ASSERT_TRUE(in6(&a, "2001:db8:1234::5"));
    CU_ASSERT_FALSE(in6(&a, "2001:db9::"));
    CU_ASSERT_FALSE(in4(&a, "10.0.0.1"));
    rule_addrs_free(&a);

    CU_ASSERT_EQUAL(addrs("[::1, 10.0.0.0/8, fe80::/10, !fe80::1]", NULL, &a, err), 0);
    CU_ASSERT_EQUAL(a.n4, 1);
    CU_ASSERT_EQUAL(a.n6, 3);          /* ::1, fe80::0, fe80::2 .. end of /10 */
    CU_ASSERT_TRUE(in6(&a, "::1"));
    CU_ASSERT_TRUE(in6(&a, "fe80::"));
    CU_ASSERT_FALSE(in6(&a, "fe80::1"));
    CU_ASSERT_TRUE(in6(&a, "febf:ffff::1"));
    CU_ASSERT_TRUE(in4(&a, "10.9.9.9"));
    rule_addrs_free(&a);

    CU_ASSERT_EQUAL(addrs("2001:db8::1/128", NULL, &a, err), 0);
    CU_ASSERT_TRUE(in6(&a, "2001:db8::1"));
    CU_ASSERT_FALSE(in6(&a, "2001:db8::2"));
    rule_addrs_free(&a);
}

static void test_addresses_negation(void)
{
    struct rule_addrs a;
    char err[256];

    /* a list: union of positives minus union of negatives */
    CU_ASSERT_EQUAL(addrs("[10.0.0.0/8,!10.1.0.0/16]", NULL, &a, err), 0);
    CU_ASSERT_EQUAL(a.n4, 2);
    CU_ASSERT_TRUE(in4(&a, "10.0.0.1"));
    CU_ASSERT_FALSE(in4(&a, "10.1.200.1"));
    CU_ASSERT_TRUE(in4(&a, "10.2.0.0"));
    CU_ASSERT_FALSE(in6(&a, "::1"));
    rule_addrs_free(&a);

    /* only negatives: starts from any, both families */
    CU_ASSERT_EQUAL(addrs("[!1.1.1.1,!2.2.2.2]", NULL, &a, err), 0);
    CU_ASSERT_EQUAL(a.n4, 3);
    CU_ASSERT_FALSE(in4(&a, "1.1.1.1"));
    CU_ASSERT_TRUE(in4(&a, "1.1.1.2"));
    CU_ASSERT_TRUE(in6(&a, "::1"));
    rule_addrs_free(&a);

    /* a negated list, and the same written the other way */
    CU_ASSERT_EQUAL(addrs("![1.1.1.1,2.2.2.2]", NULL, &a, err), 0);
    CU_ASSERT_EQUAL(a.n4, 3);
    CU_ASSERT_FALSE(in4(&a, "2.2.2.2"));
    CU_ASSERT_TRUE(in4(&a, "3.3.3.3"));
    rule_addrs_free(&a);

    /* nesting: 10/8 minus (10.1/16 minus 10.1.2/24) */
    CU_ASSERT_EQUAL(addrs("[10.0.0.0/8, ![10.1.0.0/16, !10.1.2.0/24]]", NULL, &a, err), 0);
    CU_ASSERT_TRUE(in4(&a, "10.0.0.1"));
    CU_ASSERT_FALSE(in4(&a, "10.1.1.1"));
    CU_ASSERT_TRUE(in4(&a, "10.1.2.3"));
    CU_ASSERT_FALSE(in4(&a, "11.0.0.0"));
    rule_addrs_free(&a);

    /* double negation, and "any" itself */
    CU_ASSERT_EQUAL(addrs("!!1.2.3.4", NULL, &a, err), 0);
    CU_ASSERT_EQUAL(a.n4, 1);
    rule_addrs_free(&a);
    CU_ASSERT_EQUAL(addrs("[any, 1.2.3.4]", NULL, &a, err), 0);
    CU_ASSERT_TRUE(a.any);
    CU_ASSERT_PTR_NULL(a.v4);
    rule_addrs_free(&a);
    CU_ASSERT_EQUAL(addrs("[0.0.0.0/0, ::/0]", NULL, &a, err), 0);
    CU_ASSERT_TRUE(a.any);
    rule_addrs_free(&a);
}

static void test_variables(void)
{
    struct rule_vars *v = rule_vars_new();
    struct rule_addrs a;
    struct rule_ports p;
    char err[256];

    CU_ASSERT_STRING_EQUAL(rule_vars_get(v, RULE_VAR_ADDRESS, "HOME_NET"),
                           "[192.168.0.0/16,10.0.0.0/8,172.16.0.0/12]");
    CU_ASSERT_STRING_EQUAL(rule_vars_get(v, RULE_VAR_ADDRESS, "EXTERNAL_NET"), "!$HOME_NET");
    CU_ASSERT_STRING_EQUAL(rule_vars_get(v, RULE_VAR_PORT, "SHELLCODE_PORTS"), "!80");
    CU_ASSERT_PTR_NULL(rule_vars_get(v, RULE_VAR_PORT, "HOME_NET"));
    CU_ASSERT_EQUAL(rule_vars_check(v, err, sizeof(err)), 0);

    CU_ASSERT_EQUAL(addrs("$HOME_NET", v, &a, err), 0);
    CU_ASSERT_EQUAL(a.n4, 3);
    CU_ASSERT_EQUAL(a.n6, 0);
    CU_ASSERT_TRUE(in4(&a, "172.20.0.1"));
    rule_addrs_free(&a);

    /* EXTERNAL_NET = the IPv4 complement of HOME_NET plus all of IPv6 */
    CU_ASSERT_EQUAL(addrs("$EXTERNAL_NET", v, &a, err), 0);
    CU_ASSERT_EQUAL(a.n4, 4);
    CU_ASSERT_EQUAL(a.n6, 1);
    CU_ASSERT_TRUE(in4(&a, "8.8.8.8"));
    CU_ASSERT_FALSE(in4(&a, "10.1.1.1"));
    CU_ASSERT_FALSE(in4(&a, "192.168.255.255"));
    CU_ASSERT_TRUE(in4(&a, "192.169.0.0"));
    CU_ASSERT_TRUE(in6(&a, "2001:db8::1"));
    rule_addrs_free(&a);

    CU_ASSERT_EQUAL(addrs("[$HTTP_SERVERS,!$SMTP_SERVERS,1.2.3.4]", v, &a, err), 0);
    CU_ASSERT_EQUAL(a.n4, 1);          /* HTTP_SERVERS = SMTP_SERVERS = HOME_NET */
    CU_ASSERT_TRUE(in4(&a, "1.2.3.4"));
    rule_addrs_free(&a);

    CU_ASSERT_EQUAL(rule_ports_parse("$FILE_DATA_PORTS", v, &p, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(p.n, 3);
    CU_ASSERT_TRUE(rule_ports_match(&p, 80) && rule_ports_match(&p, 110) &&
                   rule_ports_match(&p, 143));
    rule_ports_free(&p);
    CU_ASSERT_EQUAL(rule_ports_parse("$SHELLCODE_PORTS", v, &p, err, sizeof(err)), 0);
    CU_ASSERT_FALSE(rule_ports_match(&p, 80));
    CU_ASSERT_TRUE(rule_ports_match(&p, 81) && rule_ports_match(&p, 0));
    rule_ports_free(&p);

    /* overrides: EXTERNAL_NET follows a new HOME_NET; new names get a kind */
    CU_ASSERT_EQUAL(rule_vars_assign(v, "$HOME_NET=[1.2.3.0/24, 2001:db8::/32]", err,
                                     sizeof(err)), 0);
    CU_ASSERT_EQUAL(rule_vars_assign(v, "HTTP_PORTS=[80,8080]", err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(rule_vars_assign(v, "MY_PORTS=[1:10]", err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(rule_vars_assign(v, "MY_NET=1.1.1.1", err, sizeof(err)), 0);
    CU_ASSERT_PTR_NOT_NULL(rule_vars_get(v, RULE_VAR_PORT, "MY_PORTS"));
    CU_ASSERT_PTR_NOT_NULL(rule_vars_get(v, RULE_VAR_ADDRESS, "MY_NET"));
    CU_ASSERT_EQUAL(addrs("$EXTERNAL_NET", v, &a, err), 0);
    CU_ASSERT_TRUE(in4(&a, "10.1.1.1"));
    CU_ASSERT_FALSE(in4(&a, "1.2.3.4"));
    CU_ASSERT_FALSE(in6(&a, "2001:db8::1"));
    CU_ASSERT_TRUE(in6(&a, "2001:db9::1"));
    rule_addrs_free(&a);
    CU_ASSERT_EQUAL(rule_ports_parse("$FILE_DATA_PORTS", v, &p, err, sizeof(err)), 0);
    CU_ASSERT_TRUE(rule_ports_match(&p, 8080));
    rule_ports_free(&p);

    CU_ASSERT_EQUAL(rule_vars_assign(v, "NO_EQUALS", err, sizeof(err)), -1);
    CU_ASSERT_STRING_EQUAL(err, "variable assignment 'NO_EQUALS' has no '='");
    CU_ASSERT_EQUAL(rule_vars_set(v, RULE_VAR_ADDRESS, "BAD-NAME", "any", err, sizeof(err)), -1);
    CU_ASSERT_STRING_EQUAL(err, "invalid variable name 'BAD-NAME'");

    /* a bad value is found by the check, with the variable named */
    CU_ASSERT_EQUAL(rule_vars_assign(v, "DNS_SERVERS=[1.2.3.4,", err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(rule_vars_check(v, err, sizeof(err)), -1);
    CU_ASSERT_STRING_EQUAL(err, "$DNS_SERVERS: missing address");
    rule_vars_free(v);

    /* no table: variables are undefined */
    CU_ASSERT_EQUAL(addrs("$HOME_NET", NULL, &a, err), -1);
    CU_ASSERT_STRING_EQUAL(err, "undefined variable $HOME_NET");
}

static void test_variable_cycles(void)
{
    struct rule_vars *v = rule_vars_new_empty();
    struct rule_addrs a;
    struct rule_ports p;
    char err[256];

    CU_ASSERT_EQUAL(rule_vars_set(v, RULE_VAR_ADDRESS, "A", "[1.2.3.4,$B]", err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(rule_vars_set(v, RULE_VAR_ADDRESS, "B", "![$C]", err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(rule_vars_set(v, RULE_VAR_ADDRESS, "C", "$A", err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(addrs("$A", v, &a, err), -1);
    CU_ASSERT_STRING_EQUAL(err, "variable cycle: $A -> $B -> $C -> $A");
    CU_ASSERT_EQUAL(addrs("[10.0.0.0/8,$B]", v, &a, err), -1);
    CU_ASSERT_STRING_EQUAL(err, "variable cycle: $B -> $C -> $A -> $B");
    CU_ASSERT_EQUAL(rule_vars_check(v, err, sizeof(err)), -1);
    CU_ASSERT_STRING_EQUAL(err, "$A: variable cycle: $A -> $B -> $C -> $A");

    CU_ASSERT_EQUAL(rule_vars_set(v, RULE_VAR_PORT, "P", "[80,$P]", err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(rule_ports_parse("$P", v, &p, err, sizeof(err)), -1);
    CU_ASSERT_STRING_EQUAL(err, "variable cycle: $P -> $P");

    /* a long chain without a cycle hits the depth limit */
    for (int i = 0; i < 20; i++) {
        char name[8], value[16];
        snprintf(name, sizeof(name), "V%d", i);
        snprintf(value, sizeof(value), "$V%d", i + 1);
        CU_ASSERT_EQUAL(rule_vars_set(v, RULE_VAR_ADDRESS, name, value, err, sizeof(err)), 0);
    }
    CU_ASSERT_EQUAL(rule_vars_set(v, RULE_VAR_ADDRESS, "V20", "1.2.3.4", err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(addrs("$V10", v, &a, err), 0);     /* 10 levels is fine */
    rule_addrs_free(&a);
    CU_ASSERT_EQUAL(addrs("$V0", v, &a, err), -1);
    CU_ASSERT_STRING_EQUAL(err, "address group nested deeper than 16");
    CU_ASSERT_EQUAL(addrs("[[[[[[[[[[[[[[[[[[1.2.3.4]]]]]]]]]]]]]]]]]", v, &a, err), -1);
    CU_ASSERT_STRING_EQUAL(err, "address group nested deeper than 16");
    rule_vars_free(v);
}

static void test_ports(void)
{
    struct rule_ports p;
    char err[256];

    CU_ASSERT_EQUAL(rule_ports_parse("1024:", NULL, &p, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(p.n, 1);
    CU_ASSERT_EQUAL(p.r[0].lo, 1024);
    CU_ASSERT_EQUAL(p.r[0].hi, 65535);
    rule_ports_free(&p);
    CU_ASSERT_EQUAL(rule_ports_parse(":1023", NULL, &p, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(p.r[0].lo, 0);
    CU_ASSERT_EQUAL(p.r[0].hi, 1023);
    rule_ports_free(&p);
    CU_ASSERT_EQUAL(rule_ports_parse("[80, 443,8000:8080, 8081]", NULL, &p, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(p.n, 3);
    CU_ASSERT_EQUAL(p.r[2].lo, 8000);
    CU_ASSERT_EQUAL(p.r[2].hi, 8081);
    CU_ASSERT_TRUE(rule_ports_match(&p, 443));
    CU_ASSERT_FALSE(rule_ports_match(&p, 444));
    rule_ports_free(&p);
    CU_ASSERT_EQUAL(rule_ports_parse("[1:100,!50:60]", NULL, &p, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(p.n, 2);
    CU_ASSERT_TRUE(rule_ports_match(&p, 49) && rule_ports_match(&p, 61));
    CU_ASSERT_FALSE(rule_ports_match(&p, 55) || rule_ports_match(&p, 101));
    rule_ports_free(&p);
    CU_ASSERT_EQUAL(rule_ports_parse("!21", NULL, &p, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(p.n, 2);
    CU_ASSERT_TRUE(rule_ports_match(&p, 0) && rule_ports_match(&p, 65535));
    rule_ports_free(&p);
    CU_ASSERT_EQUAL(rule_ports_parse("[0:65535]", NULL, &p, err, sizeof(err)), 0);
    CU_ASSERT_TRUE(p.any);
    rule_ports_free(&p);

    CU_ASSERT_EQUAL(rule_ports_parse(":", NULL, &p, err, sizeof(err)), -1);
    CU_ASSERT_STRING_EQUAL(err, "invalid port ':'");
    CU_ASSERT_EQUAL(rule_ports_parse("[80,!80]", NULL, &p, err, sizeof(err)), -1);
    CU_ASSERT_STRING_EQUAL(err, "port group '[80,!80]' matches nothing");
    CU_ASSERT_EQUAL(rule_ports_parse("[80 443]", NULL, &p, err, sizeof(err)), -1);
    CU_ASSERT_STRING_EQUAL(err, "expected ',' or ']' in port list at '443]'");
    CU_ASSERT_EQUAL(rule_ports_parse("[80,443", NULL, &p, err, sizeof(err)), -1);
    CU_ASSERT_STRING_EQUAL(err, "port list has no closing ']'");
}

static void test_header_forms(void)
{
    struct rule r;
    PARSE_OK("alert tcp [$HOME_NET, !192.168.1.0/24] [1024:,!8080] <> "
             "$EXTERNAL_NET $HTTP_PORTS (sid:1;)", &r);
    CU_ASSERT_TRUE(r.bidirectional);
    CU_ASSERT_TRUE(in4(&r.src, "10.0.0.1"));
    CU_ASSERT_FALSE(in4(&r.src, "192.168.1.1"));
    CU_ASSERT_TRUE(in4(&r.src, "192.168.2.1"));
    CU_ASSERT_TRUE(rule_ports_match(&r.sport, 1024));
    CU_ASSERT_FALSE(rule_ports_match(&r.sport, 8080));
    CU_ASSERT_FALSE(rule_ports_match(&r.sport, 80));
    CU_ASSERT_TRUE(in4(&r.dst, "8.8.8.8"));
    CU_ASSERT_EQUAL(r.dport.n, 1);
    CU_ASSERT_EQUAL(r.dport.r[0].lo, 80);
    rule_free(&r);

    /* lists may hold blanks; IPv6 in the header */
    PARSE_OK("alert udp [2001:db8::/32, 10.0.0.0/8] any -> any [53, 5353] (sid:2;)", &r);
    CU_ASSERT_EQUAL(r.src.n6, 1);
    CU_ASSERT_EQUAL(r.src.n4, 1);
    CU_ASSERT_EQUAL(r.dport.n, 2);
    rule_free(&r);
}

/* ---- content ---------------------------------------------------------------- */

static void test_content_decoding(void)
{
    struct rule r;
    PARSE_OK(R("content:\"A|42 43|D\"; content:!\"|4142|x|0d 0A|\"; "
               "content:\"q\\\"\\;\\\\\\:z\"; content: \"|FF|SMB\"; "), &r);
    CU_ASSERT_EQUAL(r.n_matches, 4);
    const struct rule_content *c = content_at(&r, 0);
    CU_ASSERT_EQUAL(c->len, 4);
    CU_ASSERT_EQUAL(memcmp(c->bytes, "ABCD", 4), 0);
    CU_ASSERT_EQUAL(c->flags, 0);
    c = content_at(&r, 1);
    CU_ASSERT_EQUAL(c->len, 5);
    CU_ASSERT_EQUAL(memcmp(c->bytes, "ABx\r\n", 5), 0);
    CU_ASSERT_EQUAL(c->flags, RULE_CONTENT_NEGATED);
    c = content_at(&r, 2);
    CU_ASSERT_EQUAL(c->len, 6);
    CU_ASSERT_EQUAL(memcmp(c->bytes, "q\";\\:z", 6), 0);
    c = content_at(&r, 3);
    CU_ASSERT_EQUAL(c->len, 4);
    CU_ASSERT_EQUAL(memcmp(c->bytes, "\xffSMB", 4), 0);
    /* unset positions are not variables */
    CU_ASSERT_EQUAL(c->offset.var, -1);
    CU_ASSERT_EQUAL(c->within.var, -1);
    CU_ASSERT_EQUAL(r.fast_pattern, 2);          /* the longest non-negated */
    rule_free(&r);

    /* a ';' or ':' inside a content needs its backslash, even in quotes */
    PARSE_OK(R("content:\"a\\;b\"; msg:\"semi\\; colon: ok\"; "), &r);
    CU_ASSERT_EQUAL(content_at(&r, 0)->len, 3);
    CU_ASSERT_STRING_EQUAL(r.msg, "semi; colon: ok");
    rule_free(&r);
}

static void test_content_modifiers(void)
{
    struct rule r;
    PARSE_OK(R("content:\"abc\"; nocase; offset:2; depth:10; rawbytes; "
               "content:\"de\"; distance:-3; within:8; "
               "content:\"GET\"; startswith; content:\"end\"; endswith; "
               "content:\"xyz\"; fast_pattern:only; "), &r);
    CU_ASSERT_EQUAL(r.n_matches, 5);
    const struct rule_content *c = content_at(&r, 0);
    CU_ASSERT_EQUAL(c->flags, RULE_CONTENT_NOCASE | RULE_CONTENT_OFFSET | RULE_CONTENT_DEPTH |
                              RULE_CONTENT_RAWBYTES);
    CU_ASSERT_EQUAL(c->offset.value, 2);
    CU_ASSERT_EQUAL(c->offset.var, -1);
    CU_ASSERT_EQUAL(c->depth.value, 10);
    c = content_at(&r, 1);
    CU_ASSERT_EQUAL(c->flags, RULE_CONTENT_DISTANCE | RULE_CONTENT_WITHIN);
    CU_ASSERT_EQUAL(c->distance.value, -3);
    CU_ASSERT_EQUAL(c->within.value, 8);
    CU_ASSERT_EQUAL(content_at(&r, 2)->flags, RULE_CONTENT_STARTSWITH);
    CU_ASSERT_EQUAL(content_at(&r, 3)->flags, RULE_CONTENT_ENDSWITH);
    c = content_at(&r, 4);
    CU_ASSERT_EQUAL(c->flags, RULE_CONTENT_FAST_PATTERN | RULE_CONTENT_FP_ONLY);
    /* an explicit fast_pattern wins over the longest content */
    CU_ASSERT_EQUAL(r.fast_pattern, 4);
    rule_free(&r);

    PARSE_OK(R("content:\"abcdef\"; fast_pattern:1,3; "), &r);
    CU_ASSERT_EQUAL(content_at(&r, 0)->flags, RULE_CONTENT_FAST_PATTERN | RULE_CONTENT_FP_CHOP);
    CU_ASSERT_EQUAL(content_at(&r, 0)->fp_offset, 1);
    CU_ASSERT_EQUAL(content_at(&r, 0)->fp_len, 3);
    rule_free(&r);

    /* modifiers apply to the last content even after a pcre */
    PARSE_OK(R("content:\"abc\"; pcre:\"/x/\"; nocase; "), &r);
    CU_ASSERT_EQUAL(content_at(&r, 0)->flags, RULE_CONTENT_NOCASE);
    rule_free(&r);
}

static void test_fast_pattern_choice(void)
{
    struct rule r;
    PARSE_OK(R("content:!\"longest-negated\"; content:\"abcd\"; content:\"wxyz\"; "
               "content:\"ab\"; "), &r);
    CU_ASSERT_EQUAL(r.fast_pattern, 1);          /* longest positive, first of ties */
    rule_free(&r);
    PARSE_OK(R("content:!\"only-negated\"; pcre:\"/x/\"; "), &r);
    CU_ASSERT_EQUAL(r.fast_pattern, -1);
    rule_free(&r);
    PARSE_OK(R("content:!\"neg\"; fast_pattern; content:\"longer one\"; "), &r);
    CU_ASSERT_EQUAL(r.fast_pattern, 0);          /* explicit, even when negated */
    rule_free(&r);
}

static void test_snort3_content(void)
{
    struct rule r;
    PARSE_OK(R("content:\"GET\",depth 3, offset 1,nocase; content:\"abcdef\",within 10,"
               "distance -2,fast_pattern,fast_pattern_offset 2,fast_pattern_length 3; "
               "content:!\"no\",nocase; "), &r);
    CU_ASSERT_EQUAL(r.n_matches, 3);
    const struct rule_content *c = content_at(&r, 0);
    CU_ASSERT_EQUAL(c->flags, RULE_CONTENT_DEPTH | RULE_CONTENT_OFFSET | RULE_CONTENT_NOCASE);
    CU_ASSERT_EQUAL(c->depth.value, 3);
    CU_ASSERT_EQUAL(c->offset.value, 1);
    c = content_at(&r, 1);
    CU_ASSERT_EQUAL(c->flags, RULE_CONTENT_WITHIN | RULE_CONTENT_DISTANCE |
                              RULE_CONTENT_FAST_PATTERN | RULE_CONTENT_FP_CHOP);
    CU_ASSERT_EQUAL(c->within.value, 10);
    CU_ASSERT_EQUAL(c->distance.value, -2);
    CU_ASSERT_EQUAL(c->fp_offset, 2);
    CU_ASSERT_EQUAL(c->fp_len, 3);
    CU_ASSERT_EQUAL(content_at(&r, 2)->flags, RULE_CONTENT_NEGATED | RULE_CONTENT_NOCASE);
    CU_ASSERT_EQUAL(r.fast_pattern, 1);
    rule_free(&r);

    /* fast_pattern_offset alone: the length runs to the end of the content */
    PARSE_OK(R("content:\"abcdef\",fast_pattern,fast_pattern_offset 2; "), &r);
    CU_ASSERT_EQUAL(content_at(&r, 0)->fp_offset, 2);
    CU_ASSERT_EQUAL(content_at(&r, 0)->fp_len, 4);
    rule_free(&r);
}

/* ---- pcre and the byte keywords ---------------------------------------------- */

static void test_pcre(void)
{
    struct rule r;
    PARSE_OK(R("content:\"a\"; pcre:\"/^x\\/y\\;?[a-z]{2}\\x3b/ismxAEGRO\"; "
               "pcre:!\"/no/\"; "), &r);
    CU_ASSERT_EQUAL(r.n_matches, 3);
    CU_ASSERT_EQUAL(r.matches[1].type, RULE_MATCH_PCRE);
    const struct rule_pcre *p = &r.matches[1].u.pcre;
    /* kept as written (\\; is a literal ';' in PCRE too) */
    CU_ASSERT_STRING_EQUAL(p->pattern, "^x\\/y\\;?[a-z]{2}\\x3b");
    CU_ASSERT_EQUAL(p->flags, RULE_PCRE_CASELESS | RULE_PCRE_DOTALL | RULE_PCRE_MULTILINE |
                              RULE_PCRE_EXTENDED | RULE_PCRE_ANCHORED |
                              RULE_PCRE_DOLLAR_ENDONLY | RULE_PCRE_UNGREEDY |
                              RULE_PCRE_RELATIVE | RULE_PCRE_NO_LIMITS);
    p = &r.matches[2].u.pcre;
    CU_ASSERT_STRING_EQUAL(p->pattern, "no");
    CU_ASSERT_EQUAL(p->flags, RULE_PCRE_NEGATED);
    rule_free(&r);
}

static void test_byte_test(void)
{
    struct rule r;
    PARSE_OK(R("content:\"x\"; byte_test:4,>,1000,-2,relative,little; "
               "byte_test:1,!&,0x80,0; byte_test: 2 , != , 7 , 3; "
               "byte_test:3,<=,123,0,string,dec; byte_test:1,=,0x9,0, bitmask 0xf8; "
               "byte_test:10,>=,010,5,string,oct,big; byte_test:1,!,5,0; "), &r);
    CU_ASSERT_EQUAL(r.n_matches, 8);
    const struct rule_byte_test *b = &r.matches[1].u.byte_test;
    CU_ASSERT_EQUAL(r.matches[1].type, RULE_MATCH_BYTE_TEST);
    CU_ASSERT_EQUAL(b->nbytes, 4);
    CU_ASSERT_EQUAL(b->op, RULE_BYTE_OP_GT);
    CU_ASSERT_FALSE(b->negate);
    CU_ASSERT_EQUAL(b->value.value, 1000);
    CU_ASSERT_EQUAL(b->value.var, -1);
    CU_ASSERT_EQUAL(b->offset.value, -2);
    CU_ASSERT_EQUAL(b->flags, RULE_BYTE_RELATIVE | RULE_BYTE_LITTLE);
    b = &r.matches[2].u.byte_test;
    CU_ASSERT_TRUE(b->negate);
    CU_ASSERT_EQUAL(b->op, RULE_BYTE_OP_AND);
    CU_ASSERT_EQUAL(b->value.value, 0x80);
    b = &r.matches[3].u.byte_test;
    CU_ASSERT_TRUE(b->negate);
    CU_ASSERT_EQUAL(b->op, RULE_BYTE_OP_EQ);
    CU_ASSERT_EQUAL(b->offset.value, 3);
    b = &r.matches[4].u.byte_test;
    CU_ASSERT_EQUAL(b->op, RULE_BYTE_OP_LE);
    CU_ASSERT_EQUAL(b->flags, RULE_BYTE_STRING);
    CU_ASSERT_EQUAL(b->base, 10);
    b = &r.matches[5].u.byte_test;
    CU_ASSERT_EQUAL(b->value.value, 9);
    CU_ASSERT_EQUAL(b->flags, RULE_BYTE_BITMASK);
    CU_ASSERT_EQUAL(b->bitmask, 0xf8);
    b = &r.matches[6].u.byte_test;
    CU_ASSERT_EQUAL(b->nbytes, 10);
    CU_ASSERT_EQUAL(b->op, RULE_BYTE_OP_GE);
    CU_ASSERT_EQUAL(b->value.value, 8);          /* 010 is octal, as Suricata reads it */
    CU_ASSERT_EQUAL(b->base, 8);
    b = &r.matches[7].u.byte_test;
    CU_ASSERT_TRUE(b->negate);                   /* "!" alone is != */
    CU_ASSERT_EQUAL(b->op, RULE_BYTE_OP_EQ);
    rule_free(&r);

    /* the verify set's offset beyond any packet is still a valid rule */
    PARSE_OK(R("byte_test:1,=,65,214748364; "), &r);
    CU_ASSERT_EQUAL(r.matches[0].u.byte_test.offset.value, 214748364);
    rule_free(&r);
}

static void test_byte_jump(void)
{
    struct rule r;
    PARSE_OK(R("content:\"x\"; byte_jump:4,12,relative,little,align,multiplier 2,"
               "post_offset -5,from_beginning; byte_jump:0,0,relative,string,from_end,"
               "post_offset -3; byte_jump:2,-1,string,hex,bitmask 0x0ff0; "), &r);
    const struct rule_byte_jump *j = &r.matches[1].u.byte_jump;
    CU_ASSERT_EQUAL(r.matches[1].type, RULE_MATCH_BYTE_JUMP);
    CU_ASSERT_EQUAL(j->nbytes.value, 4);
    CU_ASSERT_EQUAL(j->nbytes.var, -1);
    CU_ASSERT_EQUAL(j->offset.value, 12);
    CU_ASSERT_EQUAL(j->flags, RULE_BYTE_RELATIVE | RULE_BYTE_LITTLE | RULE_BYTE_ALIGN |
                              RULE_BYTE_FROM_BEGINNING);
    CU_ASSERT_EQUAL(j->multiplier, 2);
    CU_ASSERT_EQUAL(j->post_offset, -5);
    j = &r.matches[2].u.byte_jump;
    CU_ASSERT_EQUAL(j->nbytes.value, 0);         /* accepted, as by Suricata */
    CU_ASSERT_EQUAL(j->flags, RULE_BYTE_RELATIVE | RULE_BYTE_STRING | RULE_BYTE_FROM_END);
    CU_ASSERT_EQUAL(j->multiplier, 1);
    CU_ASSERT_EQUAL(j->post_offset, -3);
    j = &r.matches[3].u.byte_jump;
    CU_ASSERT_EQUAL(j->offset.value, -1);
    CU_ASSERT_EQUAL(j->base, 16);
    CU_ASSERT_EQUAL(j->bitmask, 0x0ff0);
    rule_free(&r);
}

static void test_byte_extract_and_isdataat(void)
{
    struct rule r;
    PARSE_OK(R("content:\"Auth\"; byte_extract:2,1,len,relative,little,multiplier 4,"
               "align 4; byte_extract:3,0,dec_v,string,dec; content:\"x\"; distance:len; "
               "within:dec_v; byte_test:1,=,len,dec_v; byte_jump:len,dec_v; "
               "isdataat:!len,relative; isdataat:20; byte_extract:1,0,len; "), &r);
    CU_ASSERT_EQUAL(r.n_byte_vars, 2);
    CU_ASSERT_STRING_EQUAL(r.byte_vars[0], "len");
    CU_ASSERT_STRING_EQUAL(r.byte_vars[1], "dec_v");
    const struct rule_byte_extract *e = &r.matches[1].u.byte_extract;
    CU_ASSERT_EQUAL(r.matches[1].type, RULE_MATCH_BYTE_EXTRACT);
    CU_ASSERT_EQUAL(e->nbytes, 2);
    CU_ASSERT_EQUAL(e->offset, 1);
    CU_ASSERT_EQUAL(e->var, 0);
    CU_ASSERT_EQUAL(e->flags, RULE_BYTE_RELATIVE | RULE_BYTE_LITTLE);
    CU_ASSERT_EQUAL(e->multiplier, 4);
    CU_ASSERT_EQUAL(e->align, 4);
    e = &r.matches[2].u.byte_extract;
    CU_ASSERT_EQUAL(e->var, 1);
    CU_ASSERT_EQUAL(e->flags, RULE_BYTE_STRING);
    CU_ASSERT_EQUAL(e->base, 10);
    const struct rule_content *c = content_at(&r, 3);
    CU_ASSERT_EQUAL(c->distance.var, 0);
    CU_ASSERT_EQUAL(c->within.var, 1);
    CU_ASSERT_EQUAL(r.matches[4].u.byte_test.value.var, 0);
    CU_ASSERT_EQUAL(r.matches[4].u.byte_test.offset.var, 1);
    CU_ASSERT_EQUAL(r.matches[5].u.byte_jump.nbytes.var, 0);
    CU_ASSERT_EQUAL(r.matches[5].u.byte_jump.offset.var, 1);
    CU_ASSERT_EQUAL(r.matches[6].type, RULE_MATCH_ISDATAAT);
    const struct rule_isdataat *d = &r.matches[6].u.isdataat;
    CU_ASSERT_TRUE(d->negated && d->relative);
    CU_ASSERT_EQUAL(d->size.var, 0);
    d = &r.matches[7].u.isdataat;
    CU_ASSERT_FALSE(d->negated || d->relative);
    CU_ASSERT_EQUAL(d->size.value, 20);
    CU_ASSERT_EQUAL(d->size.var, -1);
    /* extracting into a name again reuses it (Snort 3 does this) */
    CU_ASSERT_EQUAL(r.matches[8].u.byte_extract.var, 0);
    rule_free(&r);
}

/* ---- the other options -------------------------------------------------------- */

static void test_flow(void)
{
    struct rule r;
    PARSE_OK(R("flow:established,to_server; "), &r);
    CU_ASSERT_EQUAL(r.flow, RULE_FLOW_ESTABLISHED | RULE_FLOW_TO_SERVER);
    rule_free(&r);
    PARSE_OK(R("flow: from_server , not_established, no_stream; "), &r);
    CU_ASSERT_EQUAL(r.flow, RULE_FLOW_TO_CLIENT | RULE_FLOW_NOT_ESTABLISHED |
                            RULE_FLOW_NO_STREAM);
    rule_free(&r);
    PARSE_OK(R("flow:stateless,from_client,only_stream; "), &r);
    CU_ASSERT_EQUAL(r.flow, RULE_FLOW_STATELESS | RULE_FLOW_TO_SERVER | RULE_FLOW_ONLY_STREAM);
    rule_free(&r);
}

static void test_flowbits(void)
{
    struct rule r;
    PARSE_OK(R("flowbits:set,ET.Evil; flowbits:isset,a|b; flowbits:isnotset,c; "
               "flowbits:unset,d&e; flowbits:toggle,f; flowbits:noalert; "), &r);
    CU_ASSERT_EQUAL(r.n_flowbits, 5);
    CU_ASSERT_TRUE(r.noalert);
    CU_ASSERT_EQUAL(r.flowbits[0].cmd, RULE_FLOWBIT_SET);
    CU_ASSERT_EQUAL(r.flowbits[0].n_names, 1);
    CU_ASSERT_STRING_EQUAL(r.flowbits[0].names[0], "ET.Evil");
    CU_ASSERT_EQUAL(r.flowbits[1].cmd, RULE_FLOWBIT_ISSET);
    CU_ASSERT_TRUE(r.flowbits[1].any_of);
    CU_ASSERT_EQUAL(r.flowbits[1].n_names, 2);
    CU_ASSERT_STRING_EQUAL(r.flowbits[1].names[1], "b");
    CU_ASSERT_EQUAL(r.flowbits[2].cmd, RULE_FLOWBIT_ISNOTSET);
    CU_ASSERT_EQUAL(r.flowbits[3].cmd, RULE_FLOWBIT_UNSET);
    CU_ASSERT_FALSE(r.flowbits[3].any_of);
    CU_ASSERT_EQUAL(r.flowbits[3].n_names, 2);
    CU_ASSERT_EQUAL(r.flowbits[4].cmd, RULE_FLOWBIT_TOGGLE);
    rule_free(&r);
    PARSE_OK(R("noalert; "), &r);
    CU_ASSERT_TRUE(r.noalert);
    rule_free(&r);
}

static void test_numeric_options(void)
{
    static const struct {
        const char *text;
        enum rule_cmp cmp;
        uint64_t a, b;
    } cases[] = {
        { "dsize:10;", RULE_CMP_EQ, 10, 0 },
        { "dsize:<30;", RULE_CMP_LT, 30, 0 },
        { "dsize:>2000;", RULE_CMP_GT, 2000, 0 },
        { "dsize:9<>18;", RULE_CMP_RANGE, 9, 18 },
        { "dsize: 9 <> 18 ;", RULE_CMP_RANGE, 9, 18 },
        { "dsize:9-18;", RULE_CMP_RANGE, 9, 18 },
        { "dsize:!9<>18;", RULE_CMP_NOT_RANGE, 9, 18 },
        { "dsize:!5;", RULE_CMP_NE, 5, 0 },
        { "dsize:!=5;", RULE_CMP_NE, 5, 0 },
        { "dsize:<=5;", RULE_CMP_LE, 5, 0 },
        { "dsize:>= 5;", RULE_CMP_GE, 5, 0 },
        { "dsize:=0x10;", RULE_CMP_EQ, 16, 0 },
        { "dsize:&0xf0=0x10;", RULE_CMP_MASK, 0xf0, 0x10 },
        { "dsize:&0xf0!=0x10;", RULE_CMP_NOT_MASK, 0xf0, 0x10 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[160];
        struct rule r;
        snprintf(text, sizeof(text), "alert tcp any any -> any any (%s sid:1;)", cases[i].text);
        PARSE_OK(text, &r);
        CU_ASSERT_TRUE(r.has_dsize);
        CU_ASSERT_EQUAL(r.dsize.cmp, cases[i].cmp);
        CU_ASSERT_EQUAL(r.dsize.a, cases[i].a);
        CU_ASSERT_EQUAL(r.dsize.b, cases[i].b);
        rule_free(&r);
    }

    struct rule r;
    PARSE_OK("alert icmp any any -> any any (itype:8; icode:>0; ttl:<=64; sid:1;)", &r);
    CU_ASSERT_TRUE(r.has_itype && r.has_icode && r.has_ttl);
    CU_ASSERT_FALSE(r.has_dsize || r.has_ip_proto || r.has_flags);
    CU_ASSERT_EQUAL(r.itype.cmp, RULE_CMP_EQ);
    CU_ASSERT_EQUAL(r.itype.a, 8);
    CU_ASSERT_EQUAL(r.icode.cmp, RULE_CMP_GT);
    CU_ASSERT_EQUAL(r.ttl.cmp, RULE_CMP_LE);
    CU_ASSERT_EQUAL(r.ttl.a, 64);
    rule_free(&r);
    PARSE_OK("alert ip any any -> any any (ip_proto:gre; sid:1;)", &r);
    CU_ASSERT_EQUAL(r.ip_proto.cmp, RULE_CMP_EQ);
    CU_ASSERT_EQUAL(r.ip_proto.a, 47);
    rule_free(&r);
    PARSE_OK("alert ip any any -> any any (ip_proto:!TCP; sid:1;)", &r);
    CU_ASSERT_EQUAL(r.ip_proto.cmp, RULE_CMP_NE);
    CU_ASSERT_EQUAL(r.ip_proto.a, 6);
    rule_free(&r);
    PARSE_OK("alert ip any any -> any any (ip_proto:<50; sid:1;)", &r);
    CU_ASSERT_EQUAL(r.ip_proto.cmp, RULE_CMP_LT);
    CU_ASSERT_EQUAL(r.ip_proto.a, 50);
    rule_free(&r);
}

static void test_flags(void)
{
    static const struct {
        const char *text;
        enum rule_flags_mode mode;
        uint8_t flags, ignore;
    } cases[] = {
        { "flags:S;", RULE_FLAGS_EXACT, RULE_TCP_SYN, 0 },
        { "flags:SA;", RULE_FLAGS_EXACT, RULE_TCP_SYN | RULE_TCP_ACK, 0 },
        { "flags:A+;", RULE_FLAGS_PLUS, RULE_TCP_ACK, 0 },
        { "flags:+A;", RULE_FLAGS_PLUS, RULE_TCP_ACK, 0 },
        { "flags:FRS*;", RULE_FLAGS_ANY, RULE_TCP_FIN | RULE_TCP_RST | RULE_TCP_SYN, 0 },
        { "flags:!R;", RULE_FLAGS_NOT, RULE_TCP_RST, 0 },
        { "flags: S,12;", RULE_FLAGS_EXACT, RULE_TCP_SYN, RULE_TCP_CWR | RULE_TCP_ECE },
        { "flags:12FSU;", RULE_FLAGS_EXACT,
          RULE_TCP_CWR | RULE_TCP_ECE | RULE_TCP_FIN | RULE_TCP_SYN | RULE_TCP_URG, 0 },
        { "flags:PA,CE;", RULE_FLAGS_EXACT, RULE_TCP_PSH | RULE_TCP_ACK,
          RULE_TCP_CWR | RULE_TCP_ECE },
        { "flags:0;", RULE_FLAGS_EXACT, 0, 0 },
        { "tcp.flags:R,A;", RULE_FLAGS_EXACT, RULE_TCP_RST, RULE_TCP_ACK },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[160];
        struct rule r;
        snprintf(text, sizeof(text), "alert tcp any any -> any any (%s sid:1;)", cases[i].text);
        PARSE_OK(text, &r);
        CU_ASSERT_TRUE(r.has_flags);
        CU_ASSERT_EQUAL(r.flags.mode, cases[i].mode);
        CU_ASSERT_EQUAL(r.flags.flags, cases[i].flags);
        CU_ASSERT_EQUAL(r.flags.ignore, cases[i].ignore);
        rule_free(&r);
    }
}

static void test_threshold(void)
{
    struct rule r;
    PARSE_OK(R("threshold: type limit, track by_src, seconds 60, count 1; "), &r);
    CU_ASSERT_TRUE(r.threshold.present);
    CU_ASSERT_FALSE(r.detection_filter.present);
    CU_ASSERT_EQUAL(r.threshold.type, RULE_THRESHOLD_LIMIT);
    CU_ASSERT_EQUAL(r.threshold.track, RULE_TRACK_BY_SRC);
    CU_ASSERT_EQUAL(r.threshold.count, 1);
    CU_ASSERT_EQUAL(r.threshold.seconds, 60);
    rule_free(&r);
    PARSE_OK(R("threshold:type both,count 5,seconds 600,track by_dst; "), &r);
    CU_ASSERT_EQUAL(r.threshold.type, RULE_THRESHOLD_BOTH);
    CU_ASSERT_EQUAL(r.threshold.track, RULE_TRACK_BY_DST);
    CU_ASSERT_EQUAL(r.threshold.count, 5);
    rule_free(&r);
    PARSE_OK(R("threshold:type threshold, track by_rule, count 10, seconds 1; "), &r);
    CU_ASSERT_EQUAL(r.threshold.type, RULE_THRESHOLD_THRESHOLD);
    CU_ASSERT_EQUAL(r.threshold.track, RULE_TRACK_BY_RULE);
    rule_free(&r);
    PARSE_OK(R("threshold:type limit, track by_both, count 1, seconds 1; "), &r);
    CU_ASSERT_EQUAL(r.threshold.track, RULE_TRACK_BY_BOTH);
    rule_free(&r);
    PARSE_OK(R("detection_filter:track by_flow, count 7, seconds 3600; "), &r);
    CU_ASSERT_FALSE(r.threshold.present);
    CU_ASSERT_TRUE(r.detection_filter.present);
    CU_ASSERT_EQUAL(r.detection_filter.track, RULE_TRACK_BY_FLOW);
    CU_ASSERT_EQUAL(r.detection_filter.count, 7);
    CU_ASSERT_EQUAL(r.detection_filter.seconds, 3600);
    rule_free(&r);
}

static void test_identity_and_meta(void)
{
    struct rule r;
    PARSE_OK("alert tcp any any -> any any (msg:\"ET TEST \\\"quoted\\\" \\\\ back\"; "
             "gid:3; sid:2000001; rev:12; classtype:trojan-activity; "
             "reference:url, example.com/a,b; reference:cve,2021-44228; "
             "metadata: created_at 2020_01_01, former_category MALWARE ,signature_severity Major; "
             "metadata:policy balanced-ips drop; target:dest_ip; service:http,ftp; "
             "rem:\"a remark\"; pkt_data; content:\"x\";)", &r);
    CU_ASSERT_STRING_EQUAL(r.msg, "ET TEST \"quoted\" \\ back");
    CU_ASSERT_EQUAL(r.gid, 3);
    CU_ASSERT_EQUAL(r.sid, 2000001);
    CU_ASSERT_EQUAL(r.rev, 12);
    CU_ASSERT_STRING_EQUAL(r.classtype, "trojan-activity");
    CU_ASSERT_STRING_EQUAL(r.category, "A Network Trojan was detected");
    CU_ASSERT_EQUAL(r.priority, 1);
    CU_ASSERT_FALSE(r.priority_explicit);
    CU_ASSERT_EQUAL(r.n_references, 2);
    CU_ASSERT_STRING_EQUAL(r.references[0], "url,example.com/a,b");
    CU_ASSERT_STRING_EQUAL(r.references[1], "cve,2021-44228");
    CU_ASSERT_EQUAL(r.n_metadata, 4);
    CU_ASSERT_STRING_EQUAL(r.metadata[0], "created_at 2020_01_01");
    CU_ASSERT_STRING_EQUAL(r.metadata[1], "former_category MALWARE");
    CU_ASSERT_STRING_EQUAL(r.metadata[3], "policy balanced-ips drop");
    CU_ASSERT_EQUAL(r.target, RULE_TARGET_DST);
    CU_ASSERT_STRING_EQUAL(r.service, "http,ftp");
    rule_free(&r);

    /* explicit priority wins in either order; classtype names ignore case */
    PARSE_OK(R("priority:4; classtype:Trojan-Activity; "), &r);
    CU_ASSERT_EQUAL(r.priority, 4);
    CU_ASSERT_TRUE(r.priority_explicit);
    rule_free(&r);
    PARSE_OK(R("classtype:misc-activity; priority:1; "), &r);
    CU_ASSERT_EQUAL(r.priority, 1);
    rule_free(&r);

    /* without a classification table any classtype is taken, priority 3 */
    char why[256];
    CU_ASSERT_EQUAL(rule_parse_line(R("classtype:whatever; "), NULL, NULL, &r, why,
                                    sizeof(why)), RULE_PARSE_OK);
    CU_ASSERT_EQUAL(r.priority, 3);
    CU_ASSERT_PTR_NULL(r.category);
    rule_free(&r);
}

/* ---- skips and errors ------------------------------------------------------ */

static void test_skip_reasons(void)
{
    expect_skip(R("http.uri; content:\"x\"; "), "http.uri");
    expect_skip(R("HTTP.Host; content:\"x\"; "), "http.host");
    expect_skip(R("content:\"x\"; http_uri; "), "http_uri");
    expect_skip(R("uricontent:\"x\"; "), "uricontent");
    expect_skip(R("tls.sni; content:\"x\"; "), "tls.sni");
    expect_skip(R("dns.query; content:\"x\"; "), "dns.query");
    expect_skip(R("file_data; content:\"x\"; "), "file_data");
    expect_skip(R("pcre:\"/x/U\"; "), "pcre:U");
    expect_skip(R("pcre:\"/x/smiB\"; "), "pcre:B");
    expect_skip(R("content:\"x\"; byte_test:4,>,1,0,relative,dce; "), "byte_test:dce");
    expect_skip(R("byte_jump:4,0,dce; "), "byte_jump:dce");
    expect_skip(R("byte_extract:4,0,v,dce; "), "byte_extract:dce");
    expect_skip(R("tcp.hdr; content:\"x\"; "), "tcp.hdr");
    expect_skip(R("lua:script.lua; "), "lua");
    expect_skip(R("dataset:isset,bad_hosts; "), "dataset");
    expect_skip(R("iprep:src,BadHosts,>,50; "), "iprep");
    expect_skip(R("xbits:set,x,track ip_src; "), "xbits");
    expect_skip(R("app-layer-event:http.host_header_ambiguous; "), "app-layer-event");
    expect_skip(R("threshold:type backoff, track by_flow, count 1, multiplier 10; "),
                "threshold:backoff");
    /* after the first skip only sid/gid/rev/msg are read */
    expect_skip(R("http.uri; content:\"|4|\"; "), "http.uri");
    /* a malformed option before it still fails the rule */
    expect_error(R("content:\"|4|\"; http.uri; "), "content: odd number of hex digits in |...|");
}

/* Every error message, each on its own line of one file. */
static const struct {
    const char *rule;
    const char *msg;
} bad_rules[] = {
    { "alert tcp any any -> any any", "no '(' before the options" },
    { "alert tcp any any -> any any (sid:1;", "options are not closed by ')'" },
    { "alert tcp any any -> any any (sid:1;) x", "unexpected text after the closing ')'" },
    { "alert tcp any any any any (sid:1;)", "header must be 'action protocol src_addr "
      "src_port -> dst_addr dst_port' (6 fields)" },
    { "log tcp any any -> any any (sid:1;)", "unknown action 'log'" },
    { "alert foo any any -> any any (sid:1;)", "unknown protocol 'foo'" },
    { "alert tcp any any <- any any (sid:1;)", "direction must be '->' or '<>', not '<-'" },
    { "alert tcp 1.2.3.256 any -> any any (sid:1;)",
      "source address: invalid address '1.2.3.256'" },
    { "alert tcp any 70000 -> any any (sid:1;)", "source port: invalid port '70000'" },
    { "alert tcp any any -> $NOPE any (sid:1;)",
      "destination address: undefined variable $NOPE" },
    { "alert tcp any any -> any $HOME_NET (sid:1;)",
      "destination port: $HOME_NET is an address variable, used as port" },
    { "alert tcp any 100:50 -> any any (sid:1;)",
      "source port: port range '100:50' is reversed" },
    { "alert tcp !any any -> any any (sid:1;)",
      "source address: address group '!any' matches nothing" },
    { "alert tcp [1.2.3.4,!1.2.3.4] any -> any any (sid:1;)",
      "source address: address group '[1.2.3.4,!1.2.3.4]' matches nothing" },
    { "alert tcp [] any -> any any (sid:1;)", "source address: empty address list" },
    { "alert tcp [1.2.3.4]] any -> any any (sid:1;)",
      "source address: unexpected ']' after address group" },
    { "alert tcp 10.0.0.0/33 any -> any any (sid:1;)",
      "source address: invalid address '10.0.0.0/33'" },
    { "alert tcp 1.2.3.9-1.2.3.4 any -> any any (sid:1;)",
      "source address: address range '1.2.3.9-1.2.3.4' is reversed" },
    { "alert tcp any any -> any any (msg:\"x\"; sid:1)", "option 'sid' is not terminated by ';'" },
    { R("foo bar; "), "malformed option 'foo bar'" },
    { "alert tcp any any -> any any (sid:0;)", "sid: '0' is not a number from 1 to 4294967295" },
    { R("sid:2; "), "sid: given more than once" },
    { "alert tcp any any -> any any (sid:abc;)", "sid: 'abc' is not a number from 1 to 4294967295" },
    { R("msg; "), "msg: needs a value" },
    { R("content:\"a\"; nocase:1; "), "nocase: takes no value" },
    { R("classtype:nope; "), "classtype: unknown classtype 'nope'" },
    { R("priority:0; "), "priority: '0' is not a number from 1 to 255" },
    { R("reference:cve; "), "reference: expected 'type,value'" },
    { R("target:both; "), "target: expected src_ip or dest_ip, got 'both'" },
    { R("content:abc; "), "content: expected a quoted string" },
    { R("content:\"abc; "), "content: no closing quote" },
    { R("content:\"|4|\"; "), "content: odd number of hex digits in |...|" },
    { R("content:\"|4G|\"; "), "content: invalid hex character 'G' in |...|" },
    { R("content:\"|41\"; "), "content: unterminated |hex| segment" },
    { R("content:\"a\\x\"; "), "content: invalid escape '\\x' (only \\\" \\; \\: \\\\)" },
    { R("content:\"\"; "), "content: empty content" },
    { R("content:\"a\"b\"; "), "content: unexpected 'b\"' after the string" },
    { R("nocase; "), "nocase: needs a preceding content" },
    { R("content:\"abc\"; depth:2; "), "content: #1: depth 2 is less than the content length 3" },
    { R("content:\"abc\"; within:2; "), "content: #1: within 2 is less than the content length 3" },
    { R("content:\"a\"; depth:4; distance:1; "),
      "distance: offset/depth and distance/within cannot be mixed on one content" },
    { R("content:\"a\"; offset:1; offset:2; "), "offset: given twice for the same content" },
    { R("content:\"a\"; offset:-1; "), "offset: '-1' is not a number from 0 to 1048576" },
    { R("content:\"a\"; distance:x; "), "distance: unknown byte_extract variable 'x'" },
    { R("content:\"a\"; nocase; nocase; "), "nocase: given twice for the same content" },
    { R("content:\"a\"; startswith; offset:1; "), "content: #1: startswith cannot be combined "
      "with offset, depth, distance or within" },
    { R("content:\"a\"; fast_pattern; content:\"b\"; fast_pattern; "),
      "fast_pattern: given for more than one content" },
    { R("content:!\"a\"; fast_pattern:only; "), "content: #1: fast_pattern:only cannot be used "
      "on a negated or positioned content" },
    { R("content:\"abc\"; fast_pattern:2,5; "),
      "content: #1: fast_pattern 2,5 goes past the content's 3 bytes" },
    { R("content:\"abc\"; fast_pattern:x; "), "fast_pattern: expected 'only' or 'offset,length'" },
    { R("content:\"abc\"; fast_pattern:only; content:\"d\"; distance:0; "),
      "match #2 is relative to a fast_pattern:only content" },
    { R("content:\"a\",depth; "), "content: unknown or incomplete modifier 'depth'" },
    { R("content:\"a\",bogus 3; "), "content: unknown modifier 'bogus'" },
    { R("content:\"a\",fast_pattern_offset 1; "),
      "content: fast_pattern_offset needs fast_pattern before it" },
    { R("pcre:\"abc\"; "), "pcre: expected \"/regex/flags\"" },
    { R("pcre:/abc/; "), "pcre: expected a quoted \"/regex/flags\"" },
    { R("pcre:\"/abc/q\"; "), "pcre: unknown modifier 'q'" },
    { R("pcre:\"//\"; "), "pcre: empty regex" },
    { R("byte_test:4,>,1; "), "byte_test: expected 'nbytes, operator, value, offset[, options]'" },
    { R("byte_test:9,>,1,0; "), "byte_test: number of bytes must be from 1 to 8 without 'string'" },
    { R("byte_test:24,>,1,0,string; "), "byte_test: number of bytes must be from 1 to 23" },
    { R("byte_test:4,~,1,0; "), "byte_test: invalid operator '~'" },
    { R("byte_test:4,>,1,0,hex; "), "byte_test: hex/dec/oct need 'string'" },
    { R("byte_test:4,>,1,0,sideways; "), "byte_test: unknown option 'sideways'" },
    { R("byte_test:4,>,1,0,bitmask; "), "byte_test: 'bitmask' needs a value" },
    { R("byte_test:4,>,1,0,relative 2; "), "byte_test: 'relative' takes no value" },
    { R("byte_jump:4; "), "byte_jump: expected 'nbytes, offset[, options]'" },
    { R("byte_jump:4,0,from_beginning,from_end; "),
      "byte_jump: from_beginning and from_end cannot be combined" },
    { R("byte_jump:4,0,multiplier 0; "), "byte_jump: multiplier must be from 1 to 65535" },
    { R("byte_jump:4,70000; "), "byte_jump: '70000' is not a number from -65535 to 65535" },
    { R("byte_jump:4,0,align 2; "), "byte_jump: align takes no value (it rounds up to 4)" },
    { R("byte_extract:4,0,1x; "), "byte_extract: invalid variable name '1x'" },
    { R("byte_extract:4,0,v,align 3; "), "byte_extract: align must be 2 or 4" },
    { R("isdataat:!x; "), "isdataat: unknown byte_extract variable 'x'" },
    { R("isdataat:5,backwards; "), "isdataat: unknown option 'backwards'" },
    { R("flow:to_server,to_client; "), "flow: to_server and to_client cannot be combined" },
    { R("flow:established,stateless; "),
      "flow: established cannot be combined with not_established or stateless" },
    { R("flow:sideways; "), "flow: unknown option 'sideways'" },
    { R("flowbits:set,a|b; "), "flowbits: '|' (any of) only works with isset and isnotset" },
    { R("flowbits:set; "), "flowbits: 'set' needs a name" },
    { R("flowbits:flip,a; "), "flowbits: unknown command 'flip'" },
    { R("flowbits:isset,a|b&c; "), "flowbits: names cannot mix '|' and '&'" },
    { R("flowbits:noalert,a; "), "flowbits: noalert takes no name" },
    { R("flowbits:set,a,group; "),
      "flowbits: expected 'command,name' (flowbit groups are not supported)" },
    { R("dsize:10<>5; "), "dsize: range '10<>5' matches nothing (bounds are exclusive)" },
    { R("dsize:70000; "), "dsize: '70000' is not a number from 0 to 65535" },
    { R("dsize:<0; "), "dsize: test is always true or always false" },
    { R("dsize:1; dsize:2; "), "dsize: given more than once" },
    { R("itype:256; "), "itype: '256' is not a number from 0 to 255" },
    { R("ip_proto:nosuch; "), "ip_proto: unknown protocol 'nosuch'" },
    { R("flags:SX; "), "flags: invalid flag 'X'" },
    { R("flags:+*S; "), "flags: more than one of + * !" },
    { R("flags:0S; "), "flags: 0 (no flags) cannot be combined with other flags" },
    { R("threshold:type limit, track by_src, count 1; "),
      "threshold: needs type, track, count and seconds" },
    { R("threshold:type sometimes, track by_src, count 1, seconds 1; "),
      "threshold: unknown type 'sometimes'" },
    { R("threshold:type limit, track by_nobody, count 1, seconds 1; "),
      "threshold: unknown track 'by_nobody'" },
    { R("detection_filter:track by_src, count 0, seconds 1; "),
      "detection_filter: '0' is not a number from 1 to 4294967295" },
    { R("threshold:type limit, track by_src, count 1, seconds 1; "
        "detection_filter:track by_src, count 1, seconds 1; "),
      "detection_filter: only one threshold or detection_filter per rule" },
    { R("detection_filter:track by_src, count 1, seconds 1, type limit; "),
      "detection_filter: unknown field 'type'" },
    { "alert tcp any any -> any any (http.uri; content:\"x\";)", "rule has no sid" },
};

static void test_error_messages(void)
{
    size_t n = sizeof(bad_rules) / sizeof(bad_rules[0]);
    CU_ASSERT_FATAL(n <= RULESET_ERRORS_KEPT);
    size_t cap = 64 * 1024, used = 0;
    char *text = malloc(cap);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    for (size_t i = 0; i < n; i++)
        used += (size_t)snprintf(text + used, cap - used, "%s\n", bad_rules[i].rule);
    CU_ASSERT_FATAL(used < cap);

    struct rule_vars *v = rule_vars_new();
    struct classifications c;
    struct ruleset rs;
    char err[256];
    small_classifications(&c);
    ruleset_init(&rs);
    CU_ASSERT_EQUAL(ruleset_load_string(&rs, "bad.rules", text, v, &c, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(rs.loaded, 0);
    CU_ASSERT_EQUAL(rs.skipped, 0);
    CU_ASSERT_EQUAL(rs.failed, n);
    CU_ASSERT_EQUAL(rs.n_errors, n);
    for (size_t i = 0; i < n && i < rs.n_errors; i++) {
        char want[600];
        snprintf(want, sizeof(want), "bad.rules:%zu: %s", i + 1, bad_rules[i].msg);
        if (strcmp(rs.errors[i], want) != 0)
            fprintf(stderr, "\n    got  %s\n    want %s\n", rs.errors[i], want);
        CU_ASSERT_STRING_EQUAL(rs.errors[i], want);
        /* and the same message from rule_parse_line alone */
        expect_error(bad_rules[i].rule, bad_rules[i].msg);
    }
    ruleset_free(&rs);
    classifications_free(&c);
    rule_vars_free(v);
    free(text);
}

/* ---- files ------------------------------------------------------------------ */

static void test_file_format(void)
{
    static const char text[] =
        "# a comment\n"                                                     /* 1 */
        "\n"                                                                /* 2 */
        "alert tcp any any -> any any (msg:\"joined\"; \\\n"                /* 3 */
        "    content:\"x\"; \\\n"                                           /* 4 */
        "sid:1;)\n"                                                         /* 5 */
        "#alert tcp any any -> any any (sid:2;)\n"                          /* 6 */
        "  # alert udp any any -> any any (sid:3;)\n"                       /* 7 */
        "## drop ip any any -> any any (sid:3;)\n"                          /* 8 */
        "alert udp any any -> any any (sid:4;)\r\n"                         /* 9 */
        "   \t\n"                                                           /* 10 */
        "alert tcp any any -> any any (msg:\"b\"; \\\n"                     /* 11 */
        "  content:\"|4|\"; sid:6;)\n"                                      /* 12 */
        "drop tcp any any -> any any (msg:\"dup\"; sid:1;)\n"               /* 13 */
        "alert tcp any any -> any any (http.uri; content:\"a\"; sid:7;)\n"  /* 14 */
        "pass tcp any any -> any any (sid:8;)\n"                            /* 15 */
        "reject tcp any any -> any any (sid:9;)\n"                          /* 16 */
        "drop tcp any any -> any any (sid:1; gid:2;)\n"                     /* 17 */
        "alert tcp any any -> any any (sid:10;) \\\n";                      /* 18, EOF */
    struct ruleset rs;
    char err[256];
    ruleset_init(&rs);
    CU_ASSERT_EQUAL(ruleset_load_string(&rs, "t.rules", text, NULL, NULL, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(rs.loaded, 6);
    CU_ASSERT_EQUAL(rs.skipped, 1);
    CU_ASSERT_EQUAL(rs.failed, 2);
    CU_ASSERT_EQUAL(rs.commented, 3);
    CU_ASSERT_EQUAL(rs.declared_drop, 1);
    CU_ASSERT_EQUAL(rs.declared_reject, 1);
    CU_ASSERT_EQUAL(rs.pass, 1);
    CU_ASSERT_EQUAL(rs.n_files, 1);
    CU_ASSERT_STRING_EQUAL(rs.files[0].path, "t.rules");
    CU_ASSERT_EQUAL(rs.files[0].loaded, 6);
    CU_ASSERT_EQUAL(rs.files[0].failed, 2);
    CU_ASSERT_EQUAL_FATAL(rs.n_rules, 6);
    CU_ASSERT_STRING_EQUAL(rs.rules[0].text, "alert tcp any any -> any any (msg:\"joined\"; "
                           "    content:\"x\"; sid:1;)");
    CU_ASSERT_EQUAL(rs.rules[0].line, 3);
    CU_ASSERT_STRING_EQUAL(rs.rules[0].file, "t.rules");
    CU_ASSERT_EQUAL(rs.rules[1].sid, 4);
    CU_ASSERT_EQUAL(rs.rules[1].line, 9);
    CU_ASSERT_EQUAL(rs.rules[4].gid, 2);         /* 2:1 is not 1:1 */
    CU_ASSERT_EQUAL(rs.rules[5].sid, 10);        /* a continuation at EOF ends the rule */
    CU_ASSERT_EQUAL(rs.rules[5].line, 18);
    CU_ASSERT_EQUAL_FATAL(rs.n_errors, 2);
    CU_ASSERT_STRING_EQUAL(rs.errors[0], "t.rules:11: content: odd number of hex digits in |...|");
    CU_ASSERT_STRING_EQUAL(rs.errors[1], "t.rules:13: duplicate gid:sid 1:1 (first at t.rules:3)");
    CU_ASSERT_PTR_EQUAL(ruleset_find(&rs, 1, 4), &rs.rules[1]);
    CU_ASSERT_PTR_EQUAL(ruleset_find(&rs, 2, 1), &rs.rules[4]);
    CU_ASSERT_PTR_NULL(ruleset_find(&rs, 1, 7));

    /* an empty file and a missing one */
    CU_ASSERT_EQUAL(ruleset_load_string(&rs, "empty.rules", "", NULL, NULL, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(rs.n_files, 2);
    CU_ASSERT_EQUAL(ruleset_load_file(&rs, "/nonexistent/x.rules", NULL, NULL, err,
                                      sizeof(err)), -1);
    CU_ASSERT_STRING_EQUAL(err, "/nonexistent/x.rules: No such file or directory");
    ruleset_free(&rs);
}

static void test_summary(void)
{
    static const char text[] =
        "alert tcp any any -> any any (http.uri; content:\"a\"; sid:1;)\n"
        "alert tcp any any -> any any (http.uri; content:\"a\"; sid:2;)\n"
        "alert tcp any any -> any any (tls.sni; content:\"a\"; sid:3;)\n"
        "alert tcp any any -> any any (dns.query; content:\"a\"; sid:4;)\n"
        "alert tcp any any -> any any (dns.query; content:\"a\"; sid:5;)\n"
        "alert tcp any any -> any any (dns.query; content:\"a\"; sid:6;)\n"
        "drop tcp any any -> any any (content:\"a\"; sid:7;)\n"
        "alert tcp any any -> any any (content:\"|4|\"; sid:8;)\n"
        "alert tcp any any -> any any (content:\"a\";)\n";
    struct ruleset rs;
    char err[256];
    ruleset_init(&rs);
    CU_ASSERT_EQUAL(ruleset_load_string(&rs, "s.rules", text, NULL, NULL, err, sizeof(err)), 0);
    struct ruleset_skip top[4];
    CU_ASSERT_EQUAL(ruleset_top_skips(&rs, top, 4), 3);
    CU_ASSERT_STRING_EQUAL(top[0].key, "dns.query");
    CU_ASSERT_EQUAL(top[0].count, 3);
    CU_ASSERT_STRING_EQUAL(top[1].key, "http.uri");
    CU_ASSERT_STRING_EQUAL(top[2].key, "tls.sni");
    CU_ASSERT_EQUAL(ruleset_top_skips(&rs, top, 1), 1);

    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    ruleset_print_summary(&rs, f, 2, 1);
    fclose(f);
    CU_ASSERT_STRING_EQUAL(buf,
        "rules: 1 loaded, 6 skipped, 2 failed (1 file, 0 commented-out rules ignored)\n"
        "  1 drop and 0 reject rules only alert: the sensor is passive\n"
        "  skipped, by keyword: dns.query 3, http.uri 2, ... (1 more keywords)\n"
        "  s.rules:8: content: odd number of hex digits in |...|\n"
        "  ... and 1 more failed rule\n");
    free(buf);
    ruleset_free(&rs);
}

static void test_limits(void)
{
    struct rule r;
    char why[256];
    /* a 64 KiB content written as hex: ~192 KiB of rule text */
    size_t n = 65536, cap = n * 3 + 256;
    char *text = malloc(cap);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    size_t used = (size_t)snprintf(text, cap, "alert tcp any any -> any any (content:\"|");
    for (size_t i = 0; i < n; i++)
        used += (size_t)snprintf(text + used, cap - used, "%02x ", (unsigned)(i & 0xff));
    snprintf(text + used, cap - used, "|\"; sid:1;)");
    PARSE_OK(text, &r);
    CU_ASSERT_EQUAL(content_at(&r, 0)->len, n);
    CU_ASSERT_EQUAL(content_at(&r, 0)->bytes[65535], 0xff);
    rule_free(&r);
    free(text);

    /* a 1 MiB rule (five 210,000-byte contents), parsed and loaded from a file */
    cap = 5 * 210016 + 256;
    text = malloc(cap);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    used = (size_t)snprintf(text, cap, "alert tcp any any -> any any (");
    for (int k = 0; k < 5; k++) {
        used += (size_t)snprintf(text + used, cap - used, "content:\"");
        memset(text + used, 'a' + k, 210000);
        used += 210000;
        used += (size_t)snprintf(text + used, cap - used, "\"; ");
    }
    snprintf(text + used, cap - used, "sid:1;)\n");
    CU_ASSERT_TRUE(strlen(text) > 1024 * 1024);
    PARSE_OK(text, &r);
    CU_ASSERT_EQUAL(r.n_matches, 5);
    CU_ASSERT_EQUAL(content_at(&r, 4)->len, 210000);
    rule_free(&r);
    struct ruleset rs;
    char err[256];
    ruleset_init(&rs);
    CU_ASSERT_EQUAL(ruleset_load_string(&rs, "big.rules", text, NULL, NULL, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(rs.loaded, 1);
    ruleset_free(&rs);
    free(text);

    /* over the limits: a content, a rule, the match count, a group */
    cap = RULE_CONTENT_MAX + 256;
    text = malloc(cap);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    used = (size_t)snprintf(text, cap, "alert tcp any any -> any any (content:\"");
    memset(text + used, 'z', RULE_CONTENT_MAX + 1);
    used += RULE_CONTENT_MAX + 1;
    snprintf(text + used, cap - used, "\"; sid:1;)");
    CU_ASSERT_EQUAL(parse(text, &r, why, sizeof(why)), RULE_PARSE_ERROR);
    CU_ASSERT_STRING_EQUAL(why, "content: longer than 262144 bytes");
    free(text);

    cap = RULE_TEXT_MAX + 1024;
    text = malloc(cap);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    used = (size_t)snprintf(text, cap, "alert tcp any any -> any any (msg:\"");
    memset(text + used, 'm', RULE_TEXT_MAX);
    used += RULE_TEXT_MAX;
    snprintf(text + used, cap - used, "\"; sid:1;)\nalert ip any any -> any any (sid:2;)\n");
    CU_ASSERT_EQUAL(parse(text, &r, why, sizeof(why)), RULE_PARSE_ERROR);
    CU_ASSERT_STRING_EQUAL(why, "rule longer than 4194304 bytes");
    ruleset_init(&rs);
    CU_ASSERT_EQUAL(ruleset_load_string(&rs, "huge.rules", text, NULL, NULL, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(rs.failed, 1);
    CU_ASSERT_EQUAL(rs.loaded, 1);               /* the reader recovers at the next line */
    CU_ASSERT_STRING_EQUAL(rs.errors[0], "huge.rules:1: rule longer than 4194304 bytes");
    CU_ASSERT_EQUAL(rs.rules[0].line, 2);
    ruleset_free(&rs);
    free(text);

    cap = (RULE_MATCHES_MAX + 1) * 16 + 256;
    text = malloc(cap);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    used = (size_t)snprintf(text, cap, "alert tcp any any -> any any (");
    for (int k = 0; k <= RULE_MATCHES_MAX; k++)
        used += (size_t)snprintf(text + used, cap - used, "content:\"x\"; ");
    snprintf(text + used, cap - used, "sid:1;)");
    CU_ASSERT_EQUAL(parse(text, &r, why, sizeof(why)), RULE_PARSE_ERROR);
    CU_ASSERT_STRING_EQUAL(why, "content: more than 1024 payload matches in one rule");
    free(text);

    /* 70,000 separate addresses in one list: fast, then refused */
    cap = 70000 * 16 + 16;
    text = malloc(cap);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    used = (size_t)snprintf(text, cap, "[");
    for (uint32_t k = 0; k < 70000; k++) {
        uint32_t ip = 0x0a000000u + 2 * k;          /* 10.0.0.0, 10.0.0.2, ... */
        used += (size_t)snprintf(text + used, cap - used, "%s%u.%u.%u.%u", k ? "," : "",
                                 ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
    }
    snprintf(text + used, cap - used, "]");
    struct rule_addrs a;
    CU_ASSERT_EQUAL(rule_addrs_parse(text, NULL, &a, why, sizeof(why)), -1);
    CU_ASSERT_STRING_EQUAL(why, "address group has more than 65536 ranges (or out of memory)");
    free(text);
}

/* ---- classification.config ---------------------------------------------------- */

static void shipped_classification_path(char *buf, size_t len)
{
    const char *src = getenv("MAMORI_SOURCE");
    snprintf(buf, len, "%s/detectors/classification.config", src && *src ? src : ".");
}

static void test_classification(void)
{
    struct classifications c;
    char err[256];
    classifications_init(&c);
    CU_ASSERT_EQUAL(classifications_parse_line(&c, "  # comment", err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(classifications_parse_line(&c, "", err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(classifications_parse_line(&c, "config classification: Odd-One, Has, "
                                               "commas, inside , 2 \n", err, sizeof(err)), 0);
    const struct classification *cl = classifications_find(&c, "odd-one");
    CU_ASSERT_PTR_NOT_NULL_FATAL(cl);
    CU_ASSERT_STRING_EQUAL(cl->name, "odd-one");
    CU_ASSERT_STRING_EQUAL(cl->description, "Has, commas, inside");
    CU_ASSERT_EQUAL(cl->priority, 2);
    CU_ASSERT_PTR_EQUAL(classifications_find(&c, "ODD-ONE"), cl);
    /* a later definition replaces the earlier one */
    CU_ASSERT_EQUAL(classifications_parse_line(&c, "config classification: odd-one,New,4",
                                               err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(c.n, 1);
    CU_ASSERT_STRING_EQUAL(classifications_find(&c, "odd-one")->description, "New");
    CU_ASSERT_EQUAL(classifications_find(&c, "odd-one")->priority, 4);
    CU_ASSERT_PTR_NULL(classifications_find(&c, "nope"));

    static const struct { const char *line, *msg; } bad[] = {
        { "config classifications: a,b,1", "expected ':' after 'config classification'" },
        { "classification: a,b,1", "expected 'config classification: name,description,priority'" },
        { "config classification: a,b", "expected 'name,description,priority'" },
        { "config classification: a,b,0", "priority must be a number from 1 to 255" },
        { "config classification: a,b,x", "priority must be a number from 1 to 255" },
        { "config classification: a b,c,1", "invalid classtype name 'a b'" },
        { "config classification: ,c,1", "invalid classtype name ''" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CU_ASSERT_EQUAL(classifications_parse_line(&c, bad[i].line, err, sizeof(err)), -1);
        CU_ASSERT_STRING_EQUAL(err, bad[i].msg);
    }
    classifications_free(&c);

    /* the shipped file: Suricata's standard set */
    char path[512];
    shipped_classification_path(path, sizeof(path));
    classifications_init(&c);
    CU_ASSERT_EQUAL_FATAL(classifications_load_file(&c, path, err, sizeof(err)), 0);
    CU_ASSERT_TRUE(c.n >= 42);
    static const struct { const char *name; uint8_t prio; } std[] = {
        { "not-suspicious", 3 }, { "bad-unknown", 2 }, { "attempted-admin", 1 },
        { "trojan-activity", 1 }, { "tcp-connection", 4 }, { "web-application-attack", 1 },
        { "misc-activity", 3 }, { "policy-violation", 1 }, { "command-and-control", 1 },
        { "coin-mining", 2 }, { "exploit-kit", 1 }, { "social-engineering", 2 },
    };
    for (size_t i = 0; i < sizeof(std) / sizeof(std[0]); i++) {
        cl = classifications_find(&c, std[i].name);
        CU_ASSERT_PTR_NOT_NULL_FATAL(cl);
        CU_ASSERT_EQUAL(cl->priority, std[i].prio);
    }
    CU_ASSERT_STRING_EQUAL(classifications_find(&c, "trojan-activity")->description,
                           "A Network Trojan was detected");
    classifications_free(&c);

    classifications_init(&c);
    CU_ASSERT_EQUAL(classifications_load_file(&c, "/nonexistent.config", err, sizeof(err)), -1);
    CU_ASSERT_STRING_EQUAL(err, "/nonexistent.config: No such file or directory");
    char tmp[] = "/tmp/mamori_cls_XXXXXX";
    int fd = mkstemp(tmp);
    CU_ASSERT_FATAL(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("# header\nconfig classification: a,A,1\nconfig classification: b,B\n", f);
    fclose(f);
    CU_ASSERT_EQUAL(classifications_load_file(&c, tmp, err, sizeof(err)), -1);
    char want[600];
    snprintf(want, sizeof(want), "%s:3: expected 'name,description,priority'", tmp);
    CU_ASSERT_STRING_EQUAL(err, want);
    unlink(tmp);
    classifications_free(&c);
}

/* ---- evaluation helpers ------------------------------------------------------- */

static void test_match_helpers(void)
{
    struct rule_uint u = { RULE_CMP_RANGE, 9, 18 };
    CU_ASSERT_FALSE(rule_uint_match(&u, 9));
    CU_ASSERT_TRUE(rule_uint_match(&u, 10) && rule_uint_match(&u, 17));
    CU_ASSERT_FALSE(rule_uint_match(&u, 18));
    u.cmp = RULE_CMP_NOT_RANGE;
    CU_ASSERT_TRUE(rule_uint_match(&u, 9) && rule_uint_match(&u, 18));
    CU_ASSERT_FALSE(rule_uint_match(&u, 12));
    u = (struct rule_uint){ RULE_CMP_MASK, 0xf0, 0x10 };
    CU_ASSERT_TRUE(rule_uint_match(&u, 0x1f));
    CU_ASSERT_FALSE(rule_uint_match(&u, 0x2f));
    u = (struct rule_uint){ RULE_CMP_LE, 5, 0 };
    CU_ASSERT_TRUE(rule_uint_match(&u, 5));
    CU_ASSERT_FALSE(rule_uint_match(&u, 6));

    struct rule_tcp_flags f = { RULE_FLAGS_EXACT, RULE_TCP_SYN, RULE_TCP_CWR | RULE_TCP_ECE };
    CU_ASSERT_TRUE(rule_tcp_flags_match(&f, RULE_TCP_SYN));
    CU_ASSERT_TRUE(rule_tcp_flags_match(&f, RULE_TCP_SYN | RULE_TCP_ECE));
    CU_ASSERT_FALSE(rule_tcp_flags_match(&f, RULE_TCP_SYN | RULE_TCP_ACK));
    f = (struct rule_tcp_flags){ RULE_FLAGS_PLUS, RULE_TCP_ACK, 0 };
    CU_ASSERT_TRUE(rule_tcp_flags_match(&f, RULE_TCP_ACK | RULE_TCP_PSH));
    CU_ASSERT_FALSE(rule_tcp_flags_match(&f, RULE_TCP_PSH));
    f = (struct rule_tcp_flags){ RULE_FLAGS_ANY, RULE_TCP_FIN | RULE_TCP_RST, 0 };
    CU_ASSERT_TRUE(rule_tcp_flags_match(&f, RULE_TCP_RST | RULE_TCP_ACK));
    CU_ASSERT_FALSE(rule_tcp_flags_match(&f, RULE_TCP_ACK));
    f = (struct rule_tcp_flags){ RULE_FLAGS_NOT, RULE_TCP_RST, 0 };
    CU_ASSERT_TRUE(rule_tcp_flags_match(&f, RULE_TCP_ACK));
    CU_ASSERT_FALSE(rule_tcp_flags_match(&f, RULE_TCP_RST));
    f = (struct rule_tcp_flags){ RULE_FLAGS_EXACT, 0, 0 };
    CU_ASSERT_TRUE(rule_tcp_flags_match(&f, 0));
    CU_ASSERT_FALSE(rule_tcp_flags_match(&f, RULE_TCP_ACK));

    /* binary search over many ranges */
    struct rule_ports p;
    char err[256];
    CU_ASSERT_EQUAL(rule_ports_parse("[1,3,5,7,9,11,13,15,17,19,21,100:200]", NULL, &p, err,
                                     sizeof(err)), 0);
    for (uint32_t port = 0; port < 300; port++) {
        bool want = (port <= 21 && (port & 1)) || (port >= 100 && port <= 200);
        CU_ASSERT_EQUAL(rule_ports_match(&p, (uint16_t)port), want);
    }
    rule_ports_free(&p);
}

/* ---- the shared rule sets ------------------------------------------------------ */

static const char *data_dir(void)
{
    const char *d = getenv("MAMORI_DATA");
    return d && *d ? d : "../shared/data";
}

static int rules_file(const struct dirent *e)
{
    size_t n = strlen(e->d_name);
    return n > 6 && strcmp(e->d_name + n - 6, ".rules") == 0;
}

/* Every *.rules of one directory into `rs`, one line per file. */
static int load_dir(const char *dir, struct ruleset *rs, const struct rule_vars *v,
                    const struct classifications *c)
{
    struct dirent **names;
    int n = scandir(dir, &names, rules_file, alphasort);
    if (n < 0)
        return -1;
    for (int i = 0; i < n; i++) {
        char path[1400], err[512];
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
        int rc = ruleset_load_file(rs, path, v, c, err, sizeof(err));
        if (rc != 0)
            printf("\n    %s", err);
        CU_ASSERT_EQUAL(rc, 0);
        const struct ruleset_file *rf = &rs->files[rs->n_files - 1];
        printf("\n    %-36s %6u loaded %6u skipped %4u failed %5u commented", names[i]->d_name,
               rf->loaded, rf->skipped, rf->failed, rf->commented);
        free(names[i]);
    }
    free(names);
    return n;
}

struct set_expect {
    const char *dir;
    uint32_t active;       /* active rules in the set (MANIFEST.md) */
    uint32_t min_loaded;
};

static void test_shared_rule_sets(void)
{
    static const struct set_expect sets[] = {
        { "rules/et-open", 24827, 3000 },
        { "rules/snort2-community", 545, 100 },
        { "rules/snort3-community", 4004, 1000 },
    };
    struct stat st;
    char dir[1024], path[512], err[512];
    snprintf(dir, sizeof(dir), "%s/rules", data_dir());
    if (stat(dir, &st) != 0) {
        printf("\n    %s not found: skipped (set MAMORI_DATA)", dir);
        return;
    }
    struct rule_vars *v = rule_vars_new();
    struct classifications c;
    classifications_init(&c);
    shipped_classification_path(path, sizeof(path));
    CU_ASSERT_EQUAL_FATAL(classifications_load_file(&c, path, err, sizeof(err)), 0);
    for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
        struct ruleset rs;
        ruleset_init(&rs);
        snprintf(dir, sizeof(dir), "%s/%s", data_dir(), sets[i].dir);
        printf("\n  %s:", sets[i].dir);
        int files = load_dir(dir, &rs, v, &c);
        CU_ASSERT(files > 0);
        printf("\n  ");
        ruleset_print_summary(&rs, stdout, 12, 10);
        CU_ASSERT_EQUAL(rs.loaded + rs.skipped + rs.failed, sets[i].active);
        CU_ASSERT(rs.loaded >= sets[i].min_loaded);
        CU_ASSERT_EQUAL(rs.failed, 0);
        /* every loaded rule is well formed for the engine */
        for (uint32_t k = 0; k < rs.n_rules; k++) {
            const struct rule *r = &rs.rules[k];
            CU_ASSERT(r->sid > 0 && r->msg != NULL && r->text != NULL && r->file != NULL);
            CU_ASSERT(r->fast_pattern < (int32_t)r->n_matches);
            if (r->fast_pattern >= 0)
                CU_ASSERT_EQUAL(r->matches[r->fast_pattern].type, RULE_MATCH_CONTENT);
        }
        ruleset_free(&rs);
    }
    classifications_free(&c);
    rule_vars_free(v);
}

static int verify_dir(const struct dirent *e)
{
    return strncmp(e->d_name, "sv--", 4) == 0;
}

static void test_verify_simple_rules(void)
{
    char dir[1024];
    snprintf(dir, sizeof(dir), "%s/verify", data_dir());
    struct dirent **names;
    int n = scandir(dir, &names, verify_dir, alphasort);
    if (n < 0) {
        printf("\n    %s not found: skipped (set MAMORI_DATA)", dir);
        return;
    }
    struct rule_vars *v = rule_vars_new();
    uint32_t loaded = 0, skipped = 0, failed = 0;
    for (int i = 0; i < n; i++) {
        char path[1400], err[512];
        struct ruleset rs;
        snprintf(path, sizeof(path), "%s/%s/simple.rules", dir, names[i]->d_name);
        ruleset_init(&rs);              /* each test is its own rule set */
        CU_ASSERT_EQUAL(ruleset_load_file(&rs, path, v, NULL, err, sizeof(err)), 0);
        for (uint32_t k = 0; k < rs.n_errors; k++)
            printf("\n    %s", rs.errors[k]);
        CU_ASSERT_EQUAL(rs.failed, 0);
        loaded += rs.loaded;
        skipped += rs.skipped;
        failed += rs.failed;
        ruleset_free(&rs);
        free(names[i]);
    }
    free(names);
    printf("\n    %d verify tests: %u loaded, %u skipped, %u failed ", n, loaded, skipped, failed);
    CU_ASSERT(n >= 30);
    rule_vars_free(v);
}

int main(void)
{
    CU_TestInfo cases[] = {
        { "minimal rule", test_minimal_rule },
        { "actions", test_actions },
        { "protocols", test_protocols },
        { "IPv4 addresses", test_addresses_v4 },
        { "IPv6 addresses", test_addresses_v6 },
        { "address lists and negation", test_addresses_negation },
        { "variables", test_variables },
        { "variable cycles and depth", test_variable_cycles },
        { "ports", test_ports },
        { "header forms", test_header_forms },
        { "content decoding", test_content_decoding },
        { "content modifiers", test_content_modifiers },
        { "fast pattern choice", test_fast_pattern_choice },
        { "snort 3 content", test_snort3_content },
        { "pcre", test_pcre },
        { "byte_test", test_byte_test },
        { "byte_jump", test_byte_jump },
        { "byte_extract and isdataat", test_byte_extract_and_isdataat },
        { "flow", test_flow },
        { "flowbits", test_flowbits },
        { "numeric options", test_numeric_options },
        { "flags", test_flags },
        { "threshold and detection_filter", test_threshold },
        { "identity and metadata", test_identity_and_meta },
        { "skip reasons", test_skip_reasons },
        { "error messages with file:line", test_error_messages },
        { "file format", test_file_format },
        { "summary", test_summary },
        { "limits", test_limits },
        { "classification.config", test_classification },
        { "match helpers", test_match_helpers },
        { "shared rule sets", test_shared_rule_sets },
        { "verify simple.rules", test_verify_simple_rules },
        CU_TEST_INFO_NULL,
    };
    return cunit_run("rule_parser", cases);
}
