/* decoder.c - L2-L4 decoding of one captured frame.
 *
 * One static function per layer. Each layer reads only through fits(), so
 * no byte past the capture (or past the end of the enclosing IP datagram)
 * is ever touched, whatever the input.
 *
 * Two lengths bound every layer:
 *   wire - where the current datagram ends on the wire: the frame length for
 *          the outermost layer, then each IP/UDP length field as we descend.
 *          Ethernet padding and other trailers lie past it and are ignored.
 *   lim  - the bytes we may actually read: min(wire, bytes captured).
 * A header that ends past lim but not past wire was cut by the snap length:
 * that is DECODED_SNAPPED, not malformed. A header that ends past wire is
 * malformed and counted under its own counter.
 *
 * Return convention of the layer functions: true when the current layer's
 * view of the packet is worth keeping - an IP header was decoded and the
 * headers it carries were not malformed - false otherwise. Tunnel code uses
 * this to choose between the inner and the outer packet. Two faults keep
 * the view on purpose: GRE_UNSUPPORTED and TUNNEL_DEPTH_LIMIT say only that
 * we stopped descending, not that the IP packet holding them is bad. */
#include <string.h>

#include <netinet/in.h>

#include "counter.h"
#include "decoder.h"

/* Bounds of the walks; each is a "limit" counter when exceeded. */
#define MAX_VLAN_TAGS       4   /* QinQ is 2; 4 leaves room for odd carriers */
#define MAX_MPLS_LABELS     8   /* L3VPN is 2, with TE/FRR 3-4 */
#define MAX_IPV6_EXT_HDRS   8   /* real stacks send 1-3 */
#define MAX_GTPU_EXT_HDRS   8   /* 5G RAN sends 1 (PDU session container) */
#define MAX_TUNNEL_DEPTH    3   /* tunnels followed below the outer packet */

/* Views are 16-bit offsets, so nothing past 64 KiB is ever decoded. */
#define MAX_VIEW_BYTES      UINT16_MAX

#define ETHERTYPE_IPV4      0x0800
#define ETHERTYPE_IPV6      0x86dd
#define ETHERTYPE_VLAN      0x8100
#define ETHERTYPE_QINQ      0x88a8
#define ETHERTYPE_QINQ_OLD  0x9100
#define ETHERTYPE_TEB       0x6558  /* transparent Ethernet bridging (GRE, Geneve) */
#define ETHERTYPE_MPLS      0x8847
#define ETHERTYPE_MPLS_MC   0x8848
#define ETHERTYPE_PPPOE_DISC 0x8863
#define ETHERTYPE_PPPOE_SESS 0x8864

/* PPP protocol numbers (RFC 1661 and the IANA PPP DLL registry). */
#define PPP_IPV4            0x0021
#define PPP_IPV6            0x0057
#define PPP_MPLS            0x0281
#define PPP_MPLS_MC         0x0283

/* First byte of a Cisco HDLC frame; also how a Cisco router's frames show
 * up in PPP captures (LINKTYPE_PPP_HDLC allows it, RFC 1547 4.3.1). */
#define CHDLC_ADDR_UNICAST  0x0f
#define CHDLC_ADDR_MULTICAST 0x8f

#define VXLAN_PORT          4789
#define GENEVE_PORT         6081
#define GTPU_PORT           2152
#define GTPU_G_PDU          0xff  /* the one GTP-U message carrying a T-PDU */

/* IPv6 extension headers without an IPPROTO_* name in every libc. */
#define EXT_MOBILITY        135
#define EXT_HIP             139
#define EXT_SHIM6           140

struct dctx {
    const uint8_t *data;
    uint32_t cap;        /* bytes captured (capped at MAX_VIEW_BYTES) */
    uint32_t wire;       /* end of the current datagram on the wire */
    uint32_t lim;        /* min(wire, cap): readable end of this layer */
    unsigned depth;      /* tunnels followed so far */
    bool frag;           /* current IP layer is a fragment */
    bool invalid;        /* a fault counter was bumped */
    bool snapped;        /* some header or length was cut by the snap length */
    bool no_tunnels;     /* decode_ip_layer(): the first tunnel ends the decode */
    struct decoded_packet *out;
    struct decoder_counters *cnt;
};

static const char *const counter_names[DECODER_COUNTER_COUNT] = {
#define DECODER_COUNTER_NAME(id, name) name,
    DECODER_COUNTERS(DECODER_COUNTER_NAME)
#undef DECODER_COUNTER_NAME
};

const char *decoder_counter_name(enum decoder_counter i)
{
    return (unsigned)i < DECODER_COUNTER_COUNT ? counter_names[i] : NULL;
}

enum link_type link_type_from_dlt(int dlt)
{
    switch (dlt) {
    case 1:   return LINK_ETHERNET;   /* DLT_EN10MB */
    case 12:                          /* DLT_RAW (most platforms) */
    case 101:                         /* LINKTYPE_RAW */
    case 228:                         /* LINKTYPE_IPV4 */
    case 229: return LINK_RAW;        /* LINKTYPE_IPV6 */
    case 113: return LINK_LINUX_SLL;
    case 276: return LINK_LINUX_SLL2;
    case 0:                           /* DLT_NULL: host byte order family */
    case 108: return LINK_NULL;       /* DLT_LOOP: network byte order family */
    case 9:                           /* DLT_PPP */
    case 50:  return LINK_PPP;        /* LINKTYPE_PPP_HDLC (DLT_PPP_SERIAL) */
    case 104: return LINK_CHDLC;      /* DLT_C_HDLC */
    default:  return LINK_UNSUPPORTED;
    }
}

/* Byte readers: the frame has no alignment guarantee, so never cast. */
static inline uint16_t read_be16(const uint8_t *p)
{
    return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static inline uint32_t read_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
           (uint32_t)p[2] << 8 | p[3];
}

static inline uint32_t read_le32(const uint8_t *p)
{
    return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 |
           (uint32_t)p[1] << 8 | p[0];
}

#define COUNT(c, id) counter_inc(&(c)->cnt->v[DECODER_##id])

/* A malformed header: its own counter now, "invalid" once at the end. */
static void fault(struct dctx *c, enum decoder_counter id)
{
    counter_inc(&c->cnt->v[id]);
    c->invalid = true;
}

static inline bool fits(const struct dctx *c, uint32_t off, uint32_t n)
{
    return (uint64_t)off + n <= c->lim;
}

/* A header of n bytes at off does not fit. Decide why: cut by the snap
 * length (the datagram says the bytes exist) or malformed. Returns true when
 * merely snapped, so an L4 caller can keep the IP view it already has. */
