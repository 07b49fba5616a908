/* matmul_bf16.cu — BF16 weights times activations rounded to bf16 (quantize_act.cu, cpu/quant_act_bf16.h's
 * rule), accumulated in float: each product of two bf16 values is exact in float, so the only roundings are
 * the fma additions. Bodies and numerics: matmul_float.cuh. */
#include "cuda_compat.h"

#include "quant_blocks.cuh"
#include "matmul_float.cuh"

struct kmm_elem_bf16 {
    MST_DEVICE float load(const uint8_t *row, uint32_t c) { return mst_bf2f(((const uint16_t *)row)[c]); }
};

KMM_FLOAT_KERNELS(bf16, kmm_elem_bf16) /* x: the bf16-rounded floats (a->xr) */

#if MST_HOST_CODE
#include "matmul_launch.h"

extern "C" mst_status mst_cuda_mm_bf16(mst_dev *d, const mst_cuda_weight *w, const mst_cuda_qact *a, mst_dptr y)
{
    return kmm_launch_mm(d, &mst_kernel_mst_k_gemv_bf16, &mst_kernel_mst_k_gemm_bf16, w, a->xr, 0, 0, a->n_tokens, y);
}
#endif
