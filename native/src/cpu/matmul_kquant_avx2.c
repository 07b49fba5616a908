/* matmul_kquant_avx2.c — K-quant matmul (Q2_K..Q6_K) with AVX2 + FMA + F16C, float activations.
 *
 * The plan of matmul_kquant_avx512.c on 8 lanes: each 8-weight group is decoded to floats in a
 * register and FMA'd with up to 4 tokens' activations. vpermps here reads 3 index bits, so only
 * Q2_K (4 levels) and Q3_K (8 levels) decode by table lookup; Q4_K, Q5_K and Q6_K convert the
 * quants to float and apply the sub-block scale and min with the reference's own float operations
 * (a multiply, then a subtract), so decoded weights still equal quant_k.c's bit for bit.
 *
 * Float activations: mst_decode runs the K-quants on Q8_K-quantized activations instead
 * (matmul_kquant_qa_avx2.c); these stay as the table's float-activation kernels (mst_kernels_matmul). */
#include "ops.h"

#if defined(__x86_64__)
#pragma GCC target("avx2,fma,f16c")
#include <immintrin.h>

#include "matmul_tile.h"
#include "quant.h"
#include "quant_k.h"

#define LOAD8_U8(p) _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(p)))

MST_AI float hsum8(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* acc[j] += w * x_j[0..7] for each of the NT tokens. */
MST_AI void fma8(__m256 w, const float *x, size_t xs, __m256 *acc, const int NT)
{
    for (int j = 0; j < NT; j++)
        acc[j] = _mm256_fmadd_ps(w, _mm256_loadu_ps(x + j * xs), acc[j]);
}

MST_AI float half_at(const uint8_t *p)
{
    return _cvtsh_ss(mst_read_u16(p));
}

/* The reference's weight for integer quants q: dl * q - ml. */
MST_AI __m256 scale_min(__m256i q, __m256 dl, __m256 ml)
{
    return _mm256_sub_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(q), dl), ml);
}

/* Q4_K and Q5_K (qh == NULL for Q4_K): sub-block s = 32 weights, nibble (s & 1) of bytes
 * 32*(s/2).., fifth bit s of qh[l]. */
MST_AI void block_q45_k(const uint8_t *b, const uint8_t *qh, const uint8_t *qs, const float *x, size_t xs,
                        __m256 *a0, __m256 *a1, const int NT)
{
    const float d = half_at(b), dmin = half_at(b + 2);
    uint8_t sc[8], mn[8];
    mst_k4_scale_min(b + 4, sc, mn);
    const __m256i m4 = _mm256_set1_epi32(0x0f), one = _mm256_set1_epi32(1);
    for (int s = 0; s < 8; s++) {
        const uint8_t *q = qs + 32 * (s / 2);
        const __m256 dl = _mm256_set1_ps(d * (float)sc[s]), ml = _mm256_set1_ps(dmin * (float)mn[s]);
        for (int g = 0; g < 4; g++) {
            __m256i v = _mm256_and_si256(_mm256_srli_epi32(LOAD8_U8(q + 8 * g), (unsigned)(4 * (s & 1))), m4);
            if (qh) {
                __m256i hb = _mm256_and_si256(_mm256_srli_epi32(LOAD8_U8(qh + 8 * g), (unsigned)s), one);
                v = _mm256_or_si256(v, _mm256_slli_epi32(hb, 4));
            }
            fma8(scale_min(v, dl, ml), x + 32 * s + 8 * g, xs, (g & 1) ? a1 : a0, NT);
        }
    }
}

MST_AI void block_q4_k(const uint8_t *b, const float *x, size_t xs, __m256 *a0, __m256 *a1, const int NT)
{
    block_q45_k(b, NULL, b + 16, x, xs, a0, a1, NT);
}

MST_AI void block_q5_k(const uint8_t *b, const float *x, size_t xs, __m256 *a0, __m256 *a1, const int NT)
{
    block_q45_k(b, b + 16, b + 48, x, xs, a0, a1, NT);
}

/* Q6_K: q - 32 built as integers (layout in quant_k.c), converted, times d * scale. */
MST_AI void block_q6_k(const uint8_t *b, const float *x, size_t xs, __m256 *a0, __m256 *a1, const int NT)
{
    const float d = half_at(b + 208);
    const int8_t *scales = (const int8_t *)(b + 192);
    const __m256i m4 = _mm256_set1_epi32(0x0f), m30 = _mm256_set1_epi32(0x30), c32 = _mm256_set1_epi32(32);
    for (int h = 0; h < 2; h++) {
        for (int g = 0; g < 4; g++) {
            const int l0 = 8 * g;
            __m256i L0 = LOAD8_U8(b + 64 * h + l0), L1 = LOAD8_U8(b + 64 * h + 32 + l0);
            __m256i H = LOAD8_U8(b + 128 + 32 * h + l0);
            __m256i q[4] = {
                _mm256_or_si256(_mm256_and_si256(L0, m4), _mm256_and_si256(_mm256_slli_epi32(H, 4), m30)),
                _mm256_or_si256(_mm256_and_si256(L1, m4), _mm256_and_si256(_mm256_slli_epi32(H, 2), m30)),
                _mm256_or_si256(_mm256_srli_epi32(L0, 4), _mm256_and_si256(H, m30)),
                _mm256_or_si256(_mm256_srli_epi32(L1, 4), _mm256_and_si256(_mm256_srli_epi32(H, 2), m30)),
            };
            for (int part = 0; part < 4; part++) {
                __m256 v = _mm256_cvtepi32_ps(_mm256_sub_epi32(q[part], c32));
                __m256 w = _mm256_mul_ps(_mm256_set1_ps(d * (float)scales[8 * h + g / 2 + 2 * part]), v);
                fma8(w, x + 128 * h + 32 * part + l0, xs, (part & 1) ? a1 : a0, NT);
            }
        }
    }
}

