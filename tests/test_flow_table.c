/* test_flow_table.c - flow records and the flow table, on hand-built packets.
 *
 * No decoder here: each test fills struct decoded_packet itself and drives
 * the table the way a worker does (see feed()). Times are packet times in
 * nanoseconds; the tests choose them to sit on either side of a timeout. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "cunit_run.h"
#include "flow_table.h"

#define SEC 1000000000ULL
#define T0 (1700000000ULL * SEC)        /* some packet time in 2023 */

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10

/* ------------------------------------------------------------------------
 * Packets
 * ------------------------------------------------------------------------ */

static struct decoded_packet pkt(int af, const char *src, uint16_t sport,
                                 const char *dst, uint16_t dport, uint8_t proto,
                                 uint8_t tcp_flags)
{
    struct decoded_packet d;

    memset(&d, 0, sizeof(d));
    CU_ASSERT_FATAL(inet_pton(af, src, d.src_addr) == 1);
    CU_ASSERT_FATAL(inet_pton(af, dst, d.dst_addr) == 1);
    d.src_port = sport;
    d.dst_port = dport;
    d.ip_version = af == AF_INET ? 4 : 6;
    d.ip_proto = proto;
    d.flags = DECODED_IP | DECODED_L4;
    d.ttl = 64;
    d.tcp_flags = proto == IPPROTO_TCP ? tcp_flags : 0;
    return d;
}

/* The reply to d: addresses and ports swapped. */
static struct decoded_packet reply(const struct decoded_packet *d, uint8_t tcp_flags)
{
    struct decoded_packet r = *d;

    memcpy(r.src_addr, d->dst_addr, 16);
    memcpy(r.dst_addr, d->src_addr, 16);
    r.src_port = d->dst_port;
    r.dst_port = d->src_port;
    r.tcp_flags = tcp_flags;
    return r;
}

static struct decoded_packet with_flags(const struct decoded_packet *d, uint8_t tcp_flags)
{
    struct decoded_packet r = *d;

    r.tcp_flags = tcp_flags;
    return r;
}

/* Client 10.0.0.1:40000 -> server 10.0.0.2:port. */
static struct decoded_packet cli4(uint8_t proto, uint16_t port, uint8_t tcp_flags)
{
    return pkt(AF_INET, "10.0.0.1", 40000, "10.0.0.2", port, proto, tcp_flags);
}

/* ------------------------------------------------------------------------
 * What on_end saw
 * ------------------------------------------------------------------------ */

#define MAX_ENDS 64

struct ends {
    unsigned n;
    unsigned by_reason[4];
    struct flow flow[MAX_ENDS];         /* copies of the first MAX_ENDS ended */
    enum flow_end_reason reason[MAX_ENDS];
};

static void record_end(void *ctx, const struct flow *f, enum flow_end_reason reason)
{
    struct ends *e = ctx;

    CU_ASSERT(f->in_use);
    if (e->n < MAX_ENDS) {
        e->flow[e->n] = *f;
        e->reason[e->n] = reason;
    }
    e->by_reason[reason]++;
    e->n++;
}

/* Short timeouts so the tests read easily. */
static void test_config(struct flow_table_config *cfg, uint32_t capacity)
{
    flow_table_config_default(cfg);
    cfg->capacity = capacity;
    cfg->timeouts.tcp[FLOW_STATE_NEW] = 6;
    cfg->timeouts.tcp[FLOW_STATE_ESTABLISHED] = 60;
    cfg->timeouts.tcp[FLOW_STATE_CLOSING] = 12;
    cfg->timeouts.tcp[FLOW_STATE_CLOSED] = 3;
    cfg->timeouts.udp[FLOW_STATE_NEW] = 30;
    cfg->timeouts.udp[FLOW_STATE_ESTABLISHED] = 50;
}

static struct flow_table *new_table(uint32_t capacity, struct ends *e)
{
    struct flow_table_config cfg;
    struct flow_table *ft;

    memset(e, 0, sizeof(*e));
    test_config(&cfg, capacity);
    ft = flow_table_create(&cfg, record_end, e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ft);
    return ft;
}

/* What a worker does with one packet: look the flow up, start it over on
 * tuple reuse, init it when new, account the packet. */
static struct flow *feed_hash(struct flow_table *ft, const struct decoded_packet *d,
                              uint32_t hash, uint32_t wirelen, uint64_t ts, bool *created)
{
    struct flow_key key;
    unsigned side = flow_key_from_decoded(&key, d);
    bool c;
    struct flow *f = flow_table_lookup(ft, &key, hash, ts, &c);

    if (f && !c && flow_tuple_reused(f, d)) {
        flow_table_end(ft, f, FLOW_END_CLOSED);
        f = flow_table_lookup(ft, &key, hash, ts, &c);
    }
    if (f && c)
        flow_init(f, &key, hash, side, d, ts);
    if (f)
        flow_update(f, side, d, wirelen, ts);
    if (created)
        *created = c;
    return f;
}

static struct flow *feed(struct flow_table *ft, const struct decoded_packet *d,
                         uint32_t wirelen, uint64_t ts, bool *created)
{
    struct flow_key key;

    flow_key_from_decoded(&key, d);
    return feed_hash(ft, d, flow_key_hash(&key), wirelen, ts, created);
}

/* A standalone flow record (no table) fed by packets. */
static void solo_start(struct flow *f, const struct decoded_packet *d, uint64_t ts)
{
    struct flow_key key;
    unsigned side = flow_key_from_decoded(&key, d);

    memset(f, 0, sizeof(*f));
    flow_init(f, &key, flow_key_hash(&key), side, d, ts);
    flow_update(f, side, d, 100, ts);
}

static void solo_packet(struct flow *f, const struct decoded_packet *d, uint64_t ts)
{
    struct flow_key key;
    unsigned side = flow_key_from_decoded(&key, d);

    CU_ASSERT(flow_key_equal(&key, &f->key));
    flow_update(f, side, d, 100, ts);
}

/* ------------------------------------------------------------------------
 * Keys and directions
 * ------------------------------------------------------------------------ */

static void check_both_directions(int af, const char *a, const char *b)
{
    struct ends e;
    struct flow_table *ft = new_table(64, &e);
    struct decoded_packet fwd = pkt(af, a, 1234, b, 80, IPPROTO_TCP, TH_SYN);
    struct decoded_packet rev = reply(&fwd, TH_SYN | TH_ACK);
    struct flow_key k1, k2;
    bool created;
    struct flow *f1, *f2;

    flow_key_from_decoded(&k1, &fwd);
    flow_key_from_decoded(&k2, &rev);
    CU_ASSERT(flow_key_equal(&k1, &k2));
    CU_ASSERT_EQUAL(flow_key_hash(&k1), flow_key_hash(&k2));

    f1 = feed(ft, &fwd, 60, T0, &created);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f1);
    CU_ASSERT(created);
    f2 = feed(ft, &rev, 1500, T0 + 1000, &created);
    CU_ASSERT_PTR_EQUAL(f1, f2);
    CU_ASSERT(!created);
    CU_ASSERT_EQUAL(flow_table_active(ft), 1);
    CU_ASSERT_EQUAL(f1->pkts[FLOW_TOSERVER], 1);
    CU_ASSERT_EQUAL(f1->pkts[FLOW_TOCLIENT], 1);
    CU_ASSERT_EQUAL(f1->bytes[FLOW_TOSERVER], 60);
    CU_ASSERT_EQUAL(f1->bytes[FLOW_TOCLIENT], 1500);
    CU_ASSERT_EQUAL(f1->key.ip_version, af == AF_INET ? 4 : 6);
    CU_ASSERT_EQUAL(flow_table_counter(ft, FLOW_TABLE_CREATED), 1);
    flow_table_destroy(ft);
}

static void test_both_directions_ipv4(void)
{
    check_both_directions(AF_INET, "192.168.1.10", "10.1.1.1");
    check_both_directions(AF_INET, "10.1.1.1", "192.168.1.10");
}

static void test_both_directions_ipv6(void)
{
    check_both_directions(AF_INET6, "2001:db8::1", "2001:db8::2");
    check_both_directions(AF_INET6, "fe80::2", "2001:db8::1");
}

