/* rule_payload.c - the payload keywords: content and its modifiers, pcre,
 * byte_test, byte_jump, byte_extract and isdataat, which become the rule's
 * ordered match elements, and the checks that need all of them (positions,
 * fast_pattern:only, the choice of the fast pattern). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rule_parser_int.h"

/* ---- helpers ---------------------------------------------------------- */

/* Unsigned, decimal or 0x hex (or 0-prefixed octal, as Suricata's strtoull
 * with base 0 reads byte_test values). */
static bool parse_u64_any(const char *s, uint64_t *out)
{
    if (!isdigit((unsigned char)*s))
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno != 0 || *end != '\0')
        return false;
    *out = v;
    return true;
}

static bool is_ident(const char *s)
{
    if (!isalpha((unsigned char)*s) && *s != '_')
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_')
            return false;
    return true;
}

static struct rule_match *new_match(struct pctx *c, enum rule_match_type type)
{
    struct rule *r = c->r;
    if (rp_grow(c, (void **)&r->matches, r->n_matches, &c->cap_matches, sizeof(*r->matches),
                RULE_MATCHES_MAX, "payload matches") != PS_OK)
        return NULL;
    struct rule_match *m = &r->matches[r->n_matches++];
    memset(m, 0, sizeof(*m));
    m->type = type;
    return m;
}

static const struct rule_operand no_operand = { 0, -1 };

static int find_byte_var(const struct pctx *c, const char *name)
{
    for (int i = 0; i < c->r->n_byte_vars; i++)
        if (strcmp(c->r->byte_vars[i], name) == 0)
            return i;
    return -1;
}

/* A number in [min, max], or the name of an earlier byte_extract variable. */
static int parse_operand(struct pctx *c, const char *s, int64_t min, int64_t max,
                         struct rule_operand *out)
{
    if (isalpha((unsigned char)*s) || *s == '_') {
        int v = find_byte_var(c, s);
        if (v < 0)
            return rp_fail(c, "unknown byte_extract variable '%s'", s);
        *out = (struct rule_operand){ 0, (int8_t)v };
        return PS_OK;
    }
    int64_t x;
    if (!rp_parse_i64(s, min, max, &x))
        return rp_fail(c, "'%s' is not a number from %lld to %lld", s,
                       (long long)min, (long long)max);
    *out = (struct rule_operand){ x, -1 };
    return PS_OK;
}

/* ---- content and its modifiers ---------------------------------------- */

/* The first unescaped '"' at or after s, or NULL. */
static char *closing_quote(char *s)
{
    for (; *s; s++) {
        if (*s == '\\' && s[1] != '\0')
            s++;
        else if (*s == '"')
            return s;
    }
    return NULL;
}

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    ch = tolower(ch);
    return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* Text with |hex| segments and \" \; \\ \: escapes -> bytes. */
static int decode_content(struct pctx *c, const char *s, size_t len, struct rule_content *out)
{
    uint8_t *buf = malloc(len ? len : 1);
    size_t n = 0;
    bool hex = false;
    int nib = -1;
    if (buf == NULL)
        return rp_fail(c, "out of memory");
    for (size_t i = 0; i < len; i++) {
        int ch = (unsigned char)s[i];
        if (hex) {
            if (ch == '|') {
                if (nib >= 0)
                    goto odd;
                hex = false;
            } else if (!isspace(ch)) {
                int v = hexval(ch);
                if (v < 0) {
                    free(buf);
                    return rp_fail(c, "invalid hex character '%c' in |...|", ch);
                }
                if (nib < 0) {
                    nib = v;
                } else {
                    buf[n++] = (uint8_t)(nib << 4 | v);
                    nib = -1;
                }
            }
        } else if (ch == '|') {
            hex = true;
        } else if (ch == '\\') {
            int next = i + 1 < len ? (unsigned char)s[i + 1] : 0;
            if (next != '\\' && next != '"' && next != ';' && next != ':') {
                free(buf);
                if (next == 0)
                    return rp_fail(c, "ends with a lone backslash");
                return rp_fail(c, "invalid escape '\\%c' (only \\\" \\; \\: \\\\)", next);
            }
            buf[n++] = (uint8_t)next;
            i++;
        } else {
            buf[n++] = (uint8_t)ch;
        }
    }
    if (hex) {
        free(buf);
        return rp_fail(c, "unterminated |hex| segment");
    }
    if (n == 0 || n > RULE_CONTENT_MAX) {
        free(buf);
        return n == 0 ? rp_fail(c, "empty content")
                      : rp_fail(c, "longer than %u bytes", RULE_CONTENT_MAX);
    }
    out->bytes = buf;
    out->len = (uint32_t)n;
    return PS_OK;
odd:
    free(buf);
    return rp_fail(c, "odd number of hex digits in |...|");
}

