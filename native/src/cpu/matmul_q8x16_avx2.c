/* matmul_q8x16_avx2.c — repacked Q8_0 (repack.h) times Q8_0-quantized activations, AVX2 without VNNI: the
 * kernel of matmul_q8x16_avx512.c for CPUs with no AVX-512 VNNI, as matmul_q4x16_avx2.c is for Q4_0.
 *
 * The weights are signed, so the sign moves onto the activations: pmaddubsw of |w| (unsigned) by sign(x, w)
 * gives int16 pairs of at most 2·128·127 = 32512 in magnitude (activations are within ±127), and each
 * chunk's pairs go to int32 through their own pmaddwd (two chunks summed in int16 could overflow). The
 * block's integer sum is the exact Σ w·x of the VNNI kernel and the float operations per lane are its
 * own, so the bits are the same (test_matmul_qa.c). The AVX-VNNI build (matmul_tile_avx2.h) does as the VNNI
 * kernel (w + 128, vpdpbusd chains from -128·Σq), with a much faster prefill (benchmarks/RESULTS.md). */
#include "ops.h"

#if defined(__x86_64__)
#include "matmul_tile_avx2.h" /* first: the target, AVX2 or AVX-VNNI */
#include "quant_act.h"
#include "repack.h"

enum { UNIT = MST_Q8X16_ROWS * sizeof(mst_block_q8_0) }; /* 544 bytes: one block of 16 rows */

/* Column block b of the group unit at p for tokens t..t+NT-1 (NT <= 4), added into acc[0..NT). */
MST_AI void unit_q8_0(const uint8_t *p, const mst_qact *x, size_t t, uint32_t b, mst_acc16 *acc, const int NT)
{
    const uint32_t cols = x->cols;
    for (int h = 0; h < 2; h++) {
#if defined(MST_X16_AVXVNNI)
        /* as the VNNI kernel: w + 128 (sign bit flipped) unsigned, chains started from -128·Σq */
        __m256i w[8];
        for (int c = 0; c < 8; c++)
            w[c] = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(p + 32 + 64 * c + 32 * h)),
                                    _mm256_set1_epi8((char)0x80));
        for (int j = 0; j < NT; j++) {
            const size_t tb = (t + j) * (cols / MST_QK) + b;
            const int32_t *xd = (const int32_t *)(x->qs + (t + j) * cols + (size_t)b * MST_QK);
            __m256i s0 = _mm256_slli_epi32(_mm256_set1_epi32(x->nbsum8[tb]), 4), s1 = _mm256_setzero_si256();
            for (int c = 0; c < 4; c++) {
                s0 = _mm256_dpbusd_avx_epi32(s0, w[c], _mm256_set1_epi32(xd[c]));
                s1 = _mm256_dpbusd_avx_epi32(s1, w[4 + c], _mm256_set1_epi32(xd[4 + c]));
            }
#else
        /* |w| once (8 registers), then each token takes 8 psignb (w reloaded from L1), 8 pmaddubsw, 8 pmaddwd */
        const __m256i ones = _mm256_set1_epi16(1);
        const __m256i *wp[8];
        __m256i aw[8];
        for (int c = 0; c < 8; c++) {
            wp[c] = (const __m256i *)(p + 32 + 64 * c + 32 * h);
            aw[c] = _mm256_abs_epi8(_mm256_loadu_si256(wp[c]));
        }
        for (int j = 0; j < NT; j++) {
            const size_t tb = (t + j) * (cols / MST_QK) + b;
            const int32_t *xd = (const int32_t *)(x->qs + (t + j) * cols + (size_t)b * MST_QK);
            __m256i s0 = _mm256_setzero_si256(), s1 = _mm256_setzero_si256();
            for (int c = 0; c < 8; c += 2) {
                __asm__("" : "+x"(s0), "+x"(s1)); /* the chains as written (matmul_q4x16_avx2.c says why) */
                const __m256i x0 = _mm256_sign_epi8(_mm256_set1_epi32(xd[c]), _mm256_loadu_si256(wp[c]));
                const __m256i x1 = _mm256_sign_epi8(_mm256_set1_epi32(xd[c + 1]), _mm256_loadu_si256(wp[c + 1]));
                s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(_mm256_maddubs_epi16(aw[c], x0), ones));
                s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(_mm256_maddubs_epi16(aw[c + 1], x1), ones));
            }
#endif
            acc[j].h[h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(s0, s1)),
                                          mst_x16_half_scale(p, h, x->d[tb]), acc[j].h[h]);
        }
    }
}

MST_AVX2_X16_FROM_UNIT(mst_matmul_qa_q8_0x16, unit_q8_0, UNIT, MST_QK, 32)
#endif