/* Q2_K: 4 levels per 16-weight sub-block, looked up by vpermps (low 3 index bits; 2 used). */
MST_AI void block_q2_k(const uint8_t *b, const float *x, size_t xs, __m256 *a0, __m256 *a1, const int NT)
{
    const float d = half_at(b + 80), dmin = half_at(b + 82);
    const __m256i m3 = _mm256_set1_epi32(3);
    const __m256 iota = _mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7);
    for (int h = 0; h < 2; h++) {
        for (int pass = 0; pass < 4; pass++) {
            for (int k = 0; k < 2; k++) {
                const uint8_t s = b[8 * h + 2 * pass + k];
                __m256 t = _mm256_sub_ps(_mm256_mul_ps(iota, _mm256_set1_ps(d * (float)(s & 0x0f))),
                                         _mm256_set1_ps(dmin * (float)(s >> 4)));
                for (int g = 0; g < 2; g++) {
                    __m256i q = LOAD8_U8(b + 16 + 32 * h + 16 * k + 8 * g);
                    __m256i idx = _mm256_and_si256(_mm256_srli_epi32(q, (unsigned)(2 * pass)), m3);
                    fma8(_mm256_permutevar8x32_ps(t, idx), x + 128 * h + 32 * pass + 16 * k + 8 * g, xs,
                         g ? a1 : a0, NT);
                }
            }
        }
    }
}

/* Q3_K: index = 2 low bits | hmask bit << 2 (0..7), level = dl * (index - 4). */
MST_AI void block_q3_k(const uint8_t *b, const float *x, size_t xs, __m256 *a0, __m256 *a1, const int NT)
{
    const float d = half_at(b + 108);
    int8_t sc[16];
    mst_q3k_scales(b + 96, sc);
    const __m256i m3 = _mm256_set1_epi32(3), m4 = _mm256_set1_epi32(4);
    const __m256 centred = _mm256_setr_ps(-4, -3, -2, -1, 0, 1, 2, 3);
    for (int h = 0; h < 2; h++) {
        for (int pass = 0; pass < 4; pass++) {
            const unsigned bit = (unsigned)(4 * h + pass);
            for (int k = 0; k < 2; k++) {
                __m256 t = _mm256_mul_ps(_mm256_set1_ps(d * (float)sc[8 * h + 2 * pass + k]), centred);
                for (int g = 0; g < 2; g++) {
                    const int l = 16 * k + 8 * g;
                    __m256i lo = _mm256_and_si256(_mm256_srli_epi32(LOAD8_U8(b + 32 + 32 * h + l), (unsigned)(2 * pass)), m3);
                    __m256i hi = _mm256_and_si256(_mm256_slli_epi32(_mm256_srli_epi32(LOAD8_U8(b + l), bit), 2), m4);
                    fma8(_mm256_permutevar8x32_ps(t, _mm256_or_si256(lo, hi)), x + 128 * h + 32 * pass + l, xs,
                         g ? a1 : a0, NT);
                }
            }
        }
    }
}

#define KQUANT_ROW(name, block_fn, BLOCK_BYTES)                                                             \
    MST_AI void name(const uint8_t *w, uint32_t cols, const float *x, size_t xs, float *y, size_t ys,        \
                     const int NT)                                                                           \
    {                                                                                                        \
        __m256 a0[4], a1[4];                                                                                 \
        for (int j = 0; j < 4; j++)                                                                          \
            a0[j] = a1[j] = _mm256_setzero_ps();                                                             \
        for (uint32_t b = 0; b < cols / MST_QK_K; b++)                                                       \
            block_fn(w + (size_t)b * BLOCK_BYTES, x + (size_t)b * MST_QK_K, xs, a0, a1, NT);                 \
        for (int j = 0; j < NT; j++)                                                                         \
            y[j * ys] = hsum8(_mm256_add_ps(a0[j], a1[j]));                                                  \
    }

KQUANT_ROW(row_q2_k, block_q2_k, MST_Q2_K_BYTES)
KQUANT_ROW(row_q3_k, block_q3_k, MST_Q3_K_BYTES)
KQUANT_ROW(row_q4_k, block_q4_k, MST_Q4_K_BYTES)
KQUANT_ROW(row_q5_k, block_q5_k, MST_Q5_K_BYTES)
KQUANT_ROW(row_q6_k, block_q6_k, MST_Q6_K_BYTES)

static MST_DEFINE_MATMUL(matmul_q2_k, row_q2_k)
static MST_DEFINE_MATMUL(matmul_q3_k, row_q3_k)
static MST_DEFINE_MATMUL(matmul_q4_k, row_q4_k)
static MST_DEFINE_MATMUL(matmul_q5_k, row_q5_k)
static MST_DEFINE_MATMUL(matmul_q6_k, row_q6_k)

const mst_kquant_kernels mst_kquant_avx2 = {
    .matmul = {matmul_q2_k, matmul_q3_k, matmul_q4_k, matmul_q5_k, matmul_q6_k},
};
#endif
