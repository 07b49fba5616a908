/* matmul_q4x16_avx512.c — repacked Q4_0 (repack.h) times Q8_0-quantized activations, AVX-512 VNNI.
 *
 * Each 32-bit lane is one of 16 rows. Per column block: one fp16->float conversion gives the 16 rows'
 * scales; 4 loads give all 16x32 nibbles (high nibbles shifted down once per block, not per token);
 * each token needs 8 vpdpbusd (4 activations broadcast to all lanes per instruction), started from
 * -8·Σq of the block (precomputed with the activations: one broadcast load) so the unsigned nibbles
 * (w + 8) come out exact, then one convert and one FMA for all 16 rows. Two dependency chains per
 * block hide the vpdpbusd latency (one chain is slower). Prefill: up to 8 tokens share each decoded
 * block (faster than 4; 12 spills registers and loses; benchmarks/RESULTS.md).
 * Decode (one token) walks 4 ranges of groups at once instead (MST_DEFINE_X16_QA_FROM_UNIT in
 * matmul_tile.h). */
#include "ops.h"

#if defined(__x86_64__)
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")
#include <immintrin.h>

#include "matmul_tile.h"
#include "quant_act.h"
#include "repack.h"

enum { UNIT = MST_Q4X16_ROWS * sizeof(mst_block_q4_0) }; /* 288 bytes: one block of 16 rows */

/* Column block b of the group unit at p for tokens t..t+NT-1, added into acc[0..NT): the nibbles are
 * decoded once, then each token takes 8 vpdpbusd, one convert and one FMA. */
MST_AI void unit_q4_0(const uint8_t *p, const mst_qact *x, size_t t, uint32_t b, __m512 *acc, const int NT)
{
    const uint32_t cols = x->cols;
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
    __m512i lo[4], hi[4];
    if (NT == 1) {
        /* decode: the high nibbles kept in place (16·w, one AND instead of shift + AND), their sum taken 16
         * times and the low one scaled by 16 to match. 16·(s0 + s1) is exact in int32 and converts to float
         * exactly (|·| < 2^24), and the scale divided by 16 is exact, so the product, and the FMA, are the
         * same bits as the prefill path's. */
        const __m512i m4h = _mm512_set1_epi8((char)0xF0);
        for (int c = 0; c < 4; c++) {
            const __m512i v = _mm512_loadu_si512(p + 32 + 64 * c);
            lo[c] = _mm512_and_si512(v, m4);
            hi[c] = _mm512_and_si512(v, m4h);
        }
        const size_t tb = t * (cols / MST_QK) + b;
        const int32_t *xd = (const int32_t *)(x->qs + t * cols + (size_t)b * MST_QK);
        __m512i s0 = _mm512_set1_epi32(x->nbsum8[tb]);
        __m512i s1 = _mm512_setzero_si512();
        for (int c = 0; c < 4; c++) {
            s0 = _mm512_dpbusd_epi32(s0, lo[c], _mm512_set1_epi32(xd[c]));
            s1 = _mm512_dpbusd_epi32(s1, hi[c], _mm512_set1_epi32(xd[4 + c]));
        }
        const __m512 s = _mm512_mul_ps(_mm512_mul_ps(dw, _mm512_set1_ps(x->d[tb])), _mm512_set1_ps(0.0625f));
        acc[0] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(_mm512_slli_epi32(s0, 4), s1)), s, acc[0]);
        return;
    }
    for (int c = 0; c < 4; c++) {
        const __m512i v = _mm512_loadu_si512(p + 32 + 64 * c);
        lo[c] = _mm512_and_si512(v, m4);
        hi[c] = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
    }
    for (int j = 0; j < NT; j++) {
        const size_t tb = (t + j) * (cols / MST_QK) + b;
        const int32_t *xd = (const int32_t *)(x->qs + (t + j) * cols + (size_t)b * MST_QK);
        __m512i s0 = _mm512_set1_epi32(x->nbsum8[tb]);
        __m512i s1 = _mm512_setzero_si512();
        for (int c = 0; c < 4; c++) {
            s0 = _mm512_dpbusd_epi32(s0, lo[c], _mm512_set1_epi32(xd[c]));
            s1 = _mm512_dpbusd_epi32(s1, hi[c], _mm512_set1_epi32(xd[4 + c]));
        }
        const __m512 s = _mm512_mul_ps(dw, _mm512_set1_ps(x->d[tb]));
        acc[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(s0, s1)), s, acc[j]);
    }
}

MST_DEFINE_X16_QA_FROM_UNIT(mst_matmul_qa_q4_0x16_vnni, unit_q4_0, UNIT, MST_QK, 32)
#endif
