/* rule_parser.h - Suricata/Snort rule text -> struct rule, and rule files ->
 * a ruleset with a load summary.
 *
 * What is accepted (everything else makes the rule SKIPPED, counted under the
 * keyword that caused it, e.g. "http.uri", "pcre:U", "byte_test:dce"):
 *   header   actions alert, pass, drop/sdrop/block and reject/rejectsrc/
 *            rejectdst/rejectboth (the last two kinds alert: the sensor is
 *            passive; rule.declared keeps what the rule said); protocols ip,
 *            ipv4, ipv6, tcp, tcp-pkt, tcp-stream, udp, icmp, icmpv4, icmpv6,
 *            sctp and application names, whose payload is matched raw on their
 *            transport (see the table in rule_parser.c); addresses and ports
 *            with variables, lists, negation, CIDR, ranges (vars.h); -> and <>.
 *   options  msg sid rev gid classtype priority reference metadata target
 *            service rem noalert; content (|hex|, \" \; \\ \: escapes, !) and
 *            nocase offset depth distance within fast_pattern[:only|:o,l]
 *            startswith endswith rawbytes (also Snort 3's content:"x",depth 4);
 *            pcre (flags i s m x A E G R O); byte_test byte_jump byte_extract
 *            isdataat; pkt_data; flow flowbits dsize flags (tcp.flags) itype
 *            icode ip_proto ttl threshold detection_filter.
 *
 * A rule is an ERROR ("failed") when it is malformed, when it has no sid, or
 * when its gid:sid repeats an already loaded rule (skipped and failed rules
 * do not reserve their sid). Errors and skips are both left out of the
 * ruleset. The first problem found decides: an unsupported
 * keyword before a malformed option gives a skip (the rest is then only read
 * for sid/gid/rev/msg). pcre patterns are kept as text: compiling them
 * (PCRE2) is the engine's job, so a bad regex is reported there. */
#ifndef MAMORI_RULE_PARSER_H
#define MAMORI_RULE_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "classification.h"
#include "rule.h"
#include "vars.h"

enum rule_parse_status {
    RULE_PARSE_OK = 0,
    RULE_PARSE_SKIP = 1,     /* valid but uses something mamori does not evaluate */
    RULE_PARSE_ERROR = -1,   /* malformed */
};

#define RULE_SKIP_KEY_MAX 48

/* Parse one rule (continuation lines already joined; surrounding blanks
 * allowed). `vars` and `cls` may be NULL (no variables; any classtype
 * accepted, priority 3). On OK, `out` holds the rule (free it with
 * rule_free); otherwise `out` is left zeroed and `why` holds the skip key
 * (SKIP) or the error message (ERROR). */
enum rule_parse_status rule_parse_line(const char *text, const struct rule_vars *vars,
                                       const struct classifications *cls,
                                       struct rule *out, char *why, size_t whylen);

/* ---- rulesets ----------------------------------------------------------- */

#define RULESET_RULES_MAX      (1u << 20)
#define RULESET_FILES_MAX      4096
#define RULESET_ERRORS_KEPT    100   /* failure messages kept; the rest are only counted */
#define RULESET_SKIP_KINDS_MAX 256   /* distinct skip keys; more go under "(other)" */

struct ruleset_skip {
    char key[RULE_SKIP_KEY_MAX];
    uint32_t count;
};

struct ruleset_file {
    char *path;
    uint32_t loaded, skipped, failed, commented;
};

struct ruleset_sid_index;

struct ruleset {
    struct rule *rules;             /* loaded rules, in file order */
    uint32_t n_rules, cap_rules;

    /* the summary */
    uint32_t loaded, skipped, failed;
    uint32_t commented;             /* "# alert ..." lines (ignored) */
    uint32_t declared_drop, declared_reject, pass;   /* among loaded rules */
    uint32_t n_skips;
    struct ruleset_skip *skips;     /* unordered; see ruleset_top_skips() */
    uint32_t n_errors;              /* == min(failed, RULESET_ERRORS_KEPT) */
    char **errors;                  /* "file:line: reason" */
    uint32_t n_files;
    struct ruleset_file *files;

    struct ruleset_sid_index *sid_index;   /* gid:sid -> rule, private */

    /* $HOME_NET as the first load given variables defined it: the engine
     * splits its prefilter databases by it (engine_int.h, address classes). */
    bool has_home;
    struct rule_addrs home;
};

void ruleset_init(struct ruleset *rs);
void ruleset_free(struct ruleset *rs);

/* Load every rule of a file, appending to `rs`. Returns 0 when the file was
 * read to the end: bad rules (including any past RULESET_RULES_MAX) are
 * counted in rs->failed, not returned. Returns -1 with `err` set when the
 * file could not be opened or read, or RULESET_FILES_MAX files are loaded.
 * A caller that wants all-or-nothing (a reload) checks rs->failed. */
int ruleset_load_file(struct ruleset *rs, const char *path, const struct rule_vars *vars,
                      const struct classifications *cls, char *err, size_t errlen);

/* The same from memory; `name` stands for the file name in messages. */
int ruleset_load_string(struct ruleset *rs, const char *name, const char *text,
                        const struct rule_vars *vars, const struct classifications *cls,
                        char *err, size_t errlen);
/* The same from text[0..len), which need not end with a NUL. */
int ruleset_load_buffer(struct ruleset *rs, const char *name, const char *text, size_t len,
                        const struct rule_vars *vars, const struct classifications *cls,
                        char *err, size_t errlen);

/* The loaded rule gid:sid, or NULL. */
const struct rule *ruleset_find(const struct ruleset *rs, uint32_t gid, uint32_t sid);

/* Up to `max` skip keys, most frequent first (ties by key). Returns how many. */
uint32_t ruleset_top_skips(const struct ruleset *rs, struct ruleset_skip *out, uint32_t max);

/* A human summary: totals, drop/reject/pass notes, the top skip keys and up
 * to `max_errors` failure messages. */
void ruleset_print_summary(const struct ruleset *rs, FILE *f, uint32_t top_skips,
                           uint32_t max_errors);

#endif
