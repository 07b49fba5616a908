/* matmul_q4kx16_avx2.c — repacked Q4_K (repack_k.h) times Q8_K-quantized activations, AVX2 without VNNI: the
 * kernel of matmul_q4kx16_avx512.c for CPUs with no AVX-512 VNNI, on the same layout, with the same unit
 * split (head, 8 passes, end) and loop nest (matmul_tile_avx2.h), so decode interleaves 4 streams as there.
 *
 * A group's 16 rows are two ymm halves (rows 0-7 from the low 32 bytes of each 64-byte chunk, rows 8-15
 * from the high 32). The integer sums are those of the VNNI kernel, formed without vpdpbusd/vpdpwssd:
 *   - a pass: pmaddubsw of 4 nibble chunks (0..15) by 4 activations each gives int16 pairs of at most
 *     2·15·128 = 3840; the 4 chunks of a sub-block's 16 columns summed in int16 stay within 15360 (exact),
 *     and one pmaddwd against (sc_j, sc_j) in both halves of each lane gives sc_j·isum_j in int32: the
 *     VNNI kernel's vpdpwssd against (sc_j, 0) of the same sum;
 *   - the mins term: pmaddwd of (m_2k, m_2k+1) per lane by (B_2k, B_2k+1) broadcast, as there.
 * Every Σ is the same exact int32, and the float operations per lane are the VNNI kernel's (mins term, then
 * scales term, one FMA each), so this kernel gives its bits (test_kquant_x16.c checks both against each
 * other). Plain AVX2's prefill has units of its own (prefill_q4k, below). The AVX-VNNI build
 * (matmul_tile_avx2.h) forms the sums as the VNNI kernel does (vpdpbusd chain, vpdpwssd against (sc_j, 0)):
 * fewer instructions per pass, and a faster prefill (benchmarks/RESULTS.md). */
#include "ops.h"

#if defined(__x86_64__)
#include "matmul_tile_avx2.h" /* first: the target, AVX2 or AVX-VNNI */
#include "quant_act_k.h"
#include "quant_k.h"
#include "repack_k.h"

enum { UNIT = MST_Q4_KX16_UNIT };

/* 32 bytes of chunk k for half h (rows 8h..8h+7): lane r holds 4 bytes of row 8h + r */
MST_AI __m256i chunk(const uint8_t *p, int k, int h)
{
    return _mm256_loadu_si256((const __m256i *)(p + 64 * k + 32 * h));
}

/* vpshufb controls (per 128-bit lane, hence the +4i per dword): per lane, bytes b, b+1 zero-extended into an
 * int16 pair (pick_two), byte b zero-extended into the lane (pick_lo), and byte b into both int16 halves
 * (pick_both) */
MST_AI __m256i pick_two(int b)
{
    return _mm256_add_epi32(_mm256_set1_epi32((int)(0x80008000u | (unsigned)b | (unsigned)(b + 1) << 16)),
                            _mm256_setr_epi32(0, 4 * 0x10001, 8 * 0x10001, 12 * 0x10001, 0, 4 * 0x10001,
                                              8 * 0x10001, 12 * 0x10001));
}

MST_AI __m256i pick_lo(int b)
{
    return _mm256_add_epi32(_mm256_set1_epi32((int)(0x80808000u | (unsigned)b)),
                            _mm256_setr_epi32(0, 4, 8, 12, 0, 4, 8, 12));
}

MST_AI __m256i pick_both(int b)
{
    return _mm256_add_epi32(_mm256_set1_epi32((int)(0x80008000u | (unsigned)b | (unsigned)b << 16)),
                            _mm256_setr_epi32(0, 4 * 0x10001, 8 * 0x10001, 12 * 0x10001, 0, 4 * 0x10001,
                                              8 * 0x10001, 12 * 0x10001));
}

