/* test_bench_suite.c - the perf suite (scripts/bench --quick) runs every
 * scenario and writes a result JSON of the promised shape, its Markdown
 * table and, with gnuplot, its plots. No figure is judged: a rate on a
 * shared machine says nothing about the code. */
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cunit_run.h"
#include "e2e.h"

static const char *const scenario_names[] = {
    "decode_flow", "statistics", "et_open", "scaling", "reload", "flood", "storm",
};
#define N_SCENARIOS (sizeof(scenario_names) / sizeof(scenario_names[0]))

/* The one file in dir matching pattern, or NULL; the caller frees it. */
static char *only_file(const char *dir, const char *pattern)
{
    char path[4300];
    glob_t g;
    char *found = NULL;

    snprintf(path, sizeof(path), "%s/%s", dir, pattern);
    if (glob(path, 0, NULL, &g) == 0 && g.gl_pathc == 1)
        found = strdup(g.gl_pathv[0]);
    globfree(&g);
    return found;
}

/* The build directory: mamori-bench lives in BUILD/perf/. */
static void build_dir(char *out, size_t size)
{
    const char *bench = getenv("MAMORI_BENCH");
    CU_ASSERT_PTR_NOT_NULL_FATAL(bench);
    snprintf(out, size, "%s", bench);
    char *cut = strstr(out, "/perf/mamori-bench");
    CU_ASSERT_PTR_NOT_NULL_FATAL(cut);
    *cut = '\0';
}

static void check_system(json_t *sys)
{
    static const char *const keys[] = { "host", "date", "cpu_model", "dpdk", "hyperscan", "commit" };
    CU_ASSERT_TRUE_FATAL(json_is_object(sys));
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        const char *v = json_string_value(json_object_get(sys, keys[i]));
        CU_ASSERT_PTR_NOT_NULL(v);
        CU_ASSERT(v != NULL && *v != '\0');
    }
    CU_ASSERT(json_integer_value(json_object_get(sys, "cores")) > 0);
}

/* Every run of a scenario has a result and no error; mamori-bench's have a
 * rate and cycles per packet. */
static void check_scenario(json_t *scen, const char *name)
{
    json_t *runs = json_object_get(scen, "runs"), *run;
    size_t i;

    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(scen, "name")), name);
    CU_ASSERT(json_array_size(runs) > 0);
    json_array_foreach(runs, i, run) {
        const char *error = json_string_value(json_object_get(run, "error"));
        if (error != NULL)
            fprintf(stderr, "\n    scenario %s: %s\n", name, error);
        CU_ASSERT_PTR_NULL(error);
        CU_ASSERT(json_is_string(json_object_get(run, "command")));
        json_t *r = json_object_get(run, "result");
        CU_ASSERT_TRUE_FATAL(json_is_object(r));
        CU_ASSERT(json_is_number(json_object_get(r, "mpps")));
        CU_ASSERT(json_integer_value(json_object_get(r, "packets")) > 0);
        if (strcmp(name, "reload") == 0) {
            CU_ASSERT_EQUAL(json_integer_value(json_object_get(r, "reloads_done")), 2);
        } else {
            CU_ASSERT(json_is_number(json_object_get(json_object_get(r, "cycles_per_packet"), "total")));
        }
    }
}

static void test_quick_suite(void)
{
    char build[4096], *dir = e2e_mkdtemp();

    build_dir(build, sizeof(build));
    int rc = e2e_run("timeout 300 python3 '%s/scripts/bench' --quick --build '%s' --out '%s' "
                     ">'%s/progress' 2>&1 || { cat '%s/progress' >&2; false; }",
                     getenv("MAMORI_SOURCE"), build, dir, dir, dir);
    CU_ASSERT_EQUAL(rc, 0);

    char *json_path = only_file(dir, "*-quick.json");
    CU_ASSERT_PTR_NOT_NULL_FATAL(json_path);
    json_error_t jerr;
    json_t *doc = json_load_file(json_path, 0, &jerr);
    if (doc == NULL)
        fprintf(stderr, "\n    %s: %s (line %d)\n", json_path, jerr.text, jerr.line);
    CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
    CU_ASSERT_TRUE(json_is_true(json_object_get(doc, "quick")));
    check_system(json_object_get(doc, "system"));
    json_t *scenarios = json_object_get(doc, "scenarios");
    CU_ASSERT_EQUAL_FATAL(json_array_size(scenarios), N_SCENARIOS);
    for (size_t i = 0; i < N_SCENARIOS; i++)
        check_scenario(json_array_get(scenarios, i), scenario_names[i]);
    json_decref(doc);

    /* The table beside it has a row per scenario; plots when gnuplot is here. */
    char *md = only_file(dir, "*-quick.md");
    CU_ASSERT_PTR_NOT_NULL(md);
    for (size_t i = 1; md != NULL && i <= N_SCENARIOS; i++)
        CU_ASSERT_EQUAL(e2e_run("grep -q '^| %zu | ' '%s'", i, md), 0);
    if (e2e_run("command -v gnuplot >/dev/null") == 0) {
        char *svg = only_file(dir, "*-quick-cycles.svg");
        CU_ASSERT_PTR_NOT_NULL(svg);
        CU_ASSERT(svg == NULL || e2e_run("grep -q '<svg' '%s'", svg) == 0);
        free(svg);
    }
    free(md);
    free(json_path);
    e2e_rmdir(dir);
}

int main(void)
{
    CU_TestInfo cases[] = {
        { "scripts/bench --quick writes its results", test_quick_suite },
        CU_TEST_INFO_NULL,
    };
    return cunit_run("bench_suite", cases);
}
