/* device.c — device.h's calls: the SIMT emulator (emu/) when the device was opened emulated
 * (MISTRAL_CUDA_EMULATE=1 or emulate != 0), otherwise the NVIDIA driver (driver.h). The emulator's memory is
 * host memory (exact-size buffers, emu_alloc.c) and its launches run to completion before they return. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../internal.h"
#include "device.h"
#include "driver.h"
#include "emu/emu.h"

struct mst_dev {
    int emulated;
    int ordinal;
    mst_drv *drv;
};

static int want_emulator(int emulate)
{
    if (emulate)
        return 1;
    const char *e = getenv("MISTRAL_CUDA_EMULATE");
    return e && strcmp(e, "1") == 0;
}

static void emu_describe(int ordinal, mst_dev_desc *out)
{
    memset(out, 0, sizeof *out);
    out->emulated = 1;
    out->ordinal = ordinal;
    out->compute_major = 8; /* what the kernels are written for (sm_80) */
    out->compute_minor = 0;
    out->driver_version = 0;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    out->multiprocessors = cpus > 0 ? (int)cpus : 1;
    long page = sysconf(_SC_PAGESIZE), phys = sysconf(_SC_PHYS_PAGES), avail = sysconf(_SC_AVPHYS_PAGES);
    if (page > 0 && phys > 0)
        out->total_memory = (uint64_t)page * (uint64_t)phys;
    if (page > 0 && avail > 0)
        out->free_memory = (uint64_t)page * (uint64_t)avail;
    snprintf(out->name, sizeof out->name, "SIMT emulator (CPU)");
}

mst_status mst_dev_open(int ordinal, int emulate, mst_dev **out)
{
    if (!out)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_dev_open: out is NULL");
    *out = NULL;
    mst_dev *d = calloc(1, sizeof *d);
    if (!d)
        return mst_fail(MST_ERR_OUT_OF_MEMORY, "mst_dev_open: out of host memory");
    d->ordinal = ordinal;
    if (want_emulator(emulate)) {
        if (ordinal != 0) {
            free(d);
            return mst_fail(MST_ERR_DEVICE, "mst_dev_open: the SIMT emulator has one device (0), not %d", ordinal);
        }
        d->emulated = 1;
    } else {
        mst_status st = mst_drv_open(ordinal, &d->drv);
        if (st != MST_OK) {
            free(d);
            return st;
        }
    }
    *out = d;
    return MST_OK;
}

void mst_dev_close(mst_dev *d)
{
    if (!d)
        return;
    if (!d->emulated)
        mst_drv_close(d->drv);
    free(d);
}

mst_status mst_dev_probe(int emulate, mst_dev_desc *desc, int *device_count)
{
    if (!desc || !device_count)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_dev_probe: NULL argument");
    if (want_emulator(emulate)) {
        emu_describe(0, desc);
        *device_count = 1;
        return MST_OK;
    }
    return mst_drv_probe(desc, device_count);
}

mst_status mst_dev_describe(mst_dev *d, mst_dev_desc *out)
{
    if (!d || !out)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_dev_describe: NULL argument");
    if (!d->emulated)
        return mst_drv_describe(d->drv, out);
    emu_describe(d->ordinal, out);
    return MST_OK;
}

mst_status mst_dev_alloc(mst_dev *d, size_t bytes, mst_dptr *out)
{
    if (!d || !out)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_dev_alloc: NULL argument");
    if (!d->emulated)
        return mst_drv_alloc(d->drv, bytes, out);
    void *p = mst_emu_alloc(bytes);
    if (!p)
        return mst_fail(MST_ERR_OUT_OF_MEMORY, "mst_dev_alloc: the emulator could not allocate %zu bytes", bytes);
    *out = (mst_dptr)(uintptr_t)p;
    return MST_OK;
}

void mst_dev_free(mst_dev *d, mst_dptr p)
{
    if (!d || !p)
        return;
    if (!d->emulated)
        mst_drv_free(d->drv, p);
    else
        mst_emu_free((void *)(uintptr_t)p);
}

/* The emulator's copies: device addresses are host addresses. A NULL address with bytes > 0 is a caller
 * bug worth a message rather than a crash. */
static mst_status emu_check(const char *call, uint64_t a, uint64_t b, size_t bytes)
{
    if (bytes && (!a || !b))
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "%s: NULL address for %zu bytes", call, bytes);
    return MST_OK;
}

mst_status mst_dev_upload(mst_dev *d, mst_dptr dst, const void *src, size_t bytes)
{
    if (!d)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_dev_upload: NULL device");
    if (!d->emulated)
        return mst_drv_upload(d->drv, dst, src, bytes);
    mst_status st = emu_check("mst_dev_upload", dst, (uint64_t)(uintptr_t)src, bytes);
    if (st == MST_OK && bytes)
        memcpy((void *)(uintptr_t)dst, src, bytes);
    return st;
}

mst_status mst_dev_download(mst_dev *d, void *dst, mst_dptr src, size_t bytes)
{
    if (!d)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_dev_download: NULL device");
    if (!d->emulated)
        return mst_drv_download(d->drv, dst, src, bytes);
    mst_status st = emu_check("mst_dev_download", (uint64_t)(uintptr_t)dst, src, bytes);
    if (st == MST_OK && bytes)
        memcpy(dst, (const void *)(uintptr_t)src, bytes);
    return st;
}

mst_status mst_dev_copy(mst_dev *d, mst_dptr dst, mst_dptr src, size_t bytes)
{
    if (!d)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_dev_copy: NULL device");
    if (!d->emulated)
        return mst_drv_copy(d->drv, dst, src, bytes);
    mst_status st = emu_check("mst_dev_copy", dst, src, bytes);
    if (st == MST_OK && bytes)
        memmove((void *)(uintptr_t)dst, (const void *)(uintptr_t)src, bytes);
    return st;
}

mst_status mst_dev_memset32(mst_dev *d, mst_dptr dst, uint32_t value, size_t count)
{
    if (!d)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_dev_memset32: NULL device");
    if (!d->emulated)
        return mst_drv_memset32(d->drv, dst, value, count);
    mst_status st = emu_check("mst_dev_memset32", dst, 1, count);
    if (st != MST_OK)
        return st;
    unsigned char *p = (unsigned char *)(uintptr_t)dst;
    for (size_t i = 0; i < count; i++)
        memcpy(p + 4 * i, &value, 4); /* the buffer may be only 2-aligned (emu_alloc.c) */
    return MST_OK;
}

mst_status mst_dev_launch(mst_dev *d, const mst_kernel_ref *k, mst_dim3 grid, mst_dim3 block, uint32_t shared_bytes,
                          void **args)
{
    if (!d || !k)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_dev_launch: NULL argument");
    if (!d->emulated)
        return mst_drv_launch(d->drv, k, grid, block, shared_bytes, args);
    char msg[1024];
    mst_status st = mst_emu_launch(k, grid, block, shared_bytes, args, msg, sizeof msg);
    if (st != MST_OK)
        return mst_fail(st, "%s", msg);
    return MST_OK;
}

mst_status mst_dev_sync(mst_dev *d)
{
    if (!d)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_dev_sync: NULL device");
    if (!d->emulated)
        return mst_drv_sync(d->drv);
    return MST_OK; /* every emulated launch has finished when it returns */
}
