/* anomaly_detect.c - the detectors, run once per merged tick on the main
 * thread: floods and reflection per destination, scans, sweeps and brute
 * force per source, global change points, decode anomalies. Each finding
 * goes to an_observe() (anomaly.c), which keeps the attack's lifecycle. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "anomaly_engine_int.h"

static double min2(double a, double b) { return a < b ? a : b; }
static double max2(double a, double b) { return a > b ? a : b; }

/* ---- reading a merged snapshot ------------------------------------------------------ */

static double hll_min_rows(const struct anomaly_engine *e, const struct an_snap *s, uint64_t h)
{
    double best = INFINITY;
    for (unsigned r = 0; r < AN_ROWS; r++) {
        const struct an_hll_cell *c =
            &s->dsrc[(size_t)r * e->dims.dsrc_width + an_col(h, r, e->dims.dsrc_shift)];
        best = min2(best, hll_reg_estimate(c->reg, AN_HLL_P));
    }
    return best;
}

static void dst_estimate(const struct anomaly_engine *e, const struct an_snap *s, uint64_t x,
                         struct an_dst_est *est)
{
    size_t k0 = an_dst_index(&e->dims, 0, x), k1 = an_dst_index(&e->dims, 1, x);
    const struct an_dst_cell *c0 = &s->dst[k0], *c1 = &s->dst[k1];
    const struct an_dst_ext *x0 = &s->dst_ext[k0], *x1 = &s->dst_ext[k1];

    memset(est, 0, sizeof(*est));
    for (unsigned i = 0; i < AN_NCLASS; i++) {
        est->pkts[i] = min2(an_dst_count(s, k0, i), an_dst_count(s, k1, i));
        est->total_pkts += est->pkts[i];
    }
    for (unsigned i = 0; i < AN_NBCLASS; i++) {
        est->bytes[i] = min2(c0->bytes[i], c1->bytes[i]) * (1u << AN_BYTE_SHIFT);
        est->total_bytes += est->bytes[i];
    }
    est->new_flows = min2(an_dst_count(s, k0, AN_NEW_FLOWS), an_dst_count(s, k1, AN_NEW_FLOWS));
    est->refl_port = x0->refl_votes >= x1->refl_votes ? x0->refl_port : x1->refl_port;
    est->distinct_sources = -1;      /* computed when needed */
}

static double distinct_sources(const struct anomaly_engine *e, const struct an_snap *s,
                               uint64_t h, struct an_dst_est *est)
{
    if (est->distinct_sources < 0)
        est->distinct_sources = hll_min_rows(e, s, h);
    return est->distinct_sources;
}

static void cell_addr(struct an_addr *a, const uint64_t key[2], uint8_t version)
{
    a->w[0] = key[0];
    a->w[1] = key[1];
    a->version = version;
}

/* ---- tracked destinations: open addressing, linear probing ------------------------- */

static bool an_addr_eq(const struct an_addr *a, const struct an_addr *b)
{
    return a->w[0] == b->w[0] && a->w[1] == b->w[1] && a->version == b->version;
}

static struct an_tracked_dst *dst_find(struct anomaly_engine *e, uint64_t h,
                                       const struct an_addr *a, bool insert, uint64_t tick)
{
    uint32_t i = (uint32_t)h & e->dst_mask;
    for (;;) {
        struct an_tracked_dst *t = &e->dsts[i];
        if (!t->used)
            break;
        if (t->h == h && an_addr_eq(&t->addr, a))
            return t;
        i = (i + 1) & e->dst_mask;
    }
    if (!insert)
        return NULL;
    if (e->dst_count >= e->cfg.track_max) {
        e->counters[ANOMALY_ENGINE_TRACK_FULL]++;
        return NULL;
    }
    struct an_tracked_dst *t = &e->dsts[i];
    memset(t, 0, sizeof(*t));
    t->used = true;
    t->h = h;
    t->x = an_addr_x(a, e->cfg.seed);
    t->addr = *a;
    t->first_tick = tick;
    t->last_active = tick;
    t->eval_tick = AN_NO_TICK;
    t->th = an_thresholds_for(e, a);
    for (unsigned m = 0; m < AN_M_COUNT; m++)
        ewma_init(&t->base[m], e->cfg.baseline_alpha, 1);
    cusum_init(&t->cu_flows, t->th->dst_spike.cusum_k, t->th->dst_spike.cusum_h);
    cusum_init(&t->cu_bps, t->th->dst_spike.cusum_k, t->th->dst_spike.cusum_h);
    e->dst_count++;
    return t;
}

