/* matmul_mma_bf16.cu — the prefill GEMM on tensor cores for BF16 weights times activations rounded to bf16
 * (quantize_act.cu, cpu/quant_act_bf16.h's rule; the scratch holds them as floats whose low 16 bits are zero):
 * the tile of matmul_mma.cuh with mma.m16n8k16.bf16 (f32 accumulators). matmul.cu runs it above
 * MST_CUDA_GEMV_MAX_TOKENS tokens unless MISTRAL_CUDA_MMA=0.
 *
 * A stage is 64 columns: 64 rows (or tokens) x 32 words, each word a pair of bf16 (lower column in the low half,
 * the PTX ISA's f16/bf16 fragment packing), so a 16-column mma step is 8 words of a row: the word pattern, the
 * padded rows and the ldmatrix loads of the int8 tile (kmma_load_frags) serve unchanged. Both operands are
 * staged with plain loads (weight rows are only 2-byte aligned for odd column counts; the activations are
 * floats to narrow), into two buffers so that one barrier per stage suffices.
 *
 * Numerics: every product of two bf16 values is exact in float (8-bit significands); the tensor core adds each
 * group of 16 products to the f32 accumulator. The CPU reference accumulates the same products (in double, then
 * rounds). The tests' bound assumes only that one mma's sum of its 17 terms (the accumulator and 16 products)
 * is within 17 units of 2^-23 of their magnitudes (alignment to the largest term with truncation, as tensor
 * cores are documented to behave, not an IEEE fma chain): see test_cuda_matmul_mma_bf16.c.
 *
 * Shared memory: 2 stages x 2 x 9216 bytes = 36864 bytes. */
#include "cuda_compat.h"

#include "matmul_mma.cuh"

enum { KMMA_BF16_BK = 2 * KMMA_KW }; /* columns per stage: 64 */

/* Stage at column c0 into buffer `buf`: weight rows and token rows as bf16 pairs; past the end: zeros. */
template <class SQ>
MST_DEVICE void kmma_stage_bf16(SQ &ws, SQ &xs, uint32_t buf, const uint8_t *w, uint64_t row_bytes, uint32_t rows,
                                uint32_t cols, const float *xr, uint32_t n_tokens, uint32_t r0, uint32_t t0,
                                uint32_t c0)
{
    for (uint32_t i = threadIdx.x; i < KMMA_BM * KMMA_KW; i += KMMA_THREADS) { /* consecutive threads along a row */
        const uint32_t lr = i / KMMA_KW, k = i % KMMA_KW, r = r0 + lr, c = c0 + 2 * k;
        uint32_t v = 0;
        if (r < rows) {
            const uint16_t *row = (const uint16_t *)(w + (uint64_t)r * row_bytes);
            v = (c < cols ? (uint32_t)row[c] : 0u) | (c + 1 < cols ? (uint32_t)row[c + 1] << 16 : 0u);
        }
        ws[buf * KMMA_WS + lr * KMMA_LD + k] = (int32_t)v;
    }
    for (uint32_t i = threadIdx.x; i < KMMA_BN * KMMA_KW; i += KMMA_THREADS) {
        const uint32_t lt = i / KMMA_KW, k = i % KMMA_KW, t = t0 + lt, c = c0 + 2 * k;
        uint32_t v = 0;
        if (t < n_tokens) { /* a bf16-rounded float is its top 16 bits */
            const float *xt = xr + (uint64_t)t * cols;
            v = (c < cols ? kmm_f2u(xt[c]) >> 16 : 0u) | (c + 1 < cols ? kmm_f2u(xt[c + 1]) & 0xffff0000u : 0u);
        }
        xs[buf * KMMA_XS + lt * KMMA_LD + k] = (int32_t)v;
    }
}

/* grid (ceil(rows / 64), ceil(n_tokens / 64)), 128 threads. x: the bf16-rounded floats (the scratch's xr). */
MST_KERNEL void mst_k_mma_bf16(const uint8_t *w, uint64_t row_bytes, uint32_t rows, uint32_t cols, const float *x,
                               const float *xd, const int32_t *bsum, uint32_t n_tokens, float *y)
{
    (void)xd, (void)bsum;
    MST_SHARED_ALIGNED(int32_t, ws, 2 * KMMA_WS, 16);
    MST_SHARED_ALIGNED(int32_t, xs, 2 * KMMA_XS, 16);
    const uint32_t r0 = blockIdx.x * KMMA_BM, t0 = blockIdx.y * KMMA_BN;
    const uint32_t n_st = (cols + KMMA_BF16_BK - 1) / KMMA_BF16_BK;
    const kmma_pos p = kmma_here();
    const bool active = kmma_warp_active(p, r0, t0, rows, n_tokens);
    float acc[2][4][4] = {};
    kmma_stage_bf16(ws, xs, 0, w, row_bytes, rows, cols, x, n_tokens, r0, t0, 0);
    for (uint32_t st = 0; st < n_st; st++) {
        const uint32_t buf = st % 2, c0 = KMMA_BF16_BK * st;
        mst_syncthreads(); /* stage st is in buffer st % 2; nobody reads buffer (st + 1) % 2 any more */
        if (st + 1 < n_st)
            kmma_stage_bf16(ws, xs, buf ^ 1, w, row_bytes, rows, cols, x, n_tokens, r0, t0, c0 + KMMA_BF16_BK);
        if (active) {
KMM_UNROLL
            for (uint32_t ks = 0; ks < 4; ks++) { /* 16 columns = 8 words each */
                if (c0 + 16 * ks >= cols) /* the same for the whole block */
                    break;
                uint32_t a[2][4], b[4][2];
                kmma_load_frags(ws, xs, buf * KMMA_WS, buf * KMMA_XS, 8 * ks, p, a, b);
KMM_UNROLL
                for (int i = 0; i < 2; i++)
KMM_UNROLL
                    for (int j = 0; j < 4; j++)
                        mst_mma_m16n8k16_bf16_f32(acc[i][j], a[i], b[j], acc[i][j]);
            }
        }
    }
    kmma_store(acc, p, r0, t0, rows, n_tokens, y);
}
MST_REGISTER_KERNEL(mst_k_mma_bf16);

#if MST_HOST_CODE
#include "matmul_launch.h"

extern "C" mst_status mst_cuda_mma_bf16(mst_dev *d, const mst_cuda_weight *w, const mst_cuda_qact *a, mst_dptr y)
{
    return kmm_launch_mma(d, &mst_kernel_mst_k_mma_bf16, w, a->xr, 0, 0, a->n_tokens, y);
}
#endif
