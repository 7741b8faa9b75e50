/* flow.c - what one flow record learns from its packets.
 *
 * A flow starts with flow_init() on its first packet and then takes
 * flow_update() for every packet, the first one included: init decides who
 * the client is, update does the accounting and the TCP state machine. The
 * table (flow_table.c) owns in_use, timeout_kind and the wheel links;
 * nothing here touches them.
 *
 * The TCP state machine is deliberately coarse. There is no sequence number
 * tracking: a sensor sees both directions with losses and reordering, and
 * all it needs the state for is the idle timeout and the EVE report.
 *
 * The per-packet part is in flow_inline.h, for the worker to inline. */
#include <stddef.h>
#include <netinet/in.h>

#include "flow_inline.h"

void flow_init(struct flow *f, const struct flow_key *key, uint32_t hash,
               unsigned src_side, const struct decoded_packet *d, uint64_t ts_ns)
{
    f->key = *key;
    f->hash = hash;
    f->first_ts_ns = ts_ns;
    f->last_ts_ns = ts_ns;
    f->pkts[0] = f->pkts[1] = 0;
    f->bytes[0] = f->bytes[1] = 0;
    f->state = FLOW_STATE_NEW;
    f->tcp_state = TCP_STATE_NONE;
    f->tcp_flags[0] = f->tcp_flags[1] = 0;
    f->fin_seen = 0;
    f->match_slot = 0;

    /* The sender of the first packet is the client, unless that packet is a
     * SYN-ACK: then we missed the SYN and the receiver is the client. */
    f->initiator = (uint8_t)(src_side & 1);
    if (has_tcp_header(d) && (d->tcp_flags & (TCP_SYN | TCP_ACK)) == (TCP_SYN | TCP_ACK))
        f->initiator = (uint8_t)!f->initiator;
}

/* The coarse state follows from the TCP one. */
static uint8_t tcp_coarse_state(enum tcp_state s)
{
    switch (s) {
    case TCP_STATE_ESTABLISHED:
        return FLOW_STATE_ESTABLISHED;
    case TCP_STATE_FIN_WAIT:
    case TCP_STATE_CLOSE_WAIT:
        return FLOW_STATE_CLOSING;
    case TCP_STATE_CLOSED:
        return FLOW_STATE_CLOSED;
    default:
        return FLOW_STATE_NEW;
    }
}

/* A FIN moves an open connection towards closing: one side's FIN makes it
 * FIN_WAIT, the second side's CLOSE_WAIT. Repeated FINs of the same side
 * (retransmissions) change nothing. */
static void tcp_fin(struct flow *f, enum flow_dir dir)
{
    f->fin_seen |= (uint8_t)(1u << dir);
    f->tcp_state = f->fin_seen == 3 ? TCP_STATE_CLOSE_WAIT : TCP_STATE_FIN_WAIT;
}

static void tcp_step(struct flow *f, enum flow_dir dir, uint8_t flags)
{
    bool syn = flags & TCP_SYN, ack = flags & TCP_ACK, fin = flags & TCP_FIN;

    /* RST from either side ends the connection, whatever came before. */
    if (flags & TCP_RST) {
        f->tcp_state = TCP_STATE_CLOSED;
        return;
    }

    switch ((enum tcp_state)f->tcp_state) {
    case TCP_STATE_NONE:
        /* First TCP header of the flow. Without a SYN we picked the
         * connection up midstream and take it as established. */
        if (syn)
            f->tcp_state = ack ? TCP_STATE_SYN_RECV : TCP_STATE_SYN_SENT;
        else
            f->tcp_state = TCP_STATE_ESTABLISHED;
        break;
    case TCP_STATE_SYN_SENT:
        if (syn && ack && dir == FLOW_TOCLIENT)
            f->tcp_state = TCP_STATE_SYN_RECV;
        break;
    case TCP_STATE_SYN_RECV:
        if (ack && !syn && dir == FLOW_TOSERVER)
            f->tcp_state = TCP_STATE_ESTABLISHED;
        break;
    case TCP_STATE_CLOSE_WAIT:
        /* Both FINs seen: the ACK of the last one closes the connection. */
        if (ack && !syn && !fin)
            f->tcp_state = TCP_STATE_CLOSED;
        return;
    case TCP_STATE_ESTABLISHED:
    case TCP_STATE_FIN_WAIT:
    case TCP_STATE_CLOSED:
        break;
    }

    /* A FIN counts once the connection is open (a midstream pickup or the
     * handshake's last ACK may carry one too). */
    if (fin && (f->tcp_state == TCP_STATE_ESTABLISHED || f->tcp_state == TCP_STATE_FIN_WAIT))
        tcp_fin(f, dir);
}

/* The TCP part of flow_update(), which flow_inline.h skips for segments
 * that cannot change the state. */
void flow_tcp_step(struct flow *f, enum flow_dir dir, uint8_t flags)
{
    tcp_step(f, dir, flags);
    f->state = tcp_coarse_state((enum tcp_state)f->tcp_state);
}

void flow_update(struct flow *f, unsigned src_side, const struct decoded_packet *d,
                 uint32_t wirelen, uint64_t ts_ns)
{
    flow_update_inline(f, src_side, d, wirelen, ts_ns);
}

bool flow_tuple_reused(const struct flow *f, const struct decoded_packet *d)
{
    return flow_tuple_reused_inline(f, d);
}

/* splitmix64's finaliser: every input bit reaches every output bit. */
static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

/* Like Suricata's, the id fits in 51 bits so that JSON readers that parse
 * numbers as doubles keep it exact. It depends only on the key and the start
 * time, so any worker (or a re-run over the same pcap) gives the same id. */
uint64_t flow_id(const struct flow *f)
{
    uint64_t id = mix64(((uint64_t)flow_key_hash(&f->key) << 32) ^ mix64(f->first_ts_ns));

    id &= (1ULL << 51) - 1;
    return id ? id : 1;
}

const char *flow_state_name(enum flow_state s)
{
    static const char *const names[] = {
        [FLOW_STATE_NEW] = "new",
        [FLOW_STATE_ESTABLISHED] = "established",
        [FLOW_STATE_CLOSING] = "closing",
        [FLOW_STATE_CLOSED] = "closed",
    };
    return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "unknown";
}

const char *tcp_state_name(enum tcp_state s)
{
    static const char *const names[] = {
        [TCP_STATE_NONE] = "none",
        [TCP_STATE_SYN_SENT] = "syn_sent",
        [TCP_STATE_SYN_RECV] = "syn_recv",
        [TCP_STATE_ESTABLISHED] = "established",
        [TCP_STATE_FIN_WAIT] = "fin_wait",
        [TCP_STATE_CLOSE_WAIT] = "close_wait",
        [TCP_STATE_CLOSED] = "closed",
    };
    return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "unknown";
}

const char *flow_end_reason_name(enum flow_end_reason r)
{
    static const char *const names[] = {
        [FLOW_END_TIMEOUT] = "timeout",
        [FLOW_END_CLOSED] = "closed",
        [FLOW_END_EVICTED] = "evicted",
        [FLOW_END_SHUTDOWN] = "shutdown",
    };
    return (unsigned)r < sizeof(names) / sizeof(names[0]) ? names[r] : "unknown";
}
