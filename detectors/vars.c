/* vars.c - the variable table and the header group resolver.
 *
 * Groups are resolved into "span sets": sorted, merged lists of inclusive
 * [lo, hi] ranges of 128-bit numbers, one set per address family (IPv4,
 * IPv6) or a single one for ports. Negation is complement within the family's
 * space, so the engine receives plain ranges and never has to reason about
 * "!" at match time. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "vars.h"

/* ---- the variable table ------------------------------------------------ */

struct var {
    enum rule_var_kind kind;
    char *name;
    char *value;
};

struct rule_vars {
    struct var *v;
    uint32_t n, cap;
};

/* suricata.yaml's address-groups and port-groups, plus the variables the
 * shared ET Open / Snort community sets use that Suricata does not define
 * (SIP_*, SSH_SERVERS, FTP_SERVERS, SNMP_SERVERS with Snort's defaults). */
static const struct {
    enum rule_var_kind kind;
    const char *name, *value;
} default_vars[] = {
    { RULE_VAR_ADDRESS, "HOME_NET", "[192.168.0.0/16,10.0.0.0/8,172.16.0.0/12]" },
    { RULE_VAR_ADDRESS, "EXTERNAL_NET", "!$HOME_NET" },
    { RULE_VAR_ADDRESS, "HTTP_SERVERS", "$HOME_NET" },
    { RULE_VAR_ADDRESS, "SMTP_SERVERS", "$HOME_NET" },
    { RULE_VAR_ADDRESS, "SQL_SERVERS", "$HOME_NET" },
    { RULE_VAR_ADDRESS, "DNS_SERVERS", "$HOME_NET" },
    { RULE_VAR_ADDRESS, "TELNET_SERVERS", "$HOME_NET" },
    { RULE_VAR_ADDRESS, "AIM_SERVERS", "$EXTERNAL_NET" },
    { RULE_VAR_ADDRESS, "DC_SERVERS", "$HOME_NET" },
    { RULE_VAR_ADDRESS, "DNP3_SERVER", "$HOME_NET" },
    { RULE_VAR_ADDRESS, "DNP3_CLIENT", "$HOME_NET" },
    { RULE_VAR_ADDRESS, "MODBUS_CLIENT", "$HOME_NET" },
    { RULE_VAR_ADDRESS, "MODBUS_SERVER", "$HOME_NET" },
    { RULE_VAR_ADDRESS, "ENIP_CLIENT", "$HOME_NET" },
    { RULE_VAR_ADDRESS, "ENIP_SERVER", "$HOME_NET" },
    { RULE_VAR_ADDRESS, "SIP_SERVERS", "$HOME_NET" },
    { RULE_VAR_ADDRESS, "SSH_SERVERS", "$HOME_NET" },
    { RULE_VAR_ADDRESS, "FTP_SERVERS", "$HOME_NET" },
    { RULE_VAR_ADDRESS, "SNMP_SERVERS", "$HOME_NET" },
    { RULE_VAR_PORT, "HTTP_PORTS", "80" },
    { RULE_VAR_PORT, "SHELLCODE_PORTS", "!80" },
    { RULE_VAR_PORT, "ORACLE_PORTS", "1521" },
    { RULE_VAR_PORT, "SSH_PORTS", "22" },
    { RULE_VAR_PORT, "DNP3_PORTS", "20000" },
    { RULE_VAR_PORT, "MODBUS_PORTS", "502" },
    { RULE_VAR_PORT, "FILE_DATA_PORTS", "[$HTTP_PORTS,110,143]" },
    { RULE_VAR_PORT, "FTP_PORTS", "21" },
    { RULE_VAR_PORT, "GENEVE_PORTS", "6081" },
    { RULE_VAR_PORT, "VXLAN_PORTS", "4789" },
    { RULE_VAR_PORT, "TEREDO_PORTS", "3544" },
    { RULE_VAR_PORT, "SIP_PORTS", "[5060,5061,5600]" },
};


struct rule_vars *rule_vars_new_empty(void)
{
    return calloc(1, sizeof(struct rule_vars));
}

