/* rmsnorm.cu — y[r] = x[r] / sqrt(mean(x[r]^2) + eps) * weight, one block per row.
 *
 * Block of MST_RMSNORM_THREADS threads: each sums the squares of its strided elements in float, the warps
 * reduce with xor shuffles, warp 0 reduces the warp sums from shared memory, and every thread reads the total.
 * The scale is 1 / sqrt.rn(mean + eps) with an IEEE division (no rsqrt.approx), so it is within a few ulp.
 *
 * Error: all terms of the sum of squares are positive, so its relative error is at most (k + 1 + 10) * 2^-24,
 * k = ceil(n / 256) terms per thread and 10 tree levels (5 shuffles in a warp, 5 over the warps). The mean, eps,
 * sqrt (halves the error), division and the two products add about 6 roundings: |y - exact| <=
 * ((k + 11) / 2 + 7) * 2^-24 * |exact|. test_cuda_rmsnorm.c checks that bound. */
#include "cuda_compat.h"

#define MST_RMSNORM_THREADS 256

MST_KERNEL void mst_k_rmsnorm(const float *x, const float *weight, float *y, uint32_t n, float eps)
{
    MST_SHARED(float, warp_sums, MST_WARP);
    MST_SHARED(float, total, 1);
    const uint32_t tid = threadIdx.x, lane = tid % MST_WARP, warp = tid / MST_WARP;
    const uint32_t n_warps = (blockDim.x + MST_WARP - 1) / MST_WARP;
    const float *xr = x + (uint64_t)blockIdx.x * n;
    float *yr = y + (uint64_t)blockIdx.x * n;

    float ss = 0.0f;
    for (uint32_t i = tid; i < n; i += blockDim.x)
        ss += xr[i] * xr[i];
    for (int m = MST_WARP / 2; m > 0; m /= 2)
        ss += mst_shfl_xor_f32(ss, m);
    if (lane == 0)
        warp_sums[warp] = ss;
    mst_syncthreads();
    if (warp == 0) {
        float s = lane < n_warps ? warp_sums[lane] : 0.0f;
        for (int m = MST_WARP / 2; m > 0; m /= 2)
            s += mst_shfl_xor_f32(s, m);
        if (lane == 0)
            total[0] = s;
    }
    mst_syncthreads();

    const float inv = mst_divf(1.0f, mst_sqrtf(mst_divf(total[0], (float)n) + eps));
    for (uint32_t i = tid; i < n; i += blockDim.x)
        yr[i] = xr[i] * inv * weight[i];
}
MST_REGISTER_KERNEL(mst_k_rmsnorm);

#if MST_HOST_CODE
#include "kernels.h"

extern "C" mst_status mst_fail(mst_status status, const char *fmt, ...);

extern "C" mst_status mst_cuda_rmsnorm(mst_dev *d, mst_dptr x, mst_dptr weight, uint32_t n, uint32_t rows, float eps,
                                       mst_dptr y)
{
    if (rows == 0)
        return MST_OK;
    if (n == 0 || rows > 0x7fffffffu)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_cuda_rmsnorm: bad shape (n %u, rows %u)", n, rows);
    void *args[] = {&x, &weight, &y, &n, &eps};
    return mst_dev_launch(d, &mst_kernel_mst_k_rmsnorm, mst_dim3{rows, 1, 1}, mst_dim3{MST_RMSNORM_THREADS, 1, 1}, 0,
                          args);
}
#endif
