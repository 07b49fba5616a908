/* matmul_bf16.cu — BF16 weights times activations rounded to bf16 (quantize_act.cu, cpu/quant_act_bf16.h's
 * rule), accumulated in float: each product of two bf16 values is exact in float, so the only roundings are
 * the fma additions. Bodies and numerics: matmul_float.cuh. */
#include "cuda_compat.h"

#include "quant_blocks.cuh"
#include "matmul_float.cuh"

typedef kmm_elem_16bit<true> kmm_elem_bf16; /* matmul_float.cuh */

KMM_FLOAT_KERNELS(bf16, kmm_elem_bf16) /* x: the bf16-rounded floats (a->xr) */

#if MST_HOST_CODE
#include "matmul_launch.h"
#include "matmul_gemv_launch.h"

extern "C" mst_status mst_cuda_gemv_bf16(mst_dev *d, const mst_cuda_weight *w, const mst_dptr *y, uint32_t n_w,
                                         const mst_cuda_qact *a)
{
    return kmm_launch_gemv_float(d, &mst_kernel_mst_k_gemv_bf16, &mst_kernel_mst_k_gemv_any_bf16, 8, w, y, n_w, a->xr,
                                 a->n_tokens);
}

extern "C" mst_status mst_cuda_mm_bf16(mst_dev *d, const mst_cuda_weight *w, const mst_cuda_qact *a, mst_dptr y)
{
    if (a->n_tokens <= MST_CUDA_GEMV_MAX_TOKENS)
        return mst_cuda_gemv_bf16(d, w, &y, 1, a);
    return kmm_launch_mm(d, NULL, &mst_kernel_mst_k_gemm_bf16, w, a->xr, 0, 0, a->n_tokens, y);
}
#endif