static bool cut_short(struct dctx *c, uint32_t off, uint32_t n,
                      enum decoder_counter id)
{
    if ((uint64_t)off + n <= c->wire) {
        c->snapped = true;
        return true;
    }
    fault(c, id);
    return false;
}

/* Narrow the current datagram to end at end (an IP or UDP length). */
static void set_wire_end(struct dctx *c, uint32_t end)
{
    c->wire = end;
    c->lim = end < c->cap ? end : c->cap;
    if (c->lim < c->wire)
        c->snapped = true;
}

/* Payload view: [off, lim), empty when off is past lim. */
static void set_payload(struct dctx *c, uint32_t off)
{
    if (off > c->lim)
        off = c->lim;
    c->out->payload_offset = (uint16_t)off;
    c->out->payload_len = (uint16_t)(c->lim - off);
}

static bool decode_ipv4(struct dctx *c, uint32_t off);
static bool decode_ipv6(struct dctx *c, uint32_t off);
static bool decode_ethernet(struct dctx *c, uint32_t off);

/* ---- tunnels ------------------------------------------------------------ */

enum inner_kind { INNER_IPV4, INNER_IPV6, INNER_ETHERNET };

/* Decode the packet carried at off and make it the result.
 *
 * Choice for a malformed (or non-IP, or snapped-before-IP) inner packet:
 * the result falls back to the enclosing packet exactly as it was decoded
 * before descending, so the flow is the outer flow and DECODED_TUNNEL is
 * clear. The inner fault is still counted and DECODED_INVALID still set.
 * Hitting the depth limit keeps the current (last decoded) layer.
 *
 * An enclosing packet that was itself an inner one becomes the result's
 * intermediate layer (mid_l3_offset). Calls return innermost first, so the
 * outermost such layer is the one that stays.
 *
 * VLAN IDs stay those of the outermost Ethernet header: they name the
 * capture segment, which is what the flow key wants. */
static bool decode_tunnel(struct dctx *c, enum inner_kind kind, uint32_t off)
{
    struct decoded_packet *out = c->out;
    struct decoded_packet outer;
    bool ok;

    if (c->no_tunnels)
        return true;
    if (c->depth >= MAX_TUNNEL_DEPTH) {
        fault(c, DECODER_TUNNEL_DEPTH_LIMIT);
        return true;
    }
    outer = *out;
    memset(out, 0, sizeof(*out));
    out->vlan[0] = outer.vlan[0];
    out->vlan[1] = outer.vlan[1];
    out->flags = DECODED_TUNNEL;

    c->depth++;
    if (kind == INNER_IPV4)
        ok = decode_ipv4(c, off);
    else if (kind == INNER_IPV6)
        ok = decode_ipv6(c, off);
    else
        ok = decode_ethernet(c, off);
    c->depth--;

    if (!ok)
        *out = outer;
    else if (c->depth > 0)
        out->mid_l3_offset = outer.l3_offset;
    return true;
}

/* GRE (RFC 2784/2890): version 0 with optional checksum, key and sequence
 * words. Anything else (PPTP's version 1, RFC 1701 routing, protocols we do
 * not decode such as MPLS or ERSPAN) leaves the outer IP packet as result. */
static bool decode_gre(struct dctx *c, uint32_t off)
{
    const uint8_t *h = c->data + off;
    uint16_t fv, proto;
    uint32_t hlen;

    COUNT(c, GRE);
    if (c->frag)  /* the inner packet is split across fragments */
        return true;
    if (!fits(c, off, 4))
        return cut_short(c, off, 4, DECODER_GRE_TRUNCATED);
    fv = read_be16(h);
    proto = read_be16(h + 2);
    if ((fv & 0x0007) != 0 || (fv & 0x4000) != 0) {
        fault(c, DECODER_GRE_UNSUPPORTED);
        return true;
    }
    hlen = 4u + ((fv & 0x8000) ? 4u : 0u) + ((fv & 0x2000) ? 4u : 0u) +
           ((fv & 0x1000) ? 4u : 0u);
    if (!fits(c, off, hlen))
        return cut_short(c, off, hlen, DECODER_GRE_TRUNCATED);

    switch (proto) {
    case ETHERTYPE_IPV4: return decode_tunnel(c, INNER_IPV4, off + hlen);
    case ETHERTYPE_IPV6: return decode_tunnel(c, INNER_IPV6, off + hlen);
    case ETHERTYPE_TEB:  return decode_tunnel(c, INNER_ETHERNET, off + hlen);
    default:
        fault(c, DECODER_GRE_UNSUPPORTED);
        return true;
    }
}

/* VXLAN (RFC 7348): 8-byte header, then an Ethernet frame. Without the
 * I flag the VNI is not valid: the packet is counted as VXLAN but left as
 * plain UDP rather than guessing at what an unrelated user of port 4789
 * sends. */
static bool decode_vxlan(struct dctx *c, uint32_t off)
{
    COUNT(c, VXLAN);
    if (!fits(c, off, 8))
        return cut_short(c, off, 8, DECODER_VXLAN_TRUNCATED);
    if ((c->data[off] & 0x08) == 0)
        return true;
    return decode_tunnel(c, INNER_ETHERNET, off + 8);
}

/* Geneve (RFC 8926): an 8-byte header - version (2 bits, 0 the only one
 * defined), options length (6 bits, in 4-byte words), the O (control
 * message) and C (critical options) flags, a protocol type (an EtherType)
 * and the VNI - then the options, then the payload the protocol type
 * names. O and C matter to tunnel endpoints, not to a passive decoder: the
 * payload is decoded either way, as Suricata does. Another version, or a
 * payload we do not decode, is counted as Geneve but left as plain UDP,
 * as VXLAN without its I flag is. */
static bool decode_geneve(struct dctx *c, uint32_t off)
{
    const uint8_t *h = c->data + off;
    uint32_t hlen;

    COUNT(c, GENEVE);
    if (!fits(c, off, 8))
        return cut_short(c, off, 8, DECODER_GENEVE_TRUNCATED);
    if ((h[0] >> 6) != 0)
        return true;
    hlen = 8 + (uint32_t)(h[0] & 0x3f) * 4;
    if (!fits(c, off, hlen))
        return cut_short(c, off, hlen, DECODER_GENEVE_TRUNCATED);

    switch (read_be16(h + 2)) {
    case ETHERTYPE_TEB:  return decode_tunnel(c, INNER_ETHERNET, off + hlen);
    case ETHERTYPE_IPV4: return decode_tunnel(c, INNER_IPV4, off + hlen);
    case ETHERTYPE_IPV6: return decode_tunnel(c, INNER_IPV6, off + hlen);
    default:             return true;
    }
}

