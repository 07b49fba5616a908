/* matmul_float.cuh — the GEMV and GEMM bodies for weights stored as floats of some width (F32, F16, BF16) times
 * float activations (BF16: already rounded to bf16 by quantize_act.cu). An element type E gives
 * E::load(row, c): element c of the row at `row` as a float (exact: f16 and bf16 widen without rounding), E::PER
 * elements per 16 bytes and E::widen(v, f): the E::PER elements of the 16 bytes v as floats.
 *
 * Numerics: every product w*x is accumulated with one fma (one rounding each); the GEMVs keep cols/32 chained
 * fmas per lane and sum the 32 lanes in a tree, the GEMM chains all cols fmas per output. Either way the error
 * against the exact sum is at most (cols + 5) * 2^-24 * Σ|w x| (first order), which the tests check against the
 * CPU's double-accumulated reference. Include after cuda_compat.h. */
#ifndef MST_CUDA_MATMUL_FLOAT_CUH
#define MST_CUDA_MATMUL_FLOAT_CUH

#include "matmul_gemv.cuh"

/* GEMV, up to KMM_GEMV_MAX_TOKENS tokens, any alignment (the fallback of the 16-byte GEMV below, for rows or x
 * that are not 16-byte aligned): one warp per row, lane l takes columns l, l+32, ... (coalesced, one element per
 * load). */
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

/* GEMV with 16-byte loads (matmul_gemv_launch.h checks that every row, x and cols allow them): one warp per row
 * of the launch's matrices (kmm_gemv_args, lpr_log2 = 5), lane l takes the 16-byte words l, l+32, ... of the row
 * (E::PER elements each), so each load instruction of the warp covers 512 consecutive bytes; the activations
 * are read as 16-byte words too (E::PER / 4 per token). Rows are at least cols * 2 bytes, a long stream per warp:
 * no need to share a warp between rows. Expected behaviour on a GPU: a load per 16 bytes instead of per element,
 * the only bytes fetched the row's, occupancy limited by the thread count (no shared memory). */
template <class E> MST_DEVICE void kmm_gemv_float_v4(const kmm_gemv_args &a)
{
    const kmm_gemv_mat m = kmm_gemv_pick(a);
    const uint32_t lane = threadIdx.x % MST_WARP;
    const uint32_t row = (blockIdx.x - m.block0) * KMM_GEMV_WARPS + threadIdx.x / MST_WARP;
    if (row >= m.rows)
        return; /* the whole warp */
    const uint32_t cols = a.cols, nv = cols / E::PER;
    const uint8_t *wr = (const uint8_t *)m.w + (uint64_t)row * m.row_bytes;
    const float *x = (const float *)a.x;
    float acc[KMM_GEMV_MAX_TOKENS] = {};
    for (uint32_t i = lane; i < nv; i += MST_WARP) {
        float wf[E::PER];
        E::widen(kmm_ldg_u4(wr + 16 * (uint64_t)i), wf);
KMM_UNROLL
        for (uint32_t t = 0; t < KMM_GEMV_MAX_TOKENS; t++) {
            if (t < a.n_tokens) {
                const float *xt = x + (uint64_t)t * cols + (uint64_t)i * E::PER;
KMM_UNROLL
                for (int q = 0; q < E::PER / 4; q++) {
                    const kmm_u4 xv = kmm_ldg_u4(xt + 4 * q);
                    acc[t] = mst_fmaf(wf[4 * q], kmm_u2f(xv.x), acc[t]);
                    acc[t] = mst_fmaf(wf[4 * q + 1], kmm_u2f(xv.y), acc[t]);
                    acc[t] = mst_fmaf(wf[4 * q + 2], kmm_u2f(xv.z), acc[t]);
                    acc[t] = mst_fmaf(wf[4 * q + 3], kmm_u2f(xv.w), acc[t]);
                }
            }
        }
    }
    kmm_gemv_store(acc, a.n_tokens, lane, (float *)m.y, m.rows, row);
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

/* The element type of the 16-bit floats, F16 (BF = false) and BF16 (BF = true): 8 per 16 bytes, each widened
 * exactly by mst_h2f or mst_bf2f. One definition so the two types differ only in that conversion. */
template <bool BF> struct kmm_elem_16bit {
    enum { PER = 8 };
    MST_DEVICE float cvt(uint16_t h) { return BF ? mst_bf2f(h) : mst_h2f(h); }
    MST_DEVICE float load(const uint8_t *row, uint32_t c) { return cvt(((const uint16_t *)row)[c]); }
    MST_DEVICE void widen(kmm_u4 v, float f[8])
    {
        const uint32_t w[4] = {v.x, v.y, v.z, v.w};
KMM_UNROLL
        for (int k = 0; k < 4; k++) {
            f[2 * k] = cvt((uint16_t)(w[k] & 0xffffu));
            f[2 * k + 1] = cvt((uint16_t)(w[k] >> 16));
        }
    }
};

/* F32 weights: 4 per 16 bytes, taken as they are (matmul_f16.cu's GEMMs, matmul_swiglu.cu's pair GEMV). */
struct kmm_elem_f32 {
    enum { PER = 4 };
    MST_DEVICE float load(const uint8_t *row, uint32_t c) { return ((const float *)row)[c]; }
    MST_DEVICE void widen(kmm_u4 v, float f[4])
    {
        f[0] = kmm_u2f(v.x);
        f[1] = kmm_u2f(v.y);
        f[2] = kmm_u2f(v.z);
        f[3] = kmm_u2f(v.w);
    }
};

/* The kernels for element type E: mst_k_gemv_<T> (16-byte loads, kmm_gemv_args), mst_k_gemv_any_<T> and
 * mst_k_gemm_<T> (the argument list every tiled matmul kernel takes, matmul_launch.h); float activations carry
 * no scales or sums. */
#define KMM_FLOAT_KERNELS(T, E)                                                                                     \
    MST_KERNEL void mst_k_gemv_##T(const kmm_gemv_args a) { kmm_gemv_float_v4<E>(a); }                             \
    MST_REGISTER_KERNEL(mst_k_gemv_##T);                                                                           \
    MST_KERNEL void mst_k_gemv_any_##T(const uint8_t *w, uint64_t row_bytes, uint32_t rows, uint32_t cols,        \
                                       const float *x, const float *xd, const int32_t *bsum, uint32_t n_tokens,    \
                                       float *y)                                                                    \
    {                                                                                                                \
        (void)xd, (void)bsum;                                                                                        \
        kmm_gemv_float<E>(w, row_bytes, rows, cols, x, n_tokens, y);                                                \
    }                                                                                                                \
    MST_REGISTER_KERNEL(mst_k_gemv_any_##T);                                                                       \
    MST_KERNEL void mst_k_gemm_##T(const uint8_t *w, uint64_t row_bytes, uint32_t rows, uint32_t cols,            \
                                   const float *x, const float *xd, const int32_t *bsum, uint32_t n_tokens, float *y) \
    {                                                                                                                \
        (void)xd, (void)bsum;                                                                                        \
        kmm_gemm_float<E>(w, row_bytes, rows, cols, x, n_tokens, y);                                                \
    }                                                                                                                \
    MST_REGISTER_KERNEL(mst_k_gemm_##T);

#endif
