/* matmul_mma_kquant.cu — the prefill GEMM on tensor cores for Q4_K and Q6_K weights times Q8_K activations
 * (quantize_act.cu: 256-value blocks, float scale, 16-value sums): the tile of matmul_mma.cuh, a stage being
 * half a super-block (128 columns). matmul.cu runs it above MST_CUDA_GEMV_MAX_TOKENS tokens unless
 * MISTRAL_CUDA_MMA=0.
 *
 * Numerics: the CPU reference's integers per (row, token, super-block), exactly (cpu/matmul_kquant_qa.c), then
 * its float expression once per super-block, in super-block order:
 *   Q4_K: the weights are the unsigned nibbles (0..15); one mma per 32-value sub-block s gives Σ q_w q_x, and
 *         is = Σ_s sc_s Σ q_w q_x, ms = Σ_s m_s bsum32_s (integers: the 6-bit scales and mins stay out of the
 *         int8 operands); y += (d_x d) is; y -= (d_x dmin) ms.
 *   Q6_K: the weights are the unsigned 6-bit values (0..63, the -32 taken out through the activation sums as
 *         the CPU does); the int8 scales cover 16 values, so each 32-column mma runs twice, once with the A
 *         fragment's upper 16 columns zeroed and once with the lower ones, giving the two 16-value sums
 *         separately; is = Σ_j sc_j (Σ q_w q_x - 32 bsum16_j); y += (d_x d) is.
 * The only float difference from the CPU is the device compiler fusing a multiply-add (one rounding per term).
 *
 * Shared memory per block: weights and activations 2 x 9216 bytes (matmul_mma.cuh); Q4_K scales and mins
 * 2 x 64 x 4 ints, d and dmin 2 x 64 floats, token scales 64 floats, 32-value sums 64 x 4 ints (3840 bytes);
 * Q6_K scales 64 x 8 ints, d 64 floats, token scales 64 floats, 16-value sums 64 x 8 ints (4608 bytes). */
#include "cuda_compat.h"

#include "matmul_mma.cuh"

/* Q4_K stage st (half h = st % 2 of super-block ib = st / 2: sub-blocks 4h .. 4h+3) into buffer `buf`: the
 * nibbles, scales, mins, d and dmin of 64 rows (unit u -> row u / 4, sub-block u % 4), the activations by
 * cp.async, the token scales and 32-value sums. */
template <class SQ, class SS, class SD, class SX, class SB> /* shared arrays by size (the device pass's types) */
MST_DEVICE void kmma_stage_q4_k(SQ &ws, SQ &xs, SS &wsc, SS &wmn, SD &wdd, SD &wdm, SX &xds, SB &xbs, uint32_t buf,
                                const uint8_t *w, uint64_t row_bytes, uint32_t rows, uint32_t cols, const int32_t *xq,
                                const float *xd, const int32_t *bsum, uint32_t n_tokens, uint32_t r0, uint32_t t0,
                                uint32_t st)
{
    enum { NS = 4 };
    const uint32_t tid = threadIdx.x, ib = st / 2, h = st % 2, nsb = cols / KMM_QK_K, nbs = cols / 16;
    for (uint32_t u = tid; u < KMMA_BM * NS; u += KMMA_THREADS) {
        const uint32_t lr = u / NS, ls = u % NS, r = r0 + lr;
        int32_t q[8] = {}, sc = 0, mn = 0;
        float dw = 0.0f, dmin = 0.0f;
        if (r < rows) {
            const uint8_t *blk = w + (uint64_t)r * row_bytes + (uint64_t)ib * KMM_Q4_K_BYTES;
            kmm_unpack_q4_k(blk, NS * h + ls, q);
            kmm_k4_scale_min(blk + 4, NS * h + ls, &sc, &mn);
            dw = mst_h2f(mst_load_u16(blk));
            dmin = mst_h2f(mst_load_u16(blk + 2));
        }
KMM_UNROLL
        for (int k = 0; k < 8; k++)
            ws[buf * KMMA_WS + lr * KMMA_LD + 8 * ls + k] = q[k];
        wsc[buf * KMMA_BM * NS + u] = sc;
        wmn[buf * KMMA_BM * NS + u] = mn;
        if (ls == 0) {
            wdd[buf * KMMA_BM + lr] = dw;
            wdm[buf * KMMA_BM + lr] = dmin;
        }
    }
    kmma_stage_x(xs, buf * KMMA_XS, xq, cols / 4, t0, n_tokens, 64 * ib + KMMA_KW * h);
    if (tid < KMMA_BN)
        xds[buf * KMMA_BN + tid] = t0 + tid < n_tokens ? xd[(uint64_t)(t0 + tid) * nsb + ib] : 0.0f;
    for (uint32_t u = tid; u < KMMA_BN * NS; u += KMMA_THREADS) { /* (token u / 4, sub-block 4h + u % 4) */
        const uint32_t t = t0 + u / NS, s = NS * h + u % NS;
        int32_t v = 0;
        if (t < n_tokens) {
            const int32_t *bt = bsum + (uint64_t)t * nbs + 16 * ib + 2 * s;
            v = bt[0] + bt[1];
        }
        xbs[buf * KMMA_BN * NS + u] = v;
    }
}

