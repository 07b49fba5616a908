/* matmul_tile_avx2.h — matmul_tile.h's x16 loop nest for the AVX2 x16 kernels: a group's 16 rows in two ymm
 * halves (acc16: rows 0-7 and 8-15), and prefill token groups of at most 4 (16 ymm registers: 8 hold a
 * decoded half-block); a kernel file may raise MST_X16_NT_MAX before its driver macro (matmul_q6kx16_avx2.c
 * and matmul_q4kx16_avx2.c take 8, their running sums in memory). Included first inside the kernel file's
 * `#if defined(__x86_64__)`: it sets the file's target.
 *
 * Each AVX2 x16 file is compiled twice (CMakeLists.txt): as plain AVX2 (pmaddubsw/pmaddwd), and with
 * MST_X16_AVXVNNI defined for CPUs with AVX-VNNI (vpdpbusd/vpdpwssd on ymm: Intel client cores since Alder
 * Lake, which have no AVX-512). Both form the same exact integer sums with the same float operations, so
 * they give the same bits. MST_AVX2_X16_NAME(f) is f_avx2 or f_avxvnni. */
#ifndef MST_MATMUL_TILE_AVX2_H
#define MST_MATMUL_TILE_AVX2_H

#if defined(MST_X16_AVXVNNI)
#pragma GCC target("avx2,fma,f16c,avxvnni")
#define MST_AVX2_X16_NAME(f) f##_avxvnni
#else
#pragma GCC target("avx2,fma,f16c")
#define MST_AVX2_X16_NAME(f) f##_avx2
#endif
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

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

/* 4 bytes at p (4 activations) broadcast to every lane */
static inline __attribute__((always_inline)) __m256i mst_bcast32(const void *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

#define MST_X16_ACC mst_acc16
#define MST_X16_ZERO() mst_acc16_zero()
#define MST_X16_STORE(y, a) mst_acc16_store(y, a)
#define MST_X16_NT_MAX 4
#include "matmul_tile.h"

/* matmul_tile.h's x16 definitions under the variant's name: the extra level expands MST_AVX2_X16_NAME
 * before the ## inside them pastes it */
#define MST_AVX2_X16_EXPAND(m, ...) m(__VA_ARGS__)
#define MST_AVX2_X16_FROM_UNIT(name, ...) MST_AVX2_X16_EXPAND(MST_DEFINE_X16_QA_FROM_UNIT, MST_AVX2_X16_NAME(name), __VA_ARGS__)
#define MST_AVX2_X16_FROM_PASSES(name, ...)                                                                \
    MST_AVX2_X16_EXPAND(MST_DEFINE_X16_QA_FROM_PASSES, MST_AVX2_X16_NAME(name), __VA_ARGS__)
#define MST_AVX2_X16_FROM_PASSES_PREFILL(name, ...)                                                        \
    MST_AVX2_X16_EXPAND(MST_DEFINE_X16_QA_FROM_PASSES_PREFILL, MST_AVX2_X16_NAME(name), __VA_ARGS__)

#endif
