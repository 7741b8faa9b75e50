/* test_decoder.c - decode_packet() on hand-built frames.
 *
 * Packets are assembled layer by layer in a byte buffer; length fields are
 * patched once the layers below are in place. Every decode runs on a heap
 * copy of exactly caplen bytes, so under AddressSanitizer any read past the
 * capture is caught, not just wrong answers. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netinet/in.h>

#include "cunit_run.h"
#include "decoder.h"

/* ---- packet builder ----------------------------------------------------- */

struct pb {
    uint8_t b[4096];
    uint32_t n;
};

static void put(struct pb *p, const void *src, uint32_t len)
{
    if (p->n + len > sizeof(p->b))
        abort();  /* a test bug, not a decoder one */
    memcpy(p->b + p->n, src, len);
    p->n += len;
}

static void put8(struct pb *p, uint8_t v)
{
    put(p, &v, 1);
}

static void put16(struct pb *p, uint16_t v)
{
    uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };
    put(p, b, 2);
}

static void put32(struct pb *p, uint32_t v)
{
    put16(p, (uint16_t)(v >> 16));
    put16(p, (uint16_t)v);
}

static void putz(struct pb *p, uint32_t len)
{
    for (uint32_t i = 0; i < len; i++)
        put8(p, 0);
}

static void set16(struct pb *p, uint32_t off, uint16_t v)
{
    p->b[off] = (uint8_t)(v >> 8);
    p->b[off + 1] = (uint8_t)v;
}

#define A4(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | \
                        (uint32_t)(c) << 8 | (uint32_t)(d))
#define HOST1 A4(10, 0, 0, 1)
#define HOST2 A4(10, 0, 0, 2)

static uint32_t eth(struct pb *p, uint16_t type)
{
    static const uint8_t macs[12] = { 0x00, 0x11, 0x22, 0x33, 0x44, 0x55,
                                      0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb };
    uint32_t off = p->n;

    put(p, macs, sizeof(macs));
    put16(p, type);
    return off;
}

static uint32_t vtag(struct pb *p, uint16_t tci, uint16_t type)
{
    uint32_t off = p->n;

    put16(p, tci);
    put16(p, type);
    return off;
}

static uint32_t ipv4x(struct pb *p, uint8_t proto, uint32_t src, uint32_t dst,
                      uint8_t ihl, uint16_t frag)
{
    uint32_t off = p->n;

    put8(p, (uint8_t)(0x40 | ihl));
    put8(p, 0);          /* TOS */
    put16(p, 0);         /* total length: fix_ipv4() */
    put16(p, 0x1234);    /* id */
    put16(p, frag);
    put8(p, 64);         /* TTL */
    put8(p, proto);
    put16(p, 0);         /* checksum: the decoder does not verify it */
    put32(p, src);
    put32(p, dst);
    for (unsigned i = 5; i < ihl; i++)
        put32(p, 0x01010101);  /* NOP options */
    return off;
}

static uint32_t ipv4(struct pb *p, uint8_t proto, uint32_t src, uint32_t dst)
{
    return ipv4x(p, proto, src, dst, 5, 0);
}

static void fix_ipv4(struct pb *p, uint32_t off)
{
    set16(p, off + 2, (uint16_t)(p->n - off));
}

/* 2001:db8::<src>, 2001:db8::<dst> */
static uint32_t ipv6(struct pb *p, uint8_t nxt, uint8_t src, uint8_t dst)
{
    uint8_t a[16] = { 0x20, 0x01, 0x0d, 0xb8 };
    uint32_t off = p->n;

    put32(p, 0x60000000);
    put16(p, 0);         /* payload length: fix_ipv6() */
    put8(p, nxt);
    put8(p, 63);         /* hop limit */
    a[15] = src;
    put(p, a, 16);
    a[15] = dst;
    put(p, a, 16);
    return off;
}

static void fix_ipv6(struct pb *p, uint32_t off)
{
    set16(p, off + 4, (uint16_t)(p->n - off - 40));
}

/* A generic extension header of 8 * (units + 1) bytes. */
static uint32_t ext6(struct pb *p, uint8_t nxt, uint8_t units)
{
    uint32_t off = p->n;

    put8(p, nxt);
    put8(p, units);
    putz(p, 6 + 8u * units);
    return off;
}

static uint32_t frag6(struct pb *p, uint8_t nxt, uint16_t offset8, bool more)
{
    uint32_t off = p->n;

    put8(p, nxt);
    put8(p, 0);
    put16(p, (uint16_t)(offset8 << 3 | (more ? 1 : 0)));
    put32(p, 0xabcd);
    return off;
}

/* AH with a 12-byte ICV: (4 + 2) * 4 = 24 bytes. */
static uint32_t ah(struct pb *p, uint8_t nxt)
{
    uint32_t off = p->n;

    put8(p, nxt);
    put8(p, 4);
    putz(p, 22);
    return off;
}

static uint32_t tcpx(struct pb *p, uint16_t sport, uint16_t dport, uint32_t seq,
                     uint32_t ack, uint8_t flags, uint8_t doff)
{
    uint32_t off = p->n;

    put16(p, sport);
    put16(p, dport);
    put32(p, seq);
    put32(p, ack);
    put8(p, (uint8_t)(doff << 4));
    put8(p, flags);
    put16(p, 0xfaf0);    /* window */
    put16(p, 0);         /* checksum */
    put16(p, 0);         /* urgent */
    for (unsigned i = 5; i < doff; i++)
        put32(p, 0x01010101);
    return off;
}

static uint32_t tcp(struct pb *p, uint16_t sport, uint16_t dport, uint8_t flags)
{
    return tcpx(p, sport, dport, 1000, 2000, flags, 5);
}

static uint32_t udp(struct pb *p, uint16_t sport, uint16_t dport)
{
    uint32_t off = p->n;

    put16(p, sport);
    put16(p, dport);
    put16(p, 0);         /* length: fix_udp() */
    put16(p, 0);
    return off;
}

static void fix_udp(struct pb *p, uint32_t off)
{
    set16(p, off + 4, (uint16_t)(p->n - off));
}

static uint32_t icmp(struct pb *p, uint8_t type, uint8_t code, uint16_t id)
{
    uint32_t off = p->n;

    put8(p, type);
    put8(p, code);
    put16(p, 0);
    put16(p, id);
    put16(p, 1);         /* sequence */
    return off;
}

static uint32_t sctp(struct pb *p, uint16_t sport, uint16_t dport)
{
    uint32_t off = p->n;

    put16(p, sport);
    put16(p, dport);
    put32(p, 0x11223344);  /* verification tag */
    put32(p, 0);           /* checksum */
    return off;
}

/* GRE with the optional words its C, K and S bits ask for. */
static uint32_t gre(struct pb *p, uint16_t flags_ver, uint16_t proto)
{
    uint32_t off = p->n;

    put16(p, flags_ver);
    put16(p, proto);
    if (flags_ver & 0x8000)
        put32(p, 0);           /* checksum + reserved */
    if (flags_ver & 0x2000)
        put32(p, 0xdeadbeef);  /* key */
    if (flags_ver & 0x1000)
        put32(p, 7);           /* sequence */
    return off;
}

static uint32_t vxlan(struct pb *p, uint8_t flags, uint32_t vni)
{
    uint32_t off = p->n;

    put8(p, flags);
    putz(p, 3);
    put32(p, vni << 8);
    return off;
}

/* A Geneve header, version 0, O and C clear, VNI 0xabcd, protocol type
 * proto, then opt_words 4-byte words of options: one option of class
 * 0x0108 (as AWS's load balancers send) holding the rest as data. */
static uint32_t geneve(struct pb *p, uint16_t proto, uint8_t opt_words)
{
    uint32_t off = p->n;

    put8(p, opt_words);
    put8(p, 0);
    put16(p, proto);
    put32(p, 0xabcd << 8);
    if (opt_words > 0) {
        put16(p, 0x0108);                     /* option class */
        put8(p, 0x01);                        /* type */
        put8(p, (uint8_t)(opt_words - 1));    /* data length in words */
        for (unsigned i = 1; i < opt_words; i++)
            put32(p, 0x31e129cd);
    }
    return off;
}

/* GTP-U flags: version 1, protocol type 1, then E, S and PN. */
#define GTPU_V1     0x30
#define GTPU_E      0x04
#define GTPU_S      0x02
#define GTPU_PN     0x01

/* A GTP-U header with the optional word any of E/S/PN asks for, whose last
 * byte is the first extension header type nxt. Length: fix_gtpu(). */
static uint32_t gtpu(struct pb *p, uint8_t flags, uint8_t type, uint8_t nxt)
{
    uint32_t off = p->n;

    put8(p, flags);
    put8(p, type);
    put16(p, 0);
    put32(p, 0x0badcafe);  /* TEID */
    if (flags & 0x07) {
        put16(p, 0x0102);  /* sequence number */
        put8(p, 0);        /* N-PDU number */
        put8(p, nxt);
    }
    return off;
}

static void fix_gtpu(struct pb *p, uint32_t off)
{
    set16(p, off + 2, (uint16_t)(p->n - off - 8));
}

/* A GTP-U extension header of 4 * units bytes (units >= 1). */
static void gtpu_ext(struct pb *p, uint8_t units, uint8_t nxt)
{
    put8(p, units);
    putz(p, 4u * units - 2);
    put8(p, nxt);
}

static uint32_t sll(struct pb *p, uint16_t proto)
{
    uint32_t off = p->n;

    put16(p, 0);         /* packet type: to us */
    put16(p, 1);         /* ARPHRD_ETHER */
    put16(p, 6);
    put32(p, 0x00112233);
    put32(p, 0x44550000);
    put16(p, proto);
    return off;
}

static uint32_t sll2(struct pb *p, uint16_t proto)
{
    uint32_t off = p->n;

    put16(p, proto);
    put16(p, 0);
    put32(p, 2);         /* interface index */
    put16(p, 1);
    put8(p, 0);
    put8(p, 6);
    put32(p, 0x00112233);
    put32(p, 0x44550000);
    return off;
}

/* PPPoE session header and a 2-byte PPP protocol; length: fix_pppoe(). */
static uint32_t pppoe(struct pb *p, uint16_t ppp_proto)
{
    uint32_t off = p->n;

    put8(p, 0x11);       /* version 1, type 1 */
    put8(p, 0x00);       /* code: session data */
    put16(p, 0x556a);    /* session ID */
    put16(p, 0);
    put16(p, ppp_proto);
    return off;
}

static void fix_pppoe(struct pb *p, uint32_t off)
{
    set16(p, off + 4, (uint16_t)(p->n - off - 6));
}

/* One MPLS label stack entry, TTL 64. */
static void mpls(struct pb *p, uint32_t label, bool bottom)
{
    put32(p, label << 12 | (bottom ? 0x100u : 0u) | 64);
}

/* Address, control and protocol of HDLC-like PPP or of Cisco HDLC. */
static void serial(struct pb *p, uint8_t addr, uint8_t ctl, uint16_t proto)
{
    put8(p, addr);
    put8(p, ctl);
    put16(p, proto);
}

static void payload(struct pb *p)
{
    put(p, "hello", 5);
}

/* ---- decoding and assertions --------------------------------------------- */

static struct decoder_counters ctr;
static struct decoded_packet d;
static struct decoded_packet mid;  /* decode_ip_layer() of d.mid_l3_offset, or zeros */
static bool fault_tested[DECODER_COUNTER_COUNT];

/* Decode a heap copy of exactly caplen bytes; counters accumulate. The
 * intermediate layer, if any, is decoded from the same copy into mid. */
static bool decode_buf(const uint8_t *b, uint32_t caplen, uint32_t wirelen,
                       uint16_t link_type)
{
    uint8_t *copy = malloc(caplen ? caplen : 1);
    struct packet pkt = {
        .data = copy, .caplen = caplen, .wirelen = wirelen,
        .ts_ns = 1, .link_type = link_type, .port = 0,
    };
    bool ret;

    if (!copy)
        abort();
    if (caplen)
        memcpy(copy, b, caplen);
    ret = decode_packet(&pkt, &d, &ctr);
    memset(&mid, 0, sizeof(mid));
    if (d.mid_l3_offset != 0)
        decode_ip_layer(&pkt, d.mid_l3_offset, &mid);
    free(copy);
    return ret;
}

/* decode_ip_layer() of a heap copy of the first caplen bytes of p, the
 * layer at off, into mid. */
static bool layer_at(const struct pb *p, uint32_t caplen, uint16_t off)
{
    uint8_t *copy = malloc(caplen ? caplen : 1);
    struct packet pkt = {
        .data = copy, .caplen = caplen, .wirelen = p->n,
        .ts_ns = 1, .link_type = LINK_RAW, .port = 0,
    };
    bool ret;

    if (!copy)
        abort();
    if (caplen)
        memcpy(copy, p->b, caplen);
    ret = decode_ip_layer(&pkt, off, &mid);
    free(copy);
    return ret;
}

static bool run_snap(const struct pb *p, uint16_t link_type, uint32_t caplen)
{
    memset(&ctr, 0, sizeof(ctr));
    return decode_buf(p->b, caplen, p->n, link_type);
}

static bool run(const struct pb *p, uint16_t link_type)
{
    return run_snap(p, link_type, p->n);
}

/* The documented rule: fault counters end in a fault word. */
static bool is_fault_counter(unsigned i)
{
    const char *name = decoder_counter_name((enum decoder_counter)i);
    size_t n = strlen(name);

    return strstr(name, ".bad_") != NULL ||
           (n >= 9 && strcmp(name + n - 9, "truncated") == 0) ||
           (n >= 6 && strcmp(name + n - 6, "_limit") == 0) ||
           (n >= 11 && strcmp(name + n - 11, "unsupported") == 0);
}

static uint64_t fault_total(void)
{
    uint64_t sum = 0;

    for (unsigned i = 0; i < DECODER_COUNTER_COUNT; i++)
        if (is_fault_counter(i))
            sum += ctr.v[i];
    return sum;
}

/* Exactly one fault, counted under id, and the packet marked invalid. */
static void expect_fault_line(enum decoder_counter id, int line)
{
    bool ok = ctr.v[id] == 1 && ctr.v[DECODER_INVALID] == 1 &&
              fault_total() == 1 && (d.flags & DECODED_INVALID) &&
              ctr.v[DECODER_PKTS] == 1;

    if (!ok)
        fprintf(stderr, "\nline %d: expected %s: count %llu invalid %llu "
                "faults %llu flags 0x%x\n", line, decoder_counter_name(id),
                (unsigned long long)ctr.v[id],
                (unsigned long long)ctr.v[DECODER_INVALID],
                (unsigned long long)fault_total(), d.flags);
    CU_ASSERT(ok);
    fault_tested[id] = true;
}
#define expect_fault(id) expect_fault_line(id, __LINE__)

static void expect_clean(void)
{
    CU_ASSERT_EQUAL(ctr.v[DECODER_PKTS], 1);
    CU_ASSERT_EQUAL(ctr.v[DECODER_INVALID], 0);
    CU_ASSERT_EQUAL(fault_total(), 0);
    CU_ASSERT_FALSE(d.flags & DECODED_INVALID);
}

static bool is_v4(const uint8_t a[16], uint32_t v)
{
    uint8_t e[16] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16),
                      (uint8_t)(v >> 8), (uint8_t)v };
    return memcmp(a, e, 16) == 0;
}

static bool is_v6(const uint8_t a[16], uint8_t last)
{
    uint8_t e[16] = { 0x20, 0x01, 0x0d, 0xb8 };
    e[15] = last;
    return memcmp(a, e, 16) == 0;
}

/* ---- sample packets (also the seeds of the fuzz loop) -------------------- */

/* Ethernet / IPv4 / TCP 40000 -> 80, PSH|ACK, "hello". */
static uint16_t s_eth_tcp(struct pb *p)
{
    eth(p, 0x0800);
    uint32_t ip = ipv4(p, IPPROTO_TCP, HOST1, HOST2);
    tcpx(p, 40000, 80, 0x01020304, 0x05060708, 0x18, 5);
    payload(p);
    fix_ipv4(p, ip);
    return LINK_ETHERNET;
}

/* Ethernet / 802.1ad 100 / 802.1Q 200 / IPv4 / UDP 5353. */
static uint16_t s_qinq_udp(struct pb *p)
{
    eth(p, 0x88a8);
    vtag(p, 0x2000 | 100, 0x8100);
    vtag(p, 200, 0x0800);
    uint32_t ip = ipv4(p, IPPROTO_UDP, HOST1, HOST2);
    uint32_t u = udp(p, 5353, 5353);
    payload(p);
    fix_udp(p, u);
    fix_ipv4(p, ip);
    return LINK_ETHERNET;
}

/* Raw IPv6 / hop-by-hop / routing / dest opts / AH / TCP. */
static uint16_t s_raw_v6_ext_tcp(struct pb *p)
{
    uint32_t ip = ipv6(p, IPPROTO_HOPOPTS, 1, 2);
    ext6(p, IPPROTO_ROUTING, 0);
    ext6(p, IPPROTO_DSTOPTS, 2);
    ext6(p, IPPROTO_AH, 0);
    ah(p, IPPROTO_TCP);
    tcp(p, 1234, 443, 0x02);
    fix_ipv6(p, ip);
    return LINK_RAW;
}

/* Linux cooked / IPv4 / ICMP echo request id 0x4242. */
static uint16_t s_sll_icmp(struct pb *p)
{
    sll(p, 0x0800);
    uint32_t ip = ipv4(p, IPPROTO_ICMP, HOST1, HOST2);
    icmp(p, 8, 0, 0x4242);
    payload(p);
    fix_ipv4(p, ip);
    return LINK_LINUX_SLL;
}

/* Linux cooked v2 / IPv6 / ICMPv6 echo reply id 0x77. */
static uint16_t s_sll2_icmp6(struct pb *p)
{
    sll2(p, 0x86dd);
    uint32_t ip = ipv6(p, IPPROTO_ICMPV6, 1, 2);
    icmp(p, 129, 0, 0x77);
    fix_ipv6(p, ip);
    return LINK_LINUX_SLL2;
}

/* BSD loopback (host order AF_INET) / IPv4 / SCTP 2905 -> 2906. */
static uint16_t s_null_sctp(struct pb *p)
{
    put32(p, 0x02000000);
    uint32_t ip = ipv4(p, IPPROTO_SCTP, HOST1, HOST2);
    sctp(p, 2905, 2906);
    put32(p, 0);  /* a chunk header */
    fix_ipv4(p, ip);
    return LINK_NULL;
}

/* Ethernet / IPv4 / GRE (key) / IPv4 192.168.1.1 -> .2 / UDP 53. */
static uint16_t s_gre_ipv4(struct pb *p)
{
    eth(p, 0x0800);
    uint32_t o = ipv4(p, IPPROTO_GRE, HOST1, HOST2);
    gre(p, 0x2000, 0x0800);
    uint32_t i = ipv4(p, IPPROTO_UDP, A4(192, 168, 1, 1), A4(192, 168, 1, 2));
    uint32_t u = udp(p, 33000, 53);
    payload(p);
    fix_udp(p, u);
    fix_ipv4(p, i);
    fix_ipv4(p, o);
    return LINK_ETHERNET;
}

/* Ethernet / IPv4 / GRE (csum, key, seq) 0x6558 / Ethernet / IPv4 / TCP. */
static uint16_t s_gre_teb(struct pb *p)
{
    eth(p, 0x0800);
    uint32_t o = ipv4(p, IPPROTO_GRE, HOST1, HOST2);
    gre(p, 0xb000, 0x6558);
    eth(p, 0x0800);
    uint32_t i = ipv4(p, IPPROTO_TCP, A4(172, 16, 0, 1), A4(172, 16, 0, 2));
    tcp(p, 5000, 22, 0x10);
    payload(p);
    fix_ipv4(p, i);
    fix_ipv4(p, o);
    return LINK_ETHERNET;
}