struct rule_vars *rule_vars_new(void)
{
    struct rule_vars *v = rule_vars_new_empty();
    if (v == NULL)
        return NULL;
    for (size_t i = 0; i < sizeof(default_vars) / sizeof(default_vars[0]); i++) {
        if (rule_vars_set(v, default_vars[i].kind, default_vars[i].name,
                          default_vars[i].value, NULL, 0) != 0) {
            rule_vars_free(v);
            return NULL;
        }
    }
    return v;
}

void rule_vars_free(struct rule_vars *v)
{
    if (v == NULL)
        return;
    for (uint32_t i = 0; i < v->n; i++) {
        free(v->v[i].name);
        free(v->v[i].value);
    }
    free(v->v);
    free(v);
}

static bool valid_var_name(const char *name, size_t len)
{
    if (len == 0 || len > RULE_VAR_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)name[i]) && name[i] != '_')
            return false;
    return true;
}

static struct var *find_var(const struct rule_vars *v, enum rule_var_kind kind,
                            const char *name, size_t len)
{
    if (v == NULL)
        return NULL;
    for (uint32_t i = 0; i < v->n; i++)
        if (v->v[i].kind == kind && strlen(v->v[i].name) == len &&
            memcmp(v->v[i].name, name, len) == 0)
            return &v->v[i];
    return NULL;
}

int rule_vars_set(struct rule_vars *v, enum rule_var_kind kind, const char *name,
                  const char *value, char *err, size_t errlen)
{
    if (!valid_var_name(name, strlen(name))) {
        seterr(err, errlen, "invalid variable name '%s'", name);
        return -1;
    }
    if (strlen(value) > RULE_VAR_VALUE_MAX) {
        seterr(err, errlen, "value of $%s longer than %u bytes", name, RULE_VAR_VALUE_MAX);
        return -1;
    }
    char *copy = strdup(value);
    if (copy == NULL) {
        seterr(err, errlen, "out of memory");
        return -1;
    }
    struct var *old = find_var(v, kind, name, strlen(name));
    if (old != NULL) {
        free(old->value);
        old->value = copy;
        return 0;
    }
    if (v->n == RULE_VARS_MAX) {
        seterr(err, errlen, "more than %d variables", RULE_VARS_MAX);
        free(copy);
        return -1;
    }
    if (v->n == v->cap) {
        uint32_t cap = v->cap ? v->cap * 2 : 32;
        struct var *nv = realloc(v->v, cap * sizeof(*nv));
        if (nv == NULL) {
            seterr(err, errlen, "out of memory");
            free(copy);
            return -1;
        }
        v->v = nv;
        v->cap = cap;
    }
    char *ncopy = strdup(name);
    if (ncopy == NULL) {
        seterr(err, errlen, "out of memory");
        free(copy);
        return -1;
    }
    v->v[v->n++] = (struct var){ kind, ncopy, copy };
    return 0;
}

const char *rule_vars_at(const struct rule_vars *v, unsigned i, enum rule_var_kind *kind,
                         const char **value)
{
    if (v == NULL || i >= v->n)
        return NULL;
    *kind = v->v[i].kind;
    *value = v->v[i].value;
    return v->v[i].name;
}

static bool ends_with(const char *s, size_t len, const char *suffix)
{
    size_t sl = strlen(suffix);
    return len >= sl && memcmp(s + len - sl, suffix, sl) == 0;
}

