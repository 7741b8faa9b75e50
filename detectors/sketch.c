/* sketch.c - Count-Min, HyperLogLog, Space-Saving and the baselines.
 *
 * The per-packet paths (cm_add, hll_add) are inline in sketch.h; this file
 * holds creation, the out-of-line updates (conservative Count-Min,
 * Space-Saving) and everything the main thread calls once per tick:
 * estimates, merges, lists, baselines. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sketch.h"
#include "table_mem.h"

/* Every sketch array starts on a cache line (table_mem.h), so a 64-byte
 * HLL is one line and a Count-Min row never shares a line with the next
 * one; arrays of a huge page or more get transparent huge pages: their
 * updates land on random lines, and with 4 KiB pages nearly every one would
 * also miss the TLB. */
static size_t cm_bytes(const struct cm_sketch *cm)
{
    return (size_t)cm->width * cm->depth * sizeof(uint32_t);
}

static bool is_pow2(uint64_t x)
{
    return x && !(x & (x - 1));
}

/* ---- Count-Min sketch --------------------------------------------------- */

/* Odd multipliers for the rows' multiply-shift hashes: the first splitmix64
 * outputs from state 0, low bit set. Fixed, not seeded: the key's hash is
 * already keyed, and fixed multipliers make any two sketches of the same
 * size mergeable. */
static const uint64_t cm_mult[CM_DEPTH_MAX] = {
    0xe220a8397b1dcdafULL, 0x6e789e6aa1b965f5ULL, 0x06c45d188009454fULL,
    0xf88bb8a8724c81edULL, 0x1b39896a51a8749bULL, 0x53cb9f0c747ea2ebULL,
    0x2c829abe1f4532e1ULL, 0xc584133ac916ab3dULL,
};

struct cm_sketch *cm_create(uint32_t width, uint32_t depth, unsigned flags)
{
    if (!is_pow2(width) || width < CM_WIDTH_MIN || width > CM_WIDTH_MAX ||
        depth < 1 || depth > CM_DEPTH_MAX || (flags & ~CM_CONSERVATIVE)) {
        errno = EINVAL;
        return NULL;
    }
    struct cm_sketch *cm = calloc(1, sizeof(*cm));
    if (!cm) {
        errno = ENOMEM;
        return NULL;
    }
    cm->width = width;
    cm->depth = depth;
    cm->counters = table_mem_alloc(cm_bytes(cm), TABLE_MEM_RESIDENT);
    if (!cm->counters) {
        free(cm);
        return NULL;
    }
    cm->log2_width = (uint32_t)__builtin_ctz(width);
    cm->shift = 64 - cm->log2_width;
    cm->flags = flags;
    memcpy(cm->mult, cm_mult, sizeof(cm->mult));
    return cm;
}

void cm_destroy(struct cm_sketch *cm)
{
    if (!cm)
        return;
    table_mem_free(cm->counters, cm_bytes(cm));
    free(cm);
}

uint32_t cm_estimate(const struct cm_sketch *cm, uint64_t hash)
{
    uint32_t min = UINT32_MAX;
    for (uint32_t i = 0; i < cm->depth; i++) {
        uint32_t c = *cm_counter(cm, i, hash);
        if (c < min)
            min = c;
    }
    return min;
}

/* Only the counters below the new lower bound (estimate + n) can be short
 * of the key's true count; the others already cover it. Every row is
 * written, with a max: whether a row is below the bound is a coin toss
 * for the branch predictor, and its line is in cache already. */
void cm_add_conservative(struct cm_sketch *cm, uint64_t hash, uint32_t n)
{
    uint32_t *c[CM_DEPTH_MAX];
    const uint32_t depth = cm->depth;
    uint32_t min = UINT32_MAX;
    for (uint32_t i = 0; i < depth; i++) {
        c[i] = cm_counter(cm, i, hash);
        min = *c[i] < min ? *c[i] : min;
    }
    uint32_t target = cm_sat_add(min, n);
    for (uint32_t i = 0; i < depth; i++)
        *c[i] = *c[i] > target ? *c[i] : target;
    cm->total += n;
}

