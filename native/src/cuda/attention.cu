/* attention.cu — causal grouped-query attention with a sliding window over the f16 KV cache.
 *
 * Rows. For KV head g the query rows are r = t * group + (h - g * group) over the batch's tokens t and the
 * group's heads h (group = n_head / n_head_kv), so all heads that read the same K/V rows share a block and
 * each K/V tile is loaded once for all of them.
 *
 * Main kernel, grid (x: row tiles of one KV head, y: KV head, z: key chunk), 32 * W threads (W <= 4 warps),
 * each warp owning R consecutive rows (R <= 4, R <= 2 when head_dim > 128 so shared memory stays under 48 KiB):
 *   - the block's queries go to shared memory once, pre-multiplied by log2(e) / sqrt(head_dim), so the
 *     softmax runs on exp2;
 *   - keys go by in tiles of MST_ATTN_BK = 32 (the union of the rows' visible ranges, clipped to the block's
 *     chunk): the block loads the tile's K and V rows (f16 pairs as 32-bit words; K rows padded by a word so
 *     that lane j reading key j's column is free of bank conflicts);
 *   - per row, lane j scores key j (the mask: j <= p, p - j < window), the warp takes the tile maximum with
 *     xor shuffles and runs the online softmax: running max m, per-lane partial sums l rescaled by
 *     exp2(m_old - m_new), p_j = exp2(s_j - m) to shared memory;
 *   - then each lane accumulates output pairs (lane + 32 i) of sum_j p_j V_j for its rows.
 * At the end the lanes' sums are added with shuffles. With one chunk (prefill) the block writes out = acc / l;
 * with several (decode: when all of a KV head's rows fit one block, i.e. n_tokens * group <= 16 (8 when
 * head_dim > 128), and the visible keys are more than 256, they are split over up to 32 blocks), each
 * block writes (m, l, acc) partials to the scratch and mst_k_attn_combine merges them:
 * out = sum_c exp2(m_c - M) acc_c / sum_c exp2(m_c - M) l_c.
 *
 * Error (device, against exact arithmetic on the f16-rounded K/V): a score in log2 units carries at most
 * (head_dim + 2) * 2^-24 * S, S = sum_i |q_i k_i| * log2(e) / sqrt(head_dim); each exp2 (ex2.approx, 2^-22.5)
 * and its argument's rounding, and the rescales (once per tile), perturb each softmax weight by a small
 * relative amount eps, which moves the output by at most 2 * eps * max |v|; the float sums over n keys add
 * n * 2^-24 relative. test_cuda_attention.c turns this into its per-case bound. */
#include "cuda_compat.h"

#define MST_ATTN_BK 32       /* keys per tile: one per lane when scoring */
#define MST_ATTN_WARPS 4     /* warps per block at most */
#define MST_ATTN_RMAX 4      /* rows per warp at most */
#define MST_ATTN_PMAX 4      /* f16 pairs per lane at most: head_dim <= 2 * 32 * MST_ATTN_PMAX = 256 */
#define MST_ATTN_MAX_HEAD_DIM 256
#define MST_ATTN_CHUNK_MIN 256 /* keys per chunk at least when splitting */
#define MST_ATTN_MAX_CHUNKS 32
#define MST_ATTN_NEG_INF (-__builtin_inff())
/* The loops over a warp's rows and a lane's pairs must unroll so that m_run, l_run and acc stay in registers. */
#if MST_HOST_CODE
#define MST_ATTN_UNROLL
#else
#define MST_ATTN_UNROLL _Pragma("unroll")
#endif

MST_DEVICE uint32_t mst_attn_row_of(uint32_t j, uint32_t kv_slots)
{
    return kv_slots ? j % kv_slots : j;
}

/* The first key the query at position p sees. */
MST_DEVICE uint32_t mst_attn_first_key(uint32_t p, uint32_t window)
{
    return window && p + 1 > window ? p + 1 - window : 0;
}

