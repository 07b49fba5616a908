/* attention_mma.cu — prefill attention (causal, GQA, sliding window) on tensor cores: a flash-attention
 * kernel over the f16 KV cache with mma.sync m16n8k16 (f16 inputs, f32 accumulation). attention.cu's
 * wrapper sends prefill here when the head size is one this file instantiates (64, 128); every other call,
 * decode included, stays on attention.cu's float kernel, whose conventions this one keeps: the same rows,
 * the same mask, the softmax in log2 units with ex2.approx.
 *
 * Rows. As in attention.cu, the query rows of KV head g are r = t * group + (h - g * group), so the heads
 * that read the same K/V rows share a block. A block is 4 warps, each owning 16 consecutive rows (one mma
 * row tile), 64 rows in all; grid (x: row tiles of one KV head, y: KV head).
 *
 * Per block:
 *   - each lane reads its own A fragments of the queries from global memory once, pre-multiplied by
 *     log2(e) / sqrt(head_dim) and rounded to f16, and keeps them in registers for the whole key loop;
 *   - keys go by in tiles of MST_AMMA_BK = 32 over the union of the rows' visible ranges, K and V rows copied
 *     as they are in the cache (cache row = position % kv_slots when rolling) by cp.async, 16 bytes a
 *     thread, two stages deep: tile i + 1 is in flight while tile i is used. Shared rows are padded by 16
 *     bytes, so that the 8 rows one ldmatrix matrix reads fall in distinct banks. Keys past the block's last
 *     key are zero-filled (src_bytes 0): a P of 0 times stale cache bits could otherwise be 0 * inf = NaN;
 *   - per warp, S = Q K^T (16 x 32: 4 n-tiles x head_dim / 16 mma, K's B fragments by ldmatrix, K rows being
 *     B's columns), the mask (key j visible to the query at position p iff j <= p and, with a window,
 *     p - j < window), the online softmax in f32 per row (running max m and sum l, rescaled by
 *     exp2(m_old - m_new)), then P = exp2(S - m) rounded to f16 straight from the S accumulators into A
 *     fragments (the m16n8 C layout of two adjacent n-tiles is the m16k16 A layout), and O += P V
 *     (head_dim / 8 n-tiles x 2 mma, V's B fragments by ldmatrix.trans, V rows being B's rows). l sums the
 *     rounded P, so that the output is exactly the weighted mean the mma computed;
 *   - a warp whose rows see none of a tile's keys (causal diagonal, window) skips its mma work but still
 *     takes part in the block's copies and barriers.
 * The 4 lanes of a quad (same g = lane >> 2) hold a row's 32 scores of a tile between them: the row max and
 * the final l are quad reductions (xor shuffles 1 and 2, every lane taking part, so no divergence).
 *
 * Error (against exact arithmetic on the f16 K/V and float q), the terms test_cuda_attention_mma.c turns into
 * its bound: q rounded to f16 (relative 2^-11, absolute 2^-25 below f16's normal range) moves a score by at
 * most 2^-11 of sum_i |q_i k_i| in log2 units, which perturbs each softmax weight by a relative 2^E - 1;
 * P rounded to f16 perturbs each weight by a relative 2^-11 (absolute 2^-25 for subnormal halves; the row's
 * largest weight is exactly 1, so l >= 1); exp2 and the rescales as in attention.cu; the tensor core's f32
 * sums, whose internal rounding the PTX ISA does not pin to round-to-nearest, are allowed 2^-22 per add.
 * A relative weight perturbation eps moves the weighted mean by at most 2 * eps * max |v|.
 *
 * Range: q * log2(e) / sqrt(head_dim) must fit an f16 (|q| below about 5e5 for head_dim 128); scores, sums
 * and outputs are f32. Alignment: the caches must start 16-byte aligned (cp.async 16; every row then is,
 * head_dim being a multiple of 8), which mst_cuda_attention_mma_supports checks. */
#include "cuda_compat.h"

#define MST_AMMA_BK 32   /* keys per tile: 4 n-tiles of S, 2 k-steps of P V */
#define MST_AMMA_WARPS 4 /* warps per block, 16 query rows each */
#define MST_AMMA_ROWS (16 * MST_AMMA_WARPS)
#define MST_AMMA_NEG_INF (-__builtin_inff())
/* Fragment arrays are indexed by loop counters: the loops must unroll so they stay in registers. */
#if MST_HOST_CODE
#define MST_AMMA_UNROLL
#else
#define MST_AMMA_UNROLL _Pragma("unroll")
#endif

