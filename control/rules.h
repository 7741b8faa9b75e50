/* rules.h - a loaded rule set: the rule files parsed with their variables
 * and classtypes, and the matching engine built from them.
 *
 * This is the unit a rule reload replaces whole: the workers' engine points
 * into it (rules, patterns), so it lives until no worker can still use it. */
#ifndef MAMORI_RULES_H
#define MAMORI_RULES_H

#include <stdio.h>

#include "classification.h"
#include "engine.h"
#include "rule_parser.h"
#include "vars.h"

struct loaded_rules {
    struct classifications cls;
    struct rule_vars *vars;
    struct ruleset rs;
    struct engine *engine;
    unsigned files_unreadable;   /* rule files that could not be read */
};

/* Load the rule files with the classtypes of classification_path and build
 * the engine, with compiled databases cached in cache_dir (NULL: none); print the summary (loaded, skipped by keyword, failed by
 * file:line, engine figures) on `report`, file errors on `errors`. Bad
 * rules are skipped, counted and named, never fatal. NULL with `err` set
 * when the classification file cannot be read or nothing can be built. */
struct loaded_rules *rules_load(const char *const *files, unsigned n_files,
                                const char *classification_path, const char *cache_dir,
                                FILE *report, FILE *errors, char *err, size_t errlen);
/* The same with the rule variables vars (NULL: the defaults), which the
 * loaded set then owns, also when loading fails. */
struct loaded_rules *rules_load_vars(struct rule_vars *vars, const char *const *files,
                                     unsigned n_files, const char *classification_path,
                                     const char *cache_dir, FILE *report, FILE *errors,
                                     char *err, size_t errlen);
void rules_free(struct loaded_rules *lr);

/* The installed classification.config, or the source tree's when mamori
 * runs from its build directory. */
const char *rules_default_classification(void);

#endif