/* GTP-U (3GPP TS 29.281): the user plane of GPRS, UMTS, LTE and 5G, on
 * UDP port 2152 in both directions. An 8-byte header - flags (version 1,
 * protocol type 1, E, S, PN), message type, length of what follows the 8
 * bytes, TEID - then, when any of E/S/PN is set, a 4-byte word (sequence
 * number, N-PDU number, next extension header type) and, when E is set, a
 * chain of extension headers: a length byte in 4-octet units counting the
 * whole header, content, and the next type as the last byte, 0 ending the
 * chain. Only a G-PDU carries a user packet, whose first nibble says IPv4
 * or IPv6. Another version or message (echo, error indication, end marker)
 * is left as plain UDP, as is a non-IP T-PDU (PPP, 5G Ethernet PDU
 * sessions), which counts as non-IP. A length past the UDP datagram, an
 * extension header of length 0 (it cannot hold its own length and next type
 * bytes), a chain past the length, or a G-PDU without a T-PDU is truncated. */
static bool decode_gtpu(struct dctx *c, uint32_t off)
{
    const uint8_t *h = c->data + off;
    uint32_t end, len;
    unsigned n = 0;
    uint8_t nxt;

    COUNT(c, GTPU);
    if (!fits(c, off, 8))
        return cut_short(c, off, 8, DECODER_GTPU_TRUNCATED);
    if ((h[0] & 0xf0) != 0x30 || h[1] != GTPU_G_PDU)
        return true;
    end = off + 8 + read_be16(h + 2);
    if (end > c->wire) {
        fault(c, DECODER_GTPU_TRUNCATED);
        return false;
    }
    set_wire_end(c, end);  /* bytes past the GTP length are not the T-PDU */
    off += 8;

    if (h[0] & 0x07) {
        if (!fits(c, off, 4))
            return cut_short(c, off, 4, DECODER_GTPU_TRUNCATED);
        /* The next type is only meaningful with E set. */
        nxt = (h[0] & 0x04) ? c->data[off + 3] : 0;
        off += 4;
        while (nxt != 0) {
            if (++n > MAX_GTPU_EXT_HDRS) {
                fault(c, DECODER_GTPU_EXT_HDR_LIMIT);
                return false;
            }
            if (!fits(c, off, 1))
                return cut_short(c, off, 1, DECODER_GTPU_TRUNCATED);
            len = (uint32_t)c->data[off] * 4;
            if (len == 0) {
                fault(c, DECODER_GTPU_TRUNCATED);
                return false;
            }
            if (!fits(c, off, len))
                return cut_short(c, off, len, DECODER_GTPU_TRUNCATED);
            nxt = c->data[off + len - 1];
            off += len;
        }
    }

    if (!fits(c, off, 1))
        return cut_short(c, off, 1, DECODER_GTPU_TRUNCATED);
    switch (c->data[off] >> 4) {
    case 4: return decode_tunnel(c, INNER_IPV4, off);
    case 6: return decode_tunnel(c, INNER_IPV6, off);
    default:
        COUNT(c, NON_IP);
        return true;
    }
}

static bool decode_ip_in_ip(struct dctx *c, uint32_t off, bool v6)
{
    if (v6)
        COUNT(c, IPV6_IN_IP);
    else
        COUNT(c, IPV4_IN_IP);
    if (c->frag)
        return true;
    return decode_tunnel(c, v6 ? INNER_IPV6 : INNER_IPV4, off);
}

/* ---- transport ---------------------------------------------------------- */

static bool decode_tcp(struct dctx *c, uint32_t off)
{
    struct decoded_packet *out = c->out;
    const uint8_t *h = c->data + off;
    uint32_t hlen;

    COUNT(c, TCP);
    if (!fits(c, off, 20))
        return cut_short(c, off, 20, DECODER_TCP_TRUNCATED);
    hlen = (uint32_t)(h[12] >> 4) * 4;
    /* A data offset below 5 words, or options running past the datagram,
     * cannot be a real header. Options cut by the snap length are fine:
     * everything we keep is in the first 20 bytes. */
    if (hlen < 20 || (uint64_t)off + hlen > c->wire) {
        fault(c, DECODER_TCP_BAD_HLEN);
        return false;
    }
    out->src_port = read_be16(h);
    out->dst_port = read_be16(h + 2);
    out->tcp_seq = read_be32(h + 4);
    out->tcp_ack = read_be32(h + 8);
    out->tcp_flags = h[13];
    out->tcp_window = read_be16(h + 14);
    out->l4_offset = (uint16_t)off;
    out->flags |= DECODED_L4;
    set_payload(c, off + hlen);
    return true;
}

static bool decode_udp(struct dctx *c, uint32_t off)
{
    struct decoded_packet *out = c->out;
    const uint8_t *h = c->data + off;
    uint32_t ulen;

    COUNT(c, UDP);
    if (!fits(c, off, 8))
        return cut_short(c, off, 8, DECODER_UDP_TRUNCATED);
    ulen = read_be16(h + 4);
    /* In a first fragment the UDP length covers the whole datagram, so it
     * is only checked against the IP payload of unfragmented packets. */
    if (ulen < 8 || (!c->frag && (uint64_t)off + ulen > c->wire)) {
        fault(c, DECODER_UDP_BAD_LEN);
        return false;
    }
    out->src_port = read_be16(h);
    out->dst_port = read_be16(h + 2);
    out->l4_offset = (uint16_t)off;
    out->flags |= DECODED_L4;
    if (!c->frag)
        set_wire_end(c, off + ulen);  /* bytes past the UDP length are junk */
    set_payload(c, off + 8);

    /* A fragment's payload is only part of the tunnelled packet. */
    if (c->frag)
        return true;
    if (out->dst_port == VXLAN_PORT)
        return decode_vxlan(c, off + 8);
    if (out->dst_port == GENEVE_PORT)
        return decode_geneve(c, off + 8);
    if (out->src_port == GTPU_PORT || out->dst_port == GTPU_PORT)
        return decode_gtpu(c, off + 8);
    return true;
}

/* ICMPv4 and ICMPv6 share the layout we need: type, code, checksum, then
 * for echo the identifier, which stands in for both ports so that a ping
 * session is one flow. Every message has at least these 8 bytes. */
