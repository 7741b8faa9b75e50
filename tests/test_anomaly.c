/* test_anomaly.c - the statistical detectors (detectors/anomaly*.c).
 *
 * A harness drives them the way the sensor does: per-worker flow tables
 * (dataplane/flow_table.h), flows spread over workers by the symmetric
 * flow hash, every worker ticked on each second of packet time, the engine
 * polled after each tick. Packets come from three places:
 *
 *   - a synthetic generator (below): benign background (web connections,
 *     DNS, a UDP stream, pings) with an attack of a chosen kind, rate and
 *     start laid over it;
 *   - real captures, read with libpcap and decoded with decode_packet();
 *   - hand-made sequences for the lifecycle and merge tests.
 *
 * Captures come from $MAMORI_DATA (tests/meson.build sets it); a missing
 * capture fails its test. Set MAMORI_ANOMALY_VERBOSE=1 to print alerts. */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>

#include "anomaly.h"
#include "anomaly_int.h"
#include "cunit_run.h"
#include "decoder.h"
#include "flow_table.h"
#include "worker.h"

#define SEC 1000000000ull
#define T0 (1700000000ull * SEC)

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10
#define TH_ECE 0x40
#define TH_CWR 0x80

static bool verbose;

/* ---- harness ------------------------------------------------------------------------ */

#define MAX_WORKERS 4

struct harness;

struct wctx {
    struct harness *h;
    unsigned w;
};

struct harness {
    struct anomaly_engine *e;
    unsigned nw;
    struct flow_table *ft[MAX_WORKERS];
    struct anomaly_worker *aw[MAX_WORKERS];
    struct wctx ctx[MAX_WORKERS];
    uint64_t sec;
    uint64_t last_ts;
    bool started;
    struct anomaly_alert *alerts;
    size_t n_alerts, cap_alerts;
};

static void print_alert(const struct anomaly_alert *a)
{
    char v[64] = "-", s[64] = "-";
    if (a->victim.version)
        inet_ntop(a->victim.version == 6 ? AF_INET6 : AF_INET, a->victim.addr, v, sizeof(v));
    if (a->attacker.version)
        inet_ntop(a->attacker.version == 6 ? AF_INET6 : AF_INET, a->attacker.addr, s, sizeof(s));
    printf("\n      %-6s %u:%u %s | t=%.3f id=%llu %s=%.0f th=%.0f mean=%.1f score=%.1f "
           "pps=%.0f bps=%.0f srcs=%llu top=%u victim=%s attacker=%s",
           anomaly_phase_name(a->phase), a->gid, a->sid, a->signature,
           (double)(a->ts_ns % (1000 * SEC)) / SEC, (unsigned long long)a->attack_id,
           a->metric ? a->metric : "-", a->value, a->threshold, a->baseline_mean, a->score,
           a->pps, a->bps, (unsigned long long)a->distinct_sources, a->n_top, v, s);
}

static void on_alert(void *ctx, const struct anomaly_alert *a)
{
    struct harness *h = ctx;
    if (h->n_alerts == h->cap_alerts) {
        h->cap_alerts = h->cap_alerts ? 2 * h->cap_alerts : 64;
        h->alerts = realloc(h->alerts, h->cap_alerts * sizeof(*h->alerts));
        CU_ASSERT_FATAL(h->alerts != NULL);
    }
    h->alerts[h->n_alerts++] = *a;
    if (verbose)
        print_alert(a);
}

static void on_flow_end(void *ctx, const struct flow *f, enum flow_end_reason reason)
{
    struct wctx *c = ctx;
    anomaly_worker_flow_end(c->h->aw[c->w], f, reason);
}

static struct harness *harness_new(const struct anomaly_config *cfg, unsigned nw)
{
    struct harness *h = calloc(1, sizeof(*h));
    char err[256];
    CU_ASSERT_FATAL(h != NULL);
    h->nw = nw;
    h->e = anomaly_engine_create(cfg, nw, on_alert, h, err, sizeof(err));
    if (h->e == NULL)
        fprintf(stderr, "%s\n", err);
    CU_ASSERT_FATAL(h->e != NULL);
    struct flow_table_config fc;
    flow_table_config_default(&fc);
    fc.capacity = 1u << 18;
    for (unsigned i = 0; i < nw; i++) {
        h->aw[i] = anomaly_engine_worker(h->e, i);
        h->ctx[i] = (struct wctx){ h, i };
        h->ft[i] = flow_table_create(&fc, on_flow_end, &h->ctx[i]);
        CU_ASSERT_FATAL(h->ft[i] != NULL);
    }
    return h;
}

static void harness_free(struct harness *h)
{
    for (unsigned i = 0; i < h->nw; i++)
        flow_table_destroy(h->ft[i]);
    anomaly_engine_destroy(h->e);
    free(h->alerts);
    free(h);
}

/* The packet clock: every worker enters each new second, then the engine
 * looks at what is ready (one packet clock for all, as for pcap input). */
static void harness_clock(struct harness *h, uint64_t ts)
{
    if (h->started && ts <= h->last_ts)
        return;
    h->last_ts = ts;
    uint64_t sec = ts / SEC;
    if (h->started && sec == h->sec)
        return;
    for (unsigned i = 0; i < h->nw; i++) {
        anomaly_worker_tick(h->aw[i], ts);
        flow_table_advance(h->ft[i], ts);
    }
    h->sec = sec;
    h->started = true;
    anomaly_engine_poll(h->e);
}

static unsigned addr_worker(const struct harness *h, const struct decoded_packet *d)
{
    uint32_t a, b;
    memcpy(&a, d->src_addr, 4);
    memcpy(&b, d->dst_addr, 4);
    return (unsigned)(((uint64_t)((a ^ b) * 0x9e3779b1u) * h->nw) >> 32);
}

static void harness_packet(struct harness *h, const struct decoded_packet *d, uint32_t wirelen,
                           uint64_t ts)
{
    harness_clock(h, ts);
    if (!(d->flags & DECODED_IP) || (d->flags & DECODED_FRAG_LATER)) {
        anomaly_worker_packet(h->aw[addr_worker(h, d)], d, NULL, 0, false, wirelen);
        return;
    }
    struct flow_key key;
    unsigned side = flow_key_from_decoded(&key, d);
    uint32_t hash = flow_key_hash(&key);
    unsigned w = worker_for_hash(hash, h->nw);
    bool created = false;
    struct flow *f = flow_table_lookup(h->ft[w], &key, hash, ts, &created);
    if (f != NULL && !created && flow_tuple_reused(f, d)) {
        flow_table_end(h->ft[w], f, FLOW_END_CLOSED);
        f = flow_table_lookup(h->ft[w], &key, hash, ts, &created);
    }
    unsigned dir = 0;
    if (f != NULL) {
        if (created)
            flow_init(f, &key, hash, side, d, ts);
        flow_update(f, side, d, wirelen, ts);
        dir = (side & 1) == f->initiator ? FLOW_TOSERVER : FLOW_TOCLIENT;
    }
    anomaly_worker_packet(h->aw[w], d, f, dir, f != NULL && created, wirelen);
}

static void harness_finish(struct harness *h)
{
    for (unsigned i = 0; i < h->nw; i++) {
        flow_table_advance(h->ft[i], h->last_ts);
        flow_table_flush(h->ft[i], FLOW_END_SHUTDOWN);
        anomaly_worker_finish(h->aw[i]);
    }
    anomaly_engine_finish(h->e);
}

/* ---- alert queries ------------------------------------------------------------------- */

static uint32_t be_addr(const char *text)
{
    struct in_addr a;
    CU_ASSERT_FATAL(inet_pton(AF_INET, text, &a) == 1);
    return a.s_addr;
}

static bool addr_is(const struct anomaly_addr *a, const char *text)
{
    uint32_t v = be_addr(text);
    return a->version == 4 && memcmp(a->addr, &v, 4) == 0;
}

/* The first alert of `phase` by detector det (victim and attacker when not
 * NULL), or NULL. */
static const struct anomaly_alert *find_alert(const struct harness *h, enum anomaly_detector det,
                                              enum anomaly_phase phase, const char *victim,
                                              const char *attacker)
{
    for (size_t i = 0; i < h->n_alerts; i++) {
        const struct anomaly_alert *a = &h->alerts[i];
        if (a->detector != det || a->phase != phase)
            continue;
        if (victim && !addr_is(&a->victim, victim))
            continue;
        if (attacker && !addr_is(&a->attacker, attacker))
            continue;
        return a;
    }
    return NULL;
}

static size_t count_alerts(const struct harness *h, int det, int phase)
{
    size_t n = 0;
    for (size_t i = 0; i < h->n_alerts; i++)
        n += (det < 0 || h->alerts[i].detector == (enum anomaly_detector)det) &&
             (phase < 0 || h->alerts[i].phase == (enum anomaly_phase)phase);
    return n;
}

/* ---- packets ------------------------------------------------------------------------- */

static struct decoded_packet mk(uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport,
                                uint8_t proto, uint8_t flags)
{
    struct decoded_packet d;
    memset(&d, 0, sizeof(d));
    memcpy(d.src_addr, &src, 4);
    memcpy(d.dst_addr, &dst, 4);
    d.src_port = sport;
    d.dst_port = dport;
    d.ip_version = 4;
    d.ip_proto = proto;
    d.flags = DECODED_IP | DECODED_L4;
    d.ttl = 64;
    d.tcp_flags = proto == IPPROTO_TCP ? flags : 0;
    if (proto == IPPROTO_ICMP) {
        d.icmp_type = flags;         /* 8 echo request, 0 reply */
        d.src_port = d.dst_port = sport;
    }
    return d;
}

/* 10.a.b.c in network order. */
static uint32_t ip4(unsigned a, unsigned b, unsigned c, unsigned d)
{
    return htonl((uint32_t)(a << 24 | b << 16 | c << 8 | d));
}

/* A second's worth of packets, sorted by time before they are fed. */
struct item {
    uint64_t ts;
    uint32_t len;
    struct decoded_packet d;
};

struct batch {
    struct item *v;
    size_t n, cap;
};

static void put(struct batch *b, uint64_t ts, const struct decoded_packet *d, uint32_t len)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 4096;
        b->v = realloc(b->v, b->cap * sizeof(*b->v));
        CU_ASSERT_FATAL(b->v != NULL);
    }
    b->v[b->n++] = (struct item){ ts, len, *d };
}

