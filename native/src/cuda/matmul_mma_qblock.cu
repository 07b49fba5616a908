/* matmul_mma_qblock.cu — the prefill GEMM on tensor cores for the 32-value block types, Q4_0 and Q8_0, times
 * Q8_0-style activations (quantize_act.cu): the tile of matmul_mma.cuh, one mma.m16n8k32.s8 per (16 rows,
 * 8 tokens, block). matmul.cu runs it above MST_CUDA_GEMV_MAX_TOKENS tokens unless MISTRAL_CUDA_MMA=0.
 *
 * Numerics: per (row, token, block) the mma gives the CPU reference's exact integer isum (cpu/quant_act.c), and
 * each lane adds (d_w * d_x) * (float)isum to its outputs in block order, the CPU's expression and order; the
 * result equals the CPU's bit for bit unless the device compiler fuses that multiply-add into one fma (a
 * difference of one rounding per block, within the tests' bound).
 *
 * Shared memory per block: per stage, weights and activations 2 x 9216 bytes (matmul_mma.cuh) and scales
 * 2 x 64 x 4 floats (2048 bytes); two stages: 40960 bytes, under the 48 KiB of static shared memory. */
#include "cuda_compat.h"

#include "matmul_mma.cuh"

enum { KMMA_QB = KMMA_BK / KMM_QK }; /* blocks per stage: 4 */

struct kmma_q4_0 {
    enum { BYTES = KMM_Q4_0_BYTES };
    MST_DEVICE void unpack(const uint8_t *blk, int32_t q[8]) { kmm_unpack_q4_0(blk, q, q + 4); }
};

struct kmma_q8_0 {
    enum { BYTES = KMM_Q8_0_BYTES };
    MST_DEVICE void unpack(const uint8_t *blk, int32_t q[8])
    {
KMM_UNROLL
        for (int k = 0; k < 8; k++)
            q[k] = (int32_t)mst_load_u32(blk + 2 + 4 * k);
    }
};

/* The stage at kb0 (blocks kb0 .. kb0+3) into buffer `buf`: weights unpacked to int8 and their scales by plain
 * loads and stores (unit u -> row u / 4, block u % 4: 2 units per thread, a row's 4 blocks in 4 neighbouring
 * threads), the activations by cp.async, their scales by plain loads. Past the end: zeros, zero scales. */
template <class B, class SI, class SF>
MST_DEVICE void kmma_stage_qblock(SI &ws, SI &xs, SF &wd, SF &xds, uint32_t buf,
                                  const uint8_t *w, uint64_t row_bytes, uint32_t rows, uint32_t nb, const int32_t *xq,
                                  const float *xd, uint32_t n_tokens, uint32_t r0, uint32_t t0, uint32_t kb0)
{
    const uint32_t tid = threadIdx.x;
    for (uint32_t u = tid; u < KMMA_BM * KMMA_QB; u += KMMA_THREADS) {
        const uint32_t lr = u / KMMA_QB, lb = u % KMMA_QB, r = r0 + lr, b = kb0 + lb;
        int32_t q[8] = {};
        float dw = 0.0f;
        if (r < rows && b < nb) {
            const uint8_t *blk = w + (uint64_t)r * row_bytes + (uint64_t)b * B::BYTES;
            B::unpack(blk, q);
            dw = mst_h2f(mst_load_u16(blk));
        }
KMM_UNROLL
        for (int k = 0; k < 8; k++)
            ws[buf * KMMA_WS + lr * KMMA_LD + 8 * lb + k] = q[k];
        wd[buf * KMMA_BM * KMMA_QB + u] = dw;
    }
    kmma_stage_x(xs, buf * KMMA_XS, xq, nb * 8, t0, n_tokens, 8 * kb0);
    for (uint32_t u = tid; u < KMMA_BN * KMMA_QB; u += KMMA_THREADS) { /* (token u / 4, block u % 4) */
        const uint32_t t = t0 + u / KMMA_QB, b = kb0 + u % KMMA_QB;
        xds[buf * KMMA_BN * KMMA_QB + u] = (t < n_tokens && b < nb) ? xd[(uint64_t)t * nb + b] : 0.0f;
    }
}

/* grid (ceil(rows / 64), ceil(n_tokens / 64)), 128 threads. Two stages in flight: while the warps multiply
 * stage s (buffer s % 2), stage s + 1's activations are on their way by cp.async into the other buffer. Rows,
 * tokens and blocks past the end are staged as zeros with zero scales: they add exact zeros, not stored. */