/* grid (ceil(rows / 64), ceil(n_tokens / 64)), 128 threads; two stages in flight (kmma_pipeline). */
MST_KERNEL void mst_k_mma_q4_k(const uint8_t *w, uint64_t row_bytes, uint32_t rows, uint32_t cols, const int32_t *xq,
                               const float *xd, const int32_t *bsum, uint32_t n_tokens, float *y)
{
    enum { NS = 4 }; /* sub-blocks per stage */
    MST_SHARED_ALIGNED(int32_t, ws, 2 * KMMA_WS, 16);
    MST_SHARED_ALIGNED(int32_t, xs, 2 * KMMA_XS, 16);
    MST_SHARED(int32_t, wsc, 2 * KMMA_BM * NS);
    MST_SHARED(int32_t, wmn, 2 * KMMA_BM * NS);
    MST_SHARED(float, wdd, 2 * KMMA_BM);
    MST_SHARED(float, wdm, 2 * KMMA_BM);
    MST_SHARED(float, xds, 2 * KMMA_BN);
    MST_SHARED(int32_t, xbs, 2 * KMMA_BN * NS);
    const uint32_t r0 = blockIdx.x * KMMA_BM, t0 = blockIdx.y * KMMA_BN, n_st = 2 * (cols / KMM_QK_K);
    const kmma_pos p = kmma_here();
    const bool active = kmma_warp_active(p, r0, t0, rows, n_tokens);
    float acc[2][4][4] = {};
    int32_t is[2][4][4] = {}, ms[2][4][4] = {};
    auto stage = [&](uint32_t st, uint32_t buf) {
        kmma_stage_q4_k(ws, xs, wsc, wmn, wdd, wdm, xds, xbs, buf, w, row_bytes, rows, cols, xq, xd, bsum, n_tokens,
                        r0, t0, st);
    };
    kmma_pipeline(n_st, stage, [&](uint32_t st, uint32_t buf) {
        if (!active)
            return;
KMM_UNROLL
        for (uint32_t ls = 0; ls < NS; ls++) {
            uint32_t a[2][4], b[4][2];
            kmma_load_frags(ws, xs, buf * KMMA_WS, buf * KMMA_XS, 8 * ls, p, a, b);
            int32_t sc[2][2], mn[2][2], bs[4][2];
            kmma_row_vals(wsc, buf * KMMA_BM * NS, NS, ls, p, sc);
            kmma_row_vals(wmn, buf * KMMA_BM * NS, NS, ls, p, mn);
            kmma_tok_vals(xbs, buf * KMMA_BN * NS, NS, ls, p, bs);
KMM_UNROLL
            for (int i = 0; i < 2; i++)
KMM_UNROLL
                for (int j = 0; j < 4; j++) {
                    int32_t dot[4];
                    kmma_dot(a[i], b[j], dot);
KMM_UNROLL
                    for (int c = 0; c < 4; c++) {
                        is[i][j][c] += sc[i][c >> 1] * dot[c];
                        ms[i][j][c] += mn[i][c >> 1] * bs[j][c & 1];
                    }
                }
        }
        if (st % 2 == 1) { /* the super-block is complete: the CPU's float terms */
            kmma_flush(acc, is, wdd, xds, buf, p, 1.0f);
            kmma_flush(acc, ms, wdm, xds, buf, p, -1.0f);
        }
    });
    kmma_store(acc, p, r0, t0, rows, n_tokens, y);
}
MST_REGISTER_KERNEL(mst_k_mma_q4_k);

