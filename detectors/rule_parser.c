/* rule_parser.c - the rule header, the option splitter, rule files and the
 * load summary. The option keywords themselves are in rule_options.c. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rule_parser_int.h"
#include "vars.h"

/* ---- header ------------------------------------------------------------- */

static const struct {
    const char *name;
    enum rule_action action;
    enum rule_declared_action declared;
} actions[] = {
    { "alert", RULE_ACTION_ALERT, RULE_DECLARED_ALERT },
    { "pass", RULE_ACTION_PASS, RULE_DECLARED_PASS },
    { "drop", RULE_ACTION_ALERT, RULE_DECLARED_DROP },
    { "sdrop", RULE_ACTION_ALERT, RULE_DECLARED_DROP },
    { "block", RULE_ACTION_ALERT, RULE_DECLARED_DROP },
    { "reject", RULE_ACTION_ALERT, RULE_DECLARED_REJECT },
    { "rejectsrc", RULE_ACTION_ALERT, RULE_DECLARED_REJECT },
    { "rejectdst", RULE_ACTION_ALERT, RULE_DECLARED_REJECT },
    { "rejectboth", RULE_ACTION_ALERT, RULE_DECLARED_REJECT },
};

#define P_TCP RULE_PROTO_TCP
#define P_UDP RULE_PROTO_UDP
#define P_TU (RULE_PROTO_TCP | RULE_PROTO_UDP)

/* Header protocols. Application names are matched as their transport's raw
 * payload (mamori has no application parsers): the transport is the one
 * Suricata runs that parser on, and a name Suricata parses on both TCP and
 * UDP (dns, dcerpc, nfs, krb5, enip, sip, ldap) takes both, i.e. "ip with
 * ports" restricted to TCP and UDP. */
