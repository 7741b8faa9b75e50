/* flow.h - the flow key and the per-flow record a worker keeps.
 *
 * The key is symmetric: both directions of a conversation give the same key
 * and the same hash, because the two endpoints are stored in a canonical
 * order. That one property is what lets software dispatch (pcap files) and
 * the flow table agree on where a flow lives. */
#ifndef MAMORI_FLOW_H
#define MAMORI_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <rte_hash_crc.h>
#if defined(__SSE4_2__) && defined(__x86_64__)
#include <nmmintrin.h>
#endif
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "decoder.h"

/* Endpoint 0 is the smaller (address, port) of the two. */
struct flow_key {
    uint8_t  addr[2][16];
    uint16_t port[2];
    uint16_t vlan[2];
    uint8_t  ip_proto;
    uint8_t  ip_version;
    uint8_t  pad[6];       /* always zero: the key is hashed and compared whole */
};

_Static_assert(sizeof(struct flow_key) == 48, "flow_key is hashed as 6 words");

/* Bytes 0-7 of p as a number that orders as memcmp() orders the bytes. */
static inline uint64_t flow_be64(const uint8_t *p)
{
    uint64_t v;

    memcpy(&v, p, 8);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

/* Whether endpoint (a, ap) sorts after (b, bp): address bytes, then port.
 * Two 64-bit compares instead of a memcmp() call. */
static inline bool flow_endpoint_after(const uint8_t a[16], uint16_t ap,
                                       const uint8_t b[16], uint16_t bp)
{
    uint64_t a0 = flow_be64(a), b0 = flow_be64(b);
    uint64_t a1 = flow_be64(a + 8), b1 = flow_be64(b + 8);

    if (a0 != b0)
        return a0 > b0;
    if (a1 != b1)
        return a1 > b1;
    return ap > bp;
}

/* The key's last two words - ports, VLANs, protocol, version, zero pad -
 * as they lie in memory, built in registers. Stored as whole words, they
 * are read back whole by flow_key_hash(): a word assembled from 2-byte
 * stores cannot be forwarded to that load, which then waits for the stores
 * to reach the cache. */
static inline void flow_key_tail(uint64_t w[2], uint16_t port0, uint16_t port1,
                                 const uint16_t vlan[2], uint8_t proto, uint8_t version)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    w[0] = (uint64_t)port0 | (uint64_t)port1 << 16 |
           (uint64_t)vlan[0] << 32 | (uint64_t)vlan[1] << 48;
    w[1] = (uint64_t)proto | (uint64_t)version << 8;
#else
    w[0] = (uint64_t)port0 << 48 | (uint64_t)port1 << 32 |
           (uint64_t)vlan[0] << 16 | (uint64_t)vlan[1];
    w[1] = (uint64_t)proto << 56 | (uint64_t)version << 48;
#endif
}

_Static_assert(offsetof(struct flow_key, port) == 32 && offsetof(struct flow_key, vlan) == 36 &&
               offsetof(struct flow_key, ip_proto) == 40 && offsetof(struct flow_key, ip_version) == 41,
               "flow_key_tail() builds the key's words 4 and 5");

/* Fill *key from a decoded packet. Returns which key endpoint sent the
 * packet: 0 when its source is endpoint 0, 1 otherwise. */
static inline unsigned flow_key_from_decoded(struct flow_key *key,
                                             const struct decoded_packet *d)
{
    unsigned src_side = flow_endpoint_after(d->src_addr, d->src_port,
                                            d->dst_addr, d->dst_port);
    uint64_t tail[2];

    memcpy(key->addr[src_side], d->src_addr, 16);
    memcpy(key->addr[!src_side], d->dst_addr, 16);
    if (src_side)
        flow_key_tail(tail, d->dst_port, d->src_port, d->vlan, d->ip_proto, d->ip_version);
    else
        flow_key_tail(tail, d->src_port, d->dst_port, d->vlan, d->ip_proto, d->ip_version);
    memcpy(key->port, tail, sizeof(tail));
    return src_side;
}

/* One step of CRC32-C. Where the compiler may use SSE4.2 it is the one
 * instruction rte_hash_crc_8byte() would pick at run time, without that
 * function's check of the CPU on every call. */
static inline uint32_t flow_crc_word(uint64_t word, uint32_t crc)
{
#if defined(__SSE4_2__) && defined(__x86_64__)
    return (uint32_t)_mm_crc32_u64(crc, word);
#else
    return rte_hash_crc_8byte(word, crc);
#endif
}

/* CRC32-C over the whole key. Symmetric because the key is. Same value as
 * rte_hash_crc(key, 48, seed), but the words are read through memcpy:
 * rte_hash_crc() loads a struct's bytes as uint64_t, which strict aliasing
 * lets the compiler move ahead of the uint16_t stores that just filled the
 * key (seen with gcc -O2). */
