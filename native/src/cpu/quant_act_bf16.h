/* quant_act_bf16.h — activations rounded to bf16 for BF16 weight matrices, the column-pair layout
 * MST_LAYOUT_BF16X16P, and its kernels.
 *
 * Rule (every CPU, every kernel): a BF16 matrix's input x is rounded once per input to bf16:
 *   NaN stays NaN (quiet: the top 16 bits with the quiet bit set, sign kept);
 *   |x| below the smallest normal float (a zero or a denormal) becomes a zero of the same sign;
 *   otherwise round to nearest, ties to even, on the top 16 bits (so a finite value past the largest
 *   bf16 becomes an infinity, as IEEE rounding says; an infinity stays one).
 * Then y = Σ_c w_c · x_c accumulated in fp32 (each product of two bf16 values is exact in fp32).
 * Why round: llama.cpp does the same for BF16 weights (its vec_dot_type is BF16), so the two engines agree
 * closely; and AVX512_BF16's vdpbf16ps, which only takes bf16 pairs, can run (32 multiply-adds per
 * instruction). Why flush denormals: vdpbf16ps reads bf16 denormals as zero (DAZ); flushing them here
 * makes the kernels without it (which expand the rounded values to floats) see the same activations.
 *
 * A set (mst_qact, format MST_QACT_BF16) carries per token both forms of the same values:
 *   xr [n_tokens][cols]   floats, for the FMA kernels (matmul_x16_*.c, matmul_*.c);
 *   xp [n_tokens][cols/2] 32-bit words, column 2i in the low half and 2i+1 in the high half (cols even),
 *                         the pair vdpbf16ps multiplies with one 32-bit lane of weights.
 *
 * Weight layout MST_LAYOUT_BF16X16P (mst_repack_bf16x16p in repack.h), chosen at load on AVX-512: the same 16-row
 * groups in the same byte ranges as the file (cols even), and inside a group, per column pair p, 64 bytes:
 * 32-bit lane r holds row 16g+r's columns 2p (low half) and 2p+1 (high half). One 64-byte load gives the
 * 16 rows' pairs: for vdpbf16ps as they are (with one 32-bit activation pair broadcast to every lane), for
 * FMAs as two float vectors at one shift and one mask (the BF16X16 layout's columns cost a widening and a
 * shift each, on the FMA ports, so the pair layout is the faster one: benchmarks/RESULTS.md). */
#ifndef MST_QUANT_ACT_BF16_H
#define MST_QUANT_ACT_BF16_H

#include <stddef.h>
#include <stdint.h>

#include "quant_act.h"

/* One float rounded to bf16 by the rule above. */
static inline uint16_t mst_round_bf16(float f)
{
    union {
        float f;
        uint32_t u;
    } v = {f};
    const uint32_t a = v.u & 0x7fffffffu;
    if (a > 0x7f800000u)
        return (uint16_t)((v.u >> 16) | 0x40u); /* NaN: keep it one even when only its low bits were set */
    if (a < 0x00800000u)
        return (uint16_t)((v.u >> 16) & 0x8000u); /* zero or denormal: signed zero */
    return (uint16_t)((v.u + 0x7fffu + ((v.u >> 16) & 1u)) >> 16);
}

/* Bytes of scratch mst_qact_bind_bf16 needs for n_tokens x cols (64-byte aligned pieces). */
size_t mst_qact_bf16_bytes(uint32_t cols, uint32_t n_tokens);
void mst_qact_bind_bf16(mst_qact *q, void *buf, uint32_t cols, uint32_t n_tokens);
/* Rounds tokens [t0, t1) of x ([n_tokens][cols] floats) into q (bound by mst_qact_bind_bf16). Scalar: O(cols)
 * per token against the matmul's O(rows·cols). For odd cols the last pair's high half is zero. */
void mst_round_act_bf16(const float *x, mst_qact *q, uint32_t t0, uint32_t t1);

/* MST_LAYOUT_BF16X16P times the rounded activations (matmul_bf16p_avx512.c): r0 and r1 multiples of 16 or
 * r1 = rows. _avx512bf16 multiplies x->xp with vdpbf16ps (AVX512_BF16 only); _avx512 multiplies x->xr with
 * two FMAs per pair, the same roundings in the same order (bit-identical away from denormals). Each output
 * sums MST_X16_FLUSH columns from zero, then adds that into a running sum, like the x16 kernels, so it
 * carries at most MST_X16_FLUSH + ceil(cols/MST_X16_FLUSH) roundings, and a token's result does not depend
 * on the tokens run with it. */
void mst_matmul_qa_bf16x16p_avx512bf16(const uint8_t *w, size_t row_bytes, uint32_t rows, const mst_qact *x,
                                       float *y, uint32_t r0, uint32_t r1);
void mst_matmul_qa_bf16x16p_avx512(const uint8_t *w, size_t row_bytes, uint32_t rows, const mst_qact *x, float *y,
                                   uint32_t r0, uint32_t r1);

#endif
