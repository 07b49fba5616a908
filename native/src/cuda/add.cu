/* add.cu — x += y elementwise (the residual connections).
 *
 * Grid-stride loop: 256 threads a block, at most MST_ADD_MAX_BLOCKS blocks, each thread stepping by the whole
 * grid, so any n (a uint64) runs in one launch. The result is the one float addition the CPU does: exact match. */
#include "cuda_compat.h"

MST_KERNEL void mst_k_add(float *x, const float *y, uint64_t n)
{
    const uint64_t stride = (uint64_t)gridDim.x * blockDim.x;
    for (uint64_t i = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
        x[i] += y[i];
}
MST_REGISTER_KERNEL(mst_k_add);

#if MST_HOST_CODE
#include "kernels.h"

enum { MST_ADD_THREADS = 256, MST_ADD_MAX_BLOCKS = 4096 };

extern "C" mst_status mst_cuda_add(mst_dev *d, mst_dptr x, mst_dptr y, uint64_t n)
{
    if (n == 0)
        return MST_OK;
    uint64_t blocks = (n + MST_ADD_THREADS - 1) / MST_ADD_THREADS;
    if (blocks > MST_ADD_MAX_BLOCKS)
        blocks = MST_ADD_MAX_BLOCKS;
    void *args[] = {&x, &y, &n};
    return mst_dev_launch(d, &mst_kernel_mst_k_add, mst_dim3{(uint32_t)blocks, 1, 1}, mst_dim3{MST_ADD_THREADS, 1, 1}, 0,
                          args);
}
#endif
