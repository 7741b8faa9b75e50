/* engine.c - per-worker scratch and the per-packet scan: Hyperscan prefilter
 * with the packet's group database, candidates merged with the
 * always-evaluated rules in evaluation order, each verified completely
 * (engine_verify.c). */
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"

static hs_error_t scratch_for(hs_database_t *db, hs_scratch_t **s)
{
    return db ? hs_alloc_scratch(db, s) : HS_SUCCESS;
}

struct engine_scratch *engine_scratch_alloc(const struct engine *e)
{
    struct engine_scratch *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    /* one database twice (stream), three indexes, the v6 list, a stream's carry */
    s->cap_cand = 6 * e->n_rules + 1 + ENGINE_CARRY_MAX;
    s->cand = malloc(s->cap_cand * sizeof(uint32_t));
    s->md = pcre2_match_data_create(1, NULL);
    s->jit = pcre2_jit_stack_create(32 * 1024, ENGINE_JIT_STACK_MAX, NULL);
    s->mc[0] = pcre2_match_context_copy(e->mctx);
    s->mc[1] = pcre2_match_context_create(NULL);
    bool ok = s->cand && s->md && s->jit && s->mc[0] && s->mc[1];
    for (int i = 0; ok && i < 2; i++)
        pcre2_jit_stack_assign(s->mc[i], NULL, s->jit);
    for (int g = 0; ok && g < EG_COUNT; g++)
        for (int c = 0; ok && c < ENGINE_ADDR_CLASSES; c++)
            ok = scratch_for(e->g[g].pf[c].any, &s->hs) == HS_SUCCESS &&
                 scratch_for(e->g[g].pf[c].all, &s->hs) == HS_SUCCESS &&
                 scratch_for(e->g[g].pf[c].edge, &s->hs) == HS_SUCCESS;
    if (!ok) {
        engine_scratch_free(s);
        return NULL;
    }
    return s;
}

void engine_scratch_free(struct engine_scratch *s)
{
    if (s == NULL)
        return;
    hs_free_scratch(s->hs);
    pcre2_match_data_free(s->md);
    pcre2_match_context_free(s->mc[0]);
    pcre2_match_context_free(s->mc[1]);
    pcre2_jit_stack_free(s->jit);
    free(s->cand);
    free(s);
}

static int on_hs(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                 void *ctx)
{
    (void)from, (void)to, (void)flags;
    struct engine_scratch *s = ctx;
    if (id & ENGINE_ID_PORTED) {
        id &= ~ENGINE_ID_PORTED;
        if (!rule_ports_match(&s->e->rules[id].r->dport, s->dst_port))
            return 0;
    }
    if (s->n_cand < s->cap_cand)
        s->cand[s->n_cand++] = id;
    return 0;
}

/* Shell sort: no allocation, fine for the few candidates of a packet. */
static void sort_u32(uint32_t *a, uint32_t n)
{
    for (uint32_t gap = n / 2; gap > 0; gap /= 2)
        for (uint32_t i = gap; i < n; i++) {
            uint32_t v = a[i], j = i;
            for (; j >= gap && a[j - gap] > v; j -= gap)
                a[j] = a[j - gap];
            a[j] = v;
        }
}

static void push(struct engine_scratch *s, const uint32_t *ids, uint32_t n)
{
    for (uint32_t i = 0; i < n && s->n_cand < s->cap_cand; i++)
        s->cand[s->n_cand++] = ids[i];
}

/* The always-evaluated rules indexed under key x. */
static void index_hits(const struct aindex *ix, uint32_t x, struct engine_scratch *s)
{
    if (ix->m == 0)
        return;
    uint32_t block = x >> ix->map_shift;
    if (!(ix->map[block / 64] >> (block % 64) & 1) || x < ix->bound[0])
        return;
    /* The last k with bound[k] <= x lies in [first, first + n). */
    uint32_t first = 0, n = ix->m;
    if (ix->slot != NULL) {
        uint32_t i = x >> ix->shift;
        first = ix->slot[i];
        n = ix->slot[i + 1] - first + 1;
    }
    const uint32_t *b = ix->bound + first;   /* b[0] <= x throughout */
    while (n > 1) {
        uint32_t half = n / 2;
        b = b[half] <= x ? b + half : b;     /* a conditional move, not a branch */
        n -= half;
    }
    uint32_t k = (uint32_t)(b - ix->bound);
    push(s, ix->ids + ix->off[k], ix->off[k + 1] - ix->off[k]);
}

/* An address's first four bytes: an IPv4 address, or an IPv6 address's /32
 * block (host order). */
