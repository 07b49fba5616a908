/* matmul_kquant_qa_arm.h — the Q4_K/Q5_K/Q6_K row kernels on Q8_K activations that the AArch64 variants share.
 *
 * Included by a kernel file after its `#pragma GCC target` and after it defines
 *   MST_ARM_KDOT(acc, w, x)  acc (int32x4_t) plus the 16 products w[i]·x[i] of two int8x16_t, spread over
 *                            the 4 lanes in any way (sdot, or smull + sadalp): every lane stays exact;
 *   MST_ARM_SUFFIX           the name suffix of its kernels and of its mst_kquant_qa_kernels table.
 *
 * Bit for bit the scalar reference (matmul_kquant_qa.c), on any input: inside a super-block everything is an
 * integer sum, exact in int32 (the reference's bound: |Σ| < 2^31), so the lane order does not matter; the
 * floats then enter once per super-block with the reference's own expressions, in block order,
 *   sum += d_x * d_w * (float)isum;   sum -= d_x * dmin_w * (float)msum;   (Q6_K: the first only)
 * compiled, as the reference is, without -ffp-contract=fast (CMake sets -std=c11), so neither side fuses the
 * multiply-add. A NaN or infinite d (a non-finite activation block, quant_act_k.h) reaches y as it does there.
 *
 * Weights are decoded to int8 once per super-block and dotted with NT tokens (1 or 4, matmul_tile.h).
 * Q4_K/Q5_K: 32 bytes per pair of 32-weight sub-blocks (2j in the low nibbles, 2j+1 in the high ones), Q5_K's
 * fifth bit of sub-block s is bit s of qh[l]; weights 0..31 times x in [-127, 127] fit an int16 product, as
 * smull needs. The mins term Σ_s m_s·(bsum16[2s] + bsum16[2s+1]) is computed from the activations' bsum16.
 * Q6_K: the weights are made signed (q - 32, in [-32, 31]) before the dot: Σ sc_j·Σ (q - 32)·x is the same
 * integer as the reference's Σ sc_j·(Σ q·x - 32·bsum_j), without the bsum term. */
#ifndef MST_MATMUL_KQUANT_QA_ARM_H
#define MST_MATMUL_KQUANT_QA_ARM_H

#include <arm_neon.h>

#include "matmul_tile.h"
#include "quant.h"
#include "quant_act_k.h"
#include "quant_k.h"

#define MST_ARM_KCAT2(a, b) a##_##b
#define MST_ARM_KCAT(a, b) MST_ARM_KCAT2(a, b)

#define MST_ARM_XQ(u) (x->qs + (t + (u)) * cols + (size_t)b * MST_QK_K)
#define MST_ARM_XB(u) (x->bsum16 + (t + (u)) * (cols / 16) + (size_t)b * 16)
#define MST_ARM_XD(u) (x->d[(t + (u)) * nb + b])