MST_KERNEL void mst_k_attn(const float *q, const uint16_t *k_cache, const uint16_t *v_cache, float *out, float *part,
                           uint32_t n_tokens, uint32_t q_pos0, uint32_t n_kv, uint32_t n_head, uint32_t n_head_kv,
                           uint32_t head_dim, uint32_t window, uint32_t kv_slots, uint32_t rows_per_warp,
                           uint32_t n_chunks, uint32_t chunk_keys, float q_scale, const uint32_t *pos_dev)
{
    /* pos_dev (may be NULL): a position in device memory that q_pos0 and n_kv are relative to, so that a recorded
     * decode step (a CUDA graph) keeps its arguments as the position moves; the grid then does not depend on the
     * position either: n_chunks comes from a bound on the keys, chunk_keys (0) is sized here for the keys there
     * are, and chunks past them are empty (m = -inf, l = 0: the combine skips them). */
    if (pos_dev) {
        q_pos0 += *pos_dev;
        n_kv += *pos_dev;
    }
    /* dynamic shared memory, in this order: q_s [rows_blk * head_dim] floats, p_s [rows_blk * BK] floats,
     * k_s [BK * (hp + 1)] words, v_s [BK * hp] words */
    MST_SHARED_DYN(float, smf);
    MST_SHARED_DYN(uint32_t, smu);

    const uint32_t tid = threadIdx.x, lane = tid % MST_WARP, warp = tid / MST_WARP;
    const uint32_t n_warps = blockDim.x / MST_WARP, R = rows_per_warp, rows_blk = n_warps * R;
    const uint32_t group = n_head / n_head_kv, rows_total = n_tokens * group;
    const uint32_t g = blockIdx.y, chunk = blockIdx.z, hd = head_dim, hp = head_dim / 2;
    const uint32_t r0 = blockIdx.x * rows_blk;
    const uint32_t r_end = r0 + rows_blk < rows_total ? r0 + rows_blk : rows_total;
    const uint64_t q_stride = (uint64_t)n_head * hd, kv_dim = (uint64_t)n_head_kv * hd;
    const uint32_t p_off = rows_blk * hd, k_off = p_off + rows_blk * MST_ATTN_BK, v_off = k_off + MST_ATTN_BK * (hp + 1);

    /* the queries of the block, scaled into log2 units */
    for (uint32_t i = tid; i < rows_blk * hd; i += blockDim.x) {
        const uint32_t r = r0 + i / hd;
        float v = 0.0f;
        if (r < rows_total) {
            const uint32_t t = r / group, h = g * group + r % group;
            v = q[t * q_stride + (uint64_t)h * hd + i % hd] * q_scale;
        }
        smf[i] = v;
    }

    /* keys any row of the block sees, then this block's chunk of them */
    const uint32_t p_first = q_pos0 + r0 / group, p_last = q_pos0 + (r_end - 1) / group;
    const uint32_t key_lo = mst_attn_first_key(p_first, window);
    const uint32_t key_hi = p_last + 1 < n_kv ? p_last + 1 : n_kv;
    uint32_t k_begin = key_lo, k_end = key_hi;
    if (n_chunks > 1) {
        if (chunk_keys == 0) { /* as the host sizes them below, from this block's key range */
            chunk_keys = (key_hi - key_lo + n_chunks - 1) / n_chunks;
            chunk_keys = (chunk_keys + MST_ATTN_BK - 1) / MST_ATTN_BK * MST_ATTN_BK;
        }
        const uint64_t b = (uint64_t)key_lo + (uint64_t)chunk * chunk_keys, e = b + chunk_keys;
        k_begin = b < key_hi ? (uint32_t)b : key_hi;
        k_end = e < key_hi ? (uint32_t)e : key_hi;
    }

    /* the online-softmax state of this warp's rows: running max, per-lane partial sums, output pairs */
    float m_run[MST_ATTN_RMAX], l_run[MST_ATTN_RMAX], acc[MST_ATTN_RMAX][MST_ATTN_PMAX][2];
    MST_ATTN_UNROLL
    for (int i = 0; i < MST_ATTN_RMAX; i++) {
        m_run[i] = MST_ATTN_NEG_INF;
        l_run[i] = 0.0f;
        MST_ATTN_UNROLL
        for (int pi = 0; pi < MST_ATTN_PMAX; pi++)
            acc[i][pi][0] = acc[i][pi][1] = 0.0f;
    }

    for (uint32_t kt = k_begin; kt < k_end; kt += MST_ATTN_BK) {
        const uint32_t nk = k_end - kt < MST_ATTN_BK ? k_end - kt : MST_ATTN_BK;
        mst_syncthreads(); /* every warp is done with the previous tile's K/V and its p_s row */
        for (uint32_t i = tid; i < nk * hp; i += blockDim.x) {
            const uint32_t key = i / hp, pr = i % hp;
            const uint64_t off = mst_attn_row_of(kt + key, kv_slots) * kv_dim + (uint64_t)g * hd;
            smu[k_off + key * (hp + 1) + pr] = ((const uint32_t *)(k_cache + off))[pr];
            smu[v_off + key * hp + pr] = ((const uint32_t *)(v_cache + off))[pr];
        }
        mst_syncthreads();

        MST_ATTN_UNROLL
        for (uint32_t i = 0; i < MST_ATTN_RMAX; i++) {
            if (i >= R)
                continue;
            const uint32_t lr = warp * R + i, r = r0 + lr; /* block-local and global row */
            const uint32_t p = q_pos0 + r / group;
            const uint32_t j = kt + lane;
            float s = MST_ATTN_NEG_INF;
            if (r < rows_total && lane < nk && j <= p && (window == 0 || p - j < window)) {
                float dot = 0.0f;
                for (uint32_t pr = 0; pr < hp; pr++) {
                    const uint32_t kw = smu[k_off + lane * (hp + 1) + pr];
                    dot += smf[lr * hd + 2 * pr] * mst_h2f((uint16_t)(kw & 0xffffu));
                    dot += smf[lr * hd + 2 * pr + 1] * mst_h2f((uint16_t)(kw >> 16));
                }
                s = dot;
            }
            float m_tile = s;
            for (int m = MST_WARP / 2; m > 0; m /= 2)
                m_tile = mst_fmaxf(m_tile, mst_shfl_xor_f32(m_tile, m));
            const float m_new = mst_fmaxf(m_run[i], m_tile);
            float pv = 0.0f, alpha = 1.0f;
            if (m_new != MST_ATTN_NEG_INF) { /* warp-uniform: some key of this row seen so far */
                pv = mst_exp2f(s - m_new);           /* 0 for a masked key (s = -inf) */
                alpha = mst_exp2f(m_run[i] - m_new); /* 0 when nothing was seen before */
            }
            m_run[i] = m_new;
            l_run[i] = l_run[i] * alpha + pv;
            MST_ATTN_UNROLL
            for (int pi = 0; pi < MST_ATTN_PMAX; pi++) {
                acc[i][pi][0] *= alpha;
                acc[i][pi][1] *= alpha;
            }
            smf[p_off + lr * MST_ATTN_BK + lane] = pv;
        }
        mst_syncwarp();

        MST_ATTN_UNROLL
        for (uint32_t i = 0; i < MST_ATTN_RMAX; i++) {
            if (i >= R)
                continue;
            const uint32_t lr = warp * R + i;
            for (uint32_t j = 0; j < nk; j++) {
                const float pj = smf[p_off + lr * MST_ATTN_BK + j];
                if (pj == 0.0f) /* warp-uniform: masked or negligible key */
                    continue;
                MST_ATTN_UNROLL
                for (uint32_t pi = 0; pi < MST_ATTN_PMAX; pi++) {
                    const uint32_t pr = lane + MST_WARP * pi;
                    if (pr < hp) {
                        const uint32_t vw = smu[v_off + j * hp + pr];
                        acc[i][pi][0] += pj * mst_h2f((uint16_t)(vw & 0xffffu));
                        acc[i][pi][1] += pj * mst_h2f((uint16_t)(vw >> 16));
                    }
                }
            }
        }
    }

    MST_ATTN_UNROLL
    for (uint32_t i = 0; i < MST_ATTN_RMAX; i++) {
        if (i >= R)
            continue;
        float l = l_run[i];
        for (int m = MST_WARP / 2; m > 0; m /= 2)
            l += mst_shfl_xor_f32(l, m);
        const uint32_t r = r0 + warp * R + i;
        if (r >= rows_total)
            continue;
        const uint32_t t = r / group, h = g * group + r % group;
        if (n_chunks == 1) {
            float *o = out + t * q_stride + (uint64_t)h * hd;
            MST_ATTN_UNROLL
            for (uint32_t pi = 0; pi < MST_ATTN_PMAX; pi++) {
                const uint32_t pr = lane + MST_WARP * pi;
                if (pr < hp) {
                    o[2 * pr] = mst_divf(acc[i][pi][0], l);
                    o[2 * pr + 1] = mst_divf(acc[i][pi][1], l);
                }
            }
        } else {
            float *pp = part + (((uint64_t)t * n_head + h) * n_chunks + chunk) * (hd + 2);
            if (lane == 0) {
                pp[0] = m_run[i];
                pp[1] = l;
            }
            MST_ATTN_UNROLL
            for (uint32_t pi = 0; pi < MST_ATTN_PMAX; pi++) {
                const uint32_t pr = lane + MST_WARP * pi;
                if (pr < hp) {
                    pp[2 + 2 * pr] = acc[i][pi][0];
                    pp[3 + 2 * pr] = acc[i][pi][1];
                }
            }
        }
    }
}
MST_REGISTER_KERNEL(mst_k_attn);

