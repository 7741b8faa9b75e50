/* rule_check.c - the rule-file check behind mamori -T. */
#include "classification.h"
#include "engine.h"
#include "rule_check.h"
#include "rule_parser.h"
#include "vars.h"

#define TOP_SKIPS 10
#define ERRORS_SHOWN 50

/* Build the engine from the loaded rules and print its figures. */
static int check_engine(const struct ruleset *rs, FILE *out, FILE *err)
{
    char msg[512];
    struct engine *e = engine_build(rs, msg, sizeof(msg));

    if (e == NULL) {
        fprintf(err, "mamori: building the matching engine: %s\n", msg);
        return 1;
    }
    const struct engine_stats *st = engine_stats(e);
    fprintf(out, "engine: %u rules compiled, %u dropped; %u Hyperscan databases, "
            "%u patterns, %zu bytes; %u pcre (%u JIT); compiled in %.0f ms\n",
            st->rules_compiled, st->rules_dropped, st->databases, st->patterns,
            st->db_bytes, st->pcres, st->pcres_jit, st->compile_ms);
    for (uint32_t i = 0; i < st->n_errors; i++)
        fprintf(err, "%s\n", engine_error(e, i));
    int status = st->rules_dropped ? 1 : 0;
    engine_free(e);
    return status;
}

int rule_check_files(const char *const *files, unsigned n_files,
                     const char *classification_path, FILE *out, FILE *err)
{
    struct classifications cls;
    struct ruleset rs;
    struct rule_vars *vars = rule_vars_new();
    char msg[512];
    int status = 0;

    classifications_init(&cls);
    ruleset_init(&rs);
    if (vars == NULL) {
        fprintf(err, "mamori: out of memory\n");
        return 1;
    }
    if (classifications_load_file(&cls, classification_path, msg, sizeof(msg)) < 0) {
        fprintf(err, "mamori: %s\n", msg);
        status = 1;
        goto out;
    }
    for (unsigned i = 0; i < n_files; i++) {
        if (ruleset_load_file(&rs, files[i], vars, &cls, msg, sizeof(msg)) < 0) {
            fprintf(err, "mamori: %s\n", msg);
            status = 1;
        }
    }
    ruleset_print_summary(&rs, out, TOP_SKIPS, ERRORS_SHOWN);
    if (rs.failed > 0)
        status = 1;
    if (check_engine(&rs, out, err) != 0)
        status = 1;
out:
    ruleset_free(&rs);
    classifications_free(&cls);
    rule_vars_free(vars);
    return status;
}