static void test_same_address_ports_order(void)
{
    /* Same address both ends: the ports decide the key order. */
    struct decoded_packet fwd = pkt(AF_INET, "127.0.0.1", 5000, "127.0.0.1", 80, IPPROTO_UDP, 0);
    struct decoded_packet rev = reply(&fwd, 0);
    struct flow_key k1, k2;
    unsigned s1 = flow_key_from_decoded(&k1, &fwd), s2 = flow_key_from_decoded(&k2, &rev);

    CU_ASSERT(flow_key_equal(&k1, &k2));
    CU_ASSERT_NOT_EQUAL(s1, s2);
}

/* flow_key_hash() is the CRC32-C of the 48 key bytes, as rte_hash_crc()
 * computes it; the barrier keeps rte_hash_crc()'s uint64_t loads behind the
 * stores that fill the key. */
static void test_key_hash_is_crc(void)
{
    struct decoded_packet d = pkt(AF_INET6, "2001:db8::7", 4444, "2001:db8::1", 53, IPPROTO_UDP, 0);
    struct flow_key key;

    d.vlan[0] = 100;
    flow_key_from_decoded(&key, &d);
    __asm__ volatile("" ::: "memory");
    CU_ASSERT_EQUAL(flow_key_hash(&key), rte_hash_crc(&key, sizeof(key), 0x6d616d6fu));
}

static void test_vlan_separates_flows(void)
{
    struct ends e;
    struct flow_table *ft = new_table(64, &e);
    struct decoded_packet a = cli4(IPPROTO_UDP, 53, 0), b = a, c = a;
    bool created;
    struct flow *fa, *fb, *fc;

    b.vlan[0] = 10;
    c.vlan[0] = 10;
    c.vlan[1] = 20;
    fa = feed(ft, &a, 80, T0, &created);
    CU_ASSERT(created);
    fb = feed(ft, &b, 80, T0, &created);
    CU_ASSERT(created);
    fc = feed(ft, &c, 80, T0, &created);
    CU_ASSERT(created);
    CU_ASSERT_PTR_NOT_EQUAL(fa, fb);
    CU_ASSERT_PTR_NOT_EQUAL(fb, fc);
    CU_ASSERT_EQUAL(flow_table_active(ft), 3);
    /* The reply on VLAN 10 finds b's flow. */
    struct decoded_packet rb = reply(&b, 0);
    CU_ASSERT_PTR_EQUAL(feed(ft, &rb, 80, T0 + 1, &created), fb);
    CU_ASSERT(!created);
    CU_ASSERT_EQUAL(fb->state, FLOW_STATE_ESTABLISHED);
    CU_ASSERT_EQUAL(fa->state, FLOW_STATE_NEW);
    flow_table_destroy(ft);
}

/* ------------------------------------------------------------------------
 * Per-direction accounting and the initiator
 * ------------------------------------------------------------------------ */

static void test_direction_counters(void)
{
    struct flow f;
    struct decoded_packet syn = cli4(IPPROTO_TCP, 443, TH_SYN);
    struct decoded_packet synack = reply(&syn, TH_SYN | TH_ACK);
    struct decoded_packet ack = with_flags(&syn, TH_ACK);
    struct decoded_packet data = with_flags(&syn, TH_ACK | TH_PSH);
    struct flow_key key;
    unsigned side = flow_key_from_decoded(&key, &syn);

    memset(&f, 0, sizeof(f));
    flow_init(&f, &key, flow_key_hash(&key), side, &syn, T0);
    CU_ASSERT_EQUAL(f.initiator, side);
    flow_update(&f, side, &syn, 74, T0);
    flow_update(&f, !side, &synack, 74, T0 + 10);
    flow_update(&f, side, &ack, 66, T0 + 20);
    flow_update(&f, side, &data, 500, T0 + 30);

    CU_ASSERT_EQUAL(f.pkts[FLOW_TOSERVER], 3);
    CU_ASSERT_EQUAL(f.pkts[FLOW_TOCLIENT], 1);
    CU_ASSERT_EQUAL(f.bytes[FLOW_TOSERVER], 74 + 66 + 500);
    CU_ASSERT_EQUAL(f.bytes[FLOW_TOCLIENT], 74);
    CU_ASSERT_EQUAL(f.tcp_flags[FLOW_TOSERVER], TH_SYN | TH_ACK | TH_PSH);
    CU_ASSERT_EQUAL(f.tcp_flags[FLOW_TOCLIENT], TH_SYN | TH_ACK);
    CU_ASSERT_EQUAL(f.first_ts_ns, T0);
    CU_ASSERT_EQUAL(f.last_ts_ns, T0 + 30);
    CU_ASSERT_EQUAL(f.hash, flow_key_hash(&key));
}

static void test_initiator_synack_first(void)
{
    struct flow f;
    /* The server's SYN-ACK is the first packet we see: the client is the
     * side it is sent to. */
    struct decoded_packet synack = pkt(AF_INET, "10.0.0.2", 443, "10.0.0.1", 40000,
                                       IPPROTO_TCP, TH_SYN | TH_ACK);
    struct decoded_packet ack = reply(&synack, TH_ACK);
    struct flow_key key;
    unsigned server_side = flow_key_from_decoded(&key, &synack);

    solo_start(&f, &synack, T0);
    CU_ASSERT_EQUAL(f.initiator, !server_side);
    CU_ASSERT_EQUAL(f.pkts[FLOW_TOCLIENT], 1);
    CU_ASSERT_EQUAL(f.pkts[FLOW_TOSERVER], 0);
    CU_ASSERT_EQUAL(f.tcp_state, TCP_STATE_SYN_RECV);
    CU_ASSERT_EQUAL(f.state, FLOW_STATE_NEW);
    solo_packet(&f, &ack, T0 + 1);
    CU_ASSERT_EQUAL(f.pkts[FLOW_TOSERVER], 1);
    CU_ASSERT_EQUAL(f.tcp_state, TCP_STATE_ESTABLISHED);
    CU_ASSERT_EQUAL(f.state, FLOW_STATE_ESTABLISHED);

    /* A plain first packet from the higher endpoint: that side is the client. */
    struct decoded_packet udp = pkt(AF_INET, "10.0.0.9", 5353, "10.0.0.1", 53, IPPROTO_UDP, 0);
    unsigned udp_side = flow_key_from_decoded(&key, &udp);
    solo_start(&f, &udp, T0);
    CU_ASSERT_EQUAL(udp_side, 1);
    CU_ASSERT_EQUAL(f.initiator, 1);
    CU_ASSERT_EQUAL(f.pkts[FLOW_TOSERVER], 1);
}

static void test_time_backwards_in_flow(void)
{
    struct flow f;
    struct decoded_packet d = cli4(IPPROTO_UDP, 53, 0);

    solo_start(&f, &d, T0 + 5 * SEC);
    solo_packet(&f, &d, T0 + 4 * SEC);          /* earlier than the first */
    CU_ASSERT_EQUAL(f.first_ts_ns, T0 + 5 * SEC);
    CU_ASSERT_EQUAL(f.last_ts_ns, T0 + 5 * SEC);
    solo_packet(&f, &d, T0 + 7 * SEC);
    solo_packet(&f, &d, T0 + 6 * SEC);
    CU_ASSERT_EQUAL(f.last_ts_ns, T0 + 7 * SEC);
    CU_ASSERT(f.last_ts_ns >= f.first_ts_ns);
    CU_ASSERT_EQUAL(f.pkts[FLOW_TOSERVER], 4);
}

/* ------------------------------------------------------------------------
 * State machines
 * ------------------------------------------------------------------------ */

