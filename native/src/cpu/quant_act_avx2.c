/* quant_act_avx2.c — mst_quantize_act with AVX2: the same rule as quant_act.c, bit for bit, for the CPUs
 * without AVX-512 (the scalar rule calls fmaxf and nearbyintf per value, which costs more than the matmul
 * it feeds on a short prefill).
 *  - x·(127/amax) is the same single float multiply, and vcvtps2dq rounds half to even under the default
 *    MXCSR as nearbyintf does; the fp16 scale goes through the same scalar conversion.
 *  - max |x| over finite values is exact in any order (|x| clears the sign, so -0 and +0 agree).
 *  - the multiplier is mst_qact_inv_scale's (0 where 127/amax would overflow), so every product lies within
 *    127 (plus float rounding) of zero; the int32 → int8 narrowing still keeps the low byte (mask, then
 *    unsigned packs), as the AVX-512 kernel's vpmovdb does, so the two agree on any input.
 *  - non-finite blocks (quant_act.h): an unordered compare of two vectors is true where either lane is NaN,
 *    and an infinity shows in amax itself; such a block is written as the scalar rule says (q = 0,
 *    d = NaN) instead of through vcvtps2dq. */
#include "ops.h"

#if defined(__x86_64__)
#pragma GCC target("avx2,fma,f16c")
#include <float.h>
#include <immintrin.h>

#include "quant_act.h"

static inline float hmax8(__m256 v)
{
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

void mst_quantize_act_avx2(const float *x, mst_qact *q, uint32_t t0, uint32_t t1)
{
    const uint32_t cols = q->cols, nb = cols / MST_QK;
    const __m256 sign = _mm256_set1_ps(-0.0f);
    const __m256i lo8 = _mm256_set1_epi32(0xff), ones8 = _mm256_set1_epi8(1), ones16 = _mm256_set1_epi16(1);
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7); /* undoes the packs' 128-bit lane split */
    for (uint32_t t = t0; t < t1; t++) {
        for (uint32_t b = 0; b < nb; b++) {
            const size_t o = (size_t)t * cols + (size_t)b * MST_QK, tb = (size_t)t * nb + b;
            const __m256 v0 = _mm256_loadu_ps(x + o), v1 = _mm256_loadu_ps(x + o + 8);
            const __m256 v2 = _mm256_loadu_ps(x + o + 16), v3 = _mm256_loadu_ps(x + o + 24);
            const __m256 nan = _mm256_or_ps(_mm256_cmp_ps(v0, v1, _CMP_UNORD_Q), _mm256_cmp_ps(v2, v3, _CMP_UNORD_Q));
            const __m256 a = _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(sign, v0), _mm256_andnot_ps(sign, v1)),
                                           _mm256_max_ps(_mm256_andnot_ps(sign, v2), _mm256_andnot_ps(sign, v3)));
            const float amax = hmax8(a);
            if (_mm256_movemask_ps(nan) || !(amax <= FLT_MAX)) {
                _mm256_storeu_si256((__m256i *)(q->qs + o), _mm256_setzero_si256());
                _mm256_storeu_si256((__m256i *)(q->nsum4 + o / 4), _mm256_setzero_si256());
                _mm256_storeu_ps(q->dxe + o / 4, _mm256_set1_ps(mst_qact_nonfinite_d()));
                q->d[tb] = mst_qact_nonfinite_d();
                q->nbsum8[tb] = 0;
                continue;
            }
            const float d = mst_fp16_to_fp32(mst_fp32_to_fp16(amax / 127.0f));
            const __m256 id = _mm256_set1_ps(mst_qact_inv_scale(amax));
            const __m256i q0 = _mm256_and_si256(_mm256_cvtps_epi32(_mm256_mul_ps(v0, id)), lo8);
            const __m256i q1 = _mm256_and_si256(_mm256_cvtps_epi32(_mm256_mul_ps(v1, id)), lo8);
            const __m256i q2 = _mm256_and_si256(_mm256_cvtps_epi32(_mm256_mul_ps(v2, id)), lo8);
            const __m256i q3 = _mm256_and_si256(_mm256_cvtps_epi32(_mm256_mul_ps(v3, id)), lo8);
            /* bytes 0..255 survive both unsigned packs unchanged; the lanes come out as q0 q1 q2 q3 per
             * 4-value piece, interleaved by 128-bit lane, which the permute puts back in order */
            const __m256i p = _mm256_packus_epi16(_mm256_packus_epi32(q0, q1), _mm256_packus_epi32(q2, q3));
            const __m256i qb = _mm256_permutevar8x32_epi32(p, order);
            _mm256_storeu_si256((__m256i *)(q->qs + o), qb);
            /* sums of 4 consecutive q: pairs through maddubs (1 x q), then pairs of pairs */
            const __m256i s4 = _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, qb), ones16);
            _mm256_storeu_si256((__m256i *)(q->nsum4 + o / 4), _mm256_sub_epi32(_mm256_setzero_si256(), s4));
            _mm256_storeu_ps(q->dxe + o / 4, _mm256_set1_ps(d));
            q->d[tb] = d;
            __m128i h = _mm_add_epi32(_mm256_castsi256_si128(s4), _mm256_extracti128_si256(s4, 1));
            h = _mm_add_epi32(h, _mm_shuffle_epi32(h, _MM_SHUFFLE(1, 0, 3, 2)));
            h = _mm_add_epi32(h, _mm_shuffle_epi32(h, _MM_SHUFFLE(2, 3, 0, 1)));
            q->nbsum8[tb] = -8 * _mm_cvtsi128_si32(h);
        }
    }
}
#endif
