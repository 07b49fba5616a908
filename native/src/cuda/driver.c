/* driver.c — the NVIDIA driver's memory calls behind device.h (driver.h): allocations, copies and fills queued
 * on the device's one stream, and waiting for it. Loading the driver: driver_load.c; devices:
 * driver_device.c; kernels: driver_kernels.c. */
#include <stdio.h>

#include "driver_internal.h"

mst_status mst_drv_alloc(mst_drv *d, size_t bytes, mst_dptr *out)
{
    *out = 0;
    int pushed = 0;
    mst_status st = mst_cu_enter(d, &pushed);
    if (st != MST_OK)
        return st;
    CUdeviceptr p = 0;
    CUresult r = mst_cu.cuMemAlloc(&p, bytes ? bytes : 1); /* the driver rejects 0 bytes */
    mst_cu_leave(pushed);
    if (r != CUDA_SUCCESS) {
        mst_cu_fail(r, "cuMemAlloc");
        const mst_status fs = r == CUDA_ERROR_OUT_OF_MEMORY ? MST_ERR_OUT_OF_MEMORY : MST_ERR_DEVICE;
        char prev[400];
        snprintf(prev, sizeof prev, "%s", mst_last_error());
        return mst_fail(fs, "%s (asked for %zu bytes on device %d)", prev, bytes, d->ordinal);
    }
    *out = (mst_dptr)p;
    return MST_OK;
}

void mst_drv_free(mst_drv *d, mst_dptr p)
{
    if (!d || !p)
        return;
    int pushed = 0;
    if (mst_cu_enter(d, &pushed) != MST_OK)
        return;
    (void)mst_cu.cuMemFree((CUdeviceptr)p);
    mst_cu_leave(pushed);
}

/* Runs one queued call with d's context current: "CALL(args)" must evaluate to a CUresult. */
#define ON_DEVICE(d, what, call_expr)                                                                             \
    do {                                                                                                          \
        int pushed_ = 0;                                                                                          \
        mst_status st_ = mst_cu_enter((d), &pushed_);                                                             \
        if (st_ != MST_OK)                                                                                        \
            return st_;                                                                                           \
        CUresult r_ = (call_expr);                                                                                \
        mst_cu_leave(pushed_);                                                                                    \
        if (r_ != CUDA_SUCCESS)                                                                                   \
            return mst_cu_fail(r_, what);                                                                         \
    } while (0)

/* From pageable host memory the driver stages the bytes before it returns, so src may be reused at once
 * (CUDA driver API, "API synchronization behavior": memcpy from pageable host memory). */
mst_status mst_drv_upload(mst_drv *d, mst_dptr dst, const void *src, size_t bytes)
{
    if (bytes == 0)
        return MST_OK;
    ON_DEVICE(d, "cuMemcpyHtoDAsync", mst_cu.cuMemcpyHtoDAsync((CUdeviceptr)dst, src, bytes, d->stream));
    return MST_OK;
}

/* Waits for the copy (and everything queued before it): dst holds the bytes when this returns. */
mst_status mst_drv_download(mst_drv *d, void *dst, mst_dptr src, size_t bytes)
{
    if (bytes == 0)
        return MST_OK;
    ON_DEVICE(d, "cuMemcpyDtoHAsync", mst_cu.cuMemcpyDtoHAsync(dst, (CUdeviceptr)src, bytes, d->stream));
    ON_DEVICE(d, "cuStreamSynchronize (after a download)", mst_cu.cuStreamSynchronize(d->stream));
    return MST_OK;
}

mst_status mst_drv_copy(mst_drv *d, mst_dptr dst, mst_dptr src, size_t bytes)
{
    if (bytes == 0)
        return MST_OK;
    ON_DEVICE(d, "cuMemcpyDtoDAsync", mst_cu.cuMemcpyDtoDAsync((CUdeviceptr)dst, (CUdeviceptr)src, bytes, d->stream));
    return MST_OK;
}

mst_status mst_drv_memset32(mst_drv *d, mst_dptr dst, uint32_t value, size_t count)
{
    if (count == 0)
        return MST_OK;
    ON_DEVICE(d, "cuMemsetD32Async", mst_cu.cuMemsetD32Async((CUdeviceptr)dst, value, count, d->stream));
    return MST_OK;
}

mst_status mst_drv_sync(mst_drv *d)
{
    ON_DEVICE(d, "cuStreamSynchronize", mst_cu.cuStreamSynchronize(d->stream));
    return MST_OK;
}
