/* test_sketch.c - the statistics primitives: Count-Min error bounds and
 * merge, HyperLogLog accuracy and merge, Space-Saving recall and merge on a
 * Zipf stream, EWMA and CUSUM against hand-computed values.
 *
 * Every stream comes from a fixed seed, so a run is reproducible; the bounds
 * checked are the ones the algorithms guarantee, or (where the guarantee is
 * probabilistic) the fraction of keys inside it. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cunit_run.h"
#include "sketch.h"

#define SEED 0x6d616d6f7269ULL              /* "mamori" */

/* A test's random numbers: the hash of a counter. */
struct rng {
    uint64_t seed;
    uint64_t i;
};

static uint64_t rng_next(struct rng *r)
{
    return sketch_hash64(r->i++, r->seed);
}

static double rng_uniform(struct rng *r)    /* [0, 1) */
{
    return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

static double rng_normal(struct rng *r)     /* Box-Muller */
{
    double u = 1.0 - rng_uniform(r), v = rng_uniform(r);
    return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

/* ---- hash ------------------------------------------------------------------ */

static void test_hash(void)
{
    CU_ASSERT_EQUAL(sketch_hash64(42, 1), sketch_hash64(42, 1));
    CU_ASSERT_NOT_EQUAL(sketch_hash64(42, 1), sketch_hash64(42, 2));
    CU_ASSERT_NOT_EQUAL(sketch_hash64(0, 0), 0);
    CU_ASSERT_NOT_EQUAL(sketch_hash128(1, 2, SEED), sketch_hash128(2, 1, SEED));

    /* Sequential keys (addresses in a subnet) must still give balanced bits. */
    enum { N = 100000 };
    unsigned ones[64] = { 0 };
    for (uint64_t k = 0; k < N; k++) {
        uint64_t h = sketch_hash64(0x0a000000 + k, SEED);
        for (int b = 0; b < 64; b++)
            ones[b] += (h >> b) & 1;
    }
    for (int b = 0; b < 64; b++)
        CU_ASSERT(fabs(ones[b] / (double)N - 0.5) < 0.01);
}

/* ---- Count-Min ------------------------------------------------------------- */

#define CM_KEYS 20000u

/* n_updates of random weight 1..8 over CM_KEYS keys, skewed so that low
 * keys are heavier (a key is the min of two uniform draws). */
static void cm_stream(struct cm_sketch *cm, uint64_t *truth, uint32_t n_updates,
                      uint64_t seed)
{
    struct rng r = { seed, 0 };
    for (uint32_t i = 0; i < n_updates; i++) {
        uint32_t a = (uint32_t)(rng_next(&r) % CM_KEYS);
        uint32_t b = (uint32_t)(rng_next(&r) % CM_KEYS);
        uint32_t key = a < b ? a : b;
        uint32_t n = 1 + (uint32_t)(rng_next(&r) & 7);
        cm_add(cm, sketch_hash64(key, SEED), n);
        if (truth)
            truth[key] += n;
    }
}

static void test_cm_bounds(void)
{
    static const uint32_t dims[][2] = { { 1024, 2 }, { 1024, 4 }, { 4096, 3 } };
    for (unsigned d = 0; d < 3; d++) {
        for (uint64_t seed = 1; seed <= 3; seed++) {
            struct cm_sketch *cm = cm_create(dims[d][0], dims[d][1], 0);
            CU_ASSERT_PTR_NOT_NULL_FATAL(cm);
            uint64_t *truth = calloc(CM_KEYS, sizeof(*truth));
            cm_stream(cm, truth, 200000, seed);

            uint64_t n_total = 0;
            for (uint32_t k = 0; k < CM_KEYS; k++)
                n_total += truth[k];
            CU_ASSERT_EQUAL(cm_total(cm), n_total);

            double bound = cm_epsilon(cm) * (double)n_total;
            uint32_t under = 0, within = 0;
            for (uint32_t k = 0; k < CM_KEYS; k++) {
                uint32_t est = cm_estimate(cm, sketch_hash64(k, SEED));
                under += est < truth[k];
                within += (double)(est - truth[k]) <= bound;
            }
            CU_ASSERT_EQUAL(under, 0);
            CU_ASSERT(within >= (1.0 - cm_delta(cm)) * CM_KEYS);
            free(truth);
            cm_destroy(cm);
        }
    }
}

static void test_cm_merge(void)
{
    struct cm_sketch *a = cm_create(2048, 4, 0), *b = cm_create(2048, 4, 0);
    struct cm_sketch *whole = cm_create(2048, 4, 0);
    CU_ASSERT_FATAL(a && b && whole);
    cm_stream(a, NULL, 50000, 7);
    cm_stream(b, NULL, 50000, 8);
    cm_stream(whole, NULL, 50000, 7);
    cm_stream(whole, NULL, 50000, 8);

    CU_ASSERT_EQUAL(cm_merge(a, b), 0);
    CU_ASSERT_EQUAL(cm_total(a), cm_total(whole));
    CU_ASSERT_EQUAL(memcmp(a->counters, whole->counters, 2048 * 4 * sizeof(uint32_t)), 0);

    cm_reset(a);
    CU_ASSERT_EQUAL(cm_total(a), 0);
    CU_ASSERT_EQUAL(cm_estimate(a, sketch_hash64(1, SEED)), 0);

    struct cm_sketch *other = cm_create(1024, 4, 0);
    CU_ASSERT_EQUAL(cm_merge(a, other), -EINVAL);
    cm_destroy(other);
    cm_destroy(a);
    cm_destroy(b);
    cm_destroy(whole);
}

/* Conservative counters never exceed plain ones, and still bound the truth,
 * also after a merge; on a skewed stream they overestimate much less. */
static void test_cm_conservative(void)
{
    struct cm_sketch *plain = cm_create(1024, 4, 0);
    struct cm_sketch *cu = cm_create(1024, 4, CM_CONSERVATIVE);
    struct cm_sketch *cu_a = cm_create(1024, 4, CM_CONSERVATIVE);
    struct cm_sketch *cu_b = cm_create(1024, 4, CM_CONSERVATIVE);
    uint64_t *truth = calloc(CM_KEYS, sizeof(*truth));
    CU_ASSERT_FATAL(plain && cu && cu_a && cu_b && truth);
    cm_stream(plain, NULL, 100000, 3);
    cm_stream(plain, NULL, 100000, 4);
    cm_stream(cu, truth, 100000, 3);
    cm_stream(cu, truth, 100000, 4);
    cm_stream(cu_a, NULL, 100000, 3);
    cm_stream(cu_b, NULL, 100000, 4);
    CU_ASSERT_EQUAL(cm_merge(cu_a, cu_b), 0);
    CU_ASSERT_EQUAL(cm_total(cu), cm_total(plain));
    CU_ASSERT_EQUAL(cm_total(cu_a), cm_total(plain));

    uint64_t over_plain = 0, over_cu = 0, bad = 0;
    for (uint32_t k = 0; k < CM_KEYS; k++) {
        uint64_t h = sketch_hash64(k, SEED);
        uint32_t p = cm_estimate(plain, h), c = cm_estimate(cu, h);
        uint32_t m = cm_estimate(cu_a, h);
        bad += !(truth[k] <= c && c <= p);
        bad += !(truth[k] <= m && m <= p);
        over_plain += p - truth[k];
        over_cu += c - truth[k];
    }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT(over_cu * 3 < over_plain * 2);
    free(truth);
    cm_destroy(plain);
    cm_destroy(cu);
    cm_destroy(cu_a);
    cm_destroy(cu_b);
}

static void test_cm_saturates_and_rejects(void)
{
    struct cm_sketch *cm = cm_create(16, 1, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cm);
    cm_add(cm, 99, UINT32_MAX - 1);
    cm_add(cm, 99, 5);
    CU_ASSERT_EQUAL(cm_estimate(cm, 99), UINT32_MAX);
    CU_ASSERT_EQUAL(cm_merge(cm, cm), 0);
    CU_ASSERT_EQUAL(cm_estimate(cm, 99), UINT32_MAX);
    cm_destroy(cm);

    errno = 0;
    CU_ASSERT_PTR_NULL(cm_create(1000, 4, 0));
    CU_ASSERT_EQUAL(errno, EINVAL);
    CU_ASSERT_PTR_NULL(cm_create(1024, 0, 0));
    CU_ASSERT_PTR_NULL(cm_create(1024, CM_DEPTH_MAX + 1, 0));
    CU_ASSERT_PTR_NULL(cm_create(8, 4, 0));
}

/* ---- HyperLogLog ----------------------------------------------------------- */

static void hll_fill(struct hll *h, uint64_t first, uint64_t n, uint64_t seed)
{
    for (uint64_t i = first; i < first + n; i++)
        hll_add(h, sketch_hash64(i, seed));
}

static void test_hll_accuracy(void)
{
    const double n = 100000;
    for (unsigned p = 10; p <= 16; p += 2) {
        for (uint64_t seed = 1; seed <= 4; seed++) {
            struct hll *h = hll_create(p);
            CU_ASSERT_PTR_NOT_NULL_FATAL(h);
            hll_fill(h, 0, (uint64_t)n, seed * 1000003);
            hll_fill(h, 0, (uint64_t)n, seed * 1000003);   /* repeats change nothing */
            double rel = fabs(hll_estimate(h) - n) / n;
            CU_ASSERT(rel <= 3 * hll_std_error(p));
            hll_destroy(h);
        }
    }
}

/* Across the hand-over from linear counting to the harmonic mean (n around
 * 2.5 m) the estimate must stay unbiased: mean relative error over several
 * seeds well inside one standard error. */
static void test_hll_mid_range(void)
{
    const unsigned p = 10, m = 1u << p, seeds = 32;
    static const double ratios[] = { 0.5, 1.0, 2.0, 2.5, 3.0, 5.0, 10.0 };
    for (unsigned r = 0; r < sizeof(ratios) / sizeof(ratios[0]); r++) {
        uint64_t n = (uint64_t)(ratios[r] * m);
        double sum = 0;
        for (uint64_t seed = 0; seed < seeds; seed++) {
            struct hll *h = hll_create(p);
            CU_ASSERT_PTR_NOT_NULL_FATAL(h);
            hll_fill(h, 0, n, 77 + seed);
            sum += (hll_estimate(h) - (double)n) / (double)n;
            hll_destroy(h);
        }
        CU_ASSERT(fabs(sum / seeds) < hll_std_error(p) / 2);
    }
}

static void test_hll_small(void)
{
    static const unsigned ps[] = { 6, 8, 12, 14 };
    static const uint64_t ns[] = { 0, 1, 10, 100 };
    for (unsigned i = 0; i < 4; i++) {
        for (unsigned j = 0; j < 4; j++) {
            unsigned p = ps[i];
            uint64_t n = ns[j];
            if (n > (1u << p))
                continue;                /* p = 6 only up to 64 */
            struct hll *h = hll_create(p);
            CU_ASSERT_PTR_NOT_NULL_FATAL(h);
            hll_fill(h, 0, n, 5);
            double est = hll_estimate(h);
            /* Linear counting regime: within 3 standard errors of the
             * register collision noise, and exact when nothing collides. */
            double m = (double)(1u << p), t = (double)n / m;
            double sd = sqrt(m * (exp(t) - t - 1));
            CU_ASSERT(fabs(est - (double)n) <= 3 * sd + 0.01 * (double)n + 0.5);
            if (n == 0) {
                CU_ASSERT_EQUAL(est, 0.0);
            }
            hll_destroy(h);
        }
    }
}

static void test_hll_merge(void)
{
    struct hll *a = hll_create(12), *b = hll_create(12), *whole = hll_create(12);
    CU_ASSERT_FATAL(a && b && whole);
    hll_fill(a, 0, 60000, 9);
    hll_fill(b, 40000, 60000, 9);                /* overlaps a by 20000 */
    hll_fill(whole, 0, 100000, 9);
    CU_ASSERT_EQUAL(hll_merge(a, b), 0);
    CU_ASSERT_EQUAL(memcmp(a->reg, whole->reg, HLL_REG_BYTES(12)), 0);
    CU_ASSERT_EQUAL(hll_estimate(a), hll_estimate(whole));

    hll_reset(a);
    CU_ASSERT_EQUAL(hll_estimate(a), 0.0);
    struct hll *c = hll_create(10);
    CU_ASSERT_EQUAL(hll_merge(a, c), -EINVAL);
    hll_destroy(c);
    hll_destroy(a);
    hll_destroy(b);
    hll_destroy(whole);

    errno = 0;
    CU_ASSERT_PTR_NULL(hll_create(HLL_P_MIN - 1));
    CU_ASSERT_EQUAL(errno, EINVAL);
    CU_ASSERT_PTR_NULL(hll_create(HLL_P_MAX + 1));
}

/* Distinct destination ports per source: one 64-byte register array per
 * source, as a scan detector would keep them. A scanner must stand out. */
static void test_hll_per_key(void)
{
    enum { SOURCES = 2000, P = 6 };
    static uint8_t reg[SOURCES][HLL_REG_BYTES(P)];
    memset(reg, 0, sizeof(reg));
    struct rng r = { 11, 0 };
    for (unsigned s = 0; s < SOURCES; s++) {
        /* Normal sources touch 1..4 ports, many times over. */
        unsigned ports = 1 + (unsigned)(rng_next(&r) & 3);
        for (unsigned rep = 0; rep < 50; rep++)
            hll_reg_add(reg[s], P, sketch_hash128(s, 1000 + rep % ports, SEED));
    }
    for (unsigned port = 1; port <= 5000; port++)    /* source 7 scans */
        hll_reg_add(reg[7], P, sketch_hash128(7, port, SEED));

    unsigned flagged = 0;
    for (unsigned s = 0; s < SOURCES; s++) {
        double est = hll_reg_estimate(reg[s], P);
        if (est > 100)
            flagged++;
        if (s == 7) {
            CU_ASSERT(fabs(est - 5000) / 5000 <= 3 * hll_std_error(P));
        } else {
            CU_ASSERT(est < 6);
        }
    }
    CU_ASSERT_EQUAL(flagged, 1);

    /* Merging two workers' arrays for one source. */
    uint8_t w1[HLL_REG_BYTES(P)] = { 0 }, w2[HLL_REG_BYTES(P)] = { 0 };
    for (unsigned port = 0; port < 300; port++)
        hll_reg_add(port & 1 ? w1 : w2, P, sketch_hash128(9, port, SEED));
    hll_reg_merge(w1, w2, P);
    CU_ASSERT(fabs(hll_reg_estimate(w1, P) - 300) / 300 <= 3 * hll_std_error(P));
}

/* ---- Space-Saving ---------------------------------------------------------- */

#define ZIPF_UNIVERSE 100000u
#define ZIPF_ITEMS 1000000u

static double zipf_cdf[ZIPF_UNIVERSE];

static void zipf_init(double s)
{
    double sum = 0;
    for (uint32_t i = 0; i < ZIPF_UNIVERSE; i++)
        zipf_cdf[i] = (sum += pow(i + 1, -s));
    for (uint32_t i = 0; i < ZIPF_UNIVERSE; i++)
        zipf_cdf[i] /= sum;
}

static uint32_t zipf_rank(struct rng *r)   /* 0 is the most frequent */
{
    double u = rng_uniform(r);
    uint32_t lo = 0, hi = ZIPF_UNIVERSE - 1;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (zipf_cdf[mid] > u)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* Keys look like addresses, not ranks, so that heap order cannot follow
 * key order by accident. */
static uint64_t zipf_key(uint32_t rank)
{
    return sketch_hash64(rank, 0xabc) >> 16;
}

/* Ranks sorted by true count (ties by rank): the true top entries. */
static uint32_t *truth_ranked(const uint64_t *truth)
{
    uint32_t *order = malloc(ZIPF_UNIVERSE * sizeof(*order));
    for (uint32_t i = 0; i < ZIPF_UNIVERSE; i++)
        order[i] = i;
    /* Only the head matters: a partial selection sort of the top 16. */
    for (uint32_t i = 0; i < 16; i++) {
        uint32_t best = i;
        for (uint32_t j = i + 1; j < ZIPF_UNIVERSE; j++)
            if (truth[order[j]] > truth[order[best]])
                best = j;
        uint32_t tmp = order[i];
        order[i] = order[best];
        order[best] = tmp;
    }
    return order;
}

static uint64_t truth_of(const uint64_t *truth, uint64_t key)
{
    for (uint32_t i = 0; i < ZIPF_UNIVERSE; i++)
        if (zipf_key(i) == key)
            return truth[i];
    return 0;
}

/* Every listed entry brackets its true count, errors stay under N / k and
 * the true top 10 are all listed. */
static void check_topk(struct topk *t, const uint64_t *truth, uint32_t k)
{
    struct topk_entry out[1024];
    uint32_t n = topk_list(t, out, 1024);
    CU_ASSERT_EQUAL(n, k);
    uint64_t total = topk_total(t);
    CU_ASSERT_EQUAL(total, ZIPF_ITEMS);
    for (uint32_t i = 0; i < n; i++) {
        uint64_t f = truth_of(truth, out[i].key);
        CU_ASSERT(out[i].count >= f);
        CU_ASSERT(out[i].count - out[i].error <= f);
        CU_ASSERT(out[i].error * k <= total);
        if (i > 0) {
            CU_ASSERT(out[i].count <= out[i - 1].count);
        }
    }
    CU_ASSERT(topk_min(t) * k <= total);

    uint32_t *order = truth_ranked(truth);
    for (uint32_t r = 0; r < 10; r++) {
        uint64_t key = zipf_key(order[r]);
        bool found = false;
        for (uint32_t i = 0; i < n; i++)
            found |= out[i].key == key;
        CU_ASSERT(found);
    }
    /* The head is exact: the true top 5 lead the list, in order, with no
     * error (they never lost their counters). */
    for (uint32_t r = 0; r < 5; r++) {
        CU_ASSERT_EQUAL(out[r].key, zipf_key(order[r]));
        CU_ASSERT_EQUAL(out[r].count, truth[order[r]]);
    }
    free(order);
}

static void test_topk_zipf(void)
{
    const uint32_t k = 64;
    zipf_init(1.1);
    uint64_t *truth = calloc(ZIPF_UNIVERSE, sizeof(*truth));
    struct topk *t = topk_create(k, SEED);
    CU_ASSERT_FATAL(truth && t);
    struct rng r = { 21, 0 };
    for (uint32_t i = 0; i < ZIPF_ITEMS; i++) {
        uint32_t rank = zipf_rank(&r);
        truth[rank]++;
        topk_add(t, zipf_key(rank), 1);
    }
    check_topk(t, truth, k);
    topk_destroy(t);
    free(truth);
}

/* Four workers see interleaved parts of the stream (the same keys in
 * every part, as when flows of one destination spread over workers); the
 * main thread merges them into an empty accumulator. */
static void test_topk_merge_zipf(void)
{
    const uint32_t k = 64;
    zipf_init(1.1);
    uint64_t *truth = calloc(ZIPF_UNIVERSE, sizeof(*truth));
    struct topk *w[4], *acc = topk_create(k, SEED);
    for (int i = 0; i < 4; i++)
        w[i] = topk_create(k, SEED + (uint64_t)i);   /* seeds may differ */
    struct rng r = { 22, 0 };
    for (uint32_t i = 0; i < ZIPF_ITEMS; i++) {
        uint32_t rank = zipf_rank(&r);
        truth[rank]++;
        topk_add(w[i % 4], zipf_key(rank), 1);
    }
    for (int i = 0; i < 4; i++) {
        CU_ASSERT_EQUAL(topk_merge(acc, w[i]), 0);
        topk_destroy(w[i]);
    }
    check_topk(acc, truth, k);

    struct topk *other = topk_create(k + 1, SEED);
    CU_ASSERT_EQUAL(topk_merge(acc, other), -EINVAL);
    topk_destroy(other);
    topk_destroy(acc);
    free(truth);
}

static void test_topk_hand(void)
{
    struct topk_entry out[4];
    struct topk *t = topk_create(2, SEED);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    topk_add(t, 100, 3);
    topk_add(t, 200, 1);
    CU_ASSERT_EQUAL(topk_min(t), 1);
    topk_add(t, 300, 1);                 /* takes over 200's counter */
    CU_ASSERT_EQUAL(topk_list(t, out, 4), 2);
    CU_ASSERT(out[0].key == 100 && out[0].count == 3 && out[0].error == 0);
    CU_ASSERT(out[1].key == 300 && out[1].count == 2 && out[1].error == 1);
    topk_add(t, 300, 5);
    CU_ASSERT_EQUAL(topk_list(t, out, 1), 1);
    CU_ASSERT(out[0].key == 300 && out[0].count == 7);

    /* Merge: dst {1:5, 2:3}, src {3:4, 4:1}; each side pads what it lacks
     * with its minimum (3 and 1): 1 -> 6 (err 1), 2 -> 4 (1), 3 -> 7 (3),
     * 4 -> 4 (3). The two largest stay. */
    struct topk *dst = topk_create(2, SEED), *src = topk_create(2, SEED);
    topk_add(dst, 1, 5);
    topk_add(dst, 2, 3);
    topk_add(src, 3, 4);
    topk_add(src, 4, 1);
    CU_ASSERT_EQUAL(topk_merge(dst, src), 0);
    CU_ASSERT_EQUAL(topk_list(dst, out, 4), 2);
    CU_ASSERT(out[0].key == 3 && out[0].count == 7 && out[0].error == 3);
    CU_ASSERT(out[1].key == 1 && out[1].count == 6 && out[1].error == 1);
    CU_ASSERT_EQUAL(topk_total(dst), 13);
    CU_ASSERT_EQUAL(topk_min(dst), 6);

    /* Below k distinct keys everything is exact, merged or not. */
    topk_reset(dst);
    topk_reset(src);
    struct topk *big = topk_create(8, SEED), *big2 = topk_create(8, SEED);
    topk_add(big, 1, 2);
    topk_add(big, 2, 2);
    topk_add(big2, 2, 5);
    topk_add(big2, 3, 1);
    CU_ASSERT_EQUAL(topk_merge(big, big2), 0);
    CU_ASSERT_EQUAL(topk_list(big, out, 4), 3);
    CU_ASSERT(out[0].key == 2 && out[0].count == 7 && out[0].error == 0);
    CU_ASSERT(out[1].key == 1 && out[1].count == 2 && out[1].error == 0);
    CU_ASSERT(out[2].key == 3 && out[2].count == 1 && out[2].error == 0);
    CU_ASSERT_EQUAL(topk_min(big), 0);

    errno = 0;
    CU_ASSERT_PTR_NULL(topk_create(0, SEED));
    CU_ASSERT_EQUAL(errno, EINVAL);
    topk_destroy(t);
    topk_destroy(dst);
    topk_destroy(src);
    topk_destroy(big);
    topk_destroy(big2);
}

/* A spoofed flood: every packet a new key. The table must stay consistent
 * (counts sum to N, no key twice) and a real heavy hitter must survive. */
static void test_topk_churn(void)
{
    const uint32_t k = 16;
    struct topk *t = topk_create(k, SEED);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    struct rng r = { 33, 0 };
    for (uint32_t i = 0; i < 200000; i++) {
        topk_add(t, rng_next(&r), 1);
        if (i % 4 == 0)
            topk_add(t, 42, 1);
    }
    struct topk_entry out[16];
    uint32_t n = topk_list(t, out, 16);
    CU_ASSERT_EQUAL(n, k);
    uint64_t sum = 0;
    for (uint32_t i = 0; i < n; i++) {
        sum += out[i].count;
        for (uint32_t j = i + 1; j < n; j++)
            CU_ASSERT_NOT_EQUAL(out[i].key, out[j].key);
    }
    CU_ASSERT_EQUAL(sum, topk_total(t));
    CU_ASSERT_EQUAL(out[0].key, 42);
    CU_ASSERT(out[0].count - out[0].error <= 50000 && out[0].count >= 50000);
    topk_destroy(t);
}

/* ---- baselines ------------------------------------------------------------- */

#define NEAR(a, b) CU_ASSERT_DOUBLE_EQUAL((a), (b), 1e-9)

static void test_ewma_hand(void)
{
    struct ewma e;
    ewma_init(&e, 0.5, 0.0);
    NEAR(ewma_zscore(&e, 123), 0.0);
    ewma_update(&e, 10);
    NEAR(e.mean, 10);
    NEAR(e.var, 0);
    /* d = 10, mean 15, var = 0.5 * (0 + 0.5 * 100) = 25 */
    ewma_update(&e, 20);
    NEAR(e.mean, 15);
    NEAR(e.var, 25);
    /* d = 15, mean 22.5, var = 0.5 * (25 + 0.5 * 225) = 68.75 */
    ewma_update(&e, 30);
    NEAR(e.mean, 22.5);
    NEAR(e.var, 68.75);
    NEAR(ewma_std(&e), sqrt(68.75));
    NEAR(ewma_zscore(&e, 40), 17.5 / sqrt(68.75));
    NEAR(ewma_zscore(&e, 22.5), 0);

    /* alpha 0.1 on a constant then one jump. */
    ewma_init(&e, 0.1, 2.0);
    for (int i = 0; i < 5; i++)
        ewma_update(&e, 100);
    NEAR(e.var, 0);
    NEAR(ewma_std(&e), 2.0);                 /* the floor */
    NEAR(ewma_zscore(&e, 106), 3.0);
    ewma_update(&e, 110);                    /* d = 10: mean 101, var 0.9 * 10 = 9 */
    NEAR(e.mean, 101);
    NEAR(e.var, 9);
    NEAR(ewma_std(&e), 3);

    /* With no floor and no variance, any change is infinitely unusual. */
    ewma_init(&e, 0.1, 0.0);
    ewma_update(&e, 0);
    CU_ASSERT(isinf(ewma_zscore(&e, 1)) && ewma_zscore(&e, 1) > 0);
    NEAR(ewma_zscore(&e, 0), 0);
}

static void test_ewma_converges(void)
{
    struct ewma e;
    struct rng r = { 44, 0 };
    ewma_init(&e, 0.01, 0.0);
    for (int i = 0; i < 20000; i++)
        ewma_update(&e, 500 + 20 * rng_normal(&r));
    CU_ASSERT(fabs(e.mean - 500) < 5);
    CU_ASSERT(fabs(ewma_std(&e) - 20) < 3);
}

static void test_cusum_hand(void)
{
    struct cusum c;
    cusum_init(&c, 0.5, 2.0);
    static const double z[] = { 1, 1, 1, -3, 2, 1, 1 };
    static const double s[] = { 0.5, 1.0, 1.5, 0, 1.5, 2.0, 2.5 };
    static const uint64_t start[] = { 1, 1, 1, 0, 5, 5, 5 };
    static const bool alarm[] = { 0, 0, 0, 0, 0, 0, 1 };   /* s > h, not >= */
    for (int i = 0; i < 7; i++) {
        CU_ASSERT_EQUAL(cusum_update(&c, z[i]), alarm[i]);
        NEAR(c.s, s[i]);
        CU_ASSERT_EQUAL(c.start, start[i]);
    }
    CU_ASSERT(cusum_alarm(&c));
    cusum_reset(&c);
    CU_ASSERT(!cusum_alarm(&c));
    NEAR(c.s, 0);
    CU_ASSERT_EQUAL(c.n, 7);
}

/* Standard normal noise, then a 3-sigma step. k = 0.5, h = 10: the
 * in-control run length is ~10^5 values, the detection delay ~4. */
static void test_cusum_step(void)
{
    for (uint64_t seed = 1; seed <= 5; seed++) {
        struct cusum c;
        struct rng r = { seed * 31, 0 };
        cusum_init(&c, 0.5, 10.0);
        bool false_alarm = false;
        for (int i = 0; i < 2000; i++)
            false_alarm |= cusum_update(&c, rng_normal(&r));
        CU_ASSERT(!false_alarm);

        int delay = -1;
        for (int i = 0; i < 50 && delay < 0; i++)
            if (cusum_update(&c, 3.0 + rng_normal(&r)))
                delay = i + 1;
        CU_ASSERT(delay > 0 && delay <= 10);
        /* The change point estimate lands near value 2001. */
        CU_ASSERT(c.start >= 1990 && c.start <= 2002);
    }
}

/* The detector's loop: a per-tick rate scored against its EWMA baseline and
 * fed to CUSUM; the baseline does not learn from ticks in alarm. */
static void test_baseline_pipeline(void)
{
    struct ewma e;
    struct cusum c;
    struct rng r = { 55, 0 };
    ewma_init(&e, 0.05, 1.0);
    cusum_init(&c, 0.5, 10.0);
    int first_alarm = -1;
    for (int tick = 0; tick < 1500; tick++) {
        double rate = 1000 + 30 * rng_normal(&r) + (tick >= 1200 ? 300 : 0);
        if (tick >= 60) {                        /* one minute to warm up */
            if (cusum_update(&c, ewma_zscore(&e, rate)) && first_alarm < 0)
                first_alarm = tick;
        }
        if (!cusum_alarm(&c))
            ewma_update(&e, rate);
    }
    CU_ASSERT(first_alarm >= 1200 && first_alarm <= 1205);
    CU_ASSERT(cusum_alarm(&c));                  /* still in alarm at the end */
}

static CU_TestInfo cases[] = {
    { "hash: keyed, balanced bits", test_hash },
    { "count-min: no underestimate, eps*N with prob 1-delta", test_cm_bounds },
    { "count-min: merge equals the whole stream", test_cm_merge },
    { "count-min: conservative update", test_cm_conservative },
    { "count-min: saturation and bad sizes", test_cm_saturates_and_rejects },
    { "hll: 1e5 distinct within 3 standard errors", test_hll_accuracy },
    { "hll: unbiased across the mid range", test_hll_mid_range },
    { "hll: small cardinalities", test_hll_small },
    { "hll: merge of overlapping halves equals the whole", test_hll_merge },
    { "hll: per-key register arrays (scan)", test_hll_per_key },
    { "space-saving: Zipf 1.1 top 10 of 1e6, k=64", test_topk_zipf },
    { "space-saving: merge of four workers", test_topk_merge_zipf },
    { "space-saving: hand-checked update and merge", test_topk_hand },
    { "space-saving: churn keeps the table consistent", test_topk_churn },
    { "ewma: hand-computed mean, variance, z", test_ewma_hand },
    { "ewma: converges on stationary noise", test_ewma_converges },
    { "cusum: hand-computed sums and change point", test_cusum_hand },
    { "cusum: fires on a step, quiet on noise", test_cusum_step },
    { "ewma + cusum: rate step detected", test_baseline_pipeline },
    CU_TEST_INFO_NULL,
};

int main(void)
{
    return cunit_run("sketch", cases);
}
