/* matmul_q4_0.cu — Q4_0 weights (18-byte blocks: fp16 scale, 16 bytes of nibbles; weight j is the low nibble of
 * byte j, weight j+16 the high one, value d * (nibble - 8)) times Q8_0 activations. The nibbles become signed
 * int8 words (nibble - 8) so one dp4a takes 4 weights; the bodies and their numerics are in matmul_qblock.cuh,
 * the GEMV's weight streaming in matmul_gemv.cuh. */
#include "cuda_compat.h"

#include "quant_blocks.cuh"
#include "matmul_qblock.cuh"

struct kmm_block_q4_0 : kmm_qblock_unit<kmm_block_q4_0> {
    /* GEMV unit: one block; 4 per lane per span (128 blocks, 2304 bytes a warp), 5 16-byte loads per lane */
    enum { BYTES = KMM_Q4_0_BYTES, QK = KMM_QK, UPB = 1, U = 4, L = 5 };
    MST_DEVICE void unpack(const uint8_t *blk, int32_t q[8]) { kmm_unpack_q4_0(blk, q, q + 4); }
    /* unit(): 5 words = the block's 18 bytes and 2 beyond */
    enum { WORDS = 5 };
    MST_DEVICE void words_q(const uint32_t wd[5], int32_t q[8])
    {
KMM_UNROLL
        for (int k = 0; k < 4; k++) {
            const uint32_t v = kmm_mid16(wd[k], wd[k + 1]); /* nibble bytes 4k .. 4k+3 */
            q[k] = kmm_nib_minus8(v & 0x0f0f0f0fu);
            q[4 + k] = kmm_nib_minus8((v >> 4) & 0x0f0f0f0fu);
        }
    }
};

KMM_QBLOCK_KERNELS(q4_0, kmm_block_q4_0)

#if MST_HOST_CODE
#include "matmul_launch.h"
#include "matmul_gemv_launch.h"

KMM_QBLOCK_LAUNCHERS(q4_0, kmm_block_q4_0)
#endif
