/* test_engine.c - the matching engine: rules parsed from text, scanned
 * against hand-built packets; every content modifier, pcre, byte_*,
 * isdataat, header matching, flow, flowbits, packet tests, pass, dropped
 * pcre rules, and a build of every ET Open file ($MAMORI_DATA, default
 * ../shared/data; skipped when absent). */
#include <arpa/inet.h>
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cunit_run.h"
#include "engine.h"
#include "engine_compile.h"
#include "engine_int.h"   /* the reference scan below walks every rule */

/* ---- fixture ------------------------------------------------------------ */

struct fx {
    struct ruleset rs;
    struct rule_vars *vars;
    struct engine *e;
    struct engine_scratch *s;
    struct engine_flowbits fb;
};

/* The rules built with $HOME_NET set to home (NULL: the default). */
static void fx_build_home(struct fx *f, const char *home, const char *name, const char *rules)
{
    char err[512] = "";
    memset(f, 0, sizeof(*f));
    ruleset_init(&f->rs);
    f->vars = rule_vars_new();
    CU_ASSERT_FATAL(f->vars != NULL);
    if (home != NULL)
        CU_ASSERT_EQUAL_FATAL(rule_vars_set(f->vars, RULE_VAR_ADDRESS, "HOME_NET", home, err,
                                            sizeof(err)), 0);
    CU_ASSERT_EQUAL_FATAL(ruleset_load_string(&f->rs, name, rules, f->vars, NULL, err,
                                              sizeof(err)), 0);
    if (f->rs.failed || f->rs.skipped)
        ruleset_print_summary(&f->rs, stderr, 5, 5);
    CU_ASSERT_EQUAL(f->rs.failed, 0);
    CU_ASSERT_EQUAL(f->rs.skipped, 0);
    f->e = engine_build(&f->rs, err, sizeof(err));
    if (f->e == NULL)
        fprintf(stderr, "\n    engine_build: %s\n", err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f->e);
    f->s = engine_scratch_alloc(f->e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f->s);
}

static void fx_build(struct fx *f, const char *name, const char *rules)
{
    fx_build_home(f, NULL, name, rules);
}

static void fx_free(struct fx *f)
{
    engine_scratch_free(f->s);
    engine_free(f->e);
    ruleset_free(&f->rs);
    rule_vars_free(f->vars);
}

struct hits { uint32_t n; uint32_t sid[64]; };

static void collect(void *ctx, const struct rule *r)
{
    struct hits *h = ctx;
    if (h->n < 64)
        h->sid[h->n++] = r->sid;
}

static struct hits scan(struct fx *f, const struct engine_packet *p)
{
    struct hits h = { 0 };
    uint32_t n = engine_scan(f->e, f->s, p, collect, &h);
    CU_ASSERT_EQUAL(n, h.n);
    return h;
}

static bool has(const struct hits *h, uint32_t sid)
{
    for (uint32_t i = 0; i < h->n; i++)
        if (h->sid[i] == sid)
            return true;
    return false;
}

static void set_addr(uint8_t *out, uint8_t *ver, const char *text)
{
    memset(out, 0, 16);
    if (inet_pton(AF_INET, text, out) == 1) {
        *ver = 4;
    } else {
        CU_ASSERT_EQUAL_FATAL(inet_pton(AF_INET6, text, out), 1);
        *ver = 6;
    }
}

/* A to_server, established packet of flow storage f->fb. */
static struct engine_packet pkt(struct fx *f, uint8_t proto, const char *src, uint16_t sp,
                                const char *dst, uint16_t dp, const void *data, uint32_t len)
{
    struct engine_packet p = {
        .ip_proto = proto, .src_port = sp, .dst_port = dp, .ttl = 64,
        .payload = data, .payload_len = len, .to_server = true, .established = true,
        .flowbits = &f->fb,
    };
    set_addr(p.src_addr, &p.ip_version, src);
    set_addr(p.dst_addr, &p.ip_version, dst);
    return p;
}

static struct engine_packet tcp_str(struct fx *f, const char *payload)
{
    return pkt(f, 6, "10.1.2.3", 40000, "192.168.1.1", 80, payload, (uint32_t)strlen(payload));
}

/* The sids that fire for one TCP payload, as a fresh check per rule set. */
#define EXPECT_SID(f, payload, sid, want)                                       \
    do {                                                                        \
        struct engine_packet p_ = tcp_str((f), (payload));                      \
        struct hits h_ = scan((f), &p_);                                        \
        if (has(&h_, (sid)) != (want))                                          \
            fprintf(stderr, "\n    line %d: sid %u %s\n", __LINE__, (unsigned)(sid), \
                    (want) ? "missing" : "unexpected");                         \
        CU_ASSERT_EQUAL(has(&h_, (sid)), (want));                               \
    } while (0)

static const char *HTTP = "GET /index.html HTTP/1.1\r\nHost: example.com\r\n\r\n";

/* Room to join a stream packet's window and new bytes in (engine.h: join). */
static uint8_t join_room[2 * 4096];

/* A stream packet as dataplane/stream.c hands it over: the window and the
 * new bytes apart, `join` in the middle of join_room. */
static struct engine_packet stream_pkt(struct fx *f, const void *window, uint32_t wl,
                                       const void *new_bytes, uint32_t nl)
{
    struct engine_packet p = tcp_str(f, "");
    p.payload = new_bytes, p.payload_len = nl;
    p.window = window, p.window_len = wl;
    p.join = join_room + 4096;
    p.stream = true, p.dsize = nl;
    return p;
}

/* A stream inspection: [window | new] with the new bytes after `window`. */
static bool stream_hit(struct fx *f, const char *window, const char *new_bytes, uint32_t sid)
{
    uint32_t nl = (uint32_t)strlen(new_bytes);
    struct engine_packet p = stream_pkt(f, window, (uint32_t)strlen(window), new_bytes, nl);
    struct hits h = scan(f, &p);
    /* the same with the new bytes already at `join` (merged from held
     * segments, as the stream hands them over then) */
    memcpy(join_room + 4096, new_bytes, nl);
    p.payload = join_room + 4096;
    struct hits in_place = scan(f, &p);
    CU_ASSERT_EQUAL(has(&h, sid), has(&in_place, sid));
    return has(&h, sid);
}

/* ---- content ------------------------------------------------------------ */

static void test_offset_depth(void)
{
    struct fx f;
    fx_build(&f, "t.rules",
             "alert tcp any any -> any any (content:\"index\"; offset:5; sid:1;)\n"
             "alert tcp any any -> any any (content:\"index\"; offset:6; sid:2;)\n"
             "alert tcp any any -> any any (content:\"GET\"; depth:3; sid:3;)\n"
             "alert tcp any any -> any any (content:\"index\"; depth:9; sid:4;)\n"
             "alert tcp any any -> any any (content:\"index\"; depth:10; sid:5;)\n"
             "alert tcp any any -> any any (content:\"index\"; offset:5; depth:5; sid:6;)\n"
             "alert tcp any any -> any any (content:\"index\"; offset:4; depth:5; sid:7;)\n");
    EXPECT_SID(&f, HTTP, 1, true);
    EXPECT_SID(&f, HTTP, 2, false);
    EXPECT_SID(&f, HTTP, 3, true);
    EXPECT_SID(&f, HTTP, 4, false);
    EXPECT_SID(&f, HTTP, 5, true);
    EXPECT_SID(&f, HTTP, 6, true);
    EXPECT_SID(&f, HTTP, 7, false);
    EXPECT_SID(&f, " GET", 3, false);
    fx_free(&f);
}

static void test_distance_within(void)
{
    struct fx f;
    fx_build(&f, "t.rules",
             "alert tcp any any -> any any (content:\"GET\"; content:\"index\"; distance:2; "
             "within:7; sid:1;)\n"
             "alert tcp any any -> any any (content:\"GET\"; content:\"index\"; distance:3; "
             "sid:2;)\n"
             "alert tcp any any -> any any (content:\"GET\"; content:\"index\"; within:7; sid:3;)\n"
             "alert tcp any any -> any any (content:\"GET\"; content:\"index\"; within:6; sid:4;)\n"
             "alert tcp any any -> any any (content:\"Host\"; content:\"GET\"; distance:-30; "
             "sid:5;)\n");
    EXPECT_SID(&f, HTTP, 1, true);
    EXPECT_SID(&f, HTTP, 2, false);
    EXPECT_SID(&f, HTTP, 3, true);
    EXPECT_SID(&f, HTTP, 4, false);
    EXPECT_SID(&f, HTTP, 5, true);
    fx_free(&f);
}

static void test_nocase_negation_hex(void)
{
    struct fx f;
    fx_build(&f, "t.rules",
             "alert tcp any any -> any any (content:\"get /INDEX\"; nocase; sid:1;)\n"
             "alert tcp any any -> any any (content:\"get /INDEX\"; sid:2;)\n"
             "alert tcp any any -> any any (content:\"GET\"; content:!\"POST\"; sid:3;)\n"
             "alert tcp any any -> any any (content:\"GET\"; content:!\"HTTP\"; sid:4;)\n"
             "alert tcp any any -> any any (content:\"|47 45 54 20|/in\"; sid:5;)\n"
             "alert tcp any any -> any any (content:!\"POST\"; sid:6;)\n"
             "alert tcp any any -> any any (content:\"GET\"; content:!\"Host\"; distance:0; "
             "within:10; sid:7;)\n");
    EXPECT_SID(&f, HTTP, 1, true);
    EXPECT_SID(&f, HTTP, 2, false);
    EXPECT_SID(&f, HTTP, 3, true);
    EXPECT_SID(&f, HTTP, 4, false);
    EXPECT_SID(&f, HTTP, 5, true);
    EXPECT_SID(&f, HTTP, 6, true);
    EXPECT_SID(&f, "POST /", 6, false);
    EXPECT_SID(&f, HTTP, 7, true);
    EXPECT_SID(&f, "GET Host", 7, false);
    fx_free(&f);
}

static void test_backtracking(void)
{
    struct fx f;
    fx_build(&f, "t.rules",
             "alert tcp any any -> any any (content:\"a\"; content:\"c\"; distance:1; within:2; "
             "sid:1;)\n"
             "alert tcp any any -> any any (content:\"a\"; content:\"b\"; distance:0; within:1; "
             "content:\"c\"; distance:0; within:1; sid:2;)\n"
             "alert tcp any any -> any any (content:\"a\"; pcre:\"/^b+c/R\"; sid:3;)\n");
    EXPECT_SID(&f, "a1b a2b a3c", 1, true);
    EXPECT_SID(&f, "a1b a2b a3d", 1, false);
    EXPECT_SID(&f, "ab..abxabc", 2, true);
    EXPECT_SID(&f, "ab..abxab.c", 2, false);
    EXPECT_SID(&f, "axab abbbc", 3, true);
    EXPECT_SID(&f, "axab abbbd", 3, false);
    fx_free(&f);
}

