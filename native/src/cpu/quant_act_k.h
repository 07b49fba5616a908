/* quant_act_k.h — activations quantized to Q8_K blocks for the K-quant integer matmul kernels.
 *
 * Rule (llama.cpp's q8_K, restated so both engines round alike): per 256-value block,
 *   max = the value with the largest |x|, sign kept (the FIRST such value when several tie in |x|);
 *   max == 0: d = 0 and every q = 0;
 *   else:     iscale = -127 / max  (float), q[i] = min(127, round-half-to-even(iscale * x[i]))  (one float
 *             multiply, then rounding), d = 1 / iscale (float32, not fp16; negative when max > 0).
 *   a NaN or +-Inf anywhere in the block: d = NaN (MST_QACT_NONFINITE_D) and every q = 0 (quant_act.h says
 *   why: the NaN must reach the matmul's output, not vanish into an integer).
 * The block value is d * q; the max itself maps to q = -127 and |x - d*q| <= |d|/2 (plus float rounding of
 * iscale * x), i.e. at most 1/254 of the block's largest |x|.
 * Besides q and d each token row carries bsum16[j] = sum of q[16j .. 16j+15], which the kernels need for
 * the terms that multiply a whole sub-block by one number: Q4_K/Q5_K's -dmin*m, Q6_K's -32 offset.
 *
 * The sets live in mst_qact (quant_act.h) with format MST_QACT_Q8_K: qs, d ([n_tokens][cols/256]) and
 * bsum16 are used, the Q8_0-only arrays are not. */
#ifndef MST_QUANT_ACT_K_H
#define MST_QUANT_ACT_K_H

#include <stddef.h>
#include <stdint.h>

#include "quant_act.h"

/* The activation format the integer kernel of weight type `type` needs, or -1 when the type has none. */
int32_t mst_qact_format_of(int32_t type);

/* Bytes of scratch mst_qact_bind_k needs for n_tokens x cols (cols a multiple of 256), 64-byte aligned
 * pieces; never more than mst_qact_bytes for the same shape. */
size_t mst_qact_k_bytes(uint32_t cols, uint32_t n_tokens);
void mst_qact_bind_k(mst_qact *q, void *buf, uint32_t cols, uint32_t n_tokens);
/* Quantizes tokens [t0, t1) of x ([n_tokens][cols] floats) into q (bound by mst_qact_bind_k): the best
 * variant for this CPU; every variant gives bit-identical results (test_kquant_qa checks). */
void mst_quantize_act_k(const float *x, mst_qact *q, uint32_t t0, uint32_t t1);
void mst_quantize_act_k_ref(const float *x, mst_qact *q, uint32_t t0, uint32_t t1);
void mst_quantize_act_k_avx512(const float *x, mst_qact *q, uint32_t t0, uint32_t t1); /* x86-64 only */
void mst_quantize_act_k_avx2(const float *x, mst_qact *q, uint32_t t0, uint32_t t1);   /* x86-64 only */

/* Scalar references (matmul_kquant_qa.c): exact integer sums per sub-block, then per super-block in float
 *   Q2_K/Q4_K/Q5_K: y += d_x * (d_w * Σ_j sc_j*isum_j) - d_x * (dmin_w * Σ_j m_j*bsum_j)
 *   Q6_K:           y += d_x * d_w * Σ_j sc_j*(isum_j - 32*bsum_j)
 *   Q3_K:           y += d_x * d_w * Σ_j sc_j*(isum_j - 4*bsum_j)
 * where isum_j is Σ q_w*q_x over sub-block j (q_w unsigned: 0..63 for Q6_K, 0..7 for Q3_K) and bsum_j the
 * sub-block's Σ q_x. */
void mst_matmul_qa_ref_q2_k(const uint8_t *, size_t, uint32_t, const mst_qact *, float *, uint32_t, uint32_t);
void mst_matmul_qa_ref_q3_k(const uint8_t *, size_t, uint32_t, const mst_qact *, float *, uint32_t, uint32_t);
void mst_matmul_qa_ref_q4_k(const uint8_t *, size_t, uint32_t, const mst_qact *, float *, uint32_t, uint32_t);
void mst_matmul_qa_ref_q5_k(const uint8_t *, size_t, uint32_t, const mst_qact *, float *, uint32_t, uint32_t);
void mst_matmul_qa_ref_q6_k(const uint8_t *, size_t, uint32_t, const mst_qact *, float *, uint32_t, uint32_t);

/* Q4_K / Q6_K repacked 16 rows at a time (repack_k.h; w points at the repacked matrix): r0 and r1 multiples of
 * 16 or r1 = rows. AVX-512 VNNI, AVX-VNNI and AVX2, all with the same bits (x86-64 only). */
void mst_matmul_qa_q4_kx16_vnni(const uint8_t *, size_t, uint32_t, const mst_qact *, float *, uint32_t, uint32_t);
void mst_matmul_qa_q6_kx16_vnni(const uint8_t *, size_t, uint32_t, const mst_qact *, float *, uint32_t, uint32_t);
void mst_matmul_qa_q4_kx16_avx2(const uint8_t *, size_t, uint32_t, const mst_qact *, float *, uint32_t, uint32_t);
void mst_matmul_qa_q6_kx16_avx2(const uint8_t *, size_t, uint32_t, const mst_qact *, float *, uint32_t, uint32_t);
void mst_matmul_qa_q4_kx16_avxvnni(const uint8_t *, size_t, uint32_t, const mst_qact *, float *, uint32_t, uint32_t);
void mst_matmul_qa_q6_kx16_avxvnni(const uint8_t *, size_t, uint32_t, const mst_qact *, float *, uint32_t, uint32_t);

/* K-quant integer kernels of one ISA, indexed by type - MST_TYPE_Q2_K (a NULL entry would keep the
 * float-activation kernel). */
typedef struct mst_kquant_qa_kernels {
    mst_matmul_qa_fn matmul_qa[5];
} mst_kquant_qa_kernels;
extern const mst_kquant_qa_kernels mst_kquant_qa_scalar;
extern const mst_kquant_qa_kernels mst_kquant_qa_avx2; /* x86-64 only */
extern const mst_kquant_qa_kernels mst_kquant_qa_vnni; /* x86-64 with AVX-512 VNNI only */

#endif
