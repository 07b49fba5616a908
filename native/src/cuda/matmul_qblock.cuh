/* matmul_qblock.cuh — the GEMV and GEMM bodies shared by the 32-value block types (Q4_0, Q8_0) times Q8_0-style
 * activations (quantize_act.cu). A block type B gives its size (B::BYTES) and B::unpack(blk, q): the block's 32
 * weights as 8 signed int8 words, word k = values 4k .. 4k+3 (the activation words' order); its fp16 scale is
 * the block's first two bytes. For the GEMV, B is also matmul_gemv.cuh's unit type (a unit is a block): its
 * unit() (kmm_qblock_unit below) decodes the block from the warp's shared slice and calls kmm_gemv_qblock_dot.
 *
 * Numerics: per (row, token, block) both bodies compute the exact integer isum = Σ q_w q_x with dp4a and the term
 * (d_w * d_x) * (float)isum, the CPU reference's expression (cpu/quant_act.c); only the float accumulation of the
 * terms may differ: the GEMM adds them in block order like the CPU (bit-identical unless the compiler fuses the
 * last multiply-add), the GEMV adds a lane's blocks (every LPR-th of the row) in order and then sums the row's
 * lanes in a tree.
 * Include after cuda_compat.h. */
#ifndef MST_CUDA_MATMUL_QBLOCK_CUH
#define MST_CUDA_MATMUL_QBLOCK_CUH

#include "matmul_gemv.cuh"

/* GEMV (matmul_gemv.cuh streams the weights through shared memory): the 8 weight words q of block ib, with
 * scale dw, times every token's activation block (two 16-byte loads), the term added to acc[t]. */
MST_DEVICE void kmm_gemv_qblock_dot(const int32_t q[8], float dw, uint32_t ib, const kmm_gemv_args &a,
                                    float acc[KMM_GEMV_MAX_TOKENS])
{
    const uint32_t nb = a.cols / KMM_QK, xw = a.cols / 4;
    const int32_t *xq = (const int32_t *)a.x;
    const float *xd = (const float *)a.xd;
KMM_UNROLL
    for (uint32_t t = 0; t < KMM_GEMV_MAX_TOKENS; t++) {
        if (t < a.n_tokens) {
            const int32_t *xt = xq + (uint64_t)t * xw + 8 * ib; /* 32 bytes per block: 16-byte aligned */
            const kmm_u4 x0 = kmm_ldg_u4(xt), x1 = kmm_ldg_u4(xt + 4);
            int32_t s = mst_dp4a(q[0], (int32_t)x0.x, 0);
            s = mst_dp4a(q[1], (int32_t)x0.y, s);
            s = mst_dp4a(q[2], (int32_t)x0.z, s);
            s = mst_dp4a(q[3], (int32_t)x0.w, s);
            s = mst_dp4a(q[4], (int32_t)x1.x, s);
            s = mst_dp4a(q[5], (int32_t)x1.y, s);
            s = mst_dp4a(q[6], (int32_t)x1.z, s);
            s = mst_dp4a(q[7], (int32_t)x1.w, s);
            acc[t] += dw * xd[(uint64_t)t * nb + ib] * (float)s;
        }
    }
}

/* matmul_gemv.cuh's unit() for block type D (derived from this, CRTP), written once for Q4_0 and Q8_0: the block
 * at byte off of the warp's shared slice read as D::WORDS words (its bytes and the few beyond, whole words),
 * D::words_q(wd, q) makes its 8 weight words, the fp16 scale is bytes 0-1 (the low half of wd[0]). */
template <class D> struct kmm_qblock_unit {
    template <class S>
    MST_DEVICE void unit(S &buf, uint32_t off, uint32_t ib, uint32_t sub, bool valid, const kmm_gemv_args &a,
                         float acc[KMM_GEMV_MAX_TOKENS])
    {
        (void)sub;
        if (!valid)
            return; /* no shuffles below */
        uint32_t wd[D::WORDS];
        kmm_sh_words<D::WORDS>(buf, off, wd);
        int32_t q[8];
        D::words_q(wd, q);
        kmm_gemv_qblock_dot(q, mst_h2f((uint16_t)(wd[0] & 0xffffu)), ib, a, acc);
    }
};

/* GEMM: a block of 128 threads computes a 32-row x 32-token tile of y, 4 weight blocks (128 columns) at a time:
 * the weights unpacked to int8 words and the activation words staged in shared memory (rows padded to 33 words
 * so the 16 rows a warp reads sit in distinct banks), each thread 2 rows x 4 tokens. Rows, tokens and blocks past
 * the end are staged as zeros with zero scales, so they add exact zeros. grid (ceil(rows/32), ceil(n_tokens/32)). */