/* Q6_K stage st (half h = st % 2 of super-block ib = st / 2: parts 4h .. 4h+3, kmm_unpack_q6_k: 32 values,
 * 16-value groups 8h + 2p and 8h + 2p + 1 for part 4h + p) into buffer `buf`: the 6-bit values, scales and d
 * of 64 rows (unit u -> row u / 4, part u % 4), the activations by cp.async, token scales and 16-value sums. */
template <class SQ, class SS, class SD, class SX, class SB> /* shared arrays by size (the device pass's types) */
MST_DEVICE void kmma_stage_q6_k(SQ &ws, SQ &xs, SS &wsc, SD &wdd, SX &xds, SB &xbs, uint32_t buf, const uint8_t *w,
                                uint64_t row_bytes, uint32_t rows, uint32_t cols, const int32_t *xq, const float *xd,
                                const int32_t *bsum, uint32_t n_tokens, uint32_t r0, uint32_t t0, uint32_t st)
{
    enum { NP = 4, NG = 8 };
    const uint32_t tid = threadIdx.x, ib = st / 2, h = st % 2, nsb = cols / KMM_QK_K, nbs = cols / 16;
    for (uint32_t u = tid; u < KMMA_BM * NP; u += KMMA_THREADS) {
        const uint32_t lr = u / NP, lp = u % NP, r = r0 + lr;
        int32_t q[8] = {}, sc0 = 0, sc1 = 0;
        float dw = 0.0f;
        if (r < rows) {
            const uint8_t *blk = w + (uint64_t)r * row_bytes + (uint64_t)ib * KMM_Q6_K_BYTES;
            kmm_unpack_q6_k(blk, NP * h + lp, q);
            sc0 = kmm_q6_k_scale(blk, NG * h + 2 * lp);
            sc1 = kmm_q6_k_scale(blk, NG * h + 2 * lp + 1);
            dw = mst_h2f(mst_load_u16(blk + 208));
        }
KMM_UNROLL
        for (int k = 0; k < 8; k++)
            ws[buf * KMMA_WS + lr * KMMA_LD + 8 * lp + k] = q[k];
        wsc[buf * KMMA_BM * NG + lr * NG + 2 * lp] = sc0;
        wsc[buf * KMMA_BM * NG + lr * NG + 2 * lp + 1] = sc1;
        if (lp == 0)
            wdd[buf * KMMA_BM + lr] = dw;
    }
    kmma_stage_x(xs, buf * KMMA_XS, xq, cols / 4, t0, n_tokens, 64 * ib + KMMA_KW * h);
    if (tid < KMMA_BN)
        xds[buf * KMMA_BN + tid] = t0 + tid < n_tokens ? xd[(uint64_t)(t0 + tid) * nsb + ib] : 0.0f;
    for (uint32_t u = tid; u < KMMA_BN * NG; u += KMMA_THREADS) { /* (token u / 8, group 8h + u % 8) */
        const uint32_t t = t0 + u / NG;
        xbs[buf * KMMA_BN * NG + u] = t < n_tokens ? bsum[(uint64_t)t * nbs + 16 * ib + NG * h + u % NG] : 0;
    }
}

