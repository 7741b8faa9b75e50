/* reload.h - live rule reload: a new rule set compiled on a thread of its
 * own while traffic flows, published to the workers with one pointer store,
 * the old one freed once every worker has passed a quiescent state.
 *
 *   rule_reload_start()  main thread: begin (refused while one runs)
 *   rule_reload_poll()   main thread, each loop: publish a finished build,
 *                        free a retired set once the workers let go of it
 *
 * A bad rule is skipped (named with file:line, as at start) unless the
 * reload is strict: then any failed rule or unreadable file refuses the
 * whole new set and the old one keeps running. SIGHUP and the control
 * socket's `rules reload` both come here. */
#ifndef MAMORI_RELOAD_H
#define MAMORI_RELOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sensor;

#define RELOAD_COUNTERS(X) \
    X(STARTED,  "detect.reloads_started") \
    X(DONE,     "detect.reloads_done")     /* published */ \
    X(FAILED,   "detect.reloads_failed")   /* refused or could not build: old set kept */ \
    X(REFUSED,  "detect.reloads_refused")  /* asked for while one was running */

enum reload_counter {
#define RELOAD_COUNTER_ENUM(id, name) RELOAD_##id,
    RELOAD_COUNTERS(RELOAD_COUNTER_ENUM)
#undef RELOAD_COUNTER_ENUM
    RELOAD_COUNTER_COUNT
};

const char *reload_counter_name(enum reload_counter i);

/* Compile `files` (NULL/0: the files of the current set, or the options')
 * off the main thread. 0 started; -1 with the reason in err (one is
 * running, or the previous set is still being retired). */
int rule_reload_start(struct sensor *s, const char *const *files, unsigned n_files, bool strict,
                      char *err, size_t errlen);

/* Publish and retire; never blocks. */
void rule_reload_poll(struct sensor *s);

/* At exit: wait for a running build and free what is left. */
void rule_reload_finish(struct sensor *s);

/* A one-line account of the last reload ("" before any). */
const char *rule_reload_last(const struct sensor *s);
uint64_t rule_reload_counter(const struct sensor *s, enum reload_counter i);

#endif