int rule_vars_assign(struct rule_vars *v, const char *assignment, char *err, size_t errlen)
{
    const char *eq = strchr(assignment, '=');
    if (eq == NULL) {
        seterr(err, errlen, "variable assignment '%s' has no '='", assignment);
        return -1;
    }
    const char *name = assignment[0] == '$' ? assignment + 1 : assignment;
    size_t len = (size_t)(eq - name);
    char buf[RULE_VAR_NAME_MAX + 1];
    if (!valid_var_name(name, len)) {
        seterr(err, errlen, "invalid variable name in '%s'", assignment);
        return -1;
    }
    memcpy(buf, name, len);
    buf[len] = '\0';
    enum rule_var_kind kind;
    if (find_var(v, RULE_VAR_PORT, buf, len))
        kind = RULE_VAR_PORT;
    else if (find_var(v, RULE_VAR_ADDRESS, buf, len))
        kind = RULE_VAR_ADDRESS;
    else
        kind = ends_with(buf, len, "_PORTS") || ends_with(buf, len, "_PORT")
                   ? RULE_VAR_PORT : RULE_VAR_ADDRESS;
    return rule_vars_set(v, kind, buf, eq + 1, err, errlen);
}

const char *rule_vars_get(const struct rule_vars *v, enum rule_var_kind kind, const char *name)
{
    struct var *x = find_var(v, kind, name, strlen(name));
    return x ? x->value : NULL;
}

/* ---- 128-bit numbers and span sets --------------------------------------- */

typedef struct rule_u128 u128;

struct span { u128 lo, hi; };

struct spanset {
    struct span *v;
    uint32_t n, cap;
};

static int u128_cmp(u128 a, u128 b)
{
    if (a.hi != b.hi)
        return a.hi < b.hi ? -1 : 1;
    if (a.lo != b.lo)
        return a.lo < b.lo ? -1 : 1;
    return 0;
}

static u128 u128_inc(u128 a)
{
    a.lo++;
    if (a.lo == 0)
        a.hi++;
    return a;
}

static u128 u128_dec(u128 a)
{
    if (a.lo == 0)
        a.hi--;
    a.lo--;
    return a;
}

static bool u128_is_zero(u128 a)
{
    return a.hi == 0 && a.lo == 0;
}

static int span_cmp(const void *a, const void *b)
{
    return u128_cmp(((const struct span *)a)->lo, ((const struct span *)b)->lo);
}

/* Append one range; -1 when over RULE_RANGES_MAX or out of memory. */
static int spanset_add(struct spanset *s, u128 lo, u128 hi)
{
    if (s->n == RULE_RANGES_MAX)
        return -1;
    if (s->n == s->cap) {
        uint32_t cap = s->cap ? s->cap * 2 : 4;
        struct span *nv = realloc(s->v, cap * sizeof(*nv));
        if (nv == NULL)
            return -1;
        s->v = nv;
        s->cap = cap;
    }
    s->v[s->n++] = (struct span){ lo, hi };
    return 0;
}

/* Sort and merge overlapping or adjacent ranges, in place. */
static void spanset_normalize(struct spanset *s, u128 max)
{
    if (s->n < 2)
        return;
    qsort(s->v, s->n, sizeof(s->v[0]), span_cmp);
    uint32_t out = 0;
    for (uint32_t i = 1; i < s->n; i++) {
        struct span *cur = &s->v[out];
        bool touches = u128_cmp(cur->hi, max) == 0 ||
                       u128_cmp(s->v[i].lo, u128_inc(cur->hi)) <= 0;
        if (touches) {
            if (u128_cmp(s->v[i].hi, cur->hi) > 0)
                cur->hi = s->v[i].hi;
        } else {
            s->v[++out] = s->v[i];
        }
    }
    s->n = out + 1;
}

/* dst = [0, max] minus s (s normalized). */
static int spanset_complement(const struct spanset *s, u128 max, struct spanset *dst)
{
    u128 next = { 0, 0 };
    for (uint32_t i = 0; i < s->n; i++) {
        if (u128_cmp(s->v[i].lo, next) > 0 &&
            spanset_add(dst, next, u128_dec(s->v[i].lo)) != 0)
            return -1;
        if (u128_cmp(s->v[i].hi, max) == 0)
            return 0;
        next = u128_inc(s->v[i].hi);
    }
    return spanset_add(dst, next, max);
}

