/* nonfinite.cu — the first NaN/Inf of a buffer, found on the device: the check every pass makes of the output
 * layer's input (forward.c), without downloading it. Its answer is a device int32 that the pass's end downloads
 * with the logits, so the check costs no wait of its own and fits in a recorded decode step (a CUDA graph).
 *
 * Grid-stride over x (grid_stride.cuh); a thread that sees a non-finite value (exponent bits all ones) lowers the
 * answer with an atomic. The answer is kept as INT32_MAX - index in an int32 that starts at -1, so atomicMax
 * keeps the lowest index (the one the CPU's mst_find_nonfinite returns) whatever order the threads run in:
 * a result the device answers exactly. */
#include "cuda_compat.h"

MST_KERNEL void mst_k_find_nonfinite(const float *x, uint32_t n, int32_t *worst)
{
    const uint32_t stride = gridDim.x * blockDim.x;
    for (uint32_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        const uint32_t bits = __builtin_bit_cast(uint32_t, x[i]);
        if ((bits & 0x7f800000u) == 0x7f800000u)
            mst_atomic_max_i32(worst, (int32_t)(0x7fffffffu - i));
    }
}
MST_REGISTER_KERNEL(mst_k_find_nonfinite);

#if MST_HOST_CODE
#include "grid_stride.cuh"
#include "kernels.h"

extern "C" mst_status mst_fail(mst_status status, const char *fmt, ...);

extern "C" mst_status mst_cuda_find_nonfinite(mst_dev *d, mst_dptr x, uint32_t n, mst_dptr worst)
{
    if (n == 0)
        return MST_OK;
    if (n > 0x7fffffffu)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_cuda_find_nonfinite: %u values (at most 2^31 - 1)", n);
    void *args[] = {&x, &n, &worst};
    return mst_dev_launch(d, &mst_kernel_mst_k_find_nonfinite, mst_grid_stride_blocks(n), mst_grid_stride_threads(), 0,
                          args);
}
#endif
