/* device.h — "a CUDA device" as the CUDA backend and the kernels' launch wrappers see it, with two
 * implementations behind one handle: the NVIDIA driver (driver*.c: libcuda.so.1 loaded at run time, the
 * embedded PTX) and the SIMT emulator (emu/: the same kernel sources compiled for the CPU).
 *
 * Device memory is addressed by mst_dptr (a CUdeviceptr on the driver; a host address, from an exact-size
 * allocation, on the emulator). Every call returns an mst_status and on failure records a message with
 * mst_fail() that names the call, the driver's error and what to do. Nothing here aborts. */
#ifndef MST_CUDA_DEVICE_H
#define MST_CUDA_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#include "mistral.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef uint64_t mst_dptr;
typedef struct mst_dev mst_dev;

/* A kernel as both implementations know it: its name in the PTX (extern "C", unmangled) and, for the
 * emulator, an entry that unpacks a cuLaunchKernel-style argument array (args[i] points at argument i)
 * and runs the kernel body for the current emulated thread. Defined by MST_REGISTER_KERNEL in each .cu. */
typedef struct mst_kernel_ref {
    const char *name;
    void (*emu_entry)(void **args);
    /* The byte size of each argument (n_args of them), so that the emulator's graph capture can copy the
     * values a launch's args point at (the driver copies them itself, cuLaunchKernel being by value). */
    uint32_t n_args;
    const uint16_t *arg_sizes;
} mst_kernel_ref;

typedef struct mst_dim3 {
    uint32_t x, y, z;
} mst_dim3;

typedef struct mst_dev_desc {
    int emulated;
    int ordinal;
    int compute_major, compute_minor;
    int driver_version;     /* e.g. 12040; 0 on the emulator */
    int multiprocessors;
    uint64_t total_memory, free_memory;
    char name[128];
} mst_dev_desc;

/* Opens device `ordinal`: the emulator when MISTRAL_CUDA_EMULATE=1 (or emulate != 0), else the driver.
 * MST_ERR_DEVICE when there is no driver or no such device (the message says which and what to install). */
mst_status mst_dev_open(int ordinal, int emulate, mst_dev **out);
void mst_dev_close(mst_dev *d);
/* Probes without keeping a device open (mst_backend_query): fills desc for device 0 and the count. */
mst_status mst_dev_probe(int emulate, mst_dev_desc *desc, int *device_count);
mst_status mst_dev_describe(mst_dev *d, mst_dev_desc *out);

mst_status mst_dev_alloc(mst_dev *d, size_t bytes, mst_dptr *out);
void mst_dev_free(mst_dev *d, mst_dptr p);
mst_status mst_dev_upload(mst_dev *d, mst_dptr dst, const void *src, size_t bytes);
mst_status mst_dev_download(mst_dev *d, void *dst, mst_dptr src, size_t bytes);
mst_status mst_dev_copy(mst_dev *d, mst_dptr dst, mst_dptr src, size_t bytes);
mst_status mst_dev_memset32(mst_dev *d, mst_dptr dst, uint32_t value, size_t count);
/* Queues a launch on the device's stream (the emulator runs it now). shared_bytes: dynamic shared memory. */
mst_status mst_dev_launch(mst_dev *d, const mst_kernel_ref *k, mst_dim3 grid, mst_dim3 block, uint32_t shared_bytes,
                          void **args);
/* Waits for everything queued. */
mst_status mst_dev_sync(mst_dev *d);

/* ---- graphs: a recorded sequence of launches, replayed with one call (device.c; the driver's in driver_graph.c) ----
 * Between capture_begin and capture_end, launches are recorded instead of run (the emulator copies each
 * launch's kernel, grid, block, shared bytes and argument values; the driver captures its stream); uploads,
 * downloads, copies, memsets and syncs are refused with MST_ERR_INTERNAL saying so (a graph here holds kernels
 * only: whatever reaches the host goes before or after the launch). A failed call during capture leaves the
 * capture open: capture_end always ends it, returning the first failure and no graph.
 * graphs_supported: 1 on the emulator and on a driver with the graph entry points (cuStreamBeginCapture,
 * cuStreamEndCapture, cuGraphInstantiate*, cuGraphLaunch, cuGraphExecDestroy, cuGraphDestroy); 0 on an older
 * driver (said once on stderr): the caller then runs its launches one by one, which gives the same results. */
typedef struct mst_dev_graph mst_dev_graph;
int mst_dev_graphs_supported(mst_dev *d);
mst_status mst_dev_capture_begin(mst_dev *d);
mst_status mst_dev_capture_end(mst_dev *d, mst_dev_graph **out);
/* Queues the recorded launches in their order (the emulator runs them now). */
mst_status mst_dev_graph_launch(mst_dev *d, mst_dev_graph *g);
void mst_dev_graph_free(mst_dev *d, mst_dev_graph *g);

#ifdef __cplusplus
}
#endif

#endif