/* Ethernet / VLAN 7 / IPv4 / UDP 4789 / VXLAN 42 / Ethernet / IPv4 / TCP. */
static uint16_t s_vxlan(struct pb *p)
{
    eth(p, 0x8100);
    vtag(p, 7, 0x0800);
    uint32_t o = ipv4(p, IPPROTO_UDP, HOST1, HOST2);
    uint32_t u = udp(p, 51000, 4789);
    vxlan(p, 0x08, 42);
    eth(p, 0x0800);
    uint32_t i = ipv4(p, IPPROTO_TCP, A4(172, 16, 0, 1), A4(172, 16, 0, 2));
    tcp(p, 5000, 8080, 0x02);
    payload(p);
    fix_ipv4(p, i);
    fix_udp(p, u);
    fix_ipv4(p, o);
    return LINK_ETHERNET;
}

/* Ethernet / IPv4 / UDP 50000 -> 6081 / Geneve, Ethernet payload /
 * Ethernet / IPv4 / TCP. */
static uint16_t s_geneve_eth(struct pb *p)
{
    eth(p, 0x0800);
    uint32_t o = ipv4(p, IPPROTO_UDP, HOST1, HOST2);
    uint32_t u = udp(p, 50000, 6081);
    geneve(p, 0x6558, 0);
    eth(p, 0x0800);
    uint32_t i = ipv4(p, IPPROTO_TCP, A4(172, 16, 0, 1), A4(172, 16, 0, 2));
    tcp(p, 5000, 8080, 0x02);
    payload(p);
    fix_ipv4(p, i);
    fix_udp(p, u);
    fix_ipv4(p, o);
    return LINK_ETHERNET;
}

/* Raw IPv6 / UDP 50000 -> 6081 / Geneve, 8 bytes of options, IPv6
 * payload / IPv6 2001:db8::7 -> ::8 / UDP 1000 -> 53. */
static uint16_t s_geneve_v6(struct pb *p)
{
    uint32_t o = ipv6(p, IPPROTO_UDP, 1, 2);
    uint32_t u = udp(p, 50000, 6081);
    geneve(p, 0x86dd, 2);
    uint32_t i = ipv6(p, IPPROTO_UDP, 7, 8);
    uint32_t iu = udp(p, 1000, 53);
    payload(p);
    fix_udp(p, iu);
    fix_ipv6(p, i);
    fix_udp(p, u);
    fix_ipv6(p, o);
    return LINK_RAW;
}

/* As in suricata-verify's bug-6402-01 (an AWS Gateway Load Balancer):
 * Ethernet / IPv4 / UDP 6081 / Geneve, 24 bytes of options, IPv4 payload /
 * IPv4 10.0.1.72 -> 10.0.2.31 / GRE / IPv4 10.2.0.1 -> .2 / TCP 39198 ->
 * 1234. The middle IPv4 packet, at 74, is an intermediate layer. */
static uint16_t s_geneve_gre(struct pb *p)
{
    eth(p, 0x0800);
    uint32_t o = ipv4(p, IPPROTO_UDP, HOST1, HOST2);
    uint32_t u = udp(p, 61000, 6081);
    geneve(p, 0x0800, 6);
    uint32_t m = ipv4(p, IPPROTO_GRE, A4(10, 0, 1, 72), A4(10, 0, 2, 31));
    gre(p, 0, 0x0800);
    uint32_t i = ipv4(p, IPPROTO_TCP, A4(10, 2, 0, 1), A4(10, 2, 0, 2));
    tcp(p, 39198, 1234, 0x18);
    payload(p);
    fix_ipv4(p, i);
    fix_ipv4(p, m);
    fix_udp(p, u);
    fix_ipv4(p, o);
    return LINK_ETHERNET;
}

/* As in the nDPI GTP captures: Ethernet / IPv4 / UDP 2152 -> 2152 /
 * GTP-U G-PDU / IPv4 172.16.0.1 -> .2 / TCP 40000 -> 443. */
static uint16_t s_gtpu(struct pb *p)
{
    eth(p, 0x0800);
    uint32_t o = ipv4(p, IPPROTO_UDP, HOST1, HOST2);
    uint32_t u = udp(p, 2152, 2152);
    uint32_t g = gtpu(p, GTPU_V1, 0xff, 0);
    uint32_t i = ipv4(p, IPPROTO_TCP, A4(172, 16, 0, 1), A4(172, 16, 0, 2));
    tcp(p, 40000, 443, 0x18);
    payload(p);
    fix_ipv4(p, i);
    fix_gtpu(p, g);
    fix_udp(p, u);
    fix_ipv4(p, o);
    return LINK_ETHERNET;
}

/* Raw IPv6 / UDP 2152 -> 2152 / GTP-U G-PDU with sequence number, a 5G PDU
 * session container (0x85, 4 bytes) and a PDCP PDU number (0xc0, 8 bytes)
 * / IPv6 2001:db8::7 -> ::8 / UDP 5060 -> 53. */
static uint16_t s_gtpu_ext_v6(struct pb *p)
{
    uint32_t o = ipv6(p, IPPROTO_UDP, 1, 2);
    uint32_t u = udp(p, 2152, 2152);
    uint32_t g = gtpu(p, GTPU_V1 | GTPU_E | GTPU_S, 0xff, 0x85);
    gtpu_ext(p, 1, 0xc0);
    gtpu_ext(p, 2, 0);
    uint32_t i = ipv6(p, IPPROTO_UDP, 7, 8);
    uint32_t iu = udp(p, 5060, 53);
    payload(p);
    fix_udp(p, iu);
    fix_ipv6(p, i);
    fix_gtpu(p, g);
    fix_udp(p, u);
    fix_ipv6(p, o);
    return LINK_RAW;
}

/* Raw IPv4 / IPv4 192.168.1.1 -> .2 / TCP. */
static uint16_t s_ipip(struct pb *p)
{
    uint32_t o = ipv4(p, IPPROTO_IPIP, HOST1, HOST2);
    uint32_t i = ipv4(p, IPPROTO_TCP, A4(192, 168, 1, 1), A4(192, 168, 1, 2));
    tcp(p, 1111, 2222, 0x11);
    fix_ipv4(p, i);
    fix_ipv4(p, o);
    return LINK_RAW;
}

/* Ethernet / IPv4 / IPv6 (6in4) / UDP. */
static uint16_t s_6in4(struct pb *p)
{
    eth(p, 0x0800);
    uint32_t o = ipv4(p, IPPROTO_IPV6, HOST1, HOST2);
    uint32_t i = ipv6(p, IPPROTO_UDP, 5, 6);
    uint32_t u = udp(p, 547, 546);
    payload(p);
    fix_udp(p, u);
    fix_ipv6(p, i);
    fix_ipv4(p, o);
    return LINK_ETHERNET;
}

/* Ethernet / IPv4 with options, first fragment / UDP (length covers the
 * whole datagram, more than this fragment holds). */
static uint16_t s_frag_first(struct pb *p)
{
    eth(p, 0x0800);
    uint32_t ip = ipv4x(p, IPPROTO_UDP, HOST1, HOST2, 7, 0x2000);
    uint32_t u = udp(p, 1000, 2000);
    putz(p, 32);
    set16(p, u + 4, 3000);
    fix_ipv4(p, ip);
    return LINK_ETHERNET;
}

/* Raw IPv6 / fragment header, offset 0, M set / UDP. */
static uint16_t s_v6_frag_first(struct pb *p)
{
    uint32_t ip = ipv6(p, IPPROTO_FRAGMENT, 1, 2);
    frag6(p, IPPROTO_UDP, 0, true);
    uint32_t u = udp(p, 4000, 5000);
    putz(p, 16);
    set16(p, u + 4, 2000);
    fix_ipv6(p, ip);
    return LINK_RAW;
}

/* NULL (network order AF 30, macOS AF_INET6) / IPv6 / GRE / IPv4 / ICMP. */
static uint16_t s_v6_gre_v4(struct pb *p)
{
    put32(p, 30);
    uint32_t o = ipv6(p, IPPROTO_GRE, 1, 2);
    gre(p, 0x8000, 0x0800);
    uint32_t i = ipv4(p, IPPROTO_ICMP, A4(192, 168, 9, 1), A4(192, 168, 9, 2));
    icmp(p, 0, 0, 99);
    fix_ipv4(p, i);
    fix_ipv6(p, o);
    return LINK_NULL;
}

/* Raw IPv4 wrapped `layers` times in IPv4 (IP-in-IP), innermost UDP.
 * Layer k (0 = outermost) has addresses 10.k.0.1 -> 10.k.0.2. */
static uint16_t nested_ipip(struct pb *p, unsigned layers)
{
    uint32_t offs[8];

    for (unsigned k = 0; k <= layers; k++)
        offs[k] = ipv4(p, k == layers ? IPPROTO_UDP : IPPROTO_IPIP,
                       A4(10, k, 0, 1), A4(10, k, 0, 2));
    uint32_t u = udp(p, 7, 9);
    fix_udp(p, u);
    for (unsigned k = 0; k <= layers; k++)
        fix_ipv4(p, offs[k]);
    return LINK_RAW;
}

static uint16_t s_nested3(struct pb *p)
{
    return nested_ipip(p, 3);
}

/* As in the nDPI dns.pcap: Ethernet / VLAN 421 / VLAN 785 / PPPoE session /
 * PPP IPv4 / UDP 47255 -> 53. */
static uint16_t s_pppoe(struct pb *p)
{
    eth(p, 0x8100);
    vtag(p, 421, 0x8100);
    vtag(p, 785, 0x8864);
    uint32_t s = pppoe(p, 0x0021);
    uint32_t ip = ipv4(p, IPPROTO_UDP, HOST1, HOST2);
    uint32_t u = udp(p, 47255, 53);
    payload(p);
    fix_udp(p, u);
    fix_ipv4(p, ip);
    fix_pppoe(p, s);
    return LINK_ETHERNET;
}

/* Ethernet / MPLS 16 / MPLS 17 (bottom) / IPv6 / TCP 80. */
static uint16_t s_mpls_v6(struct pb *p)
{
    eth(p, 0x8847);
    mpls(p, 16, false);
    mpls(p, 17, true);
    uint32_t ip = ipv6(p, IPPROTO_TCP, 1, 2);
    tcp(p, 40000, 80, 0x02);
    payload(p);
    fix_ipv6(p, ip);
    return LINK_ETHERNET;
}

/* PPP in HDLC-like framing / IPv4 / TCP 1723. */
static uint16_t s_ppp(struct pb *p)
{
    serial(p, 0xff, 0x03, 0x0021);
    uint32_t ip = ipv4(p, IPPROTO_TCP, HOST1, HOST2);
    tcp(p, 1025, 1723, 0x18);
    payload(p);
    fix_ipv4(p, ip);
    return LINK_PPP;
}

/* PPP with both compressions: a 1-byte protocol 0x57 / IPv6 / UDP. */
static uint16_t s_ppp_pfc_v6(struct pb *p)
{
    put8(p, 0x57);
    uint32_t ip = ipv6(p, IPPROTO_UDP, 1, 2);
    uint32_t u = udp(p, 5000, 53);
    payload(p);
    fix_udp(p, u);
    fix_ipv6(p, ip);
    return LINK_PPP;
}

/* As in the nDPI BGP_redist.pcap: Cisco HDLC / MPLS 18 / IPv4 / TCP 179. */
static uint16_t s_chdlc_mpls(struct pb *p)
{
    serial(p, 0x0f, 0x00, 0x8847);
    mpls(p, 18, true);
    uint32_t ip = ipv4(p, IPPROTO_TCP, A4(2, 2, 2, 2), A4(4, 4, 4, 4));
    tcp(p, 179, 63535, 0x18);
    payload(p);
    fix_ipv4(p, ip);
    return LINK_CHDLC;
}

static uint16_t (*const samples[])(struct pb *) = {
    s_eth_tcp, s_qinq_udp, s_raw_v6_ext_tcp, s_sll_icmp, s_sll2_icmp6,
    s_null_sctp, s_gre_ipv4, s_gre_teb, s_vxlan, s_ipip, s_6in4,
    s_frag_first, s_v6_frag_first, s_v6_gre_v4, s_nested3, s_pppoe,
    s_mpls_v6, s_ppp, s_ppp_pfc_v6, s_chdlc_mpls, s_gtpu, s_gtpu_ext_v6,
    s_geneve_eth, s_geneve_v6, s_geneve_gre,
};
#define N_SAMPLES (sizeof(samples) / sizeof(samples[0]))

/* ---- names and link types ------------------------------------------------ */

static void test_counter_names(void)
{
    for (unsigned i = 0; i < DECODER_COUNTER_COUNT; i++) {
        const char *a = decoder_counter_name((enum decoder_counter)i);

        CU_ASSERT_PTR_NOT_NULL_FATAL(a);
        CU_ASSERT_EQUAL(strncmp(a, "decoder.", 8), 0);
        CU_ASSERT(strlen(a) > 8);
        for (unsigned j = 0; j < i; j++)
            CU_ASSERT_NOT_EQUAL(strcmp(a, decoder_counter_name((enum decoder_counter)j)), 0);
    }
    CU_ASSERT_STRING_EQUAL(decoder_counter_name(DECODER_IPV4_TRUNCATED),
                           "decoder.ipv4.truncated");
    CU_ASSERT_PTR_NULL(decoder_counter_name(DECODER_COUNTER_COUNT));
}

static void test_link_type_from_dlt(void)
{
    CU_ASSERT_EQUAL(link_type_from_dlt(1), LINK_ETHERNET);
    CU_ASSERT_EQUAL(link_type_from_dlt(12), LINK_RAW);
    CU_ASSERT_EQUAL(link_type_from_dlt(101), LINK_RAW);
    CU_ASSERT_EQUAL(link_type_from_dlt(228), LINK_RAW);
    CU_ASSERT_EQUAL(link_type_from_dlt(229), LINK_RAW);
    CU_ASSERT_EQUAL(link_type_from_dlt(113), LINK_LINUX_SLL);
    CU_ASSERT_EQUAL(link_type_from_dlt(276), LINK_LINUX_SLL2);
    CU_ASSERT_EQUAL(link_type_from_dlt(0), LINK_NULL);
    CU_ASSERT_EQUAL(link_type_from_dlt(108), LINK_NULL);
    CU_ASSERT_EQUAL(link_type_from_dlt(9), LINK_PPP);
    CU_ASSERT_EQUAL(link_type_from_dlt(50), LINK_PPP);
    CU_ASSERT_EQUAL(link_type_from_dlt(104), LINK_CHDLC);
    CU_ASSERT_EQUAL(link_type_from_dlt(105), LINK_UNSUPPORTED);  /* 802.11 */
    CU_ASSERT_EQUAL(link_type_from_dlt(-1), LINK_UNSUPPORTED);
}

/* ---- link layers --------------------------------------------------------- */

static void test_ethernet_tcp(void)
{
    struct pb p = { .n = 0 };

    CU_ASSERT_TRUE(run(&p, s_eth_tcp(&p)));
    expect_clean();
    CU_ASSERT_EQUAL(d.flags, DECODED_IP | DECODED_L4);
    CU_ASSERT_EQUAL(d.ip_version, 4);
    CU_ASSERT_EQUAL(d.ip_proto, IPPROTO_TCP);
    CU_ASSERT_EQUAL(d.ttl, 64);
    CU_ASSERT(is_v4(d.src_addr, HOST1));
    CU_ASSERT(is_v4(d.dst_addr, HOST2));
    CU_ASSERT_EQUAL(d.src_port, 40000);
    CU_ASSERT_EQUAL(d.dst_port, 80);
    CU_ASSERT_EQUAL(d.tcp_flags, 0x18);
    CU_ASSERT_EQUAL(d.tcp_seq, 0x01020304);
    CU_ASSERT_EQUAL(d.tcp_ack, 0x05060708);
    CU_ASSERT_EQUAL(d.tcp_window, 0xfaf0);
    CU_ASSERT_EQUAL(d.l3_offset, 14);
    CU_ASSERT_EQUAL(d.l4_offset, 34);
    CU_ASSERT_EQUAL(d.payload_offset, 54);
    CU_ASSERT_EQUAL(d.payload_len, 5);
    CU_ASSERT_EQUAL(memcmp(p.b + d.payload_offset, "hello", 5), 0);
    CU_ASSERT_EQUAL(d.vlan[0], 0);
    CU_ASSERT_EQUAL(ctr.v[DECODER_PKTS], 1);
    CU_ASSERT_EQUAL(ctr.v[DECODER_BYTES], p.n);
    CU_ASSERT_EQUAL(ctr.v[DECODER_ETHERNET], 1);
    CU_ASSERT_EQUAL(ctr.v[DECODER_IPV4], 1);
    CU_ASSERT_EQUAL(ctr.v[DECODER_TCP], 1);
    CU_ASSERT_EQUAL(ctr.v[DECODER_SNAPPED], 0);
}

/* TCP with options: the payload starts after them. */
static void test_tcp_options(void)
{
    struct pb p = { .n = 0 };

    eth(&p, 0x0800);
    uint32_t ip = ipv4(&p, IPPROTO_TCP, HOST1, HOST2);
    tcpx(&p, 1, 2, 0xfffffffe, 0, 0x02 | 0x40 | 0x80, 8);
    payload(&p);
    fix_ipv4(&p, ip);
    CU_ASSERT_TRUE(run(&p, LINK_ETHERNET));
    expect_clean();
    CU_ASSERT_EQUAL(d.tcp_flags, 0xc2);
    CU_ASSERT_EQUAL(d.tcp_seq, 0xfffffffe);
    CU_ASSERT_EQUAL(d.l4_offset, 34);
    CU_ASSERT_EQUAL(d.payload_offset, 34 + 32);
    CU_ASSERT_EQUAL(d.payload_len, 5);
}

static void test_ethernet_padding(void)
{
    struct pb p = { .n = 0 };

    eth(&p, 0x0800);
    uint32_t ip = ipv4(&p, IPPROTO_UDP, HOST1, HOST2);
    uint32_t u = udp(&p, 1000, 2000);
    put16(&p, 0xabcd);
    fix_udp(&p, u);
    fix_ipv4(&p, ip);
    while (p.n < 60)
        put8(&p, 0xee);  /* minimum frame padding */
    put32(&p, 0x11223344);  /* and an FCS */
    CU_ASSERT_TRUE(run(&p, LINK_ETHERNET));
    expect_clean();
    CU_ASSERT_EQUAL(d.flags, DECODED_IP | DECODED_L4);
    CU_ASSERT_EQUAL(d.payload_offset, 42);
    CU_ASSERT_EQUAL(d.payload_len, 2);

    /* Bytes past the UDP length but inside the IP datagram are ignored. */
    p.n = 0;
    eth(&p, 0x0800);
    ip = ipv4(&p, IPPROTO_UDP, HOST1, HOST2);
    u = udp(&p, 1000, 2000);
    payload(&p);
    fix_udp(&p, u);
    putz(&p, 3);
    fix_ipv4(&p, ip);
    CU_ASSERT_TRUE(run(&p, LINK_ETHERNET));
    expect_clean();
    CU_ASSERT_EQUAL(d.payload_len, 5);
}

