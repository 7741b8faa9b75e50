/* traffic.h - synthetic traffic for benchmarks: N flows of chosen sizes.
 *
 * Frames are Ethernet/IPv4/UDP or TCP. Flow i has its own source address
 * and ports; every other packet of a flow travels the reverse direction, so
 * the symmetric flow lookup is exercised. Flows are picked round-robin
 * (uniform) or by a Zipf law. Timestamps advance at the chosen packet rate.
 *
 * A SYN flood (syn_flood) is the exception: flow i is a spoofed source, a
 * pseudo-random address and port of its own (distinct for up to 2^32 - 1
 * flows), sending SYNs to one victim, SYNTH_VICTIM:80; nothing replies. */
#ifndef MAMORI_TRAFFIC_H
#define MAMORI_TRAFFIC_H

#include <stdbool.h>
#include <stdint.h>

#define SYNTH_MAX_FRAME 1514
#define SYNTH_VICTIM "198.51.100.80"   /* the SYN flood's target, port 80 */

struct synth_config {
    uint64_t flows;          /* distinct flows, >= 1 */
    uint64_t packets;        /* packets to generate */
    uint32_t size;           /* frame size with FCS (64..1518); 0 = IMIX 7:4:1 of 64/570/1518 */
    double zipf;             /* 0 = uniform round-robin, else Zipf exponent (e.g. 1.1) */
    uint8_t proto;           /* 6 (TCP, ACK segments) or 17 (UDP) */
    bool syn_flood;          /* TCP SYNs from spoofed sources to one victim */
    uint64_t pps;            /* packet-time rate for timestamps */
    uint64_t start_ns;       /* first timestamp */
    uint64_t seed;
};

void synth_config_default(struct synth_config *cfg);

/* Called for each generated frame; return non-zero to stop. */
typedef int (*synth_fn)(void *ctx, const uint8_t *frame, uint32_t len, uint64_t ts_ns);

/* Generate cfg->packets frames. 0, or what fn returned to stop. */
int synth_generate(const struct synth_config *cfg, synth_fn fn, void *ctx);

/* Parse "64", "128", "1500", "imix" into cfg->size. -1 on a bad value. */
int synth_parse_size(const char *text, uint32_t *size);
/* Parse "udp", "tcp" or "syn" (a SYN flood) into cfg. -1 on a bad value. */
int synth_parse_proto(const char *text, struct synth_config *cfg);
/* "udp", "tcp" or "syn". */
const char *synth_proto_name(const struct synth_config *cfg);

#endif
