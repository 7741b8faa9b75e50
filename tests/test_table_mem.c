/* test_table_mem.c - the big tables' memory: sizes, alignment, zeroed
 * contents, and when the pages are backed (mincore). */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cunit_run.h"
#include "table_mem.h"

static void test_sizes(void)
{
    CU_ASSERT_EQUAL(table_mem_size(0), 64);
    CU_ASSERT_EQUAL(table_mem_size(1), 64);
    CU_ASSERT_EQUAL(table_mem_size(65), 128);
    CU_ASSERT_EQUAL(table_mem_size(TABLE_MEM_HUGE - 1), TABLE_MEM_HUGE);
    CU_ASSERT_EQUAL(table_mem_size(TABLE_MEM_HUGE + 1), 2 * TABLE_MEM_HUGE);
}

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0)
            return false;
    return true;
}

static void test_small(void)
{
    uint8_t *p = table_mem_alloc(1000, TABLE_MEM_RESIDENT);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_EQUAL((uintptr_t)p % 64, 0);
    CU_ASSERT_TRUE(all_zero(p, 1000));
    memset(p, 0xab, 1000);
    table_mem_free(p, 1000);
    table_mem_free(NULL, 1000);
}

/* Pages of [p, p + n) that are backed now. */
static size_t resident_pages(void *p, size_t n)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE), count = 0;
    unsigned char vec[(3 * TABLE_MEM_HUGE) / 4096];
    CU_ASSERT_FATAL(n / page <= sizeof(vec));
    CU_ASSERT_EQUAL_FATAL(mincore(p, n, vec), 0);
    for (size_t i = 0; i < n / page; i++)
        count += vec[i] & 1;
    return count;
}

static void test_huge(void)
{
    size_t n = 2 * TABLE_MEM_HUGE + 100, size = table_mem_size(n);
    size_t page = (size_t)sysconf(_SC_PAGESIZE);

    uint8_t *p = table_mem_alloc(n, TABLE_MEM_RESIDENT);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_EQUAL((uintptr_t)p % TABLE_MEM_HUGE, 0);
    CU_ASSERT_EQUAL(resident_pages(p, size), size / page);
    CU_ASSERT_TRUE(all_zero(p, n));
    memset(p, 0xab, n);
    table_mem_free(p, n);

    p = table_mem_alloc(n, TABLE_MEM_ON_USE);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_EQUAL((uintptr_t)p % TABLE_MEM_HUGE, 0);
    CU_ASSERT_EQUAL(resident_pages(p, size), 0);
    CU_ASSERT_TRUE(all_zero(p + n - 64, 64));
    CU_ASSERT_TRUE(resident_pages(p, size) > 0);    /* reading touched the last pages */
    CU_ASSERT_TRUE(resident_pages(p, size) < size / page);
    table_mem_free(p, n);
}

static CU_TestInfo cases[] = {
    { "sizes: cache lines, then huge pages", test_sizes },
    { "small: aligned and zeroed", test_small },
    { "huge: aligned, zeroed, backed now or on use", test_huge },
    CU_TEST_INFO_NULL,
};

int main(void)
{
    return cunit_run("table_mem", cases);
}
