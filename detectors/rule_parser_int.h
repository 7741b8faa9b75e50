/* rule_parser_int.h - shared by rule_parser.c (header, option splitter,
 * files), rule_options.c (the keyword table and the non-payload keywords)
 * and rule_payload.c (content, pcre, byte_*, isdataat). Not for use outside
 * detectors/; every name here starts with rp_. */
#ifndef MAMORI_RULE_PARSER_INT_H
#define MAMORI_RULE_PARSER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rule_parser.h"

/* Handler results. */
enum { PS_OK = 0, PS_SKIP = 1, PS_ERROR = -1 };

/* Everything a rule's options need while they are read. */
struct pctx {
    struct rule *r;
    const struct rule_vars *vars;
    const struct classifications *cls;
    char *err;                       /* the message of PS_ERROR */
    size_t errlen;
    char skip_key[RULE_SKIP_KEY_MAX];
    const char *opt;                 /* the option being read: prefixes messages */
    uint32_t cap_matches, cap_flowbits, cap_refs, cap_meta;
    int32_t last_content;            /* index in r->matches, -1 none */
    bool seen_sid, seen_rev, seen_gid, seen_msg, seen_classtype, seen_priority;
    bool seen_target, seen_service;
    bool seen_dsize, seen_itype, seen_icode, seen_ip_proto, seen_ttl, seen_flags;
};

/* Set the error message ("option: ..." while an option is read) and return
 * PS_ERROR; set the skip key and return PS_SKIP. */
int rp_fail(struct pctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int rp_skip(struct pctx *c, const char *key);

/* Read one option: `name` (not empty) and `val` (NULL when there was no ':';
 * blanks trimmed). Returns PS_*. */
int rp_option(struct pctx *c, const char *name, char *val);

/* After the last option: required fields, cross-option checks, fast
 * pattern. Returns PS_OK or PS_ERROR. */
int rp_finish(struct pctx *c);
int rp_payload_finish(struct pctx *c);

/* Small parsers (rule_options.c). */
char *rp_trim(char *s);                               /* in place */
bool rp_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out);
int rp_split_args(char *s, char **argv, int max);     /* at commas; -1 if > max */
char *rp_split_kv(char *s, char **value);             /* "key value" */
int rp_grow(struct pctx *c, void **arr, uint32_t n, uint32_t *cap, size_t elem,
            uint32_t limit, const char *what);

/* The payload keywords (rule_payload.c). */
int rp_kw_content(struct pctx *c, char *val);
int rp_kw_nocase(struct pctx *c, char *val);
int rp_kw_rawbytes(struct pctx *c, char *val);
int rp_kw_startswith(struct pctx *c, char *val);
int rp_kw_endswith(struct pctx *c, char *val);
int rp_kw_offset(struct pctx *c, char *val);
int rp_kw_depth(struct pctx *c, char *val);
int rp_kw_distance(struct pctx *c, char *val);
int rp_kw_within(struct pctx *c, char *val);
int rp_kw_fast_pattern(struct pctx *c, char *val);
int rp_kw_pcre(struct pctx *c, char *val);
int rp_kw_byte_test(struct pctx *c, char *val);
int rp_kw_byte_jump(struct pctx *c, char *val);
int rp_kw_byte_extract(struct pctx *c, char *val);
int rp_kw_isdataat(struct pctx *c, char *val);

#endif