/* the 8 rows' fp16 (lane >> shift) & 0xFFFF of half h's chunk 0 (d: shift 0, dmin: 16) as floats */
MST_AI __m256 half_fp16(const uint8_t *p, int h, int shift)
{
    const __m256i v = _mm256_srli_epi32(chunk(p, 0, h), shift);
    const __m256i packed = _mm256_packus_epi32(_mm256_and_si256(v, _mm256_set1_epi32(0xFFFF)), _mm256_setzero_si256());
    /* packus works per 128-bit lane: rows 0-3 in the low 8 bytes of lane 0, rows 4-7 in those of lane 1 */
    return _mm256_cvtph_ps(_mm256_castsi256_si128(_mm256_permute4x64_epi64(packed, 0x08)));
}

typedef struct {
    __m256i sc[2][2];          /* [half][0: scales 0-3, 1: 4-7] per lane, mst_k4_scale_min16's */
    __m256i is[4][2], is2[4][2]; /* [token][half]: Σ_j sc_j·isum_j so far, low / high nibbles */
} q4k_state;

MST_AI void head_q4k(const uint8_t *p, const mst_qact *x, size_t t, uint32_t b, q4k_state *st, mst_acc16 *acc,
                     const int NT)
{
    const uint32_t cols = x->cols, nb = cols / MST_QK_K;
    const __m256i m4 = _mm256_set1_epi8(0x0F), m6 = _mm256_set1_epi8(0x3F), m30 = _mm256_set1_epi8(0x30);
    /* the mins term: Σ_j m_j·B_j with B_j = bsum16[2j] + bsum16[2j+1], pairs (B_2k, B_2k+1) in bp[u][k] */
    int32_t bp[4][4];
    for (int u = 0; u < NT; u++) {
        const __m256i bs = _mm256_loadu_si256((const __m256i *)(x->bsum16 + (t + u) * (cols / 16) + (size_t)b * 16));
        const __m256i B = _mm256_madd_epi16(bs, _mm256_set1_epi16(1));
        _mm_storeu_si128((__m128i *)bp[u], _mm_packs_epi32(_mm256_castsi256_si128(B), _mm256_extracti128_si256(B, 1)));
    }
    for (int h = 0; h < 2; h++) {
        const __m256i w0 = chunk(p, 1, h), w1 = chunk(p, 2, h), w2 = chunk(p, 3, h);
        st->sc[h][0] = _mm256_and_si256(w0, m6);
        st->sc[h][1] = _mm256_or_si256(_mm256_and_si256(w2, m4), _mm256_and_si256(_mm256_srli_epi32(w0, 2), m30));
        const __m256i mn[2] = {_mm256_and_si256(w1, m6),
                               _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi32(w2, 4), m4),
                                               _mm256_and_si256(_mm256_srli_epi32(w1, 2), m30))};
        const __m256 dmin = half_fp16(p, h, 16);
        for (int u = 0; u < NT; u++) {
            __m256i ms = _mm256_setzero_si256();
            for (int k = 0; k < 4; k++) {
                const __m256i mk = _mm256_shuffle_epi8(mn[k / 2], pick_two(2 * (k % 2)));
                ms = _mm256_add_epi32(ms, _mm256_madd_epi16(mk, _mm256_set1_epi32(bp[u][k])));
            }
            const float dx = x->d[(t + u) * nb + b];
            acc[u].h[h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(ms), _mm256_mul_ps(dmin, _mm256_set1_ps(-dx)), acc[u].h[h]);
            st->is[u][h] = st->is2[u][h] = _mm256_setzero_si256();
        }
    }
}

/* Pass q of 8 (4 chunks): columns 16(q%2)..+15 of sub-blocks 2(q/2) (low nibbles) and 2(q/2)+1 (high).
 * Low then high nibbles, each half apart: 4 decoded chunks, a scale and 4 tokens' sums stay within the 16
 * ymm registers (both nibbles of a half at once spilled: 18 live values). */
