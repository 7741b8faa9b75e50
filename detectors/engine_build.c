/* engine_build.c - ruleset -> engine: PCRE2 compiles, flowbit ids, the
 * evaluation order, the protocol/port groups and their Hyperscan databases. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine_cache.h"
#include "engine_compile.h"
#include "engine_int.h"

/* ---- small helpers ------------------------------------------------------- */

struct u32vec { uint32_t n, cap; uint32_t *v; };

static bool vec_push(struct u32vec *a, uint32_t x)
{
    if (a->n == a->cap) {
        uint32_t cap = a->cap ? a->cap * 2 : 16;
        uint32_t *v = realloc(a->v, cap * sizeof(*v));
        if (v == NULL)
            return false;
        a->v = v, a->cap = cap;
    }
    a->v[a->n++] = x;
    return true;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void add_error(struct engine *e, const char *fmt, ...)
{
    if (e->st.n_errors >= ENGINE_ERRORS_KEPT)
        return;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    char *s = strdup(buf);
    if (s != NULL)
        e->errors[e->st.n_errors++] = s;
}

/* ---- per rule: pcre and flowbits ----------------------------------------- */

static uint32_t pcre_options(uint32_t f)
{
    uint32_t o = 0;
    o |= (f & RULE_PCRE_CASELESS) ? PCRE2_CASELESS : 0;
    o |= (f & RULE_PCRE_DOTALL) ? PCRE2_DOTALL : 0;
    o |= (f & RULE_PCRE_MULTILINE) ? PCRE2_MULTILINE : 0;
    o |= (f & RULE_PCRE_EXTENDED) ? PCRE2_EXTENDED : 0;
    o |= (f & RULE_PCRE_ANCHORED) ? PCRE2_ANCHORED : 0;
    o |= (f & RULE_PCRE_DOLLAR_ENDONLY) ? PCRE2_DOLLAR_ENDONLY : 0;
    o |= (f & RULE_PCRE_UNGREEDY) ? PCRE2_UNGREEDY : 0;
    return o;
}

static void free_erule(struct erule *er)
{
    if (er->pcre != NULL)
        for (uint32_t i = 0; i < er->r->n_matches; i++)
            pcre2_code_free(er->pcre[i]);
    free(er->pcre);
    for (uint32_t i = 0; i < er->n_fb; i++)
        free(er->fb[i].ids);
    free(er->fb);
    memset(er, 0, sizeof(*er));
}

/* 0 ok, 1 dropped (message recorded), -1 out of memory */
static int compile_pcres(struct engine *e, struct erule *er)
{
    const struct rule *r = er->r;
    for (uint32_t i = 0; i < r->n_matches; i++) {
        if (r->matches[i].type != RULE_MATCH_PCRE)
            continue;
        if (er->pcre == NULL && (er->pcre = calloc(r->n_matches, sizeof(*er->pcre))) == NULL)
            return -1;
        const struct rule_pcre *p = &r->matches[i].u.pcre;
        int ec;
        PCRE2_SIZE eo;
        er->pcre[i] = pcre2_compile((PCRE2_SPTR)p->pattern, PCRE2_ZERO_TERMINATED,
                                    pcre_options(p->flags), &ec, &eo, NULL);
        if (er->pcre[i] == NULL) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(ec, msg, sizeof(msg));
            add_error(e, "%s:%u: pcre: %s at offset %zu", r->file ? r->file : "(rule)",
                      r->line, (char *)msg, (size_t)eo);
            return 1;
        }
        e->st.pcres++;
        if (pcre2_jit_compile(er->pcre[i], PCRE2_JIT_COMPLETE) == 0)
            e->st.pcres_jit++;
    }
    return 0;
}

/* The bit id of `name`, assigning one; -1 when the table is full. */
static int bit_id(struct engine *e, const char *name, bool assign)
{
    for (uint32_t i = 0; i < e->n_bits; i++)
        if (strcmp(e->bit_names[i], name) == 0)
            return (int)i;
    if (!assign || e->n_bits == ENGINE_FLOWBITS_MAX)
        return -1;
    if (e->bit_names == NULL &&
        (e->bit_names = calloc(ENGINE_FLOWBITS_MAX, sizeof(char *))) == NULL)
        return -1;
    if ((e->bit_names[e->n_bits] = strdup(name)) == NULL)
        return -1;
    return (int)e->n_bits++;
}

static int resolve_flowbits(struct engine *e, struct erule *er)
{
    const struct rule *r = er->r;
    uint32_t n = 0;
    for (uint32_t i = 0; i < r->n_flowbits; i++)
        n += r->flowbits[i].n_names > 0;
    if (n == 0)
        return 0;
    if ((er->fb = calloc(n, sizeof(*er->fb))) == NULL)
        return -1;
    for (uint32_t i = 0; i < r->n_flowbits; i++) {
        const struct rule_flowbit *f = &r->flowbits[i];
        if (f->n_names == 0)
            continue;
        struct eflowbit *ef = &er->fb[er->n_fb++];
        *ef = (struct eflowbit){ .cmd = f->cmd, .any_of = f->any_of, .n = f->n_names };
        if ((ef->ids = calloc(f->n_names, sizeof(uint16_t))) == NULL)
            return -1;
        for (uint32_t k = 0; k < f->n_names; k++) {
            int id = bit_id(e, f->names[k], true);
            if (id < 0) {
                add_error(e, "%s:%u: flowbits: more than %d names", r->file ? r->file : "(rule)",
                          r->line, ENGINE_FLOWBITS_MAX);
                return 1;
            }
            ef->ids[k] = (uint16_t)id;
        }
        er->sets_bits |= f->cmd <= RULE_FLOWBIT_TOGGLE;
    }
    return 0;
}

/* ---- evaluation order ---------------------------------------------------- */

