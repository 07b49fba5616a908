/* matmul_tile_avx2.h — matmul_tile.h's x16 loop nest for AVX2 files: a group's 16 rows in two ymm halves
 * (acc16: rows 0-7 and 8-15), and prefill token groups of at most 4 (16 ymm registers: 8 hold a decoded
 * half-block). Included inside the file's `#pragma GCC target` region instead of matmul_tile.h. */
#ifndef MST_MATMUL_TILE_AVX2_H
#define MST_MATMUL_TILE_AVX2_H

#include <immintrin.h>
#include <stdint.h>

typedef struct {
    __m256 h[2]; /* rows 0-7, rows 8-15 of the group */
} mst_acc16;

static inline __attribute__((always_inline)) mst_acc16 mst_acc16_zero(void)
{
    mst_acc16 a = {{_mm256_setzero_ps(), _mm256_setzero_ps()}};
    return a;
}

static inline __attribute__((always_inline)) void mst_acc16_store(float *y, mst_acc16 a)
{
    _mm256_storeu_ps(y, a.h[0]);
    _mm256_storeu_ps(y + 8, a.h[1]);
}

/* Q4_0/Q8_0 units (repack.h) start with the 16 rows' fp16 scales: those of half h (rows 8h..8h+7) times
 * the token's d_x, lane by lane the VNNI kernels' dw·dx. */
static inline __attribute__((always_inline)) __m256 mst_x16_half_scale(const uint8_t *unit, int h, float dx)
{
    return _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(unit + 16 * h))), _mm256_set1_ps(dx));
}

#define MST_X16_ACC mst_acc16
#define MST_X16_ZERO() mst_acc16_zero()
#define MST_X16_STORE(y, a) mst_acc16_store(y, a)
#define MST_X16_NT_MAX 4
#include "matmul_tile.h"

#endif
