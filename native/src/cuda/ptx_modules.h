/* ptx_modules.h — the PTX of every .cu in native/src/cuda (one module per file, sm_80), embedded in the
 * library by the build (cuda.cmake generates the definitions). Empty (count 0) when the library was built
 * without a PTX compiler: the emulator still works, the driver path reports it. */
#ifndef MST_CUDA_PTX_MODULES_H
#define MST_CUDA_PTX_MODULES_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mst_ptx_module {
    const char *name; /* the .cu file's stem, e.g. "rmsnorm" */
    const char *ptx;  /* NUL-terminated PTX text */
} mst_ptx_module;

extern const mst_ptx_module mst_ptx_modules[];
extern const uint32_t mst_ptx_module_count;

#ifdef __cplusplus
}
#endif

#endif