/* dst = a intersected with b (both normalized). */
static int spanset_intersect(const struct spanset *a, const struct spanset *b,
                             struct spanset *dst)
{
    uint32_t i = 0, j = 0;
    while (i < a->n && j < b->n) {
        u128 lo = u128_cmp(a->v[i].lo, b->v[j].lo) > 0 ? a->v[i].lo : b->v[j].lo;
        u128 hi = u128_cmp(a->v[i].hi, b->v[j].hi) < 0 ? a->v[i].hi : b->v[j].hi;
        if (u128_cmp(lo, hi) <= 0 && spanset_add(dst, lo, hi) != 0)
            return -1;
        if (u128_cmp(a->v[i].hi, b->v[j].hi) < 0)
            i++;
        else
            j++;
    }
    return 0;
}

/* ---- groups: one span set per family --------------------------------------- */

struct gset {
    struct spanset s[2];
};

struct gkind {
    int nfam;
    u128 max[2];
    const char *what;     /* "address" / "port", for messages */
};

static const struct gkind addr_kind = {
    2, { { 0, 0xffffffffu }, { UINT64_MAX, UINT64_MAX } }, "address"
};
static const struct gkind port_kind = { 1, { { 0, 65535 }, { 0, 0 } }, "port" };

static void gset_free(struct gset *g)
{
    free(g->s[0].v);
    free(g->s[1].v);
    memset(g, 0, sizeof(*g));
}

struct gparse {
    const struct rule_vars *vars;
    enum rule_var_kind var_kind;
    const struct gkind *kind;
    const char *stack[RULE_GROUP_DEPTH_MAX + 1];   /* variables being expanded */
    size_t stack_len[RULE_GROUP_DEPTH_MAX + 1];
    int n_stack;
    char *err;
    size_t errlen;
};

static int too_many(struct gparse *p)
{
    seterr(p->err, p->errlen, "%s group has more than %d ranges (or out of memory)",
           p->kind->what, RULE_RANGES_MAX);
    return -1;
}

static int gset_fill(struct gparse *p, struct gset *g)
{
    for (int f = 0; f < p->kind->nfam; f++)
        if (spanset_add(&g->s[f], (u128){ 0, 0 }, p->kind->max[f]) != 0)
            return too_many(p);
    return 0;
}

/* Append src's ranges to dst (dst is normalized later, once: a long list
 * stays O(n log n)); src is consumed. */
static int gset_append(struct gparse *p, struct gset *dst, struct gset *src)
{
    for (int f = 0; f < p->kind->nfam; f++)
        for (uint32_t i = 0; i < src->s[f].n; i++)
            if (spanset_add(&dst->s[f], src->s[f].v[i].lo, src->s[f].v[i].hi) != 0) {
                gset_free(src);
                return too_many(p);
            }
    gset_free(src);
    return 0;
}

static void gset_normalize(struct gparse *p, struct gset *g)
{
    for (int f = 0; f < p->kind->nfam; f++)
        spanset_normalize(&g->s[f], p->kind->max[f]);
}

/* g = complement of g. */
static int gset_complement(struct gparse *p, struct gset *g)
{
    struct gset out = { 0 };
    for (int f = 0; f < p->kind->nfam; f++)
        if (spanset_complement(&g->s[f], p->kind->max[f], &out.s[f]) != 0) {
            gset_free(&out);
            return too_many(p);
        }
    gset_free(g);
    *g = out;
    return 0;
}

/* a = a minus b; b is consumed. */
static int gset_subtract(struct gparse *p, struct gset *a, struct gset *b)
{
    if (gset_complement(p, b) != 0) {
        gset_free(b);
        return -1;
    }
    struct gset out = { 0 };
    for (int f = 0; f < p->kind->nfam; f++)
        if (spanset_intersect(&a->s[f], &b->s[f], &out.s[f]) != 0) {
            gset_free(&out);
            gset_free(b);
            return too_many(p);
        }
    gset_free(a);
    gset_free(b);
    *a = out;
    return 0;
}

static void skip_ws(const char **pp)
{
    while (isspace((unsigned char)**pp))
        (*pp)++;
}

/* ---- leaves ------------------------------------------------------------ */