static void test_tcp_handshake_and_fin_close(void)
{
    struct flow f;
    struct decoded_packet syn = cli4(IPPROTO_TCP, 80, TH_SYN);
    struct decoded_packet srv = reply(&syn, 0);
    struct decoded_packet c;
    struct decoded_packet s;

    solo_start(&f, &syn, T0);
    CU_ASSERT_EQUAL(f.tcp_state, TCP_STATE_SYN_SENT);
    CU_ASSERT_EQUAL(f.state, FLOW_STATE_NEW);
    solo_packet(&f, &syn, T0 + 1);              /* retransmitted SYN */
    CU_ASSERT_EQUAL(f.tcp_state, TCP_STATE_SYN_SENT);

    s = with_flags(&srv, TH_SYN | TH_ACK);
    solo_packet(&f, &s, T0 + 2);
    CU_ASSERT_EQUAL(f.tcp_state, TCP_STATE_SYN_RECV);
    CU_ASSERT_EQUAL(f.state, FLOW_STATE_NEW);

    c = with_flags(&syn, TH_ACK);
    solo_packet(&f, &c, T0 + 3);
    CU_ASSERT_EQUAL(f.tcp_state, TCP_STATE_ESTABLISHED);
    CU_ASSERT_EQUAL(f.state, FLOW_STATE_ESTABLISHED);

    c = with_flags(&syn, TH_ACK | TH_PSH);
    solo_packet(&f, &c, T0 + 4);
    s = with_flags(&srv, TH_ACK | TH_PSH);
    solo_packet(&f, &s, T0 + 5);
    CU_ASSERT_EQUAL(f.tcp_state, TCP_STATE_ESTABLISHED);

    c = with_flags(&syn, TH_FIN | TH_ACK);
    solo_packet(&f, &c, T0 + 6);
    CU_ASSERT_EQUAL(f.tcp_state, TCP_STATE_FIN_WAIT);
    CU_ASSERT_EQUAL(f.state, FLOW_STATE_CLOSING);
    solo_packet(&f, &c, T0 + 7);                /* FIN retransmitted */
    CU_ASSERT_EQUAL(f.tcp_state, TCP_STATE_FIN_WAIT);
    s = with_flags(&srv, TH_ACK);
    solo_packet(&f, &s, T0 + 8);                /* ACK of the FIN only */
    CU_ASSERT_EQUAL(f.tcp_state, TCP_STATE_FIN_WAIT);

    s = with_flags(&srv, TH_FIN | TH_ACK);
    solo_packet(&f, &s, T0 + 9);
    CU_ASSERT_EQUAL(f.tcp_state, TCP_STATE_CLOSE_WAIT);
    CU_ASSERT_EQUAL(f.state, FLOW_STATE_CLOSING);
    CU_ASSERT_EQUAL(f.fin_seen, 3);

    c = with_flags(&syn, TH_ACK);
    solo_packet(&f, &c, T0 + 10);
    CU_ASSERT_EQUAL(f.tcp_state, TCP_STATE_CLOSED);
    CU_ASSERT_EQUAL(f.state, FLOW_STATE_CLOSED);
    CU_ASSERT_EQUAL(f.pkts[FLOW_TOSERVER], 7);
    CU_ASSERT_EQUAL(f.pkts[FLOW_TOCLIENT], 4);
}

static void test_tcp_rst(void)
{
    struct flow f;
    struct decoded_packet syn = cli4(IPPROTO_TCP, 80, TH_SYN);
    struct decoded_packet rst = reply(&syn, TH_RST | TH_ACK);
    struct decoded_packet ack = with_flags(&syn, TH_ACK);

    /* Refused connection: SYN, RST-ACK. */
    solo_start(&f, &syn, T0);
    solo_packet(&f, &rst, T0 + 1);
    CU_ASSERT_EQUAL(f.tcp_state, TCP_STATE_CLOSED);
    CU_ASSERT_EQUAL(f.state, FLOW_STATE_CLOSED);
    solo_packet(&f, &ack, T0 + 2);              /* stragglers do not reopen it */
    CU_ASSERT_EQUAL(f.tcp_state, TCP_STATE_CLOSED);

    /* RST from the client of an established connection. */
    solo_start(&f, &ack, T0);
    CU_ASSERT_EQUAL(f.tcp_state, TCP_STATE_ESTABLISHED);
    struct decoded_packet crst = with_flags(&syn, TH_RST);
    solo_packet(&f, &crst, T0 + 1);
    CU_ASSERT_EQUAL(f.tcp_state, TCP_STATE_CLOSED);

    /* RST while closing. */
    solo_start(&f, &ack, T0);
    struct decoded_packet fin = with_flags(&syn, TH_FIN | TH_ACK);
    solo_packet(&f, &fin, T0 + 1);
    CU_ASSERT_EQUAL(f.state, FLOW_STATE_CLOSING);
    solo_packet(&f, &rst, T0 + 2);
    CU_ASSERT_EQUAL(f.state, FLOW_STATE_CLOSED);
}

static void test_tcp_midstream(void)
{
    struct flow f;
    struct decoded_packet data = cli4(IPPROTO_TCP, 22, TH_ACK | TH_PSH);
    struct decoded_packet sdata = reply(&data, TH_ACK | TH_PSH);

    solo_start(&f, &data, T0);
    CU_ASSERT_EQUAL(f.tcp_state, TCP_STATE_ESTABLISHED);
    CU_ASSERT_EQUAL(f.state, FLOW_STATE_ESTABLISHED);
    CU_ASSERT_EQUAL(f.pkts[FLOW_TOSERVER], 1);
    solo_packet(&f, &sdata, T0 + 1);
    CU_ASSERT_EQUAL(f.pkts[FLOW_TOCLIENT], 1);
    CU_ASSERT_EQUAL(f.tcp_state, TCP_STATE_ESTABLISHED);

    /* Picked up on its FIN: established, then closing. */
    struct decoded_packet fin = with_flags(&data, TH_FIN | TH_ACK);
    solo_start(&f, &fin, T0);
    CU_ASSERT_EQUAL(f.tcp_state, TCP_STATE_FIN_WAIT);
    CU_ASSERT_EQUAL(f.state, FLOW_STATE_CLOSING);

    /* A TCP fragment without its header counts but moves nothing. */
    struct decoded_packet frag = data;
    frag.flags = DECODED_IP | DECODED_FRAGMENT | DECODED_FRAG_LATER;
    frag.tcp_flags = 0;
    solo_start(&f, &frag, T0);
    CU_ASSERT_EQUAL(f.tcp_state, TCP_STATE_NONE);
    CU_ASSERT_EQUAL(f.state, FLOW_STATE_NEW);
    CU_ASSERT_EQUAL(f.pkts[FLOW_TOSERVER], 1);
    solo_packet(&f, &data, T0 + 1);
    CU_ASSERT_EQUAL(f.tcp_state, TCP_STATE_ESTABLISHED);
}

static void test_udp_icmp_states(void)
{
    struct flow f;
    struct decoded_packet q = cli4(IPPROTO_UDP, 53, 0);
    struct decoded_packet r = reply(&q, 0);

    solo_start(&f, &q, T0);
    CU_ASSERT_EQUAL(f.state, FLOW_STATE_NEW);
    CU_ASSERT_EQUAL(f.tcp_state, TCP_STATE_NONE);
    solo_packet(&f, &q, T0 + 1);
    CU_ASSERT_EQUAL(f.state, FLOW_STATE_NEW);
    solo_packet(&f, &r, T0 + 2);
    CU_ASSERT_EQUAL(f.state, FLOW_STATE_ESTABLISHED);
    CU_ASSERT_EQUAL(f.tcp_flags[0] | f.tcp_flags[1], 0);

    /* ICMP echo: both ports carry the identifier. */
    struct decoded_packet echo = pkt(AF_INET6, "2001:db8::1", 77, "2001:db8::2", 77,
                                     IPPROTO_ICMPV6, 0);
    struct decoded_packet echo_r = reply(&echo, 0);
    solo_start(&f, &echo, T0);
    CU_ASSERT_EQUAL(f.state, FLOW_STATE_NEW);
    solo_packet(&f, &echo_r, T0 + 1);
    CU_ASSERT_EQUAL(f.state, FLOW_STATE_ESTABLISHED);
}

/* ------------------------------------------------------------------------
 * Timeouts on packet time
 * ------------------------------------------------------------------------ */