static const struct {
    const char *name;
    uint8_t mask;
    uint8_t ip_versions;
    enum rule_tcp_view view;
    bool app;
} protos[] = {
    { "ip", RULE_PROTO_ANY, RULE_IP_ANY, RULE_TCP_ANY, false },
    { "pkthdr", RULE_PROTO_ANY, RULE_IP_ANY, RULE_TCP_ANY, false },
    { "ipv4", RULE_PROTO_ANY, RULE_IPV4, RULE_TCP_ANY, false },
    { "ip4", RULE_PROTO_ANY, RULE_IPV4, RULE_TCP_ANY, false },
    { "ipv6", RULE_PROTO_ANY, RULE_IPV6, RULE_TCP_ANY, false },
    { "ip6", RULE_PROTO_ANY, RULE_IPV6, RULE_TCP_ANY, false },
    { "tcp", P_TCP, RULE_IP_ANY, RULE_TCP_ANY, false },
    { "tcp-pkt", P_TCP, RULE_IP_ANY, RULE_TCP_PKT, false },
    { "tcp-stream", P_TCP, RULE_IP_ANY, RULE_TCP_STREAM, false },
    { "udp", P_UDP, RULE_IP_ANY, RULE_TCP_ANY, false },
    { "icmp", RULE_PROTO_ICMP4 | RULE_PROTO_ICMP6, RULE_IP_ANY, RULE_TCP_ANY, false },
    { "icmpv4", RULE_PROTO_ICMP4, RULE_IPV4, RULE_TCP_ANY, false },
    { "icmpv6", RULE_PROTO_ICMP6, RULE_IPV6, RULE_TCP_ANY, false },
    { "sctp", RULE_PROTO_SCTP, RULE_IP_ANY, RULE_TCP_ANY, false },
    /* application protocols over TCP */
    { "http", P_TCP, RULE_IP_ANY, RULE_TCP_ANY, true },
    { "http1", P_TCP, RULE_IP_ANY, RULE_TCP_ANY, true },
    { "http2", P_TCP, RULE_IP_ANY, RULE_TCP_ANY, true },
    { "ftp", P_TCP, RULE_IP_ANY, RULE_TCP_ANY, true },
    { "ftp-data", P_TCP, RULE_IP_ANY, RULE_TCP_ANY, true },
    { "smtp", P_TCP, RULE_IP_ANY, RULE_TCP_ANY, true },
    { "imap", P_TCP, RULE_IP_ANY, RULE_TCP_ANY, true },
    { "pop3", P_TCP, RULE_IP_ANY, RULE_TCP_ANY, true },
    { "ssh", P_TCP, RULE_IP_ANY, RULE_TCP_ANY, true },
    { "tls", P_TCP, RULE_IP_ANY, RULE_TCP_ANY, true },
    { "ssl", P_TCP, RULE_IP_ANY, RULE_TCP_ANY, true },
    { "smb", P_TCP, RULE_IP_ANY, RULE_TCP_ANY, true },
    { "modbus", P_TCP, RULE_IP_ANY, RULE_TCP_ANY, true },
    { "dnp3", P_TCP, RULE_IP_ANY, RULE_TCP_ANY, true },
    { "rdp", P_TCP, RULE_IP_ANY, RULE_TCP_ANY, true },
    { "rfb", P_TCP, RULE_IP_ANY, RULE_TCP_ANY, true },
    { "mqtt", P_TCP, RULE_IP_ANY, RULE_TCP_ANY, true },
    { "telnet", P_TCP, RULE_IP_ANY, RULE_TCP_ANY, true },
    { "irc", P_TCP, RULE_IP_ANY, RULE_TCP_ANY, true },
    { "pgsql", P_TCP, RULE_IP_ANY, RULE_TCP_ANY, true },
    { "websocket", P_TCP, RULE_IP_ANY, RULE_TCP_ANY, true },
    { "doh2", P_TCP, RULE_IP_ANY, RULE_TCP_ANY, true },
    { "bittorrent", P_TCP, RULE_IP_ANY, RULE_TCP_ANY, true },
    /* application protocols over UDP */
    { "tftp", P_UDP, RULE_IP_ANY, RULE_TCP_ANY, true },
    { "ntp", P_UDP, RULE_IP_ANY, RULE_TCP_ANY, true },
    { "dhcp", P_UDP, RULE_IP_ANY, RULE_TCP_ANY, true },
    { "snmp", P_UDP, RULE_IP_ANY, RULE_TCP_ANY, true },
    { "ike", P_UDP, RULE_IP_ANY, RULE_TCP_ANY, true },
    { "ikev2", P_UDP, RULE_IP_ANY, RULE_TCP_ANY, true },
    { "quic", P_UDP, RULE_IP_ANY, RULE_TCP_ANY, true },
    { "bittorrent-dht", P_UDP, RULE_IP_ANY, RULE_TCP_ANY, true },
    /* application protocols over both */
    { "dns", P_TU, RULE_IP_ANY, RULE_TCP_ANY, true },
    { "dcerpc", P_TU, RULE_IP_ANY, RULE_TCP_ANY, true },
    { "nfs", P_TU, RULE_IP_ANY, RULE_TCP_ANY, true },
    { "krb5", P_TU, RULE_IP_ANY, RULE_TCP_ANY, true },
    { "enip", P_TU, RULE_IP_ANY, RULE_TCP_ANY, true },
    { "sip", P_TU, RULE_IP_ANY, RULE_TCP_ANY, true },
    { "ldap", P_TU, RULE_IP_ANY, RULE_TCP_ANY, true },
};

/* Split the header at blanks outside [...], in place. Returns the count, or
 * max + 1 when there are more fields. */
static int header_fields(char *s, char **f, int max)
{
    int n = 0;
    for (;;) {
        while (isspace((unsigned char)*s))
            s++;
        if (*s == '\0')
            return n;
        if (n == max)
            return max + 1;
        f[n++] = s;
        int depth = 0;
        while (*s && (depth > 0 || !isspace((unsigned char)*s))) {
            depth += (*s == '[') - (*s == ']');
            s++;
        }
        if (*s)
            *s++ = '\0';
    }
}

