/* driver.h — the NVIDIA driver behind device.h (driver*.c): libcuda.so.1 opened with dlopen, entry points
 * found with cuGetProcAddress, the embedded PTX loaded with cuModuleLoadDataEx. Same shapes as device.h's
 * calls; device.c sends a non-emulated mst_dev here. */
#ifndef MST_CUDA_DRIVER_H
#define MST_CUDA_DRIVER_H

#include "device.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mst_drv mst_drv;

mst_status mst_drv_open(int ordinal, mst_drv **out);
void mst_drv_close(mst_drv *d);
mst_status mst_drv_probe(mst_dev_desc *desc, int *device_count);
mst_status mst_drv_describe(mst_drv *d, mst_dev_desc *out);
mst_status mst_drv_alloc(mst_drv *d, size_t bytes, mst_dptr *out);
void mst_drv_free(mst_drv *d, mst_dptr p);
mst_status mst_drv_upload(mst_drv *d, mst_dptr dst, const void *src, size_t bytes);
mst_status mst_drv_download(mst_drv *d, void *dst, mst_dptr src, size_t bytes);
mst_status mst_drv_copy(mst_drv *d, mst_dptr dst, mst_dptr src, size_t bytes);
mst_status mst_drv_memset32(mst_drv *d, mst_dptr dst, uint32_t value, size_t count);
mst_status mst_drv_launch(mst_drv *d, const mst_kernel_ref *k, mst_dim3 grid, mst_dim3 block, uint32_t shared_bytes,
                          void **args);
mst_status mst_drv_sync(mst_drv *d);
/* Graphs (driver_graph.c): whether the driver has the graph entry points; stream capture of d's stream (mode
 * thread-local); capture_end always ends the capture and, when instantiate is nonzero, instantiates the graph
 * into *exec (a CUgraphExec), else discards it; launch on d's stream; free. */
int mst_drv_graphs_supported(mst_drv *d);
mst_status mst_drv_capture_begin(mst_drv *d);
mst_status mst_drv_capture_end(mst_drv *d, int instantiate, void **exec);
mst_status mst_drv_graph_launch(mst_drv *d, void *exec);
void mst_drv_graph_free(mst_drv *d, void *exec);

#ifdef __cplusplus
}
#endif

#endif
