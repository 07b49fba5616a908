/* quant_blocks.cuh — device-side helpers of the quantized matmul family and the embedding lookup: GGUF block
 * sizes and field offsets (the layouts are documented in cpu/quant.h and cpu/quant_k.h), unpacking of packed
 * weights into int8 words for dp4a, the rounding helpers that must match the CPU bit for bit.
 *
 * Blocks sit back to back with no alignment (18, 34, 144, 210 bytes), so every multi-byte weight field is read
 * with mst_load_u16 / mst_load_u32 (any alignment). The activation scratch written by quantize_act.cu is
 * aligned (see matmul_parts.h), so it is read as whole int32 words. Include after cuda_compat.h. */
#ifndef MST_CUDA_QUANT_BLOCKS_CUH
#define MST_CUDA_QUANT_BLOCKS_CUH

/* Loop unrolling hint for the device compiler (g++ would warn about the pragma in the host pass). */
#if MST_HOST_CODE
#define KMM_UNROLL
#else
#define KMM_UNROLL _Pragma("unroll")
#endif

enum {
    KMM_QK = 32,       /* values per Q4_0 / Q8_0 block and per activation block */
    KMM_QK_K = 256,    /* values per K-quant super-block */
    KMM_Q4_0_BYTES = 18,
    KMM_Q8_0_BYTES = 34,
    KMM_Q4_K_BYTES = 144,
    KMM_Q6_K_BYTES = 210,
    KMM_GEMV_MAX_TOKENS = 8, /* matmul.cu runs the GEMV kernels up to this many tokens, the GEMM kernels above */
};

/* Round to nearest, ties to even, in float (the CPU uses nearbyintf in the default rounding mode). Device:
 * cvt.rni.f32.f32; host pass: the C library's rintf/roundss. A magic-number add would be contracted into an
 * FMA by the device compiler, which would skip the rounding of the product before it. */
MST_DEVICE float kmm_rintf(float v)
{
    return __builtin_rintf(v);
}

/* A float product rounded on its own: the device compiler contracts a*b - c into one FMA (one rounding
 * instead of two), which would change the dequantized K-quant values against cpu/quant_k.c. */
MST_DEVICE float kmm_mul_rn(float a, float b)
{
#if MST_HOST_CODE
    volatile float p = a * b; /* the host pass is C++ too: keep g++ from fusing under -ffp-contract=fast */
    return p;
#else
    return __nvvm_mul_rn_f(a, b);
#endif
}

MST_DEVICE uint32_t kmm_f2u(float f)
{
    return __builtin_bit_cast(uint32_t, f);
}

MST_DEVICE float kmm_u2f(uint32_t u)
{
    return __builtin_bit_cast(float, u);
}

/* cpu/quant_act_bf16.h's mst_round_bf16: NaN stays a quiet NaN, zeros and denormals become a signed zero,
 * else round to nearest even on the top 16 bits. Returns the rounded value as a float. */
MST_DEVICE float kmm_round_bf16(float f)
{
    const uint32_t u = kmm_f2u(f), a = u & 0x7fffffffu;
    uint32_t h;
    if (a > 0x7f800000u)
        h = (u >> 16) | 0x40u;
    else if (a < 0x00800000u)
        h = (u >> 16) & 0x8000u;
    else
        h = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
    return kmm_u2f(h << 16);
}

/* cpu/quant_act.h's rule for a Q8_0 / Q8_K activation block holding NaN or +-Inf: d is this quiet NaN
 * (MST_QACT_NONFINITE_D, the same bits) and every q is 0. kmm_nonfinite: |v| is not <= FLT_MAX, i.e. v is NaN
 * or an infinity, in one compare. */
#define KMM_NONFINITE_D 0x7fc00000u
MST_DEVICE int kmm_nonfinite(float v)
{
    return !(mst_fabsf(v) <= 0x1.fffffep+127f);
}

/* Q4_0: 4 nibbles (0..15) per byte lane to signed int8 nibble - 8: with the top bit of every byte set no
 * subtraction borrows across bytes, and the xor takes the bias back off. */
MST_DEVICE int32_t kmm_nib_minus8(uint32_t v)
{
    return (int32_t)(((v | 0x80808080u) - 0x08080808u) ^ 0x80808080u);
}

/* Q4_0 block at blk (18 bytes): lo[k] = values 4k..4k+3, hi[k] = values 16+4k..16+4k+3, as signed int8 words. */
MST_DEVICE void kmm_unpack_q4_0(const uint8_t *blk, int32_t lo[4], int32_t hi[4])
{
KMM_UNROLL
    for (int k = 0; k < 4; k++) {
        const uint32_t v = mst_load_u32(blk + 2 + 4 * k);
        lo[k] = kmm_nib_minus8(v & 0x0f0f0f0fu);
        hi[k] = kmm_nib_minus8((v >> 4) & 0x0f0f0f0fu);
    }
}

/* Q4_K / Q5_K: sub-block s's 6-bit scale and min from the 12 packed bytes (cpu/quant_k.h's mst_k4_scale_min). */
MST_DEVICE void kmm_k4_scale_min(const uint8_t *s12, uint32_t s, int32_t *sc, int32_t *mn)
{
    if (s < 4) {
        *sc = s12[s] & 63;
        *mn = s12[s + 4] & 63;
    } else {
        *sc = (s12[s + 4] & 0x0f) | ((s12[s - 4] >> 6) << 4);
        *mn = (s12[s + 4] >> 4) | ((s12[s] >> 6) << 4);
    }
}

/* Q4_K sub-block s (values 32s .. 32s+31) of the super-block at blk, as 8 words of unsigned nibbles (0..15). */
MST_DEVICE void kmm_unpack_q4_k(const uint8_t *blk, uint32_t s, int32_t q[8])
{
    const uint8_t *qs = blk + 16 + 32 * (s / 2);
    const uint32_t sh = 4 * (s & 1);
KMM_UNROLL
    for (int k = 0; k < 8; k++)
        q[k] = (int32_t)((mst_load_u32(qs + 4 * k) >> sh) & 0x0f0f0f0fu);
}

/* Q6_K part s (0..7) of the super-block at blk: values 128h + 32p .. +31 (h = s/4, p = s%4), i.e. sub-blocks
 * 8h+2p (words 0-3) and 8h+2p+1 (words 4-7), as 8 words of unsigned 6-bit values (0..63, the -32 is applied
 * through the activation block sums). Nibbles: byte l + 32(p&1) of the half's 64, nibble p>>1; top bits: bits
 * 2p..2p+1 of byte l of the half's 32 (cpu/quant_k.c block_q6_k). */
MST_DEVICE void kmm_unpack_q6_k(const uint8_t *blk, uint32_t s, int32_t q[8])
{
    const uint32_t h = s / 4, p = s % 4;
    const uint8_t *ql = blk + 64 * h + 32 * (p & 1), *qh = blk + 128 + 32 * h;
    const uint32_t nsh = 4 * (p >> 1), hsh = 2 * p;
KMM_UNROLL
    for (int k = 0; k < 8; k++) {
        const uint32_t lo = (mst_load_u32(ql + 4 * k) >> nsh) & 0x0f0f0f0fu;
        const uint32_t hi = (mst_load_u32(qh + 4 * k) >> hsh) & 0x03030303u;
        q[k] = (int32_t)(lo | (hi << 4));
    }
}

/* The Q6_K int8 sub-block scale j. */
MST_DEVICE int32_t kmm_q6_k_scale(const uint8_t *blk, uint32_t j)
{
    return (int32_t)(int8_t)blk[192 + j];
}

#endif
