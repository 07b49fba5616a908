/* matmul_q6kx16_avx512.c — repacked Q6_K (repack_k.h) times Q8_K-quantized activations, AVX-512 VNNI.
 *
 * Each 32-bit lane is one of 16 rows. Per sub-block j (16 columns): 3 chunks hold 3 x 4 columns whole in
 * their low 6 bits and the fourth 4 columns in pieces in their top 2 bits (repack_k.h); that gives 4 vectors
 * of unsigned 6-bit values q (0..63), each 4 columns x 16 rows, which vpdpbusd multiplies with 4 activations
 * broadcast to all lanes. The formula is the scalar reference's (quant_act_k.h):
 * y += d_x·d_w·Σ_j sc_j·(isum_j - 32·bsum_j), exact in int32 within a super-block:
 *   - each sub-block's chain starts from -32·bsum16[j] (broadcast), so it ends at isum_j - 32·bsum_j,
 *     |.| <= 16·63·127 + 32·2032 < 2^18;
 *   - one vpmulld by sc_j (int8 sign-extended per lane) and one add; |Σ_j| < 16·128·2^18 = 2^29. The int16
 *     trick of the Q4_K kernel does not fit here (16 columns of 0..63 reach 128016).
 *   - floats once per super-block: one convert and one FMA per token (end_q6k, shared by prefill and
 *     decode, so one token equals its row of a batch bit for bit).
 * Prefill: up to 8 tokens share each decoded sub-block; decode walks 4 streams of groups, their sub-blocks
 * interleaved (matmul_tile.h). */
#include "ops.h"

#if defined(__x86_64__)
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")
#include <immintrin.h>
#include <string.h>

#include "matmul_tile.h"
#include "quant_act_k.h"
#include "quant_k.h"
#include "repack_k.h"

enum { UNIT = MST_Q6_KX16_UNIT };

MST_AI __m512i bcast32(const void *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
}

/* A unit (super-block b of a 16-row group at p) for tokens t..t+NT-1 is a head (the 16 rows' scales d and
 * sub-block scales, 288 bytes), 16 passes of one sub-block (192 bytes) and an end, so that decode can
 * interleave the passes of 4 streams (MST_DEFINE_X16_QA_FROM_PASSES). The state between them: */
typedef struct {
    int32_t off[8][16]; /* per token and sub-block, -32·bsum16, where a broadcast load can start each chain */
    __m512i is[8];      /* per token, Σ_j sc_j·(isum_j - 32·bsum_j) so far */
} q6k_state;

MST_AI void head_q6k(const uint8_t *p, const mst_qact *x, size_t t, uint32_t b, q6k_state *st, __m512 *acc,
                     const int NT)
{
    (void)p, (void)acc;
    const uint32_t cols = x->cols;
    for (int u = 0; u < NT; u++) {
        const __m256i bs = _mm256_loadu_si256((const __m256i *)(x->bsum16 + (t + u) * (cols / 16) + (size_t)b * 16));
        _mm512_storeu_si512(st->off[u], _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_slli_epi32(_mm512_cvtepi16_epi32(bs), 5)));
        st->is[u] = _mm512_setzero_si512();
    }
}

MST_AI void pass_q6k(const uint8_t *p, const mst_qact *x, size_t t, uint32_t b, const int j, q6k_state *st,
                     const int NT)
{
    const uint32_t cols = x->cols;
    /* repack_k.h: w[k] the low 6 bits of chunk k (k < 3), w[3] their top 2 bits gathered as in
     * matmul_q6kx16_avx2.c's q6_unpack (16-bit shifts move no bit across bytes) */
    const __m512i m6 = _mm512_set1_epi8(0x3F), mtop = _mm512_set1_epi8((char)0xC0);
    const uint8_t *s = p + 288 + 192 * j;
    __m512i w[4], top[3];
    for (int k = 0; k < 3; k++) {
        const __m512i c = _mm512_loadu_si512(s + 64 * k);
        w[k] = _mm512_and_si512(c, m6);
        top[k] = _mm512_srli_epi16(_mm512_and_si512(c, mtop), 6 - 2 * k);
    }
    w[3] = _mm512_or_si512(_mm512_or_si512(top[0], top[1]), top[2]);
    const __m512i sc = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(p + 32 + 16 * j)));
    for (int u = 0; u < NT; u++) {
        const int8_t *xq = x->qs + (t + u) * cols + (size_t)b * MST_QK_K + 16 * j;
        __m512i c = _mm512_set1_epi32(st->off[u][j]);
        if (NT == 1) { /* decode: two chains of 2 vpdpbusd, not one of 4 (exact int32, the same sum):
                        * half the dependency depth, faster with the matrix in L2 (benchmarks/RESULTS.md) */
            __m512i c1 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), w[1], bcast32(xq + 4));
            c = _mm512_dpbusd_epi32(c, w[0], bcast32(xq));
            c1 = _mm512_dpbusd_epi32(c1, w[3], bcast32(xq + 12));
            c = _mm512_dpbusd_epi32(c, w[2], bcast32(xq + 8));
            c = _mm512_add_epi32(c, c1);
        } else {
            for (int i = 0; i < 4; i++)
                c = _mm512_dpbusd_epi32(c, w[i], bcast32(xq + 4 * i));
        }
        st->is[u] = _mm512_add_epi32(st->is[u], _mm512_mullo_epi32(c, sc));
    }
}

/* floats once per super-block: one convert and one FMA per token */
MST_AI void end_q6k(const uint8_t *p, const mst_qact *x, size_t t, uint32_t b, q6k_state *st, __m512 *acc,
                    const int NT)
{
    const uint32_t nb = x->cols / MST_QK_K;
    const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
    for (int u = 0; u < NT; u++) {
        const float dx = x->d[(t + u) * nb + b];
        acc[u] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(st->is[u]), _mm512_mul_ps(dw, _mm512_set1_ps(dx)), acc[u]);
    }
}

MST_DEFINE_X16_QA_FROM_PASSES(mst_matmul_qa_q6_kx16_vnni, q6k_state, head_q6k, pass_q6k, end_q6k, UNIT, 288, 16,
                              192, MST_QK_K, 4)
#endif
