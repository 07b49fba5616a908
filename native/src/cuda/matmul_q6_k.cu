/* matmul_q6_k.cu — Q6_K weights (210-byte super-blocks of 256: 128 bytes of low nibbles, 64 bytes of 2-bit high
 * parts, 16 int8 scales, fp16 d; weight = d*sc_j*(q - 32), q in 0..63, 16 weights per scale) times Q8_K
 * activations (quantize_act.cu).
 *
 * Numerics: per (row, token, super-block) both kernels compute the CPU reference's integer exactly
 * (cpu/matmul_kquant_qa.c): is = Σ_j sc_j (Σ q_w q_x - 32 bsum16_j) over the 16 sub-blocks, with q_w unsigned so
 * dp4a sees values 0..63, then the same float term (d_x * d) * is. Only the order of the per-super-block float
 * additions differs (GEMM: super-block order as on the CPU; GEMV: per lane in order, then a tree over the row's
 * lanes). The GEMV's weight streaming: matmul_gemv.cuh. */
#include "cuda_compat.h"

#include "quant_blocks.cuh"
#include "matmul_gemv.cuh"

/* GEMV unit (matmul_gemv.cuh): part s (0..7, kmm_unpack_q6_k's: sub-blocks 2s and 2s+1) of a super-block; the
 * 8 parts go to 8 consecutive lanes whose integer sums meet by xor shuffles, lane s = 0 adds the float term.
 * 4 units per lane per span (16 super-blocks, 3360 bytes a warp), 7 16-byte loads per lane. */
struct kmm_gemv_q6_k {
    enum { BYTES = KMM_Q6_K_BYTES, QK = KMM_QK_K, UPB = 8, U = 4, L = 7 };
    template <class S>
    MST_DEVICE void unit(S &buf, uint32_t off, uint32_t ib, uint32_t s, bool valid, const kmm_gemv_args &a,
                         float acc[KMM_GEMV_MAX_TOKENS])
    {
        int32_t q[8] = {}, sc0 = 0, sc1 = 0;
        float dw = 0.0f;
        if (valid) {
            const uint32_t h = s / 4, p = s % 4, nsh = 4 * (p >> 1), hsh = 2 * p;
            uint32_t ql[8], qh[8], sc[1], dd[1]; /* the byte offsets of kmm_unpack_q6_k and kmm_q6_k_scale */
            kmm_sh_words<8>(buf, off + 64 * h + 32 * (p & 1), ql);
            kmm_sh_words<8>(buf, off + 128 + 32 * h, qh);
            kmm_sh_words<1>(buf, off + 192 + 2 * s, sc);
            kmm_sh_words<1>(buf, off + 208, dd);
KMM_UNROLL
            for (int k = 0; k < 8; k++)
                q[k] = (int32_t)(((ql[k] >> nsh) & 0x0f0f0f0fu) | (((qh[k] >> hsh) & 0x03030303u) << 4));
            sc0 = (int32_t)(int8_t)(uint8_t)(sc[0] & 0xffu);
            sc1 = (int32_t)(int8_t)(uint8_t)((sc[0] >> 8) & 0xffu);
            dw = mst_h2f((uint16_t)(dd[0] & 0xffffu));
        }
        /* part s covers values 32s .. 32s+31 of the super-block: words 8s .., 16-value groups 2s, 2s+1 */
        const uint32_t nsb = a.cols / KMM_QK_K, xw = a.cols / 4, nbs = a.cols / 16;
        const int32_t *xq = (const int32_t *)a.x, *bsum = (const int32_t *)a.bsum;
        const float *xd = (const float *)a.xd;
KMM_UNROLL
        for (uint32_t t = 0; t < KMM_GEMV_MAX_TOKENS; t++) {
            if (t < a.n_tokens) { /* the same for every lane */
                int32_t is = 0;
                if (valid) {
                    const int32_t *xt = xq + (uint64_t)t * xw + 64 * ib + 8 * s; /* 16-byte aligned */
                    const int32_t *bt = bsum + (uint64_t)t * nbs + 16 * ib + 2 * s;
                    const kmm_u4 x0 = kmm_ldg_u4(xt), x1 = kmm_ldg_u4(xt + 4);
                    int32_t d0 = mst_dp4a(q[0], (int32_t)x0.x, 0), d1 = mst_dp4a(q[4], (int32_t)x1.x, 0);
                    d0 = mst_dp4a(q[1], (int32_t)x0.y, d0);
                    d1 = mst_dp4a(q[5], (int32_t)x1.y, d1);
                    d0 = mst_dp4a(q[2], (int32_t)x0.z, d0);
                    d1 = mst_dp4a(q[6], (int32_t)x1.z, d1);
                    d0 = mst_dp4a(q[3], (int32_t)x0.w, d0);
                    d1 = mst_dp4a(q[7], (int32_t)x1.w, d1);
                    is = sc0 * (d0 - 32 * bt[0]) + sc1 * (d1 - 32 * bt[1]);
                }
                for (int m = 1; m < 8; m <<= 1)
                    is += mst_shfl_xor_i32(is, m);
                if (valid && s == 0)
                    acc[t] += xd[(uint64_t)t * nsb + ib] * dw * (float)is;
            }
        }
    }
};

KMM_GEMV_KERNEL(q6_k, kmm_gemv_q6_k)

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
#include "matmul_gemv_launch.h"

extern "C" mst_status mst_cuda_gemv_q6_k(mst_dev *d, const mst_cuda_weight *w, const mst_dptr *y, uint32_t n_w,
                                         const mst_cuda_qact *a)
{
    return kmm_launch_gemv<kmm_gemv_q6_k>(d, &mst_kernel_mst_k_gemv_q6_k, w, y, n_w, a->qs, a->d, a->bsum,
                                          a->n_tokens);
}

extern "C" mst_status mst_cuda_mm_q6_k(mst_dev *d, const mst_cuda_weight *w, const mst_cuda_qact *a, mst_dptr y)
{
    if (a->n_tokens <= MST_CUDA_GEMV_MAX_TOKENS)
        return mst_cuda_gemv_q6_k(d, w, &y, 1, a);
    return kmm_launch_qblock(d, NULL, &mst_kernel_mst_k_gemm_q6_k, w, a, y);
}
#endif
