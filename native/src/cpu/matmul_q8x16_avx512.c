/* matmul_q8x16_avx512.c — repacked Q8_0 (repack.h) times Q8_0-quantized activations, AVX-512 VNNI.
 *
 * As matmul_q4x16_avx512.c, lanes are 16 rows: per column block one scale conversion and 8 loads; the
 * signed weights become unsigned by flipping the sign bit (w + 128), and each token's 8 vpdpbusd start
 * from -128·Σq of the block (16 x the activations' -8·Σq), so the integer sums are exact. One token
 * (decode) walks 4 ranges of groups at once (MST_DEFINE_X16_QA_FROM_UNIT in matmul_tile.h). */
#include "ops.h"

#if defined(__x86_64__)
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")
#include <immintrin.h>

#include "matmul_tile.h"
#include "quant_act.h"
#include "repack.h"

enum { UNIT = MST_Q8X16_ROWS * sizeof(mst_block_q8_0) }; /* 544 bytes: one block of 16 rows */

/* Column block b of the group unit at p for tokens t..t+NT-1, added into acc[0..NT): the weights are
 * loaded and made unsigned once, then each token takes 8 vpdpbusd, one convert and one FMA. */
MST_AI void unit_q8_0(const uint8_t *p, const mst_qact *x, size_t t, uint32_t b, __m512 *acc, const int NT)
{
    const uint32_t cols = x->cols;
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
    __m512i w[8];
    for (int c = 0; c < 8; c++)
        w[c] = _mm512_xor_si512(_mm512_loadu_si512(p + 32 + 64 * c), flip);
    for (int j = 0; j < NT; j++) {
        const size_t tb = (t + j) * (cols / MST_QK) + b;
        const int32_t *xd = (const int32_t *)(x->qs + (t + j) * cols + (size_t)b * MST_QK);
        __m512i s0 = _mm512_slli_epi32(_mm512_set1_epi32(x->nbsum8[tb]), 4);
        __m512i s1 = _mm512_setzero_si512();
        for (int c = 0; c < 4; c++) {
            s0 = _mm512_dpbusd_epi32(s0, w[c], _mm512_set1_epi32(xd[c]));
            s1 = _mm512_dpbusd_epi32(s1, w[4 + c], _mm512_set1_epi32(xd[4 + c]));
        }
        const __m512 s = _mm512_mul_ps(dw, _mm512_set1_ps(x->d[tb]));
        acc[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(s0, s1)), s, acc[j]);
    }
}

MST_DEFINE_X16_QA_FROM_UNIT(mst_matmul_qa_q8_0x16_vnni, unit_q8_0, UNIT, MST_QK, 32)
#endif
