/* rule_options.c - the rule option keywords: one small function each, looked
 * up in a table. A keyword missing from the table makes the rule SKIPPED
 * under its name: Suricata keeps adding keywords, and a rule we cannot
 * evaluate is better counted than guessed at. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rule_parser_int.h"

/* ---- helpers ---------------------------------------------------------- */

int rp_fail(struct pctx *c, const char *fmt, ...)
{
    if (c->err == NULL || c->errlen == 0)
        return PS_ERROR;
    size_t used = 0;
    if (c->opt != NULL) {
        int n = snprintf(c->err, c->errlen, "%s: ", c->opt);
        used = n > 0 && (size_t)n < c->errlen ? (size_t)n : 0;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err + used, c->errlen - used, fmt, ap);
    va_end(ap);
    return PS_ERROR;
}

int rp_skip(struct pctx *c, const char *key)
{
    snprintf(c->skip_key, sizeof(c->skip_key), "%.*s", RULE_SKIP_KEY_MAX - 1, key);
    return PS_SKIP;
}

char *rp_trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

/* Decimal with an optional sign, nothing else. */
bool rp_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
    const char *d = s + (*s == '-' || *s == '+');
    if (!isdigit((unsigned char)*d))
        return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return false;
    *out = v;
    return true;
}

/* Split "a, b ,c" in place at commas; blanks trimmed. Returns the count, or
 * -1 when there are more than `max` parts. */
int rp_split_args(char *s, char **argv, int max)
{
    int n = 0;
    for (;;) {
        char *comma = strchr(s, ',');
        if (n == max)
            return -1;
        if (comma != NULL)
            *comma = '\0';
        argv[n++] = rp_trim(s);
        if (comma == NULL)
            return n;
        s = comma + 1;
    }
}

/* "key value" -> key, value (value NULL when there is none). */
char *rp_split_kv(char *s, char **value)
{
    char *sp = s;
    while (*sp && !isspace((unsigned char)*sp))
        sp++;
    if (*sp == '\0') {
        *value = NULL;
        return s;
    }
    *sp = '\0';
    *value = rp_trim(sp + 1);
    return s;
}

int rp_grow(struct pctx *c, void **arr, uint32_t n, uint32_t *cap, size_t elem,
                uint32_t limit, const char *what)
{
    if (n >= limit)
        return rp_fail(c, "more than %u %s in one rule", limit, what);
    if (n < *cap)
        return PS_OK;
    uint32_t ncap = *cap ? *cap * 2 : 4;
    if (ncap > limit)
        ncap = limit;
    void *p = realloc(*arr, ncap * elem);
    if (p == NULL)
        return rp_fail(c, "out of memory");
    *arr = p;
    *cap = ncap;
    return PS_OK;
}

static int push_string(struct pctx *c, char ***arr, uint32_t *n, uint32_t *cap,
                       const char *s, const char *what)
{
    if (rp_grow(c, (void **)arr, *n, cap, sizeof(char *), RULE_OPTIONS_MAX, what) != PS_OK)
        return PS_ERROR;
    char *copy = strdup(s);
    if (copy == NULL)
        return rp_fail(c, "out of memory");
    (*arr)[(*n)++] = copy;
    return PS_OK;
}

static int parse_u32(struct pctx *c, const char *s, uint32_t min, uint32_t *out)
{
    int64_t v;
    if (!rp_parse_i64(s, min, UINT32_MAX, &v) || *s == '-' || *s == '+')
        return rp_fail(c, "'%s' is not a number from %u to %u", s, min, UINT32_MAX);
    *out = (uint32_t)v;
    return PS_OK;
}