static int item_cmp(const void *a, const void *b)
{
    const struct item *x = a, *y = b;
    return x->ts < y->ts ? -1 : x->ts > y->ts;
}

static void feed(struct harness *h, struct batch *b)
{
    qsort(b->v, b->n, sizeof(*b->v), item_cmp);
    for (size_t i = 0; i < b->n; i++)
        harness_packet(h, &b->v[i].d, b->v[i].len, b->v[i].ts);
    b->n = 0;
}

struct rng {
    uint64_t s;
};

static uint64_t rnd(struct rng *r)
{
    r->s += 0x9e3779b97f4a7c15ull;
    return sketch_hash64(r->s, 0x1234);
}

static double rnd01(struct rng *r)
{
    return (double)(rnd(r) >> 11) * 0x1.0p-53;
}

/* Poisson-ish count around mean: rounding with a random fraction, plus
 * +-sqrt(mean) noise, so that baselines see some variance. */
static unsigned jitter(struct rng *r, double mean)
{
    double sd = sqrt(mean);
    double v = mean + sd * (rnd01(r) + rnd01(r) + rnd01(r) - 1.5) * 2;
    return v < 0 ? 0 : (unsigned)(v + rnd01(r));
}

/* A complete TCP connection: handshake, a response, close. */
static void tcp_conn(struct batch *b, uint64_t ts, uint32_t cli, uint16_t cport, uint32_t srv,
                     uint16_t sport, uint32_t resp_len)
{
    struct decoded_packet d;
    const uint64_t ms = SEC / 1000;
    d = mk(cli, cport, srv, sport, IPPROTO_TCP, TH_SYN);
    put(b, ts, &d, 74);
    d = mk(srv, sport, cli, cport, IPPROTO_TCP, TH_SYN | TH_ACK);
    put(b, ts + 1 * ms, &d, 74);
    d = mk(cli, cport, srv, sport, IPPROTO_TCP, TH_ACK);
    put(b, ts + 2 * ms, &d, 66);
    d = mk(cli, cport, srv, sport, IPPROTO_TCP, TH_ACK | TH_PSH);
    put(b, ts + 3 * ms, &d, 300);
    d = mk(srv, sport, cli, cport, IPPROTO_TCP, TH_ACK | TH_PSH);
    put(b, ts + 5 * ms, &d, resp_len);
    d = mk(cli, cport, srv, sport, IPPROTO_TCP, TH_ACK | TH_FIN);
    put(b, ts + 6 * ms, &d, 66);
    d = mk(srv, sport, cli, cport, IPPROTO_TCP, TH_ACK | TH_FIN);
    put(b, ts + 7 * ms, &d, 66);
    d = mk(cli, cport, srv, sport, IPPROTO_TCP, TH_ACK);
    put(b, ts + 8 * ms, &d, 66);
}

/* ---- the synthetic scenario ------------------------------------------------------------ */

enum attack_kind {
    ATK_NONE, ATK_SYN, ATK_UDP, ATK_DNS_AMP, ATK_PORT_SCAN, ATK_SWEEP, ATK_BRUTE,
    /* Floods of one packet class toward CLASS_VICTIM, over a background of
     * the same class at the baseline rate (class_packet()). */
    ATK_SYN_ECN, ATK_ACK, ATK_RST, ATK_SYNACK, ATK_ICMP, ATK_FRAG,
    /* Global change points, and malformed packets. */
    ATK_FLOW_SPIKE, ATK_VOLUME, ATK_DECODE,
};

static bool is_class_flood(enum attack_kind k)
{
    return k >= ATK_SYN_ECN && k <= ATK_FRAG;
}

/* Who is who in the synthetic network. */
#define WEB_SERVER   ip4(10, 2, 0, 1)     /* SYN flood victim */
#define UDP_SINK     ip4(10, 2, 0, 20)    /* UDP flood victim: receives a stream */
#define RESOLVER     ip4(10, 2, 0, 53)
#define DNS_VICTIM   ip4(10, 1, 0, 77)    /* a client: amplification victim */
#define SCAN_TARGET  ip4(10, 2, 0, 9)
#define SSH_SERVER   ip4(10, 2, 0, 22)
#define ATTACKER     ip4(203, 0, 113, 66)
#define CLASS_VICTIM ip4(10, 2, 0, 30)    /* flag, ICMP and fragment flood victim */
#define CLASS_VICTIM_TEXT "10.2.0.30"

struct scenario {
    enum attack_kind kind;
    double baseline;         /* the benign rate the attack is measured against */
    double factor;           /* attack makes it factor * baseline (1.5, 10) */
    unsigned seconds;        /* whole run */
    unsigned attack_at;      /* second the attack starts (+ 0.3 s) */
    unsigned attack_len;
};

static uint32_t client_addr(unsigned i)
{
    return ip4(10, 1, 1 + (i / 250) % 200, 1 + i % 250);
}

/* One packet of a class flood toward CLASS_VICTIM from a random (spoofed)
 * source: what the background carries at the baseline rate and the attack
 * adds to it. */
static void class_packet(struct batch *b, struct rng *r, enum attack_kind kind, uint64_t ts)
{
    uint32_t src = ip4(100, (unsigned)(rnd(r) % 250), (unsigned)(rnd(r) % 250),
                       1 + (unsigned)(rnd(r) % 250));
    uint16_t sport = (uint16_t)(1024 + rnd(r) % 60000);
    struct decoded_packet d;

    switch (kind) {
    case ATK_SYN_ECN:
        d = mk(src, sport, CLASS_VICTIM, 80, IPPROTO_TCP, TH_SYN | TH_ECE | TH_CWR);
        break;
    case ATK_ACK:
        d = mk(src, sport, CLASS_VICTIM, 80, IPPROTO_TCP, TH_ACK);
        break;
    case ATK_RST:
        d = mk(src, sport, CLASS_VICTIM, 80, IPPROTO_TCP, TH_RST);
        break;
    case ATK_SYNACK:
        d = mk(src, 80, CLASS_VICTIM, sport, IPPROTO_TCP, TH_SYN | TH_ACK);
        break;
    case ATK_ICMP:
        d = mk(src, sport, CLASS_VICTIM, 0, IPPROTO_ICMP, 8);
        break;
    case ATK_FRAG:
        /* A later fragment of a UDP datagram: no ports, no flow. */
        d = mk(src, 0, CLASS_VICTIM, 0, IPPROTO_UDP, 0);
        d.flags = DECODED_IP | DECODED_FRAGMENT | DECODED_FRAG_LATER;
        break;
    default:
        return;
    }
    put(b, ts, &d, kind == ATK_FRAG ? 590 : kind == ATK_ICMP ? 98 : 60);
}

/* The background's bits per second, roughly: 50 web connections of 2112
 * bytes, 105 DNS exchanges of 280, 200 video datagrams of 1200, 10 pings
 * of 196 (the volume spike's baseline). */
#define BACKGROUND_BPS (8.0 * (50 * 2112 + 105 * 280 + 200 * 1200 + 10 * 196))

/* One second of background. Rates follow s->baseline where it is the
 * quantity the attack is compared with. */
static void background(struct batch *b, struct rng *r, const struct scenario *s, uint64_t t)
{
    static unsigned port_seq;
    double web = s->kind == ATK_SYN || s->kind == ATK_FLOW_SPIKE ? s->baseline : 50;
    unsigned n = jitter(r, web);
    for (unsigned i = 0; i < n; i++) {
        uint64_t ts = t + (uint64_t)(rnd01(r) * SEC * 0.99);
        tcp_conn(b, ts, client_addr((unsigned)(rnd(r) % 5000)), 20000 + (port_seq++ % 40000),
                 WEB_SERVER, 443, 1400);
    }
    /* DNS: clients ask the resolver; the amplification victim asks too. */
    double dns = 100, victim_dns = s->kind == ATK_DNS_AMP ? s->baseline : 5;
    n = jitter(r, dns);
    for (unsigned i = 0; i < n + jitter(r, victim_dns); i++) {
        uint64_t ts = t + (uint64_t)(rnd01(r) * SEC * 0.99);
        uint32_t cli = i < n ? client_addr((unsigned)(rnd(r) % 5000)) : DNS_VICTIM;
        uint16_t cport = (uint16_t)(1024 + rnd(r) % 60000);
        struct decoded_packet q = mk(cli, cport, RESOLVER, 53, IPPROTO_UDP, 0);
        struct decoded_packet a = mk(RESOLVER, 53, cli, cport, IPPROTO_UDP, 0);
        put(b, ts, &q, 80);
        put(b, ts + SEC / 500, &a, 200);
    }
    /* A UDP stream (video) toward the sink, from a few senders. */
    double udp = s->kind == ATK_UDP ? s->baseline : 200;
    n = jitter(r, udp);
    for (unsigned i = 0; i < n; i++) {
        uint64_t ts = t + (uint64_t)(rnd01(r) * SEC * 0.99);
        unsigned sender = (unsigned)(rnd(r) % 4);
        struct decoded_packet d = mk(ip4(10, 3, 0, 1 + sender), 5004, UDP_SINK, 5004,
                                     IPPROTO_UDP, 0);
        put(b, ts, &d, 1200);
    }
    /* Pings. */
    n = jitter(r, 10);
    for (unsigned i = 0; i < n; i++) {
        uint64_t ts = t + (uint64_t)(rnd01(r) * SEC * 0.99);
        uint32_t cli = client_addr((unsigned)(rnd(r) % 5000));
        struct decoded_packet q = mk(cli, (uint16_t)i, WEB_SERVER, 0, IPPROTO_ICMP, 8);
        struct decoded_packet a = mk(WEB_SERVER, (uint16_t)i, cli, 0, IPPROTO_ICMP, 0);
        put(b, ts, &q, 98);
        put(b, ts + SEC / 1000, &a, 98);
    }
    if (is_class_flood(s->kind)) {
        n = jitter(r, s->baseline);
        for (unsigned i = 0; i < n; i++)
            class_packet(b, r, s->kind, t + (uint64_t)(rnd01(r) * SEC * 0.99));
    }
    /* Malformed frames: a few a second is normal on a busy link. */
    if (s->kind == ATK_DECODE) {
        n = jitter(r, s->baseline);
        for (unsigned i = 0; i < n; i++) {
            struct decoded_packet d = mk(0, 0, 0, 0, 0, 0);
            d.flags = DECODED_INVALID;
            put(b, t + (uint64_t)(rnd01(r) * SEC * 0.99), &d, 60);
        }
    }
    /* Brute-force background: an admin logs in over ssh now and then. */
    if (s->kind == ATK_BRUTE) {
        n = jitter(r, s->baseline);
        for (unsigned i = 0; i < n; i++)
            tcp_conn(b, t + (uint64_t)(rnd01(r) * SEC * 0.9), ip4(10, 1, 0, 5),
                     (uint16_t)(30000 + port_seq++ % 20000), SSH_SERVER, 22, 3000);
    }
}

