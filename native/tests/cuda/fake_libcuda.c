/* fake_libcuda.c — a stand-in for the NVIDIA driver, built only for the tests as libcuda.so.1 in a test-only
 * directory that the driver tests put first on LD_LIBRARY_PATH. It exports cuGetProcAddress(_v2) and the
 * versioned entry points driver_load.c asks for, and behaves as the environment says, so that every error path of
 * the driver code (and the CUDA backend's memory checks) can be run on a machine without a GPU:
 *   FAKE_CUDA_INIT_ERROR=N      cuInit returns N
 *   FAKE_CUDA_DRIVER_VERSION=N  cuDriverGetVersion reports N (default 12040)
 *   FAKE_CUDA_DEVICES=N         cuDeviceGetCount reports N (default 1)
 *   FAKE_CUDA_CC=MAJOR.MINOR    compute capability (default 8.6)
 *   FAKE_CUDA_FREE_MIB=N        cuMemGetInfo's free memory (default 20000; total 24576)
 *   FAKE_CUDA_ALLOC_LIMIT_MIB=N cuMemAlloc fails with CUDA_ERROR_OUT_OF_MEMORY past N MiB in all
 *   FAKE_CUDA_JIT_ERROR=1       cuModuleLoadDataEx fails as an old driver does on newer PTX, with its log
 *   FAKE_CUDA_NO_PROC_ADDRESS=1 no cuGetProcAddress (a driver before CUDA 11.3): entry points by symbol only
 *   FAKE_CUDA_NO_GRAPHS=1       cuGetProcAddress finds no graph entry point (they are reachable only through it:
 *                               not exported), as on a driver without them
 * and the test may call, through dlsym, fake_cuda_fail_syncs(N): every later cuStreamSynchronize returns N
 * (an asynchronous kernel fault, as CUDA_ERROR_ILLEGAL_ADDRESS shows up at the next synchronization), and
 * fake_cuda_allocated(): the device bytes allocated and not yet freed.
 * Device memory is host memory (malloc); launches do nothing but count (fake_cuda_launch_count()). Kernels are
 * found by ".entry <name>(" in the PTX text, so lookups across the embedded modules behave as on a real
 * driver. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT __attribute__((visibility("default")))

typedef int CUresult;
typedef unsigned long long CUdeviceptr;

static long env_long(const char *name, long dflt)
{
    const char *v = getenv(name);
    return v && *v ? strtol(v, NULL, 10) : dflt;
}

static int g_initialized;
static CUresult g_sync_error;
static uint64_t g_allocated;
static long g_launches;

EXPORT long fake_cuda_launch_count(void)
{
    return g_launches;
}

/* Bytes cuMemAlloc has handed out and not taken back: what a test compares with the backend's own figures. */
EXPORT uint64_t fake_cuda_allocated(void)
{
    return g_allocated;
}

EXPORT void fake_cuda_fail_syncs(CUresult error)
{
    g_sync_error = error;
}

EXPORT CUresult cuInit(unsigned int flags)
{
    (void)flags;
    CUresult r = (CUresult)env_long("FAKE_CUDA_INIT_ERROR", 0);
    if (r == 0)
        g_initialized = 1;
    return r;
}

#define NEED_INIT()                                                                                               \
    do {                                                                                                          \
        if (!g_initialized)                                                                                       \
            return 3; /* CUDA_ERROR_NOT_INITIALIZED */                                                            \
    } while (0)

EXPORT CUresult cuDriverGetVersion(int *v)
{
    *v = (int)env_long("FAKE_CUDA_DRIVER_VERSION", 12040);
    return 0;
}

EXPORT CUresult cuDeviceGetCount(int *n)
{
    NEED_INIT();
    *n = (int)env_long("FAKE_CUDA_DEVICES", 1);
    return 0;
}

EXPORT CUresult cuDeviceGet(int *dev, int ordinal)
{
    NEED_INIT();
    if (ordinal < 0 || ordinal >= env_long("FAKE_CUDA_DEVICES", 1))
        return 101; /* CUDA_ERROR_INVALID_DEVICE */
    *dev = ordinal;
    return 0;
}

EXPORT CUresult cuDeviceGetName(char *name, int len, int dev)
{
    NEED_INIT();
    snprintf(name, (size_t)len, "Fake GPU %d", dev);
    return 0;
}

EXPORT CUresult cuDeviceGetAttribute(int *value, int attrib, int dev)
{
    (void)dev;
    NEED_INIT();
    const char *cc = getenv("FAKE_CUDA_CC");
    int major = 8, minor = 6;
    if (cc && *cc)
        sscanf(cc, "%d.%d", &major, &minor);
    switch (attrib) {
    case 75: *value = major; return 0;
    case 76: *value = minor; return 0;
    case 16: *value = 84; return 0;
    default: *value = 0; return 1;
    }
}

