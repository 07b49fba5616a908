/* matmul_x16_avx2.c — F16 and BF16 weights repacked 16 rows at a time (repack.h) times float
 * activations, AVX2: matmul_x16_avx512.c's outer-product form with 8 float lanes, so a 16-row group is
 * two ymm halves (rows 0-7 and 8-15). The scalar reference is mst_matmul_ref_f16/bf16 on the matrix
 * before repacking (test_matmul_x16.c).
 *
 * Prefill: 1 group (2 halves) × 6 tokens = 12 accumulators + 2 weight vectors + 1 broadcast of the 16
 * ymm registers (AVX2 FMAs cannot broadcast from memory, so the broadcast needs a register of its own).
 * Decode: 4 groups at once, 4 memory streams (MST_DEFINE_DECODE_STREAMS in matmul_tile.h says why),
 * 8 accumulators. Summation as in the AVX-512 file: per lane, MST_X16_FLUSH columns summed from zero
 * by FMAs, then added into the running sum kept in y; every path does exactly that, so a token's
 * result does not depend on how many tokens ran with it (and equals the AVX-512 kernels' bit for bit). */
#include "ops.h"

#if defined(__x86_64__)
#pragma GCC target("avx2,fma,f16c")
#include <immintrin.h>

#include "matmul_tile.h"
#include "repack.h"

enum {
    FLUSH = MST_X16_FLUSH,
    NT_MAX = 6,
};

/* 8 weights (half h of one column of a group) as floats; BF16: zero-extend and shift left 16. */
MST_AI __m256 load8(const uint16_t *p, const int bf16)
{
    const __m128i h = _mm_loadu_si128((const __m128i *)p);
    return bf16 ? _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16)) : _mm256_cvtph_ps(h);
}

/* Adds acc into the running sum at y (or starts it, for the first FLUSH columns). */
MST_AI void flush(float *y, __m256 acc, uint32_t c0)
{
    _mm256_storeu_ps(y, c0 == 0 ? acc : _mm256_add_ps(_mm256_loadu_ps(y), acc));
}

/* One group × NT tokens (x: token j at x + j·cols), written to y[j·ys + lane]. */
MST_AI void block(const uint16_t *g, uint32_t cols, const float *x, float *y, size_t ys, const int NT, const int bf16)
{
    for (uint32_t c0 = 0; c0 < cols; c0 += FLUSH) {
        const uint32_t c1 = cols - c0 < FLUSH ? cols : c0 + FLUSH;
        __m256 lo[NT_MAX], hi[NT_MAX];
#pragma GCC unroll 6
        for (int j = 0; j < NT; j++)
            lo[j] = hi[j] = _mm256_setzero_ps();
        for (uint32_t c = c0; c < c1; c++) {
            const __m256 w0 = load8(g + (size_t)c * 16, bf16), w1 = load8(g + (size_t)c * 16 + 8, bf16);
#pragma GCC unroll 6
            for (int j = 0; j < NT; j++) {
                const __m256 xb = _mm256_broadcast_ss(x + (size_t)j * cols + c);
                lo[j] = _mm256_fmadd_ps(w0, xb, lo[j]);
                hi[j] = _mm256_fmadd_ps(w1, xb, hi[j]);
            }
        }
#pragma GCC unroll 6
        for (int j = 0; j < NT; j++) {
            flush(y + (size_t)j * ys, lo[j], c0);
            flush(y + (size_t)j * ys + 8, hi[j], c0);
        }
    }
}

