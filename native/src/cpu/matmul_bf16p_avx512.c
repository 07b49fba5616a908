/* matmul_bf16p_avx512.c — BF16 weights in MST_LAYOUT_BF16X16P (quant_act_bf16.h) times bf16-rounded
 * activations: with FMAs (AVX-512) or with AVX512_BF16's vdpbf16ps, one body, the step chosen at compile
 * time. The scalar reference is mst_matmul_ref_bf16 (double accumulation) on the file's layout and the
 * rounded activations as floats (test_bf16_act.c).
 *
 * Same outer-product form as matmul_x16_avx512.c, with the lanes still the 16 rows of a group: per column
 * PAIR, one 64-byte load gives every row's two weights. vdpbf16ps takes them as they are with a token's two
 * activations broadcast as one 32-bit word, 32 multiply-adds per instruction; the FMA step expands them to
 * two float vectors (one shift, one mask: half the conversion work of the BF16X16 layout, where each
 * column costs a widening and a shift) and multiplies each by a broadcast float activation.
 * The FMA step is the default: where vdpbf16ps issues at a quarter of the FMA rate it is the slower one, and
 * the pair layout also beats the BF16X16 FMA kernel; 2 × 12 tokens is where more tokens stop paying
 * (benchmarks/RESULTS.md).
 *
 * Prefill: 2 row groups × 12 tokens = 24 accumulators + 4 weight vectors (FMA; 2 for vdpbf16ps), over
 * tiles of MST_TILE_BYTES of groups that stay in L2 while every block of tokens runs over them, as the x16
 * kernel does (and why). Decode (one token) is memory-bound and walks 4 ranges of groups at once, like its
 * decode.
 *
 * Summation, per lane: FLUSH columns (FLUSH/2 pairs) are summed from zero, and that partial sum is
 * added into the running one (in y during prefill, in registers during decode). Each pair adds the odd
 * column's product, then the even one's, each rounded to fp32 (vdpbf16ps also reads denormal inputs as
 * zero and flushes denormal results), so a lane carries at most FLUSH + ceil(cols/FLUSH) roundings, the
 * x16 kernels' bound. Every path (12, 8, 4 or 1 tokens at once, decode streams) performs these
 * operations in this order for each lane, so a token's result does not depend on the tokens run with it. */
#include "ops.h"

#if defined(__x86_64__)
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512bf16")
#include <immintrin.h>

#include "matmul_tile.h"
#include "quant_act_bf16.h"

enum {
    PF = MST_X16_FLUSH / 2, /* column pairs per partial sum */
    NG_MAX = 2,
    NT_MAX = 12,
    ROWS = 16,
};
_Static_assert(MST_X16_FLUSH % 2 == 0, "a partial sum holds whole pairs");

/* The activations as the kernels read them: bf16 pairs for vdpbf16ps, floats for the FMAs. */
typedef struct xin {
    const uint32_t *p; /* [token][pairs] */
    const float *f;    /* [token][2·pairs] */
} xin;

/* 16 rows' pairs of one column pair, ready for the step below: as loaded for vdpbf16ps (lo), or the
 * two columns expanded to floats (a bf16 is a float's top half: shift the even column up into lo, mask
 * the odd one in place into hi). */
typedef struct wpair {
    __m512 lo, hi;
} wpair;

MST_AI wpair load_pair(const uint32_t *p, const int DP)
{
    const __m512i w = _mm512_loadu_si512(p);
    if (DP)
        return (wpair){_mm512_castsi512_ps(w), _mm512_setzero_ps()};
    return (wpair){_mm512_castsi512_ps(_mm512_slli_epi32(w, 16)),
                   _mm512_castsi512_ps(_mm512_and_si512(w, _mm512_set1_epi32((int)0xffff0000u)))};
}

/* acc + w_odd·x_odd, rounded, + w_even·x_even, rounded: pair p of token j (x at token 0, `pairs` per
 * token). DP: one vdpbf16ps, which performs exactly that (Intel SDM: odd product first, then even; round
 * to nearest even; a product of two bf16 is exact in fp32). Else two FMAs with the same two roundings,
 * so the two kernels agree bit for bit away from the denormal range, which vdpbf16ps flushes
 * (test_bf16_act.c checks the agreement). */