/* The attack's packets of second t, over [from, to) of it. */
static void attack(struct batch *b, struct rng *r, const struct scenario *s, uint64_t t,
                   uint64_t from, uint64_t to)
{
    static unsigned seq;
    /* Floods add to the victim's baseline traffic; a scanner or a guesser is
     * one source, compared with what a benign source does. */
    bool alone = s->kind == ATK_PORT_SCAN || s->kind == ATK_SWEEP || s->kind == ATK_BRUTE;
    double extra = alone ? s->baseline * s->factor : s->baseline * (s->factor - 1);
    double span = (double)(to - from) / SEC;
    if (s->kind == ATK_VOLUME)
        extra /= 1400 * 8;          /* baseline in bits/s, the attack in 1400-byte datagrams */
    unsigned n = (unsigned)(extra * span + rnd01(r));

    for (unsigned i = 0; i < n; i++) {
        uint64_t ts = t + from + (uint64_t)(rnd01(r) * (double)(to - from));
        struct decoded_packet d;
        uint32_t spoofed = (uint32_t)rnd(r);
        switch (s->kind) {
        case ATK_SYN:
            d = mk(spoofed, (uint16_t)(1024 + rnd(r) % 60000), WEB_SERVER, 443, IPPROTO_TCP,
                   TH_SYN);
            put(b, ts, &d, 60);
            break;
        case ATK_UDP:
            /* Spoofed sources, random ports: the usual volumetric flood. */
            d = mk(spoofed, (uint16_t)(1024 + rnd(r) % 60000), UDP_SINK,
                   (uint16_t)(rnd(r) % 65536), IPPROTO_UDP, 0);
            put(b, ts, &d, 1200);
            break;
        case ATK_DNS_AMP:
            /* Reflectors answer queries the victim never sent. */
            d = mk(ip4(198, 51, (unsigned)(rnd(r) % 4), 1 + (unsigned)(rnd(r) % 200)), 53,
                   DNS_VICTIM, (uint16_t)(1024 + rnd(r) % 60000), IPPROTO_UDP, 0);
            put(b, ts, &d, 1400);
            break;
        case ATK_PORT_SCAN:
            /* Closed ports: SYN, RST back. */
            d = mk(ATTACKER, 40000, SCAN_TARGET, (uint16_t)(1 + seq % 65000), IPPROTO_TCP, TH_SYN);
            put(b, ts, &d, 60);
            d = mk(SCAN_TARGET, (uint16_t)(1 + seq % 65000), ATTACKER, 40000, IPPROTO_TCP,
                   TH_RST | TH_ACK);
            put(b, ts + SEC / 2000, &d, 60);
            seq++;
            break;
        case ATK_SWEEP:
            /* Port 445 on every host of 10.4.0.0/16; nobody answers. */
            d = mk(ATTACKER, (uint16_t)(40000 + seq % 1000), ip4(10, 4, (seq / 250) % 250, 1 + seq % 250),
                   445, IPPROTO_TCP, TH_SYN);
            put(b, ts, &d, 60);
            seq++;
            break;
        case ATK_BRUTE:
            tcp_conn(b, ts, ATTACKER, (uint16_t)(30000 + seq++ % 30000), SSH_SERVER, 22, 3000);
            break;
        case ATK_FLOW_SPIKE:
            /* A worm's outbreak: one datagram each to random hosts. */
            d = mk(client_addr((unsigned)(rnd(r) % 5000)), (uint16_t)(40000 + rnd(r) % 20000),
                   ip4(10, 5, (unsigned)(rnd(r) % 250), 1 + (unsigned)(rnd(r) % 250)),
                   (uint16_t)(1024 + rnd(r) % 30000), IPPROTO_UDP, 0);
            put(b, ts, &d, 120);
            break;
        case ATK_VOLUME:
            /* A backup started toward the sink: big datagrams, few senders. */
            d = mk(ip4(10, 3, 0, 9), 6000, UDP_SINK, 6000, IPPROTO_UDP, 0);
            put(b, ts, &d, 1400);
            break;
        case ATK_DECODE:
            d = mk(0, 0, 0, 0, 0, 0);
            d.flags = DECODED_INVALID;
            put(b, ts, &d, 60);
            break;
        case ATK_NONE:
            break;
        default:
            class_packet(b, r, s->kind, ts);
            break;
        }
    }
}

/* Run the scenario; return the attack's start time (ns). */
static uint64_t run_scenario(struct harness *h, const struct scenario *s, uint64_t seed)
{
    struct rng r = { seed };
    struct batch b = { 0 };
    uint64_t start = T0 + (uint64_t)s->attack_at * SEC + 3 * SEC / 10;

    for (unsigned sec = 0; sec < s->seconds; sec++) {
        uint64_t t = T0 + (uint64_t)sec * SEC;
        background(&b, &r, s, t);
        if (s->kind != ATK_NONE && sec >= s->attack_at && sec <= s->attack_at + s->attack_len) {
            uint64_t from = sec == s->attack_at ? 3 * SEC / 10 : 0;
            uint64_t to = sec == s->attack_at + s->attack_len ? 3 * SEC / 10 : SEC;
            if (to > from)
                attack(&b, &r, s, t, from, to);
        }
        feed(h, &b);
    }
    harness_finish(h);
    free(b.v);
    return start;
}

/* The default floors are far from the synthetic network's rates: put the
 * floor of the detector under test just above its baseline, so that the
 * learned baseline (z-score and ratio), not the floor, is what keeps 1.5x
 * quiet and lets 10x through. */
static void floor_above_baseline(struct anomaly_config *cfg, enum attack_kind kind, double baseline)
{
    struct anomaly_thresholds *th = NULL;
    struct anomaly_rate_cfg *rate = NULL;

    if (is_class_flood(kind))
        CU_ASSERT_FATAL(anomaly_config_add_group(cfg, CLASS_VICTIM_TEXT "/32", "victim", &th) == 0);
    switch (kind) {
    case ATK_SYN_ECN: rate = &th->syn_ecn_flood; break;
    case ATK_ACK:     rate = &th->ack_flood; break;
    case ATK_RST:     rate = &th->rst_flood; break;
    case ATK_SYNACK:  rate = &th->synack_reflection; break;
    case ATK_ICMP:    rate = &th->icmp_flood; break;
    case ATK_FRAG:    rate = &th->frag_flood; break;
    case ATK_DECODE:  rate = &cfg->decode; break;
    case ATK_FLOW_SPIKE:
        cfg->flow_spike.new_flows = baseline * 1.25;
        return;
    case ATK_VOLUME:
        cfg->volume_spike.bps = baseline * 1.25;
        return;
    default:
        return;
    }
    rate->pps = baseline * 1.25;
    rate->bps = 0;
}

struct expect {
    enum anomaly_detector det;
    const char *victim, *attacker;
};

static void synthetic(enum attack_kind kind, double baseline, struct expect x, double factor_hi,
                      uint64_t max_delay_ns)
{
    struct anomaly_config cfg;
    anomaly_config_default(&cfg);
    if (kind == ATK_UDP) {
        /* The sink is a host group with a low floor, so that the baseline
         * (not the floor) is what keeps 1.5x quiet. */
        struct anomaly_thresholds *th;
        CU_ASSERT_FATAL(anomaly_config_add_group(&cfg, "10.2.0.20/32", "udp-sink", &th) == 0);
        th->udp_flood.pps = baseline * 1.25;
        th->udp_flood.bps = 0;
    }
    floor_above_baseline(&cfg, kind, baseline);
    struct scenario s = { kind, baseline, 1.5, 60, 30, 20 };

    /* 1.5x: nothing at all, not even from the background. */
    struct harness *h = harness_new(&cfg, 2);
    run_scenario(h, &s, 42);
    CU_ASSERT_EQUAL(h->n_alerts, 0);
    if (h->n_alerts) {
        printf("\n    1.5x of %s raised:", anomaly_detector_name(x.det));
        for (size_t i = 0; i < h->n_alerts; i++)
            print_alert(&h->alerts[i]);
    }
    harness_free(h);

    /* 10x: the right detector, the right hosts, soon enough. */
    s.factor = factor_hi;
    h = harness_new(&cfg, 2);
    uint64_t start = run_scenario(h, &s, 42);
    const struct anomaly_alert *a = find_alert(h, x.det, ANOMALY_START, x.victim, x.attacker);
    CU_ASSERT_PTR_NOT_NULL(a);
    if (a) {
        CU_ASSERT(a->ts_ns >= start);
        CU_ASSERT(a->ts_ns - start <= max_delay_ns);
        if (verbose)
            printf("\n    %s: alert %.2f s after the attack began", anomaly_detector_name(x.det),
                   (double)(a->ts_ns - start) / SEC);
        CU_ASSERT_PTR_NOT_NULL(find_alert(h, x.det, ANOMALY_END, x.victim, x.attacker));
    } else {
        for (size_t i = 0; i < h->n_alerts; i++)
            print_alert(&h->alerts[i]);
    }
    harness_free(h);
}

static void test_synthetic_syn_flood(void)
{
    /* 1500 connections/s to the web server: 1.5x is above the 1000 SYN/s
     * floor, but the baseline (and handshake completion) keep it quiet. */
    synthetic(ATK_SYN, 1500, (struct expect){ ANOMALY_SYN_FLOOD, "10.2.0.1", NULL }, 10, 2 * SEC);
}