/* Backward-shift deletion keeps every probe chain unbroken. */
#define TABLE_REMOVE(tab, mask, idx, count)                                      \
    do {                                                                         \
        uint32_t i_ = (idx), j_ = (idx);                                         \
        for (;;) {                                                               \
            j_ = (j_ + 1) & (mask);                                              \
            if (!(tab)[j_].used)                                                 \
                break;                                                           \
            uint32_t k_ = (uint32_t)(tab)[j_].h & (mask);                        \
            bool move_ = i_ <= j_ ? (k_ <= i_ || k_ > j_) : (k_ <= i_ && k_ > j_); \
            if (move_) {                                                         \
                (tab)[i_] = (tab)[j_];                                           \
                i_ = j_;                                                         \
            }                                                                    \
        }                                                                        \
        (tab)[i_].used = false;                                                  \
        (count)--;                                                               \
    } while (0)

/* ---- rate detectors ----------------------------------------------------------------- */

/* Effective threshold of one unit: the floor, raised by a trusted baseline. */
static double unit_threshold(const struct anomaly_rate_cfg *rc, double floor,
                             const struct ewma *b, bool ready, double *std)
{
    double th = floor;
    *std = 0;
    if (ready && b) {
        /* Counts are at least Poisson-noisy; and a key that was always 0
         * has no deviation to speak of: 1 % of the floor stands in. */
        *std = max2(max2(ewma_std(b), sqrt(max2(b->mean, 0))), 0.01 * floor);
        th = max2(th, max2(b->mean + rc->z * *std, rc->ratio * b->mean));
    }
    return th;
}

/* Check pps and bps (those with a non-zero floor) and describe the unit
 * that is furthest above its threshold in *o. Returns the ratio
 * value / threshold of that unit (0 when disabled). */
static double rate_check(const struct anomaly_rate_cfg *rc, double pps, double bps,
                         const struct ewma *bp, const struct ewma *bb, bool ready,
                         const char *mp, const char *mb, struct an_obs *o)
{
    double best = 0;
    if (!rc->enabled)
        return 0;
    for (unsigned u = 0; u < 2; u++) {
        double floor = u ? rc->bps : rc->pps;
        if (floor <= 0)
            continue;
        const struct ewma *b = u ? bb : bp;
        double std, v = u ? bps : pps;
        double th = unit_threshold(rc, floor, b, ready, &std);
        double r = v / th;
        if (r > best || best == 0) {
            best = r;
            o->metric = u ? mb : mp;
            o->value = v;
            o->threshold = th;
            o->mean = ready && b ? b->mean : 0;
            o->std = std;
            o->score = ready && b && std > 0 ? (v - b->mean) / std : 0;
        }
    }
    return best;
}

/* Learn from a value only when it is not itself (nearly) an attack. While
 * the baseline is young everything is learned: a host that is always busy
 * raises its own threshold instead of alerting for ever, at the price of
 * learning an attack that was already running at start. */
static void learn(struct ewma *b, const struct anomaly_rate_cfg *rc, double floor, double v,
                  bool ready, double sustain)
{
    double std;
    if (ready && floor > 0 && rc->enabled && v >= unit_threshold(rc, floor, b, true, &std) * sustain)
        return;
    ewma_update(b, v);
}

struct dst_ctx {
    struct anomaly_engine *e;
    const struct an_snap *s;
    uint64_t tick;
    uint64_t h;
    struct an_tracked_dst *t;      /* NULL: untracked, floors only */
    const struct anomaly_thresholds *th;
    struct an_dst_est *est;
    struct an_obs base;            /* victim and traffic filled in */
    bool ready;
};

/* One rate detector on one destination. `extra` is a further condition of
 * the attack (handshake completion, distinct sources); false vetoes. */
static void rate_detect(struct dst_ctx *c, enum anomaly_detector det,
                        const struct anomaly_rate_cfg *rc, double pps, double bps,
                        enum an_metric mp, enum an_metric mb, const char *np, const char *nb,
                        uint8_t proto, bool extra)
{
    struct an_obs o = c->base;
    const struct ewma *bp = c->t && mp < AN_M_COUNT ? &c->t->base[mp] : NULL;
    const struct ewma *bb = c->t && mb < AN_M_COUNT ? &c->t->base[mb] : NULL;

    double r = rate_check(rc, pps, bps, bp, bb, c->ready, np, nb, &o);
    if (!extra || r < c->e->cfg.sustain_ratio)
        return;
    o.det = det;
    o.above = r >= 1.0;
    o.pps = pps;
    o.bps = bps;
    o.proto = proto;
    o.distinct_sources = distinct_sources(c->e, c->s, c->h, c->est);
    an_observe(c->e, &o, c->tick);
}