static u128 bytes_to_u128(const uint8_t *b, int n)
{
    u128 x = { 0, 0 };
    for (int i = 0; i < n; i++) {
        x.hi = (x.hi << 8) | (x.lo >> 56);
        x.lo = (x.lo << 8) | b[i];
    }
    return x;
}

/* The address in `s` as a number; *fam 0 = IPv4, 1 = IPv6. */
static bool parse_ip(const char *s, u128 *out, int *fam)
{
    uint8_t b[16];
    if (strchr(s, ':') != NULL) {
        if (inet_pton(AF_INET6, s, b) != 1)
            return false;
        *out = bytes_to_u128(b, 16);
        *fam = 1;
        return true;
    }
    if (inet_pton(AF_INET, s, b) != 1)
        return false;
    *out = bytes_to_u128(b, 4);
    *fam = 0;
    return true;
}

/* Host mask of a /prefix within `bits` (32 or 128): the low bits set. */
static u128 host_mask(int bits, int prefix)
{
    int host = bits - prefix;
    u128 m = { 0, 0 };
    if (host >= 128)
        return (u128){ UINT64_MAX, UINT64_MAX };
    if (host >= 64) {
        m.lo = UINT64_MAX;
        m.hi = host == 64 ? 0 : (UINT64_MAX >> (128 - host));
    } else if (host > 0) {
        m.lo = UINT64_MAX >> (64 - host);
    }
    return m;
}

/* "255.255.255.0" as a prefix length, -1 when not a contiguous mask. */
static int netmask_prefix(const char *s)
{
    uint8_t b[4];
    if (inet_pton(AF_INET, s, b) != 1)
        return -1;
    uint32_t m = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    int prefix = 0;
    while (prefix < 32 && (m & (0x80000000u >> prefix)))
        prefix++;
    if (prefix < 32 && (m << prefix) != 0)
        return -1;
    return prefix;
}

static int parse_prefix(const char *s, int fam)
{
    if (*s == '\0' || strlen(s) > 3)
        return fam == 0 && strchr(s, '.') ? netmask_prefix(s) : -1;
    int v = 0;
    for (const char *c = s; *c; c++) {
        if (!isdigit((unsigned char)*c))
            return fam == 0 && strchr(s, '.') ? netmask_prefix(s) : -1;
        v = v * 10 + (*c - '0');
    }
    return v <= (fam == 0 ? 32 : 128) ? v : -1;
}

static int bad_leaf(struct gparse *p, const char *tok)
{
    seterr(p->err, p->errlen, "invalid %s '%s'", p->kind->what, tok);
    return -1;
}

static int addr_leaf(struct gparse *p, char *tok, struct gset *g)
{
    u128 lo, hi;
    int fam, fam2;
    char *dash = strchr(tok, '-');
    char *slash = strchr(tok, '/');
    if (dash != NULL) {                      /* 1.2.3.4-1.2.3.9 */
        *dash = '\0';
        bool ok = parse_ip(tok, &lo, &fam) && parse_ip(dash + 1, &hi, &fam2);
        *dash = '-';
        if (!ok || fam != fam2)
            return bad_leaf(p, tok);
        if (u128_cmp(lo, hi) > 0) {
            seterr(p->err, p->errlen, "address range '%s' is reversed", tok);
            return -1;
        }
    } else if (slash != NULL) {              /* CIDR or address/netmask */
        *slash = '\0';
        bool ok = parse_ip(tok, &lo, &fam);
        int prefix = ok ? parse_prefix(slash + 1, fam) : -1;
        *slash = '/';
        if (prefix < 0)
            return bad_leaf(p, tok);
        u128 hm = host_mask(fam == 0 ? 32 : 128, prefix);
        lo.hi &= ~hm.hi;                     /* Suricata masks the host bits too */
        lo.lo &= ~hm.lo;
        hi = (u128){ lo.hi | hm.hi, lo.lo | hm.lo };
    } else {
        if (!parse_ip(tok, &lo, &fam))
            return bad_leaf(p, tok);
        hi = lo;
    }
    if (spanset_add(&g->s[fam], lo, hi) != 0)
        return too_many(p);
    return 0;
}

