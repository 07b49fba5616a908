/* matmul_q4x16_avx512.c — repacked Q4_0 (repack.h) times Q8_0-quantized activations, AVX-512 VNNI.
 *
 * Each 32-bit lane is one of 16 rows. Per column block: one fp16->float conversion gives the 16 rows'
 * scales; 4 loads give all 16x32 nibbles; each token needs 8 vpdpbusd (4 activations broadcast to all
 * lanes per instruction), started from -8·Σq of the block so the unsigned nibbles (w + 8) come out
 * exact, then one convert and one FMA for all 16 rows. Two dependency chains per block keep the
 * vpdpbusd latency hidden; up to 4 tokens share each decoded block (prefill). */
#include "ops.h"

#if defined(__x86_64__)
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")
#include <immintrin.h>

#include "matmul_tile.h"
#include "quant_act.h"
#include "repack.h"

enum { UNIT = MST_Q4X16_ROWS * sizeof(mst_block_q4_0) }; /* 288 bytes: one block of 16 rows */

MST_AI void group16(const uint8_t *g, uint32_t nb, const mst_qact *x, size_t t, float *y, size_t ys, const int NT)
{
    const uint32_t cols = x->cols;
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    __m512 acc[4];
    for (int j = 0; j < 4; j++)
        acc[j] = _mm512_setzero_ps();
    for (uint32_t b = 0; b < nb; b++) {
        const uint8_t *p = g + (size_t)b * UNIT;
        /* decode streams the matrix from memory: ask for the block 8 units (2.3 KB) ahead now, so the
         * load latency overlaps the arithmetic instead of adding to it */
        _mm_prefetch((const char *)(p + 32 * UNIT), _MM_HINT_T0);
        _mm_prefetch((const char *)(p + 32 * UNIT + 64), _MM_HINT_T0);
        _mm_prefetch((const char *)(p + 32 * UNIT + 128), _MM_HINT_T0);
        _mm_prefetch((const char *)(p + 32 * UNIT + 192), _MM_HINT_T0);
        _mm_prefetch((const char *)(p + 32 * UNIT + 256), _MM_HINT_T0);
        __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
        /* high nibbles stay in place (16·w, masked): s1 collects 16× their sums, exactly, and one shift
         * per token undoes it, instead of one shift per chunk */
        __m512i lo[4], hi[4];
        for (int c = 0; c < 4; c++) {
            __m512i v = _mm512_loadu_si512(p + 32 + 64 * c);
            lo[c] = _mm512_and_si512(v, m4);
            hi[c] = _mm512_andnot_si512(m4, v);
        }
        for (int j = 0; j < NT; j++) {
            const size_t tb = (t + j) * (cols / MST_QK) + b;
            const int32_t *xd = (const int32_t *)(x->qs + (t + j) * cols + (size_t)b * MST_QK);
            __m512i s0 = _mm512_set1_epi32(-8 * x->bsum[tb]);
            __m512i s1 = _mm512_setzero_si512();
            for (int c = 0; c < 4; c++) {
                s0 = _mm512_dpbusd_epi32(s0, lo[c], _mm512_set1_epi32(xd[c]));
                s1 = _mm512_dpbusd_epi32(s1, hi[c], _mm512_set1_epi32(xd[4 + c]));
            }
            __m512 s = _mm512_mul_ps(dw, _mm512_set1_ps(x->d[tb]));
            acc[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(s0, _mm512_srai_epi32(s1, 4))), s, acc[j]);
        }
    }
    for (int j = 0; j < NT; j++)
        _mm512_storeu_ps(y + j * ys, acc[j]);
}

void mst_matmul_qa_q4_0x16_vnni(const uint8_t *w, size_t row_bytes, uint32_t rows, const mst_qact *x, float *y,
                                uint32_t r0, uint32_t r1)
{
    const uint32_t n_tokens = x->n_tokens, nb = x->cols / MST_QK;
    const size_t gbytes = (size_t)MST_Q4X16_ROWS * row_bytes;
    /* groups per tile: a tile of about MST_TILE_BYTES stays in L2 while each group of 4 tokens runs over it */
    uint32_t tile = gbytes >= MST_TILE_BYTES ? 1u : (uint32_t)(MST_TILE_BYTES / gbytes);
    const uint32_t g0 = r0 / MST_Q4X16_ROWS, g1 = (r1 + MST_Q4X16_ROWS - 1) / MST_Q4X16_ROWS;
    for (uint32_t gb = g0; gb < g1; gb += tile) {
        uint32_t ge = g1 - gb < tile ? g1 : gb + tile;
        uint32_t t = 0;
        for (; t + 4 <= n_tokens; t += 4)
            for (uint32_t g = gb; g < ge; g++)
                group16(w + g * gbytes, nb, x, t, y + (size_t)t * rows + (size_t)g * MST_Q4X16_ROWS, rows, 4);
        for (; t < n_tokens; t++)
            for (uint32_t g = gb; g < ge; g++)
                group16(w + g * gbytes, nb, x, t, y + (size_t)t * rows + (size_t)g * MST_Q4X16_ROWS, rows, 1);
    }
}
#endif