static void test_synthetic_udp_flood(void)
{
    synthetic(ATK_UDP, 2000, (struct expect){ ANOMALY_UDP_FLOOD, "10.2.0.20", NULL }, 10, 2 * SEC);
}

static void test_synthetic_dns_amplification(void)
{
    /* The victim gets 200 answers/s to its own queries; the attack adds
     * unsolicited 1400-byte answers from 800 reflectors. */
    synthetic(ATK_DNS_AMP, 200, (struct expect){ ANOMALY_AMPLIFICATION, "10.1.0.77", NULL }, 10,
              2 * SEC);
}

static void test_synthetic_port_scan(void)
{
    /* 2.5 closed ports probed per second is the benign level here (a
     * discovery tool); 25/s is a scan. */
    synthetic(ATK_PORT_SCAN, 2.5,
              (struct expect){ ANOMALY_PORT_SCAN, "10.2.0.9", "203.0.113.66" }, 10, 2 * SEC);
}

static void test_synthetic_host_sweep(void)
{
    synthetic(ATK_SWEEP, 2.5, (struct expect){ ANOMALY_HOST_SWEEP, NULL, "203.0.113.66" }, 10,
              2 * SEC);
}

/* 300 packets/s of each class toward the victim is its normal (a tenth of
 * the lowest default floor, so no other detector is near its own). */
static void test_synthetic_syn_ecn_flood(void)
{
    synthetic(ATK_SYN_ECN, 300, (struct expect){ ANOMALY_SYN_ECN_FLOOD, CLASS_VICTIM_TEXT, NULL },
              10, 2 * SEC);
}

static void test_synthetic_ack_flood(void)
{
    synthetic(ATK_ACK, 300, (struct expect){ ANOMALY_ACK_FLOOD, CLASS_VICTIM_TEXT, NULL }, 10,
              2 * SEC);
}

static void test_synthetic_rst_flood(void)
{
    synthetic(ATK_RST, 300, (struct expect){ ANOMALY_RST_FLOOD, CLASS_VICTIM_TEXT, NULL }, 10,
              2 * SEC);
}

static void test_synthetic_synack_reflection(void)
{
    synthetic(ATK_SYNACK, 300,
              (struct expect){ ANOMALY_SYNACK_REFLECTION, CLASS_VICTIM_TEXT, NULL }, 10, 2 * SEC);
}

static void test_synthetic_icmp_flood(void)
{
    synthetic(ATK_ICMP, 300, (struct expect){ ANOMALY_ICMP_FLOOD, CLASS_VICTIM_TEXT, NULL }, 10,
              2 * SEC);
}

static void test_synthetic_frag_flood(void)
{
    synthetic(ATK_FRAG, 300, (struct expect){ ANOMALY_FRAG_FLOOD, CLASS_VICTIM_TEXT, NULL }, 10,
              2 * SEC);
}

static void test_synthetic_flow_spike(void)
{
    /* 400 web connections a second (plus ~115 DNS and ping flows); the
     * attack adds one-datagram flows to random hosts. */
    synthetic(ATK_FLOW_SPIKE, 400, (struct expect){ ANOMALY_FLOW_SPIKE, NULL, NULL }, 10,
              2 * SEC);
}

static void test_synthetic_volume_spike(void)
{
    synthetic(ATK_VOLUME, BACKGROUND_BPS, (struct expect){ ANOMALY_VOLUME_SPIKE, NULL, NULL },
              10, 2 * SEC);
}

static void test_synthetic_decode_anomaly(void)
{
    synthetic(ATK_DECODE, 200, (struct expect){ ANOMALY_DECODE, NULL, NULL }, 10, 2 * SEC);
}

static void test_synthetic_brute_force(void)
{
    /* Count-in-window detector (10 connections in 60 s): the admin logs in
     * 0.02 times a second; 1.5x of that never reaches 10 a minute. At 10x
     * (plus the admin: 0.2/s) the 10th connection comes after ~45 s, so
     * the alert is checked to follow it within 2 s rather than the start. */
    struct anomaly_config cfg;
    anomaly_config_default(&cfg);
    struct scenario s = { ATK_BRUTE, 0.02, 1.5, 120, 20, 90 };
    struct harness *h = harness_new(&cfg, 2);
    run_scenario(h, &s, 7);
    CU_ASSERT_EQUAL(h->n_alerts, 0);
    harness_free(h);

    s.factor = 10;           /* the attacker at 10x the admin's 0.02/s */
    h = harness_new(&cfg, 2);
    uint64_t start = run_scenario(h, &s, 7);
    const struct anomaly_alert *a =
        find_alert(h, ANOMALY_BRUTE_FORCE, ANOMALY_START, "10.2.0.22", "203.0.113.66");
    CU_ASSERT_PTR_NOT_NULL(a);
    if (a) {
        CU_ASSERT(a->ts_ns > start);
        CU_ASSERT_EQUAL(a->port, 22);
        if (verbose)
            printf("\n    brute force: alert %.2f s after the attack began, value %.0f",
                   (double)(a->ts_ns - start) / SEC, a->value);
        /* The alert comes in the tick the 10th connection was counted in. */
        CU_ASSERT(a->value >= 10 && a->value <= 11);
    }
    harness_free(h);
}

/* Exact check of "alert within 2 s of the 10th connection": hand-made
 * connections, one every 4 s, the 10th at a known time. */
static void test_brute_force_delay(void)
{
    struct anomaly_config cfg;
    anomaly_config_default(&cfg);
    struct harness *h = harness_new(&cfg, 1);
    struct batch b = { 0 };
    uint64_t tenth = 0;
    for (unsigned i = 0; i < 12; i++) {
        uint64_t ts = T0 + (uint64_t)i * 4 * SEC + SEC / 3;
        if (i == 9)
            tenth = ts;
        tcp_conn(&b, ts, ATTACKER, (uint16_t)(30000 + i), SSH_SERVER, 22, 3000);
        feed(h, &b);
        struct decoded_packet d = mk(ip4(10, 9, 9, 9), 1, ip4(10, 9, 9, 8), 2, IPPROTO_UDP, 0);
        harness_packet(h, &d, 60, ts + 2 * SEC);   /* keeps the clock moving */
    }
    harness_finish(h);
    const struct anomaly_alert *a =
        find_alert(h, ANOMALY_BRUTE_FORCE, ANOMALY_START, "10.2.0.22", "203.0.113.66");
    CU_ASSERT_PTR_NOT_NULL(a);
    if (a) {
        CU_ASSERT(a->ts_ns > tenth && a->ts_ns - tenth <= 2 * SEC);
        CU_ASSERT(strstr(a->signature, "SSH brute force from 203.0.113.66") != NULL);
    }
    free(b.v);
    harness_free(h);
}

/* ---- lifecycle ---------------------------------------------------------------------------- */

/* UDP toward one host at `pps` during second t. */
static void udp_second(struct harness *h, struct batch *b, uint64_t t, uint32_t victim, double pps)
{
    unsigned n = (unsigned)pps;
    for (unsigned i = 0; i < n; i++) {
        struct decoded_packet d = mk(ATTACKER + htonl(i % 16), (uint16_t)(1000 + i % 64), victim,
                                     9999, IPPROTO_UDP, 0);
        put(b, t + (uint64_t)i * (SEC / (n + 1)), &d, 100);
    }
    /* Something every second, so that time moves even when quiet. */
    struct decoded_packet d = mk(ip4(10, 9, 9, 9), 1, ip4(10, 9, 9, 8), 2, IPPROTO_UDP, 0);
    put(b, t + SEC - 1000, &d, 60);
    feed(h, b);
}

static struct anomaly_config lifecycle_config(void)
{
    struct anomaly_config cfg;
    anomaly_config_default(&cfg);
    cfg.th.udp_flood.pps = 1000;
    cfg.th.udp_flood.bps = 0;
    cfg.hold_s = 5;
    cfg.update_s = 4;
    return cfg;
}

