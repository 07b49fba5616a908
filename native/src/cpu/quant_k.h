/* quant_k.h — GGML's K-quant super-block layouts (256 weights each) and their scale unpacking.
 *
 * Blocks sit back to back in a row with no alignment, so every field is read by byte offset
 * (mst_read_u16 for the fp16 scales). Sub-block scales are unpacked here, once, so the reference
 * dequantizer (quant_k.c) and the SIMD kernels (matmul_kquant_*.c) cannot disagree about them.
 *
 *   type  bytes  layout (offsets)                                           weight
 *   Q2_K   84    scales[16] @0, qs[64] @16, d @80, dmin @82                 d*sc*q - dmin*m, q in 0..3, 16 per scale
 *   Q3_K  110    hmask[32] @0, qs[64] @32, scales[12] @96, d @108           d*(sc-32)*q, q in -4..3, 16 per scale
 *   Q4_K  144    d @0, dmin @2, scales[12] @4, qs[128] @16                  d*sc*q - dmin*m, q in 0..15, 32 per scale
 *   Q5_K  176    d @0, dmin @2, scales[12] @4, qh[32] @16, qs[128] @48      d*sc*q - dmin*m, q in 0..31, 32 per scale
 *   Q6_K  210    ql[128] @0, qh[64] @128, scales[16] (int8) @192, d @208   d*sc*q, q in -32..31, 16 per scale */
#ifndef MST_QUANT_K_H
#define MST_QUANT_K_H

#include <stdint.h>
#include <string.h>

#define MST_QK_K 256

enum {
    MST_Q2_K_BYTES = 84,
    MST_Q3_K_BYTES = 110,
    MST_Q4_K_BYTES = 144,
    MST_Q5_K_BYTES = 176,
    MST_Q6_K_BYTES = 210,
};

/* Q4_K / Q5_K: 8 six-bit scales and 8 six-bit mins in 12 bytes. Sub-blocks 0-3 use the low 6 bits
 * of bytes 0-3 (scale) and 4-7 (min); sub-blocks 4-7 take their low 4 bits from the nibbles of
 * bytes 8-11 and their top 2 bits from the otherwise unused top bits of bytes 0-3 / 4-7. */
static inline void mst_k4_scale_min(const uint8_t *s12, uint8_t sc[8], uint8_t mn[8])
{
    for (int j = 0; j < 4; j++) {
        sc[j] = s12[j] & 63;
        mn[j] = s12[j + 4] & 63;
        sc[j + 4] = (uint8_t)((s12[j + 8] & 0x0f) | ((s12[j] >> 6) << 4));
        mn[j + 4] = (uint8_t)((s12[j + 8] >> 4) | ((s12[j + 4] >> 6) << 4));
    }
}

/* The same unpacking on 32-bit words, for the integer kernels: out[0..7] = scales, out[8..15] = mins.
 * Word k holds bytes 4k..4k+3 (little-endian: x86-64 only). Per byte, (w >> 2) & 0x30 moves bits 6-7 to
 * 4-5 and (w >> 4) & 0x0f takes the high nibble; bits shifted in from the neighbour byte are masked off.
 * test_kquant_qa checks it against mst_k4_scale_min on random bytes. */
static inline void mst_k4_scale_min16(const uint8_t *s12, uint8_t out[16])
{
    uint32_t w[3], o[4];
    memcpy(w, s12, 12);
    o[0] = w[0] & 0x3f3f3f3fu;
    o[1] = (w[2] & 0x0f0f0f0fu) | ((w[0] >> 2) & 0x30303030u);
    o[2] = w[1] & 0x3f3f3f3fu;
    o[3] = ((w[2] >> 4) & 0x0f0f0f0fu) | ((w[1] >> 2) & 0x30303030u);
    memcpy(out, o, 16);
}

/* Q3_K: 16 six-bit scales (stored +32) in 12 bytes. The low 4 bits of scale i are a nibble of
 * bytes 0-7 (low nibbles for i < 8, high nibbles for i >= 8); the top 2 bits of scale i are bits
 * 2*(i/4).. of byte 8 + i%4. Returned with the +32 offset removed: -32..31. */
static inline void mst_q3k_scales(const uint8_t *s12, int8_t sc[16])
{
    for (int i = 0; i < 16; i++) {
        int lo = i < 8 ? (s12[i] & 0x0f) : (s12[i - 8] >> 4);
        int hi = (s12[8 + (i & 3)] >> (2 * (i >> 2))) & 3;
        sc[i] = (int8_t)((lo | (hi << 4)) - 32);
    }
}

/* Reference dequantization of nb super-blocks (quant_k.c). */
void mst_dequantize_k(int32_t type, const uint8_t *src, uint64_t nb, float *dst);

#endif
