/* engine_compile.h - Hyperscan databases compiled side by side.
 *
 * An engine has up to a few dozen databases (transport group x address
 * class x port database), and ET Open's take seconds to compile one after
 * the other. They are independent, so they compile on threads, one per
 * CPU the caller may run on: the threads inherit its affinity, so a build
 * on a control thread stays off the workers' cores.
 *
 * A pattern Hyperscan refuses is taken out and the rest compiled again;
 * the job reports which ids it lost and why, and the caller decides what
 * becomes of their rules. */
#ifndef MAMORI_ENGINE_COMPILE_H
#define MAMORI_ENGINE_COMPILE_H

#include <stdbool.h>
#include <stdint.h>

#include <hs.h>

#define HS_JOB_THREADS_MAX 8

/* One database's patterns (hs_compile_ext_multi's arrays) and its result. */
struct hs_job {
    uint32_t n, cap;
    char **expr;
    unsigned *flags, *ids;
    hs_expr_ext_t *ext;
    const hs_expr_ext_t **extp;    /* NULL or &ext[i] */

    hs_database_t *db;             /* the result, NULL when no pattern was left */
    uint32_t n_refused;
    unsigned *refused_ids;         /* ids whose pattern Hyperscan refused */
    char **refused_why;            /* its message for each */
    int rc;                        /* 0, or -1 with err set */
    char err[256];
};

/* Room for `cap` patterns; false when out of memory. */
bool hs_job_init(struct hs_job *j, uint32_t cap);
/* Add a pattern: expr is taken over (freed with the job); ext is copied
 * when not NULL. The job has room (hs_job_init). */
void hs_job_add(struct hs_job *j, char *expr, unsigned flags, unsigned id,
                const hs_expr_ext_t *ext);
/* Frees everything but the database. */
void hs_job_free(struct hs_job *j);

/* Compile jobs[0..n) in block mode, each one's result in the job. Returns
 * the threads used. */
unsigned hs_jobs_compile(struct hs_job *const *jobs, uint32_t n);

#endif