static void spike_detect(struct dst_ctx *c, enum anomaly_detector det, struct cusum *cu,
                         struct ewma *b, double v, double floor, const char *metric)
{
    const struct anomaly_spike_cfg *sc = &c->th->dst_spike;
    if (!sc->enabled || floor <= 0 || !c->ready)
        return;
    double std = max2(ewma_std(b), max2(sqrt(max2(b->mean, 0)), 1));
    double z = (v - b->mean) / std;
    bool alarm = cusum_update(cu, z);
    double th = max2(floor, sc->ratio * b->mean);
    bool above = alarm && v >= th;
    bool sustain = v >= th * c->e->cfg.sustain_ratio;
    if (!alarm && !sustain && cusum_alarm(cu))
        cusum_reset(cu);
    if (!above && !sustain)
        return;
    /* The same traffic already tells a flood's story. */
    if (an_victim_under_attack(c->e, &c->base.victim, det))
        return;
    struct an_obs o = c->base;
    o.det = det;
    o.above = above;
    o.metric = metric;
    o.value = v;
    o.threshold = th;
    o.mean = b->mean;
    o.std = std;
    o.score = z;
    o.distinct_sources = distinct_sources(c->e, c->s, c->h, c->est);
    an_observe(c->e, &o, c->tick);
}

static void eval_dst(struct anomaly_engine *e, const struct an_snap *s, uint64_t tick,
                     struct an_tracked_dst *t, const struct an_addr *addr, uint64_t h)
{
    struct an_dst_est est;
    dst_estimate(e, s, an_addr_x(addr, e->cfg.seed), &est);
    const double *p = est.pkts, *B = est.bytes;

    struct dst_ctx c = {
        .e = e, .s = s, .tick = tick, .h = h, .t = t, .est = &est,
        .th = t ? t->th : an_thresholds_for(e, addr),
        .ready = t && tick - t->first_tick >= e->cfg.baseline_warmup,
    };
    memset(&c.base, 0, sizeof(c.base));
    an_to_anomaly_addr(&c.base.victim, addr);
    const struct anomaly_thresholds *th = c.th;

    double syn = p[AN_C_SYN] + p[AN_C_SYN_ECN];
    double tcp_bps = B[AN_B_TCP] * 8;
    double udp_pps = p[AN_C_UDP] + p[AN_C_REFL_UNSOL];
    double udp_bps = (B[AN_B_UDP] + B[AN_B_REFL]) * 8;
    double amp_pps = p[AN_C_REFL_UNSOL] + p[AN_C_FRAG];
    double amp_bps = (B[AN_B_REFL] + B[AN_B_FRAG]) * 8;
    double completion = syn > 0 ? p[AN_C_HS_DONE] / syn : 1;
    double v[AN_M_COUNT] = {
        [AN_M_SYN] = syn, [AN_M_SYN_ECN] = p[AN_C_SYN_ECN], [AN_M_ACK] = p[AN_C_ACK_UNSOL],
        [AN_M_RST] = p[AN_C_RST], [AN_M_SYNACK] = p[AN_C_SYNACK_UNSOL],
        [AN_M_UDP_PPS] = udp_pps, [AN_M_UDP_BPS] = udp_bps,
        [AN_M_ICMP_PPS] = p[AN_C_ICMP], [AN_M_ICMP_BPS] = B[AN_B_ICMP] * 8,
        [AN_M_AMP_PPS] = amp_pps, [AN_M_AMP_BPS] = amp_bps,
        [AN_M_FRAG_PPS] = p[AN_C_FRAG], [AN_M_FRAG_BPS] = B[AN_B_FRAG] * 8,
        [AN_M_NEW_FLOWS] = est.new_flows, [AN_M_BPS] = est.total_bytes * 8,
    };
    const struct anomaly_rate_cfg *rcs[AN_M_COUNT] = {
        [AN_M_SYN] = &th->syn_flood, [AN_M_SYN_ECN] = &th->syn_ecn_flood,
        [AN_M_ACK] = &th->ack_flood, [AN_M_RST] = &th->rst_flood,
        [AN_M_SYNACK] = &th->synack_reflection,
        [AN_M_UDP_PPS] = &th->udp_flood, [AN_M_UDP_BPS] = &th->udp_flood,
        [AN_M_ICMP_PPS] = &th->icmp_flood, [AN_M_ICMP_BPS] = &th->icmp_flood,
        [AN_M_AMP_PPS] = &th->amplification, [AN_M_AMP_BPS] = &th->amplification,
        [AN_M_FRAG_PPS] = &th->frag_flood, [AN_M_FRAG_BPS] = &th->frag_flood,
    };
    const bool is_bps[AN_M_COUNT] = {
        [AN_M_UDP_BPS] = true, [AN_M_ICMP_BPS] = true, [AN_M_AMP_BPS] = true,
        [AN_M_FRAG_BPS] = true,
    };
    c.base.pps = est.total_pkts;
    c.base.bps = est.total_bytes * 8;

