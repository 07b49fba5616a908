/* matmul_q8_0.cu — Q8_0 weights (34-byte blocks: fp16 scale, 32 int8 weights, value d * q) times Q8_0
 * activations: the weights are already int8, read as 8 words at any alignment; the bodies and their numerics are
 * in matmul_qblock.cuh, the GEMV's weight streaming in matmul_gemv.cuh. */
#include "cuda_compat.h"

#include "quant_blocks.cuh"
#include "matmul_qblock.cuh"

struct kmm_block_q8_0 : kmm_qblock_unit<kmm_block_q8_0> {
    /* GEMV unit: one block; 2 per lane per span (64 blocks, 2176 bytes a warp), 5 16-byte loads per lane */
    enum { BYTES = KMM_Q8_0_BYTES, QK = KMM_QK, UPB = 1, U = 2, L = 5 };
    MST_DEVICE void unpack(const uint8_t *blk, int32_t q[8])
    {
KMM_UNROLL
        for (int k = 0; k < 8; k++)
            q[k] = (int32_t)mst_load_u32(blk + 2 + 4 * k);
    }
    /* unit(): 9 words = the block's 34 bytes and 2 beyond */
    enum { WORDS = 9 };
    MST_DEVICE void words_q(const uint32_t wd[9], int32_t q[8])
    {
KMM_UNROLL
        for (int k = 0; k < 8; k++)
            q[k] = (int32_t)kmm_mid16(wd[k], wd[k + 1]);
    }
};

KMM_QBLOCK_KERNELS(q8_0, kmm_block_q8_0)

#if MST_HOST_CODE
#include "matmul_launch.h"
#include "matmul_gemv_launch.h"

KMM_QBLOCK_LAUNCHERS(q8_0, kmm_block_q8_0)
#endif
