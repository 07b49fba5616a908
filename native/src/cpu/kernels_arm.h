/* kernels_arm.h — the AArch64 kernel tables that dispatch.c and the tests name, beside the x86 ones declared
 * in quant_act_k.h and attention.h (AArch64 builds only: the files defining them are in CMake's AArch64
 * source list). */
#ifndef MST_KERNELS_ARM_H
#define MST_KERNELS_ARM_H

#include "attention.h"
#include "quant_act_k.h"

/* K-quant weights on Q8_K activations (matmul_kquant_qa_neon.c / _dotprod.c): Q4_K, Q5_K and Q6_K in NEON,
 * bit for bit the scalar reference; Q2_K and Q3_K the reference itself. */
extern const mst_kquant_qa_kernels mst_kquant_qa_neon;
extern const mst_kquant_qa_kernels mst_kquant_qa_dotprod;

/* Attention micro-kernels (attention_neon.c) on an F32 or F16 cache. */
extern const mst_attn_kernels mst_attn_neon;

#endif
