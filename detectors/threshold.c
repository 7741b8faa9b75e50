/* threshold.c - alert thresholding (see threshold.h for the semantics).
 *
 * The table is open addressing with a bounded probe: a key lives in one of
 * the PROBE slots after its home slot (wrapping). Slots never become empty
 * again once used; an expired one is reused in place. That keeps every
 * probe sequence intact without tombstones, and lets a lookup stop at the
 * first never-used slot: a key is always inserted at or before it.
 *
 * The per-window logic follows Suricata's ThresholdCheckUpdate() in
 * src/detect-engine-threshold.c (Suricata 7/8): a window starts at its first
 * match with count 1, "in the window" is ts <= start + seconds, and each type
 * then tests its count as listed in threshold.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "error.h"
#include "sketch.h"
#include "threshold.h"

#define CAPACITY_MAX (1u << 26)
#define PROBE        64u        /* slots a key may be placed in */
#define NS_PER_SEC   1000000000ull

/* What a state counts: the threshold type, or detection_filter. Part of the
 * key, so a rule's two filters (built by hand) keep separate counts. */
enum thr_kind {
    KIND_LIMIT = RULE_THRESHOLD_LIMIT,
    KIND_THRESHOLD = RULE_THRESHOLD_THRESHOLD,
    KIND_BOTH = RULE_THRESHOLD_BOTH,
    KIND_DETECTION_FILTER,
};

/* Compared with memcmp, so always built from a zeroed struct; the layout has
 * no padding (7 words). */
struct thr_key {
    uint32_t gid, sid, rev;
    uint8_t kind, track, ip_version, unused;
    uint64_t flow_id;               /* by_flow */
    uint8_t a[16], b[16];           /* by_src/by_dst: a; by_both: a < b */
};

struct thr_entry {
    struct thr_key key;
    uint64_t deadline_ns;           /* the window's last instant: start + seconds */
    uint64_t count;                 /* matches counted in the window */
    bool used;
};

struct threshold_table {
    struct thr_entry *slots;
    uint32_t mask;                  /* slots - 1 */
    uint32_t probe;                 /* min(PROBE, slots) */
    uint64_t seed;
    uint64_t now_ns;                /* the latest packet time seen */
    uint64_t counters[THRESHOLD_COUNTER_COUNT];
};

_Static_assert(sizeof(struct thr_key) == 56, "thr_key must have no padding");

const char *threshold_counter_name(enum threshold_counter i)
{
    static const char *const names[] = {
#define THRESHOLD_COUNTER_NAME(id, name) [THRESHOLD_##id] = name,
        THRESHOLD_COUNTERS(THRESHOLD_COUNTER_NAME)
#undef THRESHOLD_COUNTER_NAME
    };
    return (unsigned)i < THRESHOLD_COUNTER_COUNT ? names[i] : NULL;
}

/* ---- the table ------------------------------------------------------------ */

/* A random seed, so that nobody can pick source addresses that all land in
 * one probe window (which would only cost extra alerts, but still). */
static uint64_t random_seed(void)
{
    uint64_t s;
    if (getrandom(&s, sizeof(s), GRND_NONBLOCK) == (ssize_t)sizeof(s))
        return s;
    return 0x6d616d6f7269ULL;
}

struct threshold_table *threshold_table_create(uint32_t capacity, char *err, size_t errlen)
{
    if (capacity == 0 || capacity > CAPACITY_MAX) {
        seterr(err, errlen, "threshold table capacity %u out of range 1..%u", capacity,
               CAPACITY_MAX);
        return NULL;
    }
    uint32_t n = 1;
    while (n < capacity)
        n <<= 1;

    struct threshold_table *t = calloc(1, sizeof(*t));
    if (t != NULL)
        t->slots = calloc(n, sizeof(*t->slots));
    if (t == NULL || t->slots == NULL) {
        free(t);
        seterr(err, errlen, "threshold table: no memory for %u entries", n);
        return NULL;
    }
    t->mask = n - 1;
    t->probe = n < PROBE ? n : PROBE;
    t->seed = random_seed();
    return t;
}

void threshold_table_destroy(struct threshold_table *t)
{
    if (t == NULL)
        return;
    free(t->slots);
    free(t);
}

uint64_t threshold_counter(const struct threshold_table *t, enum threshold_counter i)
{
    return (unsigned)i < THRESHOLD_COUNTER_COUNT ? t->counters[i] : 0;
}

uint32_t threshold_table_capacity(const struct threshold_table *t)
{
    return t->mask + 1;
}

static uint64_t key_hash(const struct thr_key *k, uint64_t seed)
{
    uint64_t w[sizeof(*k) / 8];
    memcpy(w, k, sizeof(w));
    uint64_t h = seed;
    for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++)
        h = sketch_hash64(w[i], h);
    return h;
}

static bool expired(const struct threshold_table *t, const struct thr_entry *e)
{
    return t->now_ns > e->deadline_ns;
}

/* The entry of key k, or a fresh one (count 0, *fresh set) in the first
 * never-used or expired slot of its probe window. NULL when there is none. */
