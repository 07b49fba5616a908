/* attention_scalar.c — the portable attention micro-kernels: the fallback on any CPU, and the
 * plain statement of what attention_avx2.c / attention_avx512.c compute faster. The F16-cache
 * versions widen each half as they read it and otherwise do what the float ones do, in the same
 * order, so on a cache of halves they give the float kernels' bits on the widened values. */
#include <math.h>

#include "attention.h"
#include "quant.h"

static void scores_scalar(const float *const *q, uint32_t nq, const float *const *k, uint32_t nk, uint32_t hd,
                          float scale, float *s, uint32_t lds)
{
    /* four keys per pass: four independent sums keep the FPU busy where one serial sum would wait */
    for (uint32_t i = 0; i < nq; i++) {
        const float *qi = q[i];
        uint32_t j = 0;
        for (; j + 4 <= nk; j += 4) {
            const float *k0 = k[j], *k1 = k[j + 1], *k2 = k[j + 2], *k3 = k[j + 3];
            float a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f;
            for (uint32_t d = 0; d < hd; d++) {
                a0 += qi[d] * k0[d];
                a1 += qi[d] * k1[d];
                a2 += qi[d] * k2[d];
                a3 += qi[d] * k3[d];
            }
            float *row = s + (size_t)i * lds + j;
            row[0] = a0 * scale, row[1] = a1 * scale, row[2] = a2 * scale, row[3] = a3 * scale;
        }
        for (; j < nk; j++) {
            float acc = 0.0f;
            for (uint32_t d = 0; d < hd; d++)
                acc += qi[d] * k[j][d];
            s[(size_t)i * lds + j] = acc * scale;
        }
    }
}

static void pv_scalar(float *const *o, uint32_t nq, const float *p, uint32_t ldp, const float *const *v, uint32_t nk,
                      uint32_t hd)
{
    for (uint32_t i = 0; i < nq; i++)
        for (uint32_t j = 0; j < nk; j++) {
            const float w = p[(size_t)i * ldp + j];
            for (uint32_t d = 0; d < hd; d++)
                o[i][d] += w * v[j][d];
        }
}

static void scores_f16_scalar(const float *const *q, uint32_t nq, const uint16_t *const *k, uint32_t nk, uint32_t hd,
                              float scale, float *s, uint32_t lds)
{
    for (uint32_t i = 0; i < nq; i++) {
        const float *qi = q[i];
        uint32_t j = 0;
        for (; j + 4 <= nk; j += 4) {
            const uint16_t *k0 = k[j], *k1 = k[j + 1], *k2 = k[j + 2], *k3 = k[j + 3];
            float a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f;
            for (uint32_t d = 0; d < hd; d++) {
                a0 += qi[d] * mst_fp16_to_fp32(k0[d]);
                a1 += qi[d] * mst_fp16_to_fp32(k1[d]);
                a2 += qi[d] * mst_fp16_to_fp32(k2[d]);
                a3 += qi[d] * mst_fp16_to_fp32(k3[d]);
            }
            float *row = s + (size_t)i * lds + j;
            row[0] = a0 * scale, row[1] = a1 * scale, row[2] = a2 * scale, row[3] = a3 * scale;
        }
        for (; j < nk; j++) {
            float acc = 0.0f;
            for (uint32_t d = 0; d < hd; d++)
                acc += qi[d] * mst_fp16_to_fp32(k[j][d]);
            s[(size_t)i * lds + j] = acc * scale;
        }
    }
}

static void pv_f16_scalar(float *const *o, uint32_t nq, const float *p, uint32_t ldp, const uint16_t *const *v,
                          uint32_t nk, uint32_t hd)
{
    for (uint32_t i = 0; i < nq; i++)
        for (uint32_t j = 0; j < nk; j++) {
            const float w = p[(size_t)i * ldp + j];
            for (uint32_t d = 0; d < hd; d++)
                o[i][d] += w * mst_fp16_to_fp32(v[j][d]);
        }
}

static void to_f16_scalar(uint16_t *dst, const float *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = mst_fp32_to_fp16(src[i]);
}

static float row_max_scalar(const float *s, uint32_t n)
{
    float m = s[0];
    for (uint32_t j = 1; j < n; j++)
        m = s[j] > m ? s[j] : m;
    return m;
}

static float exp_sum_scalar(float *s, uint32_t n, float m)
{
    float sum = 0.0f;
    for (uint32_t j = 0; j < n; j++) {
        s[j] = expf(s[j] - m);
        sum += s[j];
    }
    return sum;
}

static void scale_scalar(float *o, uint32_t n, float a)
{
    for (uint32_t d = 0; d < n; d++)
        o[d] *= a;
}

const mst_attn_kernels mst_attn_scalar = {
    .name = "scalar",
    .scores = scores_scalar,
    .pv = pv_scalar,
    .row_max = row_max_scalar,
    .exp_sum = exp_sum_scalar,
    .scale = scale_scalar,
    .scores_f16 = scores_f16_scalar,
    .pv_f16 = pv_f16_scalar,
    .to_f16 = to_f16_scalar,
};
