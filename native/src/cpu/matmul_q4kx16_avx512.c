/* matmul_q4kx16_avx512.c — repacked Q4_K (repack_k.h) times Q8_K-quantized activations, AVX-512 VNNI.
 *
 * Each 32-bit lane is one of 16 rows; a 64-byte chunk gives every row 4 bytes = 8 nibbles, columns
 * c..c+3 (low) of one sub-block and c+32..c+35 (high) of the next, and vpdpbusd multiplies them with 4
 * activations broadcast to all lanes. The formula is the scalar reference's (quant_act_k.h):
 *   y += d_x·(d_w·Σ_j sc_j·isum_j) - d_x·(dmin_w·Σ_j m_j·bsum_j)
 * with every Σ an exact int32, in the order below:
 *   - isum_j is taken over 16 columns at a time (4 vpdpbusd from zero): |Σ| <= 16·15·127 = 30480 fits the
 *     low int16 of the lane, so one vpdpwssd against (sc_j, 0) per lane adds sc_j·isum exactly — on Intel's
 *     server cores every 512-bit integer multiply issues on one port, and vpmulld costs two uops there;
 *   - Σ m_j·bsum_j: vpdpwssd of (m_2k, m_2k+1) per lane against (bsum_2k, bsum_2k+1) broadcast, the
 *     32-column bsums made from bsum16 once per token and unit (4 vpdpwssd instead of 8);
 *   - floats once per super-block: first the mins term, then the scales term (head_q4k, end_q4k: the
 *     only float order, shared by prefill and decode, so one token equals its row of a batch bit for bit).
 * The 12 packed scale bytes of the 16 rows are unpacked once per unit with mst_k4_scale_min16's word
 * arithmetic done lane-wise, then one vpshufb per sub-block picks the byte. Prefill: up to 8 tokens share
 * each decoded pass of 4 chunks; decode walks 4 streams of groups, their passes interleaved (matmul_tile.h). */
#include "ops.h"

#if defined(__x86_64__)
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")
#include <immintrin.h>
#include <string.h>

#include "matmul_tile.h"
#include "quant_act_k.h"
#include "quant_k.h"
#include "repack_k.h"

enum { UNIT = MST_Q4_KX16_UNIT };

MST_AI __m512i chunk(const uint8_t *p, int k)
{
    return _mm512_loadu_si512(p + 64 * k);
}

MST_AI __m512i bcast32(const void *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
}

/* vpshufb controls: per lane, byte b of the lane into the low byte (high 3 bytes zero), and bytes b, b+1
 * zero-extended into an int16 pair. vpshufb indexes within 128-bit lanes, hence the +4i per dword. */
MST_AI __m512i pick_lo(int b)
{
    return _mm512_add_epi32(_mm512_set1_epi32((int)(0x80808000u | (unsigned)b)), _mm512_set4_epi32(12, 8, 4, 0));
}

MST_AI __m512i pick_two(int b)
{
    return _mm512_add_epi32(_mm512_set1_epi32((int)(0x80008000u | (unsigned)b | (unsigned)(b + 1) << 16)),
                            _mm512_set4_epi32(12 * 0x10001, 8 * 0x10001, 4 * 0x10001, 0));
}

/* A unit (super-block b of a 16-row group at p) for tokens t..t+NT-1 is a head (the first 4 chunks: scales
 * and the mins term), 8 passes of 4 chunks and an end (the scales term), so that decode can interleave the
 * passes of 4 streams (MST_DEFINE_X16_QA_FROM_PASSES). The state between them: */
typedef struct {
    __m512i sc[2];         /* per lane, mst_k4_scale_min16's scales: sc[0] = 0-3, sc[1] = 4-7 */
    __m512i is[8], is2[8]; /* per token, Σ_j sc_j·isum_j so far (is2: the high-nibble chain, NT <= 4) */
} q4k_state;