static void test_raw_links(void)
{
    struct pb p = { .n = 0 };

    /* IPv4 under every raw DLT the capture files use. */
    uint32_t ip = ipv4(&p, IPPROTO_UDP, HOST1, HOST2);
    uint32_t u = udp(&p, 1, 2);
    fix_udp(&p, u);
    fix_ipv4(&p, ip);
    CU_ASSERT_TRUE(run(&p, link_type_from_dlt(228)));
    expect_clean();
    CU_ASSERT_EQUAL(ctr.v[DECODER_RAW], 1);
    CU_ASSERT_EQUAL(d.ip_version, 4);
    CU_ASSERT_EQUAL(d.l3_offset, 0);
    CU_ASSERT_EQUAL(d.l4_offset, 20);

    /* IPv6 on LINKTYPE_RAW: the version nibble decides. */
    p.n = 0;
    ip = ipv6(&p, IPPROTO_UDP, 1, 2);
    u = udp(&p, 1, 2);
    fix_udp(&p, u);
    fix_ipv6(&p, ip);
    CU_ASSERT_TRUE(run(&p, link_type_from_dlt(101)));
    expect_clean();
    CU_ASSERT_EQUAL(d.ip_version, 6);
    CU_ASSERT_EQUAL(d.ttl, 63);
    CU_ASSERT(is_v6(d.src_addr, 1));
    CU_ASSERT(is_v6(d.dst_addr, 2));
    CU_ASSERT_EQUAL(d.l4_offset, 40);

    /* A raw IPv6 extension chain ending in TCP. */
    p.n = 0;
    CU_ASSERT_TRUE(run(&p, s_raw_v6_ext_tcp(&p)));
    expect_clean();
    CU_ASSERT_EQUAL(d.ip_proto, IPPROTO_TCP);
    CU_ASSERT_EQUAL(d.l4_offset, 40 + 8 + 24 + 8 + 24);
    CU_ASSERT_EQUAL(d.dst_port, 443);
    CU_ASSERT_EQUAL(d.tcp_flags, 0x02);
}

static void test_sll_links(void)
{
    struct pb p = { .n = 0 };

    CU_ASSERT_TRUE(run(&p, s_sll_icmp(&p)));
    expect_clean();
    CU_ASSERT_EQUAL(ctr.v[DECODER_SLL], 1);
    CU_ASSERT_EQUAL(d.l3_offset, 16);
    CU_ASSERT_EQUAL(d.ip_proto, IPPROTO_ICMP);
    CU_ASSERT_EQUAL(d.icmp_type, 8);
    CU_ASSERT_EQUAL(d.src_port, 0x4242);
    CU_ASSERT_EQUAL(d.dst_port, 0x4242);

    p.n = 0;
    CU_ASSERT_TRUE(run(&p, s_sll2_icmp6(&p)));
    expect_clean();
    CU_ASSERT_EQUAL(ctr.v[DECODER_SLL], 1);
    CU_ASSERT_EQUAL(d.l3_offset, 20);
    CU_ASSERT_EQUAL(d.ip_version, 6);

    /* A VLAN tag left in a cooked header is walked like Ethernet's. */
    p.n = 0;
    sll(&p, 0x8100);
    vtag(&p, 33, 0x0800);
    uint32_t ip = ipv4(&p, IPPROTO_TCP, HOST1, HOST2);
    tcp(&p, 1, 2, 0x02);
    fix_ipv4(&p, ip);
    CU_ASSERT_TRUE(run(&p, LINK_LINUX_SLL));
    expect_clean();
    CU_ASSERT_EQUAL(d.vlan[0], 33);
    CU_ASSERT_EQUAL(d.l3_offset, 20);

    /* Cooked non-IP (ARP). */
    p.n = 0;
    sll2(&p, 0x0806);
    putz(&p, 28);
    CU_ASSERT_FALSE(run(&p, LINK_LINUX_SLL2));
    expect_clean();
    CU_ASSERT_EQUAL(ctr.v[DECODER_NON_IP], 1);
}

static void test_null_links(void)
{
    static const struct { uint8_t af[4]; int version; } cases[] = {
        { { 2, 0, 0, 0 }, 4 },    /* AF_INET, little-endian host */
        { { 0, 0, 0, 2 }, 4 },    /* AF_INET, DLT_LOOP / big-endian */
        { { 10, 0, 0, 0 }, 6 },   /* Linux */
        { { 0, 0, 0, 24 }, 6 },   /* NetBSD/OpenBSD */
        { { 28, 0, 0, 0 }, 6 },   /* FreeBSD */
        { { 0, 0, 0, 30 }, 6 },   /* macOS */
        { { 7, 0, 0, 0 }, 0 },    /* not IP */
    };

    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct pb p = { .n = 0 };
        uint32_t ip;

        put(&p, cases[i].af, 4);
        if (cases[i].version == 6)
            ip = ipv6(&p, IPPROTO_TCP, 1, 2);
        else
            ip = ipv4(&p, IPPROTO_TCP, HOST1, HOST2);
        tcp(&p, 1, 2, 0x01);
        if (cases[i].version == 6)
            fix_ipv6(&p, ip);
        else
            fix_ipv4(&p, ip);
        CU_ASSERT_EQUAL(run(&p, link_type_from_dlt(i & 1 ? 108 : 0)),
                        cases[i].version != 0);
        expect_clean();
        CU_ASSERT_EQUAL(ctr.v[DECODER_NULL_LINK], 1);
        CU_ASSERT_EQUAL(d.ip_version, cases[i].version);
        CU_ASSERT_EQUAL(ctr.v[DECODER_NON_IP], cases[i].version == 0);
        if (cases[i].version) {
            CU_ASSERT_EQUAL(d.l3_offset, 4);
            CU_ASSERT_EQUAL(d.tcp_flags, 0x01);
        }
    }

    struct pb p = { .n = 0 };
    CU_ASSERT_TRUE(run(&p, s_null_sctp(&p)));
    expect_clean();
    CU_ASSERT_EQUAL(ctr.v[DECODER_SCTP], 1);
    CU_ASSERT_EQUAL(d.src_port, 2905);
    CU_ASSERT_EQUAL(d.dst_port, 2906);
    CU_ASSERT_EQUAL(d.l4_offset, 24);
    CU_ASSERT_EQUAL(d.payload_offset, 36);
    CU_ASSERT_EQUAL(d.payload_len, 4);
}

static void test_vlan(void)
{
    struct pb p = { .n = 0 };

    /* One 802.1Q tag (priority bits are not part of the ID). */
    eth(&p, 0x8100);
    vtag(&p, 0xe000 | 42, 0x0800);
    uint32_t ip = ipv4(&p, IPPROTO_TCP, HOST1, HOST2);
    tcp(&p, 1, 2, 0x02);
    fix_ipv4(&p, ip);
    CU_ASSERT_TRUE(run(&p, LINK_ETHERNET));
    expect_clean();
    CU_ASSERT_EQUAL(d.vlan[0], 42);
    CU_ASSERT_EQUAL(d.vlan[1], 0);
    CU_ASSERT_EQUAL(d.l3_offset, 18);
    CU_ASSERT_EQUAL(ctr.v[DECODER_VLAN], 1);
    CU_ASSERT_EQUAL(ctr.v[DECODER_VLAN_QINQ], 0);

    /* 802.1ad outer, 802.1Q inner. */
    p.n = 0;
    CU_ASSERT_TRUE(run(&p, s_qinq_udp(&p)));
    expect_clean();
    CU_ASSERT_EQUAL(d.vlan[0], 100);
    CU_ASSERT_EQUAL(d.vlan[1], 200);
    CU_ASSERT_EQUAL(d.l3_offset, 22);
    CU_ASSERT_EQUAL(d.dst_port, 5353);
    CU_ASSERT_EQUAL(ctr.v[DECODER_VLAN], 2);
    CU_ASSERT_EQUAL(ctr.v[DECODER_VLAN_QINQ], 1);

    /* The old 0x9100 TPID, four tags: the limit itself is fine. */
    p.n = 0;
    eth(&p, 0x9100);
    vtag(&p, 1, 0x9100);
    vtag(&p, 2, 0x8100);
    vtag(&p, 3, 0x8100);
    vtag(&p, 4, 0x86dd);
    ip = ipv6(&p, IPPROTO_UDP, 1, 2);
    uint32_t u = udp(&p, 1, 2);
    fix_udp(&p, u);
    fix_ipv6(&p, ip);
    CU_ASSERT_TRUE(run(&p, LINK_ETHERNET));
    expect_clean();
    CU_ASSERT_EQUAL(d.vlan[0], 1);
    CU_ASSERT_EQUAL(d.vlan[1], 2);
    CU_ASSERT_EQUAL(d.l3_offset, 30);
    CU_ASSERT_EQUAL(ctr.v[DECODER_VLAN], 4);
    CU_ASSERT_EQUAL(ctr.v[DECODER_VLAN_QINQ], 1);

    /* A tagged ARP frame is non-IP, not invalid. */
    p.n = 0;
    eth(&p, 0x8100);
    vtag(&p, 5, 0x0806);
    putz(&p, 28);
    CU_ASSERT_FALSE(run(&p, LINK_ETHERNET));
    expect_clean();
    CU_ASSERT_EQUAL(ctr.v[DECODER_NON_IP], 1);
    CU_ASSERT_EQUAL(d.vlan[0], 5);
    CU_ASSERT_EQUAL(d.flags, 0);
    CU_ASSERT_EQUAL(d.ip_version, 0);
}

static void test_pppoe(void)
{
    struct pb p = { .n = 0 };

    /* Behind two VLAN tags, as in the nDPI captures. */
    CU_ASSERT_TRUE(run(&p, s_pppoe(&p)));
    expect_clean();
    CU_ASSERT_EQUAL(d.flags, DECODED_IP | DECODED_L4);
    CU_ASSERT_EQUAL(d.vlan[0], 421);
    CU_ASSERT_EQUAL(d.vlan[1], 785);
    CU_ASSERT_EQUAL(d.ip_version, 4);
    CU_ASSERT(is_v4(d.src_addr, HOST1));
    CU_ASSERT_EQUAL(d.src_port, 47255);
    CU_ASSERT_EQUAL(d.dst_port, 53);
    CU_ASSERT_EQUAL(d.l3_offset, 14 + 8 + 8);
    CU_ASSERT_EQUAL(d.payload_len, 5);
    CU_ASSERT_EQUAL(ctr.v[DECODER_PPPOE], 1);
    CU_ASSERT_EQUAL(ctr.v[DECODER_VLAN], 2);
    CU_ASSERT_EQUAL(ctr.v[DECODER_VLAN_QINQ], 1);
    CU_ASSERT_EQUAL(ctr.v[DECODER_IPV4], 1);
    CU_ASSERT_EQUAL(ctr.v[DECODER_UDP], 1);

    /* IPv6, padded to the minimum frame: the PPPoE length ends the packet. */
    p.n = 0;
    eth(&p, 0x8864);
    uint32_t s = pppoe(&p, 0x0057);
    uint32_t ip = ipv6(&p, IPPROTO_UDP, 1, 2);
    uint32_t u = udp(&p, 546, 547);
    fix_udp(&p, u);
    fix_ipv6(&p, ip);
    fix_pppoe(&p, s);
    putz(&p, 30);
    CU_ASSERT_TRUE(run(&p, LINK_ETHERNET));
    expect_clean();
    CU_ASSERT_EQUAL(d.flags, DECODED_IP | DECODED_L4);
    CU_ASSERT_EQUAL(d.ip_version, 6);
    CU_ASSERT_EQUAL(d.l3_offset, 22);
    CU_ASSERT_EQUAL(d.dst_port, 547);
    CU_ASSERT_EQUAL(d.payload_len, 0);

    /* ...and an IPv4 total length past the PPPoE length is a lie, even
     * though the frame holds the bytes. */
    p.n = 0;
    eth(&p, 0x8864);
    s = pppoe(&p, 0x0021);
    ip = ipv4(&p, IPPROTO_UDP, HOST1, HOST2);
    u = udp(&p, 1, 2);
    fix_udp(&p, u);
    fix_ipv4(&p, ip);
    fix_pppoe(&p, s);
    set16(&p, s + 4, 2 + 20);  /* PPPoE length covers the IP header only */
    CU_ASSERT_FALSE(run(&p, LINK_ETHERNET));
    expect_fault(DECODER_IPV4_BAD_TOTAL_LEN);

    /* PPP protocol-field compression inside PPPoE, over Linux cooked v2. */
    p.n = 0;
    sll2(&p, 0x8864);
    s = pppoe(&p, 0x0021);
    p.n--;
    p.b[p.n - 1] = 0x21;
    ip = ipv4(&p, IPPROTO_ICMP, HOST1, HOST2);
    icmp(&p, 8, 0, 7);
    fix_ipv4(&p, ip);
    fix_pppoe(&p, s);
    CU_ASSERT_TRUE(run(&p, LINK_LINUX_SLL2));
    expect_clean();
    CU_ASSERT_EQUAL(d.l3_offset, 20 + 6 + 1);
    CU_ASSERT_EQUAL(d.src_port, 7);
    CU_ASSERT_EQUAL(ctr.v[DECODER_PPPOE], 1);

    /* LCP inside the session: non-IP, not malformed. */
    p.n = 0;
    eth(&p, 0x8864);
    s = pppoe(&p, 0xc021);
    put32(&p, 0x09010008);  /* echo request */
    put32(&p, 0x12345678);
    fix_pppoe(&p, s);
    CU_ASSERT_FALSE(run(&p, LINK_ETHERNET));
    expect_clean();
    CU_ASSERT_EQUAL(d.flags, 0);
    CU_ASSERT_EQUAL(ctr.v[DECODER_PPPOE], 1);
    CU_ASSERT_EQUAL(ctr.v[DECODER_NON_IP], 1);

    /* An unknown version/type: not a frame we know how to read, whatever
     * seems to follow. */
    p.n = 0;
    s_pppoe(&p);
    p.b[22] = 0x21;
    CU_ASSERT_FALSE(run(&p, LINK_ETHERNET));
    expect_clean();
    CU_ASSERT_EQUAL(d.flags, 0);
    CU_ASSERT_EQUAL(ctr.v[DECODER_NON_IP], 1);
    CU_ASSERT_EQUAL(ctr.v[DECODER_IPV4], 0);

    /* Discovery (PADI): non-IP; not even a session. */
    p.n = 0;
    eth(&p, 0x8863);
    put8(&p, 0x11);
    put8(&p, 0x09);
    put16(&p, 0);
    put16(&p, 4);
    put32(&p, 0x01010000);  /* Service-Name tag, empty */
    CU_ASSERT_FALSE(run(&p, LINK_ETHERNET));
    expect_clean();
    CU_ASSERT_EQUAL(d.flags, 0);
    CU_ASSERT_EQUAL(ctr.v[DECODER_PPPOE], 0);
    CU_ASSERT_EQUAL(ctr.v[DECODER_NON_IP], 1);
}

static void test_mpls(void)
{
    struct pb p = { .n = 0 };

    CU_ASSERT_TRUE(run(&p, s_mpls_v6(&p)));
    expect_clean();
    CU_ASSERT_EQUAL(d.flags, DECODED_IP | DECODED_L4);
    CU_ASSERT_EQUAL(d.ip_version, 6);
    CU_ASSERT(is_v6(d.src_addr, 1));
    CU_ASSERT_EQUAL(d.dst_port, 80);
    CU_ASSERT_EQUAL(d.l3_offset, 14 + 8);
    CU_ASSERT_EQUAL(d.payload_len, 5);
    CU_ASSERT_EQUAL(ctr.v[DECODER_MPLS], 1);
    CU_ASSERT_EQUAL(ctr.v[DECODER_IPV6], 1);

    /* Multicast, one label, behind a VLAN tag. */
    p.n = 0;
    eth(&p, 0x8100);
    vtag(&p, 12, 0x8848);
    mpls(&p, 1000, true);
    uint32_t ip = ipv4(&p, IPPROTO_UDP, HOST1, HOST2);
    uint32_t u = udp(&p, 1, 2);
    fix_udp(&p, u);
    fix_ipv4(&p, ip);
    CU_ASSERT_TRUE(run(&p, LINK_ETHERNET));
    expect_clean();
    CU_ASSERT_EQUAL(d.ip_version, 4);
    CU_ASSERT_EQUAL(d.vlan[0], 12);
    CU_ASSERT_EQUAL(d.l3_offset, 18 + 4);
    CU_ASSERT_EQUAL(ctr.v[DECODER_MPLS], 1);

    /* Eight labels: the limit itself is fine. */
    p.n = 0;
    eth(&p, 0x8847);
    for (uint32_t i = 0; i < 8; i++)
        mpls(&p, 100 + i, i == 7);
    ip = ipv4(&p, IPPROTO_TCP, HOST1, HOST2);
    tcp(&p, 1, 2, 0x10);
    fix_ipv4(&p, ip);
    CU_ASSERT_TRUE(run(&p, LINK_ETHERNET));
    expect_clean();
    CU_ASSERT_EQUAL(d.l3_offset, 14 + 32);
    CU_ASSERT_EQUAL(d.l4_offset, 14 + 32 + 20);

    /* An Ethernet pseudowire with a control word: non-IP. */
    p.n = 0;
    eth(&p, 0x8847);
    mpls(&p, 200, true);
    put32(&p, 0);         /* control word */
    eth(&p, 0x0800);
    ip = ipv4(&p, IPPROTO_TCP, HOST1, HOST2);
    tcp(&p, 1, 2, 0x10);
    fix_ipv4(&p, ip);
    CU_ASSERT_FALSE(run(&p, LINK_ETHERNET));
    expect_clean();
    CU_ASSERT_EQUAL(d.flags, 0);
    CU_ASSERT_EQUAL(ctr.v[DECODER_NON_IP], 1);
    CU_ASSERT_EQUAL(ctr.v[DECODER_IPV4], 0);

    /* IPv4 explicit null in a GRE-bridged frame: found inside the tunnel. */
    p.n = 0;
    eth(&p, 0x0800);
    uint32_t o = ipv4(&p, IPPROTO_GRE, HOST1, HOST2);
    gre(&p, 0, 0x6558);
    eth(&p, 0x8847);
    mpls(&p, 0, true);
    ip = ipv4(&p, IPPROTO_UDP, A4(192, 168, 1, 1), A4(192, 168, 1, 2));
    u = udp(&p, 3, 4);
    fix_udp(&p, u);
    fix_ipv4(&p, ip);
    fix_ipv4(&p, o);
    CU_ASSERT_TRUE(run(&p, LINK_ETHERNET));
    expect_clean();
    CU_ASSERT_EQUAL(d.flags, DECODED_IP | DECODED_L4 | DECODED_TUNNEL);
    CU_ASSERT(is_v4(d.src_addr, A4(192, 168, 1, 1)));
    CU_ASSERT_EQUAL(ctr.v[DECODER_MPLS], 1);
}