MST_DEVICE uint32_t mst_amma_pack(uint16_t lo, uint16_t hi)
{
    return (uint32_t)lo | ((uint32_t)hi << 16);
}

/* Whether the key at position j is visible to the query at position p. */
MST_DEVICE bool mst_amma_visible(uint32_t j, uint32_t p, uint32_t window)
{
    return j <= p && (window == 0 || p - j < window);
}

/* The first key the query at position p sees. */
MST_DEVICE uint32_t mst_amma_first_key(uint32_t p, uint32_t window)
{
    return window && p + 1 > window ? p + 1 - window : 0;
}

/* One rescale-and-round step of the online softmax for the row of s[..][h2 * 2 + 0/1]: s holds the tile's
 * masked scores (-inf where not visible); returns alpha and leaves s = exp2(s - m_new) (0 where masked). */
MST_DEVICE float mst_amma_softmax_row(float s[MST_AMMA_BK / 8][4], int h2, float *m_run, float *l_run)
{
    float mx = MST_AMMA_NEG_INF;
    MST_AMMA_UNROLL
    for (int nt = 0; nt < MST_AMMA_BK / 8; nt++)
        mx = mst_fmaxf(mx, mst_fmaxf(s[nt][2 * h2], s[nt][2 * h2 + 1]));
    mx = mst_fmaxf(mx, mst_shfl_xor_f32(mx, 1)); /* the quad holds the row */
    mx = mst_fmaxf(mx, mst_shfl_xor_f32(mx, 2));
    const float m_new = mst_fmaxf(*m_run, mx);
    const bool seen = m_new != MST_AMMA_NEG_INF; /* some key of this row so far: else no -inf - -inf */
    const float alpha = seen ? mst_exp2f(*m_run - m_new) : 1.0f; /* 0 when nothing was seen before */
    float l = 0.0f;
    MST_AMMA_UNROLL
    for (int nt = 0; nt < MST_AMMA_BK / 8; nt++) {
        MST_AMMA_UNROLL
        for (int c = 2 * h2; c < 2 * h2 + 2; c++) {
            /* rounded to f16 here, as the mma will read it, so l sums what P V sums */
            const float p = seen ? mst_h2f(mst_f2h(mst_exp2f(s[nt][c] - m_new))) : 0.0f;
            s[nt][c] = p;
            l += p;
        }
    }
    *m_run = m_new;
    *l_run = *l_run * alpha + l;
    return alpha;
}

/* The f16 pair (q[c], q[c + 1]) * scale of a query row, 0 for a row past the batch (row == NULL). */
MST_DEVICE uint32_t mst_amma_q_pair(const float *row, uint32_t c, float scale)
{
    return row ? mst_amma_pack(mst_f2h(row[c] * scale), mst_f2h(row[c + 1] * scale)) : 0u;
}

