/* matmul_q8x16_avx2.c — repacked Q8_0 (repack.h) times Q8_0-quantized activations, AVX2 without VNNI: the
 * kernel of matmul_q8x16_avx512.c for CPUs with no AVX-512 VNNI, as matmul_q4x16_avx2.c is for Q4_0.
 *
 * The weights are signed, so the sign moves onto the activations: pmaddubsw of |w| (unsigned) by sign(x, w)
 * gives int16 pairs of at most 2·128·127 = 32512 in magnitude (activations are within ±127), and each
 * chunk's pairs go to int32 through their own pmaddwd (two chunks summed in int16 could overflow). The
 * block's integer sum is the exact Σ w·x of the VNNI kernel and the float operations per lane are its
 * own, so the bits are the same (test_matmul_qa.c, which also runs the ends of the range: w = -128 and 127
 * against x = ±127). The AVX-VNNI build (matmul_tile_avx2.h) does as the VNNI kernel (w + 128, vpdpbusd
 * chains from -128·Σq), with a much faster prefill (benchmarks/RESULTS.md). */
#include "ops.h"

#if defined(__x86_64__)
#include "matmul_tile_avx2.h" /* first: the target, AVX2 or AVX-VNNI */
#include "quant_act.h"
#include "repack.h"

enum { UNIT = MST_Q8X16_ROWS * sizeof(mst_block_q8_0) }; /* 544 bytes: one block of 16 rows */

/* Column block b of the group unit at p for tokens t..t+NT-1 (NT <= 4), added into acc[0..NT). */
#if defined(MST_X16_AVXVNNI)
MST_AI void unit_q8_0(const uint8_t *p, const mst_qact *x, size_t t, uint32_t b, mst_acc16 *acc, const int NT)
{
    const uint32_t cols = x->cols;
    for (int h = 0; h < 2; h++) {
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
            acc[j].h[h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(s0, s1)),
                                          mst_x16_half_scale(p, h, x->d[tb]), acc[j].h[h]);
        }
    }
}
#else
/* Plain AVX2, chunk by chunk (as matmul_q4x16_avx2.c): a chunk's two halves (rows 0-7, 8-15) and their |w|
 * stay in 4 registers while every token's broadcast meets both, and each token keeps one int32 sum per
 * half (2·NT registers). The order it replaces (half outer, token inner) reloaded w from L1 for every
 * psignb, broadcast each activation twice (once per half), converted the fp16 scales once per token and
 * spilled. Per 32 products a token now costs psignb, pmaddubsw, pmaddwd and paddd, the floor of this
 * |w|·sign(x, w) form: on Intel the first three share ports 0 and 1, on Zen 3 pmaddubsw and pmaddwd share
 * FP0/FP3. The weight scales are converted once per half and unit; d_w·d_x stays one multiply per token
 * and half, as in the VNNI kernel, so the bits do not change. The empty asm statements are those of
 * matmul_q4x16_avx2.c: without the one on the sums GCC reassociates them into a tree and spills. */
MST_AI void unit_q8_0(const uint8_t *p, const mst_qact *x, size_t t, uint32_t b, mst_acc16 *acc, const int NT)
{
    const uint32_t cols = x->cols;
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i s[MST_X16_NT_MAX][2];
#pragma GCC unroll 8
    for (int c = 0; c < 8; c++) {
        const __m256i w0 = _mm256_loadu_si256((const __m256i *)(p + 32 + 64 * c));
        const __m256i w1 = _mm256_loadu_si256((const __m256i *)(p + 64 + 64 * c));
        const __m256i a0 = _mm256_abs_epi8(w0), a1 = _mm256_abs_epi8(w1);
#pragma GCC unroll 4
        for (int j = 0; j < NT; j++) {
            const int32_t *xd = (const int32_t *)(x->qs + (t + j) * cols + (size_t)b * MST_QK);
            __asm__ volatile("" : "+r"(xd));
            const __m256i xb = _mm256_set1_epi32(xd[c]);
            const __m256i d0 = _mm256_madd_epi16(_mm256_maddubs_epi16(a0, _mm256_sign_epi8(xb, w0)), ones);
            const __m256i d1 = _mm256_madd_epi16(_mm256_maddubs_epi16(a1, _mm256_sign_epi8(xb, w1)), ones);
            s[j][0] = c == 0 ? d0 : _mm256_add_epi32(s[j][0], d0);
            s[j][1] = c == 0 ? d1 : _mm256_add_epi32(s[j][1], d1);
            __asm__("" : "+x"(s[j][0]), "+x"(s[j][1]));
        }
    }
    for (int h = 0; h < 2; h++) {
        const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p + 16 * h)));
        for (int j = 0; j < NT; j++) {
            const size_t tb = (t + j) * (cols / MST_QK) + b;
            acc[j].h[h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[j][h]), _mm256_mul_ps(dw, _mm256_set1_ps(x->d[tb])),
                                          acc[j].h[h]);
        }
    }
}
#endif

MST_AVX2_X16_FROM_UNIT(mst_matmul_qa_q8_0x16, unit_q8_0, UNIT, MST_QK, 32)
#endif
