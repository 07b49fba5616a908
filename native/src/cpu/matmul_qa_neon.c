/* matmul_qa_neon.c — Q8_0/Q4_0 weights times Q8_0 activations with base NEON (AArch64 without dotprod,
 * e.g. Cortex-A53/A57/A72). smull/smull2 multiply 8 int8 pairs into int16 (at most 128·127 = 16256, no
 * overflow) and sadalp adds neighbouring int16 pairs into int32 lanes; the lanes' sum is the block's exact
 * integer dot product, as sdot would give it (matmul_qa_arm.h). */
#include <arm_neon.h>

#include "quant_act.h"

static inline int32_t dot_block(int8x16_t w0, int8x16_t w1, int8x16_t x0, int8x16_t x1)
{
    int32x4_t acc = vpaddlq_s16(vmull_s8(vget_low_s8(w0), vget_low_s8(x0)));
    acc = vpadalq_s16(acc, vmull_high_s8(w0, x0));
    acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(w1), vget_low_s8(x1)));
    acc = vpadalq_s16(acc, vmull_high_s8(w1, x1));
    return vaddvq_s32(acc);
}

#define MST_ARM_DOT dot_block
#define MST_ARM_SUFFIX neon
#include "matmul_qa_arm.h"

MST_DEFINE_MATMUL_QA(mst_matmul_qa_q8_0_neon, row_q8_0_neon)
MST_DEFINE_MATMUL_QA(mst_matmul_qa_q4_0_neon, row_q4_0_neon)