static void test_timeout_exact(void)
{
    struct ends e;
    struct flow_table *ft = new_table(64, &e);
    struct decoded_packet q = cli4(IPPROTO_UDP, 53, 0);
    uint64_t start = T0 + SEC / 2;              /* mid-second */

    CU_ASSERT_PTR_NOT_NULL_FATAL(feed(ft, &q, 80, start, NULL));
    /* UDP new: 30 s. Live through second T0+30, expired from T0+31 on. */
    for (uint64_t s = 0; s <= 30; s++) {
        flow_table_advance(ft, T0 + s * SEC + SEC - 1);
        CU_ASSERT_EQUAL(e.n, 0);
    }
    CU_ASSERT_EQUAL(flow_table_active(ft), 1);
    flow_table_advance(ft, T0 + 31 * SEC);
    CU_ASSERT_EQUAL(e.n, 1);
    CU_ASSERT_EQUAL(e.reason[0], FLOW_END_TIMEOUT);
    CU_ASSERT_EQUAL(e.flow[0].first_ts_ns, start);
    CU_ASSERT_EQUAL(flow_table_active(ft), 0);
    CU_ASSERT_EQUAL(flow_table_counter(ft, FLOW_TABLE_ENDED_TIMEOUT), 1);
    flow_table_advance(ft, T0 + 100 * SEC);
    CU_ASSERT_EQUAL(e.n, 1);

    /* Established (both directions) uses its own, longer timeout. */
    struct decoded_packet r = reply(&q, 0);
    uint64_t t1 = T0 + 200 * SEC;
    feed(ft, &q, 80, t1, NULL);
    feed(ft, &r, 80, t1, NULL);
    flow_table_advance(ft, t1 + 49 * SEC);
    flow_table_advance(ft, t1 + 50 * SEC + SEC - 1);
    CU_ASSERT_EQUAL(e.n, 1);
    flow_table_advance(ft, t1 + 51 * SEC);
    CU_ASSERT_EQUAL(e.n, 2);
    CU_ASSERT_EQUAL(e.flow[1].state, FLOW_STATE_ESTABLISHED);
    flow_table_destroy(ft);
}

static void test_lookup_of_expired_flow(void)
{
    struct ends e;
    struct flow_table *ft = new_table(64, &e);
    struct decoded_packet q = cli4(IPPROTO_UDP, 53, 0);
    bool created;
    struct flow *f;

    f = feed(ft, &q, 80, T0, &created);
    CU_ASSERT(created);
    /* Still the same flow at the last live second, with no advance at all. */
    f = feed(ft, &q, 80, T0 + 30 * SEC + SEC - 1, &created);
    CU_ASSERT(!created);
    CU_ASSERT_EQUAL(f->pkts[FLOW_TOSERVER], 2);
    /* Idle 31 s past that: ended on lookup, a fresh flow in its place. */
    f = feed(ft, &q, 80, T0 + 61 * SEC, &created);
    CU_ASSERT(created);
    CU_ASSERT_EQUAL(e.n, 1);
    CU_ASSERT_EQUAL(e.reason[0], FLOW_END_TIMEOUT);
    CU_ASSERT_EQUAL(e.flow[0].pkts[FLOW_TOSERVER], 2);
    CU_ASSERT_EQUAL(f->first_ts_ns, T0 + 61 * SEC);
    CU_ASSERT_EQUAL(f->pkts[FLOW_TOSERVER], 1);
    CU_ASSERT_EQUAL(flow_table_active(ft), 1);
    CU_ASSERT_EQUAL(flow_table_counter(ft, FLOW_TABLE_CREATED), 2);
    /* The wheel, running late, does not end the new flow or the old twice. */
    flow_table_advance(ft, T0 + 62 * SEC);
    CU_ASSERT_EQUAL(e.n, 1);
    flow_table_advance(ft, T0 + 92 * SEC);
    CU_ASSERT_EQUAL(e.n, 2);

    /* A closed TCP flow found idle ends as "closed". */
    struct decoded_packet syn = cli4(IPPROTO_TCP, 80, TH_SYN);
    struct decoded_packet rst = reply(&syn, TH_RST | TH_ACK);
    struct decoded_packet ack = with_flags(&syn, TH_ACK);
    feed(ft, &syn, 60, T0 + 100 * SEC, NULL);
    feed(ft, &rst, 60, T0 + 100 * SEC, NULL);
    f = feed(ft, &ack, 60, T0 + 104 * SEC, &created);
    CU_ASSERT(created);
    CU_ASSERT_EQUAL(e.n, 3);
    CU_ASSERT_EQUAL(e.reason[2], FLOW_END_CLOSED);
    CU_ASSERT_EQUAL(flow_table_counter(ft, FLOW_TABLE_ENDED_CLOSED), 1);
    CU_ASSERT_EQUAL(flow_table_counter(ft, FLOW_TABLE_TUPLE_REUSED), 0);
    flow_table_destroy(ft);
}

static void test_lazy_relink_keeps_active_flow(void)
{
    struct ends e;
    struct flow_table *ft = new_table(64, &e);
    struct decoded_packet q = cli4(IPPROTO_UDP, 53, 0);
    uint64_t t = T0, last = T0;

    /* A packet every 20 s for 10 minutes, the wheel ticking every second:
     * the 30 s timeout never runs out. */
    for (unsigned s = 0; s <= 600; s++) {
        t = T0 + s * SEC;
        if (s % 20 == 0) {
            feed(ft, &q, 80, t, NULL);
            last = t;
        }
        flow_table_advance(ft, t);
    }
    CU_ASSERT_EQUAL(e.n, 0);
    CU_ASSERT_EQUAL(flow_table_active(ft), 1);
    flow_table_advance(ft, last + 30 * SEC);
    CU_ASSERT_EQUAL(e.n, 0);
    flow_table_advance(ft, last + 31 * SEC);
    CU_ASSERT_EQUAL(e.n, 1);
    CU_ASSERT_EQUAL(e.flow[0].pkts[FLOW_TOSERVER], 31);
    CU_ASSERT_EQUAL(e.flow[0].last_ts_ns, last);
    flow_table_destroy(ft);
}

static void test_state_change_shortens_timeout(void)
{
    struct ends e;
    struct flow_table *ft = new_table(64, &e);
    struct decoded_packet syn = cli4(IPPROTO_TCP, 80, TH_SYN);
    struct decoded_packet synack = reply(&syn, TH_SYN | TH_ACK);
    struct decoded_packet ack = with_flags(&syn, TH_ACK);
    struct decoded_packet rst = reply(&syn, TH_RST);

    feed(ft, &syn, 60, T0, NULL);
    feed(ft, &synack, 60, T0, NULL);
    feed(ft, &ack, 60, T0, NULL);               /* established: 60 s */
    flow_table_advance(ft, T0 + 10 * SEC);
    CU_ASSERT_EQUAL(e.n, 0);
    /* RST: closed, 3 s. The wheel must not wait for the established slot. */
    struct flow *f = feed(ft, &rst, 60, T0 + 20 * SEC, NULL);
    CU_ASSERT_EQUAL(f->state, FLOW_STATE_CLOSED);
    flow_table_advance(ft, T0 + 23 * SEC);
    CU_ASSERT_EQUAL(e.n, 0);
    flow_table_advance(ft, T0 + 24 * SEC);
    CU_ASSERT_EQUAL(e.n, 1);
    CU_ASSERT_EQUAL(e.reason[0], FLOW_END_CLOSED);
    CU_ASSERT_EQUAL(flow_table_counter(ft, FLOW_TABLE_ENDED_CLOSED), 1);

    /* A flow whose very first packet closes it (lone RST). */
    struct decoded_packet lone = cli4(IPPROTO_TCP, 81, TH_RST);
    feed(ft, &lone, 60, T0 + 30 * SEC, NULL);
    flow_table_advance(ft, T0 + 33 * SEC);
    CU_ASSERT_EQUAL(e.n, 1);
    flow_table_advance(ft, T0 + 34 * SEC);
    CU_ASSERT_EQUAL(e.n, 2);
    CU_ASSERT_EQUAL(e.reason[1], FLOW_END_CLOSED);

    /* FIN both ways: closing (12 s) then the last ACK: closed (3 s). */
    struct decoded_packet mid = cli4(IPPROTO_TCP, 82, TH_ACK);
    struct decoded_packet cfin = with_flags(&mid, TH_FIN | TH_ACK);
    struct decoded_packet sfin = reply(&mid, TH_FIN | TH_ACK);
    uint64_t t = T0 + 100 * SEC;
    feed(ft, &mid, 60, t, NULL);
    feed(ft, &cfin, 60, t + 1 * SEC, NULL);
    flow_table_advance(ft, t + 13 * SEC);       /* closing expires after t+13 */
    CU_ASSERT_EQUAL(e.n, 2);
    feed(ft, &sfin, 60, t + 2 * SEC, NULL);
    feed(ft, &mid, 60, t + 3 * SEC, NULL);      /* last ACK: closed */
    flow_table_advance(ft, t + 6 * SEC);        /* behind the wheel: ignored */
    CU_ASSERT_EQUAL(e.n, 2);
    flow_table_advance(ft, t + 14 * SEC);       /* last seen t+3, closed 3 s */
    CU_ASSERT_EQUAL(e.n, 3);
    CU_ASSERT_EQUAL(e.reason[2], FLOW_END_CLOSED);
    flow_table_destroy(ft);
}

