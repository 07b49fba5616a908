/* driver_device.c — a device of the NVIDIA driver: mst_drv_open (its primary context, a stream and the
 * embedded modules), mst_drv_close, mst_drv_describe, and mst_drv_probe (device 0 opened once per process to
 * say whether CUDA is usable). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver_internal.h"

/* the probe's result (mst_drv_probe), once per process */
static pthread_mutex_t g_probe_lock = PTHREAD_MUTEX_INITIALIZER;
static int g_probed;
static mst_status g_probe_status;
static char g_probe_error[512];
static mst_dev_desc g_probe_desc;
static int g_probe_count;

static void drv_destroy(mst_drv *d)
{
    if (d->ctx_retained) {
        int pushed = 0;
        if (mst_cu_enter(d, &pushed) == MST_OK) {
            for (uint32_t i = 0; i < d->n_modules; i++)
                (void)mst_cu.cuModuleUnload(d->modules[i]);
            if (d->stream)
                (void)mst_cu.cuStreamDestroy(d->stream);
            mst_cu_leave(pushed);
            /* this thread should not keep a context about to be released current */
            CUcontext cur = NULL;
            if (mst_cu.cuCtxGetCurrent(&cur) == CUDA_SUCCESS && cur == d->ctx)
                (void)mst_cu.cuCtxSetCurrent(NULL);
        }
        (void)mst_cu.cuDevicePrimaryCtxRelease(d->dev);
    }
    pthread_mutex_destroy(&d->lock);
    free(d->modules);
    free(d->kernels);
    free(d);
}

mst_status mst_drv_open(int ordinal, mst_drv **out)
{
    if (!out)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_drv_open: out is NULL");
    *out = NULL;
    mst_status st = mst_cu_load();
    if (st != MST_OK)
        return st;
    int count = 0;
    CU_CHECK(mst_cu.cuDeviceGetCount(&count), "cuDeviceGetCount");
    if (count == 0)
        return mst_fail(MST_ERR_DEVICE,
                        "the NVIDIA driver (CUDA %d.%d) reports no CUDA device: check nvidia-smi and "
                        "CUDA_VISIBLE_DEVICES",
                        mst_cu_driver_version / 1000, mst_cu_driver_version % 1000 / 10);
    if (ordinal < 0 || ordinal >= count)
        return mst_fail(MST_ERR_DEVICE, "CUDA device %d does not exist: the driver reports %d device%s (ordinals 0..%d)",
                        ordinal, count, count == 1 ? "" : "s", count - 1);

    mst_drv *d = calloc(1, sizeof *d);
    if (!d)
        return mst_fail(MST_ERR_OUT_OF_MEMORY, "out of host memory for the device handle");
    pthread_mutex_init(&d->lock, NULL);
    d->ordinal = ordinal;
    d->kernels_cap = 64;
    d->kernels = calloc(d->kernels_cap, sizeof *d->kernels);
    if (!d->kernels) {
        drv_destroy(d);
        return mst_fail(MST_ERR_OUT_OF_MEMORY, "out of host memory for the kernel table");
    }
    int pushed = 0;
#define OPEN_CHECK(call_expr, what)                                                                               \
    do {                                                                                                          \
        CUresult r_ = (call_expr);                                                                                \
        if (r_ != CUDA_SUCCESS) {                                                                                 \
            st = mst_cu_fail(r_, what);                                                                           \
            goto fail;                                                                                            \
        }                                                                                                         \
    } while (0)
    OPEN_CHECK(mst_cu.cuDeviceGet(&d->dev, ordinal), "cuDeviceGet");
    OPEN_CHECK(mst_cu.cuDeviceGetName(d->name, (int)sizeof d->name - 1, d->dev), "cuDeviceGetName");
    OPEN_CHECK(mst_cu.cuDeviceGetAttribute(&d->compute_major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, d->dev),
               "cuDeviceGetAttribute(COMPUTE_CAPABILITY_MAJOR)");
    OPEN_CHECK(mst_cu.cuDeviceGetAttribute(&d->compute_minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, d->dev),
               "cuDeviceGetAttribute(COMPUTE_CAPABILITY_MINOR)");
    OPEN_CHECK(mst_cu.cuDeviceGetAttribute(&d->multiprocessors, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, d->dev),
               "cuDeviceGetAttribute(MULTIPROCESSOR_COUNT)");
    size_t total = 0;
    OPEN_CHECK(mst_cu.cuDeviceTotalMem(&total, d->dev), "cuDeviceTotalMem");
    d->total_memory = total;
    if (d->compute_major < MIN_CC_MAJOR) {
        st = mst_fail(MST_ERR_DEVICE,
                      "CUDA device %d (%s) has compute capability %d.%d; this library's kernels need %d.0 or newer "
                      "(Ampere or later: A100, RTX 30xx, L4, H100, ...)",
                      ordinal, d->name, d->compute_major, d->compute_minor, MIN_CC_MAJOR);
        goto fail;
    }
    OPEN_CHECK(mst_cu.cuDevicePrimaryCtxRetain(&d->ctx, d->dev), "cuDevicePrimaryCtxRetain");
    d->ctx_retained = 1;
    st = mst_cu_enter(d, &pushed);
    if (st != MST_OK)
        goto fail;
    OPEN_CHECK(mst_cu.cuStreamCreate(&d->stream, CU_STREAM_NON_BLOCKING), "cuStreamCreate");
    st = mst_cu_load_modules(d);
    if (st != MST_OK)
        goto fail;
    mst_cu_leave(pushed);
#undef OPEN_CHECK
    *out = d;
    return MST_OK;
fail:
    mst_cu_leave(pushed);
    {
        /* the cleanup's own driver calls may fail too: the first failure is the one to report */
        char msg[512];
        snprintf(msg, sizeof msg, "%s", mst_last_error());
        drv_destroy(d);
        return mst_fail(st, "%s", msg);
    }
}

