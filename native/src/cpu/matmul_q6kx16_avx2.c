/* matmul_q6kx16_avx2.c — repacked Q6_K (repack_k.h) times Q8_K-quantized activations, AVX2 without VNNI: the
 * kernel of matmul_q6kx16_avx512.c for CPUs with no AVX-512 VNNI, on the same layout, with the same unit
 * split for decode (head, 16 passes of one sub-block, end) and loop nest (matmul_tile_avx2.h).
 *
 * A group's 16 rows are two ymm halves (rows 0-7 from the low 32 bytes of each 64-byte chunk, rows 8-15
 * from the high 32). The VNNI kernel forms, per lane and super-block, Σ_j sc_j·(isum_j - 32·bsum_j) exactly
 * in int32 (< 2^29). Here the same integer is summed in another order, which int32 addition allows:
 *   - the head: -32·Σ_j sc_j·bsum_j, pmaddwd of (sc_2k, sc_2k+1) per lane by (bsum_2k, bsum_2k+1)
 *     broadcast (|bsum| <= 2032 fits int16; -32· after the sum), as the Q4_K kernels' mins term;
 *   - a pass (sub-block j): pmaddubsw of the 4 vectors of 6-bit values (0..63) by 4 activations each;
 *     two of them summed in int16 stay within 2·2·63·128 = 32256 (exact), and pmaddwd against
 *     (sc_j, sc_j) in both halves of each lane gives sc_j times their sum in int32.
 * The float operations per lane are the VNNI kernel's (one convert, one FMA per super-block), so this
 * kernel gives its bits (test_kquant_x16.c checks both against each other). The AVX-VNNI build
 * (matmul_tile_avx2.h) takes each sub-block's sum in one vpdpbusd chain and multiplies it by sc_j (vpmulld),
 * as the VNNI kernel does; plain AVX2's prefill has a unit of its own (prefill_q6k, below). */
#include "ops.h"

#if defined(__x86_64__)
#include "matmul_tile_avx2.h" /* first: the target, AVX2 or AVX-VNNI */
#include "quant_act_k.h"
#include "quant_k.h"
#include "repack_k.h"

enum { UNIT = MST_Q6_KX16_UNIT };

/* the int8 scales of sub-block j for half h (rows 8h..8h+7) at p + 32 + 16j + 8h */
MST_AI __m128i half_scales(const uint8_t *p, int j, int h)
{
    return _mm_loadl_epi64((const __m128i *)(p + 32 + 16 * j + 8 * h));
}

/* The 4 vectors of 6-bit values (0..63) of sub-block j's half h (repack_k.h): w[k] = columns 4k..4k+3 of each
 * row, for k = 0..2 the low 6 bits of chunk k, and w[3] gathered from their top 2 bits: chunk k & 0xC0 shifted
 * right by 6 - 2k puts its piece at bits 2k, 2k+1. The 16-bit shifts move nothing across bytes: a high byte's
 * bits 14, 15 land at 8..13. 3 loads and 11 operations (low nibbles and a chunk of high bits took 17). */
MST_AI void q6_unpack(const uint8_t *p, int j, int h, __m256i w[4])
{
    const __m256i m6 = _mm256_set1_epi8(0x3F), mtop = _mm256_set1_epi8((char)0xC0);
    const uint8_t *s = p + 288 + 192 * j + 32 * h;
    __m256i top[3];
    for (int k = 0; k < 3; k++) {
        const __m256i c = _mm256_loadu_si256((const __m256i *)(s + 64 * k));
        w[k] = _mm256_and_si256(c, m6);
        top[k] = _mm256_srli_epi16(_mm256_and_si256(c, mtop), 6 - 2 * k);
    }
    w[3] = _mm256_or_si256(_mm256_or_si256(top[0], top[1]), top[2]);
}

typedef struct {
    __m256i is[4][2]; /* [token][half]: Σ_j sc_j·(isum_j - 32·bsum_j) so far */
} q6k_state;