static void test_startswith_endswith(void)
{
    struct fx f;
    fx_build(&f, "t.rules",
             "alert tcp any any -> any any (content:\"GET\"; startswith; sid:1;)\n"
             "alert tcp any any -> any any (content:\"index\"; startswith; sid:2;)\n"
             "alert tcp any any -> any any (content:\"|0d 0a 0d 0a|\"; endswith; sid:3;)\n"
             "alert tcp any any -> any any (content:\"Host\"; endswith; sid:4;)\n");
    EXPECT_SID(&f, HTTP, 1, true);
    EXPECT_SID(&f, " GET", 1, false);
    EXPECT_SID(&f, HTTP, 2, false);
    EXPECT_SID(&f, HTTP, 3, true);
    EXPECT_SID(&f, "x\r\n\r\nx", 3, false);
    EXPECT_SID(&f, HTTP, 4, false);
    EXPECT_SID(&f, "a Host", 4, true);
    fx_free(&f);
}

static void test_fast_pattern_chop(void)
{
    struct fx f;
    fx_build(&f, "t.rules",
             "alert tcp any any -> any any (content:\"verylongpattern\"; fast_pattern:4,4; "
             "sid:1;)\n"
             "alert tcp any any -> any any (content:\"abc\"; offset:4; depth:3; sid:2;)\n");
    EXPECT_SID(&f, "xx verylongpattern", 1, true);
    EXPECT_SID(&f, "xx long", 1, false);
    EXPECT_SID(&f, "xxxxabc", 2, true);
    EXPECT_SID(&f, "xxxabcx", 2, false);
    EXPECT_SID(&f, "xxxxxabc", 2, false);
    fx_free(&f);
}

/* ---- pcre, isdataat, byte_* ---------------------------------------------- */

static void test_pcre(void)
{
    struct fx f;
    fx_build(&f, "t.rules",
             "alert tcp any any -> any any (pcre:\"/^get\\s+\\/index/i\"; sid:1;)\n"
             "alert tcp any any -> any any (pcre:\"/^get\\s+\\/index/\"; sid:2;)\n"
             "alert tcp any any -> any any (content:\"Host: \"; pcre:\"/^example\\.com/R\"; "
             "sid:3;)\n"
             "alert tcp any any -> any any (content:\"Host: \"; pcre:\"/^GET/R\"; sid:4;)\n"
             "alert tcp any any -> any any (content:\"GET\"; pcre:!\"/POST/\"; sid:5;)\n"
             "alert tcp any any -> any any (content:\"Host\"; pcre:\"/1\\r$/m\"; sid:6;)\n"
             "alert tcp any any -> any any (content:\"GET\"; pcre:\"/index.html.HTTP/s\"; "
             "sid:7;)\n"
             "alert tcp any any -> any any (content:\"GET\"; pcre:\"/HTTP/A\"; sid:8;)\n");
    EXPECT_SID(&f, HTTP, 1, true);
    EXPECT_SID(&f, HTTP, 2, false);
    EXPECT_SID(&f, HTTP, 3, true);
    EXPECT_SID(&f, HTTP, 4, false);
    EXPECT_SID(&f, HTTP, 5, true);
    EXPECT_SID(&f, HTTP, 6, true);
    EXPECT_SID(&f, HTTP, 7, true);
    EXPECT_SID(&f, HTTP, 8, false);
    fx_free(&f);

    fx_build(&f, "t.rules",
             "alert tcp any any -> any any (content:\"abc\"; pcre:\"/abc$/E\"; sid:1;)\n"
             "alert tcp any any -> any any (content:\"abc\"; pcre:\"/abc$/\"; sid:2;)\n"
             "alert tcp any any -> any any (content:\"abc\"; pcre:\"/a b c # comment/x\"; "
             "sid:3;)\n"
             "alert tcp any any -> any any (content:\"xA\"; pcre:\"/x.+y/G\"; content:\"Z\"; "
             "distance:0; within:1; sid:4;)\n"
             "alert tcp any any -> any any (content:\"xA\"; pcre:\"/x.+y/\"; content:\"Z\"; "
             "distance:0; within:1; sid:5;)\n");
    EXPECT_SID(&f, "abc\n", 1, false);
    EXPECT_SID(&f, "abc\n", 2, true);
    EXPECT_SID(&f, "abc", 1, true);
    EXPECT_SID(&f, "abc", 3, true);
    EXPECT_SID(&f, "xAyZzzy", 4, true);
    EXPECT_SID(&f, "xAyZzzy", 5, false);
    fx_free(&f);
}

static void test_isdataat(void)
{
    struct fx f;
    fx_build(&f, "t.rules",
             "alert tcp any any -> any any (content:\"HTTP/1.1\"; isdataat:4,relative; sid:1;)\n"
             "alert tcp any any -> any any (content:\"|0d 0a 0d 0a|\"; isdataat:!1,relative; "
             "sid:2;)\n"
             "alert tcp any any -> any any (content:\"GET\"; isdataat:100; sid:3;)\n"
             "alert tcp any any -> any any (content:\"GET\"; isdataat:!100; sid:4;)\n");
    EXPECT_SID(&f, HTTP, 1, true);
    EXPECT_SID(&f, HTTP, 2, true);
    EXPECT_SID(&f, HTTP, 3, false);
    EXPECT_SID(&f, HTTP, 4, true);
    fx_free(&f);
}

static void test_byte_ops(void)
{
    static const uint8_t bin[] = { 0x00, 0x05, 'h', 'e', 'l', 'l', 'o', 0x00, 0x02, 'h', 'i' };
    struct fx f;
    fx_build(&f, "t.rules",
             "alert tcp any any -> any any (content:\"hello\"; byte_test:2,=,5,0; sid:1;)\n"
             "alert tcp any any -> any any (content:\"hello\"; byte_test:2,>,5,0; sid:2;)\n"
             "alert tcp any any -> any any (content:\"hello\"; byte_test:2,=,1280,0,little; "
             "sid:3;)\n"
             "alert tcp any any -> any any (content:\"hello\"; byte_jump:2,0; "
             "content:\"|00 02|\"; within:2; sid:4;)\n"
             "alert tcp any any -> any any (content:\"hello\"; byte_jump:2,0; "
             "content:\"hi\"; within:2; sid:5;)\n"
             "alert tcp any any -> any any (byte_extract:2,0,len; content:\"hello\"; distance:0; "
             "within:len; sid:6;)\n"
             "alert tcp any any -> any any (content:\"hello\"; byte_extract:2,0,n,relative; "
             "byte_test:2,=,n,7; isdataat:n,relative; sid:7;)\n"
             "alert tcp any any -> any any (content:\"hello\"; byte_test:1,&,4,1; sid:8;)\n"
             "alert tcp any any -> any any (content:\"hello\"; byte_test:1,!=,5,1; sid:9;)\n");
    struct engine_packet p = pkt(&f, 6, "10.0.0.1", 1, "10.0.0.2", 2, bin, sizeof(bin));
    struct hits h = scan(&f, &p);
    CU_ASSERT(has(&h, 1));
    CU_ASSERT(!has(&h, 2));
    CU_ASSERT(has(&h, 3));
    CU_ASSERT(has(&h, 4));
    CU_ASSERT(!has(&h, 5));
    CU_ASSERT(has(&h, 6));
    CU_ASSERT(has(&h, 7));
    CU_ASSERT(has(&h, 8));
    CU_ASSERT(!has(&h, 9));
    fx_free(&f);

    fx_build(&f, "t.rules",
             "alert tcp any any -> any any (content:\"LEN=\"; byte_test:2,=,42,0,relative,"
             "string,dec; sid:1;)\n"
             "alert tcp any any -> any any (content:\"LEN=\"; byte_test:2,=,0x42,0,relative,"
             "string,hex; sid:2;)\n"
             "alert tcp any any -> any any (content:\"LEN=\"; byte_jump:2,0,relative,string,dec; "
             "content:\"END\"; within:3; sid:3;)\n"
             "alert tcp any any -> any any (content:\"L\"; byte_extract:1,0,n,relative,string,dec; "
             "content:\"Z\"; offset:n; depth:1; sid:4;)\n");
    EXPECT_SID(&f, "LEN=42;" "0123456789" "0123456789" "0123456789" "0123456789" "1END", 1, true);
    EXPECT_SID(&f, "LEN=42;", 2, true);
    EXPECT_SID(&f, "LEN=05abcdeEND", 3, true);
    EXPECT_SID(&f, "LEN=04abcdeEND", 3, false);
    EXPECT_SID(&f, "L9xL5Zxxxx", 4, true);      /* the variable's miss retries "L" */
    EXPECT_SID(&f, "L9xL4Zxxxx", 4, false);
    fx_free(&f);
}

/* ---- header, flow, packet tests ------------------------------------------- */

static bool hit_pkt(struct fx *f, const struct engine_packet *p, uint32_t sid)
{
    struct hits h = scan(f, p);
    return has(&h, sid);
}

static void test_header(void)
{
    struct fx f;
    fx_build(&f, "t.rules",
             "alert tcp 10.0.0.0/8 any -> 192.168.1.1 80 (sid:1;)\n"
             "alert tcp !10.0.0.0/8 any -> any any (sid:2;)\n"
             "alert tcp 192.168.1.1 80 <> 10.0.0.0/8 any (sid:3;)\n"
             "alert tcp 192.168.1.1 80 -> 10.0.0.0/8 any (sid:4;)\n"
             "alert tcp any any -> any [443,1000:2000] (sid:5;)\n"
             "alert tcp 2001:db8::/32 any -> any any (sid:6;)\n"
             "alert tcp any any -> any 80 (content:\"GET\"; sid:7;)\n"
             "alert tcp any any -> any any (content:\"GET\"; sid:8;)\n"
             "alert udp any any -> any 53 (sid:9;)\n"
             "alert ip any any -> 192.168.1.1 any (sid:10;)\n"
             "alert tcp any any -> any !80 (content:\"GET\"; sid:11;)\n");
    const char *g = "GET /";
    struct engine_packet p = pkt(&f, 6, "10.1.2.3", 1234, "192.168.1.1", 80, g, 5);
    CU_ASSERT(hit_pkt(&f, &p, 1));
    CU_ASSERT(!hit_pkt(&f, &p, 2));
    CU_ASSERT(hit_pkt(&f, &p, 3));
    CU_ASSERT(!hit_pkt(&f, &p, 4));
    CU_ASSERT(!hit_pkt(&f, &p, 5));
    CU_ASSERT(hit_pkt(&f, &p, 7));
    CU_ASSERT(hit_pkt(&f, &p, 8));
    CU_ASSERT(hit_pkt(&f, &p, 10));
    CU_ASSERT(!hit_pkt(&f, &p, 11));
    p.dst_port = 1500;
    CU_ASSERT(!hit_pkt(&f, &p, 1));
    CU_ASSERT(hit_pkt(&f, &p, 5));
    CU_ASSERT(!hit_pkt(&f, &p, 7));
    CU_ASSERT(hit_pkt(&f, &p, 8));
    CU_ASSERT(hit_pkt(&f, &p, 11));
    struct engine_packet r = pkt(&f, 6, "192.168.1.1", 80, "10.9.9.9", 5555, g, 5);
    CU_ASSERT(hit_pkt(&f, &r, 3));
    CU_ASSERT(hit_pkt(&f, &r, 4));
    CU_ASSERT(hit_pkt(&f, &r, 2));
    struct engine_packet v6 = pkt(&f, 6, "2001:db8::1", 1, "2001:db9::1", 2, g, 5);
    CU_ASSERT(hit_pkt(&f, &v6, 6));
    CU_ASSERT(!hit_pkt(&f, &v6, 1));
    struct engine_packet u = pkt(&f, 17, "10.1.2.3", 999, "8.8.8.8", 53, NULL, 0);
    CU_ASSERT(hit_pkt(&f, &u, 9));
    u.ip_proto = 6;
    CU_ASSERT(!hit_pkt(&f, &u, 9));
    fx_free(&f);
}