static bool parse_port_num(const char *s, size_t len, uint32_t *out)
{
    if (len == 0 || len > 5)
        return false;
    uint32_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)s[i]))
            return false;
        v = v * 10 + (uint32_t)(s[i] - '0');
    }
    *out = v;
    return v <= 65535;
}

static int port_leaf(struct gparse *p, const char *tok, struct gset *g)
{
    uint32_t lo = 0, hi = 65535;
    const char *colon = strchr(tok, ':');
    if (colon == NULL) {
        if (!parse_port_num(tok, strlen(tok), &lo))
            return bad_leaf(p, tok);
        hi = lo;
    } else {
        size_t l1 = (size_t)(colon - tok), l2 = strlen(colon + 1);
        if ((l1 == 0 && l2 == 0) ||
            (l1 > 0 && !parse_port_num(tok, l1, &lo)) ||
            (l2 > 0 && !parse_port_num(colon + 1, l2, &hi)))
            return bad_leaf(p, tok);
        if (lo > hi) {
            seterr(p->err, p->errlen, "port range '%s' is reversed", tok);
            return -1;
        }
    }
    if (spanset_add(&g->s[0], (u128){ 0, lo }, (u128){ 0, hi }) != 0)
        return too_many(p);
    return 0;
}

/* ---- the recursive group parser ------------------------------------------ */

static int parse_group(struct gparse *p, const char **pp, int depth, struct gset *out,
                       bool *neg);

static int parse_text(struct gparse *p, const char *text, int depth, struct gset *out);

static int depth_error(struct gparse *p)
{
    seterr(p->err, p->errlen, "%s group nested deeper than %d", p->kind->what,
           RULE_GROUP_DEPTH_MAX);
    return -1;
}

/* '[' item (',' item)* ']' : (union of positives, or any) minus negatives. */
static int parse_list(struct gparse *p, const char **pp, int depth, struct gset *out)
{
    struct gset pos = { 0 }, negs = { 0 };
    bool have_pos = false;
    (*pp)++;                                 /* '[' */
    for (;;) {
        struct gset item = { 0 };
        bool neg;
        skip_ws(pp);
        if (**pp == ']') {
            seterr(p->err, p->errlen, "empty %s list", p->kind->what);
            goto fail;
        }
        if (parse_group(p, pp, depth, &item, &neg) != 0)
            goto fail;
        have_pos |= !neg;
        if (gset_append(p, neg ? &negs : &pos, &item) != 0)
            goto fail;
        skip_ws(pp);
        if (**pp == ']')
            break;
        if (**pp != ',') {
            if (**pp == '\0')
                seterr(p->err, p->errlen, "%s list has no closing ']'", p->kind->what);
            else
                seterr(p->err, p->errlen, "expected ',' or ']' in %s list at '%.20s'",
                       p->kind->what, *pp);
            goto fail;
        }
        (*pp)++;
    }
    (*pp)++;                                 /* ']' */
    if (!have_pos && gset_fill(p, &pos) != 0)
        goto fail;
    gset_normalize(p, &pos);
    gset_normalize(p, &negs);
    if (gset_subtract(p, &pos, &negs) != 0) {
        gset_free(&pos);
        return -1;
    }
    *out = pos;
    return 0;
fail:
    gset_free(&pos);
    gset_free(&negs);
    return -1;
}