MST_AI __m512 step(__m512 acc, wpair w, const xin *x, size_t j, uint32_t pairs, uint32_t p, const int DP)
{
    if (DP)
        return _mm512_dpbf16_ps(acc, (__m512bh)_mm512_castps_si512(w.lo),
                                (__m512bh)_mm512_set1_epi32((int)x->p[j * pairs + p]));
    const float *xf = x->f + j * 2 * pairs + 2 * (size_t)p;
    acc = _mm512_fmadd_ps(w.hi, _mm512_set1_ps(xf[1]), acc);
    return _mm512_fmadd_ps(w.lo, _mm512_set1_ps(xf[0]), acc);
}

/* NG groups (NG = 2 or 1; gs words apart) × NT tokens (x from the first of them), written to
 * y[j·ys + 16·i + lane]. The unroll pragmas keep the accumulators in registers (see matmul_x16_avx512.c). */
MST_AI void block(const uint32_t *g, size_t gs, uint32_t pairs, const xin *x, float *y, size_t ys, const int NG,
                  const int NT, const int DP)
{
    for (uint32_t p0 = 0; p0 < pairs; p0 += PF) {
        const uint32_t p1 = pairs - p0 < PF ? pairs : p0 + PF;
        __m512 acc[NG_MAX][NT_MAX];
#pragma GCC unroll 2
        for (int i = 0; i < NG; i++)
#pragma GCC unroll 16
            for (int j = 0; j < NT; j++)
                acc[i][j] = _mm512_setzero_ps();
        for (uint32_t p = p0; p < p1; p++) {
            wpair w[NG_MAX];
#pragma GCC unroll 2
            for (int i = 0; i < NG; i++)
                w[i] = load_pair(g + i * gs + (size_t)p * ROWS, DP);
#pragma GCC unroll 16
            for (int j = 0; j < NT; j++)
#pragma GCC unroll 2
                for (int i = 0; i < NG; i++)
                    acc[i][j] = step(acc[i][j], w[i], x, (size_t)j, pairs, p, DP);
        }
#pragma GCC unroll 2
        for (int i = 0; i < NG; i++)
#pragma GCC unroll 16
            for (int j = 0; j < NT; j++) {
                float *yp = y + (size_t)j * ys + ROWS * i;
                _mm512_storeu_ps(yp, p0 == 0 ? acc[i][j] : _mm512_add_ps(_mm512_loadu_ps(yp), acc[i][j]));
            }
    }
}

/* Groups [gb, ge) × NT tokens from token t: pairs of groups, then a last odd one. */
MST_AI void groups(const uint32_t *w, size_t gwords, uint32_t rows, uint32_t pairs, const xin *x, uint32_t t, float *y,
                   uint32_t gb, uint32_t ge, const int NT, const int DP)
{
    const xin xt = {x->p + (size_t)t * pairs, x->f + (size_t)t * 2 * pairs};
    float *yt = y + (size_t)t * rows;
    uint32_t g = gb;
    for (; g + 2 <= ge; g += 2)
        block(w + g * gwords, gwords, pairs, &xt, yt + (size_t)g * ROWS, rows, 2, NT, DP);
    if (g < ge)
        block(w + g * gwords, gwords, pairs, &xt, yt + (size_t)g * ROWS, rows, 1, NT, DP);
}