static void test_timeout_longer_than_wheel(void)
{
    struct ends e;
    struct flow_table_config cfg;
    struct flow_table *ft;
    struct decoded_packet q = cli4(IPPROTO_UDP, 53, 0);

    memset(&e, 0, sizeof(e));
    test_config(&cfg, 16);
    cfg.timeouts.udp[FLOW_STATE_NEW] = 10000;   /* beyond the 4096 s wheel */
    ft = flow_table_create(&cfg, record_end, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ft);

    feed(ft, &q, 80, T0, NULL);
    for (uint64_t s = 0; s <= 10000; s += 7) {
        flow_table_advance(ft, T0 + s * SEC);
        CU_ASSERT_EQUAL(e.n, 0);
    }
    flow_table_advance(ft, T0 + 10000 * SEC);
    CU_ASSERT_EQUAL(e.n, 0);
    flow_table_advance(ft, T0 + 10001 * SEC);
    CU_ASSERT_EQUAL(e.n, 1);

    /* The same with big jumps. */
    feed(ft, &q, 80, T0 + 20000 * SEC, NULL);
    flow_table_advance(ft, T0 + 25000 * SEC);
    flow_table_advance(ft, T0 + 30000 * SEC);
    CU_ASSERT_EQUAL(e.n, 1);
    flow_table_advance(ft, T0 + 30001 * SEC);
    CU_ASSERT_EQUAL(e.n, 2);
    flow_table_destroy(ft);
}

static void test_time_backwards_and_jumps(void)
{
    struct ends e;
    struct flow_table *ft = new_table(64, &e);
    struct decoded_packet q = cli4(IPPROTO_UDP, 53, 0);
    struct decoded_packet q2 = cli4(IPPROTO_UDP, 54, 0);
    bool created;

    /* The first advance only sets the clock. */
    flow_table_advance(ft, T0);
    feed(ft, &q, 80, T0 + 10 * SEC, NULL);
    flow_table_advance(ft, T0 + 20 * SEC);
    flow_table_advance(ft, T0 + 5 * SEC);       /* backwards: ignored */
    flow_table_advance(ft, 0);
    CU_ASSERT_EQUAL(e.n, 0);
    /* A packet behind the wheel's clock still finds its flow. */
    struct flow *f = feed(ft, &q, 80, T0 + 19 * SEC, &created);
    CU_ASSERT(!created);
    CU_ASSERT_EQUAL(f->last_ts_ns, T0 + 19 * SEC);
    flow_table_advance(ft, T0 + 49 * SEC);
    CU_ASSERT_EQUAL(e.n, 0);
    flow_table_advance(ft, T0 + 50 * SEC);
    CU_ASSERT_EQUAL(e.n, 1);

    /* A jump of a year ends everything in one advance, and the wheel keeps
     * working from the new time. */
    for (uint16_t p = 0; p < 20; p++) {
        struct decoded_packet d = cli4(IPPROTO_UDP, (uint16_t)(1000 + p), 0);
        feed(ft, &d, 80, T0 + (100 + p) * SEC, NULL);
    }
    CU_ASSERT_EQUAL(flow_table_active(ft), 20);
    uint64_t later = T0 + 365ULL * 86400 * SEC;
    flow_table_advance(ft, later);
    CU_ASSERT_EQUAL(flow_table_active(ft), 0);
    CU_ASSERT_EQUAL(e.n, 21);
    feed(ft, &q2, 80, later + SEC / 3, NULL);
    flow_table_advance(ft, later + 30 * SEC);
    CU_ASSERT_EQUAL(e.n, 21);
    flow_table_advance(ft, later + 31 * SEC);
    CU_ASSERT_EQUAL(e.n, 22);
    CU_ASSERT_EQUAL(flow_table_counter(ft, FLOW_TABLE_ENDED_TIMEOUT), 22);
    flow_table_destroy(ft);
}

/* ------------------------------------------------------------------------
 * Tuple reuse
 * ------------------------------------------------------------------------ */

static void test_tuple_reuse(void)
{
    struct ends e;
    struct flow_table *ft = new_table(64, &e);
    struct decoded_packet syn = cli4(IPPROTO_TCP, 80, TH_SYN);
    struct decoded_packet synack = reply(&syn, TH_SYN | TH_ACK);
    struct decoded_packet ack = with_flags(&syn, TH_ACK);
    struct decoded_packet cfin = with_flags(&syn, TH_FIN | TH_ACK);
    struct decoded_packet sfin = reply(&syn, TH_FIN | TH_ACK);
    bool created;
    struct flow *f;

    f = feed(ft, &syn, 60, T0, NULL);
    uint64_t id1 = flow_id(f);
    CU_ASSERT(!flow_tuple_reused(f, &syn));     /* a SYN retransmission */
    feed(ft, &synack, 60, T0, NULL);
    feed(ft, &ack, 60, T0, NULL);
    CU_ASSERT(!flow_tuple_reused(f, &syn));     /* established */
    feed(ft, &cfin, 60, T0 + SEC, NULL);
    CU_ASSERT(!flow_tuple_reused(f, &syn));     /* one FIN only */
    feed(ft, &sfin, 60, T0 + SEC, NULL);
    CU_ASSERT_EQUAL(f->tcp_state, TCP_STATE_CLOSE_WAIT);
    CU_ASSERT(flow_tuple_reused(f, &syn));      /* FIN both ways */
    CU_ASSERT(!flow_tuple_reused(f, &synack));
    CU_ASSERT(!flow_tuple_reused(f, &ack));
    feed(ft, &ack, 60, T0 + SEC, NULL);
    CU_ASSERT_EQUAL(f->state, FLOW_STATE_CLOSED);
    CU_ASSERT(flow_tuple_reused(f, &syn));

    /* The new SYN ends the old flow as "closed" and starts a new one. */
    f = feed(ft, &syn, 60, T0 + 2 * SEC, &created);
    CU_ASSERT(created);
    CU_ASSERT_EQUAL(e.n, 1);
    CU_ASSERT_EQUAL(e.reason[0], FLOW_END_CLOSED);
    CU_ASSERT_EQUAL(e.flow[0].pkts[FLOW_TOSERVER], 4);
    CU_ASSERT_EQUAL(f->tcp_state, TCP_STATE_SYN_SENT);
    CU_ASSERT_EQUAL(f->pkts[FLOW_TOSERVER], 1);
    CU_ASSERT_NOT_EQUAL(flow_id(f), id1);
    CU_ASSERT_EQUAL(flow_table_counter(ft, FLOW_TABLE_TUPLE_REUSED), 1);
    CU_ASSERT_EQUAL(flow_table_counter(ft, FLOW_TABLE_ENDED_CLOSED), 1);
    CU_ASSERT_EQUAL(flow_table_counter(ft, FLOW_TABLE_CREATED), 2);
    CU_ASSERT_EQUAL(flow_table_active(ft), 1);

    /* UDP never reuses. */
    struct decoded_packet u = cli4(IPPROTO_UDP, 80, 0);
    f = feed(ft, &u, 60, T0, NULL);
    CU_ASSERT(!flow_tuple_reused(f, &u));
    flow_table_destroy(ft);
}

/* ------------------------------------------------------------------------
 * Eviction
 * ------------------------------------------------------------------------ */