static void test_lifecycle(void)
{
    struct anomaly_config cfg = lifecycle_config();
    struct harness *h = harness_new(&cfg, 1);
    struct batch b = { 0 };
    uint32_t victim = ip4(10, 5, 0, 1);

    /* 3 s quiet, 12 s of 3000 pps, 20 s quiet. */
    for (unsigned s = 0; s < 35; s++)
        udp_second(h, &b, T0 + s * SEC, victim, s >= 3 && s < 15 ? 3000 : 0);
    harness_finish(h);

    CU_ASSERT_EQUAL(count_alerts(h, ANOMALY_UDP_FLOOD, ANOMALY_START), 1);
    CU_ASSERT_EQUAL(count_alerts(h, ANOMALY_UDP_FLOOD, ANOMALY_END), 1);
    /* Updates every 4 s while it lasts: after 4 and 8 s (12 s of attack
     * plus the hold) - a bounded number, not one per tick or packet. */
    size_t updates = count_alerts(h, ANOMALY_UDP_FLOOD, ANOMALY_UPDATE);
    CU_ASSERT(updates >= 2 && updates <= 4);
    CU_ASSERT_EQUAL(h->n_alerts, 2 + updates);

    const struct anomaly_alert *st = find_alert(h, ANOMALY_UDP_FLOOD, ANOMALY_START, "10.5.0.1", NULL);
    const struct anomaly_alert *en = find_alert(h, ANOMALY_UDP_FLOOD, ANOMALY_END, "10.5.0.1", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    CU_ASSERT_PTR_NOT_NULL_FATAL(en);
    CU_ASSERT_EQUAL(st->attack_id, en->attack_id);
    CU_ASSERT_EQUAL(st->gid, ANOMALY_GID);
    CU_ASSERT_EQUAL(st->sid, 9000006);
    CU_ASSERT_STRING_EQUAL(st->signature, "MAMORI UDP flood toward 10.5.0.1");
    CU_ASSERT_STRING_EQUAL(st->category, "Attempted Denial of Service");
    CU_ASSERT_EQUAL(st->ts_ns, T0 + 4 * SEC);          /* end of the first attack tick */
    CU_ASSERT_EQUAL(st->start_ns, T0 + 3 * SEC);
    CU_ASSERT_DOUBLE_EQUAL(st->pps, 3000, 1);
    CU_ASSERT_DOUBLE_EQUAL(st->value, 3000, 1);
    CU_ASSERT_DOUBLE_EQUAL(st->threshold, 1000, 1e-9);
    CU_ASSERT(st->distinct_sources >= 14 && st->distinct_sources <= 18);
    CU_ASSERT(st->n_top >= 1 && st->n_top <= ANOMALY_TOP_SOURCES);
    /* The end comes hold_s after the last tick above: last attack tick 14,
     * quiet 15..19, end evaluated at tick 19 (ts = its end). */
    CU_ASSERT_EQUAL(en->ts_ns, T0 + 20 * SEC);
    CU_ASSERT_DOUBLE_EQUAL(en->peak_pps, 3000, 1);
    CU_ASSERT(en->ticks >= 12);
    for (size_t i = 0; i < h->n_alerts; i++)
        CU_ASSERT_EQUAL(h->alerts[i].attack_id, st->attack_id);
    free(b.v);
    harness_free(h);
}

/* A rate hovering around the threshold: above, below, above... One attack,
 * not one per crossing; it ends once the rate stays down. */
static void test_no_flapping(void)
{
    struct anomaly_config cfg = lifecycle_config();
    struct harness *h = harness_new(&cfg, 1);
    struct batch b = { 0 };
    uint32_t victim = ip4(10, 5, 0, 2);

    for (unsigned s = 0; s < 60; s++) {
        double pps = 0;
        if (s >= 2 && s < 40)
            pps = s % 2 ? 1100 : 900;                      /* 1.1x and 0.9x */
        if (s >= 2 && s < 40 && s % 7 == 0)
            pps = 200;                                     /* a deep dip, shorter than hold */
        udp_second(h, &b, T0 + s * SEC, victim, pps);
    }
    harness_finish(h);
    CU_ASSERT_EQUAL(count_alerts(h, ANOMALY_UDP_FLOOD, ANOMALY_START), 1);
    CU_ASSERT_EQUAL(count_alerts(h, ANOMALY_UDP_FLOOD, ANOMALY_END), 1);
    /* 38 s of attack, updates every 4 s: at most ~11 alerts in all. */
    CU_ASSERT(h->n_alerts <= 2 + 38 / 4 + 2);
    free(b.v);
    harness_free(h);
}

/* A sustained attack on many victims: alerts stay bounded by max_active
 * and the update interval; what is not followed is counted. */
static void test_bounded_alerts(void)
{
    struct anomaly_config cfg = lifecycle_config();
    cfg.max_active = 16;
    cfg.update_s = 10;
    struct harness *h = harness_new(&cfg, 2);
    struct batch b = { 0 };

    for (unsigned s = 0; s < 40; s++) {
        uint64_t t = T0 + s * SEC;
        if (s < 30) {
            for (unsigned v = 0; v < 40; v++)
                for (unsigned i = 0; i < 1500; i++) {
                    struct decoded_packet d = mk(ATTACKER + htonl(i % 16), (uint16_t)(1000 + i % 64),
                                                 ip4(10, 6, 0, 1 + v), 9999, IPPROTO_UDP, 0);
                    put(&b, t + (uint64_t)i * (SEC / 1501), &d, 100);
                }
        }
        struct decoded_packet d = mk(ip4(10, 9, 9, 9), 1, ip4(10, 9, 9, 8), 2, IPPROTO_UDP, 0);
        put(&b, t + SEC - 1000, &d, 60);
        feed(h, &b);
    }
    harness_finish(h);
    size_t starts = count_alerts(h, -1, ANOMALY_START);
    CU_ASSERT_EQUAL(starts, 16);
    CU_ASSERT_EQUAL(count_alerts(h, -1, ANOMALY_END), 16);
    CU_ASSERT(h->n_alerts <= 16 * (2 + 30 / 10 + 1));
    CU_ASSERT(anomaly_engine_counter(h->e, ANOMALY_ENGINE_ATTACKS_DROPPED) > 0);
    free(b.v);
    harness_free(h);
}

/* ---- units ------------------------------------------------------------------------------------- */

static void test_host_groups(void)
{
    struct anomaly_config cfg;
    struct anomaly_thresholds *t8, *t24, *t32, *t6;
    const char *name;
    anomaly_config_default(&cfg);

    CU_ASSERT_EQUAL(anomaly_config_add_group(&cfg, "10.0.0.0/8", "corp", &t8), 0);
    t8->udp_flood.pps = 1;
    CU_ASSERT_EQUAL(anomaly_config_add_group(&cfg, "10.1.2.3", "one-host", &t32), 0);
    t32->udp_flood.pps = 3;
    CU_ASSERT_EQUAL(anomaly_config_add_group(&cfg, "10.1.2.0/24", "a-lan", &t24), 0);
    t24->udp_flood.pps = 2;
    CU_ASSERT_EQUAL(anomaly_config_add_group(&cfg, "2001:db8::/32", "v6", &t6), 0);
    t6->udp_flood.pps = 6;
    CU_ASSERT_EQUAL(anomaly_config_add_group(&cfg, "10.0.0.0/33", NULL, NULL), -EINVAL);
    CU_ASSERT_EQUAL(anomaly_config_add_group(&cfg, "10.0.0.x/8", NULL, NULL), -EINVAL);
    CU_ASSERT_EQUAL(anomaly_config_add_group(&cfg, "2001:db8::/129", NULL, NULL), -EINVAL);

    uint8_t a[16] = { 0 };
    uint32_t v;
#define LOOK4(text) (v = be_addr(text), memset(a, 0, 16), memcpy(a, &v, 4), \
                     anomaly_config_lookup(&cfg, a, 4, &name))
    CU_ASSERT_EQUAL(LOOK4("10.1.2.3")->udp_flood.pps, 3);        /* /32 beats /24 and /8 */
    CU_ASSERT_STRING_EQUAL(name, "one-host");
    CU_ASSERT_EQUAL(LOOK4("10.1.2.4")->udp_flood.pps, 2);        /* /24 beats /8, order-free */
    CU_ASSERT_STRING_EQUAL(name, "a-lan");
    CU_ASSERT_EQUAL(LOOK4("10.200.0.1")->udp_flood.pps, 1);
    CU_ASSERT_EQUAL(LOOK4("11.0.0.1")->udp_flood.pps, cfg.th.udp_flood.pps);
    CU_ASSERT_PTR_NULL(name);
#undef LOOK4
    CU_ASSERT_EQUAL(inet_pton(AF_INET6, "2001:db8:1::5", a), 1);
    CU_ASSERT_EQUAL(anomaly_config_lookup(&cfg, a, 6, &name)->udp_flood.pps, 6);
    CU_ASSERT_EQUAL(inet_pton(AF_INET6, "2001:db9::5", a), 1);
    CU_ASSERT_EQUAL(anomaly_config_lookup(&cfg, a, 6, NULL)->udp_flood.pps, cfg.th.udp_flood.pps);
    /* An IPv4 group never matches IPv6, whatever the bytes. */
    memset(a, 0, 16);
    a[0] = 10;
    CU_ASSERT_EQUAL(anomaly_config_lookup(&cfg, a, 6, NULL)->udp_flood.pps, cfg.th.udp_flood.pps);

    /* Odd prefix lengths. */
    CU_ASSERT_EQUAL(anomaly_config_add_group(&cfg, "192.168.128.0/17", "upper", &t8), 0);
    t8->udp_flood.pps = 17;
    memset(a, 0, 16);
    v = be_addr("192.168.200.1");
    memcpy(a, &v, 4);
    CU_ASSERT_EQUAL(anomaly_config_lookup(&cfg, a, 4, NULL)->udp_flood.pps, 17);
    v = be_addr("192.168.127.1");
    memcpy(a, &v, 4);
    CU_ASSERT_EQUAL(anomaly_config_lookup(&cfg, a, 4, NULL)->udp_flood.pps, cfg.th.udp_flood.pps);
}

/* A group's thresholds apply to its hosts in the engine: the same flood
 * alerts for an ordinary host and not for an exempted one. */
static void test_host_group_applies(void)
{
    struct anomaly_config cfg = lifecycle_config();
    struct anomaly_thresholds *t;
    CU_ASSERT_FATAL(anomaly_config_add_group(&cfg, "10.5.7.0/24", "exempt", &t) == 0);
    t->udp_flood.enabled = false;
    struct harness *h = harness_new(&cfg, 1);
    struct batch b = { 0 };
    for (unsigned s = 0; s < 5; s++) {
        udp_second(h, &b, T0 + s * SEC, ip4(10, 5, 7, 1), 3000);
        udp_second(h, &b, T0 + s * SEC + SEC / 2, ip4(10, 5, 8, 1), 3000);
    }
    harness_finish(h);
    CU_ASSERT_PTR_NULL(find_alert(h, ANOMALY_UDP_FLOOD, ANOMALY_START, "10.5.7.1", NULL));
    CU_ASSERT_PTR_NOT_NULL(find_alert(h, ANOMALY_UDP_FLOOD, ANOMALY_START, "10.5.8.1", NULL));
    free(b.v);
    harness_free(h);
}

/* ---- merge: two workers equal one ------------------------------------------------------------- */

#define MERGE_TICKS 64

struct digest_run {
    uint64_t tick[MERGE_TICKS];
    uint64_t digest[MERGE_TICKS];
    uint64_t pkts[MERGE_TICKS];
    unsigned n;
};

static uint64_t mixin(uint64_t h, uint64_t v)
{
    return sketch_hash64(h ^ v, 0x5eed);
}

/* Every count and every HyperLogLog register of a merged tick (not the
 * majority keys, whose votes may legitimately differ). */
