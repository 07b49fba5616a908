/* matmul_avx512.c — matmul for every weight type with AVX-512 (16 float lanes).
 *
 * Weights are widened to float in registers and multiplied with float activations; there is no
 * activation quantization, so VNNI is not used yet. Quantized types sum each 32-weight block in
 * float lanes first and apply the block scale once, which keeps the rounding error of a long row
 * close to the double reference. Float types use masked loads, so no scalar tail. */
#include "ops.h"

#if defined(__x86_64__)
#pragma GCC target("avx512f,avx512bw,avx512vl,avx2,fma,f16c")
#include <immintrin.h>

#include "attention.h"
#include "matmul_tile.h"
#include "quant.h"

#define LOAD_F32(p) _mm512_loadu_ps(p)
#define LOADM_F32(p, m) _mm512_maskz_loadu_ps((m), (p))
#define LOAD_F16(p) _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(p)))
#define LOADM_F16(p, m) _mm512_cvtph_ps(_mm256_maskz_loadu_epi16((m), (p)))
#define LOAD_BF16(p) _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(p))), 16))
#define LOADM_BF16(p, m) _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16((m), (p))), 16))

/* Two accumulator sets per token (a0, a1) so consecutive FMAs do not wait on each other. */
#define FLOAT_ROW(name, ELEM, LOAD, LOADM)                                                                  \
    MST_AI void name(const uint8_t *wb, uint32_t cols, const float *x, size_t xs, float *y, size_t ys,       \
                     const int NT)                                                                           \
    {                                                                                                        \
        const ELEM *w = (const ELEM *)wb;                                                                    \
        __m512 a0[4], a1[4];                                                                                 \
        for (int j = 0; j < 4; j++)                                                                          \
            a0[j] = a1[j] = _mm512_setzero_ps();                                                             \
        uint32_t c = 0;                                                                                      \
        for (; c + 32 <= cols; c += 32) {                                                                    \
            __m512 w0 = LOAD(w + c), w1 = LOAD(w + c + 16);                                                  \
            for (int j = 0; j < NT; j++) {                                                                   \
                a0[j] = _mm512_fmadd_ps(w0, _mm512_loadu_ps(x + j * xs + c), a0[j]);                         \
                a1[j] = _mm512_fmadd_ps(w1, _mm512_loadu_ps(x + j * xs + c + 16), a1[j]);                    \
            }                                                                                                \
        }                                                                                                    \
        for (; c + 16 <= cols; c += 16) {                                                                    \
            __m512 w0 = LOAD(w + c);                                                                         \
            for (int j = 0; j < NT; j++)                                                                     \
                a0[j] = _mm512_fmadd_ps(w0, _mm512_loadu_ps(x + j * xs + c), a0[j]);                         \
        }                                                                                                    \
        if (c < cols) {                                                                                      \
            __mmask16 m = (__mmask16)((1u << (cols - c)) - 1u);                                              \
            __m512 w0 = LOADM(w + c, m);                                                                     \
            for (int j = 0; j < NT; j++)                                                                     \
                a1[j] = _mm512_fmadd_ps(w0, _mm512_maskz_loadu_ps(m, x + j * xs + c), a1[j]);               \
        }                                                                                                    \
        for (int j = 0; j < NT; j++)                                                                         \
            y[j * ys] = _mm512_reduce_add_ps(_mm512_add_ps(a0[j], a1[j]));                                   \
    }

FLOAT_ROW(row_f32, float, LOAD_F32, LOADM_F32)
FLOAT_ROW(row_f16, uint16_t, LOAD_F16, LOADM_F16)
FLOAT_ROW(row_bf16, uint16_t, LOAD_BF16, LOADM_BF16)

