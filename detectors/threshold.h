/* threshold.h - whether a rule's match becomes an alert: the rule's
 * `threshold:` and `detection_filter:`, with Suricata's semantics.
 *
 * Runs on the main thread, which sees the matches of every worker, so the
 * counts are global and do not depend on the number of workers. Time is
 * packet time in ns. Per (rule, tracked value) there is one fixed window of
 * `seconds` that starts at the first match; a match at ts is in it when
 * ts <= start + seconds (Suricata's inclusive test). A match after the window
 * starts a new one with that match as number 1. With C = count:
 *
 *   threshold type limit      the first C matches of a window alert
 *   threshold type threshold  every C-th match of a window alerts (the count
 *                             restarts at 0 after an alert, the window does
 *                             not move); C = 1: every match
 *   threshold type both       the C-th match of a window alerts, no other
 *   detection_filter          every match after the C-th of a window alerts
 *                             (count 3, seconds 60: from the 4th match on,
 *                             until the window ends; then 3 silent again)
 *
 * track by_src / by_dst: the source / destination address; by_both: the
 * unordered address pair (A->B and B->A count together, as in Suricata 8);
 * by_rule: one count for the rule; by_flow: the event's flow_id. IPv4 and
 * IPv6 addresses are distinct keys. Keys are (gid, sid, rev, track, kind):
 * state survives a rule reload while the rule is unchanged, and a new rev
 * starts afresh.
 *
 * Suricata refuses a rule with both threshold and detection_filter, and so
 * does our parser. Should a rule built by hand have both, detection_filter
 * is applied first and the threshold then counts only the matches it let
 * through (Snort's order: detection filter, then event filter).
 *
 * Memory: threshold_table_create() allocates all of it. An entry whose
 * window has passed (in the latest packet time seen) is reused: dropping it
 * changes nothing, since the next match would start a new window anyway.
 * When no entry can be had, the match is ALERTED and counted in
 * threshold.table_full: a spurious alert is visible and counted, a lost one
 * is not. Not thread-safe: one thread (the main thread) owns a table. */
#ifndef MAMORI_THRESHOLD_H
#define MAMORI_THRESHOLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rule.h"

/* One match of a rule, as far as thresholding needs it. */
struct threshold_event {
    uint64_t ts_ns;                      /* packet time of the match */
    uint8_t ip_version;                  /* 4 or 6 (any other: one shared address) */
    uint8_t src_addr[16], dst_addr[16];  /* network order; IPv4 in the first 4 bytes */
    uint64_t flow_id;                    /* for track by_flow */
};

#define THRESHOLD_COUNTERS(X) \
    X(MATCHES,    "threshold.matches")    /* matches of rules with a threshold */ \
    X(SUPPRESSED, "threshold.suppressed") /* of those, not alerted */ \
    X(TABLE_FULL, "threshold.table_full") /* alerted because no entry was free */ \
    X(ENTRIES,    "threshold.entries")    /* entries in use (a gauge) */ \
    X(REUSED,     "threshold.reused")     /* expired entries taken for a new key */

enum threshold_counter {
#define THRESHOLD_COUNTER_ENUM(id, name) THRESHOLD_##id,
    THRESHOLD_COUNTERS(THRESHOLD_COUNTER_ENUM)
#undef THRESHOLD_COUNTER_ENUM
    THRESHOLD_COUNTER_COUNT
};

/* The counter's name, NULL out of range. */
const char *threshold_counter_name(enum threshold_counter i);

struct threshold_table;

/* A table of at least `capacity` (1 .. 2^26) entries, rounded up to a power
 * of two; about 80 bytes each. An entry is one (rule, tracked value) with a
 * live window; a key may only use the 64 slots after its home slot, so give
 * about twice the keys expected. NULL with a message in err on a bad
 * capacity or no memory. */
struct threshold_table *threshold_table_create(uint32_t capacity, char *err, size_t errlen);
void threshold_table_destroy(struct threshold_table *t);

/* True when this match of r is to be alerted. A rule without threshold and
 * detection_filter is always admitted and leaves no state. */
bool threshold_admit(struct threshold_table *t, const struct rule *r,
                     const struct threshold_event *ev);

uint64_t threshold_counter(const struct threshold_table *t, enum threshold_counter i);
uint32_t threshold_table_capacity(const struct threshold_table *t);

#endif
