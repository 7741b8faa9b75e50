/* bench_load.c - mamori-bench's traffic, loaded once into mbufs.
 *
 * Every frame is copied into an mbuf and given to the worker that owns its
 * flow, by the same software RSS the pcap path uses. With --multiply K the
 * capture is loaded K times, copy c with c xor'ed into the low 16 bits of
 * both IPv4 addresses (the last 16 of IPv6 ones): K times the flows, each
 * copy's packets interleaved with the others' at the capture's times.
 * Checksums are left as they are; the pipeline does not check them. */
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mbuf_dyn.h>

#include "bench.h"
#include "mbuf_packet.h"

/* Mbuf data room for captured frames; larger ones (GRO/TSO captures) go
 * to a second pool sized for them, up to what a 16-bit data room holds. */
#define POOL_FRAME 9216u
#define JUMBO_FRAME_MAX (UINT16_MAX - RTE_PKTMBUF_HEADROOM - 63u)

struct loader {
    struct bench_input *in;
    struct lane *lanes;
    unsigned n_lanes;
    unsigned multiply;
    enum link_type link;
    struct decoder_counters scratch;
    const char *error;
};

static int index_offset = -1;          /* the mbuf dynfield of bench_mbuf_index() */

uint32_t bench_mbuf_index(const struct rte_mbuf *m)
{
    return *RTE_MBUF_DYNFIELD(m, index_offset, const uint32_t *);
}

static int lane_append(struct lane *lane, struct rte_mbuf *m, uint64_t ts)
{
    if (lane->n == lane->cap) {
        uint64_t cap = lane->cap ? lane->cap * 2 : 4096;
        struct rte_mbuf **mb = realloc(lane->mbufs, cap * sizeof(*mb));
        uint64_t *t = realloc(lane->ts, cap * sizeof(*t));
        if (mb != NULL)
            lane->mbufs = mb;
        if (t != NULL)
            lane->ts = t;
        if (mb == NULL || t == NULL || cap > UINT32_MAX)
            return -1;
        lane->cap = cap;
    }
    *RTE_MBUF_DYNFIELD(m, index_offset, uint32_t *) = (uint32_t)lane->n;
    lane->mbufs[lane->n] = m;
    lane->ts[lane->n++] = ts;
    return 0;
}

/* Copy c of a frame: c xor'ed into both addresses' low 16 bits. */
static void rewrite_copy(uint8_t *frame, const struct decoded_packet *d, unsigned c)
{
    unsigned src = d->ip_version == 4 ? 12 : 8, dst = d->ip_version == 4 ? 16 : 24;
    unsigned len = d->ip_version == 4 ? 4 : 16;
    uint8_t *ip = frame + d->l3_offset;

    ip[src + len - 2] ^= (uint8_t)(c >> 8);
    ip[src + len - 1] ^= (uint8_t)c;
    ip[dst + len - 2] ^= (uint8_t)(c >> 8);
    ip[dst + len - 1] ^= (uint8_t)c;
}

/* One copy of a frame into an mbuf, to the worker that owns its flow. */
static int load_copy(struct loader *ld, const uint8_t *frame, uint32_t len, uint64_t ts,
                     unsigned copy, const struct decoded_packet *orig)
{
    struct rte_mempool *pool = len > POOL_FRAME && ld->in->jumbo_pool ? ld->in->jumbo_pool
                                                                       : ld->in->pool;
    struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
    struct packet pkt;
    struct decoded_packet d;
    unsigned lane = 0;

    if (m == NULL || rte_pktmbuf_tailroom(m) < len) {
        ld->error = m ? "a frame is larger than the mbuf data room" : "mbuf pool exhausted";
        rte_pktmbuf_free(m);
        return 1;
    }
    uint8_t *data = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)len);
    memcpy(data, frame, len);
    if (copy > 0)
        rewrite_copy(data, orig, copy);
    packet_from_mbuf(&pkt, m, ts, 0);
    pkt.link_type = (uint16_t)ld->link;
    if (decode_packet(&pkt, &d, &ld->scratch) && ld->n_lanes > 1) {
        struct flow_key key;
        flow_key_from_decoded(&key, &d);
        lane = worker_for_hash(flow_key_hash(&key), ld->n_lanes);
    }
    if (lane_append(&ld->lanes[lane], m, ts) < 0) {
        ld->error = "out of memory";
        return 1;
    }
    return 0;
}

/* synth_fn and pcap loop body: a frame, once per copy. */
static int load_frame(void *ctx, const uint8_t *frame, uint32_t len, uint64_t ts)
{
    struct loader *ld = ctx;
    struct bench_input *in = ld->in;
    struct decoded_packet orig;
    unsigned copies = ld->multiply;

    if (copies > 1) {
        struct packet pkt = { .data = frame, .caplen = len, .wirelen = len,
                              .link_type = (uint16_t)ld->link };
        if (!decode_packet(&pkt, &orig, &ld->scratch))
            copies = 1;                /* not IP: nothing to tell the copies apart by */
    }
    for (unsigned c = 0; c < copies; c++) {
        if (load_copy(ld, frame, len, ts, c, &orig) != 0)
            return 1;
        if (in->packets == 0 || ts < in->first_ts)
            in->first_ts = ts;
        if (ts > in->last_ts)
            in->last_ts = ts;
        in->packets++;
        in->bytes += len;
    }
    return 0;
}