static int header_proto(struct pctx *c, const char *name)
{
    for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++) {
        if (strcasecmp(name, protos[i].name) != 0)
            continue;
        struct rule_proto *p = &c->r->proto;
        snprintf(p->name, sizeof(p->name), "%s", protos[i].name);
        p->app = protos[i].app;
        p->mask = protos[i].mask;
        p->ip_versions = protos[i].ip_versions;
        p->tcp_view = protos[i].view;
        return PS_OK;
    }
    return rp_fail(c, "unknown protocol '%.40s'", name);
}

static int header_group(struct pctx *c, const char *text, const char *what, bool port,
                        void *out)
{
    char why[300];
    int rc = port ? rule_ports_parse(text, c->vars, out, why, sizeof(why))
                  : rule_addrs_parse(text, c->vars, out, why, sizeof(why));
    return rc == 0 ? PS_OK : rp_fail(c, "%s: %s", what, why);
}

static int parse_header(struct pctx *c, char *hdr)
{
    char *f[8];
    int n = header_fields(hdr, f, 7);
    if (n != 7)
        return rp_fail(c, "header must be 'action protocol src_addr src_port -> dst_addr "
                       "dst_port' (%d field%s)", n > 7 ? 8 : n, n == 1 ? "" : "s");
    size_t i = 0;
    while (i < sizeof(actions) / sizeof(actions[0]) && strcasecmp(f[0], actions[i].name) != 0)
        i++;
    if (i == sizeof(actions) / sizeof(actions[0]))
        return rp_fail(c, "unknown action '%.40s'", f[0]);
    c->r->action = actions[i].action;
    c->r->declared = actions[i].declared;
    if (header_proto(c, f[1]) != PS_OK)
        return PS_ERROR;
    if (strcmp(f[4], "->") == 0)
        c->r->bidirectional = false;
    else if (strcmp(f[4], "<>") == 0)
        c->r->bidirectional = true;
    else
        return rp_fail(c, "direction must be '->' or '<>', not '%.20s'", f[4]);
    if (header_group(c, f[2], "source address", false, &c->r->src) != PS_OK ||
        header_group(c, f[3], "source port", true, &c->r->sport) != PS_OK ||
        header_group(c, f[5], "destination address", false, &c->r->dst) != PS_OK ||
        header_group(c, f[6], "destination port", true, &c->r->dport) != PS_OK)
        return PS_ERROR;
    return PS_OK;
}

/* ---- options ------------------------------------------------------------ */

static bool valid_keyword(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '.' && *s != '-')
            return false;
    return true;
}

/* After a skip only these are still read: a skipped rule must still have a
 * sid, and sid/msg make the skip traceable. */
static bool read_when_skipping(const char *name)
{
    return strcasecmp(name, "sid") == 0 || strcasecmp(name, "gid") == 0 ||
           strcasecmp(name, "rev") == 0 || strcasecmp(name, "msg") == 0;
}

/* Options are "name;" or "name:value;". A value ends at the first ';' that
 * is not escaped by a backslash (Suricata's rule; quotes do not protect). */
static int parse_options(struct pctx *c, char *p)
{
    unsigned count = 0;
    bool skipping = false;
    for (;;) {
        while (isspace((unsigned char)*p))
            p++;
        if (*p == '\0')
            break;
        if (++count > RULE_OPTIONS_MAX)
            return rp_fail(c, "more than %d options", RULE_OPTIONS_MAX);
        char *name = p, *val = NULL;
        while (*p && *p != ':' && *p != ';')
            p++;
        if (*p == ':') {
            *p++ = '\0';
            val = p;
            while (*p && *p != ';')
                p += (*p == '\\' && p[1] != '\0') ? 2 : 1;
        }
        if (*p != ';')
            return rp_fail(c, "option '%.40s' is not terminated by ';'", rp_trim(name));
        *p++ = '\0';
        name = rp_trim(name);
        if (val != NULL)
            val = rp_trim(val);
        if (!valid_keyword(name))
            return rp_fail(c, "malformed option '%.40s'", name);
        if (skipping && !read_when_skipping(name))
            continue;
        int rc = rp_option(c, name, val);
        if (rc == PS_ERROR)
            return rc;
        if (rc == PS_SKIP && !skipping)
            skipping = true;
    }
    if (skipping)
        return c->seen_sid ? PS_SKIP : rp_fail(c, "rule has no sid");
    return rp_finish(c);
}

