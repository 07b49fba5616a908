/* matmul_gemv_launch.h — the launch of matmul_gemv.cuh's GEMV (the quantized types) and of matmul_float.cuh's
 * 16-byte-load GEMV (the float types): up to KMM_GEMV_MATS matrices of one type and width sharing x in one launch
 * of 4-warp blocks, matrix i owning a run of blocks; and of the SwiGLU pair kernels (gate and up in one warp, only
 * silu(gate) * up stored: matmul_gemv.cuh, matmul_swiglu.cu). Host pass only; include after the kernels' .cuh. */
#ifndef MST_CUDA_MATMUL_GEMV_LAUNCH_H
#define MST_CUDA_MATMUL_GEMV_LAUNCH_H

#include <string.h>

#include "matmul_gemv.h"

static_assert((int)MST_CUDA_GEMV_MATS == (int)KMM_GEMV_MATS, "GEMV matrix limits disagree");

extern "C" mst_status mst_fail(mst_status status, const char *fmt, ...);

/* Fills a (the matrices, x, the block runs for rw rows per warp) and launches k. pair: k is a SwiGLU pair kernel
 * (matmul_gemv.cuh NM = 2, matmul_swiglu.cu): w[0] gate and w[1] up, as many rows each, the grid over w[0]'s rows
 * only, h = silu(gate x) * (up x) into y[0] (y[1] unused). */
static inline mst_status kmm_gemv_launch_rows(mst_dev *d, const mst_kernel_ref *k, const mst_cuda_weight *w,
                                              const mst_dptr *y, uint32_t n_w, mst_dptr x, mst_dptr xd, mst_dptr bsum,
                                              uint32_t n_tokens, uint32_t lpr_log2, int pair = 0)
{
    if (!w || !y || n_w == 0 || n_w > KMM_GEMV_MATS || n_tokens == 0 || n_tokens > KMM_GEMV_MAX_TOKENS ||
        (pair && n_w != 2))
        return mst_fail(MST_ERR_INVALID_ARGUMENT,
                        "GEMV launch: %u matrices (1 .. %d; a SwiGLU pair 2) and %u tokens (1 .. %d)", n_w,
                        (int)KMM_GEMV_MATS, n_tokens, (int)KMM_GEMV_MAX_TOKENS);
    if (pair && w[1].rows != w[0].rows)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "GEMV launch: the SwiGLU pair's up has %u rows, its gate %u",
                        w[1].rows, w[0].rows);
    kmm_gemv_args a;
    memset(&a, 0, sizeof a);
    const uint64_t rows_per_block = (uint64_t)KMM_GEMV_WARPS * (MST_WARP >> lpr_log2);
    uint64_t blocks = 0;
    for (uint32_t i = 0; i < n_w; i++) {
        if (w[i].type != w[0].type || w[i].cols != w[0].cols || w[i].rows == 0)
            return mst_fail(MST_ERR_INVALID_ARGUMENT,
                            "GEMV launch: matrix %u (type %d, %u x %u) does not match matrix 0 (type %d, %u columns)",
                            i, (int)w[i].type, w[i].rows, w[i].cols, (int)w[0].type, w[0].cols);
        a.m[i].w = w[i].data;
        a.m[i].y = pair && i > 0 ? 0 : y[i];
        a.m[i].row_bytes = w[i].row_bytes;
        a.m[i].rows = w[i].rows;
        a.m[i].block0 = (uint32_t)blocks;
        if (pair && i > 0)
            continue; /* the pair's blocks take both matrices' rows */
        blocks += (w[i].rows + rows_per_block - 1) / rows_per_block;
        if (blocks > 0x7fffffffu)
            return mst_fail(MST_ERR_INVALID_ARGUMENT, "GEMV launch: %llu blocks are more than one launch takes",
                            (unsigned long long)blocks);
    }
    a.x = x;
    a.xd = xd;
    a.bsum = bsum;
    a.n_mats = n_w;
    a.cols = w[0].cols;
    a.n_tokens = n_tokens;
    a.lpr_log2 = lpr_log2;
    void *args[] = {&a};
    const mst_dim3 grid = {(uint32_t)blocks, 1, 1}, block = {KMM_GEMV_THREADS, 1, 1};
    return mst_dev_launch(d, k, grid, block, 0, args);
}

/* The quantized GEMV's rows per warp for unit type T, RW = 32 >> lpr_log2: doubled (from 1, up to 8, LPR >= 8 for
 * the K-quants whose 8 lanes share a super-block) while RW rows of the longest row_bytes still fit one span of
 * T::U units per lane (matmul_gemv.cuh: then a warp stages its rows in one span, within its shared slice). A
 * function of the matrices' widths alone, so gate and up get the same split in one launch and as a SwiGLU pair,
 * which keeps the pair's sums those of the separate GEMV. */