static bool decode_icmp(struct dctx *c, uint32_t off, bool v6)
{
    struct decoded_packet *out = c->out;
    const uint8_t *h = c->data + off;
    bool echo;

    if (v6)
        COUNT(c, ICMPV6);
    else
        COUNT(c, ICMPV4);
    if (!fits(c, off, 8))
        return cut_short(c, off, 8, v6 ? DECODER_ICMPV6_TRUNCATED
                                       : DECODER_ICMPV4_TRUNCATED);
    out->icmp_type = h[0];
    out->icmp_code = h[1];
    if (v6)
        echo = h[0] == 128 || h[0] == 129;
    else
        echo = h[0] == 8 || h[0] == 0;
    if (echo)
        out->src_port = out->dst_port = read_be16(h + 4);
    out->l4_offset = (uint16_t)off;
    out->flags |= DECODED_L4;
    set_payload(c, off + 8);
    return true;
}

static bool decode_sctp(struct dctx *c, uint32_t off)
{
    struct decoded_packet *out = c->out;
    const uint8_t *h = c->data + off;

    COUNT(c, SCTP);
    if (!fits(c, off, 12))
        return cut_short(c, off, 12, DECODER_SCTP_TRUNCATED);
    out->src_port = read_be16(h);
    out->dst_port = read_be16(h + 2);
    out->l4_offset = (uint16_t)off;
    out->flags |= DECODED_L4;
    set_payload(c, off + 12);
    return true;
}

/* The IP payload at off carries proto. The caller has already set ip_proto
 * and the payload view to the whole IP payload. */
static bool decode_l4(struct dctx *c, uint8_t proto, uint32_t off)
{
    switch (proto) {
    case IPPROTO_TCP:    return decode_tcp(c, off);
    case IPPROTO_UDP:    return decode_udp(c, off);
    case IPPROTO_ICMP:   return decode_icmp(c, off, false);
    case IPPROTO_ICMPV6: return decode_icmp(c, off, true);
    case IPPROTO_SCTP:   return decode_sctp(c, off);
    case IPPROTO_GRE:    return decode_gre(c, off);
    case IPPROTO_IPIP:   return decode_ip_in_ip(c, off, false);
    case IPPROTO_IPV6:   return decode_ip_in_ip(c, off, true);
    default:
        COUNT(c, OTHER_IP_PROTO);
        return true;
    }
}

/* ---- network ------------------------------------------------------------ */

/* The fields both IP versions fill. The view's IP and L4 part is zero on
 * entry to an IP layer: decode_packet() and decode_tunnel() clear it. */
static void set_ip_common(struct dctx *c, uint8_t version, uint8_t proto,
                          uint8_t ttl, uint32_t off)
{
    struct decoded_packet *out = c->out;

    out->ip_version = version;
    out->ip_proto = proto;
    out->ttl = ttl;
    out->l3_offset = (uint16_t)off;
    out->flags |= DECODED_IP;
}

static bool decode_ipv4(struct dctx *c, uint32_t off)
{
    struct decoded_packet *out = c->out;
    const uint8_t *h = c->data + off;
    uint32_t hlen, tlen;
    uint16_t frag;

    COUNT(c, IPV4);
    c->frag = false;
    if (!fits(c, off, 20)) {
        cut_short(c, off, 20, DECODER_IPV4_TRUNCATED);
        return false;
    }
    if ((h[0] >> 4) != 4) {
        fault(c, DECODER_IPV4_BAD_VERSION);
        return false;
    }
    hlen = (uint32_t)(h[0] & 0x0f) * 4;
    if (hlen < 20) {
        fault(c, DECODER_IPV4_BAD_IHL);
        return false;
    }
    tlen = read_be16(h + 2);
    /* Past the enclosing datagram (or, outermost, past the frame's wire
     * length) the total length is a lie; past only the capture it is the
     * snap length at work, and set_wire_end() says so. */
    if (tlen < hlen || (uint64_t)off + tlen > c->wire) {
        fault(c, DECODER_IPV4_BAD_TOTAL_LEN);
        return false;
    }
    set_wire_end(c, off + tlen);   /* drops Ethernet padding */
    if (!fits(c, off, hlen)) {     /* options cut by the snap length */
        cut_short(c, off, hlen, DECODER_IPV4_TRUNCATED);
        return false;
    }

    memcpy(out->src_addr, h + 12, 4);   /* bytes 4..15 are already zero */
    memcpy(out->dst_addr, h + 16, 4);
    set_ip_common(c, 4, h[9], h[8], off);
    set_payload(c, off + hlen);
    if (hlen > 20) {
        out->flags |= DECODED_IP_OPTIONS;
        COUNT(c, IPV4_OPTIONS);
    }

    /* MF set or a non-zero offset: a fragment. Only the first one (offset
     * 0) carries the L4 header. */
    frag = read_be16(h + 6);
    if (frag & 0x3fff) {
        c->frag = true;
        out->flags |= DECODED_FRAGMENT;
        COUNT(c, IPV4_FRAG);
        if (frag & 0x1fff) {
            out->flags |= DECODED_FRAG_LATER;
            return true;
        }
    }
    return decode_l4(c, h[9], off + hlen);
}

/* How an IPv6 extension header walk ended. */
enum ext_walk { WALK_L4, WALK_NO_L4, WALK_FAULT };

/* Walk the IPv6 extension headers from *offp with first next header *nxtp,
 * leaving both at the upper-layer header. WALK_NO_L4 covers a later
 * fragment, ESP, no-next-header, and a chain cut by the snap length. */
static enum ext_walk ipv6_ext_walk(struct dctx *c, uint8_t *nxtp, uint32_t *offp)
{
    struct decoded_packet *out = c->out;
    uint8_t nxt = *nxtp;
    uint32_t off = *offp, len;
    enum ext_walk res = WALK_L4;
    unsigned n = 0;

