/* matmul_common.cuh — what the matmul kernel pairs (matmul_<type>.cu, matmul_qblock.cuh, matmul_float.cuh)
 * share: the warp-per-row mapping and store of the GEMVs that take one row per warp (the float types'; the
 * quantized GEMV's rows-per-warp split is matmul_gemv.cuh's); the GEMM's 32-row x 32-token tile (128 threads, each rows
 * tr, tr+16 x tokens tt, tt+8, tt+16, tt+24), its dp4a micro-tile and its store; the K-quant GEMMs' activation
 * staging. None of them adds floats in a new order: the GEMV store is the lane tree every GEMV used, the
 * micro-tile is integer (exact). Include after cuda_compat.h. */
#ifndef MST_CUDA_MATMUL_COMMON_CUH
#define MST_CUDA_MATMUL_COMMON_CUH

#include "quant_blocks.cuh"

/* GEMV: warp w of block b takes weight row b * (warps per block) + w. */
MST_DEVICE uint32_t kmm_gemv_row()
{
    return blockIdx.x * (blockDim.x / MST_WARP) + threadIdx.x / MST_WARP;
}

/* GEMV epilogue: each token's per-lane partial sums meet in a xor tree and lane 0 stores y[t][row]. Forced
 * inline with the loop unrolled, acc[] is indexed by constants and stays in registers. */
MST_DEVICE void kmm_gemv_store(const float acc[KMM_GEMV_MAX_TOKENS], uint32_t n_tokens, uint32_t lane, float *y,
                               uint32_t rows, uint32_t row)
{
KMM_UNROLL
    for (uint32_t t = 0; t < KMM_GEMV_MAX_TOKENS; t++) {
        if (t < n_tokens) { /* the same for every lane: the shuffles stay converged */
            float v = acc[t];
            for (int m = 16; m > 0; m >>= 1)
                v += mst_shfl_xor_f32(v, m);
            if (lane == 0)
                y[(uint64_t)t * rows + row] = v;
        }
    }
}

/* GEMM tile: 32 rows x 32 tokens per block of 128 threads; thread tid owns rows tr, tr+16 (tr = tid % 16) and
 * tokens tt, tt+8, tt+16, tt+24 (tt = tid / 16). */
enum { KMM_TILE_M = 32, KMM_TILE_N = 32, KMM_TILE_THREADS = 128 };

/* dot[i][j] += the dp4a products of words k0 .. k0+NK-1 of shared weight row tr+16i (ws) and shared activation
 * row tt+8j (xs), rows LD words apart, added word by word. ws and xs are the MST_SHARED arrays themselves. */
template <int LD, int NK, class S>
MST_DEVICE void kmm_tile_dp4a(const S &ws, const S &xs, uint32_t tr, uint32_t tt, uint32_t k0, int32_t dot[2][4])
{
    for (uint32_t k = 0; k < NK; k++) {
        int32_t a[2], x[4];
        for (int i = 0; i < 2; i++)
            a[i] = ws[(tr + 16 * i) * LD + k0 + k];
        for (int j = 0; j < 4; j++)
            x[j] = xs[(tt + 8 * j) * LD + k0 + k];
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 4; j++)
                dot[i][j] = mst_dp4a(a[i], x[j], dot[i][j]);
    }
}

/* The K-quant GEMMs' activation side of super-block ib (Q8_K, quantize_act.cu): each token's 64 words into xs
 * (rows LD words apart, consecutive threads along the words) and its scale into xds; tokens past the end as
 * zeros. The 16-value sums differ per type and stay with the kernels. */
template <int LD, class SI, class SF>
MST_DEVICE void kmm_stage_q8_k(SI &xs, SF &xds, const int32_t *xq, const float *xd, uint32_t cols, uint32_t t0,
                               uint32_t n_tokens, uint32_t ib)
{
    const uint32_t tid = threadIdx.x, xw = cols / 4, nsb = cols / KMM_QK_K;
    for (uint32_t i = tid; i < KMM_TILE_N * 64; i += KMM_TILE_THREADS) {
        const uint32_t lt = i / 64, k = i % 64, t = t0 + lt;
        xs[lt * LD + k] = t < n_tokens ? xq[(uint64_t)t * xw + 64 * ib + k] : 0;
    }
    if (tid < KMM_TILE_N)
        xds[tid] = t0 + tid < n_tokens ? xd[(uint64_t)(t0 + tid) * nsb + ib] : 0.0f;
}

/* GEMM epilogue: acc[i][j] is y[token t + 8j][row r + 16i] (r = r0 + tr, t = t0 + tt); past the end: nothing. */
MST_DEVICE void kmm_gemm_store(const float acc[2][4], uint32_t r, uint32_t t, uint32_t rows, uint32_t n_tokens,
                               float *y)
{
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 4; j++) {
            const uint32_t ri = r + 16 * i, tj = t + 8 * j;
            if (ri < rows && tj < n_tokens)
                y[(uint64_t)tj * rows + ri] = acc[i][j];
        }
}

#endif
