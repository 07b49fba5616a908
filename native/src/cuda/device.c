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
#include "emu/graph.h"

struct mst_dev {
    int emulated;
    int ordinal;
    mst_drv *drv;
    /* graph capture (mst_dev_capture_begin .. _end): the first failure during it, and on the emulator the
     * launches recorded so far */
    int capturing;
    mst_status capture_status;
    char capture_error[512];
    mst_emu_graph *emu_graph;
};

struct mst_dev_graph {
    mst_emu_graph *emu; /* the emulator's records, or */
    void *exec;         /* the driver's instantiated graph (CUgraphExec) */
};

/* A call that copies or waits during a capture is refused (device.h): a graph holds kernels only. The failure
 * is also the capture's, so capture_end reports it. */
static mst_status refuse_in_capture(mst_dev *d, const char *call)
{
    mst_status st = mst_fail(MST_ERR_INTERNAL,
                             "%s during a graph capture: refused (a captured graph holds kernel launches only; "
                             "uploads, downloads, copies, memsets and waits go before or after it)",
                             call);
    if (d->capture_status == MST_OK) {
        d->capture_status = st;
        snprintf(d->capture_error, sizeof d->capture_error, "%s", mst_last_error());
    }
    return st;
}

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
    mst_emu_graph_free(d->emu_graph); /* a capture left open */
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
    if (d->capturing)
        return refuse_in_capture(d, "mst_dev_upload");
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
    if (d->capturing)
        return refuse_in_capture(d, "mst_dev_download");
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
    if (d->capturing)
        return refuse_in_capture(d, "mst_dev_copy");
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
    if (d->capturing)
        return refuse_in_capture(d, "mst_dev_memset32");
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
    mst_status st;
    char msg[1024];
    if (!d->emulated)
        st = mst_drv_launch(d->drv, k, grid, block, shared_bytes, args);
    else if (d->capturing)
        st = mst_emu_graph_record(d->emu_graph, k, grid, block, shared_bytes, args, msg, sizeof msg);
    else
        st = mst_emu_launch(k, grid, block, shared_bytes, args, msg, sizeof msg);
    if (st != MST_OK && d->emulated)
        st = mst_fail(st, "%s", msg);
    if (st != MST_OK && d->capturing && d->capture_status == MST_OK) {
        d->capture_status = st;
        snprintf(d->capture_error, sizeof d->capture_error, "%s", mst_last_error());
    }
    return st;
}

/* ---- graphs ---- */

int mst_dev_graphs_supported(mst_dev *d)
{
    return d && (d->emulated || mst_drv_graphs_supported(d->drv));
}

mst_status mst_dev_capture_begin(mst_dev *d)
{
    if (!d)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_dev_capture_begin: NULL device");
    if (d->capturing)
        return mst_fail(MST_ERR_INTERNAL, "mst_dev_capture_begin: a capture is already open on this device");
    if (!mst_dev_graphs_supported(d))
        return mst_fail(MST_ERR_UNSUPPORTED, "mst_dev_capture_begin: this NVIDIA driver has no graph entry points");
    if (d->emulated) {
        if (!(d->emu_graph = mst_emu_graph_new()))
            return mst_fail(MST_ERR_OUT_OF_MEMORY, "mst_dev_capture_begin: out of host memory");
    } else {
        mst_status st = mst_drv_capture_begin(d->drv);
        if (st != MST_OK)
            return st;
    }
    d->capturing = 1;
    d->capture_status = MST_OK;
    d->capture_error[0] = '\0';
    return MST_OK;
}

mst_status mst_dev_capture_end(mst_dev *d, mst_dev_graph **out)
{
    if (!d || !out)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_dev_capture_end: NULL argument");
    *out = NULL;
    if (!d->capturing)
        return mst_fail(MST_ERR_INTERNAL, "mst_dev_capture_end: no capture is open on this device");
    d->capturing = 0;
    mst_dev_graph *g = calloc(1, sizeof *g);
    mst_status st = MST_OK;
    if (d->emulated) {
        if (g)
            g->emu = d->emu_graph;
        else
            mst_emu_graph_free(d->emu_graph);
        d->emu_graph = NULL;
    } else {
        /* always ends the driver's capture, even after a failure inside it */
        st = mst_drv_capture_end(d->drv, d->capture_status == MST_OK && g, g ? &g->exec : NULL);
    }
    if (d->capture_status != MST_OK)
        st = mst_fail(d->capture_status, "graph capture failed: %s", d->capture_error);
    else if (!g && st == MST_OK)
        st = mst_fail(MST_ERR_OUT_OF_MEMORY, "mst_dev_capture_end: out of host memory");
    if (st != MST_OK) {
        mst_dev_graph_free(d, g);
        return st;
    }
    *out = g;
    return MST_OK;
}

mst_status mst_dev_graph_launch(mst_dev *d, mst_dev_graph *g)
{
    if (!d || !g)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_dev_graph_launch: NULL argument");
    if (d->capturing)
        return refuse_in_capture(d, "mst_dev_graph_launch");
    if (!d->emulated)
        return mst_drv_graph_launch(d->drv, g->exec);
    char msg[1024];
    mst_status st = mst_emu_graph_replay(g->emu, msg, sizeof msg);
    return st != MST_OK ? mst_fail(st, "%s", msg) : MST_OK;
}

void mst_dev_graph_free(mst_dev *d, mst_dev_graph *g)
{
    if (!d || !g)
        return;
    if (d->emulated)
        mst_emu_graph_free(g->emu);
    else if (g->exec)
        mst_drv_graph_free(d->drv, g->exec);
    free(g);
}

mst_status mst_dev_sync(mst_dev *d)
{
    if (!d)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_dev_sync: NULL device");
    if (d->capturing)
        return refuse_in_capture(d, "mst_dev_sync");
    if (!d->emulated)
        return mst_drv_sync(d->drv);
    return MST_OK; /* every emulated launch has finished when it returns */
}
