/* matmul_kquant_qa_avx512.c — K-quant (Q2_K..Q6_K) weights times Q8_K activations, AVX-512 VNNI.
 *
 * 64 weights fill a zmm as unsigned bytes in natural order (Q2_K 0..3, Q4_K/Q5_K 0..15/0..31; Q3_K 0..7 and
 * Q6_K 0..63, their -4/-32 taken out through bsum16), so one vpmaddubsw with 64 signed activations gives 32 int16 pair sums
 * (at most 2·63·127 = 16002: no saturation) and one vpdpwssd multiplies each pair by its sub-block's scale
 * (int16) and adds into 16 int32 lanes. The lanes hold exact integers; once per super-block they become
 * float and are scaled by d_w·d_x (and the mins term, Σ m·bsum, by -dmin_w·d_x). The integers equal
 * matmul_kquant_qa.c's; only the float summation order differs. A row is decoded once per group of up
 * to 4 tokens (matmul_tile.h). */
#include "ops.h"

#if defined(__x86_64__)
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")
#include <immintrin.h>

#include "matmul_tile.h"
#include "quant.h"
#include "quant_act_k.h"
#include "quant_k.h"

MST_AI float half_at(const uint8_t *p)
{
    return _cvtsh_ss(mst_read_u16(p));
}

/* 32 bytes of nibbles as 64 unsigned weights: low nibbles (sub-block 2j) then high nibbles (2j+1),
 * which is the activations' natural order 64j .. 64j+63. Broadcast load, shift of the upper half, and. */
MST_AI __m512i nibbles64(const uint8_t *q)
{
    __m512i v = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)q));
    v = _mm512_mask_srli_epi16(v, 0xFFFF0000u, v, 4);
    return _mm512_and_si512(v, _mm512_set1_epi8(0x0F));
}

/* Word index vectors: idx_pair(a, b) = [a x16, b x16]; idx_quad(k) = [4k, 4k+1, 4k+2, 4k+3], each x8. */
MST_AI __m512i idx_pair(int a, int b)
{
    return _mm512_inserti64x4(_mm512_set1_epi16((short)a), _mm256_set1_epi16((short)b), 1);
}

MST_AI __m512i idx_quad(int k)
{
    return _mm512_inserti64x4(
        _mm512_castsi256_si512(_mm256_inserti128_si256(_mm256_castsi128_si256(_mm_set1_epi16((short)(4 * k))),
                                                       _mm_set1_epi16((short)(4 * k + 1)), 1)),
        _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_set1_epi16((short)(4 * k + 2))),
                                _mm_set1_epi16((short)(4 * k + 3)), 1),
        1);
}

/* Activations of token u, super-block b. */
#define XQ(u) (x->qs + (t + (u)) * cols + (size_t)b * MST_QK_K)
#define XB(u) (x->bsum16 + (t + (u)) * (cols / 16) + (size_t)b * 16)
#define XD(u) (x->d[(t + (u)) * nb + b])

