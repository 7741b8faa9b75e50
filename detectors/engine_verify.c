/* engine_verify.c - one rule against one packet: header, flow, packet
 * tests, flowbits checks and the payload elements in order, with Suricata's
 * relative matching (a failed relative chain retries its anchor at the
 * anchor's next occurrence, bounded by ENGINE_INSPECT_LIMIT). */
#include <stdint.h>
#include <string.h>

#include "engine_int.h"

/* ---- header ----------------------------------------------------------- */

static uint8_t proto_bit(uint8_t ip_proto)
{
    switch (ip_proto) {
    case 6:   return RULE_PROTO_TCP;
    case 17:  return RULE_PROTO_UDP;
    case 1:   return RULE_PROTO_ICMP4;
    case 58:  return RULE_PROTO_ICMP6;
    case 132: return RULE_PROTO_SCTP;
    default:  return RULE_PROTO_OTHER;
    }
}

static bool has_ports(uint8_t ip_proto)
{
    return ip_proto == 6 || ip_proto == 17 || ip_proto == 132;
}

static bool addr_match(const struct rule_addrs *a, const struct engine_packet *p,
                       const uint8_t addr[16])
{
    if (a->any)
        return true;
    if (p->ip_version == 4) {
        uint32_t v = (uint32_t)addr[0] << 24 | (uint32_t)addr[1] << 16 |
                     (uint32_t)addr[2] << 8 | addr[3];
        return rule_addrs_match_v4(a, v);
    }
    return rule_addrs_match_v6(a, addr);
}

static bool one_way(const struct rule *r, const struct engine_packet *p, bool swap)
{
    const uint8_t *src = swap ? p->dst_addr : p->src_addr;
    const uint8_t *dst = swap ? p->src_addr : p->dst_addr;
    if (!addr_match(&r->src, p, src) || !addr_match(&r->dst, p, dst))
        return false;
    /* as Suricata: a protocol without ports has port 0 */
    bool ports = has_ports(p->ip_proto);
    uint16_t sp = !ports ? 0 : swap ? p->dst_port : p->src_port;
    uint16_t dp = !ports ? 0 : swap ? p->src_port : p->dst_port;
    return (r->sport.any || rule_ports_match(&r->sport, sp)) &&
           (r->dport.any || rule_ports_match(&r->dport, dp));
}

static bool proto_match(const struct rule *r, const struct engine_packet *p)
{
    return (r->proto.mask & proto_bit(p->ip_proto)) &&
           (r->proto.ip_versions & (p->ip_version == 6 ? RULE_IPV6 : RULE_IPV4));
}

static bool addrs_ports_match(const struct rule *r, const struct engine_packet *p)
{
    return one_way(r, p, false) || (r->bidirectional && one_way(r, p, true));
}

static bool flow_match(uint32_t f, const struct engine_packet *p)
{
    bool flow = p->flowbits != NULL;
    if ((f & RULE_FLOW_TO_SERVER) && !(flow && p->to_server))
        return false;
    if ((f & RULE_FLOW_TO_CLIENT) && !(flow && !p->to_server))
        return false;
    if ((f & RULE_FLOW_ESTABLISHED) && !(flow && p->established))
        return false;
    if ((f & RULE_FLOW_NOT_ESTABLISHED) && flow && p->established)
        return false;
    return true;
}

static bool packet_tests(const struct rule *r, const struct engine_packet *p)
{
    bool icmp = p->ip_proto == 1 || p->ip_proto == 58;
    if (r->has_dsize && !rule_uint_match(&r->dsize, p->stream ? p->dsize : p->payload_len))
        return false;
    if (r->has_flags && (p->ip_proto != 6 || !rule_tcp_flags_match(&r->flags, p->tcp_flags)))
        return false;
    if (r->has_itype && (!icmp || !rule_uint_match(&r->itype, p->icmp_type)))
        return false;
    if (r->has_icode && (!icmp || !rule_uint_match(&r->icode, p->icmp_code)))
        return false;
    if (r->has_ttl && !rule_uint_match(&r->ttl, p->ttl))
        return false;
    if (r->has_ip_proto && !rule_uint_match(&r->ip_proto, p->ip_proto))
        return false;
    return true;
}

