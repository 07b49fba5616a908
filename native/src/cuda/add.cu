/* add.cu — x += y elementwise (the residual connections).
 *
 * Grid-stride loop: 256 threads a block, at most 4096 blocks (grid_stride.cuh), each thread stepping by the whole
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
#include "grid_stride.cuh"
#include "kernels.h"

extern "C" mst_status mst_cuda_add(mst_dev *d, mst_dptr x, mst_dptr y, uint64_t n)
{
    if (n == 0)
        return MST_OK;
    void *args[] = {&x, &y, &n};
    return mst_dev_launch(d, &mst_kernel_mst_k_add, mst_grid_stride_blocks(n), mst_grid_stride_threads(), 0, args);
}
#endif
