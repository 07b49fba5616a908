/* embed.cu — the embedding lookup: x[t] = row tokens[t] of the table, dequantized to float. One thread per output
 * value, so every block layout is decoded value by value with the CPU reference's float expression
 * (cpu/quant.c, cpu/quant_k.c) and the rows come out bit-identical to mst_dequantize_ref: the K-quant products
 * that the CPU rounds before a subtraction are rounded on their own here too (kmm_mul_rn), not fused. Types: the
 * upload types (F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K; Q2_K/Q3_K/Q5_K tables arrive as F16).
 * A token id outside the table (the host validates them first) yields a row of NaN rather than a stray read. */
#include "cuda_compat.h"

#include "mistral.h"
#include "quant_blocks.cuh"

MST_DEVICE float kmm_embed_value(const uint8_t *row, int32_t type, uint32_t c)
{
    switch (type) {
    case MST_TYPE_F32: return ((const float *)row)[c];
    case MST_TYPE_F16: return mst_h2f(((const uint16_t *)row)[c]);
    case MST_TYPE_BF16: return mst_bf2f(((const uint16_t *)row)[c]);
    case MST_TYPE_Q8_0: {
        const uint8_t *blk = row + (uint64_t)(c / KMM_QK) * KMM_Q8_0_BYTES;
        return mst_h2f(mst_load_u16(blk)) * (float)(int8_t)blk[2 + c % KMM_QK];
    }
    case MST_TYPE_Q4_0: { /* weight j is the low nibble of byte j, weight j+16 the high one */
        const uint8_t *blk = row + (uint64_t)(c / KMM_QK) * KMM_Q4_0_BYTES;
        const uint32_t j = c % KMM_QK;
        const int32_t v = ((blk[2 + j % 16] >> (4 * (j / 16))) & 0x0f) - 8;
        return mst_h2f(mst_load_u16(blk)) * (float)v;
    }
    case MST_TYPE_Q4_K: { /* d*sc_s*q - dmin*m_s, with d*sc and dmin*m rounded first as in quant_k.c */
        const uint8_t *blk = row + (uint64_t)(c / KMM_QK_K) * KMM_Q4_K_BYTES;
        const uint32_t i = c % KMM_QK_K, s = i / 32, l = i % 32;
        int32_t sc, mn;
        kmm_k4_scale_min(blk + 4, s, &sc, &mn);
        const float dl = kmm_mul_rn(mst_h2f(mst_load_u16(blk)), (float)sc);
        const float ml = kmm_mul_rn(mst_h2f(mst_load_u16(blk + 2)), (float)mn);
        const int32_t q = (blk[16 + 32 * (s / 2) + l] >> (4 * (s & 1))) & 0x0f;
        return kmm_mul_rn(dl, (float)q) - ml;
    }
    case MST_TYPE_Q6_K: { /* d*sc*(q - 32), (d*sc) first */
        const uint8_t *blk = row + (uint64_t)(c / KMM_QK_K) * KMM_Q6_K_BYTES;
        const uint32_t i = c % KMM_QK_K, h = i / 128, part = (i % 128) / 32, l = i % 32;
        const int32_t nib = (blk[64 * h + l + 32 * (part & 1)] >> (4 * (part >> 1))) & 0x0f;
        const int32_t v = (nib | (((blk[128 + 32 * h + l] >> (2 * part)) & 3) << 4)) - 32;
        return kmm_mul_rn(mst_h2f(mst_load_u16(blk + 208)), (float)kmm_q6_k_scale(blk, 8 * h + l / 16 + 2 * part)) *
               (float)v;
    }
    default: return kmm_u2f(0x7fc00000u); /* the wrapper rejects other types */
    }
}

/* grid (ceil(cols / blockDim.x), n): block y = token, thread = column. */
MST_KERNEL void mst_k_embed(const uint8_t *table, int32_t type, uint32_t rows, uint32_t cols, uint64_t row_bytes,
                            const int32_t *tokens, float *x)
{
    const uint32_t t = blockIdx.y, c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= cols)
        return;
    const int32_t id = tokens[t];
    float v = kmm_u2f(0x7fc00000u);
    if (id >= 0 && (uint32_t)id < rows)
        v = kmm_embed_value(table + (uint64_t)id * row_bytes, type, c);
    x[(uint64_t)t * cols + c] = v;
}
MST_REGISTER_KERNEL(mst_k_embed);

#if MST_HOST_CODE
#include "kernels.h"

extern "C" mst_status mst_fail(mst_status status, const char *fmt, ...);

extern "C" mst_status mst_cuda_embed(mst_dev *d, const mst_cuda_weight *table, mst_dptr tokens, uint32_t n, mst_dptr x)
{
    if (!d || !table)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_cuda_embed: %s is NULL", !d ? "the device" : "the table");
    uint32_t bs = 0;
    switch (table->type) {
    case MST_TYPE_F32:
    case MST_TYPE_F16:
    case MST_TYPE_BF16: bs = 1; break;
    case MST_TYPE_Q8_0:
    case MST_TYPE_Q4_0: bs = KMM_QK; break;
    case MST_TYPE_Q4_K:
    case MST_TYPE_Q6_K: bs = KMM_QK_K; break;
    default:
        return mst_fail(MST_ERR_UNSUPPORTED, "mst_cuda_embed: table type %d is not an upload type", (int)table->type);
    }
    if (table->cols == 0 || table->cols % bs != 0)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_cuda_embed: cols (%u) must be a positive multiple of %u",
                        table->cols, bs);
    if (n == 0)
        return MST_OK;
    if (n > 65535)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_cuda_embed: %u tokens are too many for one launch (65535)", n);
    mst_dptr tab = table->data;
    int32_t type = table->type;
    uint32_t rows = table->rows, cols = table->cols;
    uint64_t row_bytes = table->row_bytes;
    void *args[] = {&tab, &type, &rows, &cols, &row_bytes, &tokens, &x};
    const mst_dim3 grid = {(cols + 255) / 256, n, 1}, block = {256, 1, 1};
    return mst_dev_launch(d, &mst_kernel_mst_k_embed, grid, block, 0, args);
}
#endif
