/* backend_cuda_memory.c — the CUDA backend's device memory bookkeeping, shared by the model and the context:
 * how much of the device's free memory they may take, sizes for the messages that say it does not fit, and
 * the list of allocations each frees together. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend_cuda_internal.h"

/* "12.3 MiB", "4.21 GiB": enough digits to compare two sizes in one message. */
const char *mst_cuda_fmt_bytes(uint64_t b, char *buf, size_t cap)
{
    if (b >= (1ull << 30))
        snprintf(buf, cap, "%.2f GiB", (double)b / (double)(1ull << 30));
    else
        snprintf(buf, cap, "%.1f MiB", (double)b / (double)(1ull << 20));
    return buf;
}

/* What a model or a context may take of the device's free memory: all but 5% of what is free and 64 MiB,
 * left for the driver's own allocations (JIT-loaded modules, the stream, the context's local memory) and for
 * other work. */
#define RESERVE_FIXED (64ull << 20)
uint64_t mst_cuda_usable(uint64_t free_bytes)
{
    const uint64_t reserve = free_bytes / 20 + RESERVE_FIXED;
    return free_bytes > reserve ? free_bytes - reserve : 0;
}

/* The list's first capacity; it doubles when full. */
#define LIST_FIRST_CAP 64u

uint64_t mst_cuda_list_bytes(uint32_t n)
{
    uint64_t cap = LIST_FIRST_CAP;
    while (cap < n)
        cap *= 2;
    return mst_alloc_bound(cap * sizeof(mst_dptr), 0);
}

mst_status mst_cuda_list_alloc(mst_dev *d, alloc_list *l, uint64_t bytes, mst_dptr *out)
{
    *out = 0;
    if (l->n == l->cap) {
        const uint32_t cap = l->cap ? l->cap * 2 : LIST_FIRST_CAP;
        mst_dptr *p = realloc(l->p, cap * sizeof *p);
        if (!p)
            return mst_fail(MST_ERR_OUT_OF_MEMORY, "out of host memory for the list of device allocations");
        l->p = p;
        l->cap = cap;
    }
    if (bytes > SIZE_MAX)
        return mst_fail(MST_ERR_OUT_OF_MEMORY, "a device buffer of %llu bytes does not fit a size_t",
                        (unsigned long long)bytes);
    mst_status st = mst_dev_alloc(d, (size_t)bytes, out);
    if (st != MST_OK)
        return st;
    l->p[l->n++] = *out;
    return MST_OK;
}

void mst_cuda_list_free(mst_dev *d, alloc_list *l)
{
    for (uint32_t i = l->n; i > 0; i--)
        mst_dev_free(d, l->p[i - 1]);
    free(l->p);
    memset(l, 0, sizeof *l);
}