template <int D>
MST_DEVICE void mst_amma_body(const float *q, const uint16_t *k_cache, const uint16_t *v_cache, float *out,
                              uint32_t n_tokens, uint32_t q_pos0, uint32_t n_kv, uint32_t n_head, uint32_t n_head_kv,
                              uint32_t window, uint32_t kv_slots, float q_scale)
{
    /* Dynamic shared memory, halves: stage s holds K rows at (2s) * TILE and V rows at (2s + 1) * TILE, key k of
     * the tile at k * RS (RS = D + 8: 16-byte aligned rows, and consecutive rows 4 banks apart). */
    MST_SHARED_DYN(uint16_t, sm);
    const uint32_t RS = D + 8, TILE = MST_AMMA_BK * RS, CH = D / 8; /* CH: 16-byte chunks per row */

    const uint32_t tid = threadIdx.x, lane = tid % MST_WARP, warp = tid / MST_WARP;
    const uint32_t fg = lane >> 2, ft = lane & 3; /* fragment row group and thread-in-group */
    const uint32_t group = n_head / n_head_kv, rows_total = n_tokens * group;
    const uint32_t g = blockIdx.y, r0 = blockIdx.x * MST_AMMA_ROWS;
    const uint32_t r_end = r0 + MST_AMMA_ROWS < rows_total ? r0 + MST_AMMA_ROWS : rows_total;
    const uint64_t q_stride = (uint64_t)n_head * D, kv_dim = (uint64_t)n_head_kv * D;

    /* keys any row of the block sees, in tiles */
    const uint32_t p_first = q_pos0 + r0 / group, p_last = q_pos0 + (r_end - 1) / group;
    const uint32_t k_begin = mst_amma_first_key(p_first, window);
    const uint32_t k_end = p_last + 1 < n_kv ? p_last + 1 : n_kv;
    const uint32_t n_tiles = (k_end - k_begin + MST_AMMA_BK - 1) / MST_AMMA_BK;

    /* Queues this thread's 16-byte pieces of the K and V rows of the tile at kt into stage st. */
    auto issue = [&](uint32_t kt, uint32_t st) {
        for (uint32_t i = tid; i < 2 * MST_AMMA_BK * CH; i += blockDim.x) {
            const uint32_t which = i / (MST_AMMA_BK * CH), key = i / CH % MST_AMMA_BK, ch = i % CH, j = kt + key;
            const uint64_t row = j < k_end ? (kv_slots ? j % kv_slots : j) : 0; /* row 0: not read (0 bytes) */
            const uint16_t *src = (which ? v_cache : k_cache) + row * kv_dim + (uint64_t)g * D + ch * 8;
            mst_cp_async_16(&sm[(2 * st + which) * TILE + key * RS + ch * 8], src, j < k_end ? 16u : 0u);
        }
    };
    issue(k_begin, 0);
    mst_cp_async_commit();

    /* this lane's two rows (fg and fg + 8 of the warp's tile) and the warp's span of positions */
    const uint32_t wr0 = r0 + warp * 16;
    const bool warp_live = wr0 < rows_total;
    const uint32_t wr1 = wr0 + 16 < rows_total ? wr0 + 16 : rows_total; /* past the warp's last row */
    const uint32_t wp_lo = q_pos0 + wr0 / group, wp_hi = warp_live ? q_pos0 + (wr1 - 1) / group : 0;
    const uint32_t ra = wr0 + fg, rb = ra + 8;
    const uint32_t pa = q_pos0 + ra / group, pb = q_pos0 + rb / group;

    /* A fragments of the queries, k-step by k-step: a[0] row fg cols 2ft.., a[1] row fg + 8, a[2], a[3] the
     * same at cols + 8 (cuda_compat.h) */
    const float *qa = ra < rows_total ? q + (ra / group) * q_stride + (uint64_t)(g * group + ra % group) * D : 0;
    const float *qb = rb < rows_total ? q + (rb / group) * q_stride + (uint64_t)(g * group + rb % group) * D : 0;
    uint32_t qf[D / 16][4];
    MST_AMMA_UNROLL
    for (int kc = 0; kc < D / 16; kc++) {
        qf[kc][0] = mst_amma_q_pair(qa, kc * 16 + 2 * ft, q_scale);
        qf[kc][1] = mst_amma_q_pair(qb, kc * 16 + 2 * ft, q_scale);
        qf[kc][2] = mst_amma_q_pair(qa, kc * 16 + 8 + 2 * ft, q_scale);
        qf[kc][3] = mst_amma_q_pair(qb, kc * 16 + 8 + 2 * ft, q_scale);
    }

    float o[D / 8][4]; /* O accumulators: n-tile per 8 dims, C layout */
    MST_AMMA_UNROLL
    for (int dn = 0; dn < D / 8; dn++)
        o[dn][0] = o[dn][1] = o[dn][2] = o[dn][3] = 0.0f;
    float m_a = MST_AMMA_NEG_INF, m_b = MST_AMMA_NEG_INF, l_a = 0.0f, l_b = 0.0f;
    /* ldmatrix row addresses: lane l gives row l % 8 of matrix l / 8 */
    const uint32_t lm_row = lane % 8, lm_mat = lane / 8;

    for (uint32_t it = 0; it < n_tiles; it++) {
        const uint32_t kt = k_begin + it * MST_AMMA_BK, st = it & 1;
        if (it + 1 < n_tiles)
            issue(kt + MST_AMMA_BK, st ^ 1); /* its stage was last read before the previous barrier */
        mst_cp_async_commit();      /* possibly empty: wait_group 1 below then always means "tile it is in" */
        mst_cp_async_wait_group(1);
        mst_syncthreads();          /* every thread's copies of tile it are visible */

        const uint32_t nk = k_end - kt < MST_AMMA_BK ? k_end - kt : MST_AMMA_BK;
        /* warp-uniform: does any of the warp's rows see a key of this tile? */
        if (warp_live && kt <= wp_hi && mst_amma_first_key(wp_lo, window) <= kt + nk - 1) {
            const uint32_t kbase = 2 * st * TILE, vbase = kbase + TILE;
            float s[MST_AMMA_BK / 8][4];
            MST_AMMA_UNROLL
            for (int nt = 0; nt < MST_AMMA_BK / 8; nt++) {
                s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.0f;
                MST_AMMA_UNROLL
                for (int kc2 = 0; kc2 < D / 32; kc2++) {
                    /* matrices: keys nt * 8.. x dims kc2 * 32 + 8 m..; lane gets K[key fg][dims 2ft, 2ft + 1],
                     * i.e. b[0], b[1] of k-steps 2 kc2 and 2 kc2 + 1 */
                    uint32_t b[4];
                    mst_ldmatrix_x4(b, &sm[kbase + (nt * 8 + lm_row) * RS + kc2 * 32 + lm_mat * 8]);
                    mst_mma_m16n8k16_f16_f32(s[nt], qf[2 * kc2], &b[0], s[nt]);
                    mst_mma_m16n8k16_f16_f32(s[nt], qf[2 * kc2 + 1], &b[2], s[nt]);
                }
                MST_AMMA_UNROLL
                for (int c = 0; c < 4; c++) {
                    const uint32_t j = kt + nt * 8 + 2 * ft + (c & 1);
                    if (!mst_amma_visible(j, c < 2 ? pa : pb, window))
                        s[nt][c] = MST_AMMA_NEG_INF;
                }
            }
            const float alpha_a = mst_amma_softmax_row(s, 0, &m_a, &l_a);
            const float alpha_b = mst_amma_softmax_row(s, 1, &m_b, &l_b);
            MST_AMMA_UNROLL
            for (int dn = 0; dn < D / 8; dn++) {
                o[dn][0] *= alpha_a;
                o[dn][1] *= alpha_a;
                o[dn][2] *= alpha_b;
                o[dn][3] *= alpha_b;
            }

            MST_AMMA_UNROLL
            for (int kc = 0; kc < MST_AMMA_BK / 16; kc++) {
                uint32_t pf[4]; /* A = P over keys kc * 16 ..: n-tiles 2kc and 2kc + 1 of S side by side */
                pf[0] = mst_amma_pack(mst_f2h(s[2 * kc][0]), mst_f2h(s[2 * kc][1]));
                pf[1] = mst_amma_pack(mst_f2h(s[2 * kc][2]), mst_f2h(s[2 * kc][3]));
                pf[2] = mst_amma_pack(mst_f2h(s[2 * kc + 1][0]), mst_f2h(s[2 * kc + 1][1]));
                pf[3] = mst_amma_pack(mst_f2h(s[2 * kc + 1][2]), mst_f2h(s[2 * kc + 1][3]));
                MST_AMMA_UNROLL
                for (int dp = 0; dp < D / 16; dp++) {
                    /* matrices: keys kc * 16 + 8 (m & 1).. x dims dp * 16 + 8 (m >> 1)..; transposed, the lane
                     * gets V[keys 2ft, 2ft + 1][dim fg]: b[0], b[1] of n-tiles 2 dp and 2 dp + 1 */
                    uint32_t b[4];
                    mst_ldmatrix_x4_trans(b, &sm[vbase + (kc * 16 + lm_row + 8 * (lm_mat & 1)) * RS + dp * 16 +
                                                 8 * (lm_mat >> 1)]);
                    mst_mma_m16n8k16_f16_f32(o[2 * dp], pf, &b[0], o[2 * dp]);
                    mst_mma_m16n8k16_f16_f32(o[2 * dp + 1], pf, &b[2], o[2 * dp + 1]);
                }
            }
        }
        mst_syncthreads(); /* every warp is done with stage st before the next iteration refills it */
    }
    mst_cp_async_wait_all(); /* the last, empty, group */

    /* the row sums over the quad; every row saw at least its own key, so l >= 1 for a live row */
    l_a += mst_shfl_xor_f32(l_a, 1);
    l_a += mst_shfl_xor_f32(l_a, 2);
    l_b += mst_shfl_xor_f32(l_b, 1);
    l_b += mst_shfl_xor_f32(l_b, 2);
    MST_AMMA_UNROLL
    for (int half = 0; half < 2; half++) {
        const uint32_t r = half ? rb : ra;
        if (r >= rows_total)
            continue;
        const uint32_t t = r / group, h = g * group + r % group;
        const float l = half ? l_b : l_a;
        float *orow = out + t * q_stride + (uint64_t)h * D;
        MST_AMMA_UNROLL
        for (int dn = 0; dn < D / 8; dn++) {
            orow[dn * 8 + 2 * ft] = mst_divf(o[dn][2 * half], l);
            orow[dn * 8 + 2 * ft + 1] = mst_divf(o[dn][2 * half + 1], l);
        }
    }
}