EXPORT CUresult cuDeviceTotalMem_v2(size_t *bytes, int dev)
{
    (void)dev;
    NEED_INIT();
    *bytes = (size_t)24576 << 20;
    return 0;
}

static int g_ctx_token; /* the primary context's handle points here */
static __thread void *t_current;

EXPORT CUresult cuDevicePrimaryCtxRetain(void **ctx, int dev)
{
    (void)dev;
    NEED_INIT();
    *ctx = &g_ctx_token;
    return 0;
}

EXPORT CUresult cuDevicePrimaryCtxRelease_v2(int dev)
{
    (void)dev;
    return 0;
}

EXPORT CUresult cuCtxGetCurrent(void **ctx)
{
    *ctx = t_current;
    return 0;
}

EXPORT CUresult cuCtxSetCurrent(void *ctx)
{
    t_current = ctx;
    return 0;
}

static __thread void *t_stack[8];
static __thread int t_depth;

EXPORT CUresult cuCtxPushCurrent_v2(void *ctx)
{
    if (t_depth == 8)
        return 1;
    t_stack[t_depth++] = t_current;
    t_current = ctx;
    return 0;
}

EXPORT CUresult cuCtxPopCurrent_v2(void **ctx)
{
    if (t_depth == 0)
        return 1;
    if (ctx)
        *ctx = t_current;
    t_current = t_stack[--t_depth];
    return 0;
}

#define NEED_CTX()                                                                                                \
    do {                                                                                                          \
        if (t_current != &g_ctx_token)                                                                            \
            return 201; /* CUDA_ERROR_INVALID_CONTEXT */                                                          \
    } while (0)

EXPORT CUresult cuMemGetInfo_v2(size_t *free_bytes, size_t *total)
{
    NEED_CTX();
    *free_bytes = (size_t)env_long("FAKE_CUDA_FREE_MIB", 20000) << 20;
    *total = (size_t)24576 << 20;
    return 0;
}

static const char JIT_LOG[] = "ptxas application ptx input, line 5; fatal   : Unsupported .version 7.0; current "
                              "version is '6.4'\nptxas fatal   : Ptx assembly aborted due to errors\n";

EXPORT CUresult cuModuleLoadDataEx(void **module, const void *image, unsigned int n, int *options, void **values)
{
    NEED_CTX();
    int jit_error = env_long("FAKE_CUDA_JIT_ERROR", 0) != 0;
    char *err_buf = NULL;
    size_t err_cap = 0;
    for (unsigned int i = 0; i < n; i++) {
        switch (options[i]) {
        case 2: { /* CU_JIT_WALL_TIME: the float goes over the value slot */
            float ms = 1.5f;
            memcpy(&values[i], &ms, sizeof ms);
            break;
        }
        case 5: err_buf = values[i]; break;
        case 6: err_cap = (size_t)(uintptr_t)values[i]; break;
        default: break;
        }
    }
    if (jit_error) {
        if (err_buf && err_cap)
            snprintf(err_buf, err_cap, "%s", JIT_LOG);
        return 222; /* CUDA_ERROR_UNSUPPORTED_PTX_VERSION */
    }
    if (!image || !strstr((const char *)image, ".version"))
        return 218; /* CUDA_ERROR_INVALID_PTX */
    *module = (void *)image;
    return 0;
}

/* a function handle: where its ".entry" is in the module's text (nothing to free, as with a real driver,
 * whose functions live as long as their module) */
EXPORT CUresult cuModuleGetFunction(void **fn, void *module, const char *name)
{
    NEED_CTX();
    char pattern[256];
    snprintf(pattern, sizeof pattern, ".entry %s(", name);
    const char *at = strstr((const char *)module, pattern);
    if (!at)
        return 500; /* CUDA_ERROR_NOT_FOUND */
    *fn = (void *)at;
    return 0;
}

EXPORT CUresult cuModuleUnload(void *module)
{
    (void)module;
    return 0;
}

EXPORT CUresult cuFuncSetAttribute(void *fn, int attrib, int value)
{
    (void)fn;
    return attrib == 8 && value <= 227 * 1024 ? 0 : 1;
}

/* Stream capture: launches while capturing are counted into the graph, not run; a launched graph adds its count. */
static int g_capturing;
static long g_captured;
static long g_graph_launches;

EXPORT long fake_cuda_graph_launch_count(void)
{
    return g_graph_launches;
}

EXPORT CUresult cuLaunchKernel(void *fn, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                               unsigned shared, void *stream, void **params, void **extra)
{
    (void)fn, (void)stream, (void)params, (void)extra, (void)shared;
    NEED_CTX();
    if (!gx || !gy || !gz || !bx || !by || !bz || (uint64_t)bx * by * bz > 1024)
        return 1; /* CUDA_ERROR_INVALID_VALUE */
    if (g_capturing)
        g_captured++;
    else
        g_launches++;
    return 0;
}