/* Q4_K (FIVE = 0) and Q5_K (FIVE = 1). */
MST_AI void row_q4_5_k(const uint8_t *row, const mst_qact *x, size_t t, float *y, size_t ys, const int NT,
                       const int FIVE, const size_t BLOCK_BYTES)
{
    __m512 acc[4];
    __m256 macc[4]; /* the mins term: 8 lanes are enough, and 256-bit ops cost half on 256-bit-wide units */
    for (int u = 0; u < 4; u++) {
        acc[u] = _mm512_setzero_ps();
        macc[u] = _mm256_setzero_ps();
    }
    const uint32_t cols = x->cols, nb = cols / MST_QK_K;
    /* mins paired with bsum16: [m0, m0, m1, m1, .., m7, m7] from words 8..15 of [sc0..7, mn0..7] */
    const __m256i midx = _mm256_setr_epi16(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15);
    for (uint32_t b = 0; b < nb; b++) {
        const uint8_t *p = row + (size_t)b * BLOCK_BYTES;
        uint8_t sm[16];
        mst_k4_scale_min16(p + 4, sm);
        const __m256i sm16 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)sm));
        const __m256i mins = _mm256_permutexvar_epi16(midx, sm16);
        __m512i w[4], sc[4];
        for (int j = 0; j < 4; j++) {
            w[j] = nibbles64(p + (FIVE ? 48 : 16) + 32 * j);
            sc[j] = _mm512_permutexvar_epi16(idx_pair(2 * j, 2 * j + 1), _mm512_castsi256_si512(sm16));
        }
        if (FIVE) {
            /* fifth bit of sub-block s is bit s of qh[l]: +16 where the bit is set */
            const __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(p + 16)));
            for (int j = 0; j < 4; j++) {
                __m512i bit = _mm512_inserti64x4(_mm512_set1_epi8((char)(1 << (2 * j))),
                                                 _mm256_set1_epi8((char)(1 << (2 * j + 1))), 1);
                w[j] = _mm512_mask_add_epi8(w[j], _mm512_test_epi8_mask(qh, bit), w[j], _mm512_set1_epi8(16));
            }
        }
        const float dw = half_at(p), dmin = half_at(p + 2);
        for (int u = 0; u < NT; u++) {
            const int8_t *xq = XQ(u);
            __m512i is = _mm512_setzero_si512();
            for (int j = 0; j < 4; j++)
                is = _mm512_dpwssd_epi32(is, _mm512_maddubs_epi16(w[j], _mm512_loadu_si512(xq + 64 * j)), sc[j]);
            __m256i ms = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)XB(u)), mins);
            const float dx = XD(u);
            acc[u] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(is), _mm512_set1_ps(dx * dw), acc[u]);
            macc[u] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(ms), _mm256_set1_ps(-(dx * dmin)), macc[u]);
        }
    }
    for (int u = 0; u < NT; u++)
        y[u * ys] = _mm512_reduce_add_ps(_mm512_add_ps(acc[u], _mm512_zextps256_ps512(macc[u])));
}

/* Q6_K: per 128-weight half, ql[64] and qh[32]; weights 0..63 of the half are the low nibbles of ql with
 * qh bits 0-1 (first 32) and 2-3 (next 32); weights 64..127 the high nibbles with qh bits 4-5 and 6-7. */
MST_AI void row_q6_k(const uint8_t *row, const mst_qact *x, size_t t, float *y, size_t ys, const int NT)
{
    __m512 acc[4];
    for (int u = 0; u < 4; u++)
        acc[u] = _mm512_setzero_ps();
    const uint32_t cols = x->cols, nb = cols / MST_QK_K;
    const __m512i m4 = _mm512_set1_epi8(0x0F), m30 = _mm512_set1_epi8(0x30);
    /* per-16-bit-word shifts that bring each half's two high bits to bits 4-5 */
    const __m512i sh_lo = idx_pair(4, 2), sh_hi = idx_pair(0, 2);
    for (uint32_t b = 0; b < nb; b++) {
        const uint8_t *p = row + (size_t)b * MST_Q6_K_BYTES;
        const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(p + 192)));
        __m512i w[4], sc[4];
        for (int h = 0; h < 2; h++) {
            const __m512i L = _mm512_loadu_si512(p + 64 * h);
            const __m512i H = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(p + 128 + 32 * h)));
            w[2 * h] = _mm512_or_si512(_mm512_and_si512(L, m4), _mm512_and_si512(_mm512_sllv_epi16(H, sh_lo), m30));
            w[2 * h + 1] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(L, 4), m4),
                                           _mm512_and_si512(_mm512_srlv_epi16(H, sh_hi), m30));
            sc[2 * h] = _mm512_permutexvar_epi16(idx_quad(2 * h), _mm512_castsi256_si512(sc16));
            sc[2 * h + 1] = _mm512_permutexvar_epi16(idx_quad(2 * h + 1), _mm512_castsi256_si512(sc16));
        }
        const float dw = half_at(p + 208);
        for (int u = 0; u < NT; u++) {
            const int8_t *xq = XQ(u);
            /* start from -32·Σ_j sc_j·bsum_j (pairs of sub-blocks per lane): the offset, exactly */
            __m256i off = _mm256_slli_epi32(_mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)XB(u)), sc16), 5);
            __m512i is = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_zextsi256_si512(off));
            for (int j = 0; j < 4; j++)
                is = _mm512_dpwssd_epi32(is, _mm512_maddubs_epi16(w[j], _mm512_loadu_si512(xq + 64 * j)), sc[j]);
            acc[u] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(is), _mm512_set1_ps(XD(u) * dw), acc[u]);
        }
    }
    for (int u = 0; u < NT; u++)
        y[u * ys] = _mm512_reduce_add_ps(acc[u]);
}

