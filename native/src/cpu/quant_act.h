/* quant_act.h — activations quantized to Q8_0-style blocks for the integer matmul kernels.
 *
 * Rule (the same as llama.cpp's q8_0 activations for Q4_0/Q8_0 weights, so both agree to float
 * rounding): per 32-value block, amax = max|x|, d = fp16(amax / 127), q = round-half-even(x * 127/amax)
 * (q = 0 when amax = 0), and the block value is d * q. The scale is kept as the float value of that
 * fp16, so the reference in tests/Mistral.Tests can reproduce it bit for bit.
 * Non-finite input (here and for Q8_K, quant_act_k.h): a block holding any NaN or +-Inf gets d = NaN (the
 * bits MST_QACT_NONFINITE_D, the same on every CPU variant and on CUDA) and every q = 0. So each dot product
 * with that block is NaN and reaches the matmul's output, as it would in a float matmul. Without the rule the
 * max search skips a NaN (fmaxf, vmaxps) and the cast of NaN to int8 is undefined (in practice some integer),
 * so the NaN would vanish into a finite, wrong activation (llama.cpp has that gap). The check costs one
 * compare per vector, tested once per block.
 *
 * Besides the int8 values each token row carries two derived arrays that let the SIMD kernels use
 * unsigned-by-signed dot products (vpdpbusd / pmaddubsw) on offset weights (w + offset >= 0):
 *   nsum4[i] = -(q[4i] + q[4i+1] + q[4i+2] + q[4i+3])   (the correction, shifted by log2(offset))
 *   dxe[i]   = d of the block holding q[4i]             (the scale, one per 32-bit lane)
 * so the kernels need neither a horizontal sum nor a broadcast per block. */
#ifndef MST_QUANT_ACT_H
#define MST_QUANT_ACT_H

#include <stddef.h>
#include <stdint.h>

#include "quant.h"

/* The scale of a block that held NaN or an infinity: one quiet NaN, so all variants write the same bits. */
#define MST_QACT_NONFINITE_D 0x7fc00000u
static inline float mst_qact_nonfinite_d(void)
{
    union {
        uint32_t u;
        float f;
    } v = {MST_QACT_NONFINITE_D};
    return v.f;
}

/* The multiplier 127/amax of a block, or 0 when amax is 0 or so small (a denormal, a tiny normal) that
 * 127/amax overflows: then every q is 0. Without this the products are +-Inf (or 0·Inf = NaN) and their
 * conversion to an integer is undefined: x86 happened to give 0, AArch64 saturates to -1 or 0. */
static inline float mst_qact_inv_scale(float amax)
{
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    return id <= 3.40282347e+38f ? id : 0.0f; /* FLT_MAX */
}

/* Which block format a mst_qact holds: Q8_0 (this header) for Q4_0/Q8_0 weights, Q8_K (quant_act_k.h)
 * for the K-quants, bf16-rounded values (quant_act_bf16.h) for BF16 weights. A set quantized for one is
 * never valid for another. */
enum { MST_QACT_Q8_0 = 0, MST_QACT_Q8_K = 1, MST_QACT_BF16 = 2 };

/* n_tokens rows of cols values (cols a multiple of 32; of 256 for Q8_K), each array token-major.
 * Q8_K uses qs, d (one per 256 values) and bsum16 only; Q8_0 uses all but bsum16. */
typedef struct mst_qact {
    int8_t *qs;     /* [n_tokens][cols] */
    int32_t *nsum4; /* [n_tokens][cols/4] */
    float *dxe;     /* [n_tokens][cols/4] */
    float *d;       /* [n_tokens][cols/32] (Q8_K: [n_tokens][cols/256]) */
    int32_t *nbsum8; /* [n_tokens][cols/32] -8 x the sum of each block's q: the offset correction of repacked Q4_0
                      * (weights w + 8), ready to broadcast; 16x it for repacked Q8_0 (w + 128) */
    int16_t *bsum16; /* Q8_K: [n_tokens][cols/16] sum of each 16 consecutive q (|sum| <= 2032) */
    float *xr;       /* BF16: [n_tokens][cols] the bf16-rounded values as floats */
    uint32_t *xp;    /* BF16: [n_tokens][(cols+1)/2] the same values as bf16 pairs (quant_act_bf16.h) */
    int32_t format; /* MST_QACT_Q8_0, MST_QACT_Q8_K or MST_QACT_BF16 */
    uint32_t cols;
    uint32_t n_tokens;
} mst_qact;

/* Bytes of scratch mst_qact_bind needs for n_tokens x cols (64-byte aligned pieces). */
size_t mst_qact_bytes(uint32_t cols, uint32_t n_tokens);
/* Lays the four arrays out in buf (64-byte aligned, mst_qact_bytes long). */
void mst_qact_bind(mst_qact *q, void *buf, uint32_t cols, uint32_t n_tokens);
/* Quantizes tokens [t0, t1) of x ([n_tokens][cols] floats) into q (already bound): the best variant
 * for this CPU; every variant gives bit-identical results (test_matmul_qa checks). */