/* ---- one rule -------------------------------------------------------------- */

static enum rule_parse_status parse_fail(char *why, size_t whylen, const char *msg)
{
    if (why != NULL && whylen > 0)
        snprintf(why, whylen, "%s", msg);
    return RULE_PARSE_ERROR;
}

enum rule_parse_status rule_parse_line(const char *text, const struct rule_vars *vars,
                                       const struct classifications *cls,
                                       struct rule *out, char *why, size_t whylen)
{
    memset(out, 0, sizeof(*out));
    if (why != NULL && whylen > 0)
        why[0] = '\0';
    size_t len = strnlen(text, RULE_TEXT_MAX + 1);
    if (len > RULE_TEXT_MAX) {
        char msg[64];
        snprintf(msg, sizeof(msg), "rule longer than %u bytes", RULE_TEXT_MAX);
        return parse_fail(why, whylen, msg);
    }
    char *work = strdup(text);
    if (work == NULL)
        return parse_fail(why, whylen, "out of memory");
    char *s = rp_trim(work);
    char *open = strchr(s, '('), *close = strrchr(s, ')');
    const char *problem = NULL;
    if (*s == '\0')
        problem = "empty rule";
    else if (open == NULL)
        problem = "no '(' before the options";
    else if (close == NULL || close < open)
        problem = "options are not closed by ')'";
    else if (close[1] != '\0')
        problem = "unexpected text after the closing ')'";
    if (problem != NULL) {
        free(work);
        return parse_fail(why, whylen, problem);
    }
    *open = '\0';
    *close = '\0';

    struct rule r = { .gid = 1, .priority = 3, .fast_pattern = -1 };
    struct pctx c = { .r = &r, .vars = vars, .cls = cls, .err = why, .errlen = whylen,
                      .last_content = -1 };
    int rc = parse_header(&c, s);
    if (rc == PS_OK)
        rc = parse_options(&c, open + 1);
    if (rc == PS_OK) {
        const char *t = text;
        while (isspace((unsigned char)*t))
            t++;
        size_t tl = strlen(t);
        while (tl > 0 && isspace((unsigned char)t[tl - 1]))
            tl--;
        if ((r.text = strndup(t, tl)) == NULL)
            rc = parse_fail(why, whylen, "out of memory");
    }
    free(work);
    if (rc != PS_OK) {
        if (rc == PS_SKIP && why != NULL && whylen > 0)
            snprintf(why, whylen, "%s", c.skip_key);
        rule_free(&r);
        return rc == PS_SKIP ? RULE_PARSE_SKIP : RULE_PARSE_ERROR;
    }
    *out = r;
    return RULE_PARSE_OK;
}

/* ---- rulesets: the gid:sid index ------------------------------------------ */

struct ruleset_sid_index {
    uint64_t *keys;
    uint32_t *pos;       /* rule index + 1; 0 = empty slot */
    uint32_t cap, n;     /* cap is a power of two */
};

static uint32_t sid_slot(uint64_t key, uint32_t cap)
{
    return (uint32_t)((key * 0x9e3779b97f4a7c15ull) >> 32) & (cap - 1);
}