MST_AI void head_q6k(const uint8_t *p, const mst_qact *x, size_t t, uint32_t b, q6k_state *st, mst_acc16 *acc,
                     const int NT)
{
    (void)acc;
    const uint32_t cols = x->cols;
    for (int h = 0; h < 2; h++) {
        __m256i scp[8]; /* per lane (sc_2k, sc_2k+1) as int16 */
        for (int k = 0; k < 8; k++)
            scp[k] = _mm256_cvtepi8_epi16(_mm_unpacklo_epi8(half_scales(p, 2 * k, h), half_scales(p, 2 * k + 1, h)));
        for (int u = 0; u < NT; u++) {
            const int16_t *bs = x->bsum16 + (t + u) * (cols / 16) + (size_t)b * 16;
            __m256i m = _mm256_setzero_si256();
            for (int k = 0; k < 8; k++) /* (bsum_2k, bsum_2k+1) broadcast as one int32 */
                m = _mm256_add_epi32(m, _mm256_madd_epi16(scp[k], mst_bcast32(bs + 2 * k)));
            st->is[u][h] = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(m, 5));
        }
    }
}

MST_AI void pass_q6k(const uint8_t *p, const mst_qact *x, size_t t, uint32_t b, const int j, q6k_state *st,
                     const int NT)
{
    const uint32_t cols = x->cols;
    for (int h = 0; h < 2; h++) {
        __m256i w[4];
        q6_unpack(p, j, h, w);
        const __m128i sc8 = half_scales(p, j, h);
#if defined(MST_X16_AVXVNNI)
        /* the VNNI kernel's way: isum_j in one int32 chain (|.| < 2^17), times sc_j sign-extended per lane */
        const __m256i sc32 = _mm256_cvtepi8_epi32(sc8);
        for (int u = 0; u < NT; u++) {
            const int8_t *xq = x->qs + (t + u) * cols + (size_t)b * MST_QK_K + 16 * j;
            __m256i c = _mm256_setzero_si256();
            for (int i = 0; i < 4; i++)
                c = _mm256_dpbusd_avx_epi32(c, w[i], mst_bcast32(xq + 4 * i));
            st->is[u][h] = _mm256_add_epi32(st->is[u][h], _mm256_mullo_epi32(c, sc32));
        }
#else
        /* per lane (sc_j, sc_j) as int16 */
        const __m256i scp = _mm256_cvtepi8_epi16(_mm_unpacklo_epi8(sc8, sc8));
        for (int u = 0; u < NT; u++) {
            const int8_t *xq = x->qs + (t + u) * cols + (size_t)b * MST_QK_K + 16 * j;
            const __m256i p01 = _mm256_add_epi16(_mm256_maddubs_epi16(w[0], mst_bcast32(xq)),
                                                 _mm256_maddubs_epi16(w[1], mst_bcast32(xq + 4)));
            const __m256i p23 = _mm256_add_epi16(_mm256_maddubs_epi16(w[2], mst_bcast32(xq + 8)),
                                                 _mm256_maddubs_epi16(w[3], mst_bcast32(xq + 12)));
            st->is[u][h] = _mm256_add_epi32(st->is[u][h], _mm256_add_epi32(_mm256_madd_epi16(p01, scp),
                                                                           _mm256_madd_epi16(p23, scp)));
        }
#endif
    }
}

/* floats once per super-block: one convert and one FMA per token and half */
MST_AI void end_sums(const uint8_t *p, const mst_qact *x, size_t t, uint32_t b, const __m256i (*is)[2],
                     mst_acc16 *acc, const int NT)
{
    const uint32_t nb = x->cols / MST_QK_K;
    for (int h = 0; h < 2; h++) {
        const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p + 16 * h)));
        for (int u = 0; u < NT; u++) {
            const float dx = x->d[(t + u) * nb + b];
            acc[u].h[h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(is[u][h]), _mm256_mul_ps(dw, _mm256_set1_ps(dx)),
                                          acc[u].h[h]);
        }
    }
}

