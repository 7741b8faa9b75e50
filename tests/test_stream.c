/* test_stream.c - TCP stream reassembly: in-order delivery and the window,
 * retransmissions and overlaps, out-of-order holding, SYN and midstream
 * starts, sequence wraparound, depth, the gap policy, slots and the pool,
 * and a shuffled random stream checked byte for byte. */
#include <stdlib.h>
#include <string.h>

#include "cunit_run.h"
#include "stream.h"

#define SYN 0x02
#define ACK 0x10

/* What the callback saw: the last call, and every new byte in order. */
struct sink {
    unsigned calls;
    uint8_t last[1 << 20];
    uint32_t last_len, last_base;
    uint8_t all[1 << 20];
    size_t all_len;
    unsigned max_base;
};

/* A delivery as one buffer [window | new], joined where the span says it
 * may be (an overrun of the room it promises is caught under ASan). */
static const uint8_t *join_span(const struct stream_span *sp, uint32_t *len, uint32_t *base)
{
    if (sp->data != sp->join)
        memmove(sp->join, sp->data, sp->len);
    memcpy(sp->join - sp->window_len, sp->window, sp->window_len);
    *len = sp->window_len + sp->len;
    *base = sp->window_len;
    return sp->join - sp->window_len;
}

static void sink_fn(void *ctx, const struct stream_span *sp)
{
    struct sink *s = ctx;
    uint32_t len, base;
    const uint8_t *buf = join_span(sp, &len, &base);

    s->calls++;
    CU_ASSERT(base < len);                  /* always some new bytes */
    CU_ASSERT_FATAL(len <= sizeof(s->last));
    memcpy(s->last, buf, len);
    s->last_len = len;
    s->last_base = base;
    if (base > s->max_base)
        s->max_base = base;
    CU_ASSERT_FATAL(s->all_len + len - base <= sizeof(s->all));
    memcpy(s->all + s->all_len, buf + base, len - base);
    s->all_len += len - base;
}

static struct sink *sink_new(void)
{
    return calloc(1, sizeof(struct sink));
}

/* The last callback's buffer is exactly `text`, of which `base` bytes window. */
static int last_is(const struct sink *s, const char *text, uint32_t base)
{
    size_t n = strlen(text);
    return s->last_len == n && s->last_base == base && memcmp(s->last, text, n) == 0;
}

