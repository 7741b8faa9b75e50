/* reload.c - live rule reload (see reload.h). */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "reload.h"
#include "sensor.h"

struct reload_state {
    pthread_t thread;
    bool running;                    /* a build thread exists (joined when built) */
    atomic_bool built;               /* the thread has finished */
    char **files;                    /* what the thread compiles */
    unsigned n_files;
    bool strict;
    struct loaded_rules *result;     /* the thread's, NULL when it failed */
    char build_err[512];
    bool retiring;                   /* an old set waits for the workers */
    uint64_t token;                  /* rte_rcu_qsbr_start() of its publication */
    struct loaded_rules *old_rules;
    struct worker_rules *old_wrules;
    uint32_t generation;
    uint64_t counters[RELOAD_COUNTER_COUNT];
    char last[640];
};

static const char *const reload_counter_names[] = {
#define RELOAD_COUNTER_NAME(id, name) name,
    RELOAD_COUNTERS(RELOAD_COUNTER_NAME)
#undef RELOAD_COUNTER_NAME
};

const char *reload_counter_name(enum reload_counter i)
{
    return i < RELOAD_COUNTER_COUNT ? reload_counter_names[i] : NULL;
}

static struct reload_state *state_of(struct sensor *s)
{
    if (s->reload == NULL)
        s->reload = calloc(1, sizeof(*s->reload));
    return s->reload;
}

static void free_files(struct reload_state *r)
{
    for (unsigned i = 0; i < r->n_files; i++)
        free(r->files[i]);
    free(r->files);
    r->files = NULL;
    r->n_files = 0;
}

/* The build thread: parse and compile, as at start (variables from the
 * configuration, the shared database cache). */
static void *reload_thread(void *arg)
{
    struct sensor *s = arg;
    struct reload_state *r = s->reload;
    const struct mamori_options *o = s->opts;
    struct rule_vars *vars = config_rule_vars(o, r->build_err, sizeof(r->build_err));

    if (vars != NULL)
        r->result = rules_load_vars(vars, (const char *const *)r->files, r->n_files,
                                    o->classification, o->rule_cache, stderr, stderr,
                                    r->build_err, sizeof(r->build_err));
    atomic_store_explicit(&r->built, true, memory_order_release);
    return NULL;
}

int rule_reload_start(struct sensor *s, const char *const *files, unsigned n_files, bool strict,
                      char *err, size_t errlen)
{
    struct reload_state *r = state_of(s);

    if (r == NULL || s->shared == NULL) {
        snprintf(err, errlen, "rule reload is not possible: %s",
                 r == NULL ? "out of memory" : "the workers run no matching");
        return -1;
    }
    if (r->running || r->retiring) {
        r->counters[RELOAD_REFUSED]++;
        snprintf(err, errlen, "a rule reload is already running (%s); try again when it is done",
                 r->running ? "compiling" : "waiting for the workers to let go of the old set");
        return -1;
    }
    if (n_files == 0) {
        files = s->opts->rule_files;
        n_files = s->opts->n_rule_files;
    }
    if (n_files == 0) {
        snprintf(err, errlen, "no rule files: name them (rules reload FILE ...) or start with -S");
        return -1;
    }
    if ((r->files = calloc(n_files, sizeof(char *))) == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (unsigned i = 0; i < n_files; i++)
        if ((r->files[r->n_files++] = strdup(files[i])) == NULL) {
            free_files(r);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    r->strict = strict;
    r->result = NULL;
    r->build_err[0] = '\0';
    atomic_store(&r->built, false);
    int rc = pthread_create(&r->thread, NULL, reload_thread, s);
    if (rc != 0) {
        free_files(r);
        snprintf(err, errlen, "starting the rule build thread: %s", strerror(rc));
        return -1;
    }
    r->running = true;
    r->counters[RELOAD_STARTED]++;
    fprintf(stderr, "mamori: rule reload: compiling %u file%s\n", n_files, n_files == 1 ? "" : "s");
    return 0;
}

/* Why a built set is refused, or NULL. */
static const char *refusal(const struct reload_state *r, const struct loaded_rules *lr)
{
    if (lr == NULL)
        return r->build_err[0] ? r->build_err : "the rule set could not be built";
    if (lr->files_unreadable)
        return "a rule file could not be read";
    if (r->strict && (lr->rs.failed || engine_stats(lr->engine)->rules_dropped))
        return "strict: a rule failed to load";
    return NULL;
}

/* Hand the new set to the workers; the old one retires. */
static void publish(struct sensor *s, struct reload_state *r, struct loaded_rules *lr)
{
    struct worker_rules *wr = worker_rules_create(lr->engine, s->n_workers, ++r->generation);
    if (wr == NULL) {
        snprintf(r->last, sizeof(r->last), "rule reload failed: matching scratch: out of memory");
        r->counters[RELOAD_FAILED]++;
        rules_free(lr);
        return;
    }
    r->old_wrules = atomic_exchange_explicit(&s->shared->rules, wr, memory_order_acq_rel);
    r->token = rte_rcu_qsbr_start(s->shared->qsbr);
    r->old_rules = s->rules;
    r->retiring = true;
    s->rules = lr;
    s->wrules = wr;
    r->counters[RELOAD_DONE]++;
    snprintf(r->last, sizeof(r->last), "rule reload done: %u rules loaded, %u skipped, %u failed",
             lr->rs.loaded, lr->rs.skipped, lr->rs.failed);
}

/* The workers have all passed a quiescent state since the publication:
 * nothing of the old set is in use. Alerts still in the rings may name
 * its rules, so they are logged first. */
static void retire(struct sensor *s, struct reload_state *r)
{
    sensor_drain_alerts_all(s);
    worker_rules_free(r->old_wrules);
    rules_free(r->old_rules);
    r->old_wrules = NULL;
    r->old_rules = NULL;
    r->retiring = false;
}

void rule_reload_poll(struct sensor *s)
{
    struct reload_state *r = s->reload;

    if (r == NULL)
        return;
    if (r->running && atomic_load_explicit(&r->built, memory_order_acquire)) {
        pthread_join(r->thread, NULL);
        r->running = false;
        free_files(r);
        const char *why = refusal(r, r->result);
        if (why != NULL) {
            snprintf(r->last, sizeof(r->last), "rule reload refused, the old set keeps running: %s",
                     why);
            r->counters[RELOAD_FAILED]++;
            rules_free(r->result);
        } else {
            publish(s, r, r->result);
        }
        r->result = NULL;
        fprintf(stderr, "mamori: %s\n", r->last);
    }
    if (r->retiring && rte_rcu_qsbr_check(s->shared->qsbr, r->token, false) == 1)
        retire(s, r);
}

void rule_reload_finish(struct sensor *s)
{
    struct reload_state *r = s->reload;

    if (r == NULL)
        return;
    if (r->running) {
        pthread_join(r->thread, NULL);
        rules_free(r->result);
        free_files(r);
    }
    if (r->retiring) {
        sensor_drain_alerts_all(s);
        worker_rules_free(r->old_wrules);
        rules_free(r->old_rules);
    }
    free(r);
    s->reload = NULL;
}

const char *rule_reload_last(const struct sensor *s)
{
    return s->reload ? s->reload->last : "";
}

uint64_t rule_reload_counter(const struct sensor *s, enum reload_counter i)
{
    return s->reload ? s->reload->counters[i] : 0;
}