static int order_class(const struct erule *er)
{
    bool checks = false;
    for (uint32_t i = 0; i < er->n_fb; i++)
        checks |= er->fb[i].cmd >= RULE_FLOWBIT_ISSET;
    int fb = er->sets_bits ? (checks ? 1 : 0) : (checks ? 3 : 2);
    return (er->r->action == RULE_ACTION_PASS ? 0 : 4) + fb;
}

static int cmp_erule(const void *a, const void *b)
{
    const struct erule *x = a, *y = b;
    int cx = order_class(x), cy = order_class(y);
    if (cx != cy)
        return cx - cy;
    return x->r < y->r ? -1 : x->r > y->r;
}

static bool has_positive_match(const struct rule *r)
{
    for (uint32_t i = 0; i < r->n_matches; i++) {
        const struct rule_match *m = &r->matches[i];
        if (m->type == RULE_MATCH_CONTENT && !(m->u.content.flags & RULE_CONTENT_NEGATED))
            return true;
        if (m->type == RULE_MATCH_PCRE && !(m->u.pcre.flags & RULE_PCRE_NEGATED))
            return true;
    }
    return false;
}

/* Suricata's IP-only rules: nothing but addresses and the protocol (any
 * ports, no payload, flow or packet keyword). */
static bool is_ip_only(const struct rule *r)
{
    return r->n_matches == 0 && r->flow == 0 && r->n_flowbits == 0 && !r->has_dsize &&
           !r->has_itype && !r->has_icode && !r->has_ip_proto && !r->has_ttl && !r->has_flags &&
           r->sport.any && r->dport.any && !r->threshold.present &&
           !r->detection_filter.present;
}

static int load_rules(struct engine *e, const struct ruleset *rs)
{
    if ((e->rules = calloc(rs->n_rules ? rs->n_rules : 1, sizeof(*e->rules))) == NULL)
        return -1;
    for (uint32_t i = 0; i < rs->n_rules; i++) {
        struct erule *er = &e->rules[e->n_rules];
        er->r = &rs->rules[i];
        int rc = compile_pcres(e, er);
        if (rc == 0)
            rc = resolve_flowbits(e, er);
        if (rc < 0)
            return -1;
        if (rc > 0) {
            free_erule(er);
            e->st.rules_dropped++;
            continue;
        }
        er->positive = has_positive_match(er->r);
        er->ip_only = is_ip_only(er->r);
        e->n_rules++;
    }
    if (e->n_rules > 1)
        qsort(e->rules, e->n_rules, sizeof(*e->rules), cmp_erule);
    return 0;
}

/* ---- groups -------------------------------------------------------------- */

/* The usable prefilter content of a rule, or NULL. */
static const struct rule_content *fast_content(const struct rule *r)
{
    if (r->fast_pattern < 0)
        return NULL;
    const struct rule_content *c = &r->matches[r->fast_pattern].u.content;
    return (c->flags & RULE_CONTENT_NEGATED) ? NULL : c;
}

/* The part of a fast pattern Hyperscan looks for: [*off, *off + return). */
static uint32_t fp_literal(const struct rule_content *c, uint32_t *off)
{
    uint32_t len = c->len;
    *off = 0;
    if (c->flags & RULE_CONTENT_FP_CHOP)
        *off = c->fp_offset, len = c->fp_len;
    return len < ENGINE_FP_LITERAL_MAX ? len : ENGINE_FP_LITERAL_MAX;
}

static uint32_t port_count(const struct rule *r)
{
    if (r->dport.any || r->bidirectional)
        return UINT32_MAX;
    uint64_t n = 0;
    for (uint32_t i = 0; i < r->dport.n; i++)
        n += (uint64_t)r->dport.r[i].hi - r->dport.r[i].lo + 1;
    return n > ENGINE_PORT_GROUP_MAX ? UINT32_MAX : (uint32_t)n;
}

struct pair { uint32_t port, rule; };

/* One address class's fast patterns in a group. */
struct cbuild {
    struct u32vec any;
    struct pair *pairs;
    uint32_t n_pairs, cap_pairs;
};

struct gbuild {
    struct cbuild c[ENGINE_ADDR_CLASSES];
    struct u32vec always;
    uint8_t *refused;           /* per rule: Hyperscan refused its pattern (now always) */
};

static bool pair_push(struct cbuild *b, uint32_t port, uint32_t rule)
{
    if (b->n_pairs == b->cap_pairs) {
        uint32_t cap = b->cap_pairs ? b->cap_pairs * 2 : 64;
        struct pair *p = realloc(b->pairs, cap * sizeof(*p));
        if (p == NULL)
            return false;
        b->pairs = p, b->cap_pairs = cap;
    }
    b->pairs[b->n_pairs++] = (struct pair){ port, rule };
    return true;
}

static uint8_t group_mask(int g)
{
    static const uint8_t m[EG_COUNT] = {
        RULE_PROTO_TCP, RULE_PROTO_UDP, RULE_PROTO_ICMP4 | RULE_PROTO_ICMP6,
        RULE_PROTO_SCTP | RULE_PROTO_OTHER,
    };
    return m[g];
}

/* ---- address classes (engine_int.h) -------------------------------------- */

/* Does any IPv4 address of `a` lie in `h` (in_home), or outside it? Both
 * are sorted, disjoint range lists. */
static bool v4_meets(const struct rule_addrs *a, const struct rule_addrs *h, bool in_home)
{
    for (uint32_t i = 0; i < a->n4; i++) {
        uint64_t at = a->v4[i].lo, hi = a->v4[i].hi;   /* first address not yet placed */
        for (uint32_t j = 0; j < h->n4 && at <= hi; j++) {
            if (h->v4[j].hi < at)
                continue;
            if (h->v4[j].lo > hi)
                break;
            if (h->v4[j].lo > at && !in_home)
                return true;                /* [at, home range) lies outside */
            if (in_home)
                return true;                /* the ranges overlap */
            at = (uint64_t)h->v4[j].hi + 1;
        }
        if (!in_home && at <= hi)
            return true;
    }
    return false;
}