static struct stream_table *table(uint32_t flows, uint32_t window, uint32_t depth,
                                  uint32_t ooo, uint32_t pool)
{
    struct stream_config c;
    char err[256];

    stream_config_default(&c);
    c.flows = flows;
    c.window = window;
    c.depth = depth;
    c.ooo_segments = ooo;
    c.ooo_pool_bytes = pool;
    c.extra_bytes = 24;
    struct stream_table *t = stream_table_create(&c, err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    return t;
}

static enum stream_result seg(struct stream_table *t, uint32_t slot, unsigned dir, uint32_t seq,
                              uint8_t flags, const char *text, struct sink *s)
{
    return stream_segment(t, slot, dir, seq, flags, (const uint8_t *)text,
                          (uint32_t)strlen(text), sink_fn, s);
}

static uint64_t ctr(const struct stream_table *t, enum stream_counter i)
{
    return stream_counter(t, i);
}

static void test_defaults_and_names(void)
{
    struct stream_config c;
    char err[256] = "";

    stream_config_default(&c);
    CU_ASSERT_EQUAL(c.flows, 65536);
    CU_ASSERT_EQUAL(c.window, 512);
    CU_ASSERT_EQUAL(c.depth, 1u << 20);
    CU_ASSERT_EQUAL(c.ooo_segments, 8);
    CU_ASSERT_EQUAL(c.ooo_pool_bytes, 4u << 20);
    CU_ASSERT_STRING_EQUAL(stream_counter_name(STREAM_SEGMENTS), "stream.segments");
    CU_ASSERT_STRING_EQUAL(stream_counter_name(STREAM_GAPS), "stream.gaps");
    CU_ASSERT_PTR_NULL(stream_counter_name(STREAM_COUNTER_COUNT));
    c.flows = 0;
    CU_ASSERT_PTR_NULL(stream_table_create(&c, err, sizeof(err)));
    CU_ASSERT(strstr(err, "flows") != NULL);
    stream_config_default(&c);
    struct stream_table *t = stream_table_create(&c, err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    /* windows for both directions of every slot, plus the pool */
    CU_ASSERT(stream_table_memory(t) >= (size_t)65536 * 2 * 512 + (4u << 20));
    stream_table_destroy(t);
}

static void test_in_order_window_growth(void)
{
    struct stream_table *t = table(4, 8, 0, 8, 4096);
    struct sink *s = sink_new();
    uint32_t slot = stream_slot_alloc(t);

    CU_ASSERT_EQUAL_FATAL(slot, 1);
    CU_ASSERT_EQUAL(seg(t, slot, 0, 1000, ACK, "abcd", s), STREAM_DELIVERED);
    CU_ASSERT(last_is(s, "abcd", 0));
    CU_ASSERT_EQUAL(seg(t, slot, 0, 1004, ACK, "efgh", s), STREAM_DELIVERED);
    CU_ASSERT(last_is(s, "abcdefgh", 4));
    CU_ASSERT_EQUAL(seg(t, slot, 0, 1008, ACK, "ijkl", s), STREAM_DELIVERED);
    CU_ASSERT(last_is(s, "abcdefghijkl", 8));
    CU_ASSERT_EQUAL(seg(t, slot, 0, 1012, ACK, "mn", s), STREAM_DELIVERED);
    CU_ASSERT(last_is(s, "efghijklmn", 8));     /* the window slid */
    CU_ASSERT_EQUAL(s->calls, 4);
    CU_ASSERT_EQUAL(ctr(t, STREAM_SEGMENTS), 4);
    CU_ASSERT_EQUAL(ctr(t, STREAM_DELIVERIES), 4);
    CU_ASSERT_EQUAL(ctr(t, STREAM_BYTES), 14);
    CU_ASSERT_EQUAL(ctr(t, STREAM_RETRANSMIT_BYTES), 0);
    /* the other direction is separate: its own start, its own window */
    CU_ASSERT_EQUAL(seg(t, slot, 1, 50, ACK, "xyz", s), STREAM_DELIVERED);
    CU_ASSERT(last_is(s, "xyz", 0));
    CU_ASSERT_EQUAL(seg(t, slot, 0, 1014, ACK, "o", s), STREAM_DELIVERED);
    CU_ASSERT(last_is(s, "ghijklmno", 8));
    stream_table_destroy(t);
    free(s);
}

static void test_content_across_segments(void)
{
    struct stream_table *t = table(4, 512, 0, 8, 4096);
    struct sink *s = sink_new();
    uint32_t slot = stream_slot_alloc(t);

    seg(t, slot, 0, 1, SYN, "", s);
    CU_ASSERT_EQUAL(seg(t, slot, 0, 2, ACK, "GET /ev", s), STREAM_DELIVERED);
    CU_ASSERT_EQUAL(seg(t, slot, 0, 9, ACK, "il.php HTTP/1.1\r\n", s), STREAM_DELIVERED);
    CU_ASSERT_EQUAL(s->last_base, 7);
    const char *hit = memmem(s->last, s->last_len, "/evil.php", 9);
    CU_ASSERT_PTR_NOT_NULL_FATAL(hit);
    /* the match starts in the window and ends in the new bytes */
    CU_ASSERT((uint32_t)(hit - (const char *)s->last) < s->last_base);
    CU_ASSERT((uint32_t)(hit - (const char *)s->last) + 9 > s->last_base);
    stream_table_destroy(t);
    free(s);
}

static void test_out_of_order(void)
{
    struct stream_table *t = table(4, 512, 0, 8, 4096);
    struct sink *s = sink_new();
    uint32_t slot = stream_slot_alloc(t);

    /* two segments: C held, B fills the gap, B and C in one callback */
    CU_ASSERT_EQUAL(seg(t, slot, 0, 100, ACK, "aaaa", s), STREAM_DELIVERED);
    CU_ASSERT_EQUAL(seg(t, slot, 0, 108, ACK, "cccc", s), STREAM_HELD);
    CU_ASSERT_EQUAL(s->calls, 1);
    CU_ASSERT(ctr(t, STREAM_OOO_BYTES) == 4);
    CU_ASSERT_EQUAL(seg(t, slot, 0, 104, ACK, "bbbb", s), STREAM_DELIVERED);
    CU_ASSERT_EQUAL(s->calls, 2);
    CU_ASSERT(last_is(s, "aaaabbbbcccc", 4));
    CU_ASSERT_EQUAL(ctr(t, STREAM_OOO_HELD), 1);
    CU_ASSERT_EQUAL(ctr(t, STREAM_OOO_RELEASED), 1);
    CU_ASSERT_EQUAL(ctr(t, STREAM_OOO_BYTES), 0);

    /* three: E and F arrive reversed and overlapping, D releases all */
    CU_ASSERT_EQUAL(seg(t, slot, 0, 120, ACK, "ffff", s), STREAM_HELD);
    CU_ASSERT_EQUAL(seg(t, slot, 0, 116, ACK, "eeeeFF", s), STREAM_HELD);
    CU_ASSERT_EQUAL(seg(t, slot, 0, 120, ACK, "ff", s), STREAM_RETRANSMIT);  /* held already */
    CU_ASSERT_EQUAL(s->calls, 2);
    CU_ASSERT_EQUAL(seg(t, slot, 0, 112, ACK, "dddd", s), STREAM_DELIVERED);
    CU_ASSERT_EQUAL(s->calls, 3);
    /* the first copy of bytes 120-121 wins: "FF" arrived before "ff" was released */
    CU_ASSERT(last_is(s, "aaaabbbbccccddddeeeeFFff", 12));
    CU_ASSERT_EQUAL(ctr(t, STREAM_OOO_RELEASED), 3);
    CU_ASSERT_EQUAL(ctr(t, STREAM_RETRANSMIT_BYTES), 4);  /* "ff" twice: held copy, then trimmed */
    CU_ASSERT_EQUAL(ctr(t, STREAM_OOO_BYTES), 0);
    CU_ASSERT_EQUAL(s->all_len, 24);
    CU_ASSERT(memcmp(s->all, "aaaabbbbccccddddeeeeFFff", 24) == 0);
    stream_table_destroy(t);
    free(s);
}

static void test_retransmission_and_overlap(void)
{
    struct stream_table *t = table(4, 512, 0, 8, 4096);
    struct sink *s = sink_new();
    uint32_t slot = stream_slot_alloc(t);

    seg(t, slot, 0, 1000, ACK, "abcd", s);
    CU_ASSERT_EQUAL(seg(t, slot, 0, 1000, ACK, "abcd", s), STREAM_RETRANSMIT);
    CU_ASSERT_EQUAL(seg(t, slot, 0, 1001, ACK, "XY", s), STREAM_RETRANSMIT);
    CU_ASSERT_EQUAL(s->calls, 1);
    CU_ASSERT_EQUAL(ctr(t, STREAM_RETRANSMITS), 2);
    CU_ASSERT_EQUAL(ctr(t, STREAM_RETRANSMIT_BYTES), 6);
    /* partial overlap: only EF is new; the first copy of cd is kept */
    CU_ASSERT_EQUAL(seg(t, slot, 0, 1002, ACK, "CDEF", s), STREAM_DELIVERED);
    CU_ASSERT(last_is(s, "abcdEF", 4));
    CU_ASSERT_EQUAL(ctr(t, STREAM_RETRANSMIT_BYTES), 8);
    CU_ASSERT_EQUAL(ctr(t, STREAM_BYTES), 6);
    stream_table_destroy(t);
    free(s);
}

static void test_syn_and_midstream(void)
{
    struct stream_table *t = table(4, 512, 0, 8, 4096);
    struct sink *s = sink_new();
    uint32_t slot = stream_slot_alloc(t);

    /* TCP Fast Open: data on the SYN starts at seq + 1 */
    CU_ASSERT_EQUAL(seg(t, slot, 0, 5000, SYN, "hello", s), STREAM_DELIVERED);
    CU_ASSERT(last_is(s, "hello", 0));
    CU_ASSERT_EQUAL(seg(t, slot, 0, 5006, ACK, "world", s), STREAM_DELIVERED);
    CU_ASSERT(last_is(s, "helloworld", 5));
    CU_ASSERT_EQUAL(seg(t, slot, 0, 5000, SYN, "hello", s), STREAM_RETRANSMIT);

    /* a bare SYN: data starts at seq + 1; a segment at seq + 2 is held */
    CU_ASSERT_EQUAL(seg(t, slot, 1, 9000, SYN | ACK, "", s), STREAM_EMPTY);
    CU_ASSERT_EQUAL(seg(t, slot, 1, 9002, ACK, "2", s), STREAM_HELD);
    CU_ASSERT_EQUAL(seg(t, slot, 1, 9001, ACK, "1", s), STREAM_DELIVERED);
    CU_ASSERT(last_is(s, "12", 0));

    /* midstream: the first segment seen sets the start */
    uint32_t mid = stream_slot_alloc(t);
    CU_ASSERT_EQUAL(seg(t, mid, 0, 777, ACK, "", s), STREAM_EMPTY);  /* pure ACK: no start */
    CU_ASSERT_EQUAL(seg(t, mid, 0, 123456, ACK, "mid", s), STREAM_DELIVERED);
    CU_ASSERT(last_is(s, "mid", 0));
    CU_ASSERT_EQUAL(seg(t, mid, 0, 123450, ACK, "before", s), STREAM_RETRANSMIT);
    CU_ASSERT_EQUAL(seg(t, mid, 0, 123459, ACK, "dle", s), STREAM_DELIVERED);
    CU_ASSERT(last_is(s, "middle", 3));

    /* a SYN retransmitted keeps what is held; a new ISN before any
     * delivery restarts the direction and drops what was held */
    uint32_t re = stream_slot_alloc(t);
    CU_ASSERT_EQUAL(seg(t, re, 0, 100, SYN, "", s), STREAM_EMPTY);
    CU_ASSERT_EQUAL(seg(t, re, 0, 150, ACK, "x", s), STREAM_HELD);
    CU_ASSERT_EQUAL(seg(t, re, 0, 100, SYN, "", s), STREAM_EMPTY);
    CU_ASSERT_EQUAL(ctr(t, STREAM_OOO_BYTES), 1);
    CU_ASSERT_EQUAL(seg(t, re, 0, 700, SYN, "", s), STREAM_EMPTY);
    CU_ASSERT_EQUAL(ctr(t, STREAM_OOO_BYTES), 0);
    CU_ASSERT_EQUAL(ctr(t, STREAM_OOO_DISCARDED), 1);
    CU_ASSERT_EQUAL(seg(t, re, 0, 701, ACK, "new", s), STREAM_DELIVERED);
    CU_ASSERT(last_is(s, "new", 0));
    stream_table_destroy(t);
    free(s);
}

static void test_wraparound(void)
{
    struct stream_table *t = table(4, 512, 0, 8, 4096);
    struct sink *s = sink_new();
    uint32_t slot = stream_slot_alloc(t);

    CU_ASSERT_EQUAL(seg(t, slot, 0, 0xfffffff9u, SYN, "", s), STREAM_EMPTY);
    CU_ASSERT_EQUAL(seg(t, slot, 0, 0xfffffffau, ACK, "abcd", s), STREAM_DELIVERED);
    /* held across the wrap, then filled by a segment that crosses 0 */
    CU_ASSERT_EQUAL(seg(t, slot, 0, 2, ACK, "ghij", s), STREAM_HELD);
    CU_ASSERT_EQUAL(seg(t, slot, 0, 0xfffffffeu, ACK, "ef", s), STREAM_DELIVERED);
    CU_ASSERT(last_is(s, "abcdef", 4));
    CU_ASSERT_EQUAL(seg(t, slot, 0, 0, ACK, "GH", s), STREAM_DELIVERED);   /* "gh" at 0, 1 */
    CU_ASSERT(last_is(s, "abcdefGHghij", 6));
    CU_ASSERT_EQUAL(seg(t, slot, 0, 0xfffffffcu, ACK, "cdef", s), STREAM_RETRANSMIT);
    CU_ASSERT_EQUAL(seg(t, slot, 0, 4, ACK, "ijkl", s), STREAM_DELIVERED);
    CU_ASSERT(last_is(s, "abcdefGHghijkl", 12));
    CU_ASSERT_EQUAL(s->all_len, 14);
    stream_table_destroy(t);
    free(s);
}

static void test_depth(void)
{
    struct stream_table *t = table(4, 512, 10, 8, 4096);
    struct sink *s = sink_new();
    uint32_t slot = stream_slot_alloc(t);

    CU_ASSERT_EQUAL(seg(t, slot, 0, 0, ACK, "012345", s), STREAM_DELIVERED);
    CU_ASSERT_EQUAL(seg(t, slot, 0, 8, ACK, "89abcdef", s), STREAM_HELD);
    CU_ASSERT_EQUAL(seg(t, slot, 0, 6, ACK, "67", s), STREAM_DELIVERED);
    CU_ASSERT(last_is(s, "0123456789", 6));      /* cut at depth 10 */
    CU_ASSERT_EQUAL(ctr(t, STREAM_DEPTH_REACHED), 1);
    CU_ASSERT_EQUAL(ctr(t, STREAM_DEPTH_BYTES), 6);
    CU_ASSERT_EQUAL(seg(t, slot, 0, 16, ACK, "ghij", s), STREAM_DEPTH);
    CU_ASSERT_EQUAL(seg(t, slot, 0, 30, ACK, "xyz", s), STREAM_DEPTH);
    CU_ASSERT_EQUAL(seg(t, slot, 0, 16, ACK, "ghij", s), STREAM_DEPTH);   /* nothing new */
    CU_ASSERT_EQUAL(s->calls, 2);
    CU_ASSERT_EQUAL(ctr(t, STREAM_DEPTH_REACHED), 1);          /* once per direction */
    CU_ASSERT_EQUAL(ctr(t, STREAM_DEPTH_BYTES), 6 + 4 + 13);   /* up to seq 33 */
    CU_ASSERT_EQUAL(ctr(t, STREAM_BYTES), 10);
    /* the other direction still delivers */
    CU_ASSERT_EQUAL(seg(t, slot, 1, 0, ACK, "other", s), STREAM_DELIVERED);

    /* held segments are discarded when depth is reached */
    uint32_t two = stream_slot_alloc(t);
    seg(t, two, 0, 0, ACK, "0123", s);
    CU_ASSERT_EQUAL(seg(t, two, 0, 20, ACK, "far", s), STREAM_HELD);
    CU_ASSERT_EQUAL(ctr(t, STREAM_OOO_BYTES), 3);
    CU_ASSERT_EQUAL(seg(t, two, 0, 4, ACK, "456789", s), STREAM_DELIVERED);  /* exactly 10 */
    CU_ASSERT_EQUAL(ctr(t, STREAM_DEPTH_REACHED), 2);
    CU_ASSERT_EQUAL(ctr(t, STREAM_OOO_BYTES), 0);
    CU_ASSERT_EQUAL(ctr(t, STREAM_OOO_DISCARDED), 1);
    stream_table_destroy(t);
    free(s);
}

static void test_ooo_limit_gap_policy(void)
{
    struct stream_table *t = table(4, 512, 0, 2, 4096);
    struct sink *s = sink_new();
    uint32_t slot = stream_slot_alloc(t);

    seg(t, slot, 0, 0, ACK, "aaaa", s);              /* 4..8 is lost */
    CU_ASSERT_EQUAL(seg(t, slot, 0, 8, ACK, "cccc", s), STREAM_HELD);
    CU_ASSERT_EQUAL(seg(t, slot, 0, 12, ACK, "dddd", s), STREAM_HELD);
    /* a third can't be held: give up 4..8, deliver from 8 with no window,
     * then hold 17 (one byte beyond the run) in the room made */
    CU_ASSERT_EQUAL(seg(t, slot, 0, 17, ACK, "ffff", s), STREAM_DELIVERED);
    CU_ASSERT(last_is(s, "ccccdddd", 0));
    CU_ASSERT_EQUAL(ctr(t, STREAM_OOO_DROPPED), 1);
    CU_ASSERT_EQUAL(ctr(t, STREAM_GAPS), 1);
    CU_ASSERT_EQUAL(ctr(t, STREAM_GAP_BYTES), 4);
    CU_ASSERT_EQUAL(ctr(t, STREAM_OOO_HELD), 3);
    CU_ASSERT_EQUAL(ctr(t, STREAM_OOO_BYTES), 4);
    /* the flow goes on: the late 4..8 is old news, 16 releases 17 */
    CU_ASSERT_EQUAL(seg(t, slot, 0, 4, ACK, "bbbb", s), STREAM_RETRANSMIT);
    CU_ASSERT_EQUAL(seg(t, slot, 0, 16, ACK, "e", s), STREAM_DELIVERED);
    CU_ASSERT(last_is(s, "ccccddddeffff", 8));
    CU_ASSERT_EQUAL(s->all_len, 17);
    CU_ASSERT(memcmp(s->all, "aaaaccccddddeffff", 17) == 0);

    /* no holding at all (ooo_segments 0): each gap is skipped at once */
    struct stream_table *t0 = table(4, 512, 0, 0, 4096);
    uint32_t z = stream_slot_alloc(t0);
    seg(t0, z, 0, 0, ACK, "ab", s);
    CU_ASSERT_EQUAL(seg(t0, z, 0, 10, ACK, "kl", s), STREAM_DELIVERED);
    CU_ASSERT(last_is(s, "kl", 0));
    CU_ASSERT_EQUAL(seg(t0, z, 0, 12, ACK, "mn", s), STREAM_DELIVERED);
    CU_ASSERT(last_is(s, "klmn", 2));
    CU_ASSERT_EQUAL(ctr(t0, STREAM_GAP_BYTES), 8);
    stream_table_destroy(t0);
    stream_table_destroy(t);
    free(s);
}

static void test_pool_exhausted(void)
{
    /* two 256-byte chunks for the whole table */
    struct stream_table *t = table(4, 512, 0, 8, 512);
    struct sink *s = sink_new();
    uint32_t a = stream_slot_alloc(t), b = stream_slot_alloc(t);
    uint32_t c = stream_slot_alloc(t), d = stream_slot_alloc(t);

    seg(t, a, 0, 0, ACK, "a", s);
    CU_ASSERT_EQUAL(seg(t, a, 0, 5, ACK, "held", s), STREAM_HELD);
    /* 299 bytes need two chunks, one is left: c skips its gap instead */
    char big[300];
    memset(big, 'z', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    seg(t, c, 0, 0, ACK, "c", s);
    CU_ASSERT_EQUAL(seg(t, c, 0, 10, ACK, big, s), STREAM_DELIVERED);
    CU_ASSERT_EQUAL(s->last_len, 299);
    CU_ASSERT_EQUAL(s->last_base, 0);
    CU_ASSERT_EQUAL(ctr(t, STREAM_OOO_DROPPED), 1);
    CU_ASSERT_EQUAL(ctr(t, STREAM_GAPS), 1);
    /* the last chunk goes to b; then d can hold nothing */
    seg(t, b, 0, 0, ACK, "b", s);
    CU_ASSERT_EQUAL(seg(t, b, 0, 5, ACK, "hold", s), STREAM_HELD);
    seg(t, d, 0, 0, ACK, "d", s);
    CU_ASSERT_EQUAL(seg(t, d, 0, 5, ACK, "skip", s), STREAM_DELIVERED);
    CU_ASSERT(last_is(s, "skip", 0));
    CU_ASSERT_EQUAL(ctr(t, STREAM_GAPS), 2);
    CU_ASSERT_EQUAL(ctr(t, STREAM_OOO_BYTES), 8);
    /* freeing a's slot returns its chunk: d can hold again */
    stream_slot_free(t, a);
    CU_ASSERT_EQUAL(ctr(t, STREAM_OOO_BYTES), 4);
    CU_ASSERT_EQUAL(ctr(t, STREAM_OOO_DISCARDED), 1);
    CU_ASSERT_EQUAL(seg(t, d, 0, 20, ACK, "again", s), STREAM_HELD);
    stream_slot_free(t, b);
    stream_slot_free(t, d);
    CU_ASSERT_EQUAL(ctr(t, STREAM_OOO_BYTES), 0);
    CU_ASSERT_EQUAL(ctr(t, STREAM_OOO_DISCARDED), 3);
    stream_table_destroy(t);
    free(s);
}

static void test_slots(void)
{
    struct stream_table *t = table(2, 512, 0, 8, 4096);
    struct sink *s = sink_new();

    uint32_t a = stream_slot_alloc(t), b = stream_slot_alloc(t);
    CU_ASSERT_EQUAL(a, 1);
    CU_ASSERT_EQUAL(b, 2);
    CU_ASSERT_EQUAL(stream_slot_alloc(t), 0);
    CU_ASSERT_EQUAL(stream_slot_alloc(t), 0);
    CU_ASSERT_EQUAL(ctr(t, STREAM_NO_SLOT), 2);
    CU_ASSERT_EQUAL(ctr(t, STREAM_SLOTS_IN_USE), 2);
    /* extra bytes: distinct per slot, aligned, zeroed on reuse */
    uint8_t *ea = stream_slot_extra(t, a), *eb = stream_slot_extra(t, b);
    CU_ASSERT(ea + 24 <= eb);
    CU_ASSERT(((uintptr_t)ea & 15) == 0 && ((uintptr_t)eb & 15) == 0);
    memset(ea, 0xab, 24);
    seg(t, a, 0, 0, ACK, "old", s);
    CU_ASSERT_EQUAL(seg(t, a, 0, 10, ACK, "held", s), STREAM_HELD);
    stream_slot_free(t, a);
    stream_slot_free(t, a);                       /* twice: ignored */
    CU_ASSERT_EQUAL(ctr(t, STREAM_SLOTS_IN_USE), 1);
    CU_ASSERT_EQUAL(ctr(t, STREAM_OOO_BYTES), 0);
    CU_ASSERT_EQUAL(seg(t, a, 0, 3, ACK, "x", s), STREAM_INVALID);   /* freed slot */
    CU_ASSERT_EQUAL(stream_slot_alloc(t), a);
    static const uint8_t zero[24];
    CU_ASSERT(memcmp(ea, zero, 24) == 0);
    /* fresh state: a new start, no window from the old flow */
    CU_ASSERT_EQUAL(seg(t, a, 0, 500, ACK, "new", s), STREAM_DELIVERED);
    CU_ASSERT(last_is(s, "new", 0));
    CU_ASSERT_EQUAL(seg(t, 0, 0, 1, ACK, "x", s), STREAM_INVALID);
    CU_ASSERT_EQUAL(seg(t, 3, 0, 1, ACK, "x", s), STREAM_INVALID);
    CU_ASSERT_EQUAL(seg(t, a, 2, 1, ACK, "x", s), STREAM_INVALID);
    CU_ASSERT_EQUAL(ctr(t, STREAM_INVALID_SEGMENTS), 4);
    stream_table_destroy(t);
    free(s);
}

static void test_window_bounded(void)
{
    struct stream_table *t = table(4, 16, 0, 8, 4096);
    struct sink *s = sink_new();
    uint32_t slot = stream_slot_alloc(t);
    uint8_t data[1000];

    for (unsigned i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 7 + i / 256);
    for (unsigned off = 0; off < sizeof(data); off += 10) {
        unsigned before = s->calls;
        stream_segment(t, slot, 0, 42 + off, ACK, data + off, 10, sink_fn, s);
        CU_ASSERT_EQUAL_FATAL(s->calls, before + 1);
        uint32_t win = off < 16 ? off : 16;
        CU_ASSERT_EQUAL(s->last_base, win);
        CU_ASSERT(memcmp(s->last, data + off - win, win + 10) == 0);
    }
    CU_ASSERT_EQUAL(s->max_base, 16);
    /* one segment longer than the window: the next window is its tail */
    uint8_t big[100];
    memset(big, 'q', sizeof(big));
    big[99] = 'Z';
    stream_segment(t, slot, 0, 42 + 1000, ACK, big, sizeof(big), sink_fn, s);
    stream_segment(t, slot, 0, 42 + 1100, ACK, (const uint8_t *)"!", 1, sink_fn, s);
    CU_ASSERT_EQUAL(s->last_base, 16);
    CU_ASSERT_EQUAL(s->last[15], 'Z');
    CU_ASSERT_EQUAL(s->last[16], '!');
    stream_table_destroy(t);
    free(s);
}

/* A random stream cut into random segments, sent shuffled with duplicates
 * and overlaps: with room to hold everything, the bytes come out exactly
 * once and in order, and every window is the bytes just before. */
struct checker {
    const uint8_t *orig;
    size_t pos;
    unsigned bad;
    unsigned calls;
};

static void check_fn(void *ctx, const struct stream_span *sp)
{
    struct checker *c = ctx;
    uint32_t len, base;
    const uint8_t *buf = join_span(sp, &len, &base);

    c->calls++;
    c->bad += base > c->pos || base > 64;
    if (base <= c->pos)
        c->bad += memcmp(buf, c->orig + c->pos - base, len) != 0;
    c->pos += len - base;
}

static void test_random_shuffle(void)
{
    enum { N = 200000 };
    struct stream_table *t = table(4, 64, 0, 1024, 64u << 20);
    uint8_t *orig = malloc(N);
    struct { uint32_t off, len; } *segs = malloc(sizeof(*segs) * (N + N / 2));
    unsigned n = 0, originals = 0;

    srand(7);
    for (unsigned i = 0; i < N; i++)
        orig[i] = (uint8_t)rand();
    for (uint32_t off = 0; off < N; originals++) {
        uint32_t len = 1 + (uint32_t)rand() % 300;
        if (off + len > N)
            len = N - off;
        segs[n].off = off;
        segs[n].len = len;
        n++;
        off += len;
        /* now and then a duplicate or overlapping resend near here */
        if (rand() % 4 == 0) {
            uint32_t from = off > 400 ? off - 400 : 0;
            uint32_t dup = from + (uint32_t)rand() % 800;
            uint32_t dlen = 1 + (uint32_t)rand() % 500;
            if (dup < N) {
                segs[n].off = dup;
                segs[n].len = dup + dlen > N ? N - dup : dlen;
                n++;
            }
        }
    }
    /* local shuffle: swap within a distance of 8, like real reordering */
    for (unsigned i = 0; i + 1 < n; i++) {
        unsigned j = i + (unsigned)rand() % 8;
        if (j < n) {
            uint32_t o = segs[i].off, l = segs[i].len;
            segs[i] = segs[j];
            segs[j].off = o;
            segs[j].len = l;
        }
    }
    struct checker c = { .orig = orig };
    uint32_t slot = stream_slot_alloc(t);
    uint32_t isn = 0xffff0000u;                  /* wraps halfway */
    stream_segment(t, slot, 0, isn, SYN, NULL, 0, check_fn, &c);
    for (unsigned i = 0; i < n; i++)
        stream_segment(t, slot, 0, isn + 1 + segs[i].off, ACK, orig + segs[i].off,
                       segs[i].len, check_fn, &c);
    /* whatever is still held waits for a segment that never came */
    for (unsigned i = 0; i < n; i++)
        stream_segment(t, slot, 0, isn + 1 + segs[i].off, ACK, orig + segs[i].off,
                       segs[i].len, check_fn, &c);
    CU_ASSERT_EQUAL(c.bad, 0);
    CU_ASSERT_EQUAL(c.pos, N);
    CU_ASSERT_EQUAL(stream_counter(t, STREAM_BYTES), N);
    CU_ASSERT_EQUAL(stream_counter(t, STREAM_GAPS), 0);
    CU_ASSERT_EQUAL(stream_counter(t, STREAM_OOO_BYTES), 0);
    CU_ASSERT(stream_counter(t, STREAM_OOO_RELEASED) > 0);
    CU_ASSERT(stream_counter(t, STREAM_RETRANSMIT_BYTES) > 0);
    CU_ASSERT(c.calls < originals);              /* held segments joined deliveries */
    stream_table_destroy(t);
    free(segs);
    free(orig);
}

/* The same with tight limits: gaps happen, the flow never wedges, and every
 * delivery is still true bytes of the stream with a true window. */
struct gap_checker {
    const uint8_t *orig;
    size_t len;
    size_t pos;            /* stream offset after the last delivery */
    struct stream_table *t;
    uint64_t gaps_seen;
    unsigned bad;
};

static void gap_check_fn(void *ctx, const struct stream_span *sp)
{
    struct gap_checker *c = ctx;
    uint32_t len, base;
    const uint8_t *buf = join_span(sp, &len, &base);
    uint64_t gaps = stream_counter(c->t, STREAM_GAPS);

    if (gaps != c->gaps_seen) {
        /* after a gap: no window, and the new bytes are later in the stream */
        c->gaps_seen = gaps;
        c->bad += base != 0;
        const uint8_t *at = memmem(c->orig + c->pos, c->len - c->pos, buf, len);
        c->bad += at == NULL;
        if (at != NULL)
            c->pos = (size_t)(at - c->orig);
    } else {
        c->bad += base > c->pos || memcmp(buf, c->orig + c->pos - base, len) != 0;
    }
    c->pos += len - base;
}

static void test_random_gaps(void)
{
    enum { N = 100000 };
    struct stream_table *t = table(4, 32, 0, 3, 4096);
    uint8_t *orig = malloc(N);
    struct gap_checker c = { .orig = orig, .len = N, .t = t };
    uint32_t slot = stream_slot_alloc(t);
    unsigned delivered = 0, sent = 0;

    srand(11);
    for (unsigned i = 0; i < N; i++)
        orig[i] = (uint8_t)rand();
    /* 100-byte segments: 5% lost, 10% swapped with the next */
    uint32_t order[N / 100];
    for (unsigned i = 0; i < N / 100; i++)
        order[i] = i;
    for (unsigned i = 0; i + 1 < N / 100; i++) {
        if (rand() % 10 == 0) {
            uint32_t x = order[i];
            order[i] = order[i + 1];
            order[i + 1] = x;
        }
    }
    for (unsigned i = 0; i < N / 100; i++) {
        if (rand() % 20 == 0)
            continue;
        sent++;
        uint32_t off = order[i] * 100;
        enum stream_result r = stream_segment(t, slot, 1, 1000 + off, ACK, orig + off, 100,
                                              gap_check_fn, &c);
        delivered += r == STREAM_DELIVERED;
    }
    CU_ASSERT_EQUAL(c.bad, 0);
    CU_ASSERT(stream_counter(t, STREAM_GAPS) > 0);
    CU_ASSERT(stream_counter(t, STREAM_OOO_DROPPED) > 0);
    /* nothing wedged: most of the stream still came through */
    CU_ASSERT(stream_counter(t, STREAM_BYTES) > (uint64_t)N * 3 / 4);
    CU_ASSERT(delivered > sent / 2);
    /* pool accounting holds through it all */
    stream_slot_free(t, slot);
    CU_ASSERT_EQUAL(stream_counter(t, STREAM_OOO_BYTES), 0);
    CU_ASSERT_EQUAL(stream_counter(t, STREAM_OOO_HELD),
                    stream_counter(t, STREAM_OOO_RELEASED) + stream_counter(t, STREAM_OOO_DISCARDED));
    stream_table_destroy(t);
    free(orig);
}

static CU_TestInfo cases[] = {
    { "defaults, names and a bad config", test_defaults_and_names },
    { "in-order delivery grows the window", test_in_order_window_growth },
    { "content across two segments is contiguous", test_content_across_segments },
    { "out-of-order segments released in one callback", test_out_of_order },
    { "retransmission and partial overlap", test_retransmission_and_overlap },
    { "SYN data, bare SYN, midstream start", test_syn_and_midstream },
    { "sequence wraparound", test_wraparound },
    { "depth stops delivery, counted once", test_depth },
    { "ooo limit: drop counted, gap policy goes on", test_ooo_limit_gap_policy },
    { "pool exhausted and returned by slot free", test_pool_exhausted },
    { "slot exhaustion, reuse, extra bytes", test_slots },
    { "window bounded at its size", test_window_bounded },
    { "shuffled random stream comes out exact", test_random_shuffle },
    { "random losses: gaps, never wedged", test_random_gaps },
    CU_TEST_INFO_NULL,
};

int main(void)
{
    return cunit_run("stream", cases);
}
