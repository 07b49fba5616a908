/* matmul_q4_0.cu — Q4_0 weights (18-byte blocks: fp16 scale, 16 bytes of nibbles; weight j is the low nibble of
 * byte j, weight j+16 the high one, value d * (nibble - 8)) times Q8_0 activations. The nibbles become signed
 * int8 words (nibble - 8) so one dp4a takes 4 weights; the bodies and their numerics are in matmul_qblock.cuh. */
#include "cuda_compat.h"

#include "quant_blocks.cuh"
#include "matmul_qblock.cuh"

struct kmm_block_q4_0 {
    enum { BYTES = KMM_Q4_0_BYTES };
    MST_DEVICE void unpack(const uint8_t *blk, int32_t q[8]) { kmm_unpack_q4_0(blk, q, q + 4); }
};

KMM_QBLOCK_KERNELS(q4_0, kmm_block_q4_0)

#if MST_HOST_CODE
#include "matmul_launch.h"

extern "C" mst_status mst_cuda_mm_q4_0(mst_dev *d, const mst_cuda_weight *w, const mst_cuda_qact *a, mst_dptr y)
{
    return kmm_launch_qblock(d, &mst_kernel_mst_k_gemv_q4_0, &mst_kernel_mst_k_gemm_q4_0, w, a, y);
}
#endif