/* One 32-weight block against NT tokens: acc[j] += d * sum(w * x_j). */
MST_AI void block_apply(__m512 w0, __m512 w1, __m512 d, const float *x, size_t xs, __m512 *acc, const int NT)
{
    for (int j = 0; j < NT; j++) {
        const float *xj = x + j * xs;
        __m512 s = _mm512_mul_ps(w0, _mm512_loadu_ps(xj));
        s = _mm512_fmadd_ps(w1, _mm512_loadu_ps(xj + 16), s);
        acc[j] = _mm512_fmadd_ps(d, s, acc[j]);
    }
}

MST_AI void block_q8_0(const uint8_t *blk, const float *x, size_t xs, __m512 *acc, const int NT)
{
    __m512 w0 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(blk + 2))));
    __m512 w1 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(blk + 18))));
    block_apply(w0, w1, _mm512_set1_ps(_cvtsh_ss(mst_read_u16(blk))), x, xs, acc, NT);
}

MST_AI void block_q4_0(const uint8_t *blk, const float *x, size_t xs, __m512 *acc, const int NT)
{
    /* vpermps reads only the low 4 bits of each index, so a nibble indexes this table of its
     * values (nibble - 8) directly: no mask, subtract or int->float conversion needed. */
    const __m512 values = _mm512_setr_ps(-8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7);
    __m512i b = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(blk + 2)));
    __m512 w0 = _mm512_permutexvar_ps(b, values);                         /* weights 0..15: low nibbles */
    __m512 w1 = _mm512_permutexvar_ps(_mm512_srli_epi32(b, 4), values);   /* weights 16..31: high nibbles */
    block_apply(w0, w1, _mm512_set1_ps(_cvtsh_ss(mst_read_u16(blk))), x, xs, acc, NT);
}

#define QUANT_ROW(name, block_fn, BLOCK_BYTES)                                                              \
    MST_AI void name(const uint8_t *w, uint32_t cols, const float *x, size_t xs, float *y, size_t ys,        \
                     const int NT)                                                                           \
    {                                                                                                        \
        __m512 a0[4], a1[4];                                                                                 \
        for (int j = 0; j < 4; j++)                                                                          \
            a0[j] = a1[j] = _mm512_setzero_ps();                                                             \
        const uint32_t nb = cols / MST_QK;                                                                   \
        uint32_t b = 0;                                                                                      \
        for (; b + 2 <= nb; b += 2) {                                                                        \
            block_fn(w + (size_t)b * BLOCK_BYTES, x + (size_t)b * MST_QK, xs, a0, NT);                       \
            block_fn(w + (size_t)(b + 1) * BLOCK_BYTES, x + (size_t)(b + 1) * MST_QK, xs, a1, NT);           \
        }                                                                                                    \
        if (b < nb)                                                                                          \
            block_fn(w + (size_t)b * BLOCK_BYTES, x + (size_t)b * MST_QK, xs, a0, NT);                       \
        for (int j = 0; j < NT; j++)                                                                         \
            y[j * ys] = _mm512_reduce_add_ps(_mm512_add_ps(a0[j], a1[j]));                                   \
    }

QUANT_ROW(row_q8_0, block_q8_0, sizeof(mst_block_q8_0))
QUANT_ROW(row_q4_0, block_q4_0, sizeof(mst_block_q4_0))

static MST_DEFINE_MATMUL(matmul_f32, row_f32)
static MST_DEFINE_MATMUL(matmul_f16, row_f16)
static MST_DEFINE_MATMUL(matmul_bf16, row_bf16)
static MST_DEFINE_MATMUL(matmul_q8_0, row_q8_0)
static MST_DEFINE_MATMUL(matmul_q4_0, row_q4_0)

const mst_cpu_kernels mst_kernels_avx512 = {
    .name = "avx512",
    .matmul_f32 = matmul_f32,
    .matmul_f16 = matmul_f16,
    .matmul_bf16 = matmul_bf16,
    .matmul_q8_0 = matmul_q8_0,
    .matmul_q4_0 = matmul_q4_0,
    .dot = mst_dot_avx512,
    .attn = &mst_attn_avx512,
};
#endif