/* One token, S groups at once (q_elems apart in w, q_rows apart in y): block()'s arithmetic per lane. */
MST_AI void decode_streams(const uint16_t *g, size_t q_elems, uint32_t cols, const float *x, float *y, size_t q_rows,
                           const int S, const int bf16)
{
    enum { AHEAD = 128 * 16 }; /* elements: prefetch 128 columns (4 KB) ahead in every stream */
    for (uint32_t c0 = 0; c0 < cols; c0 += FLUSH) {
        const uint32_t c1 = cols - c0 < FLUSH ? cols : c0 + FLUSH;
        __m256 lo[4], hi[4];
        for (int s = 0; s < S; s++)
            lo[s] = hi[s] = _mm256_setzero_ps();
        for (uint32_t c = c0; c < c1; c++) {
            const __m256 xb = _mm256_broadcast_ss(x + c);
            for (int s = 0; s < S; s++) {
                const uint16_t *p = g + s * q_elems + (size_t)c * 16;
                if ((c & 1) == 0) /* one 64-byte line per two columns */
                    _mm_prefetch((const char *)(p + AHEAD), _MM_HINT_T0);
                lo[s] = _mm256_fmadd_ps(load8(p, bf16), xb, lo[s]);
                hi[s] = _mm256_fmadd_ps(load8(p + 8, bf16), xb, hi[s]);
            }
        }
        for (int s = 0; s < S; s++) {
            flush(y + s * q_rows, lo[s], c0);
            flush(y + s * q_rows + 8, hi[s], c0);
        }
    }
}

MST_AI void matmul_x16(const uint8_t *wb, size_t row_bytes, uint32_t rows, uint32_t cols, const float *x,
                       uint32_t n_tokens, float *y, uint32_t r0, uint32_t r1, const int bf16)
{
    const uint16_t *w = (const uint16_t *)wb;
    const size_t gbytes = (size_t)MST_X16_ROWS * row_bytes, gelems = gbytes / 2;
    const uint32_t g0 = r0 / MST_X16_ROWS, g1 = (r1 + MST_X16_ROWS - 1) / MST_X16_ROWS;
    if (n_tokens == 1) {
        enum { S = 4 };
        const uint32_t q = (g1 - g0) / S;
        for (uint32_t g = g0; g < g0 + q; g++)
            decode_streams(w + g * gelems, q * gelems, cols, x, y + (size_t)g * 16, (size_t)q * 16, S, bf16);
        for (uint32_t g = g0 + S * q; g < g1; g++) /* the last (g1 - g0) % 4 groups: one stream */
            decode_streams(w + g * gelems, 0, cols, x, y + (size_t)g * 16, 0, 1, bf16);
        return;
    }
    const uint32_t tile = gbytes >= MST_TILE_BYTES ? 1u : (uint32_t)(MST_TILE_BYTES / gbytes);
    for (uint32_t gb = g0; gb < g1; gb += tile) {
        const uint32_t ge = g1 - gb < tile ? g1 : gb + tile;
        uint32_t t = 0;
        for (; t + 6 <= n_tokens; t += 6)
            for (uint32_t g = gb; g < ge; g++)
                block(w + g * gelems, cols, x + (size_t)t * cols, y + (size_t)t * rows + g * 16, rows, 6, bf16);
        for (; t + 3 <= n_tokens; t += 3)
            for (uint32_t g = gb; g < ge; g++)
                block(w + g * gelems, cols, x + (size_t)t * cols, y + (size_t)t * rows + g * 16, rows, 3, bf16);
        for (; t < n_tokens; t++)
            for (uint32_t g = gb; g < ge; g++)
                block(w + g * gelems, cols, x + (size_t)t * cols, y + (size_t)t * rows + g * 16, rows, 1, bf16);
    }
}

void mst_matmul_f16x16_avx2(const uint8_t *w, size_t row_bytes, uint32_t rows, uint32_t cols, const float *x,
                            uint32_t n_tokens, float *y, uint32_t r0, uint32_t r1)
{
    matmul_x16(w, row_bytes, rows, cols, x, n_tokens, y, r0, r1, 0);
}

void mst_matmul_bf16x16_avx2(const uint8_t *w, size_t row_bytes, uint32_t rows, uint32_t cols, const float *x,
                             uint32_t n_tokens, float *y, uint32_t r0, uint32_t r1)
{
    matmul_x16(w, row_bytes, rows, cols, x, n_tokens, y, r0, r1, 1);
}
#endif
