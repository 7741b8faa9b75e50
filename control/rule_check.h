/* rule_check.h - mamori -T: load rule files, build the matching engine,
 * report what loaded, what was skipped (by keyword) and what failed (by
 * file:line), like `suricata -T`. */
#ifndef MAMORI_RULE_CHECK_H
#define MAMORI_RULE_CHECK_H

#include <stdio.h>

#include "vars.h"

/* Check the rule files with the classtypes of classification_path. Prints
 * the summary on out and errors on err. Returns the exit status: 0 when
 * every rule loaded or was skipped for a keyword mamori does not support
 * yet, 1 when a rule failed, a file could not be read or the engine could
 * not be built. */
int rule_check_files(const char *const *files, unsigned n_files,
                     const char *classification_path, const char *cache_dir, FILE *out,
                     FILE *err);
/* The same with the rule variables vars (taken; NULL: the defaults). */
int rule_check_files_vars(struct rule_vars *vars, const char *const *files, unsigned n_files,
                          const char *classification_path, const char *cache_dir, FILE *out,
                          FILE *err);

#endif
