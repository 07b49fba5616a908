/* matmul_q8x16_avx512.c — repacked Q8_0 (repack.h) times Q8_0-quantized activations, AVX-512 VNNI.
 *
 * As matmul_q4x16_avx512.c, lanes are 16 rows: per column block one scale conversion and 8 loads; the
 * signed weights become unsigned by flipping the sign bit (w + 128), and each token's 8 vpdpbusd start
 * from -128·Σq of the block, so the integer sums are exact. */
#include "ops.h"

#if defined(__x86_64__)
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")
#include <immintrin.h>

#include "matmul_tile.h"
#include "quant_act.h"
#include "repack.h"

enum { UNIT = MST_Q8X16_ROWS * sizeof(mst_block_q8_0) }; /* 544 bytes: one block of 16 rows */

MST_AI void group16(const uint8_t *g, uint32_t nb, const mst_qact *x, size_t t, float *y, size_t ys, const int NT)
{
    const uint32_t cols = x->cols;
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    __m512 acc[4];
    for (int j = 0; j < 4; j++)
        acc[j] = _mm512_setzero_ps();
    for (uint32_t b = 0; b < nb; b++) {
        const uint8_t *p = g + (size_t)b * UNIT;
        for (int k = 0; k < UNIT; k += 64) /* the unit 8 ahead: overlap memory latency with arithmetic */
            _mm_prefetch((const char *)(p + 8 * UNIT + k), _MM_HINT_T0);
        __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
        __m512i w[8];
        for (int c = 0; c < 8; c++)
            w[c] = _mm512_xor_si512(_mm512_loadu_si512(p + 32 + 64 * c), flip);
        for (int j = 0; j < NT; j++) {
            const size_t tb = (t + j) * (cols / MST_QK) + b;
            const int32_t *xd = (const int32_t *)(x->qs + (t + j) * cols + (size_t)b * MST_QK);
            __m512i s0 = _mm512_set1_epi32(-128 * x->bsum[tb]);
            __m512i s1 = _mm512_setzero_si512();
            for (int c = 0; c < 4; c++) {
                s0 = _mm512_dpbusd_epi32(s0, w[c], _mm512_set1_epi32(xd[c]));
                s1 = _mm512_dpbusd_epi32(s1, w[4 + c], _mm512_set1_epi32(xd[4 + c]));
            }
            __m512 s = _mm512_mul_ps(dw, _mm512_set1_ps(x->d[tb]));
            acc[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(s0, s1)), s, acc[j]);
        }
    }
    for (int j = 0; j < NT; j++)
        _mm512_storeu_ps(y + j * ys, acc[j]);
}

void mst_matmul_qa_q8_0x16_vnni(const uint8_t *w, size_t row_bytes, uint32_t rows, const mst_qact *x, float *y,
                                uint32_t r0, uint32_t r1)
{
    const uint32_t n_tokens = x->n_tokens, nb = x->cols / MST_QK;
    const size_t gbytes = (size_t)MST_Q8X16_ROWS * row_bytes;
    uint32_t tile = gbytes >= MST_TILE_BYTES ? 1u : (uint32_t)(MST_TILE_BYTES / gbytes);
    const uint32_t g0 = r0 / MST_Q8X16_ROWS, g1 = (r1 + MST_Q8X16_ROWS - 1) / MST_Q8X16_ROWS;
    for (uint32_t gb = g0; gb < g1; gb += tile) {
        uint32_t ge = g1 - gb < tile ? g1 : gb + tile;
        uint32_t t = 0;
        for (; t + 4 <= n_tokens; t += 4)
            for (uint32_t g = gb; g < ge; g++)
                group16(w + g * gbytes, nb, x, t, y + (size_t)t * rows + (size_t)g * MST_Q8X16_ROWS, rows, 4);
        for (; t < n_tokens; t++)
            for (uint32_t g = gb; g < ge; g++)
                group16(w + g * gbytes, nb, x, t, y + (size_t)t * rows + (size_t)g * MST_Q8X16_ROWS, rows, 1);
    }
}
#endif
