/* packet.h - a captured frame as every capture path hands it to a worker.
 *
 * DPDK mbufs, AF_XDP descriptors and pcap records all become a struct
 * packet: a pointer to the first byte of the link-layer header plus the
 * lengths and the capture time. Nothing here owns the bytes. */
#ifndef MAMORI_PACKET_H
#define MAMORI_PACKET_H

#include <stdint.h>

/* Link-layer framing of the first byte of a packet. */
enum link_type {
    LINK_ETHERNET = 0,  /* DLT_EN10MB */
    LINK_RAW,           /* DLT_RAW, DLT_IPV4, DLT_IPV6: starts at the IP header */
    LINK_LINUX_SLL,     /* DLT_LINUX_SLL, "Linux cooked" v1 */
    LINK_LINUX_SLL2,    /* DLT_LINUX_SLL2 */
    LINK_NULL,          /* DLT_NULL / DLT_LOOP: 4-byte address family */
    LINK_PPP,           /* DLT_PPP, LINKTYPE_PPP_HDLC: optional 0xff 0x03, protocol */
    LINK_CHDLC,         /* DLT_C_HDLC: Cisco HDLC, EtherType-like protocol */
    LINK_UNSUPPORTED,   /* anything else: counted, never decoded */
};

struct packet {
    const uint8_t *data;   /* first byte of the link-layer header */
    uint32_t caplen;       /* bytes present at data */
    uint32_t wirelen;      /* bytes the frame had on the wire (>= caplen) */
    uint64_t ts_ns;        /* capture time, nanoseconds since the epoch */
    uint64_t clock_ns;     /* the capture's clock when it handed the packet
                            * over, 0 = ts_ns. Files whose timestamps go
                            * backwards keep one clock for every worker:
                            * flows expire by it, so results do not depend
                            * on how packets are spread over workers. */
    uint16_t link_type;    /* enum link_type */
    uint16_t port;         /* capture port / interface index (EVE in_iface) */
};

#endif
