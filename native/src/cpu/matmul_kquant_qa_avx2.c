/* matmul_kquant_qa_avx2.c — K-quant (Q2_K..Q6_K) weights times Q8_K activations with AVX2 (no VNNI).
 *
 * As matmul_kquant_qa_avx512.c with 32 weights per ymm: vpmaddubsw (unsigned weights x signed
 * activations -> int16 pairs, at most 2·63·127: no saturation), vpmaddwd with the sub-block scales
 * (int16) -> int32, added into exact integer lanes; once per super-block they become float and are
 * scaled by d_w·d_x (and Σ m·bsum by -dmin_w·d_x). Scales are broadcast per sub-block with vpshufb
 * from a register holding all of them. */
#include "ops.h"

#if defined(__x86_64__)
#pragma GCC target("avx2,fma,f16c")
#include <immintrin.h>

#include "matmul_tile.h"
#include "quant.h"
#include "quant_act_k.h"
#include "quant_k.h"

MST_AI float half_at(const uint8_t *p)
{
    return _cvtsh_ss(mst_read_u16(p));
}

MST_AI float hsum256(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* vpshufb pattern that copies 16-bit word a into the low 128-bit lane and word b into the high one. */
MST_AI __m256i word_pick(int a, int b)
{
    return _mm256_setr_m128i(_mm_set1_epi16((short)(2 * a | (2 * a + 1) << 8)),
                             _mm_set1_epi16((short)(2 * b | (2 * b + 1) << 8)));
}

/* Σ over 32 weights of w·x, times the scale per 16-bit pair, as 8 int32 lanes. */
MST_AI __m256i dot32(__m256i w, const int8_t *x, __m256i scale)
{
    return _mm256_madd_epi16(_mm256_maddubs_epi16(w, _mm256_loadu_si256((const __m256i *)x)), scale);
}

#define XQ(u) (x->qs + (t + (u)) * cols + (size_t)b * MST_QK_K)
#define XB(u) (x->bsum16 + (t + (u)) * (cols / 16) + (size_t)b * 16)
#define XD(u) (x->d[(t + (u)) * nb + b])

/* Q4_K (FIVE = 0) and Q5_K (FIVE = 1): 32 bytes of nibbles per pair of sub-blocks (2j low, 2j+1 high). */
MST_AI void row_q4_5_k(const uint8_t *row, const mst_qact *x, size_t t, float *y, size_t ys, const int NT,
                       const int FIVE, const size_t BLOCK_BYTES)
{
    __m256 acc[4];
    for (int u = 0; u < 4; u++)
        acc[u] = _mm256_setzero_ps();
    const uint32_t cols = x->cols, nb = cols / MST_QK_K;
    const __m256i m4 = _mm256_set1_epi8(0x0F), one = _mm256_set1_epi8(1);
    /* [m0, m0, m1, m1, m2, m2, m3, m3 | m4, m4, .., m7, m7] from a register holding m0..m7 in both lanes */
    const __m256i mpick = _mm256_setr_epi8(0, 1, 0, 1, 2, 3, 2, 3, 4, 5, 4, 5, 6, 7, 6, 7, 8, 9, 8, 9, 10, 11, 10,
                                           11, 12, 13, 12, 13, 14, 15, 14, 15);
    for (uint32_t b = 0; b < nb; b++) {
        const uint8_t *p = row + (size_t)b * BLOCK_BYTES;
        uint8_t sm[16];
        mst_k4_scale_min16(p + 4, sm);
        const __m256i sm16 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)sm)); /* [sc0..7 | mn0..7] */
        const __m256i scs = _mm256_permute2x128_si256(sm16, sm16, 0x00);
        const __m256i mins = _mm256_shuffle_epi8(_mm256_permute2x128_si256(sm16, sm16, 0x11), mpick);
        const __m256i qh = FIVE ? _mm256_loadu_si256((const __m256i *)(p + 16)) : _mm256_setzero_si256();
        __m256i is[4];
        for (int u = 0; u < 4; u++)
            is[u] = _mm256_setzero_si256();
        for (int j = 0; j < 4; j++) {
            const __m256i q = _mm256_loadu_si256((const __m256i *)(p + (FIVE ? 48 : 16) + 32 * j));
            __m256i lo = _mm256_and_si256(q, m4), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
            if (FIVE) { /* fifth bit of sub-block s = bit s of qh[l]; the 16-bit shift keeps bit 0 per byte right */
                lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * j), one), 4));
                hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * j + 1), one), 4));
            }
            const __m256i s_lo = _mm256_shuffle_epi8(scs, word_pick(2 * j, 2 * j));
            const __m256i s_hi = _mm256_shuffle_epi8(scs, word_pick(2 * j + 1, 2 * j + 1));
            for (int u = 0; u < NT; u++) {
                const int8_t *xq = XQ(u) + 64 * j;
                is[u] = _mm256_add_epi32(is[u], _mm256_add_epi32(dot32(lo, xq, s_lo), dot32(hi, xq + 32, s_hi)));
            }
        }
        const float dw = half_at(p), dmin = half_at(p + 2);
        for (int u = 0; u < NT; u++) {
            const __m256i ms = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)XB(u)), mins);
            const float dx = XD(u);
            acc[u] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(is[u]), _mm256_set1_ps(dx * dw), acc[u]);
            acc[u] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(ms), _mm256_set1_ps(-(dx * dmin)), acc[u]);
        }
    }
    for (int u = 0; u < NT; u++)
        y[u * ys] = hsum256(acc[u]);
}