template <class B>
MST_DEVICE void kmm_gemm_qblock(const uint8_t *w, uint64_t row_bytes, uint32_t rows, uint32_t cols, const int32_t *xq,
                                const float *xd, uint32_t n_tokens, float *y)
{
    enum { BM = KMM_TILE_M, BN = KMM_TILE_N, KB = 4, LD = 8 * KB + 1, THREADS = KMM_TILE_THREADS };
    MST_SHARED(int32_t, ws, BM * LD);
    MST_SHARED(int32_t, xs, BN * LD);
    MST_SHARED(float, wd, BM * KB);
    MST_SHARED(float, xds, BN * KB);
    const uint32_t tid = threadIdx.x, r0 = blockIdx.x * BM, t0 = blockIdx.y * BN;
    const uint32_t nb = cols / KMM_QK, xw = cols / 4;
    const uint32_t tr = tid % 16, tt = tid / 16; /* this thread's rows tr, tr+16 and tokens tt, tt+8, tt+16, tt+24 */
    float acc[2][4] = {};
    for (uint32_t kb0 = 0; kb0 < nb; kb0 += KB) {
        { /* weights: thread -> (row tid/4, block tid%4) */
            const uint32_t lr = tid / KB, lb = tid % KB, r = r0 + lr, b = kb0 + lb;
            int32_t q[8];
            float dw = 0.0f;
            if (r < rows && b < nb) {
                const uint8_t *blk = w + (uint64_t)r * row_bytes + (uint64_t)b * B::BYTES;
                B::unpack(blk, q);
                dw = mst_h2f(mst_load_u16(blk));
            } else {
                for (int k = 0; k < 8; k++)
                    q[k] = 0;
            }
            for (int k = 0; k < 8; k++)
                ws[lr * LD + lb * 8 + k] = q[k];
            wd[lr * KB + lb] = dw;
        }
        for (uint32_t i = tid; i < BN * 8 * KB; i += THREADS) { /* activation words, consecutive threads along k */
            const uint32_t lt = i / (8 * KB), k = i % (8 * KB), t = t0 + lt, wi = 8 * kb0 + k;
            xs[lt * LD + k] = (t < n_tokens && wi < xw) ? xq[(uint64_t)t * xw + wi] : 0;
        }
        { /* activation scales: thread -> (token tid/4, block tid%4) */
            const uint32_t lt = tid / KB, lb = tid % KB, t = t0 + lt, b = kb0 + lb;
            xds[lt * KB + lb] = (t < n_tokens && b < nb) ? xd[(uint64_t)t * nb + b] : 0.0f;
        }
        mst_syncthreads();
        for (uint32_t lb = 0; lb < KB; lb++) {
            int32_t s[2][4] = {};
            kmm_tile_dp4a<LD, 8>(ws, xs, tr, tt, lb * 8, s);
            for (int i = 0; i < 2; i++) {
                const float dw = wd[(tr + 16 * i) * KB + lb];
                for (int j = 0; j < 4; j++)
                    acc[i][j] += dw * (float)xds[(tt + 8 * j) * KB + lb] * (float)s[i][j];
            }
        }
        mst_syncthreads();
    }
    kmm_gemm_store(acc, r0 + tr, t0 + tt, rows, n_tokens, y);
}

/* The kernels mst_k_gemv_<T> (matmul_gemv.cuh's GEMV over B's units) and mst_k_gemm_<T> (the argument list
 * every tiled matmul kernel takes, matmul_launch.h) for block type B; Q8_0 activations carry no block sums. */
#define KMM_QBLOCK_KERNELS(T, B)                                                                                    \
    KMM_GEMV_KERNEL(T, B)                                                                                          \
    MST_KERNEL void mst_k_gemm_##T(const uint8_t *w, uint64_t row_bytes, uint32_t rows, uint32_t cols,            \
                                   const int32_t *xq, const float *xd, const int32_t *bsum, uint32_t n_tokens,     \
                                   float *y)                                                                        \
    {                                                                                                                \
        (void)bsum;                                                                                                  \
        kmm_gemm_qblock<B>(w, row_bytes, rows, cols, xq, xd, n_tokens, y);                                         \
    }                                                                                                                \
    MST_REGISTER_KERNEL(mst_k_gemm_##T);

#endif
