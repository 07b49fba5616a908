/* quant_fill.h — random weight matrices in any GGUF type for the CUDA matmul and embedding tests, and their
 * "magnitude" dequantization used by the rounding bounds. Random bytes are valid quantized data except for the
 * fp16 scales, which are set here to finite values of either sign (|d| in [0.002, 0.02)). */
#ifndef MST_TEST_QUANT_FILL_H
#define MST_TEST_QUANT_FILL_H

#include "../test_util.h"
#include "cpu/quant.h"
#include "cpu/quant_k.h"

/* Byte offsets of a block's fp16 scales: d, and dmin (-1: none). */
static inline void qf_scale_offsets(int32_t type, int *d_at, int *dmin_at)
{
    *dmin_at = -1;
    switch (type) {
    case MST_TYPE_Q2_K: *d_at = 80, *dmin_at = 82; break;
    case MST_TYPE_Q3_K: *d_at = 108; break;
    case MST_TYPE_Q4_K:
    case MST_TYPE_Q5_K: *d_at = 0, *dmin_at = 2; break;
    case MST_TYPE_Q6_K: *d_at = 208; break;
    default: *d_at = 0; break; /* Q8_0, Q4_0 */
    }
}

static inline void qf_put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v & 0xff);
    p[1] = (uint8_t)(v >> 8);
}

static inline float qf_scale(uint64_t *seed)
{
    const float m = rng_uniform(seed, 0.002f, 0.02f);
    return (rng_next(seed) & 1) ? -m : m;
}

/* rows x cols of `type` into buf (row_bytes apart, row_bytes = the type's row size). */
static inline void qf_fill(uint64_t *seed, int32_t type, uint8_t *buf, uint32_t rows, uint32_t cols, size_t row_bytes)
{
    for (uint32_t r = 0; r < rows; r++) {
        uint8_t *row = buf + (size_t)r * row_bytes;
        if (type == MST_TYPE_F32 || type == MST_TYPE_F16 || type == MST_TYPE_BF16) {
            for (uint32_t c = 0; c < cols; c++) {
                const float v = rng_uniform(seed, -1.0f, 1.0f);
                if (type == MST_TYPE_F32)
                    memcpy(row + 4 * (size_t)c, &v, 4);
                else
                    qf_put_u16(row + 2 * (size_t)c, type == MST_TYPE_F16 ? mst_fp32_to_fp16(v) : mst_fp32_to_bf16(v));
            }
            continue;
        }
        for (size_t i = 0; i < row_bytes; i++)
            row[i] = (uint8_t)rng_next(seed);
        const uint32_t bb = mst_type_block_bytes(type), nb = cols / mst_type_block_size(type);
        int d_at, dmin_at;
        qf_scale_offsets(type, &d_at, &dmin_at);
        for (uint32_t b = 0; b < nb; b++) {
            qf_put_u16(row + (size_t)b * bb + d_at, mst_fp32_to_fp16(qf_scale(seed)));
            if (dmin_at >= 0)
                qf_put_u16(row + (size_t)b * bb + dmin_at, mst_fp32_to_fp16(qf_scale(seed)));
        }
    }
}

/* mag[c] >= |each part of weight c|, summed: for the types with a min term (Q2_K, Q4_K, Q5_K) the dequantization
 * with d -> |d| and dmin -> -|dmin|, i.e. |d|*sc*q + |dmin|*m (every factor >= 0); for the others |w|. One row. */
static inline void qf_magnitude_row(int32_t type, const uint8_t *row, uint32_t cols, float *mag)
{
    uint64_t bytes = 0;
    mst_type_bytes(type, cols, &bytes);
    uint8_t *copy = (uint8_t *)xmalloc(bytes);
    memcpy(copy, row, bytes);
    int d_at, dmin_at;
    qf_scale_offsets(type, &d_at, &dmin_at);
    if (dmin_at >= 0) {
        const uint32_t bb = mst_type_block_bytes(type), nb = cols / mst_type_block_size(type);
        for (uint32_t b = 0; b < nb; b++) {
            uint8_t *blk = copy + (size_t)b * bb;
            blk[d_at + 1] &= 0x7f;   /* fp16 sign bit: d = |d| */
            blk[dmin_at + 1] |= 0x80; /* dmin = -|dmin| */
        }
    }
    mst_dequantize_ref(type, copy, cols, mag);
    for (uint32_t c = 0; c < cols; c++)
        mag[c] = fabsf(mag[c]);
    free(copy);
}

#endif