MST_AI void head_q4k(const uint8_t *p, const mst_qact *x, size_t t, uint32_t b, q4k_state *st, __m512 *acc,
                     const int NT)
{
    const uint32_t cols = x->cols, nb = cols / MST_QK_K;
    const __m512i m4 = _mm512_set1_epi8(0x0F), m6 = _mm512_set1_epi8(0x3F), m30 = _mm512_set1_epi8(0x30);
    const __m512 dmin = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(chunk(p, 0), 16)));
    /* mst_k4_scale_min16 per lane: mn[0] = mins 0-3, mn[1] = 4-7 */
    const __m512i w0 = chunk(p, 1), w1 = chunk(p, 2), w2 = chunk(p, 3);
    st->sc[0] = _mm512_and_si512(w0, m6);
    st->sc[1] = _mm512_or_si512(_mm512_and_si512(w2, m4), _mm512_and_si512(_mm512_srli_epi32(w0, 2), m30));
    const __m512i mn[2] = {_mm512_and_si512(w1, m6), _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi32(w2, 4), m4),
                                                                     _mm512_and_si512(_mm512_srli_epi32(w1, 2), m30))};
    /* the mins term first: Σ_j m_j·B_j with B_j = bsum16[2j] + bsum16[2j+1] (|B_j| <= 32·127: int16), two
     * sub-blocks per vpdpwssd: (m_2k, m_2k+1) per lane against (B_2k, B_2k+1) broadcast from bp */
    int32_t bp[8][4];
    for (int u = 0; u < NT; u++) {
        const __m256i bs = _mm256_loadu_si256((const __m256i *)(x->bsum16 + (t + u) * (cols / 16) + (size_t)b * 16));
        const __m256i B = _mm256_madd_epi16(bs, _mm256_set1_epi16(1));
        _mm_storeu_si128((__m128i *)bp[u], _mm_packs_epi32(_mm256_castsi256_si128(B), _mm256_extracti128_si256(B, 1)));
    }
    __m512i ms[8];
    for (int u = 0; u < NT; u++)
        ms[u] = _mm512_setzero_si512();
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) {
        const __m512i mk = _mm512_shuffle_epi8(mn[k / 2], pick_two(2 * (k % 2)));
        for (int u = 0; u < NT; u++)
            ms[u] = _mm512_dpwssd_epi32(ms[u], mk, _mm512_set1_epi32(bp[u][k]));
    }
    for (int u = 0; u < NT; u++) {
        const float dx = x->d[(t + u) * nb + b];
        acc[u] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(ms[u]), _mm512_mul_ps(dmin, _mm512_set1_ps(-dx)), acc[u]);
        st->is[u] = st->is2[u] = _mm512_setzero_si512();
    }
}

/* Pass q of 8 (4 chunks) covers columns 16(q%2)..+15 of sub-blocks 2(q/2) (low nibbles) and 2(q/2)+1 (high
 * nibbles). The callers unroll the passes so the vpshufb controls are constants: GCC kept a pass loop and
 * rebuilt them each pass. Up to 4 tokens, the high-nibble products go to a second chain (is2), added at the
 * end (exact int32, so the same sum): one chain of 16 dependent vpdpwssd bounded decode (both changes
 * timed with the matrix in L2: benchmarks/RESULTS.md). 8 tokens have no spare registers for it. */
MST_AI void pass_q4k(const uint8_t *p, const mst_qact *x, size_t t, uint32_t b, const int q, q4k_state *st,
                     const int NT)
{
    const uint32_t cols = x->cols;
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    const int pr = q / 2, half = q % 2;
    __m512i lo[4], hi[4];
    for (int i = 0; i < 4; i++) {
        const __m512i v = chunk(p, 4 + 4 * q + i);
        lo[i] = _mm512_and_si512(v, m4);
        hi[i] = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
    }
    const __m512i sc_lo = _mm512_shuffle_epi8(st->sc[(2 * pr) / 4], pick_lo((2 * pr) % 4));
    const __m512i sc_hi = _mm512_shuffle_epi8(st->sc[(2 * pr + 1) / 4], pick_lo((2 * pr + 1) % 4));
    for (int u = 0; u < NT; u++) {
        const int8_t *xq = x->qs + (t + u) * cols + (size_t)b * MST_QK_K + 64 * pr + 16 * half;
        __m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512();
        for (int i = 0; i < 4; i++) {
            s0 = _mm512_dpbusd_epi32(s0, lo[i], bcast32(xq + 4 * i));
            s1 = _mm512_dpbusd_epi32(s1, hi[i], bcast32(xq + 32 + 4 * i));
        }
        st->is[u] = _mm512_dpwssd_epi32(st->is[u], s0, sc_lo);
        if (NT <= 4)
            st->is2[u] = _mm512_dpwssd_epi32(st->is2[u], s1, sc_hi);
        else
            st->is[u] = _mm512_dpwssd_epi32(st->is[u], s1, sc_hi);
    }
}

/* floats once per super-block: the scales term, after the mins term of the head */
MST_AI void end_q4k(const uint8_t *p, const mst_qact *x, size_t t, uint32_t b, q4k_state *st, __m512 *acc,
                    const int NT)
{
    const uint32_t nb = x->cols / MST_QK_K;
    const __m512 dw = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(chunk(p, 0)));
    for (int u = 0; u < NT; u++) {
        const float dx = x->d[(t + u) * nb + b];
        const __m512i is = NT <= 4 ? _mm512_add_epi32(st->is[u], st->is2[u]) : st->is[u];
        acc[u] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(is), _mm512_mul_ps(dw, _mm512_set1_ps(dx)), acc[u]);
    }
}

MST_DEFINE_X16_QA_FROM_PASSES(mst_matmul_qa_q4_kx16_vnni, q4k_state, head_q4k, pass_q4k, end_q4k, UNIT, 256, 8,
                              256, MST_QK_K, 4)
#endif
