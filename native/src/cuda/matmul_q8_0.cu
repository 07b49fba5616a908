/* matmul_q8_0.cu — Q8_0 weights (34-byte blocks: fp16 scale, 32 int8 weights, value d * q) times Q8_0
 * activations: the weights are already int8, read as 8 words at any alignment; the bodies and their numerics are
 * in matmul_qblock.cuh. */
#include "cuda_compat.h"

#include "quant_blocks.cuh"
#include "matmul_qblock.cuh"

struct kmm_block_q8_0 {
    enum { BYTES = KMM_Q8_0_BYTES };
    MST_DEVICE void unpack(const uint8_t *blk, int32_t q[8])
    {
KMM_UNROLL
        for (int k = 0; k < 8; k++)
            q[k] = (int32_t)mst_load_u32(blk + 2 + 4 * k);
    }
};

KMM_QBLOCK_KERNELS(q8_0, kmm_block_q8_0)

#if MST_HOST_CODE
#include "matmul_launch.h"

extern "C" mst_status mst_cuda_mm_q8_0(mst_dev *d, const mst_cuda_weight *w, const mst_cuda_qact *a, mst_dptr y)
{
    return kmm_launch_qblock(d, &mst_kernel_mst_k_gemv_q8_0, &mst_kernel_mst_k_gemm_q8_0, w, a, y);
}
#endif