    for (;;) {
        switch (nxt) {
        case IPPROTO_HOPOPTS:
        case IPPROTO_ROUTING:
        case IPPROTO_DSTOPTS:
        case IPPROTO_FRAGMENT:
        case IPPROTO_AH:
        case EXT_MOBILITY:
        case EXT_HIP:
        case EXT_SHIM6:
            break;
        case IPPROTO_ESP:     /* encrypted: nothing more to read */
        case IPPROTO_NONE:
            COUNT(c, OTHER_IP_PROTO);
            res = WALK_NO_L4;
            goto done;
        default:
            goto done;
        }
        if (++n > MAX_IPV6_EXT_HDRS) {
            fault(c, DECODER_IPV6_EXT_HDR_LIMIT);
            return WALK_FAULT;
        }
        /* Every extension header is at least 8 bytes: enough to read its
         * length, in 4-byte units for AH and 8-byte units for the rest. */
        len = 8;
        if (fits(c, off, len)) {
            if (nxt == IPPROTO_AH)
                len = ((uint32_t)c->data[off + 1] + 2) * 4;
            else if (nxt != IPPROTO_FRAGMENT)
                len = ((uint32_t)c->data[off + 1] + 1) * 8;
        }
        if (!fits(c, off, len)) {
            res = cut_short(c, off, len, DECODER_IPV6_EXT_HDR_TRUNCATED)
                  ? WALK_NO_L4 : WALK_FAULT;
            goto done;
        }

        if (nxt == IPPROTO_FRAGMENT) {
            uint16_t fo = read_be16(c->data + off + 2);
            /* Offset 0 with M clear is an atomic fragment (RFC 6946): a
             * whole packet, decoded as if the header were absent. */
            if (fo & 0xfff9) {
                c->frag = true;
                out->flags |= DECODED_FRAGMENT;
                COUNT(c, IPV6_FRAG);
                if (fo & 0xfff8) {
                    out->flags |= DECODED_FRAG_LATER;
                    res = WALK_NO_L4;
                }
            }
        }
        nxt = c->data[off];
        off += len;
        if (res != WALK_L4)
            goto done;
    }
done:
    *nxtp = nxt;
    *offp = off;
    return res;
}

static bool decode_ipv6(struct dctx *c, uint32_t off)
{
    struct decoded_packet *out = c->out;
    const uint8_t *h = c->data + off;
    uint32_t plen, end, l4off;
    enum ext_walk walk;
    uint8_t nxt;

    COUNT(c, IPV6);
    c->frag = false;
    if (!fits(c, off, 40)) {
        cut_short(c, off, 40, DECODER_IPV6_TRUNCATED);
        return false;
    }
    if ((h[0] >> 4) != 6) {
        fault(c, DECODER_IPV6_BAD_VERSION);
        return false;
    }
    plen = read_be16(h + 4);
    nxt = h[6];
    /* A zero payload length with hop-by-hop options is a jumbogram
     * (RFC 2675): the payload runs to the end of the enclosing datagram. */
    end = (plen == 0 && nxt == IPPROTO_HOPOPTS) ? c->wire : off + 40 + plen;
    /* IPv6 has no length counter of its own: a payload length past the
     * enclosing datagram means the packet was truncated on its way. */
    if (end > c->wire) {
        fault(c, DECODER_IPV6_TRUNCATED);
        return false;
    }
    set_wire_end(c, end);

    memcpy(out->src_addr, h + 8, 16);
    memcpy(out->dst_addr, h + 24, 16);
    set_ip_common(c, 6, nxt, h[7], off);
    set_payload(c, off + 40);

    /* Extension headers belong to the IP layer, like IPv4 options: a bad
     * one is counted but the addresses decoded so far stay. */
    l4off = off + 40;
    walk = ipv6_ext_walk(c, &nxt, &l4off);
    if (walk == WALK_FAULT)
        return false;
    out->ip_proto = nxt;
    set_payload(c, l4off);
    if (walk == WALK_NO_L4)
        return true;
    return decode_l4(c, nxt, l4off);
}

/* ---- link --------------------------------------------------------------- */

/* MPLS (RFC 3032): 4-byte label stack entries down to the one with the
 * bottom-of-stack bit. The stack does not say what it carries - only the
 * label's meaning at the router does - so, like every passive decoder, we
 * go by the first nibble after it: 4 or 6 is IP; anything else (a pseudowire
 * control word, RFC 4385, starts with 0) is left as non-IP rather than
 * guessed at. */
static bool decode_mpls(struct dctx *c, uint32_t off)
{
    unsigned labels = 0;

    COUNT(c, MPLS);
    for (;;) {
        if (labels == MAX_MPLS_LABELS) {
            fault(c, DECODER_MPLS_LABEL_LIMIT);
            return false;
        }
        if (!fits(c, off, 4)) {
            cut_short(c, off, 4, DECODER_MPLS_TRUNCATED);
            return false;
        }
        labels++;
        off += 4;
        if (c->data[off - 2] & 0x01)  /* S bit, low bit of the third byte */
            break;
    }
    /* A bottom label with nothing after it carries no packet at all. */
    if (!fits(c, off, 1)) {
        cut_short(c, off, 1, DECODER_MPLS_TRUNCATED);
        return false;
    }
    switch (c->data[off] >> 4) {
    case 4: return decode_ipv4(c, off);
    case 6: return decode_ipv6(c, off);
    default:
        COUNT(c, NON_IP);
        return false;
    }
}

/* The PPP protocol field at off, then what it carries. With protocol-field
 * compression (RFC 1661 6.5) a protocol below 0x100 is sent as its low byte
 * alone; real protocol numbers have an odd low byte and an even high byte,
 * so an odd first byte is a whole 1-byte field. trunc is the counter of the
 * layer holding the field (PPP link or PPPoE). */
static bool decode_ppp_proto(struct dctx *c, uint32_t off,
                             enum decoder_counter trunc)
{
    uint32_t n;
    uint16_t proto;

    if (!fits(c, off, 1)) {
        cut_short(c, off, 1, trunc);
        return false;
    }
    n = (c->data[off] & 0x01) ? 1 : 2;
    if (!fits(c, off, n)) {
        cut_short(c, off, n, trunc);
        return false;
    }
    proto = n == 1 ? c->data[off] : read_be16(c->data + off);
    off += n;

    switch (proto) {
    case PPP_IPV4:    return decode_ipv4(c, off);
    case PPP_IPV6:    return decode_ipv6(c, off);
    case PPP_MPLS:
    case PPP_MPLS_MC: return decode_mpls(c, off);
    default:
        COUNT(c, NON_IP);  /* LCP, IPCP, CHAP...: the session, not traffic */
        return false;
    }
}

/* PPPoE session stage (RFC 2516): version/type, code, session ID, length,
 * then a PPP frame of that length. The length drops Ethernet padding, as
 * the IP total length would, and a length past the frame is malformed. */
