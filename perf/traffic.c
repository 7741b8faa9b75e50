/* traffic.c - building synthetic frames for the benchmarks. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "traffic.h"

void synth_config_default(struct synth_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->flows = 1000000;
    cfg->packets = 2000000;
    cfg->size = 64;
    cfg->proto = 17;
    cfg->pps = 14880952;              /* 10 GbE line rate at 64 bytes */
    cfg->start_ns = 1700000000ull * 1000000000ull;
    cfg->seed = 0x6d616d6f7269ull;
}

int synth_parse_size(const char *text, uint32_t *size)
{
    if (strcmp(text, "imix") == 0) {
        *size = 0;
        return 0;
    }
    char *end;
    unsigned long v = strtoul(text, &end, 10);
    if (*end != '\0' || v < 64 || v > 1518)
        return -1;
    *size = (uint32_t)v;
    return 0;
}

int synth_parse_proto(const char *text, struct synth_config *cfg)
{
    cfg->syn_flood = strcmp(text, "syn") == 0;
    if (strcmp(text, "udp") == 0)
        cfg->proto = 17;
    else if (strcmp(text, "tcp") == 0 || cfg->syn_flood)
        cfg->proto = 6;
    else
        return -1;
    return 0;
}

const char *synth_proto_name(const struct synth_config *cfg)
{
    return cfg->syn_flood ? "syn" : cfg->proto == 6 ? "tcp" : "udp";
}

static uint64_t xorshift64(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *s = x;
    return x * 0x2545f4914f6cdd1dull;
}

/* Zipf rank in [0, n) by inverting the continuous approximation of its CDF. */
static uint64_t zipf_rank(uint64_t n, double s, uint64_t *rng)
{
    double u = (double)(xorshift64(rng) >> 11) / (double)(1ull << 53);
    double r;
    if (fabs(s - 1.0) < 1e-9)
        r = exp(u * log((double)n));
    else
        r = pow(u * (pow((double)n, 1.0 - s) - 1.0) + 1.0, 1.0 / (1.0 - s));
    uint64_t k = (uint64_t)r;
    return k >= 1 && k <= n ? k - 1 : 0;
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static uint16_t ip_checksum(const uint8_t *hdr, unsigned len)
{
    uint32_t sum = 0;
    for (unsigned i = 0; i < len; i += 2)
        sum += (uint32_t)(hdr[i] << 8 | hdr[i + 1]);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/* The Ethernet and IPv4 headers of a len-byte frame whose IP packet is
 * ip_len bytes (the rest is Ethernet padding), zeroed beyond them.
 * Returns the transport header. */
static uint8_t *put_eth_ipv4(uint8_t *f, uint32_t len, uint32_t ip_len, uint8_t proto,
                             const uint8_t src[4], const uint8_t dst[4])
{
    memset(f, 0, len);
    memcpy(f, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01", 12);
    put16(f + 12, 0x0800);
    uint8_t *ip = f + 14;
    ip[0] = 0x45;
    put16(ip + 2, (uint16_t)ip_len);
    ip[8] = 64;
    ip[9] = proto;
    memcpy(ip + 12, src, 4);
    memcpy(ip + 16, dst, 4);
    put16(ip + 10, ip_checksum(ip, 20));
    return ip + 20;
}

/* One frame of flow `flow`; `reply` swaps the endpoints. Returns its length. */
static uint32_t build_frame(uint8_t *f, uint32_t wire_size, uint8_t proto, uint64_t flow, int reply)
{
    uint32_t len = wire_size - 4;                 /* the FCS is not captured */
    uint8_t client[4] = { 10, (uint8_t)(flow >> 16), (uint8_t)(flow >> 8), (uint8_t)flow };
    uint8_t server[4] = { 192, 168, (uint8_t)(flow >> 24 & 0x0f), 1 };
    uint16_t cport = (uint16_t)(1024 + (flow >> 28) * 7 + (flow & 0x3ff)), sport = proto == 6 ? 443 : 53;

    uint8_t *th = put_eth_ipv4(f, len, len - 14, proto, reply ? server : client,
                               reply ? client : server);
    put16(th, reply ? sport : cport);
    put16(th + 2, reply ? cport : sport);
    if (proto == 6) {
        th[12] = 5 << 4;
        th[13] = 0x10;                             /* ACK: a connection in progress */
        put16(th + 14, 65535);
    } else {
        put16(th + 4, (uint16_t)(len - 34));
    }
    return len;
}

/* A bijection of 32 bits (odd multipliers and xorshifts are invertible),
 * so distinct flows get distinct spoofed addresses. */
static uint32_t mix32(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

/* A SYN of spoofed source `flow` to SYNTH_VICTIM:80. Returns its length. */
static uint32_t build_syn(uint8_t *f, uint32_t wire_size, uint64_t flow, uint32_t seq)
{
    uint32_t len = wire_size - 4, addr = mix32((uint32_t)flow + 1);   /* flow 0: not 0.0.0.0 */
    uint8_t src[4] = { (uint8_t)(addr >> 24), (uint8_t)(addr >> 16), (uint8_t)(addr >> 8),
                       (uint8_t)addr };
    uint8_t victim[4] = { 198, 51, 100, 80 };
    uint16_t sport = (uint16_t)(1024 + mix32((uint32_t)flow ^ 0x5bd1e995u) % 64512);

    /* A bare SYN, 40 bytes of IP; what the frame size adds is padding. */
    uint8_t *th = put_eth_ipv4(f, len, 40, 6, src, victim);
    put16(th, sport);
    put16(th + 2, 80);
    put16(th + 4, (uint16_t)(seq >> 16));
    put16(th + 6, (uint16_t)seq);
    th[12] = 5 << 4;
    th[13] = 0x02;                                 /* SYN */
    put16(th + 14, 64240);
    return len;
}

static uint32_t imix_size(uint64_t i)
{
    static const uint32_t pattern[12] = { 64, 570, 64, 64, 570, 64, 1518, 64, 570, 64, 64, 570 };
    return pattern[i % 12];
}

int synth_generate(const struct synth_config *cfg, synth_fn fn, void *ctx)
{
    uint8_t frame[SYNTH_MAX_FRAME + 4];
    uint64_t rng = cfg->seed | 1;
    uint64_t gap_ns = cfg->pps ? 1000000000ull / cfg->pps : 0;
    uint64_t ts = cfg->start_ns, frac = 0;

    for (uint64_t i = 0; i < cfg->packets; i++) {
        uint64_t flow = cfg->zipf > 0 ? zipf_rank(cfg->flows, cfg->zipf, &rng) : i % cfg->flows;
        /* Round-robin: the k-th visit of a flow alternates direction. */
        int reply = cfg->zipf > 0 ? (int)(xorshift64(&rng) & 1) : (int)((i / cfg->flows) & 1);
        uint32_t size = cfg->size ? cfg->size : imix_size(i);
        uint32_t len = cfg->syn_flood
            ? build_syn(frame, size, flow, (uint32_t)xorshift64(&rng))
            : build_frame(frame, size, cfg->proto, flow, reply);
        int rc = fn(ctx, frame, len, ts);
        if (rc != 0)
            return rc;
        /* Spread the remainder of 1e9 / pps so the average rate is exact. */
        ts += gap_ns;
        frac += cfg->pps ? 1000000000ull % cfg->pps : 0;
        if (cfg->pps && frac >= cfg->pps) {
            ts++;
            frac -= cfg->pps;
        }
    }
    return 0;
}