static void test_ppp_links(void)
{
    struct pb p = { .n = 0 };

    /* HDLC-like framing, on both DLTs. */
    s_ppp(&p);
    for (int i = 0; i < 2; i++) {
        CU_ASSERT_TRUE(run(&p, link_type_from_dlt(i ? 50 : 9)));
        expect_clean();
        CU_ASSERT_EQUAL(d.flags, DECODED_IP | DECODED_L4);
        CU_ASSERT(is_v4(d.src_addr, HOST1));
        CU_ASSERT_EQUAL(d.dst_port, 1723);
        CU_ASSERT_EQUAL(d.l3_offset, 4);
        CU_ASSERT_EQUAL(d.payload_len, 5);
        CU_ASSERT_EQUAL(ctr.v[DECODER_PPP], 1);
        CU_ASSERT_EQUAL(ctr.v[DECODER_IPV4], 1);
    }

    /* Address and control compressed away, as in the nDPI dlt_ppp.pcap. */
    memmove(p.b, p.b + 2, p.n - 2);
    p.n -= 2;
    CU_ASSERT_TRUE(run(&p, LINK_PPP));
    expect_clean();
    CU_ASSERT_EQUAL(d.l3_offset, 2);
    CU_ASSERT_EQUAL(d.dst_port, 1723);

    /* Both compressions, IPv6. */
    p.n = 0;
    CU_ASSERT_TRUE(run(&p, s_ppp_pfc_v6(&p)));
    expect_clean();
    CU_ASSERT_EQUAL(d.ip_version, 6);
    CU_ASSERT_EQUAL(d.l3_offset, 1);
    CU_ASSERT_EQUAL(d.dst_port, 53);

    /* Protocol compressed, address and control kept. */
    p.n = 0;
    put8(&p, 0xff);
    put8(&p, 0x03);
    put8(&p, 0x21);
    uint32_t ip = ipv4(&p, IPPROTO_UDP, HOST1, HOST2);
    uint32_t u = udp(&p, 1, 2);
    fix_udp(&p, u);
    fix_ipv4(&p, ip);
    CU_ASSERT_TRUE(run(&p, LINK_PPP));
    expect_clean();
    CU_ASSERT_EQUAL(d.l3_offset, 3);

    /* MPLS over PPP. */
    p.n = 0;
    serial(&p, 0xff, 0x03, 0x0281);
    mpls(&p, 42, true);
    ip = ipv4(&p, IPPROTO_UDP, HOST1, HOST2);
    u = udp(&p, 1, 2);
    fix_udp(&p, u);
    fix_ipv4(&p, ip);
    CU_ASSERT_TRUE(run(&p, LINK_PPP));
    expect_clean();
    CU_ASSERT_EQUAL(d.l3_offset, 8);
    CU_ASSERT_EQUAL(ctr.v[DECODER_MPLS], 1);

    /* LCP: non-IP. */
    p.n = 0;
    serial(&p, 0xff, 0x03, 0xc021);
    put32(&p, 0x01010004);
    CU_ASSERT_FALSE(run(&p, LINK_PPP));
    expect_clean();
    CU_ASSERT_EQUAL(d.flags, 0);
    CU_ASSERT_EQUAL(ctr.v[DECODER_PPP], 1);
    CU_ASSERT_EQUAL(ctr.v[DECODER_NON_IP], 1);

    /* 0xff without 0x03 is no address field but protocol 0xff: non-IP,
     * though an IPv4 protocol number follows. */
    p.n = 0;
    s_ppp(&p);
    p.b[1] = 0x00;
    CU_ASSERT_FALSE(run(&p, LINK_PPP));
    expect_clean();
    CU_ASSERT_EQUAL(d.flags, 0);
    CU_ASSERT_EQUAL(ctr.v[DECODER_NON_IP], 1);
    CU_ASSERT_EQUAL(ctr.v[DECODER_IPV4], 0);

    /* Cisco HDLC framing in a DLT_PPP file (nDPI BGP_Cisco_hdlc_slarp). */
    p.n = 0;
    serial(&p, 0x0f, 0x00, 0x0800);
    ip = ipv4(&p, IPPROTO_TCP, A4(100, 16, 1, 2), A4(100, 16, 1, 1));
    tcp(&p, 18324, 179, 0x02);
    fix_ipv4(&p, ip);
    CU_ASSERT_TRUE(run(&p, LINK_PPP));
    expect_clean();
    CU_ASSERT_EQUAL(d.l3_offset, 4);
    CU_ASSERT_EQUAL(d.dst_port, 179);
    CU_ASSERT_EQUAL(ctr.v[DECODER_CHDLC], 1);
    CU_ASSERT_EQUAL(ctr.v[DECODER_PPP], 0);
    p.b[0] = 0x8f;  /* broadcast */
    CU_ASSERT_TRUE(run(&p, LINK_PPP));
    expect_clean();
    CU_ASSERT_EQUAL(ctr.v[DECODER_CHDLC], 1);
}

static void test_chdlc_links(void)
{
    struct pb p = { .n = 0 };

    CU_ASSERT_TRUE(run(&p, s_chdlc_mpls(&p)));
    expect_clean();
    CU_ASSERT_EQUAL(d.flags, DECODED_IP | DECODED_L4);
    CU_ASSERT(is_v4(d.src_addr, A4(2, 2, 2, 2)));
    CU_ASSERT_EQUAL(d.src_port, 179);
    CU_ASSERT_EQUAL(d.l3_offset, 8);
    CU_ASSERT_EQUAL(d.payload_len, 5);
    CU_ASSERT_EQUAL(ctr.v[DECODER_CHDLC], 1);
    CU_ASSERT_EQUAL(ctr.v[DECODER_MPLS], 1);

    /* Broadcast address, IPv6. */
    p.n = 0;
    serial(&p, 0x8f, 0x00, 0x86dd);
    uint32_t ip = ipv6(&p, IPPROTO_UDP, 1, 2);
    uint32_t u = udp(&p, 521, 521);
    fix_udp(&p, u);
    fix_ipv6(&p, ip);
    CU_ASSERT_TRUE(run(&p, link_type_from_dlt(104)));
    expect_clean();
    CU_ASSERT_EQUAL(d.ip_version, 6);
    CU_ASSERT_EQUAL(d.l3_offset, 4);
    CU_ASSERT_EQUAL(d.dst_port, 521);

    /* SLARP keepalive: non-IP. */
    p.n = 0;
    serial(&p, 0x8f, 0x00, 0x8035);
    put32(&p, 2);
    putz(&p, 14);
    CU_ASSERT_FALSE(run(&p, LINK_CHDLC));
    expect_clean();
    CU_ASSERT_EQUAL(d.flags, 0);
    CU_ASSERT_EQUAL(ctr.v[DECODER_CHDLC], 1);
    CU_ASSERT_EQUAL(ctr.v[DECODER_NON_IP], 1);
}

/* ---- IP ------------------------------------------------------------------ */

static void test_ipv4_options(void)
{
    struct pb p = { .n = 0 };

    eth(&p, 0x0800);
    uint32_t ip = ipv4x(&p, IPPROTO_TCP, HOST1, HOST2, 6, 0x4000 /* DF */);
    tcp(&p, 1, 2, 0x10);
    payload(&p);
    fix_ipv4(&p, ip);
    CU_ASSERT_TRUE(run(&p, LINK_ETHERNET));
    expect_clean();
    CU_ASSERT_EQUAL(d.flags, DECODED_IP | DECODED_L4 | DECODED_IP_OPTIONS);
    CU_ASSERT_EQUAL(ctr.v[DECODER_IPV4_OPTIONS], 1);
    CU_ASSERT_EQUAL(ctr.v[DECODER_IPV4_FRAG], 0);
    CU_ASSERT_EQUAL(d.l4_offset, 14 + 24);
    CU_ASSERT_EQUAL(d.payload_offset, 14 + 24 + 20);
    CU_ASSERT_EQUAL(d.payload_len, 5);
}

static void test_ipv4_fragments(void)
{
    struct pb p = { .n = 0 };

    /* First fragment (with options): L4 decoded although the UDP length
     * is the whole datagram's. */
    CU_ASSERT_TRUE(run(&p, s_frag_first(&p)));
    expect_clean();
    CU_ASSERT_EQUAL(d.flags, DECODED_IP | DECODED_L4 | DECODED_FRAGMENT |
                             DECODED_IP_OPTIONS);
    CU_ASSERT_EQUAL(ctr.v[DECODER_IPV4_FRAG], 1);
    CU_ASSERT_EQUAL(d.src_port, 1000);
    CU_ASSERT_EQUAL(d.dst_port, 2000);
    CU_ASSERT_EQUAL(d.l4_offset, 14 + 28);
    CU_ASSERT_EQUAL(d.payload_len, 32);

    /* A later fragment: no L4 header, no ports, no L4 counter. */
    p.n = 0;
    eth(&p, 0x0800);
    uint32_t ip = ipv4x(&p, IPPROTO_TCP, HOST1, HOST2, 5, 185);
    putz(&p, 40);
    fix_ipv4(&p, ip);
    CU_ASSERT_TRUE(run(&p, LINK_ETHERNET));
    expect_clean();
    CU_ASSERT_EQUAL(d.flags, DECODED_IP | DECODED_FRAGMENT | DECODED_FRAG_LATER);
    CU_ASSERT_EQUAL(d.ip_proto, IPPROTO_TCP);
    CU_ASSERT_EQUAL(d.src_port, 0);
    CU_ASSERT_EQUAL(d.dst_port, 0);
    CU_ASSERT_EQUAL(d.payload_offset, 34);
    CU_ASSERT_EQUAL(d.payload_len, 40);
    CU_ASSERT_EQUAL(ctr.v[DECODER_TCP], 0);
    CU_ASSERT_EQUAL(ctr.v[DECODER_IPV4_FRAG], 1);

    /* The last fragment (offset set, MF clear) of a GRE packet: no tunnel. */
    p.n = 0;
    ip = ipv4x(&p, IPPROTO_GRE, HOST1, HOST2, 5, 100);
    putz(&p, 8);
    fix_ipv4(&p, ip);
    CU_ASSERT_TRUE(run(&p, LINK_RAW));
    expect_clean();
    CU_ASSERT(d.flags & DECODED_FRAG_LATER);
    CU_ASSERT_EQUAL(ctr.v[DECODER_GRE], 0);
}

static void test_ipv6_ext_and_fragments(void)
{
    struct pb p = { .n = 0 };

    /* First fragment (offset 0, M set): L4 decoded. */
    CU_ASSERT_TRUE(run(&p, s_v6_frag_first(&p)));
    expect_clean();
    CU_ASSERT_EQUAL(d.flags, DECODED_IP | DECODED_L4 | DECODED_FRAGMENT);
    CU_ASSERT_EQUAL(ctr.v[DECODER_IPV6_FRAG], 1);
    CU_ASSERT_EQUAL(d.ip_proto, IPPROTO_UDP);
    CU_ASSERT_EQUAL(d.l4_offset, 48);
    CU_ASSERT_EQUAL(d.src_port, 4000);
    CU_ASSERT_EQUAL(d.payload_len, 16);

    /* Later fragment behind a destination options header. */
    p.n = 0;
    uint32_t ip = ipv6(&p, IPPROTO_DSTOPTS, 1, 2);
    ext6(&p, IPPROTO_FRAGMENT, 0);
    frag6(&p, IPPROTO_TCP, 100, false);
    putz(&p, 24);
    fix_ipv6(&p, ip);
    CU_ASSERT_TRUE(run(&p, LINK_RAW));
    expect_clean();
    CU_ASSERT_EQUAL(d.flags, DECODED_IP | DECODED_FRAGMENT | DECODED_FRAG_LATER);
    CU_ASSERT_EQUAL(d.ip_proto, IPPROTO_TCP);
    CU_ASSERT_EQUAL(d.payload_offset, 56);
    CU_ASSERT_EQUAL(d.payload_len, 24);
    CU_ASSERT_EQUAL(ctr.v[DECODER_TCP], 0);
    CU_ASSERT_EQUAL(ctr.v[DECODER_IPV6_FRAG], 1);

    /* Atomic fragment (offset 0, M clear): a whole packet. */
    p.n = 0;
    ip = ipv6(&p, IPPROTO_FRAGMENT, 1, 2);
    frag6(&p, IPPROTO_TCP, 0, false);
    tcp(&p, 9, 10, 0x04);
    fix_ipv6(&p, ip);
    CU_ASSERT_TRUE(run(&p, LINK_RAW));
    expect_clean();
    CU_ASSERT_EQUAL(d.flags, DECODED_IP | DECODED_L4);
    CU_ASSERT_EQUAL(d.tcp_flags, 0x04);

    /* Mobility header then no next header; ESP ends the walk too. */
    p.n = 0;
    ip = ipv6(&p, 135, 1, 2);
    ext6(&p, IPPROTO_NONE, 1);
    fix_ipv6(&p, ip);
    CU_ASSERT_TRUE(run(&p, LINK_RAW));
    expect_clean();
    CU_ASSERT_EQUAL(d.flags, DECODED_IP);
    CU_ASSERT_EQUAL(d.ip_proto, IPPROTO_NONE);
    CU_ASSERT_EQUAL(ctr.v[DECODER_OTHER_IP_PROTO], 1);

    p.n = 0;
    ip = ipv6(&p, IPPROTO_HOPOPTS, 1, 2);
    ext6(&p, IPPROTO_ESP, 0);
    put32(&p, 0x1000);  /* SPI */
    put32(&p, 1);       /* sequence */
    putz(&p, 16);
    fix_ipv6(&p, ip);
    CU_ASSERT_TRUE(run(&p, LINK_RAW));
    expect_clean();
    CU_ASSERT_EQUAL(d.flags, DECODED_IP);
    CU_ASSERT_EQUAL(d.ip_proto, IPPROTO_ESP);
    CU_ASSERT_EQUAL(d.payload_offset, 48);
    CU_ASSERT_EQUAL(d.payload_len, 24);

    /* Eight extension headers: the limit itself is fine. */
    p.n = 0;
    ip = ipv6(&p, IPPROTO_DSTOPTS, 1, 2);
    for (int i = 0; i < 8; i++)
        ext6(&p, i == 7 ? IPPROTO_UDP : IPPROTO_DSTOPTS, 0);
    uint32_t u = udp(&p, 1, 2);
    fix_udp(&p, u);
    fix_ipv6(&p, ip);
    CU_ASSERT_TRUE(run(&p, LINK_RAW));
    expect_clean();
    CU_ASSERT_EQUAL(d.l4_offset, 40 + 64);
}

/* ---- transport ----------------------------------------------------------- */

static void test_udp(void)
{
    struct pb p = { .n = 0 };

    eth(&p, 0x86dd);
    uint32_t ip = ipv6(&p, IPPROTO_UDP, 1, 2);
    uint32_t u = udp(&p, 53, 40001);
    payload(&p);
    fix_udp(&p, u);
    fix_ipv6(&p, ip);
    CU_ASSERT_TRUE(run(&p, LINK_ETHERNET));
    expect_clean();
    CU_ASSERT_EQUAL(d.flags, DECODED_IP | DECODED_L4);
    CU_ASSERT_EQUAL(d.ip_proto, IPPROTO_UDP);
    CU_ASSERT_EQUAL(d.src_port, 53);
    CU_ASSERT_EQUAL(d.dst_port, 40001);
    CU_ASSERT_EQUAL(d.l4_offset, 54);
    CU_ASSERT_EQUAL(d.payload_offset, 62);
    CU_ASSERT_EQUAL(d.payload_len, 5);
    CU_ASSERT_EQUAL(ctr.v[DECODER_UDP], 1);
    CU_ASSERT_EQUAL(ctr.v[DECODER_IPV6], 1);
}

static void test_icmp(void)
{
    struct pb p = { .n = 0 };

    /* ICMPv4 echo reply: the identifier in both ports. */
    uint32_t ip = ipv4(&p, IPPROTO_ICMP, HOST1, HOST2);
    icmp(&p, 0, 0, 0x1234);
    fix_ipv4(&p, ip);
    CU_ASSERT_TRUE(run(&p, LINK_RAW));
    expect_clean();
    CU_ASSERT_EQUAL(d.flags, DECODED_IP | DECODED_L4);
    CU_ASSERT_EQUAL(d.icmp_type, 0);
    CU_ASSERT_EQUAL(d.src_port, 0x1234);
    CU_ASSERT_EQUAL(d.dst_port, 0x1234);
    CU_ASSERT_EQUAL(ctr.v[DECODER_ICMPV4], 1);

    /* Port unreachable: type and code, ports 0. */
    p.n = 0;
    ip = ipv4(&p, IPPROTO_ICMP, HOST1, HOST2);
    icmp(&p, 3, 3, 0x5555);
    putz(&p, 28);
    fix_ipv4(&p, ip);
    CU_ASSERT_TRUE(run(&p, LINK_RAW));
    expect_clean();
    CU_ASSERT_EQUAL(d.icmp_type, 3);
    CU_ASSERT_EQUAL(d.icmp_code, 3);
    CU_ASSERT_EQUAL(d.src_port, 0);
    CU_ASSERT_EQUAL(d.dst_port, 0);
    CU_ASSERT_EQUAL(d.payload_offset, 28);
    CU_ASSERT_EQUAL(d.payload_len, 28);

    /* ICMPv6 echo request. */
    p.n = 0;
    ip = ipv6(&p, IPPROTO_ICMPV6, 1, 2);
    icmp(&p, 128, 0, 0xbeef);
    fix_ipv6(&p, ip);
    CU_ASSERT_TRUE(run(&p, LINK_RAW));
    expect_clean();
    CU_ASSERT_EQUAL(d.ip_proto, IPPROTO_ICMPV6);
    CU_ASSERT_EQUAL(d.icmp_type, 128);
    CU_ASSERT_EQUAL(d.src_port, 0xbeef);
    CU_ASSERT_EQUAL(d.dst_port, 0xbeef);
    CU_ASSERT_EQUAL(ctr.v[DECODER_ICMPV6], 1);

    /* ICMPv6 neighbour solicitation: not echo, ports 0. */
    p.n = 0;
    ip = ipv6(&p, IPPROTO_ICMPV6, 1, 2);
    icmp(&p, 135, 0, 0xbeef);
    putz(&p, 16);
    fix_ipv6(&p, ip);
    CU_ASSERT_TRUE(run(&p, LINK_RAW));
    expect_clean();
    CU_ASSERT_EQUAL(d.icmp_type, 135);
    CU_ASSERT_EQUAL(d.src_port, 0);
    CU_ASSERT_EQUAL(d.dst_port, 0);

    /* ICMPv6 echo reply over SLL2. */
    p.n = 0;
    CU_ASSERT_TRUE(run(&p, s_sll2_icmp6(&p)));
    CU_ASSERT_EQUAL(d.icmp_type, 129);
    CU_ASSERT_EQUAL(d.src_port, 0x77);
}

static void test_sctp_and_other(void)
{
    struct pb p = { .n = 0 };

    uint32_t ip = ipv6(&p, IPPROTO_SCTP, 1, 2);
    sctp(&p, 36412, 36412);
    fix_ipv6(&p, ip);
    CU_ASSERT_TRUE(run(&p, LINK_RAW));
    expect_clean();
    CU_ASSERT_EQUAL(d.flags, DECODED_IP | DECODED_L4);
    CU_ASSERT_EQUAL(d.src_port, 36412);
    CU_ASSERT_EQUAL(ctr.v[DECODER_SCTP], 1);

    /* OSPF: IP, but no L4 and no ports. */
    p.n = 0;
    eth(&p, 0x0800);
    ip = ipv4(&p, 89, HOST1, HOST2);
    putz(&p, 24);
    fix_ipv4(&p, ip);
    CU_ASSERT_TRUE(run(&p, LINK_ETHERNET));
    expect_clean();
    CU_ASSERT_EQUAL(d.flags, DECODED_IP);
    CU_ASSERT_EQUAL(d.ip_proto, 89);
    CU_ASSERT_EQUAL(d.src_port, 0);
    CU_ASSERT_EQUAL(d.dst_port, 0);
    CU_ASSERT_EQUAL(d.payload_offset, 34);
    CU_ASSERT_EQUAL(d.payload_len, 24);
    CU_ASSERT_EQUAL(ctr.v[DECODER_OTHER_IP_PROTO], 1);
}

/* ---- tunnels ------------------------------------------------------------- */

