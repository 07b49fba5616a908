/* attention_avx2.c — attention micro-kernels with AVX2 + FMA (8 lanes, masked tails, so any
 * head_dim works), on a float or an F16 cache (F16C widens halves as they load). Reference:
 * attention_scalar.c. */
#include <math.h>
#include <string.h>

#include "attention.h"
#include "quant.h"

#if defined(__x86_64__)
#pragma GCC target("avx2,fma,f16c")
#include <immintrin.h>

/* lanes < n set (n in 0..8), for maskload/maskstore */
static inline __m256i lane_mask(uint32_t n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* The full sums of 8 vectors at once, in order: three rounds of horizontal adds and one cross-lane
 * add instead of 8 separate reductions. */
static inline __m256 reduce8(const __m256 *v)
{
    __m256 h0 = _mm256_hadd_ps(v[0], v[1]), h1 = _mm256_hadd_ps(v[2], v[3]);
    __m256 h2 = _mm256_hadd_ps(v[4], v[5]), h3 = _mm256_hadd_ps(v[6], v[7]);
    __m256 g0 = _mm256_hadd_ps(h0, h1), g1 = _mm256_hadd_ps(h2, h3); /* per 128-bit half: v0..v3 / v4..v7 */
    return _mm256_add_ps(_mm256_permute2f128_ps(g0, g1, 0x20), _mm256_permute2f128_ps(g0, g1, 0x31));
}

/* Eight values of a K or V row from column d: floats, or halves widened (exactly) by F16C. `half` is a constant at
 * every call (the entry points pass 0 or 1), so the choice costs nothing in the loops; testing the row pointer
 * instead left a compare and branch beside every load. */
static inline __attribute__((always_inline)) __m256 load8(const float *f, const uint16_t *h, int half, uint32_t d)
{
    return half ? _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(h + d))) : _mm256_loadu_ps(f + d);
}

/* The n (< 8) values from column d, the other lanes zero. AVX2 has no 16-bit masked load, so halves
 * go through a zeroed copy: never read past the row (it may end the cache). */
static inline __attribute__((always_inline)) __m256 load_tail(const float *f, const uint16_t *h, int half,
                                                              uint32_t d, uint32_t n, __m256i m)
{
    if (!half)
        return _mm256_maskload_ps(f + d, m);
    uint16_t t[8] = {0};
    memcpy(t, h + d, n * sizeof *t);
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)t));
}

/* One block of scores: NR query rows x KB = 8 / NR keys, 8 accumulators (AVX2 has 16 registers), reduced
 * together by reduce8 into row r's KB scores at lanes [r * KB, r * KB + KB). NR = 4 is the main case: a
 * decode step's 4 GQA heads (Mistral's group) or 4 rows of a prefill block share every K load and every
 * F16 widening (2 per 8 FMAs, where 2 rows x 4 keys needed 4). NR = 2 and 1 take the rows left over so no
 * row is computed twice. Keys past nk repeat the last key (their scores are dropped); nothing past the
 * rows or keys given is read. K rows are kf (floats, half = 0) or kh (halves, half = 1); the other is NULL,
 * and half is a constant at each call, so the compiler builds one loop per element type. */
