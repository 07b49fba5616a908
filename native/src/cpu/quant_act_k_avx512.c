/* quant_act_k_avx512.c — Q8_K activation quantization (quant_act_k.h) with AVX-512, bit-identical to
 * the scalar mst_quantize_act_k_ref: the same float multiply per value and the same round-half-even,
 * so only the search for the block's largest |x| and the sums are restructured.
 *  - non-finite blocks: one unordered compare per pair of vectors (true where either lane is NaN), OR-ed
 *    into a mask, finds a NaN; an infinity shows in the max |x| itself. Such a block is q = 0, d = NaN.
 *  - max |x|: vmaxps over finite values; then the FIRST index holding that |x| (a compare mask per 16
 *    values, in order) gives the signed max, as the scalar scan's "first of equal |x| wins".
 *  - q: round (vrndscaleps, nearest-even), clamp to [-127, 127], NaN to 0 — the scalar's branches for
 *    a NaN/inf product (-127/max overflows when |max| < 127/FLT_MAX); otherwise finite inputs never leave
 *    [-127, 127] but for float rounding of iscale * x.
 *  - bsum16: each 16-lane int32 vector is exactly one 16-value group.
 * Why SIMD: the scalar quantizer was a visible share of a Q4_K_M prefill's profile (benchmarks/RESULTS.md). */
#include "ops.h"

#if defined(__x86_64__)
#pragma GCC target("avx512f,avx512bw,avx512vl,avx2,fma")
#include <float.h>
#include <immintrin.h>

#include "quant_act_k.h"
#include "quant_k.h"

void mst_quantize_act_k_avx512(const float *x, mst_qact *q, uint32_t t0, uint32_t t1)
{
    const uint32_t cols = q->cols, nb = cols / MST_QK_K;
    for (uint32_t t = t0; t < t1; t++) {
        for (uint32_t b = 0; b < nb; b++) {
            const size_t o = (size_t)t * cols + (size_t)b * MST_QK_K;
            const float *xb = x + o;
            int8_t *qb = q->qs + o;
            __m512 m = _mm512_setzero_ps();
            __mmask16 nan_seen = 0;
            for (int i = 0; i < MST_QK_K; i += 32) {
                const __m512 v0 = _mm512_loadu_ps(xb + i), v1 = _mm512_loadu_ps(xb + i + 16);
                nan_seen |= _mm512_cmp_ps_mask(v0, v1, _CMP_UNORD_Q);
                m = _mm512_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)), m);
            }
            const float amax = _mm512_reduce_max_ps(m);
            int16_t *bs = q->bsum16 + o / 16;
            if (nan_seen || !(amax <= FLT_MAX)) {
                for (int j = 0; j < MST_QK_K; j += 64)
                    _mm512_storeu_si512(qb + j, _mm512_setzero_si512());
                _mm256_storeu_si256((__m256i *)bs, _mm256_setzero_si256()); /* 16 sums of 2 bytes */
                q->d[(size_t)t * nb + b] = mst_qact_nonfinite_d();
                continue;
            }
            float max = 0.0f;
            if (amax != 0.0f) {
                const __m512 a = _mm512_set1_ps(amax);
                for (int i = 0; i < MST_QK_K; i += 16) {
                    const __mmask16 hit = _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_loadu_ps(xb + i)), a, _CMP_EQ_OQ);
                    if (hit) {
                        max = xb[i + __builtin_ctz(hit)];
                        break;
                    }
                }
            }
            float d = 0.0f;
            if (amax == 0.0f) {
                _mm512_storeu_si512(qb, _mm512_setzero_si512());
                _mm512_storeu_si512(qb + 64, _mm512_setzero_si512());
                _mm512_storeu_si512(qb + 128, _mm512_setzero_si512());
                _mm512_storeu_si512(qb + 192, _mm512_setzero_si512());
                for (int j = 0; j < MST_QK_K / 16; j++)
                    bs[j] = 0;
            } else {
                const float iscale = -127.0f / max;
                const __m512 is = _mm512_set1_ps(iscale), hi = _mm512_set1_ps(127.0f), lo = _mm512_set1_ps(-127.0f);
                for (int j = 0; j < MST_QK_K / 16; j++) {
                    const __m512 v = _mm512_roundscale_ps(_mm512_mul_ps(is, _mm512_loadu_ps(xb + 16 * j)),
                                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
                    const __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
                    const __m512 c = _mm512_maskz_mov_ps((__mmask16)~nan, _mm512_min_ps(_mm512_max_ps(v, lo), hi));
                    const __m512i qi = _mm512_cvtps_epi32(c);
                    _mm_storeu_si128((__m128i *)(qb + 16 * j), _mm512_cvtepi32_epi8(qi));
                    bs[j] = (int16_t)_mm512_reduce_add_epi32(qi);
                }
                d = 1.0f / iscale;
            }
            q->d[(size_t)t * nb + b] = d;
        }
    }
}
#endif
