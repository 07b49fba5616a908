/* rmsnorm.c — y = x / sqrt(mean(x^2) + eps) * weight, row by row.
 *
 * The reference sums squares in double. The fast version sums them in float SIMD lanes (the
 * dispatched dot product) and takes mean, eps and the reciprocal square root in double; a row
 * of a few thousand floats loses well under 1e-6 relative that way. */
#include <math.h>

#include "ops.h"

void mst_rmsnorm_ref(const float *x, const float *weight, uint32_t n, uint32_t n_rows, float eps, float *y)
{
    for (uint32_t r = 0; r < n_rows; r++) {
        const float *xr = x + (size_t)r * n;
        float *yr = y + (size_t)r * n;
        double ss = 0.0;
        for (uint32_t i = 0; i < n; i++)
            ss += (double)xr[i] * (double)xr[i];
        double inv = 1.0 / sqrt(ss / n + (double)eps);
        for (uint32_t i = 0; i < n; i++)
            yr[i] = (float)((double)xr[i] * inv * (double)weight[i]);
    }
}

void mst_rmsnorm_best(const float *x, const float *weight, uint32_t n, uint32_t n_rows, float eps, float *y)
{
    const mst_cpu_kernels *k = mst_cpu_best();
    for (uint32_t r = 0; r < n_rows; r++) {
        const float *xr = x + (size_t)r * n;
        float *yr = y + (size_t)r * n;
        double ss = k->dot(xr, xr, n);
        float inv = (float)(1.0 / sqrt(ss / n + (double)eps));
        for (uint32_t i = 0; i < n; i++)
            yr[i] = xr[i] * inv * weight[i];
    }
}