/* One entry per head size: the fragment arrays are sized at compile time. */
MST_KERNEL void mst_k_attn_mma_d64(const float *q, const uint16_t *k_cache, const uint16_t *v_cache, float *out,
                                   uint32_t n_tokens, uint32_t q_pos0, uint32_t n_kv, uint32_t n_head,
                                   uint32_t n_head_kv, uint32_t window, uint32_t kv_slots, float q_scale)
{
    mst_amma_body<64>(q, k_cache, v_cache, out, n_tokens, q_pos0, n_kv, n_head, n_head_kv, window, kv_slots, q_scale);
}
MST_REGISTER_KERNEL(mst_k_attn_mma_d64);

MST_KERNEL void mst_k_attn_mma_d128(const float *q, const uint16_t *k_cache, const uint16_t *v_cache, float *out,
                                    uint32_t n_tokens, uint32_t q_pos0, uint32_t n_kv, uint32_t n_head,
                                    uint32_t n_head_kv, uint32_t window, uint32_t kv_slots, float q_scale)
{
    mst_amma_body<128>(q, k_cache, v_cache, out, n_tokens, q_pos0, n_kv, n_head, n_head_kv, window, kv_slots, q_scale);
}
MST_REGISTER_KERNEL(mst_k_attn_mma_d128);

