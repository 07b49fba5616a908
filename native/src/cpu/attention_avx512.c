/* attention_avx512.c — attention micro-kernels with AVX-512 (16 lanes, masked tails, so any
 * head_dim works), on a float or an F16 cache (vcvtph2ps widens halves as they load). Reference:
 * attention_scalar.c. */
#include <math.h>

#include "attention.h"

#if defined(__x86_64__)
#pragma GCC target("avx512f,avx512bw,avx512vl,avx2,fma,f16c")
#include <immintrin.h>

static inline __mmask16 tail_mask(uint32_t n)
{
    return (__mmask16)((1u << n) - 1u); /* n in 1..16 */
}

/* Sums each of 16 vectors at once: element 4a + b of the result is the sum of v[4b + a]. One
 * horizontal sum per dot would cost as much as the dot itself at head_dim 128; this is 15
 * shuffle-adds for 16 dots. Steps: fold 128-bit lanes pairwise (two rounds), then the four
 * floats within each lane (two rounds of unpack + add). */
static inline __m512 reduce16(const __m512 *v)
{
    __m512 t[8], w[4];
    for (int i = 0; i < 8; i++) /* [A0+A2, A1+A3, B0+B2, B1+B3] of lanes A = v[2i], B = v[2i+1] */
        t[i] = _mm512_add_ps(_mm512_shuffle_f32x4(v[2 * i], v[2 * i + 1], 0x44),
                             _mm512_shuffle_f32x4(v[2 * i], v[2 * i + 1], 0xEE));
    for (int i = 0; i < 4; i++) /* lane k = 4 partial sums of v[4i + k] */
        w[i] = _mm512_add_ps(_mm512_shuffle_f32x4(t[2 * i], t[2 * i + 1], 0x88),
                             _mm512_shuffle_f32x4(t[2 * i], t[2 * i + 1], 0xDD));
    __m512 x = _mm512_add_ps(_mm512_unpacklo_ps(w[0], w[1]), _mm512_unpackhi_ps(w[0], w[1]));
    __m512 y = _mm512_add_ps(_mm512_unpacklo_ps(w[2], w[3]), _mm512_unpackhi_ps(w[2], w[3]));
    __m512d xd = _mm512_castps_pd(x), yd = _mm512_castps_pd(y);
    return _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(xd, yd)), _mm512_castpd_ps(_mm512_unpackhi_pd(xd, yd)));
}

/* Sixteen values of a K or V row from column d, floats or halves widened (exactly); with a mask m the
 * lanes outside it are zero and nothing outside it is read (masked loads do not fault). `half` is a
 * constant at every call (the entry points pass 0 or 1): testing the row pointer instead left a compare
 * and branch beside every load. */
static inline __attribute__((always_inline)) __m512 load16(const float *f, const uint16_t *h, int half, uint32_t d)
{
    return half ? _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(h + d))) : _mm512_loadu_ps(f + d);
}

static inline __attribute__((always_inline)) __m512 load16_masked(const float *f, const uint16_t *h, int half,
                                                                  uint32_t d, __mmask16 m)
{
    return half ? _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, h + d)) : _mm512_maskz_loadu_ps(m, f + d);
}

/* Scores in 4x4 blocks: 4 query rows and 4 key rows stream through once per block, 16 FMAs per
 * 8 loads. Blocks at the edges repeat the last row (results dropped) rather than branch.
 * K rows are kf (floats, half = 0) or kh (halves, half = 1); the other is NULL, and half is a constant
 * at each call, so the compiler builds one loop per element type. */