static inline uint32_t flow_key_hash(const struct flow_key *key)
{
    uint64_t w[sizeof(*key) / 8];
    uint32_t h = 0x6d616d6fu;

    memcpy(w, key, sizeof(w));
    for (unsigned i = 0; i < sizeof(w) / sizeof(w[0]); i++)
        h = flow_crc_word(w[i], h);
    return h;
}

/* Three 16-byte compares: every lookup compares a key, and they take fewer
 * instructions than memcmp() of 48 bytes (4.5 a packet fewer, callgrind on
 * the nDPI mix). */
static inline bool flow_key_equal(const struct flow_key *a, const struct flow_key *b)
{
#if defined(__SSE2__)
    const __m128i *x = (const __m128i *)a, *y = (const __m128i *)b;
    __m128i eq = _mm_and_si128(
        _mm_and_si128(_mm_cmpeq_epi8(_mm_loadu_si128(x), _mm_loadu_si128(y)),
                      _mm_cmpeq_epi8(_mm_loadu_si128(x + 1), _mm_loadu_si128(y + 1))),
        _mm_cmpeq_epi8(_mm_loadu_si128(x + 2), _mm_loadu_si128(y + 2)));
    return _mm_movemask_epi8(eq) == 0xffff;
#else
    return memcmp(a, b, sizeof(*a)) == 0;
#endif
}

/* Lifecycle of a flow, used for its timeout and reported in EVE. */
enum flow_state {
    FLOW_STATE_NEW = 0,      /* one side heard from (TCP: handshake under way) */
    FLOW_STATE_ESTABLISHED,  /* both sides heard from (TCP: handshake done or midstream) */
    FLOW_STATE_CLOSING,      /* TCP: a FIN seen */
    FLOW_STATE_CLOSED,       /* TCP: RST, or FIN both ways */
    FLOW_STATE_COUNT
};

/* Finer TCP state, reported as EVE tcp.state. */
enum tcp_state {
    TCP_STATE_NONE = 0,   /* not TCP */
    TCP_STATE_SYN_SENT,
    TCP_STATE_SYN_RECV,
    TCP_STATE_ESTABLISHED,
    TCP_STATE_FIN_WAIT,   /* FIN from one side */
    TCP_STATE_CLOSE_WAIT, /* FIN from both sides, last ACK pending */
    TCP_STATE_CLOSED,
};

/* Why a flow ended, reported as EVE flow.reason. */
enum flow_end_reason {
    FLOW_END_TIMEOUT = 0,  /* idle past its state's timeout */
    FLOW_END_CLOSED,       /* TCP closed and its short closed timeout ran out, or the tuple was reused */
    FLOW_END_EVICTED,      /* pushed out to make room (table or bucket full) */
    FLOW_END_SHUTDOWN,     /* still live when the sensor stopped */
};

/* Direction relative to the flow's initiator (EVE's toserver/toclient). */
enum flow_dir { FLOW_TOSERVER = 0, FLOW_TOCLIENT = 1 };

struct flow {
    struct flow_key key;
    uint64_t first_ts_ns;
    uint64_t last_ts_ns;
    uint64_t pkts[2];           /* indexed by enum flow_dir */
    uint64_t bytes[2];          /* wire bytes, indexed by enum flow_dir */
    uint32_t hash;              /* flow_key_hash(&key) */
    uint8_t  initiator;         /* key endpoint (0/1) that is the client */
    uint8_t  state;             /* enum flow_state */
    uint8_t  tcp_state;         /* enum tcp_state */
    uint8_t  tcp_flags[2];      /* TCP flags seen, indexed by enum flow_dir */
    uint8_t  fin_seen;          /* bit per enum flow_dir */
    uint8_t  timeout_kind;      /* cached enum flow_state for the timer */
    uint8_t  in_use;
    /* owned by flow_table.c: timer-wheel links */
    uint32_t wheel_prev;
    uint32_t wheel_next;
    uint32_t wheel_slot;
    uint32_t match_slot;        /* owned by the worker: the flow's stream/flowbits slot, 0 = none */
};

/* Start a flow from its first packet: key, initiator, timestamps. Then
 * account that packet with flow_update() like every later one. Leaves the
 * fields the flow table owns (in_use, timeout_kind, wheel_*) alone. */
void flow_init(struct flow *f, const struct flow_key *key, uint32_t hash,
               unsigned src_side, const struct decoded_packet *d, uint64_t ts_ns);

/* Account one packet of the flow: counters, flags, TCP state machine.
 * src_side is what flow_key_from_decoded() returned for the packet. */
void flow_update(struct flow *f, unsigned src_side, const struct decoded_packet *d,
                 uint32_t wirelen, uint64_t ts_ns);

/* True when a packet should end the flow and start a new one under the same
 * key: a fresh SYN on a TCP flow that has already closed. */
bool flow_tuple_reused(const struct flow *f, const struct decoded_packet *d);

/* Suricata-style flow_id: stable for a flow whatever worker handled it. */
uint64_t flow_id(const struct flow *f);

const char *flow_state_name(enum flow_state s);
const char *tcp_state_name(enum tcp_state s);
const char *flow_end_reason_name(enum flow_end_reason r);

#endif
