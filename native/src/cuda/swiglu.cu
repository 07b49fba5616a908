/* swiglu.cu — gate = silu(gate) * up, silu(g) = g / (1 + exp(-g)).
 *
 * Grid-stride loop like add.cu. exp(-g) overflows to +inf for g below about -88; then g / (1 + inf) is -0,
 * the right limit, so large |g| needs no special case (g = +100: exp(-100) flushes to 0 and silu = g).
 *
 * Error (device): mst_expf(-g) is ex2.approx(-g * log2e): the product's rounding moves the exponent by
 * |g| * 2^-24 (relative error |g| * 2^-24 in the exponential after the ln 2 * log2 e cancellation) and ex2.approx
 * adds 2^-22.5. d silu / silu along e = exp(-g) is e / (1 + e) <= 1, so silu inherits at most that relative error,
 * plus the rounding of 1 + e, the division (div.rn) and the product with up: relative error
 * <= (|g| + 6) * 2^-24 against the exact value. test_cuda_swiglu.c checks that bound.
 *
 * A decode step (1 .. 8 tokens of a type the GEMV takes) does not run this kernel: the GEMV computes gate and up
 * and applies the same expression (swiglu.cuh) before storing (matmul_swiglu.cu). */
#include "cuda_compat.h"

#include "swiglu.cuh"

MST_KERNEL void mst_k_swiglu(float *gate, const float *up, uint64_t n)
{
    const uint64_t stride = (uint64_t)gridDim.x * blockDim.x;
    for (uint64_t i = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
        gate[i] = mst_silu_mul(gate[i], up[i]);
}
MST_REGISTER_KERNEL(mst_k_swiglu);

#if MST_HOST_CODE
#include "grid_stride.cuh"
#include "kernels.h"

extern "C" mst_status mst_cuda_swiglu(mst_dev *d, mst_dptr gate, mst_dptr up, uint64_t n)
{
    if (n == 0)
        return MST_OK;
    void *args[] = {&gate, &up, &n};
    return mst_dev_launch(d, &mst_kernel_mst_k_swiglu, mst_grid_stride_blocks(n), mst_grid_stride_threads(), 0, args);
}
#endif