static struct rule_content *last_content(struct pctx *c)
{
    if (c->last_content < 0) {
        rp_fail(c, "needs a preceding content");
        return NULL;
    }
    return &c->r->matches[c->last_content].u.content;
}

static int set_flag_once(struct pctx *c, uint32_t flag)
{
    struct rule_content *ct = last_content(c);
    if (ct == NULL)
        return PS_ERROR;
    if (ct->flags & flag)
        return rp_fail(c, "given twice for the same content");
    ct->flags |= flag;
    return PS_OK;
}

int rp_kw_nocase(struct pctx *c, char *val)
{
    (void)val;
    return set_flag_once(c, RULE_CONTENT_NOCASE);
}

int rp_kw_rawbytes(struct pctx *c, char *val)
{
    (void)val;
    return set_flag_once(c, RULE_CONTENT_RAWBYTES);
}

int rp_kw_startswith(struct pctx *c, char *val)
{
    (void)val;
    return set_flag_once(c, RULE_CONTENT_STARTSWITH);
}

int rp_kw_endswith(struct pctx *c, char *val)
{
    (void)val;
    return set_flag_once(c, RULE_CONTENT_ENDSWITH);
}

/* offset/depth (absolute) and distance/within (relative) cannot be mixed on
 * one content: Suricata rejects it, and the meaning would be ambiguous. */
static int set_position(struct pctx *c, const char *val, uint32_t flag)
{
    static const uint32_t absolute = RULE_CONTENT_OFFSET | RULE_CONTENT_DEPTH;
    static const uint32_t relative = RULE_CONTENT_DISTANCE | RULE_CONTENT_WITHIN;
    struct rule_content *ct = last_content(c);
    if (ct == NULL)
        return PS_ERROR;
    if (ct->flags & flag)
        return rp_fail(c, "given twice for the same content");
    if (ct->flags & ((flag & absolute) ? relative : absolute))
        return rp_fail(c, "offset/depth and distance/within cannot be mixed on one content");
    struct rule_operand *op = flag == RULE_CONTENT_OFFSET ? &ct->offset
                            : flag == RULE_CONTENT_DEPTH ? &ct->depth
                            : flag == RULE_CONTENT_DISTANCE ? &ct->distance : &ct->within;
    int64_t min = flag == RULE_CONTENT_DISTANCE ? -(int64_t)RULE_POS_MAX : 0;
    if (parse_operand(c, val, min, RULE_POS_MAX, op) != PS_OK)
        return PS_ERROR;
    ct->flags |= flag;
    return PS_OK;
}

int rp_kw_offset(struct pctx *c, char *val)
{
    return set_position(c, val, RULE_CONTENT_OFFSET);
}

int rp_kw_depth(struct pctx *c, char *val)
{
    return set_position(c, val, RULE_CONTENT_DEPTH);
}

int rp_kw_distance(struct pctx *c, char *val)
{
    return set_position(c, val, RULE_CONTENT_DISTANCE);
}

int rp_kw_within(struct pctx *c, char *val)
{
    return set_position(c, val, RULE_CONTENT_WITHIN);
}

