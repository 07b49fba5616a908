/* matmul_q4_k.cu — Q4_K weights (144-byte super-blocks of 256: fp16 d and dmin, 8 six-bit scales and mins packed
 * in 12 bytes, 128 bytes of nibbles; weight = d*sc_s*q - dmin*m_s, q in 0..15) times Q8_K activations
 * (quantize_act.cu: 256-value blocks, float scale, 16-value sums).
 *
 * Numerics: per (row, token, super-block) both kernels compute the CPU reference's integers exactly
 * (cpu/matmul_kquant_qa.c): is = Σ_s sc_s Σ q_w q_x over the 8 sub-blocks of 32, ms = Σ_s m_s bsum_s, then the
 * same float expression, y += (d_x * d) * is; y -= (d_x * dmin) * ms. Only the order of the per-super-block
 * float additions differs (GEMM: super-block order as on the CPU; GEMV: lane groups, then a tree). */
#include "cuda_compat.h"

#include "quant_blocks.cuh"
#include "matmul_common.cuh"

/* GEMV: one warp per weight row; the warp takes 4 super-blocks at a time, lane group g = lane/8 super-block
 * ib0 + g and lane s = lane%8 its sub-block s. The 8 lanes' integer sums meet by shuffles (exact) and lane s = 0
 * adds the super-block's float terms. Loop bounds are the same for the whole warp so every shuffle is full. */
MST_KERNEL void mst_k_gemv_q4_k(const uint8_t *w, uint64_t row_bytes, uint32_t rows, uint32_t cols, const int32_t *xq,
                                const float *xd, const int32_t *bsum, uint32_t n_tokens, float *y)
{
    const uint32_t lane = threadIdx.x % MST_WARP, row = kmm_gemv_row();
    if (row >= rows)
        return; /* the whole warp */
    const uint32_t nsb = cols / KMM_QK_K, xw = cols / 4, nbs = cols / 16, g = lane / 8, s = lane % 8;
    const uint8_t *wr = w + (uint64_t)row * row_bytes;
    float acc[KMM_GEMV_MAX_TOKENS] = {};
    for (uint32_t ib0 = 0; ib0 < nsb; ib0 += 4) {
        const uint32_t ib = ib0 + g;
        const bool valid = ib < nsb;
        int32_t q[8] = {}, sc = 0, mn = 0;
        float dw = 0.0f, dmin = 0.0f;
        if (valid) {
            const uint8_t *blk = wr + (uint64_t)ib * KMM_Q4_K_BYTES;
            kmm_unpack_q4_k(blk, s, q);
            kmm_k4_scale_min(blk + 4, s, &sc, &mn);
            dw = mst_h2f(mst_load_u16(blk));
            dmin = mst_h2f(mst_load_u16(blk + 2));
        }
KMM_UNROLL
        for (uint32_t t = 0; t < KMM_GEMV_MAX_TOKENS; t++) {
            if (t < n_tokens) { /* the same for every lane */
                int32_t is = 0, ms = 0;
                if (valid) {
                    const int32_t *xt = xq + (uint64_t)t * xw + 64 * ib + 8 * s;
                    int32_t dot = 0;
KMM_UNROLL
                    for (int k = 0; k < 8; k++)
                        dot = mst_dp4a(q[k], xt[k], dot);
                    const int32_t *bt = bsum + (uint64_t)t * nbs + 16 * ib + 2 * s;
                    is = sc * dot;
                    ms = mn * (bt[0] + bt[1]);
                }
                for (int m = 1; m < 8; m <<= 1) {
                    is += mst_shfl_xor_i32(is, m);
                    ms += mst_shfl_xor_i32(ms, m);
                }
                if (valid && s == 0) {
                    const float xdv = xd[(uint64_t)t * nsb + ib];
                    acc[t] += xdv * dw * (float)is;
                    acc[t] -= xdv * dmin * (float)ms;
                }
            }
        }
    }
    kmm_gemv_store(acc, n_tokens, lane, y, rows, row);
}
MST_REGISTER_KERNEL(mst_k_gemv_q4_k);

/* GEMM: 128 threads per 32-row x 32-token tile, one super-block (64 words per row) at a time in shared memory
 * (rows padded to 65 words: distinct banks for the 16 rows a warp reads), with the unpacked scales and mins, the
 * activations' scales and 32-value sums. Each thread: rows tr, tr+16 x tokens tt, tt+8, tt+16, tt+24. Rows and
 * tokens past the end are staged as zeros with zero scales. grid (ceil(rows/32), ceil(n_tokens/32)). */