/* ---- flowbits ---------------------------------------------------------- */

static bool bit_get(const struct engine_flowbits *fb, uint16_t id)
{
    return (fb->w[id >> 6] >> (id & 63)) & 1;
}

static bool flowbits_check(const struct erule *er, const struct engine_flowbits *fb)
{
    for (uint32_t i = 0; i < er->n_fb; i++) {
        const struct eflowbit *f = &er->fb[i];
        if (f->cmd != RULE_FLOWBIT_ISSET && f->cmd != RULE_FLOWBIT_ISNOTSET)
            continue;
        if (fb == NULL)
            return false;
        bool want = f->cmd == RULE_FLOWBIT_ISSET;
        uint32_t hits = 0;
        for (uint32_t k = 0; k < f->n; k++)
            hits += bit_get(fb, f->ids[k]) == want;
        if (f->any_of ? hits == 0 : hits != f->n)
            return false;
    }
    return true;
}

void engine_apply_flowbits(const struct erule *er, struct engine_flowbits *fb)
{
    if (fb == NULL || !er->sets_bits)
        return;
    for (uint32_t i = 0; i < er->n_fb; i++) {
        const struct eflowbit *f = &er->fb[i];
        for (uint32_t k = 0; k < f->n; k++) {
            uint64_t bit = 1ull << (f->ids[k] & 63), *w = &fb->w[f->ids[k] >> 6];
            if (f->cmd == RULE_FLOWBIT_SET)
                *w |= bit;
            else if (f->cmd == RULE_FLOWBIT_UNSET)
                *w &= ~bit;
            else if (f->cmd == RULE_FLOWBIT_TOGGLE)
                *w ^= bit;
        }
    }
}

/* ---- payload ------------------------------------------------------------ */

struct insp {
    const struct erule *er;
    const uint8_t *buf;
    int64_t len;
    int64_t base;               /* where absolute positions count from (window_len) */
    int64_t end;                /* furthest end of a positive match so far */
    bool need_new;              /* stream: the match must end past base */
    struct engine_scratch *s;
    uint32_t budget;
    uint64_t vars[RULE_BYTE_VARS_MAX];
};

enum { NO = 0, YES = 1, STOP = -1 };   /* STOP: no retry can help */

static int64_t operand(const struct insp *x, struct rule_operand o)
{
    return o.var >= 0 ? (int64_t)x->vars[(uint8_t)o.var] : o.value;
}

