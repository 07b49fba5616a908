/* matmul_q6kx16_avx2.c — repacked Q6_K (repack_k.h) times Q8_K-quantized activations, AVX2 without VNNI: the
 * kernel of matmul_q6kx16_avx512.c for CPUs with no AVX-512 VNNI, on the same layout, with the same unit
 * split (head, 16 passes of one sub-block, end) and loop nest (matmul_tile_avx2.h).
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
 * kernel gives its bits (test_kquant_x16.c checks both against each other). Prefill takes at most 4 tokens
 * per decoded sub-block. The AVX-VNNI build (matmul_tile_avx2.h) takes each sub-block's sum in one vpdpbusd
 * chain and multiplies it by sc_j (vpmulld), as the VNNI kernel does. */
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
    const __m256i m4 = _mm256_set1_epi8(0x0F), m30 = _mm256_set1_epi8(0x30);
    const uint8_t *s = p + 288 + 192 * j;
    for (int h = 0; h < 2; h++) {
        const __m256i A = _mm256_loadu_si256((const __m256i *)(s + 32 * h));
        const __m256i B = _mm256_loadu_si256((const __m256i *)(s + 64 + 32 * h));
        const __m256i H = _mm256_loadu_si256((const __m256i *)(s + 128 + 32 * h));
        __m256i w[4];
        w[0] = _mm256_or_si256(_mm256_and_si256(A, m4), _mm256_and_si256(_mm256_slli_epi16(H, 4), m30));
        w[1] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(A, 4), m4), _mm256_and_si256(_mm256_slli_epi16(H, 2), m30));
        w[2] = _mm256_or_si256(_mm256_and_si256(B, m4), _mm256_and_si256(H, m30));
        w[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(B, 4), m4), _mm256_and_si256(_mm256_srli_epi16(H, 2), m30));
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
MST_AI void end_q6k(const uint8_t *p, const mst_qact *x, size_t t, uint32_t b, q6k_state *st, mst_acc16 *acc,
                    const int NT)
{
    const uint32_t nb = x->cols / MST_QK_K;
    for (int h = 0; h < 2; h++) {
        const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p + 16 * h)));
        for (int u = 0; u < NT; u++) {
            const float dx = x->d[(t + u) * nb + b];
            acc[u].h[h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(st->is[u][h]), _mm256_mul_ps(dw, _mm256_set1_ps(dx)),
                                          acc[u].h[h]);
        }
    }
}

#if defined(MST_X16_AVXVNNI)
MST_AVX2_X16_FROM_PASSES(mst_matmul_qa_q6_kx16, q6k_state, head_q6k, pass_q6k, end_q6k, UNIT, 288, 16,
                              192, MST_QK_K, 4)
#else
/* Plain AVX2's prefill unit, as matmul_q4kx16_avx2.c's (which says why): a sub-block's 16 columns for both
 * halves at once, so each activation broadcast feeds two pmaddubsw; the running sums pinned where they stand. */
MST_AI void prefill_q6k(const uint8_t *p, const mst_qact *x, size_t t, uint32_t b, mst_acc16 *acc, const int NT)
{
    const uint32_t cols = x->cols;
    const __m256i m4 = _mm256_set1_epi8(0x0F), m30 = _mm256_set1_epi8(0x30);
    q6k_state st;
    head_q6k(p, x, t, b, &st, acc, NT);
    _Pragma("GCC unroll 16") for (int j = 0; j < 16; j++) {
        const uint8_t *s = p + 288 + 192 * j;
        __m256i w[2][4], scp[2];
        for (int h = 0; h < 2; h++) {
            const __m256i A = _mm256_loadu_si256((const __m256i *)(s + 32 * h));
            const __m256i B = _mm256_loadu_si256((const __m256i *)(s + 64 + 32 * h));
            const __m256i H = _mm256_loadu_si256((const __m256i *)(s + 128 + 32 * h));
            w[h][0] = _mm256_or_si256(_mm256_and_si256(A, m4), _mm256_and_si256(_mm256_slli_epi16(H, 4), m30));
            w[h][1] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(A, 4), m4),
                                      _mm256_and_si256(_mm256_slli_epi16(H, 2), m30));
            w[h][2] = _mm256_or_si256(_mm256_and_si256(B, m4), _mm256_and_si256(H, m30));
            w[h][3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(B, 4), m4),
                                      _mm256_and_si256(_mm256_srli_epi16(H, 2), m30));
            const __m128i sc8 = half_scales(p, j, h);
            scp[h] = _mm256_cvtepi8_epi16(_mm_unpacklo_epi8(sc8, sc8));
        }
        for (int u = 0; u < NT; u++) {
            const int8_t *xq = x->qs + (t + u) * cols + (size_t)b * MST_QK_K + 16 * j;
            __m256i pr[2][2]; /* [half][columns 0-7, 8-15]: two pmaddubsw summed in int16 (exact, as pass_q6k) */
            for (int i = 0; i < 4; i++) {
                const __m256i xb = mst_bcast32(xq + 4 * i);
                for (int h = 0; h < 2; h++) {
                    const __m256i m = _mm256_maddubs_epi16(w[h][i], xb);
                    pr[h][i / 2] = i % 2 ? _mm256_add_epi16(pr[h][i / 2], m) : m;
                }
                __asm__("" : "+x"(pr[0][i / 2]), "+x"(pr[1][i / 2])); /* as matmul_q4kx16_avx2.c */
            }
            for (int h = 0; h < 2; h++)
                st.is[u][h] = _mm256_add_epi32(st.is[u][h], _mm256_add_epi32(_mm256_madd_epi16(pr[h][0], scp[h]),
                                                                             _mm256_madd_epi16(pr[h][1], scp[h])));
            __asm__("" : "+x"(st.is[u][0]), "+x"(st.is[u][1]));
        }
    }
    end_q6k(p, x, t, b, &st, acc, NT);
}

MST_AVX2_X16_FROM_PASSES_PREFILL(mst_matmul_qa_q6_kx16, q6k_state, head_q6k, pass_q6k, end_q6k, prefill_q6k, UNIT,
                                 288, 16, 192, MST_QK_K, 4)
#endif
#endif