int rp_kw_fast_pattern(struct pctx *c, char *val)
{
    struct rule_content *ct = last_content(c);
    if (ct == NULL)
        return PS_ERROR;
    for (uint32_t i = 0; i < c->r->n_matches; i++) {
        const struct rule_match *m = &c->r->matches[i];
        if (m->type == RULE_MATCH_CONTENT && (m->u.content.flags & RULE_CONTENT_FAST_PATTERN))
            return rp_fail(c, "given for more than one content");
    }
    ct->flags |= RULE_CONTENT_FAST_PATTERN;
    if (val == NULL || *val == '\0')
        return PS_OK;
    if (strcmp(val, "only") == 0) {
        ct->flags |= RULE_CONTENT_FP_ONLY;
        return PS_OK;
    }
    char *a[3];
    int64_t off, len;
    if (rp_split_args(val, a, 3) != 2 || !rp_parse_i64(a[0], 0, 65535, &off) ||
        !rp_parse_i64(a[1], 1, 65535, &len))
        return rp_fail(c, "expected 'only' or 'offset,length'");
    ct->flags |= RULE_CONTENT_FP_CHOP;
    ct->fp_offset = (uint32_t)off;
    ct->fp_len = (uint32_t)len;
    return PS_OK;
}

/* Snort 3's fast_pattern_offset N / fast_pattern_length N: the two halves
 * of fast_pattern:N,M (a missing length means "to the end", settled in
 * finish_content). */
static int snort3_fp_chop(struct pctx *c, bool is_offset, const char *v)
{
    struct rule_content *ct = last_content(c);
    int64_t x;
    if (ct == NULL)
        return PS_ERROR;
    if (!(ct->flags & RULE_CONTENT_FAST_PATTERN) || (ct->flags & RULE_CONTENT_FP_ONLY))
        return rp_fail(c, "fast_pattern_%s needs fast_pattern before it",
                       is_offset ? "offset" : "length");
    if (!rp_parse_i64(v, is_offset ? 0 : 1, 65535, &x))
        return rp_fail(c, "invalid fast_pattern_%s '%s'", is_offset ? "offset" : "length", v);
    ct->flags |= RULE_CONTENT_FP_CHOP;
    if (is_offset)
        ct->fp_offset = (uint32_t)x;
    else
        ct->fp_len = (uint32_t)x;
    return PS_OK;
}

/* Snort 3 puts the modifiers inside the option: content:"x",depth 4,nocase; */
static int snort3_content_mods(struct pctx *c, char *s)
{
    char *mods[32];
    int n = rp_split_args(s, mods, 32);
    if (n < 0)
        return rp_fail(c, "more than 32 modifiers");
    for (int i = 0; i < n; i++) {
        char *v, *k = rp_split_kv(mods[i], &v);
        int rc;
        bool needs_value = true;
        if (strcmp(k, "nocase") == 0) {
            rc = rp_kw_nocase(c, NULL), needs_value = false;
        } else if (strcmp(k, "fast_pattern") == 0) {
            rc = rp_kw_fast_pattern(c, NULL), needs_value = false;
        } else if (v == NULL) {
            return rp_fail(c, "unknown or incomplete modifier '%s'", k);
        } else if (strcmp(k, "offset") == 0) {
            rc = rp_kw_offset(c, v);
        } else if (strcmp(k, "depth") == 0) {
            rc = rp_kw_depth(c, v);
        } else if (strcmp(k, "distance") == 0) {
            rc = rp_kw_distance(c, v);
        } else if (strcmp(k, "within") == 0) {
            rc = rp_kw_within(c, v);
        } else if (strcmp(k, "fast_pattern_offset") == 0 ||
                   strcmp(k, "fast_pattern_length") == 0) {
            rc = snort3_fp_chop(c, k[13] == 'o', v);
        } else {
            return rp_fail(c, "unknown modifier '%s'", k);
        }
        if (!needs_value && v != NULL)
            return rp_fail(c, "modifier '%s' takes no value", k);
        if (rc != PS_OK)
            return rc;
    }
    return PS_OK;
}