int cm_merge(struct cm_sketch *dst, const struct cm_sketch *src)
{
    if (dst->width != src->width || dst->depth != src->depth)
        return -EINVAL;
    size_t n = (size_t)dst->width * dst->depth;
    for (size_t i = 0; i < n; i++)   /* vectorizes: add, compare, blend */
        dst->counters[i] = cm_sat_add(dst->counters[i], src->counters[i]);
    dst->total += src->total;
    return 0;
}

void cm_reset(struct cm_sketch *cm)
{
    memset(cm->counters, 0, (size_t)cm->width * cm->depth * sizeof(uint32_t));
    cm->total = 0;
}

double cm_epsilon(const struct cm_sketch *cm)
{
    return M_E / cm->width;
}

double cm_delta(const struct cm_sketch *cm)
{
    return exp(-(double)cm->depth);
}

size_t cm_memory(const struct cm_sketch *cm)
{
    return sizeof(*cm) + (size_t)cm->width * cm->depth * sizeof(uint32_t);
}

/* ---- HyperLogLog ---------------------------------------------------------- */

/* Ertl's sigma(x) = x + sum_k x^(2^k) 2^(k-1): the contribution of the
 * empty registers (x = their fraction). Infinite when all are empty. */
static double hll_sigma(double x)
{
    if (x == 1.0)
        return INFINITY;
    double y = 1.0, z = x, zp;
    do {
        x *= x;
        zp = z;
        z += x * y;
        y += y;
    } while (z != zp);
    return z;
}

/* Ertl's tau(x): the contribution of the saturated registers (rank 64-p+1),
 * which a 64-bit hash almost never produces. */
static double hll_tau(double x)
{
    if (x == 0.0 || x == 1.0)
        return 0.0;
    double y = 1.0, z = 1.0 - x, zp;
    do {
        x = sqrt(x);
        zp = z;
        y *= 0.5;
        z -= (1.0 - x) * (1.0 - x) * y;
    } while (z != zp);
    return z / 3.0;
}

double hll_reg_estimate(const uint8_t *reg, unsigned p)
{
    unsigned q = 64 - p;                     /* rank ranges over 1..q+1 */
    uint32_t hist[64 + 2] = { 0 };
    uint32_t m = 1u << p;
    for (uint32_t i = 0; i < m; i++)
        hist[reg[i] > q + 1 ? q + 1 : reg[i]]++;

    double z = m * hll_tau((double)(m - hist[q + 1]) / m);
    for (unsigned k = q; k >= 1; k--) {
        z += hist[k];
        z *= 0.5;
    }
    z += m * hll_sigma((double)hist[0] / m);
    return (0.5 / M_LN2) * m * m / z;        /* alpha_inf = 1 / (2 ln 2) */
}

void hll_reg_merge(uint8_t *dst, const uint8_t *src, unsigned p)
{
    size_t m = HLL_REG_BYTES(p);
    for (size_t i = 0; i < m; i++)           /* vectorizes to pmaxub */
        dst[i] = src[i] > dst[i] ? src[i] : dst[i];
}

struct hll *hll_create(unsigned p)
{
    if (p < HLL_P_MIN || p > HLL_P_MAX) {
        errno = EINVAL;
        return NULL;
    }
    struct hll *h = calloc(1, sizeof(*h));
    if (!h) {
        errno = ENOMEM;
        return NULL;
    }
    h->p = p;
    h->reg = table_mem_alloc(HLL_REG_BYTES(p), TABLE_MEM_RESIDENT);
    if (!h->reg) {
        free(h);
        return NULL;
    }
    return h;
}

void hll_destroy(struct hll *h)
{
    if (!h)
        return;
    table_mem_free(h->reg, HLL_REG_BYTES(h->p));
    free(h);
}

double hll_estimate(const struct hll *h)
{
    return hll_reg_estimate(h->reg, h->p);
}

int hll_merge(struct hll *dst, const struct hll *src)
{
    if (dst->p != src->p)
        return -EINVAL;
    hll_reg_merge(dst->reg, src->reg, dst->p);
    return 0;
}