    rate_detect(&c, ANOMALY_SYN_FLOOD, &th->syn_flood, syn, tcp_bps, AN_M_SYN, AN_M_COUNT,
                "syn_pps", NULL, IPPROTO_TCP, completion < th->syn_completion_max);
    rate_detect(&c, ANOMALY_SYN_ECN_FLOOD, &th->syn_ecn_flood, p[AN_C_SYN_ECN], tcp_bps,
                AN_M_SYN_ECN, AN_M_COUNT, "syn_ecn_pps", NULL, IPPROTO_TCP,
                completion < th->syn_completion_max);
    rate_detect(&c, ANOMALY_ACK_FLOOD, &th->ack_flood, p[AN_C_ACK_UNSOL], tcp_bps, AN_M_ACK,
                AN_M_COUNT, "unsolicited_ack_pps", NULL, IPPROTO_TCP, true);
    rate_detect(&c, ANOMALY_RST_FLOOD, &th->rst_flood, p[AN_C_RST], tcp_bps, AN_M_RST,
                AN_M_COUNT, "rst_pps", NULL, IPPROTO_TCP, true);
    rate_detect(&c, ANOMALY_SYNACK_REFLECTION, &th->synack_reflection, p[AN_C_SYNACK_UNSOL],
                tcp_bps, AN_M_SYNACK, AN_M_COUNT, "unsolicited_synack_pps", NULL, IPPROTO_TCP,
                true);
    rate_detect(&c, ANOMALY_UDP_FLOOD, &th->udp_flood, udp_pps, udp_bps, AN_M_UDP_PPS,
                AN_M_UDP_BPS, "udp_pps", "udp_bps", IPPROTO_UDP, true);
    rate_detect(&c, ANOMALY_ICMP_FLOOD, &th->icmp_flood, p[AN_C_ICMP], B[AN_B_ICMP] * 8,
                AN_M_ICMP_PPS, AN_M_ICMP_BPS, "icmp_pps", "icmp_bps", IPPROTO_ICMP, true);
    /* Amplification: reflector responses nobody asked for, with the
     * fragments their large answers break into; at least a few reflectors,
     * and some responses with ports (a fragment flood alone is not one). */
    if (amp_pps > 0 && p[AN_C_REFL_UNSOL] >= 0.05 * amp_pps) {
        bool enough = distinct_sources(e, s, h, &est) >= th->amplification_min_sources;
        c.base.refl_port = est.refl_port;
        rate_detect(&c, ANOMALY_AMPLIFICATION, &th->amplification, amp_pps, amp_bps, AN_M_AMP_PPS,
                    AN_M_AMP_BPS, "reflected_pps", "reflected_bps", IPPROTO_UDP, enough);
        c.base.refl_port = 0;
    }
    rate_detect(&c, ANOMALY_FRAG_FLOOD, &th->frag_flood, p[AN_C_FRAG], B[AN_B_FRAG] * 8,
                AN_M_FRAG_PPS, AN_M_FRAG_BPS, "fragment_pps", "fragment_bps", 0, true);

    if (t == NULL)
        return;
    spike_detect(&c, ANOMALY_DST_FLOW_SPIKE, &t->cu_flows, &t->base[AN_M_NEW_FLOWS],
                 v[AN_M_NEW_FLOWS], th->dst_spike.new_flows, "new_flows");
    spike_detect(&c, ANOMALY_DST_VOLUME_SPIKE, &t->cu_bps, &t->base[AN_M_BPS], v[AN_M_BPS],
                 th->dst_spike.bps, "bps");

    /* Baselines learn from ordinary ticks only. */
    for (unsigned m = 0; m < AN_M_COUNT; m++) {
        if (rcs[m] == NULL) {
            const struct ewma *b = &t->base[m];
            double std = max2(ewma_std(b), sqrt(max2(b->mean, 0)));
            if (!c.ready || v[m] < max2(b->mean + 6 * std, th->dst_spike.ratio * b->mean))
                ewma_update(&t->base[m], v[m]);
            continue;
        }
        learn(&t->base[m], rcs[m], is_bps[m] ? rcs[m]->bps : rcs[m]->pps, v[m], c.ready,
              e->cfg.sustain_ratio);
    }
}

/* Destination cell k of a merged tick: its key is evaluated, and becomes
 * tracked, when the cell is busy. */
static void dst_candidate(struct anomaly_engine *e, const struct an_snap *s, uint64_t tick,
                          size_t k)
{
    if (s->dst[k].votes == 0)
        return;
    double total = 0;
    for (unsigned i = 0; i < AN_NCLASS; i++)
        total += an_dst_count(s, k, i);
    if (total < e->cfg.track_min_pps)
        return;
    struct an_addr a;
    an_dst_cell_addr(&a, s, k);
    uint64_t x = s->dst[k].tag;
    uint64_t h = sketch_hash64(x, e->cfg.seed);
    struct an_dst_est est;
    dst_estimate(e, s, x, &est);
    if (est.total_pkts < e->cfg.track_min_pps)
        return;                      /* the cell was busy, not this key */
    struct an_tracked_dst *t = dst_find(e, h, &a, true, tick);
    if (t != NULL) {
        t->last_active = tick;
        if (t->eval_tick == tick)
            return;
        t->eval_tick = tick;
    }
    eval_dst(e, s, tick, t, &a, h);  /* untracked (table full): floors only */
}