typedef struct fake_graph {
    long launches;
} fake_graph;

static CUresult fake_cuStreamBeginCapture(void *stream, int mode)
{
    (void)stream;
    NEED_CTX();
    if (g_capturing || mode < 0 || mode > 2)
        return 1;
    g_capturing = 1;
    g_captured = 0;
    return 0;
}

static CUresult fake_cuStreamEndCapture(void *stream, void **graph)
{
    (void)stream;
    NEED_CTX();
    if (!g_capturing)
        return 1;
    g_capturing = 0;
    fake_graph *g = malloc(sizeof *g);
    if (!g)
        return 2;
    g->launches = g_captured;
    *graph = g;
    return 0;
}

static CUresult fake_cuGraphInstantiateWithFlags(void **exec, void *graph, unsigned long long flags)
{
    (void)flags;
    NEED_CTX();
    fake_graph *e = malloc(sizeof *e);
    if (!e)
        return 2;
    *e = *(fake_graph *)graph;
    *exec = e;
    return 0;
}

static CUresult fake_cuGraphLaunch(void *exec, void *stream)
{
    (void)stream;
    NEED_CTX();
    g_launches += ((fake_graph *)exec)->launches;
    g_graph_launches++;
    return 0;
}

static CUresult fake_cuGraphExecDestroy(void *exec)
{
    free(exec);
    return 0;
}

static CUresult fake_cuGraphDestroy(void *graph)
{
    free(graph);
    return 0;
}

static int g_stream_token;

EXPORT CUresult cuStreamCreate(void **stream, unsigned int flags)
{
    (void)flags;
    NEED_CTX();
    *stream = &g_stream_token;
    return 0;
}

EXPORT CUresult cuStreamSynchronize(void *stream)
{
    (void)stream;
    NEED_CTX();
    return g_sync_error;
}

EXPORT CUresult cuStreamDestroy_v2(void *stream)
{
    (void)stream;
    return 0;
}

/* each allocation carries its size in front, for the limit */
EXPORT CUresult cuMemAlloc_v2(CUdeviceptr *p, size_t bytes)
{
    NEED_CTX();
    if (bytes == 0)
        return 1;
    long limit = env_long("FAKE_CUDA_ALLOC_LIMIT_MIB", -1);
    if (limit >= 0 && g_allocated + bytes > ((uint64_t)limit << 20))
        return 2; /* CUDA_ERROR_OUT_OF_MEMORY */
    uint64_t *b = malloc(bytes + 16);
    if (!b)
        return 2;
    b[0] = bytes;
    g_allocated += bytes;
    *p = (CUdeviceptr)(uintptr_t)(b + 2);
    return 0;
}

EXPORT CUresult cuMemFree_v2(CUdeviceptr p)
{
    NEED_CTX();
    if (!p)
        return 0;
    uint64_t *b = (uint64_t *)(uintptr_t)p - 2;
    g_allocated -= b[0];
    free(b);
    return 0;
}

EXPORT uint64_t fake_cuda_allocated_bytes(void)
{
    return g_allocated;
}

EXPORT CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void *src, size_t n, void *stream)
{
    (void)stream;
    NEED_CTX();
    memcpy((void *)(uintptr_t)dst, src, n);
    return 0;
}

EXPORT CUresult cuMemcpyDtoHAsync_v2(void *dst, CUdeviceptr src, size_t n, void *stream)
{
    (void)stream;
    NEED_CTX();
    memcpy(dst, (const void *)(uintptr_t)src, n);
    return 0;
}

EXPORT CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src, size_t n, void *stream)
{
    (void)stream;
    NEED_CTX();
    memmove((void *)(uintptr_t)dst, (const void *)(uintptr_t)src, n);
    return 0;
}

EXPORT CUresult cuMemsetD32Async(CUdeviceptr dst, unsigned int value, size_t count, void *stream)
{
    (void)stream;
    NEED_CTX();
    uint32_t *p = (uint32_t *)(uintptr_t)dst;
    for (size_t i = 0; i < count; i++)
        p[i] = value;
    return 0;
}

typedef struct err_entry {
    int code;
    const char *name, *text;
} err_entry;