void mst_drv_close(mst_drv *d)
{
    if (d)
        drv_destroy(d);
}

mst_status mst_drv_describe(mst_drv *d, mst_dev_desc *out)
{
    if (!d || !out)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_drv_describe: NULL argument");
    memset(out, 0, sizeof *out);
    out->emulated = 0;
    out->ordinal = d->ordinal;
    out->compute_major = d->compute_major;
    out->compute_minor = d->compute_minor;
    out->driver_version = mst_cu_driver_version;
    out->multiprocessors = d->multiprocessors;
    out->total_memory = d->total_memory;
    snprintf(out->name, sizeof out->name, "%s", d->name);
    int pushed = 0;
    mst_status st = mst_cu_enter(d, &pushed);
    if (st != MST_OK)
        return st;
    size_t free_bytes = 0, total = 0;
    CUresult r = mst_cu.cuMemGetInfo(&free_bytes, &total);
    mst_cu_leave(pushed);
    if (r != CUDA_SUCCESS)
        return mst_cu_fail(r, "cuMemGetInfo");
    out->free_memory = free_bytes;
    if (total)
        out->total_memory = total;
    return MST_OK;
}

mst_status mst_drv_probe(mst_dev_desc *desc, int *device_count)
{
    pthread_mutex_lock(&g_probe_lock);
    const int probed = g_probed;
    pthread_mutex_unlock(&g_probe_lock);
    if (!probed) {
        /* Open device 0 completely (modules included: a driver too old for the PTX fails here, not at the
         * first model), describe it, close it. Not under g_probe_lock: an open may take seconds (the JIT); two
         * first probes may both open, and the first to finish is kept. */
        mst_dev_desc dd;
        memset(&dd, 0, sizeof dd);
        int count = 0;
        mst_drv *d = NULL;
        mst_status st = mst_drv_open(0, &d);
        if (st == MST_OK) {
            st = mst_drv_describe(d, &dd);
            mst_drv_close(d);
        }
        dd.driver_version = mst_cu_driver_version; /* known once the library loaded, even with no usable device */
        /* how many devices, when the driver got as far as cuInit (else 0) */
        if (mst_cu.cuDeviceGetCount && mst_cu.cuDeviceGetCount(&count) != CUDA_SUCCESS)
            count = 0;
        pthread_mutex_lock(&g_probe_lock);
        if (!g_probed) {
            g_probe_status = st;
            if (st != MST_OK)
                snprintf(g_probe_error, sizeof g_probe_error, "%s", mst_last_error());
            g_probe_desc = dd;
            g_probe_count = count;
            g_probed = 1;
        }
        pthread_mutex_unlock(&g_probe_lock);
    }
    if (desc)
        *desc = g_probe_desc;
    if (device_count)
        *device_count = g_probe_count;
    if (g_probe_status != MST_OK)
        return mst_fail(g_probe_status, "%s", g_probe_error);
    return MST_OK;
}
