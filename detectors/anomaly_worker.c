/* anomaly_worker.c - the worker's tick snapshots: creation, the flow-event
 * paths, tick hand-over to the main thread, and snapshot merging (which
 * the engine uses, but which belongs with the layout). */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anomaly_int.h"
#include "table_mem.h"

/* ---- snapshots ----------------------------------------------------------------- */

static uint32_t log2_u32(uint32_t x)
{
    return (uint32_t)__builtin_ctz(x);
}

static bool width_ok(uint32_t w)
{
    return w >= 16 && w <= (1u << 24) && !(w & (w - 1));
}

int an_dims_init(struct an_dims *dm, const struct anomaly_config *cfg)
{
    if (!width_ok(cfg->dst_width) || !width_ok(cfg->dsrc_width) ||
        !width_ok(cfg->event_width) || !width_ok(cfg->bf_width))
        return -EINVAL;
    dm->dst_width = cfg->dst_width;
    dm->dst_shift = 64 - log2_u32(cfg->dst_width);
    for (unsigned r = 0; r < AN_ROWS; r++) {
        dm->dst_a[r] = sketch_hash64(2 * r, cfg->seed) | 1;
        dm->dst_b[r] = sketch_hash64(2 * r + 1, cfg->seed);
    }
    dm->dsrc_width = cfg->dsrc_width;
    dm->dsrc_shift = 64 - log2_u32(cfg->dsrc_width);
    dm->ev_width = cfg->event_width;
    dm->ev_shift = 64 - log2_u32(cfg->event_width);
    dm->bf_width = cfg->bf_width;
    dm->bf_shift = 64 - log2_u32(cfg->bf_width);
    return 0;
}

static size_t snap_bytes(const struct an_dims *dm, size_t off[6])
{
    const size_t sizes[6] = {
        (size_t)AN_ROWS * dm->dst_width * sizeof(struct an_dst_cell),
        (size_t)AN_ROWS * dm->dst_width * sizeof(struct an_dst_ext),
        (size_t)AN_ROWS * dm->dsrc_width * sizeof(struct an_hll_cell),
        (size_t)AN_ROWS * dm->ev_width * sizeof(struct an_pair_cell),
        (size_t)AN_ROWS * dm->ev_width * sizeof(struct an_svc_cell),
        (size_t)AN_ROWS * dm->bf_width * sizeof(struct an_bf_cell),
    };
    size_t n = 0;
    for (unsigned i = 0; i < 6; i++) {
        off[i] = n;
        n += sizes[i];
    }
    return n;
}

/* One allocation per snapshot; huge pages where the kernel agrees
 * (table_mem.h), since the per-destination table is hit at random lines on
 * every packet. */
int an_snap_init(struct an_snap *s, const struct an_dims *dm)
{
    size_t off[6];
    size_t n = snap_bytes(dm, off);

    memset(s, 0, sizeof(*s));
    s->mem = table_mem_alloc(n, TABLE_MEM_RESIDENT);
    if (s->mem == NULL)
        return -ENOMEM;
    s->mem_bytes = n;
    s->dirty_words = ((n >> AN_BLOCK_SHIFT) + 1 + 63) / 64;
    s->dirty = calloc(s->dirty_words, sizeof(*s->dirty));
    if (s->dirty == NULL) {
        table_mem_free(s->mem, n);
        s->mem = NULL;
        return -ENOMEM;
    }
    uint8_t *m = s->mem;
    s->dst = (struct an_dst_cell *)(m + off[0]);
    s->dst_ext = (struct an_dst_ext *)(m + off[1]);
    s->dsrc = (struct an_hll_cell *)(m + off[2]);
    s->pair = (struct an_pair_cell *)(m + off[3]);
    s->svc = (struct an_svc_cell *)(m + off[4]);
    s->bf = (struct an_bf_cell *)(m + off[5]);
    s->tick = AN_NO_TICK;
    return 0;
}

