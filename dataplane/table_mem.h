/* table_mem.h - zeroed memory for the large tables the hot path reads at
 * random lines: flows and buckets, stream windows, the detectors' sketches
 * and snapshots.
 *
 * From TABLE_MEM_HUGE bytes up an allocation is huge-page aligned and asked
 * to be backed by transparent huge pages: every lookup lands on a random
 * 4 KiB page of such a table, and a TLB miss (a page walk, two-dimensional
 * under a hypervisor) on top of each cache miss costs about as much as the
 * miss. The advice is a hint: where THP is off it fails harmlessly.
 * Smaller allocations are cache-line aligned. */
#ifndef MAMORI_TABLE_MEM_H
#define MAMORI_TABLE_MEM_H

#include <stddef.h>

#define TABLE_MEM_HUGE (2u << 20)

/* When a table's pages are backed. */
enum table_mem_pages {
    TABLE_MEM_RESIDENT,     /* now: the hot path never takes a page fault on it */
    TABLE_MEM_ON_USE,       /* as first touched: a table sized for the worst case
                               (stream windows) costs memory only as it fills */
};

/* Zeroed memory for `bytes`; NULL (errno ENOMEM) when there is none. */
void *table_mem_alloc(size_t bytes, enum table_mem_pages pages);

/* Give back what table_mem_alloc(bytes) returned; NULL is ignored. */
void table_mem_free(void *p, size_t bytes);

/* The address space table_mem_alloc(bytes) takes, for memory figures. */
size_t table_mem_size(size_t bytes);

#endif
