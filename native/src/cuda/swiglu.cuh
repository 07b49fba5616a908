/* swiglu.cuh — silu(g) * u, silu(g) = g / (1 + exp(-g)), as one device expression that every kernel computing it
 * calls: the SwiGLU kernel (swiglu.cu) and the decode GEMV that fuses it into gate and up (matmul_gemv.cuh,
 * matmul_swiglu.cu). One expression, so the fused and unfused paths give the same bits (and the same error bound,
 * derived in swiglu.cu). Include after cuda_compat.h. */
#ifndef MST_CUDA_SWIGLU_CUH
#define MST_CUDA_SWIGLU_CUH

MST_DEVICE float mst_silu_mul(float g, float u)
{
    return mst_divf(g, 1.0f + mst_expf(-g)) * u;
}

#endif