int rp_kw_content(struct pctx *c, char *val)
{
    bool neg = false;
    char *s = val;
    if (*s == '!') {
        neg = true;
        s = rp_trim(s + 1);
    }
    if (*s != '"')
        return rp_fail(c, "expected a quoted string");
    char *end = closing_quote(s + 1);
    if (end == NULL)
        return rp_fail(c, "no closing quote");
    struct rule_content ct = { .offset = no_operand, .depth = no_operand,
                               .distance = no_operand, .within = no_operand };
    if (decode_content(c, s + 1, (size_t)(end - s - 1), &ct) != PS_OK)
        return PS_ERROR;
    if (neg)
        ct.flags |= RULE_CONTENT_NEGATED;
    struct rule_match *m = new_match(c, RULE_MATCH_CONTENT);
    if (m == NULL) {
        free(ct.bytes);
        return PS_ERROR;
    }
    m->u.content = ct;
    c->last_content = (int32_t)(c->r->n_matches - 1);
    char *rest = rp_trim(end + 1);
    if (*rest == ',')
        return snort3_content_mods(c, rest + 1);
    if (*rest != '\0')
        return rp_fail(c, "unexpected '%.20s' after the string", rest);
    return PS_OK;
}

/* ---- pcre ------------------------------------------------------------- */

int rp_kw_pcre(struct pctx *c, char *val)
{
    uint32_t flags = 0;
    char *s = val;
    if (*s == '!') {
        flags |= RULE_PCRE_NEGATED;
        s = rp_trim(s + 1);
    }
    size_t len = strlen(s);
    if (len < 2 || s[0] != '"' || s[len - 1] != '"')
        return rp_fail(c, "expected a quoted \"/regex/flags\"");
    s[len - 1] = '\0';
    s++;
    char *last = strrchr(s, '/');
    if (*s != '/' || last == s)
        return rp_fail(c, "expected \"/regex/flags\"");
    if (last == s + 1)
        return rp_fail(c, "empty regex");
    for (const char *f = last + 1; *f; f++) {
        switch (*f) {
        case 'i': flags |= RULE_PCRE_CASELESS; break;
        case 's': flags |= RULE_PCRE_DOTALL; break;
        case 'm': flags |= RULE_PCRE_MULTILINE; break;
        case 'x': flags |= RULE_PCRE_EXTENDED; break;
        case 'A': flags |= RULE_PCRE_ANCHORED; break;
        case 'E': flags |= RULE_PCRE_DOLLAR_ENDONLY; break;
        case 'G': flags |= RULE_PCRE_UNGREEDY; break;
        case 'R': flags |= RULE_PCRE_RELATIVE; break;
        case 'O': flags |= RULE_PCRE_NO_LIMITS; break;
        default:
            /* Snort/Suricata HTTP buffer selectors: a buffer we do not have. */
            if (strchr("UIPQHDMCKSYVWZB", *f) != NULL) {
                char key[16];
                snprintf(key, sizeof(key), "pcre:%c", *f);
                return rp_skip(c, key);
            }
            return rp_fail(c, "unknown modifier '%c'", *f);
        }
    }
    struct rule_match *m = new_match(c, RULE_MATCH_PCRE);
    if (m == NULL)
        return PS_ERROR;
    m->u.pcre.flags = flags;
    m->u.pcre.pattern = strndup(s + 1, (size_t)(last - s - 1));
    return m->u.pcre.pattern ? PS_OK : rp_fail(c, "out of memory");
}

/* ---- byte_test / byte_jump / byte_extract / isdataat ---------------------- */

struct byte_opts {
    uint32_t flags;
    uint8_t base;                  /* 0 = not given */
    bool has_multiplier, has_post_offset, has_align;
    uint32_t multiplier;
    int32_t post_offset;
    uint8_t align;
    uint64_t bitmask;
};