/* Q6_K: per 128-weight half and part (32 weights, sub-blocks 8h+2part and +1): nibbles of ql[l] (parts 0, 2)
 * or ql[32 + l] (parts 1, 3), low or high, plus qh bits 2·part..2·part+1 moved to bits 4-5. */
MST_AI void row_q6_k(const uint8_t *row, const mst_qact *x, size_t t, float *y, size_t ys, const int NT)
{
    __m256 acc[4];
    for (int u = 0; u < 4; u++)
        acc[u] = _mm256_setzero_ps();
    const uint32_t cols = x->cols, nb = cols / MST_QK_K;
    const __m256i m4 = _mm256_set1_epi8(0x0F), m30 = _mm256_set1_epi8(0x30);
    for (uint32_t b = 0; b < nb; b++) {
        const uint8_t *p = row + (size_t)b * MST_Q6_K_BYTES;
        const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(p + 192)));
        __m256i is[4];
        for (int u = 0; u < NT; u++) /* start from -32·Σ_j sc_j·bsum_j: the offset, exactly */
            is[u] = _mm256_sub_epi32(_mm256_setzero_si256(),
                                     _mm256_slli_epi32(_mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)XB(u)), sc16), 5));
        for (int h = 0; h < 2; h++) {
            const __m256i L0 = _mm256_loadu_si256((const __m256i *)(p + 64 * h));
            const __m256i L1 = _mm256_loadu_si256((const __m256i *)(p + 64 * h + 32));
            const __m256i H = _mm256_loadu_si256((const __m256i *)(p + 128 + 32 * h));
            const __m256i sch = h ? _mm256_permute2x128_si256(sc16, sc16, 0x11) /* scales 8h..8h+7 */
                                  : _mm256_permute2x128_si256(sc16, sc16, 0x00);
            const __m256i w[4] = {
                _mm256_or_si256(_mm256_and_si256(L0, m4), _mm256_and_si256(_mm256_slli_epi16(H, 4), m30)),
                _mm256_or_si256(_mm256_and_si256(L1, m4), _mm256_and_si256(_mm256_slli_epi16(H, 2), m30)),
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(L0, 4), m4), _mm256_and_si256(H, m30)),
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(L1, 4), m4),
                                _mm256_and_si256(_mm256_srli_epi16(H, 2), m30)),
            };
            for (int part = 0; part < 4; part++) {
                const __m256i s = _mm256_shuffle_epi8(sch, word_pick(2 * part, 2 * part + 1));
                for (int u = 0; u < NT; u++)
                    is[u] = _mm256_add_epi32(is[u], dot32(w[part], XQ(u) + 128 * h + 32 * part, s));
            }
        }
        const float dw = half_at(p + 208);
        for (int u = 0; u < NT; u++)
            acc[u] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(is[u]), _mm256_set1_ps(XD(u) * dw), acc[u]);
    }
    for (int u = 0; u < NT; u++)
        y[u * ys] = hsum256(acc[u]);
}

/* Q2_K (THREE = 0) and Q3_K (THREE = 1): pass p of half h is (qs[32h + l] >> 2p) & 3 for l = 0..31, the
 * weights 128h + 32p + l in natural order (sub-blocks 8h+2p and +1); Q3_K adds bit 4h + p of hmask[l] as +4
 * (u = q + 4, 0..7; the 4 comes back through bsum16), Q2_K's mins come through bsum16 as in Q4_K. */
