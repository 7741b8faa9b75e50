/* test_spsc_ring.c - the SPSC record ring: order, wrap-around, full ring,
 * burst peek/consume, and a two-thread run that checks every record. */
#include <pthread.h>
#include <string.h>

#include "cunit_run.h"
#include "spsc_ring.h"

static void test_fifo_and_full(void)
{
    struct spsc_ring r;
    uint32_t len;

    CU_ASSERT_EQUAL_FATAL(spsc_ring_init(&r, 4096), 0);
    CU_ASSERT_PTR_NULL(spsc_ring_peek(&r, &len));
    unsigned n = 0;
    uint32_t *p;
    while ((p = spsc_ring_reserve(&r, 100)) != NULL) {
        *p = n++;
    }
    CU_ASSERT_EQUAL(n, 4096 / spsc_ring_record_space(100));
    CU_ASSERT_PTR_NULL(spsc_ring_peek(&r, &len));     /* nothing committed yet */
    spsc_ring_commit(&r);
    for (unsigned i = 0; i < n; i++) {
        p = spsc_ring_peek(&r, &len);
        CU_ASSERT_PTR_NOT_NULL_FATAL(p);
        CU_ASSERT_EQUAL(len, 100);
        CU_ASSERT_EQUAL(*p, i);
    }
    CU_ASSERT_PTR_NULL(spsc_ring_reserve(&r, 100));   /* peeked, not consumed: still full */
    spsc_ring_consume(&r);
    CU_ASSERT_PTR_NOT_NULL(spsc_ring_reserve(&r, 100));
    CU_ASSERT_PTR_NULL(spsc_ring_reserve(&r, 5000));  /* can never fit */
    spsc_ring_free(&r);
}

static void test_wrap_keeps_records_contiguous(void)
{
    struct spsc_ring r;
    uint32_t len;

    CU_ASSERT_EQUAL_FATAL(spsc_ring_init(&r, 4096), 0);
    for (unsigned round = 0; round < 1000; round++) {
        uint32_t size = 1 + (round * 37) % 1500;
        uint8_t *p = spsc_ring_reserve(&r, size);
        CU_ASSERT_PTR_NOT_NULL_FATAL(p);
        memset(p, (int)(round & 0xff), size);
        spsc_ring_commit(&r);
        uint8_t *q = spsc_ring_peek(&r, &len);
        CU_ASSERT_PTR_EQUAL_FATAL(q, p);
        CU_ASSERT_EQUAL(len, size);
        CU_ASSERT_EQUAL(q[0], round & 0xff);
        CU_ASSERT_EQUAL(q[size - 1], round & 0xff);
        spsc_ring_consume(&r);
        CU_ASSERT(spsc_ring_empty(&r));
    }
    spsc_ring_free(&r);
}

#define THREAD_RECORDS 200000u

static void *producer(void *arg)
{
    struct spsc_ring *r = arg;

    for (uint32_t i = 0; i < THREAD_RECORDS; i++) {
        uint32_t size = 4 + i % 300;
        uint32_t *p;
        while ((p = spsc_ring_reserve(r, size)) == NULL)
            spsc_ring_commit(r);
        p[0] = i;
        if (i % 7 == 0)
            spsc_ring_commit(r);
    }
    spsc_ring_commit(r);
    return NULL;
}

static void test_two_threads(void)
{
    struct spsc_ring r;
    pthread_t t;
    uint32_t expect = 0, len, bad = 0;

    CU_ASSERT_EQUAL_FATAL(spsc_ring_init(&r, 64 * 1024), 0);
    pthread_create(&t, NULL, producer, &r);
    while (expect < THREAD_RECORDS) {
        uint32_t *p;
        unsigned burst = 0;
        while (burst < 32 && (p = spsc_ring_peek(&r, &len)) != NULL) {
            bad += p[0] != expect || len != 4 + expect % 300;
            expect++;
            burst++;
        }
        if (burst)
            spsc_ring_consume(&r);
    }
    pthread_join(t, NULL);
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT(spsc_ring_empty(&r));
    spsc_ring_free(&r);
}

static CU_TestInfo cases[] = {
    { "FIFO order and a full ring", test_fifo_and_full },
    { "wrap-around keeps records contiguous", test_wrap_keeps_records_contiguous },
    { "producer and consumer threads", test_two_threads },
    CU_TEST_INFO_NULL,
};

int main(void)
{
    return cunit_run("spsc_ring", cases);
}