static void detect_destinations(struct anomaly_engine *e, const struct an_snap *s, uint64_t tick)
{
    /* Every tracked destination, whether or not it was busy this tick:
     * quiet ticks are part of the baseline. */
    for (uint32_t i = 0; i <= e->dst_mask; i++) {
        struct an_tracked_dst *t = &e->dsts[i];
        if (!t->used || t->eval_tick == tick)
            continue;
        t->eval_tick = tick;
        eval_dst(e, s, tick, t, &t->addr, t->h);
    }
    /* New candidates: the keys of busy cells. */
    struct an_cells it;
    size_t lo, hi;
    an_cells_begin(&it, s, s->dst, sizeof(*s->dst), (size_t)AN_ROWS * e->dims.dst_width);
    while (an_cells_next(&it, &lo, &hi))
        for (size_t k = lo; k < hi; k++)
            dst_candidate(e, s, tick, k);
    /* Idle ones go. Removal shifts entries back, so re-check the slot. */
    for (uint32_t i = 0; i <= e->dst_mask; i++) {
        struct an_tracked_dst *t = &e->dsts[i];
        while (t->used && t->last_active != tick) {
            struct an_dst_est est;
            dst_estimate(e, s, t->x, &est);
            if (est.total_pkts >= e->cfg.track_min_pps) {
                t->last_active = tick;
                break;
            }
            if (tick - t->last_active < e->cfg.track_idle_s)
                break;
            TABLE_REMOVE(e->dsts, e->dst_mask, i, e->dst_count);
        }
    }
}

/* ---- scans, sweeps, brute force -------------------------------------------------------- */

/* A candidate that may give its slot to a new one when the table is full:
 * quiet last tick and at most one attempt in its window. */
static bool cand_weak(const struct an_cand *c, uint64_t tick)
{
    if (c->last_active + 1 >= tick)
        return false;
    uint32_t n = 0;
    for (unsigned i = 0; i < AN_WIN_MAX; i++)
        n += c->attempts[i];
    return n <= 1;
}

static struct an_cand *cand_find(struct anomaly_engine *e, uint8_t kind, uint64_t h,
                                 const struct an_addr *src, const struct an_addr *dst,
                                 uint16_t port, uint8_t proto, uint64_t tick)
{
    uint32_t i = (uint32_t)h & e->cand_mask;
    struct an_cand *weak = NULL;
    for (;;) {
        struct an_cand *c = &e->cands[i];
        if (!c->used)
            break;
        if (c->h == h && c->kind == kind && c->port == port && c->proto == proto &&
            an_addr_eq(&c->src, src) && an_addr_eq(&c->dst, dst))
            return c;
        if (weak == NULL && cand_weak(c, tick))
            weak = c;
        i = (i + 1) & e->cand_mask;
    }
    struct an_cand *c = &e->cands[i];
    if (e->cand_count >= e->cfg.track_candidates_max) {
        /* Full: take over a weak entry on this key's probe path, which
         * keeps every chain intact (the slot stays occupied). */
        if (weak == NULL) {
            e->counters[ANOMALY_ENGINE_TRACK_FULL]++;
            return NULL;
        }
        c = weak;
        e->cand_count--;
    }
    memset(c, 0, sizeof(*c));
    c->used = true;
    c->kind = kind;
    c->h = h;
    c->src = *src;
    c->dst = *dst;
    c->port = port;
    c->proto = proto;
    c->xsrc = an_addr_x(src, e->cfg.seed);
    c->first_tick = tick;
    c->last_active = tick;
    c->eval_tick = AN_NO_TICK;
    c->th = an_thresholds_for(e, src);
    e->cand_count++;
    return c;
}

static void pair_candidate(struct anomaly_engine *e, const struct an_pair_cell *pc, uint64_t tick)
{
    const uint64_t seed = e->cfg.seed;
    if (pc->votes == 0 || pc->attempts < AN_SCAN_TRACK_MIN)
        return;
    struct an_addr src, dst;
    cell_addr(&src, pc->src, pc->version);
    cell_addr(&dst, pc->dst, pc->version);
    uint64_t h = an_pair_hash(an_addr_hash(&src, seed), an_addr_hash(&dst, seed), seed);
    (void)cand_find(e, AN_K_PAIR, h, &src, &dst, 0, 0, tick);
}

static void svc_candidate(struct anomaly_engine *e, const struct an_svc_cell *sc, uint64_t tick)
{
    const uint64_t seed = e->cfg.seed;
    const struct an_addr none = { { 0, 0 }, 0 };
    if (sc->votes == 0 || sc->attempts < AN_SCAN_TRACK_MIN)
        return;
    struct an_addr src;
    cell_addr(&src, sc->src, sc->version);
    uint64_t h = an_svc_hash(an_addr_hash(&src, seed), sc->port, sc->proto, seed);
    (void)cand_find(e, AN_K_SVC, h, &src, &none, sc->port, sc->proto, tick);
}

