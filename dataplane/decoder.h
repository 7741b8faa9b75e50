/* decoder.h - the one L2-L4 decoder every capture path uses.
 *
 * decode_packet() reads a frame, never writes it, and never fails: what it
 * cannot decode it counts under a named counter and says so in the result.
 * Tunnels (GRE, VXLAN, Geneve, GTP-U, IP-in-IP) are followed to the inner
 * packet, whose addresses and ports are what the flow table sees; a layer
 * between the outer and the innermost packet is recorded (mid_l3_offset)
 * and can be decoded on its own with decode_ip_layer(). PPPoE sessions and
 * MPLS label stacks are link-layer shims, walked like VLAN tags: the IP
 * packet they carry is the outer packet, not a tunnel. */
#ifndef MAMORI_DECODER_H
#define MAMORI_DECODER_H

#include <stdbool.h>
#include <stdint.h>

#include "packet.h"

/* Every decoder counter, once: X(enum suffix, name in stats and metrics).
 * Malformed-packet counters are the ones whose name ends in a fault
 * (truncated, bad_*, *_limit, unsupported); each also bumps "invalid". */
#define DECODER_COUNTERS(X) \
    X(PKTS,                 "decoder.pkts") \
    X(BYTES,                "decoder.bytes") \
    X(INVALID,              "decoder.invalid") \
    X(ETHERNET,             "decoder.ethernet") \
    X(VLAN,                 "decoder.vlan") \
    X(VLAN_QINQ,            "decoder.vlan_qinq") \
    X(SLL,                  "decoder.sll") \
    X(NULL_LINK,            "decoder.null") \
    X(RAW,                  "decoder.raw") \
    X(PPP,                  "decoder.ppp") \
    X(CHDLC,                "decoder.chdlc") \
    X(PPPOE,                "decoder.pppoe") \
    X(MPLS,                 "decoder.mpls") \
    X(IPV4,                 "decoder.ipv4") \
    X(IPV6,                 "decoder.ipv6") \
    X(TCP,                  "decoder.tcp") \
    X(UDP,                  "decoder.udp") \
    X(ICMPV4,               "decoder.icmpv4") \
    X(ICMPV6,               "decoder.icmpv6") \
    X(SCTP,                 "decoder.sctp") \
    X(OTHER_IP_PROTO,       "decoder.other_ip_proto") \
    X(NON_IP,               "decoder.non_ip") \
    X(GRE,                  "decoder.gre") \
    X(VXLAN,                "decoder.vxlan") \
    X(GENEVE,               "decoder.geneve") \
    X(GTPU,                 "decoder.gtpu") \
    X(IPV4_IN_IP,           "decoder.ipv4_in_ip") \
    X(IPV6_IN_IP,           "decoder.ipv6_in_ip") \
    X(IPV4_FRAG,            "decoder.ipv4.frag") \
    X(IPV6_FRAG,            "decoder.ipv6.frag") \
    X(IPV4_OPTIONS,         "decoder.ipv4.options") \
    X(SNAPPED,              "decoder.snapped") \
    X(LINK_UNSUPPORTED,     "decoder.link.unsupported") \
    X(ETHERNET_TRUNCATED,   "decoder.ethernet.truncated") \
    X(VLAN_TRUNCATED,       "decoder.vlan.truncated") \
    X(VLAN_LAYER_LIMIT,     "decoder.vlan.layer_limit") \
    X(SLL_TRUNCATED,        "decoder.sll.truncated") \
    X(NULL_TRUNCATED,       "decoder.null.truncated") \
    X(PPP_TRUNCATED,        "decoder.ppp.truncated") \
    X(CHDLC_TRUNCATED,      "decoder.chdlc.truncated") \
    X(PPPOE_TRUNCATED,      "decoder.pppoe.truncated") \
    X(MPLS_TRUNCATED,       "decoder.mpls.truncated") \
    X(MPLS_LABEL_LIMIT,     "decoder.mpls.label_limit") \
    X(RAW_BAD_VERSION,      "decoder.raw.bad_version") \
    X(IPV4_TRUNCATED,       "decoder.ipv4.truncated") \
    X(IPV4_BAD_VERSION,     "decoder.ipv4.bad_version") \
    X(IPV4_BAD_IHL,         "decoder.ipv4.bad_ihl") \
    X(IPV4_BAD_TOTAL_LEN,   "decoder.ipv4.bad_total_len") \
    X(IPV6_TRUNCATED,       "decoder.ipv6.truncated") \
    X(IPV6_BAD_VERSION,     "decoder.ipv6.bad_version") \
    X(IPV6_EXT_HDR_TRUNCATED, "decoder.ipv6.ext_hdr_truncated") \
    X(IPV6_EXT_HDR_LIMIT,   "decoder.ipv6.ext_hdr_limit") \
    X(TCP_TRUNCATED,        "decoder.tcp.truncated") \
    X(TCP_BAD_HLEN,         "decoder.tcp.bad_hlen") \
    X(UDP_TRUNCATED,        "decoder.udp.truncated") \
    X(UDP_BAD_LEN,          "decoder.udp.bad_len") \
    X(ICMPV4_TRUNCATED,     "decoder.icmpv4.truncated") \
    X(ICMPV6_TRUNCATED,     "decoder.icmpv6.truncated") \
    X(SCTP_TRUNCATED,       "decoder.sctp.truncated") \
    X(GRE_TRUNCATED,        "decoder.gre.truncated") \
    X(GRE_UNSUPPORTED,      "decoder.gre.unsupported") \
    X(VXLAN_TRUNCATED,      "decoder.vxlan.truncated") \
    X(GENEVE_TRUNCATED,     "decoder.geneve.truncated") \
    X(GTPU_TRUNCATED,       "decoder.gtpu.truncated") \
    X(GTPU_EXT_HDR_LIMIT,   "decoder.gtpu.ext_hdr_limit") \
    X(TUNNEL_DEPTH_LIMIT,   "decoder.tunnel.depth_limit")

