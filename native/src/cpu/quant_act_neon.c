/* quant_act_neon.c — activations to Q8_0 blocks with NEON (AArch64), bit for bit the rule of quant_act.h.
 *
 * Every step is the reference's operation on 4 lanes: |x| and its max are exact, the scale is the same
 * scalar fp16 rounding of amax/127 per block, x·(127/amax) is the same single float multiply, and
 * fcvtns rounds to nearest with ties to even as nearbyintf does in the default mode. The products lie in
 * [-127, 127] (they are at most amax·(127/amax), which rounds to 127 at worst), so the narrowing moves
 * are exact. */
#include <arm_neon.h>
#include <float.h>
#include <string.h>

#include "quant.h"
#include "quant_act.h"

void mst_quantize_act_neon(const float *x, mst_qact *q, uint32_t t0, uint32_t t1)
{
    const uint32_t cols = q->cols, nb = cols / MST_QK;
    const float32x4_t fmax = vdupq_n_f32(FLT_MAX);
    for (uint32_t t = t0; t < t1; t++) {
        const float *xt = x + (size_t)t * cols;
        int8_t *qs = q->qs + (size_t)t * cols;
        int32_t *ns = q->nsum4 + (size_t)t * (cols / 4);
        float *dxe = q->dxe + (size_t)t * (cols / 4);
        for (uint32_t b = 0; b < nb; b++) {
            const float *xb = xt + b * MST_QK;
            float32x4_t v[8], m = vdupq_n_f32(0.0f);
            uint32x4_t finite = vdupq_n_u32(~0u);
            for (int i = 0; i < 8; i++) {
                v[i] = vld1q_f32(xb + 4 * i);
                const float32x4_t a = vabsq_f32(v[i]);
                m = vmaxq_f32(m, a);
                finite = vandq_u32(finite, vcleq_f32(a, fmax)); /* false for NaN and +-Inf */
            }
            const int nonfinite = vminvq_u32(finite) == 0;
            const float amax = vmaxvq_f32(m);
            const float d = nonfinite ? mst_qact_nonfinite_d() : mst_fp16_to_fp32(mst_fp32_to_fp16(amax / 127.0f));
            const float id = mst_qact_inv_scale(amax);
            int8_t *qb = qs + b * MST_QK;
            int8x16_t q16[2];
            if (nonfinite) { /* q = 0, as the reference: converting NaN or Inf would give some integer */
                q16[0] = q16[1] = vdupq_n_s8(0);
            } else {
                int32x4_t r[8];
                for (int i = 0; i < 8; i++)
                    r[i] = vcvtnq_s32_f32(vmulq_n_f32(v[i], id));
                for (int h = 0; h < 2; h++) {
                    const int16x8_t lo = vcombine_s16(vmovn_s32(r[4 * h]), vmovn_s32(r[4 * h + 1]));
                    const int16x8_t hi = vcombine_s16(vmovn_s32(r[4 * h + 2]), vmovn_s32(r[4 * h + 3]));
                    q16[h] = vcombine_s8(vmovn_s16(lo), vmovn_s16(hi));
                }
            }
            vst1q_s8(qb, q16[0]);
            vst1q_s8(qb + 16, q16[1]);
            /* sums of 4 consecutive q (pairwise widening adds, exact), negated: nsum4 */
            const int32x4_t s0 = vpaddlq_s16(vpaddlq_s8(q16[0])), s1 = vpaddlq_s16(vpaddlq_s8(q16[1]));
            vst1q_s32(ns + b * 8, vnegq_s32(s0));
            vst1q_s32(ns + b * 8 + 4, vnegq_s32(s1));
            const float32x4_t dv = vdupq_n_f32(d);
            vst1q_f32(dxe + b * 8, dv);
            vst1q_f32(dxe + b * 8 + 4, dv);
            q->d[(size_t)t * nb + b] = d;
            q->nbsum8[(size_t)t * nb + b] = -8 * vaddvq_s32(vaddq_s32(s0, s1));
        }
    }
}