void mst_quantize_act(const float *x, mst_qact *q, uint32_t t0, uint32_t t1);
void mst_quantize_act_ref(const float *x, mst_qact *q, uint32_t t0, uint32_t t1);
void mst_quantize_act_avx512(const float *x, mst_qact *q, uint32_t t0, uint32_t t1); /* x86-64 only */
void mst_quantize_act_avx2(const float *x, mst_qact *q, uint32_t t0, uint32_t t1);   /* x86-64 only */
void mst_quantize_act_neon(const float *x, mst_qact *q, uint32_t t0, uint32_t t1);   /* AArch64 only */

/* y[t*rows + r] = dot(W row r, dequantized activations of token t), rows r0 <= r < r1. */
typedef void (*mst_matmul_qa_fn)(const uint8_t *w, size_t row_bytes, uint32_t rows, const mst_qact *x, float *y,
                                 uint32_t r0, uint32_t r1);

/* Scalar reference: exact integer block sums, float accumulation of d_w * d_x * isum in block order
 * (the order llama.cpp's scalar path uses). */
void mst_matmul_qa_ref_q8_0(const uint8_t *w, size_t row_bytes, uint32_t rows, const mst_qact *x, float *y,
                            uint32_t r0, uint32_t r1);
void mst_matmul_qa_ref_q4_0(const uint8_t *w, size_t row_bytes, uint32_t rows, const mst_qact *x, float *y,
                            uint32_t r0, uint32_t r1);

/* Q4_0 / Q8_0 repacked 16 rows at a time (repack.h; w points at the repacked matrix): r0 and r1 multiples of 16
 * or r1 = rows. AVX-512 VNNI, AVX-VNNI and AVX2 (x86-64 only), all with the same bits. */
void mst_matmul_qa_q4_0x16_vnni(const uint8_t *w, size_t row_bytes, uint32_t rows, const mst_qact *x, float *y,
                                uint32_t r0, uint32_t r1);
void mst_matmul_qa_q8_0x16_vnni(const uint8_t *w, size_t row_bytes, uint32_t rows, const mst_qact *x, float *y,
                                uint32_t r0, uint32_t r1);
void mst_matmul_qa_q4_0x16_avx2(const uint8_t *, size_t, uint32_t, const mst_qact *, float *, uint32_t, uint32_t);
void mst_matmul_qa_q8_0x16_avx2(const uint8_t *, size_t, uint32_t, const mst_qact *, float *, uint32_t, uint32_t);
void mst_matmul_qa_q4_0x16_avxvnni(const uint8_t *, size_t, uint32_t, const mst_qact *, float *, uint32_t, uint32_t);
void mst_matmul_qa_q8_0x16_avxvnni(const uint8_t *, size_t, uint32_t, const mst_qact *, float *, uint32_t, uint32_t);

/* SIMD variants (x86-64 only; the caller checks the CPU). */
void mst_matmul_qa_q8_0_avx2(const uint8_t *, size_t, uint32_t, const mst_qact *, float *, uint32_t, uint32_t);
void mst_matmul_qa_q4_0_avx2(const uint8_t *, size_t, uint32_t, const mst_qact *, float *, uint32_t, uint32_t);
void mst_matmul_qa_q8_0_vnni(const uint8_t *, size_t, uint32_t, const mst_qact *, float *, uint32_t, uint32_t);
void mst_matmul_qa_q4_0_vnni(const uint8_t *, size_t, uint32_t, const mst_qact *, float *, uint32_t, uint32_t);
/* AArch64 only (the caller checks the CPU): plain NEON (smull/sadalp), sdot (dotprod), smmla on 2-row x 2-token
 * tiles (i8mm). Each forms the exact integer sum of every block and adds d_w·d_x·isum in block order, as the
 * reference does, so all of them give the reference's bits. */
void mst_matmul_qa_q8_0_neon(const uint8_t *, size_t, uint32_t, const mst_qact *, float *, uint32_t, uint32_t);
void mst_matmul_qa_q4_0_neon(const uint8_t *, size_t, uint32_t, const mst_qact *, float *, uint32_t, uint32_t);
void mst_matmul_qa_q8_0_dotprod(const uint8_t *, size_t, uint32_t, const mst_qact *, float *, uint32_t, uint32_t);
void mst_matmul_qa_q4_0_dotprod(const uint8_t *, size_t, uint32_t, const mst_qact *, float *, uint32_t, uint32_t);
void mst_matmul_qa_q8_0_i8mm(const uint8_t *, size_t, uint32_t, const mst_qact *, float *, uint32_t, uint32_t);
void mst_matmul_qa_q4_0_i8mm(const uint8_t *, size_t, uint32_t, const mst_qact *, float *, uint32_t, uint32_t);

#endif