static inline __attribute__((always_inline)) void scores_body(const float *const *q, uint32_t nq,
                                                              const float *const *kf, const uint16_t *const *kh,
                                                              const int half, uint32_t nk, uint32_t hd, float scale,
                                                              float *s, uint32_t lds)
{
    const __m512 vs = _mm512_set1_ps(scale);
    const uint32_t full = hd & ~15u;
    const __mmask16 mt = (hd & 15u) ? tail_mask(hd & 15u) : 0;
    for (uint32_t i0 = 0; i0 < nq; i0 += 4) {
        const float *qq[4];
        for (uint32_t a = 0; a < 4; a++)
            qq[a] = q[i0 + a < nq ? i0 + a : nq - 1];
        for (uint32_t j0 = 0; j0 < nk; j0 += 4) {
            const float *kk[4] = {0};
            const uint16_t *hk[4] = {0};
            for (uint32_t b = 0; b < 4; b++) {
                const uint32_t j = j0 + b < nk ? j0 + b : nk - 1;
                if (half)
                    hk[b] = kh[j];
                else
                    kk[b] = kf[j];
            }
            __m512 acc[16];
            for (int x = 0; x < 16; x++)
                acc[x] = _mm512_setzero_ps();
            for (uint32_t d = 0; d < full; d += 16) {
                __m512 qv[4];
                for (int a = 0; a < 4; a++)
                    qv[a] = _mm512_loadu_ps(qq[a] + d);
                for (int b = 0; b < 4; b++) {
                    __m512 kv = load16(kk[b], hk[b], half, d);
                    for (int a = 0; a < 4; a++) /* index 4b + a: reduce16 then puts row a's keys together */
                        acc[4 * b + a] = _mm512_fmadd_ps(qv[a], kv, acc[4 * b + a]);
                }
            }
            if (mt) {
                __m512 qv[4];
                for (int a = 0; a < 4; a++)
                    qv[a] = _mm512_maskz_loadu_ps(mt, qq[a] + full);
                for (int b = 0; b < 4; b++) {
                    __m512 kv = load16_masked(kk[b], hk[b], half, full, mt);
                    for (int a = 0; a < 4; a++)
                        acc[4 * b + a] = _mm512_fmadd_ps(qv[a], kv, acc[4 * b + a]);
                }
            }
            /* element 4a + b = dot(q row a, k row b): 128-bit lane a is score row a */
            __m512 r = _mm512_mul_ps(reduce16(acc), vs);
            const uint32_t rows = nq - i0 < 4 ? nq - i0 : 4;
            float *dst = s + (size_t)i0 * lds + j0;
            _mm_storeu_ps(dst, _mm512_castps512_ps128(r));
            if (rows > 1)
                _mm_storeu_ps(dst + lds, _mm512_extractf32x4_ps(r, 1));
            if (rows > 2)
                _mm_storeu_ps(dst + 2 * (size_t)lds, _mm512_extractf32x4_ps(r, 2));
            if (rows > 3)
                _mm_storeu_ps(dst + 3 * (size_t)lds, _mm512_extractf32x4_ps(r, 3));
        }
    }
}

static void scores_avx512(const float *const *q, uint32_t nq, const float *const *k, uint32_t nk, uint32_t hd,
                          float scale, float *s, uint32_t lds)
{
    scores_body(q, nq, k, NULL, 0, nk, hd, scale, s, lds);
}

static void scores_f16_avx512(const float *const *q, uint32_t nq, const uint16_t *const *k, uint32_t nk, uint32_t hd,
                              float scale, float *s, uint32_t lds)
{
    scores_body(q, nq, NULL, k, 1, nk, hd, scale, s, lds);
}

/* o[0..nr) columns [d0, d0 + 64) += p . v: 4 rows x 4 vectors of accumulators, each V load
 * serving nr rows. nr is a constant at every call so the accumulators stay in registers.
 * V rows are vf (floats, half = 0) or vh (halves, half = 1), the other NULL, as in scores_body. */
