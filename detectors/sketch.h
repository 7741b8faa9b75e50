/* sketch.h - the statistics primitives behind the statistical detectors.
 *
 * Workers keep cheap, mergeable state per 1 s tick; the main thread merges
 * the workers' snapshots and compares what it sees with baselines:
 *
 *   sketch_hash64   a keyed 64-bit mix of a 64-bit key;
 *   cm_*            Count-Min: how many packets/bytes for any key;
 *   hll_*           HyperLogLog: how many distinct keys;
 *   topk_*          Space-Saving: which keys are the heaviest;
 *   ewma_*, cusum_* baselines: what is normal, and when it changed.
 *
 * Rules shared by the sketches:
 *   - memory is allocated by *_create() and never again; the update
 *     functions (cm_add, hll_add, topk_add) do not allocate, lock or divide;
 *   - a sketch belongs to one thread; hand it to another (snapshot) and stop
 *     writing it before that thread reads or merges it;
 *   - sketches that will be merged must have the same dimensions and be fed
 *     hashes made with the same seed;
 *   - *_create() returns NULL with errno set (EINVAL bad size, ENOMEM).
 *
 * The hot functions are inline because they run per packet. */
#ifndef MAMORI_SKETCH_H
#define MAMORI_SKETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- hashing ----------------------------------------------------------- */

/* splitmix64's finalizer (Stafford's "Mix13") with the seed xored in
 * between its two rounds, and the golden ratio added first so that key 0
 * does not hash to 0. Two multiplies and four xor-shifts: about 10 cycles of
 * latency, a few of throughput. For a fixed seed it is a bijection (distinct
 * keys never share a hash) and every output bit depends on every key bit,
 * which is what the sketches below assume. The seed goes in the middle, not
 * on the key, because key ^ seed would only relabel keys: a whole subnet
 * would hash to the same set of values under every seed. Use one random
 * seed per process, so that an attacker cannot choose keys that collide. */
