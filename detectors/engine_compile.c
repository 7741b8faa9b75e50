/* engine_compile.c - Hyperscan databases compiled on threads (see the header). */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_compile.h"

bool hs_job_init(struct hs_job *j, uint32_t cap)
{
    memset(j, 0, sizeof(*j));
    if (cap == 0)
        cap = 1;
    j->cap = cap;
    j->expr = calloc(cap, sizeof(*j->expr));
    j->flags = calloc(cap, sizeof(*j->flags));
    j->ids = calloc(cap, sizeof(*j->ids));
    j->ext = calloc(cap, sizeof(*j->ext));
    j->extp = calloc(cap, sizeof(*j->extp));
    j->refused_ids = calloc(cap, sizeof(*j->refused_ids));
    j->refused_why = calloc(cap, sizeof(*j->refused_why));
    if (j->expr && j->flags && j->ids && j->ext && j->extp && j->refused_ids && j->refused_why)
        return true;
    hs_job_free(j);
    return false;
}

void hs_job_add(struct hs_job *j, char *expr, unsigned flags, unsigned id,
                const hs_expr_ext_t *ext)
{
    uint32_t k = j->n++;
    j->expr[k] = expr;
    j->flags[k] = flags;
    j->ids[k] = id;
    j->extp[k] = NULL;
    if (ext != NULL) {
        j->ext[k] = *ext;
        j->extp[k] = &j->ext[k];
    }
}

void hs_job_free(struct hs_job *j)
{
    for (uint32_t i = 0; i < j->n && j->expr; i++)
        free(j->expr[i]);
    for (uint32_t i = 0; i < j->n_refused; i++)
        free(j->refused_why[i]);
    free(j->expr), free(j->flags), free(j->ids), free(j->ext), free(j->extp);
    free(j->refused_ids), free(j->refused_why);
    hs_database_t *db = j->db;
    memset(j, 0, sizeof(*j));
    j->db = db;
}

/* Take pattern k out: the last one moves into its place. */
static void job_remove(struct hs_job *j, uint32_t k)
{
    free(j->expr[k]);
    j->n--;
    j->expr[k] = j->expr[j->n], j->flags[k] = j->flags[j->n];
    j->ids[k] = j->ids[j->n], j->ext[k] = j->ext[j->n];
    j->extp[k] = j->extp[j->n] ? &j->ext[k] : NULL;
}

/* Compile one job, taking out each pattern Hyperscan names as the cause of
 * a failure until the rest compile; a failure that names none is the job's. */
static void job_compile(struct hs_job *j)
{
    while (j->n > 0) {
        hs_compile_error_t *ce = NULL;
        if (hs_compile_ext_multi((const char *const *)j->expr, j->flags, j->ids, j->extp, j->n,
                                 HS_MODE_BLOCK, NULL, &j->db, &ce) == HS_SUCCESS)
            return;
        int bad = ce ? ce->expression : -1;
        if (bad < 0 || (uint32_t)bad >= j->n) {
            snprintf(j->err, sizeof(j->err), "hs_compile_multi: %s", ce ? ce->message : "failed");
            j->rc = -1;
            hs_free_compile_error(ce);
            return;
        }
        j->refused_ids[j->n_refused] = j->ids[bad];
        j->refused_why[j->n_refused++] = strdup(ce->message);   /* NULL: no message */
        job_remove(j, (uint32_t)bad);
        hs_free_compile_error(ce);
    }
}

struct job_queue {
    struct hs_job *const *jobs;
    uint32_t n;
    uint32_t next;                 /* taken with an atomic add */
};

static void *compile_thread(void *arg)
{
    struct job_queue *q = arg;
    uint32_t i;
    while ((i = __atomic_fetch_add(&q->next, 1, __ATOMIC_RELAXED)) < q->n)
        job_compile(q->jobs[i]);
    return NULL;
}

/* The CPUs this thread may run on, which its new threads inherit. */
static unsigned allowed_cpus(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) != 0)
        return 1;
    int n = CPU_COUNT(&set);
    return n > 0 ? (unsigned)n : 1;
}

unsigned hs_jobs_compile(struct hs_job *const *jobs, uint32_t n)
{
    struct job_queue q = { .jobs = jobs, .n = n };
    unsigned want = allowed_cpus();
    if (want > HS_JOB_THREADS_MAX)
        want = HS_JOB_THREADS_MAX;
    if (want > n)
        want = n;
    pthread_t tid[HS_JOB_THREADS_MAX];
    unsigned started = 0;
    /* This thread takes a share too; a thread that cannot start only means
     * fewer of them. */
    while (started + 1 < want && pthread_create(&tid[started], NULL, compile_thread, &q) == 0)
        started++;
    compile_thread(&q);
    for (unsigned i = 0; i < started; i++)
        pthread_join(tid[i], NULL);
    return started + 1;
}