static inline __attribute__((always_inline)) void scores_block(const float *const *q, const int NR,
                                                               const float *const *kf, const uint16_t *const *kh,
                                                               const int half, uint32_t j0, uint32_t nk, uint32_t hd,
                                                               __m256 vs, float *s, uint32_t lds)
{
    const int KB = 8 / NR;
    const uint32_t full = hd & ~7u;
    const float *kk[8] = {0};
    const uint16_t *hk[8] = {0};
    for (int b = 0; b < KB; b++) {
        const uint32_t j = j0 + (uint32_t)b < nk ? j0 + (uint32_t)b : nk - 1;
        if (half)
            hk[b] = kh[j];
        else
            kk[b] = kf[j];
    }
    __m256 acc[8];
    for (int x = 0; x < 8; x++)
        acc[x] = _mm256_setzero_ps();
    for (uint32_t d = 0; d < full; d += 8) {
        __m256 qv[4];
        for (int r = 0; r < NR; r++)
            qv[r] = _mm256_loadu_ps(q[r] + d);
        for (int b = 0; b < KB; b++) {
            const __m256 kv = load8(kk[b], hk[b], half, d);
            for (int r = 0; r < NR; r++)
                acc[r * KB + b] = _mm256_fmadd_ps(qv[r], kv, acc[r * KB + b]);
        }
    }
    if (hd & 7u) {
        const __m256i mt = lane_mask(hd & 7u);
        __m256 qv[4];
        for (int r = 0; r < NR; r++)
            qv[r] = _mm256_maskload_ps(q[r] + full, mt);
        for (int b = 0; b < KB; b++) {
            const __m256 kv = load_tail(kk[b], hk[b], half, full, hd & 7u, mt);
            for (int r = 0; r < NR; r++)
                acc[r * KB + b] = _mm256_fmadd_ps(qv[r], kv, acc[r * KB + b]);
        }
    }
    float r8[8];
    _mm256_storeu_ps(r8, _mm256_mul_ps(reduce8(acc), vs));
    const uint32_t valid = nk - j0 < (uint32_t)KB ? nk - j0 : (uint32_t)KB;
    for (int r = 0; r < NR; r++)
        memcpy(s + (size_t)r * lds + j0, r8 + r * KB, valid * sizeof(float));
}

static inline __attribute__((always_inline)) void scores_body(const float *const *q, uint32_t nq,
                                                              const float *const *kf, const uint16_t *const *kh,
                                                              const int half, uint32_t nk, uint32_t hd, float scale,
                                                              float *s, uint32_t lds)
{
    const __m256 vs = _mm256_set1_ps(scale);
    uint32_t i0 = 0;
    for (; i0 + 4 <= nq; i0 += 4)
        for (uint32_t j0 = 0; j0 < nk; j0 += 2)
            scores_block(q + i0, 4, kf, kh, half, j0, nk, hd, vs, s + (size_t)i0 * lds, lds);
    if (nq - i0 >= 2) {
        for (uint32_t j0 = 0; j0 < nk; j0 += 4)
            scores_block(q + i0, 2, kf, kh, half, j0, nk, hd, vs, s + (size_t)i0 * lds, lds);
        i0 += 2;
    }
    if (i0 < nq)
        for (uint32_t j0 = 0; j0 < nk; j0 += 8)
            scores_block(q + i0, 1, kf, kh, half, j0, nk, hd, vs, s + (size_t)i0 * lds, lds);
}

static void scores_avx2(const float *const *q, uint32_t nq, const float *const *k, uint32_t nk, uint32_t hd,
                        float scale, float *s, uint32_t lds)
{
    scores_body(q, nq, k, NULL, 0, nk, hd, scale, s, lds);
}

static void scores_f16_avx2(const float *const *q, uint32_t nq, const uint16_t *const *k, uint32_t nk, uint32_t hd,
                            float scale, float *s, uint32_t lds)
{
    scores_body(q, nq, NULL, k, 1, nk, hd, scale, s, lds);
}

/* o[0..nr) columns [d0, d0 + 16) += p . v; nr constant at each call, accumulators in registers.
 * V rows are vf (floats, half = 0) or vh (halves, half = 1), the other NULL, as in scores_block. */