static void test_evict_table_full(void)
{
    struct ends e;
    struct flow_table *ft = new_table(8, &e);
    bool created;

    CU_ASSERT_EQUAL(flow_table_capacity(ft), 8);
    for (uint16_t i = 0; i < 8; i++) {
        struct decoded_packet d = cli4(IPPROTO_UDP, (uint16_t)(100 + i), 0);
        CU_ASSERT_PTR_NOT_NULL(feed(ft, &d, 80, T0 + i * SEC, &created));
        CU_ASSERT(created);
    }
    CU_ASSERT_EQUAL(flow_table_active(ft), 8);
    CU_ASSERT_EQUAL(e.n, 0);

    /* Keep the oldest busy: the next to expire is then port 101's flow,
     * though the lazy wheel still has port 100's in the earliest slot. */
    struct decoded_packet d0 = cli4(IPPROTO_UDP, 100, 0);
    feed(ft, &d0, 80, T0 + 9 * SEC, &created);
    CU_ASSERT(!created);
    flow_table_advance(ft, T0 + 9 * SEC);

    struct decoded_packet d9 = cli4(IPPROTO_UDP, 999, 0);
    struct flow *f = feed(ft, &d9, 80, T0 + 10 * SEC, &created);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT(created);
    CU_ASSERT_EQUAL(e.n, 1);
    CU_ASSERT_EQUAL(e.reason[0], FLOW_END_EVICTED);
    CU_ASSERT_EQUAL(e.flow[0].key.port[0] == 101 || e.flow[0].key.port[1] == 101, 1);
    CU_ASSERT_EQUAL(flow_table_active(ft), 8);
    CU_ASSERT_EQUAL(flow_table_counter(ft, FLOW_TABLE_EVICTED), 1);
    CU_ASSERT_EQUAL(flow_table_counter(ft, FLOW_TABLE_CREATED), 9);
    CU_ASSERT_EQUAL(flow_table_counter(ft, FLOW_TABLE_INSERT_FAILED), 0);

    /* Seven more new flows push out 102..107, then 100: all but 999. */
    for (uint16_t i = 0; i < 7; i++) {
        struct decoded_packet d = cli4(IPPROTO_UDP, (uint16_t)(2000 + i), 0);
        CU_ASSERT_PTR_NOT_NULL(feed(ft, &d, 80, T0 + 11 * SEC, &created));
    }
    CU_ASSERT_EQUAL(e.n, 8);
    CU_ASSERT_EQUAL(e.by_reason[FLOW_END_EVICTED], 8);
    CU_ASSERT_EQUAL(flow_table_active(ft), 8);
    CU_ASSERT_PTR_EQUAL(feed(ft, &d9, 80, T0 + 12 * SEC, &created), f);
    CU_ASSERT(!created);
    flow_table_flush(ft, FLOW_END_SHUTDOWN);
    CU_ASSERT_EQUAL(e.n, flow_table_counter(ft, FLOW_TABLE_CREATED));
    flow_table_destroy(ft);
}

static void test_evict_bucket_full(void)
{
    struct ends e;
    struct flow_table *ft = new_table(64, &e);
    const uint32_t hash = 0x12345678u;      /* every flow in one bucket */
    struct flow *flows[9];
    bool created;

    for (uint16_t i = 0; i < 8; i++) {
        struct decoded_packet d = cli4(IPPROTO_UDP, (uint16_t)(100 + i), 0);
        flows[i] = feed_hash(ft, &d, hash, 80, T0 + i * SEC, &created);
        CU_ASSERT_PTR_NOT_NULL_FATAL(flows[i]);
        CU_ASSERT(created);
    }
    /* Same signature everywhere: the keys tell the flows apart. Seeing
     * flow 0 again leaves flow 1 the least recently seen. */
    for (uint16_t i = 0; i < 8; i++) {
        struct decoded_packet d = cli4(IPPROTO_UDP, (uint16_t)(100 + i), 0);
        uint64_t ts = i == 0 ? T0 + 10 * SEC : T0 + i * SEC;
        CU_ASSERT_PTR_EQUAL(feed_hash(ft, &d, hash, 80, ts, &created), flows[i]);
        CU_ASSERT(!created);
    }
    CU_ASSERT_EQUAL(flow_table_active(ft), 8);

    struct decoded_packet d9 = cli4(IPPROTO_UDP, 999, 0);
    flows[8] = feed_hash(ft, &d9, hash, 80, T0 + 11 * SEC, &created);
    CU_ASSERT_PTR_NOT_NULL_FATAL(flows[8]);
    CU_ASSERT(created);
    CU_ASSERT_EQUAL(e.n, 1);
    CU_ASSERT_EQUAL(e.reason[0], FLOW_END_EVICTED);
    CU_ASSERT(e.flow[0].key.port[0] == 101 || e.flow[0].key.port[1] == 101);
    CU_ASSERT_EQUAL(flow_table_active(ft), 8);      /* the table is far from full */
    CU_ASSERT_EQUAL(flow_table_counter(ft, FLOW_TABLE_EVICTED), 1);
    /* The others are all still there. */
    for (uint16_t i = 0; i < 8; i++) {
        if (i == 1)
            continue;
        struct decoded_packet d = cli4(IPPROTO_UDP, (uint16_t)(100 + i), 0);
        CU_ASSERT_PTR_EQUAL(feed_hash(ft, &d, hash, 80, T0 + 12 * SEC, &created), flows[i]);
        CU_ASSERT(!created);
    }
    CU_ASSERT_PTR_EQUAL(feed_hash(ft, &d9, hash, 80, T0 + 12 * SEC, &created), flows[8]);
    CU_ASSERT(!created);
    /* Flow 1 comes back new and pushes out the least recent again. */
    struct decoded_packet d1 = cli4(IPPROTO_UDP, 101, 0);
    feed_hash(ft, &d1, hash, 80, T0 + 13 * SEC, &created);
    CU_ASSERT(created);
    CU_ASSERT_EQUAL(e.n, 2);
    CU_ASSERT_EQUAL(flow_table_active(ft), 8);
    /* Another hash goes to another bucket, free of all this. */
    struct decoded_packet other = cli4(IPPROTO_UDP, 5000, 0);
    feed_hash(ft, &other, ~hash, 80, T0 + 12 * SEC, &created);
    CU_ASSERT(created);
    CU_ASSERT_EQUAL(e.n, 2);
    CU_ASSERT_EQUAL(flow_table_active(ft), 9);
    CU_ASSERT_EQUAL(flow_table_counter(ft, FLOW_TABLE_INSERT_FAILED), 0);
    flow_table_destroy(ft);
}

/* ------------------------------------------------------------------------
 * Flush, ids, names, configuration
 * ------------------------------------------------------------------------ */

static void test_flush_at_shutdown(void)
{
    struct ends e;
    struct flow_table *ft = new_table(64, &e);
    bool created;

    for (uint16_t i = 0; i < 5; i++) {
        struct decoded_packet d = cli4(i % 2 ? IPPROTO_TCP : IPPROTO_UDP,
                                       (uint16_t)(100 + i), TH_SYN);
        feed(ft, &d, 80, T0 + i, NULL);
    }
    CU_ASSERT_EQUAL(flow_table_active(ft), 5);
    flow_table_flush(ft, FLOW_END_SHUTDOWN);
    CU_ASSERT_EQUAL(e.n, 5);
    CU_ASSERT_EQUAL(e.by_reason[FLOW_END_SHUTDOWN], 5);
    CU_ASSERT_EQUAL(flow_table_active(ft), 0);
    CU_ASSERT_EQUAL(flow_table_counter(ft, FLOW_TABLE_ENDED_SHUTDOWN), 5);
    flow_table_flush(ft, FLOW_END_SHUTDOWN);
    CU_ASSERT_EQUAL(e.n, 5);
    /* Nothing left for the wheel, and the table is usable again. */
    flow_table_advance(ft, T0 + 1000 * SEC);
    CU_ASSERT_EQUAL(e.n, 5);
    struct decoded_packet d = cli4(IPPROTO_UDP, 100, 0);
    feed(ft, &d, 80, T0 + 1000 * SEC, &created);
    CU_ASSERT(created);
    CU_ASSERT_EQUAL(flow_table_active(ft), 1);
    flow_table_destroy(ft);
}

