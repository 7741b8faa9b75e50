/* rule_check.c - the rule-file check behind mamori -T. */
#include "rule_check.h"
#include "rules.h"

int rule_check_files(const char *const *files, unsigned n_files,
                     const char *classification_path, const char *cache_dir, FILE *out,
                     FILE *err)
{
    return rule_check_files_vars(NULL, files, n_files, classification_path, cache_dir, out, err);
}

int rule_check_files_vars(struct rule_vars *vars, const char *const *files, unsigned n_files,
                          const char *classification_path, const char *cache_dir, FILE *out,
                          FILE *err)
{
    char msg[512];
    struct loaded_rules *lr = rules_load_vars(vars, files, n_files, classification_path,
                                              cache_dir, out, err, msg, sizeof(msg));

    if (lr == NULL) {
        fprintf(err, "mamori: %s\n", msg);
        return 1;
    }
    int status = lr->files_unreadable || lr->rs.failed ||
                 engine_stats(lr->engine)->rules_dropped ? 1 : 0;
    rules_free(lr);
    return status;
}