static uint8_t lower(uint8_t c)
{
    return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

/* First occurrence of needle in buf[lo, hi), or -1. */
static int64_t find(const uint8_t *buf, int64_t lo, int64_t hi, const uint8_t *nd, uint32_t n,
                    bool nocase)
{
    if (lo < 0)
        lo = 0;
    if (hi - lo < (int64_t)n)
        return -1;
    if (!nocase) {
        const uint8_t *f = memmem(buf + lo, (size_t)(hi - lo), nd, n);
        return f ? f - buf : -1;
    }
    uint8_t c0 = lower(nd[0]);
    for (int64_t i = lo; i + n <= hi; i++) {
        if (lower(buf[i]) != c0)
            continue;
        uint32_t k = 1;
        while (k < n && lower(buf[i + k]) == lower(nd[k]))
            k++;
        if (k == n)
            return i;
    }
    return -1;
}

static bool next_is_rel(const struct insp *x, uint32_t i)
{
    return i + 1 < x->er->r->n_matches && rule_match_is_relative(&x->er->r->matches[i + 1]);
}

static int inspect(struct insp *x, uint32_t i, int64_t prev);

/* Element i matched, ending at `end`: go on with i + 1, remembering how far
 * the positive matches reach (a stream match must reach the new bytes). */
static int inspect_after(struct insp *x, uint32_t i, int64_t end)
{
    int64_t saved = x->end;
    if (end > x->end)
        x->end = end;
    int r = inspect(x, i + 1, end);
    x->end = saved;
    return r;
}

/* Whether PCRE2 anchored the pattern at the subject's start (^ without m,
 * \A, the 'A' flag). */
static bool pcre_is_anchored(const pcre2_code *code)
{
    uint32_t opts = 0;
    pcre2_pattern_info(code, PCRE2_INFO_ALLOPTIONS, &opts);
    return opts & PCRE2_ANCHORED;
}

/* The window [lo, hi) a content must lie in. */
static void content_window(const struct insp *x, const struct rule_content *c, int64_t prev,
                           int64_t *lo, int64_t *hi)
{
    *lo = 0;
    *hi = x->len;
    if (c->flags & (RULE_CONTENT_DISTANCE | RULE_CONTENT_WITHIN)) {
        int64_t d = (c->flags & RULE_CONTENT_DISTANCE) ? operand(x, c->distance) : 0;
        *lo = prev + d;
        if (c->flags & RULE_CONTENT_WITHIN) {
            int64_t h = prev + d + operand(x, c->within);
            *hi = h < *hi ? h : *hi;
        }
    }
    if (c->flags & RULE_CONTENT_OFFSET) {
        int64_t o = x->base + operand(x, c->offset);
        *lo = o > *lo ? o : *lo;
    }
    if (c->flags & RULE_CONTENT_DEPTH) {
        int64_t base = x->base + ((c->flags & RULE_CONTENT_OFFSET) ? operand(x, c->offset) : 0);
        if (c->flags & (RULE_CONTENT_DISTANCE | RULE_CONTENT_WITHIN))
            base = prev;
        int64_t h = base + operand(x, c->depth);
        *hi = h < *hi ? h : *hi;
    }
    if (c->flags & RULE_CONTENT_STARTSWITH) {
        int64_t h = x->base + (int64_t)c->len;
        *lo = *lo > x->base ? *lo : x->base;
        *hi = *hi < h ? *hi : h;
    }
    if (c->flags & RULE_CONTENT_ENDSWITH) {
        int64_t at = x->len - c->len;
        *lo = at >= *lo ? at : x->len + 1;   /* past the end: no room */
    }
}

static int do_content(struct insp *x, uint32_t i, int64_t prev)
{
    const struct rule_content *c = &x->er->r->matches[i].u.content;
    /* a miss is final unless an earlier element can move: relative, or a
     * byte_extract variable a retried anchor would extract again */
    bool rel = (c->flags & (RULE_CONTENT_DISTANCE | RULE_CONTENT_WITHIN)) || c->offset.var >= 0 ||
               c->depth.var >= 0 || c->distance.var >= 0 || c->within.var >= 0;
    bool nocase = c->flags & RULE_CONTENT_NOCASE;
    int64_t lo, hi;
    content_window(x, c, prev, &lo, &hi);
    if (c->flags & RULE_CONTENT_NEGATED) {
        if (find(x->buf, lo, hi, c->bytes, c->len, nocase) >= 0)
            return rel ? NO : STOP;
        return inspect(x, i + 1, prev);
    }
    for (;;) {
        int64_t at = find(x->buf, lo, hi, c->bytes, c->len, nocase);
        if (at < 0)
            return rel ? NO : STOP;
        int r = inspect_after(x, i, at + c->len);
        if (r != NO || !(next_is_rel(x, i) || x->need_new))
            return r;
        lo = at + 1;
    }
}

/* A match PCRE2 gave up on (catastrophic backtracking, or a recursion too
 * deep for the JIT stack): no match, as Suricata; counted for the stats. */
static bool pcre_limit_hit(int rc)
{
    return rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
           rc == PCRE2_ERROR_HEAPLIMIT || rc == PCRE2_ERROR_JIT_STACKLIMIT;
}

uint32_t engine_scratch_take_pcre_limit_hits(struct engine_scratch *s)
{
    uint32_t n = s->pcre_limit_hits;

    s->pcre_limit_hits = 0;
    return n;
}

static int do_pcre(struct insp *x, uint32_t i, int64_t prev)
{
    const struct rule_pcre *pc = &x->er->r->matches[i].u.pcre;
    const pcre2_code *code = x->er->pcre[i];
    bool rel = pc->flags & RULE_PCRE_RELATIVE;
    pcre2_match_context *mc = x->s->mc[(pc->flags & RULE_PCRE_NO_LIMITS) ? 1 : 0];
    /* relative: the subject starts at prev (^ anchors there, as Suricata);
     * in a stream an anchored pcre starts where the new bytes do */
    int64_t base = rel ? prev : pcre_is_anchored(code) ? x->base : 0, start = base;
    for (;;) {
        if (start > x->len)
            return rel ? NO : STOP;
        int rc = pcre2_match(code, x->buf + base, (PCRE2_SIZE)(x->len - base),
                             (PCRE2_SIZE)(start - base), 0, x->s->md, mc);
        if (rc < 0 && rc != PCRE2_ERROR_NOMATCH) {
            /* PCRE2 could not tell: no match, negated or not (as Suricata) */
            x->s->pcre_limit_hits += pcre_limit_hit(rc);
            return rel ? NO : STOP;
        }
        if (pc->flags & RULE_PCRE_NEGATED) {
            if (rc >= 0)
                return rel ? NO : STOP;
            return inspect(x, i + 1, prev);
        }
        if (rc < 0)
            return rel ? NO : STOP;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(x->s->md);
        int r = inspect_after(x, i, base + (int64_t)ov[1]);
        if (r != NO || !(next_is_rel(x, i) || x->need_new))
            return r;
        start = base + (int64_t)ov[0] + 1;
    }
}

/* nbytes at buf[pos] as a number (binary, or text in `base`). */
static bool read_num(const struct insp *x, int64_t pos, uint32_t nbytes, uint32_t flags,
                     uint8_t base, uint64_t *out)
{
    if (pos < 0 || pos + nbytes > x->len)
        return false;
    const uint8_t *b = x->buf + pos;
    uint64_t v = 0;
    if (!(flags & RULE_BYTE_STRING)) {
        for (uint32_t k = 0; k < nbytes; k++)
            v = (flags & RULE_BYTE_LITTLE) ? v | (uint64_t)b[k] << (8 * k) : v << 8 | b[k];
        *out = v;
        return true;
    }
    uint32_t k = 0;
    for (; k < nbytes; k++) {
        uint8_t c = lower(b[k]);
        uint32_t d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : 99;
        if (d >= base)
            break;
        v = v * base + d;
    }
    *out = v;
    return k > 0;
}

static uint64_t apply_mask(uint64_t v, uint32_t flags, uint64_t mask)
{
    if (!(flags & RULE_BYTE_BITMASK))
        return v;
    v &= mask;
    return v >> __builtin_ctzll(mask);
}

static int do_byte_test(struct insp *x, uint32_t i, int64_t prev)
{
    const struct rule_byte_test *t = &x->er->r->matches[i].u.byte_test;
    bool rel = t->flags & RULE_BYTE_RELATIVE;
    bool retry = rel || t->offset.var >= 0 || t->value.var >= 0;
    uint64_t v;
    if (!read_num(x, (rel ? prev : x->base) + operand(x, t->offset), t->nbytes, t->flags, t->base, &v))
        return retry ? NO : STOP;
    v = apply_mask(v, t->flags, t->bitmask);
    uint64_t w = (uint64_t)operand(x, t->value);
    bool ok;
    switch (t->op) {
    case RULE_BYTE_OP_LT:  ok = v < w; break;
    case RULE_BYTE_OP_GT:  ok = v > w; break;
    case RULE_BYTE_OP_EQ:  ok = v == w; break;
    case RULE_BYTE_OP_LE:  ok = v <= w; break;
    case RULE_BYTE_OP_GE:  ok = v >= w; break;
    case RULE_BYTE_OP_AND: ok = (v & w) != 0; break;
    default:               ok = (v ^ w) != 0; break;
    }
    if (ok == t->negate)
        return retry ? NO : STOP;
    return inspect(x, i + 1, prev);
}

static int do_byte_jump(struct insp *x, uint32_t i, int64_t prev)
{
    const struct rule_byte_jump *j = &x->er->r->matches[i].u.byte_jump;
    bool rel = j->flags & RULE_BYTE_RELATIVE;
    bool retry = rel || j->nbytes.var >= 0 || j->offset.var >= 0;
    int64_t nb = operand(x, j->nbytes);
    int64_t pos = (rel ? prev : x->base) + operand(x, j->offset);
    uint64_t v = 0;
    if (nb < 0 || nb > 23 || (nb > 0 && !read_num(x, pos, (uint32_t)nb, j->flags, j->base, &v)))
        return retry ? NO : STOP;
    v = apply_mask(v, j->flags, j->bitmask) * j->multiplier;
    if (v > (uint64_t)INT32_MAX)
        return retry ? NO : STOP;
    if ((j->flags & RULE_BYTE_ALIGN) && (v & 3))
        v += 4 - (v & 3);
    int64_t to = (j->flags & RULE_BYTE_FROM_BEGINNING) ? x->base + (int64_t)v
               : (j->flags & RULE_BYTE_FROM_END) ? x->len + (int64_t)v
               : pos + nb + (int64_t)v;
    to += j->post_offset;
    if (to < 0 || to > x->len)
        return retry ? NO : STOP;
    return inspect(x, i + 1, to);
}

static int do_byte_extract(struct insp *x, uint32_t i, int64_t prev)
{
    const struct rule_byte_extract *b = &x->er->r->matches[i].u.byte_extract;
    bool rel = b->flags & RULE_BYTE_RELATIVE;
    int64_t pos = (rel ? prev : x->base) + b->offset;
    uint64_t v;
    if (!read_num(x, pos, b->nbytes, b->flags, b->base, &v))
        return rel ? NO : STOP;
    v = apply_mask(v, b->flags, b->bitmask) * b->multiplier;
    if (b->align && v % b->align)
        v += b->align - v % b->align;
    uint64_t saved = x->vars[b->var];
    x->vars[b->var] = v;
    int r = inspect(x, i + 1, pos + b->nbytes);
    x->vars[b->var] = saved;
    return r;
}

static int do_isdataat(struct insp *x, uint32_t i, int64_t prev)
{
    const struct rule_isdataat *d = &x->er->r->matches[i].u.isdataat;
    int64_t n = operand(x, d->size);   /* Suricata: relative needs n bytes left */
    bool data = d->relative ? prev + n <= x->len : n < x->len - x->base;
    if (data == d->negated)
        return d->relative || d->size.var >= 0 ? NO : STOP;
    return inspect(x, i + 1, prev);
}

static int inspect(struct insp *x, uint32_t i, int64_t prev)
{
    if (i == x->er->r->n_matches)
        return !x->need_new || x->end > x->base ? YES : NO;
    if (x->budget == 0)
        return STOP;
    x->budget--;
    switch (x->er->r->matches[i].type) {
    case RULE_MATCH_CONTENT:      return do_content(x, i, prev);
    case RULE_MATCH_PCRE:         return do_pcre(x, i, prev);
    case RULE_MATCH_BYTE_TEST:    return do_byte_test(x, i, prev);
    case RULE_MATCH_BYTE_JUMP:    return do_byte_jump(x, i, prev);
    case RULE_MATCH_BYTE_EXTRACT: return do_byte_extract(x, i, prev);
    case RULE_MATCH_ISDATAAT:     return do_isdataat(x, i, prev);
    }
    return STOP;
}

bool engine_verify(const struct engine *e, const struct erule *er,
                   const struct engine_packet *p, struct engine_scratch *s)
{
    (void)e;
    const struct rule *r = er->r;
    if (er->ip_only && p->ip_only_done)
        return false;
    /* cheapest first: protocol, flow, packet fields, flowbits, then addresses */
    if (!proto_match(r, p) || !flow_match(r->flow, p) || !packet_tests(r, p))
        return false;
    if (er->n_fb && !flowbits_check(er, p->flowbits))
        return false;
    if (!addrs_ports_match(r, p))
        return false;
    if (r->n_matches == 0)
        return true;
    struct insp x = {
        .er = er, .buf = p->payload ? p->payload : (const uint8_t *)"",
        .len = p->payload ? p->payload_len : 0, .s = s, .budget = ENGINE_INSPECT_LIMIT,
    };
    if (p->stream && p->payload) {
        x.buf = engine_stream_bytes(p, s);
        x.len = p->window_len + p->payload_len;
        x.base = p->window_len;
        x.need_new = er->positive;
    }
    return inspect(&x, 0, x.base) == YES;
}
