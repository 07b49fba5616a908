/* driver_kernels.c — kernels of the embedded modules found by name once per device (a table by the
 * mst_kernel_ref's address), opted in to more dynamic shared memory where a launch needs it, and launched on
 * the device's stream (mst_drv_launch). */
#include <stdio.h>
#include <stdlib.h>

#include "driver_internal.h"

/* cuLaunchKernel accepts up to 48 KiB of dynamic shared memory unless the function is opted in to more. */
#define DEFAULT_DYN_SHARED_LIMIT (48u * 1024u)

static uint32_t slot_of(const kernel_slot *table, uint32_t cap, const mst_kernel_ref *ref)
{
    uint64_t h = (uint64_t)(uintptr_t)ref;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    uint32_t i = (uint32_t)h & (cap - 1);
    while (table[i].ref && table[i].ref != ref)
        i = (i + 1) & (cap - 1);
    return i;
}

/* Doubles the table (kept at most half full). Called with d->lock held. */
static int grow_locked(mst_drv *d)
{
    const uint32_t cap = d->kernels_cap * 2;
    kernel_slot *t = calloc(cap, sizeof *t);
    if (!t)
        return 0;
    for (uint32_t i = 0; i < d->kernels_cap; i++)
        if (d->kernels[i].ref)
            t[slot_of(t, cap, d->kernels[i].ref)] = d->kernels[i];
    free(d->kernels);
    d->kernels = t;
    d->kernels_cap = cap;
    return 1;
}

/* The function of ref in whichever module defines it, looked up once per device. With d's context
 * current. Fills *slot_copy with the table's entry. */
static mst_status find_kernel(mst_drv *d, const mst_kernel_ref *k, kernel_slot *slot_copy)
{
    pthread_mutex_lock(&d->lock);
    uint32_t i = slot_of(d->kernels, d->kernels_cap, k);
    if (d->kernels[i].ref) {
        *slot_copy = d->kernels[i];
        pthread_mutex_unlock(&d->lock);
        return MST_OK;
    }
    CUfunction fn = NULL;
    CUresult r = CUDA_ERROR_NOT_FOUND;
    for (uint32_t m = 0; m < d->n_modules && r == CUDA_ERROR_NOT_FOUND; m++)
        r = mst_cu.cuModuleGetFunction(&fn, d->modules[m], k->name);
    if (r != CUDA_SUCCESS) {
        pthread_mutex_unlock(&d->lock);
        if (r == CUDA_ERROR_NOT_FOUND)
            return mst_fail(MST_ERR_INTERNAL,
                            "kernel %s is in none of the %u embedded PTX modules: the library was built with a PTX "
                            "table that lacks it (a build bug: please report it)",
                            k->name, d->n_modules);
        char what[160];
        snprintf(what, sizeof what, "cuModuleGetFunction(%s)", k->name);
        return mst_cu_fail(r, what);
    }
    if ((d->kernels_used + 1) * 2 > d->kernels_cap) {
        if (!grow_locked(d)) {
            pthread_mutex_unlock(&d->lock);
            return mst_fail(MST_ERR_OUT_OF_MEMORY, "out of host memory for the kernel table");
        }
        i = slot_of(d->kernels, d->kernels_cap, k);
    }
    d->kernels[i].ref = k;
    d->kernels[i].fn = fn;
    d->kernels[i].dyn_shared_limit = DEFAULT_DYN_SHARED_LIMIT;
    d->kernels_used++;
    *slot_copy = d->kernels[i];
    pthread_mutex_unlock(&d->lock);
    return MST_OK;
}

/* Opts the function in to `bytes` of dynamic shared memory when that is more than the default 48 KiB. */
static mst_status raise_shared_limit(mst_drv *d, const mst_kernel_ref *k, CUfunction fn, uint32_t bytes)
{
    CUresult r = mst_cu.cuFuncSetAttribute(fn, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, (int)bytes);
    if (r != CUDA_SUCCESS) {
        char what[200];
        snprintf(what, sizeof what, "cuFuncSetAttribute(%s, MAX_DYNAMIC_SHARED_SIZE_BYTES, %u)", k->name, bytes);
        return mst_cu_fail(r, what);
    }
    pthread_mutex_lock(&d->lock);
    kernel_slot *s = &d->kernels[slot_of(d->kernels, d->kernels_cap, k)];
    if (s->ref == k && s->dyn_shared_limit < bytes)
        s->dyn_shared_limit = bytes;
    pthread_mutex_unlock(&d->lock);
    return MST_OK;
}

mst_status mst_drv_launch(mst_drv *d, const mst_kernel_ref *k, mst_dim3 grid, mst_dim3 block, uint32_t shared_bytes,
                          void **args)
{
    int pushed = 0;
    mst_status st = mst_cu_enter(d, &pushed);
    if (st != MST_OK)
        return st;
    kernel_slot s = {0};
    st = find_kernel(d, k, &s);
    if (st == MST_OK && shared_bytes > s.dyn_shared_limit)
        st = raise_shared_limit(d, k, s.fn, shared_bytes);
    if (st == MST_OK) {
        CUresult r = mst_cu.cuLaunchKernel(s.fn, grid.x, grid.y, grid.z, block.x, block.y, block.z, shared_bytes,
                                          d->stream, args, NULL);
        if (r != CUDA_SUCCESS) {
            char what[240];
            snprintf(what, sizeof what, "cuLaunchKernel(%s, grid %ux%ux%u, block %ux%ux%u, %u bytes shared)", k->name,
                     grid.x, grid.y, grid.z, block.x, block.y, block.z, shared_bytes);
            st = mst_cu_fail(r, what);
        }
    }
    mst_cu_leave(pushed);
    return st;
}