void hll_reset(struct hll *h)
{
    memset(h->reg, 0, HLL_REG_BYTES(h->p));
}

double hll_std_error(unsigned p)
{
    return 1.04 / sqrt((double)(1u << p));
}

size_t hll_memory(const struct hll *h)
{
    return sizeof(*h) + HLL_REG_BYTES(h->p);
}

/* ---- Space-Saving top-k ---------------------------------------------------- */

/* A counter, in the heap. `slot` is where the table points at it, so that a
 * heap move can fix the table; `home` is its table slot of first choice,
 * so that a table deletion need not rehash. */
struct topk_node {
    uint64_t key;
    uint64_t count;
    uint64_t error;
    uint32_t slot;
    uint32_t home;
};

struct topk {
    uint32_t k;
    uint32_t size;                   /* counters in use */
    uint32_t mask;                   /* table slots - 1 */
    uint32_t shift;                  /* 64 - log2(table slots) */
    uint64_t mult;                   /* odd, from the seed: the table's hash */
    uint64_t total;
    struct topk_node *heap;          /* min-heap by count, size entries */
    uint32_t *table;                 /* heap index + 1, 0 = empty; load <= 1/4 */
    struct topk_entry *scratch;      /* 2k entries, for merge and list */
};

#define TOPK_MAX (1u << 24)

struct topk *topk_create(uint32_t k, uint64_t seed)
{
    if (k < 1 || k > TOPK_MAX) {
        errno = EINVAL;
        return NULL;
    }
    /* A quarter full at most: a flood of new keys makes every update a
     * miss, and a miss probes, deletes and probes again. At half load that
     * path cost twice as much. 4 bytes a slot, so this is cheap. */
    uint32_t slots = 2;
    while (slots < 4 * k)
        slots <<= 1;
    struct topk *t = calloc(1, sizeof(*t));
    if (!t) {
        errno = ENOMEM;
        return NULL;
    }
    t->k = k;
    t->mask = slots - 1;
    t->heap = table_mem_alloc((size_t)k * sizeof(*t->heap), TABLE_MEM_RESIDENT);
    t->table = table_mem_alloc((size_t)slots * sizeof(*t->table), TABLE_MEM_RESIDENT);
    t->scratch = table_mem_alloc((size_t)2 * k * sizeof(*t->scratch), TABLE_MEM_RESIDENT);
    if (!t->heap || !t->table || !t->scratch) {
        topk_destroy(t);
        errno = ENOMEM;
        return NULL;
    }
    t->shift = 64 - (uint32_t)__builtin_ctz(slots);
    t->mult = sketch_hash64(seed, 0) | 1;
    return t;
}

void topk_destroy(struct topk *t)
{
    if (!t)
        return;
    table_mem_free(t->heap, (size_t)t->k * sizeof(*t->heap));
    table_mem_free(t->table, ((size_t)t->mask + 1) * sizeof(*t->table));
    table_mem_free(t->scratch, (size_t)2 * t->k * sizeof(*t->scratch));
    free(t);
}

/* Multiply-shift by a seeded odd constant: universal, one multiply. A
 * table slot needs no more mixing than that. */
static uint32_t topk_home(const struct topk *t, uint64_t key)
{
    return (uint32_t)((key * t->mult) >> t->shift);
}

/* The table slot holding key, or the empty slot that ends its probe. */
static uint32_t topk_probe(const struct topk *t, uint64_t key, uint32_t home)
{
    uint32_t i = home;
    while (t->table[i] && t->heap[t->table[i] - 1].key != key)
        i = (i + 1) & t->mask;
    return i;
}

static const struct topk_node *topk_find(const struct topk *t, uint64_t key)
{
    uint32_t i = topk_probe(t, key, topk_home(t, key));
    return t->table[i] ? &t->heap[t->table[i] - 1] : NULL;
}

/* Put node at heap position pos and point its table slot at it. */
static void topk_place(struct topk *t, uint32_t pos, const struct topk_node *node)
{
    t->heap[pos] = *node;
    t->table[node->slot] = pos + 1;
}

