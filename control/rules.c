/* rules.c - load rule files and build the matching engine from them. */
#include <stdlib.h>
#include <unistd.h>

#include "mamori_version.h"
#include "rules.h"

#define TOP_SKIPS 10
#define ERRORS_SHOWN 50

static void print_engine(const struct engine *e, FILE *report, FILE *errors)
{
    const struct engine_stats *st = engine_stats(e);

    fprintf(report, "engine: %u rules compiled, %u dropped; %u Hyperscan databases, "
            "%u patterns, %zu bytes; %u pcre (%u JIT); built in %.0f ms "
            "(%u databases from the cache, %u compiled and cached)\n",
            st->rules_compiled, st->rules_dropped, st->databases, st->patterns,
            st->db_bytes, st->pcres, st->pcres_jit, st->compile_ms, st->cache_hits,
            st->cache_stores);
    /* As the parser's failures: the first ERRORS_SHOWN, then a count, so a
     * file of thousands of bad rules does not bury the summary. */
    uint32_t total = st->rules_dropped + st->hs_fallback;
    uint32_t shown = st->n_errors < ERRORS_SHOWN ? st->n_errors : ERRORS_SHOWN;
    for (uint32_t i = 0; i < shown; i++)
        fprintf(errors, "%s\n", engine_error(e, i));
    if (total > shown)
        fprintf(errors, "... and %u more rules the engine dropped or checks on every packet\n",
                total - shown);
}

struct loaded_rules *rules_load(const char *const *files, unsigned n_files,
                                const char *classification_path, const char *cache_dir,
                                FILE *report, FILE *errors, char *err, size_t errlen)
{
    return rules_load_vars(NULL, files, n_files, classification_path, cache_dir, report, errors,
                           err, errlen);
}

struct loaded_rules *rules_load_vars(struct rule_vars *vars, const char *const *files,
                                     unsigned n_files, const char *classification_path,
                                     const char *cache_dir, FILE *report, FILE *errors,
                                     char *err, size_t errlen)
{
    struct loaded_rules *lr = calloc(1, sizeof(*lr));
    char msg[512];

    if (lr == NULL || (lr->vars = vars ? vars : rule_vars_new()) == NULL) {
        snprintf(err, errlen, "out of memory loading rules");
        rule_vars_free(vars);
        free(lr);
        return NULL;
    }
    classifications_init(&lr->cls);
    ruleset_init(&lr->rs);
    if (classifications_load_file(&lr->cls, classification_path, msg, sizeof(msg)) < 0) {
        snprintf(err, errlen, "%s", msg);
        rules_free(lr);
        return NULL;
    }
    for (unsigned i = 0; i < n_files; i++) {
        if (ruleset_load_file(&lr->rs, files[i], lr->vars, &lr->cls, msg, sizeof(msg)) < 0) {
            fprintf(errors, "mamori: %s\n", msg);
            lr->files_unreadable++;
        }
    }
    ruleset_print_summary(&lr->rs, report, TOP_SKIPS, ERRORS_SHOWN);
    if ((lr->engine = engine_build_cached(&lr->rs, cache_dir, msg, sizeof(msg))) == NULL) {
        snprintf(err, errlen, "building the matching engine: %s", msg);
        rules_free(lr);
        return NULL;
    }
    print_engine(lr->engine, report, errors);
    const struct engine_stats *st = engine_stats(lr->engine);
    if (cache_dir != NULL && st->cache_hits + st->cache_stores < st->databases)
        fprintf(errors, "mamori: rule cache %s: %u compiled databases could not be written "
                "there (not writable?); the next start compiles them again\n", cache_dir,
                st->databases - st->cache_hits - st->cache_stores);
    return lr;
}

void rules_free(struct loaded_rules *lr)
{
    if (lr == NULL)
        return;
    engine_free(lr->engine);
    ruleset_free(&lr->rs);
    classifications_free(&lr->cls);
    rule_vars_free(lr->vars);
    free(lr);
}

const char *rules_default_classification(void)
{
    if (access(MAMORI_CLASSIFICATION_CONFIG, R_OK) == 0)
        return MAMORI_CLASSIFICATION_CONFIG;
    return MAMORI_SOURCE_CLASSIFICATION_CONFIG;
}
