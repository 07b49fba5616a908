/* matmul_kquant_qa_dotprod.c — Q4_K/Q5_K/Q6_K weights times Q8_K activations with sdot (ARMv8.2-A dotprod:
 * Neoverse N1/V1, Cortex-A76 and later, Apple M1 and later): 16 int8 products per instruction into 4 exact
 * int32 lanes. Built for the extension whatever the compiler's default; dispatch.c runs it only where
 * HWCAP_ASIMDDP is set. The shared body (matmul_kquant_qa_arm.h) gives the scalar reference's bits. */
#pragma GCC target("arch=armv8.2-a+dotprod")
#include <arm_neon.h>

#include "quant_act_k.h"

#define MST_ARM_KDOT vdotq_s32
#define MST_ARM_SUFFIX dotprod
#include "matmul_kquant_qa_arm.h"