static int load_pcap(struct loader *ld, const char *path)
{
    char errbuf[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, errbuf);
    struct pcap_pkthdr *h;
    const u_char *bytes;

    if (p == NULL) {
        fprintf(stderr, "mamori-bench: %s: %s\n", path, errbuf);
        return -1;
    }
    ld->link = link_type_from_dlt(pcap_datalink(p));
    while (pcap_next_ex(p, &h, &bytes) == 1)
        if (load_frame(ld, bytes, h->caplen,
                       (uint64_t)h->ts.tv_sec * 1000000000ull + (uint64_t)h->ts.tv_usec) != 0)
            break;
    pcap_close(p);
    return ld->error ? -1 : 0;
}

/* Mbufs for every frame: the pool holds the whole traffic. */
static struct rte_mempool *create_pool(const char *name, uint64_t packets, uint32_t max_frame)
{
    uint32_t room = RTE_PKTMBUF_HEADROOM + ((max_frame + 63) & ~63u);
    return rte_pktmbuf_pool_create(name, (unsigned)(packets + 1024), 256, 0,
                                   (uint16_t)room, rte_socket_id());
}

/* Frames of the capture by pool: those up to POOL_FRAME, and the larger
 * ones (which get mbufs of their own size, so a few offloaded giants do
 * not make every mbuf huge). */
static int count_pcap(const char *path, uint64_t *frames, uint64_t *jumbo_frames,
                      uint32_t *jumbo_max)
{
    char errbuf[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline(path, errbuf);
    struct pcap_pkthdr *h;
    const u_char *b;

    if (p == NULL) {
        fprintf(stderr, "mamori-bench: %s: %s\n", path, errbuf);
        return -1;
    }
    while (pcap_next_ex(p, &h, &b) == 1) {
        if (h->caplen <= POOL_FRAME) {
            (*frames)++;
        } else {
            (*jumbo_frames)++;
            *jumbo_max = RTE_MAX(*jumbo_max, h->caplen);
        }
    }
    pcap_close(p);
    if (*jumbo_max > JUMBO_FRAME_MAX) {
        fprintf(stderr, "mamori-bench: %s: a %u-byte frame is larger than an mbuf can hold\n",
                path, *jumbo_max);
        return -1;
    }
    return 0;
}

int bench_load(const struct bench_options *o, struct lane *lanes, struct bench_input *in)
{
    static const struct rte_mbuf_dynfield index_field = {
        .name = "mamori_bench_index", .size = sizeof(uint32_t), .align = __alignof__(uint32_t),
    };
    struct loader ld = { .in = in, .lanes = lanes, .n_lanes = o->workers,
                         .multiply = o->pcap ? o->multiply : 1, .link = LINK_ETHERNET };
    uint64_t frames = o->synth.packets, jumbo_frames = 0;
    uint32_t jumbo_max = 0;

    if ((index_offset = rte_mbuf_dynfield_register(&index_field)) < 0) {
        fprintf(stderr, "mamori-bench: mbuf field: %s\n", rte_strerror(rte_errno));
        return -1;
    }
    if (o->pcap != NULL) {
        frames = 0;
        if (count_pcap(o->pcap, &frames, &jumbo_frames, &jumbo_max) < 0)
            return -1;
    }
    /* Synthetic frames of one size get mbufs of that size: 10M 64-byte
     * frames then take 3 GB rather than 20. */
    uint32_t synth_frame = o->synth.size ? o->synth.size - 4 : SYNTH_MAX_FRAME;
    in->pool = create_pool("bench", frames * ld.multiply, o->pcap ? POOL_FRAME : synth_frame);
    if (in->pool != NULL && jumbo_frames > 0)
        in->jumbo_pool = create_pool("bench_jumbo", jumbo_frames * ld.multiply, jumbo_max);
    if (in->pool == NULL || (jumbo_frames > 0 && in->jumbo_pool == NULL)) {
        fprintf(stderr, "mamori-bench: mbuf pool of %llu: %s\n",
                (unsigned long long)((frames + jumbo_frames) * ld.multiply),
                rte_strerror(rte_errno));
        return -1;
    }
    int rc = o->pcap ? load_pcap(&ld, o->pcap) : synth_generate(&o->synth, load_frame, &ld);
    if (rc != 0 || ld.error) {
        fprintf(stderr, "mamori-bench: loading: %s\n", ld.error ? ld.error : "failed");
        return -1;
    }
    for (unsigned i = 0; i < o->workers; i++) {
        lanes[i].link = ld.link;
        lanes[i].loops = o->loops;
        lanes[i].loop_ns = in->last_ts - in->first_ts + 1000000000ull;
    }
    return 0;
}