static void digest_hook(void *ctx, uint64_t tick, const struct an_snap *s, const struct an_dims *dm)
{
    struct digest_run *r = ctx;
    uint64_t h = 0;
    for (size_t i = 0; i < (size_t)AN_ROWS * dm->dst_width; i++) {
        const struct an_dst_cell *c = &s->dst[i];
        for (unsigned k = 0; k < AN_NCLASS; k++)
            h = mixin(h, an_dst_count(s, i, k));
        for (unsigned k = 0; k < AN_NBCLASS; k++)
            h = mixin(h, c->bytes[k]);
        h = mixin(h, an_dst_count(s, i, AN_NEW_FLOWS));
    }
    for (size_t i = 0; i < (size_t)AN_ROWS * dm->dsrc_width; i++)
        for (unsigned k = 0; k < AN_HLL_BYTES; k += 8) {
            uint64_t w;
            memcpy(&w, s->dsrc[i].reg + k, 8);
            h = mixin(h, w);
        }
    for (size_t i = 0; i < (size_t)AN_ROWS * dm->ev_width; i++) {
        const struct an_pair_cell *p = &s->pair[i];
        const struct an_svc_cell *v = &s->svc[i];
        h = mixin(h, p->flows);
        h = mixin(h, p->weight);
        h = mixin(h, p->attempts);
        h = mixin(h, p->failed);
        h = mixin(h, v->attempts);
        h = mixin(h, v->failed);
        for (unsigned k = 0; k < AN_HLL_BYTES; k += 8) {
            uint64_t w;
            memcpy(&w, p->ports + k, 8);
            h = mixin(h, w);
            memcpy(&w, v->hosts + k, 8);
            h = mixin(h, w);
        }
    }
    for (size_t i = 0; i < (size_t)AN_ROWS * dm->bf_width; i++) {
        h = mixin(h, s->bf[i].attempts);
        h = mixin(h, s->bf[i].longc);
        h = mixin(h, s->bf[i].failed);
    }
    h = mixin(h, s->tot.pkts);
    h = mixin(h, s->tot.bytes);
    h = mixin(h, s->tot.new_flows);
    h = mixin(h, s->tot.flow_ends);
    if (r->n < MERGE_TICKS) {
        r->tick[r->n] = tick;
        r->digest[r->n] = h;
        r->pkts[r->n] = s->tot.pkts;
        r->n++;
    }
}

static void merge_run(unsigned nw, struct digest_run *r, struct harness **out)
{
    struct anomaly_config cfg;
    anomaly_config_default(&cfg);
    struct harness *h = harness_new(&cfg, nw);
    memset(r, 0, sizeof(*r));
    an_engine_set_tick_hook(h->e, digest_hook, r);
    /* Background, a SYN flood and a port scan: all tables get traffic. */
    struct scenario s = { ATK_SYN, 300, 10, 12, 4, 4 };
    run_scenario(h, &s, 99);
    *out = h;
}

static void test_merge_equals_single(void)
{
    static struct digest_run one, two, four;
    struct harness *h1, *h2, *h4;
    merge_run(1, &one, &h1);
    merge_run(2, &two, &h2);
    merge_run(4, &four, &h4);

    CU_ASSERT(one.n >= 12);
    CU_ASSERT_EQUAL(one.n, two.n);
    CU_ASSERT_EQUAL(one.n, four.n);
    for (unsigned i = 0; i < one.n && i < two.n && i < four.n; i++) {
        CU_ASSERT_EQUAL(one.tick[i], two.tick[i]);
        CU_ASSERT(one.pkts[i] > 0);
        CU_ASSERT_EQUAL(one.pkts[i], two.pkts[i]);
        CU_ASSERT_EQUAL(one.digest[i], two.digest[i]);
        CU_ASSERT_EQUAL(one.digest[i], four.digest[i]);
    }
    /* And the same alerts, at the same times, with the same figures. */
    CU_ASSERT(h1->n_alerts > 0);
    CU_ASSERT_EQUAL(h1->n_alerts, h2->n_alerts);
    CU_ASSERT_EQUAL(h1->n_alerts, h4->n_alerts);
    for (size_t i = 0; i < h1->n_alerts && i < h2->n_alerts && i < h4->n_alerts; i++) {
        CU_ASSERT_EQUAL(h1->alerts[i].sid, h2->alerts[i].sid);
        CU_ASSERT_EQUAL(h1->alerts[i].phase, h2->alerts[i].phase);
        CU_ASSERT_EQUAL(h1->alerts[i].ts_ns, h2->alerts[i].ts_ns);
        CU_ASSERT_EQUAL(h1->alerts[i].attack_id, h2->alerts[i].attack_id);
        CU_ASSERT_EQUAL(h1->alerts[i].attack_id, h4->alerts[i].attack_id);
        CU_ASSERT_DOUBLE_EQUAL(h1->alerts[i].value, h2->alerts[i].value, 1e-9);
        CU_ASSERT_DOUBLE_EQUAL(h1->alerts[i].value, h4->alerts[i].value, 1e-9);
        CU_ASSERT_STRING_EQUAL(h1->alerts[i].signature, h4->alerts[i].signature);
    }
    harness_free(h1);
    harness_free(h2);
    harness_free(h4);
}

/* A destination cell keeps 16 bits of each counter in its per-packet line
 * and carries into a second line: counts past 65535 a tick are exact, in a
 * worker and through a merge, and saturate at UINT32_MAX. */
static void test_dst_counter_carry(void)
{
    struct anomaly_config cfg;
    anomaly_config_default(&cfg);
    cfg.dst_width = cfg.dsrc_width = cfg.event_width = cfg.bf_width = 256;
    char err[128];
    struct anomaly_engine *e = anomaly_engine_create(&cfg, 2, NULL, NULL, err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    struct anomaly_worker *w[2] = { anomaly_engine_worker(e, 0), anomaly_engine_worker(e, 1) };
    const struct an_dims dm = w[0]->dims;     /* the engine's seeds */
    struct decoded_packet d = mk(ip4(192, 0, 2, 1), 40000, ip4(10, 0, 0, 7), 80, IPPROTO_TCP,
                                 TH_SYN);
    const unsigned n[2] = { 70000, 140001 };
    for (unsigned i = 0; i < 2; i++)
        for (unsigned k = 0; k < n[i]; k++)
            anomaly_worker_packet(w[i], &d, NULL, 0, true, 64);
    uint64_t x = an_dst_x(&d, w[0]->seed);
    for (unsigned r = 0; r < AN_ROWS; r++) {
        size_t k = an_dst_index(&dm, r, x);
        CU_ASSERT_EQUAL(an_dst_count(w[0]->cur, k, AN_C_SYN), 70000);
        CU_ASSERT_EQUAL(an_dst_count(w[0]->cur, k, AN_NEW_FLOWS), 70000);
        CU_ASSERT_EQUAL(w[0]->cur->dst[k].votes, UINT16_MAX);
    }
    an_snap_merge(w[0]->cur, w[1]->cur, &dm);
    for (unsigned r = 0; r < AN_ROWS; r++) {
        size_t k = an_dst_index(&dm, r, x);
        CU_ASSERT_EQUAL(an_dst_count(w[0]->cur, k, AN_C_SYN), 210001);
        CU_ASSERT_EQUAL(an_dst_count(w[0]->cur, k, AN_NEW_FLOWS), 210001);
        CU_ASSERT_EQUAL(an_dst_count(w[0]->cur, k, AN_C_UDP), 0);
        CU_ASSERT_EQUAL(w[0]->cur->dst[k].tag, x);
    }
    /* Saturation: one short of the top, then three more. */
    size_t k0 = an_dst_index(&dm, 0, x);
    w[1]->cur->dst[k0].count[AN_C_SYN] = UINT16_MAX - 1;
    w[1]->cur->dst_ext[k0].count_hi[AN_C_SYN] = UINT16_MAX;
    for (unsigned k = 0; k < 3; k++)
        anomaly_worker_packet(w[1], &d, NULL, 0, false, 64);
    CU_ASSERT_EQUAL(an_dst_count(w[1]->cur, k0, AN_C_SYN), UINT32_MAX);
    anomaly_engine_destroy(e);
}

static bool all_zero(const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != 0)
            return false;
    return true;
}

/* The worker's current snapshot, sparse: merged sparse equals merged whole,
 * and cleared it is all zero. */
static void check_sparse(struct anomaly_worker *aw, bool flow_ends)
{
    struct an_snap *s = aw->cur, whole, sparse;
    CU_ASSERT_FATAL(s->tot.pkts <= AN_SPARSE_PKTS && !s->all_dirty);
    CU_ASSERT(!flow_ends || s->tot.flow_ends > 0);
    CU_ASSERT_EQUAL_FATAL(an_snap_init(&whole, &aw->dims), 0);
    CU_ASSERT_EQUAL_FATAL(an_snap_init(&sparse, &aw->dims), 0);
    an_snap_merge(&sparse, s, &aw->dims);
    s->all_dirty = true;
    an_snap_merge(&whole, s, &aw->dims);
    s->all_dirty = false;
    CU_ASSERT(memcmp(sparse.mem, whole.mem, whole.mem_bytes) == 0);
    CU_ASSERT(!all_zero(s->mem, s->mem_bytes));
    an_snap_clear(s);
    CU_ASSERT(all_zero(s->mem, s->mem_bytes));
    an_snap_clear(&sparse);
    CU_ASSERT(all_zero(sparse.mem, sparse.mem_bytes));
    an_snap_free(&whole);
    an_snap_free(&sparse);
}

/* A sparse tick marks the blocks it writes; merging and clearing visit only
 * those. Every kind of write (packets, new flows, reflector responses, an
 * IPv6 key, brute-force and flow-end updates) must be marked: the sparse
 * merge equals the whole-table merge, and the sparse clear leaves no byte
 * behind. A write site that forgets its mark fails here. */