static void test_gre(void)
{
    struct pb p = { .n = 0 };

    /* GRE with a key, IPv4 inside. */
    CU_ASSERT_TRUE(run(&p, s_gre_ipv4(&p)));
    expect_clean();
    CU_ASSERT_EQUAL(d.flags, DECODED_IP | DECODED_L4 | DECODED_TUNNEL);
    CU_ASSERT(is_v4(d.src_addr, A4(192, 168, 1, 1)));
    CU_ASSERT(is_v4(d.dst_addr, A4(192, 168, 1, 2)));
    CU_ASSERT_EQUAL(d.ip_proto, IPPROTO_UDP);
    CU_ASSERT_EQUAL(d.dst_port, 53);
    CU_ASSERT_EQUAL(d.l3_offset, 14 + 20 + 8);
    CU_ASSERT_EQUAL(d.l4_offset, 14 + 20 + 8 + 20);
    CU_ASSERT_EQUAL(d.payload_len, 5);
    CU_ASSERT_EQUAL(ctr.v[DECODER_GRE], 1);
    CU_ASSERT_EQUAL(ctr.v[DECODER_IPV4], 2);
    CU_ASSERT_EQUAL(ctr.v[DECODER_UDP], 1);

    /* Checksum, key and sequence; transparent Ethernet bridging. */
    p.n = 0;
    CU_ASSERT_TRUE(run(&p, s_gre_teb(&p)));
    expect_clean();
    CU_ASSERT_EQUAL(d.flags, DECODED_IP | DECODED_L4 | DECODED_TUNNEL);
    CU_ASSERT(is_v4(d.src_addr, A4(172, 16, 0, 1)));
    CU_ASSERT_EQUAL(d.dst_port, 22);
    CU_ASSERT_EQUAL(d.l3_offset, 14 + 20 + 16 + 14);
    CU_ASSERT_EQUAL(ctr.v[DECODER_ETHERNET], 2);
    CU_ASSERT_EQUAL(ctr.v[DECODER_TCP], 1);

    /* Over IPv6 and DLT_LOOP, IPv4 and ICMP echo inside. */
    p.n = 0;
    CU_ASSERT_TRUE(run(&p, s_v6_gre_v4(&p)));
    expect_clean();
    CU_ASSERT_EQUAL(d.ip_version, 4);
    CU_ASSERT(is_v4(d.src_addr, A4(192, 168, 9, 1)));
    CU_ASSERT_EQUAL(d.src_port, 99);
    CU_ASSERT_EQUAL(d.ttl, 64);
    CU_ASSERT(d.flags & DECODED_TUNNEL);
    CU_ASSERT_EQUAL(ctr.v[DECODER_IPV6], 1);
    CU_ASSERT_EQUAL(ctr.v[DECODER_IPV4], 1);
}

static void test_vxlan(void)
{
    struct pb p = { .n = 0 };

    CU_ASSERT_TRUE(run(&p, s_vxlan(&p)));
    expect_clean();
    CU_ASSERT_EQUAL(d.flags, DECODED_IP | DECODED_L4 | DECODED_TUNNEL);
    CU_ASSERT(is_v4(d.src_addr, A4(172, 16, 0, 1)));
    CU_ASSERT_EQUAL(d.src_port, 5000);
    CU_ASSERT_EQUAL(d.dst_port, 8080);
    CU_ASSERT_EQUAL(d.vlan[0], 7);  /* the outer frame's VLAN stays */
    CU_ASSERT_EQUAL(d.l3_offset, 18 + 20 + 8 + 8 + 14);
    CU_ASSERT_EQUAL(d.payload_len, 5);
    CU_ASSERT_EQUAL(ctr.v[DECODER_VXLAN], 1);
    CU_ASSERT_EQUAL(ctr.v[DECODER_ETHERNET], 2);
    CU_ASSERT_EQUAL(ctr.v[DECODER_UDP], 1);
    CU_ASSERT_EQUAL(ctr.v[DECODER_TCP], 1);

    /* Without the I flag: plain UDP to port 4789. */
    p.n = 0;
    s_vxlan(&p);
    p.b[18 + 20 + 8] = 0;
    CU_ASSERT_TRUE(run(&p, LINK_ETHERNET));
    expect_clean();
    CU_ASSERT_EQUAL(d.flags, DECODED_IP | DECODED_L4);
    CU_ASSERT_EQUAL(d.ip_proto, IPPROTO_UDP);
    CU_ASSERT_EQUAL(d.dst_port, 4789);
}

/* Ethernet / IPv4 / UDP sport -> dport / GTP-U (flags, type, first
 * extension type) / inner bytes b; lengths fixed. Returns the GTP offset. */
static uint32_t gtpu_pkt(struct pb *p, uint16_t sport, uint16_t dport,
                         uint8_t flags, uint8_t type, uint8_t nxt,
                         const uint8_t *b, uint32_t len)
{
    p->n = 0;
    eth(p, 0x0800);
    uint32_t o = ipv4(p, IPPROTO_UDP, HOST1, HOST2);
    uint32_t u = udp(p, sport, dport);
    uint32_t g = gtpu(p, flags, type, nxt);
    if (len)  /* b may be NULL: no memcpy from NULL */
        put(p, b, len);
    fix_gtpu(p, g);
    fix_udp(p, u);
    fix_ipv4(p, o);
    return g;
}

/* An inner IPv4 / UDP 1000 -> 53 datagram for gtpu_pkt(). */
static uint32_t inner_v4_udp(uint8_t *b)
{
    struct pb q = { .n = 0 };
    uint32_t i = ipv4(&q, IPPROTO_UDP, A4(192, 168, 5, 1), A4(192, 168, 5, 2));
    uint32_t u = udp(&q, 1000, 53);
    payload(&q);
    fix_udp(&q, u);
    fix_ipv4(&q, i);
    memcpy(b, q.b, q.n);
    return q.n;
}

/* The outer UDP datagram to or from port 2152 is the result. */
static void expect_outer_gtpu_udp(uint16_t sport, uint16_t dport)
{
    CU_ASSERT_EQUAL(d.flags & (DECODED_IP | DECODED_L4 | DECODED_TUNNEL),
                    DECODED_IP | DECODED_L4);
    CU_ASSERT(is_v4(d.src_addr, HOST1));
    CU_ASSERT_EQUAL(d.ip_proto, IPPROTO_UDP);
    CU_ASSERT_EQUAL(d.src_port, sport);
    CU_ASSERT_EQUAL(d.dst_port, dport);
    CU_ASSERT_EQUAL(d.l3_offset, 14);
    CU_ASSERT_EQUAL(d.payload_offset, 14 + 20 + 8);
    CU_ASSERT_EQUAL(ctr.v[DECODER_GTPU], 1);
}

static void test_gtpu(void)
{
    struct pb p = { .n = 0 };
    uint8_t in[128];
    uint32_t inlen = inner_v4_udp(in);

    /* Mandatory header only, IPv4 inside, both ports 2152. */
    CU_ASSERT_TRUE(run(&p, s_gtpu(&p)));
    expect_clean();
    CU_ASSERT_EQUAL(d.flags, DECODED_IP | DECODED_L4 | DECODED_TUNNEL);
    CU_ASSERT_EQUAL(d.ip_version, 4);
    CU_ASSERT(is_v4(d.src_addr, A4(172, 16, 0, 1)));
    CU_ASSERT(is_v4(d.dst_addr, A4(172, 16, 0, 2)));
    CU_ASSERT_EQUAL(d.ip_proto, IPPROTO_TCP);
    CU_ASSERT_EQUAL(d.src_port, 40000);
    CU_ASSERT_EQUAL(d.dst_port, 443);
    CU_ASSERT_EQUAL(d.tcp_flags, 0x18);
    CU_ASSERT_EQUAL(d.l3_offset, 14 + 20 + 8 + 8);
    CU_ASSERT_EQUAL(d.l4_offset, 14 + 20 + 8 + 8 + 20);
    CU_ASSERT_EQUAL(d.payload_len, 5);
    CU_ASSERT_EQUAL(ctr.v[DECODER_GTPU], 1);
    CU_ASSERT_EQUAL(ctr.v[DECODER_IPV4], 2);
    CU_ASSERT_EQUAL(ctr.v[DECODER_UDP], 1);
    CU_ASSERT_EQUAL(ctr.v[DECODER_TCP], 1);

    /* Port 2152 on one side only, either side. */
    gtpu_pkt(&p, 2152, 33000, GTPU_V1, 0xff, 0, in, inlen);
    CU_ASSERT_TRUE(run(&p, LINK_ETHERNET));
    expect_clean();
    CU_ASSERT_EQUAL(d.flags, DECODED_IP | DECODED_L4 | DECODED_TUNNEL);
    CU_ASSERT(is_v4(d.src_addr, A4(192, 168, 5, 1)));
    CU_ASSERT_EQUAL(d.dst_port, 53);
    gtpu_pkt(&p, 33000, 2152, GTPU_V1, 0xff, 0, in, inlen);
    CU_ASSERT_TRUE(run(&p, LINK_ETHERNET));
    expect_clean();
    CU_ASSERT_EQUAL(d.flags, DECODED_IP | DECODED_L4 | DECODED_TUNNEL);
    CU_ASSERT_EQUAL(d.src_port, 1000);

    /* S alone (flags 0x32, as LTE sends), PN alone, and E with an empty
     * chain: the optional word, then the inner packet. */
    static const uint8_t opt_flags[] = { GTPU_S, GTPU_PN, GTPU_E };
    for (unsigned k = 0; k < sizeof(opt_flags); k++) {
        gtpu_pkt(&p, 2152, 2152, GTPU_V1 | opt_flags[k], 0xff, 0, in, inlen);
        CU_ASSERT_TRUE(run(&p, LINK_ETHERNET));
        expect_clean();
        CU_ASSERT_EQUAL(d.flags, DECODED_IP | DECODED_L4 | DECODED_TUNNEL);
        CU_ASSERT(is_v4(d.src_addr, A4(192, 168, 5, 1)));
        CU_ASSERT_EQUAL(d.l3_offset, 14 + 20 + 8 + 12);
        CU_ASSERT_EQUAL(d.payload_len, 5);
    }

    /* Without E the next-type byte means nothing, even when not 0. */
    gtpu_pkt(&p, 2152, 2152, GTPU_V1 | GTPU_S, 0xff, 0x85, in, inlen);
    CU_ASSERT_TRUE(run(&p, LINK_ETHERNET));
    expect_clean();
    CU_ASSERT_EQUAL(d.flags, DECODED_IP | DECODED_L4 | DECODED_TUNNEL);
    CU_ASSERT_EQUAL(d.l3_offset, 14 + 20 + 8 + 12);

    /* Sequence number and two extension headers, IPv6 in IPv6. */
    p.n = 0;
    CU_ASSERT_TRUE(run(&p, s_gtpu_ext_v6(&p)));
    expect_clean();
    CU_ASSERT_EQUAL(d.flags, DECODED_IP | DECODED_L4 | DECODED_TUNNEL);
    CU_ASSERT_EQUAL(d.ip_version, 6);
    CU_ASSERT(is_v6(d.src_addr, 7));
    CU_ASSERT(is_v6(d.dst_addr, 8));
    CU_ASSERT_EQUAL(d.ip_proto, IPPROTO_UDP);
    CU_ASSERT_EQUAL(d.src_port, 5060);
    CU_ASSERT_EQUAL(d.dst_port, 53);
    CU_ASSERT_EQUAL(d.ttl, 63);
    CU_ASSERT_EQUAL(d.l3_offset, 40 + 8 + 12 + 4 + 8);
    CU_ASSERT_EQUAL(d.payload_len, 5);
    CU_ASSERT_EQUAL(ctr.v[DECODER_GTPU], 1);
    CU_ASSERT_EQUAL(ctr.v[DECODER_IPV6], 2);
    CU_ASSERT_EQUAL(ctr.v[DECODER_UDP], 2);

    /* IPv6 inside IPv4 (as in nDPI's ipv6_in_gtp.pcap), with the longest
     * chain allowed: eight extension headers. */
    {
        struct pb q = { .n = 0 };
        uint32_t i = ipv6(&q, IPPROTO_TCP, 3, 4);
        tcp(&q, 50000, 80, 0x02);
        fix_ipv6(&q, i);
        uint8_t b[256];
        uint32_t n = 0;
        for (unsigned k = 0; k < 8; k++) {
            b[n++] = 1;
            b[n++] = 0;
            b[n++] = 0;
            b[n++] = k < 7 ? 0x85 : 0;
        }
        memcpy(b + n, q.b, q.n);
        gtpu_pkt(&p, 2152, 2152, GTPU_V1 | GTPU_E, 0xff, 0x85, b, n + q.n);
        CU_ASSERT_TRUE(run(&p, LINK_ETHERNET));
        expect_clean();
        CU_ASSERT_EQUAL(d.flags, DECODED_IP | DECODED_L4 | DECODED_TUNNEL);
        CU_ASSERT(is_v6(d.src_addr, 3));
        CU_ASSERT_EQUAL(d.dst_port, 80);
        CU_ASSERT_EQUAL(d.l3_offset, 14 + 20 + 8 + 12 + 32);
        CU_ASSERT_EQUAL(ctr.v[DECODER_IPV4], 1);
        CU_ASSERT_EQUAL(ctr.v[DECODER_IPV6], 1);
    }

    /* Bytes after the GTP length inside the UDP datagram are not part of
     * the inner packet. */
    gtpu_pkt(&p, 2152, 2152, GTPU_V1, 0xff, 0, in, inlen);
    put32(&p, 0xdddddddd);
    fix_udp(&p, 14 + 20);
    fix_ipv4(&p, 14);
    CU_ASSERT_TRUE(run(&p, LINK_ETHERNET));
    expect_clean();
    CU_ASSERT_EQUAL(d.flags, DECODED_IP | DECODED_L4 | DECODED_TUNNEL);
    CU_ASSERT_EQUAL(d.payload_len, 5);

    /* Messages other than G-PDU stay plain UDP: echo request (with its
     * sequence number), error indication, end marker. */
    static const uint8_t msgs[] = { 1, 26, 254 };
    for (unsigned k = 0; k < sizeof(msgs); k++) {
        gtpu_pkt(&p, 2152, 2152, GTPU_V1 | GTPU_S, msgs[k], 0, NULL, 0);
        CU_ASSERT_TRUE(run(&p, LINK_ETHERNET));
        expect_clean();
        expect_outer_gtpu_udp(2152, 2152);
        CU_ASSERT_EQUAL(d.flags, DECODED_IP | DECODED_L4);
        CU_ASSERT_EQUAL(d.payload_len, 12);
    }
    /* ...even one that carries what looks like an IP packet. */
    gtpu_pkt(&p, 2152, 2152, GTPU_V1, 1, 0, in, inlen);
    CU_ASSERT_TRUE(run(&p, LINK_ETHERNET));
    expect_clean();
    expect_outer_gtpu_udp(2152, 2152);
    CU_ASSERT_EQUAL(ctr.v[DECODER_IPV4], 1);

    /* Not GTPv1-U: version 2, and protocol type 0 (GTP'). */
    gtpu_pkt(&p, 2152, 2152, 0x40, 0xff, 0, in, inlen);
    CU_ASSERT_TRUE(run(&p, LINK_ETHERNET));
    expect_clean();
    expect_outer_gtpu_udp(2152, 2152);
    gtpu_pkt(&p, 40000, 2152, 0x20, 0xff, 0, in, inlen);
    CU_ASSERT_TRUE(run(&p, LINK_ETHERNET));
    expect_clean();
    expect_outer_gtpu_udp(40000, 2152);
    CU_ASSERT_EQUAL(ctr.v[DECODER_IPV4], 1);

    /* A non-IP T-PDU (a 5G Ethernet PDU session): non-IP, outer UDP. */
    {
        uint8_t b[64] = { 0 };
        gtpu_pkt(&p, 2152, 2152, GTPU_V1, 0xff, 0, b, sizeof(b));
        CU_ASSERT_TRUE(run(&p, LINK_ETHERNET));
        expect_clean();
        expect_outer_gtpu_udp(2152, 2152);
        CU_ASSERT_EQUAL(ctr.v[DECODER_NON_IP], 1);
    }

    /* An IP fragment holds only part of the inner packet: not followed. */
    gtpu_pkt(&p, 2152, 2152, GTPU_V1, 0xff, 0, in, inlen);
    set16(&p, 14 + 6, 0x2000);  /* MF, offset 0 */
    CU_ASSERT_TRUE(run(&p, LINK_ETHERNET));
    expect_clean();
    CU_ASSERT_EQUAL(d.flags, DECODED_IP | DECODED_L4 | DECODED_FRAGMENT);
    CU_ASSERT_EQUAL(d.dst_port, 2152);
    CU_ASSERT_EQUAL(ctr.v[DECODER_GTPU], 0);

    /* Cut by the snap length inside the extension chain: not malformed,
     * the outer UDP datagram. */
    p.n = 0;
    s_gtpu_ext_v6(&p);
    CU_ASSERT_TRUE(run_snap(&p, LINK_RAW, 40 + 8 + 12 + 4 + 3));
    expect_clean();
    CU_ASSERT_EQUAL(d.flags, DECODED_IP | DECODED_L4 | DECODED_SNAPPED);
    CU_ASSERT(is_v6(d.src_addr, 1));
    CU_ASSERT_EQUAL(d.dst_port, 2152);
    CU_ASSERT_EQUAL(ctr.v[DECODER_GTPU], 1);
}

/* Ethernet / IPv4 / UDP sport -> dport / Geneve (proto, opt_words words of
 * options) / IPv4 192.168.5.1 -> .2 / UDP 1000 -> 53; lengths fixed.
 * Returns the Geneve offset. */
static uint32_t geneve_pkt(struct pb *p, uint16_t sport, uint16_t dport, uint16_t proto,
                           uint8_t opt_words)
{
    uint8_t b[64];
    uint32_t len = inner_v4_udp(b);

    p->n = 0;
    eth(p, 0x0800);
    uint32_t o = ipv4(p, IPPROTO_UDP, HOST1, HOST2);
    uint32_t u = udp(p, sport, dport);
    uint32_t g = geneve(p, proto, opt_words);
    put(p, b, len);
    fix_udp(p, u);
    fix_ipv4(p, o);
    return g;
}

/* The outer UDP datagram to port 6081 is the result. */
static void expect_outer_geneve_udp(uint16_t sport)
{
    CU_ASSERT_EQUAL(d.flags & (DECODED_IP | DECODED_L4 | DECODED_TUNNEL),
                    DECODED_IP | DECODED_L4);
    CU_ASSERT(is_v4(d.src_addr, HOST1));
    CU_ASSERT_EQUAL(d.ip_proto, IPPROTO_UDP);
    CU_ASSERT_EQUAL(d.src_port, sport);
    CU_ASSERT_EQUAL(d.dst_port, 6081);
    CU_ASSERT_EQUAL(d.l3_offset, 14);
    CU_ASSERT_EQUAL(d.payload_offset, 14 + 20 + 8);
    CU_ASSERT_EQUAL(d.mid_l3_offset, 0);
    CU_ASSERT_EQUAL(ctr.v[DECODER_GENEVE], 1);
}