MST_AI void pass_q4k(const uint8_t *p, const mst_qact *x, size_t t, uint32_t b, const int q, q4k_state *st,
                     const int NT)
{
    const uint32_t cols = x->cols;
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    const int pr = q / 2, half = q % 2;
    for (int h = 0; h < 2; h++)
        for (int nib = 0; nib < 2; nib++) {
            const int sb = 2 * pr + nib; /* the sub-block these nibbles belong to */
            __m256i v[4];
            for (int i = 0; i < 4; i++) {
                const __m256i c = chunk(p, 4 + 4 * q + i, h);
                v[i] = _mm256_and_si256(nib ? _mm256_srli_epi16(c, 4) : c, m4);
            }
            /* (sc, sc) per lane against an int16-pair sum; (sc, 0) against an int32 one whose high half is its sign */
#if defined(MST_X16_AVXVNNI)
            const __m256i sc = _mm256_shuffle_epi8(st->sc[h][sb / 4], pick_lo(sb % 4));
#else
            const __m256i sc = _mm256_shuffle_epi8(st->sc[h][sb / 4], pick_both(sb % 4));
#endif
            for (int u = 0; u < NT; u++) {
                const int8_t *xq = x->qs + (t + u) * cols + (size_t)b * MST_QK_K + 64 * pr + 32 * nib + 16 * half;
                __m256i *is = nib ? &st->is2[u][h] : &st->is[u][h];
#if defined(MST_X16_AVXVNNI) /* the VNNI kernel's int32 chain (|.| <= 30480: the low int16 of the lane) */
                __m256i s32 = _mm256_setzero_si256();
                for (int i = 0; i < 4; i++)
                    s32 = _mm256_dpbusd_avx_epi32(s32, v[i], mst_bcast32(xq + 4 * i));
                *is = _mm256_dpwssd_avx_epi32(*is, s32, sc);
#else
                __m256i s16 = _mm256_maddubs_epi16(v[0], mst_bcast32(xq));
                for (int i = 1; i < 4; i++)
                    s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(v[i], mst_bcast32(xq + 4 * i)));
                *is = _mm256_add_epi32(*is, _mm256_madd_epi16(s16, sc));
#endif
            }
        }
}

/* floats once per super-block: the scales term, after the mins term of the head */
MST_AI void end_q4k(const uint8_t *p, const mst_qact *x, size_t t, uint32_t b, q4k_state *st, mst_acc16 *acc,
                    const int NT)
{
    const uint32_t nb = x->cols / MST_QK_K;
    for (int h = 0; h < 2; h++) {
        const __m256 dw = half_fp16(p, h, 0);
        for (int u = 0; u < NT; u++) {
            const float dx = x->d[(t + u) * nb + b];
            const __m256i is = _mm256_add_epi32(st->is[u][h], st->is2[u][h]);
            acc[u].h[h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(is), _mm256_mul_ps(dw, _mm256_set1_ps(dx)), acc[u].h[h]);
        }
    }
}

#if defined(MST_X16_AVXVNNI)
MST_AVX2_X16_FROM_PASSES(mst_matmul_qa_q4_kx16, q4k_state, head_q4k, pass_q4k, end_q4k, UNIT, 256, 8, 256, MST_QK_K, 4)
#else
/* Plain AVX2's prefill unit for 4 tokens or 1 (a batch's remainder after its groups of 8): the head and end
 * of decode's split, and between them, one half (8 rows) at a time, each sub-block pair's 8 chunks decoded
 * once (low nibbles: sub-block 2pr, high: 2pr+1) and met by every token's broadcasts; each token keeps an int16
 * sum per sub-block over its 32 columns (at most 8·3840 = 30720, exact), scaled by one pmaddwd against (sc, sc)
 * per sub-block into the token's running int32. Live: 3 decoded registers, 8 int16 sums, 4 running sums. Two kinds of empty asm keep GCC to that: on each token's activation
 * pointer once per half (or GCC merges both halves' loads and hoists their 128 addresses, spilled), and on each
 * sum as it stands (or GCC reassociates the adds into trees whose products spill). llvm-mca per half unit:
 * Zen 3 445 -> 327 cycles; measured on a Sapphire Rapids core held to AVX2, 1.14x the order it replaces (both
 * halves sharing each broadcast). The AVX-VNNI build keeps decode's order, which its vpdpbusd chains run
 * faster. Per lane the integer sum is the same exact int32, gathered in another order (both nibbles into
 * st.is, st.is2 left zero), and the float operations are the head's and the end's, so a batch row equals the
 * token alone (decode) bit for bit. */