static void topk_sift_up(struct topk *t, uint32_t pos)
{
    struct topk_node node = t->heap[pos];
    while (pos > 0) {
        uint32_t parent = (pos - 1) / 2;     /* a shift: unsigned by a constant */
        if (t->heap[parent].count <= node.count)
            break;
        topk_place(t, pos, &t->heap[parent]);
        pos = parent;
    }
    topk_place(t, pos, &node);
}

/* The smaller child of pos, or 0 when pos is a leaf. Written so that the
 * choice compiles to a conditional move: it is a coin toss for the branch
 * predictor. */
static uint32_t topk_smaller_child(const struct topk *t, uint32_t pos)
{
    uint32_t left = 2 * pos + 1;
    if (left >= t->size)
        return 0;
    uint32_t right = left + 1 < t->size ? left + 1 : left;
    return t->heap[right].count < t->heap[left].count ? right : left;
}

/* The counter at pos has grown: move it down past smaller children. A hit
 * on a heavy key usually ends at the first test, without moving anything. */
static void topk_sift_down(struct topk *t, uint32_t pos)
{
    uint32_t child = topk_smaller_child(t, pos);
    if (!child || t->heap[pos].count <= t->heap[child].count)
        return;
    struct topk_node node = t->heap[pos];
    do {
        topk_place(t, pos, &t->heap[child]);
        pos = child;
        child = topk_smaller_child(t, pos);
    } while (child && t->heap[child].count < node.count);
    topk_place(t, pos, &node);
}

/* Linear probing deletion by backward shift: later entries of the cluster
 * move up unless that would put them before their home slot. No
 * tombstones, so probes stay short however long the summary churns. */
static void topk_table_delete(struct topk *t, uint32_t hole)
{
    uint32_t j = hole;
    for (;;) {
        t->table[hole] = 0;
        for (;;) {
            j = (j + 1) & t->mask;
            if (!t->table[j])
                return;
            uint32_t home = t->heap[t->table[j] - 1].home;
            /* Stays if home lies cyclically in (hole, j]. */
            bool stays = hole <= j ? (hole < home && home <= j)
                                   : (hole < home || home <= j);
            if (!stays)
                break;
        }
        t->table[hole] = t->table[j];
        t->heap[t->table[hole] - 1].slot = hole;
        hole = j;
    }
}

void topk_add(struct topk *t, uint64_t key, uint64_t n)
{
    uint32_t home = topk_home(t, key);
    uint32_t slot = topk_probe(t, key, home);
    t->total += n;

    if (t->table[slot]) {                    /* monitored: count up */
        uint32_t pos = t->table[slot] - 1;
        t->heap[pos].count += n;
        topk_sift_down(t, pos);
        return;
    }
    if (t->size < t->k) {                    /* a free counter */
        uint32_t pos = t->size++;
        t->heap[pos] = (struct topk_node){ key, n, 0, slot, home };
        t->table[slot] = pos + 1;
        topk_sift_up(t, pos);
        return;
    }
    /* The smallest counter changes hands; what it counted becomes the new
     * key's error. Deleting its slot can shift the new key's probe, so
     * probe again afterwards. */
    struct topk_node *root = &t->heap[0];
    topk_table_delete(t, root->slot);
    slot = topk_probe(t, key, home);
    root->key = key;
    root->error = root->count;
    root->count += n;
    root->slot = slot;
    root->home = home;
    t->table[slot] = 1;
    topk_sift_down(t, 0);
}

/* Full summaries bound what they might have missed by their smallest count;
 * one with a free counter has seen every key it was given. */
uint64_t topk_min(const struct topk *t)
{
    return t->size == t->k ? t->heap[0].count : 0;
}

static int topk_entry_cmp(const void *a, const void *b)
{
    const struct topk_entry *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return (x->key > y->key) - (x->key < y->key);
}