static void test_geneve(void)
{
    struct pb p = { .n = 0 };

    /* IPv4 after 12 bytes of options. */
    uint32_t g = geneve_pkt(&p, 50000, 6081, 0x0800, 3);
    CU_ASSERT_TRUE(run(&p, LINK_ETHERNET));
    expect_clean();
    CU_ASSERT_EQUAL(d.flags, DECODED_IP | DECODED_L4 | DECODED_TUNNEL);
    CU_ASSERT(is_v4(d.src_addr, A4(192, 168, 5, 1)));
    CU_ASSERT(is_v4(d.dst_addr, A4(192, 168, 5, 2)));
    CU_ASSERT_EQUAL(d.ip_proto, IPPROTO_UDP);
    CU_ASSERT_EQUAL(d.dst_port, 53);
    CU_ASSERT_EQUAL(d.l3_offset, g + 8 + 12);
    CU_ASSERT_EQUAL(d.payload_len, 5);
    CU_ASSERT_EQUAL(d.mid_l3_offset, 0);  /* one tunnel: no intermediate layer */
    CU_ASSERT_EQUAL(ctr.v[DECODER_GENEVE], 1);
    CU_ASSERT_EQUAL(ctr.v[DECODER_IPV4], 2);
    CU_ASSERT_EQUAL(ctr.v[DECODER_UDP], 2);

    /* The O (control) and C (critical options) flags change nothing. */
    p.b[g + 1] = 0xc0;
    CU_ASSERT_TRUE(run(&p, LINK_ETHERNET));
    expect_clean();
    CU_ASSERT_EQUAL(d.flags, DECODED_IP | DECODED_L4 | DECODED_TUNNEL);
    CU_ASSERT_EQUAL(d.dst_port, 53);

    /* IPv6 after 8 bytes of options, over IPv6. */
    p.n = 0;
    CU_ASSERT_TRUE(run(&p, s_geneve_v6(&p)));
    expect_clean();
    CU_ASSERT_EQUAL(d.flags, DECODED_IP | DECODED_L4 | DECODED_TUNNEL);
    CU_ASSERT_EQUAL(d.ip_version, 6);
    CU_ASSERT(is_v6(d.src_addr, 7));
    CU_ASSERT(is_v6(d.dst_addr, 8));
    CU_ASSERT_EQUAL(d.dst_port, 53);
    CU_ASSERT_EQUAL(d.l3_offset, 40 + 8 + 8 + 8);
    CU_ASSERT_EQUAL(d.payload_len, 5);
    CU_ASSERT_EQUAL(d.mid_l3_offset, 0);
    CU_ASSERT_EQUAL(ctr.v[DECODER_GENEVE], 1);
    CU_ASSERT_EQUAL(ctr.v[DECODER_IPV6], 2);

    /* Ethernet (transparent bridging), no options. */
    p.n = 0;
    CU_ASSERT_TRUE(run(&p, s_geneve_eth(&p)));
    expect_clean();
    CU_ASSERT_EQUAL(d.flags, DECODED_IP | DECODED_L4 | DECODED_TUNNEL);
    CU_ASSERT(is_v4(d.src_addr, A4(172, 16, 0, 1)));
    CU_ASSERT_EQUAL(d.dst_port, 8080);
    CU_ASSERT_EQUAL(d.l3_offset, 14 + 20 + 8 + 8 + 14);
    CU_ASSERT_EQUAL(d.mid_l3_offset, 0);
    CU_ASSERT_EQUAL(ctr.v[DECODER_GENEVE], 1);
    CU_ASSERT_EQUAL(ctr.v[DECODER_ETHERNET], 2);
    CU_ASSERT_EQUAL(ctr.v[DECODER_TCP], 1);

    /* A version other than 0: plain UDP to port 6081. */
    g = geneve_pkt(&p, 50000, 6081, 0x0800, 0);
    p.b[g] |= 0x40;
    CU_ASSERT_TRUE(run(&p, LINK_ETHERNET));
    expect_clean();
    expect_outer_geneve_udp(50000);
    CU_ASSERT_EQUAL(ctr.v[DECODER_IPV4], 1);

    /* A protocol type we do not decode (ARP): plain UDP. */
    geneve_pkt(&p, 50000, 6081, 0x0806, 1);
    CU_ASSERT_TRUE(run(&p, LINK_ETHERNET));
    expect_clean();
    expect_outer_geneve_udp(50000);

    /* 6081 as the source port only is not Geneve: RFC 8926 fixes the
     * destination port, the source port is the sender's flow entropy. */
    geneve_pkt(&p, 6081, 50000, 0x0800, 0);
    CU_ASSERT_TRUE(run(&p, LINK_ETHERNET));
    expect_clean();
    CU_ASSERT_EQUAL(d.flags, DECODED_IP | DECODED_L4);
    CU_ASSERT_EQUAL(d.dst_port, 50000);
    CU_ASSERT_EQUAL(ctr.v[DECODER_GENEVE], 0);

    /* Options cut by the snap length: snapped, not malformed. */
    g = geneve_pkt(&p, 50000, 6081, 0x0800, 4);
    CU_ASSERT_TRUE(run_snap(&p, LINK_ETHERNET, g + 12));
    expect_clean();
    expect_outer_geneve_udp(50000);
    CU_ASSERT(d.flags & DECODED_SNAPPED);
}

static void test_ip_in_ip(void)
{
    struct pb p = { .n = 0 };

    CU_ASSERT_TRUE(run(&p, s_ipip(&p)));
    expect_clean();
    CU_ASSERT_EQUAL(d.flags, DECODED_IP | DECODED_L4 | DECODED_TUNNEL);
    CU_ASSERT(is_v4(d.src_addr, A4(192, 168, 1, 1)));
    CU_ASSERT_EQUAL(d.l3_offset, 20);
    CU_ASSERT_EQUAL(d.tcp_flags, 0x11);
    CU_ASSERT_EQUAL(ctr.v[DECODER_IPV4_IN_IP], 1);
    CU_ASSERT_EQUAL(ctr.v[DECODER_IPV4], 2);

    p.n = 0;
    CU_ASSERT_TRUE(run(&p, s_6in4(&p)));
    expect_clean();
    CU_ASSERT_EQUAL(d.ip_version, 6);
    CU_ASSERT(is_v6(d.src_addr, 5));
    CU_ASSERT(is_v6(d.dst_addr, 6));
    CU_ASSERT_EQUAL(d.dst_port, 546);
    CU_ASSERT_EQUAL(d.l3_offset, 34);
    CU_ASSERT(d.flags & DECODED_TUNNEL);
    CU_ASSERT_EQUAL(ctr.v[DECODER_IPV6_IN_IP], 1);

    /* IPv4 in IPv6 (DS-Lite): the v4 addresses leave no v6 bytes behind. */
    p.n = 0;
    uint32_t o = ipv6(&p, IPPROTO_IPIP, 0xff, 0xff);
    uint32_t i = ipv4(&p, IPPROTO_UDP, HOST1, HOST2);
    uint32_t u = udp(&p, 1, 2);
    fix_udp(&p, u);
    fix_ipv4(&p, i);
    fix_ipv6(&p, o);
    CU_ASSERT_TRUE(run(&p, LINK_RAW));
    expect_clean();
    CU_ASSERT(is_v4(d.src_addr, HOST1));
    CU_ASSERT(is_v4(d.dst_addr, HOST2));
    CU_ASSERT_EQUAL(d.ip_version, 4);
    CU_ASSERT_EQUAL(ctr.v[DECODER_IPV4_IN_IP], 1);
}

static void test_tunnel_depth(void)
{
    struct pb p = { .n = 0 };

    /* Three tunnels below the outer packet: all followed. */
    CU_ASSERT_TRUE(run(&p, nested_ipip(&p, 3)));
    expect_clean();
    CU_ASSERT(is_v4(d.src_addr, A4(10, 3, 0, 1)));
    CU_ASSERT_EQUAL(d.ip_proto, IPPROTO_UDP);
    CU_ASSERT_EQUAL(d.l3_offset, 60);
    CU_ASSERT_EQUAL(ctr.v[DECODER_IPV4], 4);

    /* A fourth: the limit, keeping the third tunnel's packet. */
    p.n = 0;
    CU_ASSERT_TRUE(run(&p, nested_ipip(&p, 4)));
    expect_fault(DECODER_TUNNEL_DEPTH_LIMIT);
    CU_ASSERT(is_v4(d.src_addr, A4(10, 3, 0, 1)));
    CU_ASSERT_EQUAL(d.ip_proto, IPPROTO_IPIP);
    CU_ASSERT_EQUAL(d.l3_offset, 60);
    CU_ASSERT_EQUAL(d.flags, DECODED_IP | DECODED_TUNNEL | DECODED_INVALID);
    CU_ASSERT_EQUAL(ctr.v[DECODER_UDP], 0);

    /* GTP-U as the fourth tunnel: the third tunnel's UDP datagram stays. */
    p.n = 0;
    uint32_t offs[4];
    for (unsigned k = 0; k <= 3; k++)
        offs[k] = ipv4(&p, k == 3 ? IPPROTO_UDP : IPPROTO_IPIP,
                       A4(10, k, 0, 1), A4(10, k, 0, 2));
    uint32_t u = udp(&p, 2152, 2152);
    uint32_t g = gtpu(&p, GTPU_V1, 0xff, 0);
    uint32_t i = ipv4(&p, IPPROTO_TCP, A4(192, 168, 1, 1), A4(192, 168, 1, 2));
    tcp(&p, 1, 2, 0x02);
    fix_ipv4(&p, i);
    fix_gtpu(&p, g);
    fix_udp(&p, u);
    for (unsigned k = 0; k <= 3; k++)
        fix_ipv4(&p, offs[k]);
    CU_ASSERT_TRUE(run(&p, LINK_RAW));
    expect_fault(DECODER_TUNNEL_DEPTH_LIMIT);
    CU_ASSERT(is_v4(d.src_addr, A4(10, 3, 0, 1)));
    CU_ASSERT_EQUAL(d.flags, DECODED_IP | DECODED_L4 | DECODED_TUNNEL |
                             DECODED_INVALID);
    CU_ASSERT_EQUAL(d.ip_proto, IPPROTO_UDP);
    CU_ASSERT_EQUAL(d.dst_port, 2152);
    CU_ASSERT_EQUAL(ctr.v[DECODER_GTPU], 1);
    CU_ASSERT_EQUAL(ctr.v[DECODER_TCP], 0);
}

/* A tunnel inside a tunnel: the layer between them is recorded, and
 * decode_ip_layer() gives it as a packet of its own. */
static void test_tunnel_in_tunnel(void)
{
    struct pb p = { .n = 0 };

    /* Geneve / IPv4 / GRE / IPv4 / TCP: the IPv4 packet carrying GRE. */
    CU_ASSERT_TRUE(run(&p, s_geneve_gre(&p)));
    expect_clean();
    CU_ASSERT_EQUAL(d.flags, DECODED_IP | DECODED_L4 | DECODED_TUNNEL);
    CU_ASSERT(is_v4(d.src_addr, A4(10, 2, 0, 1)));
    CU_ASSERT_EQUAL(d.ip_proto, IPPROTO_TCP);
    CU_ASSERT_EQUAL(d.dst_port, 1234);
    CU_ASSERT_EQUAL(d.l3_offset, 74 + 20 + 4);
    CU_ASSERT_EQUAL(d.mid_l3_offset, 74);
    CU_ASSERT_EQUAL(ctr.v[DECODER_GENEVE], 1);
    CU_ASSERT_EQUAL(ctr.v[DECODER_GRE], 1);
    CU_ASSERT_EQUAL(ctr.v[DECODER_IPV4], 3);
    /* The layer alone: IPv4 carrying GRE, no ports; its payload is its IP
     * payload, GRE header on, as for a GRE packet whose tunnel is not
     * followed. */
    CU_ASSERT_EQUAL(mid.flags, DECODED_IP);
    CU_ASSERT_EQUAL(mid.ip_version, 4);
    CU_ASSERT(is_v4(mid.src_addr, A4(10, 0, 1, 72)));
    CU_ASSERT(is_v4(mid.dst_addr, A4(10, 0, 2, 31)));
    CU_ASSERT_EQUAL(mid.ip_proto, IPPROTO_GRE);
    CU_ASSERT_EQUAL(mid.ttl, 64);
    CU_ASSERT_EQUAL(mid.src_port, 0);
    CU_ASSERT_EQUAL(mid.dst_port, 0);
    CU_ASSERT_EQUAL(mid.l3_offset, 74);
    CU_ASSERT_EQUAL(mid.payload_offset, 94);
    CU_ASSERT_EQUAL(mid.payload_len, p.n - 94);
    CU_ASSERT_EQUAL(mid.mid_l3_offset, 0);
    CU_ASSERT_EQUAL(ctr.v[DECODER_GRE], 1);  /* nothing counted twice */

    /* The same from decode_burst(), whose output starts as garbage; and
     * the fast path writes 0 for a packet without tunnels. */
    {
        struct pb q = { .n = 0 };
        s_eth_tcp(&q);
        struct packet pkts[2] = {
            { .data = p.b, .caplen = p.n, .wirelen = p.n, .link_type = LINK_ETHERNET },
            { .data = q.b, .caplen = q.n, .wirelen = q.n, .link_type = LINK_ETHERNET },
        };
        struct decoded_packet out[2];
        memset(out, 0xa5, sizeof(out));
        memset(&ctr, 0, sizeof(ctr));
        decode_burst(pkts, out, 2, &ctr);
        CU_ASSERT_EQUAL(out[0].mid_l3_offset, 74);
        CU_ASSERT_EQUAL(out[1].flags, DECODED_IP | DECODED_L4);
        CU_ASSERT_EQUAL(out[1].mid_l3_offset, 0);
    }

    /* VXLAN in GRE: the layer is UDP, its payload the VXLAN header on. */
    p.n = 0;
    eth(&p, 0x0800);
    uint32_t o = ipv4(&p, IPPROTO_GRE, HOST1, HOST2);
    gre(&p, 0, 0x0800);
    uint32_t m = ipv4(&p, IPPROTO_UDP, A4(192, 168, 0, 1), A4(192, 168, 0, 2));
    uint32_t u = udp(&p, 51000, 4789);
    vxlan(&p, 0x08, 42);
    eth(&p, 0x0800);
    uint32_t i = ipv4(&p, IPPROTO_TCP, A4(172, 16, 0, 1), A4(172, 16, 0, 2));
    tcp(&p, 5000, 8080, 0x02);
    fix_ipv4(&p, i);
    fix_udp(&p, u);
    fix_ipv4(&p, m);
    fix_ipv4(&p, o);
    CU_ASSERT_TRUE(run(&p, LINK_ETHERNET));
    expect_clean();
    CU_ASSERT_EQUAL(d.dst_port, 8080);
    CU_ASSERT_EQUAL(d.mid_l3_offset, m);
    CU_ASSERT_EQUAL(mid.flags, DECODED_IP | DECODED_L4);
    CU_ASSERT(is_v4(mid.src_addr, A4(192, 168, 0, 1)));
    CU_ASSERT_EQUAL(mid.ip_proto, IPPROTO_UDP);
    CU_ASSERT_EQUAL(mid.src_port, 51000);
    CU_ASSERT_EQUAL(mid.dst_port, 4789);
    CU_ASSERT_EQUAL(mid.l4_offset, u);
    CU_ASSERT_EQUAL(mid.payload_offset, u + 8);
    CU_ASSERT_EQUAL(mid.payload_len, p.n - u - 8);
    CU_ASSERT_EQUAL(ctr.v[DECODER_VXLAN], 1);

    /* IPv4 / IPv6 / IPv4 / UDP: an IPv6 layer between. */
    p.n = 0;
    o = ipv4(&p, IPPROTO_IPV6, HOST1, HOST2);
    m = ipv6(&p, IPPROTO_IPIP, 3, 4);
    i = ipv4(&p, IPPROTO_UDP, A4(192, 168, 1, 1), A4(192, 168, 1, 2));
    u = udp(&p, 7, 9);
    fix_udp(&p, u);
    fix_ipv4(&p, i);
    fix_ipv6(&p, m);
    fix_ipv4(&p, o);
    CU_ASSERT_TRUE(run(&p, LINK_RAW));
    expect_clean();
    CU_ASSERT_EQUAL(d.mid_l3_offset, 20);
    CU_ASSERT_EQUAL(mid.flags, DECODED_IP);
    CU_ASSERT_EQUAL(mid.ip_version, 6);
    CU_ASSERT(is_v6(mid.src_addr, 3));
    CU_ASSERT_EQUAL(mid.ip_proto, IPPROTO_IPIP);
    CU_ASSERT_EQUAL(mid.ttl, 63);
    CU_ASSERT_EQUAL(mid.payload_offset, 60);

    /* Three tunnels deep: two layers between, the outer one is kept. */
    p.n = 0;
    CU_ASSERT_TRUE(run(&p, nested_ipip(&p, 3)));
    expect_clean();
    CU_ASSERT_EQUAL(d.l3_offset, 60);
    CU_ASSERT_EQUAL(d.mid_l3_offset, 20);
    CU_ASSERT(is_v4(mid.src_addr, A4(10, 1, 0, 1)));
    CU_ASSERT_EQUAL(mid.ip_proto, IPPROTO_IPIP);

    /* At the depth limit the last layer decoded is the result. */
    p.n = 0;
    CU_ASSERT_TRUE(run(&p, nested_ipip(&p, 4)));
    expect_fault(DECODER_TUNNEL_DEPTH_LIMIT);
    CU_ASSERT_EQUAL(d.l3_offset, 60);
    CU_ASSERT_EQUAL(d.mid_l3_offset, 20);

    /* A malformed innermost packet: the result falls back to the layer
     * carrying it, which is then no intermediate layer. */
    p.n = 0;
    s_geneve_gre(&p);
    p.b[74 + 20 + 4] = 0x55;
    CU_ASSERT_TRUE(run(&p, LINK_ETHERNET));
    expect_fault(DECODER_IPV4_BAD_VERSION);
    CU_ASSERT_EQUAL(d.flags, DECODED_IP | DECODED_TUNNEL | DECODED_INVALID);
    CU_ASSERT(is_v4(d.src_addr, A4(10, 0, 1, 72)));
    CU_ASSERT_EQUAL(d.ip_proto, IPPROTO_GRE);
    CU_ASSERT_EQUAL(d.mid_l3_offset, 0);

    /* One tunnel, or none: no intermediate layer. */
    static uint16_t (*const single[])(struct pb *) = {
        s_eth_tcp, s_gre_ipv4, s_gre_teb, s_vxlan, s_ipip, s_6in4, s_v6_gre_v4,
        s_gtpu, s_gtpu_ext_v6, s_geneve_eth, s_geneve_v6,
    };
    for (unsigned k = 0; k < sizeof(single) / sizeof(single[0]); k++) {
        p.n = 0;
        CU_ASSERT_TRUE(run(&p, single[k](&p)));
        CU_ASSERT_EQUAL(d.mid_l3_offset, 0);
    }

    /* decode_ip_layer() where no IP header is: nothing decoded. */
    p.n = 0;
    s_geneve_gre(&p);
    CU_ASSERT_FALSE(layer_at(&p, p.n, 0));      /* the Ethernet header */
    CU_ASSERT_EQUAL(mid.flags, 0);
    CU_ASSERT_FALSE(layer_at(&p, 80, 74));      /* the layer cut by the capture */
    CU_ASSERT_EQUAL(mid.flags, DECODED_SNAPPED);
    CU_ASSERT_FALSE(layer_at(&p, p.n, (uint16_t)p.n));
    CU_ASSERT_TRUE(layer_at(&p, p.n, 74));
    CU_ASSERT_EQUAL(mid.ip_proto, IPPROTO_GRE);
}