/* Remove the surrounding quotes (when both are there) and backslash escapes. */
static char *unquote(struct pctx *c, const char *s)
{
    size_t len = strlen(s);
    if (len >= 2 && s[0] == '"' && s[len - 1] == '"') {
        s++;
        len -= 2;
    }
    char *out = malloc(len + 1), *o = out;
    if (out == NULL) {
        rp_fail(c, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\\' && i + 1 < len)
            i++;
        *o++ = s[i];
    }
    *o = '\0';
    return out;
}

/* ---- identity and presentation ------------------------------------------- */

static int once(struct pctx *c, bool *seen)
{
    if (*seen)
        return rp_fail(c, "given more than once");
    *seen = true;
    return PS_OK;
}

static int kw_msg(struct pctx *c, char *val)
{
    if (once(c, &c->seen_msg) != PS_OK)
        return PS_ERROR;
    c->r->msg = unquote(c, val);
    return c->r->msg ? PS_OK : PS_ERROR;
}

static int kw_sid(struct pctx *c, char *val)
{
    if (once(c, &c->seen_sid) != PS_OK)
        return PS_ERROR;
    return parse_u32(c, val, 1, &c->r->sid);
}

static int kw_rev(struct pctx *c, char *val)
{
    if (once(c, &c->seen_rev) != PS_OK)
        return PS_ERROR;
    return parse_u32(c, val, 0, &c->r->rev);
}

static int kw_gid(struct pctx *c, char *val)
{
    if (once(c, &c->seen_gid) != PS_OK)
        return PS_ERROR;
    return parse_u32(c, val, 0, &c->r->gid);
}

static int kw_classtype(struct pctx *c, char *val)
{
    if (once(c, &c->seen_classtype) != PS_OK)
        return PS_ERROR;
    for (const char *p = val; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.')
            return rp_fail(c, "invalid classtype name '%s'", val);
    const struct classification *cl = classifications_find(c->cls, val);
    if (c->cls != NULL && cl == NULL)
        return rp_fail(c, "unknown classtype '%s'", val);
    c->r->classtype = strdup(val);
    if (c->r->classtype == NULL || (cl && !(c->r->category = strdup(cl->description))))
        return rp_fail(c, "out of memory");
    if (!c->r->priority_explicit && cl != NULL)
        c->r->priority = cl->priority;
    return PS_OK;
}

static int kw_priority(struct pctx *c, char *val)
{
    int64_t v;
    if (once(c, &c->seen_priority) != PS_OK)
        return PS_ERROR;
    if (!rp_parse_i64(val, 1, 255, &v) || *val == '-' || *val == '+')
        return rp_fail(c, "'%s' is not a number from 1 to 255", val);
    c->r->priority = (uint8_t)v;
    c->r->priority_explicit = true;
    return PS_OK;
}

static int kw_reference(struct pctx *c, char *val)
{
    char *comma = strchr(val, ',');
    if (comma == NULL)
        return rp_fail(c, "expected 'type,value'");
    *comma = '\0';
    char *type = rp_trim(val), *ref = rp_trim(comma + 1);
    if (*type == '\0' || *ref == '\0')
        return rp_fail(c, "expected 'type,value'");
    char buf[4096];
    if (snprintf(buf, sizeof(buf), "%s,%s", type, ref) >= (int)sizeof(buf))
        return rp_fail(c, "longer than %zu bytes", sizeof(buf) - 1);
    return push_string(c, &c->r->references, &c->r->n_references, &c->cap_refs, buf,
                       "references");
}

static int kw_metadata(struct pctx *c, char *val)
{
    char *parts[256];
    int n = rp_split_args(val, parts, 256);
    if (n < 0)
        return rp_fail(c, "more than 256 entries");
    for (int i = 0; i < n; i++)
        if (*parts[i] != '\0' &&
            push_string(c, &c->r->metadata, &c->r->n_metadata, &c->cap_meta, parts[i],
                        "metadata entries") != PS_OK)
            return PS_ERROR;
    return PS_OK;
}

static int kw_target(struct pctx *c, char *val)
{
    if (once(c, &c->seen_target) != PS_OK)
        return PS_ERROR;
    if (strcmp(val, "src_ip") == 0)
        c->r->target = RULE_TARGET_SRC;
    else if (strcmp(val, "dest_ip") == 0)
        c->r->target = RULE_TARGET_DST;
    else
        return rp_fail(c, "expected src_ip or dest_ip, got '%s'", val);
    return PS_OK;
}

static int kw_service(struct pctx *c, char *val)
{
    if (once(c, &c->seen_service) != PS_OK)
        return PS_ERROR;
    c->r->service = strdup(val);
    return c->r->service ? PS_OK : rp_fail(c, "out of memory");
}

static int kw_ignore(struct pctx *c, char *val)
{
    (void)c;
    (void)val;
    return PS_OK;
}

static int kw_noalert(struct pctx *c, char *val)
{
    (void)val;
    c->r->noalert = true;
    return PS_OK;
}

/* ---- flow and flowbits ------------------------------------------------ */

static int kw_flow(struct pctx *c, char *val)
{
    static const struct { const char *name; uint32_t flag; } words[] = {
        { "to_server", RULE_FLOW_TO_SERVER }, { "from_client", RULE_FLOW_TO_SERVER },
        { "to_client", RULE_FLOW_TO_CLIENT }, { "from_server", RULE_FLOW_TO_CLIENT },
        { "established", RULE_FLOW_ESTABLISHED },
        { "not_established", RULE_FLOW_NOT_ESTABLISHED },
        { "stateless", RULE_FLOW_STATELESS },
        { "only_stream", RULE_FLOW_ONLY_STREAM }, { "no_stream", RULE_FLOW_NO_STREAM },
        { "only_frag", RULE_FLOW_ONLY_FRAG }, { "no_frag", RULE_FLOW_NO_FRAG },
    };
    char *a[16];
    int n = rp_split_args(val, a, 16);
    if (n < 0)
        return rp_fail(c, "too many options");
    uint32_t f = c->r->flow;
    for (int i = 0; i < n; i++) {
        size_t k = 0;
        while (k < sizeof(words) / sizeof(words[0]) && strcmp(a[i], words[k].name) != 0)
            k++;
        if (k == sizeof(words) / sizeof(words[0]))
            return rp_fail(c, "unknown option '%s'", a[i]);
        f |= words[k].flag;
    }
    if ((f & RULE_FLOW_TO_SERVER) && (f & RULE_FLOW_TO_CLIENT))
        return rp_fail(c, "to_server and to_client cannot be combined");
    if ((f & RULE_FLOW_ESTABLISHED) && (f & (RULE_FLOW_NOT_ESTABLISHED | RULE_FLOW_STATELESS)))
        return rp_fail(c, "established cannot be combined with not_established or stateless");
    if ((f & RULE_FLOW_ONLY_STREAM) && (f & RULE_FLOW_NO_STREAM))
        return rp_fail(c, "only_stream and no_stream cannot be combined");
    if ((f & RULE_FLOW_ONLY_FRAG) && (f & RULE_FLOW_NO_FRAG))
        return rp_fail(c, "only_frag and no_frag cannot be combined");
    c->r->flow = f;
    return PS_OK;
}

static bool valid_flowbit_name(const char *s)
{
    if (*s == '\0' || strlen(s) > 256)
        return false;
    for (; *s; s++)
        if (isspace((unsigned char)*s) || *s == ',' || *s == '"' || *s == ';')
            return false;
    return true;
}

static int flowbit_names(struct pctx *c, char *s, struct rule_flowbit *fb)
{
    bool has_or = strchr(s, '|') != NULL, has_and = strchr(s, '&') != NULL;
    if (has_or && has_and)
        return rp_fail(c, "names cannot mix '|' and '&'");
    if (has_or && fb->cmd != RULE_FLOWBIT_ISSET && fb->cmd != RULE_FLOWBIT_ISNOTSET)
        return rp_fail(c, "'|' (any of) only works with isset and isnotset");
    fb->any_of = has_or;
    char sep = has_or ? '|' : '&';
    for (;;) {
        char *next = strchr(s, sep);
        if (next != NULL)
            *next = '\0';
        char *name = rp_trim(s);
        if (!valid_flowbit_name(name))
            return rp_fail(c, "invalid flowbit name '%s'", name);
        if (fb->n_names == 64)
            return rp_fail(c, "more than 64 names");
        char **nv = realloc(fb->names, (fb->n_names + 1) * sizeof(char *));
        if (nv == NULL)
            return rp_fail(c, "out of memory");
        fb->names = nv;
        if ((fb->names[fb->n_names] = strdup(name)) == NULL)
            return rp_fail(c, "out of memory");
        fb->n_names++;
        if (next == NULL)
            return PS_OK;
        s = next + 1;
    }
}

static int kw_flowbits(struct pctx *c, char *val)
{
    static const struct { const char *name; enum rule_flowbit_cmd cmd; } cmds[] = {
        { "set", RULE_FLOWBIT_SET }, { "unset", RULE_FLOWBIT_UNSET },
        { "toggle", RULE_FLOWBIT_TOGGLE }, { "isset", RULE_FLOWBIT_ISSET },
        { "isnotset", RULE_FLOWBIT_ISNOTSET },
    };
    char *comma = strchr(val, ',');
    if (comma != NULL)
        *comma = '\0';
    char *cmd = rp_trim(val), *names = comma ? rp_trim(comma + 1) : NULL;
    if (strcmp(cmd, "noalert") == 0) {
        if (names != NULL)
            return rp_fail(c, "noalert takes no name");
        c->r->noalert = true;
        return PS_OK;
    }
    size_t k = 0;
    while (k < sizeof(cmds) / sizeof(cmds[0]) && strcmp(cmd, cmds[k].name) != 0)
        k++;
    if (k == sizeof(cmds) / sizeof(cmds[0]))
        return rp_fail(c, "unknown command '%s'", cmd);
    if (names == NULL || *names == '\0')
        return rp_fail(c, "'%s' needs a name", cmd);
    if (strchr(names, ',') != NULL)
        return rp_fail(c, "expected 'command,name' (flowbit groups are not supported)");
    struct rule *r = c->r;
    if (rp_grow(c, (void **)&r->flowbits, r->n_flowbits, &c->cap_flowbits, sizeof(*r->flowbits),
                RULE_FLOWBITS_MAX, "flowbits") != PS_OK)
        return PS_ERROR;
    struct rule_flowbit *fb = &r->flowbits[r->n_flowbits++];
    memset(fb, 0, sizeof(*fb));
    fb->cmd = cmds[k].cmd;
    return flowbit_names(c, names, fb);
}

/* ---- numeric tests ---------------------------------------------------- */

static bool parse_uvalue(const char *s, uint64_t max, uint64_t *out)
{
    if (!isdigit((unsigned char)*s))
        return false;
    char *end;
    errno = 0;
    unsigned long long v = (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
                               ? strtoull(s + 2, &end, 16) : strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v > max ||
        ((s[1] == 'x' || s[1] == 'X') && !isxdigit((unsigned char)s[2])))
        return false;
    *out = v;
    return true;
}

/* A&B, A<>B, A-B with an optional leading '!'; false when `s` is not one. */
static int parse_uint_pair(struct pctx *c, char *s, uint64_t max, struct rule_uint *u, bool *done)
{
    *done = false;
    bool neg = *s == '!';
    char *body = neg ? rp_trim(s + 1) : s;
    if (!isdigit((unsigned char)*body))
        return PS_OK;
    char *sep = strstr(body, "<>");
    size_t seplen = 2;
    if (sep == NULL && (sep = strchr(body + 1, '-')) != NULL)
        seplen = 1;
    if (sep == NULL)
        return PS_OK;
    *done = true;
    char save = *sep;
    *sep = '\0';
    char *a = rp_trim(body), *b = rp_trim(sep + seplen);
    uint64_t x, y;
    bool ok = parse_uvalue(a, max, &x) && parse_uvalue(b, max, &y);
    *sep = save;
    if (!ok)
        return rp_fail(c, "invalid range '%s'", s);
    if (y <= x + 1)
        return rp_fail(c, "range '%s' matches nothing (bounds are exclusive)", s);
    *u = (struct rule_uint){ neg ? RULE_CMP_NOT_RANGE : RULE_CMP_RANGE, x, y };
    return PS_OK;
}

/* Suricata's integer test forms (see enum rule_cmp) for a value <= max. */
static int parse_uint(struct pctx *c, char *s, uint64_t max, struct rule_uint *u)
{
    uint64_t x, y;
    if (*s == '&') {                                  /* &M=V, &M!=V */
        char *eq = strchr(s, '=');
        if (eq == NULL)
            return rp_fail(c, "expected '&mask=value' or '&mask!=value'");
        bool ne = eq > s && eq[-1] == '!';
        char *m = s + 1;
        eq[ne ? -1 : 0] = '\0';
        if (!parse_uvalue(rp_trim(m), max, &x) || !parse_uvalue(rp_trim(eq + 1), max, &y))
            return rp_fail(c, "invalid bitmask test");
        if ((y & x) != y)
            return rp_fail(c, "value has bits outside the mask: it can never match");
        *u = (struct rule_uint){ ne ? RULE_CMP_NOT_MASK : RULE_CMP_MASK, x, y };
        return PS_OK;
    }
    bool done;
    if (parse_uint_pair(c, s, max, u, &done) != PS_OK)
        return PS_ERROR;
    if (done)
        return PS_OK;
    static const struct { const char *text; enum rule_cmp cmp; } ops[] = {
        { ">=", RULE_CMP_GE }, { "<=", RULE_CMP_LE }, { "!=", RULE_CMP_NE },
        { ">", RULE_CMP_GT }, { "<", RULE_CMP_LT }, { "!", RULE_CMP_NE }, { "=", RULE_CMP_EQ },
    };
    enum rule_cmp cmp = RULE_CMP_EQ;
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        size_t l = strlen(ops[i].text);
        if (strncmp(s, ops[i].text, l) == 0) {
            cmp = ops[i].cmp;
            s = rp_trim(s + l);
            break;
        }
    }
    if (!parse_uvalue(s, max, &x))
        return rp_fail(c, "'%s' is not a number from 0 to %llu", s, (unsigned long long)max);
    if ((cmp == RULE_CMP_LT && x == 0) || (cmp == RULE_CMP_GE && x == 0) ||
        (cmp == RULE_CMP_GT && x == max) || (cmp == RULE_CMP_LE && x == max))
        return rp_fail(c, "test is always true or always false");
    *u = (struct rule_uint){ cmp, x, 0 };
    return PS_OK;
}

static int uint_option(struct pctx *c, char *val, uint64_t max, bool *seen, bool *has,
                       struct rule_uint *u)
{
    if (once(c, seen) != PS_OK)
        return PS_ERROR;
    if (parse_uint(c, val, max, u) != PS_OK)
        return PS_ERROR;
    *has = true;
    return PS_OK;
}

static int kw_dsize(struct pctx *c, char *val)
{
    return uint_option(c, val, 65535, &c->seen_dsize, &c->r->has_dsize, &c->r->dsize);
}

static int kw_itype(struct pctx *c, char *val)
{
    return uint_option(c, val, 255, &c->seen_itype, &c->r->has_itype, &c->r->itype);
}

static int kw_icode(struct pctx *c, char *val)
{
    return uint_option(c, val, 255, &c->seen_icode, &c->r->has_icode, &c->r->icode);
}

static int kw_ttl(struct pctx *c, char *val)
{
    return uint_option(c, val, 255, &c->seen_ttl, &c->r->has_ttl, &c->r->ttl);
}

/* IP protocol names (the common part of /etc/protocols, kept here so the
 * result does not depend on the host). */
static const struct { const char *name; uint8_t num; } ip_protos[] = {
    { "hopopt", 0 }, { "icmp", 1 }, { "igmp", 2 }, { "ggp", 3 }, { "ipencap", 4 },
    { "st", 5 }, { "tcp", 6 }, { "egp", 8 }, { "igp", 9 }, { "pup", 12 }, { "udp", 17 },
    { "hmp", 20 }, { "xns-idp", 22 }, { "rdp", 27 }, { "iso-tp4", 29 }, { "dccp", 33 },
    { "xtp", 36 }, { "ddp", 37 }, { "idpr-cmtp", 38 }, { "ipv6", 41 }, { "ipv6-route", 43 },
    { "ipv6-frag", 44 }, { "idrp", 45 }, { "rsvp", 46 }, { "gre", 47 }, { "esp", 50 },
    { "ah", 51 }, { "skip", 57 }, { "ipv6-icmp", 58 }, { "icmpv6", 58 },
    { "ipv6-nonxt", 59 }, { "ipv6-opts", 60 }, { "rspf", 73 }, { "vmtp", 81 },
    { "eigrp", 88 }, { "ospf", 89 }, { "ax.25", 93 }, { "ipip", 94 }, { "etherip", 97 },
    { "encap", 98 }, { "pim", 103 }, { "ipcomp", 108 }, { "vrrp", 112 }, { "l2tp", 115 },
    { "isis", 124 }, { "sctp", 132 }, { "fc", 133 }, { "mobility-header", 135 },
    { "udplite", 136 }, { "mpls-in-ip", 137 }, { "manet", 138 }, { "hip", 139 },
    { "shim6", 140 }, { "wesp", 141 }, { "rohc", 142 }, { "ethernet", 143 },
};

static int kw_ip_proto(struct pctx *c, char *val)
{
    char *name = val;
    char prefix[3] = "";
    while ((*name == '!' || *name == '<' || *name == '>' || *name == '=') && strlen(prefix) < 2) {
        prefix[strlen(prefix)] = *name++;
    }
    name = rp_trim(name);
    if (isalpha((unsigned char)*name)) {
        for (size_t i = 0; i < sizeof(ip_protos) / sizeof(ip_protos[0]); i++) {
            if (strcasecmp(name, ip_protos[i].name) == 0) {
                char buf[16];
                snprintf(buf, sizeof(buf), "%s%u", prefix, ip_protos[i].num);
                return uint_option(c, buf, 255, &c->seen_ip_proto, &c->r->has_ip_proto,
                                   &c->r->ip_proto);
            }
        }
        return rp_fail(c, "unknown protocol '%s'", name);
    }
    return uint_option(c, val, 255, &c->seen_ip_proto, &c->r->has_ip_proto, &c->r->ip_proto);
}

static int tcp_flag_bit(int ch)
{
    switch (toupper(ch)) {
    case 'F': return RULE_TCP_FIN;
    case 'S': return RULE_TCP_SYN;
    case 'R': return RULE_TCP_RST;
    case 'P': return RULE_TCP_PSH;
    case 'A': return RULE_TCP_ACK;
    case 'U': return RULE_TCP_URG;
    case 'E': case '2': return RULE_TCP_ECE;
    case 'C': case '1': return RULE_TCP_CWR;
    }
    return -1;
}

/* flags:[modifier]FLAGS[modifier][,IGNORE] with modifiers + * ! and 0 for
 * "no flag set"; 1/C is CWR and 2/E is ECE (Snort's reserved bits). */
static int kw_flags(struct pctx *c, char *val)
{
    struct rule_tcp_flags f = { RULE_FLAGS_EXACT, 0, 0 };
    bool mode_set = false, zero = false;
    if (once(c, &c->seen_flags) != PS_OK)
        return PS_ERROR;
    char *comma = strchr(val, ',');
    if (comma != NULL)
        *comma = '\0';
    char *s = rp_trim(val);
    if (*s == '\0')
        return rp_fail(c, "no flags given");
    for (; *s; s++) {
        int bit;
        if (isspace((unsigned char)*s))
            continue;
        if (*s == '+' || *s == '*' || *s == '!') {
            if (mode_set)
                return rp_fail(c, "more than one of + * !");
            mode_set = true;
            f.mode = *s == '+' ? RULE_FLAGS_PLUS : *s == '*' ? RULE_FLAGS_ANY : RULE_FLAGS_NOT;
        } else if (*s == '0') {
            zero = true;
        } else if ((bit = tcp_flag_bit(*s)) > 0) {
            f.flags |= (uint8_t)bit;
        } else {
            return rp_fail(c, "invalid flag '%c'", *s);
        }
    }
    if (zero && f.flags != 0)
        return rp_fail(c, "0 (no flags) cannot be combined with other flags");
    if (comma != NULL) {
        char *m = rp_trim(comma + 1);
        if (*m == '\0')
            return rp_fail(c, "empty ignore mask after ','");
        for (; *m; m++) {
            int bit = tcp_flag_bit(*m);
            if (bit < 0)
                return rp_fail(c, "invalid flag '%c' in the ignore mask", *m);
            f.ignore |= (uint8_t)bit;
        }
    }
    c->r->flags = f;
    c->r->has_flags = true;
    return PS_OK;
}

/* ---- threshold and detection_filter ---------------------------------------- */

static int parse_threshold(struct pctx *c, char *val, bool with_type, struct rule_threshold *t)
{
    static const char *const tracks[] = { "by_src", "by_dst", "by_rule", "by_both", "by_flow" };
    char *a[8];
    int n = rp_split_args(val, a, 8);
    bool have_type = false, have_track = false, have_count = false, have_seconds = false;
    if (n < 0)
        return rp_fail(c, "too many fields");
    for (int i = 0; i < n; i++) {
        char *v, *k = rp_split_kv(a[i], &v);
        if (v == NULL)
            return rp_fail(c, "expected 'key value', got '%s'", k);
        if (with_type && strcmp(k, "type") == 0) {
            if (have_type)
                return rp_fail(c, "type given twice");
            have_type = true;
            if (strcmp(v, "limit") == 0)
                t->type = RULE_THRESHOLD_LIMIT;
            else if (strcmp(v, "threshold") == 0)
                t->type = RULE_THRESHOLD_THRESHOLD;
            else if (strcmp(v, "both") == 0)
                t->type = RULE_THRESHOLD_BOTH;
            else if (strcmp(v, "backoff") == 0)
                return rp_skip(c, "threshold:backoff");
            else
                return rp_fail(c, "unknown type '%s'", v);
        } else if (strcmp(k, "track") == 0) {
            size_t j = 0;
            if (have_track)
                return rp_fail(c, "track given twice");
            have_track = true;
            while (j < 5 && strcmp(v, tracks[j]) != 0)
                j++;
            if (j == 5)
                return rp_fail(c, "unknown track '%s'", v);
            t->track = (enum rule_track)j;
        } else if (strcmp(k, "count") == 0 || strcmp(k, "seconds") == 0) {
            bool *have = k[0] == 'c' ? &have_count : &have_seconds;
            if (*have)
                return rp_fail(c, "%s given twice", k);
            *have = true;
            if (parse_u32(c, v, 1, k[0] == 'c' ? &t->count : &t->seconds) != PS_OK)
                return PS_ERROR;
        } else {
            return rp_fail(c, "unknown field '%s'", k);
        }
    }
    if ((with_type && !have_type) || !have_track || !have_count || !have_seconds)
        return rp_fail(c, "needs %strack, count and seconds", with_type ? "type, " : "");
    t->present = true;
    return PS_OK;
}

static int kw_threshold(struct pctx *c, char *val)
{
    if (c->r->threshold.present || c->r->detection_filter.present)
        return rp_fail(c, "only one threshold or detection_filter per rule");
    return parse_threshold(c, val, true, &c->r->threshold);
}

static int kw_detection_filter(struct pctx *c, char *val)
{
    if (c->r->threshold.present || c->r->detection_filter.present)
        return rp_fail(c, "only one threshold or detection_filter per rule");
    return parse_threshold(c, val, false, &c->r->detection_filter);
}

/* ---- the keyword table ------------------------------------------------ */

enum { ARG_NONE, ARG_REQ, ARG_OPT };

static const struct keyword {
    const char *name;
    int (*fn)(struct pctx *c, char *val);
    int arg;
} keywords[] = {
    { "msg", kw_msg, ARG_REQ },
    { "sid", kw_sid, ARG_REQ },
    { "rev", kw_rev, ARG_REQ },
    { "gid", kw_gid, ARG_REQ },
    { "classtype", kw_classtype, ARG_REQ },
    { "priority", kw_priority, ARG_REQ },
    { "reference", kw_reference, ARG_REQ },
    { "metadata", kw_metadata, ARG_REQ },
    { "target", kw_target, ARG_REQ },
    { "service", kw_service, ARG_REQ },
    { "rem", kw_ignore, ARG_REQ },
    { "noalert", kw_noalert, ARG_NONE },
    { "content", rp_kw_content, ARG_REQ },
    { "nocase", rp_kw_nocase, ARG_NONE },
    { "rawbytes", rp_kw_rawbytes, ARG_NONE },
    { "offset", rp_kw_offset, ARG_REQ },
    { "depth", rp_kw_depth, ARG_REQ },
    { "distance", rp_kw_distance, ARG_REQ },
    { "within", rp_kw_within, ARG_REQ },
    { "fast_pattern", rp_kw_fast_pattern, ARG_OPT },
    { "startswith", rp_kw_startswith, ARG_NONE },
    { "endswith", rp_kw_endswith, ARG_NONE },
    { "pcre", rp_kw_pcre, ARG_REQ },
    { "byte_test", rp_kw_byte_test, ARG_REQ },
    { "byte_jump", rp_kw_byte_jump, ARG_REQ },
    { "byte_extract", rp_kw_byte_extract, ARG_REQ },
    { "isdataat", rp_kw_isdataat, ARG_REQ },
    { "pkt_data", kw_ignore, ARG_NONE },   /* back to the packet payload: where we are */
    { "flow", kw_flow, ARG_REQ },
    { "flowbits", kw_flowbits, ARG_REQ },
    { "dsize", kw_dsize, ARG_REQ },
    { "flags", kw_flags, ARG_REQ },
    { "tcp.flags", kw_flags, ARG_REQ },
    { "itype", kw_itype, ARG_REQ },
    { "icode", kw_icode, ARG_REQ },
    { "ip_proto", kw_ip_proto, ARG_REQ },
    { "ttl", kw_ttl, ARG_REQ },
    { "threshold", kw_threshold, ARG_REQ },
    { "detection_filter", kw_detection_filter, ARG_REQ },
};

int rp_option(struct pctx *c, const char *name, char *val)
{
    const struct keyword *kw = NULL;
    for (size_t i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++)
        if (strcasecmp(name, keywords[i].name) == 0) {
            kw = &keywords[i];
            break;
        }
    if (kw == NULL) {                     /* counted under its lower-case name */
        char key[RULE_SKIP_KEY_MAX];
        size_t i = 0;
        for (; name[i] && i + 1 < sizeof(key); i++)
            key[i] = (char)tolower((unsigned char)name[i]);
        key[i] = '\0';
        return rp_skip(c, key);
    }
    c->opt = kw->name;
    int rc;
    if (kw->arg == ARG_REQ && (val == NULL || *val == '\0'))
        rc = rp_fail(c, "needs a value");
    else if (kw->arg == ARG_NONE && val != NULL)
        rc = rp_fail(c, "takes no value");
    else
        rc = kw->fn(c, val);
    c->opt = NULL;
    return rc;
}

/* ---- after the last option ------------------------------------------------ */

int rp_finish(struct pctx *c)
{
    if (!c->seen_sid)
        return rp_fail(c, "rule has no sid");
    if (rp_payload_finish(c) != PS_OK)
        return PS_ERROR;
    if (c->r->msg == NULL && (c->r->msg = strdup("")) == NULL)
        return rp_fail(c, "out of memory");
    return PS_OK;
}