static int parse_var(struct gparse *p, const char **pp, int depth, struct gset *out)
{
    const char *name = ++(*pp);              /* past '$' */
    while (isalnum((unsigned char)**pp) || **pp == '_')
        (*pp)++;
    size_t len = (size_t)(*pp - name);
    if (len == 0 || len > RULE_VAR_NAME_MAX) {
        seterr(p->err, p->errlen, "invalid variable name after '$'");
        return -1;
    }
    for (int i = 0; i < p->n_stack; i++) {
        if (p->stack_len[i] == len && memcmp(p->stack[i], name, len) == 0) {
            char path[512];
            size_t used = 0;
            path[0] = '\0';
            for (int j = i; j < p->n_stack && used < sizeof(path); j++)
                used += (size_t)snprintf(path + used, sizeof(path) - used, "$%.*s -> ",
                                         (int)p->stack_len[j], p->stack[j]);
            seterr(p->err, p->errlen, "variable cycle: %s$%.*s", path, (int)len, name);
            return -1;
        }
    }
    const struct var *v = find_var(p->vars, p->var_kind, name, len);
    if (v == NULL) {
        enum rule_var_kind other = p->var_kind == RULE_VAR_PORT ? RULE_VAR_ADDRESS : RULE_VAR_PORT;
        if (find_var(p->vars, other, name, len))
            seterr(p->err, p->errlen, "$%.*s is %s variable, used as %s", (int)len, name,
                   other == RULE_VAR_PORT ? "a port" : "an address", p->kind->what);
        else
            seterr(p->err, p->errlen, "undefined variable $%.*s", (int)len, name);
        return -1;
    }
    if (p->n_stack >= RULE_GROUP_DEPTH_MAX)
        return depth_error(p);
    p->stack[p->n_stack] = name;
    p->stack_len[p->n_stack] = len;
    p->n_stack++;
    int rc = parse_text(p, v->value, depth + 1, out);
    p->n_stack--;
    return rc;
}

static int parse_leaf(struct gparse *p, const char **pp, struct gset *out)
{
    const char *start = *pp;
    while (**pp && **pp != ',' && **pp != ']' && **pp != '[' && !isspace((unsigned char)**pp))
        (*pp)++;
    size_t len = (size_t)(*pp - start);
    char tok[128];
    if (len == 0) {
        if (**pp == '\0')
            seterr(p->err, p->errlen, "missing %s", p->kind->what);
        else
            seterr(p->err, p->errlen, "unexpected '%c' in %s group", **pp, p->kind->what);
        return -1;
    }
    if (len >= sizeof(tok)) {
        seterr(p->err, p->errlen, "%s '%.40s...' too long", p->kind->what, start);
        return -1;
    }
    memcpy(tok, start, len);
    tok[len] = '\0';
    if (strcasecmp(tok, "any") == 0)
        return gset_fill(p, out);
    return p->kind == &port_kind ? port_leaf(p, tok, out) : addr_leaf(p, tok, out);
}

/* One group item; *neg tells whether an odd number of '!' preceded it. */
static int parse_group(struct gparse *p, const char **pp, int depth, struct gset *out,
                       bool *neg)
{
    if (depth > RULE_GROUP_DEPTH_MAX)
        return depth_error(p);
    *neg = false;
    skip_ws(pp);
    while (**pp == '!') {
        *neg = !*neg;
        (*pp)++;
        skip_ws(pp);
    }
    int rc;
    if (**pp == '[')
        rc = parse_list(p, pp, depth + 1, out);
    else if (**pp == '$')
        rc = parse_var(p, pp, depth, out);
    else
        rc = parse_leaf(p, pp, out);
    if (rc == 0)
        gset_normalize(p, out);
    else
        gset_free(out);
    return rc;
}

/* A whole group string (a header field or a variable's value). */
static int parse_text(struct gparse *p, const char *text, int depth, struct gset *out)
{
    const char *s = text;
    bool neg;
    if (parse_group(p, &s, depth, out, &neg) != 0)
        return -1;
    skip_ws(&s);
    if (*s != '\0') {
        seterr(p->err, p->errlen, "unexpected '%.20s' after %s group", s, p->kind->what);
        gset_free(out);
        return -1;
    }
    if (neg && gset_complement(p, out) != 0) {
        gset_free(out);
        return -1;
    }
    return 0;
}

static bool gset_full(const struct gparse *p, const struct gset *g)
{
    for (int f = 0; f < p->kind->nfam; f++) {
        const struct spanset *s = &g->s[f];
        if (s->n != 1 || !u128_is_zero(s->v[0].lo) || u128_cmp(s->v[0].hi, p->kind->max[f]) != 0)
            return false;
    }
    return true;
}