static bool decode_pppoe(struct dctx *c, uint32_t off)
{
    const uint8_t *h = c->data + off;
    uint32_t end;

    COUNT(c, PPPOE);
    if (!fits(c, off, 6)) {
        cut_short(c, off, 6, DECODER_PPPOE_TRUNCATED);
        return false;
    }
    /* Version 1, type 1 is the only one defined; a different one is some
     * other protocol's frame, not a malformed PPPoE header we could read. */
    if (h[0] != 0x11) {
        COUNT(c, NON_IP);
        return false;
    }
    end = off + 6 + read_be16(h + 4);
    if (end > c->wire) {
        fault(c, DECODER_PPPOE_TRUNCATED);
        return false;
    }
    set_wire_end(c, end);
    return decode_ppp_proto(c, off + 6, DECODER_PPPOE_TRUNCATED);
}

/* What an EtherType (or Cisco HDLC's copy of one) names at off, once any
 * VLAN tags are behind us. */
static bool decode_ether_proto(struct dctx *c, uint32_t off, uint16_t type)
{
    switch (type) {
    case ETHERTYPE_IPV4:       return decode_ipv4(c, off);
    case ETHERTYPE_IPV6:       return decode_ipv6(c, off);
    case ETHERTYPE_MPLS:
    case ETHERTYPE_MPLS_MC:    return decode_mpls(c, off);
    case ETHERTYPE_PPPOE_SESS: return decode_pppoe(c, off);
    case ETHERTYPE_PPPOE_DISC:  /* PADI, PADO...: session setup, never IP */
    default:
        COUNT(c, NON_IP);  /* ARP, LLDP, 802.3 lengths...: fine, not ours */
        return false;
    }
}

/* type is the EtherType found just before off; walk VLAN tags, then hand
 * what they carry on. Shared by Ethernet and both Linux cooked headers. */
static bool decode_ethertype(struct dctx *c, uint32_t off, uint16_t type)
{
    struct decoded_packet *out = c->out;
    unsigned tags = 0;

    while (type == ETHERTYPE_VLAN || type == ETHERTYPE_QINQ ||
           type == ETHERTYPE_QINQ_OLD) {
        if (tags == MAX_VLAN_TAGS) {
            fault(c, DECODER_VLAN_LAYER_LIMIT);
            return false;
        }
        if (!fits(c, off, 4)) {
            cut_short(c, off, 4, DECODER_VLAN_TRUNCATED);
            return false;
        }
        /* Only the outermost frame names the capture segment. */
        if (tags < 2 && c->depth == 0)
            out->vlan[tags] = read_be16(c->data + off) & 0x0fff;
        type = read_be16(c->data + off + 2);
        off += 4;
        tags++;
        COUNT(c, VLAN);
    }
    if (tags >= 2)
        COUNT(c, VLAN_QINQ);
    return decode_ether_proto(c, off, type);
}

static bool decode_ethernet(struct dctx *c, uint32_t off)
{
    COUNT(c, ETHERNET);
    if (!fits(c, off, 14)) {
        cut_short(c, off, 14, DECODER_ETHERNET_TRUNCATED);
        return false;
    }
    return decode_ethertype(c, off + 14, read_be16(c->data + off + 12));
}

/* Linux cooked v1: packet type, ARPHRD, address length, 8 address bytes,
 * protocol. v2 puts the protocol first and grows to 20 bytes. */
static bool decode_sll(struct dctx *c, bool v2)
{
    uint32_t hlen = v2 ? 20 : 16;

    COUNT(c, SLL);
    if (!fits(c, 0, hlen)) {
        cut_short(c, 0, hlen, DECODER_SLL_TRUNCATED);
        return false;
    }
    return decode_ethertype(c, hlen, read_be16(c->data + (v2 ? 0 : 14)));
}

/* BSD loopback: a 4-byte address family, host order for DLT_NULL and
 * network order for DLT_LOOP. Families fit in 16 bits, so whichever
 * reading is small is the right one. AF_INET6 differs across systems. */
static bool decode_null(struct dctx *c)
{
    uint32_t af;

    COUNT(c, NULL_LINK);
    if (!fits(c, 0, 4)) {
        cut_short(c, 0, 4, DECODER_NULL_TRUNCATED);
        return false;
    }
    af = read_be32(c->data);
    if (af > 0xffff)
        af = read_le32(c->data);
    switch (af) {
    case 2:                       /* AF_INET everywhere */
        return decode_ipv4(c, 4);
    case 10:                      /* Linux */
    case 24:                      /* NetBSD, OpenBSD, BSD/OS */
    case 28:                      /* FreeBSD, DragonFly */
    case 30:                      /* macOS */
        return decode_ipv6(c, 4);
    default:
        COUNT(c, NON_IP);
        return false;
    }
}

/* Cisco HDLC: address (0x0f unicast, 0x8f broadcast), control, and an
 * EtherType - which may also name MPLS or SLARP (0x8035, non-IP). */
static bool decode_chdlc(struct dctx *c)
{
    COUNT(c, CHDLC);
    if (!fits(c, 0, 4)) {
        cut_short(c, 0, 4, DECODER_CHDLC_TRUNCATED);
        return false;
    }
    return decode_ether_proto(c, 4, read_be16(c->data + 2));
}

/* PPP as captured on serial links: HDLC-like framing (RFC 1662) puts the
 * address 0xff and control 0x03 first, unless address-and-control-field
 * compression dropped them (DLT_PPP captures often lack them). A Cisco
 * HDLC address byte first is Cisco's framing of PPP links (RFC 1547 4.3.1),
 * which libpcap documents for LINKTYPE_PPP_HDLC and Cisco routers also
 * write as DLT_PPP; no PPP protocol in real use starts with those bytes. */
static bool decode_ppp(struct dctx *c)
{
    uint32_t off = 0;

    if (fits(c, 0, 1) && (c->data[0] == CHDLC_ADDR_UNICAST ||
                          c->data[0] == CHDLC_ADDR_MULTICAST))
        return decode_chdlc(c);
    COUNT(c, PPP);
    if (fits(c, 0, 1) && c->data[0] == 0xff) {
        if (!fits(c, 0, 2)) {
            cut_short(c, 0, 2, DECODER_PPP_TRUNCATED);
            return false;
        }
        /* 0xff then anything but 0x03 is no HDLC-like frame; read it as a
         * compressed protocol 0xff, which is non-IP. */
        if (c->data[1] == 0x03)
            off = 2;
    }
    return decode_ppp_proto(c, off, DECODER_PPP_TRUNCATED);
}

/* Raw IP: the version nibble is all there is to go on. */
static bool decode_raw(struct dctx *c)
{
    COUNT(c, RAW);
    if (!fits(c, 0, 1)) {
        cut_short(c, 0, 1, DECODER_RAW_BAD_VERSION);
        return false;
    }
    switch (c->data[0] >> 4) {
    case 4: return decode_ipv4(c, 0);
    case 6: return decode_ipv6(c, 0);
    default:
        fault(c, DECODER_RAW_BAD_VERSION);
        return false;
    }
}

