/* matmul_kquant_avx512.c — K-quant matmul (Q2_K..Q6_K) with AVX-512, float activations.
 *
 * Each 16-weight group of a super-block is decoded to floats in a register and FMA'd with the
 * activations of up to 4 tokens (the tile loop of matmul_tile.h decodes a row once per 4 tokens).
 * Types with at most 32 levels per sub-block decode by table lookup: the sub-block's possible
 * weights (d*sc*k - dmin*m for every level k) are computed once into a register with exactly the
 * reference's float operations, and vpermps / vpermt2ps pick each lane's weight by its quant,
 * so the decoded weights equal quant_k.c's bit for bit. Q6_K (64 levels) converts instead.
 *
 * Float activations: mst_decode runs the K-quants on Q8_K-quantized activations with integer dot products
 * instead (matmul_kquant_qa_avx512.c, as llama.cpp), 2.5-3.5x faster single-threaded at ~1% relative
 * difference. These stay as the table's float-activation kernels (mst_kernels_matmul). */
#include "ops.h"

#if defined(__x86_64__)
#pragma GCC target("avx512f,avx512bw,avx512vl,avx2,fma,f16c")
#include <immintrin.h>

#include "matmul_tile.h"
#include "quant.h"
#include "quant_k.h"

#define LOAD16_U8(p) _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(p)))

/* acc[j] += w * x_j[0..15] for each of the NT tokens. */
MST_AI void fma16(__m512 w, const float *x, size_t xs, __m512 *acc, const int NT)
{
    for (int j = 0; j < NT; j++)
        acc[j] = _mm512_fmadd_ps(w, _mm512_loadu_ps(x + j * xs), acc[j]);
}

MST_AI __m512 iota16(void)
{
    return _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
}

/* levels[k] = dl * (k + k0) - ml: the reference's weight for quant k + k0. */
MST_AI __m512 levels(float dl, float ml, float k0)
{
    __m512 k = _mm512_add_ps(iota16(), _mm512_set1_ps(k0));
    return _mm512_sub_ps(_mm512_mul_ps(k, _mm512_set1_ps(dl)), _mm512_set1_ps(ml));
}

MST_AI float half_at(const uint8_t *p)
{
    return _cvtsh_ss(mst_read_u16(p));
}

/* Q4_K: 32 bytes hold 64 weights, low nibbles sub-block 2j, high nibbles sub-block 2j+1. vpermps
 * reads only the low 4 bits of an index, so the high nibble needs just a shift. */
MST_AI void block_q4_k(const uint8_t *b, const float *x, size_t xs, __m512 *a0, __m512 *a1, const int NT)
{
    const float d = half_at(b), dmin = half_at(b + 2);
    uint8_t sc[8], mn[8];
    mst_k4_scale_min(b + 4, sc, mn);
    for (int j = 0; j < 4; j++) {
        const uint8_t *q = b + 16 + 32 * j;
        const float *xj = x + 64 * j;
        __m512i q0 = LOAD16_U8(q), q1 = LOAD16_U8(q + 16);
        __m512 lo = levels(d * (float)sc[2 * j], dmin * (float)mn[2 * j], 0.0f);
        __m512 hi = levels(d * (float)sc[2 * j + 1], dmin * (float)mn[2 * j + 1], 0.0f);
        fma16(_mm512_permutexvar_ps(q0, lo), xj, xs, a0, NT);
        fma16(_mm512_permutexvar_ps(q1, lo), xj + 16, xs, a1, NT);
        fma16(_mm512_permutexvar_ps(_mm512_srli_epi32(q0, 4), hi), xj + 32, xs, a0, NT);
        fma16(_mm512_permutexvar_ps(_mm512_srli_epi32(q1, 4), hi), xj + 48, xs, a1, NT);
    }
}

/* Q5_K: as Q4_K plus a fifth bit (bit s of qh[l] for sub-block s); vpermt2ps looks up 32 levels
 * and reads only the low 5 bits of an index, so the fifth bit can be shifted in unmasked. */
