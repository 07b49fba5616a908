/* vec.c — the portable float dot product (rmsnorm's sum of squares). */
#include "ops.h"

float mst_dot_scalar(const float *a, const float *b, uint32_t n)
{
    float s = 0.0f;
    for (uint32_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}