/* Whether the address set can hold a home address, and a foreign one.
 * IPv6 is taken coarsely: any IPv6 address of the set may be either. */
static void addr_reach(const struct rule_addrs *a, const struct rule_addrs *home,
                       bool *in_home, bool *outside)
{
    if (a->any) {
        *in_home = *outside = true;
        return;
    }
    *in_home = v4_meets(a, home, true) || (a->n6 > 0 && home->n6 > 0);
    *outside = v4_meets(a, home, false) || a->n6 > 0;
}

/* Bit c set: a packet from `src` to `dst` can be of address class c. */
static unsigned class_mask(const bool src[2], const bool dst[2])
{
    unsigned mask = 0;
    for (unsigned c = 0; c < ENGINE_ADDR_CLASSES; c++)
        if (src[c >> 1 & 1] && dst[c & 1])
            mask |= 1u << c;
    return mask;
}

/* Bit c set: the rule can match a packet of address class c. */
static unsigned rule_classes(const struct engine *e, const struct rule *r)
{
    if (!e->split)
        return 1;
    bool src[2], dst[2];               /* [1]: can be home, [0]: can be outside */
    addr_reach(&r->src, &e->home, &src[1], &src[0]);
    addr_reach(&r->dst, &e->home, &dst[1], &dst[0]);
    unsigned mask = class_mask(src, dst);
    if (r->bidirectional)              /* <>: the other way round too */
        mask |= class_mask(dst, src);
    return mask;
}

/* Split by $HOME_NET only when it parts the address space. */
static int set_home(struct engine *e, const struct ruleset *rs)
{
    const struct rule_addrs *h = &rs->home;
    if (!rs->has_home || h->any || (h->n4 == 0 && h->n6 == 0))
        return 0;
    e->home.n4 = h->n4, e->home.n6 = h->n6;
    e->home.v4 = h->n4 ? malloc(h->n4 * sizeof(*h->v4)) : NULL;
    e->home.v6 = h->n6 ? malloc(h->n6 * sizeof(*h->v6)) : NULL;
    if ((h->n4 && e->home.v4 == NULL) || (h->n6 && e->home.v6 == NULL))
        return -1;
    if (h->n4)
        memcpy(e->home.v4, h->v4, h->n4 * sizeof(*h->v4));
    if (h->n6)
        memcpy(e->home.v6, h->v6, h->n6 * sizeof(*h->v6));
    e->split = true;
    return 0;
}

/* ---- placing rules --------------------------------------------------------- */

/* A fast pattern into one class of a group: port-listed, or for any port. */
static bool place_pattern(struct cbuild *c, const struct rule *r, uint32_t idx, bool ported)
{
    if (!ported)
        return vec_push(&c->any, idx);
    for (uint32_t i = 0; i < r->dport.n; i++)
        for (uint32_t p = r->dport.r[i].lo; p <= r->dport.r[i].hi; p++)
            if (!pair_push(c, p, idx))
                return false;
    return true;
}

static bool place_rule(struct engine *e, struct gbuild *b, uint32_t idx)
{
    const struct rule *r = e->rules[idx].r;
    const struct rule_content *fc = fast_content(r);
    bool fp = fc != NULL;
    uint32_t np = port_count(r);
    uint32_t off, lit = fp ? fp_literal(fc, &off) : 0;
    unsigned classes = fp ? rule_classes(e, r) : 0;
    if (lit > e->max_fp_len)
        e->max_fp_len = lit;
    e->st.rules_prefiltered += fp;
    e->st.rules_always += !fp;
    for (int g = 0; g < EG_COUNT; g++) {
        if (!(r->proto.mask & group_mask(g)))
            continue;
        e->st.group[g].rules++;
        if (!fp && !vec_push(&b[g].always, idx))
            return false;
        bool ported = (g == EG_TCP || g == EG_UDP) && np != UINT32_MAX;
        for (unsigned c = 0; c < ENGINE_ADDR_CLASSES; c++)
            if ((classes >> c & 1) && !place_pattern(&b[g].c[c], r, idx, ported))
                return false;
    }
    return true;
}

/* ---- Hyperscan ------------------------------------------------------------ */

/* The offsets the literal [off, off + len) of content c may end at, as
 * Hyperscan's extended parameters; x->flags 0 when it may end anywhere. */
static void fp_bounds(const struct rule_content *c, uint32_t off, uint32_t len,
                      hs_expr_ext_t *x)
{
    memset(x, 0, sizeof(*x));
    bool rel = c->flags & (RULE_CONTENT_DISTANCE | RULE_CONTENT_WITHIN);
    bool vars = c->offset.var >= 0 || c->depth.var >= 0;
    if (!rel && !vars) {
        bool has_off = (c->flags & RULE_CONTENT_OFFSET) && c->offset.value > 0;
        uint64_t o = has_off ? (uint64_t)c->offset.value : 0;
        uint64_t tail = c->len - off - len;
        if (o > 0) {
            x->flags |= HS_EXT_FLAG_MIN_OFFSET;
            x->min_offset = o + off + len;
        }
        if (c->flags & RULE_CONTENT_DEPTH) {
            x->flags |= HS_EXT_FLAG_MAX_OFFSET;
            x->max_offset = o + (uint64_t)c->depth.value - tail;
        } else if (c->flags & RULE_CONTENT_STARTSWITH) {
            x->flags |= HS_EXT_FLAG_MAX_OFFSET;
            x->max_offset = off + len;
        }
    }
}

/* Can the rule's fast pattern end anywhere in a buffer? Only such a pattern
 * can cross a stream packet's boundary: a bounded one lies within the new
 * bytes, from whose start its offsets count. */
static bool fp_floating(const struct rule *r)
{
    const struct rule_content *c = fast_content(r);
    uint32_t off, len = fp_literal(c, &off);
    hs_expr_ext_t x;
    fp_bounds(c, off, len, &x);
    return x.flags == 0;
}

