/* fuzz_rule_parser.c - the Suricata/Snort rule parser
 * (detectors/rule_parser.h) on any rule file text.
 *
 * The input is loaded as one rule file, with the default rule variables
 * ($HOME_NET, $HTTP_PORTS, ...) and the shipped classtypes, so that rules
 * seeded from real rule sets get past their header and classtype. Besides
 * crashes and leaks it checks the ruleset's own promises: the summary adds
 * up and every loaded rule is found by its gid:sid.
 *
 * The first line is also parsed alone by rule_parse_line() without
 * variables or classtypes (both may be NULL), which must leave its output
 * zeroed and say why whenever it does not load the rule. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "mamori_version.h"
#include "rule_parser.h"

static struct rule_vars *vars;
static struct classifications cls;
static FILE *devnull;

static void release(void)
{
    rule_vars_free(vars);
    classifications_free(&cls);
    if (devnull != NULL)
        fclose(devnull);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[256];
    (void)argc, (void)argv;

    vars = rule_vars_new();
    classifications_init(&cls);
    devnull = fopen("/dev/null", "w");
    if (vars == NULL || devnull == NULL ||
        classifications_load_file(&cls, MAMORI_SOURCE_CLASSIFICATION_CONFIG, err,
                                  sizeof(err)) < 0) {
        fprintf(stderr, "fuzz_rule_parser: setup: %s\n", vars && devnull ? err : "no memory");
        exit(1);
    }
    atexit(release);
    return 0;
}

static void check(const struct ruleset *rs)
{
    if (rs->loaded != rs->n_rules || rs->n_files != 1 ||
        rs->files[0].loaded + rs->files[0].skipped + rs->files[0].failed !=
            rs->loaded + rs->skipped + rs->failed)
        abort();
    for (uint32_t i = 0; i < rs->n_rules; i++)
        if (ruleset_find(rs, rs->rules[i].gid, rs->rules[i].sid) != &rs->rules[i])
            abort();
}

/* rule_parse_line() on the text up to the first newline. */
static void parse_first_line(const uint8_t *data, size_t size)
{
    static const struct rule zero;
    const uint8_t *nl = memchr(data, '\n', size);
    size_t len = nl ? (size_t)(nl - data) : size;
    char *text = malloc(len + 1), why[128];
    struct rule r;

    if (text == NULL)
        return;
    memcpy(text, data, len);
    text[len] = '\0';
    if (rule_parse_line(text, NULL, NULL, &r, why, sizeof(why)) == RULE_PARSE_OK) {
        rule_free(&r);
    } else if (memcmp(&r, &zero, sizeof(r)) != 0 || why[0] == '\0') {
        fprintf(stderr, "fuzz_rule_parser: a rule not loaded left %s\n",
                why[0] ? "its output set" : "no reason");
        abort();
    }
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ruleset rs;
    struct ruleset_skip top[8];
    char err[256];

    ruleset_init(&rs);
    if (ruleset_load_buffer(&rs, "fuzz.rules", (const char *)data, size, vars, &cls, err,
                            sizeof(err)) == 0) {
        check(&rs);
        ruleset_top_skips(&rs, top, 8);
        ruleset_print_summary(&rs, devnull, 8, 8);
    }
    ruleset_free(&rs);
    parse_first_line(data, size);
    return 0;
}
