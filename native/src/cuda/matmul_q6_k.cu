/* matmul_q6_k.cu — Q6_K weights (210-byte super-blocks of 256: 128 bytes of low nibbles, 64 bytes of 2-bit high
 * parts, 16 int8 scales, fp16 d; weight = d*sc_j*(q - 32), q in 0..63, 16 weights per scale) times Q8_K
 * activations (quantize_act.cu).
 *
 * Numerics: per (row, token, super-block) both kernels compute the CPU reference's integer exactly
 * (cpu/matmul_kquant_qa.c): is = Σ_j sc_j (Σ q_w q_x - 32 bsum16_j) over the 16 sub-blocks, with q_w unsigned so
 * dp4a sees values 0..63, then the same float term (d_x * d) * is. Only the order of the per-super-block float
 * additions differs (GEMM: super-block order as on the CPU; GEMV: lane groups, then a tree). */
#include "cuda_compat.h"

#include "quant_blocks.cuh"
#include "matmul_common.cuh"

/* GEMV: one warp per weight row, 4 super-blocks at a time: lane group g = lane/8 takes super-block ib0 + g,
 * lane s = lane%8 its part s (sub-blocks 2s and 2s+1, kmm_unpack_q6_k). Integer sums meet by shuffles. */
MST_KERNEL void mst_k_gemv_q6_k(const uint8_t *w, uint64_t row_bytes, uint32_t rows, uint32_t cols, const int32_t *xq,
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
        int32_t q[8] = {}, sc0 = 0, sc1 = 0;
        float dw = 0.0f;
        if (valid) {
            const uint8_t *blk = wr + (uint64_t)ib * KMM_Q6_K_BYTES;
            kmm_unpack_q6_k(blk, s, q);
            sc0 = kmm_q6_k_scale(blk, 2 * s);
            sc1 = kmm_q6_k_scale(blk, 2 * s + 1);
            dw = mst_h2f(mst_load_u16(blk + 208));
        }
        /* part s covers values 128h + 32p = 32s of the super-block: words 8s .., 16-value groups 2s, 2s+1 */
KMM_UNROLL
        for (uint32_t t = 0; t < KMM_GEMV_MAX_TOKENS; t++) {
            if (t < n_tokens) { /* the same for every lane */
                int32_t is = 0;
                if (valid) {
                    const int32_t *xt = xq + (uint64_t)t * xw + 64 * ib + 8 * s;
                    const int32_t *bt = bsum + (uint64_t)t * nbs + 16 * ib + 2 * s;
                    int32_t d0 = 0, d1 = 0;
KMM_UNROLL
                    for (int k = 0; k < 4; k++) {
                        d0 = mst_dp4a(q[k], xt[k], d0);
                        d1 = mst_dp4a(q[4 + k], xt[4 + k], d1);
                    }
                    is = sc0 * (d0 - 32 * bt[0]) + sc1 * (d1 - 32 * bt[1]);
                }
                for (int m = 1; m < 8; m <<= 1)
                    is += mst_shfl_xor_i32(is, m);
                if (valid && s == 0)
                    acc[t] += xd[(uint64_t)t * nsb + ib] * dw * (float)is;
            }
        }
    }
    kmm_gemv_store(acc, n_tokens, lane, y, rows, row);
}
MST_REGISTER_KERNEL(mst_k_gemv_q6_k);

/* GEMM: as matmul_q4_k.cu's: 128 threads per 32-row x 32-token tile, one super-block at a time in shared memory
 * (64 words of 6-bit values per row, padded to 65), the 16 scales per row, the 16-value activation sums. */
MST_KERNEL void mst_k_gemm_q6_k(const uint8_t *w, uint64_t row_bytes, uint32_t rows, uint32_t cols, const int32_t *xq,
                                const float *xd, const int32_t *bsum, uint32_t n_tokens, float *y)
{
    enum { BM = KMM_TILE_M, BN = KMM_TILE_N, LD = 65, THREADS = KMM_TILE_THREADS };
    MST_SHARED(int32_t, ws, BM * LD);
    MST_SHARED(int32_t, xs, BN * LD);
    MST_SHARED(int32_t, wsc, BM * 16);
    MST_SHARED(float, wdd, BM);
    MST_SHARED(float, xds, BN);
    MST_SHARED(int32_t, xbs, BN * 16);
    const uint32_t tid = threadIdx.x, r0 = blockIdx.x * BM, t0 = blockIdx.y * BN;
    const uint32_t nsb = cols / KMM_QK_K, nbs = cols / 16;
    const uint32_t tr = tid % 16, tt = tid / 16;
    float acc[2][4] = {};
    for (uint32_t ib = 0; ib < nsb; ib++) {
        for (uint32_t u = tid; u < BM * 8; u += THREADS) { /* weights: (row u/8, part u%8) */
            const uint32_t lr = u / 8, s = u % 8, r = r0 + lr;
            int32_t q[8] = {}, sc0 = 0, sc1 = 0;
            float dw = 0.0f;
            if (r < rows) {
                const uint8_t *blk = w + (uint64_t)r * row_bytes + (uint64_t)ib * KMM_Q6_K_BYTES;
                kmm_unpack_q6_k(blk, s, q);
                sc0 = kmm_q6_k_scale(blk, 2 * s);
                sc1 = kmm_q6_k_scale(blk, 2 * s + 1);
                dw = mst_h2f(mst_load_u16(blk + 208));
            }
            for (int k = 0; k < 8; k++)
                ws[lr * LD + 8 * s + k] = q[k];
            wsc[lr * 16 + 2 * s] = sc0;
            wsc[lr * 16 + 2 * s + 1] = sc1;
            if (s == 0)
                wdd[lr] = dw;
        }
        kmm_stage_q8_k<LD>(xs, xds, xq, xd, cols, t0, n_tokens, ib);
        for (uint32_t u = tid; u < BN * 16; u += THREADS) { /* 16-value sums: (token u/16, group u%16) */
            const uint32_t lt = u / 16, j = u % 16, t = t0 + lt;
            xbs[lt * 16 + j] = t < n_tokens ? bsum[(uint64_t)t * nbs + 16 * ib + j] : 0;
        }
        mst_syncthreads();
        int32_t is[2][4] = {};
        for (uint32_t jb = 0; jb < 16; jb++) {
            int32_t dot[2][4] = {};
            kmm_tile_dp4a<LD, 4>(ws, xs, tr, tt, 4 * jb, dot);
            for (int i = 0; i < 2; i++) {
                const int32_t sc = wsc[(tr + 16 * i) * 16 + jb];
                for (int j = 0; j < 4; j++)
                    is[i][j] += sc * (dot[i][j] - 32 * (int32_t)xbs[(tt + 8 * j) * 16 + jb]);
            }
        }
        for (int i = 0; i < 2; i++) {
            const float dw = wdd[tr + 16 * i];
            for (int j = 0; j < 4; j++)
                acc[i][j] += (float)xds[tt + 8 * j] * dw * (float)is[i][j];
        }
        mst_syncthreads();
    }
    kmm_gemm_store(acc, r0 + tr, t0 + tt, rows, n_tokens, y);
}
MST_REGISTER_KERNEL(mst_k_gemm_q6_k);

#if MST_HOST_CODE
#include "matmul_launch.h"

extern "C" mst_status mst_cuda_mm_q6_k(mst_dev *d, const mst_cuda_weight *w, const mst_cuda_qact *a, mst_dptr y)
{
    return kmm_launch_qblock(d, &mst_kernel_mst_k_gemv_q6_k, &mst_kernel_mst_k_gemm_q6_k, w, a, y);
}
#endif