static void bf_candidate(struct anomaly_engine *e, const struct an_bf_cell *bc, uint64_t tick)
{
    const uint64_t seed = e->cfg.seed;
    if (bc->votes == 0 || bc->attempts == 0)
        return;
    struct an_addr src, dst;
    cell_addr(&src, bc->src, bc->version);
    cell_addr(&dst, bc->dst, bc->version);
    uint64_t h = an_bf_hash(an_addr_hash(&src, seed), an_addr_hash(&dst, seed), bc->port, seed);
    (void)cand_find(e, AN_K_BF, h, &src, &dst, bc->port, IPPROTO_TCP, tick);
}

/* The keys of the tick's busy event cells (only the cells it wrote, when
 * it was sparse). */
static void enumerate_candidates(struct anomaly_engine *e, const struct an_snap *s, uint64_t tick)
{
    const size_t nev = (size_t)AN_ROWS * e->dims.ev_width;
    struct an_cells it;
    size_t lo, hi;

    an_cells_begin(&it, s, s->pair, sizeof(*s->pair), nev);
    while (an_cells_next(&it, &lo, &hi))
        for (size_t k = lo; k < hi; k++)
            pair_candidate(e, &s->pair[k], tick);
    an_cells_begin(&it, s, s->svc, sizeof(*s->svc), nev);
    while (an_cells_next(&it, &lo, &hi))
        for (size_t k = lo; k < hi; k++)
            svc_candidate(e, &s->svc[k], tick);
    an_cells_begin(&it, s, s->bf, sizeof(*s->bf), (size_t)AN_ROWS * e->dims.bf_width);
    while (an_cells_next(&it, &lo, &hi))
        for (size_t k = lo; k < hi; k++)
            bf_candidate(e, &s->bf[k], tick);
}

/* This tick's counts of a candidate into its window slot (min over rows). */
static void cand_fill(struct anomaly_engine *e, const struct an_snap *s, struct an_cand *c,
                      uint64_t tick)
{
    unsigned slot = (unsigned)(tick % AN_WIN_MAX);
    double att = INFINITY, fail = INFINITY, lng = INFINITY;
    uint8_t *regs = c->regs[tick % AN_SCAN_WIN_MAX];

    memset(regs, 0xff, AN_HLL_BYTES);
    for (unsigned r = 0; r < AN_ROWS; r++) {
        if (c->kind == AN_K_PAIR) {
            const struct an_pair_cell *pc =
                &s->pair[(size_t)r * e->dims.ev_width + an_col(c->h, r, e->dims.ev_shift)];
            att = min2(att, pc->attempts);
            fail = min2(fail, pc->failed);
            for (unsigned i = 0; i < AN_HLL_BYTES; i++)
                regs[i] = pc->ports[i] < regs[i] ? pc->ports[i] : regs[i];
        } else if (c->kind == AN_K_SVC) {
            const struct an_svc_cell *sc =
                &s->svc[(size_t)r * e->dims.ev_width + an_col(c->h, r, e->dims.ev_shift)];
            att = min2(att, sc->attempts);
            fail = min2(fail, sc->failed);
            for (unsigned i = 0; i < AN_HLL_BYTES; i++)
                regs[i] = sc->hosts[i] < regs[i] ? sc->hosts[i] : regs[i];
        } else {
            const struct an_bf_cell *bc =
                &s->bf[(size_t)r * e->dims.bf_width + an_col(c->h, r, e->dims.bf_shift)];
            att = min2(att, bc->attempts);
            fail = min2(fail, bc->failed);
            lng = min2(lng, bc->longc);
        }
    }
    struct an_dst_est est;
    dst_estimate(e, s, c->xsrc, &est);
    c->attempts[slot] = (uint32_t)att;
    c->failed[slot] = (uint32_t)fail;
    c->longc[slot] = c->kind == AN_K_BF ? (uint32_t)lng : 0;
    c->answers[slot] = (uint32_t)(est.pkts[AN_C_SYNACK] + est.pkts[AN_C_SYNACK_UNSOL] +
                                  est.pkts[AN_C_UDP] + est.pkts[AN_C_REFL_UNSOL]);
    if (att > 0)
        c->last_active = tick;
}

struct window {
    double attempts, failed, longc, answers, distinct;
};