/* Whether `word` is one of the blank-separated words of `list`. */
static bool word_in(const char *word, const char *list)
{
    size_t len = strlen(word);
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, " ");
        if (n == len && len > 0 && strncmp(p, word, len) == 0)
            return true;
        p += n;
        p += strspn(p, " ");
    }
    return false;
}

/* The flag words shared by the three byte_* keywords; `allowed` lists the
 * words (blank separated) this keyword takes. */
static int byte_option(struct pctx *c, char *arg, const char *allowed, struct byte_opts *o)
{
    char *v, *k = rp_split_kv(arg, &v);
    if (!word_in(k, allowed))
        return rp_fail(c, "unknown option '%s'", arg);
    if (strcmp(k, "dce") == 0) {
        char key[RULE_SKIP_KEY_MAX];
        snprintf(key, sizeof(key), "%s:dce", c->opt);
        return rp_skip(c, key);
    }
    bool takes_value = strcmp(k, "multiplier") == 0 || strcmp(k, "post_offset") == 0 ||
                       strcmp(k, "bitmask") == 0 || (strcmp(k, "align") == 0 && v != NULL);
    if (takes_value != (v != NULL))
        return rp_fail(c, takes_value ? "'%s' needs a value" : "'%s' takes no value", k);
    int64_t x;
    if (strcmp(k, "relative") == 0) {
        o->flags |= RULE_BYTE_RELATIVE;
    } else if (strcmp(k, "big") == 0) {
        o->flags &= ~(uint32_t)RULE_BYTE_LITTLE;
    } else if (strcmp(k, "little") == 0) {
        o->flags |= RULE_BYTE_LITTLE;
    } else if (strcmp(k, "string") == 0) {
        o->flags |= RULE_BYTE_STRING;
    } else if (strcmp(k, "hex") == 0 || strcmp(k, "dec") == 0 || strcmp(k, "oct") == 0) {
        if (o->base != 0)
            return rp_fail(c, "more than one of hex/dec/oct");
        o->base = k[0] == 'h' ? 16 : k[0] == 'd' ? 10 : 8;
    } else if (strcmp(k, "align") == 0 && v == NULL) {
        o->flags |= RULE_BYTE_ALIGN;                   /* byte_jump: to 4 */
    } else if (strcmp(k, "align") == 0) {
        if (!rp_parse_i64(v, 2, 4, &x) || x == 3)
            return rp_fail(c, "align must be 2 or 4");
        o->align = (uint8_t)x;
    } else if (strcmp(k, "from_beginning") == 0) {
        o->flags |= RULE_BYTE_FROM_BEGINNING;
    } else if (strcmp(k, "from_end") == 0) {
        o->flags |= RULE_BYTE_FROM_END;
    } else if (strcmp(k, "multiplier") == 0) {
        if (!rp_parse_i64(v, 1, 65535, &x))
            return rp_fail(c, "multiplier must be from 1 to 65535");
        o->multiplier = (uint32_t)x;
        o->has_multiplier = true;
    } else if (strcmp(k, "post_offset") == 0) {
        if (!rp_parse_i64(v, -65535, 65535, &x))
            return rp_fail(c, "post_offset must be from -65535 to 65535");
        o->post_offset = (int32_t)x;
        o->has_post_offset = true;
    } else if (strcmp(k, "bitmask") == 0) {
        if (!parse_u64_any(v, &o->bitmask) || o->bitmask == 0)
            return rp_fail(c, "bitmask must be a non-zero number");
        o->flags |= RULE_BYTE_BITMASK;
    }
    return PS_OK;
}

static int byte_options(struct pctx *c, char **a, int from, int n, const char *allowed,
                        struct byte_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->multiplier = 1;
    for (int i = from; i < n; i++) {
        int rc = byte_option(c, a[i], allowed, o);
        if (rc != PS_OK)
            return rc;
    }
    if (o->base != 0 && !(o->flags & RULE_BYTE_STRING))
        return rp_fail(c, "hex/dec/oct need 'string'");
    if (o->base == 0)
        o->base = 10;
    return PS_OK;
}