void an_snap_free(struct an_snap *s)
{
    table_mem_free(s->mem, s->mem_bytes);
    free(s->dirty);
    s->mem = NULL;
    s->dirty = NULL;
}

static bool block_dirty(const struct an_snap *s, size_t block)
{
    return (s->dirty[block >> 6] >> (block & 63)) & 1;
}

void an_snap_clear(struct an_snap *s)
{
    if (s->all_dirty) {
        memset(s->mem, 0, s->mem_bytes);
    } else {
        const size_t size = (size_t)1 << AN_BLOCK_SHIFT;
        for (size_t w = 0; w < s->dirty_words; w++) {
            for (uint64_t bits = s->dirty[w]; bits != 0; bits &= bits - 1) {
                size_t off = (w * 64 + (size_t)__builtin_ctzll(bits)) << AN_BLOCK_SHIFT;
                if (off < s->mem_bytes)
                    memset((uint8_t *)s->mem + off, 0,
                           s->mem_bytes - off < size ? s->mem_bytes - off : size);
            }
        }
    }
    memset(s->dirty, 0, s->dirty_words * sizeof(*s->dirty));
    s->all_dirty = false;
    memset(&s->tot, 0, sizeof(s->tot));
    s->tick = AN_NO_TICK;
}

void an_snap_touch_dst(struct an_snap *s, size_t k0, size_t k1)
{
    an_snap_touch(s, &s->dst[k0], sizeof(s->dst[k0]));
    an_snap_touch(s, &s->dst[k1], sizeof(s->dst[k1]));
    an_snap_touch(s, &s->dst_ext[k0], sizeof(s->dst_ext[k0]));
    an_snap_touch(s, &s->dst_ext[k1], sizeof(s->dst_ext[k1]));
}

void an_cells_begin(struct an_cells *it, const struct an_snap *s, const void *table, size_t size,
                    size_t n)
{
    it->s = s;
    it->off = (size_t)((const uint8_t *)table - (const uint8_t *)s->mem);
    it->size = size;
    it->n = n;
    it->block = it->off >> AN_BLOCK_SHIFT;
    it->last_block = n ? (it->off + size * n - 1) >> AN_BLOCK_SHIFT : 0;
    it->next = 0;
}

bool an_cells_next(struct an_cells *it, size_t *lo, size_t *hi)
{
    if (it->s->all_dirty) {
        *lo = it->next;
        *hi = it->n;
        it->next = it->n;
        return *lo < *hi;
    }
    while (it->next < it->n && it->block <= it->last_block) {
        if (!block_dirty(it->s, it->block)) {
            it->block++;
            continue;
        }
        size_t first = it->block;                  /* a run of dirty blocks */
        while (it->block <= it->last_block && block_dirty(it->s, it->block))
            it->block++;
        size_t from = first << AN_BLOCK_SHIFT, to = it->block << AN_BLOCK_SHIFT;
        from = from > it->off ? from - it->off : 0;
        to -= it->off;
        size_t a = from / it->size, b = (to + it->size - 1) / it->size;
        if (a < it->next)
            a = it->next;                          /* a cell across two runs' edge */
        if (b > it->n)
            b = it->n;
        if (a < b) {
            *lo = a;
            *hi = b;
            it->next = b;
            return true;
        }
    }
    return false;
}

/* ---- merging ----------------------------------------------------------------- */

/* Keys by vote: the same key adds its votes; otherwise the larger vote
 * keeps its key and the other's votes are taken from it. */
static bool vote_merge(uint32_t *dv, uint32_t sv, bool same)
{
    if (same) {
        *dv = an_sat_add(*dv, sv);
        return false;
    }
    if (sv > *dv) {
        *dv = sv - *dv;
        return true;                 /* the source's key wins */
    }
    *dv -= sv;
    return false;
}

static void merge_counts(uint32_t *d, const uint32_t *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        d[i] = an_sat_add(d[i], s[i]);
}

