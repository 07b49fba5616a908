/* quant_act_k_avx2.c — Q8_K activation quantization (quant_act_k.h) with AVX2, bit-identical to the scalar
 * mst_quantize_act_k_ref (whose fabsf/nearbyintf per value cost more than the K-quant matmul it feeds on a
 * short prefill, on CPUs without AVX-512). The same float multiply per value and the same round-half-even;
 * only the search for the block's largest |x| and the sums are restructured, as in quant_act_k_avx512.c:
 *  - non-finite blocks: one unordered compare per pair of vectors (true where either lane is NaN), OR-ed
 *    together, finds a NaN; an infinity shows in the max |x| itself. Such a block is q = 0, d = NaN.
 *  - max |x|: vmaxps over finite values; then the FIRST index holding that |x| (a compare mask per 8
 *    values, in order) gives the signed max, as the scalar scan's "first of equal |x| wins".
 *  - q: vcvtps2dq rounds half to even under the default MXCSR, as nearbyintf does. With a finite iscale
 *    every product of a finite block lies within 127 (plus float rounding) of zero, so no lane needs the
 *    scalar rule's clamp; the clamp is still applied (two instructions) so the bound is not an argument
 *    the code depends on. Only when -127/max overflows (|max| below ~2^-121) can a product be ±inf or
 *    NaN (0·inf); that block takes the masked path: clamp to [-127, 127], NaN to 0, as the scalar's
 *    branches do.
 *  - bsum16: byte sums through maddubs (1 x q) and madd, then two horizontal adds per 128 values. */
#include "ops.h"

#if defined(__x86_64__)
#pragma GCC target("avx2,fma")
#include <float.h>
#include <math.h>
#include <immintrin.h>

#include "quant_act_k.h"
#include "quant_k.h"

static inline float hmax8(__m256 v)
{
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

/* 8 values times is, rounded, clamped to [-127, 127]; NaN products to 0 when careful. */
static inline __m256i quant8(const float *x, __m256 is, int careful)
{
    const __m256 lo = _mm256_set1_ps(-127.0f), hi = _mm256_set1_ps(127.0f);
    const __m256 p = _mm256_mul_ps(is, _mm256_loadu_ps(x));
    __m256 c = _mm256_min_ps(_mm256_max_ps(p, lo), hi); /* a NaN p gives lo here (vmaxps returns its 2nd operand) */
    if (careful)
        c = _mm256_andnot_ps(_mm256_cmp_ps(p, p, _CMP_UNORD_Q), c);
    return _mm256_cvtps_epi32(c);
}

/* 32 values to int8 (all within [-127, 127], so the saturating packs are exact), in order. */
static inline __m256i quant32(const float *x, __m256 is, int careful)
{
    const __m256i a = _mm256_packs_epi32(quant8(x, is, careful), quant8(x + 8, is, careful));
    const __m256i b = _mm256_packs_epi32(quant8(x + 16, is, careful), quant8(x + 24, is, careful));
    return _mm256_permutevar8x32_epi32(_mm256_packs_epi16(a, b), _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

/* The 256 values' q into qb and their 16 sums of 16 into bs. */
static inline void quant256(const float *xb, int8_t *qb, int16_t *bs, __m256 is, int careful)
{
    const __m256i ones8 = _mm256_set1_epi8(1), ones16 = _mm256_set1_epi16(1);
    __m256i s[8];
    for (int k = 0; k < 8; k++) {
        const __m256i v = quant32(xb + 32 * k, is, careful);
        _mm256_storeu_si256((__m256i *)(qb + 32 * k), v);
        s[k] = _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, v), ones16); /* 8 sums of 4 consecutive q */
    }
    /* per 128-bit lane, hadd twice turns four vectors of sums of 4 into [k0 k1 k2 k3] sums of 16 (low lane:
     * each vector's first 16 values, high lane: its second 16); the permute puts them in value order */
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    const __m256i h0 = _mm256_permutevar8x32_epi32(
        _mm256_hadd_epi32(_mm256_hadd_epi32(s[0], s[1]), _mm256_hadd_epi32(s[2], s[3])), order);
    const __m256i h1 = _mm256_permutevar8x32_epi32(
        _mm256_hadd_epi32(_mm256_hadd_epi32(s[4], s[5]), _mm256_hadd_epi32(s[6], s[7])), order);
    /* |sum| <= 2032: the int16 packs are exact; they interleave by 128-bit lane, which permute4x64 undoes */
    const __m256i p = _mm256_permute4x64_epi64(_mm256_packs_epi32(h0, h1), _MM_SHUFFLE(3, 1, 2, 0));
    _mm256_storeu_si256((__m256i *)bs, p);
}

void mst_quantize_act_k_avx2(const float *x, mst_qact *q, uint32_t t0, uint32_t t1)
{
    const uint32_t cols = q->cols, nb = cols / MST_QK_K;
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (uint32_t t = t0; t < t1; t++) {
        for (uint32_t b = 0; b < nb; b++) {
            const size_t o = (size_t)t * cols + (size_t)b * MST_QK_K;
            const float *xb = x + o;
            int8_t *qb = q->qs + o;
            int16_t *bs = q->bsum16 + o / 16;
            __m256 m0 = _mm256_setzero_ps(), m1 = _mm256_setzero_ps(), nan = _mm256_setzero_ps();
            for (int i = 0; i < MST_QK_K; i += 32) {
                const __m256 v0 = _mm256_loadu_ps(xb + i), v1 = _mm256_loadu_ps(xb + i + 8);
                const __m256 v2 = _mm256_loadu_ps(xb + i + 16), v3 = _mm256_loadu_ps(xb + i + 24);
                nan = _mm256_or_ps(nan, _mm256_or_ps(_mm256_cmp_ps(v0, v1, _CMP_UNORD_Q),
                                                     _mm256_cmp_ps(v2, v3, _CMP_UNORD_Q)));
                m0 = _mm256_max_ps(m0, _mm256_max_ps(_mm256_andnot_ps(sign, v0), _mm256_andnot_ps(sign, v1)));
                m1 = _mm256_max_ps(m1, _mm256_max_ps(_mm256_andnot_ps(sign, v2), _mm256_andnot_ps(sign, v3)));
            }
            const float amax = hmax8(_mm256_max_ps(m0, m1));
            if (_mm256_movemask_ps(nan) || !(amax <= FLT_MAX) || amax == 0.0f) {
                const __m256i z = _mm256_setzero_si256();
                for (int j = 0; j < MST_QK_K; j += 32)
                    _mm256_storeu_si256((__m256i *)(qb + j), z);
                _mm256_storeu_si256((__m256i *)bs, z); /* 16 sums of 2 bytes */
                q->d[(size_t)t * nb + b] = amax == 0.0f && !_mm256_movemask_ps(nan) ? 0.0f : mst_qact_nonfinite_d();
                continue;
            }
            float max = 0.0f;
            const __m256 a = _mm256_set1_ps(amax);
            for (int i = 0; i < MST_QK_K; i += 8) {
                const int hit = _mm256_movemask_ps(
                    _mm256_cmp_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(xb + i)), a, _CMP_EQ_OQ));
                if (hit) {
                    max = xb[i + __builtin_ctz((unsigned)hit)];
                    break;
                }
            }
            const float iscale = -127.0f / max;
            const __m256 is = _mm256_set1_ps(iscale);
            if (isfinite(iscale))
                quant256(xb, qb, bs, is, 0);
            else
                quant256(xb, qb, bs, is, 1);
            q->d[(size_t)t * nb + b] = 1.0f / iscale;
        }
    }
}
#endif