/* Q2_K (THREE = 0) and Q3_K (THREE = 1): byte l of the 32 qs bytes of half h holds weight 128h + 32p + l in
 * bits 2p..2p+1, so passes 2m and 2m+1 side by side are the 64 weights 128h + 64m .. +63 in natural order
 * (16-bit variable shifts by 4m and 4m+2). Q3_K adds bit 4h + p of hmask[l] as +4 (u = q + 4, 0..7) and takes
 * the 4 back through bsum16; Q2_K's mins come through bsum16 as in Q4_K. Sub-blocks are 16 weights. */
MST_AI void row_q2_3_k(const uint8_t *row, const mst_qact *x, size_t t, float *y, size_t ys, const int NT,
                       const int THREE, const size_t BLOCK_BYTES)
{
    __m512 acc[4];
    __m256 macc[4]; /* Q2_K's mins term, as in row_q4_5_k */
    for (int u = 0; u < 4; u++) {
        acc[u] = _mm512_setzero_ps();
        macc[u] = _mm256_setzero_ps();
    }
    const uint32_t cols = x->cols, nb = cols / MST_QK_K;
    const __m512i m3 = _mm512_set1_epi8(3), one = _mm512_set1_epi8(1);
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
        const __m512i hm = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)p)); /* Q3_K's hmask */
        __m512i w[4], sc[4];
        for (int h = 0; h < 2; h++) {
            const __m512i q = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(qs + 32 * h)));
            for (int m = 0; m < 2; m++) {
                const int k = 2 * h + m;
                __m512i v = _mm512_and_si512(_mm512_srlv_epi16(q, idx_pair(4 * m, 4 * m + 2)), m3);
                if (THREE) {
                    __m512i hb = _mm512_and_si512(_mm512_srlv_epi16(hm, idx_pair(4 * h + 2 * m, 4 * h + 2 * m + 1)), one);
                    v = _mm512_or_si512(v, _mm512_slli_epi16(hb, 2));
                }
                w[k] = v;
                sc[k] = _mm512_permutexvar_epi16(idx_quad(k), _mm512_castsi256_si512(sc16));
            }
        }
        const float dw = half_at(p + (THREE ? 108 : 80)), dmin = THREE ? 0.0f : half_at(p + 82);
        for (int u = 0; u < NT; u++) {
            const int8_t *xq = XQ(u);
            const __m256i bs = _mm256_loadu_si256((const __m256i *)XB(u));
            __m512i is = _mm512_setzero_si512();
            if (THREE) /* start from -4·Σ_j sc_j·bsum_j: the offset, exactly */
                is = _mm512_sub_epi32(is, _mm512_zextsi256_si512(_mm256_slli_epi32(_mm256_madd_epi16(bs, sc16), 2)));
            for (int k = 0; k < 4; k++)
                is = _mm512_dpwssd_epi32(is, _mm512_maddubs_epi16(w[k], _mm512_loadu_si512(xq + 64 * k)), sc[k]);
            const float dx = XD(u);
            acc[u] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(is), _mm512_set1_ps(dx * dw), acc[u]);
            if (!THREE)
                macc[u] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_madd_epi16(bs, mins16)), _mm256_set1_ps(-(dx * dmin)),
                                          macc[u]);
        }
    }
    for (int u = 0; u < NT; u++)
        y[u * ys] = _mm512_reduce_add_ps(_mm512_add_ps(acc[u], _mm512_zextps256_ps512(macc[u])));
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

const mst_kquant_qa_kernels mst_kquant_qa_vnni = {
    .matmul_qa = {matmul_qa_q2_k, matmul_qa_q3_k, matmul_qa_q4_k, matmul_qa_q5_k, matmul_qa_q6_k},
};
#endif