/* Q4_K (FIVE = 0) and Q5_K (FIVE = 1), weight row `row` against tokens t..t+NT-1: y[u·ys]. */
MST_AI void MST_ARM_KCAT(row_q4_5_k, MST_ARM_SUFFIX)(const uint8_t *row, const mst_qact *x, size_t t, float *y,
                                                     size_t ys, const int NT, const int FIVE, const size_t BLOCK_BYTES)
{
    const uint32_t cols = x->cols, nb = cols / MST_QK_K;
    const uint8x16_t m4 = vdupq_n_u8(0x0F), one = vdupq_n_u8(1);
    float sum[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (uint32_t b = 0; b < nb; b++) {
        const uint8_t *p = row + (size_t)b * BLOCK_BYTES;
        uint8_t sc[8], mn[8];
        mst_k4_scale_min(p + 4, sc, mn);
        const uint8_t *qs = p + (FIVE ? 48 : 16);
        uint8x16_t qh[2] = {vdupq_n_u8(0), vdupq_n_u8(0)};
        if (FIVE) {
            qh[0] = vld1q_u8(p + 16);
            qh[1] = vld1q_u8(p + 32);
        }
        int32x4_t is[4];
        for (int u = 0; u < NT; u++)
            is[u] = vdupq_n_s32(0);
        for (int j = 0; j < 4; j++) {
            int8x16_t lo[2], hi[2]; /* sub-block 2j (weights l = 0..15, 16..31), then 2j+1 */
            for (int h = 0; h < 2; h++) {
                const uint8x16_t q = vld1q_u8(qs + 32 * j + 16 * h);
                uint8x16_t l = vandq_u8(q, m4), g = vshrq_n_u8(q, 4);
                if (FIVE) { /* bit 2j of qh[l] -> bit 4 of the low weight, bit 2j+1 -> of the high one */
                    const uint8x16_t bl = vandq_u8(vshlq_u8(qh[h], vdupq_n_s8((int8_t)-(2 * j))), one);
                    const uint8x16_t bg = vandq_u8(vshlq_u8(qh[h], vdupq_n_s8((int8_t)-(2 * j + 1))), one);
                    l = vorrq_u8(l, vshlq_n_u8(bl, 4));
                    g = vorrq_u8(g, vshlq_n_u8(bg, 4));
                }
                lo[h] = vreinterpretq_s8_u8(l);
                hi[h] = vreinterpretq_s8_u8(g);
            }
            for (int u = 0; u < NT; u++) {
                const int8_t *xq = MST_ARM_XQ(u) + 64 * j;
                const int32x4_t zero = vdupq_n_s32(0);
                const int32x4_t a = MST_ARM_KDOT(MST_ARM_KDOT(zero, lo[0], vld1q_s8(xq)), lo[1], vld1q_s8(xq + 16));
                const int32x4_t c = MST_ARM_KDOT(MST_ARM_KDOT(zero, hi[0], vld1q_s8(xq + 32)), hi[1], vld1q_s8(xq + 48));
                is[u] = vmlaq_n_s32(vmlaq_n_s32(is[u], a, sc[2 * j]), c, sc[2 * j + 1]);
            }
        }
        /* the mins, as int32 lanes: [m0..m3], [m4..m7] */
        const uint16x8_t mn16 = vmovl_u8(vld1_u8(mn));
        const int32x4_t m_lo = vreinterpretq_s32_u32(vmovl_u16(vget_low_u16(mn16)));
        const int32x4_t m_hi = vreinterpretq_s32_u32(vmovl_u16(vget_high_u16(mn16)));
        const float dw = mst_fp16_to_fp32(mst_read_u16(p)), dmin = mst_fp16_to_fp32(mst_read_u16(p + 2));
        for (int u = 0; u < NT; u++) {
            const int16_t *bs = MST_ARM_XB(u);
            /* bsum16[2s] + bsum16[2s+1] for s = 0..3 and 4..7: pairwise widening adds, exact */
            const int32x4_t ms = vmlaq_s32(vmulq_s32(vpaddlq_s16(vld1q_s16(bs)), m_lo), vpaddlq_s16(vld1q_s16(bs + 8)), m_hi);
            const int32_t isum = vaddvq_s32(is[u]), msum = vaddvq_s32(ms);
            const float dx = MST_ARM_XD(u);
            sum[u] += dx * dw * (float)isum;
            sum[u] -= dx * dmin * (float)msum;
        }
    }
    for (int u = 0; u < NT; u++)
        y[u * ys] = sum[u];
}

/* Q6_K: per 128-weight half h and 16-weight quarter k of its 32 qh bytes, the four parts (sub-blocks
 * 8h + 2·part + k): low nibbles of ql[l] (part 0) and ql[32 + l] (part 1), high nibbles of the same (parts 2,
 * 3), each with bits 2·part..2·part+1 of qh[l] on top, as the reference's dot_q6_k. */
MST_AI void MST_ARM_KCAT(row_q6_k, MST_ARM_SUFFIX)(const uint8_t *row, const mst_qact *x, size_t t, float *y,
                                                   size_t ys, const int NT)
{
    const uint32_t cols = x->cols, nb = cols / MST_QK_K;
    const uint8x16_t m4 = vdupq_n_u8(0x0F), m30 = vdupq_n_u8(0x30);
    const int8x16_t m32 = vdupq_n_s8(32);
    float sum[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (uint32_t b = 0; b < nb; b++) {
        const uint8_t *p = row + (size_t)b * MST_Q6_K_BYTES;
        const int8_t *sc = (const int8_t *)(p + 192);
        int32x4_t is[4];
        for (int u = 0; u < NT; u++)
            is[u] = vdupq_n_s32(0);
        for (int h = 0; h < 2; h++)
            for (int k = 0; k < 2; k++) {
                const uint8x16_t l0 = vld1q_u8(p + 64 * h + 16 * k), l1 = vld1q_u8(p + 64 * h + 32 + 16 * k);
                const uint8x16_t qh = vld1q_u8(p + 128 + 32 * h + 16 * k);
                const uint8x16_t w[4] = {
                    vorrq_u8(vandq_u8(l0, m4), vandq_u8(vshlq_n_u8(qh, 4), m30)),
                    vorrq_u8(vandq_u8(l1, m4), vandq_u8(vshlq_n_u8(qh, 2), m30)),
                    vorrq_u8(vshrq_n_u8(l0, 4), vandq_u8(qh, m30)),
                    vorrq_u8(vshrq_n_u8(l1, 4), vandq_u8(vshrq_n_u8(qh, 2), m30)),
                };
                for (int part = 0; part < 4; part++) {
                    const int8x16_t ws = vsubq_s8(vreinterpretq_s8_u8(w[part]), m32);
                    const int j = 8 * h + 2 * part + k;
                    for (int u = 0; u < NT; u++) {
                        const int8_t *xq = MST_ARM_XQ(u) + 128 * h + 32 * part + 16 * k;
                        is[u] = vmlaq_n_s32(is[u], MST_ARM_KDOT(vdupq_n_s32(0), ws, vld1q_s8(xq)), sc[j]);
                    }
                }
            }
        const float dw = mst_fp16_to_fp32(mst_read_u16(p + 208));
        for (int u = 0; u < NT; u++)
            sum[u] += MST_ARM_XD(u) * dw * (float)vaddvq_s32(is[u]);
    }
    for (int u = 0; u < NT; u++)
        y[u * ys] = sum[u];
}

MST_AI void MST_ARM_KCAT(row_q4_k, MST_ARM_SUFFIX)(const uint8_t *row, const mst_qact *x, size_t t, float *y,
                                                   size_t ys, const int NT)
{
    MST_ARM_KCAT(row_q4_5_k, MST_ARM_SUFFIX)(row, x, t, y, ys, NT, 0, MST_Q4_K_BYTES);
}

MST_AI void MST_ARM_KCAT(row_q5_k, MST_ARM_SUFFIX)(const uint8_t *row, const mst_qact *x, size_t t, float *y,
                                                   size_t ys, const int NT)
{
    MST_ARM_KCAT(row_q4_5_k, MST_ARM_SUFFIX)(row, x, t, y, ys, NT, 1, MST_Q5_K_BYTES);
}

MST_DEFINE_MATMUL_QA(MST_ARM_KCAT(mst_matmul_qa_q4_k, MST_ARM_SUFFIX), MST_ARM_KCAT(row_q4_k, MST_ARM_SUFFIX))
MST_DEFINE_MATMUL_QA(MST_ARM_KCAT(mst_matmul_qa_q5_k, MST_ARM_SUFFIX), MST_ARM_KCAT(row_q5_k, MST_ARM_SUFFIX))
MST_DEFINE_MATMUL_QA(MST_ARM_KCAT(mst_matmul_qa_q6_k, MST_ARM_SUFFIX), MST_ARM_KCAT(row_q6_k, MST_ARM_SUFFIX))

/* Q2_K and Q3_K stay on the scalar reference here (no Mistral GGUF of note uses them for most weights). */
const mst_kquant_qa_kernels MST_ARM_KCAT(mst_kquant_qa, MST_ARM_SUFFIX) = {
    .matmul_qa = {mst_matmul_qa_ref_q2_k, mst_matmul_qa_ref_q3_k, MST_ARM_KCAT(mst_matmul_qa_q4_k, MST_ARM_SUFFIX),
                  MST_ARM_KCAT(mst_matmul_qa_q5_k, MST_ARM_SUFFIX), MST_ARM_KCAT(mst_matmul_qa_q6_k, MST_ARM_SUFFIX)},
};

#endif