MST_AI void prefill4_q4k(const uint8_t *p, const mst_qact *x, size_t t, uint32_t b, mst_acc16 *acc, const int NT)
{
    const uint32_t cols = x->cols;
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    q4k_state st;
    head_q4k(p, x, t, b, &st, acc, NT);
    for (int h = 0; h < 2; h++) {
        __m256i is[MST_X16_NT_MAX];
        const int8_t *xb[MST_X16_NT_MAX];
        for (int u = 0; u < NT; u++) {
            is[u] = _mm256_setzero_si256();
            xb[u] = x->qs + (t + u) * cols + (size_t)b * MST_QK_K;
            __asm__ volatile("" : "+r"(xb[u]));
        }
#pragma GCC unroll 4
        for (int pr = 0; pr < 4; pr++) {
            __m256i slo[MST_X16_NT_MAX], shi[MST_X16_NT_MAX];
#pragma GCC unroll 8
            for (int k = 0; k < 8; k++) {
                const int half = k / 4, i = k % 4;
                const __m256i c = chunk(p, 4 + 4 * (2 * pr + half) + i, h);
                const __m256i lo = _mm256_and_si256(c, m4), hi = _mm256_and_si256(_mm256_srli_epi16(c, 4), m4);
#pragma GCC unroll 4
                for (int u = 0; u < NT; u++) {
                    const int8_t *xq = xb[u] + 64 * pr + 16 * half + 4 * i;
                    const __m256i ml = _mm256_maddubs_epi16(lo, mst_bcast32(xq));
                    const __m256i mh = _mm256_maddubs_epi16(hi, mst_bcast32(xq + 32));
                    slo[u] = k ? _mm256_add_epi16(slo[u], ml) : ml;
                    shi[u] = k ? _mm256_add_epi16(shi[u], mh) : mh;
                    __asm__("" : "+x"(slo[u]), "+x"(shi[u]));
                }
            }
            const __m256i sc_lo = _mm256_shuffle_epi8(st.sc[h][(2 * pr) / 4], pick_both((2 * pr) % 4));
            const __m256i sc_hi = _mm256_shuffle_epi8(st.sc[h][(2 * pr + 1) / 4], pick_both((2 * pr + 1) % 4));
            for (int u = 0; u < NT; u++) {
                is[u] = _mm256_add_epi32(is[u], _mm256_add_epi32(_mm256_madd_epi16(slo[u], sc_lo),
                                                                 _mm256_madd_epi16(shi[u], sc_hi)));
                __asm__("" : "+x"(is[u]));
            }
        }
        for (int u = 0; u < NT; u++)
            st.is[u][h] = is[u];
    }
    end_q4k(p, x, t, b, &st, acc, NT);
}

/* Plain AVX2's prefill unit for 8 tokens: a pass (4 chunks) decoded once for 8 tokens instead of 4, both
 * halves of the group at once (8 registers), so each activation broadcast feeds two pmaddubsw. Per token and
 * sub-block, each half keeps an int16 sum over its 32 columns (the two passes of the sub-block's nibbles; at
 * most 8·3840 = 30720, exact), scaled by one pmaddwd against (sc, sc) into the token's running int32. The
 * first pass's int16 sums and the running sums live in memory (an empty asm with "+m" per update), so 8 tokens
 * take no more registers than 4 would; the empty asm with "+x" keeps GCC from reassociating the int16 adds into trees
 * whose products spill. Why, in llvm-mca's Zen 3 model (benchmarks/RESULTS.md has the numbers): a token's
 * sub-block costs 8 broadcasts instead of 16 and a pass's unpacking is spread over twice the tokens, against 4
 * more loads and 4 more stores of its sums. Per lane the integer sum is the same exact int32 as head, passes
 * and end (gathered in another order, which int32 addition allows), and the float operations are head_q4k's
 * and end_q4k's, so a batch row equals the token alone (decode) bit for bit. */
