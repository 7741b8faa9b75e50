/* counter.h - counters written by one thread and read by another.
 *
 * A worker owns its counters and bumps them with plain arithmetic; the main
 * thread reads them for stats. Relaxed atomic loads and stores keep that
 * well defined in C11 terms and cost nothing on x86 (a plain mov). */
#ifndef MAMORI_COUNTER_H
#define MAMORI_COUNTER_H

#include <stdint.h>

static inline void counter_add(uint64_t *c, uint64_t v)
{
    __atomic_store_n(c, *c + v, __ATOMIC_RELAXED);
}

static inline void counter_inc(uint64_t *c)
{
    counter_add(c, 1);
}

static inline uint64_t counter_read(const uint64_t *c)
{
    return __atomic_load_n(c, __ATOMIC_RELAXED);
}

#endif