/* One token, S groups at once (S streams from memory, q words apart), with block()'s arithmetic per lane. */
MST_AI void decode_streams(const uint32_t *g, size_t q_words, uint32_t pairs, const xin *x, float *y, size_t q_rows,
                           const int S, const int DP)
{
    enum { AHEAD = 64 * ROWS }; /* words: prefetch 64 pairs (4 KB) ahead in every stream */
    __m512 sum[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    for (uint32_t p0 = 0; p0 < pairs; p0 += PF) {
        const uint32_t p1 = pairs - p0 < PF ? pairs : p0 + PF;
        __m512 acc[4];
        for (int s = 0; s < S; s++)
            acc[s] = _mm512_setzero_ps();
        for (uint32_t p = p0; p < p1; p++) { /* one pair = one 64-byte line per stream */
            for (int s = 0; s < S; s++) {
                const uint32_t *wp = g + s * q_words + (size_t)p * ROWS;
                _mm_prefetch((const char *)(wp + AHEAD), _MM_HINT_T0);
                acc[s] = step(acc[s], load_pair(wp, DP), x, 0, pairs, p, DP);
            }
        }
        for (int s = 0; s < S; s++)
            sum[s] = p0 == 0 ? acc[s] : _mm512_add_ps(sum[s], acc[s]);
    }
    for (int s = 0; s < S; s++)
        _mm512_storeu_ps(y + s * q_rows, sum[s]);
}

MST_AI void decode(const uint32_t *w, size_t gwords, uint32_t pairs, const xin *x, float *y, uint32_t g0, uint32_t g1,
                   const int DP)
{
    enum { S = 4 };
    const uint32_t q = (g1 - g0) / S;
    uint32_t g = g0;
    for (; g < g0 + q; g++)
        decode_streams(w + g * gwords, q * gwords, pairs, x, y + (size_t)g * ROWS, (size_t)q * ROWS, S, DP);
    for (g = g0 + S * q; g < g1; g++) /* the last (g1 - g0) % 4 groups: one stream */
        decode_streams(w + g * gwords, 0, pairs, x, y + (size_t)g * ROWS, 0, 1, DP);
}

MST_AI void matmul_bf16p(const uint8_t *wb, size_t row_bytes, uint32_t rows, const mst_qact *qa, float *y, uint32_t r0,
                         uint32_t r1, const int DP)
{
    const uint32_t *w = (const uint32_t *)wb;
    const uint32_t pairs = qa->cols / 2, n_tokens = qa->n_tokens;
    const xin x = {qa->xp, qa->xr};
    const size_t gbytes = (size_t)ROWS * row_bytes, gwords = gbytes / 4;
    const uint32_t g0 = r0 / ROWS, g1 = (r1 + ROWS - 1) / ROWS;
    if (n_tokens == 1) {
        decode(w, gwords, pairs, &x, y, g0, g1, DP);
        return;
    }
    /* an even number of groups per tile (pairs of groups never straddle two tiles), about MST_TILE_BYTES */
    const uint32_t tile = gbytes * 2 >= MST_TILE_BYTES ? 2u : (uint32_t)(MST_TILE_BYTES / gbytes) & ~1u;
    for (uint32_t gb = g0; gb < g1; gb += tile) {
        const uint32_t ge = g1 - gb < tile ? g1 : gb + tile;
        uint32_t t = 0;
        for (; t + 12 <= n_tokens; t += 12)
            groups(w, gwords, rows, pairs, &x, t, y, gb, ge, 12, DP);
        for (; t + 8 <= n_tokens; t += 8)
            groups(w, gwords, rows, pairs, &x, t, y, gb, ge, 8, DP);
        for (; t + 4 <= n_tokens; t += 4)
            groups(w, gwords, rows, pairs, &x, t, y, gb, ge, 4, DP);
        for (; t < n_tokens; t++)
            groups(w, gwords, rows, pairs, &x, t, y, gb, ge, 1, DP);
    }
}

void mst_matmul_qa_bf16x16p_avx512bf16(const uint8_t *w, size_t row_bytes, uint32_t rows, const mst_qact *x, float *y,
                                       uint32_t r0, uint32_t r1)
{
    matmul_bf16p(w, row_bytes, rows, x, y, r0, r1, 1);
}

void mst_matmul_qa_bf16x16p_avx512(const uint8_t *w, size_t row_bytes, uint32_t rows, const mst_qact *x, float *y,
                                   uint32_t r0, uint32_t r1)
{
    matmul_bf16p(w, row_bytes, rows, x, y, r0, r1, 0);
}
#endif
