/* attention_neon.c — attention micro-kernels with AArch64 NEON (4 lanes, fused multiply-adds), on a float or
 * an F16 cache; reference: attention_scalar.c, held to it by test_ops.c (kernel_attention) and test_kv_f16.c.
 *
 * The F16-cache kernels share each body with the float ones and differ only in the load: halves are widened
 * with fcvtl (vcvt_f32_f16), exactly, so on a cache of halves they give the float kernels' bits on the widened
 * values (what test_kv_f16 checks). Row tails (head_dim not a multiple of 4) go through a zero-padded copy of
 * the last lanes, never reading past a row: the row may end the cache. */
#include <arm_neon.h>
#include <math.h>
#include <string.h>

#include "attention.h"
#include "kernels_arm.h"
#include "quant.h"

#define AI static inline __attribute__((always_inline))

/* Four values of a K or V row from column d: floats, or halves widened. Exactly one of f, h is non-NULL, and
 * each caller passes a constant NULL, so the compiler builds one loop per element type. */
AI float32x4_t load4(const float *f, const uint16_t *h, uint32_t d)
{
    return h ? vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(h + d))) : vld1q_f32(f + d);
}

/* The n (< 4) values from column d, the other lanes zero. */
AI float32x4_t load_tail(const float *f, const uint16_t *h, uint32_t d, uint32_t n)
{
    if (h) {
        uint16_t t[4] = {0, 0, 0, 0};
        memcpy(t, h + d, n * sizeof *t);
        return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(t)));
    }
    float t[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    memcpy(t, f + d, n * sizeof *t);
    return vld1q_f32(t);
}

/* Scores in 2 x 4 blocks (8 accumulators, of NEON's 32 registers): each K load feeds two query rows. Edge
 * blocks repeat the last row / key and store only what exists (or, for keys, into the padding of s that the
 * interface allows up to the next multiple of 4). */
AI void scores_body(const float *const *q, uint32_t nq, const float *const *kf, const uint16_t *const *kh,
                    uint32_t nk, uint32_t hd, float scale, float *s, uint32_t lds)
{
    const uint32_t full = hd & ~3u, tail = hd & 3u;
    for (uint32_t i0 = 0; i0 < nq; i0 += 2) {
        const float *q0 = q[i0], *q1 = q[i0 + 1 < nq ? i0 + 1 : nq - 1];
        for (uint32_t j0 = 0; j0 < nk; j0 += 4) {
            const float *kk[4] = {0};
            const uint16_t *hk[4] = {0};
            for (uint32_t b = 0; b < 4; b++) {
                const uint32_t j = j0 + b < nk ? j0 + b : nk - 1;
                if (kh)
                    hk[b] = kh[j];
                else
                    kk[b] = kf[j];
            }
            float32x4_t acc[8];
            for (int x = 0; x < 8; x++)
                acc[x] = vdupq_n_f32(0.0f);
            for (uint32_t d = 0; d < full; d += 4) {
                const float32x4_t a0 = vld1q_f32(q0 + d), a1 = vld1q_f32(q1 + d);
                for (int b = 0; b < 4; b++) {
                    const float32x4_t kv = load4(kk[b], kh ? hk[b] : NULL, d);
                    acc[b] = vfmaq_f32(acc[b], a0, kv);
                    acc[4 + b] = vfmaq_f32(acc[4 + b], a1, kv);
                }
            }
            if (tail) {
                const float32x4_t a0 = load_tail(q0, NULL, full, tail), a1 = load_tail(q1, NULL, full, tail);
                for (int b = 0; b < 4; b++) {
                    const float32x4_t kv = load_tail(kk[b], kh ? hk[b] : NULL, full, tail);
                    acc[b] = vfmaq_f32(acc[b], a0, kv);
                    acc[4 + b] = vfmaq_f32(acc[4 + b], a1, kv);
                }
            }
            /* pairwise adds: lane b of r0 is the whole sum of acc[b] */
            const float32x4_t r0 = vpaddq_f32(vpaddq_f32(acc[0], acc[1]), vpaddq_f32(acc[2], acc[3]));
            const float32x4_t r1 = vpaddq_f32(vpaddq_f32(acc[4], acc[5]), vpaddq_f32(acc[6], acc[7]));
            float *dst = s + (size_t)i0 * lds + j0;
            vst1q_f32(dst, vmulq_n_f32(r0, scale));
            if (i0 + 1 < nq)
                vst1q_f32(dst + lds, vmulq_n_f32(r1, scale));
        }
    }
}