static void test_flow_id(void)
{
    struct flow a, b, c;
    struct decoded_packet d = cli4(IPPROTO_TCP, 80, TH_SYN);
    struct decoded_packet r = reply(&d, TH_SYN | TH_ACK);

    solo_start(&a, &d, T0);
    solo_start(&b, &r, T0);                     /* same key, other side first */
    solo_start(&c, &d, T0 + 1);
    CU_ASSERT_NOT_EQUAL(flow_id(&a), 0);
    CU_ASSERT_EQUAL(flow_id(&a), flow_id(&b));
    CU_ASSERT_NOT_EQUAL(flow_id(&a), flow_id(&c));
    CU_ASSERT(flow_id(&a) < (1ULL << 51));
    solo_packet(&a, &r, T0 + 5 * SEC);          /* updates do not change it */
    CU_ASSERT_EQUAL(flow_id(&a), flow_id(&b));

    /* Never zero, never 2^51 or more, over many flows. */
    for (uint32_t i = 0; i < 10000; i++) {
        struct decoded_packet x = cli4(IPPROTO_UDP, (uint16_t)i, 0);
        solo_start(&c, &x, (uint64_t)i * 7919);
        uint64_t id = flow_id(&c);
        CU_ASSERT_FATAL(id != 0 && id < (1ULL << 51));
    }

    /* The same flow in two tables (two workers, two runs): same id. */
    struct ends e1, e2;
    struct flow_table *t1 = new_table(16, &e1), *t2 = new_table(1024, &e2);
    struct flow *f1 = feed(t1, &d, 60, T0, NULL), *f2 = feed(t2, &d, 60, T0, NULL);
    CU_ASSERT_EQUAL(flow_id(f1), flow_id(f2));
    CU_ASSERT_EQUAL(flow_id(f1), flow_id(&b));
    flow_table_destroy(t1);
    flow_table_destroy(t2);
}

static void test_names(void)
{
    CU_ASSERT_STRING_EQUAL(flow_state_name(FLOW_STATE_NEW), "new");
    CU_ASSERT_STRING_EQUAL(flow_state_name(FLOW_STATE_ESTABLISHED), "established");
    CU_ASSERT_STRING_EQUAL(flow_state_name(FLOW_STATE_CLOSING), "closing");
    CU_ASSERT_STRING_EQUAL(flow_state_name(FLOW_STATE_CLOSED), "closed");
    CU_ASSERT_STRING_EQUAL(tcp_state_name(TCP_STATE_NONE), "none");
    CU_ASSERT_STRING_EQUAL(tcp_state_name(TCP_STATE_SYN_SENT), "syn_sent");
    CU_ASSERT_STRING_EQUAL(tcp_state_name(TCP_STATE_SYN_RECV), "syn_recv");
    CU_ASSERT_STRING_EQUAL(tcp_state_name(TCP_STATE_ESTABLISHED), "established");
    CU_ASSERT_STRING_EQUAL(tcp_state_name(TCP_STATE_FIN_WAIT), "fin_wait");
    CU_ASSERT_STRING_EQUAL(tcp_state_name(TCP_STATE_CLOSE_WAIT), "close_wait");
    CU_ASSERT_STRING_EQUAL(tcp_state_name(TCP_STATE_CLOSED), "closed");
    CU_ASSERT_STRING_EQUAL(flow_end_reason_name(FLOW_END_TIMEOUT), "timeout");
    CU_ASSERT_STRING_EQUAL(flow_end_reason_name(FLOW_END_CLOSED), "closed");
    CU_ASSERT_STRING_EQUAL(flow_end_reason_name(FLOW_END_EVICTED), "evicted");
    CU_ASSERT_STRING_EQUAL(flow_end_reason_name(FLOW_END_SHUTDOWN), "shutdown");
    CU_ASSERT_STRING_EQUAL(flow_state_name((enum flow_state)99), "unknown");
    CU_ASSERT_STRING_EQUAL(flow_table_counter_name(FLOW_TABLE_CREATED), "flow.created");
    CU_ASSERT_STRING_EQUAL(flow_table_counter_name(FLOW_TABLE_TUPLE_REUSED), "flow.tuple_reused");
}

static void test_config_and_create(void)
{
    struct flow_table_config cfg;
    struct flow_table *ft;

    flow_table_config_default(&cfg);
    CU_ASSERT_EQUAL(cfg.capacity, 1048576);
    CU_ASSERT_EQUAL(cfg.timeouts.tcp[FLOW_STATE_NEW], 60);
    CU_ASSERT_EQUAL(cfg.timeouts.tcp[FLOW_STATE_ESTABLISHED], 600);
    CU_ASSERT_EQUAL(cfg.timeouts.tcp[FLOW_STATE_CLOSING], 120);
    CU_ASSERT_EQUAL(cfg.timeouts.tcp[FLOW_STATE_CLOSED], 10);
    CU_ASSERT_EQUAL(cfg.timeouts.udp[FLOW_STATE_NEW], 30);
    CU_ASSERT_EQUAL(cfg.timeouts.udp[FLOW_STATE_ESTABLISHED], 300);
    CU_ASSERT_EQUAL(cfg.timeouts.icmp[FLOW_STATE_NEW], 30);
    CU_ASSERT_EQUAL(cfg.timeouts.other[FLOW_STATE_ESTABLISHED], 300);

    ft = flow_table_create(&cfg, NULL, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ft);
    CU_ASSERT_EQUAL(flow_table_capacity(ft), 1048576);
    CU_ASSERT(flow_table_memory(ft) >= 1048576 * sizeof(struct flow));
    CU_ASSERT_EQUAL(flow_table_active(ft), 0);
    flow_table_prefetch(ft, 0xdeadbeef);
    flow_table_destroy(ft);

    cfg.capacity = 0;
    errno = 0;
    CU_ASSERT_PTR_NULL(flow_table_create(&cfg, NULL, NULL));
    CU_ASSERT_EQUAL(errno, EINVAL);

    /* A zero timeout means one second; no on_end callback is fine. */
    flow_table_config_default(&cfg);
    cfg.capacity = 1;
    cfg.timeouts.udp[FLOW_STATE_NEW] = 0;
    ft = flow_table_create(&cfg, NULL, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ft);
    struct decoded_packet d = cli4(IPPROTO_UDP, 53, 0);
    feed(ft, &d, 80, T0, NULL);
    flow_table_advance(ft, T0 + SEC);
    CU_ASSERT_EQUAL(flow_table_active(ft), 1);
    flow_table_advance(ft, T0 + 2 * SEC);
    CU_ASSERT_EQUAL(flow_table_active(ft), 0);
    /* Capacity one: each new flow evicts the last. */
    struct decoded_packet d2 = cli4(IPPROTO_UDP, 54, 0);
    feed(ft, &d, 80, T0 + 3 * SEC, NULL);
    feed(ft, &d2, 80, T0 + 3 * SEC, NULL);
    CU_ASSERT_EQUAL(flow_table_active(ft), 1);
    CU_ASSERT_EQUAL(flow_table_counter(ft, FLOW_TABLE_EVICTED), 1);
    flow_table_destroy(ft);
    flow_table_destroy(NULL);
}

/* ------------------------------------------------------------------------
 * Stress: random flows through a small table
 * ------------------------------------------------------------------------ */

#define STRESS_CAPACITY 1024
#define STRESS_PACKETS 300000
#define STRESS_KEYS 100000

struct stress {
    struct flow_table_config cfg;
    const struct flow *live[STRESS_CAPACITY];   /* flows created, not yet ended */
    struct flow_key live_key[STRESS_CAPACITY];
    uint64_t live_first[STRESS_CAPACITY];
    unsigned nlive;
    uint64_t created, ended, evicted;
    uint64_t now_sec;                           /* for checking expiries */
    bool reusing;                               /* ending a flow for tuple reuse */
    bool failed;
};

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static uint32_t stress_timeout(const struct stress *s, const struct flow *f)
{
    const uint32_t *row = f->key.ip_proto == IPPROTO_TCP ? s->cfg.timeouts.tcp
                        : f->key.ip_proto == IPPROTO_UDP ? s->cfg.timeouts.udp
                        : s->cfg.timeouts.other;
    return row[f->state];
}

static bool stress_expired(const struct stress *s, const struct flow *f, uint64_t now_sec)
{
    return now_sec > f->last_ts_ns / SEC + stress_timeout(s, f);
}

static int live_find(const struct stress *s, const struct flow *f)
{
    for (unsigned i = 0; i < s->nlive; i++)
        if (s->live[i] == f)
            return (int)i;
    return -1;
}