/* nbytes: up to 8 bytes of binary, up to 23 characters of text (the longest
 * octal that fits in 64 bits), as Suricata. */
static int check_nbytes(struct pctx *c, int64_t n, uint32_t flags, int64_t min)
{
    int64_t max = (flags & RULE_BYTE_STRING) ? 23 : 8;
    if (n < min || n > max)
        return rp_fail(c, "number of bytes must be from %lld to %lld%s", (long long)min,
                       (long long)max, max == 8 ? " without 'string'" : "");
    return PS_OK;
}

static int parse_byte_op(struct pctx *c, char *s, struct rule_byte_test *bt)
{
    if (*s == '!') {
        bt->negate = true;
        s = rp_trim(s + 1);
    }
    static const struct { const char *text; enum rule_byte_op op; } ops[] = {
        { "<=", RULE_BYTE_OP_LE }, { ">=", RULE_BYTE_OP_GE }, { "<", RULE_BYTE_OP_LT },
        { ">", RULE_BYTE_OP_GT }, { "=", RULE_BYTE_OP_EQ }, { "&", RULE_BYTE_OP_AND },
        { "^", RULE_BYTE_OP_XOR },
    };
    if (*s == '\0' && bt->negate) {                 /* "!" alone means != */
        bt->op = RULE_BYTE_OP_EQ;
        return PS_OK;
    }
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
        if (strcmp(s, ops[i].text) == 0) {
            bt->op = ops[i].op;
            return PS_OK;
        }
    return rp_fail(c, "invalid operator '%s'", s);
}

int rp_kw_byte_test(struct pctx *c, char *val)
{
    char *a[16];
    int n = rp_split_args(val, a, 16);
    if (n < 4)
        return rp_fail(c, "expected 'nbytes, operator, value, offset[, options]'");
    struct rule_byte_test bt = { .value = no_operand, .offset = no_operand };
    struct byte_opts o;
    int64_t nb;
    if (!rp_parse_i64(a[0], 0, 64, &nb))
        return rp_fail(c, "invalid number of bytes '%s'", a[0]);
    if (parse_byte_op(c, a[1], &bt) != PS_OK)
        return PS_ERROR;
    if (is_ident(a[2])) {
        if (parse_operand(c, a[2], 0, 0, &bt.value) != PS_OK)
            return PS_ERROR;
    } else {
        uint64_t v;
        if (!parse_u64_any(a[2], &v) || v > INT64_MAX)
            return rp_fail(c, "invalid value '%s'", a[2]);
        bt.value = (struct rule_operand){ (int64_t)v, -1 };
    }
    if (parse_operand(c, a[3], INT32_MIN, INT32_MAX, &bt.offset) != PS_OK)
        return PS_ERROR;
    int rc = byte_options(c, a, 4, n, "relative big little string hex dec oct dce bitmask", &o);
    if (rc != PS_OK)
        return rc;
    if (check_nbytes(c, nb, o.flags, 1) != PS_OK)
        return PS_ERROR;
    bt.nbytes = (uint8_t)nb;
    bt.flags = o.flags;
    bt.base = o.base;
    bt.bitmask = o.bitmask;
    struct rule_match *m = new_match(c, RULE_MATCH_BYTE_TEST);
    if (m == NULL)
        return PS_ERROR;
    m->u.byte_test = bt;
    return PS_OK;
}