static void scores_neon(const float *const *q, uint32_t nq, const float *const *k, uint32_t nk, uint32_t hd,
                        float scale, float *s, uint32_t lds)
{
    scores_body(q, nq, k, NULL, nk, hd, scale, s, lds);
}

static void scores_f16_neon(const float *const *q, uint32_t nq, const uint16_t *const *k, uint32_t nk, uint32_t hd,
                            float scale, float *s, uint32_t lds)
{
    scores_body(q, nq, NULL, k, nk, hd, scale, s, lds);
}

/* o[0..nr) columns [d0, d0 + 16) += p · v, nr constant at each call: 4 x 4 accumulators in registers, each V
 * load feeding nr rows. V rows are vf (floats) or vh (halves), the other NULL, as in scores_body. */
AI void pv_panel(float *const *o, int nr, const float *p, uint32_t ldp, const float *const *vf,
                 const uint16_t *const *vh, uint32_t nk, uint32_t d0)
{
    float32x4_t acc[4][4];
    for (int r = 0; r < nr; r++)
        for (int c = 0; c < 4; c++)
            acc[r][c] = vld1q_f32(o[r] + d0 + 4 * c);
    for (uint32_t j = 0; j < nk; j++) {
        const float *f = vh ? NULL : vf[j];
        const uint16_t *h = vh ? vh[j] : NULL;
        float32x4_t v[4];
        for (int c = 0; c < 4; c++)
            v[c] = load4(f, h, d0 + 4 * c);
        for (int r = 0; r < nr; r++) {
            const float w = p[(size_t)r * ldp + j];
            for (int c = 0; c < 4; c++)
                acc[r][c] = vfmaq_n_f32(acc[r][c], v[c], w);
        }
    }
    for (int r = 0; r < nr; r++)
        for (int c = 0; c < 4; c++)
            vst1q_f32(o[r] + d0 + 4 * c, acc[r][c]);
}

AI void pv_body(float *const *o, uint32_t nq, const float *p, uint32_t ldp, const float *const *vf,
                const uint16_t *const *vh, uint32_t nk, uint32_t hd)
{
    const uint32_t panels = hd & ~15u;
    for (uint32_t i0 = 0; i0 < nq; i0 += 4) {
        const uint32_t nr = nq - i0 < 4 ? nq - i0 : 4;
        const float *pr = p + (size_t)i0 * ldp;
        for (uint32_t d0 = 0; d0 < panels; d0 += 16) {
            switch (nr) {
            case 4: pv_panel(o + i0, 4, pr, ldp, vf, vh, nk, d0); break;
            case 3: pv_panel(o + i0, 3, pr, ldp, vf, vh, nk, d0); break;
            case 2: pv_panel(o + i0, 2, pr, ldp, vf, vh, nk, d0); break;
            default: pv_panel(o + i0, 1, pr, ldp, vf, vh, nk, d0); break;
            }
        }
        /* columns past the last whole panel: 4 at a time, then one at a time, a row at a time; the same fused
         * multiply-add per value as the panels, so every column sees one rounding per key */
        for (uint32_t r = 0; r < nr; r++) {
            float *out = o[i0 + r];
            const float *pw = pr + (size_t)r * ldp;
            uint32_t d = panels;
            for (; d + 4 <= hd; d += 4) {
                float32x4_t acc = vld1q_f32(out + d);
                for (uint32_t j = 0; j < nk; j++)
                    acc = vfmaq_n_f32(acc, load4(vh ? NULL : vf[j], vh ? vh[j] : NULL, d), pw[j]);
                vst1q_f32(out + d, acc);
            }
            for (; d < hd; d++) {
                float acc = out[d];
                for (uint32_t j = 0; j < nk; j++)
                    acc = fmaf(pw[j], vh ? mst_fp16_to_fp32(vh[j][d]) : vf[j][d], acc);
                out[d] = acc;
            }
        }
    }
}

static void pv_neon(float *const *o, uint32_t nq, const float *p, uint32_t ldp, const float *const *v, uint32_t nk,
                    uint32_t hd)
{
    pv_body(o, nq, p, ldp, v, NULL, nk, hd);
}

static void pv_f16_neon(float *const *o, uint32_t nq, const float *p, uint32_t ldp, const uint16_t *const *v,
                        uint32_t nk, uint32_t hd)
{
    pv_body(o, nq, p, ldp, NULL, v, nk, hd);
}

/* fcvtn rounds as FPCR says: nearest-even in the default mode every thread starts in (the rule of
 * mst_fp32_to_fp16, overflow to infinity and subnormal halves included; a NaN keeps its sign and top payload
 * bits and is made quiet, as there). The tail (< 4) goes through the scalar conversion. */