MST_AI void block_q5_k(const uint8_t *b, const float *x, size_t xs, __m512 *a0, __m512 *a1, const int NT)
{
    const float d = half_at(b), dmin = half_at(b + 2);
    uint8_t sc[8], mn[8];
    mst_k4_scale_min(b + 4, sc, mn);
    const __m512i m4 = _mm512_set1_epi32(0x0f);
    __m512i h0 = LOAD16_U8(b + 16), h1 = LOAD16_U8(b + 32); /* shifted right one bit per sub-block */
    for (int s = 0; s < 8; s++) {
        const uint8_t *q = b + 48 + 32 * (s / 2);
        const float *xs0 = x + 32 * s;
        const float dl = d * (float)sc[s], ml = dmin * (float)mn[s];
        __m512 t0 = levels(dl, ml, 0.0f), t1 = levels(dl, ml, 16.0f);
        __m512i q0 = LOAD16_U8(q), q1 = LOAD16_U8(q + 16);
        if (s & 1) {
            q0 = _mm512_srli_epi32(q0, 4);
            q1 = _mm512_srli_epi32(q1, 4);
        }
        __m512i i0 = _mm512_or_si512(_mm512_and_si512(q0, m4), _mm512_slli_epi32(h0, 4));
        __m512i i1 = _mm512_or_si512(_mm512_and_si512(q1, m4), _mm512_slli_epi32(h1, 4));
        fma16(_mm512_permutex2var_ps(t0, i0, t1), xs0, xs, a0, NT);
        fma16(_mm512_permutex2var_ps(t0, i1, t1), xs0 + 16, xs, a1, NT);
        h0 = _mm512_srli_epi32(h0, 1);
        h1 = _mm512_srli_epi32(h1, 1);
    }
}

/* Q6_K: 64 levels are too many for a one-register table; build q - 32 as integers, convert, scale. */
MST_AI void block_q6_k(const uint8_t *b, const float *x, size_t xs, __m512 *a0, __m512 *a1, const int NT)
{
    const float d = half_at(b + 208);
    const int8_t *scales = (const int8_t *)(b + 192);
    const __m512i m4 = _mm512_set1_epi32(0x0f), m30 = _mm512_set1_epi32(0x30), c32 = _mm512_set1_epi32(32);
    for (int h = 0; h < 2; h++) {
        for (int g = 0; g < 2; g++) {
            const int l0 = 16 * g;
            __m512i L0 = LOAD16_U8(b + 64 * h + l0), L1 = LOAD16_U8(b + 64 * h + 32 + l0);
            __m512i H = LOAD16_U8(b + 128 + 32 * h + l0);
            __m512i q[4] = {
                _mm512_or_si512(_mm512_and_si512(L0, m4), _mm512_and_si512(_mm512_slli_epi32(H, 4), m30)),
                _mm512_or_si512(_mm512_and_si512(L1, m4), _mm512_and_si512(_mm512_slli_epi32(H, 2), m30)),
                _mm512_or_si512(_mm512_srli_epi32(L0, 4), _mm512_and_si512(H, m30)),
                _mm512_or_si512(_mm512_srli_epi32(L1, 4), _mm512_and_si512(_mm512_srli_epi32(H, 2), m30)),
            };
            for (int part = 0; part < 4; part++) {
                __m512 v = _mm512_cvtepi32_ps(_mm512_sub_epi32(q[part], c32));
                __m512 w = _mm512_mul_ps(_mm512_set1_ps(d * (float)scales[8 * h + g + 2 * part]), v);
                fma16(w, x + 128 * h + 32 * part + l0, xs, (part & 1) ? a1 : a0, NT);
            }
        }
    }
}

