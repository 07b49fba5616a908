/* matmul_q4_k.cu — Q4_K weights (144-byte super-blocks of 256: fp16 d and dmin, 8 six-bit scales and mins packed
 * in 12 bytes, 128 bytes of nibbles; weight = d*sc_s*q - dmin*m_s, q in 0..15) times Q8_K activations
 * (quantize_act.cu: 256-value blocks, float scale, 16-value sums).
 *
 * Numerics: per (row, token, super-block) both kernels compute the CPU reference's integers exactly
 * (cpu/matmul_kquant_qa.c): is = Σ_s sc_s Σ q_w q_x over the 8 sub-blocks of 32, ms = Σ_s m_s bsum_s, then the
 * same float expression, y += (d_x * d) * is; y -= (d_x * dmin) * ms. Only the order of the per-super-block
 * float additions differs (GEMM: super-block order as on the CPU; GEMV: per lane in order, then a tree over the
 * row's lanes). The GEMV's weight streaming: matmul_gemv.cuh. */
#include "cuda_compat.h"

#include "quant_blocks.cuh"
#include "matmul_gemv.cuh"

/* Byte i (0..11) of the 12 packed scale bytes held as 3 words, without a dynamic index into a register array. */
MST_DEVICE uint32_t kmm_byte12(const uint32_t w[3], uint32_t i)
{
    const uint32_t v = i < 4 ? w[0] : i < 8 ? w[1] : w[2];
    return (v >> (8 * (i & 3))) & 0xffu;
}

/* GEMV unit (matmul_gemv.cuh): sub-block s (32 values) of a super-block; the super-block's 8 sub-blocks go to 8
 * consecutive lanes, whose integer sums meet by xor shuffles (exact), and lane s = 0 adds the super-block's float
 * terms. 4 units per lane per span (16 super-blocks, 2304 bytes a warp), 5 16-byte loads per lane. */
struct kmm_gemv_q4_k {
    enum { BYTES = KMM_Q4_K_BYTES, QK = KMM_QK_K, UPB = 8, U = 4, L = 5 };
    template <class S>
    MST_DEVICE void unit(S &buf, uint32_t off, uint32_t ib, uint32_t s, bool valid, const kmm_gemv_args &a,
                         float acc[KMM_GEMV_MAX_TOKENS])
    {
        int32_t q[8] = {}, sc = 0, mn = 0;
        float dw = 0.0f, dmin = 0.0f;
        if (valid) {
            uint32_t h[4], qw[8]; /* bytes 0-15: d, dmin, the 12 scale bytes; then sub-block s's 32 nibble bytes */
            kmm_sh_words<4>(buf, off, h);
            kmm_sh_words<8>(buf, off + 16 + 32 * (s / 2), qw);
            dw = mst_h2f((uint16_t)(h[0] & 0xffffu));
            dmin = mst_h2f((uint16_t)(h[0] >> 16));
            const uint32_t *s12 = h + 1; /* cpu/quant_k.h's mst_k4_scale_min, as kmm_k4_scale_min */
            if (s < 4) {
                sc = (int32_t)(kmm_byte12(s12, s) & 63);
                mn = (int32_t)(kmm_byte12(s12, s + 4) & 63);
            } else {
                sc = (int32_t)((kmm_byte12(s12, s + 4) & 0x0f) | ((kmm_byte12(s12, s - 4) >> 6) << 4));
                mn = (int32_t)((kmm_byte12(s12, s + 4) >> 4) | ((kmm_byte12(s12, s) >> 6) << 4));
            }
            const uint32_t sh = 4 * (s & 1);
KMM_UNROLL
            for (int k = 0; k < 8; k++)
                q[k] = (int32_t)((qw[k] >> sh) & 0x0f0f0f0fu);
        }
        const uint32_t nsb = a.cols / KMM_QK_K, xw = a.cols / 4, nbs = a.cols / 16;
        const int32_t *xq = (const int32_t *)a.x, *bsum = (const int32_t *)a.bsum;
        const float *xd = (const float *)a.xd;
KMM_UNROLL
        for (uint32_t t = 0; t < KMM_GEMV_MAX_TOKENS; t++) {
            if (t < a.n_tokens) { /* the same for every lane */
                int32_t is = 0, ms = 0;
                if (valid) {
                    const int32_t *xt = xq + (uint64_t)t * xw + 64 * ib + 8 * s; /* 16-byte aligned */
                    const kmm_u4 x0 = kmm_ldg_u4(xt), x1 = kmm_ldg_u4(xt + 4);
                    int32_t dot = mst_dp4a(q[0], (int32_t)x0.x, 0);
                    dot = mst_dp4a(q[1], (int32_t)x0.y, dot);
                    dot = mst_dp4a(q[2], (int32_t)x0.z, dot);
                    dot = mst_dp4a(q[3], (int32_t)x0.w, dot);
                    dot = mst_dp4a(q[4], (int32_t)x1.x, dot);
                    dot = mst_dp4a(q[5], (int32_t)x1.y, dot);
                    dot = mst_dp4a(q[6], (int32_t)x1.z, dot);
                    dot = mst_dp4a(q[7], (int32_t)x1.w, dot);
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
};

KMM_GEMV_KERNEL(q4_k, kmm_gemv_q4_k)

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
#include "matmul_gemv_launch.h"

extern "C" mst_status mst_cuda_gemv_q4_k(mst_dev *d, const mst_cuda_weight *w, const mst_dptr *y, uint32_t n_w,
                                         const mst_cuda_qact *a)
{
    return kmm_launch_gemv<kmm_gemv_q4_k>(d, &mst_kernel_mst_k_gemv_q4_k, w, y, n_w, a->qs, a->d, a->bsum,
                                          a->n_tokens);
}

extern "C" mst_status mst_cuda_mm_q4_k(mst_dev *d, const mst_cuda_weight *w, const mst_cuda_qact *a, mst_dptr y)
{
    if (a->n_tokens <= MST_CUDA_GEMV_MAX_TOKENS)
        return mst_cuda_gemv_q4_k(d, w, &y, 1, a);
    return kmm_launch_qblock(d, NULL, &mst_kernel_mst_k_gemm_q4_k, w, a, y);
}
#endif