static void test_sparse_snapshot(void)
{
    struct anomaly_config cfg;
    anomaly_config_default(&cfg);
    cfg.dst_width = cfg.dsrc_width = cfg.event_width = cfg.bf_width = 1024;
    struct harness *h = harness_new(&cfg, 1);
    uint64_t ts = 1000 * SEC;
    for (unsigned i = 0; i < 20; i++) {        /* SSH logins, then SYNs never answered */
        uint32_t cli = ip4(192, 0, 2, 1 + i), srv = ip4(10, 0, 0, 22);
        uint16_t port = (uint16_t)(40000 + i);
        struct decoded_packet d = mk(cli, port, srv, 22, IPPROTO_TCP, TH_SYN);
        harness_packet(h, &d, 60, ts += 1000);
        if (i % 2)
            continue;
        d = mk(srv, 22, cli, port, IPPROTO_TCP, TH_SYN | TH_ACK);
        harness_packet(h, &d, 60, ts += 1000);
        for (unsigned k = 0; k < AN_BF_CLIENT_PKTS; k++) {
            d = mk(cli, port, srv, 22, IPPROTO_TCP, TH_ACK);
            harness_packet(h, &d, 100, ts += 1000);
        }
    }
    for (unsigned i = 0; i < 20; i++) {        /* DNS answers nobody asked for */
        struct decoded_packet d = mk(ip4(198, 51, 100, 1 + i), 53, ip4(10, 0, 0, 53),
                                     (uint16_t)(1024 + i), IPPROTO_UDP, 0);
        harness_packet(h, &d, 1400, ts += 1000);
    }
    struct decoded_packet d6 = mk(0, 5000, 0, 443, IPPROTO_TCP, TH_SYN);
    d6.ip_version = 6;
    memset(d6.src_addr, 0x20, 16);
    memset(d6.dst_addr, 0x30, 16);
    harness_packet(h, &d6, 80, ts += 1000);
    struct decoded_packet ping = mk(ip4(192, 0, 2, 99), 7, ip4(10, 0, 0, 1), 7, IPPROTO_ICMP, 8);
    harness_packet(h, &ping, 98, ts += 1000);
    check_sparse(h->aw[0], false);
    /* The next second: the flows end (failed attempts, brute-force
     * sessions) in a tick of their own. */
    harness_clock(h, ts + SEC);
    harness_packet(h, &ping, 98, ts + SEC + 1);
    flow_table_flush(h->ft[0], FLOW_END_SHUTDOWN);
    check_sparse(h->aw[0], true);
    harness_free(h);
}

