/* vec.c — portable float vector kernels used by attention where no SIMD variant applies. */
#include "ops.h"

float mst_dot_scalar(const float *a, const float *b, uint32_t n)
{
    float s = 0.0f;
    for (uint32_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

void mst_axpy_scalar(float *y, float a, const float *x, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        y[i] += a * x[i];
}
