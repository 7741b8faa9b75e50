/* rule.c - freeing a rule and the small evaluation helpers of rule.h. */
#include <stdlib.h>
#include <string.h>

#include "rule.h"

void rule_addrs_free(struct rule_addrs *a)
{
    free(a->v4);
    free(a->v6);
    memset(a, 0, sizeof(*a));
}

void rule_ports_free(struct rule_ports *p)
{
    free(p->r);
    memset(p, 0, sizeof(*p));
}

static void free_strings(char **v, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static void match_free(struct rule_match *m)
{
    if (m->type == RULE_MATCH_CONTENT)
        free(m->u.content.bytes);
    else if (m->type == RULE_MATCH_PCRE)
        free(m->u.pcre.pattern);
}

void rule_free(struct rule *r)
{
    if (r == NULL)
        return;
    rule_addrs_free(&r->src);
    rule_addrs_free(&r->dst);
    rule_ports_free(&r->sport);
    rule_ports_free(&r->dport);
    free(r->msg);
    free(r->classtype);
    free(r->category);
    free_strings(r->references, r->n_references);
    free_strings(r->metadata, r->n_metadata);
    free(r->service);
    for (uint32_t i = 0; i < r->n_matches; i++)
        match_free(&r->matches[i]);
    free(r->matches);
    for (uint32_t i = 0; i < r->n_flowbits; i++)
        free_strings(r->flowbits[i].names, r->flowbits[i].n_names);
    free(r->flowbits);
    free(r->text);
    memset(r, 0, sizeof(*r));
}

static int u128_cmp(struct rule_u128 a, struct rule_u128 b)
{
    if (a.hi != b.hi)
        return a.hi < b.hi ? -1 : 1;
    if (a.lo != b.lo)
        return a.lo < b.lo ? -1 : 1;
    return 0;
}

bool rule_addrs_match_v4(const struct rule_addrs *a, uint32_t addr)
{
    if (a->any)
        return true;
    uint32_t lo = 0, hi = a->n4;
    while (lo < hi) {                  /* first range whose hi >= addr */
        uint32_t mid = lo + (hi - lo) / 2;
        if (a->v4[mid].hi < addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < a->n4 && a->v4[lo].lo <= addr;
}

bool rule_addrs_match_v6(const struct rule_addrs *a, const uint8_t addr[16])
{
    if (a->any)
        return true;
    struct rule_u128 x = { 0, 0 };
    for (int i = 0; i < 8; i++) {
        x.hi = (x.hi << 8) | addr[i];
        x.lo = (x.lo << 8) | addr[i + 8];
    }
    uint32_t lo = 0, hi = a->n6;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (u128_cmp(a->v6[mid].hi, x) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < a->n6 && u128_cmp(a->v6[lo].lo, x) <= 0;
}

bool rule_ports_match(const struct rule_ports *p, uint16_t port)
{
    if (p->any)
        return true;
    uint32_t lo = 0, hi = p->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (p->r[mid].hi < port)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < p->n && p->r[lo].lo <= port;
}

bool rule_uint_match(const struct rule_uint *u, uint64_t x)
{
    switch (u->cmp) {
    case RULE_CMP_EQ:        return x == u->a;
    case RULE_CMP_NE:        return x != u->a;
    case RULE_CMP_LT:        return x < u->a;
    case RULE_CMP_LE:        return x <= u->a;
    case RULE_CMP_GT:        return x > u->a;
    case RULE_CMP_GE:        return x >= u->a;
    case RULE_CMP_RANGE:     return x > u->a && x < u->b;
    case RULE_CMP_NOT_RANGE: return x <= u->a || x >= u->b;
    case RULE_CMP_MASK:      return (x & u->a) == u->b;
    case RULE_CMP_NOT_MASK:  return (x & u->a) != u->b;
    }
    return false;
}

bool rule_tcp_flags_match(const struct rule_tcp_flags *f, uint8_t tcp_flags)
{
    uint8_t v = tcp_flags & (uint8_t)~f->ignore;
    switch (f->mode) {
    case RULE_FLAGS_EXACT: return v == f->flags;
    case RULE_FLAGS_PLUS:  return (v & f->flags) == f->flags;
    case RULE_FLAGS_ANY:   return f->flags == 0 ? v == 0 : (v & f->flags) != 0;
    case RULE_FLAGS_NOT:   return (v & f->flags) == 0;
    }
    return false;
}

const char *rule_action_name(enum rule_action a)
{
    return a == RULE_ACTION_PASS ? "pass" : "alert";
}

const char *rule_declared_name(enum rule_declared_action a)
{
    switch (a) {
    case RULE_DECLARED_ALERT:  return "alert";
    case RULE_DECLARED_PASS:   return "pass";
    case RULE_DECLARED_DROP:   return "drop";
    case RULE_DECLARED_REJECT: return "reject";
    }
    return "?";
}

bool rule_match_is_relative(const struct rule_match *m)
{
    switch (m->type) {
    case RULE_MATCH_CONTENT:
        return m->u.content.flags & (RULE_CONTENT_DISTANCE | RULE_CONTENT_WITHIN);
    case RULE_MATCH_PCRE:         return m->u.pcre.flags & RULE_PCRE_RELATIVE;
    case RULE_MATCH_BYTE_TEST:    return m->u.byte_test.flags & RULE_BYTE_RELATIVE;
    case RULE_MATCH_BYTE_JUMP:    return m->u.byte_jump.flags & RULE_BYTE_RELATIVE;
    case RULE_MATCH_BYTE_EXTRACT: return m->u.byte_extract.flags & RULE_BYTE_RELATIVE;
    case RULE_MATCH_ISDATAAT:     return m->u.isdataat.relative;
    }
    return false;
}