/* "\xNN" per byte of the fast pattern's literal (fp_literal), with its flags
 * and the offsets the literal may end at. */
static bool add_pattern(struct hs_job *j, const struct rule *r, uint32_t id)
{
    const struct rule_content *c = fast_content(r);
    uint32_t off, len = fp_literal(c, &off);
    char *s = malloc((size_t)len * 4 + 1);
    if (s == NULL)
        return false;
    for (uint32_t i = 0; i < len; i++)
        snprintf(s + 4 * i, 5, "\\x%02x", c->bytes[off + i]);
    unsigned flags = HS_FLAG_SINGLEMATCH | ((c->flags & RULE_CONTENT_NOCASE) ? HS_FLAG_CASELESS : 0);
    hs_expr_ext_t x;
    fp_bounds(c, off, len, &x);
    hs_job_add(j, s, flags, id, x.flags ? &x : NULL);
    return true;
}

/* One database of the build: its patterns, where it goes, and its group
 * (whose always-list takes the rules of refused patterns). */
struct db_plan {
    struct hs_job job;
    hs_database_t **db;
    struct gbuild *b;
    uint64_t key;               /* in the on-disk cache */
    bool cached;
};

/* Plan the database of the rules `ids` (ENGINE_ID_PORTED marks allowed). */
static int plan_db(struct engine *e, struct db_plan *p, const uint32_t *ids, uint32_t n,
                   hs_database_t **db, struct gbuild *b)
{
    p->db = db, p->b = b;
    if (!hs_job_init(&p->job, n))
        return -1;
    for (uint32_t i = 0; i < n; i++)
        if (!add_pattern(&p->job, e->rules[ids[i] & ~ENGINE_ID_PORTED].r, ids[i]))
            return -1;
    return 0;
}

/* A refused pattern's rule is checked on every packet of its group, said
 * once per group however many of its databases refused it. */
static bool take_refused(struct engine *e, struct db_plan *p)
{
    for (uint32_t i = 0; i < p->job.n_refused; i++) {
        uint32_t idx = p->job.refused_ids[i] & ~ENGINE_ID_PORTED;
        if (p->b->refused[idx])
            continue;
        const struct rule *r = e->rules[idx].r;
        const char *why = p->job.refused_why[i];
        add_error(e, "%s:%u: fast pattern: %s (rule checked on every packet)",
                  r->file ? r->file : "(rule)", r->line, why ? why : "refused");
        e->st.hs_fallback++;
        p->b->refused[idx] = 1;
        if (!vec_push(&p->b->always, idx))
            return false;
    }
    return true;
}

/* A compiled (or cached) database into place, counted, and filed in the
 * cache. One some pattern was taken out of is not filed: its key names the
 * inputs before, and a hit would lose the fallback rules. */
static int settle_db(struct engine *e, struct db_plan *p, char *err, size_t errlen)
{
    if (p->job.rc < 0) {
        snprintf(err, errlen, "%s", p->job.err);
        return -1;
    }
    if (!take_refused(e, p))
        return -1;
    *p->db = p->job.db;
    if (*p->db == NULL)
        return 0;
    if (e->cache_dir != NULL && !p->cached && p->job.n_refused == 0)
        e->st.cache_stores += engine_cache_store(e->cache_dir, p->key, *p->db);
    size_t sz = 0;
    hs_database_size(*p->db, &sz);
    e->st.db_bytes += sz;
    e->st.databases++;
    e->st.patterns += p->job.n;
    return 0;
}

static int cmp_job_size(const void *a, const void *b)
{
    const struct hs_job *x = *(struct hs_job *const *)a, *y = *(struct hs_job *const *)b;
    return x->n > y->n ? -1 : x->n < y->n;
}

/* Every planned database: from the cache where it is there, the rest
 * compiled side by side (the largest first, to end together), then put in
 * place in plan order, so refusals and the summary do not depend on which
 * thread finished first. */
static int compile_plans(struct engine *e, struct db_plan *plans, uint32_t n, char *err,
                         size_t errlen)
{
    struct hs_job **todo = calloc(n ? n : 1, sizeof(*todo));
    if (todo == NULL)
        return -1;
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++) {
        struct db_plan *p = &plans[i];
        if (p->job.n == 0)
            continue;
        if (e->cache_dir != NULL) {
            p->key = engine_cache_key((const char *const *)p->job.expr, p->job.flags,
                                      p->job.ids, p->job.extp, p->job.n, HS_MODE_BLOCK);
            p->cached = (p->job.db = engine_cache_load(e->cache_dir, p->key)) != NULL;
            e->st.cache_hits += p->cached;
        }
        if (!p->cached)
            todo[k++] = &p->job;
    }
    qsort(todo, k, sizeof(*todo), cmp_job_size);
    double t0 = now_ms();
    if (k > 0)
        hs_jobs_compile(todo, k);
    e->st.hs_compile_ms += now_ms() - t0;
    free(todo);
    int rc = 0;
    for (uint32_t i = 0; i < n; i++)
        if (rc == 0 && settle_db(e, &plans[i], err, errlen) < 0)
            rc = -1;
    return rc;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* The `all` database of a class with port-listed rules: its "any" rules
 * and each port-listed rule once, marked; their ports go into the map. */
static int plan_all_db(struct engine *e, struct db_plan *plan, struct eprefilter *pf,
                       const struct cbuild *c, struct gbuild *b)
{
    if ((pf->ported = calloc(65536 / 8, 1)) == NULL)
        return -1;
    struct u32vec ids = { 0 };
    bool ok = true;
    for (uint32_t i = 0; ok && i < c->any.n; i++)
        ok = vec_push(&ids, c->any.v[i]);
    for (uint32_t i = 0; ok && i < c->n_pairs; i++) {   /* pairs are pushed rule by rule */
        uint32_t port = c->pairs[i].port;
        pf->ported[port >> 3] |= (uint8_t)(1u << (port & 7));
        if (i == 0 || c->pairs[i].rule != c->pairs[i - 1].rule)
            ok = vec_push(&ids, c->pairs[i].rule | ENGINE_ID_PORTED);
    }
    int rc = ok ? plan_db(e, plan, ids.v, ids.n, &pf->all, b) : -1;
    free(ids.v);
    return rc;
}