static int sid_index_grow(struct ruleset_sid_index *ix)
{
    uint32_t cap = ix->cap ? ix->cap * 2 : 1024;
    uint64_t *keys = calloc(cap, sizeof(*keys));
    uint32_t *pos = calloc(cap, sizeof(*pos));
    if (keys == NULL || pos == NULL) {
        free(keys);
        free(pos);
        return -1;
    }
    for (uint32_t i = 0; i < ix->cap; i++) {
        if (ix->pos[i] == 0)
            continue;
        uint32_t s = sid_slot(ix->keys[i], cap);
        while (pos[s] != 0)
            s = (s + 1) & (cap - 1);
        keys[s] = ix->keys[i];
        pos[s] = ix->pos[i];
    }
    free(ix->keys);
    free(ix->pos);
    ix->keys = keys;
    ix->pos = pos;
    ix->cap = cap;
    return 0;
}

/* The rule index + 1 of gid:sid, or 0. */
static uint32_t sid_lookup(const struct ruleset_sid_index *ix, uint32_t gid, uint32_t sid)
{
    if (ix == NULL || ix->cap == 0)
        return 0;
    uint64_t key = (uint64_t)gid << 32 | sid;
    for (uint32_t s = sid_slot(key, ix->cap); ix->pos[s] != 0; s = (s + 1) & (ix->cap - 1))
        if (ix->keys[s] == key)
            return ix->pos[s];
    return 0;
}

static int sid_insert(struct ruleset_sid_index *ix, uint32_t gid, uint32_t sid, uint32_t idx)
{
    if ((ix->n + 1) * 2 > ix->cap && sid_index_grow(ix) != 0)
        return -1;
    uint64_t key = (uint64_t)gid << 32 | sid;
    uint32_t s = sid_slot(key, ix->cap);
    while (ix->pos[s] != 0)
        s = (s + 1) & (ix->cap - 1);
    ix->keys[s] = key;
    ix->pos[s] = idx + 1;
    ix->n++;
    return 0;
}

/* ---- rulesets ---------------------------------------------------------------- */

void ruleset_init(struct ruleset *rs)
{
    memset(rs, 0, sizeof(*rs));
}

void ruleset_free(struct ruleset *rs)
{
    for (uint32_t i = 0; i < rs->n_rules; i++)
        rule_free(&rs->rules[i]);
    free(rs->rules);
    free(rs->skips);
    for (uint32_t i = 0; i < rs->n_errors; i++)
        free(rs->errors[i]);
    free(rs->errors);
    for (uint32_t i = 0; i < rs->n_files; i++)
        free(rs->files[i].path);
    free(rs->files);
    rule_addrs_free(&rs->home);
    if (rs->sid_index != NULL) {
        free(rs->sid_index->keys);
        free(rs->sid_index->pos);
        free(rs->sid_index);
    }
    memset(rs, 0, sizeof(*rs));
}

const struct rule *ruleset_find(const struct ruleset *rs, uint32_t gid, uint32_t sid)
{
    uint32_t pos = sid_lookup(rs->sid_index, gid, sid);
    return pos ? &rs->rules[pos - 1] : NULL;
}