/* One block per (token, head): merges the n_chunks partials (m, l, acc) of the split. A chunk no key of the
 * row fell in has m = -inf and adds nothing. */
MST_KERNEL void mst_k_attn_combine(const float *part, float *out, uint32_t head_dim, uint32_t n_chunks)
{
    const uint32_t row = blockIdx.x; /* t * n_head + h */
    const float *pr = part + (uint64_t)row * n_chunks * (head_dim + 2);
    float mx = MST_ATTN_NEG_INF;
    for (uint32_t c = 0; c < n_chunks; c++)
        mx = mst_fmaxf(mx, pr[c * (head_dim + 2)]);
    float l = 0.0f;
    for (uint32_t c = 0; c < n_chunks; c++) {
        const float mc = pr[c * (head_dim + 2)];
        if (mc != MST_ATTN_NEG_INF)
            l += mst_exp2f(mc - mx) * pr[c * (head_dim + 2) + 1];
    }
    for (uint32_t d = threadIdx.x; d < head_dim; d += blockDim.x) {
        float o = 0.0f;
        for (uint32_t c = 0; c < n_chunks; c++) {
            const float mc = pr[c * (head_dim + 2)];
            if (mc != MST_ATTN_NEG_INF)
                o += mst_exp2f(mc - mx) * pr[c * (head_dim + 2) + 2 + d];
        }
        out[(uint64_t)row * head_dim + d] = mst_divf(o, l);
    }
}
MST_REGISTER_KERNEL(mst_k_attn_combine);