static void window_sum(const struct an_cand *c, uint64_t tick, unsigned w, bool hll,
                       struct window *out)
{
    uint8_t uni[AN_HLL_BYTES];
    memset(out, 0, sizeof(*out));
    memset(uni, 0, sizeof(uni));
    for (unsigned i = 0; i < w && i <= tick - c->first_tick; i++) {
        unsigned slot = (unsigned)((tick - i) % AN_WIN_MAX);
        out->attempts += c->attempts[slot];
        out->failed += c->failed[slot];
        out->longc += c->longc[slot];
        out->answers += c->answers[slot];
        if (hll && i < AN_SCAN_WIN_MAX)
            hll_reg_merge(uni, c->regs[(tick - i) % AN_SCAN_WIN_MAX], AN_HLL_P);
    }
    if (hll)
        out->distinct = hll_reg_estimate(uni, AN_HLL_P);
}

/* Slots of ticks the candidate was not evaluated in (none of its keys seen)
 * must read as zero. */
static void cand_skip_to(struct an_cand *c, uint64_t tick)
{
    uint64_t from = c->eval_tick == AN_NO_TICK ? tick : c->eval_tick + 1;
    if (tick - from >= AN_WIN_MAX)
        from = tick - AN_WIN_MAX;
    for (uint64_t t = from; t < tick; t++) {
        unsigned slot = (unsigned)(t % AN_WIN_MAX);
        c->attempts[slot] = c->failed[slot] = c->longc[slot] = c->answers[slot] = 0;
        memset(c->regs[t % AN_SCAN_WIN_MAX], 0, AN_HLL_BYTES);
    }
}

static void eval_scan(struct anomaly_engine *e, struct an_cand *c, uint64_t tick)
{
    bool pair = c->kind == AN_K_PAIR;
    const struct anomaly_scan_cfg *sc = pair ? &c->th->port_scan : &c->th->host_sweep;
    struct window w;

    if (!sc->enabled)
        return;
    window_sum(c, tick, sc->window, true, &w);
    if (w.attempts <= 0)
        return;
    /* Failed share: attempts the source got no positive answer for, or
     * that ended unanswered - whichever says more. */
    double f = max2(w.failed / w.attempts, 1 - min2(1, w.answers / w.attempts));
    f = min2(max2(f, 0), 1);
    double weight = sc->success_weight * (1 - f) + sc->fail_weight * f;
    double score = w.distinct * weight;
    double ratio = score / sc->score;
    if (ratio < e->cfg.sustain_ratio)
        return;
    struct an_obs o;
    memset(&o, 0, sizeof(o));
    o.det = pair ? ANOMALY_PORT_SCAN : ANOMALY_HOST_SWEEP;
    an_to_anomaly_addr(&o.attacker, &c->src);
    if (pair) {
        an_to_anomaly_addr(&o.victim, &c->dst);
        /* Random-port floods probe ports too: the flood is the story. */
        if (an_victim_flooded(e, &o.victim))
            return;
    }
    o.port = pair ? 0 : c->port;
    o.proto = pair ? 0 : c->proto;
    o.above = ratio >= 1;
    o.metric = pair ? "distinct_ports" : "distinct_hosts";
    o.value = w.distinct;
    o.threshold = weight > 0 ? sc->score / weight : INFINITY;
    o.score = score;
    o.pps = c->attempts[tick % AN_WIN_MAX];
    an_observe(e, &o, tick);
}

static void eval_brute(struct anomaly_engine *e, struct an_cand *c, uint64_t tick)
{
    const struct anomaly_brute_cfg *bc = &c->th->brute_force;
    struct window w;

    if (!bc->enabled)
        return;
    window_sum(c, tick, bc->window, false, &w);
    double n = max2(w.attempts - w.longc, 0);
    double ratio = n / bc->attempts;
    if (ratio < e->cfg.sustain_ratio)
        return;
    struct an_obs o;
    memset(&o, 0, sizeof(o));
    o.det = ANOMALY_BRUTE_FORCE;
    an_to_anomaly_addr(&o.attacker, &c->src);
    an_to_anomaly_addr(&o.victim, &c->dst);
    o.port = c->port;
    o.proto = IPPROTO_TCP;
    o.above = ratio >= 1;
    o.metric = "connections";
    o.value = n;
    o.threshold = bc->attempts;
    o.score = n;
    o.pps = c->attempts[tick % AN_WIN_MAX];
    an_observe(e, &o, tick);
}

/* Ticks a quiet candidate is kept: as long as its window can still count. */
static uint64_t cand_keep(const struct an_cand *c)
{
    if (c->kind == AN_K_BF)
        return c->th->brute_force.window;
    return c->kind == AN_K_PAIR ? c->th->port_scan.window : c->th->host_sweep.window;
}

static void detect_candidates(struct anomaly_engine *e, const struct an_snap *s, uint64_t tick)
{
    enumerate_candidates(e, s, tick);
    for (uint32_t i = 0; i <= e->cand_mask; i++) {
        struct an_cand *c = &e->cands[i];
        if (!c->used || c->eval_tick == tick)
            continue;
        cand_skip_to(c, tick);
        cand_fill(e, s, c, tick);
        c->eval_tick = tick;
        if (c->kind == AN_K_BF)
            eval_brute(e, c, tick);
        else
            eval_scan(e, c, tick);
    }
    for (uint32_t i = 0; i <= e->cand_mask; i++) {
        struct an_cand *c = &e->cands[i];
        while (c->used && tick - c->last_active >= cand_keep(c))
            TABLE_REMOVE(e->cands, e->cand_mask, i, e->cand_count);
    }
}

