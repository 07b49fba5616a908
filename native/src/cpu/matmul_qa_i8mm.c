/* matmul_qa_i8mm.c — Q8_0/Q4_0 weights times Q8_0 activations with smmla (ARMv8.6-A i8mm: Neoverse V1/N2,
 * Cortex-A710 and later, Apple M2 and later), for prompts (two tokens or more).
 *
 * smmla multiplies a 2x8 int8 matrix by the transpose of another into a 2x2 int32 tile: with rows r, r+1
 * of the weights as the first operand and tokens t, t+1 as the second, each instruction gives the four dot
 * products of 8 columns, 32 multiply-adds where sdot gives 16. A 32-value block is four smmla over the
 * interleaved halves (zip1/zip2 of 64-bit lanes put 8 values of each row side by side), then the four block
 * sums, exact in int32, are scaled and added in block order as the reference does, so the output is the
 * reference's bits. A last odd token goes through the sdot row kernel (the same bits); a last odd row is
 * paired with itself and its copy dropped. Decode (one token) has no pair to fill and runs sdot alone.
 * dispatch.c runs this only where both HWCAP2_I8MM and HWCAP_ASIMDDP are set. */
#pragma GCC target("arch=armv8.2-a+dotprod+i8mm")
#include <arm_neon.h>

#include "quant_act.h"

static inline int32_t dot_block(int8x16_t w0, int8x16_t w1, int8x16_t x0, int8x16_t x1)
{
    return vaddvq_s32(vdotq_s32(vdotq_s32(vdupq_n_s32(0), w0, x0), w1, x1));
}

#define MST_ARM_DOT dot_block
#define MST_ARM_SUFFIX i8mm
#include "matmul_qa_arm.h"

/* Values 8k..8k+7 of a and of b side by side: the operand layout of smmla. */
MST_AI int8x16_t zip_lo(int8x16_t a, int8x16_t b)
{
    return vreinterpretq_s8_s64(vzip1q_s64(vreinterpretq_s64_s8(a), vreinterpretq_s64_s8(b)));
}

MST_AI int8x16_t zip_hi(int8x16_t a, int8x16_t b)
{
    return vreinterpretq_s8_s64(vzip2q_s64(vreinterpretq_s64_s8(a), vreinterpretq_s64_s8(b)));
}

/* Rows at p0, p1 against tokens t, t+1: y[0], y[1] (rows, token t) and y[ys], y[ys + 1] (token t+1); the
 * second row's outputs only when two_rows. */
#define DEFINE_PAIR(pair_name, decode, block_bytes)                                                          \
    MST_AI void pair_name(const uint8_t *p0, const uint8_t *p1, const mst_qact *x, size_t t, float *y,         \
                          size_t ys, int two_rows)                                                           \
    {                                                                                                        \
        const uint32_t cols = x->cols, nb = cols / MST_QK;                                                   \
        const int8_t *xa = x->qs + t * cols, *xb = xa + cols;                                                \
        const float *da = x->d + t * nb, *db = da + nb;                                                      \
        float s00 = 0.0f, s01 = 0.0f, s10 = 0.0f, s11 = 0.0f; /* s<row><token> */                            \
        for (uint32_t b = 0; b < nb; b++) {                                                                  \
            const uint8_t *q0 = p0 + (size_t)b * (block_bytes), *q1 = p1 + (size_t)b * (block_bytes);        \
            int8x16_t a0, a1, c0, c1;                                                                        \
            decode(q0, &a0, &a1);                                                                            \
            decode(q1, &c0, &c1);                                                                            \
            const int8x16_t u0 = vld1q_s8(xa + b * MST_QK), u1 = vld1q_s8(xa + b * MST_QK + 16);             \
            const int8x16_t v0 = vld1q_s8(xb + b * MST_QK), v1 = vld1q_s8(xb + b * MST_QK + 16);             \
            int32x4_t acc = vmmlaq_s32(vdupq_n_s32(0), zip_lo(a0, c0), zip_lo(u0, v0));                      \
            acc = vmmlaq_s32(acc, zip_hi(a0, c0), zip_hi(u0, v0));                                           \
            acc = vmmlaq_s32(acc, zip_lo(a1, c1), zip_lo(u1, v1));                                           \
            acc = vmmlaq_s32(acc, zip_hi(a1, c1), zip_hi(u1, v1));                                           \
            /* lanes: (row 0, token 0), (row 0, token 1), (row 1, token 0), (row 1, token 1) */              \
            const float dw0 = mst_fp16_to_fp32(mst_read_u16(q0)), dw1 = mst_fp16_to_fp32(mst_read_u16(q1));  \
            s00 += dw0 * da[b] * (float)vgetq_lane_s32(acc, 0);                                              \
            s01 += dw0 * db[b] * (float)vgetq_lane_s32(acc, 1);                                              \
            s10 += dw1 * da[b] * (float)vgetq_lane_s32(acc, 2);                                              \
            s11 += dw1 * db[b] * (float)vgetq_lane_s32(acc, 3);                                              \
        }                                                                                                    \
        y[0] = s00;                                                                                          \
        y[ys] = s01;                                                                                         \
        if (two_rows) {                                                                                      \
            y[1] = s10;                                                                                      \
            y[ys + 1] = s11;                                                                                 \
        }                                                                                                    \
    }

DEFINE_PAIR(pair_q8_0, mst_arm_q8_0_decode, sizeof(mst_block_q8_0))
DEFINE_PAIR(pair_q4_0, mst_arm_q4_0_decode, sizeof(mst_block_q4_0))

/* Rows in tiles of about MST_TILE_BYTES (an even count), every token pair over a tile while it is in L2,
 * as matmul_tile.h's loop nest does for the other kernels. */
#define DEFINE_MATMUL_I8MM(fn_name, pair_fn, row_fn)                                                         \
    void fn_name(const uint8_t *w, size_t row_bytes, uint32_t rows, const mst_qact *x, float *y, uint32_t r0, \
                 uint32_t r1)                                                                                 \
    {                                                                                                        \
        const uint32_t n_tokens = x->n_tokens;                                                               \
        const uint32_t tile = row_bytes * 2 >= MST_TILE_BYTES ? 2u : (uint32_t)(MST_TILE_BYTES / row_bytes) & ~1u; \
        for (uint32_t rb = r0; rb < r1; rb += tile) {                                                        \
            const uint32_t re = r1 - rb < tile ? r1 : rb + tile;                                             \
            uint32_t t = 0;                                                                                  \
            for (; t + 2 <= n_tokens; t += 2)                                                                \
                for (uint32_t r = rb; r < re; r += 2) {                                                      \
                    const uint8_t *p0 = w + (size_t)r * row_bytes;                                           \
                    const int two = r + 1 < re;                                                              \
                    pair_fn(p0, two ? p0 + row_bytes : p0, x, t, y + (size_t)t * rows + r, rows, two);      \
                }                                                                                            \
            for (; t < n_tokens; t++)                                                                        \
                for (uint32_t r = rb; r < re; r++)                                                           \
                    row_fn(w + (size_t)r * row_bytes, x, t, y + (size_t)t * rows + r, rows, 1);              \
        }                                                                                                    \
    }

DEFINE_MATMUL_I8MM(mst_matmul_qa_q8_0_i8mm, pair_q8_0, row_q8_0_i8mm)
DEFINE_MATMUL_I8MM(mst_matmul_qa_q4_0_i8mm, pair_q4_0, row_q4_0_i8mm)