MST_KERNEL void mst_k_gemm_q4_k(const uint8_t *w, uint64_t row_bytes, uint32_t rows, uint32_t cols, const int32_t *xq,
                                const float *xd, const int32_t *bsum, uint32_t n_tokens, float *y)
{
    enum { BM = KMM_TILE_M, BN = KMM_TILE_N, LD = 65, THREADS = KMM_TILE_THREADS };
    MST_SHARED(int32_t, ws, BM * LD);
    MST_SHARED(int32_t, xs, BN * LD);
    MST_SHARED(int32_t, wsc, BM * 8);
    MST_SHARED(int32_t, wmn, BM * 8);
    MST_SHARED(float, wdd, BM);
    MST_SHARED(float, wdm, BM);
    MST_SHARED(float, xds, BN);
    MST_SHARED(int32_t, xbs, BN * 8);
    const uint32_t tid = threadIdx.x, r0 = blockIdx.x * BM, t0 = blockIdx.y * BN;
    const uint32_t nsb = cols / KMM_QK_K, nbs = cols / 16;
    const uint32_t tr = tid % 16, tt = tid / 16;
    float acc[2][4] = {};
    for (uint32_t ib = 0; ib < nsb; ib++) {
        for (uint32_t u = tid; u < BM * 8; u += THREADS) { /* weights: (row u/8, sub-block u%8) */
            const uint32_t lr = u / 8, s = u % 8, r = r0 + lr;
            int32_t q[8] = {}, sc = 0, mn = 0;
            float dw = 0.0f, dmin = 0.0f;
            if (r < rows) {
                const uint8_t *blk = w + (uint64_t)r * row_bytes + (uint64_t)ib * KMM_Q4_K_BYTES;
                kmm_unpack_q4_k(blk, s, q);
                kmm_k4_scale_min(blk + 4, s, &sc, &mn);
                dw = mst_h2f(mst_load_u16(blk));
                dmin = mst_h2f(mst_load_u16(blk + 2));
            }
            for (int k = 0; k < 8; k++)
                ws[lr * LD + 8 * s + k] = q[k];
            wsc[lr * 8 + s] = sc;
            wmn[lr * 8 + s] = mn;
            if (s == 0) {
                wdd[lr] = dw;
                wdm[lr] = dmin;
            }
        }
        kmm_stage_q8_k<LD>(xs, xds, xq, xd, cols, t0, n_tokens, ib);
        for (uint32_t u = tid; u < BN * 8; u += THREADS) { /* 32-value sums: (token u/8, sub-block u%8) */
            const uint32_t lt = u / 8, s = u % 8, t = t0 + lt;
            int32_t v = 0;
            if (t < n_tokens) {
                const int32_t *bt = bsum + (uint64_t)t * nbs + 16 * ib + 2 * s;
                v = bt[0] + bt[1];
            }
            xbs[lt * 8 + s] = v;
        }
        mst_syncthreads();
        int32_t is[2][4] = {}, ms[2][4] = {};
        for (uint32_t s = 0; s < 8; s++) {
            int32_t dot[2][4] = {};
            kmm_tile_dp4a<LD, 8>(ws, xs, tr, tt, 8 * s, dot);
            for (int i = 0; i < 2; i++) {
                const int32_t sc = wsc[(tr + 16 * i) * 8 + s], mn = wmn[(tr + 16 * i) * 8 + s];
                for (int j = 0; j < 4; j++) {
                    is[i][j] += sc * dot[i][j];
                    ms[i][j] += mn * (int32_t)xbs[(tt + 8 * j) * 8 + s];
                }
            }
        }
        for (int i = 0; i < 2; i++) {
            const float dw = wdd[tr + 16 * i], dmin = wdm[tr + 16 * i];
            for (int j = 0; j < 4; j++) {
                const float xdv = xds[tt + 8 * j];
                acc[i][j] += xdv * dw * (float)is[i][j];
                acc[i][j] -= xdv * dmin * (float)ms[i][j];
            }
        }
        mst_syncthreads();
    }
    kmm_gemm_store(acc, r0 + tr, t0 + tt, rows, n_tokens, y);
}
MST_REGISTER_KERNEL(mst_k_gemm_q4_k);

#if MST_HOST_CODE
#include "matmul_launch.h"

extern "C" mst_status mst_cuda_mm_q4_k(mst_dev *d, const mst_cuda_weight *w, const mst_cuda_qact *a, mst_dptr y)
{
    return kmm_launch_qblock(d, &mst_kernel_mst_k_gemv_q4_k, &mst_kernel_mst_k_gemm_q4_k, w, a, y);
}
#endif
