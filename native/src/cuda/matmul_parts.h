/* matmul_parts.h — the pieces mst_cuda_matmul (matmul.cu) puts together: where the rounded activations live in
 * the scratch, the activation passes of quantize_act.cu, and one launcher per weight type (matmul_<type>.cu),
 * each choosing its GEMV kernel (n_tokens <= MST_CUDA_GEMV_MAX_TOKENS) or its tiled GEMM kernel. Host pass only.
 *
 * Scratch layout for n_tokens rows of cols values (every piece 256-byte aligned, token-major):
 *   qs   int8  [n_tokens][cols]       the quantized activations (cols % 32 == 0, so each row is whole words)
 *   d    float [n_tokens][cols / 32]  Q8_0-style block scales (Q8_K: [n_tokens][cols / 256])
 *   bsum int32 [n_tokens][cols / 16]  Q8_K: sum of each 16 consecutive q (unused for Q8_0)
 * or, for BF16 weights, from the start of the scratch:
 *   xr   float [n_tokens][cols]       x rounded to bf16 (quant_act_bf16.h), as floats
 * or, for F16 weights on the tensor cores (matmul_mma_f16.cu), from the start of the scratch (a.qs):
 *   s    float [n_tokens]             each token's power-of-two scale (x itself stays where it is) */
#ifndef MST_CUDA_MATMUL_PARTS_H
#define MST_CUDA_MATMUL_PARTS_H

#include "kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { MST_CUDA_GEMV_MAX_TOKENS = 8 }; /* = KMM_GEMV_MAX_TOKENS in quant_blocks.cuh */

typedef struct mst_cuda_qact {
    mst_dptr qs, d, bsum; /* Q8_0 / Q8_K pieces */
    mst_dptr xr;          /* BF16: the rounded floats (same start as qs) */
    uint32_t cols, n_tokens;
} mst_cuda_qact;

static inline uint64_t mst_cuda_align256(uint64_t n)
{
    return (n + 255u) & ~(uint64_t)255u;
}

static inline uint64_t mst_cuda_qact_bytes(uint32_t cols, uint32_t n_tokens)
{
    const uint64_t n = (uint64_t)cols * n_tokens;
    const uint64_t q8 = mst_cuda_align256(n) + mst_cuda_align256(n / 32 * 4) + mst_cuda_align256(n / 16 * 4);
    const uint64_t bf = mst_cuda_align256(n * 4);
    return q8 > bf ? q8 : bf;
}

static inline mst_cuda_qact mst_cuda_qact_at(mst_dptr scratch, uint32_t cols, uint32_t n_tokens)
{
    const uint64_t n = (uint64_t)cols * n_tokens;
    mst_cuda_qact a;
    a.qs = scratch;
    a.d = a.qs + mst_cuda_align256(n);
    a.bsum = a.d + mst_cuda_align256(n / 32 * 4);
    a.xr = scratch;
    a.cols = cols;
    a.n_tokens = n_tokens;
    return a;
}

/* quantize_act.cu: x (n_tokens rows of a->cols floats) into the scratch a describes. */
mst_status mst_cuda_quantize_q8_0(mst_dev *d, mst_dptr x, const mst_cuda_qact *a); /* cols % 32 == 0 */
mst_status mst_cuda_quantize_q8_k(mst_dev *d, mst_dptr x, const mst_cuda_qact *a); /* cols % 256 == 0 */
mst_status mst_cuda_round_bf16(mst_dev *d, mst_dptr x, const mst_cuda_qact *a);

/* matmul_<type>.cu: y = W x for the activations a (already rounded for the type); x: float activations for
 * the float-weight types (F32, F16; BF16 reads a->xr). */
mst_status mst_cuda_mm_q8_0(mst_dev *d, const mst_cuda_weight *w, const mst_cuda_qact *a, mst_dptr y);
mst_status mst_cuda_mm_q4_0(mst_dev *d, const mst_cuda_weight *w, const mst_cuda_qact *a, mst_dptr y);
mst_status mst_cuda_mm_q4_k(mst_dev *d, const mst_cuda_weight *w, const mst_cuda_qact *a, mst_dptr y);
mst_status mst_cuda_mm_q6_k(mst_dev *d, const mst_cuda_weight *w, const mst_cuda_qact *a, mst_dptr y);
mst_status mst_cuda_mm_f16(mst_dev *d, const mst_cuda_weight *w, mst_dptr x, uint32_t n_tokens, mst_dptr y); /* F16, F32 */
mst_status mst_cuda_mm_bf16(mst_dev *d, const mst_cuda_weight *w, const mst_cuda_qact *a, mst_dptr y);

/* matmul_mma_*.cu: the tensor-core GEMMs (one launch, any n_tokens; matmul.cu runs them above
 * MST_CUDA_GEMV_MAX_TOKENS, where the mm_ launchers above would run their tiled GEMM). The same results as
 * the mm_ functions up to the order of float additions (BF16: and the tensor core's own accumulation). */
mst_status mst_cuda_mma_q8_0(mst_dev *d, const mst_cuda_weight *w, const mst_cuda_qact *a, mst_dptr y);
mst_status mst_cuda_mma_q4_0(mst_dev *d, const mst_cuda_weight *w, const mst_cuda_qact *a, mst_dptr y);
mst_status mst_cuda_mma_q4_k(mst_dev *d, const mst_cuda_weight *w, const mst_cuda_qact *a, mst_dptr y);
mst_status mst_cuda_mma_q6_k(mst_dev *d, const mst_cuda_weight *w, const mst_cuda_qact *a, mst_dptr y);
mst_status mst_cuda_mma_bf16(mst_dev *d, const mst_cuda_weight *w, const mst_cuda_qact *a, mst_dptr y); /* a->xr */
/* F16: mst_cuda_scale_f16 writes the per-token scales (a->qs) for x; mst_cuda_mma_f16 multiplies x itself, split
 * into two f16 terms (within 2^-22 of x: its error bound is in matmul_mma_f16.cu) */
mst_status mst_cuda_scale_f16(mst_dev *d, mst_dptr x, const mst_cuda_qact *a);
mst_status mst_cuda_mma_f16(mst_dev *d, const mst_cuda_weight *w, mst_dptr x, const mst_cuda_qact *a, mst_dptr y);
/* Whether matmul.cu uses them: yes unless MISTRAL_CUDA_MMA=0 (read once per process; the old dp4a GEMMs stay
 * reachable for comparison on a GPU). */
int mst_cuda_mma_enabled(void);

#ifdef __cplusplus
}
#endif

#endif
