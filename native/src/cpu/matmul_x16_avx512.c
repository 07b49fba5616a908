/* matmul_x16_avx512.c — F16 and BF16 weights repacked 16 rows at a time (repack.h) times float
 * activations, AVX-512. The scalar reference is mst_matmul_ref_f16/bf16 on the file's layout, the
 * matrix before repacking (test_matmul_x16.c).
 *
 * Outer-product form: each float lane is one of 16 rows. Per column, one 32-byte load and conversion
 * gives the 16 rows' weights, and each token adds weight × (its activation broadcast from memory) with
 * one FMA. The dot-product-per-row kernels (matmul_avx512.c) instead reload 64 bytes of activations per
 * FMA, from L2 once 4 tokens × a 4096-wide row no longer fit L1, and end every row in a horizontal sum.
 *
 * Prefill: 2 row groups × 8 tokens = 16 accumulators + 2 weight vectors of the 32 zmm registers; one
 * broadcast feeds 2 FMAs and one converted weight vector 8 (1 group × 8 tokens is slower; 2 × 12 is no
 * clear gain for 8 more registers: benchmarks/RESULTS.md). Row groups are walked in tiles of
 * MST_TILE_BYTES that stay in L2 while every block of tokens runs over them (256 KB and 1 MB timed the
 * same; at 4096 columns 256 KB leaves room for 8 tokens of activations in a 1 MB L2). Decode
 * (one token) is memory-bound and walks 4 ranges of groups at once, the idea and the reason of
 * MST_DEFINE_DECODE_STREAMS (matmul_tile.h) written for float activations: with 4 streams a matrix past L3
 * is read close to a plain 4-stream read's rate, with 1 it is not.
 *
 * Summation: per lane, FLUSH columns are summed from zero by FMAs, then that partial sum is added to the
 * running one (kept in y during prefill, in registers during decode). A lane's result then carries at
 * most FLUSH + ceil(cols/FLUSH) roundings, not cols of them: for 14336 columns 128 + 112 = 240, so
 * |error| <= 240·2^-24·Σ|w·x| (1.4e-5 relative), the bound test_matmul_x16.c checks. Every path (8, 4
 * or 1 tokens at once, decode streams) performs exactly these operations in this order for each lane,
 * so a token's result does not depend on how many tokens ran with it. */
#include "ops.h"

#if defined(__x86_64__)
#pragma GCC target("avx512f,avx512bw,avx512vl,avx2,fma,f16c")
#include <immintrin.h>

#include "matmul_tile.h"
#include "repack.h"

enum {
    FLUSH = MST_X16_FLUSH, /* columns per partial sum: about sqrt(cols) minimizes FLUSH + cols/FLUSH */
    NG_MAX = 2,
    NT_MAX = 8,
};

/* 16 weights (one column of a group) as floats: F16 converts in hardware; BF16 is the top half of a
 * float, so zero-extend to 32 bits and shift left 16. */
MST_AI __m512 load16(const uint16_t *p, const int bf16)
{
    const __m256i h = _mm256_loadu_si256((const __m256i *)p);
    return bf16 ? _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)) : _mm512_cvtph_ps(h);
}

/* NG groups (NG = 2 or 1; gs elements apart) × NT tokens (x: token j at x + j·cols), written to
 * y[j·ys + 16·i + lane]. The unroll pragmas keep the accumulators in registers: without them GCC 12
 * left the token loop rolled for NG = 2 and kept the 16 accumulators on the stack. */
MST_AI void block(const uint16_t *g, size_t gs, uint32_t cols, const float *x, float *y, size_t ys, const int NG,
                  const int NT, const int bf16)
{
    for (uint32_t c0 = 0; c0 < cols; c0 += FLUSH) {
        const uint32_t c1 = cols - c0 < FLUSH ? cols : c0 + FLUSH;
        __m512 acc[NG_MAX][NT_MAX];
#pragma GCC unroll 2
        for (int i = 0; i < NG; i++)
#pragma GCC unroll 16
            for (int j = 0; j < NT; j++)
                acc[i][j] = _mm512_setzero_ps();
        for (uint32_t c = c0; c < c1; c++) {
            __m512 w[NG_MAX];
#pragma GCC unroll 2
            for (int i = 0; i < NG; i++)
                w[i] = load16(g + i * gs + (size_t)c * 16, bf16);
#pragma GCC unroll 16
            for (int j = 0; j < NT; j++) {
                const __m512 xb = _mm512_set1_ps(x[(size_t)j * cols + c]);
#pragma GCC unroll 2
                for (int i = 0; i < NG; i++)
                    acc[i][j] = _mm512_fmadd_ps(w[i], xb, acc[i][j]);
            }
        }
        /* the running sums live in y: 16 more registers would not fit beside the 16 accumulators */
#pragma GCC unroll 2
        for (int i = 0; i < NG; i++)
#pragma GCC unroll 16
            for (int j = 0; j < NT; j++) {
                float *yp = y + (size_t)j * ys + 16 * i;
                _mm512_storeu_ps(yp, c0 == 0 ? acc[i][j] : _mm512_add_ps(_mm512_loadu_ps(yp), acc[i][j]));
            }
    }
}