MST_AI void prefill8_q4k(const uint8_t *p, const mst_qact *x, size_t t, uint32_t b, mst_acc16 *acc)
{
    enum { NT = 8 };
    const uint32_t cols = x->cols, nb = cols / MST_QK_K;
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    q4k_state st; /* head_q4k takes at most 4 tokens: the mins term of each 4 in turn */
    head_q4k(p, x, t, b, &st, acc, 4);
    head_q4k(p, x, t + 4, b, &st, acc + 4, 4);
    __m256i is[NT][2], s16[NT][2];
    for (int u = 0; u < NT; u++)
        is[u][0] = is[u][1] = _mm256_setzero_si256();
    /* (sc, sc) per lane of each sub-block and half, a table in memory: a pass loads its sub-block's two */
    __m256i sct[8][2];
    for (int sb = 0; sb < 8; sb++)
        for (int h = 0; h < 2; h++) {
            sct[sb][h] = _mm256_shuffle_epi8(st.sc[h][sb / 4], pick_both(sb % 4));
            __asm__("" : "+m"(sct[sb][h]));
        }
    const int8_t *xb = x->qs + t * cols + (size_t)b * MST_QK_K;
#pragma GCC unroll 4
    for (int pr = 0; pr < 4; pr++)
#pragma GCC unroll 2
        for (int nib = 0; nib < 2; nib++) {
            const int sb = 2 * pr + nib; /* the sub-block these nibbles belong to */
#pragma GCC unroll 2
            for (int half = 0; half < 2; half++) { /* pass 2pr + half: its columns 16·half..+15 */
                __m256i v[2][4];
                for (int h = 0; h < 2; h++)
                    for (int i = 0; i < 4; i++) {
                        const __m256i c = chunk(p, 4 + 4 * (2 * pr + half) + i, h);
                        v[h][i] = _mm256_and_si256(nib ? _mm256_srli_epi16(c, 4) : c, m4);
                    }
                const __m256i sc0 = sct[sb][0], sc1 = sct[sb][1];
                for (int u = 0; u < NT; u++) {
                    const int8_t *xq = xb + (size_t)u * cols + 64 * pr + 32 * nib + 16 * half;
                    __m256i s[2];
                    for (int i = 0; i < 4; i++) {
                        const __m256i xv = mst_bcast32(xq + 4 * i);
                        for (int h = 0; h < 2; h++) {
                            const __m256i m = _mm256_maddubs_epi16(v[h][i], xv);
                            s[h] = i ? _mm256_add_epi16(s[h], m) : m;
                        }
                        __asm__("" : "+x"(s[0]), "+x"(s[1]));
                    }
                    for (int h = 0; h < 2; h++) {
                        if (half == 0) {
                            s16[u][h] = s[h];
                            __asm__("" : "+m"(s16[u][h]));
                        } else {
                            is[u][h] = _mm256_add_epi32(
                                is[u][h], _mm256_madd_epi16(_mm256_add_epi16(s16[u][h], s[h]), h ? sc1 : sc0));
                            __asm__("" : "+m"(is[u][h]));
                        }
                    }
                }
            }
        }
    /* the scales term as end_q4k's (st.is2 there is zero: the same int32 converted) */
    for (int h = 0; h < 2; h++) {
        const __m256 dw = half_fp16(p, h, 0);
        for (int u = 0; u < NT; u++) {
            const float dx = x->d[(t + u) * nb + b];
            acc[u].h[h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(is[u][h]), _mm256_mul_ps(dw, _mm256_set1_ps(dx)),
                                          acc[u].h[h]);
        }
    }
}

/* The driver (matmul_tile.h) reads MST_X16_NT_MAX where the kernel is defined: this file (like the Q6_K
 * one) runs plain AVX2's prefill in groups of 8 tokens, then 4, then 1 */
#undef MST_X16_NT_MAX
#define MST_X16_NT_MAX 8

MST_AI void prefill_q4k(const uint8_t *p, const mst_qact *x, size_t t, uint32_t b, mst_acc16 *acc, const int NT)
{
    if (NT == 8)
        prefill8_q4k(p, x, t, b, acc);
    else
        prefill4_q4k(p, x, t, b, acc, NT);
}

MST_AVX2_X16_FROM_PASSES_PREFILL(mst_matmul_qa_q4_kx16, q4k_state, head_q4k, pass_q4k, end_q4k, prefill_q4k, UNIT,
                                 256, 8, 256, MST_QK_K, 4)
#endif
#endif