#if MST_HOST_CODE
#include <stdlib.h>

#include "kernels.h"

extern "C" mst_status mst_fail(mst_status status, const char *fmt, ...);

/* Chunks a split over `keys` keys uses: one (no split) up to CHUNK_MIN keys, else ceil(keys / CHUNK_MIN) up to
 * MAX_CHUNKS. Monotone in keys, so scratch sized for max_kv covers every call with fewer keys. */
static uint32_t attn_chunks_for(uint64_t keys)
{
    uint64_t c = (keys + MST_ATTN_CHUNK_MIN - 1) / MST_ATTN_CHUNK_MIN;
    return c > MST_ATTN_MAX_CHUNKS ? MST_ATTN_MAX_CHUNKS : c < 2 ? 1 : (uint32_t)c;
}

/* Rows per warp at most: 4, or 2 for head_dim above 128 (shared memory). */
static uint32_t attn_rmax(uint32_t head_dim)
{
    return head_dim > 128 ? 2 : MST_ATTN_RMAX;
}

extern "C" uint64_t mst_cuda_attention_scratch_bytes(uint32_t n_tokens, uint32_t n_head, uint32_t head_dim,
                                                     uint32_t max_kv)
{
    /* a split happens only when all of a KV head's rows fit one block: n_tokens * group <= 4 * rmax */
    const uint32_t rmax = attn_rmax(head_dim);
    const uint64_t tokens = n_tokens < MST_ATTN_WARPS * rmax ? n_tokens : MST_ATTN_WARPS * rmax;
    const uint32_t chunks = attn_chunks_for(max_kv);
    if (chunks < 2)
        return 0;
    return tokens * n_head * chunks * ((uint64_t)head_dim + 2) * sizeof(float);
}

/* MISTRAL_CUDA_MMA=0 in the environment: prefill stays on the float kernel (to compare, or to rule the tensor-core
 * path out). Read at each call, which costs nothing beside a launch, so a test can take both paths. */
static int attn_mma_enabled(void)
{
    const char *v = getenv("MISTRAL_CUDA_MMA");
    return !(v && v[0] == '0' && v[1] == 0);
}