MST_AI void end_q6k(const uint8_t *p, const mst_qact *x, size_t t, uint32_t b, q6k_state *st, mst_acc16 *acc,
                    const int NT)
{
    end_sums(p, x, t, b, (const __m256i(*)[2])st->is, acc, NT);
}

#if defined(MST_X16_AVXVNNI)
MST_AVX2_X16_FROM_PASSES(mst_matmul_qa_q6_kx16, q6k_state, head_q6k, pass_q6k, end_q6k, UNIT, 288, 16,
                              192, MST_QK_K, 4)
#else
/* Plain AVX2's prefill unit takes up to 8 tokens per decoded sub-block: the driver (matmul_tile.h) reads
 * MST_X16_NT_MAX where the kernel below is defined, so this file alone runs groups of 8, then 4, then 1. Its
 * running sums live in memory (an empty asm with "+m" per update), so 8 tokens need no register more than 4.
 * Why, in llvm-mca's models of Zen 3, Skylake and Sapphire Rapids (benchmarks/RESULTS.md has the numbers):
 * with 4 tokens, 8 decoded vectors, 2 scale pairs and 8 running sums (18 registers) spilled and reloaded in
 * every token's chain; and a sub-block that opens with loads, unpacking and scale conversions filled Zen 3's
 * FP scheduler with their dependants, the multiply pipes idle meanwhile. Now the scale pairs of all 16
 * sub-blocks come from the head (a table in memory, read as pmaddwd operands), a sub-block's only chain
 * before its first multiply is q6_unpack, and its cost (3 loads, 22 operations for both halves) spreads over
 * 8 tokens of 24 operations each (4 broadcasts, 8 pmaddubsw, 4 paddw, 4 pmaddwd, 4 paddd). */
#undef MST_X16_NT_MAX
#define MST_X16_NT_MAX 8

/* The prefill head: is[u][h] = -32·Σ_j sc_j·bsum_j as head_q6k's, each bsum pair broadcast once for both
 * halves, 4 tokens' sums at a time in registers; and sct[j][h], the (sc_j, sc_j) int16 pairs per lane of every
 * sub-block and half, for the passes (a pshufb and a shift each: LLVM's Zen 3 model charges vpmovsxbw ymm
 * 3 cycles of the two shuffle pipes) */
MST_AI void head_prefill(const uint8_t *p, const mst_qact *x, size_t t, uint32_t b, __m256i is[][2],
                         __m256i sct[16][2], const int NT)
{
    const uint32_t cols = x->cols;
    /* vpshufb controls: lane r of half h takes scale byte 8h + r (of either 128-bit copy) into the high byte
     * of both int16 halves, zero below; an arithmetic shift right by 8 then sign-extends it */
    const __m256i lanes = _mm256_setr_epi32(0, 0x01000100, 0x02000200, 0x03000300, 0x04000400, 0x05000500,
                                            0x06000600, 0x07000700);
    const __m256i pick[2] = {_mm256_add_epi32(_mm256_set1_epi32(0x00800080), lanes),
                             _mm256_add_epi32(_mm256_set1_epi32(0x08800880), lanes)};
    /* sct written on the first round of 4 tokens, read back on the second */
#pragma GCC unroll 2
    for (int u0 = 0; u0 < NT; u0 += 4) {
        const int n = NT - u0 < 4 ? NT - u0 : 4;
        __m256i m[4][2];
        for (int u = 0; u < n; u++)
            m[u][0] = m[u][1] = _mm256_setzero_si256();
        for (int k = 0; k < 8; k++) {
            if (u0 == 0)
                for (int e = 0; e < 2; e++) {
                    const __m256i sc =
                        _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(p + 32 + 32 * k + 16 * e)));
                    for (int h = 0; h < 2; h++)
                        sct[2 * k + e][h] = _mm256_srai_epi16(_mm256_shuffle_epi8(sc, pick[h]), 8);
                }
            /* per lane (sc_2k, sc_2k+1): the low int16 of sub-block 2k's pair, the high of 2k+1's */
            const __m256i scp0 = _mm256_blend_epi16(sct[2 * k][0], sct[2 * k + 1][0], 0xAA);
            const __m256i scp1 = _mm256_blend_epi16(sct[2 * k][1], sct[2 * k + 1][1], 0xAA);
            for (int u = 0; u < n; u++) {
                const __m256i bc = mst_bcast32(x->bsum16 + (t + u0 + u) * (cols / 16) + (size_t)b * 16 + 2 * k);
                m[u][0] = _mm256_add_epi32(m[u][0], _mm256_madd_epi16(scp0, bc));
                m[u][1] = _mm256_add_epi32(m[u][1], _mm256_madd_epi16(scp1, bc));
                __asm__("" : "+x"(m[u][0]), "+x"(m[u][1]));
            }
        }
        for (int u = 0; u < n; u++)
            for (int h = 0; h < 2; h++)
                is[u0 + u][h] = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(m[u][h], 5));
    }
}