static void merge_dst(struct an_snap *ds, const struct an_snap *ss, size_t k)
{
    struct an_dst_cell *d = &ds->dst[k];
    struct an_dst_ext *dx = &ds->dst_ext[k];
    const struct an_dst_cell *s = &ss->dst[k];
    const struct an_dst_ext *sx = &ss->dst_ext[k];

    if (s->votes == 0 && sx->refl_votes == 0) {
        bool any = false;
        for (unsigned i = 0; i < AN_NCOUNT; i++)
            any |= s->count[i] != 0 || sx->count_hi[i] != 0;
        if (!any)
            return;
    }
    uint32_t votes = d->votes;
    if (votes == 0 || vote_merge(&votes, s->votes, d->tag == s->tag)) {
        if (votes == 0)
            votes = s->votes;
        d->tag = s->tag;
        dx->key[0] = sx->key[0];
        dx->key[1] = sx->key[1];
    }
    d->votes = (uint16_t)(votes > UINT16_MAX ? UINT16_MAX : votes);
    if (dx->refl_votes == 0 || dx->refl_port == sx->refl_port) {
        if (dx->refl_votes == 0)
            dx->refl_port = sx->refl_port;
        dx->refl_votes = an_sat_add(dx->refl_votes, sx->refl_votes);
    } else if (vote_merge(&dx->refl_votes, sx->refl_votes, false)) {
        dx->refl_port = sx->refl_port;
    }
    for (unsigned i = 0; i < AN_NCOUNT; i++) {
        uint32_t n = an_sat_add(an_dst_count(ds, k, i), an_dst_count(ss, k, i));
        d->count[i] = (uint16_t)n;
        dx->count_hi[i] = (uint16_t)(n >> 16);
    }
    merge_counts(d->bytes, s->bytes, AN_NBCLASS);
}

static void merge_pair(struct an_pair_cell *d, const struct an_pair_cell *s)
{
    if (s->votes == 0 && s->flows == 0 && s->weight == 0 && s->failed == 0)
        return;
    bool same = !memcmp(d->src, s->src, 16) && !memcmp(d->dst, s->dst, 16) &&
                d->version == s->version;
    if (d->votes == 0 || vote_merge(&d->votes, s->votes, same)) {
        if (d->votes == 0)
            d->votes = s->votes;
        memcpy(d->src, s->src, 16);
        memcpy(d->dst, s->dst, 16);
        d->version = s->version;
    }
    d->flows = an_sat_add(d->flows, s->flows);
    d->weight = an_sat_add(d->weight, s->weight);
    d->attempts = an_sat_add(d->attempts, s->attempts);
    d->failed = an_sat_add(d->failed, s->failed);
    hll_reg_merge(d->ports, s->ports, AN_HLL_P);
}

static void merge_svc(struct an_svc_cell *d, const struct an_svc_cell *s)
{
    if (s->votes == 0 && s->attempts == 0 && s->failed == 0)
        return;
    bool same = !memcmp(d->src, s->src, 16) && d->port == s->port &&
                d->version == s->version && d->proto == s->proto;
    if (d->votes == 0 || vote_merge(&d->votes, s->votes, same)) {
        if (d->votes == 0)
            d->votes = s->votes;
        memcpy(d->src, s->src, 16);
        d->port = s->port;
        d->version = s->version;
        d->proto = s->proto;
    }
    d->attempts = an_sat_add(d->attempts, s->attempts);
    d->failed = an_sat_add(d->failed, s->failed);
    hll_reg_merge(d->hosts, s->hosts, AN_HLL_P);
}

static void merge_bf(struct an_bf_cell *d, const struct an_bf_cell *s)
{
    if (s->votes == 0 && s->attempts == 0 && s->longc == 0 && s->failed == 0)
        return;
    bool same = !memcmp(d->src, s->src, 16) && !memcmp(d->dst, s->dst, 16) &&
                d->port == s->port && d->version == s->version;
    if (d->votes == 0 || vote_merge(&d->votes, s->votes, same)) {
        if (d->votes == 0)
            d->votes = s->votes;
        memcpy(d->src, s->src, 16);
        memcpy(d->dst, s->dst, 16);
        d->port = s->port;
        d->version = s->version;
    }
    d->attempts = an_sat_add(d->attempts, s->attempts);
    d->longc = an_sat_add(d->longc, s->longc);
    d->failed = an_sat_add(d->failed, s->failed);
}