static void stress_end(void *ctx, const struct flow *f, enum flow_end_reason reason)
{
    struct stress *s = ctx;
    int i = live_find(s, f);

    if (i < 0 || !flow_key_equal(&s->live_key[i], &f->key) || s->live_first[i] != f->first_ts_ns) {
        s->failed = true;               /* ended twice, or never created */
        return;
    }
    /* Timeouts never fire early. */
    if ((reason == FLOW_END_TIMEOUT || (reason == FLOW_END_CLOSED && !s->reusing)) &&
        !stress_expired(s, f, s->now_sec))
        s->failed = true;
    if (reason == FLOW_END_EVICTED)
        s->evicted++;
    s->nlive--;
    s->live[i] = s->live[s->nlive];
    s->live_key[i] = s->live_key[s->nlive];
    s->live_first[i] = s->live_first[s->nlive];
    s->ended++;
}

static struct decoded_packet stress_packet(uint32_t k)
{
    static const uint8_t flag_mix[] = {
        TH_SYN, TH_SYN | TH_ACK, TH_ACK, TH_ACK | TH_PSH, TH_ACK | TH_PSH, TH_ACK,
        TH_FIN | TH_ACK, TH_RST, TH_ACK | TH_PSH, TH_ACK,
    };
    uint8_t proto = k % 3 == 0 ? IPPROTO_TCP : k % 3 == 1 ? IPPROTO_UDP : IPPROTO_GRE;
    struct decoded_packet d;

    memset(&d, 0, sizeof(d));
    d.src_addr[0] = 10;
    d.src_addr[1] = (uint8_t)(k >> 16);
    d.src_addr[2] = (uint8_t)(k >> 8);
    d.src_addr[3] = (uint8_t)k;
    d.dst_addr[0] = 192;
    d.dst_addr[3] = (uint8_t)(k % 7);
    d.src_port = (uint16_t)(1024 + k % 50000);
    d.dst_port = proto == IPPROTO_GRE ? 0 : 443;
    d.ip_version = 4;
    d.ip_proto = proto;
    d.flags = DECODED_IP | DECODED_L4;
    if (proto == IPPROTO_TCP)
        d.tcp_flags = flag_mix[rnd() % sizeof(flag_mix)];
    if (rnd() % 2) {
        struct decoded_packet r = reply(&d, d.tcp_flags);
        d = r;
    }
    return d;
}

static void test_stress_random(void)
{
    static struct stress s;
    struct flow_table *ft;
    uint64_t now = T0, max_active = 0;

    memset(&s, 0, sizeof(s));
    test_config(&s.cfg, STRESS_CAPACITY);
    ft = flow_table_create(&s.cfg, stress_end, &s);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ft);

    for (uint32_t n = 0; n < STRESS_PACKETS && !s.failed; n++) {
        /* Time mostly creeps forward, sometimes steps back a little, now
         * and then jumps. */
        uint64_t r = rnd() % 1000;
        if (r < 990)
            now += rnd() % (SEC / 100);
        else if (r < 997)
            now -= rnd() % (SEC / 2);
        else
            now += (rnd() % 120) * SEC;
        if (n == STRESS_PACKETS / 2)
            now += 5000 * SEC;          /* more than a wheel turn */

        /* Half the packets from a hot set, so flows live on and change state. */
        uint32_t k = rnd() % 2 ? (uint32_t)(rnd() % 2000) : (uint32_t)(rnd() % STRESS_KEYS);
        struct decoded_packet d = stress_packet(k);
        struct flow_key key;
        unsigned side = flow_key_from_decoded(&key, &d);
        uint32_t hash = flow_key_hash(&key);
        bool created;

        flow_table_prefetch(ft, hash);
        s.now_sec = now / SEC;
        struct flow *f = flow_table_lookup(ft, &key, hash, now, &created);
        CU_ASSERT_PTR_NOT_NULL_FATAL(f);
        if (!created && flow_tuple_reused(f, &d)) {
            s.reusing = true;
            flow_table_end(ft, f, FLOW_END_CLOSED);
            s.reusing = false;
            f = flow_table_lookup(ft, &key, hash, now, &created);
            CU_ASSERT_PTR_NOT_NULL_FATAL(f);
            CU_ASSERT_FATAL(created);
        }
        if (created) {
            CU_ASSERT_FATAL(live_find(&s, f) < 0);
            CU_ASSERT_FATAL(s.nlive < STRESS_CAPACITY);
            flow_init(f, &key, hash, side, &d, now);
            s.live[s.nlive] = f;
            s.live_key[s.nlive] = key;
            s.live_first[s.nlive] = now;
            s.nlive++;
            s.created++;
        }
        flow_update(f, side, &d, 100, now);

        uint32_t active = flow_table_active(ft);
        CU_ASSERT_FATAL(active <= STRESS_CAPACITY);
        CU_ASSERT_FATAL(active == s.nlive);
        if (active > max_active)
            max_active = active;

        if (rnd() % 64 == 0) {
            /* After advance(now), no live flow is past its timeout. */
            flow_table_advance(ft, now);
            for (unsigned i = 0; i < s.nlive; i++)
                if (stress_expired(&s, s.live[i], now / SEC))
                    s.failed = true;
        }
    }
    CU_ASSERT(!s.failed);
    s.now_sec = now / SEC;
    flow_table_flush(ft, FLOW_END_SHUTDOWN);
    CU_ASSERT(!s.failed);
    CU_ASSERT_EQUAL(s.nlive, 0);
    CU_ASSERT_EQUAL(flow_table_active(ft), 0);
    CU_ASSERT_EQUAL(s.ended, s.created);
    CU_ASSERT(s.created >= 100000);
    CU_ASSERT_EQUAL(max_active, STRESS_CAPACITY);
    CU_ASSERT_EQUAL(flow_table_counter(ft, FLOW_TABLE_CREATED), s.created);
    CU_ASSERT_EQUAL(flow_table_counter(ft, FLOW_TABLE_EVICTED), s.evicted);
    CU_ASSERT(s.evicted > 0);
    CU_ASSERT(flow_table_counter(ft, FLOW_TABLE_ENDED_TIMEOUT) > 0);
    CU_ASSERT(flow_table_counter(ft, FLOW_TABLE_ENDED_CLOSED) > 0);
    CU_ASSERT(flow_table_counter(ft, FLOW_TABLE_TUPLE_REUSED) > 0);
    CU_ASSERT_EQUAL(flow_table_counter(ft, FLOW_TABLE_INSERT_FAILED), 0);
    uint64_t ended = 0;
    for (int i = FLOW_TABLE_ENDED_TIMEOUT; i <= FLOW_TABLE_ENDED_SHUTDOWN; i++)
        ended += flow_table_counter(ft, (enum flow_table_counter)i);
    CU_ASSERT_EQUAL(ended, s.created);
    flow_table_destroy(ft);
}

int main(void)
{
    CU_TestInfo cases[] = {
        { "both directions, IPv4", test_both_directions_ipv4 },
        { "both directions, IPv6", test_both_directions_ipv6 },
        { "same address, ports order the key", test_same_address_ports_order },
        { "key hash is CRC32-C of the key", test_key_hash_is_crc },
        { "VLAN separates flows", test_vlan_separates_flows },
        { "per-direction counters", test_direction_counters },
        { "initiator, SYN-ACK first", test_initiator_synack_first },
        { "time backwards within a flow", test_time_backwards_in_flow },
        { "TCP handshake and FIN close", test_tcp_handshake_and_fin_close },
        { "TCP RST", test_tcp_rst },
        { "TCP midstream pickup", test_tcp_midstream },
        { "UDP/ICMP established both ways", test_udp_icmp_states },
        { "timeout exact on packet time", test_timeout_exact },
        { "lookup of an expired flow", test_lookup_of_expired_flow },
        { "lazy relink keeps active flow", test_lazy_relink_keeps_active_flow },
        { "state change shortens timeout", test_state_change_shortens_timeout },
        { "timeout longer than the wheel", test_timeout_longer_than_wheel },
        { "time backwards and jumps", test_time_backwards_and_jumps },
        { "tuple reuse", test_tuple_reuse },
        { "evict when table full", test_evict_table_full },
        { "evict when bucket full", test_evict_bucket_full },
        { "flush at shutdown", test_flush_at_shutdown },
        { "flow_id", test_flow_id },
        { "names", test_names },
        { "config and create", test_config_and_create },
        { "stress: random flows", test_stress_random },
        CU_TEST_INFO_NULL,
    };
    return cunit_run("flow_table", cases);
}
