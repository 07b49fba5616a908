/* emu.h — the SIMT emulator: runs kernels compiled in the host pass (cuda_compat.h) on the CPU.
 *
 * A launch runs its blocks one after another on the calling thread; a block's threads are fibers
 * (fiber.h) that run until they reach a sync point (barrier, warp collective, exit), so kernels without
 * syncs cost one switch per thread. Launches are serialised process-wide (one mutex), which is what lets
 * threadIdx & co. be plain globals.
 *
 * Checks (each fails the launch with MST_ERR_INTERNAL and a message naming kernel, block and thread):
 * divergent barriers, deadlocks, warp collectives with exited or mismatched lanes, shared-memory races
 * (shared.cpp) and shared-memory indices out of bounds; ldmatrix rows and cp.async operands outside shared
 * memory or the device buffer, or misaligned for the device; any access to a cp.async destination before
 * the issuing thread's wait, and a thread that exits with copies pending (ldmatrix.cpp, async.cpp).
 * Global-memory overruns are left to the exact-size allocations of emu_alloc.c (ASan, or a guard page in
 * plain builds); mst_emu_where() names the thread that was running for whoever reports the crash.
 *
 * Everything here is C-callable: device.c is C, the kernels are C++. */
#ifndef MST_CUDA_EMU_H
#define MST_CUDA_EMU_H

#include <stddef.h>
#include <stdint.h>

#include "../device.h"

#ifdef __cplusplus
extern "C" {
#define MST_EMU_NORETURN [[noreturn]]
#else
#define MST_EMU_NORETURN _Noreturn
#endif

#define MST_EMU_HIDDEN __attribute__((visibility("hidden")))

typedef struct mst_emu_uint3 {
    unsigned int x, y, z;
} mst_emu_uint3;

/* The running thread's coordinates, as CUDA's builtin variables (cuda_compat.h maps threadIdx etc. here). */
extern MST_EMU_HIDDEN mst_emu_uint3 mst_emu_threadIdx, mst_emu_blockIdx, mst_emu_blockDim, mst_emu_gridDim;

/* A declaration site (a shared array): the address identifies it, the strings go into messages. */
typedef struct mst_emu_site {
    const char *name;
    const char *file;
    int line;
} mst_emu_site;

/* ---- launch (sched.cpp) ---- */
/* Runs the whole grid. On a failed check: MST_ERR_INTERNAL and the message in msg; bad dimensions:
 * MST_ERR_INVALID_ARGUMENT; no memory for stacks: MST_ERR_OUT_OF_MEMORY. */
MST_EMU_HIDDEN mst_status mst_emu_launch(const mst_kernel_ref *k, mst_dim3 grid, mst_dim3 block, uint32_t shared_bytes,
                                         void **args, char *msg, size_t msg_len);
/* "kernel K block (x,y,z) thread (x,y,z)" of the thread running now; 0 (and "") when none runs.
 * For crash reports: a test's SIGSEGV handler, the ASan death callback (installed by mst_emu_launch in ASan
 * builds). Not async-signal-safe in theory (snprintf), fine for a report on the way down. */
int mst_emu_where(char *buf, size_t n);

/* ---- barriers and warp collectives (sched.cpp, warp.cpp), called by the running thread ---- */
void mst_emu_syncthreads(const char *file, int line);
void mst_emu_syncwarp(const char *file, int line);
enum {
    MST_EMU_OP_SYNCWARP = 1,
    MST_EMU_OP_SHFL_XOR,
    MST_EMU_OP_SHFL_DOWN,
    MST_EMU_OP_SHFL_IDX,
    MST_EMU_OP_BALLOT,
    MST_EMU_OP_MMA_F16,
    MST_EMU_OP_MMA_S8,
    /* ldmatrix: one kind per .num and .trans, so lanes at different forms fail the kind check */
    MST_EMU_OP_LDMATRIX_X1,
    MST_EMU_OP_LDMATRIX_X2,
    MST_EMU_OP_LDMATRIX_X4,
    MST_EMU_OP_LDMATRIX_X1_T,
    MST_EMU_OP_LDMATRIX_X2_T,
    MST_EMU_OP_LDMATRIX_X4_T,
    MST_EMU_OP_MMA_BF16
};
/* Shuffles and ballot: v is this lane's value, param its lane mask / delta / source lane. */
uint32_t mst_emu_warp_u32(int kind, const char *file, int line, uint32_t v, uint32_t param);
void mst_emu_mma_f16_f32(const char *file, int line, float d[4], const uint32_t a[4], const uint32_t b[2],
                         const float c[4]);
void mst_emu_mma_s8_s32(const char *file, int line, int32_t d[4], const uint32_t a[4], const uint32_t b[2],
                        const int32_t c[4]);
void mst_emu_mma_bf16_f32(const char *file, int line, float d[4], const uint32_t a[4], const uint32_t b[2],
                          const float c[4]);

/* ---- ldmatrix (ldmatrix.cpp) and cp.async (async.cpp): see cuda_compat.h for the PTX semantics ---- */
/* Warp-collective: num 1, 2 or 4 matrices, trans 0/1; lanes 0 .. 8*num-1 give the row addresses. */
void mst_emu_ldmatrix(const char *file, int line, int num, int trans, uint32_t *r, const void *row);
/* One thread's asynchronous copy of cp_size (4 or 16) bytes, src_bytes of them from src, the rest zeros;
 * it lands in shared memory at the issuing thread's wait that completes its group. */
void mst_emu_cp_async(const char *file, int line, void *dst, const void *src, uint32_t cp_size, uint32_t src_bytes);
void mst_emu_cp_async_commit(const char *file, int line);
void mst_emu_cp_async_wait(const char *file, int line, uint32_t n); /* cp.async.wait_group n */
void mst_emu_cp_async_wait_all(const char *file, int line);

/* ---- shared memory (shared.cpp) ---- */
typedef struct mst_emu_shared_mem {
    unsigned char *data;
    void *shadow; /* per-byte access records for the race check */
    uint64_t bytes;
} mst_emu_shared_mem;
/* The block's storage for a static MST_SHARED array (fresh per block, filled with 0xff bytes: NaN as
 * float/half, -1 as integers, so a read before any write shows). */
mst_emu_shared_mem mst_emu_shared_static(const mst_emu_site *site, uint64_t bytes, uint64_t align);
/* The launch's dynamic shared memory (shared_bytes of the launch). */
mst_emu_shared_mem mst_emu_shared_dynamic(void);
/* Records an access of `size` bytes to element `index`; fails the launch on a race. */
void mst_emu_shared_access(void *shadow, const mst_emu_site *site, uint64_t index, uint32_t size, int write);
MST_EMU_NORETURN void mst_emu_shared_oob(const mst_emu_site *site, int64_t index, uint64_t count);

/* ---- conversions the host pass uses (convert.cpp) ---- */
float mst_emu_h2f(uint16_t h);
uint16_t mst_emu_f2h(float f); /* round to nearest even, like cvt.rn.f16.f32 */

/* ---- device memory (emu_alloc.c): exact-size buffers so that overruns fault ---- */
MST_EMU_HIDDEN void *mst_emu_alloc(size_t bytes);
MST_EMU_HIDDEN void mst_emu_free(void *p);
/* The live buffer with the greatest start <= p: 1 and its start and size, or 0 when there is none. Lets
 * cp.async check its source against the buffer it lies in (and its alignment against the buffer's start,
 * which is 256-aligned on a device though not in the guard-page layout). */
MST_EMU_HIDDEN int mst_emu_alloc_find(const void *p, const unsigned char **base, size_t *bytes);

#ifdef __cplusplus
}
#endif

#endif