void an_snap_merge(struct an_snap *d, const struct an_snap *s, const struct an_dims *dm)
{
    struct an_cells it;
    size_t lo, hi;

    d->tot.pkts += s->tot.pkts;
    d->tot.bytes += s->tot.bytes;
    d->tot.nonip += s->tot.nonip;
    d->tot.invalid += s->tot.invalid;
    d->tot.new_flows += s->tot.new_flows;
    d->tot.flow_ends += s->tot.flow_ends;
    d->tot.events_skipped += s->tot.events_skipped;
    /* d's writes are where s's were: the same layout. */
    d->all_dirty |= s->all_dirty;
    for (size_t w = 0; w < d->dirty_words; w++)
        d->dirty[w] |= s->dirty[w];

    /* A destination's ext line is marked with its cell: visiting the
     * cells visits both. */
    an_cells_begin(&it, s, s->dst, sizeof(*s->dst), (size_t)AN_ROWS * dm->dst_width);
    while (an_cells_next(&it, &lo, &hi))
        for (size_t i = lo; i < hi; i++)
            merge_dst(d, s, i);
    an_cells_begin(&it, s, s->dsrc, sizeof(*s->dsrc), (size_t)AN_ROWS * dm->dsrc_width);
    while (an_cells_next(&it, &lo, &hi))
        for (size_t i = lo; i < hi; i++)
            hll_reg_merge(d->dsrc[i].reg, s->dsrc[i].reg, AN_HLL_P);
    an_cells_begin(&it, s, s->pair, sizeof(*s->pair), (size_t)AN_ROWS * dm->ev_width);
    while (an_cells_next(&it, &lo, &hi))
        for (size_t i = lo; i < hi; i++)
            merge_pair(&d->pair[i], &s->pair[i]);
    an_cells_begin(&it, s, s->svc, sizeof(*s->svc), (size_t)AN_ROWS * dm->ev_width);
    while (an_cells_next(&it, &lo, &hi))
        for (size_t i = lo; i < hi; i++)
            merge_svc(&d->svc[i], &s->svc[i]);
    an_cells_begin(&it, s, s->bf, sizeof(*s->bf), (size_t)AN_ROWS * dm->bf_width);
    while (an_cells_next(&it, &lo, &hi))
        for (size_t i = lo; i < hi; i++)
            merge_bf(&d->bf[i], &s->bf[i]);
}

/* ---- the worker --------------------------------------------------------------- */

struct anomaly_worker *an_worker_create(const struct anomaly_config *cfg, const struct an_dims *dm,
                                        const struct an_portset *refl, const struct an_portset *bf,
                                        unsigned id, char *err, size_t errlen)
{
    struct anomaly_worker *aw = aligned_alloc(64, (sizeof(*aw) + 63) & ~(size_t)63);

    if (aw == NULL) {
        snprintf(err, errlen, "anomaly worker %u: out of memory", id);
        return NULL;
    }
    memset(aw, 0, sizeof(*aw));
    aw->id = id;
    aw->seed = cfg->seed;
    aw->dims = *dm;
    aw->refl_ports = refl;
    aw->bf_ports = bf;
    aw->tick = AN_NO_TICK;
    aw->lossless = cfg->lossless;
    aw->bf_long_ns = (uint64_t)cfg->brute_force_long_s * AN_NS;
    aw->event_budget = cfg->event_budget ? cfg->event_budget : UINT64_MAX;
    aw->nsnaps = cfg->snapshots;
    aw->snaps = calloc(aw->nsnaps, sizeof(*aw->snaps));
    if (aw->snaps == NULL) {
        free(aw);
        snprintf(err, errlen, "anomaly worker %u: out of memory", id);
        return NULL;
    }
    for (unsigned i = 0; i < aw->nsnaps; i++) {
        if (an_snap_init(&aw->snaps[i], dm) < 0) {
            snprintf(err, errlen, "anomaly worker %u: %u snapshots: out of memory", id,
                     aw->nsnaps);
            an_worker_destroy(aw);
            return NULL;
        }
    }
    aw->cur = &aw->snaps[0];
    for (unsigned i = 1; i < aw->nsnaps; i++)
        an_ring_push(&aw->free, &aw->snaps[i]);
    atomic_store(&aw->done_tick, 0);
    return aw;
}

