/* matmul.c — reference matrix-vector products for every weight type.
 *
 * Plain and slow on purpose: each row is dequantized a chunk at a time with the reference
 * dequantizer and the dot product is accumulated in double, so this is the yardstick the SIMD
 * variants (matmul_avx2.c, matmul_avx512.c) are measured against. */
#include "ops.h"
#include "quant.h"

enum { CHUNK = 256 }; /* a multiple of every block size (K-quant super-blocks are 256) */

void mst_matmul_ref(int32_t type, const uint8_t *w, size_t row_bytes, uint32_t rows, uint32_t cols,
                    const float *x, uint32_t n_tokens, float *y, uint32_t r0, uint32_t r1)
{
    const uint32_t bs = mst_type_block_size(type);
    const uint32_t bb = mst_type_block_bytes(type);
    float buf[CHUNK];
    for (uint32_t r = r0; r < r1; r++) {
        const uint8_t *row = w + (size_t)r * row_bytes;
        for (uint32_t t = 0; t < n_tokens; t++) {
            const float *xt = x + (size_t)t * cols;
            double sum = 0.0;
            for (uint32_t c = 0; c < cols; c += CHUNK) {
                uint32_t n = cols - c < CHUNK ? cols - c : CHUNK;
                mst_dequantize_ref(type, row + (size_t)(c / bs) * bb, n, buf);
                for (uint32_t i = 0; i < n; i++)
                    sum += (double)buf[i] * (double)xt[c + i];
            }
            y[(size_t)t * rows + r] = (float)sum;
        }
    }
}

#define REF_FOR(suffix, TYPE)                                                                              \
    void mst_matmul_ref_##suffix(const uint8_t *w, size_t row_bytes, uint32_t rows, uint32_t cols,        \
                                 const float *x, uint32_t n_tokens, float *y, uint32_t r0, uint32_t r1)     \
    {                                                                                                      \
        mst_matmul_ref(TYPE, w, row_bytes, rows, cols, x, n_tokens, y, r0, r1);                            \
    }
REF_FOR(f32, MST_TYPE_F32)
REF_FOR(f16, MST_TYPE_F16)
REF_FOR(bf16, MST_TYPE_BF16)
REF_FOR(q8_0, MST_TYPE_Q8_0)
REF_FOR(q4_0, MST_TYPE_Q4_0)
REF_FOR(q2_k, MST_TYPE_Q2_K)
REF_FOR(q3_k, MST_TYPE_Q3_K)
REF_FOR(q4_k, MST_TYPE_Q4_K)
REF_FOR(q5_k, MST_TYPE_Q5_K)
REF_FOR(q6_k, MST_TYPE_Q6_K)