static inline __attribute__((always_inline)) void pv_panel(float *const *o, int nr, const float *p, uint32_t ldp,
                                                           const float *const *vf, const uint16_t *const *vh,
                                                           const int half, uint32_t nk, uint32_t d0)
{
    __m512 acc[4][4];
    for (int r = 0; r < nr; r++)
        for (int c = 0; c < 4; c++)
            acc[r][c] = _mm512_loadu_ps(o[r] + d0 + 16 * c);
    for (uint32_t j = 0; j < nk; j++) {
        const float *f = half ? NULL : vf[j];
        const uint16_t *h = half ? vh[j] : NULL;
        __m512 vv[4];
        for (int c = 0; c < 4; c++)
            vv[c] = load16(f, h, half, d0 + 16 * c);
        for (int r = 0; r < nr; r++) {
            __m512 w = _mm512_set1_ps(p[(size_t)r * ldp + j]);
            for (int c = 0; c < 4; c++)
                acc[r][c] = _mm512_fmadd_ps(w, vv[c], acc[r][c]);
        }
    }
    for (int r = 0; r < nr; r++)
        for (int c = 0; c < 4; c++)
            _mm512_storeu_ps(o[r] + d0 + 16 * c, acc[r][c]);
}

static inline __attribute__((always_inline)) void pv_body(float *const *o, uint32_t nq, const float *p, uint32_t ldp,
                                                          const float *const *vf, const uint16_t *const *vh,
                                                          const int half, uint32_t nk, uint32_t hd)
{
    const uint32_t panels = hd & ~63u;
    for (uint32_t i0 = 0; i0 < nq; i0 += 4) {
        const uint32_t nr = nq - i0 < 4 ? nq - i0 : 4;
        const float *pr = p + (size_t)i0 * ldp;
        for (uint32_t d0 = 0; d0 < panels; d0 += 64) {
            switch (nr) {
            case 4: pv_panel(o + i0, 4, pr, ldp, vf, vh, half, nk, d0); break;
            case 3: pv_panel(o + i0, 3, pr, ldp, vf, vh, half, nk, d0); break;
            case 2: pv_panel(o + i0, 2, pr, ldp, vf, vh, half, nk, d0); break;
            default: pv_panel(o + i0, 1, pr, ldp, vf, vh, half, nk, d0); break;
            }
        }
        /* columns past the last whole panel, 16 at a time with a masked tail, one row at a time */
        for (uint32_t r = 0; r < nr; r++)
            for (uint32_t d = panels; d < hd; d += 16) {
                const __mmask16 m = hd - d >= 16 ? (__mmask16)0xFFFF : tail_mask(hd - d);
                __m512 acc = _mm512_maskz_loadu_ps(m, o[i0 + r] + d);
                for (uint32_t j = 0; j < nk; j++)
                    acc = _mm512_fmadd_ps(_mm512_set1_ps(pr[(size_t)r * ldp + j]),
                                          load16_masked(half ? NULL : vf[j], half ? vh[j] : NULL, half, d, m), acc);
                _mm512_mask_storeu_ps(o[i0 + r] + d, m, acc);
            }
    }
}

static void pv_avx512(float *const *o, uint32_t nq, const float *p, uint32_t ldp, const float *const *v, uint32_t nk,
                      uint32_t hd)
{
    pv_body(o, nq, p, ldp, v, NULL, 0, nk, hd);
}

static void pv_f16_avx512(float *const *o, uint32_t nq, const float *p, uint32_t ldp, const uint16_t *const *v,
                          uint32_t nk, uint32_t hd)
{
    pv_body(o, nq, p, ldp, NULL, v, 1, nk, hd);
}

/* Rounding fixed to nearest-even (mst_fp32_to_fp16's rule) whatever the caller's MXCSR mode; the tail
 * through masks. */
static void to_f16_avx512(uint16_t *dst, const float *src, size_t n)
{
    enum { mode = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }; /* an integer constant expression, as clang requires */
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(dst + i), _mm512_cvtps_ph(_mm512_loadu_ps(src + i), mode));
    if (i < n) {
        const __mmask16 t = tail_mask((uint32_t)(n - i));
        _mm256_mask_storeu_epi16(dst + i, t, _mm512_cvtps_ph(_mm512_maskz_loadu_ps(t, src + i), mode));
    }
}

