/* matmul_q4x16_avx2.c — repacked Q4_0 (repack.h) times Q8_0-quantized activations, AVX2 without VNNI: the
 * kernel of matmul_q4x16_avx512.c for CPUs with no AVX-512 VNNI (most desktop and laptop x86 CPUs), on the
 * same repacked layout and through the same loop nest (matmul_tile_avx2.h).
 *
 * A group's 16 rows are two ymm halves of 8 lanes (rows 0-7 from the low 32 bytes of each 64-byte chunk,
 * rows 8-15 from the high 32). With no vpdpbusd, pmaddubsw multiplies the nibbles w+8 (0..15, unsigned) by
 * 4 activations broadcast (signed): int16 pairs of at most 2·15·128 = 3840 in magnitude. The 8 chunks of a
 * block are summed in int16 (at most 8·3840 = 30720 < 2^15: exact), one pmaddwd by ones makes the int32
 * lanes, and the block's -8·Σq (nbsum8) removes the +8 offset. That is the exact integer sum the VNNI
 * kernel forms, and the float operations per lane are its own (scale d_w·d_x, one convert, one FMA into the
 * running sum), so this kernel gives the AVX-512 one's bits (test_matmul_qa.c checks them against each
 * other). This layout, not the row-layout kernel (matmul_qa_avx2.c), is what AVX2 runs: it is much faster
 * in decode and in prefill (benchmarks/RESULTS.md). The AVX-VNNI build (matmul_tile_avx2.h) runs the VNNI
 * kernel's vpdpbusd chains on ymm instead, which prefill gains from again (MISTRAL_CPU=avxvnni). */
#include "ops.h"

#if defined(__x86_64__)
#include "matmul_tile_avx2.h" /* first: the target, AVX2 or AVX-VNNI */
#include "quant_act.h"
#include "repack.h"

enum { UNIT = MST_Q4X16_ROWS * sizeof(mst_block_q4_0) }; /* 288 bytes: one block of 16 rows */

/* Column block b of the group unit at p for tokens t..t+NT-1 (NT <= 4), added into acc[0..NT): per half,
 * the nibbles are decoded once (8 registers), then each token takes 8 pmaddubsw. */
#if defined(MST_X16_AVXVNNI)
MST_AI void unit_q4_0(const uint8_t *p, const mst_qact *x, size_t t, uint32_t b, mst_acc16 *acc, const int NT)
{
    const uint32_t cols = x->cols;
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    for (int h = 0; h < 2; h++) {
        __m256i lo[4], hi[4];
        for (int c = 0; c < 4; c++) {
            const __m256i v = _mm256_loadu_si256((const __m256i *)(p + 32 + 64 * c + 32 * h));
            lo[c] = _mm256_and_si256(v, m4);
            hi[c] = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
        }
        for (int j = 0; j < NT; j++) { /* the VNNI kernel's two chains, from -8·Σq */
            const size_t tb = (t + j) * (cols / MST_QK) + b;
            const int32_t *xd = (const int32_t *)(x->qs + (t + j) * cols + (size_t)b * MST_QK);
            __m256i s0 = _mm256_set1_epi32(x->nbsum8[tb]), s1 = _mm256_setzero_si256();
            for (int c = 0; c < 4; c++) {
                s0 = _mm256_dpbusd_avx_epi32(s0, lo[c], _mm256_set1_epi32(xd[c]));
                s1 = _mm256_dpbusd_avx_epi32(s1, hi[c], _mm256_set1_epi32(xd[4 + c]));
            }
            const __m256i s = _mm256_add_epi32(s0, s1);
            acc[j].h[h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), mst_x16_half_scale(p, h, x->d[tb]), acc[j].h[h]);
        }
    }
}
#else
/* Plain AVX2: chunk by chunk, each chunk's two decoded registers (low and high nibbles) meet every token's
 * broadcasts at once, and each token keeps one int16 sum: 2 weight registers and NT sums are live beside the
 * 2·NT float accumulators, instead of the 8 decoded registers of the order above, which left GCC spilling.
 * Two empty asm statements keep GCC from undoing it: one on each token's activation pointer, or GCC merges
 * the two halves' broadcasts (same addresses) into 32 registers hoisted ahead of everything and spilled;
 * one on each running sum, or GCC reassociates the int16 adds into a tree whose 32 products all spill.
 * llvm-mca per 16x32x4 unit: Zen 3 99 -> 82 cycles, Sapphire Rapids 83 -> 77 (measured there, capped to
 * AVX2: 1.08x). The sum is the same exact integer (int16 lanes of at most 8·2·15·128 = 30720 < 2^15), so
 * the bits are unchanged. */
MST_AI void unit_q4_0(const uint8_t *p, const mst_qact *x, size_t t, uint32_t b, mst_acc16 *acc, const int NT)
{
    const uint32_t cols = x->cols;
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    for (int h = 0; h < 2; h++) {
        __m256i s[MST_X16_NT_MAX];
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) {
            const __m256i v = _mm256_loadu_si256((const __m256i *)(p + 32 + 64 * c + 32 * h));
            const __m256i lo = _mm256_and_si256(v, m4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
#pragma GCC unroll 4
            for (int j = 0; j < NT; j++) {
                const int32_t *xd = (const int32_t *)(x->qs + (t + j) * cols + (size_t)b * MST_QK);
                __asm__ volatile("" : "+r"(xd));
                const __m256i d = _mm256_add_epi16(_mm256_maddubs_epi16(lo, _mm256_set1_epi32(xd[c])),
                                                   _mm256_maddubs_epi16(hi, _mm256_set1_epi32(xd[4 + c])));
                s[j] = c == 0 ? d : _mm256_add_epi16(s[j], d);
                __asm__("" : "+x"(s[j]));
            }
        }
        for (int j = 0; j < NT; j++) {
            const size_t tb = (t + j) * (cols / MST_QK) + b;
            const __m256i si = _mm256_add_epi32(_mm256_madd_epi16(s[j], _mm256_set1_epi16(1)),
                                                _mm256_set1_epi32(x->nbsum8[tb]));
            acc[j].h[h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(si), mst_x16_half_scale(p, h, x->d[tb]), acc[j].h[h]);
        }
    }
}
#endif

MST_AVX2_X16_FROM_UNIT(mst_matmul_qa_q4_0x16, unit_q4_0, UNIT, MST_QK, 32)
#endif