/* ---- fast path ---------------------------------------------------------- */

/* Most traffic is Ethernet, at most one 802.1Q tag, then a whole IPv4
 * packet without options or fragmentation, or an IPv6 packet without
 * extension headers, carrying TCP or UDP that is not a tunnel. decode_fast()
 * decodes exactly that in one straight pass: no context, no per-layer calls,
 * no memset. It checks a frame before it counts it, so anything else - or
 * anything the layered decoder would count as snapped, malformed or special
 * - leaves the counters alone and goes to the layered decoder, which stays
 * the definition: on the frames it takes, the fast path must produce
 * exactly the fields and counters the layered decoder would.
 *
 * The helpers write *out as they go, every field by the time they succeed;
 * when one gives up, decode_layered() starts over with a memset. "end" is
 * the end of the IP datagram, which the fast path requires to lie within
 * the capture: no snap length, so no separate lim and wire. */

/* TCP at off: the header and its options within the datagram. */
static inline bool fast_tcp(const uint8_t *data, uint32_t off, uint32_t end,
                            struct decoded_packet *out)
{
    const uint8_t *h = data + off;
    uint32_t hlen;

    if (off + 20 > end)
        return false;
    hlen = (uint32_t)(h[12] >> 4) * 4;
    if (hlen < 20 || off + hlen > end)
        return false;
    out->src_port = read_be16(h);
    out->dst_port = read_be16(h + 2);
    out->tcp_seq = read_be32(h + 4);
    out->tcp_ack = read_be32(h + 8);
    out->tcp_flags = h[13];
    out->tcp_window = read_be16(h + 14);
    out->payload_offset = (uint16_t)(off + hlen);
    out->payload_len = (uint16_t)(end - off - hlen);
    return true;
}

/* UDP at off: a length within the datagram, and no tunnel port. Bytes past
 * the UDP length are not payload. */
static inline bool fast_udp(const uint8_t *data, uint32_t off, uint32_t end,
                            struct decoded_packet *out)
{
    const uint8_t *h = data + off;
    uint16_t sport, dport;
    uint32_t ulen;

    if (off + 8 > end)
        return false;
    sport = read_be16(h);
    dport = read_be16(h + 2);
    ulen = read_be16(h + 4);
    if (ulen < 8 || off + ulen > end || dport == VXLAN_PORT ||
        dport == GENEVE_PORT || sport == GTPU_PORT || dport == GTPU_PORT)
        return false;
    out->src_port = sport;
    out->dst_port = dport;
    out->tcp_seq = 0;
    out->tcp_ack = 0;
    out->tcp_flags = 0;
    out->tcp_window = 0;
    out->payload_offset = (uint16_t)(off + 8);
    out->payload_len = (uint16_t)(ulen - 8);
    return true;
}

/* The fields every fast-path result shares; the transport ones are up to
 * fast_l4(). */
static inline void fast_ip_common(struct decoded_packet *out, uint8_t version,
                                  uint8_t proto, uint8_t ttl, uint32_t l3,
                                  uint32_t l4)
{
    out->flags = DECODED_IP | DECODED_L4;
    out->ip_version = version;
    out->ip_proto = proto;
    out->ttl = ttl;
    out->icmp_type = 0;
    out->icmp_code = 0;
    out->l3_offset = (uint16_t)l3;
    out->l4_offset = (uint16_t)l4;
    out->mid_l3_offset = 0;
}

static inline bool fast_l4(const uint8_t *data, uint8_t proto, uint32_t off,
                           uint32_t end, struct decoded_packet *out)
{
    if (proto == IPPROTO_TCP)
        return fast_tcp(data, off, end, out);
    if (proto == IPPROTO_UDP)
        return fast_udp(data, off, end, out);
    return false;
}

/* IPv4 at off, wire being the frame's length on the wire. */
static inline bool fast_ipv4(const uint8_t *data, uint32_t off, uint32_t cap,
                             uint32_t wire, struct decoded_packet *out)
{
    const uint8_t *h = data + off;
    uint32_t end;

    if (off + 20 > cap || h[0] != 0x45)          /* version 4, no options */
        return false;
    end = off + read_be16(h + 2);
    if (end < off + 20 || end > wire || end > cap)
        return false;
    if (read_be16(h + 6) & 0x3fff)               /* MF or an offset */
        return false;
    memcpy(out->src_addr, h + 12, 4);
    memset(out->src_addr + 4, 0, 12);
    memcpy(out->dst_addr, h + 16, 4);
    memset(out->dst_addr + 4, 0, 12);
    fast_ip_common(out, 4, h[9], h[8], off, off + 20);
    return fast_l4(data, h[9], off + 20, end, out);
}

/* IPv6 at off: the next header is the transport, so no extension headers
 * (and no jumbogram, which needs a hop-by-hop header). */
static inline bool fast_ipv6(const uint8_t *data, uint32_t off, uint32_t cap,
                             uint32_t wire, struct decoded_packet *out)
{
    const uint8_t *h = data + off;
    uint32_t end;

    if (off + 40 > cap || (h[0] >> 4) != 6)
        return false;
    end = off + 40 + read_be16(h + 4);
    if (end > wire || end > cap)
        return false;
    memcpy(out->src_addr, h + 8, 16);
    memcpy(out->dst_addr, h + 24, 16);
    fast_ip_common(out, 6, h[6], h[7], off, off + 40);
    return fast_l4(data, h[6], off + 40, end, out);
}

/* What the fast path decoded, to be added to the counters once per burst:
 * they are read by another thread, so each update is a store of its own. */
struct fast_tally {
    uint64_t bytes;
    uint32_t pkts;      /* each also Ethernet */
    uint32_t vlan;
    uint32_t ipv4;      /* the rest IPv6 */
    uint32_t tcp;       /* the rest UDP */
};

static void fast_tally_flush(const struct fast_tally *t, struct decoder_counters *cnt)
{
    if (t->pkts == 0)
        return;
    counter_add(&cnt->v[DECODER_PKTS], t->pkts);
    counter_add(&cnt->v[DECODER_BYTES], t->bytes);
    counter_add(&cnt->v[DECODER_ETHERNET], t->pkts);
    counter_add(&cnt->v[DECODER_VLAN], t->vlan);
    counter_add(&cnt->v[DECODER_IPV4], t->ipv4);
    counter_add(&cnt->v[DECODER_IPV6], t->pkts - t->ipv4);
    counter_add(&cnt->v[DECODER_TCP], t->tcp);
    counter_add(&cnt->v[DECODER_UDP], t->pkts - t->tcp);
}