/* A malformed inner packet: counted, and the result is the outer packet. */
static void test_inner_fallback(void)
{
    struct pb p = { .n = 0 };

    s_gre_ipv4(&p);
    p.b[14 + 20 + 8] = 0x55;  /* inner version 5 */
    CU_ASSERT_TRUE(run(&p, LINK_ETHERNET));
    expect_fault(DECODER_IPV4_BAD_VERSION);
    CU_ASSERT_EQUAL(d.flags, DECODED_IP | DECODED_INVALID);
    CU_ASSERT(is_v4(d.src_addr, HOST1));
    CU_ASSERT_EQUAL(d.ip_proto, IPPROTO_GRE);
    CU_ASSERT_EQUAL(d.l3_offset, 14);
    CU_ASSERT_EQUAL(d.payload_offset, 34);
    CU_ASSERT_EQUAL(d.ttl, 64);

    /* Inner TCP header cut inside a VXLAN packet: back to the outer UDP. */
    p.n = 0;
    eth(&p, 0x0800);
    uint32_t o = ipv4(&p, IPPROTO_UDP, HOST1, HOST2);
    uint32_t u = udp(&p, 51000, 4789);
    vxlan(&p, 0x08, 1);
    eth(&p, 0x0800);
    uint32_t i = ipv4(&p, IPPROTO_TCP, A4(172, 16, 0, 1), A4(172, 16, 0, 2));
    putz(&p, 10);
    fix_ipv4(&p, i);
    fix_udp(&p, u);
    fix_ipv4(&p, o);
    CU_ASSERT_TRUE(run(&p, LINK_ETHERNET));
    expect_fault(DECODER_TCP_TRUNCATED);
    CU_ASSERT_EQUAL(d.flags, DECODED_IP | DECODED_L4 | DECODED_INVALID);
    CU_ASSERT(is_v4(d.src_addr, HOST1));
    CU_ASSERT_EQUAL(d.ip_proto, IPPROTO_UDP);
    CU_ASSERT_EQUAL(d.src_port, 51000);
    CU_ASSERT_EQUAL(d.dst_port, 4789);
    CU_ASSERT_EQUAL(ctr.v[DECODER_IPV4], 2);

    /* ARP over GRE bridging: not malformed, but no inner IP either. */
    p.n = 0;
    eth(&p, 0x0800);
    o = ipv4(&p, IPPROTO_GRE, HOST1, HOST2);
    gre(&p, 0, 0x6558);
    eth(&p, 0x0806);
    putz(&p, 28);
    fix_ipv4(&p, o);
    CU_ASSERT_TRUE(run(&p, LINK_ETHERNET));
    expect_clean();
    CU_ASSERT_EQUAL(d.flags, DECODED_IP);
    CU_ASSERT_EQUAL(d.ip_proto, IPPROTO_GRE);
    CU_ASSERT_EQUAL(ctr.v[DECODER_NON_IP], 1);

    /* A bad inner IPv4 header in GTP-U: back to the outer UDP. */
    p.n = 0;
    s_gtpu(&p);
    p.b[14 + 20 + 8 + 8] = 0x44;  /* IHL 4 */
    CU_ASSERT_TRUE(run(&p, LINK_ETHERNET));
    expect_fault(DECODER_IPV4_BAD_IHL);
    expect_outer_gtpu_udp(2152, 2152);
    CU_ASSERT_EQUAL(d.flags, DECODED_IP | DECODED_L4 | DECODED_INVALID);

    /* Inner IPv4 total length past the GTP length, though inside the UDP
     * datagram. */
    p.n = 0;
    s_gtpu(&p);
    set16(&p, 14 + 20 + 8 + 2, (uint16_t)(p.n - 14 - 20 - 8 - 8 - 4));
    CU_ASSERT_TRUE(run(&p, LINK_ETHERNET));
    expect_fault(DECODER_IPV4_BAD_TOTAL_LEN);
    expect_outer_gtpu_udp(2152, 2152);
    CU_ASSERT_EQUAL(d.flags, DECODED_IP | DECODED_L4 | DECODED_INVALID);

    /* Inner IPv6 payload length past the GTP length. */
    p.n = 0;
    s_gtpu_ext_v6(&p);
    set16(&p, 40 + 8 + 12 + 12 + 4, 200);
    CU_ASSERT_TRUE(run(&p, LINK_RAW));
    expect_fault(DECODER_IPV6_TRUNCATED);
    CU_ASSERT_EQUAL(d.flags, DECODED_IP | DECODED_L4 | DECODED_INVALID);
    CU_ASSERT(is_v6(d.src_addr, 1));
    CU_ASSERT_EQUAL(d.ip_proto, IPPROTO_UDP);
    CU_ASSERT_EQUAL(d.dst_port, 2152);

    /* Inner IPv4 total length past the outer datagram. */
    p.n = 0;
    s_ipip(&p);
    set16(&p, 20 + 2, 1000);
    CU_ASSERT_TRUE(run(&p, LINK_RAW));
    expect_fault(DECODER_IPV4_BAD_TOTAL_LEN);
    CU_ASSERT(is_v4(d.src_addr, HOST1));
    CU_ASSERT_EQUAL(d.ip_proto, IPPROTO_IPIP);
}

/* ---- snap length --------------------------------------------------------- */

static void test_snapped(void)
{
    struct pb p = { .n = 0 };

    eth(&p, 0x0800);
    uint32_t ip = ipv4(&p, IPPROTO_TCP, HOST1, HOST2);
    tcp(&p, 1, 2, 0x10);
    putz(&p, 1000);
    fix_ipv4(&p, ip);

    /* Payload cut: everything decoded, the payload is what is present. */
    CU_ASSERT_TRUE(run_snap(&p, LINK_ETHERNET, 100));
    expect_clean();
    CU_ASSERT_EQUAL(d.flags, DECODED_IP | DECODED_L4 | DECODED_SNAPPED);
    CU_ASSERT_EQUAL(ctr.v[DECODER_SNAPPED], 1);
    CU_ASSERT_EQUAL(ctr.v[DECODER_BYTES], p.n);
    CU_ASSERT_EQUAL(d.payload_offset, 54);
    CU_ASSERT_EQUAL(d.payload_len, 46);

    /* TCP header cut: IP without L4, still not malformed. */
    CU_ASSERT_TRUE(run_snap(&p, LINK_ETHERNET, 40));
    expect_clean();
    CU_ASSERT_EQUAL(d.flags, DECODED_IP | DECODED_SNAPPED);
    CU_ASSERT_EQUAL(d.ip_proto, IPPROTO_TCP);
    CU_ASSERT_EQUAL(ctr.v[DECODER_TCP], 1);

    /* IP header cut: nothing decoded, still not malformed. */
    CU_ASSERT_FALSE(run_snap(&p, LINK_ETHERNET, 24));
    expect_clean();
    CU_ASSERT_EQUAL(d.flags, DECODED_SNAPPED);

    /* Snapped, but the total length is past even the wire length. */
    memset(&ctr, 0, sizeof(ctr));
    decode_buf(p.b, 60, 80, LINK_ETHERNET);
    expect_fault(DECODER_IPV4_BAD_TOTAL_LEN);

    /* UDP length past what was captured, inside the IP length: fine. */
    p.n = 0;
    eth(&p, 0x0800);
    ip = ipv4(&p, IPPROTO_UDP, HOST1, HOST2);
    uint32_t u = udp(&p, 1, 2);
    putz(&p, 500);
    fix_udp(&p, u);
    fix_ipv4(&p, ip);
    CU_ASSERT_TRUE(run_snap(&p, LINK_ETHERNET, 64));
    expect_clean();
    CU_ASSERT_EQUAL(d.flags, DECODED_IP | DECODED_L4 | DECODED_SNAPPED);
    CU_ASSERT_EQUAL(d.payload_len, 64 - 42);

    /* A tunnel cut inside the inner payload keeps the inner packet... */
    p.n = 0;
    s_gre_teb(&p);
    putz(&p, 300);
    fix_ipv4(&p, 14);
    fix_ipv4(&p, 14 + 20 + 16 + 14);
    CU_ASSERT_TRUE(run_snap(&p, LINK_ETHERNET, 14 + 20 + 16 + 14 + 40 + 3));
    expect_clean();
    CU_ASSERT_EQUAL(d.flags, DECODED_IP | DECODED_L4 | DECODED_TUNNEL | DECODED_SNAPPED);
    CU_ASSERT_EQUAL(d.dst_port, 22);
    CU_ASSERT_EQUAL(d.payload_len, 3);

    /* ...and one cut inside the inner IP header keeps the outer one. */
    CU_ASSERT_TRUE(run_snap(&p, LINK_ETHERNET, 14 + 20 + 16 + 14 + 10));
    expect_clean();
    CU_ASSERT_EQUAL(d.flags, DECODED_IP | DECODED_SNAPPED);
    CU_ASSERT_EQUAL(d.ip_proto, IPPROTO_GRE);

    /* IPv6 extension chain cut by the snap length. */
    p.n = 0;
    s_raw_v6_ext_tcp(&p);
    CU_ASSERT_TRUE(run_snap(&p, LINK_RAW, 40 + 8 + 10));
    expect_clean();
    CU_ASSERT_EQUAL(d.flags, DECODED_IP | DECODED_SNAPPED);
    CU_ASSERT(is_v6(d.src_addr, 1));
}

/* ---- every malformed counter --------------------------------------------- */

static void test_bad_link(void)
{
    struct pb p = { .n = 0 };

    s_eth_tcp(&p);
    CU_ASSERT_FALSE(run(&p, LINK_UNSUPPORTED));
    expect_fault(DECODER_LINK_UNSUPPORTED);
    CU_ASSERT_FALSE(run(&p, 999));
    expect_fault(DECODER_LINK_UNSUPPORTED);
    CU_ASSERT_EQUAL(d.flags, DECODED_INVALID);

    /* No bytes at all, not even a pointer. */
    struct packet empty = { .data = NULL, .caplen = 0, .wirelen = 0,
                            .link_type = LINK_ETHERNET };
    memset(&ctr, 0, sizeof(ctr));
    CU_ASSERT_FALSE(decode_packet(&empty, &d, &ctr));
    expect_fault(DECODER_ETHERNET_TRUNCATED);

    /* 13 bytes of a longer frame: the snap length, not a fault... */
    CU_ASSERT_FALSE(run_snap(&p, LINK_ETHERNET, 13));
    expect_clean();
    CU_ASSERT_EQUAL(d.flags, DECODED_SNAPPED);
    /* ...but a 13-byte frame is. */
    memset(&ctr, 0, sizeof(ctr));
    CU_ASSERT_FALSE(decode_buf(p.b, 13, 13, LINK_ETHERNET));
    expect_fault(DECODER_ETHERNET_TRUNCATED);

    p.n = 0;
    eth(&p, 0x8100);
    put16(&p, 5);
    CU_ASSERT_FALSE(run(&p, LINK_ETHERNET));
    expect_fault(DECODER_VLAN_TRUNCATED);

    p.n = 0;
    eth(&p, 0x8100);
    for (int i = 0; i < 5; i++)
        vtag(&p, (uint16_t)(i + 1), i == 4 ? 0x0800 : 0x8100);
    uint32_t ip = ipv4(&p, IPPROTO_TCP, HOST1, HOST2);
    tcp(&p, 1, 2, 0);
    fix_ipv4(&p, ip);
    CU_ASSERT_FALSE(run(&p, LINK_ETHERNET));
    expect_fault(DECODER_VLAN_LAYER_LIMIT);
    CU_ASSERT_EQUAL(d.vlan[0], 1);

    p.n = 0;
    sll(&p, 0x0800);
    memset(&ctr, 0, sizeof(ctr));
    decode_buf(p.b, 15, 15, LINK_LINUX_SLL);
    expect_fault(DECODER_SLL_TRUNCATED);
    p.n = 0;
    sll2(&p, 0x0800);
    memset(&ctr, 0, sizeof(ctr));
    decode_buf(p.b, 19, 19, LINK_LINUX_SLL2);
    expect_fault(DECODER_SLL_TRUNCATED);

    p.n = 0;
    put16(&p, 0);
    put8(&p, 2);
    CU_ASSERT_FALSE(run(&p, LINK_NULL));
    expect_fault(DECODER_NULL_TRUNCATED);

    p.n = 0;
    ipv4(&p, IPPROTO_TCP, HOST1, HOST2);
    p.b[0] = 0x55;
    CU_ASSERT_FALSE(run(&p, LINK_RAW));
    expect_fault(DECODER_RAW_BAD_VERSION);
    p.n = 0;
    CU_ASSERT_FALSE(run(&p, LINK_RAW));  /* not even a version nibble */
    expect_fault(DECODER_RAW_BAD_VERSION);
}

static void test_bad_shims(void)
{
    struct pb p = { .n = 0 };

    /* PPP: nothing at all, 0xff alone, half a protocol field. */
    CU_ASSERT_FALSE(run(&p, LINK_PPP));
    expect_fault(DECODER_PPP_TRUNCATED);
    put8(&p, 0xff);
    CU_ASSERT_FALSE(run(&p, LINK_PPP));
    expect_fault(DECODER_PPP_TRUNCATED);
    put8(&p, 0x03);
    put8(&p, 0x00);
    CU_ASSERT_FALSE(run(&p, LINK_PPP));
    expect_fault(DECODER_PPP_TRUNCATED);
    /* The same three bytes of a longer frame: snapped, not malformed. */
    memset(&ctr, 0, sizeof(ctr));
    CU_ASSERT_FALSE(decode_buf(p.b, 3, 100, LINK_PPP));
    expect_clean();
    CU_ASSERT_EQUAL(d.flags, DECODED_SNAPPED);

    p.n = 0;
    serial(&p, 0x0f, 0x00, 0x0800);
    p.n = 3;
    CU_ASSERT_FALSE(run(&p, LINK_CHDLC));
    expect_fault(DECODER_CHDLC_TRUNCATED);
    CU_ASSERT_FALSE(run(&p, LINK_PPP));  /* Cisco framing in DLT_PPP */
    expect_fault(DECODER_CHDLC_TRUNCATED);

    /* PPPoE: header cut, length past the frame, no room for PPP. */
    p.n = 0;
    eth(&p, 0x8864);
    putz(&p, 5);
    CU_ASSERT_FALSE(run(&p, LINK_ETHERNET));
    expect_fault(DECODER_PPPOE_TRUNCATED);

    p.n = 0;
    s_pppoe(&p);
    set16(&p, 22 + 4, (uint16_t)(p.n - 22 - 6 + 1));
    CU_ASSERT_FALSE(run(&p, LINK_ETHERNET));
    expect_fault(DECODER_PPPOE_TRUNCATED);
    CU_ASSERT_EQUAL(d.vlan[0], 421);
    CU_ASSERT_EQUAL(ctr.v[DECODER_IPV4], 0);

    set16(&p, 22 + 4, 1);  /* one byte, even: a 2-byte protocol cut */
    CU_ASSERT_FALSE(run(&p, LINK_ETHERNET));
    expect_fault(DECODER_PPPOE_TRUNCATED);
    set16(&p, 22 + 4, 0);
    CU_ASSERT_FALSE(run(&p, LINK_ETHERNET));
    expect_fault(DECODER_PPPOE_TRUNCATED);

    /* Cut by the snap length inside the PPPoE header: not malformed. */
    p.n = 0;
    s_pppoe(&p);
    CU_ASSERT_FALSE(run_snap(&p, LINK_ETHERNET, 22 + 4));
    expect_clean();
    CU_ASSERT_EQUAL(d.flags, DECODED_SNAPPED);

    /* MPLS: a label cut, a bottom label with nothing after it. */
    p.n = 0;
    eth(&p, 0x8847);
    put16(&p, 0x0001);
    put8(&p, 0x01);
    CU_ASSERT_FALSE(run(&p, LINK_ETHERNET));
    expect_fault(DECODER_MPLS_TRUNCATED);

    p.n = 0;
    eth(&p, 0x8847);
    mpls(&p, 16, false);
    mpls(&p, 17, true);
    CU_ASSERT_FALSE(run(&p, LINK_ETHERNET));
    expect_fault(DECODER_MPLS_TRUNCATED);
    CU_ASSERT_EQUAL(ctr.v[DECODER_MPLS], 1);

    /* ...but a stack cut by the snap length is only snapped. */
    p.n = 0;
    s_mpls_v6(&p);
    CU_ASSERT_FALSE(run_snap(&p, LINK_ETHERNET, 14 + 6));
    expect_clean();
    CU_ASSERT_EQUAL(d.flags, DECODED_SNAPPED);

    /* Nine labels. */
    p.n = 0;
    eth(&p, 0x8847);
    for (uint32_t i = 0; i < 9; i++)
        mpls(&p, 100 + i, i == 8);
    uint32_t ip = ipv4(&p, IPPROTO_TCP, HOST1, HOST2);
    tcp(&p, 1, 2, 0x10);
    fix_ipv4(&p, ip);
    CU_ASSERT_FALSE(run(&p, LINK_ETHERNET));
    expect_fault(DECODER_MPLS_LABEL_LIMIT);
    CU_ASSERT_EQUAL(ctr.v[DECODER_IPV4], 0);

    /* A malformed IP header under a shim is the IP layer's fault. */
    p.n = 0;
    s_chdlc_mpls(&p);
    p.b[8] = 0x43;
    CU_ASSERT_FALSE(run(&p, LINK_CHDLC));
    expect_fault(DECODER_IPV4_BAD_IHL);
}

static void test_bad_ipv4(void)
{
    struct pb p = { .n = 0 };

    eth(&p, 0x0800);
    putz(&p, 19);
    CU_ASSERT_FALSE(run(&p, LINK_ETHERNET));
    expect_fault(DECODER_IPV4_TRUNCATED);

    p.n = 0;
    s_eth_tcp(&p);
    p.b[14] = 0x65;
    CU_ASSERT_FALSE(run(&p, LINK_ETHERNET));
    expect_fault(DECODER_IPV4_BAD_VERSION);

    p.b[14] = 0x44;
    CU_ASSERT_FALSE(run(&p, LINK_ETHERNET));
    expect_fault(DECODER_IPV4_BAD_IHL);

    /* Total length past the frame, nothing snapped. */
    p.b[14] = 0x45;
    set16(&p, 16, 60);
    CU_ASSERT_FALSE(run(&p, LINK_ETHERNET));
    expect_fault(DECODER_IPV4_BAD_TOTAL_LEN);
    CU_ASSERT_EQUAL(ctr.v[DECODER_SNAPPED], 0);
    CU_ASSERT_FALSE(d.flags & DECODED_SNAPPED);

    /* Total length shorter than the header. */
    set16(&p, 16, 16);
    CU_ASSERT_FALSE(run(&p, LINK_ETHERNET));
    expect_fault(DECODER_IPV4_BAD_TOTAL_LEN);

    /* Options promised by the IHL run past the datagram. */
    p.n = 0;
    uint32_t ip = ipv4(&p, IPPROTO_TCP, HOST1, HOST2);
    fix_ipv4(&p, ip);
    p.b[0] = 0x4f;
    CU_ASSERT_FALSE(run(&p, LINK_RAW));
    expect_fault(DECODER_IPV4_BAD_TOTAL_LEN);
}

static void test_bad_ipv6(void)
{
    struct pb p = { .n = 0 };

    eth(&p, 0x86dd);
    putz(&p, 39);
    p.b[14] = 0x60;
    CU_ASSERT_FALSE(run(&p, LINK_ETHERNET));
    expect_fault(DECODER_IPV6_TRUNCATED);

    /* Payload length past the frame. */
    p.n = 0;
    uint32_t ip = ipv6(&p, IPPROTO_TCP, 1, 2);
    tcp(&p, 1, 2, 0);
    fix_ipv6(&p, ip);
    set16(&p, 4, 21);
    CU_ASSERT_FALSE(run(&p, LINK_RAW));
    expect_fault(DECODER_IPV6_TRUNCATED);

    p.n = 0;
    eth(&p, 0x86dd);
    ip = ipv6(&p, IPPROTO_TCP, 1, 2);
    tcp(&p, 1, 2, 0);
    fix_ipv6(&p, ip);
    p.b[14] = 0x45;
    CU_ASSERT_FALSE(run(&p, LINK_ETHERNET));
    expect_fault(DECODER_IPV6_BAD_VERSION);

    /* Hop-by-hop claims 16 bytes; the datagram holds 8. */
    p.n = 0;
    ip = ipv6(&p, IPPROTO_HOPOPTS, 1, 2);
    ext6(&p, IPPROTO_TCP, 0);
    p.b[41] = 1;
    fix_ipv6(&p, ip);
    CU_ASSERT_TRUE(run(&p, LINK_RAW));
    expect_fault(DECODER_IPV6_EXT_HDR_TRUNCATED);
    CU_ASSERT_EQUAL(d.flags, DECODED_IP | DECODED_INVALID);
    CU_ASSERT(is_v6(d.src_addr, 1));

    /* Routing header with fewer than 8 bytes. */
    p.n = 0;
    ip = ipv6(&p, IPPROTO_ROUTING, 1, 2);
    put32(&p, 0x06000000);
    fix_ipv6(&p, ip);
    run(&p, LINK_RAW);
    expect_fault(DECODER_IPV6_EXT_HDR_TRUNCATED);

    /* Nine extension headers. */
    p.n = 0;
    ip = ipv6(&p, IPPROTO_DSTOPTS, 1, 2);
    for (int i = 0; i < 9; i++)
        ext6(&p, i == 8 ? IPPROTO_UDP : IPPROTO_DSTOPTS, 0);
    uint32_t u = udp(&p, 1, 2);
    fix_udp(&p, u);
    fix_ipv6(&p, ip);
    run(&p, LINK_RAW);
    expect_fault(DECODER_IPV6_EXT_HDR_LIMIT);
    CU_ASSERT_EQUAL(ctr.v[DECODER_UDP], 0);
}