#if MST_HOST_CODE
#include "kernels.h"

extern "C" mst_status mst_fail(mst_status status, const char *fmt, ...);

extern "C" int mst_cuda_attention_mma_supports(const mst_cuda_attn_args *a)
{
    /* a->pos (positions in device memory, a recorded decode step) is the float kernel's alone */
    return (a->head_dim == 64 || a->head_dim == 128) && a->k_cache % 16 == 0 && a->v_cache % 16 == 0 && !a->pos;
}

extern "C" mst_status mst_cuda_attention_mma(mst_dev *d, const mst_cuda_attn_args *a)
{
    if (a->n_tokens == 0)
        return MST_OK;
    if (!mst_cuda_attention_mma_supports(a))
        return mst_fail(MST_ERR_UNSUPPORTED,
                        "mst_cuda_attention_mma: head_dim %u, caches at 0x%llx and 0x%llx, device position %s (this "
                        "kernel has head_dim 64 and 128, needs 16-byte aligned caches and positions from the host)",
                        a->head_dim, (unsigned long long)a->k_cache, (unsigned long long)a->v_cache,
                        a->pos ? "set" : "unset");
    if (a->n_head == 0 || a->n_head_kv == 0 || a->n_head % a->n_head_kv || a->n_head > 0xffffu ||
        a->n_head_kv > 0xffffu)
        return mst_fail(MST_ERR_UNSUPPORTED,
                        "mst_cuda_attention_mma: n_head %u, n_head_kv %u (need n_head a multiple of n_head_kv)",
                        a->n_head, a->n_head_kv);
    if ((uint64_t)a->q_pos0 + a->n_tokens > a->n_kv)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_cuda_attention_mma: queries at %u..%llu but only %u keys",
                        a->q_pos0, (unsigned long long)a->q_pos0 + a->n_tokens - 1, a->n_kv);
    const uint64_t rows_total = (uint64_t)a->n_tokens * (a->n_head / a->n_head_kv);
    const uint64_t tiles = (rows_total + MST_AMMA_ROWS - 1) / MST_AMMA_ROWS;
    if (rows_total > 0xffffffffu || tiles > 0x7fffffffu)
        return mst_fail(MST_ERR_UNSUPPORTED, "mst_cuda_attention_mma: %u tokens x %u heads is too many", a->n_tokens,
                        a->n_head);

    const uint32_t D = a->head_dim;
    const uint32_t shared = (uint32_t)sizeof(uint16_t) * 4 * MST_AMMA_BK * (D + 8); /* 2 stages of K and V */
    float q_scale = (float)(1.4426950408889634 / __builtin_sqrt((double)D));

    mst_dptr q = a->q, kc = a->k_cache, vc = a->v_cache, out = a->out;
    uint32_t n_tokens = a->n_tokens, q_pos0 = a->q_pos0, n_kv = a->n_kv, n_head = a->n_head,
             n_head_kv = a->n_head_kv, window = a->window, kv_slots = a->kv_slots;
    void *args[] = {&q, &kc, &vc, &out, &n_tokens, &q_pos0, &n_kv, &n_head, &n_head_kv, &window, &kv_slots, &q_scale};
    return mst_dev_launch(d, D == 64 ? &mst_kernel_mst_k_attn_mma_d64 : &mst_kernel_mst_k_attn_mma_d128,
                          mst_dim3{(uint32_t)tiles, a->n_head_kv, 1}, mst_dim3{MST_AMMA_WARPS * MST_WARP, 1, 1},
                          shared, args);
}
#endif