/* A TCP class's floating patterns, for any port and port-listed (marked)
 * alike: those that can cross a stream packet's boundary (engine.c), where
 * a bounded pattern cannot lie. *bounded counts the others. */
static bool floating_patterns(const struct engine *e, const struct cbuild *c,
                              struct u32vec *ids, uint32_t *bounded)
{
    *bounded = 0;
    for (uint32_t i = 0; i < c->any.n; i++) {
        if (!fp_floating(e->rules[c->any.v[i]].r))
            (*bounded)++;
        else if (!vec_push(ids, c->any.v[i]))
            return false;
    }
    for (uint32_t i = 0; i < c->n_pairs; i++) {   /* pairs are pushed rule by rule */
        uint32_t rule = c->pairs[i].rule;
        if (i > 0 && rule == c->pairs[i - 1].rule)
            continue;
        if (!fp_floating(e->rules[rule].r))
            (*bounded)++;
        else if (!vec_push(ids, rule | ENGINE_ID_PORTED))
            return false;
    }
    return true;
}

/* The other case of an ASCII letter (Hyperscan's and the verifier's
 * caseless matching fold ASCII only); other bytes as they are. */
static uint8_t other_case(uint8_t c)
{
    return (c | 0x20) >= 'a' && (c | 0x20) <= 'z' ? c ^ 0x20 : c;
}

static void bigram_set(uint64_t *map, uint8_t a, uint8_t b)
{
    uint32_t k = (uint32_t)a << 8 | b;
    map[k / 64] |= 1ull << (k % 64);
}

/* Every pair of adjacent bytes of the floating patterns `ids`, in each case
 * a caseless pattern matches (engine_int.h: the class's bigrams). */
static uint64_t *floating_bigrams(const struct engine *e, const struct u32vec *ids)
{
    uint64_t *map = calloc(65536 / 64, sizeof(uint64_t));
    if (map == NULL)
        return NULL;
    for (uint32_t i = 0; i < ids->n; i++) {
        const struct rule_content *c = fast_content(e->rules[ids->v[i] & ~ENGINE_ID_PORTED].r);
        uint32_t off, len = fp_literal(c, &off);
        const uint8_t *l = c->bytes + off;
        bool nocase = c->flags & RULE_CONTENT_NOCASE;
        for (uint32_t k = 0; k + 1 < len; k++) {
            bigram_set(map, l[k], l[k + 1]);
            if (!nocase)
                continue;
            uint8_t a = other_case(l[k]), b = other_case(l[k + 1]);
            bigram_set(map, a, l[k + 1]), bigram_set(map, l[k], b), bigram_set(map, a, b);
        }
    }
    return map;
}

/* What a TCP class needs for its stream boundaries: the bigrams of its
 * floating patterns, and their own database when the class has
 * ENGINE_EDGE_BOUNDED_MIN bounded patterns or more (engine_int.h). Returns
 * 1 when that database is planned. */
static int plan_edge(struct engine *e, struct db_plan *plan, struct eprefilter *pf,
                     const struct cbuild *c, struct gbuild *b)
{
    struct u32vec ids = { 0 };
    uint32_t bounded;
    int rc = -1;
    if (floating_patterns(e, c, &ids, &bounded) &&
        (pf->bigrams = floating_bigrams(e, &ids)) != NULL) {
        rc = 0;
        if (bounded >= ENGINE_EDGE_BOUNDED_MIN && ids.n > 0)
            rc = plan_db(e, plan, ids.v, ids.n, &pf->edge, b) < 0 ? -1 : 1;
    }
    free(ids.v);
    return rc;
}

/* ---- address index of always-evaluated rules ------------------------------ */

#define AINDEX_ENTRIES_MAX (8u * 1024 * 1024)

/* The side (0 src, 1 dst) to index a rule by, or -1. */
static int index_side(const struct rule *r)
{
    if (r->bidirectional)
        return -1;
    uint64_t cover[2];
    const struct rule_addrs *a[2] = { &r->src, &r->dst };
    for (int s = 0; s < 2; s++) {
        cover[s] = UINT64_MAX;
        if (a[s]->any)
            continue;
        cover[s] = 0;
        for (uint32_t i = 0; i < a[s]->n4; i++)
            cover[s] += (uint64_t)a[s]->v4[i].hi - a[s]->v4[i].lo + 1;
    }
    int s = cover[1] < cover[0];
    return cover[s] <= (1u << 24) ? s : -1;
}

/* What an index is keyed by: a side's IPv4 addresses, the top 32 bits of
 * its IPv6 addresses (a /32 block; the rule check then tests the whole
 * address), or the destination ports. */
enum ikey { IK_SRC4, IK_DST4, IK_SRC6, IK_DST6, IK_DPORT };

static enum ikey addr_key(int side, bool v6)
{
    return v6 ? (side ? IK_DST6 : IK_SRC6) : (side ? IK_DST4 : IK_SRC4);
}