template <class T> static inline uint32_t kmm_gemv_lpr_log2(const mst_cuda_weight *w, uint32_t n_w)
{
    const uint64_t span = (uint64_t)T::U * MST_WARP / T::UPB * T::BYTES;
    const uint64_t units = (uint64_t)w[0].cols / T::QK * T::UPB; /* units per row */
    const uint32_t min_log2 = T::UPB > 4 ? 3 : 2;
    uint64_t max_rb = 0;
    for (uint32_t i = 0; i < n_w; i++)
        max_rb = w[i].row_bytes > max_rb ? w[i].row_bytes : max_rb;
    uint32_t lpr_log2 = 5;
    while (lpr_log2 > min_log2 && ((uint64_t)MST_WARP >> (lpr_log2 - 1)) * max_rb <= span &&
           units <= ((uint64_t)T::U << (lpr_log2 - 1)))
        lpr_log2--;
    return lpr_log2;
}

/* The quantized GEMV for unit type T over n_w matrices. */
template <class T>
static inline mst_status kmm_launch_gemv(mst_dev *d, const mst_kernel_ref *k, const mst_cuda_weight *w,
                                         const mst_dptr *y, uint32_t n_w, mst_dptr x, mst_dptr xd, mst_dptr bsum,
                                         uint32_t n_tokens)
{
    if (!w || n_w == 0)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "GEMV launch: no matrix");
    return kmm_gemv_launch_rows(d, k, w, y, n_w, x, xd, bsum, n_tokens, kmm_gemv_lpr_log2<T>(w, n_w));
}

/* The SwiGLU pair (w[0] gate, w[1] up) of unit type T: h = silu(gate x) * (up x) in one launch of k
 * (mst_k_gemv_swiglu_<T>), declared in matmul_gemv.cuh for the launchers KMM_GEMV_KERNEL writes. */
template <class T>
static mst_status kmm_launch_gemv_swiglu(mst_dev *d, const mst_kernel_ref *k, const mst_cuda_weight *w, mst_dptr h,
                                         mst_dptr x, mst_dptr xd, mst_dptr bsum, uint32_t n_tokens)
{
    if (!w)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "GEMV launch: no matrix");
    const mst_dptr y[2] = {h, 0};
    return kmm_gemv_launch_rows(d, k, w, y, 2, x, xd, bsum, n_tokens, kmm_gemv_lpr_log2<T>(w, 2), 1);
}

/* The float types' GEMV: the 16-byte kernel v4 in one launch when every matrix's start and row_bytes, x and the
 * row length cols * 4 of x are multiples of 16 bytes (per = elements per 16 bytes; cols % per == 0), else the
 * any-alignment kernel once per matrix (the argument list of matmul_launch.h, 4 rows per block). */
static inline mst_status kmm_launch_gemv_float(mst_dev *d, const mst_kernel_ref *v4, const mst_kernel_ref *any,
                                               uint32_t per, const mst_cuda_weight *w, const mst_dptr *y, uint32_t n_w,
                                               mst_dptr x, uint32_t n_tokens)
{
    if (!w || !y || n_w == 0)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "GEMV launch: no matrix");
    int aligned = w[0].cols % per == 0 && w[0].cols % 4 == 0 && x % 16 == 0 && n_w <= KMM_GEMV_MATS;
    for (uint32_t i = 0; i < n_w; i++)
        aligned = aligned && w[i].data % 16 == 0 && w[i].row_bytes % 16 == 0;
    if (aligned)
        return kmm_gemv_launch_rows(d, v4, w, y, n_w, x, 0, 0, n_tokens, 5);
    for (uint32_t i = 0; i < n_w; i++) {
        const mst_status st = kmm_launch_mm(d, any, NULL, &w[i], x, 0, 0, n_tokens, y[i]);
        if (st != MST_OK)
            return st;
    }
    return MST_OK;
}

/* The host entry points of a 32-weight block type T (Q4_0, Q8_0) with unit type U, written once so the types
 * differ only in their names: mst_cuda_gemv_<T> (the GEMV over n_w matrices sharing x) and mst_cuda_mm_<T> (the
 * GEMV up to MST_CUDA_GEMV_MAX_TOKENS tokens, the tiled GEMM beyond). Needs matmul_launch.h for the GEMM. */
#define KMM_QBLOCK_LAUNCHERS(T, U)                                                                                  \
    extern "C" mst_status mst_cuda_gemv_##T(mst_dev *d, const mst_cuda_weight *w, const mst_dptr *y, uint32_t n_w, \
                                            const mst_cuda_qact *a)                                                 \
    {                                                                                                                \
        return kmm_launch_gemv<U>(d, &mst_kernel_mst_k_gemv_##T, w, y, n_w, a->qs, a->d, a->bsum, a->n_tokens);     \
    }                                                                                                                \
    extern "C" mst_status mst_cuda_mm_##T(mst_dev *d, const mst_cuda_weight *w, const mst_cuda_qact *a, mst_dptr y)  \
    {                                                                                                                \
        if (a->n_tokens <= MST_CUDA_GEMV_MAX_TOKENS)                                                                 \
            return mst_cuda_gemv_##T(d, w, &y, 1, a);                                                               \
        return kmm_launch_qblock(d, NULL, &mst_kernel_mst_k_gemm_##T, w, a, y);                                     \
    }

#endif
