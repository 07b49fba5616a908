/* attention.h — the tiled CPU attention: plan, work split, and the per-ISA micro-kernels it calls.
 *
 * One work unit is (KV head g, a block of up to MST_ATTN_ROWS query rows, a key chunk). The query
 * rows of KV head g are (token t, head h in g's group) in the order r = t * group + (h - g * group),
 * so all group heads of a token share each K/V row the unit loads. Keys go by in tiles of
 * MST_ATTN_KT with an online softmax (running max, rescaled sum): the score scratch is one
 * MST_ATTN_ROWS x MST_ATTN_KT tile per thread, whatever the context length.
 *
 * When there are fewer (KV head, row block) items than threads can use (decode over a long
 * context), each item's keys are split into chunks; every chunk leaves a partial (max, sum,
 * unnormalized output) and mst_attention_merge combines them in a second pass. */
#ifndef MST_ATTENTION_H
#define MST_ATTENTION_H

#include "ops.h"

enum {
    MST_ATTN_ROWS = 64, /* query rows per unit: K/V tiles are reused this many times from cache */
    MST_ATTN_KT = 64,   /* keys per tile: a 64 x 128 K tile plus V tile is 64 KiB, L2-resident */
};

/* The micro-kernels of one ISA. Pointers to rows rather than strides, because a rolling cache
 * wraps: key j lives in row j % kv_slots, so a tile's rows need not be consecutive. */
typedef struct mst_attn_kernels {
    const char *name;
    /* s[i * lds + j] = scale * dot(q[i], k[j]) for i < nq, j < nk, over hd floats. May write
     * columns up to the next multiple of 4 (lds is a multiple of 4 at least that large). */
    void (*scores)(const float *const *q, uint32_t nq, const float *const *k, uint32_t nk, uint32_t hd,
                   float scale, float *s, uint32_t lds);
    /* o[i][:hd] += sum over j < nk of p[i * ldp + j] * v[j][:hd], for i < nq. */
    void (*pv)(float *const *o, uint32_t nq, const float *p, uint32_t ldp, const float *const *v, uint32_t nk,
               uint32_t hd);
    /* max of s[0..n), n >= 1 */
    float (*row_max)(const float *s, uint32_t n);
    /* s[j] = exp(s[j] - m) for j < n; returns their sum. Every s[j] <= m. */
    float (*exp_sum)(float *s, uint32_t n, float m);
    /* o[:n] *= a */
    void (*scale)(float *o, uint32_t n, float a);
    /* scores and pv on an F16 cache (mst_attn_args.kv_type): keys and values are IEEE halves, widened to
     * float in registers as they are loaded (exactly: every half is a float), so the arithmetic and its
     * order are those of scores/pv on the widened values. Decode over a long context is bound by reading
     * K and V; halves read half the bytes. */
    void (*scores_f16)(const float *const *q, uint32_t nq, const uint16_t *const *k, uint32_t nk, uint32_t hd,
                       float scale, float *s, uint32_t lds);
    void (*pv_f16)(float *const *o, uint32_t nq, const float *p, uint32_t ldp, const uint16_t *const *v,
                   uint32_t nk, uint32_t hd);
    /* dst[i] = src[i] rounded to the nearest half, ties to even (mst_fp32_to_fp16's bits: overflow to
     * infinity, subnormals kept, NaN quiet), for i < n: how the CPU backend stores K and V in an F16 cache. */
    void (*to_f16)(uint16_t *dst, const float *src, size_t n);
} mst_attn_kernels;

extern const mst_attn_kernels mst_attn_scalar; /* attention_scalar.c: the reference the SIMD ones are tested against */
extern const mst_attn_kernels mst_attn_avx2;   /* x86-64 only */
extern const mst_attn_kernels mst_attn_avx512; /* x86-64 only */

/* dispatch.c: the attention micro-kernels of the same ISA as k. */
const mst_attn_kernels *mst_kernels_attn(const mst_cpu_kernels *k);

/* Bytes of one element of an attention cache of this mst_attn_args.kv_type: 2 for F16, else 4 (F32). */
static inline size_t mst_attn_elem_bytes(int32_t kv_type)
{
    return kv_type == MST_TYPE_F16 ? 2 : 4;
}

/* Row of key position j: a rolling cache keeps position j in row j % kv_slots. The window
 * guarantees (forward.c) that the keys one query sees never share a row. */
static inline size_t mst_attn_kv_row(const mst_attn_args *a, uint32_t j)
{
    return a->kv_slots ? j % a->kv_slots : j;
}

/* The keys [*j0, *j1) that the query at position p sees: j <= p, and p - j < window when a
 * window is set. One definition for the reference and the tiled kernel, so they share the mask. */
static inline void mst_attn_visible(const mst_attn_args *a, uint32_t p, uint32_t *j0, uint32_t *j1)
{
    uint32_t end = p + 1 < a->n_kv ? p + 1 : a->n_kv;
    uint32_t start = 0;
    if (a->window > 0 && p + 1 > a->window)
        start = p + 1 - a->window;
    *j0 = start;
    *j1 = end;
}

/* How one call splits into units. */
typedef struct mst_attn_plan {
    uint32_t group;      /* query heads per KV head */
    uint32_t rows;       /* query rows per item (the last item of a KV head may hold fewer) */
    uint32_t items_kv;   /* items per KV head */
    uint32_t chunks;     /* key chunks per item; 1 = no split, no merge pass */
    uint32_t chunk_keys; /* keys per chunk (a multiple of MST_ATTN_KT) when chunks > 1 */
    uint32_t key0;       /* first key any query sees: chunks are [key0 + c * chunk_keys, ..) */
    uint32_t units;      /* n_head_kv * items_kv * chunks */
    uint64_t part_off;   /* where the chunk partials start in the scratch (after the score tiles) */
    struct mst_pool *stop; /* NULL (as planned), or set by the caller: the pool whose abort flag mst_attention_run
                            * checks between units (threadpool.h), leaving the rest undone once it is set */
} mst_attn_plan;

/* Floats of scratch a context with n_threads threads needs for any call with this head_dim: one
 * score tile per thread plus room for the chunk partials of a split. */
uint64_t mst_attention_scratch_floats(uint32_t n_threads, uint32_t head_dim);

/* Plans a call run by nth threads with scratch_floats of scratch (as sized above for >= nth
 * threads; with less, the plan splits less). */
void mst_attention_plan(const mst_attn_args *a, uint32_t nth, uint64_t scratch_floats, mst_attn_plan *p);

/* Thread ith of nth runs its share of the units (shares balanced by keys x rows, not unit count).
 * scratch: mst_attention_scratch_floats(nth, head_dim) floats, shared by all threads. */
void mst_attention_run(const mst_attn_args *a, const mst_attn_plan *p, const mst_attn_kernels *kern, float *scratch,
                       uint32_t ith, uint32_t nth);
/* Only when p->chunks > 1, after every thread's mst_attention_run: combines the chunk partials
 * into a->out. Thread ith of nth takes a share of the rows. */
void mst_attention_merge(const mst_attn_args *a, const mst_attn_plan *p, const float *scratch, uint32_t ith,
                         uint32_t nth);

#endif