static uint32_t addr_key(const uint8_t a[16])
{
    return (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 | (uint32_t)a[2] << 8 | a[3];
}

/* The indexed always-evaluated rules that may apply: by address, and (tcp,
 * udp: only their groups have a port index) by destination port. */
static void index_candidates(const struct egroup *g, struct engine_scratch *s,
                             const struct engine_packet *p)
{
    index_hits(&g->dport, p->dst_port, s);
    if (p->ip_version == 6) {
        index_hits(&g->ix6[0], addr_key(p->src_addr), s);
        index_hits(&g->ix6[1], addr_key(p->dst_addr), s);
        push(s, g->v6, g->n_v6);
        return;
    }
    index_hits(&g->ix[0], addr_key(p->src_addr), s);
    index_hits(&g->ix[1], addr_key(p->dst_addr), s);
}

/* A $HOME_NET is a few ranges (Suricata's default: three): a look at each
 * costs less than the call and search rule_addrs_match_v4() makes for any
 * list, on every scanned packet. */
#define HOME_SHORT_LIST 4

static bool is_home(const struct engine *e, const struct engine_packet *p, const uint8_t a[16])
{
    if (p->ip_version == 6)
        return rule_addrs_match_v6(&e->home, a);
    uint32_t x = addr_key(a);
    if (e->home.n4 > HOME_SHORT_LIST)
        return rule_addrs_match_v4(&e->home, x);
    bool in = false;
    for (uint32_t i = 0; i < e->home.n4; i++)
        in |= x >= e->home.v4[i].lo && x <= e->home.v4[i].hi;
    return in;
}

/* The packet's address class (engine_int.h). */
static const struct eprefilter *class_of(const struct engine *e, const struct egroup *g,
                                         const struct engine_packet *p)
{
    if (!e->split)
        return &g->pf[0];
    return &g->pf[(unsigned)is_home(e, p, p->src_addr) << 1 | is_home(e, p, p->dst_addr)];
}

/* The class's database for the packet, over buf[0, len): one scan. */
static void scan_databases(const struct eprefilter *pf, struct engine_scratch *s,
                           const struct engine_packet *p, const uint8_t *buf, uint32_t len)
{
    const hs_database_t *db = pf->any;
    if (pf->ported != NULL && (pf->ported[p->dst_port >> 3] >> (p->dst_port & 7) & 1))
        db = pf->all;
    if (db != NULL)
        hs_scan(db, (const char *)buf, len, 0, s->hs, on_hs, s);
}

/* Is a carried rule's pattern still in a buffer that starts at stream byte
 * `start`? Ends are kept as 32 bits: a window is far shorter than 2^31. */
static bool carry_live(uint32_t end, uint64_t start)
{
    return (int32_t)(end - (uint32_t)start) > 0;
}

/* Is the rule carried already? Then it was found again: it lives longer. */
static bool carry_touch(struct engine_carry *c, uint32_t rule, uint32_t end)
{
    for (uint32_t i = 0; i < c->n; i++)
        if (c->rule[i] == rule) {
            c->end[i] = end;
            return true;
        }
    return false;
}

/* After the scans of a stream packet: forget the carried rules whose
 * pattern has left the buffer, offer the others as candidates, and add the
 * rules found in this packet's scans (s->cand[hits, n_cand)). */
static void carry_update(struct engine_carry *c, struct engine_scratch *s,
                         const struct engine_packet *p, uint32_t hits)
{
    uint32_t n_hits = s->n_cand, total = p->window_len + p->payload_len;
    uint64_t start = c->complete ? c->delivered - p->window_len : 0;   /* of window[0] */
    uint32_t after = (uint32_t)(start + total), n = 0;

    for (uint32_t i = 0; c->complete && i < c->n; i++)
        if (carry_live(c->end[i], start)) {
            c->rule[n] = c->rule[i];
            c->end[n++] = c->end[i];
            push(s, &c->rule[i], 1);
        }
    c->n = (uint8_t)n;
    c->complete = n_hits < s->cap_cand;     /* else hits were lost: rescan next time */
    c->delivered = start + total;
    for (uint32_t i = hits; i < n_hits; i++) {
        if (carry_touch(c, s->cand[i], after))
            continue;
        if (c->n == ENGINE_CARRY_MAX) {
            c->n = 0;
            c->complete = false;
            return;
        }
        c->rule[c->n] = s->cand[i];
        c->end[c->n++] = after;
    }
}

const uint8_t *engine_stream_bytes(const struct engine_packet *p, struct engine_scratch *s)
{
    if (p->window_len == 0)
        return p->payload;
    if (s->joined == NULL) {
        if (p->payload != p->join)
            memcpy(p->join, p->payload, p->payload_len);
        memcpy(p->join - p->window_len, p->window, p->window_len);
        s->joined = p->join - p->window_len;
    }
    return s->joined;
}

/* The `tail` bytes before a stream packet's new bytes and the first `head`
 * of them, as one buffer: the boundary alone, without joining the rest. */
static const uint8_t *stream_edge(const struct engine_packet *p, struct engine_scratch *s,
                                  uint32_t tail, uint32_t head)
{
    if (s->joined != NULL)
        return s->joined + p->window_len - tail;
    if (p->payload != p->join)
        memcpy(p->join, p->payload, head);
    memcpy(p->join - tail, p->window + p->window_len - tail, tail);
    return p->join - tail;
}

/* Can a floating pattern of the class cross a boundary between bytes
 * `last` and `first`? (engine_int.h: ENGINE_EDGE_BIGRAMS) */
static bool may_cross(const struct eprefilter *pf, uint8_t last, uint8_t first)
{
    uint32_t k = (uint32_t)last << 8 | first;
    return pf->bigrams == NULL || (pf->bigrams[k / 64] >> (k % 64) & 1);
}

/* The boundary of a stream packet: `tail` bytes of the window and `head`
 * of the new bytes, with the class's edge database when it has one. */
static void scan_boundary(const struct eprefilter *pf, struct engine_scratch *s,
                          const struct engine_packet *p, uint32_t tail, uint32_t head)
{
    const uint8_t *edge = stream_edge(p, s, tail, head);
    if (pf->edge != NULL)
        hs_scan(pf->edge, (const char *)edge, tail + head, 0, s->hs, on_hs, s);
    else
        scan_databases(pf, s, p, edge, tail + head);
}

/* Candidates: the rules whose fast pattern occurs, plus address-indexed
 * ones. In a stream the new bytes are scanned on their own, so that
 * offset/depth pruning in the databases counts from where the packet's data
 * starts, as the verifier does. Then what precedes them: fast patterns that
 * cross the boundary, and those wholly in the window, whose rule may
 * complete only now. The flow's carry names the latter, so only the
 * boundary is scanned again (joined from its two pieces alone), and only
 * when its two bytes are adjacent in some floating pattern (engine_int.h:
 * ENGINE_EDGE_BIGRAMS). Without a complete carry, the whole window. */
static void payload_candidates(const struct engine *e, const struct egroup *g,
                               struct engine_scratch *s, const struct engine_packet *p)
{
    const struct eprefilter *pf = class_of(e, g, p);
    uint32_t hits = s->n_cand, wl = p->stream ? p->window_len : 0;
    scan_databases(pf, s, p, p->payload, p->payload_len);
    if (wl > 0 && e->max_fp_len > 0) {
        uint32_t tail = e->max_fp_len - 1;
        uint32_t head = p->payload_len < tail ? p->payload_len : tail;
        if (p->carry != NULL && p->carry->complete && wl > tail) {
            if (may_cross(pf, p->window[wl - 1], p->payload[0]))
                scan_boundary(pf, s, p, tail, head);
        } else {
            scan_databases(pf, s, p, engine_stream_bytes(p, s), wl + head);
        }
    }
    if (p->stream && p->carry != NULL)
        carry_update(p->carry, s, p, hits);
}

static void prefilter(const struct engine *e, const struct egroup *g, struct engine_scratch *s,
                      const struct engine_packet *p)
{
    s->n_cand = 0;
    s->e = e;
    s->joined = NULL;
    s->dst_port = p->dst_port;
    index_candidates(g, s, p);
    if (p->payload != NULL && p->payload_len > 0)
        payload_candidates(e, g, s, p);
    sort_u32(s->cand, s->n_cand);
}

/* Evaluate one rule; returns true when the packet is passed (stop). */
static bool eval(const struct engine *e, struct engine_scratch *s, uint32_t idx,
                 const struct engine_packet *p, engine_match_fn fn, void *ctx, uint32_t *alerts)
{
    const struct erule *er = &e->rules[idx];
    if (!engine_verify(e, er, p, s))
        return false;
    engine_apply_flowbits(er, p->flowbits);
    if (er->r->action == RULE_ACTION_PASS)
        return true;
    if (!er->r->noalert) {
        (*alerts)++;
        if (fn)
            fn(ctx, er->r);
    }
    return false;
}

uint32_t engine_scan(const struct engine *e, struct engine_scratch *s,
                     const struct engine_packet *p, engine_match_fn fn, void *ctx)
{
    const struct egroup *g = &e->g[engine_group_of(p->ip_proto)];
    prefilter(e, g, s, p);
    uint32_t alerts = 0, i = 0, j = 0, last = UINT32_MAX;
    while (i < s->n_cand || j < g->n_always) {
        uint32_t idx;
        if (j == g->n_always || (i < s->n_cand && s->cand[i] <= g->always[j]))
            idx = s->cand[i++];
        else
            idx = g->always[j++];
        if (idx == last)
            continue;
        last = idx;
        if (eval(e, s, idx, p, fn, ctx, &alerts))
            return 0;
    }
    return alerts;
}

const char *engine_group_name(unsigned i)
{
    static const char *const names[EG_COUNT] = { "tcp", "udp", "icmp", "other" };
    return i < EG_COUNT ? names[i] : NULL;
}
