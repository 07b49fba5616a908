/* matmul_avx2.c — matmul for every weight type with AVX2 + FMA + F16C (8 float lanes).
 *
 * Same plan as matmul_avx512.c: weights widened to float in registers, quantized blocks summed
 * in float lanes before the block scale is applied. Float types finish a row with a scalar tail. */
#include "ops.h"

#if defined(__x86_64__)
#pragma GCC target("avx2,fma,f16c")
#include <immintrin.h>

#include "attention.h"
#include "matmul_tile.h"
#include "quant.h"

MST_AI float hsum256(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

#define LOAD_F32(p) _mm256_loadu_ps(p)
#define LOAD_F16(p) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p)))
#define LOAD_BF16(p) _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(p))), 16))
#define SCALAR_F32(p) (*(p))
#define SCALAR_F16(p) _cvtsh_ss(*(p))
#define SCALAR_BF16(p) mst_bf16_to_fp32(*(p))

#define FLOAT_ROW(name, ELEM, LOAD, SCALAR)                                                                 \
    MST_AI void name(const uint8_t *wb, uint32_t cols, const float *x, size_t xs, float *y, size_t ys,       \
                     const int NT)                                                                           \
    {                                                                                                        \
        const ELEM *w = (const ELEM *)wb;                                                                    \
        __m256 a0[4], a1[4];                                                                                 \
        for (int j = 0; j < 4; j++)                                                                          \
            a0[j] = a1[j] = _mm256_setzero_ps();                                                             \
        uint32_t c = 0;                                                                                      \
        for (; c + 16 <= cols; c += 16) {                                                                    \
            __m256 w0 = LOAD(w + c), w1 = LOAD(w + c + 8);                                                   \
            for (int j = 0; j < NT; j++) {                                                                   \
                a0[j] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x + j * xs + c), a0[j]);                         \
                a1[j] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(x + j * xs + c + 8), a1[j]);                     \
            }                                                                                                \
        }                                                                                                    \
        for (; c + 8 <= cols; c += 8) {                                                                      \
            __m256 w0 = LOAD(w + c);                                                                         \
            for (int j = 0; j < NT; j++)                                                                     \
                a0[j] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x + j * xs + c), a0[j]);                         \
        }                                                                                                    \
        for (int j = 0; j < NT; j++) {                                                                       \
            float s = hsum256(_mm256_add_ps(a0[j], a1[j]));                                                  \
            for (uint32_t k = c; k < cols; k++)                                                              \
                s += SCALAR(w + k) * x[j * xs + k];                                                          \
            y[j * ys] = s;                                                                                   \
        }                                                                                                    \
    }

FLOAT_ROW(row_f32, float, LOAD_F32, SCALAR_F32)
FLOAT_ROW(row_f16, uint16_t, LOAD_F16, SCALAR_F16)
FLOAT_ROW(row_bf16, uint16_t, LOAD_BF16, SCALAR_BF16)

/* One 32-weight block (four 8-lane vectors) against NT tokens: acc[j] += d * sum(w * x_j). */
MST_AI void block_apply(const __m256 *wv, __m256 d, const float *x, size_t xs, __m256 *acc, const int NT)
{
    for (int j = 0; j < NT; j++) {
        const float *xj = x + j * xs;
        __m256 s = _mm256_mul_ps(wv[0], _mm256_loadu_ps(xj));
        s = _mm256_fmadd_ps(wv[1], _mm256_loadu_ps(xj + 8), s);
        s = _mm256_fmadd_ps(wv[2], _mm256_loadu_ps(xj + 16), s);
        s = _mm256_fmadd_ps(wv[3], _mm256_loadu_ps(xj + 24), s);
        acc[j] = _mm256_fmadd_ps(d, s, acc[j]);
    }
}

MST_AI void block_q8_0(const uint8_t *blk, const float *x, size_t xs, __m256 *acc, const int NT)
{
    __m256 wv[4];
    for (int i = 0; i < 4; i++)
        wv[i] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(blk + 2 + 8 * i))));
    block_apply(wv, _mm256_set1_ps(_cvtsh_ss(mst_read_u16(blk))), x, xs, acc, NT);
}

MST_AI void block_q4_0(const uint8_t *blk, const float *x, size_t xs, __m256 *acc, const int NT)
{
    const __m128i low4 = _mm_set1_epi8(0x0f);
    const __m256i eight = _mm256_set1_epi32(8);
    __m128i b = _mm_loadu_si128((const __m128i *)(blk + 2));
    __m128i lo = _mm_and_si128(b, low4);                    /* weights 0..15 */
    __m128i hi = _mm_and_si128(_mm_srli_epi16(b, 4), low4); /* weights 16..31 */
    __m256 wv[4];
    wv[0] = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_cvtepu8_epi32(lo), eight));
    wv[1] = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_cvtepu8_epi32(_mm_srli_si128(lo, 8)), eight));
    wv[2] = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_cvtepu8_epi32(hi), eight));
    wv[3] = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_cvtepu8_epi32(_mm_srli_si128(hi, 8)), eight));
    block_apply(wv, _mm256_set1_ps(_cvtsh_ss(mst_read_u16(blk))), x, xs, acc, NT);
}

#define QUANT_ROW(name, block_fn, BLOCK_BYTES)                                                              \
    MST_AI void name(const uint8_t *w, uint32_t cols, const float *x, size_t xs, float *y, size_t ys,        \
                     const int NT)                                                                           \
    {                                                                                                        \
        __m256 a0[4], a1[4];                                                                                 \
        for (int j = 0; j < 4; j++)                                                                          \
            a0[j] = a1[j] = _mm256_setzero_ps();                                                             \
        const uint32_t nb = cols / MST_QK;                                                                   \
        uint32_t b = 0;                                                                                      \
        for (; b + 2 <= nb; b += 2) {                                                                        \
            block_fn(w + (size_t)b * BLOCK_BYTES, x + (size_t)b * MST_QK, xs, a0, NT);                       \
            block_fn(w + (size_t)(b + 1) * BLOCK_BYTES, x + (size_t)(b + 1) * MST_QK, xs, a1, NT);           \
        }                                                                                                    \
        if (b < nb)                                                                                          \
            block_fn(w + (size_t)b * BLOCK_BYTES, x + (size_t)b * MST_QK, xs, a0, NT);                       \
        for (int j = 0; j < NT; j++)                                                                         \
            y[j * ys] = hsum256(_mm256_add_ps(a0[j], a1[j]));                                                \
    }

QUANT_ROW(row_q8_0, block_q8_0, sizeof(mst_block_q8_0))
QUANT_ROW(row_q4_0, block_q4_0, sizeof(mst_block_q4_0))

static MST_DEFINE_MATMUL(matmul_f32, row_f32)
static MST_DEFINE_MATMUL(matmul_f16, row_f16)
static MST_DEFINE_MATMUL(matmul_bf16, row_bf16)
static MST_DEFINE_MATMUL(matmul_q8_0, row_q8_0)
static MST_DEFINE_MATMUL(matmul_q4_0, row_q4_0)

const mst_cpu_kernels mst_kernels_avx2 = {
    .name = "avx2",
    .matmul_f32 = matmul_f32,
    .matmul_f16 = matmul_f16,
    .matmul_bf16 = matmul_bf16,
    .matmul_q8_0 = matmul_q8_0,
    .matmul_q4_0 = matmul_q4_0,
    .dot = mst_dot_avx2,
    .attn = &mst_attn_avx2,
};
#endif