/* names and texts as the real driver gives them */
static const err_entry ERRORS[] = {
    {1, "CUDA_ERROR_INVALID_VALUE", "invalid argument"},
    {2, "CUDA_ERROR_OUT_OF_MEMORY", "out of memory"},
    {3, "CUDA_ERROR_NOT_INITIALIZED", "initialization error"},
    {35, "CUDA_ERROR_INSUFFICIENT_DRIVER", "CUDA driver version is insufficient for CUDA runtime version"},
    {100, "CUDA_ERROR_NO_DEVICE", "no CUDA-capable device is detected"},
    {101, "CUDA_ERROR_INVALID_DEVICE", "invalid device ordinal"},
    {201, "CUDA_ERROR_INVALID_CONTEXT", "invalid device context"},
    {218, "CUDA_ERROR_INVALID_PTX", "a PTX JIT compilation failed"},
    {222, "CUDA_ERROR_UNSUPPORTED_PTX_VERSION", "the provided PTX was compiled with an unsupported toolchain."},
    {500, "CUDA_ERROR_NOT_FOUND", "named symbol not found"},
    {700, "CUDA_ERROR_ILLEGAL_ADDRESS", "an illegal memory access was encountered"},
    {803, "CUDA_ERROR_SYSTEM_DRIVER_MISMATCH", "system has unsupported display driver / cuda driver combination"},
    {999, "CUDA_ERROR_UNKNOWN", "unknown error"},
};

EXPORT CUresult cuGetErrorName(CUresult e, const char **s)
{
    for (size_t i = 0; i < sizeof ERRORS / sizeof *ERRORS; i++)
        if (ERRORS[i].code == e) {
            *s = ERRORS[i].name;
            return 0;
        }
    *s = NULL;
    return 1;
}

EXPORT CUresult cuGetErrorString(CUresult e, const char **s)
{
    for (size_t i = 0; i < sizeof ERRORS / sizeof *ERRORS; i++)
        if (ERRORS[i].code == e) {
            *s = ERRORS[i].text;
            return 0;
        }
    *s = NULL;
    return 1;
}

/* ---- cuGetProcAddress: base names to the versions above (cudaVersion 11000 asks for these) ---- */

typedef struct proc {
    const char *name;
    void *fn;
} proc;

#define P(n) {#n, (void *)n}
#define PV(n) {#n, (void *)n##_v2}
static const proc PROCS[] = {
    P(cuInit), P(cuDriverGetVersion), P(cuDeviceGetCount), P(cuDeviceGet), P(cuDeviceGetName),
    P(cuDeviceGetAttribute), PV(cuDeviceTotalMem), P(cuDevicePrimaryCtxRetain), PV(cuDevicePrimaryCtxRelease),
    P(cuCtxGetCurrent), P(cuCtxSetCurrent), PV(cuCtxPushCurrent), PV(cuCtxPopCurrent), PV(cuMemGetInfo),
    P(cuModuleLoadDataEx), P(cuModuleGetFunction), P(cuModuleUnload), P(cuFuncSetAttribute), P(cuLaunchKernel),
    P(cuStreamCreate), P(cuStreamSynchronize), PV(cuStreamDestroy), PV(cuMemAlloc), PV(cuMemFree),
    PV(cuMemcpyHtoDAsync), PV(cuMemcpyDtoHAsync), PV(cuMemcpyDtoDAsync), P(cuMemsetD32Async), P(cuGetErrorName),
    P(cuGetErrorString),
};

#define PF(n) {#n, (void *)fake_##n}
static const proc GRAPH_PROCS[] = {
    PF(cuStreamBeginCapture), PF(cuStreamEndCapture), PF(cuGraphInstantiateWithFlags), PF(cuGraphLaunch),
    PF(cuGraphExecDestroy), PF(cuGraphDestroy),
};

static CUresult get_proc(const char *symbol, void **pfn)
{
    *pfn = NULL;
    if (env_long("FAKE_CUDA_NO_PROC_ADDRESS", 0))
        return 500;
    for (size_t i = 0; i < sizeof GRAPH_PROCS / sizeof *GRAPH_PROCS && !env_long("FAKE_CUDA_NO_GRAPHS", 0); i++)
        if (strcmp(GRAPH_PROCS[i].name, symbol) == 0) {
            *pfn = GRAPH_PROCS[i].fn;
            return 0;
        }
    for (size_t i = 0; i < sizeof PROCS / sizeof *PROCS; i++)
        if (strcmp(PROCS[i].name, symbol) == 0) {
            *pfn = PROCS[i].fn;
            return 0;
        }
    return 500;
}

EXPORT CUresult cuGetProcAddress(const char *symbol, void **pfn, int version, uint64_t flags)
{
    (void)version, (void)flags;
    return get_proc(symbol, pfn);
}

EXPORT CUresult cuGetProcAddress_v2(const char *symbol, void **pfn, int version, uint64_t flags, int *status)
{
    (void)version, (void)flags;
    CUresult r = get_proc(symbol, pfn);
    if (status)
        *status = r == 0 ? 0 : 1; /* CU_GET_PROC_ADDRESS_SUCCESS, _SYMBOL_NOT_FOUND */
    return r;
}