void an_worker_destroy(struct anomaly_worker *aw)
{
    if (aw == NULL)
        return;
    for (unsigned i = 0; i < aw->nsnaps; i++)
        an_snap_free(&aw->snaps[i]);
    free(aw->snaps);
    free(aw);
}

void an_worker_release(struct anomaly_worker *aw, struct an_snap *s)
{
    an_snap_clear(s);
    (void)an_ring_push(&aw->free, s);   /* the ring holds every snapshot: never full */
}

/* Hand the current tick over, take a cleared snapshot. Without one (the
 * main thread is behind) a live worker drops the tick and reuses its
 * buffer; an offline one waits. */
static void publish(struct anomaly_worker *aw, bool final)
{
    struct an_snap *s = aw->cur;

    s->tick = aw->tick;
    s->all_dirty |= s->tot.pkts > AN_SPARSE_PKTS;    /* the packets stopped marking */
    if (final) {
        if (an_snap_used(s))
            (void)an_ring_push(&aw->published, s);
        aw->cur = NULL;
        return;
    }
    if (!an_snap_used(s))
        return;                      /* nothing to say: keep the buffer for the next tick */
    struct an_snap *next;
    while ((next = an_ring_peek(&aw->free)) == NULL) {
        if (!aw->lossless) {
            atomic_fetch_add_explicit(&aw->ticks_dropped, 1, memory_order_relaxed);
            an_snap_clear(s);
            return;
        }
        atomic_store_explicit(&aw->starved, true, memory_order_relaxed);
        sched_yield();
    }
    atomic_store_explicit(&aw->starved, false, memory_order_relaxed);
    an_ring_pop(&aw->free);
    (void)an_ring_push(&aw->published, s);
    aw->cur = next;
}

void anomaly_worker_tick(struct anomaly_worker *aw, uint64_t now_ns)
{
    uint64_t t = now_ns / AN_NS;

    if (aw->cur == NULL)
        return;                      /* finished */
    if (aw->tick == AN_NO_TICK) {
        aw->tick = t;                /* packets before the first tick belong to it */
        atomic_store_explicit(&aw->done_tick, t, memory_order_release);
        return;
    }
    if (t <= aw->tick)
        return;
    publish(aw, false);
    aw->tick = t;
    aw->cur->tick = t;
    atomic_store_explicit(&aw->done_tick, t, memory_order_release);
}

void anomaly_worker_finish(struct anomaly_worker *aw)
{
    if (aw->cur == NULL)
        return;
    if (aw->tick == AN_NO_TICK)
        aw->tick = 0;
    publish(aw, true);
    atomic_store_explicit(&aw->done_tick, UINT64_MAX, memory_order_release);
}

uint64_t anomaly_worker_ticks_dropped(const struct anomaly_worker *aw)
{
    return atomic_load_explicit(&aw->ticks_dropped, memory_order_relaxed);
}

size_t anomaly_worker_memory(const struct anomaly_worker *aw)
{
    size_t n = sizeof(*aw) + aw->nsnaps * sizeof(*aw->snaps);
    for (unsigned i = 0; i < aw->nsnaps; i++)
        n += aw->snaps[i].mem_bytes;
    return n;
}

/* ---- per packet ------------------------------------------------------------------ */