int rp_kw_byte_jump(struct pctx *c, char *val)
{
    char *a[16];
    int n = rp_split_args(val, a, 16);
    if (n < 2)
        return rp_fail(c, "expected 'nbytes, offset[, options]'");
    struct rule_byte_jump bj = { .nbytes = no_operand, .offset = no_operand };
    struct byte_opts o;
    if (parse_operand(c, a[0], 0, 64, &bj.nbytes) != PS_OK ||
        parse_operand(c, a[1], -65535, 65535, &bj.offset) != PS_OK)
        return PS_ERROR;
    int rc = byte_options(c, a, 2, n,
                          "relative big little string hex dec oct align from_beginning "
                          "from_end multiplier post_offset dce bitmask", &o);
    if (rc != PS_OK)
        return rc;
    if (bj.nbytes.var < 0 && check_nbytes(c, bj.nbytes.value, o.flags, 0) != PS_OK)
        return PS_ERROR;
    if (o.align != 0)
        return rp_fail(c, "align takes no value (it rounds up to 4)");
    if ((o.flags & RULE_BYTE_FROM_BEGINNING) && (o.flags & RULE_BYTE_FROM_END))
        return rp_fail(c, "from_beginning and from_end cannot be combined");
    bj.flags = o.flags;
    bj.base = o.base;
    bj.multiplier = o.multiplier;
    bj.post_offset = o.post_offset;
    bj.bitmask = o.bitmask;
    struct rule_match *m = new_match(c, RULE_MATCH_BYTE_JUMP);
    if (m == NULL)
        return PS_ERROR;
    m->u.byte_jump = bj;
    return PS_OK;
}

int rp_kw_byte_extract(struct pctx *c, char *val)
{
    char *a[16];
    int n = rp_split_args(val, a, 16);
    if (n < 3)
        return rp_fail(c, "expected 'nbytes, offset, name[, options]'");
    int64_t nb, off;
    struct byte_opts o;
    if (!rp_parse_i64(a[0], 0, 64, &nb))
        return rp_fail(c, "invalid number of bytes '%s'", a[0]);
    if (!rp_parse_i64(a[1], -65535, 65535, &off))
        return rp_fail(c, "offset '%s' is not a number from -65535 to 65535", a[1]);
    if (!is_ident(a[2]) || strlen(a[2]) > RULE_BYTE_VAR_NAME_MAX)
        return rp_fail(c, "invalid variable name '%s'", a[2]);
    /* Extracting into a name again overwrites it from there on (Snort 3
     * rules do this); elements are evaluated in order, so that is sound. */
    int existing = find_byte_var(c, a[2]);
    if (existing < 0 && c->r->n_byte_vars == RULE_BYTE_VARS_MAX)
        return rp_fail(c, "more than %d variables in one rule", RULE_BYTE_VARS_MAX);
    int rc = byte_options(c, a, 3, n,
                          "relative big little string hex dec oct dce multiplier align bitmask",
                          &o);
    if (rc != PS_OK)
        return rc;
    if (check_nbytes(c, nb, o.flags, 1) != PS_OK)
        return PS_ERROR;
    if (o.flags & RULE_BYTE_ALIGN)
        return rp_fail(c, "align needs a value (2 or 4)");
    struct rule_match *m = new_match(c, RULE_MATCH_BYTE_EXTRACT);
    if (m == NULL)
        return PS_ERROR;
    uint8_t var = existing >= 0 ? (uint8_t)existing : c->r->n_byte_vars++;
    strcpy(c->r->byte_vars[var], a[2]);
    m->u.byte_extract = (struct rule_byte_extract){
        .nbytes = (uint8_t)nb, .base = o.base, .align = o.align, .var = var,
        .flags = o.flags, .offset = (int32_t)off, .multiplier = o.multiplier,
        .bitmask = o.bitmask,
    };
    return PS_OK;
}

int rp_kw_isdataat(struct pctx *c, char *val)
{
    char *a[4];
    int n = rp_split_args(val, a, 4);
    struct rule_isdataat d = { .size = no_operand };
    if (n < 1 || *a[0] == '\0')
        return rp_fail(c, "expected '[!]size[, relative]'");
    char *sz = a[0];
    if (*sz == '!') {
        d.negated = true;
        sz = rp_trim(sz + 1);
    }
    if (parse_operand(c, sz, 0, 65535, &d.size) != PS_OK)
        return PS_ERROR;
    for (int i = 1; i < n; i++) {
        if (strcmp(a[i], "relative") == 0)
            d.relative = true;
        else if (strcmp(a[i], "rawbytes") != 0)
            return rp_fail(c, "unknown option '%s'", a[i]);
    }
    struct rule_match *m = new_match(c, RULE_MATCH_ISDATAAT);
    if (m == NULL)
        return PS_ERROR;
    m->u.isdataat = d;
    return PS_OK;
}

