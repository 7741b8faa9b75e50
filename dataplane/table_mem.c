/* table_mem.c - see table_mem.h. */
#include "table_mem.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define CACHE_LINE 64

size_t table_mem_size(size_t bytes)
{
    size_t align = bytes >= TABLE_MEM_HUGE ? TABLE_MEM_HUGE : CACHE_LINE;

    if (bytes == 0)
        bytes = 1;
    return (bytes + align - 1) & ~(align - 1);
}

/* mmap() gives zeroed pages at a 4 KiB boundary: map a huge page more and
 * unmap what lies before the first huge-page boundary and after the end. */
static void *map_huge(size_t size)
{
    uint8_t *raw = mmap(NULL, size + TABLE_MEM_HUGE, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED)
        return NULL;
    uintptr_t start = ((uintptr_t)raw + TABLE_MEM_HUGE - 1) & ~(uintptr_t)(TABLE_MEM_HUGE - 1);
    size_t head = start - (uintptr_t)raw;
    if (head > 0)
        munmap(raw, head);
    munmap((uint8_t *)start + size, TABLE_MEM_HUGE - head);   /* never 0: head < a huge page */
#ifdef MADV_HUGEPAGE
    (void)madvise((void *)start, size, MADV_HUGEPAGE);
#endif
    return (void *)start;
}

void *table_mem_alloc(size_t bytes, enum table_mem_pages pages)
{
    size_t size = table_mem_size(bytes);
    void *p;

    if (size >= TABLE_MEM_HUGE) {
        p = map_huge(size);
        if (p != NULL && pages == TABLE_MEM_RESIDENT)
            memset(p, 0, size);     /* zero already: this faults the pages in */
    } else {
        p = aligned_alloc(CACHE_LINE, size);
        if (p != NULL)
            memset(p, 0, size);
    }
    if (p == NULL)
        errno = ENOMEM;
    return p;
}

void table_mem_free(void *p, size_t bytes)
{
    size_t size = table_mem_size(bytes);

    if (p == NULL)
        return;
    if (size >= TABLE_MEM_HUGE)
        munmap(p, size);
    else
        free(p);
}