int topk_merge(struct topk *dst, const struct topk *src)
{
    if (dst->k != src->k)
        return -EINVAL;
    uint64_t dst_min = topk_min(dst), src_min = topk_min(src);
    uint32_t n = 0;

    for (uint32_t i = 0; i < dst->size; i++) {
        const struct topk_node *d = &dst->heap[i];
        const struct topk_node *s = topk_find(src, d->key);
        dst->scratch[n++] = (struct topk_entry){
            d->key,
            d->count + (s ? s->count : src_min),
            d->error + (s ? s->error : src_min),
        };
    }
    for (uint32_t i = 0; i < src->size; i++) {
        const struct topk_node *s = &src->heap[i];
        if (topk_find(dst, s->key))
            continue;
        dst->scratch[n++] = (struct topk_entry){
            s->key, s->count + dst_min, s->error + dst_min,
        };
    }
    qsort(dst->scratch, n, sizeof(*dst->scratch), topk_entry_cmp);

    /* Keep the k largest. Ascending order is a valid min-heap. */
    uint32_t keep = n < dst->k ? n : dst->k;
    uint64_t total = dst->total + src->total;
    topk_reset(dst);
    dst->total = total;
    for (uint32_t i = 0; i < keep; i++) {
        const struct topk_entry *e = &dst->scratch[keep - 1 - i];
        uint32_t home = topk_home(dst, e->key);
        uint32_t slot = topk_probe(dst, e->key, home);
        struct topk_node node = { e->key, e->count, e->error, slot, home };
        topk_place(dst, i, &node);
    }
    dst->size = keep;
    return 0;
}

uint32_t topk_list(struct topk *t, struct topk_entry *out, uint32_t max)
{
    for (uint32_t i = 0; i < t->size; i++) {
        const struct topk_node *node = &t->heap[i];
        t->scratch[i] = (struct topk_entry){ node->key, node->count, node->error };
    }
    qsort(t->scratch, t->size, sizeof(*t->scratch), topk_entry_cmp);
    uint32_t n = t->size < max ? t->size : max;
    if (n)
        memcpy(out, t->scratch, (size_t)n * sizeof(*out));
    return n;
}

void topk_reset(struct topk *t)
{
    memset(t->table, 0, ((size_t)t->mask + 1) * sizeof(*t->table));
    t->size = 0;
    t->total = 0;
}

uint64_t topk_total(const struct topk *t)
{
    return t->total;
}

uint32_t topk_size(const struct topk *t)
{
    return t->size;
}

size_t topk_memory(const struct topk *t)
{
    return sizeof(*t) + (size_t)t->k * sizeof(*t->heap) +
           ((size_t)t->mask + 1) * sizeof(*t->table) +
           (size_t)2 * t->k * sizeof(*t->scratch);
}

/* ---- baselines ------------------------------------------------------------- */

void ewma_init(struct ewma *e, double alpha, double std_floor)
{
    *e = (struct ewma){ .alpha = alpha, .std_floor = std_floor };
}

void ewma_update(struct ewma *e, double x)
{
    if (e->n++ == 0) {
        e->mean = x;
        e->var = 0.0;
        return;
    }
    double d = x - e->mean;
    double incr = e->alpha * d;
    e->mean += incr;
    e->var = (1.0 - e->alpha) * (e->var + d * incr);
}

double ewma_std(const struct ewma *e)
{
    double sd = sqrt(e->var);
    return sd > e->std_floor ? sd : e->std_floor;
}

double ewma_zscore(const struct ewma *e, double x)
{
    if (e->n == 0)
        return 0.0;
    double sd = ewma_std(e);
    if (sd <= 0.0)                          /* no floor and no variance yet */
        return x == e->mean ? 0.0 : (x > e->mean ? INFINITY : -INFINITY);
    return (x - e->mean) / sd;
}

void cusum_init(struct cusum *c, double k, double h)
{
    *c = (struct cusum){ .k = k, .h = h };
}

bool cusum_update(struct cusum *c, double z)
{
    c->n++;
    double s = c->s + z - c->k;
    if (s <= 0.0) {
        c->s = 0.0;
        c->start = 0;
    } else {
        if (c->s == 0.0)
            c->start = c->n;
        c->s = s;
    }
    return cusum_alarm(c);
}

void cusum_reset(struct cusum *c)
{
    c->s = 0.0;
    c->start = 0;
}