void anomaly_worker_packet(struct anomaly_worker *aw, const struct decoded_packet *d,
                           const struct flow *f, unsigned dir, bool flow_created,
                           uint32_t wirelen)
{
    anomaly_worker_packet_inline(aw, d, f, dir, flow_created, wirelen);
}

void anomaly_worker_prefetch(const struct anomaly_worker *aw, const struct decoded_packet *d)
{
    anomaly_worker_prefetch_inline(aw, d);
}

void an_dst_carry(struct an_snap *s, size_t k, unsigned i)
{
    /* No mark: 65536 packets make a tick dense (all_dirty at publish). */
    uint16_t *hi = &s->dst_ext[k].count_hi[i];
    if (*hi == UINT16_MAX)
        s->dst[k].count[i] = UINT16_MAX;       /* saturated */
    else
        ++*hi;
}

static void refl_port_vote(struct an_dst_ext *c, uint16_t port)
{
    if (c->refl_port == port) {
        c->refl_votes++;
    } else if (c->refl_votes == 0) {
        c->refl_port = port;
        c->refl_votes = 1;
    } else {
        c->refl_votes--;
    }
}

/* A connection attempt: what a client sends to open something - a TCP
 * segment without ACK (SYN, or the FIN/NULL/XMAS of stealth scans), UDP
 * not from a reflector port, an ICMP echo request. Answers and midstream
 * pickups are not attempts, so a reflector answering a spoofed victim on
 * many ports does not look like it scans the victim. */
static bool is_attempt(const struct anomaly_worker *aw, const struct decoded_packet *d)
{
    if (!(d->flags & DECODED_L4))
        return false;
    switch (d->ip_proto) {
    case IPPROTO_TCP:
        return !(d->tcp_flags & (AN_TH_ACK | AN_TH_RST));
    case IPPROTO_UDP:
        return !an_port_in(aw->refl_ports, d->src_port) || d->src_port == d->dst_port;
    case IPPROTO_ICMP:
        return d->icmp_type == 8;
    case IPPROTO_ICMPV6:
        return d->icmp_type == 128;
    default:
        return false;
    }
}

static bool pair_key_eq(const struct an_pair_cell *c, const struct an_addr *s,
                        const struct an_addr *d)
{
    return an_key_eq(c->src, c->version, s) && c->dst[0] == d->w[0] && c->dst[1] == d->w[1];
}

static void pair_vote(struct an_pair_cell *c, const struct an_addr *s, const struct an_addr *d)
{
    if (pair_key_eq(c, s, d)) {
        c->votes++;
    } else if (c->votes == 0) {
        memcpy(c->src, s->w, 16);
        memcpy(c->dst, d->w, 16);
        c->version = s->version;
        c->votes = 1;
    } else {
        c->votes--;
    }
}

/* Every 1024th packet of a flow in one direction adds 1024 to its pair's
 * weight: top sources by traffic without per-packet work. */
static void pair_weight(struct anomaly_worker *aw, const struct an_addr *src, uint64_t hsrc,
                        const struct an_addr *dst, uint64_t hdst, uint32_t w, bool created,
                        bool attempt, uint16_t dport)
{
    struct an_snap *s = aw->cur;
    uint64_t h = an_pair_hash(hsrc, hdst, aw->seed);
    uint64_t hp = attempt ? sketch_hash64(dport, aw->seed) : 0;

    for (unsigned r = 0; r < AN_ROWS; r++) {
        struct an_pair_cell *c = &s->pair[(size_t)r * aw->dims.ev_width +
                                          an_col(h, r, aw->dims.ev_shift)];
        an_snap_touch(s, c, sizeof(*c));
        pair_vote(c, src, dst);
        c->weight = an_sat_add(c->weight, w);
        if (created)
            c->flows++;
        if (attempt) {
            c->attempts++;
            hll_reg_add(c->ports, AN_HLL_P, hp);
        }
    }
}