static inline __attribute__((always_inline)) void pv_panel(float *const *o, int nr, const float *p, uint32_t ldp,
                                                           const float *const *vf, const uint16_t *const *vh,
                                                           const int half, uint32_t nk, uint32_t d0)
{
    __m256 acc[4][2];
    for (int r = 0; r < nr; r++)
        for (int c = 0; c < 2; c++)
            acc[r][c] = _mm256_loadu_ps(o[r] + d0 + 8 * c);
    for (uint32_t j = 0; j < nk; j++) {
        const float *f = half ? NULL : vf[j];
        const uint16_t *h = half ? vh[j] : NULL;
        __m256 v0 = load8(f, h, half, d0), v1 = load8(f, h, half, d0 + 8);
        for (int r = 0; r < nr; r++) {
            __m256 w = _mm256_broadcast_ss(p + (size_t)r * ldp + j);
            acc[r][0] = _mm256_fmadd_ps(w, v0, acc[r][0]);
            acc[r][1] = _mm256_fmadd_ps(w, v1, acc[r][1]);
        }
    }
    for (int r = 0; r < nr; r++)
        for (int c = 0; c < 2; c++)
            _mm256_storeu_ps(o[r] + d0 + 8 * c, acc[r][c]);
}

static inline __attribute__((always_inline)) void pv_body(float *const *o, uint32_t nq, const float *p, uint32_t ldp,
                                                          const float *const *vf, const uint16_t *const *vh,
                                                          const int half, uint32_t nk, uint32_t hd)
{
    const uint32_t panels = hd & ~15u;
    for (uint32_t i0 = 0; i0 < nq; i0 += 4) {
        const uint32_t nr = nq - i0 < 4 ? nq - i0 : 4;
        const float *pr = p + (size_t)i0 * ldp;
        for (uint32_t d0 = 0; d0 < panels; d0 += 16) {
            switch (nr) {
            case 4: pv_panel(o + i0, 4, pr, ldp, vf, vh, half, nk, d0); break;
            case 3: pv_panel(o + i0, 3, pr, ldp, vf, vh, half, nk, d0); break;
            case 2: pv_panel(o + i0, 2, pr, ldp, vf, vh, half, nk, d0); break;
            default: pv_panel(o + i0, 1, pr, ldp, vf, vh, half, nk, d0); break;
            }
        }
        /* columns past the last whole panel: 8 at a time, the last masked, one row at a time */
        for (uint32_t r = 0; r < nr; r++)
            for (uint32_t d = panels; d < hd; d += 8) {
                const uint32_t cnt = hd - d >= 8 ? 8 : hd - d;
                const __m256i m = lane_mask(cnt);
                __m256 acc = _mm256_maskload_ps(o[i0 + r] + d, m);
                for (uint32_t j = 0; j < nk; j++) {
                    const float *f = half ? NULL : vf[j];
                    const uint16_t *h = half ? vh[j] : NULL;
                    const __m256 vv = cnt == 8 ? load8(f, h, half, d) : load_tail(f, h, half, d, cnt, m);
                    acc = _mm256_fmadd_ps(_mm256_broadcast_ss(pr + (size_t)r * ldp + j), vv, acc);
                }
                _mm256_maskstore_ps(o[i0 + r] + d, m, acc);
            }
    }
}

static void pv_avx2(float *const *o, uint32_t nq, const float *p, uint32_t ldp, const float *const *v, uint32_t nk,
                    uint32_t hd)
{
    pv_body(o, nq, p, ldp, v, NULL, 0, nk, hd);
}

static void pv_f16_avx2(float *const *o, uint32_t nq, const float *p, uint32_t ldp, const uint16_t *const *v,
                        uint32_t nk, uint32_t hd)
{
    pv_body(o, nq, p, ldp, NULL, v, 1, nk, hd);
}

/* F16C rounds as the current MXCSR mode says unless told: _MM_FROUND_TO_NEAREST_INT fixes nearest-even,
 * mst_fp32_to_fp16's rule, whatever the caller's mode. The tail (< 8) goes through the scalar one. */
