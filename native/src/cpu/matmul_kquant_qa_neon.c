/* matmul_kquant_qa_neon.c — Q4_K/Q5_K/Q6_K weights times Q8_K activations with base NEON (AArch64 without
 * dotprod, e.g. Cortex-A53/A57/A72). smull/smull2 multiply 8 int8 pairs into int16 (weights at most 31 in
 * magnitude after decoding, activations at most 127: |product| <= 4064, no overflow) and sadalp adds
 * neighbouring int16 pairs into the int32 lanes, which stay exact; the shared body (matmul_kquant_qa_arm.h)
 * gives the scalar reference's bits. */
#include <arm_neon.h>

#include "quant_act_k.h"

static inline int32x4_t kdot16(int32x4_t acc, int8x16_t w, int8x16_t x)
{
    acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(w), vget_low_s8(x)));
    return vpadalq_s16(acc, vmull_high_s8(w, x));
}

#define MST_ARM_KDOT kdot16
#define MST_ARM_SUFFIX neon
#include "matmul_kquant_qa_arm.h"
