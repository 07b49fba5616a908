/* driver_internal.h — what the files of the NVIDIA driver behind device.h (driver.h) share; private to
 * native/src/cuda/driver*.c.
 *
 * The driver: libcuda.so.1 opened at run time, its entry points found with cuGetProcAddress (driver_load.c),
 * the PTX embedded in this library (ptx_modules.h) loaded once per device (driver_modules.c), and kernels
 * found by name in those modules (driver_kernels.c).
 *
 * No NVIDIA header or library is needed to build: the types and constants come from cuda_driver_api.h,
 * written from the documented driver API. The library is loaded once per process and never unloaded
 * (unloading libcuda.so.1 while other code in the process may use it is unsafe, and reloading gains nothing).
 *
 * Every failing driver call becomes MST_ERR_DEVICE (MST_ERR_OUT_OF_MEMORY for CUDA_ERROR_OUT_OF_MEMORY) with
 * "<call>: <error name> (<error text>)" and, where one is known, what to do about it.
 *
 * Threads. The device's primary context is made current on whichever thread calls in (a context of the C#
 * side may move between threads); when the thread had another context current, it is pushed for the call
 * and popped after, so other CUDA code in the process keeps its own. One stream per device: every queued
 * operation runs in call order. The kernel table is guarded by a mutex. */
#ifndef MST_CUDA_DRIVER_INTERNAL_H
#define MST_CUDA_DRIVER_INTERNAL_H

#include <pthread.h>

#include "../internal.h"
#include "cuda_driver_api.h"
#include "driver.h"

/* The embedded PTX is generated for sm_80 (cuda.cmake: --cuda-gpu-arch=sm_80) with PTX ISA 7.0: it runs on
 * compute capability 8.0 and newer, through a driver for CUDA 11.0 or newer. */
#define MIN_CC_MAJOR 8
#define MIN_DRIVER_VERSION 11000
#define PTX_HINT "update the NVIDIA driver (this library's PTX needs a driver for CUDA 11.0 or newer)"

/* ---- the entry points (driver_load.c) ---- */

typedef struct drv_api {
    PFN_cuInit cuInit;
    PFN_cuDriverGetVersion cuDriverGetVersion;
    PFN_cuDeviceGetCount cuDeviceGetCount;
    PFN_cuDeviceGet cuDeviceGet;
    PFN_cuDeviceGetName cuDeviceGetName;
    PFN_cuDeviceGetAttribute cuDeviceGetAttribute;
    PFN_cuDeviceTotalMem cuDeviceTotalMem;
    PFN_cuDevicePrimaryCtxRetain cuDevicePrimaryCtxRetain;
    PFN_cuDevicePrimaryCtxRelease cuDevicePrimaryCtxRelease;
    PFN_cuCtxGetCurrent cuCtxGetCurrent;
    PFN_cuCtxSetCurrent cuCtxSetCurrent;
    PFN_cuCtxPushCurrent cuCtxPushCurrent;
    PFN_cuCtxPopCurrent cuCtxPopCurrent;
    PFN_cuMemGetInfo cuMemGetInfo;
    PFN_cuModuleLoadDataEx cuModuleLoadDataEx;
    PFN_cuModuleGetFunction cuModuleGetFunction;
    PFN_cuModuleUnload cuModuleUnload;
    PFN_cuFuncSetAttribute cuFuncSetAttribute;
    PFN_cuLaunchKernel cuLaunchKernel;
    PFN_cuStreamCreate cuStreamCreate;
    PFN_cuStreamSynchronize cuStreamSynchronize;
    PFN_cuStreamDestroy cuStreamDestroy;
    PFN_cuMemAlloc cuMemAlloc;
    PFN_cuMemFree cuMemFree;
    PFN_cuMemcpyHtoDAsync cuMemcpyHtoDAsync;
    PFN_cuMemcpyDtoHAsync cuMemcpyDtoHAsync;
    PFN_cuMemcpyDtoDAsync cuMemcpyDtoDAsync;
    PFN_cuMemsetD32Async cuMemsetD32Async;
    PFN_cuGetErrorName cuGetErrorName;
    PFN_cuGetErrorString cuGetErrorString;
    /* optional (NULL when the driver lacks them): graphs; one of the two instantiates is enough */
    PFN_cuStreamBeginCapture cuStreamBeginCapture;
    PFN_cuStreamEndCapture cuStreamEndCapture;
    PFN_cuGraphInstantiateWithFlags cuGraphInstantiateWithFlags;
    PFN_cuGraphInstantiate_v2 cuGraphInstantiate_v2;
    PFN_cuGraphLaunch cuGraphLaunch;
    PFN_cuGraphExecDestroy cuGraphExecDestroy;
    PFN_cuGraphDestroy cuGraphDestroy;
} drv_api;

extern drv_api mst_cu;            /* filled in by mst_cu_load; all NULL until it succeeded */
extern int mst_cu_driver_version; /* cuDriverGetVersion, once loaded */

/* Loads the driver once per process; later calls get the same result (and message). */
mst_status mst_cu_load(void);

/* ---- failed driver calls (driver_errors.c) ---- */

const char *mst_cu_error_name(CUresult r);
const char *mst_cu_error_text(CUresult r);
/* What to do about an error, where something can be said; NULL where nothing can. */
const char *mst_cu_error_hint(CUresult r);
/* Records a failed driver call and returns its status: "<call>: <name> (<text>)[: <hint>]". */
mst_status mst_cu_fail(CUresult r, const char *call);

#define CU_CHECK(call_expr, what)                                                                                 \
    do {                                                                                                          \
        CUresult cu_r_ = (call_expr);                                                                             \
        if (cu_r_ != CUDA_SUCCESS)                                                                                \
            return mst_cu_fail(cu_r_, what);                                                                      \
    } while (0)

/* ---- a device ---- */

typedef struct kernel_slot {
    const mst_kernel_ref *ref; /* NULL: empty */
    CUfunction fn;
    uint32_t dyn_shared_limit; /* dynamic shared memory the function is opted in to */
} kernel_slot;

struct mst_drv {
    int ordinal;
    CUdevice dev;
    CUcontext ctx;
    int ctx_retained;
    CUstream stream;
    CUmodule *modules;
    uint32_t n_modules;
    float jit_wall_ms; /* the JIT's time for all modules (CU_JIT_WALL_TIME), for diagnostics */
    int compute_major, compute_minor, multiprocessors;
    uint64_t total_memory;
    char name[128];
    pthread_mutex_t lock; /* guards the kernel table */
    kernel_slot *kernels; /* open addressing by the ref's address; a power of two long */
    uint32_t kernels_cap, kernels_used;
};

/* Makes d's context current on this thread for one call; *pushed says whether mst_cu_leave() must pop
 * (driver_context.c). */
mst_status mst_cu_enter(mst_drv *d, int *pushed);
void mst_cu_leave(int pushed);

/* Loads every embedded PTX module into d->modules, with d's context current (driver_modules.c). */
mst_status mst_cu_load_modules(mst_drv *d);

#endif
