/* matmul_neon.c — F32, F16 and BF16 weights times float activations with NEON (AArch64, every level).
 *
 * The plan of matmul_avx2.c on 4-lane vectors: weights widened to float in registers (fcvtl for F16, part
 * of base ARMv8; a 16-bit shift for BF16), four accumulators per token over 16 columns, then 4 columns at a
 * time, a lane sum and a scalar tail for cols not a multiple of 4. Float sums in another order than the
 * double-accumulating reference, so test_matmul.c checks them within its 1e-5 · Σ|w·x| bound. NaN or Inf
 * in weights or activations reaches the sum as in the reference (fmla propagates them). */
#include <arm_neon.h>

#include "matmul_tile.h"
#include "ops.h"
#include "quant.h"

#define LOAD_F32(p) vld1q_f32(p)
#define LOAD_F16(p) vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p)))
#define LOAD_BF16(p) vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(p), 16))
#define SCALAR_F32(p) (*(p))
#define SCALAR_F16(p) mst_fp16_to_fp32(*(p))
#define SCALAR_BF16(p) mst_bf16_to_fp32(*(p))

#define FLOAT_ROW(name, ELEM, LOAD, SCALAR)                                                                 \
    MST_AI void name(const uint8_t *wb, uint32_t cols, const float *x, size_t xs, float *y, size_t ys,       \
                     const int NT)                                                                           \
    {                                                                                                        \
        const ELEM *w = (const ELEM *)wb;                                                                    \
        float32x4_t a[4][4];                                                                                 \
        for (int j = 0; j < 4; j++)                                                                          \
            for (int k = 0; k < 4; k++)                                                                      \
                a[j][k] = vdupq_n_f32(0.0f);                                                                 \
        uint32_t c = 0;                                                                                      \
        for (; c + 16 <= cols; c += 16) {                                                                    \
            const float32x4_t w0 = LOAD(w + c), w1 = LOAD(w + c + 4), w2 = LOAD(w + c + 8),                  \
                              w3 = LOAD(w + c + 12);                                                         \
            for (int j = 0; j < NT; j++) {                                                                   \
                const float *xj = x + j * xs + c;                                                            \
                a[j][0] = vfmaq_f32(a[j][0], w0, vld1q_f32(xj));                                             \
                a[j][1] = vfmaq_f32(a[j][1], w1, vld1q_f32(xj + 4));                                         \
                a[j][2] = vfmaq_f32(a[j][2], w2, vld1q_f32(xj + 8));                                         \
                a[j][3] = vfmaq_f32(a[j][3], w3, vld1q_f32(xj + 12));                                        \
            }                                                                                                \
        }                                                                                                    \
        for (; c + 4 <= cols; c += 4) {                                                                      \
            const float32x4_t w0 = LOAD(w + c);                                                              \
            for (int j = 0; j < NT; j++)                                                                     \
                a[j][0] = vfmaq_f32(a[j][0], w0, vld1q_f32(x + j * xs + c));                                 \
        }                                                                                                    \
        for (int j = 0; j < NT; j++) {                                                                       \
            float s = vaddvq_f32(vaddq_f32(vaddq_f32(a[j][0], a[j][1]), vaddq_f32(a[j][2], a[j][3])));       \
            for (uint32_t k = c; k < cols; k++)                                                              \
                s += SCALAR(w + k) * x[j * xs + k];                                                          \
            y[j * ys] = s;                                                                                   \
        }                                                                                                    \
    }

FLOAT_ROW(row_f32, float, LOAD_F32, SCALAR_F32)
FLOAT_ROW(row_f16, uint16_t, LOAD_F16, SCALAR_F16)
FLOAT_ROW(row_bf16, uint16_t, LOAD_BF16, SCALAR_BF16)

MST_DEFINE_MATMUL(mst_matmul_f32_neon, row_f32)
MST_DEFINE_MATMUL(mst_matmul_f16_neon, row_f16)
MST_DEFINE_MATMUL(mst_matmul_bf16_neon, row_bf16)
