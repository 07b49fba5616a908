/* matmul_float.cuh — the GEMV and GEMM bodies for weights stored as floats of some width (F32, F16, BF16) times
 * float activations (BF16: already rounded to bf16 by quantize_act.cu). An element type E gives
 * E::load(row, c): element c of the row at `row` as a float (exact: f16 and bf16 widen without rounding).
 *
 * Numerics: every product w*x is accumulated with one fma (one rounding each); the GEMV keeps cols/32 chained
 * fmas per lane and sums the 32 lanes in a tree, the GEMM chains all cols fmas per output. Either way the error
 * against the exact sum is at most (cols + 5) * 2^-24 * Σ|w x| (first order), which the tests check against the
 * CPU's double-accumulated reference. Include after cuda_compat.h. */
#ifndef MST_CUDA_MATMUL_FLOAT_CUH
#define MST_CUDA_MATMUL_FLOAT_CUH

#include "matmul_common.cuh"

/* GEMV, up to KMM_GEMV_MAX_TOKENS tokens: one warp per row, lane l takes columns l, l+32, ... (coalesced). */
template <class E>
MST_DEVICE void kmm_gemv_float(const uint8_t *w, uint64_t row_bytes, uint32_t rows, uint32_t cols, const float *x,
                               uint32_t n_tokens, float *y)
{
    const uint32_t lane = threadIdx.x % MST_WARP, row = kmm_gemv_row();
    if (row >= rows)
        return; /* the whole warp */
    const uint8_t *wr = w + (uint64_t)row * row_bytes;
    float acc[KMM_GEMV_MAX_TOKENS] = {};
    for (uint32_t c = lane; c < cols; c += MST_WARP) {
        const float wv = E::load(wr, c);
KMM_UNROLL
        for (uint32_t t = 0; t < KMM_GEMV_MAX_TOKENS; t++)
            if (t < n_tokens)
                acc[t] = mst_fmaf(wv, x[(uint64_t)t * cols + c], acc[t]);
    }
    kmm_gemv_store(acc, n_tokens, lane, y, rows, row);
}

/* GEMM: 128 threads per 32-row x 32-token tile, 32 columns at a time: weights (widened to float) and activations
 * in shared memory, rows padded to 33 floats (distinct banks for the 16 rows a warp reads), each thread rows tr,
 * tr+16 x tokens tt, tt+8, tt+16, tt+24. Past the end: zeros. grid (ceil(rows/32), ceil(n_tokens/32)). */
template <class E>
MST_DEVICE void kmm_gemm_float(const uint8_t *w, uint64_t row_bytes, uint32_t rows, uint32_t cols, const float *x,
                               uint32_t n_tokens, float *y)
{
    enum { BM = KMM_TILE_M, BN = KMM_TILE_N, BK = 32, LD = BK + 1, THREADS = KMM_TILE_THREADS };
    MST_SHARED(float, ws, BM * LD);
    MST_SHARED(float, xs, BN * LD);
    const uint32_t tid = threadIdx.x, r0 = blockIdx.x * BM, t0 = blockIdx.y * BN;
    const uint32_t tr = tid % 16, tt = tid / 16;
    float acc[2][4] = {};
    for (uint32_t c0 = 0; c0 < cols; c0 += BK) {
        for (uint32_t i = tid; i < BM * BK; i += THREADS) { /* consecutive threads along the columns */
            const uint32_t l = i / BK, k = i % BK, c = c0 + k, r = r0 + l, t = t0 + l;
            ws[l * LD + k] = (r < rows && c < cols) ? E::load(w + (uint64_t)r * row_bytes, c) : 0.0f;
            xs[l * LD + k] = (t < n_tokens && c < cols) ? x[(uint64_t)t * cols + c] : 0.0f;
        }
        mst_syncthreads();
        for (uint32_t k = 0; k < BK; k++) {
            float a[2], b[4];
            for (int i = 0; i < 2; i++)
                a[i] = ws[(tr + 16 * i) * LD + k];
            for (int j = 0; j < 4; j++)
                b[j] = xs[(tt + 8 * j) * LD + k];
            for (int i = 0; i < 2; i++)
                for (int j = 0; j < 4; j++)
                    acc[i][j] = mst_fmaf(a[i], b[j], acc[i][j]);
        }
        mst_syncthreads();
    }
    kmm_gemm_store(acc, r0 + tr, t0 + tt, rows, n_tokens, y);
}

/* The kernel pair mst_k_gemv_<T> / mst_k_gemm_<T> for element type E, with the argument list every matmul
 * kernel takes (matmul_launch.h); float activations carry no scales or sums. */
#define KMM_FLOAT_KERNELS(T, E)                                                                                     \
    MST_KERNEL void mst_k_gemv_##T(const uint8_t *w, uint64_t row_bytes, uint32_t rows, uint32_t cols,            \
                                   const float *x, const float *xd, const int32_t *bsum, uint32_t n_tokens, float *y) \
    {                                                                                                                \
        (void)xd, (void)bsum;                                                                                        \
        kmm_gemv_float<E>(w, row_bytes, rows, cols, x, n_tokens, y);                                                \
    }                                                                                                                \
    MST_REGISTER_KERNEL(mst_k_gemv_##T);                                                                           \
    MST_KERNEL void mst_k_gemm_##T(const uint8_t *w, uint64_t row_bytes, uint32_t rows, uint32_t cols,            \
                                   const float *x, const float *xd, const int32_t *bsum, uint32_t n_tokens, float *y) \
    {                                                                                                                \
        (void)xd, (void)bsum;                                                                                        \
        kmm_gemm_float<E>(w, row_bytes, rows, cols, x, n_tokens, y);                                                \
    }                                                                                                                \
    MST_REGISTER_KERNEL(mst_k_gemm_##T);

#endif