static void test_flow(void)
{
    struct fx f;
    fx_build(&f, "t.rules",
             "alert tcp any any -> any any (flow:to_server,established; content:\"GET\"; sid:1;)\n"
             "alert tcp any any -> any any (flow:to_client; content:\"GET\"; sid:2;)\n"
             "alert tcp any any -> any any (flow:not_established; content:\"GET\"; sid:3;)\n");
    struct engine_packet p = tcp_str(&f, HTTP);
    CU_ASSERT(hit_pkt(&f, &p, 1));
    CU_ASSERT(!hit_pkt(&f, &p, 2));
    CU_ASSERT(!hit_pkt(&f, &p, 3));
    p.to_server = false;
    CU_ASSERT(!hit_pkt(&f, &p, 1));
    CU_ASSERT(hit_pkt(&f, &p, 2));
    p.to_server = true, p.established = false;
    CU_ASSERT(!hit_pkt(&f, &p, 1));
    CU_ASSERT(hit_pkt(&f, &p, 3));
    p.flowbits = NULL, p.established = true;
    CU_ASSERT(!hit_pkt(&f, &p, 1));
    fx_free(&f);
}

static void test_flowbits(void)
{
    struct fx f;
    fx_build(&f, "t.rules",
             "alert tcp any any -> any any (content:\"login\"; flowbits:set,logged; "
             "flowbits:noalert; sid:1;)\n"
             "alert tcp any any -> any any (content:\"secret\"; flowbits:isset,logged; sid:2;)\n"
             "alert tcp any any -> any any (content:\"secret\"; flowbits:isnotset,logged; "
             "sid:3;)\n"
             "alert tcp any any -> any any (content:\"logout\"; flowbits:unset,logged; sid:4;)\n");
    CU_ASSERT(engine_flowbit_id(f.e, "logged") >= 0);
    CU_ASSERT_EQUAL(engine_flowbit_id(f.e, "nope"), -1);
    struct engine_packet a = tcp_str(&f, "user login ok");
    struct hits h = scan(&f, &a);
    CU_ASSERT_EQUAL(h.n, 0);                         /* noalert */
    struct engine_packet b = tcp_str(&f, "the secret");
    CU_ASSERT(hit_pkt(&f, &b, 2));
    CU_ASSERT(!hit_pkt(&f, &b, 3));
    struct engine_packet c = tcp_str(&f, "logout");
    CU_ASSERT(hit_pkt(&f, &c, 4));
    CU_ASSERT(!hit_pkt(&f, &b, 2));
    CU_ASSERT(hit_pkt(&f, &b, 3));
    /* a setter runs before a checker in the same packet */
    memset(&f.fb, 0, sizeof(f.fb));
    struct engine_packet d = tcp_str(&f, "login secret");
    CU_ASSERT(hit_pkt(&f, &d, 2));
    /* another flow */
    struct engine_flowbits other = { 0 };
    b.flowbits = &other;
    CU_ASSERT(hit_pkt(&f, &b, 3));
    CU_ASSERT(!hit_pkt(&f, &b, 2));
    fx_free(&f);
}

static void test_flowbits_groups_and_limit(void)
{
    struct fx f;
    fx_build(&f, "t.rules",
             "alert tcp any any -> any any (content:\"one\"; flowbits:set,a; flowbits:noalert; "
             "sid:1;)\n"
             "alert tcp any any -> any any (content:\"two\"; flowbits:toggle,b; flowbits:noalert; "
             "sid:2;)\n"
             "alert tcp any any -> any any (content:\"chk\"; flowbits:isset,a|b; sid:3;)\n"
             "alert tcp any any -> any any (content:\"chk\"; flowbits:isset,a&b; sid:4;)\n"
             "alert tcp any any -> any any (content:\"chk\"; flowbits:isnotset,a&b; sid:5;)\n");
    EXPECT_SID(&f, "chk", 3, false);
    EXPECT_SID(&f, "chk", 5, true);
    EXPECT_SID(&f, "two", 2, false);              /* noalert; b toggled on */
    EXPECT_SID(&f, "chk", 3, true);
    EXPECT_SID(&f, "chk", 4, false);
    EXPECT_SID(&f, "chk", 5, false);
    EXPECT_SID(&f, "one", 1, false);
    EXPECT_SID(&f, "chk", 4, true);
    EXPECT_SID(&f, "two", 2, false);              /* b toggled off */
    EXPECT_SID(&f, "chk", 4, false);
    EXPECT_SID(&f, "chk", 3, true);
    fx_free(&f);

    size_t cap = (ENGINE_FLOWBITS_MAX + 2) * 96;
    char *text = malloc(cap), *w = text;
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    for (int i = 0; i < ENGINE_FLOWBITS_MAX + 1; i++)
        w += sprintf(w, "alert tcp any any -> any any (content:\"x\"; flowbits:set,bit%d; "
                     "sid:%d;)\n", i, i + 1);
    fx_build(&f, "many.rules", text);
    free(text);
    const struct engine_stats *st = engine_stats(f.e);
    CU_ASSERT_EQUAL(st->rules_dropped, 1);
    CU_ASSERT_EQUAL(st->flowbit_names, ENGINE_FLOWBITS_MAX);
    CU_ASSERT_PTR_NOT_NULL(strstr(engine_error(f.e, 0), "flowbits: more than"));
    fx_free(&f);
}

static void test_packet_tests(void)
{
    struct fx f;
    fx_build(&f, "t.rules",
             "alert tcp any any -> any any (dsize:>10; sid:1;)\n"
             "alert tcp any any -> any any (flags:S; sid:2;)\n"
             "alert tcp any any -> any any (flags:A+; sid:3;)\n"
             "alert icmp any any -> any any (itype:8; icode:0; sid:4;)\n"
             "alert ip any any -> any any (ttl:<5; sid:5;)\n"
             "alert ip any any -> any any (ip_proto:17; sid:6;)\n"
             "alert icmp any any -> any any (itype:0; sid:7;)\n"
             "alert ip any any -> any 53 (sid:8;)\n");
    struct engine_packet p = pkt(&f, 6, "1.1.1.1", 1, "2.2.2.2", 2, "0123456789ab", 12);
    p.tcp_flags = RULE_TCP_SYN;
    CU_ASSERT(hit_pkt(&f, &p, 1));
    CU_ASSERT(hit_pkt(&f, &p, 2));
    CU_ASSERT(!hit_pkt(&f, &p, 3));
    CU_ASSERT(!hit_pkt(&f, &p, 5));
    p.tcp_flags = RULE_TCP_SYN | RULE_TCP_ACK, p.payload_len = 10, p.ttl = 3;
    CU_ASSERT(!hit_pkt(&f, &p, 1));
    CU_ASSERT(!hit_pkt(&f, &p, 2));
    CU_ASSERT(hit_pkt(&f, &p, 3));
    CU_ASSERT(hit_pkt(&f, &p, 5));
    CU_ASSERT(!hit_pkt(&f, &p, 6));
    struct engine_packet i = pkt(&f, 1, "1.1.1.1", 0, "2.2.2.2", 0, NULL, 0);
    i.icmp_type = 8;
    CU_ASSERT(hit_pkt(&f, &i, 4));
    CU_ASSERT(!hit_pkt(&f, &i, 7));
    CU_ASSERT(!hit_pkt(&f, &i, 2));
    i.dst_port = 53;                                 /* no ports in ICMP: port 0 */
    CU_ASSERT(!hit_pkt(&f, &i, 8));
    struct engine_packet u = pkt(&f, 17, "1.1.1.1", 5, "2.2.2.2", 53, NULL, 0);
    CU_ASSERT(hit_pkt(&f, &u, 6));
    CU_ASSERT(hit_pkt(&f, &u, 8));
    fx_free(&f);
}

static void test_pass(void)
{
    struct fx f;
    fx_build(&f, "t.rules",
             "alert tcp any any -> any any (content:\"GET\"; sid:2;)\n"
             "alert tcp any any -> any any (sid:3;)\n"
             "pass tcp 10.0.0.1 any -> any any (sid:1;)\n"
             "pass tcp any any -> any any (content:\"trusted\"; sid:4;)\n");
    struct engine_packet p = pkt(&f, 6, "10.0.0.1", 1, "10.0.0.9", 80, "GET /", 5);
    struct hits h = scan(&f, &p);
    CU_ASSERT_EQUAL(h.n, 0);
    set_addr(p.src_addr, &p.ip_version, "10.0.0.2");
    h = scan(&f, &p);
    CU_ASSERT_EQUAL(h.n, 2);
    CU_ASSERT(has(&h, 2) && has(&h, 3));
    p.payload = (const uint8_t *)"GET trusted", p.payload_len = 11;
    h = scan(&f, &p);
    CU_ASSERT_EQUAL(h.n, 0);
    fx_free(&f);
}

