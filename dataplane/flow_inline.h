/* flow_inline.h - the per-packet part of flow.c, inlined into the worker's
 * loop. Internal to dataplane/: flow.c and worker.c include it; everyone
 * else calls flow_update() and flow_tuple_reused() from flow.h, which are
 * these same functions. */
#ifndef MAMORI_FLOW_INLINE_H
#define MAMORI_FLOW_INLINE_H

#include <stdbool.h>
#include <stdint.h>

#include <netinet/in.h>

#include "flow.h"

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10

/* TCP flags are only meaningful when the decoder got to the TCP header; a
 * non-first fragment of a TCP packet has none. */
static inline bool has_tcp_header(const struct decoded_packet *d)
{
    return d->ip_proto == IPPROTO_TCP && (d->flags & DECODED_L4);
}

/* Out of line, in flow.c: one TCP header through the state machine. */
void flow_tcp_step(struct flow *f, enum flow_dir dir, uint8_t flags);

/* flow_update(). */
static inline void flow_update_inline(struct flow *f, unsigned src_side,
                                      const struct decoded_packet *d,
                                      uint32_t wirelen, uint64_t ts_ns)
{
    enum flow_dir dir = (src_side & 1) == f->initiator ? FLOW_TOSERVER : FLOW_TOCLIENT;

    f->pkts[dir]++;
    f->bytes[dir] += wirelen;
    /* Capture time may step back a little (multi-queue NICs, merged pcaps);
     * last_ts is the latest time seen, so it never drops below first_ts. */
    if (ts_ns > f->last_ts_ns)
        f->last_ts_ns = ts_ns;

    if (f->key.ip_proto == IPPROTO_TCP) {
        if (!has_tcp_header(d))
            return;
        f->tcp_flags[dir] |= d->tcp_flags;
        /* Most segments are data or ACKs of an open connection, which the
         * state machine would leave as they are. */
        if (f->tcp_state == TCP_STATE_ESTABLISHED &&
            !(d->tcp_flags & (TCP_SYN | TCP_FIN | TCP_RST)))
            f->state = FLOW_STATE_ESTABLISHED;
        else
            flow_tcp_step(f, dir, d->tcp_flags);
        return;
    }

    /* Connectionless: established once both sides have been heard from. */
    if (f->pkts[FLOW_TOSERVER] && f->pkts[FLOW_TOCLIENT])
        f->state = FLOW_STATE_ESTABLISHED;
}

/* flow_tuple_reused(). */
static inline bool flow_tuple_reused_inline(const struct flow *f, const struct decoded_packet *d)
{
    if (f->key.ip_proto != IPPROTO_TCP || !has_tcp_header(d))
        return false;
    if ((d->tcp_flags & (TCP_SYN | TCP_ACK)) != TCP_SYN)
        return false;
    return f->tcp_state == TCP_STATE_CLOSED || f->tcp_state == TCP_STATE_CLOSE_WAIT;
}

#endif
