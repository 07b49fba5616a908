/* matmul_qa_avx512.c — Q8_0/Q4_0 weights times Q8_0-quantized activations with AVX-512 VNNI.
 *
 * Two weight blocks (64 values) fill one zmm. Weights are made unsigned (Q4_0: the nibble, i.e.
 * w + 8; Q8_0: w + 128 by flipping the sign bit) so vpdpbusd can multiply them with the signed
 * activations; starting each dot from nsum4 << log2(offset) removes the offset exactly, in
 * integers. Each 32-bit lane then holds an exact partial sum of 4 products of one block, which is
 * turned into float and scaled by d_w * d_x of that block (dxe carries d_x per lane), so no
 * horizontal sum or broadcast is needed inside the loop. A row is decoded once per group of up to
 * 4 tokens; rows are tiled so a group of tokens reuses a tile while it is in L2 (prefill). */
#include "ops.h"

#if defined(__x86_64__)
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")
#include <immintrin.h>

#include "matmul_tile.h"
#include "quant_act.h"

/* The fp16 scales of blocks b and b+1 (the first halfword of each block, `stride_words` apart),
 * widened to [d_b x8, d_b+1 x8]. A masked load: never touches bytes past the second scale. */
MST_AI __m512 pair_scales(const uint8_t *p, int two, int stride_words)
{
    __m512i v = _mm512_maskz_loadu_epi16(two ? ((1u << (stride_words + 1)) - 1u) : 1u, p);
    __m512i idx = _mm512_inserti64x4(_mm512_setzero_si512(),
                                     _mm256_inserti128_si256(_mm256_setzero_si256(), _mm_set1_epi16((short)stride_words), 1), 0);
    return _mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_permutexvar_epi16(idx, v)));
}

/* 64 weights of blocks b, b+1 as unsigned bytes in natural order (nibble = w + 8):
 * 128-bit lanes [lo_b, hi_b, lo_b+1, hi_b+1]. Built from broadcasting loads, a masked shift and an
 * and, with no lane-crossing shuffle (those queue on few ports and were the bottleneck). */
MST_AI __m512i pair_q4_0(const uint8_t *p, int two)
{
    __m512i v = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(p + 2)));
    if (two)
        v = _mm512_mask_broadcast_i32x4(v, 0xFF00, _mm_loadu_si128((const __m128i *)(p + 20)));
    else
        v = _mm512_maskz_mov_epi32(0x00FF, v);
    v = _mm512_mask_srli_epi16(v, 0xFF00FF00u, v, 4); /* lanes 1, 3: high nibbles */
    return _mm512_and_si512(v, _mm512_set1_epi8(0x0F));
}

/* 64 weights of blocks b, b+1 as unsigned bytes (w + 128). */
MST_AI __m512i pair_q8_0(const uint8_t *p, int two)
{
    __m512i w = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(p + 2)));
    if (two)
        w = _mm512_mask_broadcast_i64x4(w, 0xF0, _mm256_loadu_si256((const __m256i *)(p + 36)));
    else
        w = _mm512_maskz_mov_epi64(0x0F, w);
    return _mm512_xor_si512(w, _mm512_set1_epi8((char)0x80));
}

/* acc[i][j] += Σ_lanes (w_i - offset)·x_j scaled per block, for one pair (or a last single block) of NR
 * rows against NT tokens: each activation load serves NR rows, each weight decode NT tokens. */
MST_AI void pair_apply(const __m512i *w, const __m512 *dw, const mst_qact *x, size_t c, size_t t, int two,
                       const int SH, __m512 (*acc)[4], const int NR, const int NT)
{
    const uint32_t cols = x->cols;
    const __mmask16 m = two ? 0xFFFF : 0x00FF;
    for (int j = 0; j < NT; j++) {
        const size_t xo = (t + j) * cols + c;
        __m512i xq = _mm512_maskz_loadu_epi32(m, x->qs + xo);
        __m512i init = _mm512_slli_epi32(_mm512_maskz_loadu_epi32(m, x->nsum4 + xo / 4), SH);
        __m512 dx = _mm512_maskz_loadu_ps(m, x->dxe + xo / 4);
        for (int i = 0; i < NR; i++) {
            __m512i isum = _mm512_dpbusd_epi32(init, w[i], xq);
            acc[i][j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(dw[i], dx), acc[i][j]);
        }
    }
}

/* NR consecutive rows (row_bytes apart) against NT tokens from token t; y rows ys apart per token. */
#define QA_ROWS(name, pair_fn, BLOCK_BYTES, SH)                                                             \
    MST_AI void name(const uint8_t *row, size_t row_bytes, const mst_qact *x, size_t t, float *y, size_t ys,   \
                     const int NR, const int NT)                                                             \
    {                                                                                                        \
        __m512 acc[2][4];                                                                                    \
        for (int i = 0; i < 2; i++)                                                                          \
            for (int j = 0; j < 4; j++)                                                                      \
                acc[i][j] = _mm512_setzero_ps();                                                             \
        const uint32_t nb = x->cols / MST_QK;                                                                \
        __m512i w[2];                                                                                        \
        __m512 dw[2];                                                                                        \
        uint32_t b = 0;                                                                                      \
        for (; b + 2 <= nb; b += 2) {                                                                        \
            for (int i = 0; i < NR; i++) {                                                                   \
                const uint8_t *p = row + i * row_bytes + (size_t)b * BLOCK_BYTES;                            \
                w[i] = pair_fn(p, 1);                                                                        \
                dw[i] = pair_scales(p, 1, BLOCK_BYTES / 2);                                                  \
            }                                                                                                \
            pair_apply(w, dw, x, (size_t)b * MST_QK, t, 1, SH, acc, NR, NT);                                 \
        }                                                                                                    \
        if (b < nb) {                                                                                        \
            for (int i = 0; i < NR; i++) {                                                                   \
                const uint8_t *p = row + i * row_bytes + (size_t)b * BLOCK_BYTES;                            \
                w[i] = pair_fn(p, 0);                                                                        \
                dw[i] = pair_scales(p, 0, BLOCK_BYTES / 2);                                                  \
            }                                                                                                \
            pair_apply(w, dw, x, (size_t)b * MST_QK, t, 0, SH, acc, NR, NT);                                 \
        }                                                                                                    \
        for (int i = 0; i < NR; i++)                                                                         \
            for (int j = 0; j < NT; j++)                                                                     \
                y[j * ys + i] = _mm512_reduce_add_ps(acc[i][j]);                                             \
    }

QA_ROWS(rows_q4_0, pair_q4_0, sizeof(mst_block_q4_0), 3)
QA_ROWS(rows_q8_0, pair_q8_0, sizeof(mst_block_q8_0), 7)

MST_DEFINE_MATMUL_QA2(mst_matmul_qa_q4_0_vnni, rows_q4_0)
MST_DEFINE_MATMUL_QA2(mst_matmul_qa_q8_0_vnni, rows_q8_0)
#endif