/* Ethernet, one optional VLAN tag, IP: true when *out holds the result,
 * tallied as the layered decoder would count it. Tallies nothing otherwise. */
static inline bool decode_fast(const struct packet *pkt, struct decoded_packet *out,
                               struct fast_tally *t)
{
    const uint8_t *data = pkt->data;
    uint32_t cap = pkt->caplen, wire, off, tagged;
    uint16_t type, vlan;
    bool ok;

    if (pkt->link_type != LINK_ETHERNET || data == NULL || cap < 18 ||
        cap > MAX_VIEW_BYTES)
        return false;
    wire = pkt->wirelen > cap ? pkt->wirelen : cap;
    /* Tagged or not without a branch (the compiler would otherwise compile
     * the rest twice, once per header length). An 18-byte frame is too
     * short for IP in either case. */
    tagged = read_be16(data + 12) == ETHERTYPE_VLAN;
    off = 14 + 4 * tagged;
    vlan = tagged ? read_be16(data + 14) & 0x0fff : 0;
    type = read_be16(data + off - 2);
    if (type == ETHERTYPE_IPV4)
        ok = fast_ipv4(data, off, cap, wire, out);
    else if (type == ETHERTYPE_IPV6)
        ok = fast_ipv6(data, off, cap, wire, out);
    else
        return false;
    if (!ok)
        return false;
    out->vlan[0] = vlan;
    out->vlan[1] = 0;

    t->pkts++;
    t->bytes += pkt->wirelen;
    t->vlan += tagged;
    t->ipv4 += type == ETHERTYPE_IPV4;
    t->tcp += out->ip_proto == IPPROTO_TCP;
    return true;
}

/* ---- whole frames and single layers ------------------------------------- */

/* A decode context over the whole of pkt, writing into out (zeroed by the
 * caller) and counting into counters. */
static void dctx_init(struct dctx *c, const struct packet *pkt, struct decoded_packet *out,
                      struct decoder_counters *counters)
{
    static const uint8_t no_bytes[1];

    /* A NULL frame reads as an empty one; no pointer math on NULL. */
    c->data = pkt->data ? pkt->data : no_bytes;
    c->cap = pkt->data ? pkt->caplen : 0;
    if (c->cap > MAX_VIEW_BYTES)
        c->cap = MAX_VIEW_BYTES;
    /* wirelen < caplen breaks the contract; trust the bytes we have. */
    c->wire = pkt->wirelen > pkt->caplen ? pkt->wirelen : pkt->caplen;
    c->lim = c->cap;
    c->depth = 0;
    c->frag = false;
    c->invalid = false;
    c->snapped = false;
    c->no_tunnels = false;
    c->out = out;
    c->cnt = counters;
}

/* Flag what the decode met on the way, counted once per decode. */
static void dctx_finish(struct dctx *c)
{
    if (c->snapped) {
        c->out->flags |= DECODED_SNAPPED;
        COUNT(c, SNAPPED);
    }
    if (c->invalid) {
        c->out->flags |= DECODED_INVALID;
        COUNT(c, INVALID);
    }
}

/* Every frame decode_fast() does not take: layer by layer. Kept out of line
 * so that its register needs do not weigh on the fast path. */
static __attribute__((noinline)) bool
decode_layered(const struct packet *pkt, struct decoded_packet *out,
               struct decoder_counters *counters)
{
    struct dctx c;

    memset(out, 0, sizeof(*out));
    counter_inc(&counters->v[DECODER_PKTS]);
    counter_add(&counters->v[DECODER_BYTES], pkt->wirelen);
    dctx_init(&c, pkt, out, counters);

    switch (pkt->link_type) {
    case LINK_ETHERNET:   decode_ethernet(&c, 0); break;
    case LINK_RAW:        decode_raw(&c); break;
    case LINK_LINUX_SLL:  decode_sll(&c, false); break;
    case LINK_LINUX_SLL2: decode_sll(&c, true); break;
    case LINK_NULL:       decode_null(&c); break;
    case LINK_PPP:        decode_ppp(&c); break;
    case LINK_CHDLC:      decode_chdlc(&c); break;
    default:              fault(&c, DECODER_LINK_UNSUPPORTED); break;
    }
    dctx_finish(&c);
    return (out->flags & DECODED_IP) != 0;
}

bool decode_ip_layer(const struct packet *pkt, uint16_t l3_offset, struct decoded_packet *out)
{
    /* The layer's counts were made by decode_packet(); these are written
     * and never read. Per thread, as workers decode side by side. */
    static _Thread_local struct decoder_counters uncounted;
    struct dctx c;

    memset(out, 0, sizeof(*out));
    dctx_init(&c, pkt, out, &uncounted);
    c.no_tunnels = true;
    if (fits(&c, l3_offset, 1)) {
        switch (c.data[l3_offset] >> 4) {
        case 4: decode_ipv4(&c, l3_offset); break;
        case 6: decode_ipv6(&c, l3_offset); break;
        default: break;
        }
    }
    dctx_finish(&c);
    return (out->flags & DECODED_IP) != 0;
}

bool decode_packet(const struct packet *pkt, struct decoded_packet *out,
                   struct decoder_counters *counters)
{
    struct fast_tally t = { 0 };

    if (decode_fast(pkt, out, &t)) {
        fast_tally_flush(&t, counters);
        return true;
    }
    return decode_layered(pkt, out, counters);
}

/* How many frames ahead of the decoder their first bytes are prefetched:
 * straight from a NIC they are in the LLC or memory, not in L1. */
#define DECODE_PREFETCH_AHEAD 4

void decode_burst(const struct packet *pkts, struct decoded_packet *out, unsigned n,
                  struct decoder_counters *counters)
{
    struct fast_tally t = { 0 };

    for (unsigned i = 0; i < n && i < DECODE_PREFETCH_AHEAD; i++)
        __builtin_prefetch(pkts[i].data);
    for (unsigned i = 0; i < n; i++) {
        if (i + DECODE_PREFETCH_AHEAD < n)
            __builtin_prefetch(pkts[i + DECODE_PREFETCH_AHEAD].data);
        if (!decode_fast(&pkts[i], &out[i], &t))
            decode_layered(&pkts[i], &out[i], counters);
    }
    fast_tally_flush(&t, counters);
}
