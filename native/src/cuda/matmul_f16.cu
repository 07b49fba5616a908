/* matmul_f16.cu — F16 weights (and F32 weights, the same kernels with a wider element) times float activations,
 * as the CPU backend multiplies them (no activation rounding). Also runs the types converted to F16 at upload
 * (Q2_K, Q3_K, Q5_K: mst_cuda_convert_for_upload). Bodies and numerics: matmul_float.cuh. */
#include "cuda_compat.h"

#include "quant_blocks.cuh"
#include "matmul_float.cuh"

typedef kmm_elem_16bit<false> kmm_elem_f16; /* matmul_float.cuh, as kmm_elem_f32 */

KMM_FLOAT_KERNELS(f16, kmm_elem_f16)
KMM_FLOAT_KERNELS(f32, kmm_elem_f32)

#if MST_HOST_CODE
#include "matmul_launch.h"
#include "matmul_gemv_launch.h"

extern "C" mst_status mst_cuda_gemv_f16(mst_dev *d, const mst_cuda_weight *w, const mst_dptr *y, uint32_t n_w,
                                        mst_dptr x, uint32_t n_tokens)
{
    if (n_w > 0 && w[0].type == MST_TYPE_F32)
        return kmm_launch_gemv_float(d, &mst_kernel_mst_k_gemv_f32, &mst_kernel_mst_k_gemv_any_f32, 4, w, y, n_w, x,
                                     n_tokens);
    return kmm_launch_gemv_float(d, &mst_kernel_mst_k_gemv_f16, &mst_kernel_mst_k_gemv_any_f16, 8, w, y, n_w, x,
                                 n_tokens);
}

extern "C" mst_status mst_cuda_mm_f16(mst_dev *d, const mst_cuda_weight *w, mst_dptr x, uint32_t n_tokens, mst_dptr y)
{
    if (n_tokens <= MST_CUDA_GEMV_MAX_TOKENS)
        return mst_cuda_gemv_f16(d, w, &y, 1, x, n_tokens);
    if (w->type == MST_TYPE_F32)
        return kmm_launch_mm(d, NULL, &mst_kernel_mst_k_gemm_f32, w, x, 0, 0, n_tokens, y);
    return kmm_launch_mm(d, NULL, &mst_kernel_mst_k_gemm_f16, w, x, 0, 0, n_tokens, y);
}
#endif