static void svc_attempt(struct anomaly_worker *aw, const struct an_addr *src, uint64_t hsrc,
                        uint64_t hdst, uint16_t port, uint8_t proto)
{
    struct an_snap *s = aw->cur;
    uint64_t h = an_svc_hash(hsrc, port, proto, aw->seed);

    for (unsigned r = 0; r < AN_ROWS; r++) {
        struct an_svc_cell *c = &s->svc[(size_t)r * aw->dims.ev_width +
                                        an_col(h, r, aw->dims.ev_shift)];
        an_snap_touch(s, c, sizeof(*c));
        if (an_key_eq(c->src, c->version, src) && c->port == port && c->proto == proto) {
            c->votes++;
        } else if (c->votes == 0) {
            memcpy(c->src, src->w, 16);
            c->version = src->version;
            c->port = port;
            c->proto = proto;
            c->votes = 1;
        } else {
            c->votes--;
        }
        c->attempts++;
        hll_reg_add(c->hosts, AN_HLL_P, hdst);
    }
}

static struct an_bf_cell *bf_cell(struct anomaly_worker *aw, uint64_t h, unsigned r)
{
    return &aw->cur->bf[(size_t)r * aw->dims.bf_width + an_col(h, r, aw->dims.bf_shift)];
}

/* Vote and count in the brute-force table; which counter is the caller's. */
static void bf_update(struct anomaly_worker *aw, const struct an_addr *src, uint64_t hsrc,
                      const struct an_addr *dst, uint64_t hdst, uint16_t port,
                      uint32_t attempts, uint32_t longc, uint32_t failed)
{
    uint64_t h = an_bf_hash(hsrc, hdst, port, aw->seed);

    for (unsigned r = 0; r < AN_ROWS; r++) {
        struct an_bf_cell *c = bf_cell(aw, h, r);
        an_snap_touch(aw->cur, c, sizeof(*c));
        if (an_key_eq(c->src, c->version, src) && c->dst[0] == dst->w[0] &&
            c->dst[1] == dst->w[1] && c->port == port) {
            c->votes++;
        } else if (c->votes == 0) {
            memcpy(c->src, src->w, 16);
            memcpy(c->dst, dst->w, 16);
            c->port = port;
            c->version = src->version;
            c->votes = 1;
        } else {
            c->votes--;
        }
        c->attempts += attempts;
        c->longc += longc;
        c->failed += failed;
    }
}

/* Every 1024th packet of a flow direction (traffic weight for "top
 * sources"), and the brute-force mark. */
static void flow_milestone(struct anomaly_worker *aw, const struct decoded_packet *d,
                           const struct flow *f, unsigned dir, uint64_t xdst)
{
    struct an_addr src, dst;
    an_addr_load(&src, d->src_addr, d->ip_version);
    an_addr_load(&dst, d->dst_addr, d->ip_version);
    uint64_t hsrc = an_addr_hash(&src, aw->seed);
    uint64_t hdst = sketch_hash64(xdst, aw->seed);
    uint64_t n = f->pkts[dir];

    if ((n & 1023) == 0)
        pair_weight(aw, &src, hsrc, &dst, hdst, 1024, false, false, 0);
    /* A login exchange under way: the client opened with a SYN and has
     * sent AN_BF_CLIENT_PKTS packets to a login service. */
    if (n == AN_BF_CLIENT_PKTS && dir == FLOW_TOSERVER && d->ip_proto == IPPROTO_TCP &&
        (f->tcp_flags[FLOW_TOSERVER] & AN_TH_SYN) && an_port_in(aw->bf_ports, d->dst_port))
        bf_update(aw, &src, hsrc, &dst, hdst, d->dst_port, 1, 0, 0);
}

