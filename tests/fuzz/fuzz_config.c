/* fuzz_config.c - the YAML configuration file (control/config.h) on any
 * text.
 *
 * The input is read as mamori -c would read a file (config_load_buffer(),
 * relative paths resolving under a fixed directory). A configuration it
 * accepts must keep config.h's promise about --dump-config: the dump reads
 * back, and dumping that gives the same text again. The rule variables it
 * sets must also build (config_rule_vars()) or say why not. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fuzz.h"

#define CONFIG_DIR "/etc/mamori"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    return 0;
}

/* The configuration as --dump-config prints it (malloc'd), or NULL. */
static char *dump(const struct mamori_options *o, size_t *len)
{
    char *text = NULL;
    FILE *f = open_memstream(&text, len);

    if (f == NULL)
        return NULL;
    config_dump(o, f);
    fclose(f);
    return text;
}

/* What was dumped reads back, to the same dump. */
static void check_round_trip(const char *text, size_t len)
{
    struct mamori_options o;
    char err[512];
    size_t len2 = 0;

    config_defaults(&o);
    if (config_load_buffer(&o, "dump.yaml", CONFIG_DIR, text, len, err, sizeof(err)) < 0) {
        fprintf(stderr, "fuzz_config: the dump does not read back: %s\n%s\n", err, text);
        abort();
    }
    char *again = dump(&o, &len2);
    if (again != NULL && (len2 != len || memcmp(again, text, len) != 0)) {
        fprintf(stderr, "fuzz_config: the dump changed on reading back:\n%s\n---\n%s\n", text,
                again);
        abort();
    }
    free(again);
    options_free(&o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mamori_options o;
    char err[512];
    size_t len = 0;

    config_defaults(&o);
    if (config_load_buffer(&o, "fuzz.yaml", CONFIG_DIR, (const char *)data, size, err,
                           sizeof(err)) == 0) {
        struct rule_vars *v = config_rule_vars(&o, err, sizeof(err));
        rule_vars_free(v);
        char *text = dump(&o, &len);
        if (text != NULL)
            check_round_trip(text, len);
        free(text);
    }
    options_free(&o);
    return 0;
}