static void record_failure(struct ruleset *rs, struct ruleset_file *rf, uint32_t line,
                           const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void record_failure(struct ruleset *rs, struct ruleset_file *rf, uint32_t line,
                           const char *fmt, ...)
{
    rs->failed++;
    rf->failed++;
    if (rs->n_errors >= RULESET_ERRORS_KEPT)
        return;
    if (rs->errors == NULL && (rs->errors = calloc(RULESET_ERRORS_KEPT, sizeof(char *))) == NULL)
        return;
    char msg[600];
    int n = snprintf(msg, sizeof(msg), "%s:%u: ", rf->path, line);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
    va_end(ap);
    char *copy = strdup(msg);
    if (copy != NULL)
        rs->errors[rs->n_errors++] = copy;
}

static void count_skip(struct ruleset *rs, struct ruleset_file *rf, const char *key)
{
    rs->skipped++;
    rf->skipped++;
    if (rs->skips == NULL &&
        (rs->skips = calloc(RULESET_SKIP_KINDS_MAX, sizeof(*rs->skips))) == NULL)
        return;
    for (uint32_t i = 0; i < rs->n_skips; i++)
        if (strcmp(rs->skips[i].key, key) == 0) {
            rs->skips[i].count++;
            return;
        }
    /* the last slot is kept for "(other)" */
    const char *k = rs->n_skips + 1 < RULESET_SKIP_KINDS_MAX ? key : "(other)";
    if (k != key)
        for (uint32_t i = 0; i < rs->n_skips; i++)
            if (strcmp(rs->skips[i].key, k) == 0) {
                rs->skips[i].count++;
                return;
            }
    snprintf(rs->skips[rs->n_skips].key, sizeof(rs->skips[0].key), "%.*s",
             RULE_SKIP_KEY_MAX - 1, k);
    rs->skips[rs->n_skips++].count = 1;
}

static int add_rule(struct ruleset *rs, struct ruleset_file *rf, struct rule *r)
{
    if (rs->n_rules == RULESET_RULES_MAX)
        return -1;
    if (rs->sid_index == NULL && (rs->sid_index = calloc(1, sizeof(*rs->sid_index))) == NULL)
        return -1;
    if (rs->n_rules == rs->cap_rules) {
        uint32_t cap = rs->cap_rules ? rs->cap_rules * 2 : 256;
        struct rule *nv = realloc(rs->rules, cap * sizeof(*nv));
        if (nv == NULL)
            return -1;
        rs->rules = nv;
        rs->cap_rules = cap;
    }
    if (sid_insert(rs->sid_index, r->gid, r->sid, rs->n_rules) != 0)
        return -1;
    r->file = rf->path;
    rs->rules[rs->n_rules++] = *r;
    rs->loaded++;
    rf->loaded++;
    rs->declared_drop += r->declared == RULE_DECLARED_DROP;
    rs->declared_reject += r->declared == RULE_DECLARED_REJECT;
    rs->pass += r->action == RULE_ACTION_PASS;
    return 0;
}

/* "# alert ...", "#drop ..." : a rule that was commented out. */
static bool commented_rule(const char *s)
{
    static const char *const words[] = { "alert", "drop", "pass", "reject", "sdrop", "block",
                                         "rejectsrc", "rejectdst", "rejectboth" };
    while (*s == '#' || isspace((unsigned char)*s))
        s++;
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        size_t l = strlen(words[i]);
        if (strncmp(s, words[i], l) == 0 && isspace((unsigned char)s[l]))
            return true;
    }
    return false;
}

static void load_rule(struct ruleset *rs, struct ruleset_file *rf, const char *text,
                      uint32_t line, bool too_long, const struct rule_vars *vars,
                      const struct classifications *cls)
{
    while (isspace((unsigned char)*text))
        text++;
    if (*text == '\0')
        return;
    if (*text == '#') {
        if (commented_rule(text)) {
            rs->commented++;
            rf->commented++;
        }
        return;
    }
    if (too_long) {
        record_failure(rs, rf, line, "rule longer than %u bytes", RULE_TEXT_MAX);
        return;
    }
    struct rule r;
    char why[512];
    switch (rule_parse_line(text, vars, cls, &r, why, sizeof(why))) {
    case RULE_PARSE_OK: {
        const struct rule *first = ruleset_find(rs, r.gid, r.sid);
        if (first != NULL) {
            record_failure(rs, rf, line, "duplicate gid:sid %u:%u (first at %s:%u)", r.gid,
                           r.sid, first->file, first->line);
            rule_free(&r);
            return;
        }
        r.line = line;
        if (add_rule(rs, rf, &r) != 0) {
            record_failure(rs, rf, line, "cannot add the rule (more than %u rules, or out "
                           "of memory)", RULESET_RULES_MAX);
            rule_free(&r);
        }
        return;
    }
    case RULE_PARSE_SKIP:
        count_skip(rs, rf, why);
        return;
    case RULE_PARSE_ERROR:
        record_failure(rs, rf, line, "%s", why);
        return;
    }
}

