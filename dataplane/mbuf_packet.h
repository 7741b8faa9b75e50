/* mbuf_packet.h - an rte_mbuf seen as a struct packet.
 *
 * Every DPDK-fed path (the capture loop and the benchmark replay) turns
 * mbufs into packets the same way: headers are read from the first
 * segment, the wire length is the whole chain. */
#ifndef MAMORI_MBUF_PACKET_H
#define MAMORI_MBUF_PACKET_H

#include <rte_mbuf.h>

#include "packet.h"

static inline void packet_from_mbuf(struct packet *p, const struct rte_mbuf *m,
                                    uint64_t ts_ns, uint16_t port)
{
    p->data = rte_pktmbuf_mtod(m, const uint8_t *);
    p->caplen = m->data_len;
    p->wirelen = m->pkt_len;
    p->ts_ns = ts_ns;
    p->clock_ns = 0;
    p->link_type = LINK_ETHERNET;
    p->port = port;
}

#endif