static uint32_t bound_index(const uint32_t *b, uint32_t m, uint32_t x)
{
    uint32_t lo = 0, hi = m;      /* first k with b[k] >= x */
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (b[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static uint32_t n_ranges(const struct engine *e, uint32_t id, enum ikey k)
{
    const struct rule *r = e->rules[id].r;
    switch (k) {
    case IK_SRC4: return r->src.n4;
    case IK_DST4: return r->dst.n4;
    case IK_SRC6: return r->src.n6;
    case IK_DST6: return r->dst.n6;
    default:      return r->dport.n;
    }
}

static struct rule_v4_range range_key(const struct engine *e, uint32_t id, enum ikey k,
                                      uint32_t j)
{
    const struct rule *r = e->rules[id].r;
    const struct rule_addrs *a = (k == IK_SRC4 || k == IK_SRC6) ? &r->src : &r->dst;
    switch (k) {
    case IK_SRC4: case IK_DST4:
        return a->v4[j];
    case IK_SRC6: case IK_DST6:
        return (struct rule_v4_range){ (uint32_t)(a->v6[j].lo.hi >> 32),
                                       (uint32_t)(a->v6[j].hi.hi >> 32) };
    default:
        return (struct rule_v4_range){ r->dport.r[j].lo, r->dport.r[j].hi };
    }
}

/* The interval span [*k0, *k1) of a range. */
static void span(const struct aindex *ix, struct rule_v4_range r, uint32_t *k0, uint32_t *k1)
{
    *k0 = bound_index(ix->bound, ix->m, r.lo);
    *k1 = r.hi == UINT32_MAX ? ix->m : bound_index(ix->bound, ix->m, r.hi + 1);
}

static int fill_index(struct engine *e, struct aindex *ix, const struct u32vec *rules,
                      enum ikey key)
{
    uint64_t total = 0;
    for (uint32_t i = 0; i < rules->n; i++)
        for (uint32_t j = 0; j < n_ranges(e, rules->v[i], key); j++) {
            uint32_t k0, k1;
            span(ix, range_key(e, rules->v[i], key, j), &k0, &k1);
            total += k1 - k0;
        }
    if (total > AINDEX_ENTRIES_MAX)
        return 1;
    if ((ix->off = calloc(ix->m + 1, sizeof(uint32_t))) == NULL ||
        (ix->ids = malloc((total ? total : 1) * sizeof(uint32_t))) == NULL)
        return -1;
    for (int pass = 0; pass < 2; pass++) {      /* count, then place */
        for (uint32_t i = 0; i < rules->n; i++) {
            for (uint32_t j = 0; j < n_ranges(e, rules->v[i], key); j++) {
                uint32_t k0, k1;
                span(ix, range_key(e, rules->v[i], key, j), &k0, &k1);
                for (uint32_t k = k0; k < k1; k++) {
                    if (pass == 0)
                        ix->off[k + 1]++;
                    else
                        ix->ids[ix->off[k]++] = rules->v[i];
                }
            }
        }
        if (pass == 0)
            for (uint32_t k = 0; k < ix->m; k++)
                ix->off[k + 1] += ix->off[k];
        else
            for (uint32_t k = ix->m; k > 0; k--)      /* off[k] now ends k: shift back */
                ix->off[k] = ix->off[k - 1];
    }
    ix->off[0] = 0;
    return 0;
}

/* The slot table of an index keyed by key_bits-bit values: slot[i] is the
 * interval holding slot i's first key, i << shift (0 before bound[0]);
 * slot[1 << AINDEX_SLOT_BITS] is the last interval. */
static int fill_slots(struct aindex *ix, unsigned key_bits)
{
    uint32_t n = 1u << AINDEX_SLOT_BITS, k = 0;
    if ((ix->slot = malloc((n + 1) * sizeof(uint32_t))) == NULL)
        return -1;
    ix->shift = (uint8_t)(key_bits - AINDEX_SLOT_BITS);
    for (uint32_t i = 0; i < n; i++) {
        uint64_t key = (uint64_t)i << ix->shift;
        while (k + 1 < ix->m && ix->bound[k + 1] <= key)
            k++;
        ix->slot[i] = k;
    }
    ix->slot[n] = ix->m - 1;
    return 0;
}

/* The map of an index keyed by key_bits-bit values: the block of every key
 * in an interval with rules is set. Intervals are disjoint, so the work is
 * bounded by the intervals plus the blocks. */
static int fill_map(struct aindex *ix, unsigned key_bits)
{
    uint32_t words = (1u << AINDEX_MAP_BITS) / 64;
    if ((ix->map = calloc(words, sizeof(uint64_t))) == NULL)
        return -1;
    ix->map_shift = (uint8_t)(key_bits - AINDEX_MAP_BITS);
    uint64_t key_max = (1ull << key_bits) - 1;
    for (uint32_t k = 0; k < ix->m; k++) {
        if (ix->off[k + 1] == ix->off[k])
            continue;
        uint64_t last = k + 1 < ix->m ? (uint64_t)ix->bound[k + 1] - 1 : key_max;
        for (uint64_t b = ix->bound[k] >> ix->map_shift; b <= last >> ix->map_shift; b++)
            ix->map[b / 64] |= 1ull << (b % 64);
    }
    return 0;
}

static void aindex_free(struct aindex *ix)
{
    free(ix->bound), free(ix->off), free(ix->ids), free(ix->slot), free(ix->map);
    memset(ix, 0, sizeof(*ix));
}

/* 0 built, 1 too big (rules stay plain), -1 out of memory */
static int build_index(struct engine *e, struct aindex *ix, const struct u32vec *rules,
                       enum ikey key)
{
    struct u32vec b = { 0 };
    for (uint32_t i = 0; i < rules->n; i++) {
        for (uint32_t j = 0; j < n_ranges(e, rules->v[i], key); j++) {
            struct rule_v4_range r = range_key(e, rules->v[i], key, j);
            if (!vec_push(&b, r.lo) || (r.hi != UINT32_MAX && !vec_push(&b, r.hi + 1))) {
                free(b.v);
                return -1;
            }
        }
    }
    if (b.n > 1)
        qsort(b.v, b.n, sizeof(uint32_t), cmp_u32);
    uint32_t m = 0;
    for (uint32_t i = 0; i < b.n; i++)
        if (m == 0 || b.v[m - 1] != b.v[i])
            b.v[m++] = b.v[i];
    ix->m = m, ix->bound = b.v;
    int rc = fill_index(e, ix, rules, key);
    unsigned key_bits = key == IK_DPORT ? 16 : 32;
    if (rc == 0 && m >= AINDEX_SLOT_MIN)
        rc = fill_slots(ix, key_bits);
    if (rc == 0)
        rc = fill_map(ix, key_bits);
    if (rc != 0)
        aindex_free(ix);
    return rc;
}

/* A tcp/udp rule left plain that names its destination ports (mostly
 * header-only scan rules: flags:S to one port) is looked up by the
 * packet's destination port rather than checked on every packet. */
static bool port_indexable(const struct rule *r)
{
    return !r->dport.any && !r->bidirectional;
}

/* Move the port-indexable rules of `plain` into the group's port index;
 * those an index cannot take stay plain. */
static int index_ports(struct engine *e, struct egroup *g, struct u32vec *plain)
{
    struct u32vec ports = { 0 }, rest = { 0 };
    bool ok = true;
    for (uint32_t i = 0; ok && i < plain->n; i++)
        ok = vec_push(port_indexable(e->rules[plain->v[i]].r) ? &ports : &rest, plain->v[i]);
    int rc = ok && ports.n ? build_index(e, &g->dport, &ports, IK_DPORT) : 0;
    ok = ok && rc >= 0;
    if (ok && rc == 0) {
        e->st.rules_port_indexed += ports.n;
        free(plain->v);
        *plain = rest;
        rest.v = NULL;
    }
    free(ports.v), free(rest.v);
    return ok ? 0 : -1;
}

/* Split a group's always list into plain, src-indexed, dst-indexed and
 * (tcp, udp) port-indexed. */
static int split_always(struct engine *e, struct egroup *g, bool ports, struct u32vec *always)
{
    struct u32vec plain = { 0 }, side[2] = { { 0 }, { 0 } }, side6[2] = { { 0 }, { 0 } };
    struct u32vec v6 = { 0 };
    bool ok = true;
    for (uint32_t i = 0; ok && i < always->n; i++) {
        const struct rule *r = e->rules[always->v[i]].r;
        int s = index_side(r);
        ok = vec_push(s < 0 ? &plain : &side[s], always->v[i]);
        if (ok && s >= 0 && (s ? r->dst.n6 : r->src.n6) > 0)
            ok = vec_push(&side6[s], always->v[i]);
    }
    for (int s = 0; ok && s < 2; s++) {
        int rc = side[s].n ? build_index(e, &g->ix[s], &side[s], addr_key(s, false)) : 0;
        ok = rc >= 0;
        for (uint32_t i = 0; ok && rc == 1 && i < side[s].n; i++)
            ok = vec_push(&plain, side[s].v[i]);
        if (rc == 0)
            e->st.rules_addr_indexed += side[s].n;
        /* IPv6 lists by their /32 blocks; too big an index: checked on
         * every IPv6 packet instead */
        rc = ok && side6[s].n ? build_index(e, &g->ix6[s], &side6[s], addr_key(s, true)) : 0;
        ok = ok && rc >= 0;
        for (uint32_t i = 0; ok && rc == 1 && i < side6[s].n; i++)
            ok = vec_push(&v6, side6[s].v[i]);
    }
    if (ok && ports)
        ok = index_ports(e, g, &plain) == 0;
    if (ok && plain.n > 1)
        qsort(plain.v, plain.n, sizeof(uint32_t), cmp_u32);
    free(side[0].v), free(side[1].v), free(side6[0].v), free(side6[1].v);
    g->always = plain.v, g->n_always = plain.n;
    e->st.always_plain += plain.n;
    g->v6 = v6.v, g->n_v6 = v6.n;
    return ok ? 0 : -1;
}

/* An earlier class with the same patterns (rules for any address are in
 * every class: a ruleset of only those needs one set of databases), or -1. */
static int same_class(const struct gbuild *b, unsigned c)
{
    const struct cbuild *x = &b->c[c];
    for (unsigned k = 0; k < c; k++) {
        const struct cbuild *y = &b->c[k];
        if (x->any.n == y->any.n && x->n_pairs == y->n_pairs &&
            (x->any.n == 0 || memcmp(x->any.v, y->any.v, x->any.n * sizeof(uint32_t)) == 0) &&
            (x->n_pairs == 0 || memcmp(x->pairs, y->pairs, x->n_pairs * sizeof(*x->pairs)) == 0))
            return (int)k;
    }
    return -1;
}

/* The databases of a group's classes, planned (a class with the same
 * patterns as an earlier one borrows its set once built). */
static int plan_group(struct engine *e, struct egroup *g, struct gbuild *b,
                      struct db_plan *plans, uint32_t *n)
{
    for (unsigned c = 0; c < ENGINE_ADDR_CLASSES; c++) {
        struct cbuild *cb = &b->c[c];
        struct eprefilter *pf = &g->pf[c];
        if (same_class(b, c) >= 0)
            continue;
        if (cb->n_pairs && plan_all_db(e, &plans[(*n)++], pf, cb, b) < 0)
            return -1;
        if (cb->any.n && plan_db(e, &plans[(*n)++], cb->any.v, cb->any.n, &pf->any, b) < 0)
            return -1;
        if (g == &e->g[EG_TCP]) {
            int rc = plan_edge(e, &plans[*n], pf, cb, b);
            if (rc < 0)
                return -1;
            *n += (uint32_t)rc;
        }
    }
    return 0;
}

/* After the databases: borrowed classes, and the always-evaluated rules
 * (refused patterns' included) sorted, deduplicated and indexed. */
static int finish_group(struct engine *e, struct egroup *g, struct gbuild *b)
{
    for (unsigned c = 0; c < ENGINE_ADDR_CLASSES; c++) {
        int same = same_class(b, c);
        if (same >= 0) {
            g->pf[c] = g->pf[same];
            g->pf[c].borrowed = true;
        }
    }
    if (b->always.n > 1)
        qsort(b->always.v, b->always.n, sizeof(uint32_t), cmp_u32);
    uint32_t n = 0;                      /* dedupe (a rule may be always already) */
    for (uint32_t i = 0; i < b->always.n; i++)
        if (n == 0 || b->always.v[n - 1] != b->always.v[i])
            b->always.v[n++] = b->always.v[i];
    b->always.n = n;
    bool ports = g == &e->g[EG_TCP] || g == &e->g[EG_UDP];
    return split_always(e, g, ports, &b->always);
}

#define PLANS_MAX (EG_COUNT * ENGINE_ADDR_CLASSES * 3)

static int build_groups(struct engine *e, char *err, size_t errlen)
{
    struct gbuild b[EG_COUNT] = { 0 };
    struct db_plan plans[PLANS_MAX];
    uint32_t n_plans = 0;
    bool classes_differ = false;
    int rc = 0;
    memset(plans, 0, sizeof(plans));
    for (int g = 0; rc == 0 && g < EG_COUNT; g++)
        if ((b[g].refused = calloc(e->n_rules + 1, 1)) == NULL)
            rc = -1;
    for (uint32_t i = 0; rc == 0 && i < e->n_rules; i++)
        if (!place_rule(e, b, i))
            rc = -1;
    uint32_t first[EG_COUNT + 1] = { 0 };
    for (int g = 0; rc == 0 && g < EG_COUNT; g++) {
        first[g] = n_plans;
        rc = plan_group(e, &e->g[g], &b[g], plans, &n_plans);
    }
    first[EG_COUNT] = n_plans;
    if (rc == 0)
        rc = compile_plans(e, plans, n_plans, err, errlen);
    for (int g = 0; rc == 0 && g < EG_COUNT; g++) {
        rc = finish_group(e, &e->g[g], &b[g]);
        for (unsigned c = 1; c < ENGINE_ADDR_CLASSES; c++)
            classes_differ |= !e->g[g].pf[c].borrowed;
        e->st.group[g].always = e->g[g].n_always;
        for (uint32_t i = first[g]; i < first[g + 1]; i++)
            e->st.group[g].databases += plans[i].job.db != NULL;
    }
    /* Every class borrowing the first's databases: a packet's class need
     * not be worked out. */
    if (!classes_differ)
        e->split = false;
    for (uint32_t i = 0; i < n_plans; i++) {
        const struct db_plan *p = &plans[i];   /* not put in place: still the job's */
        if (p->job.db != NULL && (p->db == NULL || *p->db != p->job.db))
            hs_free_database(p->job.db);
        hs_job_free(&plans[i].job);
    }
    for (int g = 0; g < EG_COUNT; g++) {
        for (unsigned c = 0; c < ENGINE_ADDR_CLASSES; c++)
            free(b[g].c[c].any.v), free(b[g].c[c].pairs);
        free(b[g].always.v), free(b[g].refused);
    }
    return rc;
}

/* ---- public --------------------------------------------------------------- */

struct engine *engine_build(const struct ruleset *rs, char *err, size_t errlen)
{
    return engine_build_cached(rs, NULL, err, errlen);
}

struct engine *engine_build_cached(const struct ruleset *rs, const char *cache_dir, char *err,
                                   size_t errlen)
{
    double t0 = now_ms();
    char dummy[8];
    if (err == NULL)
        err = dummy, errlen = sizeof(dummy);
    err[0] = '\0';
    struct engine *e = calloc(1, sizeof(*e));
    if (e == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    e->st.rules_in = rs->n_rules;
    e->cache_dir = cache_dir;
    e->mctx = pcre2_match_context_create(NULL);
    int rc = e->mctx ? 0 : -1;
    if (rc == 0) {
        pcre2_set_match_limit(e->mctx, ENGINE_PCRE_MATCH_LIMIT);
        pcre2_set_depth_limit(e->mctx, ENGINE_PCRE_DEPTH_LIMIT);
        rc = load_rules(e, rs);
    }
    if (rc == 0)
        rc = set_home(e, rs);
    if (rc == 0)
        rc = build_groups(e, err, errlen);
    if (rc < 0) {
        if (err[0] == '\0')
            snprintf(err, errlen, "out of memory");
        engine_free(e);
        return NULL;
    }
    e->st.rules_compiled = e->n_rules;
    e->st.flowbit_names = e->n_bits;
    e->st.compile_ms = now_ms() - t0;
    e->cache_dir = NULL;     /* the caller's string: used during the build only */
    return e;
}

void engine_free(struct engine *e)
{
    if (e == NULL)
        return;
    for (uint32_t i = 0; i < e->n_rules; i++)
        free_erule(&e->rules[i]);
    free(e->rules);
    for (int g = 0; g < EG_COUNT; g++) {
        for (unsigned c = 0; c < ENGINE_ADDR_CLASSES; c++) {
            if (e->g[g].pf[c].borrowed)
                continue;
            hs_free_database(e->g[g].pf[c].any);
            hs_free_database(e->g[g].pf[c].all);
            hs_free_database(e->g[g].pf[c].edge);
            free(e->g[g].pf[c].ported);
            free(e->g[g].pf[c].bigrams);
        }
        free(e->g[g].always);
        free(e->g[g].v6);
        aindex_free(&e->g[g].ix[0]), aindex_free(&e->g[g].ix[1]);
        aindex_free(&e->g[g].ix6[0]), aindex_free(&e->g[g].ix6[1]);
        aindex_free(&e->g[g].dport);
    }
    pcre2_match_context_free(e->mctx);
    rule_addrs_free(&e->home);
    for (uint32_t i = 0; i < e->n_bits; i++)
        free(e->bit_names[i]);
    free(e->bit_names);
    for (uint32_t i = 0; i < e->st.n_errors; i++)
        free(e->errors[i]);
    free(e);
}

const struct engine_stats *engine_stats(const struct engine *e)
{
    return &e->st;
}

const char *engine_error(const struct engine *e, uint32_t i)
{
    return i < e->st.n_errors ? e->errors[i] : NULL;
}

int engine_flowbit_id(const struct engine *e, const char *name)
{
    return bit_id((struct engine *)e, name, false);
}
