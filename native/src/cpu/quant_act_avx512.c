/* quant_act_avx512.c — mst_quantize_act with AVX-512: the same rule as quant_act.c, bit for bit.
 * x·(127/amax) is the same single float multiply, and vcvtps2dq rounds half to even under the default
 * MXCSR as nearbyintf does; the fp16 scale goes through the same scalar conversion.
 * Non-finite blocks (quant_act.h): vmaxps drops a NaN depending on operand order, so one unordered compare of
 * the block's two vectors (true where either lane is NaN) finds a NaN, and an infinity shows in amax itself;
 * such a block is written as the scalar rule says (q = 0, d = NaN) instead of through vcvtps2dq, which would
 * turn NaN into 0x80000000. */
#include "ops.h"

#if defined(__x86_64__)
#pragma GCC target("avx512f,avx512bw,avx512vl,avx2,fma,f16c")
#include <float.h>
#include <immintrin.h>

#include "quant_act.h"

void mst_quantize_act_avx512(const float *x, mst_qact *q, uint32_t t0, uint32_t t1)
{
    const uint32_t cols = q->cols, nb = cols / MST_QK;
    for (uint32_t t = t0; t < t1; t++) {
        for (uint32_t b = 0; b < nb; b++) {
            const size_t o = (size_t)t * cols + (size_t)b * MST_QK, tb = (size_t)t * nb + b;
            __m512 v0 = _mm512_loadu_ps(x + o), v1 = _mm512_loadu_ps(x + o + 16);
            const __mmask16 nan = _mm512_cmp_ps_mask(v0, v1, _CMP_UNORD_Q);
            __m512 a = _mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1));
            const float amax = _mm512_reduce_max_ps(a);
            if (nan || !(amax <= FLT_MAX)) {
                _mm256_storeu_si256((__m256i *)(q->qs + o), _mm256_setzero_si256());
                _mm256_storeu_si256((__m256i *)(q->nsum4 + o / 4), _mm256_setzero_si256());
                _mm256_storeu_ps(q->dxe + o / 4, _mm256_set1_ps(mst_qact_nonfinite_d()));
                q->d[tb] = mst_qact_nonfinite_d();
                q->nbsum8[tb] = 0;
                continue;
            }
            const float d = mst_fp16_to_fp32(mst_fp32_to_fp16(amax / 127.0f));
            const __m512 id = _mm512_set1_ps(amax != 0.0f ? 127.0f / amax : 0.0f);
            __m512i q0 = _mm512_cvtps_epi32(_mm512_mul_ps(v0, id));
            __m512i q1 = _mm512_cvtps_epi32(_mm512_mul_ps(v1, id));
            __m256i qb = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm512_cvtepi32_epi8(q0)),
                                                 _mm512_cvtepi32_epi8(q1), 1);
            _mm256_storeu_si256((__m256i *)(q->qs + o), qb);
            /* sums of 4 consecutive q: pairs through maddubs (1 x q), then pairs of pairs */
            __m256i s4 = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), qb), _mm256_set1_epi16(1));
            __m256i ns4 = _mm256_sub_epi32(_mm256_setzero_si256(), s4);
            _mm256_storeu_si256((__m256i *)(q->nsum4 + o / 4), ns4);
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