static bool gset_empty(const struct gparse *p, const struct gset *g)
{
    for (int f = 0; f < p->kind->nfam; f++)
        if (g->s[f].n > 0)
            return false;
    return true;
}

static int resolve(const char *text, const struct rule_vars *v, const struct gkind *kind,
                   enum rule_var_kind var_kind, struct gset *g, char *err, size_t errlen)
{
    struct gparse p = { .vars = v, .var_kind = var_kind, .kind = kind,
                        .err = err, .errlen = errlen };
    memset(g, 0, sizeof(*g));
    if (parse_text(&p, text, 0, g) != 0)
        return -1;
    if (gset_empty(&p, g)) {
        seterr(err, errlen, "%s group '%.60s' matches nothing", kind->what, text);
        gset_free(g);
        return -1;
    }
    return gset_full(&p, g) ? 1 : 0;
}

int rule_addrs_parse(const char *text, const struct rule_vars *v, struct rule_addrs *out,
                     char *err, size_t errlen)
{
    struct gset g;
    memset(out, 0, sizeof(*out));
    int rc = resolve(text, v, &addr_kind, RULE_VAR_ADDRESS, &g, err, errlen);
    if (rc < 0)
        return -1;
    if (rc == 1) {
        out->any = true;
        gset_free(&g);
        return 0;
    }
    if ((g.s[0].n && !(out->v4 = calloc(g.s[0].n, sizeof(*out->v4)))) ||
        (g.s[1].n && !(out->v6 = calloc(g.s[1].n, sizeof(*out->v6))))) {
        rule_addrs_free(out);
        gset_free(&g);
        seterr(err, errlen, "out of memory");
        return -1;
    }
    for (uint32_t i = 0; i < g.s[0].n; i++)
        out->v4[i] = (struct rule_v4_range){ (uint32_t)g.s[0].v[i].lo.lo,
                                             (uint32_t)g.s[0].v[i].hi.lo };
    for (uint32_t i = 0; i < g.s[1].n; i++)
        out->v6[i] = (struct rule_v6_range){ g.s[1].v[i].lo, g.s[1].v[i].hi };
    out->n4 = g.s[0].n;
    out->n6 = g.s[1].n;
    gset_free(&g);
    return 0;
}

int rule_ports_parse(const char *text, const struct rule_vars *v, struct rule_ports *out,
                     char *err, size_t errlen)
{
    struct gset g;
    memset(out, 0, sizeof(*out));
    int rc = resolve(text, v, &port_kind, RULE_VAR_PORT, &g, err, errlen);
    if (rc < 0)
        return -1;
    if (rc == 1) {
        out->any = true;
        gset_free(&g);
        return 0;
    }
    out->r = calloc(g.s[0].n, sizeof(*out->r));
    if (out->r == NULL) {
        gset_free(&g);
        seterr(err, errlen, "out of memory");
        return -1;
    }
    for (uint32_t i = 0; i < g.s[0].n; i++)
        out->r[i] = (struct rule_port_range){ (uint16_t)g.s[0].v[i].lo.lo,
                                              (uint16_t)g.s[0].v[i].hi.lo };
    out->n = g.s[0].n;
    gset_free(&g);
    return 0;
}

int rule_vars_check(const struct rule_vars *v, char *err, size_t errlen)
{
    for (uint32_t i = 0; i < v->n; i++) {
        char ref[RULE_VAR_NAME_MAX + 2], why[400];
        struct gset g;
        snprintf(ref, sizeof(ref), "$%s", v->v[i].name);
        bool port = v->v[i].kind == RULE_VAR_PORT;
        if (resolve(ref, v, port ? &port_kind : &addr_kind, v->v[i].kind, &g,
                    why, sizeof(why)) < 0) {
            seterr(err, errlen, "$%s: %s", v->v[i].name, why);
            return -1;
        }
        gset_free(&g);
    }
    return 0;
}