static void to_f16_avx2(uint16_t *dst, const float *src, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(dst + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    for (; i < n; i++)
        dst[i] = mst_fp32_to_fp16(src[i]);
}

static inline float hsum(__m256 v)
{
    __m128 x = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    x = _mm_add_ps(x, _mm_movehl_ps(x, x));
    return _mm_cvtss_f32(_mm_add_ss(x, _mm_movehdup_ps(x)));
}

static float row_max_avx2(const float *s, uint32_t n)
{
    __m256 m = _mm256_set1_ps(-INFINITY);
    uint32_t j = 0;
    for (; j + 8 <= n; j += 8)
        m = _mm256_max_ps(m, _mm256_loadu_ps(s + j));
    float r;
    __m128 x = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    x = _mm_max_ps(x, _mm_movehl_ps(x, x));
    r = _mm_cvtss_f32(_mm_max_ss(x, _mm_movehdup_ps(x)));
    for (; j < n; j++)
        r = s[j] > r ? s[j] : r;
    return r;
}

/* e^x for x <= 0, as exp_avx512 in attention_avx512.c: n ln2 + r split, Taylor to r^7, and 2^n
 * built in the exponent field (x >= -87 keeps n >= -126, a normal float). */
static inline __m256 exp_avx2(__m256 x)
{
    x = _mm256_max_ps(x, _mm256_set1_ps(-87.0f));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693145751953125f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.428606820309417232e-6f), r);
    __m256 e = _mm256_set1_ps(1.0f / 5040.0f);
    e = _mm256_fmadd_ps(e, r, _mm256_set1_ps(1.0f / 720.0f));
    e = _mm256_fmadd_ps(e, r, _mm256_set1_ps(1.0f / 120.0f));
    e = _mm256_fmadd_ps(e, r, _mm256_set1_ps(1.0f / 24.0f));
    e = _mm256_fmadd_ps(e, r, _mm256_set1_ps(1.0f / 6.0f));
    e = _mm256_fmadd_ps(e, r, _mm256_set1_ps(0.5f));
    e = _mm256_fmadd_ps(e, r, _mm256_set1_ps(1.0f));
    e = _mm256_fmadd_ps(e, r, _mm256_set1_ps(1.0f));
    __m256i pow2 = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(e, _mm256_castsi256_ps(pow2));
}

static float exp_sum_avx2(float *s, uint32_t n, float m)
{
    const __m256 vm = _mm256_set1_ps(m);
    __m256 sum = _mm256_setzero_ps();
    uint32_t j = 0;
    for (; j + 8 <= n; j += 8) {
        __m256 e = exp_avx2(_mm256_sub_ps(_mm256_loadu_ps(s + j), vm));
        _mm256_storeu_ps(s + j, e);
        sum = _mm256_add_ps(sum, e);
    }
    if (j < n) {
        const __m256i t = lane_mask(n - j);
        __m256 e = exp_avx2(_mm256_sub_ps(_mm256_maskload_ps(s + j, t), vm));
        e = _mm256_and_ps(e, _mm256_castsi256_ps(t)); /* masked-off lanes held e^-m: drop them */
        _mm256_maskstore_ps(s + j, t, e);
        sum = _mm256_add_ps(sum, e);
    }
    return hsum(sum);
}

static void scale_avx2(float *o, uint32_t n, float a)
{
    const __m256 va = _mm256_set1_ps(a);
    uint32_t d = 0;
    for (; d + 8 <= n; d += 8)
        _mm256_storeu_ps(o + d, _mm256_mul_ps(_mm256_loadu_ps(o + d), va));
    for (; d < n; d++)
        o[d] *= a;
}

const mst_attn_kernels mst_attn_avx2 = {
    .name = "avx2",
    .scores = scores_avx2,
    .pv = pv_avx2,
    .row_max = row_max_avx2,
    .exp_sum = exp_sum_avx2,
    .scale = scale_avx2,
    .scores_f16 = scores_f16_avx2,
    .pv_f16 = pv_f16_avx2,
    .to_f16 = to_f16_avx2,
};
#endif