/* Q2_K: 4 levels per sub-block of 16; byte l of each 32-byte group holds 4 weights, 2 bits each. */
MST_AI void block_q2_k(const uint8_t *b, const float *x, size_t xs, __m512 *a0, __m512 *a1, const int NT)
{
    const float d = half_at(b + 80), dmin = half_at(b + 82);
    const __m512i m3 = _mm512_set1_epi32(3);
    for (int h = 0; h < 2; h++) {
        __m512i q[2] = {LOAD16_U8(b + 16 + 32 * h), LOAD16_U8(b + 16 + 32 * h + 16)};
        for (int pass = 0; pass < 4; pass++) {
            for (int k = 0; k < 2; k++) {
                const uint8_t s = b[8 * h + 2 * pass + k];
                __m512 t = levels(d * (float)(s & 0x0f), dmin * (float)(s >> 4), 0.0f);
                __m512i idx = _mm512_and_si512(_mm512_srli_epi32(q[k], (unsigned)(2 * pass)), m3);
                fma16(_mm512_permutexvar_ps(idx, t), x + 128 * h + 32 * pass + 16 * k, xs, k ? a1 : a0, NT);
            }
        }
    }
}

/* Q3_K: 2 low bits as Q2_K plus a third bit from hmask; index = low | bit << 2, level = dl * (index - 4). */
MST_AI void block_q3_k(const uint8_t *b, const float *x, size_t xs, __m512 *a0, __m512 *a1, const int NT)
{
    const float d = half_at(b + 108);
    int8_t sc[16];
    mst_q3k_scales(b + 96, sc);
    const __m512i m3 = _mm512_set1_epi32(3), m4 = _mm512_set1_epi32(4);
    const __m512 centred = _mm512_sub_ps(iota16(), _mm512_set1_ps(4.0f));
    __m512i hm[2] = {LOAD16_U8(b), LOAD16_U8(b + 16)};
    for (int h = 0; h < 2; h++) {
        __m512i q[2] = {LOAD16_U8(b + 32 + 32 * h), LOAD16_U8(b + 32 + 32 * h + 16)};
        for (int pass = 0; pass < 4; pass++) {
            const unsigned bit = (unsigned)(4 * h + pass);
            for (int k = 0; k < 2; k++) {
                __m512 t = _mm512_mul_ps(_mm512_set1_ps(d * (float)sc[8 * h + 2 * pass + k]), centred);
                __m512i lo = _mm512_and_si512(_mm512_srli_epi32(q[k], (unsigned)(2 * pass)), m3);
                __m512i hi = _mm512_and_si512(_mm512_slli_epi32(_mm512_srli_epi32(hm[k], bit), 2), m4);
                fma16(_mm512_permutexvar_ps(_mm512_or_si512(lo, hi), t), x + 128 * h + 32 * pass + 16 * k, xs,
                      k ? a1 : a0, NT);
            }
        }
    }
}

/* A row: super-blocks in order, two accumulator sets so consecutive FMAs do not wait on each other. */
#define KQUANT_ROW(name, block_fn, BLOCK_BYTES)                                                             \
    MST_AI void name(const uint8_t *w, uint32_t cols, const float *x, size_t xs, float *y, size_t ys,        \
                     const int NT)                                                                           \
    {                                                                                                        \
        __m512 a0[4], a1[4];                                                                                 \
        for (int j = 0; j < 4; j++)                                                                          \
            a0[j] = a1[j] = _mm512_setzero_ps();                                                             \
        for (uint32_t b = 0; b < cols / MST_QK_K; b++)                                                       \
            block_fn(w + (size_t)b * BLOCK_BYTES, x + (size_t)b * MST_QK_K, xs, a0, a1, NT);                 \
        for (int j = 0; j < NT; j++)                                                                         \
            y[j * ys] = _mm512_reduce_add_ps(_mm512_add_ps(a0[j], a1[j]));                                   \
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

const mst_kquant_kernels mst_kquant_avx512 = {
    .matmul = {matmul_q2_k, matmul_q3_k, matmul_q4_k, matmul_q5_k, matmul_q6_k},
};
#endif