/* grid (ceil(rows / 64), ceil(n_tokens / 64)), 128 threads; two stages in flight (kmma_pipeline). */
MST_KERNEL void mst_k_mma_q6_k(const uint8_t *w, uint64_t row_bytes, uint32_t rows, uint32_t cols, const int32_t *xq,
                               const float *xd, const int32_t *bsum, uint32_t n_tokens, float *y)
{
    enum { NP = 4, NG = 8 }; /* parts and 16-value groups per stage */
    MST_SHARED_ALIGNED(int32_t, ws, 2 * KMMA_WS, 16);
    MST_SHARED_ALIGNED(int32_t, xs, 2 * KMMA_XS, 16);
    MST_SHARED(int32_t, wsc, 2 * KMMA_BM * NG);
    MST_SHARED(float, wdd, 2 * KMMA_BM);
    MST_SHARED(float, xds, 2 * KMMA_BN);
    MST_SHARED(int32_t, xbs, 2 * KMMA_BN * NG);
    const uint32_t r0 = blockIdx.x * KMMA_BM, t0 = blockIdx.y * KMMA_BN, n_st = 2 * (cols / KMM_QK_K);
    const kmma_pos p = kmma_here();
    const bool active = kmma_warp_active(p, r0, t0, rows, n_tokens);
    float acc[2][4][4] = {};
    int32_t is[2][4][4] = {};
    auto stage = [&](uint32_t st, uint32_t buf) {
        kmma_stage_q6_k(ws, xs, wsc, wdd, xds, xbs, buf, w, row_bytes, rows, cols, xq, xd, bsum, n_tokens, r0, t0, st);
    };
    kmma_pipeline(n_st, stage, [&](uint32_t st, uint32_t buf) {
        if (!active)
            return;
KMM_UNROLL
        for (uint32_t lp = 0; lp < NP; lp++) {
            uint32_t a[2][4], b[4][2];
            kmma_load_frags(ws, xs, buf * KMMA_WS, buf * KMMA_XS, 8 * lp, p, a, b);
            int32_t sc[2][2][2], bs[2][4][2]; /* [group 2lp + e][.][row or token] */
KMM_UNROLL
            for (int e = 0; e < 2; e++) {
                kmma_row_vals(wsc, buf * KMMA_BM * NG, NG, 2 * lp + e, p, sc[e]);
                kmma_tok_vals(xbs, buf * KMMA_BN * NG, NG, 2 * lp + e, p, bs[e]);
            }
KMM_UNROLL
            for (int i = 0; i < 2; i++) {
                /* columns 0..15 of the fragment are a[0], a[1] (bytes 4t..4t+3), 16..31 a[2], a[3] */
                const uint32_t lo[4] = {a[i][0], a[i][1], 0u, 0u}, hi[4] = {0u, 0u, a[i][2], a[i][3]};
KMM_UNROLL
                for (int j = 0; j < 4; j++) {
                    int32_t d0[4], d1[4];
                    kmma_dot(lo, b[j], d0);
                    kmma_dot(hi, b[j], d1);
KMM_UNROLL
                    for (int c = 0; c < 4; c++)
                        is[i][j][c] += sc[0][i][c >> 1] * (d0[c] - 32 * bs[0][j][c & 1]) +
                                       sc[1][i][c >> 1] * (d1[c] - 32 * bs[1][j][c & 1]);
                }
            }
        }
        if (st % 2 == 1) /* the super-block is complete: the CPU's float terms */
            kmma_flush(acc, is, wdd, xds, buf, p, 1.0f);
    });
    kmma_store(acc, p, r0, t0, rows, n_tokens, y);
}
MST_REGISTER_KERNEL(mst_k_mma_q6_k);

#if MST_HOST_CODE
#include "matmul_launch.h"

extern "C" mst_status mst_cuda_mma_q4_k(mst_dev *d, const mst_cuda_weight *w, const mst_cuda_qact *a, mst_dptr y)
{
    return kmm_launch_mma(d, &mst_kernel_mst_k_mma_q4_k, w, a->qs, a->d, a->bsum, a->n_tokens, y);
}

extern "C" mst_status mst_cuda_mma_q6_k(mst_dev *d, const mst_cuda_weight *w, const mst_cuda_qact *a, mst_dptr y)
{
    return kmm_launch_mma(d, &mst_kernel_mst_k_mma_q6_k, w, a->qs, a->d, a->bsum, a->n_tokens, y);
}
#endif