enum decoder_counter {
#define DECODER_COUNTER_ENUM(id, name) DECODER_##id,
    DECODER_COUNTERS(DECODER_COUNTER_ENUM)
#undef DECODER_COUNTER_ENUM
    DECODER_COUNTER_COUNT
};

/* Counters of one decoding thread; plain stores by the owner, relaxed loads
 * by the stats reader (see counter.h). */
struct decoder_counters {
    uint64_t v[DECODER_COUNTER_COUNT];
};

/* The stats/metrics name of counter i ("decoder.ipv4.truncated"). */
const char *decoder_counter_name(enum decoder_counter i);

/* What decode_packet() found, as flags in decoded_packet.flags. */
enum decoded_flag {
    DECODED_IP          = 1u << 0,  /* an IPv4 or IPv6 header was decoded */
    DECODED_L4          = 1u << 1,  /* TCP/UDP/ICMP/SCTP header decoded: ports valid */
    DECODED_FRAGMENT    = 1u << 2,  /* an IP fragment (first or later) */
    DECODED_FRAG_LATER  = 1u << 3,  /* a non-first fragment: no L4 header */
    DECODED_TUNNEL      = 1u << 4,  /* addresses are those of an inner packet */
    DECODED_INVALID     = 1u << 5,  /* a malformed header stopped decoding */
    DECODED_SNAPPED     = 1u << 6,  /* capture shorter than the IP length says */
    DECODED_IP_OPTIONS  = 1u << 7,  /* IPv4 header carries options */
};

/* The decoded view of a packet. Offsets are from packet.data, so the view
 * survives copying the bytes elsewhere. IPv4 addresses sit in the first four
 * bytes of src_addr/dst_addr, the rest zero. Ports are host order; for ICMP
 * echo both hold the echo identifier, otherwise 0 for ICMP. */
struct decoded_packet {
    uint8_t  src_addr[16];
    uint8_t  dst_addr[16];
    uint16_t src_port;
    uint16_t dst_port;
    uint16_t vlan[2];        /* outer and inner 802.1Q VLAN IDs, 0 if none */
    uint16_t flags;          /* enum decoded_flag */
    uint8_t  ip_version;     /* 4, 6, or 0 when not IP */
    uint8_t  ip_proto;       /* transport protocol (IPPROTO_*) of the innermost IP */
    uint8_t  ttl;            /* TTL / hop limit of the innermost IP */
    uint8_t  tcp_flags;      /* TCP flags byte (FIN=0x01 .. CWR=0x80) */
    uint8_t  icmp_type;
    uint8_t  icmp_code;
    uint16_t l3_offset;      /* innermost IP header */
    uint16_t l4_offset;      /* transport header, valid with DECODED_L4 */
    uint16_t payload_offset; /* first payload byte */
    uint16_t payload_len;    /* payload bytes present in the capture */
    uint32_t tcp_seq;
    uint32_t tcp_ack;
    uint16_t tcp_window;
    /* IP header of the intermediate tunnel layer, 0 if none: an inner
     * packet that itself carried a tunnel that was followed (of Geneve /
     * IPv4 / GRE / IPv4 / TCP, the IPv4 packet carrying GRE). Suricata
     * inspects such a layer as a packet of its own; decode_ip_layer() gives
     * its view. A packet three tunnels deep has two such layers; only the
     * outer one is kept: a second offset (or a count) would grow this
     * struct past its 68 bytes, this one fills what was padding. */
    uint16_t mid_l3_offset;
};

/* Decode pkt into *out and count what was seen in *counters. Always fills
 * *out (zeroed fields where nothing was decoded). Returns true when an IP
 * header was decoded (out->flags & DECODED_IP), false otherwise. */
bool decode_packet(const struct packet *pkt, struct decoded_packet *out,
                   struct decoder_counters *counters);

/* decode_packet() on each of n packets into out[0..n-1], for a worker's
 * burst: the same results and counts, but the next frames are prefetched
 * while one is decoded, and the common case is counted once per burst. */
void decode_burst(const struct packet *pkts, struct decoded_packet *out, unsigned n,
                  struct decoder_counters *counters);

/* Decode the IPv4 or IPv6 packet whose header is at l3_offset of pkt as a
 * packet of its own, stopping at any tunnel it carries: *out gets that
 * layer's addresses, protocol, TTL, transport header and payload, as
 * decode_packet() gives the outer packet when it does not follow a tunnel
 * (the payload of a GRE or IP-in-IP packet is its IP payload; of a UDP
 * tunnel, the UDP payload). Meant for mid_l3_offset of a decode_packet()
 * result, so it counts nothing: that decode counted the layer already. The
 * layer is bounded by the frame, not by the datagram enclosing it; only an
 * IPv6 jumbogram, which has no length of its own, could tell the two apart.
 * VLAN IDs and mid_l3_offset are 0, DECODED_TUNNEL is clear. Returns true
 * when an IP header was decoded (out->flags & DECODED_IP). */
bool decode_ip_layer(const struct packet *pkt, uint16_t l3_offset, struct decoded_packet *out);

/* The pcap DLT / LINKTYPE value of a capture file as our link type. */
enum link_type link_type_from_dlt(int dlt);

#endif
