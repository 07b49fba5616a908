/* driver_modules.c — the PTX embedded in this library (ptx_modules.h) loaded into a device's context by the
 * driver's JIT, once per device; a module the driver refuses fails with the fix and the JIT's own words. */
#include <stdlib.h>
#include <string.h>

#include "driver_internal.h"
#include "ptx_modules.h"

/* The JIT's error log, first lines only, on one line (" | " between them), cut to fit a message: the log
 * names the PTX line and why it was refused. */
static void first_lines(const char *log, char *out, size_t cap, int max_lines)
{
    size_t o = 0;
    int lines = 1;
    for (const char *p = log; *p && o + 4 < cap; p++) {
        if (*p == '\r')
            continue;
        if (*p == '\n') {
            if (p[1] == '\0' || ++lines > max_lines)
                break;
            memcpy(out + o, " | ", 3);
            o += 3;
            continue;
        }
        out[o++] = *p;
    }
    out[o] = '\0';
}

mst_status mst_cu_load_modules(mst_drv *d)
{
    if (mst_ptx_module_count == 0)
        return mst_fail(MST_ERR_DEVICE, "this library was built without a PTX compiler (clang >= 18 or nvcc): "
                                        "rebuild with clang-19 installed");
    d->modules = calloc(mst_ptx_module_count, sizeof *d->modules);
    if (!d->modules)
        return mst_fail(MST_ERR_OUT_OF_MEMORY, "out of host memory for %u module handles", (unsigned)mst_ptx_module_count);
    for (uint32_t i = 0; i < (uint32_t)mst_ptx_module_count; i++) {
        char error_log[4096] = {0}, info_log[1024] = {0};
        CUjit_option opts[5] = {CU_JIT_WALL_TIME, CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES,
                                CU_JIT_INFO_LOG_BUFFER, CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES};
        void *vals[5] = {NULL, error_log, (void *)(uintptr_t)(sizeof error_log - 1), info_log,
                         (void *)(uintptr_t)(sizeof info_log - 1)};
        CUmodule mod = NULL;
        CUresult r = mst_cu.cuModuleLoadDataEx(&mod, mst_ptx_modules[i].ptx, 5, opts, vals);
        if (r != CUDA_SUCCESS) {
            /* the fix first (mst_backend_info.reason keeps 255 characters), then the driver's words */
            char lines[240];
            first_lines(error_log, lines, sizeof lines, 2);
            const char *hint = mst_cu_error_hint(r);
            return mst_fail(r == CUDA_ERROR_OUT_OF_MEMORY ? MST_ERR_OUT_OF_MEMORY : MST_ERR_DEVICE,
                            "cuModuleLoadDataEx(%s): %s: %s%s%s (%s)", mst_ptx_modules[i].name, mst_cu_error_name(r),
                            hint ? hint : "the driver cannot load this library's PTX: " PTX_HINT,
                            lines[0] ? "; JIT log: " : "", lines, mst_cu_error_text(r));
        }
        d->modules[d->n_modules++] = mod;
        /* the JIT writes its wall time (float milliseconds) over the option's value slot */
        float ms = 0.0f;
        memcpy(&ms, &vals[0], sizeof ms);
        d->jit_wall_ms += ms;
    }
    return MST_OK;
}
