/* matmul_launch.h — the launch of one matmul kernel pair (GEMV for up to MST_CUDA_GEMV_MAX_TOKENS tokens, tiled
 * GEMM above), shared by matmul_<type>.cu. Host pass only. Every matmul kernel takes the same arguments:
 *   (const uint8_t *w, uint64_t row_bytes, uint32_t rows, uint32_t cols, const <act> *x, const float *xd,
 *    const int32_t *bsum, uint32_t n_tokens, float *y)
 * with x the activation words (quantized types) or floats (float types), xd / bsum the block scales / sums where
 * the activation format has them (else 0). Launch shapes: GEMV 128 threads = 4 warps = 4 rows per block (the
 * float types' any-alignment GEMV only; the other GEMVs take kmm_gemv_args, matmul_gemv_launch.h); GEMM 128
 * threads per 32-row x 32-token tile. */
#ifndef MST_CUDA_MATMUL_LAUNCH_H
#define MST_CUDA_MATMUL_LAUNCH_H

#include "matmul_parts.h"

/* matmul_<type>.cu include quant_blocks.cuh first: the kernels' token limit is the one this launch assumes. */
static_assert((int)MST_CUDA_GEMV_MAX_TOKENS == (int)KMM_GEMV_MAX_TOKENS, "GEMV token limits disagree");

static inline mst_status kmm_launch_mm(mst_dev *d, const mst_kernel_ref *gemv, const mst_kernel_ref *gemm,
                                       const mst_cuda_weight *w, mst_dptr x, mst_dptr xd, mst_dptr bsum,
                                       uint32_t n_tokens, mst_dptr y)
{
    mst_dptr wd = w->data;
    uint64_t row_bytes = w->row_bytes;
    uint32_t rows = w->rows, cols = w->cols, n = n_tokens;
    void *args[] = {&wd, &row_bytes, &rows, &cols, &x, &xd, &bsum, &n, &y};
    const mst_dim3 block = {128, 1, 1};
    if (gemv && n_tokens <= MST_CUDA_GEMV_MAX_TOKENS) { /* no gemv: the caller ran matmul_gemv_launch.h's GEMV */
        const mst_dim3 grid = {(rows + 3) / 4, 1, 1};
        return mst_dev_launch(d, gemv, grid, block, 0, args);
    }
    const mst_dim3 grid = {(rows + 31) / 32, (n_tokens + 31) / 32, 1};
    return mst_dev_launch(d, gemm, grid, block, 0, args);
}

/* The quantized types: x, xd and bsum from the scratch. */
static inline mst_status kmm_launch_qblock(mst_dev *d, const mst_kernel_ref *gemv, const mst_kernel_ref *gemm,
                                           const mst_cuda_weight *w, const mst_cuda_qact *a, mst_dptr y)
{
    return kmm_launch_mm(d, gemv, gemm, w, a->qs, a->d, a->bsum, a->n_tokens, y);
}

/* The tensor-core GEMMs (matmul_mma_*.cu, tile in matmul_mma.cuh): 128 threads per 64-row x 64-token tile, the
 * argument list above. */
static inline mst_status kmm_launch_mma(mst_dev *d, const mst_kernel_ref *k, const mst_cuda_weight *w, mst_dptr x,
                                        mst_dptr xd, mst_dptr bsum, uint32_t n_tokens, mst_dptr y)
{
    mst_dptr wd = w->data;
    uint64_t row_bytes = w->row_bytes;
    uint32_t rows = w->rows, cols = w->cols, n = n_tokens;
    void *args[] = {&wd, &row_bytes, &rows, &cols, &x, &xd, &bsum, &n, &y};
    const mst_dim3 grid = {(rows + 63) / 64, (n_tokens + 63) / 64, 1}, block = {128, 1, 1};
    return mst_dev_launch(d, k, grid, block, 0, args);
}

#endif