static struct thr_entry *find_or_take(struct threshold_table *t, const struct thr_key *k,
                                      bool *fresh)
{
    uint32_t home = (uint32_t)key_hash(k, t->seed);
    struct thr_entry *free_slot = NULL;

    *fresh = false;
    for (uint32_t i = 0; i < t->probe; i++) {
        struct thr_entry *e = &t->slots[(home + i) & t->mask];
        if (!e->used) {
            if (free_slot == NULL)
                free_slot = e;
            break;                  /* nothing was ever placed past here */
        }
        if (memcmp(&e->key, k, sizeof(*k)) == 0)
            return e;
        if (free_slot == NULL && expired(t, e))
            free_slot = e;
    }
    if (free_slot == NULL)
        return NULL;

    t->counters[free_slot->used ? THRESHOLD_REUSED : THRESHOLD_ENTRIES]++;
    free_slot->key = *k;
    free_slot->used = true;
    free_slot->count = 0;
    free_slot->deadline_ns = 0;
    *fresh = true;
    return free_slot;
}

/* ---- one filter ------------------------------------------------------------ */

/* Address bytes of one family; other versions have none (one shared key). */
static size_t addr_len(uint8_t ip_version)
{
    return ip_version == 4 ? 4 : ip_version == 6 ? 16 : 0;
}

static void make_key(struct thr_key *k, const struct rule *r, const struct rule_threshold *th,
                     enum thr_kind kind, const struct threshold_event *ev)
{
    size_t len = addr_len(ev->ip_version);
    const uint8_t *lo = ev->src_addr, *hi = ev->dst_addr;

    memset(k, 0, sizeof(*k));
    k->gid = r->gid;
    k->sid = r->sid;
    k->rev = r->rev;
    k->kind = (uint8_t)kind;
    k->track = (uint8_t)th->track;
    switch (th->track) {
    case RULE_TRACK_BY_SRC:
        k->ip_version = ev->ip_version;
        memcpy(k->a, ev->src_addr, len);
        break;
    case RULE_TRACK_BY_DST:
        k->ip_version = ev->ip_version;
        memcpy(k->a, ev->dst_addr, len);
        break;
    case RULE_TRACK_BY_BOTH:
        /* Lower address first, so both directions share the key. Network
         * order makes memcmp a numeric comparison. */
        k->ip_version = ev->ip_version;
        if (memcmp(lo, hi, len) > 0) {
            lo = ev->dst_addr;
            hi = ev->src_addr;
        }
        memcpy(k->a, lo, len);
        memcpy(k->b, hi, len);
        break;
    case RULE_TRACK_BY_FLOW:
        k->flow_id = ev->flow_id;
        break;
    case RULE_TRACK_BY_RULE:
        break;
    }
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* Count this match in e's window (a new window when e is fresh or the
 * match is past the window) and say whether it alerts. */
static bool count_match(struct thr_entry *e, bool fresh, enum thr_kind kind, uint32_t c,
                        uint32_t seconds, uint64_t ts)
{
    if (fresh || ts > e->deadline_ns) {
        e->deadline_ns = add_sat(ts, (uint64_t)seconds * NS_PER_SEC);
        e->count = 0;
    }
    e->count++;
    switch (kind) {
    case KIND_LIMIT:
        return e->count <= c;
    case KIND_THRESHOLD:
        if (e->count < c)
            return false;
        e->count = 0;       /* count C more in the same window (it does not move) */
        return true;
    case KIND_BOTH:
        return e->count == c;
    case KIND_DETECTION_FILTER:
        return e->count > c;
    }
    return true;
}

static bool filter(struct threshold_table *t, const struct rule *r,
                   const struct rule_threshold *th, enum thr_kind kind,
                   const struct threshold_event *ev)
{
    /* Every match alerts: no state needed (Suricata's fast path too). */
    if (kind == KIND_THRESHOLD && th->count <= 1)
        return true;

    struct thr_key k;
    bool fresh;
    make_key(&k, r, th, kind, ev);
    struct thr_entry *e = find_or_take(t, &k, &fresh);
    if (e == NULL) {
        t->counters[THRESHOLD_TABLE_FULL]++;
        return true;
    }
    return count_match(e, fresh, kind, th->count, th->seconds, ev->ts_ns);
}

/* ---- the entry point ------------------------------------------------------ */

bool threshold_admit(struct threshold_table *t, const struct rule *r,
                     const struct threshold_event *ev)
{
    const struct rule_threshold *df = &r->detection_filter, *th = &r->threshold;
    if (!df->present && !th->present)
        return true;

    if (ev->ts_ns > t->now_ns)
        t->now_ns = ev->ts_ns;
    t->counters[THRESHOLD_MATCHES]++;

    bool alert = true;
    if (df->present)
        alert = filter(t, r, df, KIND_DETECTION_FILTER, ev);
    if (alert && th->present)
        alert = filter(t, r, th, (enum thr_kind)th->type, ev);
    if (!alert)
        t->counters[THRESHOLD_SUPPRESSED]++;
    return alert;
}
