/* spsc_ring.c - setup of the SPSC record ring (the data path is inline). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "spsc_ring.h"

int spsc_ring_init(struct spsc_ring *r, size_t bytes)
{
    uint64_t size = 4096;

    if (bytes == 0 || bytes > (1ull << 40))
        return -EINVAL;
    while (size < bytes)
        size <<= 1;
    memset(r, 0, sizeof(*r));
    r->buf = aligned_alloc(64, size);
    if (r->buf == NULL)
        return -ENOMEM;
    r->size = size;
    r->mask = size - 1;
    return 0;
}

void spsc_ring_free(struct spsc_ring *r)
{
    free(r->buf);
    r->buf = NULL;
}
