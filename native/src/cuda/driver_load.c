/* driver_load.c — the NVIDIA driver library, once per process: libcuda.so.1 opened with dlopen, every entry
 * point found with cuGetProcAddress (or, before CUDA 11.3, by its exported name), cuInit, and the driver's
 * version checked against what the embedded PTX needs. The library is never unloaded (driver_internal.h). */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "driver_internal.h"

#define DRIVER_LIBRARY "libcuda.so.1"

/* name for cuGetProcAddress, the exported symbol of that version (for drivers before 11.3, which have no
 * cuGetProcAddress), where it goes */
typedef struct proc_entry {
    const char *name;
    const char *symbol;
    size_t offset;
} proc_entry;

#define PROC(n, sym) {#n, sym, offsetof(drv_api, n)}
static const proc_entry PROCS[] = {
    PROC(cuInit, "cuInit"),
    PROC(cuDriverGetVersion, "cuDriverGetVersion"),
    PROC(cuDeviceGetCount, "cuDeviceGetCount"),
    PROC(cuDeviceGet, "cuDeviceGet"),
    PROC(cuDeviceGetName, "cuDeviceGetName"),
    PROC(cuDeviceGetAttribute, "cuDeviceGetAttribute"),
    PROC(cuDeviceTotalMem, "cuDeviceTotalMem_v2"),
    PROC(cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain"),
    PROC(cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2"),
    PROC(cuCtxGetCurrent, "cuCtxGetCurrent"),
    PROC(cuCtxSetCurrent, "cuCtxSetCurrent"),
    PROC(cuCtxPushCurrent, "cuCtxPushCurrent_v2"),
    PROC(cuCtxPopCurrent, "cuCtxPopCurrent_v2"),
    PROC(cuMemGetInfo, "cuMemGetInfo_v2"),
    PROC(cuModuleLoadDataEx, "cuModuleLoadDataEx"),
    PROC(cuModuleGetFunction, "cuModuleGetFunction"),
    PROC(cuModuleUnload, "cuModuleUnload"),
    PROC(cuFuncSetAttribute, "cuFuncSetAttribute"),
    PROC(cuLaunchKernel, "cuLaunchKernel"),
    PROC(cuStreamCreate, "cuStreamCreate"),
    PROC(cuStreamSynchronize, "cuStreamSynchronize"),
    PROC(cuStreamDestroy, "cuStreamDestroy_v2"),
    PROC(cuMemAlloc, "cuMemAlloc_v2"),
    PROC(cuMemFree, "cuMemFree_v2"),
    PROC(cuMemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2"),
    PROC(cuMemcpyDtoHAsync, "cuMemcpyDtoHAsync_v2"),
    PROC(cuMemcpyDtoDAsync, "cuMemcpyDtoDAsync_v2"),
    PROC(cuMemsetD32Async, "cuMemsetD32Async"),
    PROC(cuGetErrorName, "cuGetErrorName"),
    PROC(cuGetErrorString, "cuGetErrorString"),
};
#undef PROC

/* Entry points the library runs without (graphs): name, the CUDA version whose form we want (the form above for
 * cuGetProcAddress), the exported symbol of that form. Missing ones stay NULL. */
typedef struct optional_proc {
    const char *name;
    int version;
    const char *symbol;
    size_t offset;
} optional_proc;

#define OPT(n, v, sym) {#n, v, sym, offsetof(drv_api, n)}
static const optional_proc OPTIONAL_PROCS[] = {
    OPT(cuStreamBeginCapture, 11000, "cuStreamBeginCapture_v2"),
    OPT(cuStreamEndCapture, 11000, "cuStreamEndCapture"),
    OPT(cuGraphInstantiateWithFlags, 11040, "cuGraphInstantiateWithFlags"),
    {"cuGraphInstantiate", 11000, "cuGraphInstantiate_v2", offsetof(drv_api, cuGraphInstantiate_v2)},
    OPT(cuGraphLaunch, 11000, "cuGraphLaunch"),
    OPT(cuGraphExecDestroy, 11000, "cuGraphExecDestroy"),
    OPT(cuGraphDestroy, 11000, "cuGraphDestroy"),
};
#undef OPT

/* The process-wide state of the driver: loaded (or failed to load) once. A failure is remembered with its
 * message and replayed to every later caller: a missing library or a failed cuInit does not get better. */
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static int g_loaded;            /* 0: not tried; 1: tried (g_load_status says how it went) */
static mst_status g_load_status;
static char g_load_error[512];
drv_api mst_cu;
int mst_cu_driver_version;


/* Finds every entry point: through cuGetProcAddress(_v2) asking for the CUDA 11.0 version of each (the _v2
 * forms above), or, on drivers older than 11.3 that lack it, by their exported versioned names. */
static mst_status resolve_procs(void *lib)
{
    PFN_cuGetProcAddress_v2 gpa2 = (PFN_cuGetProcAddress_v2)dlsym(lib, "cuGetProcAddress_v2");
    PFN_cuGetProcAddress_v1 gpa1 = gpa2 ? NULL : (PFN_cuGetProcAddress_v1)dlsym(lib, "cuGetProcAddress");
    for (size_t i = 0; i < sizeof PROCS / sizeof *PROCS; i++) {
        void *fn = NULL;
        if (gpa2) {
            int symbol_status = 0;
            if (gpa2(PROCS[i].name, &fn, MIN_DRIVER_VERSION, CU_GET_PROC_ADDRESS_DEFAULT, &symbol_status) != CUDA_SUCCESS)
                fn = NULL;
        } else if (gpa1) {
            if (gpa1(PROCS[i].name, &fn, MIN_DRIVER_VERSION, CU_GET_PROC_ADDRESS_DEFAULT) != CUDA_SUCCESS)
                fn = NULL;
        }
        if (!fn)
            fn = dlsym(lib, PROCS[i].symbol);
        if (!fn)
            return mst_fail(MST_ERR_DEVICE,
                            "%s has no entry point %s (%s): the NVIDIA driver is too old or damaged: update the NVIDIA "
                            "driver (this library needs a driver for CUDA 11.0 or newer)",
                            DRIVER_LIBRARY, PROCS[i].name, PROCS[i].symbol);
        memcpy((char *)&mst_cu + PROCS[i].offset, &fn, sizeof fn);
    }
    for (size_t i = 0; i < sizeof OPTIONAL_PROCS / sizeof *OPTIONAL_PROCS; i++) {
        const optional_proc *o = &OPTIONAL_PROCS[i];
        void *fn = NULL;
        int symbol_status = 0;
        if (gpa2 && gpa2(o->name, &fn, o->version, CU_GET_PROC_ADDRESS_DEFAULT, &symbol_status) != CUDA_SUCCESS)
            fn = NULL;
        else if (!gpa2 && gpa1 && gpa1(o->name, &fn, o->version, CU_GET_PROC_ADDRESS_DEFAULT) != CUDA_SUCCESS)
            fn = NULL;
        if (!fn)
            fn = dlsym(lib, o->symbol);
        memcpy((char *)&mst_cu + o->offset, &fn, sizeof fn);
    }
    return MST_OK;
}

static mst_status load_driver_locked(void)
{
    /* RTLD_LOCAL: the driver's symbols stay out of the global namespace (another CUDA user in the process
     * opens its own reference to the same library). */
    void *lib = dlopen(DRIVER_LIBRARY, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        const char *why = dlerror();
        return mst_fail(MST_ERR_DEVICE,
                        "the NVIDIA driver library %s could not be loaded (%s): install the NVIDIA driver; no CUDA "
                        "toolkit is needed",
                        DRIVER_LIBRARY, why ? why : "not found");
    }
    mst_status st = resolve_procs(lib);
    if (st != MST_OK) {
        memset(&mst_cu, 0, sizeof mst_cu);
        return st;
    }
    CU_CHECK(mst_cu.cuInit(0), "cuInit");
    CU_CHECK(mst_cu.cuDriverGetVersion(&mst_cu_driver_version), "cuDriverGetVersion");
    if (mst_cu_driver_version < MIN_DRIVER_VERSION)
        return mst_fail(MST_ERR_DEVICE,
                        "the NVIDIA driver supports CUDA %d.%d; this library's PTX needs a driver for CUDA 11.0 or "
                        "newer: update the NVIDIA driver",
                        mst_cu_driver_version / 1000, mst_cu_driver_version % 1000 / 10);
    return MST_OK;
}

/* Loads the driver once per process; later calls get the same result (and message). */
mst_status mst_cu_load(void)
{
    pthread_mutex_lock(&g_lock);
    if (!g_loaded) {
        g_load_status = load_driver_locked();
        if (g_load_status != MST_OK)
            snprintf(g_load_error, sizeof g_load_error, "%s", mst_last_error());
        g_loaded = 1;
    }
    const mst_status st = g_load_status;
    pthread_mutex_unlock(&g_lock);
    if (st != MST_OK)
        return mst_fail(st, "%s", g_load_error);
    return MST_OK;
}