static void test_bad_pcre_dropped(void)
{
    struct fx f;
    fx_build(&f, "bad.rules",
             "alert tcp any any -> any any (content:\"GET\"; sid:1;)\n"
             "alert tcp any any -> any any (content:\"GET\"; pcre:\"/(unclosed/\"; sid:2;)\n");
    const struct engine_stats *st = engine_stats(f.e);
    CU_ASSERT_EQUAL(st->rules_in, 2);
    CU_ASSERT_EQUAL(st->rules_compiled, 1);
    CU_ASSERT_EQUAL(st->rules_dropped, 1);
    CU_ASSERT_EQUAL(st->n_errors, 1);
    const char *msg = engine_error(f.e, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(msg);
    CU_ASSERT_EQUAL(strncmp(msg, "bad.rules:2: pcre: ", 19), 0);
    EXPECT_SID(&f, HTTP, 1, true);
    EXPECT_SID(&f, HTTP, 2, false);
    fx_free(&f);
}

static void test_stats(void)
{
    struct fx f;
    fx_build(&f, "t.rules",
             "alert tcp any any -> any 80 (content:\"GET\"; sid:1;)\n"
             "alert tcp any any -> any any (content:\"POST\"; sid:2;)\n"
             "alert udp any any -> any any (sid:3;)\n"
             "alert ip any any -> any any (content:\"x\"; pcre:\"/x/\"; sid:4;)\n"
             "alert ip [1.2.3.4,5.6.7.0/24,2001:db8::1] any -> $HOME_NET any (sid:5;)\n"
             "alert ip $HOME_NET any -> [9.9.9.0/24,!9.9.9.9] any (sid:6;)\n");
    const struct engine_stats *st = engine_stats(f.e);
    CU_ASSERT_EQUAL(st->rules_addr_indexed, 8);      /* sids 5, 6 in each of 4 groups */
    struct engine_packet p = pkt(&f, 6, "5.6.7.200", 1, "192.168.0.1", 2, NULL, 0);
    CU_ASSERT(hit_pkt(&f, &p, 5));
    CU_ASSERT(!hit_pkt(&f, &p, 6));
    p = pkt(&f, 1, "192.168.0.1", 0, "9.9.9.8", 0, NULL, 0);
    CU_ASSERT(hit_pkt(&f, &p, 6));
    CU_ASSERT(!hit_pkt(&f, &p, 5));
    p = pkt(&f, 17, "192.168.0.1", 0, "9.9.9.9", 0, NULL, 0);
    CU_ASSERT(!hit_pkt(&f, &p, 6));
    p = pkt(&f, 17, "2001:db8::1", 0, "192.168.0.1", 0, NULL, 0);
    set_addr(p.dst_addr, &p.ip_version, "fe80::1");
    CU_ASSERT(!hit_pkt(&f, &p, 5));                  /* fe80:: is not $HOME_NET */
    p = pkt(&f, 17, "9.9.9.7", 0, "192.168.0.1", 0, NULL, 0);
    CU_ASSERT(!hit_pkt(&f, &p, 5));
    CU_ASSERT_EQUAL(st->rules_compiled, 6);
    CU_ASSERT_EQUAL(st->rules_prefiltered, 3);
    CU_ASSERT_EQUAL(st->rules_always, 3);
    CU_ASSERT_EQUAL(st->pcres, 1);
    CU_ASSERT_EQUAL(st->databases, 5);   /* tcp any + tcp all (:80), udp, icmp, other */
    CU_ASSERT(st->db_bytes > 0);
    fx_free(&f);
}

static void test_limits(void)
{
    struct fx f;
    fx_build(&f, "t.rules",
             "alert tcp any any -> any any (content:\"aaaa\"; pcre:\"/(a+)+b/\"; sid:1;)\n"
             "alert tcp any any -> any any (content:\"a\"; content:\"a\"; distance:0; "
             "content:\"a\"; distance:0; content:\"a\"; distance:0; content:\"b\"; distance:0; "
             "within:1; sid:2;)\n");
    char buf[4096];
    memset(buf, 'a', sizeof(buf) - 2);
    buf[sizeof(buf) - 2] = 'c';
    buf[sizeof(buf) - 1] = '\0';
    EXPECT_SID(&f, buf, 1, false);      /* stopped by the match limit, not stalled */
    EXPECT_SID(&f, buf, 2, false);      /* stopped by ENGINE_INSPECT_LIMIT */
    EXPECT_SID(&f, "aaaab", 1, true);
    EXPECT_SID(&f, "aaaab", 2, true);
    fx_free(&f);
}

static void test_noalert_and_v6_header(void)
{
    struct fx f;
    fx_build(&f, "t.rules",
             "alert tcp any any -> any any (content:\"quiet\"; noalert; sid:1;)\n"
             "alert ip [2001:db8::/32,!2001:db8::5] any -> any any (content:\"x\"; sid:2;)\n"
             "alert tcp any any <> 2001:db8::/32 443 (sid:3;)\n");
    EXPECT_SID(&f, "quiet", 1, false);
    struct engine_packet p = pkt(&f, 17, "2001:db8::4", 1, "2001:dead::1", 2, "x", 1);
    CU_ASSERT(hit_pkt(&f, &p, 2));
    set_addr(p.src_addr, &p.ip_version, "2001:db8::5");
    CU_ASSERT(!hit_pkt(&f, &p, 2));
    p = pkt(&f, 6, "2001:db8::9", 443, "2001:dead::1", 5000, NULL, 0);
    CU_ASSERT(hit_pkt(&f, &p, 3));
    p.src_port = 444;
    CU_ASSERT(!hit_pkt(&f, &p, 3));
    fx_free(&f);
}

/* ---- ET Open --------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every rule verified in evaluation order, no prefilter, no index: what
 * engine_scan must report. */
static uint32_t reference_scan(const struct engine *e, struct engine_scratch *s,
                               const struct engine_packet *p, struct hits *h)
{
    for (uint32_t i = 0; i < e->n_rules; i++) {
        const struct erule *er = &e->rules[i];
        if (!engine_verify(e, er, p, s))
            continue;
        engine_apply_flowbits(er, p->flowbits);
        if (er->r->action == RULE_ACTION_PASS) {
            h->n = 0;
            return 0;
        }
        if (!er->r->noalert)
            collect(h, er->r);
    }
    return h->n;
}

static uint32_t rnd(uint64_t *st)
{
    *st = *st * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(*st >> 33);
}

static void pick_addr(const struct rule_addrs *a, uint64_t *st, uint8_t out[16])
{
    uint32_t x = rnd(st) ^ rnd(st) << 16;
    if (!a->any && a->n4 > 0 && rnd(st) % 4) {
        const struct rule_v4_range *r = &a->v4[rnd(st) % a->n4];
        x = r->lo + (uint32_t)(rnd(st) % ((uint64_t)r->hi - r->lo + 1));
    }
    memset(out, 0, 16);
    out[0] = (uint8_t)(x >> 24), out[1] = (uint8_t)(x >> 16);
    out[2] = (uint8_t)(x >> 8), out[3] = (uint8_t)x;
}

static uint16_t pick_port(const struct rule_ports *pp, uint64_t *st)
{
    if (pp->any || pp->n == 0 || rnd(st) % 4 == 0)
        return (uint16_t)rnd(st);
    const struct rule_port_range *r = &pp->r[rnd(st) % pp->n];
    return (uint16_t)(r->lo + rnd(st) % ((uint32_t)r->hi - r->lo + 1));
}

/* A packet aimed at rule r: its protocol, addresses, ports and contents. */
static uint32_t aim(const struct rule *r, uint64_t *st, struct engine_packet *p, uint8_t *buf,
                    uint32_t cap)
{
    static const uint8_t protos[] = { 6, 17, 1, 58, 132, 47 };
    memset(p, 0, sizeof(*p));
    uint32_t k;
    do                              /* mostly one of the rule's protocols */
        k = rnd(st) % 6;
    while (rnd(st) % 8 && !(r->proto.mask & (1u << k)));
    p->ip_proto = protos[k];
    p->ip_version = 4;
    pick_addr(&r->src, st, p->src_addr);
    pick_addr(&r->dst, st, p->dst_addr);
    p->src_port = pick_port(&r->sport, st), p->dst_port = pick_port(&r->dport, st);
    p->ttl = (uint8_t)rnd(st), p->tcp_flags = (uint8_t)rnd(st);
    p->to_server = rnd(st) & 1, p->established = rnd(st) % 4 != 0;
    uint32_t n = 0;
    for (uint32_t i = 0; i < r->n_matches; i++) {
        const struct rule_match *m = &r->matches[i];
        if (m->type != RULE_MATCH_CONTENT || n + m->u.content.len + 1 > cap)
            continue;
        if ((m->u.content.flags & RULE_CONTENT_NEGATED) && rnd(st) % 2)
            continue;
        memcpy(buf + n, m->u.content.bytes, m->u.content.len);
        n += m->u.content.len;
        buf[n++] = (uint8_t)(rnd(st) % 3 ? ' ' : rnd(st));
    }
    p->payload = buf, p->payload_len = n;
    return n;
}

static int cmp_u32t(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

struct cmp_run {
    const struct engine *e;
    struct engine_scratch *s;
    uint32_t rounds;
    uint64_t seed;
    uint32_t mismatches, alerts;
    uint64_t ns, bytes;
};

/* engine_scan against reference_scan on packets aimed at random rules. */
static void *compare_run(void *arg)
{
    struct cmp_run *c = arg;
    const struct engine *e = c->e;
    struct engine_scratch *s = c->s;
    uint32_t rounds = c->rounds;
    uint64_t st = c->seed;
    uint8_t buf[8192];
    uint32_t mismatches = 0, alerts = 0;
    uint64_t ns = 0, bytes = 0;
    for (uint32_t i = 0; i < rounds && e->n_rules > 0; i++) {
        struct engine_packet p;
        aim(e->rules[rnd(&st) % e->n_rules].r, &st, &p, buf, sizeof(buf));
        struct engine_flowbits fa = { 0 }, fb = { 0 };
        struct hits a = { 0 }, b = { 0 };
        p.flowbits = rnd(&st) % 8 ? &fa : NULL;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        engine_scan(e, s, &p, collect, &a);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        ns += (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000u + (uint64_t)(t1.tv_nsec - t0.tv_nsec);
        bytes += p.payload_len;
        if (p.flowbits)
            p.flowbits = &fb;
        reference_scan(e, s, &p, &b);
        qsort(a.sid, a.n, sizeof(uint32_t), cmp_u32t);
        qsort(b.sid, b.n, sizeof(uint32_t), cmp_u32t);
        alerts += a.n;
        if (a.n != b.n || memcmp(a.sid, b.sid, a.n * sizeof(uint32_t)) != 0 ||
            memcmp(&fa, &fb, sizeof(fa)) != 0) {
            if (mismatches++ < 5)
                fprintf(stderr, "\n    mismatch: engine %u alerts, reference %u (first sid %u/%u)",
                        a.n, b.n, a.n ? a.sid[0] : 0, b.n ? b.sid[0] : 0);
        }
    }
    c->mismatches = mismatches, c->alerts = alerts, c->ns = ns, c->bytes = bytes;
    return NULL;
}

static void compare_reference(const struct engine *e, struct engine_scratch *s, uint32_t rounds)
{
    struct cmp_run c = { .e = e, .s = s, .rounds = rounds, .seed = 42 };
    compare_run(&c);
    uint32_t mismatches = c.mismatches, alerts = c.alerts;
    uint64_t ns = c.ns, bytes = c.bytes;
    fprintf(stderr, "\n    reference check: %u packets, %u alerts, %u mismatches; "
            "engine_scan %.0f ns/packet (%.0f payload bytes avg)\n", rounds, alerts, mismatches,
            rounds ? (double)ns / rounds : 0.0, rounds ? (double)bytes / rounds : 0.0);
    CU_ASSERT_EQUAL(mismatches, 0);
}

/* Two workers, one engine, a scratch each. */
static void compare_threads(const struct engine *e)
{
    struct cmp_run c[2];
    pthread_t t[2];
    for (int i = 0; i < 2; i++) {
        c[i] = (struct cmp_run){ .e = e, .s = engine_scratch_alloc(e), .rounds = 3000,
                                 .seed = 7 + (uint64_t)i };
        CU_ASSERT_PTR_NOT_NULL_FATAL(c[i].s);
        CU_ASSERT_EQUAL(pthread_create(&t[i], NULL, compare_run, &c[i]), 0);
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(t[i], NULL);
        CU_ASSERT_EQUAL(c[i].mismatches, 0);
        engine_scratch_free(c[i].s);
    }
    fprintf(stderr, "    two threads: %u + %u alerts, %u + %u mismatches\n", c[0].alerts,
            c[1].alerts, c[0].mismatches, c[1].mismatches);
}

static void test_et_open(void)
{
    const char *data = getenv("MAMORI_DATA") ? getenv("MAMORI_DATA") : "../shared/data";
    char dir[1024], path[2048], err[512];
    snprintf(dir, sizeof(dir), "%s/rules/et-open", data);
    DIR *d = opendir(dir);
    if (d == NULL) {
        fprintf(stderr, "\n    %s absent: skipped\n", dir);
        return;
    }
    char *names[256];
    uint32_t n = 0;
    for (struct dirent *de; (de = readdir(d)) != NULL && n < 256;) {
        size_t l = strlen(de->d_name);
        if (l > 6 && strcmp(de->d_name + l - 6, ".rules") == 0)
            names[n++] = strdup(de->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof(char *), cmp_str);
    struct ruleset rs;
    ruleset_init(&rs);
    struct rule_vars *v = rule_vars_new();
    for (uint32_t i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        CU_ASSERT_EQUAL(ruleset_load_file(&rs, path, v, NULL, err, sizeof(err)), 0);
        free(names[i]);
    }
    struct engine *e = engine_build(&rs, err, sizeof(err));
    if (e == NULL)
        fprintf(stderr, "\n    engine_build: %s\n", err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    const struct engine_stats *st = engine_stats(e);
    fprintf(stderr, "\n    ET Open: %u files, %u rules loaded (%u skipped, %u failed by the parser)"
            ";\n    engine: %u compiled, %u dropped, "
            "%u prefiltered, %u always (%u address-indexed, %u plain),\n    %u hs fallbacks, "
            "%u pcres (%u jit), %u flowbit names, "
            "%u databases, %u patterns, %zu bytes;\n    build %.0f ms (hyperscan %.0f ms)\n",
            n, rs.n_rules, rs.skipped, rs.failed, st->rules_compiled, st->rules_dropped,
            st->rules_prefiltered,
            st->rules_always, st->rules_addr_indexed, st->always_plain, st->hs_fallback,
            st->pcres, st->pcres_jit, st->flowbit_names,
            st->databases, st->patterns, st->db_bytes, st->compile_ms, st->hs_compile_ms);
    for (uint32_t i = 0; i < st->n_errors && i < 5; i++)
        fprintf(stderr, "    %s\n", engine_error(e, i));
    CU_ASSERT_EQUAL(st->rules_compiled + st->rules_dropped, rs.n_rules);
    CU_ASSERT(st->rules_compiled > rs.n_rules * 9 / 10);
    struct engine_scratch *s = engine_scratch_alloc(e);
    CU_ASSERT_PTR_NOT_NULL(s);
    struct engine_flowbits fb = { 0 };
    struct engine_packet p = {
        .ip_version = 4, .ip_proto = 6, .src_addr = { 10, 0, 0, 1 }, .dst_addr = { 8, 8, 8, 8 },
        .src_port = 40000, .dst_port = 80, .ttl = 64, .payload = (const uint8_t *)HTTP,
        .payload_len = (uint32_t)strlen(HTTP), .to_server = true, .established = true,
        .flowbits = &fb,
    };
    static const char *payloads[] = {
        "GET /index.html HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/7.88\r\n\r\n",
        "POST /wp-login.php HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nuser=",
        "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
        "USER anonymous\r\nPASS guest\r\n", "", "MZ\x90\x00\x03\x00This program",
    };
    uint32_t alerts = 0;
    for (int proto = 0; s != NULL && proto < 3; proto++)
        for (uint16_t port = 20; port < 1100; port += 7)
            for (size_t i = 0; i < sizeof(payloads) / sizeof(payloads[0]); i++) {
                p.ip_proto = proto == 0 ? 6 : proto == 1 ? 17 : 1;
                p.dst_port = port, p.src_port = (uint16_t)(port * 31);
                p.payload = (const uint8_t *)payloads[i];
                p.payload_len = (uint32_t)strlen(payloads[i]);
                p.to_server = port & 1;
                alerts += engine_scan(e, s, &p, NULL, NULL);
            }
    struct timespec t0, t1;
    p.ip_proto = 6, p.dst_port = 80, p.payload = (const uint8_t *)payloads[0];
    p.payload_len = (uint32_t)strlen(payloads[0]);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; s != NULL && i < 100000; i++)
        alerts += engine_scan(e, s, &p, NULL, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    fprintf(stderr, "    sample scan: %u alerts; HTTP GET to port 80: %.0f ns/packet\n", alerts,
            ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / 100000);
    if (s != NULL)
        compare_reference(e, s, 20000);
    compare_threads(e);
    engine_scratch_free(s);
    engine_free(e);
    ruleset_free(&rs);
    rule_vars_free(v);
}

/* Stream inspection: matches across the window/new boundary are found,
 * matches wholly inside the window are not reported again, absolute
 * positions count from the new bytes. */
static void test_stream_window(void)
{
    struct fx f;
    fx_build(&f, "t.rules",
             "alert tcp any any -> any any (content:\"USER root\"; sid:1;)\n"
             "alert tcp any any -> any any (content:\"USER\"; content:\"pass\"; distance:1; sid:2;)\n"
             "alert tcp any any -> any any (content:\"GET\"; depth:3; sid:3;)\n"
             "alert tcp any any -> any any (pcre:\"/^POST/\"; sid:4;)\n"
             "alert tcp any any -> any any (content:\"zz\"; dsize:5; sid:5;)\n"
             "alert tcp any any -> any any (content:!\"nothing\"; dsize:1; sid:6;)\n"
             "alert tcp any any -> any any (content:\"ab\"; sid:7;)\n");
    CU_ASSERT_TRUE(stream_hit(&f, "xxUSER r", "oot", 1));      /* split pattern */
    CU_ASSERT_FALSE(stream_hit(&f, "xxUSER root", "zzz", 1));   /* already inspected */
    CU_ASSERT_TRUE(stream_hit(&f, "USER root", "USER root", 1)); /* a second one */
    CU_ASSERT_TRUE(stream_hit(&f, "USER ", "x pass", 2));      /* chain across */
    CU_ASSERT_FALSE(stream_hit(&f, "USER x pass", "", 2));
    CU_ASSERT_TRUE(stream_hit(&f, "abc", "GET /", 3));         /* depth from new bytes */
    CU_ASSERT_FALSE(stream_hit(&f, "GET /", "abc", 3));
    CU_ASSERT_TRUE(stream_hit(&f, "xyz", "POST /", 4));        /* ^ at the new bytes */
    CU_ASSERT_FALSE(stream_hit(&f, "POST /", "abc", 4));
    CU_ASSERT_TRUE(stream_hit(&f, "0123456789", "zzabc", 5));  /* dsize: the packet's */
    CU_ASSERT_FALSE(stream_hit(&f, "0123", "zzab", 5));
    CU_ASSERT_TRUE(stream_hit(&f, "0123456789", "q", 6));      /* negated only */
    CU_ASSERT_TRUE(stream_hit(&f, "xa", "b", 7));              /* boundary scan */
    CU_ASSERT_FALSE(stream_hit(&f, "xab", "q", 7));
    fx_free(&f);
}

/* A flow direction fed segment by segment as dataplane/stream.c delivers
 * it: [window | new], the window the last 512 bytes before. */
struct stream_feed {
    char buf[4096];
    uint32_t window;
    struct engine_carry carry;
    bool use_carry;
};

static struct hits stream_next(struct fx *f, struct stream_feed *sf, const char *new_bytes)
{
    uint32_t nl = (uint32_t)strlen(new_bytes);
    struct engine_packet p = stream_pkt(f, sf->buf, sf->window, new_bytes, nl);
    p.carry = sf->use_carry ? &sf->carry : NULL;
    struct hits h = scan(f, &p);
    memcpy(sf->buf + sf->window, new_bytes, nl);
    uint32_t total = sf->window + nl, keep = total < 512 ? total : 512;
    memmove(sf->buf, sf->buf + total - keep, keep);
    sf->window = keep;
    return h;
}

/* The carry: rules whose fast pattern lies wholly in the window (found by
 * an earlier packet) still complete with the new bytes, though only the
 * boundary is scanned again; the same alerts as rescanning the window,
 * also when more rules wait than a carry holds, and after it was zeroed
 * mid-stream (a rule reload). */
static void test_stream_carry(void)
{
    struct fx f;
    char rules[4096] = "";
    for (unsigned i = 0; i < ENGINE_CARRY_MAX + 3; i++)
        snprintf(rules + strlen(rules), sizeof(rules) - strlen(rules),
                 "alert tcp any any -> any any (content:\"key%02u=\"; content:\"end\"; "
                 "distance:0; sid:%u;)\n", i, 100 + i);
    strcat(rules, "alert tcp any any -> any any (content:\"USERNAME\"; fast_pattern; "
                  "content:\"pass\"; distance:1; sid:2;)\n");
    fx_build(&f, "t.rules", rules);

    for (int use = 0; use < 2; use++) {
        struct stream_feed sf = { .use_carry = use };
        struct hits h = stream_next(&f, &sf, "USERNAME admin");
        CU_ASSERT_EQUAL(h.n, 0);
        h = stream_next(&f, &sf, "0123456789");
        CU_ASSERT_EQUAL(h.n, 0);
        h = stream_next(&f, &sf, " pass");
        CU_ASSERT_TRUE(has(&h, 2));
        /* 600 bytes later USERNAME has left the window. */
        for (int i = 0; i < 6; i++)
            stream_next(&f, &sf, "...................................................."
                                 "................................................");
        h = stream_next(&f, &sf, " pass");
        CU_ASSERT_FALSE(has(&h, 2));

        /* Two waiting rules fit in the carry; nine do not: the window is
         * scanned again, and all of them complete. */
        h = stream_next(&f, &sf, "key00= key01= ");
        CU_ASSERT_EQUAL(h.n, 0);
        h = stream_next(&f, &sf, "end");
        CU_ASSERT_TRUE(has(&h, 100) && has(&h, 101) && !has(&h, 102));
        char many[256] = "";
        for (unsigned i = 0; i < ENGINE_CARRY_MAX + 3; i++)
            snprintf(many + strlen(many), sizeof(many) - strlen(many), "key%02u= ", i);
        stream_next(&f, &sf, many);
        stream_next(&f, &sf, "x");
        h = stream_next(&f, &sf, "end");
        for (unsigned i = 0; i < ENGINE_CARRY_MAX + 3; i++)
            CU_ASSERT_TRUE(has(&h, 100 + i));

        /* Zeroed mid-stream: the window is scanned again. */
        stream_next(&f, &sf, "USERNAME bob ");
        memset(&sf.carry, 0, sizeof(sf.carry));
        h = stream_next(&f, &sf, "pass");
        CU_ASSERT_TRUE(has(&h, 2));
    }
    fx_free(&f);
}

/* The erule index of a sid (white box: candidates are erule indexes). */
static uint32_t rule_index(const struct engine *e, uint32_t sid)
{
    for (uint32_t i = 0; i < e->n_rules; i++)
        if (e->rules[i].r->sid == sid)
            return i;
    CU_FAIL("sid not in the engine");
    return UINT32_MAX;
}

/* Did the last scan's prefilter offer the rule of `sid`? */
static bool was_candidate(const struct fx *f, uint32_t sid)
{
    uint32_t idx = rule_index(f->e, sid);
    for (uint32_t i = 0; i < f->s->n_cand; i++)
        if (f->s->cand[i] == idx)
            return true;
    return false;
}

static bool ported(const struct eprefilter *g, uint16_t port)
{
    return g->ported != NULL && (g->ported[port >> 3] >> (port & 7) & 1);
}

/* Large address and port indexes take the slot table: every key must find
 * exactly the rules whose ranges hold it, at range edges, slot edges and
 * the ends of the key space. Rule k (sid 100 + k) lists the /28 at
 * (k * 2^25 + k * 4096) and the single address after it, and rule 200 + k
 * ports 300 * k + 1 .. 300 * k + 7. */
static uint32_t slot_rule_addr(uint32_t k)
{
    return k * (1u << 25) + k * 4096u;
}

static void test_index_slots(void)
{
    enum { N = 120 };
    size_t cap = N * 200;
    char *text = malloc(cap), *w = text;
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    for (uint32_t k = 0; k < N; k++) {
        uint32_t a = slot_rule_addr(k % 128), b = a + 16;
        w += sprintf(w, "alert ip [%u.%u.%u.%u/28,%u.%u.%u.%u] any -> any any (sid:%u;)\n",
                     a >> 24, a >> 16 & 255, a >> 8 & 255, a & 255,
                     b >> 24, b >> 16 & 255, b >> 8 & 255, b & 255, 100 + k);
        w += sprintf(w, "alert tcp any any -> any %u:%u (flags:S; sid:%u;)\n",
                     300 * k + 1, 300 * k + 7, 1000 + k);
    }
    w += sprintf(w, "alert ip 172.30.0.0/15 any -> any any (sid:99;)\n");   /* two map blocks */
    struct fx f;
    fx_build(&f, "t.rules", text);
    free(text);
    const struct egroup *tcp = &f.e->g[EG_TCP];
    CU_ASSERT_PTR_NOT_NULL(tcp->ix[0].slot);
    CU_ASSERT_PTR_NOT_NULL(tcp->dport.slot);
    CU_ASSERT_PTR_NOT_NULL(tcp->dport.map);
    /* the map: a bit for each block holding a listed address, no more */
    CU_ASSERT_PTR_NOT_NULL_FATAL(tcp->ix[0].map);
    uint32_t blocks = 0;
    for (uint32_t i = 0; i < (1u << AINDEX_MAP_BITS) / 64; i++)
        blocks += (uint32_t)__builtin_popcountll(tcp->ix[0].map[i]);
    CU_ASSERT_EQUAL(blocks, N + (1u << (AINDEX_MAP_BITS - 15)));      /* + the /15's */
    static const char *const wide[] = { "172.29.255.255", "172.30.0.0", "172.31.255.255",
                                        "172.32.0.0" };
    for (size_t i = 0; i < sizeof(wide) / sizeof(wide[0]); i++) {
        struct engine_packet p = pkt(&f, 17, wide[i], 1, "192.168.0.1", 2, NULL, 0);
        p.ip_only_done = false;
        struct hits h = scan(&f, &p);
        CU_ASSERT_EQUAL(has(&h, 99), i == 1 || i == 2);
    }

    static const int32_t deltas[] = { -1, 0, 1, 15, 16, 17 };
    for (uint32_t k = 0; k < N; k++) {
        for (size_t d = 0; d < sizeof(deltas) / sizeof(deltas[0]); d++) {
            uint32_t x = slot_rule_addr(k) + (uint32_t)deltas[d];
            char src[32];
            snprintf(src, sizeof(src), "%u.%u.%u.%u", x >> 24, x >> 16 & 255, x >> 8 & 255,
                     x & 255);
            struct engine_packet p = pkt(&f, 17, src, 1, "192.168.0.1", 2, NULL, 0);
            p.ip_only_done = false;
            struct hits h = scan(&f, &p);
            bool want = deltas[d] >= 0 && deltas[d] <= 16;   /* the /28, then the single */
            CU_ASSERT_EQUAL(has(&h, 100 + k), want);
            CU_ASSERT_EQUAL(h.n, want ? 1u : 0u);
        }
        for (uint32_t port = 300 * k; port <= 300 * k + 8; port++) {
            struct engine_packet p = pkt(&f, 6, "10.0.0.1", 1, "10.0.0.2", (uint16_t)port,
                                         NULL, 0);
            p.tcp_flags = 0x02;
            struct hits h = scan(&f, &p);
            bool want = port >= 300 * k + 1 && port <= 300 * k + 7;
            CU_ASSERT_EQUAL(has(&h, 1000 + k), want);
        }
    }
    /* the ends of the key spaces */
    struct engine_packet p = pkt(&f, 17, "255.255.255.255", 1, "0.0.0.0", 2, NULL, 0);
    CU_ASSERT_EQUAL(scan(&f, &p).n, 0u);
    p = pkt(&f, 6, "10.0.0.1", 1, "10.0.0.2", 65535, NULL, 0);
    p.tcp_flags = 0x02;
    CU_ASSERT_EQUAL(scan(&f, &p).n, 0u);
    fx_free(&f);
}

/* Address classes: a fast pattern is in the databases of the classes
 * ($HOME_NET or not, each side) its rule's addresses allow, so a packet's
 * prefilter never offers a rule of the other direction. The default
 * $HOME_NET is RFC 1918, IPv4 only. Classes: bit 1 source home, bit 0
 * destination home. */
static void test_address_classes(void)
{
    struct fx f;
    fx_build(&f, "t.rules",
             "alert tcp $EXTERNAL_NET any -> $HOME_NET any (content:\"inbound\"; sid:1;)\n"
             "alert tcp $HOME_NET any -> $EXTERNAL_NET any (content:\"outbound\"; sid:2;)\n"
             "alert tcp any any -> any any (content:\"anywhere\"; sid:3;)\n"
             "alert tcp $HOME_NET any <> $EXTERNAL_NET any (content:\"both\"; sid:4;)\n"
             "alert tcp $EXTERNAL_NET any -> $HOME_NET 80 (content:\"ported\"; sid:5;)\n"
             "alert tcp 8.8.8.0/24 any -> [10.0.0.0/8,1.1.1.1] any (content:\"mixed\"; sid:6;)\n");
    CU_ASSERT_TRUE(f.e->split);
    const char *data = "inbound outbound anywhere both ported mixed";
    uint32_t len = (uint32_t)strlen(data);

    struct engine_packet in = pkt(&f, 6, "8.8.8.8", 1234, "10.0.0.1", 80, data, len);
    struct hits h = scan(&f, &in);
    CU_ASSERT_TRUE(has(&h, 1) && has(&h, 3) && has(&h, 4) && has(&h, 5) && has(&h, 6));
    CU_ASSERT_FALSE(has(&h, 2) || was_candidate(&f, 2));

    struct engine_packet out = pkt(&f, 6, "10.0.0.1", 80, "8.8.8.8", 1234, data, len);
    h = scan(&f, &out);
    CU_ASSERT_TRUE(has(&h, 2) && has(&h, 3) && has(&h, 4));
    CU_ASSERT_FALSE(was_candidate(&f, 1) || was_candidate(&f, 5) || was_candidate(&f, 6));

    struct engine_packet foreign = pkt(&f, 6, "8.8.8.8", 1234, "1.1.1.1", 80, data, len);
    h = scan(&f, &foreign);
    CU_ASSERT_TRUE(has(&h, 3) && has(&h, 6) && h.n == 2);
    CU_ASSERT_FALSE(was_candidate(&f, 1) || was_candidate(&f, 2) || was_candidate(&f, 4) ||
                    was_candidate(&f, 5));

    struct engine_packet local = pkt(&f, 6, "192.168.1.1", 1234, "172.16.0.1", 80, data, len);
    h = scan(&f, &local);
    CU_ASSERT_TRUE(has(&h, 3) && h.n == 1);
    CU_ASSERT_FALSE(was_candidate(&f, 1) || was_candidate(&f, 2) || was_candidate(&f, 4) ||
                    was_candidate(&f, 6));

    /* IPv6 is outside the default $HOME_NET */
    struct engine_packet v6 = pkt(&f, 6, "2001:db8::1", 1234, "2001:db8::2", 80, data, len);
    h = scan(&f, &v6);
    CU_ASSERT_TRUE(has(&h, 3) && h.n == 1);
    CU_ASSERT_FALSE(was_candidate(&f, 1));

    /* one database per class, and `all` only where a rule lists a port */
    const struct egroup *tcp = &f.e->g[EG_TCP];
    for (unsigned c = 0; c < ENGINE_ADDR_CLASSES; c++) {
        CU_ASSERT_PTR_NOT_NULL(tcp->pf[c].any);
        CU_ASSERT_FALSE(tcp->pf[c].borrowed);
        CU_ASSERT_EQUAL(tcp->pf[c].all != NULL, c == 1);
    }
    CU_ASSERT_EQUAL(engine_stats(f.e)->databases, 5);
    fx_free(&f);

    /* an IPv6 $HOME_NET: IPv6 rule addresses are placed in every class they
     * might reach (here all four, so the classes are one set), and each
     * direction still finds its own rule */
    fx_build_home(&f, "[10.0.0.0/8,2001:db8::/32]", "t.rules",
                  "alert tcp $EXTERNAL_NET any -> $HOME_NET any (content:\"in6\"; sid:1;)\n"
                  "alert tcp $HOME_NET any -> $EXTERNAL_NET any (content:\"out6\"; sid:2;)\n");
    CU_ASSERT_FALSE(f.e->split);      /* both rules in every class: one set, shared */
    struct engine_packet in6 = pkt(&f, 6, "2001:db9::1", 1234, "2001:db8::1", 80, "in6 out6", 8);
    h = scan(&f, &in6);
    CU_ASSERT_TRUE(has(&h, 1) && h.n == 1);
    struct engine_packet out6 = pkt(&f, 6, "2001:db8::1", 80, "2001:db9::1", 1234, "in6 out6", 8);
    h = scan(&f, &out6);
    CU_ASSERT_TRUE(has(&h, 2) && h.n == 1);
    fx_free(&f);

    /* a $HOME_NET of many ranges (searched, not scanned range by range) */
    fx_build_home(&f, "[1.0.0.0/8,2.0.0.0/8,3.0.0.0/8,4.0.0.0/8,10.0.0.0/8]", "t.rules",
                  "alert tcp $EXTERNAL_NET any -> $HOME_NET any (content:\"in\"; sid:1;)\n"
                  "alert tcp $HOME_NET any -> $EXTERNAL_NET any (content:\"out\"; sid:2;)\n");
    CU_ASSERT_TRUE(f.e->split);
    struct engine_packet in4 = pkt(&f, 6, "8.8.8.8", 1234, "10.0.0.1", 80, "in out", 6);
    h = scan(&f, &in4);
    CU_ASSERT_TRUE(has(&h, 1) && h.n == 1);
    struct engine_packet out4 = pkt(&f, 6, "4.1.1.1", 80, "8.8.8.8", 1234, "in out", 6);
    h = scan(&f, &out4);
    CU_ASSERT_TRUE(has(&h, 2) && h.n == 1);
    CU_ASSERT_FALSE(was_candidate(&f, 1));
    fx_free(&f);

    /* $HOME_NET any: one class, every rule in it */
    fx_build_home(&f, "any", "t.rules",
                  "alert tcp $HOME_NET any -> any any (content:\"x\"; sid:1;)\n");
    CU_ASSERT_FALSE(f.e->split);
    CU_ASSERT_EQUAL(engine_stats(f.e)->databases, 1);
    fx_free(&f);
}

static int count_hs(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                    void *ctx)
{
    (void)id, (void)from, (void)to, (void)flags;
    (*(uint32_t *)ctx)++;
    return 0;
}

struct edge_hits {
    uint32_t n;
    unsigned ids[16];
};

static int collect_hs(unsigned id, unsigned long long from, unsigned long long to,
                      unsigned flags, void *ctx)
{
    (void)from, (void)to, (void)flags;
    struct edge_hits *h = ctx;
    if (h->n < 16)
        h->ids[h->n++] = id;
    return 0;
}

/* The sid of the edge scan's hit for a rule, with the port-listed mark, or 0. */
static uint32_t edge_sid(const struct fx *f, const struct edge_hits *h, uint32_t sid)
{
    for (uint32_t i = 0; i < h->n; i++)
        if (f->e->rules[h->ids[i] & ~ENGINE_ID_PORTED].r->sid == sid)
            return sid | (h->ids[i] & ENGINE_ID_PORTED);
    return 0;
}

/* Rules for the edge database test: three bounded fast patterns among its
 * own, and n_bound more. */
static char *edge_ruleset(unsigned n_bound)
{
    char *text = malloc(4096 + (size_t)n_bound * 100), *w = text;
    if (text == NULL)
        return NULL;
    w += sprintf(w, "%s",
                 "alert tcp any any -> any any (content:\"floating\"; sid:1;)\n"
                 "alert tcp any any -> any any (content:\"anchored\"; depth:8; sid:2;)\n"
                 "alert tcp any any -> any any (content:\"offset\"; offset:2; sid:3;)\n"
                 "alert tcp any any -> any any (content:\"a\"; content:\"relative\"; "
                 "distance:0; fast_pattern; sid:4;)\n"
                 "alert tcp any any -> any 80 (content:\"ported\"; sid:5;)\n"
                 "alert tcp any any -> any 80 (content:\"portanch\"; startswith; sid:6;)\n"
                 "alert udp any any -> any any (content:\"floating\"; sid:7;)\n");
    for (unsigned k = 0; k < n_bound; k++)
        w += sprintf(w, "alert tcp any any -> any any (content:\"bound%04u\"; depth:9; "
                        "sid:%u;)\n", k, 100 + k);
    return text;
}

/* A floating pattern across a stream packet's boundary is found; a bounded
 * one there is not (it counts from the new bytes). */
static void expect_edge_stream(struct fx *f)
{
    struct stream_feed sf = { .use_carry = true };
    struct hits h = stream_next(f, &sf, "a first segment longer than the boundary's tail, flo");
    CU_ASSERT_FALSE(has(&h, 1));
    h = stream_next(f, &sf, "ating");
    CU_ASSERT_TRUE(has(&h, 1));
    h = stream_next(f, &sf, " and a second segment as long as the tail, ancho");
    CU_ASSERT_FALSE(has(&h, 2));
    h = stream_next(f, &sf, "red");
    CU_ASSERT_FALSE(has(&h, 2));
}

/* A TCP class's edge database, for a stream packet's boundary, holds what
 * can cross it: the floating fast patterns (relative ones too), port-listed
 * ones marked. Bounded ones count from the new bytes and lie in them. A
 * class gets one only with ENGINE_EDGE_BOUNDED_MIN bounded patterns. */
static void test_edge_database(void)
{
    char *text = edge_ruleset(ENGINE_EDGE_BOUNDED_MIN - 3);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    struct fx f;
    fx_build(&f, "t.rules", text);
    free(text);
    const struct eprefilter *pf = &f.e->g[EG_TCP].pf[0];
    CU_ASSERT_PTR_NOT_NULL_FATAL(pf->edge);
    CU_ASSERT_PTR_NULL(f.e->g[EG_UDP].pf[0].edge);          /* no streams */
    const char *buf = "anchored offset floating relative ported portanch bound0000";
    struct edge_hits h = { 0 };
    CU_ASSERT_EQUAL(hs_scan(pf->edge, buf, (unsigned)strlen(buf), 0, f.s->hs, collect_hs, &h),
                    HS_SUCCESS);
    CU_ASSERT_EQUAL(h.n, 3);
    CU_ASSERT_EQUAL(edge_sid(&f, &h, 1), 1);
    CU_ASSERT_EQUAL(edge_sid(&f, &h, 4), 4);
    CU_ASSERT_EQUAL(edge_sid(&f, &h, 5), 5 | ENGINE_ID_PORTED);
    CU_ASSERT_FALSE(edge_sid(&f, &h, 2) || edge_sid(&f, &h, 3) || edge_sid(&f, &h, 6) ||
                    edge_sid(&f, &h, 100));
    expect_edge_stream(&f);
    fx_free(&f);

    /* one bounded pattern fewer: none, the boundary is scanned with the class's own */
    text = edge_ruleset(ENGINE_EDGE_BOUNDED_MIN - 4);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    fx_build(&f, "t.rules", text);
    free(text);
    CU_ASSERT_PTR_NULL(f.e->g[EG_TCP].pf[0].edge);
    CU_ASSERT_PTR_NOT_NULL(f.e->g[EG_TCP].pf[0].any);
    expect_edge_stream(&f);
    fx_free(&f);
}

static bool has_bigram(const struct eprefilter *pf, char a, char b)
{
    uint32_t k = (uint32_t)(uint8_t)a << 8 | (uint8_t)b;
    return pf->bigrams[k / 64] >> (k % 64) & 1;
}

/* A TCP class's bigrams are the adjacent byte pairs of its floating
 * patterns, in every case a caseless one matches; a boundary whose two
 * bytes are no such pair is not scanned, and loses nothing by it. */
static void test_edge_bigrams(void)
{
    struct fx f;
    fx_build(&f, "t.rules",
             "alert tcp any any -> any any (content:\"Floating\"; nocase; sid:1;)\n"
             "alert tcp any any -> any 80 (content:\"XYZ\"; sid:2;)\n"
             "alert tcp any any -> any any (content:\"qj\"; depth:2; sid:3;)\n");
    const struct eprefilter *pf = &f.e->g[EG_TCP].pf[0];
    CU_ASSERT_PTR_NOT_NULL_FATAL(pf->bigrams);
    CU_ASSERT_PTR_NULL(f.e->g[EG_UDP].pf[0].bigrams);       /* no streams */
    CU_ASSERT_TRUE(has_bigram(pf, 'F', 'l') && has_bigram(pf, 'f', 'L') &&
                   has_bigram(pf, 'f', 'l') && has_bigram(pf, 'N', 'G'));
    CU_ASSERT_TRUE(has_bigram(pf, 'X', 'Y') && has_bigram(pf, 'Y', 'Z'));   /* port-listed */
    CU_ASSERT_FALSE(has_bigram(pf, 'x', 'y') || has_bigram(pf, 'Y', 'z'));  /* case kept */
    CU_ASSERT_FALSE(has_bigram(pf, 'q', 'j'));               /* bounded */
    CU_ASSERT_FALSE(has_bigram(pf, 'l', 'F') || has_bigram(pf, 'g', 'F'));

    struct stream_feed sf = { .use_carry = true };   /* to port 80 */
    struct hits h = stream_next(&f, &sf, "a first segment longer than the boundary's tail, flOA");
    CU_ASSERT_FALSE(has(&h, 1));
    h = stream_next(&f, &sf, "TinG, and then XY");
    CU_ASSERT_TRUE(has(&h, 1));
    CU_ASSERT_FALSE(has(&h, 2));
    h = stream_next(&f, &sf, "Z");
    CU_ASSERT_TRUE(has(&h, 2));
    fx_free(&f);
}

/* Databases compile side by side; a pattern Hyperscan refuses is taken out
 * of its job (reported with its id and message) and the rest compiled. */
static void test_compile_jobs(void)
{
    struct hs_job jobs[5], *todo[5];
    const char *ok[] = { "abc", "\\x00\\x01", "xyz" };
    for (unsigned i = 0; i < 5; i++) {
        CU_ASSERT_TRUE_FATAL(hs_job_init(&jobs[i], 4));
        todo[i] = &jobs[i];
    }
    for (unsigned i = 0; i < 4; i++)       /* jobs 0..3: good patterns */
        for (unsigned k = 0; k < 3; k++)
            hs_job_add(&jobs[i], strdup(ok[k]), HS_FLAG_SINGLEMATCH, 10 * i + k, NULL);
    hs_expr_ext_t never = { .flags = HS_EXT_FLAG_MIN_OFFSET | HS_EXT_FLAG_MAX_OFFSET,
                            .min_offset = 10, .max_offset = 5 };
    hs_job_add(&jobs[1], strdup("def"), 0, 13, &never);     /* cannot match: refused */
    hs_job_add(&jobs[2], strdup("(ab"), 0, 23, NULL);        /* bad syntax: refused */
    hs_job_add(&jobs[4], strdup("(x"), 0, 40, NULL);         /* job 4: nothing compiles */
    CU_ASSERT_TRUE(hs_jobs_compile(todo, 5) >= 1);

    for (unsigned i = 0; i < 4; i++) {
        CU_ASSERT_EQUAL(jobs[i].rc, 0);
        CU_ASSERT_PTR_NOT_NULL(jobs[i].db);
        CU_ASSERT_EQUAL(jobs[i].n, 3);
    }
    CU_ASSERT_EQUAL(jobs[0].n_refused, 0);
    CU_ASSERT_EQUAL(jobs[1].n_refused, 1);
    CU_ASSERT_EQUAL(jobs[1].refused_ids[0], 13);
    CU_ASSERT_EQUAL(jobs[2].n_refused, 1);
    CU_ASSERT_EQUAL(jobs[2].refused_ids[0], 23);
    CU_ASSERT_PTR_NOT_NULL(jobs[2].refused_why[0]);
    CU_ASSERT_EQUAL(jobs[4].rc, 0);
    CU_ASSERT_PTR_NULL(jobs[4].db);         /* its one pattern refused: no database */
    CU_ASSERT_EQUAL(jobs[4].n_refused, 1);

    /* the survivors still match */
    hs_scratch_t *scratch = NULL;
    CU_ASSERT_EQUAL_FATAL(hs_alloc_scratch(jobs[2].db, &scratch), HS_SUCCESS);
    uint32_t hits = 0;
    CU_ASSERT_EQUAL(hs_scan(jobs[2].db, "..abc..xyz", 10, 0, scratch, count_hs, &hits),
                    HS_SUCCESS);
    CU_ASSERT_EQUAL(hits, 2);
    hs_free_scratch(scratch);
    for (unsigned i = 0; i < 5; i++) {
        hs_free_database(jobs[i].db);
        hs_job_free(&jobs[i]);
    }
}

/* One database scan per packet: "any" rules everywhere, port-listed rules
 * (one pattern each, in the group's second database) only for packets to
 * their ports; header-only rules naming destination ports come from the
 * port index, not from every packet's list. */
static void test_port_groups(void)
{
    struct fx f;
    fx_build(&f, "t.rules",
             "alert tcp any any -> any any (content:\"alpha\"; sid:1;)\n"
             "alert tcp any any -> any 80 (content:\"bravo\"; sid:2;)\n"
             "alert tcp any any -> any [8080,9000:9002] (content:\"bravo\"; sid:3;)\n"
             "alert tcp any any -> any 22 (flags:S; sid:4;)\n"
             "alert tcp any any -> any [6000:6010,7000] (flags:S; sid:5;)\n"
             "alert tcp any any -> any 1:1024 (flags:S; sid:6;)\n"
             "alert tcp any any <> any 22 (flags:S; sid:7;)\n"
             "alert udp any any -> any 53 (content:\"charlie\"; sid:8;)\n"
             "alert tcp any any -> any 1:1024 (content:\"delta\"; sid:9;)\n");
    const struct engine_stats *st = engine_stats(f.e);
    CU_ASSERT_EQUAL(st->rules_port_indexed, 3);     /* 4, 5, 6; 7 is <> */
    CU_ASSERT_EQUAL(st->always_plain, 1);
    CU_ASSERT_EQUAL(st->databases, 3);              /* tcp any, tcp all, udp all */
    CU_ASSERT_EQUAL(st->patterns, 2 + 4 + 1);       /* {1,9}, {1,9,2,3}, {8} */
    CU_ASSERT_EQUAL(st->group[0].databases, 2);
    /* rules for any address: every address class shares one set, and a
     * packet's class is not worked out */
    const struct eprefilter *tcp = &f.e->g[EG_TCP].pf[3], *udp = &f.e->g[EG_UDP].pf[3];
    CU_ASSERT_TRUE(tcp->borrowed && tcp->any == f.e->g[EG_TCP].pf[0].any);
    CU_ASSERT_FALSE(f.e->split);
    CU_ASSERT_PTR_NOT_NULL(tcp->any);
    CU_ASSERT_PTR_NOT_NULL(tcp->all);
    CU_ASSERT_PTR_NULL(udp->any);
    CU_ASSERT_TRUE(ported(tcp, 80) && ported(tcp, 8080) && ported(tcp, 9000) &&
                   ported(tcp, 9002) && ported(udp, 53));
    CU_ASSERT_FALSE(ported(tcp, 81) || ported(tcp, 9003) || ported(tcp, 22) ||
                    ported(tcp, 53) || ported(udp, 80));

    const char *data = "alpha bravo delta";
    struct engine_packet p = pkt(&f, 6, "10.1.2.3", 1234, "192.168.1.1", 80, data, 17);
    struct hits h = scan(&f, &p);
    CU_ASSERT_TRUE(has(&h, 1) && has(&h, 2) && has(&h, 9) && !has(&h, 3));
    CU_ASSERT_FALSE(was_candidate(&f, 3));          /* its hit is dropped in the scan */
    p.dst_port = 9001;
    h = scan(&f, &p);
    CU_ASSERT_TRUE(has(&h, 1) && has(&h, 3) && !has(&h, 9) && !has(&h, 2));
    CU_ASSERT_FALSE(was_candidate(&f, 2));
    p.dst_port = 8080;
    CU_ASSERT_TRUE(hit_pkt(&f, &p, 3));
    p.dst_port = 81;
    h = scan(&f, &p);
    CU_ASSERT_TRUE(has(&h, 1) && has(&h, 9) && !has(&h, 2) && !has(&h, 3));
    p.dst_port = 2000;
    h = scan(&f, &p);
    CU_ASSERT_TRUE(has(&h, 1) && !has(&h, 9));

    /* header-only SYN rules, by destination port */
    static const struct { uint16_t port; bool s4, s5, s6; } syn[] = {
        { 22, true, false, true }, { 6000, false, true, false }, { 6010, false, true, false },
        { 6011, false, false, false }, { 7000, false, true, false }, { 1, false, false, true },
        { 1024, false, false, true }, { 1025, false, false, false },
    };
    p.payload = NULL, p.payload_len = 0, p.tcp_flags = 0x02;
    for (size_t i = 0; i < sizeof(syn) / sizeof(syn[0]); i++) {
        p.dst_port = syn[i].port;
        h = scan(&f, &p);
        CU_ASSERT_EQUAL(has(&h, 4), syn[i].s4);
        CU_ASSERT_EQUAL(has(&h, 5), syn[i].s5);
        CU_ASSERT_EQUAL(has(&h, 6), syn[i].s6);
        CU_ASSERT_EQUAL(has(&h, 7), syn[i].port == 22);
        CU_ASSERT_EQUAL(was_candidate(&f, 5), syn[i].s5);   /* not offered elsewhere */
    }
    p = pkt(&f, 17, "10.1.2.3", 1234, "192.168.1.1", 53, "xcharliex", 9);
    CU_ASSERT_TRUE(hit_pkt(&f, &p, 8));
    p.dst_port = 54;
    CU_ASSERT_FALSE(hit_pkt(&f, &p, 8));
    fx_free(&f);
}

/* Fast patterns longer than ENGINE_FP_LITERAL_MAX are prefiltered by their
 * first bytes: offsets and depth still hold at their exact limits, and a
 * long content split across stream packets, its literal in the window or
 * across the boundary, is found once, with or without a carry. */
static void test_long_fast_pattern(void)
{
    char c40[41], c100[101], rules[1024];
    for (int i = 0; i < 40; i++)
        c40[i] = "0123456789abcdefghijklmnopqrstuvwxyz"[i % 36];
    c40[40] = '\0';
    for (int i = 0; i < 100; i++)
        c100[i] = (char)('A' + (i * 7) % 26);
    c100[100] = '\0';
    snprintf(rules, sizeof(rules),
             "alert tcp any any -> any any (content:\"%s\"; offset:5; depth:40; sid:1;)\n"
             "alert tcp any any -> any any (content:\"%s\"; sid:2;)\n"
             "alert tcp any any -> any any (content:\"%s\"; depth:45; sid:3;)\n", c40, c100,
             c40);
    struct fx f;
    fx_build(&f, "t.rules", rules);
    CU_ASSERT_EQUAL(f.e->max_fp_len, ENGINE_FP_LITERAL_MAX);
    CU_ASSERT_EQUAL(engine_stats(f.e)->hs_fallback, 0);    /* all prefiltered */
    char buf[256];
    snprintf(buf, sizeof(buf), "xxxxx%s", c40);
    EXPECT_SID(&f, buf, 1, true);                   /* ends at depth exactly */
    EXPECT_SID(&f, buf, 3, true);
    snprintf(buf, sizeof(buf), "xxxxxx%s", c40);
    EXPECT_SID(&f, buf, 1, false);
    EXPECT_SID(&f, buf, 3, false);
    snprintf(buf, sizeof(buf), "xxxx%s", c40);
    EXPECT_SID(&f, buf, 1, false);
    snprintf(buf, sizeof(buf), "%.32sZ%s", c100, c100 + 33);
    EXPECT_SID(&f, buf, 2, false);                  /* the literal alone is not enough */

    static const uint32_t splits[] = { 70, 20, 1, 99 };
    for (int use = 0; use < 2; use++)
        for (size_t k = 0; k < sizeof(splits) / sizeof(splits[0]); k++) {
            struct stream_feed sf = { .use_carry = use };
            char a[128], b[128];
            snprintf(a, sizeof(a), "hello %.*s", (int)splits[k], c100);
            snprintf(b, sizeof(b), "%s world", c100 + splits[k]);
            struct hits h = stream_next(&f, &sf, a);
            CU_ASSERT_FALSE(has(&h, 2));
            h = stream_next(&f, &sf, b);
            CU_ASSERT_TRUE(has(&h, 2));
            h = stream_next(&f, &sf, "more");
            CU_ASSERT_FALSE(has(&h, 2));
        }
    fx_free(&f);
}

/* A second build from the on-disk cache reads every database instead of
 * compiling, and matches the same. */
static void test_database_cache(void)
{
    char dir[] = "/tmp/mamori-cache-XXXXXX", err[256];
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    struct fx f;
    fx_build(&f, "t.rules",
             "alert tcp any any -> any 80 (content:\"GET /admin\"; sid:1;)\n"
             "alert tcp any any -> any any (content:\"secret\"; nocase; depth:20; sid:2;)\n"
             "alert udp any any -> any 53 (content:\"|01 00 00 01|\"; offset:2; sid:3;)\n");
    struct engine *cold = engine_build_cached(&f.rs, dir, err, sizeof(err));
    struct engine *warm = engine_build_cached(&f.rs, dir, err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(cold);
    CU_ASSERT_PTR_NOT_NULL_FATAL(warm);
    const struct engine_stats *c = engine_stats(cold), *w = engine_stats(warm);
    CU_ASSERT_EQUAL(c->cache_hits + c->cache_stores, c->databases);
    CU_ASSERT(c->cache_stores > 0);
    CU_ASSERT_EQUAL(w->cache_hits, w->databases);
    CU_ASSERT_EQUAL(w->cache_stores, 0);
    CU_ASSERT_EQUAL(w->patterns, c->patterns);
    struct engine_scratch *s = engine_scratch_alloc(warm);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    struct engine_packet p = tcp_str(&f, "GET /admin SECRET");
    struct hits h = { 0 };
    engine_scan(warm, s, &p, collect, &h);
    CU_ASSERT_TRUE(has(&h, 1) && has(&h, 2));
    engine_scratch_free(s);
    engine_free(cold);
    engine_free(warm);
    fx_free(&f);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    CU_ASSERT_EQUAL(system(cmd), 0);
}

int main(void)
{
    CU_TestInfo cases[] = {
        { "content offset/depth", test_offset_depth },
        { "content distance/within", test_distance_within },
        { "nocase, negation, hex", test_nocase_negation_hex },
        { "relative chains backtrack", test_backtracking },
        { "startswith/endswith", test_startswith_endswith },
        { "fast_pattern chop, hs offsets", test_fast_pattern_chop },
        { "pcre flags and relative", test_pcre },
        { "isdataat", test_isdataat },
        { "byte_test/jump/extract", test_byte_ops },
        { "header addresses/ports/direction", test_header },
        { "flow", test_flow },
        { "flowbits across packets", test_flowbits },
        { "flowbits |, &, toggle, name limit", test_flowbits_groups_and_limit },
        { "dsize/flags/itype/ttl/ip_proto", test_packet_tests },
        { "pass suppresses alerts", test_pass },
        { "bad pcre dropped", test_bad_pcre_dropped },
        { "stats", test_stats },
        { "pcre and backtracking limits", test_limits },
        { "noalert, IPv6 header", test_noalert_and_v6_header },
        { "stream window", test_stream_window },
        { "stream carry", test_stream_carry },
        { "port groups: one scan, port index", test_port_groups },
        { "address classes", test_address_classes },
        { "databases compiled side by side", test_compile_jobs },
        { "edge database: the patterns that can cross a boundary", test_edge_database },
        { "edge bigrams: only a boundary a pattern can cross is scanned", test_edge_bigrams },
        { "index slot tables", test_index_slots },
        { "long fast patterns", test_long_fast_pattern },
        { "database cache", test_database_cache },
        { "ET Open build", test_et_open },
        CU_TEST_INFO_NULL,
    };
    return cunit_run("engine", cases);
}