static inline uint64_t sketch_hash64(uint64_t key, uint64_t seed)
{
    uint64_t x = key + 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x ^= seed;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* Two words (an IPv6 address, a source and port pair): the hash of b keyed
 * by the hash of a. */
static inline uint64_t sketch_hash128(uint64_t a, uint64_t b, uint64_t seed)
{
    return sketch_hash64(b, sketch_hash64(a, seed));
}

/* ---- Count-Min sketch --------------------------------------------------- */

/* depth rows of width uint32 counters. A key adds n to one counter per row;
 * its estimate is the smallest of its counters, so it never underestimates,
 * and with N the sum of everything added:
 *
 *     estimate <= true + eps * N   with probability >= 1 - delta,
 *     eps = e / width,  delta = e^-depth
 *
 * (for independent row hashes; multiply-shift over a keyed hash comes close,
 * which test_sketch.c checks).
 *
 * E.g. 4 x 65536 (1 MiB): eps = 4.1e-5, delta = 1.8 %; at 14.88 Mpps a key's
 * per-second count is overestimated by at most ~620 packets, 98 % of the time.
 *
 * Row i's counter is the top log2(width) bits of hash * mult[i], odd
 * constants (multiply-shift hashing): one multiply per row, no division.
 * Counters saturate at UINT32_MAX instead of wrapping: count packets, or
 * bytes in units, so that a tick stays far below 2^32.
 *
 * CM_CONSERVATIVE (conservative update) raises only the counters that are
 * below estimate + n: same guarantees, much less overestimate on skewed
 * traffic, and it reads all rows before writing. A merge of such sketches
 * is still an upper bound, but no longer equals the sketch of the whole
 * stream. */
#define CM_DEPTH_MAX 8
#define CM_WIDTH_MIN 16u
#define CM_WIDTH_MAX (1u << 28)
#define CM_CONSERVATIVE 1u

struct cm_sketch {
    uint32_t width;                  /* a power of two */
    uint32_t depth;
    uint32_t log2_width;
    uint32_t shift;                  /* 64 - log2_width */
    unsigned flags;
    uint64_t total;                  /* N: the sum of every n added */
    uint32_t *counters;              /* depth rows of width, 64-byte aligned */
    uint64_t mult[CM_DEPTH_MAX];
};

/* width: a power of two in [CM_WIDTH_MIN, CM_WIDTH_MAX]; depth: 1..CM_DEPTH_MAX. */
struct cm_sketch *cm_create(uint32_t width, uint32_t depth, unsigned flags);
void cm_destroy(struct cm_sketch *cm);

/* Internal helpers of the inline paths. */
static inline uint32_t *cm_counter(const struct cm_sketch *cm, uint32_t row, uint64_t hash)
{
    size_t col = (size_t)((hash * cm->mult[row]) >> cm->shift);
    return &cm->counters[((size_t)row << cm->log2_width) + col];
}

static inline uint32_t cm_sat_add(uint32_t c, uint32_t n)
{
    uint32_t s = c + n;
    return s < n ? UINT32_MAX : s;
}

/* Bring a key's counters into cache a few packets ahead of cm_add(). Worth
 * it for sketches larger than L2, which miss once per row (4 x 2^20, 16 MiB:
 * 150 -> 60 cycles); one that fits L2 gains nothing. */
static inline void cm_prefetch(const struct cm_sketch *cm, uint64_t hash)
{
    for (uint32_t i = 0; i < cm->depth; i++)
        __builtin_prefetch(cm_counter(cm, i, hash), 1);
}

/* Conservative update: out of line (its reads come first); in sketch.c. */
void cm_add_conservative(struct cm_sketch *cm, uint64_t hash, uint32_t n);

/* Add n to the key whose sketch_hash64() is hash. The fields go into
 * locals first: a store to a uint32_t counter could alias the struct's
 * uint32_t fields, and the compiler would reload them for every row. */
static inline void cm_add(struct cm_sketch *cm, uint64_t hash, uint32_t n)
{
    if (cm->flags & CM_CONSERVATIVE) {
        cm_add_conservative(cm, hash, n);
        return;
    }
    uint32_t *row = cm->counters;
    const uint32_t depth = cm->depth, shift = cm->shift, width = cm->width;
    cm->total += n;
    for (uint32_t i = 0; i < depth; i++, row += width) {
        uint32_t *c = &row[(hash * cm->mult[i]) >> shift];
        *c = cm_sat_add(*c, n);
    }
}

uint32_t cm_estimate(const struct cm_sketch *cm, uint64_t hash);
/* dst += src, counter by counter (saturating). Returns 0, or -EINVAL when
 * the dimensions differ. */
int cm_merge(struct cm_sketch *dst, const struct cm_sketch *src);
void cm_reset(struct cm_sketch *cm);
static inline uint64_t cm_total(const struct cm_sketch *cm) { return cm->total; }
double cm_epsilon(const struct cm_sketch *cm);     /* e / width */
double cm_delta(const struct cm_sketch *cm);       /* e^-depth */
size_t cm_memory(const struct cm_sketch *cm);

/* ---- HyperLogLog ---------------------------------------------------------- */

/* m = 2^p one-byte registers; relative standard error 1.04 / sqrt(m):
 * p = 12 is 4 KiB and 1.6 %, p = 6 is one cache line and 13 %. A hash
 * picks a register with its top p bits and stores the rank of its first 1
 * bit among the rest, if larger. Merging is the register-wise max, so the
 * merge of the workers' sketches is exactly the sketch of all traffic.
 *
 * The estimate is Ertl's improved estimator ("New cardinality estimation
 * algorithms for HyperLogLog sketches", 2017; what Redis uses): it folds
 * the empty registers in the way linear counting does, which makes it
 * exact-ish at small cardinalities, and has no bias at the 2.5 m hand-over
 * where the classic estimator switches from linear counting to the raw
 * harmonic mean. No empirical bias tables. Hashes are 64-bit, so there is
 * no large-range correction to make.
 *
 * Per-key distinct counts (ports per source, hosts per source) need
 * thousands of small sketches: the hll_reg_* functions work on a register
 * array the caller embeds in its own per-key records, e.g.
 * uint8_t reg[HLL_REG_BYTES(6)] (64 bytes). */
#define HLL_P_MIN 4
#define HLL_P_MAX 18
#define HLL_REG_BYTES(p) ((size_t)1 << (p))

/* p in [HLL_P_MIN, HLL_P_MAX], as for hll_create(). */
static inline void hll_reg_add(uint8_t *reg, unsigned p, uint64_t hash)
{
    /* The guard bit caps the rank at 64 - p + 1 when the rest is zero. */
    uint64_t rest = (hash << p) | ((uint64_t)1 << (p - 1));
    uint8_t rank = (uint8_t)(__builtin_clzll(rest) + 1);
    uint8_t *r = &reg[hash >> (64 - p)];
    if (rank > *r)
        *r = rank;
}

double hll_reg_estimate(const uint8_t *reg, unsigned p);
void hll_reg_merge(uint8_t *dst, const uint8_t *src, unsigned p);

struct hll {
    unsigned p;
    uint8_t *reg;                    /* 2^p registers, 64-byte aligned */
};

/* p in [HLL_P_MIN, HLL_P_MAX]. */
struct hll *hll_create(unsigned p);
void hll_destroy(struct hll *h);

/* Count the key whose sketch_hash64() is hash. */
static inline void hll_add(struct hll *h, uint64_t hash)
{
    hll_reg_add(h->reg, h->p, hash);
}

double hll_estimate(const struct hll *h);
/* Returns 0, or -EINVAL when the precisions differ. */
int hll_merge(struct hll *dst, const struct hll *src);
void hll_reset(struct hll *h);
double hll_std_error(unsigned p);                  /* 1.04 / sqrt(2^p) */
size_t hll_memory(const struct hll *h);

/* ---- Space-Saving top-k ---------------------------------------------------- */

/* k counters, each (key, count, error). A monitored key's true count lies in
 * [count - error, count]; an unmonitored key's true count is at most the
 * smallest count (0 until all k are in use), and error <= N / k. So every
 * key heavier than N / k is monitored.
 *
 * A hit adds n to its counter; a miss takes over the smallest counter
 * (its count becomes the new key's error). Counters are a min-heap indexed
 * by an open-addressing table: O(1) lookup plus O(log k) heap repair,
 * everything in L1/L2 for k <= 1024. A hit costs about what a Count-Min
 * update does; a miss walks the heap from root to leaf and costs 5 to 8
 * times more. Key it by what repeats (destinations, services): keyed by
 * source under a spoofed flood, every packet would be a miss.
 *
 * Merge (as in Cafaro, Pulimeno and Tempesta's parallel Space-Saving, 2016):
 * a key's merged count is the sum of its counts in both summaries, where a
 * summary that lacks it contributes its smallest count (an upper bound on
 * what it could have missed), and the k largest are kept. The invariants
 * above still hold after any number of merges, with N the merged total. */
struct topk_entry {
    uint64_t key;
    uint64_t count;                  /* upper bound of the true count */
    uint64_t error;                  /* count - error is a lower bound */
};

struct topk;

/* k in [1, 2^24]; seed keys the internal table's hash. */
struct topk *topk_create(uint32_t k, uint64_t seed);
void topk_destroy(struct topk *t);
void topk_add(struct topk *t, uint64_t key, uint64_t n);
/* dst += src. Returns 0, or -EINVAL when k differs. */
int topk_merge(struct topk *dst, const struct topk *src);
/* Up to max entries, by count descending (then key ascending). Uses the
 * summary's scratch space, hence not const. Returns how many. */
uint32_t topk_list(struct topk *t, struct topk_entry *out, uint32_t max);
void topk_reset(struct topk *t);
uint64_t topk_total(const struct topk *t);         /* N */
uint64_t topk_min(const struct topk *t);           /* bound for unmonitored keys */
uint32_t topk_size(const struct topk *t);          /* counters in use */
size_t topk_memory(const struct topk *t);

/* ---- baselines (main thread, once per tick per key) ------------------------ */

/* Exponentially weighted mean and variance (West / Finch, "Incremental
 * calculation of weighted mean and variance"):
 *     d = x - mean;  mean += alpha * d;  var = (1 - alpha) * (var + alpha * d^2)
 * alpha = 2 / (span + 1): 0.1 remembers about the last 20 ticks. The first
 * value sets the mean (variance 0). The z-score divides by the standard
 * deviation, but never by less than std_floor, so that a quiet key (mean 0,
 * variance 0) does not turn its first packet into an infinite score. */
struct ewma {
    double alpha;
    double std_floor;
    double mean;
    double var;
    uint64_t n;                      /* values seen */
};

void ewma_init(struct ewma *e, double alpha, double std_floor);
void ewma_update(struct ewma *e, double x);
double ewma_std(const struct ewma *e);             /* max(sqrt(var), std_floor) */
/* How unusual x is against the baseline so far: score x before updating
 * with it. 0 before the first value. */
double ewma_zscore(const struct ewma *e, double x);

/* One-sided upper CUSUM (Page) on standardized values z (e.g. z-scores):
 *     s = max(0, s + z - k);   alarm while s > h
 * k is the slack: half the shift to detect, in standard deviations (0.5 for
 * a 1-sigma shift). h is the threshold. On N(0,1) noise with k = 0.5, the
 * mean run to a false alarm and the delay to detect a 1-sigma step are
 * (measured): h = 4: 330 / 8.5 values; h = 5: 920 / 10; h = 8: 16000 / 17;
 * h = 10: 140000 / 20. One CUSUM per key per 1 s tick, over thousands of
 * keys, needs h = 8..10. start is the value index at which s last left 0:
 * the estimated change point. */
struct cusum {
    double k;
    double h;
    double s;
    uint64_t n;                      /* values seen */
    uint64_t start;                  /* index (1-based) the excursion began; 0 if s == 0 */
};

void cusum_init(struct cusum *c, double k, double h);
/* Returns true while in alarm (s > h). */
bool cusum_update(struct cusum *c, double z);
static inline bool cusum_alarm(const struct cusum *c) { return c->s > c->h; }
/* Back to s = 0, e.g. once an alarm has been raised and handled. */
void cusum_reset(struct cusum *c);

#endif