/* Reads rules: physical lines ending in '\' are joined to the next (the
 * backslash removed, as Suricata does). Memory is bounded by RULE_TEXT_MAX:
 * the rest of a longer rule is read and dropped, and the rule reported. */
struct reader {
    FILE *f;
    char *buf;
    size_t len, cap;
    uint32_t line;
    bool eof;
};

static bool reader_put(struct reader *rd, char ch)
{
    if (rd->len + 1 >= rd->cap) {
        size_t cap = rd->cap ? rd->cap * 2 : 4096;
        if (cap > (size_t)RULE_TEXT_MAX + 2)
            cap = (size_t)RULE_TEXT_MAX + 2;
        char *nb = realloc(rd->buf, cap);
        if (nb == NULL)
            return false;
        rd->buf = nb;
        rd->cap = cap;
    }
    rd->buf[rd->len++] = ch;
    return true;
}

/* The next logical rule in rd->buf. Returns 1, 0 at the end, -1 when out of
 * memory. */
static int reader_next(struct reader *rd, uint32_t *first_line, bool *too_long)
{
    rd->len = 0;
    *too_long = false;
    if (rd->eof)
        return 0;
    *first_line = rd->line + 1;
    for (;;) {
        size_t start = rd->len;
        int ch, last = 0;
        bool any = false;
        while ((ch = getc_unlocked(rd->f)) != EOF && ch != '\n') {
            any = true;
            if (!isspace(ch))
                last = ch;
            if (rd->len >= RULE_TEXT_MAX)
                *too_long = true;
            else if (!reader_put(rd, (char)ch))
                return -1;
        }
        if (ch == EOF) {
            rd->eof = true;
            if (!any && rd->len == 0 && start == 0)
                return 0;
        }
        rd->line++;
        while (rd->len > start && isspace((unsigned char)rd->buf[rd->len - 1]))
            rd->len--;
        if (last == '\\' && !rd->eof) {
            if (rd->len > start && rd->buf[rd->len - 1] == '\\')
                rd->len--;
            continue;
        }
        if (last == '\\' && rd->len > start && rd->buf[rd->len - 1] == '\\')
            rd->len--;
        break;
    }
    if (rd->buf == NULL && !reader_put(rd, '\0'))
        return -1;
    rd->buf[rd->len] = '\0';
    return 1;
}

static struct ruleset_file *add_file(struct ruleset *rs, const char *name)
{
    if (rs->n_files == RULESET_FILES_MAX)
        return NULL;
    struct ruleset_file *nv = realloc(rs->files, (rs->n_files + 1) * sizeof(*nv));
    if (nv == NULL)
        return NULL;
    rs->files = nv;
    struct ruleset_file *rf = &rs->files[rs->n_files];
    memset(rf, 0, sizeof(*rf));
    if ((rf->path = strdup(name)) == NULL)
        return NULL;
    rs->n_files++;
    return rf;
}

static int load_stream(struct ruleset *rs, FILE *f, const char *name,
                       const struct rule_vars *vars, const struct classifications *cls,
                       char *err, size_t errlen)
{
    /* Rules point at their file's name, so the files array must not move
     * under rules already loaded: the names are separate allocations. */
    struct ruleset_file *rf = add_file(rs, name);
    if (rf == NULL) {
        snprintf(err, errlen, "%s: too many rule files (%u) or out of memory", name,
                 RULESET_FILES_MAX);
        return -1;
    }
    uint32_t file_index = rs->n_files - 1;
    /* Undefined (empty variables): no home, the engine does not split. */
    char why[128];
    if (!rs->has_home && vars != NULL)
        rs->has_home = rule_addrs_parse("$HOME_NET", vars, &rs->home, why, sizeof(why)) == 0;
    struct reader rd = { .f = f };
    uint32_t line;
    bool too_long;
    int rc;
    while ((rc = reader_next(&rd, &line, &too_long)) == 1)
        load_rule(rs, &rs->files[file_index], rd.buf, line, too_long, vars, cls);
    free(rd.buf);
    if (rc < 0) {
        snprintf(err, errlen, "%s: out of memory", name);
        return -1;
    }
    if (ferror(f)) {
        snprintf(err, errlen, "%s: read error", name);
        return -1;
    }
    return 0;
}

