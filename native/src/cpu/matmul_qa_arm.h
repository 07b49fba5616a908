/* matmul_qa_arm.h — the Q8_0/Q4_0 row kernels on Q8_0 activations that the AArch64 variants share.
 *
 * Included by a kernel file after its `#pragma GCC target` and after it defines
 *   MST_ARM_DOT(w0, w1, x0, x1)  the exact int32 dot product of one 32-value block: weights w0 (values 0-15),
 *                                 w1 (16-31) as int8x16_t, activations x0, x1 likewise;
 *   MST_ARM_SUFFIX               the name suffix of its kernels (neon, dotprod).
 * Weights are decoded once per block to int8 (Q4_0: nibble - 8, low nibbles hold values 0-15, high ones
 * 16-31) and dotted with NT tokens (1 or 4, matmul_tile.h). The block sum is exact in int32 (32 products of
 * at most 128·127), and each output adds d_w·d_x·isum in block order with the reference's own expression,
 * so these kernels give the reference's bits on any input, NaN scales included. Compiled without
 * -ffp-contract=fast (CMake sets -std=c11), as the reference is, so neither side fuses the multiply-add. */
#ifndef MST_MATMUL_QA_ARM_H
#define MST_MATMUL_QA_ARM_H

#include <arm_neon.h>

#include "matmul_tile.h"
#include "quant.h"
#include "quant_act.h"

#define MST_ARM_CAT2(a, b) a##_##b
#define MST_ARM_CAT(a, b) MST_ARM_CAT2(a, b)

/* Q4_0 block at p (fp16 d, 16 bytes of nibble pairs) as two int8x16: values 0-15 and 16-31, offset removed. */
MST_AI void mst_arm_q4_0_decode(const uint8_t *p, int8x16_t *w0, int8x16_t *w1)
{
    const uint8x16_t b = vld1q_u8(p + 2);
    const int8x16_t eight = vdupq_n_s8(8);
    *w0 = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(b, vdupq_n_u8(0x0F))), eight);
    *w1 = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(b, 4)), eight);
}

MST_AI void mst_arm_q8_0_decode(const uint8_t *p, int8x16_t *w0, int8x16_t *w1)
{
    *w0 = vld1q_s8((const int8_t *)p + 2);
    *w1 = vld1q_s8((const int8_t *)p + 18);
}

/* One weight row (blocks of block_bytes, decoded by decode) against tokens t..t+NT-1: y[j·ys]. */
#define MST_ARM_DEFINE_ROW(row_name, decode, block_bytes)                                                    \
    MST_AI void row_name(const uint8_t *row, const mst_qact *x, size_t t, float *y, size_t ys, const int NT) \
    {                                                                                                        \
        const uint32_t cols = x->cols, nb = cols / MST_QK;                                                   \
        float sum[4] = {0.0f, 0.0f, 0.0f, 0.0f};                                                             \
        for (uint32_t b = 0; b < nb; b++) {                                                                  \
            const uint8_t *p = row + (size_t)b * (block_bytes);                                              \
            const float dw = mst_fp16_to_fp32(mst_read_u16(p));                                              \
            int8x16_t w0, w1;                                                                                \
            decode(p, &w0, &w1);                                                                             \
            for (int j = 0; j < NT; j++) {                                                                   \
                const int8_t *xq = x->qs + (t + j) * cols + (size_t)b * MST_QK;                              \
                const int32_t isum = MST_ARM_DOT(w0, w1, vld1q_s8(xq), vld1q_s8(xq + 16));                   \
                sum[j] += dw * x->d[(t + j) * nb + b] * (float)isum;                                         \
            }                                                                                                \
        }                                                                                                    \
        for (int j = 0; j < NT; j++)                                                                         \
            y[j * ys] = sum[j];                                                                              \
    }

MST_ARM_DEFINE_ROW(MST_ARM_CAT(row_q8_0, MST_ARM_SUFFIX), mst_arm_q8_0_decode, sizeof(mst_block_q8_0))
MST_ARM_DEFINE_ROW(MST_ARM_CAT(row_q4_0, MST_ARM_SUFFIX), mst_arm_q4_0_decode, sizeof(mst_block_q4_0))

#endif