/* Tokens t..t+NT-1 (NT = 8, 4 or 1) of unit b: the head, then per sub-block both halves decoded once and met
 * by each token's 4 broadcasts (each feeding both halves' pmaddubsw); each token's two int16 sums per half
 * (4 columns each, exact as in pass_q6k) scaled by pmaddwd against sct into its running sum. Empty asm keeps
 * GCC from reassociating the int16 adds into trees whose products spill ("+x") and from keeping the running
 * sums in registers ("+m"). Per lane the same exact int32 as head, passes and end, and the same float
 * operations (end_sums), so a batch row equals the token alone (decode) bit for bit. */
MST_AI void prefill_q6k(const uint8_t *p, const mst_qact *x, size_t t, uint32_t b, mst_acc16 *acc, const int NT)
{
    const uint32_t cols = x->cols;
    __m256i is[MST_X16_NT_MAX][2], sct[16][2];
    head_prefill(p, x, t, b, is, sct, NT);
    const int8_t *xb = x->qs + t * cols + (size_t)b * MST_QK_K;
    for (int j = 0; j < 16; j++) {
        __m256i w[2][4];
        for (int h = 0; h < 2; h++)
            q6_unpack(p, j, h, w[h]);
        for (int u = 0; u < NT; u++) {
            const int8_t *xq = xb + (size_t)u * cols + 16 * j;
            __m256i pr[2][2];
            for (int i = 0; i < 4; i++) {
                const __m256i xv = mst_bcast32(xq + 4 * i);
                for (int h = 0; h < 2; h++) {
                    const __m256i m = _mm256_maddubs_epi16(w[h][i], xv);
                    pr[h][i / 2] = i % 2 ? _mm256_add_epi16(pr[h][i / 2], m) : m;
                }
                __asm__("" : "+x"(pr[0][i / 2]), "+x"(pr[1][i / 2]));
            }
            for (int h = 0; h < 2; h++) {
                is[u][h] = _mm256_add_epi32(is[u][h], _mm256_add_epi32(_mm256_madd_epi16(pr[h][0], sct[j][h]),
                                                                       _mm256_madd_epi16(pr[h][1], sct[j][h])));
                __asm__("" : "+m"(is[u][h]));
            }
        }
    }
    end_sums(p, x, t, b, (const __m256i(*)[2])is, acc, NT);
}

MST_AVX2_X16_FROM_PASSES_PREFILL(mst_matmul_qa_q6_kx16, q6k_state, head_q6k, pass_q6k, end_q6k, prefill_q6k, UNIT,
                                 288, 16, 192, MST_QK_K, 4)
#endif
#endif
