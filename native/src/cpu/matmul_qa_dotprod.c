/* matmul_qa_dotprod.c — Q8_0/Q4_0 weights times Q8_0 activations with sdot (ARMv8.2-A dotprod: Neoverse
 * N1/V1, Cortex-A76 and later, Apple M1 and later). sdot adds 4 int8 products into each int32 lane, 16
 * products per instruction, so a block is two sdot and one lane sum (matmul_qa_arm.h). Built for the
 * extension whatever the compiler's default; dispatch.c runs it only where HWCAP_ASIMDDP is set. */
#pragma GCC target("arch=armv8.2-a+dotprod")
#include <arm_neon.h>

#include "quant_act.h"

static inline int32_t dot_block(int8x16_t w0, int8x16_t w1, int8x16_t x0, int8x16_t x1)
{
    return vaddvq_s32(vdotq_s32(vdotq_s32(vdupq_n_s32(0), w0, x0), w1, x1));
}

#define MST_ARM_DOT dot_block
#define MST_ARM_SUFFIX dotprod
#include "matmul_qa_arm.h"

MST_DEFINE_MATMUL_QA(mst_matmul_qa_q8_0_dotprod, row_q8_0_dotprod)
MST_DEFINE_MATMUL_QA(mst_matmul_qa_q4_0_dotprod, row_q4_0_dotprod)
