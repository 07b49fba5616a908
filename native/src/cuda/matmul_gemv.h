/* matmul_gemv.h — the GEMV launchers of matmul_<type>.cu (1 .. MST_CUDA_GEMV_MAX_TOKENS tokens): y[i] = w[i] x for
 * n_w (1 .. MST_CUDA_GEMV_MATS) matrices of one type and width in one launch, the activations already rounded for
 * the type in the scratch a describes (F16/F32: x as it is). mst_cuda_matmul_multi (matmul_multi.cu) and the
 * single-matrix launchers (matmul_parts.h) call them. Also the SwiGLU pair (gate and up in one launch, only
 * silu(gate) * up stored) and its entry point mst_cuda_gate_up_swiglu (matmul_swiglu.cu), which the backend's
 * gate_up_swiglu op calls (C, like kernels.h). */
#ifndef MST_CUDA_MATMUL_GEMV_H
#define MST_CUDA_MATMUL_GEMV_H

#include "matmul_parts.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { MST_CUDA_GEMV_MATS = 3 }; /* = KMM_GEMV_MATS in matmul_gemv.cuh */

mst_status mst_cuda_gemv_q8_0(mst_dev *d, const mst_cuda_weight *w, const mst_dptr *y, uint32_t n_w,
                              const mst_cuda_qact *a);
mst_status mst_cuda_gemv_q4_0(mst_dev *d, const mst_cuda_weight *w, const mst_dptr *y, uint32_t n_w,
                              const mst_cuda_qact *a);
mst_status mst_cuda_gemv_q4_k(mst_dev *d, const mst_cuda_weight *w, const mst_dptr *y, uint32_t n_w,
                              const mst_cuda_qact *a);
mst_status mst_cuda_gemv_q6_k(mst_dev *d, const mst_cuda_weight *w, const mst_dptr *y, uint32_t n_w,
                              const mst_cuda_qact *a);
mst_status mst_cuda_gemv_bf16(mst_dev *d, const mst_cuda_weight *w, const mst_dptr *y, uint32_t n_w,
                              const mst_cuda_qact *a);
mst_status mst_cuda_gemv_f16(mst_dev *d, const mst_cuda_weight *w, const mst_dptr *y, uint32_t n_w, mst_dptr x,
                             uint32_t n_tokens); /* F16, F32 */

/* The SwiGLU pair of the quantized types (matmul_gemv.cuh KMM_GEMV_KERNEL writes them): w[0] gate, w[1] up, as many
 * rows each; h (n_tokens rows of w[0].rows floats) = silu(gate x) * (up x), x already rounded into the scratch a. */
mst_status mst_cuda_gemv_swiglu_q8_0(mst_dev *d, const mst_cuda_weight *w, mst_dptr h, const mst_cuda_qact *a);
mst_status mst_cuda_gemv_swiglu_q4_0(mst_dev *d, const mst_cuda_weight *w, mst_dptr h, const mst_cuda_qact *a);
mst_status mst_cuda_gemv_swiglu_q4_k(mst_dev *d, const mst_cuda_weight *w, mst_dptr h, const mst_cuda_qact *a);
mst_status mst_cuda_gemv_swiglu_q6_k(mst_dev *d, const mst_cuda_weight *w, mst_dptr h, const mst_cuda_qact *a);

/* matmul_swiglu.cu: the feed-forward's h = silu(gate x) * (up x) for 1 .. MST_CUDA_GEMV_MAX_TOKENS tokens in one
 * GEMV launch (after rounding x into the scratch, as mst_cuda_matmul does), bit for bit what mst_cuda_matmul_multi
 * over {gate, up} and then mst_cuda_swiglu give. _takes says whether it takes these matrices, x (F16, F32: read as
 * it is, 16-byte words) and scratch (mst_cuda_matmul_scratch_bytes(cols, n_tokens); BF16 reads its rounded x there)
 * for n_tokens; mst_cuda_gate_up_swiglu refuses, with MST_ERR_UNSUPPORTED, what it does not take. h: n_tokens rows
 * of gate->rows floats, not overlapping x. */
int mst_cuda_gate_up_swiglu_takes(const mst_cuda_weight *gate, const mst_cuda_weight *up, mst_dptr x, mst_dptr scratch,
                                  uint32_t n_tokens);
mst_status mst_cuda_gate_up_swiglu(mst_dev *d, const mst_cuda_weight *gate, const mst_cuda_weight *up, mst_dptr h,
                                   mst_dptr x, uint32_t n_tokens, mst_dptr scratch);

#ifdef __cplusplus
}
#endif

#endif