/* ---- global ------------------------------------------------------------------------------ */

static void global_spike(struct anomaly_engine *e, enum anomaly_detector det,
                         const struct anomaly_spike_cfg *sc, struct ewma *b, struct cusum *cu,
                         double v, double floor, const char *metric, uint64_t tick, bool ready)
{
    double std = max2(ewma_std(b), max2(sqrt(max2(b->mean, 0)), 1));
    double z = (v - b->mean) / std;
    bool alarm = ready && cusum_update(cu, z);
    double th = max2(floor, sc->ratio * b->mean);
    bool above = sc->enabled && floor > 0 && alarm && v >= th;
    bool sustain = sc->enabled && floor > 0 && ready && v >= th * e->cfg.sustain_ratio;

    if (!alarm && !sustain && cusum_alarm(cu))
        cusum_reset(cu);
    /* A flood already tells the story of the traffic that makes the spike:
     * one attack, one alert. */
    if ((above || sustain) && !an_flood_active(e)) {
        struct an_obs o;
        memset(&o, 0, sizeof(o));
        o.det = det;
        o.above = above;
        o.metric = metric;
        o.value = v;
        o.threshold = th;
        o.mean = b->mean;
        o.std = std;
        o.score = z;
        an_observe(e, &o, tick);
    }
    if (!sustain)
        ewma_update(b, v);
}

static void detect_global(struct anomaly_engine *e, const struct an_snap *s, uint64_t tick)
{
    bool ready = e->g_ticks >= e->cfg.baseline_warmup;
    double flows = (double)s->tot.new_flows, bps = (double)s->tot.bytes * 8;

    global_spike(e, ANOMALY_FLOW_SPIKE, &e->cfg.flow_spike, &e->g_flows, &e->gc_flows, flows,
                 e->cfg.flow_spike.new_flows, "new_flows", tick, ready);
    global_spike(e, ANOMALY_VOLUME_SPIKE, &e->cfg.volume_spike, &e->g_bps, &e->gc_bps, bps,
                 e->cfg.volume_spike.bps, "bps", tick, ready);

    struct an_obs o;
    memset(&o, 0, sizeof(o));
    double inv = (double)s->tot.invalid;
    double r = rate_check(&e->cfg.decode, inv, 0, &e->g_invalid, NULL, ready, "malformed_pps",
                          NULL, &o);
    if (r >= e->cfg.sustain_ratio) {
        o.det = ANOMALY_DECODE;
        o.above = r >= 1;
        o.pps = (double)s->tot.pkts;
        o.bps = bps;
        an_observe(e, &o, tick);
    }
    learn(&e->g_invalid, &e->cfg.decode, e->cfg.decode.pps, inv, ready, e->cfg.sustain_ratio);
    e->g_ticks++;
}

void an_detect_tick(struct anomaly_engine *e, const struct an_snap *s, uint64_t tick)
{
    detect_destinations(e, s, tick);
    detect_candidates(e, s, tick);
    detect_global(e, s, tick);      /* last: it defers to floods seen this tick */
}

/* ---- top sources ------------------------------------------------------------------------- */

unsigned an_top_sources(const struct anomaly_engine *e, const struct an_snap *s,
                        const struct anomaly_addr *victim, struct anomaly_source *out,
                        unsigned max)
{
    uint64_t vw[2];
    unsigned n = 0;
    const size_t cells = (size_t)AN_ROWS * e->dims.ev_width;

    memcpy(vw, victim->addr, 16);
    for (size_t k = 0; k < cells; k++) {
        const struct an_pair_cell *pc = &s->pair[k];
        if (pc->votes == 0 || pc->version != victim->version || pc->dst[0] != vw[0] ||
            pc->dst[1] != vw[1])
            continue;
        struct anomaly_source src = { { pc->version, { 0 } }, pc->weight };
        memcpy(src.addr.addr, pc->src, 16);
        unsigned j;
        for (j = 0; j < n; j++)
            if (memcmp(out[j].addr.addr, src.addr.addr, 16) == 0)
                break;
        if (j < n) {                 /* the other row: keep the smaller (closer) count */
            if (src.count < out[j].count)
                out[j].count = src.count;
            continue;
        }
        if (n < max) {
            out[n++] = src;
            continue;
        }
        unsigned min = 0;
        for (j = 1; j < n; j++)
            if (out[j].count < out[min].count)
                min = j;
        if (src.count > out[min].count)
            out[min] = src;
    }
    return n;
}