MST_AI void row_q2_3_k(const uint8_t *row, const mst_qact *x, size_t t, float *y, size_t ys, const int NT,
                       const int THREE, const size_t BLOCK_BYTES)
{
    __m256 acc[4];
    for (int u = 0; u < 4; u++)
        acc[u] = _mm256_setzero_ps();
    const uint32_t cols = x->cols, nb = cols / MST_QK_K;
    const __m256i m3 = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1);
    for (uint32_t b = 0; b < nb; b++) {
        const uint8_t *p = row + (size_t)b * BLOCK_BYTES;
        __m256i sc16, mins16 = _mm256_setzero_si256();
        if (THREE) {
            int8_t s8[16];
            mst_q3k_scales(p + 96, s8);
            sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)s8));
        } else {
            const __m256i sb = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)p));
            sc16 = _mm256_and_si256(sb, _mm256_set1_epi16(0x0f));
            mins16 = _mm256_srli_epi16(sb, 4);
        }
        const uint8_t *qs = p + (THREE ? 32 : 16);
        const __m256i hm = _mm256_loadu_si256((const __m256i *)p); /* Q3_K's hmask */
        __m256i is[4];
        for (int u = 0; u < NT; u++) {
            is[u] = _mm256_setzero_si256();
            if (THREE) /* start from -4·Σ_j sc_j·bsum_j: the offset, exactly */
                is[u] = _mm256_sub_epi32(is[u], _mm256_slli_epi32(
                                                    _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)XB(u)), sc16), 2));
        }
        for (int h = 0; h < 2; h++) {
            const __m256i q = _mm256_loadu_si256((const __m256i *)(qs + 32 * h));
            const __m256i sch = h ? _mm256_permute2x128_si256(sc16, sc16, 0x11) /* scales 8h..8h+7 */
                                  : _mm256_permute2x128_si256(sc16, sc16, 0x00);
            for (int pass = 0; pass < 4; pass++) {
                __m256i v = _mm256_and_si256(_mm256_srli_epi16(q, 2 * pass), m3);
                if (THREE)
                    v = _mm256_or_si256(v, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hm, 4 * h + pass), one), 2));
                const __m256i s = _mm256_shuffle_epi8(sch, word_pick(2 * pass, 2 * pass + 1));
                for (int u = 0; u < NT; u++)
                    is[u] = _mm256_add_epi32(is[u], dot32(v, XQ(u) + 128 * h + 32 * pass, s));
            }
        }
        const float dw = half_at(p + (THREE ? 108 : 80)), dmin = THREE ? 0.0f : half_at(p + 82);
        for (int u = 0; u < NT; u++) {
            const float dx = XD(u);
            acc[u] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(is[u]), _mm256_set1_ps(dx * dw), acc[u]);
            if (!THREE)
                acc[u] = _mm256_fmadd_ps(
                    _mm256_cvtepi32_ps(_mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)XB(u)), mins16)),
                    _mm256_set1_ps(-(dx * dmin)), acc[u]);
        }
    }
    for (int u = 0; u < NT; u++)
        y[u * ys] = hsum256(acc[u]);
}

MST_AI void row_q2_k(const uint8_t *row, const mst_qact *x, size_t t, float *y, size_t ys, const int NT)
{
    row_q2_3_k(row, x, t, y, ys, NT, 0, MST_Q2_K_BYTES);
}

MST_AI void row_q3_k(const uint8_t *row, const mst_qact *x, size_t t, float *y, size_t ys, const int NT)
{
    row_q2_3_k(row, x, t, y, ys, NT, 1, MST_Q3_K_BYTES);
}

MST_AI void row_q4_k(const uint8_t *row, const mst_qact *x, size_t t, float *y, size_t ys, const int NT)
{
    row_q4_5_k(row, x, t, y, ys, NT, 0, MST_Q4_K_BYTES);
}

MST_AI void row_q5_k(const uint8_t *row, const mst_qact *x, size_t t, float *y, size_t ys, const int NT)
{
    row_q4_5_k(row, x, t, y, ys, NT, 1, MST_Q5_K_BYTES);
}

static MST_DEFINE_MATMUL_QA(matmul_qa_q2_k, row_q2_k)
static MST_DEFINE_MATMUL_QA(matmul_qa_q3_k, row_q3_k)
static MST_DEFINE_MATMUL_QA(matmul_qa_q4_k, row_q4_k)
static MST_DEFINE_MATMUL_QA(matmul_qa_q5_k, row_q5_k)
static MST_DEFINE_MATMUL_QA(matmul_qa_q6_k, row_q6_k)

const mst_kquant_qa_kernels mst_kquant_qa_avx2 = {
    .matmul_qa = {matmul_qa_q2_k, matmul_qa_q3_k, matmul_qa_q4_k, matmul_qa_q5_k, matmul_qa_q6_k},
};
#endif