void an_worker_flow_event(struct anomaly_worker *aw, const struct decoded_packet *d,
                          const struct flow *f, unsigned dir, bool created, unsigned cls,
                          uint64_t xdst)
{
    struct an_snap *s = aw->cur;
    struct an_addr src, dstv;
    const struct an_addr *dst = &dstv;

    if (cls == AN_C_REFL_UNSOL)                     /* which service reflects */
        for (unsigned r = 0; r < AN_ROWS; r++)     /* marked with the packet's cells */
            refl_port_vote(&s->dst_ext[an_dst_index(&aw->dims, r, xdst)], d->src_port);
    if (!created) {
        if (f != NULL && an_flow_milestone(f->pkts[dir]))
            flow_milestone(aw, d, f, dir, xdst);
        return;
    }
    an_addr_load(&src, d->src_addr, d->ip_version);
    an_addr_load(&dstv, d->dst_addr, d->ip_version);
    uint64_t hsrc = an_addr_hash(&src, aw->seed);
    uint64_t hdst = sketch_hash64(xdst, aw->seed);

    for (unsigned r = 0; r < AN_ROWS; r++) {
        struct an_hll_cell *c = &s->dsrc[(size_t)r * aw->dims.dsrc_width +
                                         an_col(hdst, r, aw->dims.dsrc_shift)];
        an_snap_touch(s, c, sizeof(*c));
        hll_reg_add(c->reg, AN_HLL_P, hsrc);
    }
    bool attempt = is_attempt(aw, d);
    pair_weight(aw, &src, hsrc, dst, hdst, 1, true, attempt, d->dst_port);
    if (attempt)
        svc_attempt(aw, &src, hsrc, hdst, d->dst_port, d->ip_proto);
}

/* A flow ends: attempts that were refused or never answered count as
 * failures (scans), long sessions are not password guesses (brute force). */
void anomaly_worker_flow_end(struct anomaly_worker *aw, const struct flow *f,
                             enum flow_end_reason reason)
{
    struct an_snap *s = aw->cur;
    (void)reason;

    if (s == NULL)
        return;
    s->tot.flow_ends++;
    uint8_t proto = f->key.ip_proto;
    unsigned cli = f->initiator, srv = !f->initiator;
    bool failed;

    if (proto == IPPROTO_TCP) {
        /* Only connections opened with a SYN are attempts. */
        if (!(f->tcp_flags[FLOW_TOSERVER] & AN_TH_SYN))
            return;
        failed = !(f->tcp_flags[FLOW_TOCLIENT] & AN_TH_SYN);
    } else if (proto == IPPROTO_UDP) {
        failed = f->pkts[FLOW_TOCLIENT] == 0;
    } else {
        return;
    }

    struct an_addr src, dst;
    an_addr_load(&src, f->key.addr[cli], f->key.ip_version);
    an_addr_load(&dst, f->key.addr[srv], f->key.ip_version);
    uint64_t hsrc = an_addr_hash(&src, aw->seed), hdst = an_addr_hash(&dst, aw->seed);
    uint16_t port = f->key.port[srv];

    if (failed) {
        uint64_t h = an_pair_hash(hsrc, hdst, aw->seed);
        for (unsigned r = 0; r < AN_ROWS; r++) {
            struct an_pair_cell *c = &s->pair[(size_t)r * aw->dims.ev_width +
                                              an_col(h, r, aw->dims.ev_shift)];
            an_snap_touch(s, c, sizeof(*c));
            c->failed++;
        }
        h = an_svc_hash(hsrc, port, proto, aw->seed);
        for (unsigned r = 0; r < AN_ROWS; r++) {
            struct an_svc_cell *c = &s->svc[(size_t)r * aw->dims.ev_width +
                                            an_col(h, r, aw->dims.ev_shift)];
            an_snap_touch(s, c, sizeof(*c));
            c->failed++;
        }
    }
    /* A counted guess that turns out a long session is taken back. */
    if (proto == IPPROTO_TCP && an_port_in(aw->bf_ports, port) &&
        f->pkts[FLOW_TOSERVER] >= AN_BF_CLIENT_PKTS &&
        f->last_ts_ns - f->first_ts_ns >= aw->bf_long_ns)
        bf_update(aw, &src, hsrc, &dst, hdst, port, 0, 1, 0);
}