/* Groups [gb, ge) × NT tokens from token t: pairs of groups, then a last odd one. */
MST_AI void groups(const uint16_t *w, size_t gelems, uint32_t rows, uint32_t cols, const float *x, uint32_t t,
                   float *y, uint32_t gb, uint32_t ge, const int NT, const int bf16)
{
    const float *xt = x + (size_t)t * cols;
    float *yt = y + (size_t)t * rows;
    uint32_t g = gb;
    for (; g + 2 <= ge; g += 2)
        block(w + g * gelems, gelems, cols, xt, yt + (size_t)g * 16, rows, 2, NT, bf16);
    if (g < ge)
        block(w + g * gelems, gelems, cols, xt, yt + (size_t)g * 16, rows, 1, NT, bf16);
}

/* One token, S groups at once (S streams from memory, starting q groups apart), with block()'s
 * arithmetic for each lane: partial sums of FLUSH columns added into a running sum. */
MST_AI void decode_streams(const uint16_t *g, size_t q_elems, uint32_t cols, const float *x, float *y, size_t q_rows,
                           const int S, const int bf16)
{
    enum { AHEAD = 128 * 16 }; /* elements: prefetch 128 columns (4 KB) ahead in every stream */
    __m512 sum[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    for (uint32_t c0 = 0; c0 < cols; c0 += FLUSH) {
        const uint32_t c1 = cols - c0 < FLUSH ? cols : c0 + FLUSH;
        __m512 acc[4];
        for (int s = 0; s < S; s++)
            acc[s] = _mm512_setzero_ps();
        uint32_t c = c0;
        for (; c + 2 <= c1; c += 2) { /* two columns = one 64-byte line per stream */
            const __m512 x0 = _mm512_set1_ps(x[c]), x1 = _mm512_set1_ps(x[c + 1]);
            for (int s = 0; s < S; s++) {
                const uint16_t *p = g + s * q_elems + (size_t)c * 16;
                _mm_prefetch((const char *)(p + AHEAD), _MM_HINT_T0);
                acc[s] = _mm512_fmadd_ps(load16(p, bf16), x0, acc[s]);
                acc[s] = _mm512_fmadd_ps(load16(p + 16, bf16), x1, acc[s]);
            }
        }
        if (c < c1) {
            const __m512 x0 = _mm512_set1_ps(x[c]);
            for (int s = 0; s < S; s++)
                acc[s] = _mm512_fmadd_ps(load16(g + s * q_elems + (size_t)c * 16, bf16), x0, acc[s]);
        }
        for (int s = 0; s < S; s++)
            sum[s] = c0 == 0 ? acc[s] : _mm512_add_ps(sum[s], acc[s]);
    }
    for (int s = 0; s < S; s++)
        _mm512_storeu_ps(y + s * q_rows, sum[s]);
}

MST_AI void decode(const uint16_t *w, size_t gelems, uint32_t cols, const float *x, float *y, uint32_t g0,
                   uint32_t g1, const int bf16)
{
    enum { S = 4 };
    const uint32_t q = (g1 - g0) / S;
    uint32_t g = g0;
    for (; g < g0 + q; g++)
        decode_streams(w + g * gelems, q * gelems, cols, x, y + (size_t)g * 16, (size_t)q * 16, S, bf16);
    for (g = g0 + S * q; g < g1; g++) /* the last (g1 - g0) % 4 groups: one stream */
        decode_streams(w + g * gelems, 0, cols, x, y + (size_t)g * 16, 0, 1, bf16);
}

MST_AI void matmul_x16(const uint8_t *wb, size_t row_bytes, uint32_t rows, uint32_t cols, const float *x,
                       uint32_t n_tokens, float *y, uint32_t r0, uint32_t r1, const int bf16)
{
    const uint16_t *w = (const uint16_t *)wb;
    const size_t gbytes = (size_t)MST_X16_ROWS * row_bytes, gelems = gbytes / 2;
    const uint32_t g0 = r0 / MST_X16_ROWS, g1 = (r1 + MST_X16_ROWS - 1) / MST_X16_ROWS;
    if (n_tokens == 1) {
        decode(w, gelems, cols, x, y, g0, g1, bf16);
        return;
    }
    /* an even number of groups per tile (pairs never straddle two tiles), about MST_TILE_BYTES */
    uint32_t tile = gbytes * 2 >= MST_TILE_BYTES ? 2u : (uint32_t)(MST_TILE_BYTES / gbytes) & ~1u;
    for (uint32_t gb = g0; gb < g1; gb += tile) {
        const uint32_t ge = g1 - gb < tile ? g1 : gb + tile;
        uint32_t t = 0;
        for (; t + 8 <= n_tokens; t += 8)
            groups(w, gelems, rows, cols, x, t, y, gb, ge, 8, bf16);
        for (; t + 4 <= n_tokens; t += 4)
            groups(w, gelems, rows, cols, x, t, y, gb, ge, 4, bf16);
        for (; t < n_tokens; t++)
            groups(w, gelems, rows, cols, x, t, y, gb, ge, 1, bf16);
    }
}

void mst_matmul_f16x16_avx512(const uint8_t *w, size_t row_bytes, uint32_t rows, uint32_t cols, const float *x,
                              uint32_t n_tokens, float *y, uint32_t r0, uint32_t r1)
{
    matmul_x16(w, row_bytes, rows, cols, x, n_tokens, y, r0, r1, 0);
}

void mst_matmul_bf16x16_avx512(const uint8_t *w, size_t row_bytes, uint32_t rows, uint32_t cols, const float *x,
                               uint32_t n_tokens, float *y, uint32_t r0, uint32_t r1)
{
    matmul_x16(w, row_bytes, rows, cols, x, n_tokens, y, r0, r1, 1);
}
#endif