/* IPv4 raw packet of protocol proto whose payload is the len bytes at b. */
static void raw_l4(struct pb *p, uint8_t proto, const uint8_t *b, uint32_t len)
{
    p->n = 0;
    uint32_t ip = ipv4(p, proto, HOST1, HOST2);
    put(p, b, len);
    fix_ipv4(p, ip);
}

static void test_bad_l4(void)
{
    static const uint8_t zeros[64];
    struct pb p = { .n = 0 };
    uint8_t b[64];

    raw_l4(&p, IPPROTO_TCP, zeros, 19);
    CU_ASSERT_TRUE(run(&p, LINK_RAW));  /* the IP header itself is fine */
    expect_fault(DECODER_TCP_TRUNCATED);
    CU_ASSERT_EQUAL(d.flags, DECODED_IP | DECODED_INVALID);
    CU_ASSERT(is_v4(d.src_addr, HOST1));

    memset(b, 0, sizeof(b));
    b[12] = 0x40;  /* data offset 4 words */
    raw_l4(&p, IPPROTO_TCP, b, 20);
    run(&p, LINK_RAW);
    expect_fault(DECODER_TCP_BAD_HLEN);
    CU_ASSERT_FALSE(d.flags & DECODED_L4);

    b[12] = 0xf0;  /* 60 bytes of header in a 20-byte segment */
    raw_l4(&p, IPPROTO_TCP, b, 20);
    run(&p, LINK_RAW);
    expect_fault(DECODER_TCP_BAD_HLEN);

    raw_l4(&p, IPPROTO_UDP, zeros, 7);
    run(&p, LINK_RAW);
    expect_fault(DECODER_UDP_TRUNCATED);

    memset(b, 0, sizeof(b));
    b[5] = 7;      /* UDP length below its own header */
    raw_l4(&p, IPPROTO_UDP, b, 8);
    run(&p, LINK_RAW);
    expect_fault(DECODER_UDP_BAD_LEN);

    b[5] = 20;     /* UDP length past the IP payload, nothing snapped */
    raw_l4(&p, IPPROTO_UDP, b, 12);
    run(&p, LINK_RAW);
    expect_fault(DECODER_UDP_BAD_LEN);
    CU_ASSERT_FALSE(d.flags & DECODED_L4);

    raw_l4(&p, IPPROTO_ICMP, zeros, 4);
    run(&p, LINK_RAW);
    expect_fault(DECODER_ICMPV4_TRUNCATED);

    p.n = 0;
    uint32_t ip = ipv6(&p, IPPROTO_ICMPV6, 1, 2);
    put32(&p, 0x80000000);
    fix_ipv6(&p, ip);
    run(&p, LINK_RAW);
    expect_fault(DECODER_ICMPV6_TRUNCATED);

    raw_l4(&p, IPPROTO_SCTP, zeros, 11);
    run(&p, LINK_RAW);
    expect_fault(DECODER_SCTP_TRUNCATED);
}

static void test_bad_tunnel(void)
{
    static const uint8_t zeros[64];
    struct pb p = { .n = 0 };
    uint8_t b[64];

    raw_l4(&p, IPPROTO_GRE, zeros, 3);
    CU_ASSERT_TRUE(run(&p, LINK_RAW));
    expect_fault(DECODER_GRE_TRUNCATED);

    /* The key bit asks for 8 bytes; 4 are there. */
    memset(b, 0, sizeof(b));
    b[0] = 0x20;
    b[2] = 0x08;
    raw_l4(&p, IPPROTO_GRE, b, 4);
    run(&p, LINK_RAW);
    expect_fault(DECODER_GRE_TRUNCATED);

    /* Version 1 (PPTP): stays the outer packet, ip_proto 47. */
    memset(b, 0, sizeof(b));
    b[0] = 0x30;
    b[1] = 0x81;
    b[2] = 0x88;
    b[3] = 0x0b;
    raw_l4(&p, IPPROTO_GRE, b, 16);
    CU_ASSERT_TRUE(run(&p, LINK_RAW));
    expect_fault(DECODER_GRE_UNSUPPORTED);
    CU_ASSERT_EQUAL(d.flags, DECODED_IP | DECODED_INVALID);
    CU_ASSERT_EQUAL(d.ip_proto, IPPROTO_GRE);
    CU_ASSERT(is_v4(d.src_addr, HOST1));
    CU_ASSERT_EQUAL(ctr.v[DECODER_GRE], 1);

    /* Version 0 carrying MPLS. */
    memset(b, 0, sizeof(b));
    b[2] = 0x88;
    b[3] = 0x47;
    raw_l4(&p, IPPROTO_GRE, b, 16);
    CU_ASSERT_TRUE(run(&p, LINK_RAW));
    expect_fault(DECODER_GRE_UNSUPPORTED);
    CU_ASSERT_EQUAL(d.ip_proto, IPPROTO_GRE);

    /* UDP to 4789 with half a VXLAN header. */
    p.n = 0;
    uint32_t ip = ipv4(&p, IPPROTO_UDP, HOST1, HOST2);
    uint32_t u = udp(&p, 1, 4789);
    put32(&p, 0x08000000);
    fix_udp(&p, u);
    fix_ipv4(&p, ip);
    CU_ASSERT_TRUE(run(&p, LINK_RAW));
    expect_fault(DECODER_VXLAN_TRUNCATED);
    CU_ASSERT_EQUAL(d.dst_port, 4789);

    /* UDP from 2152 with half a GTP-U header. */
    p.n = 0;
    eth(&p, 0x0800);
    ip = ipv4(&p, IPPROTO_UDP, HOST1, HOST2);
    u = udp(&p, 2152, 40000);
    put32(&p, 0x30ff0000);
    fix_udp(&p, u);
    fix_ipv4(&p, ip);
    CU_ASSERT_TRUE(run(&p, LINK_ETHERNET));
    expect_fault(DECODER_GTPU_TRUNCATED);
    expect_outer_gtpu_udp(2152, 40000);

    /* G-PDU length past the UDP datagram. */
    uint32_t g = gtpu_pkt(&p, 2152, 2152, GTPU_V1, 0xff, 0, zeros, 20);
    set16(&p, g + 2, 21);
    CU_ASSERT_TRUE(run(&p, LINK_ETHERNET));
    expect_fault(DECODER_GTPU_TRUNCATED);
    expect_outer_gtpu_udp(2152, 2152);

    /* A G-PDU with no T-PDU at all. */
    gtpu_pkt(&p, 2152, 2152, GTPU_V1, 0xff, 0, NULL, 0);
    CU_ASSERT_TRUE(run(&p, LINK_ETHERNET));
    expect_fault(DECODER_GTPU_TRUNCATED);
    expect_outer_gtpu_udp(2152, 2152);

    /* S set, but the length leaves no room for the optional word - nor
     * for the IPv4 packet - that the UDP datagram does hold. */
    {
        struct pb q = { .n = 0 };
        uint32_t i = ipv4(&q, IPPROTO_UDP, HOST1, HOST2);
        uint32_t iu = udp(&q, 1000, 53);
        fix_udp(&q, iu);
        fix_ipv4(&q, i);
        g = gtpu_pkt(&p, 2152, 2152, GTPU_V1 | GTPU_S, 0xff, 0, q.b, q.n);
    }
    set16(&p, g + 2, 0);
    CU_ASSERT_TRUE(run(&p, LINK_ETHERNET));
    expect_fault(DECODER_GTPU_TRUNCATED);
    expect_outer_gtpu_udp(2152, 2152);

    /* An extension header longer than the rest of the G-PDU. */
    memset(b, 0, sizeof(b));
    b[0] = 4;  /* 16 bytes; 8 present */
    gtpu_pkt(&p, 2152, 2152, GTPU_V1 | GTPU_E, 0xff, 0x85, b, 8);
    CU_ASSERT_TRUE(run(&p, LINK_ETHERNET));
    expect_fault(DECODER_GTPU_TRUNCATED);
    expect_outer_gtpu_udp(2152, 2152);

    /* An extension header of length 0 cannot hold its own fields. */
    memset(b, 0, sizeof(b));
    b[4] = 0x45;
    gtpu_pkt(&p, 2152, 2152, GTPU_V1 | GTPU_E, 0xff, 0x85, b, 40);
    CU_ASSERT_TRUE(run(&p, LINK_ETHERNET));
    expect_fault(DECODER_GTPU_TRUNCATED);
    expect_outer_gtpu_udp(2152, 2152);

    /* Nine extension headers: one past the limit. */
    for (unsigned k = 0; k < 9; k++) {
        b[4 * k] = 1;
        b[4 * k + 1] = 0;
        b[4 * k + 2] = 0;
        b[4 * k + 3] = k < 8 ? 0x85 : 0;
    }
    memset(b + 36, 0, 28);
    b[36] = 0x45;
    gtpu_pkt(&p, 2152, 2152, GTPU_V1 | GTPU_E, 0xff, 0x85, b, 64);
    CU_ASSERT_TRUE(run(&p, LINK_ETHERNET));
    expect_fault(DECODER_GTPU_EXT_HDR_LIMIT);
    expect_outer_gtpu_udp(2152, 2152);
    CU_ASSERT_EQUAL(ctr.v[DECODER_IPV4], 1);

    /* UDP to 6081 with half a Geneve header. */
    p.n = 0;
    eth(&p, 0x0800);
    ip = ipv4(&p, IPPROTO_UDP, HOST1, HOST2);
    u = udp(&p, 40000, 6081);
    put32(&p, 0x00000800);
    fix_udp(&p, u);
    fix_ipv4(&p, ip);
    CU_ASSERT_TRUE(run(&p, LINK_ETHERNET));
    expect_fault(DECODER_GENEVE_TRUNCATED);
    expect_outer_geneve_udp(40000);

    /* Options running past the UDP datagram (63 words, 33 bytes left). */
    g = geneve_pkt(&p, 40000, 6081, 0x0800, 0);
    p.b[g] = 0x3f;
    CU_ASSERT_TRUE(run(&p, LINK_ETHERNET));
    expect_fault(DECODER_GENEVE_TRUNCATED);
    expect_outer_geneve_udp(40000);

    /* TUNNEL_DEPTH_LIMIT: test_tunnel_depth. */
}

/* Runs after every test above: each malformed counter has been hit. */
static void test_every_fault_tested(void)
{
    unsigned faults = 0;

    for (unsigned i = 0; i < DECODER_COUNTER_COUNT; i++) {
        if (!is_fault_counter(i))
            continue;
        faults++;
        if (!fault_tested[i])
            fprintf(stderr, "\nno test for %s\n",
                    decoder_counter_name((enum decoder_counter)i));
        CU_ASSERT(fault_tested[i]);
    }
    CU_ASSERT_EQUAL(faults, DECODER_COUNTER_COUNT - DECODER_LINK_UNSUPPORTED);
}

/* ---- robustness ---------------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 32);
}

static unsigned fuzz_bad;

/* What must hold for any input: offsets inside the capture, the return
 * value agreeing with the flags. */
static void fuzz_one(const uint8_t *b, uint32_t caplen, uint32_t wirelen,
                     uint16_t link_type)
{
    bool ret = decode_buf(b, caplen, wirelen, link_type);
    bool ok = ret == ((d.flags & DECODED_IP) != 0) &&
              (uint32_t)d.payload_offset + d.payload_len <= caplen;

    if (d.flags & DECODED_IP)
        ok = ok && d.l3_offset < caplen &&
             (d.ip_version == 4 || d.ip_version == 6);
    if (d.flags & DECODED_L4)
        ok = ok && (d.flags & DECODED_IP) && d.l4_offset > d.l3_offset &&
             d.l4_offset < caplen && d.payload_offset >= d.l4_offset;
    if (d.flags & DECODED_FRAG_LATER)
        ok = ok && !(d.flags & DECODED_L4);
    /* An intermediate layer lies before the result's own IP header and
     * decodes on its own, whole, within the capture. */
    if (d.mid_l3_offset != 0)
        ok = ok && (d.flags & DECODED_TUNNEL) && d.mid_l3_offset < d.l3_offset &&
             (mid.flags & DECODED_IP) && !(mid.flags & DECODED_INVALID) &&
             mid.l3_offset == d.mid_l3_offset &&
             (uint32_t)mid.payload_offset + mid.payload_len <= caplen;
    if (!ok) {
        if (fuzz_bad++ < 5)
            fprintf(stderr, "\nfuzz: link %u caplen %u wirelen %u flags 0x%x\n",
                    link_type, caplen, wirelen, d.flags);
    }
}

static void test_fuzz(void)
{
    /* The decodable link types first: the prefix loop below uses those. */
    static const uint16_t links[] = {
        LINK_ETHERNET, LINK_RAW, LINK_LINUX_SLL, LINK_LINUX_SLL2, LINK_NULL,
        LINK_PPP, LINK_CHDLC, LINK_UNSUPPORTED, 77,
    };
    enum { N_DECODABLE = 7 };
    static const uint16_t types[] = { 0x0800, 0x86dd, 0x8100, 0x88a8, 0x0806,
                                      0x8864, 0x8847 };
    /* Serial link headers that lead somewhere: PPP, PPP without address
     * and control, Cisco HDLC with IP and with MPLS. */
    static const uint8_t serials[][4] = {
        { 0xff, 0x03, 0x00, 0x21 }, { 0xff, 0x03, 0x00, 0x57 },
        { 0x00, 0x21, 0x45, 0x00 }, { 0x0f, 0x00, 0x08, 0x00 },
        { 0x8f, 0x00, 0x86, 0xdd }, { 0x0f, 0x00, 0x88, 0x47 },
    };
    uint8_t buf[512];
    uint64_t fed = 0, invalid = 0, snapped = 0;
    struct pb p;

    memset(&ctr, 0, sizeof(ctr));
    fuzz_bad = 0;

    /* Random bytes on every link type, some nudged towards IP. */
    for (unsigned l = 0; l < sizeof(links) / sizeof(links[0]); l++) {
        for (unsigned i = 0; i < 4000; i++) {
            uint32_t len = rnd() % 200;
            for (uint32_t k = 0; k < len; k++)
                buf[k] = (uint8_t)rnd();
            if (len > 14 && (i & 1)) {
                uint16_t t = types[rnd() % (sizeof(types) / sizeof(types[0]))];
                buf[12] = (uint8_t)(t >> 8);
                buf[13] = (uint8_t)t;
                buf[14] = (uint8_t)((rnd() & 1 ? 0x40 : 0x60) | (buf[14] & 0x0f));
                buf[0] = (uint8_t)((rnd() & 1 ? 0x45 : 0x60));
            }
            if (len > 8 && (i & 3) == 3) {
                memcpy(buf, serials[rnd() % (sizeof(serials) / sizeof(serials[0]))], 4);
                if (buf[2] == 0x88) {
                    buf[6] |= 0x01;  /* bottom of stack, then IPv4 */
                    buf[8] = 0x45;
                } else if (buf[2] != 0x45) {
                    buf[4] = (uint8_t)(buf[3] == 0x57 || buf[3] == 0xdd ? 0x60 : 0x45);
                }
            }
            uint32_t wire = len + ((i & 3) == 0 ? rnd() % 1500 : 0);
            if ((i & 7) == 1)
                wire = len / 2;  /* a capture path that breaks the contract */
            fuzz_one(buf, len, wire, links[l]);
            fed++;
            invalid += (d.flags & DECODED_INVALID) != 0;
            snapped += (d.flags & DECODED_SNAPPED) != 0;
        }
    }

    /* Every prefix of every sample, as a short frame and as a snapped one,
     * on its own link type and on every other. */
    for (unsigned s = 0; s < N_SAMPLES; s++) {
        p.n = 0;
        uint16_t lt = samples[s](&p);
        for (unsigned l = 0; l <= N_DECODABLE; l++) {
            uint16_t use = l == 0 ? lt : links[l - 1];
            for (uint32_t len = 0; len <= p.n; len++) {
                fuzz_one(p.b, len, len, use);
                fuzz_one(p.b, len, p.n, use);
                fed += 2;
            }
        }
    }

    /* Samples with a few bytes changed, then cut somewhere. */
    for (unsigned i = 0; i < 20000; i++) {
        p.n = 0;
        uint16_t lt = samples[i % N_SAMPLES](&p);
        unsigned flips = 1 + rnd() % 4;
        for (unsigned k = 0; k < flips; k++)
            p.b[rnd() % p.n] = (uint8_t)rnd();
        uint32_t len = rnd() % 3 ? p.n : rnd() % (p.n + 1);
        fuzz_one(p.b, len, rnd() & 1 ? p.n : len, lt);
        fed++;
        invalid += (d.flags & DECODED_INVALID) != 0;
        snapped += (d.flags & DECODED_SNAPPED) != 0;
    }

    CU_ASSERT_EQUAL(fuzz_bad, 0);
    CU_ASSERT_EQUAL(ctr.v[DECODER_PKTS], fed);
    CU_ASSERT(ctr.v[DECODER_INVALID] >= invalid);
    CU_ASSERT(ctr.v[DECODER_SNAPPED] >= snapped);
    CU_ASSERT(ctr.v[DECODER_INVALID] <= ctr.v[DECODER_PKTS]);
    CU_ASSERT(ctr.v[DECODER_INVALID] <= fault_total());
}

/* A capture longer than a 16-bit view: decoded up to 64 KiB, no further. */
static void test_huge_frame(void)
{
    static uint8_t big[70000];
    struct pb p = { .n = 0 };

    s_eth_tcp(&p);
    memcpy(big, p.b, p.n);
    big[16] = 0xff;  /* IPv4 total length 65535 */
    big[17] = 0xff;
    memset(&ctr, 0, sizeof(ctr));
    CU_ASSERT_TRUE(decode_buf(big, sizeof(big), sizeof(big), LINK_ETHERNET));
    CU_ASSERT(d.flags & DECODED_L4);
    CU_ASSERT((uint32_t)d.payload_offset + d.payload_len <= UINT16_MAX);
    CU_ASSERT_EQUAL(ctr.v[DECODER_BYTES], sizeof(big));
}

int main(void)
{
    CU_TestInfo cases[] = {
        { "counter names", test_counter_names },
        { "link type from DLT", test_link_type_from_dlt },
        { "ethernet tcp", test_ethernet_tcp },
        { "tcp options", test_tcp_options },
        { "ethernet padding trimmed", test_ethernet_padding },
        { "raw links", test_raw_links },
        { "linux cooked v1 and v2", test_sll_links },
        { "null and loop", test_null_links },
        { "vlan and qinq", test_vlan },
        { "pppoe", test_pppoe },
        { "mpls", test_mpls },
        { "ppp links", test_ppp_links },
        { "cisco hdlc links", test_chdlc_links },
        { "ipv4 options", test_ipv4_options },
        { "ipv4 fragments", test_ipv4_fragments },
        { "ipv6 extension headers and fragments", test_ipv6_ext_and_fragments },
        { "udp", test_udp },
        { "icmpv4 and icmpv6", test_icmp },
        { "sctp and other protocols", test_sctp_and_other },
        { "gre", test_gre },
        { "vxlan", test_vxlan },
        { "gtp-u", test_gtpu },
        { "geneve", test_geneve },
        { "ip in ip", test_ip_in_ip },
        { "tunnel depth limit", test_tunnel_depth },
        { "tunnel in tunnel: the layer between", test_tunnel_in_tunnel },
        { "malformed inner packet falls back", test_inner_fallback },
        { "snapped captures", test_snapped },
        { "malformed link layers", test_bad_link },
        { "malformed pppoe, mpls, ppp, cisco hdlc", test_bad_shims },
        { "malformed ipv4", test_bad_ipv4 },
        { "malformed ipv6", test_bad_ipv6 },
        { "malformed transport", test_bad_l4 },
        { "malformed tunnels", test_bad_tunnel },
        { "every malformed counter tested", test_every_fault_tested },
        { "random and truncated input", test_fuzz },
        { "frame over 64 KiB", test_huge_frame },
        CU_TEST_INFO_NULL,
    };

    return cunit_run("decoder", cases);
}