static void to_f16_neon(uint16_t *dst, const float *src, size_t n)
{
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        vst1_u16(dst + i, vreinterpret_u16_f16(vcvt_f16_f32(vld1q_f32(src + i))));
    for (; i < n; i++)
        dst[i] = mst_fp32_to_fp16(src[i]);
}

static float row_max_neon(const float *s, uint32_t n)
{
    uint32_t j = 0;
    float r = s[0];
    if (n >= 4) {
        float32x4_t m = vld1q_f32(s);
        for (j = 4; j + 4 <= n; j += 4)
            m = vmaxq_f32(m, vld1q_f32(s + j));
        r = vmaxvq_f32(m);
    }
    for (; j < n; j++)
        r = s[j] > r ? s[j] : r;
    return r;
}

/* e^x for x <= 0 (the scores minus their max), as exp_avx2 in attention_avx2.c: x = n·ln2 + r with n an
 * integer (fcvtns: nearest) and |r| <= ln2/2, ln2 in two parts so r is exact to float precision; e^r by its
 * Taylor series to r^7 (truncation below 1e-8 relative) and 2^n built in the exponent field. x >= -87 keeps
 * n >= -126, a normal float (below that e^x < 2e-38 adds nothing beside the max's 1). A NaN stays NaN. */
AI float32x4_t exp_neon(float32x4_t x)
{
    x = vmaxq_f32(x, vdupq_n_f32(-87.0f));
    const int32x4_t ni = vcvtnq_s32_f32(vmulq_n_f32(x, 1.44269504088896341f));
    const float32x4_t n = vcvtq_f32_s32(ni);
    float32x4_t r = vfmsq_f32(x, n, vdupq_n_f32(0.693145751953125f));
    r = vfmsq_f32(r, n, vdupq_n_f32(1.428606820309417232e-6f));
    float32x4_t e = vdupq_n_f32(1.0f / 5040.0f);
    e = vfmaq_f32(vdupq_n_f32(1.0f / 720.0f), e, r);
    e = vfmaq_f32(vdupq_n_f32(1.0f / 120.0f), e, r);
    e = vfmaq_f32(vdupq_n_f32(1.0f / 24.0f), e, r);
    e = vfmaq_f32(vdupq_n_f32(1.0f / 6.0f), e, r);
    e = vfmaq_f32(vdupq_n_f32(0.5f), e, r);
    e = vfmaq_f32(vdupq_n_f32(1.0f), e, r);
    e = vfmaq_f32(vdupq_n_f32(1.0f), e, r);
    const int32x4_t pow2 = vshlq_n_s32(vaddq_s32(ni, vdupq_n_s32(127)), 23);
    return vmulq_f32(e, vreinterpretq_f32_s32(pow2));
}

static float exp_sum_neon(float *s, uint32_t n, float m)
{
    const float32x4_t vm = vdupq_n_f32(m);
    float32x4_t sum = vdupq_n_f32(0.0f);
    uint32_t j = 0;
    for (; j + 4 <= n; j += 4) {
        const float32x4_t e = exp_neon(vsubq_f32(vld1q_f32(s + j), vm));
        vst1q_f32(s + j, e);
        sum = vaddq_f32(sum, e);
    }
    if (j < n) { /* the last 1..3: padded with m, whose e^0 lanes are dropped before the sum */
        float t[4] = {m, m, m, m};
        memcpy(t, s + j, (n - j) * sizeof *t);
        float e[4];
        vst1q_f32(e, exp_neon(vsubq_f32(vld1q_f32(t), vm)));
        memcpy(s + j, e, (n - j) * sizeof *e);
        for (uint32_t i = n - j; i < 4; i++)
            e[i] = 0.0f;
        sum = vaddq_f32(sum, vld1q_f32(e));
    }
    return vaddvq_f32(sum);
}

static void scale_neon(float *o, uint32_t n, float a)
{
    uint32_t d = 0;
    for (; d + 4 <= n; d += 4)
        vst1q_f32(o + d, vmulq_n_f32(vld1q_f32(o + d), a));
    for (; d < n; d++)
        o[d] *= a;
}

const mst_attn_kernels mst_attn_neon = {
    .name = "neon",
    .scores = scores_neon,
    .pv = pv_neon,
    .row_max = row_max_neon,
    .exp_sum = exp_sum_neon,
    .scale = scale_neon,
    .scores_f16 = scores_f16_neon,
    .pv_f16 = pv_f16_neon,
    .to_f16 = to_f16_neon,
};