/* Snapshot merge itself: two halves merged equal the whole, cell by cell. */
static void test_snapshot_merge(void)
{
    struct anomaly_config cfg;
    anomaly_config_default(&cfg);
    cfg.dst_width = cfg.dsrc_width = cfg.event_width = cfg.bf_width = 256;
    char err[128];
    struct anomaly_engine *e = anomaly_engine_create(&cfg, 3, NULL, NULL, err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    struct anomaly_worker *all = anomaly_engine_worker(e, 0);
    struct anomaly_worker *half[2] = { anomaly_engine_worker(e, 1), anomaly_engine_worker(e, 2) };
    struct rng r = { 5 };
    for (unsigned i = 0; i < 20000; i++) {
        struct decoded_packet d = mk((uint32_t)rnd(&r), (uint16_t)rnd(&r),
                                     ip4(10, 0, 0, (unsigned)(rnd(&r) % 50)),
                                     (uint16_t)(rnd(&r) % 100), i % 3 ? IPPROTO_TCP : IPPROTO_UDP,
                                     TH_SYN);
        anomaly_worker_packet(all, &d, NULL, 0, i % 5 == 0, 60 + i % 100);
        anomaly_worker_packet(half[i % 2], &d, NULL, 0, i % 5 == 0, 60 + i % 100);
    }
    struct an_snap *a = all->cur, *x = half[0]->cur, *y = half[1]->cur;
    struct an_dims dm;
    CU_ASSERT_EQUAL_FATAL(an_dims_init(&dm, &cfg), 0);
    an_snap_merge(x, y, &dm);
    CU_ASSERT_EQUAL(x->tot.pkts, a->tot.pkts);
    CU_ASSERT_EQUAL(x->tot.bytes, a->tot.bytes);
    CU_ASSERT_EQUAL(x->tot.new_flows, a->tot.new_flows);
    size_t diff = 0;
    for (size_t i = 0; i < (size_t)AN_ROWS * dm.dst_width; i++) {
        for (unsigned k = 0; k < AN_NCLASS; k++)
            diff += an_dst_count(x, i, k) != an_dst_count(a, i, k);
        diff += memcmp(x->dst[i].bytes, a->dst[i].bytes, sizeof(a->dst[i].bytes)) != 0;
        diff += an_dst_count(x, i, AN_NEW_FLOWS) != an_dst_count(a, i, AN_NEW_FLOWS);
    }
    for (size_t i = 0; i < (size_t)AN_ROWS * dm.dsrc_width; i++)
        diff += memcmp(x->dsrc[i].reg, a->dsrc[i].reg, AN_HLL_BYTES) != 0;
    for (size_t i = 0; i < (size_t)AN_ROWS * dm.ev_width; i++) {
        diff += memcmp(x->pair[i].ports, a->pair[i].ports, AN_HLL_BYTES) != 0;
        diff += x->pair[i].flows != a->pair[i].flows || x->pair[i].attempts != a->pair[i].attempts;
        diff += memcmp(x->svc[i].hosts, a->svc[i].hosts, AN_HLL_BYTES) != 0;
        diff += x->svc[i].attempts != a->svc[i].attempts;
    }
    CU_ASSERT_EQUAL(diff, 0);
    /* 50 destinations, each heavy in its cells: the keys agree too. */
    size_t keyed = 0, same = 0;
    for (size_t i = 0; i < (size_t)AN_ROWS * dm.dst_width; i++) {
        if (a->dst[i].votes == 0)
            continue;
        keyed++;
        same += a->dst[i].tag == x->dst[i].tag;
    }
    CU_ASSERT(keyed > 0);
    CU_ASSERT(same >= keyed * 9 / 10);
    anomaly_engine_destroy(e);
}

/* Memory is fixed at creation, whatever comes: a million spoofed sources
 * change nothing but counters. */
static void test_fixed_memory(void)
{
    struct anomaly_config cfg;
    anomaly_config_default(&cfg);
    char err[128];
    struct anomaly_engine *e = anomaly_engine_create(&cfg, 1, NULL, NULL, err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    struct anomaly_worker *aw = anomaly_engine_worker(e, 0);
    size_t before = anomaly_worker_memory(aw);
    CU_ASSERT(before < 32u << 20);
    anomaly_worker_tick(aw, T0);
    struct rng r = { 11 };
    for (unsigned i = 0; i < 1000000; i++) {
        struct decoded_packet d = mk((uint32_t)rnd(&r), 1234, ip4(10, 10, 10, 10), 80,
                                     IPPROTO_TCP, TH_SYN);
        anomaly_worker_packet(aw, &d, NULL, 0, true, 60);
        if (i % 100000 == 99999) {
            anomaly_worker_tick(aw, T0 + (i / 100000 + 1) * SEC);
            anomaly_engine_poll(e);
        }
    }
    CU_ASSERT_EQUAL(anomaly_worker_memory(aw), before);
    CU_ASSERT_EQUAL(anomaly_worker_ticks_dropped(aw), 0);
    anomaly_worker_finish(aw);
    anomaly_engine_finish(e);
    CU_ASSERT(anomaly_engine_counter(e, ANOMALY_ENGINE_TICKS) >= 10);
    anomaly_engine_destroy(e);
}

/* A worker whose main thread is away drops ticks, counted, never blocks. */
static void test_dropped_ticks(void)
{
    struct anomaly_config cfg;
    anomaly_config_default(&cfg);
    cfg.snapshots = 2;
    cfg.dst_width = cfg.dsrc_width = cfg.event_width = cfg.bf_width = 64;
    char err[128];
    struct anomaly_engine *e = anomaly_engine_create(&cfg, 1, NULL, NULL, err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    struct anomaly_worker *aw = anomaly_engine_worker(e, 0);
    struct decoded_packet d = mk(ip4(1, 2, 3, 4), 1, ip4(5, 6, 7, 8), 2, IPPROTO_UDP, 0);
    for (unsigned s = 0; s < 5; s++) {
        anomaly_worker_tick(aw, T0 + s * SEC);
        anomaly_worker_packet(aw, &d, NULL, 0, false, 100);
    }
    /* 2 snapshots: tick 0 published, 1 current; from then on no free one. */
    CU_ASSERT_EQUAL(anomaly_worker_ticks_dropped(aw), 3);
    /* Tick 0, then 1..3 (dropped: empty for the engine); 4 is still open. */
    CU_ASSERT_EQUAL(anomaly_engine_poll(e), 4);
    CU_ASSERT_EQUAL(anomaly_engine_counter(e, ANOMALY_ENGINE_TICKS_EMPTY), 3);
    anomaly_worker_finish(aw);
    anomaly_engine_finish(e);
    anomaly_engine_destroy(e);
}

/* ---- real captures ---------------------------------------------------------------------------- */

static const char *data_dir(void)
{
    const char *d = getenv("MAMORI_DATA");
    return d ? d : "../shared/data";
}

/* Feed a capture; false when it cannot be opened. */
static bool read_capture(struct harness *h, const char *rel)
{
    char path[1024], errbuf[PCAP_ERRBUF_SIZE];
    snprintf(path, sizeof(path), "%s/%s", data_dir(), rel);
    pcap_t *p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, errbuf);
    if (p == NULL) {
        printf("\n    %s: %s", path, errbuf);
        return false;
    }
    enum link_type lt = link_type_from_dlt(pcap_datalink(p));
    struct decoder_counters counters;
    memset(&counters, 0, sizeof(counters));
    struct pcap_pkthdr *hdr;
    const u_char *bytes;
    while (pcap_next_ex(p, &hdr, &bytes) == 1) {
        struct packet pkt = {
            .data = bytes, .caplen = hdr->caplen, .wirelen = hdr->len,
            .ts_ns = (uint64_t)hdr->ts.tv_sec * SEC + (uint64_t)hdr->ts.tv_usec,
            .link_type = (uint16_t)lt,
        };
        struct decoded_packet d;
        decode_packet(&pkt, &d, &counters);
        harness_packet(h, &d, hdr->len, pkt.ts_ns);
    }
    pcap_close(p);
    harness_finish(h);
    return true;
}

static struct harness *capture(const char *rel)
{
    struct anomaly_config cfg;
    anomaly_config_default(&cfg);
    struct harness *h = harness_new(&cfg, 2);
    bool ok = read_capture(h, rel);
    CU_ASSERT(ok);
    if (verbose)
        printf("\n    %s: %zu alerts", rel, h->n_alerts);
    return h;
}

/* Every started attack of a capture is one of `dets` (a SYN flood also being
 * a new-flow spike, say, would be a second story about the same traffic). */
static void assert_only(const struct harness *h, const enum anomaly_detector *dets, unsigned n)
{
    for (size_t i = 0; i < h->n_alerts; i++) {
        bool ok = false;
        for (unsigned k = 0; k < n; k++)
            ok |= h->alerts[i].detector == dets[k];
        CU_ASSERT(ok);
        if (!ok)
            print_alert(&h->alerts[i]);
    }
}

static void test_capture_syn_flood(void)
{
    struct harness *h = capture("pcaps/stopddos/pkt.TCP.synflood.spoofed.pcap");
    const struct anomaly_alert *a = find_alert(h, ANOMALY_SYN_FLOOD, ANOMALY_START, "10.10.10.10", NULL);
    CU_ASSERT_PTR_NOT_NULL(a);
    if (a) {
        CU_ASSERT(a->distinct_sources > 10000);            /* spoofed */
        CU_ASSERT_EQUAL(a->proto, IPPROTO_TCP);
    }
    /* One story despite the gap in the flood (tick 23 quiet). */
    CU_ASSERT_EQUAL(count_alerts(h, ANOMALY_SYN_FLOOD, ANOMALY_START), 1);
    CU_ASSERT_EQUAL(count_alerts(h, ANOMALY_SYN_FLOOD, ANOMALY_END), 1);
    const enum anomaly_detector ok[] = { ANOMALY_SYN_FLOOD };
    assert_only(h, ok, 1);
    harness_free(h);
}

static void test_capture_synack_reflection(void)
{
    struct harness *h = capture("pcaps/stopddos/amp.TCP.reflection.SYNACK.pcap");
    CU_ASSERT_PTR_NOT_NULL(find_alert(h, ANOMALY_SYNACK_REFLECTION, ANOMALY_START, "10.10.10.10", NULL));
    const enum anomaly_detector ok[] = { ANOMALY_SYNACK_REFLECTION };
    assert_only(h, ok, 1);
    harness_free(h);
}

static void test_capture_dns_amplification(void)
{
    struct harness *h = capture("pcaps/stopddos/amp.dns.RRSIG.fragmented.pcap");
    const struct anomaly_alert *a =
        find_alert(h, ANOMALY_AMPLIFICATION, ANOMALY_START, "10.10.10.10", NULL);
    CU_ASSERT_PTR_NOT_NULL(a);
    if (a)
        CU_ASSERT_STRING_EQUAL(a->signature, "MAMORI DNS amplification toward 10.10.10.10");
    const enum anomaly_detector ok[] = { ANOMALY_AMPLIFICATION };
    assert_only(h, ok, 1);
    harness_free(h);
}

static void test_capture_snmp_amplification(void)
{
    struct harness *h = capture("pcaps/stopddos/amp.UDP.snmp.src161.pcapng");
    const struct anomaly_alert *a =
        find_alert(h, ANOMALY_AMPLIFICATION, ANOMALY_START, "10.10.10.10", NULL);
    CU_ASSERT_PTR_NOT_NULL(a);
    if (a) {
        CU_ASSERT_STRING_EQUAL(a->signature, "MAMORI SNMP amplification toward 10.10.10.10");
        CU_ASSERT(a->distinct_sources > 1000);
        CU_ASSERT_EQUAL(a->n_top, ANOMALY_TOP_SOURCES);
    }
    const enum anomaly_detector ok[] = { ANOMALY_AMPLIFICATION };
    assert_only(h, ok, 1);
    harness_free(h);
}

static void test_capture_synscan(void)
{
    struct harness *h = capture("pcaps/ndpi/synscan.pcap");
    const struct anomaly_alert *a = find_alert(h, ANOMALY_PORT_SCAN, ANOMALY_START, NULL, "172.16.0.8");
    CU_ASSERT_PTR_NOT_NULL(a);
    if (a) {
        CU_ASSERT(addr_is(&a->victim, "64.13.134.52"));
        CU_ASSERT_STRING_EQUAL(a->category, "Detection of a Network Scan");
    }
    const enum anomaly_detector ok[] = { ANOMALY_PORT_SCAN };
    assert_only(h, ok, 1);
    harness_free(h);
}

static void test_capture_ssh_guess(void)
{
    struct harness *h = capture("pcaps/zeek/ssh_sshguess.pcap");
    const struct anomaly_alert *a =
        find_alert(h, ANOMALY_BRUTE_FORCE, ANOMALY_START, "192.168.56.103", "192.168.56.1");
    CU_ASSERT_PTR_NOT_NULL(a);
    if (a)
        CU_ASSERT_EQUAL(a->port, 22);
    const enum anomaly_detector ok[] = { ANOMALY_BRUTE_FORCE };
    assert_only(h, ok, 1);
    harness_free(h);
}

static void test_capture_benign(void)
{
    static const char *const files[] = {
        "pcaps/zeek/wikipedia.pcap",
        "pcaps/zeek/http_bro.org.pcap",
        "pcaps/zeek/http_methods.pcap",
    };
    for (unsigned i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        struct harness *h = capture(files[i]);
        CU_ASSERT_EQUAL(h->n_alerts, 0);
        for (size_t k = 0; k < h->n_alerts; k++)
            print_alert(&h->alerts[k]);
        harness_free(h);
    }
}

/* The nDPI set less its attack, scan and fuzz captures: false positives
 * with default thresholds, counted and printed. */
static bool ndpi_excluded(const char *name)
{
    static const char *const bad[] = {
        "fuzz", "ossfuzz", "malformed", "badpackets", "reasm_crash", "overflow", "fuzzed",
        "synscan", "tcp_scan", "scan", "flood", "dos", "attack", "Webattack", "injection",
        "exploit",
    };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (strstr(name, bad[i]))
            return true;
    return false;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_capture_ndpi_false_positives(void)
{
    char dir[1024];
    snprintf(dir, sizeof(dir), "%s/pcaps/ndpi", data_dir());
    DIR *dh = opendir(dir);
    CU_ASSERT_PTR_NOT_NULL_FATAL(dh);
    char *names[2048];
    unsigned n = 0;
    struct dirent *de;
    while ((de = readdir(dh)) != NULL && n < 2048) {
        if (de->d_name[0] == '.' || ndpi_excluded(de->d_name))
            continue;
        if (!strstr(de->d_name, ".pcap"))
            continue;
        names[n++] = strdup(de->d_name);
    }
    closedir(dh);
    qsort(names, n, sizeof(names[0]), name_cmp);
    unsigned files = 0, with_alerts = 0, starts = 0;
    for (unsigned i = 0; i < n; i++) {
        char rel[1100];
        snprintf(rel, sizeof(rel), "pcaps/ndpi/%s", names[i]);
        struct anomaly_config cfg;
        anomaly_config_default(&cfg);
        cfg.dst_width = 1024;        /* small captures: small tables, quicker */
        cfg.event_width = cfg.dsrc_width = 1024;
        cfg.bf_width = 256;
        struct harness *h = harness_new(&cfg, 1);
        if (read_capture(h, rel)) {
            files++;
            size_t k = count_alerts(h, -1, ANOMALY_START);
            if (k) {
                with_alerts++;
                starts += (unsigned)k;
                printf("\n    %s:", names[i]);
                for (size_t j = 0; j < h->n_alerts; j++)
                    if (h->alerts[j].phase == ANOMALY_START)
                        print_alert(&h->alerts[j]);
            }
        }
        harness_free(h);
        free(names[i]);
    }
    printf("\n    nDPI benign set: %u captures, %u with alerts, %u attacks started", files,
           with_alerts, starts);
    CU_ASSERT(files > 400);
    CU_ASSERT_EQUAL(starts, 0);
}

int main(void)
{
    verbose = getenv("MAMORI_ANOMALY_VERBOSE") != NULL;
    CU_TestInfo cases[] = {
        { "host groups: longest prefix", test_host_groups },
        { "host groups: applied per victim", test_host_group_applies },
        { "snapshot merge equals one stream", test_snapshot_merge },
        { "1, 2, 4 workers: same ticks, same alerts", test_merge_equals_single },
        { "memory fixed under 1M spoofed sources", test_fixed_memory },
        { "destination counters carry past 16 bits", test_dst_counter_carry },
        { "sparse ticks: every write marked", test_sparse_snapshot },
        { "main thread away: ticks dropped, counted", test_dropped_ticks },
        { "lifecycle: start, updates, end", test_lifecycle },
        { "lifecycle: no flapping", test_no_flapping },
        { "lifecycle: bounded alerts", test_bounded_alerts },
        { "synthetic SYN flood 10x / 1.5x", test_synthetic_syn_flood },
        { "synthetic UDP flood 10x / 1.5x", test_synthetic_udp_flood },
        { "synthetic DNS amplification 10x / 1.5x", test_synthetic_dns_amplification },
        { "synthetic port scan 10x / 1.5x", test_synthetic_port_scan },
        { "synthetic host sweep 10x / 1.5x", test_synthetic_host_sweep },
        { "synthetic SYN+ECE+CWR flood 10x / 1.5x", test_synthetic_syn_ecn_flood },
        { "synthetic ACK flood 10x / 1.5x", test_synthetic_ack_flood },
        { "synthetic RST flood 10x / 1.5x", test_synthetic_rst_flood },
        { "synthetic SYN-ACK reflection 10x / 1.5x", test_synthetic_synack_reflection },
        { "synthetic ICMP flood 10x / 1.5x", test_synthetic_icmp_flood },
        { "synthetic fragment flood 10x / 1.5x", test_synthetic_frag_flood },
        { "synthetic new-flow spike 10x / 1.5x", test_synthetic_flow_spike },
        { "synthetic volume spike 10x / 1.5x", test_synthetic_volume_spike },
        { "synthetic decode anomaly 10x / 1.5x", test_synthetic_decode_anomaly },
        { "synthetic brute force 10x / 1.5x", test_synthetic_brute_force },
        { "brute force: alert within 2 s of the 10th", test_brute_force_delay },
        { "capture: SYN flood", test_capture_syn_flood },
        { "capture: SYN-ACK reflection", test_capture_synack_reflection },
        { "capture: DNS amplification", test_capture_dns_amplification },
        { "capture: SNMP amplification", test_capture_snmp_amplification },
        { "capture: SYN scan", test_capture_synscan },
        { "capture: SSH guessing", test_capture_ssh_guess },
        { "capture: benign zeek traces", test_capture_benign },
        { "capture: nDPI benign set", test_capture_ndpi_false_positives },
        CU_TEST_INFO_NULL,
    };
    return cunit_run("anomaly", cases);
}