/* ---- after the last option ------------------------------------------------ */

/* Checks that need a content's final state, whatever the option order; a
 * fast_pattern_offset without a length gets the rest of the content. */
static int finish_content(struct pctx *c, struct rule_content *ct, uint32_t idx)
{
    static const uint32_t positional = RULE_CONTENT_OFFSET | RULE_CONTENT_DEPTH |
                                       RULE_CONTENT_DISTANCE | RULE_CONTENT_WITHIN;
    c->opt = "content";
    if ((ct->flags & RULE_CONTENT_DEPTH) && ct->depth.var < 0 && ct->depth.value < ct->len)
        return rp_fail(c, "#%u: depth %lld is less than the content length %u", idx + 1,
                       (long long)ct->depth.value, ct->len);
    if ((ct->flags & RULE_CONTENT_WITHIN) && ct->within.var < 0 && ct->within.value < ct->len)
        return rp_fail(c, "#%u: within %lld is less than the content length %u", idx + 1,
                       (long long)ct->within.value, ct->len);
    if ((ct->flags & RULE_CONTENT_STARTSWITH) && (ct->flags & positional))
        return rp_fail(c, "#%u: startswith cannot be combined with offset, depth, distance "
                       "or within", idx + 1);
    if ((ct->flags & RULE_CONTENT_FP_ONLY) &&
        (ct->flags & (positional | RULE_CONTENT_NEGATED | RULE_CONTENT_STARTSWITH |
                      RULE_CONTENT_ENDSWITH)))
        return rp_fail(c, "#%u: fast_pattern:only cannot be used on a negated or "
                       "positioned content", idx + 1);
    if ((ct->flags & RULE_CONTENT_FP_CHOP) && ct->fp_len == 0 && ct->fp_offset < ct->len)
        ct->fp_len = ct->len - ct->fp_offset;
    if ((ct->flags & RULE_CONTENT_FP_CHOP) &&
        (ct->fp_len == 0 || ct->fp_offset + ct->fp_len > ct->len))
        return rp_fail(c, "#%u: fast_pattern %u,%u goes past the content's %u bytes",
                       idx + 1, ct->fp_offset, ct->fp_len, ct->len);
    c->opt = NULL;
    return PS_OK;
}

/* The prefilter content: the one marked fast_pattern, else the longest
 * non-negated one (the first of equals). */
static int32_t choose_fast_pattern(const struct rule *r)
{
    int32_t best = -1;
    uint32_t best_len = 0;
    for (uint32_t i = 0; i < r->n_matches; i++) {
        const struct rule_match *m = &r->matches[i];
        if (m->type != RULE_MATCH_CONTENT)
            continue;
        if (m->u.content.flags & RULE_CONTENT_FAST_PATTERN)
            return (int32_t)i;
        if (!(m->u.content.flags & RULE_CONTENT_NEGATED) && m->u.content.len > best_len) {
            best = (int32_t)i;
            best_len = m->u.content.len;
        }
    }
    return best;
}

/* Cross-option checks of the payload elements, then the fast pattern. */
int rp_payload_finish(struct pctx *c)
{
    struct rule *r = c->r;
    for (uint32_t i = 0; i < r->n_matches; i++) {
        struct rule_match *m = &r->matches[i];
        if (m->type == RULE_MATCH_CONTENT && finish_content(c, &m->u.content, i) != PS_OK)
            return PS_ERROR;
        if (i > 0 && rule_match_is_relative(m) && r->matches[i - 1].type == RULE_MATCH_CONTENT &&
            (r->matches[i - 1].u.content.flags & RULE_CONTENT_FP_ONLY))
            return rp_fail(c, "match #%u is relative to a fast_pattern:only content", i + 1);
    }
    r->fast_pattern = choose_fast_pattern(r);
    return PS_OK;
}