int ruleset_load_file(struct ruleset *rs, const char *path, const struct rule_vars *vars,
                      const struct classifications *cls, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    int rc = load_stream(rs, f, path, vars, cls, err, errlen);
    fclose(f);
    return rc;
}

int ruleset_load_string(struct ruleset *rs, const char *name, const char *text,
                        const struct rule_vars *vars, const struct classifications *cls,
                        char *err, size_t errlen)
{
    return ruleset_load_buffer(rs, name, text, strlen(text), vars, cls, err, errlen);
}

int ruleset_load_buffer(struct ruleset *rs, const char *name, const char *text, size_t len,
                        const struct rule_vars *vars, const struct classifications *cls,
                        char *err, size_t errlen)
{
    if (len == 0)
        return add_file(rs, name) ? 0 : (snprintf(err, errlen, "%s: out of memory", name), -1);
    FILE *f = fmemopen((void *)text, len, "r");
    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", name, strerror(errno));
        return -1;
    }
    int rc = load_stream(rs, f, name, vars, cls, err, errlen);
    fclose(f);
    return rc;
}

/* ---- the summary ------------------------------------------------------------- */

static int skip_cmp(const void *a, const void *b)
{
    const struct ruleset_skip *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return strcmp(x->key, y->key);
}

uint32_t ruleset_top_skips(const struct ruleset *rs, struct ruleset_skip *out, uint32_t max)
{
    struct ruleset_skip all[RULESET_SKIP_KINDS_MAX];
    uint32_t n = rs->n_skips;
    if (n == 0 || max == 0)
        return 0;
    memcpy(all, rs->skips, n * sizeof(all[0]));
    qsort(all, n, sizeof(all[0]), skip_cmp);
    if (n > max)
        n = max;
    memcpy(out, all, n * sizeof(all[0]));
    return n;
}

void ruleset_print_summary(const struct ruleset *rs, FILE *f, uint32_t top_skips,
                           uint32_t max_errors)
{
    fprintf(f, "rules: %u loaded, %u skipped, %u failed (%u file%s, %u commented-out rules "
            "ignored)\n", rs->loaded, rs->skipped, rs->failed, rs->n_files,
            rs->n_files == 1 ? "" : "s", rs->commented);
    if (rs->declared_drop || rs->declared_reject)
        fprintf(f, "  %u drop and %u reject rules only alert: the sensor is passive\n",
                rs->declared_drop, rs->declared_reject);
    if (rs->pass)
        fprintf(f, "  %u pass rules suppress alerts on what they match\n", rs->pass);
    struct ruleset_skip top[RULESET_SKIP_KINDS_MAX];
    uint32_t n = ruleset_top_skips(rs, top, top_skips < RULESET_SKIP_KINDS_MAX
                                                ? top_skips : RULESET_SKIP_KINDS_MAX);
    if (n > 0) {
        fprintf(f, "  skipped, by keyword:");
        for (uint32_t i = 0; i < n; i++)
            fprintf(f, "%s %s %u", i ? "," : "", top[i].key, top[i].count);
        if (n < rs->n_skips)
            fprintf(f, ", ... (%u more keywords)", rs->n_skips - n);
        fputc('\n', f);
    }
    uint32_t shown = rs->n_errors < max_errors ? rs->n_errors : max_errors;
    for (uint32_t i = 0; i < shown; i++)
        fprintf(f, "  %s\n", rs->errors[i]);
    if (rs->failed > shown)
        fprintf(f, "  ... and %u more failed rule%s\n", rs->failed - shown,
                rs->failed - shown == 1 ? "" : "s");
}
