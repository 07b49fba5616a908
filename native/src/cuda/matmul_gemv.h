/* matmul_gemv.h — the GEMV launchers of matmul_<type>.cu (1 .. MST_CUDA_GEMV_MAX_TOKENS tokens): y[i] = w[i] x for
 * n_w (1 .. MST_CUDA_GEMV_MATS) matrices of one type and width in one launch, the activations already rounded for
 * the type in the scratch a describes (F16/F32: x as it is). mst_cuda_matmul_multi (matmul_multi.cu) and the
 * single-matrix launchers (matmul_parts.h) call them. Host pass only. */
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

#ifdef __cplusplus
}
#endif

#endif
