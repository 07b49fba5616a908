/* rope.cu — rotary position embedding on adjacent pairs (2i, 2i+1) of each head, in place.
 *
 * Grid (x: tokens, y: groups of MST_ROPE_HEADS heads), a thread per pair i (blocks of up to 128 threads,
 * striding over head_dim / 2): it computes the pair's (cos, sin) once and rotates that pair in each head of its
 * group.
 *
 * The angle. The CPU takes theta = pos * base^(-2i/head_dim) in double, and so must we: at pos 32768 a float
 * theta is only good to 2^-9 rad, whatever the sin/cos after it. Double is a handful of instructions per thread
 * here, not in any inner loop. The wrapper passes r = base^(-2/head_dim), computed on the host in double, as
 * raw bits; the thread forms r^i by binary powering (relative error below 2 i * 2^-53), theta = pos * r^i, and
 * reduces it by pi/2 in double: k = round(theta * 2/pi), red = fma(-k, PIO2_HI, theta) - k * PIO2_LO, exact but
 * for about 2^-53 relative, and |red| <= pi/4. So red is off by far less than a float ulp at any pos < 2^32.
 *
 * sin and cos of red (rounded to float, abs error <= 2^-25) are Taylor polynomials in float (odd to degree 9,
 * even to degree 10: truncation below 2e-9 on [-pi/4, pi/4]) in Horner form, then the quadrant k mod 4 picks
 * and signs them. Each is off by at most 2^-22 absolute, so a rotated value a*c - b*s (or a*s + b*c) is off by
 * at most (2^-22 + 3 * 2^-24) * (|a| + |b|) from the exact rotation; test_cuda_rope.c allows 2^-20 * (|a| + |b|). */
#include "cuda_compat.h"

#define MST_ROPE_HEADS 8 /* heads one block rotates with each (cos, sin) it computes */

MST_DEVICE void mst_rope_sincos(uint32_t pos, uint32_t i, double r, float *s_out, float *c_out)
{
    double inv_freq = 1.0, b = r;
    for (uint32_t e = i; e; e >>= 1) {
        if (e & 1u)
            inv_freq *= b;
        b *= b;
    }
    const double theta = (double)pos * inv_freq; /* >= 0 */
    const double PIO2_HI = 1.5707963267948966;     /* pi/2 rounded to double */
    const double PIO2_LO = 6.123233995736766e-17;  /* pi/2 - PIO2_HI */
    const double TWO_OVER_PI = 0.6366197723675814;
    const double kd = (double)(uint64_t)(theta * TWO_OVER_PI + 0.5);
    const double red = __builtin_fma(-kd, PIO2_HI, theta) - kd * PIO2_LO;
    const uint32_t quadrant = (uint32_t)((uint64_t)kd & 3u);

    const float x = (float)red, x2 = x * x;
    const float s = x + x * x2 * (-1.0f / 6 + x2 * (1.0f / 120 + x2 * (-1.0f / 5040 + x2 * (1.0f / 362880))));
    const float c = 1.0f + x2 * (-0.5f + x2 * (1.0f / 24 + x2 * (-1.0f / 720 + x2 * (1.0f / 40320 + x2 * (-1.0f / 3628800)))));
    switch (quadrant) {
    case 0: *s_out = s; *c_out = c; break;
    case 1: *s_out = c; *c_out = -s; break;
    case 2: *s_out = -s; *c_out = -c; break;
    default: *s_out = -c; *c_out = s; break;
    }
}

/* Token t is at position pos0 + t, plus *pos_dev when that is not NULL: a position read from device memory, so
 * that a recorded decode step (a CUDA graph) needs no new argument as the position moves. */
MST_KERNEL void mst_k_rope(float *x, uint32_t n_heads, uint32_t head_dim, const uint32_t *pos_dev, uint32_t pos0,
                           uint64_t r_bits)
{
    if (pos_dev)
        pos0 += *pos_dev;
    const uint32_t t = blockIdx.x, h0 = blockIdx.y * MST_ROPE_HEADS;
    const uint32_t h1 = h0 + MST_ROPE_HEADS < n_heads ? h0 + MST_ROPE_HEADS : n_heads;
    const double r = __builtin_bit_cast(double, r_bits);
    for (uint32_t i = threadIdx.x; i < head_dim / 2; i += blockDim.x) {
        float s, c;
        mst_rope_sincos(pos0 + t, i, r, &s, &c);
        for (uint32_t h = h0; h < h1; h++) {
            float *p = x + ((uint64_t)t * n_heads + h) * head_dim + 2 * i;
            const float a = p[0], b = p[1];
            p[0] = a * c - b * s;
            p[1] = a * s + b * c;
        }
    }
}
MST_REGISTER_KERNEL(mst_k_rope);

#if MST_HOST_CODE
#include <math.h>
#include <string.h>

#include "kernels.h"

extern "C" mst_status mst_fail(mst_status status, const char *fmt, ...);

static mst_status rope_launch(mst_dev *d, mst_dptr x, uint32_t n_tokens, uint32_t n_heads, uint32_t head_dim,
                              mst_dptr pos_dev, uint32_t pos0, float freq_base)
{
    if (n_tokens == 0 || n_heads == 0)
        return MST_OK;
    if (head_dim == 0 || head_dim % 2 || n_tokens > 0x7fffffffu || !(freq_base > 0.0f) ||
        (uint64_t)pos0 + n_tokens - 1 > 0xffffffffu)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_cuda_rope: bad arguments (head_dim %u, base %g, pos0 %u, %u tokens)",
                        head_dim, (double)freq_base, pos0, n_tokens);
    const uint32_t group_blocks = (n_heads + MST_ROPE_HEADS - 1) / MST_ROPE_HEADS;
    if (group_blocks > 65535)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_cuda_rope: %u heads", n_heads);
    const double r = pow((double)freq_base, -2.0 / (double)head_dim);
    uint64_t r_bits;
    memcpy(&r_bits, &r, sizeof r_bits);
    uint32_t threads = (head_dim / 2 + 31) / 32 * 32;
    if (threads > 128)
        threads = 128;
    void *args[] = {&x, &n_heads, &head_dim, &pos_dev, &pos0, &r_bits};
    return mst_dev_launch(d, &mst_kernel_mst_k_rope, mst_dim3{n_tokens, group_blocks, 1}, mst_dim3{threads, 1, 1}, 0,
                          args);
}

extern "C" mst_status mst_cuda_rope(mst_dev *d, mst_dptr x, uint32_t n_tokens, uint32_t n_heads, uint32_t head_dim,
                                    uint32_t pos0, float freq_base)
{
    return rope_launch(d, x, n_tokens, n_heads, head_dim, 0, pos0, freq_base);
}

extern "C" mst_status mst_cuda_rope_at(mst_dev *d, mst_dptr x, uint32_t n_tokens, uint32_t n_heads, uint32_t head_dim,
                                       mst_dptr pos, uint32_t t0, float freq_base)
{
    return rope_launch(d, x, n_tokens, n_heads, head_dim, pos, t0, freq_base);
}
#endif