static float row_max_avx512(const float *s, uint32_t n)
{
    __m512 m = _mm512_set1_ps(-INFINITY);
    uint32_t j = 0;
    for (; j + 16 <= n; j += 16)
        m = _mm512_max_ps(m, _mm512_loadu_ps(s + j));
    if (j < n)
        m = _mm512_mask_max_ps(m, tail_mask(n - j), m, _mm512_maskz_loadu_ps(tail_mask(n - j), s + j));
    return _mm512_reduce_max_ps(m);
}

/* e^x for x <= 0: x = n ln2 + r with |r| <= ln2/2, e^r by its Taylor series to r^7 (error below
 * 6e-9, under float rounding), times 2^n by scalef. x below -87 is clamped: e^-87 ~ 1.6e-38 is
 * already nothing next to the row maximum's e^0 = 1. */
static inline __m512 exp_avx512(__m512 x)
{
    x = _mm512_max_ps(x, _mm512_set1_ps(-87.0f));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    /* ln 2 in two parts so n * ln2_hi is exact and r keeps its low bits */
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428606820309417232e-6f), r);
    __m512 e = _mm512_set1_ps(1.0f / 5040.0f);
    e = _mm512_fmadd_ps(e, r, _mm512_set1_ps(1.0f / 720.0f));
    e = _mm512_fmadd_ps(e, r, _mm512_set1_ps(1.0f / 120.0f));
    e = _mm512_fmadd_ps(e, r, _mm512_set1_ps(1.0f / 24.0f));
    e = _mm512_fmadd_ps(e, r, _mm512_set1_ps(1.0f / 6.0f));
    e = _mm512_fmadd_ps(e, r, _mm512_set1_ps(0.5f));
    e = _mm512_fmadd_ps(e, r, _mm512_set1_ps(1.0f));
    e = _mm512_fmadd_ps(e, r, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(e, n);
}

static float exp_sum_avx512(float *s, uint32_t n, float m)
{
    const __m512 vm = _mm512_set1_ps(m);
    __m512 sum = _mm512_setzero_ps();
    uint32_t j = 0;
    for (; j + 16 <= n; j += 16) {
        __m512 e = exp_avx512(_mm512_sub_ps(_mm512_loadu_ps(s + j), vm));
        _mm512_storeu_ps(s + j, e);
        sum = _mm512_add_ps(sum, e);
    }
    if (j < n) {
        const __mmask16 t = tail_mask(n - j);
        __m512 e = exp_avx512(_mm512_sub_ps(_mm512_maskz_loadu_ps(t, s + j), vm));
        _mm512_mask_storeu_ps(s + j, t, e);
        sum = _mm512_mask_add_ps(sum, t, sum, e);
    }
    return _mm512_reduce_add_ps(sum);
}

static void scale_avx512(float *o, uint32_t n, float a)
{
    const __m512 va = _mm512_set1_ps(a);
    uint32_t d = 0;
    for (; d + 16 <= n; d += 16)
        _mm512_storeu_ps(o + d, _mm512_mul_ps(_mm512_loadu_ps(o + d), va));
    if (d < n) {
        const __mmask16 t = tail_mask(n - d);
        _mm512_mask_storeu_ps(o + d, t, _mm512_mul_ps(_mm512_maskz_loadu_ps(t, o + d), va));
    }
}

const mst_attn_kernels mst_attn_avx512 = {
    .name = "avx512",
    .scores = scores_avx512,
    .pv = pv_avx512,
    .row_max = row_max_avx512,
    .exp_sum = exp_sum_avx512,
    .scale = scale_avx512,
    .scores_f16 = scores_f16_avx512,
    .pv_f16 = pv_f16_avx512,
    .to_f16 = to_f16_avx512,
};
#endif