template <class B>
MST_DEVICE void kmma_gemm_qblock(const uint8_t *w, uint64_t row_bytes, uint32_t rows, uint32_t cols,
                                 const int32_t *xq, const float *xd, uint32_t n_tokens, float *y)
{
    MST_SHARED_ALIGNED(int32_t, ws, 2 * KMMA_WS, 16);
    MST_SHARED_ALIGNED(int32_t, xs, 2 * KMMA_XS, 16);
    MST_SHARED(float, wd, 2 * KMMA_BM * KMMA_QB);
    MST_SHARED(float, xds, 2 * KMMA_BN * KMMA_QB);
    const uint32_t r0 = blockIdx.x * KMMA_BM, t0 = blockIdx.y * KMMA_BN, nb = cols / KMM_QK;
    const uint32_t n_st = (nb + KMMA_QB - 1) / KMMA_QB;
    const kmma_pos p = kmma_here();
    const bool active = kmma_warp_active(p, r0, t0, rows, n_tokens);
    float acc[2][4][4] = {};
    auto stage = [&](uint32_t st, uint32_t buf) {
        kmma_stage_qblock<B>(ws, xs, wd, xds, buf, w, row_bytes, rows, nb, xq, xd, n_tokens, r0, t0, KMMA_QB * st);
    };
    kmma_pipeline(n_st, stage, [&](uint32_t st, uint32_t buf) {
        if (!active)
            return;
        const uint32_t kb0 = KMMA_QB * st;
KMM_UNROLL
        for (uint32_t lb = 0; lb < KMMA_QB; lb++) {
            if (kb0 + lb >= nb) /* the same for the whole block */
                break;
            uint32_t a[2][4], bf[4][2];
            kmma_load_frags(ws, xs, buf * KMMA_WS, buf * KMMA_XS, 8 * lb, p, a, bf);
            float dw[2][2], dx[4][2];
            kmma_row_vals(wd, buf * KMMA_BM * KMMA_QB, KMMA_QB, lb, p, dw);
            kmma_tok_vals(xds, buf * KMMA_BN * KMMA_QB, KMMA_QB, lb, p, dx);
KMM_UNROLL
            for (int i = 0; i < 2; i++)
KMM_UNROLL
                for (int j = 0; j < 4; j++) {
                    int32_t s[4];
                    kmma_dot(a[i], bf[j], s);
KMM_UNROLL
                    for (int c = 0; c < 4; c++)
                        acc[i][j][c] += dw[i][c >> 1] * dx[j][c & 1] * (float)s[c];
                }
        }
    });
    kmma_store(acc, p, r0, t0, rows, n_tokens, y);
}

/* The argument list every matmul kernel takes (matmul_launch.h); Q8_0 activations carry no block sums. */
#define KMMA_QBLOCK_KERNEL(T, B)                                                                                    \
    MST_KERNEL void mst_k_mma_##T(const uint8_t *w, uint64_t row_bytes, uint32_t rows, uint32_t cols,             \
                                  const int32_t *xq, const float *xd, const int32_t *bsum, uint32_t n_tokens,      \
                                  float *y)                                                                         \
    {                                                                                                                \
        (void)bsum;                                                                                                  \
        kmma_gemm_qblock<B>(w, row_bytes, rows, cols, xq, xd, n_tokens, y);                                        \
    }                                                                                                                \
    MST_REGISTER_KERNEL(mst_k_mma_##T);

KMMA_QBLOCK_KERNEL(q4_0, kmma_q4_0)
KMMA_QBLOCK_KERNEL(q8_0, kmma_q8_0)

#if MST_HOST_CODE
#include "matmul_launch.h"

extern "C" mst_status mst_cuda_mma_q4_0(mst_dev *d, const mst_cuda_weight *w, const mst_cuda_qact *a, mst_dptr y)
{
    return kmm_launch_mma(d, &mst_kernel_mst_k_mma_q4_0, w, a->qs, a->d, a->bsum, a->n_tokens, y);
}

extern "C" mst_status mst_cuda_mma_q8_0(mst_dev *d, const mst_cuda_weight *w, const mst_cuda_qact *a, mst_dptr y)
{
    return kmm_launch_mma(d, &mst_kernel_mst_k_mma_q8_0, w, a->qs, a->d, a->bsum, a->n_tokens, y);
}
#endif
