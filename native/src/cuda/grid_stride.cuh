/* grid_stride.cuh — launch shape of the elementwise kernels (add.cu, swiglu.cu): 256 threads a block and at most
 * 4096 blocks, each thread stepping by the whole grid, so any n (a uint64) runs in one launch. Host pass only. */
#ifndef MST_CUDA_GRID_STRIDE_CUH
#define MST_CUDA_GRID_STRIDE_CUH

#include "device.h"

enum { MST_GRID_STRIDE_THREADS = 256, MST_GRID_STRIDE_MAX_BLOCKS = 4096 };

/* Blocks for n elements (n > 0). */
static inline mst_dim3 mst_grid_stride_blocks(uint64_t n)
{
    uint64_t blocks = (n + MST_GRID_STRIDE_THREADS - 1) / MST_GRID_STRIDE_THREADS;
    if (blocks > MST_GRID_STRIDE_MAX_BLOCKS)
        blocks = MST_GRID_STRIDE_MAX_BLOCKS;
    return mst_dim3{(uint32_t)blocks, 1, 1};
}

static inline mst_dim3 mst_grid_stride_threads(void)
{
    return mst_dim3{MST_GRID_STRIDE_THREADS, 1, 1};
}

#endif
