/* matmul_qa_avx2.c — Q8_0/Q4_0 weights times Q8_0-quantized activations with AVX2 (no VNNI).
 *
 * One block (32 values) per ymm; pmaddubsw (unsigned x signed bytes -> int16 pairs) then pmaddwd
 * with ones gives int32 lanes of 4 products, exactly as the VNNI kernel's lanes.
 *   Q4_0: nibbles (w + 8) are unsigned; a pair of products is at most 2·15·127, far from int16
 *         saturation; the offset is removed by adding nsum4 << 3.
 *   Q8_0: w + 128 would saturate int16 pairs (2·255·127 > 32767), so the sign is moved onto the
 *         activation instead (|w| x sign(x, w)); pairs stay within 2·128·127 = 32512 and no
 *         offset correction is needed.
 * Lanes are scaled per block by d_w·d_x in float, as in matmul_qa_avx512.c. */
#include "ops.h"

#if defined(__x86_64__)
#pragma GCC target("avx2,fma,f16c")
#include <immintrin.h>

#include "matmul_tile.h"
#include "quant_act.h"

MST_AI float hsum256(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

MST_AI __m256i lanes4(__m256i u8, __m256i s8)
{
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u8, s8), _mm256_set1_epi16(1));
}

MST_AI void row_q4_0(const uint8_t *row, const mst_qact *x, size_t t, float *y, size_t ys, const int NT)
{
    __m256 acc[4];
    for (int j = 0; j < 4; j++)
        acc[j] = _mm256_setzero_ps();
    const uint32_t cols = x->cols, nb = cols / MST_QK;
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    for (uint32_t b = 0; b < nb; b++) {
        const uint8_t *p = row + (size_t)b * sizeof(mst_block_q4_0);
        __m128i q = _mm_loadu_si128((const __m128i *)(p + 2));
        __m256i w = _mm256_and_si256(_mm256_inserti128_si256(_mm256_castsi128_si256(q), _mm_srli_epi16(q, 4), 1), m4);
        __m256 dw = _mm256_set1_ps(_cvtsh_ss(mst_read_u16(p)));
        for (int j = 0; j < NT; j++) {
            size_t xo = (t + j) * cols + (size_t)b * MST_QK;
            __m256i xq = _mm256_loadu_si256((const __m256i *)(x->qs + xo));
            __m256i ns = _mm256_slli_epi32(_mm256_loadu_si256((const __m256i *)(x->nsum4 + xo / 4)), 3);
            __m256i isum = _mm256_add_epi32(lanes4(w, xq), ns);
            __m256 s = _mm256_mul_ps(dw, _mm256_loadu_ps(x->dxe + xo / 4));
            acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), s, acc[j]);
        }
    }
    for (int j = 0; j < NT; j++)
        y[j * ys] = hsum256(acc[j]);
}

MST_AI void row_q8_0(const uint8_t *row, const mst_qact *x, size_t t, float *y, size_t ys, const int NT)
{
    __m256 acc[4];
    for (int j = 0; j < 4; j++)
        acc[j] = _mm256_setzero_ps();
    const uint32_t cols = x->cols, nb = cols / MST_QK;
    for (uint32_t b = 0; b < nb; b++) {
        const uint8_t *p = row + (size_t)b * sizeof(mst_block_q8_0);
        __m256i w = _mm256_loadu_si256((const __m256i *)(p + 2));
        __m256i aw = _mm256_abs_epi8(w);
        __m256 dw = _mm256_set1_ps(_cvtsh_ss(mst_read_u16(p)));
        for (int j = 0; j < NT; j++) {
            size_t xo = (t + j) * cols + (size_t)b * MST_QK;
            __m256i xq = _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)(x->qs + xo)), w);
            __m256 s = _mm256_mul_ps(dw, _mm256_loadu_ps(x->dxe + xo / 4));
            acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(lanes4(aw, xq)), s, acc[j]);
        }
    }
    for (int j = 0; j < NT; j++)
        y[j * ys] = hsum256(acc[j]);
}

MST_DEFINE_MATMUL_QA(mst_matmul_qa_q4_0_avx2, row_q4_0)
MST_DEFINE_MATMUL_QA(mst_matmul_qa_q8_0_avx2, row_q8_0)
#endif