extern "C" mst_status mst_cuda_attention(mst_dev *d, const mst_cuda_attn_args *a)
{
    if (a->n_tokens == 0)
        return MST_OK;
    if (a->n_head == 0 || a->n_head_kv == 0 || a->n_head % a->n_head_kv || a->head_dim < 2 || a->head_dim % 2 ||
        a->head_dim > MST_ATTN_MAX_HEAD_DIM || a->n_head > 0xffffu)
        return mst_fail(MST_ERR_UNSUPPORTED,
                        "mst_cuda_attention: n_head %u, n_head_kv %u, head_dim %u (need n_head a multiple of n_head_kv, "
                        "an even head_dim <= %d)",
                        a->n_head, a->n_head_kv, a->head_dim, MST_ATTN_MAX_HEAD_DIM);
    if ((uint64_t)a->q_pos0 + a->n_tokens > a->n_kv)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_cuda_attention: queries at %u..%llu but only %u keys", a->q_pos0,
                        (unsigned long long)a->q_pos0 + a->n_tokens - 1, a->n_kv);

    uint32_t hd = a->head_dim;
    const uint32_t group = a->n_head / a->n_head_kv, rmax = attn_rmax(hd);
    const uint64_t rows_total = (uint64_t)a->n_tokens * group;
    uint32_t warps, R; /* R: a kernel argument, so not const */
    if (rows_total >= (uint64_t)MST_ATTN_WARPS * rmax) {
        warps = MST_ATTN_WARPS;
        R = rmax;
    } else {
        warps = rows_total < MST_ATTN_WARPS ? (uint32_t)rows_total : MST_ATTN_WARPS;
        R = (uint32_t)((rows_total + warps - 1) / warps);
    }
    const uint32_t rows_blk = warps * R;
    const uint64_t tiles = (rows_total + rows_blk - 1) / rows_blk;
    if (tiles > 0x7fffffffu || rows_total > 0xffffffffu)
        return mst_fail(MST_ERR_UNSUPPORTED, "mst_cuda_attention: %u tokens x %u heads is too many", a->n_tokens,
                        a->n_head);

    /* prefill (more rows than one tile, so the keys are never split) on tensor cores (attention_mma.cu) where
     * that kernel has the head size (and aligned caches); MISTRAL_CUDA_MMA=0 keeps this file's float kernel */
    if (tiles > 1 && mst_cuda_attention_mma_supports(a) && attn_mma_enabled())
        return mst_cuda_attention_mma(d, a);

    /* split the keys over blocks when one tile holds every row (decode) and the keys are many */
    uint32_t n_chunks = 1, chunk_keys = 0;
    if (tiles == 1 && a->scratch && a->pos) {
        /* positions on the device: chunks from the bound, their size in the kernel */
        n_chunks = attn_chunks_for(a->max_keys);
    } else if (tiles == 1 && a->scratch) {
        const uint32_t p_first = a->q_pos0, p_last = a->q_pos0 + a->n_tokens - 1;
        const uint32_t lo = a->window && p_first + 1 > a->window ? p_first + 1 - a->window : 0;
        const uint32_t hi = p_last + 1; /* <= n_kv, checked above */
        const uint32_t chunks = attn_chunks_for(hi - lo);
        if (chunks > 1) {
            chunk_keys = (hi - lo + chunks - 1) / chunks;
            chunk_keys = (chunk_keys + MST_ATTN_BK - 1) / MST_ATTN_BK * MST_ATTN_BK;
            n_chunks = (hi - lo + chunk_keys - 1) / chunk_keys; /* no empty chunk */
        }
    }

    const uint32_t hp = hd / 2;
    const uint32_t shared = (uint32_t)(sizeof(float) * (rows_blk * hd + rows_blk * MST_ATTN_BK) +
                                       sizeof(uint32_t) * (MST_ATTN_BK * (hp + 1) + MST_ATTN_BK * hp));
    float q_scale = (float)(1.4426950408889634 / __builtin_sqrt((double)hd));

    mst_dptr q = a->q, kc = a->k_cache, vc = a->v_cache, out = a->out, part = a->scratch, pos = a->pos;
    uint32_t n_tokens = a->n_tokens, q_pos0 = a->q_pos0, n_kv = a->n_kv, n_head = a->n_head,
             n_head_kv = a->n_head_kv, window = a->window, kv_slots = a->kv_slots;
    void *args[] = {&q,      &kc,        &vc,     &out,      &part, &n_tokens, &q_pos0,     &n_kv,   &n_head,
                    &n_head_kv, &hd, &window, &kv_slots, &R,    &n_chunks, &chunk_keys, &q_scale, &pos};
    mst_status st = mst_dev_launch(d, &mst_kernel_mst_k_attn, mst_dim3{(uint32_t)tiles, a->n_head_kv, n_chunks},
                                   mst_dim3{warps * MST_WARP, 1, 1}, shared, args);
    if (st != MST_OK || n_chunks == 1)
        return st;
    uint32_t head_dim = hd;
    void *cargs[] = {&part, &out, &head_dim, &n_chunks};
    return mst_dev_launch(d, &mst_kernel_mst_k_attn_combine, mst_dim3{n_tokens * n_head, 1, 1},
                          mst_dim3{hd < 128 ? 64u : 128u, 1, 1}, 0, cargs);
}
#endif
