/* backend_cpu.c — backend.h on the CPU: the SIMD kernels chosen at run time (dispatch.c), a thread pool per
 * context, a KV cache of halves (F16, the default) or floats (mst_context_params.kv_type), and a quantized copy
 * of the last matmul input reused by the matmuls that share it.
 *
 * Matmuls, attention, rmsnorm (prefill) and swiglu are split across the context's thread pool; the residual
 * adds, RoPE, the embedding lookup and the MoE gathers run on the calling thread. The one failure once the
 * context exists is cancellation: the pool watches the context's abort flag (threadpool.h), matmuls and attention
 * check it between their work items, and an op whose run was cut short records MST_ERR_CANCELLED (cut()). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attention.h"
#include "backend_cpu.h"
#include "internal.h"
#include "matmul_tile.h"
#include "moe_gate.h"
#include "ops.h"
#include "platform.h"
#include "quant.h"
#include "quant_act_bf16.h"
#include "quant_act_k.h"
#include "repack.h"

static mst_cpu_context *state(mst_context *ctx)
{
    return ctx->backend_state;
}

/* Runs a task on the context's pool; a run the abort flag cut short fails the pass (its outputs are partial). */
static void run(mst_context *ctx, mst_task_fn fn, void *arg)
{
    if (mst_pool_run(state(ctx)->pool, fn, arg))
        mst_backend_fail(ctx, MST_ERR_CANCELLED, "cancelled (mst_context_set_abort)");
}

/* ---- the quantized-activation cache ----
 * A matmul on Q8_0/Q4_0 weights runs on its input quantized to Q8_0 blocks (quant_act.h), on K-quants
 * (Q2_K..Q6_K) to Q8_K blocks (quant_act_k.h), on BF16 to bf16-rounded values (quant_act_bf16.h), as llama.cpp
 * does; F32/F16 on float activations. The input is quantized once and reused by the matmuls that follow with the
 * same input (Wq/Wk/Wv, Wgate/Wup): the copy is valid while consecutive calls pass the same x, n_tokens and cols
 * and need the same block format (a Q8_0 set is no use to a Q4_K matrix). Any op that writes floats overlapping
 * the input it was made from drops it (wrote()), and so does begin(): a later call never reads a stale copy,
 * whatever order forward.c runs the ops in. */
static void wrote(mst_cpu_context *s, const float *p, uint64_t n)
{
    if (!s->qa_src)
        return;
    const uintptr_t a = (uintptr_t)p, b = a + n * sizeof(float);
    const uintptr_t qa = (uintptr_t)s->qa_src, qb = qa + (uint64_t)s->qa.cols * s->qa.n_tokens * sizeof(float);
    if (a < qb && qa < b)
        s->qa_src = NULL;
}

/* ---- matmul ---- */
enum { MAX_FUSED = 3 };

/* One matrix of a pool run. */
typedef struct matmul_job {
    const mst_weight *w;
    mst_matmul_fn fn;       /* float activations (x), or */
    mst_matmul_qa_fn qa_fn; /* quantized activations (state->qa) when set */
    const float *x;
    float *y;
} matmul_job;

/* Up to MAX_FUSED matrices that read the same input, in one pool run (Wq/Wk/Wv, Wgate/Wup): one barrier
 * instead of one per matrix (4 per layer instead of 7 in decode). On 2 threads the gain was within the
 * noise of one run; barriers cost more with more threads. */
typedef struct matmul_task {
    matmul_job job[MAX_FUSED];
    uint32_t n_jobs;
    const mst_qact *qa;
    uint32_t n_tokens;
    mst_pool *pool; /* asked between pieces whether to stop */
} matmul_task;

/* A thread's rows are run in pieces, the abort flag checked between them, so that a cancelled prefill stops
 * within one piece instead of one whole matrix (a long prompt's Wgate/Wup is seconds of work). A piece is
 * whole L2 tiles of the kernels (matmul_tile.h: the rows every token runs over while they stay cached), as
 * many as make about PIECE_WORK bytes of weights times tokens: the kernels tile each piece exactly as they
 * tiled the whole range, and a single token's matrix is usually one piece, as before. Repacked layouts' tiles
 * are whole groups of 16 rows, others an even count. Splitting changes no result: every output row is computed
 * alike in any row range (test_matmul checks split runs bit for bit). */
enum { PIECE_WORK = 1u << 26 };

static uint32_t piece_rows(const mst_weight *w, uint32_t n_tokens)
{
    const uint64_t rb = w->row_bytes ? w->row_bytes : 1;
    uint64_t tile;
    if (w->layout == MST_LAYOUT_GGUF) {
        tile = MST_TILE_BYTES / rb & ~(uint64_t)1; /* even: the 2-row kernels keep their row pairs */
    } else {
        tile = MST_TILE_BYTES / (MST_X16_ROWS * rb) * MST_X16_ROWS;
        tile = tile ? tile : MST_X16_ROWS;
    }
    tile = tile ? tile : 2;
    const uint64_t want = PIECE_WORK / (rb * n_tokens), tiles = (want + tile - 1) / tile;
    const uint64_t rows = (tiles ? tiles : 1) * tile;
    return rows > UINT32_MAX / 2 ? UINT32_MAX / 2 : (uint32_t)rows;
}

static void matmul_worker(void *arg, uint32_t ith, uint32_t nth)
{
    const matmul_task *t = arg;
    for (uint32_t j = 0; j < t->n_jobs; j++) {
        const matmul_job *b = &t->job[j];
        const uint32_t rows = b->w->rows;
        /* contiguous row ranges: each thread streams its own slice of the matrix */
        uint32_t per = (uint32_t)(((uint64_t)rows + nth - 1) / nth);
        if (b->w->layout != MST_LAYOUT_GGUF) /* repacked: whole groups of 16 rows per thread */
            per = (per + MST_X16_ROWS - 1) / MST_X16_ROWS * MST_X16_ROWS;
        uint64_t r0 = (uint64_t)ith * per, r1 = r0 + per;
        if (r1 > rows)
            r1 = rows;
        const uint64_t step = piece_rows(b->w, t->n_tokens);
        for (uint64_t p0 = r0; p0 < r1; p0 += step) {
            if (mst_pool_stopping(t->pool))
                return;
            const uint32_t p1 = (uint32_t)(p0 + step < r1 ? p0 + step : r1);
            if (b->qa_fn)
                b->qa_fn(b->w->data, b->w->row_bytes, rows, t->qa, b->y, (uint32_t)p0, p1);
            else
                b->fn(b->w->data, b->w->row_bytes, rows, b->w->cols, b->x, t->n_tokens, b->y, (uint32_t)p0, p1);
        }
    }
}

typedef struct quantize_task {
    const float *x;
    mst_qact *qa;
} quantize_task;

static void quantize_worker(void *arg, uint32_t ith, uint32_t nth)
{
    const quantize_task *t = arg;
    const uint32_t n = t->qa->n_tokens, per = (n + nth - 1) / nth;
    uint32_t t0 = ith * per, t1 = t0 + per < n ? t0 + per : n;
    if (t0 < t1)
        (t->qa->format == MST_QACT_Q8_K   ? mst_quantize_act_k
         : t->qa->format == MST_QACT_BF16 ? mst_round_act_bf16
                                          : mst_quantize_act)(t->x, t->qa, t0, t1);
}

/* The float-activation kernel for w: F16/BF16 repacked at load (weights_repack.c) have their own. */
static mst_matmul_fn float_kernel(const mst_weight *w)
{
    const mst_cpu_kernels *k = mst_cpu_best();
    switch (w->layout) {
    case MST_LAYOUT_F16X16: return k->matmul_f16x16;
    case MST_LAYOUT_BF16X16: return k->matmul_bf16x16;
    default: return mst_kernels_matmul(k, w->type);
    }
}

/* The quantized-activation kernel for w (repacked layouts have their own), or NULL: float activations. */
static mst_matmul_qa_fn qa_kernel(const mst_weight *w)
{
    const mst_cpu_kernels *k = mst_cpu_best();
    switch (w->layout) {
    case MST_LAYOUT_Q4_0X16: return k->matmul_qa_q4_0x16;
    case MST_LAYOUT_Q8_0X16: return k->matmul_qa_q8_0x16;
    case MST_LAYOUT_Q4_KX16: return k->matmul_qa_q4_kx16;
    case MST_LAYOUT_Q6_KX16: return k->matmul_qa_q6_kx16;
    case MST_LAYOUT_BF16X16P: return k->matmul_qa_bf16x16p;
    default: return mst_kernels_matmul_qa(k, w->type);
    }
}

/* The job y[t][rows] = W x[t][cols] for every token, with its input made ready (quantized, or the cached copy:
 * see wrote() above). BF16 is rounded even with no pair kernel: the float kernel then reads the rounded copy. */
static matmul_job prepare(mst_context *ctx, const mst_weight *w, const float *x, uint32_t n_tokens, float *y)
{
    mst_cpu_context *s = state(ctx);
    matmul_job b = {w, float_kernel(w), NULL, x, y};
    const mst_matmul_qa_fn qa_fn = qa_kernel(w);
    const int32_t format = mst_qact_format_of(w->type);
    if ((qa_fn || format == MST_QACT_BF16) && format >= 0 && (uint64_t)w->cols * n_tokens <= s->qa_capacity) {
        if (s->qa_src != x || s->qa.n_tokens != n_tokens || s->qa.cols != w->cols || s->qa.format != format) {
            (format == MST_QACT_Q8_K   ? mst_qact_bind_k
             : format == MST_QACT_BF16 ? mst_qact_bind_bf16
                                       : mst_qact_bind)(&s->qa, s->qa_buf, w->cols, n_tokens);
            quantize_task qt = {x, &s->qa};
            if (n_tokens > 1)
                run(ctx, quantize_worker, &qt);
            else
                quantize_worker(&qt, 0, 1);
            /* Cached even when cancelled: the pass is then lost, and begin() drops the copy before the next. */
            s->qa_src = x;
        }
        b.qa_fn = qa_fn;
        if (!qa_fn)
            b.x = s->qa.xr;
    } else {
        /* Float activations: F32/F16 matrices (repacked or not). A matrix that needs quantized or rounded
         * inputs never lands here in a forward pass: its inputs (n_embd, q_dim or n_ff wide, at most
         * n_batch tokens) always fit the scratch sized in context_init. */
        s->qa_src = NULL;
    }
    return b;
}

static void run_jobs(mst_context *ctx, matmul_task *t)
{
    mst_cpu_context *s = state(ctx);
    t->pool = s->pool;
    run(ctx, matmul_worker, t);
    for (uint32_t j = 0; j < t->n_jobs; j++)
        wrote(s, t->job[j].y, (uint64_t)t->job[j].w->rows * t->n_tokens); /* an output over the cached input */
    t->n_jobs = 0;
}

/* y[i] = W[i] x for n_w (<= MAX_FUSED) matrices with the same input: one pool run for those whose inputs
 * take the same form (a model may mix, say, Q8_0 and Q4_K on one input: the set for one would be
 * overwritten preparing the other, so such a matrix starts a new run). */
static void cpu_matmul(mst_context *ctx, const mst_weight *const *w, float *const *y, uint32_t n_w, const float *x,
                       uint32_t n_tokens)
{
    matmul_task t = {.n_jobs = 0, .qa = &state(ctx)->qa, .n_tokens = n_tokens};
    int32_t format = 0;
    for (uint32_t i = 0; i < n_w; i++) {
        const int32_t f = mst_qact_format_of(w[i]->type);
        if (t.n_jobs > 0 && (f != format || t.n_jobs == MAX_FUSED))
            run_jobs(ctx, &t);
        format = f;
        t.job[t.n_jobs++] = prepare(ctx, w[i], x, n_tokens, y[i]);
    }
    run_jobs(ctx, &t);
}

/* ---- attention ----
 * Each thread runs its cost-balanced share of the plan's units (attention.h); when the plan splits keys
 * (decode over a long context) a second pass merges the chunk partials. */
typedef struct attention_task {
    mst_attn_args args;
    mst_attn_plan plan;
    const mst_attn_kernels *kern;
    float *scratch; /* mst_attention_scratch_floats(pool size, head_dim) */
} attention_task;

static void attention_worker(void *arg, uint32_t ith, uint32_t nth)
{
    const attention_task *t = arg;
    mst_attention_run(&t->args, &t->plan, t->kern, t->scratch, ith, nth);
}

static void attention_merge_worker(void *arg, uint32_t ith, uint32_t nth)
{
    const attention_task *t = arg;
    mst_attention_merge(&t->args, &t->plan, t->scratch, ith, nth);
}

static void cpu_attention(mst_context *ctx, uint32_t layer, const float *q, uint32_t n, float *out)
{
    mst_cpu_context *s = state(ctx);
    const mst_model *m = ctx->model;
    const mst_model_config *cfg = &m->cfg;
    const size_t layer_bytes = (size_t)ctx->kv_slots * m->kv_dim * s->kv_elem_bytes;
    const uint32_t nth = mst_pool_size(s->pool);
    attention_task t = {
        .args = {
            .q = q, .k = (const char *)s->k_cache + layer * layer_bytes,
            .v = (const char *)s->v_cache + layer * layer_bytes, .out = out,
            .n_tokens = n, .q_pos0 = ctx->n_past, .n_kv = ctx->n_past + n,
            .n_head = cfg->n_head, .n_head_kv = cfg->n_head_kv, .head_dim = cfg->head_dim,
            .window = m->windows[layer], .kv_slots = ctx->rolling ? ctx->kv_slots : 0, .kv_type = s->kv_type,
        },
        .kern = mst_kernels_attn(mst_cpu_best()),
        .scratch = s->scores,
    };
    mst_attention_plan(&t.args, nth, mst_attention_scratch_floats(nth, cfg->head_dim), &t.plan);
    t.plan.stop = s->pool; /* a long prefill's attention stops between units once cancelled */
    run(ctx, attention_worker, &t);
    if (t.plan.chunks > 1)
        run(ctx, attention_merge_worker, &t);
    wrote(s, out, (uint64_t)n * m->q_dim);
}

/* ---- elementwise steps ----
 * Over the pool too: while one thread ran them the others waited, so their share of a prefill (swiglu's expf
 * above all) counted twice in wall time. Threads take contiguous slices
 * and every element is computed the same way whatever the split, so results do not depend on the thread
 * count. */
typedef struct swiglu_task {
    float *gate; /* in: gate, out: silu(gate) * up */
    const float *up;
    uint64_t n;
} swiglu_task;

static void swiglu_worker(void *arg, uint32_t ith, uint32_t nth)
{
    const swiglu_task *t = arg;
    const uint64_t per = (t->n + nth - 1) / nth, a = ith * per, b = a + per < t->n ? a + per : t->n;
    if (a < b)
        mst_swiglu_best(t->gate + a, t->up + a, b - a, t->gate + a);
}

static void cpu_swiglu(mst_context *ctx, float *gate, const float *up, uint64_t n)
{
    swiglu_task t = {gate, up, n};
    run(ctx, swiglu_worker, &t);
    wrote(state(ctx), gate, n);
}

typedef struct rmsnorm_task {
    const float *x;
    const float *weight;
    uint32_t n;
    uint32_t rows;
    float eps;
    float *y;
} rmsnorm_task;

static void rmsnorm_worker(void *arg, uint32_t ith, uint32_t nth)
{
    const rmsnorm_task *t = arg;
    const uint32_t per = (t->rows + nth - 1) / nth, a = ith * per, b = a + per < t->rows ? a + per : t->rows;
    if (a < b)
        mst_rmsnorm_best(t->x + (size_t)a * t->n, t->weight, t->n, b - a, t->eps, t->y + (size_t)a * t->n);
}

/* One row (decode) is not worth a pool run. */
static void cpu_rmsnorm(mst_context *ctx, const float *x, const float *weight, uint32_t rows, float *y)
{
    const mst_model_config *cfg = &ctx->model->cfg;
    rmsnorm_task t = {x, weight, cfg->n_embd, rows, cfg->rms_norm_eps, y};
    if (rows > 1)
        run(ctx, rmsnorm_worker, &t);
    else
        rmsnorm_worker(&t, 0, 1);
    wrote(state(ctx), y, (uint64_t)rows * cfg->n_embd);
}

static void cpu_add(mst_context *ctx, float *x, const float *y, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        x[i] += y[i];
    wrote(state(ctx), x, n);
}

static void cpu_zero(mst_context *ctx, float *x, uint64_t n)
{
    memset(x, 0, n * sizeof(float));
    wrote(state(ctx), x, n);
}

/* ---- the pass ---- */
static void cpu_begin(mst_context *ctx, const int32_t *tokens, uint32_t n)
{
    mst_cpu_context *s = state(ctx);
    s->qa_src = NULL; /* the activations cached by the last matmul belong to the previous pass */
    s->tokens = tokens;
    for (uint32_t t = 0; t < n; t++)
        s->pos[t] = (int32_t)(ctx->n_past + t);
}

static void cpu_embed(mst_context *ctx, uint32_t n, float *x)
{
    mst_cpu_context *s = state(ctx);
    const mst_weight *emb = &ctx->model->tok_embd;
    const uint32_t n_embd = ctx->model->cfg.n_embd;
    for (uint32_t t = 0; t < n; t++)
        mst_dequantize_ref(emb->type, emb->data + (size_t)s->tokens[t] * emb->row_bytes, n_embd,
                           x + (size_t)t * n_embd);
    wrote(s, x, (uint64_t)n * n_embd);
}

static void cpu_rope(mst_context *ctx, float *x, uint32_t n_tokens, uint32_t n_heads, uint32_t t0)
{
    const mst_model_config *cfg = &ctx->model->cfg;
    mst_rope_best(x, n_tokens, n_heads, cfg->head_dim, state(ctx)->pos + t0, cfg->rope_freq_base);
    wrote(state(ctx), x, (uint64_t)n_tokens * n_heads * cfg->head_dim);
}

/* The new rows go to p % kv_slots: up to the end of the cache, then (rolling only) on from row 0. An F16 cache
 * gets them rounded to nearest-even halves by this ISA's converter (F16C / AVX-512 where present, the same
 * bits as the scalar one); the attention kernels read those halves as they are. */
static void cpu_kv_store(mst_context *ctx, uint32_t layer, const float *k, const float *v, uint32_t n)
{
    mst_cpu_context *s = state(ctx);
    const uint32_t kv_dim = ctx->model->kv_dim, slots = ctx->kv_slots, eb = s->kv_elem_bytes;
    const size_t layer_bytes = (size_t)slots * kv_dim * eb;
    char *kc = (char *)s->k_cache + layer * layer_bytes, *vc = (char *)s->v_cache + layer * layer_bytes;
    void (*to_f16)(uint16_t *, const float *, size_t) =
        s->kv_type == MST_TYPE_F16 ? mst_kernels_attn(mst_cpu_best())->to_f16 : NULL;
    uint32_t slot = ctx->n_past % slots;
    for (uint32_t done = 0; done < n;) {
        const uint32_t cnt = n - done < slots - slot ? n - done : slots - slot;
        const size_t at = (size_t)slot * kv_dim * eb, from = (size_t)done * kv_dim, count = (size_t)cnt * kv_dim;
        if (to_f16) {
            to_f16((uint16_t *)(kc + at), k + from, count);
            to_f16((uint16_t *)(vc + at), v + from, count);
        } else {
            memcpy(kc + at, k + from, count * sizeof(float));
            memcpy(vc + at, v + from, count * sizeof(float));
        }
        done += cnt;
        slot = 0;
    }
}

static void cpu_moe_gate(mst_context *ctx, const float *router_logits, uint32_t n, int32_t *chosen, float *weights)
{
    const mst_model_config *cfg = &ctx->model->cfg;
    mst_moe_gate_best(router_logits, n, cfg->n_expert, cfg->n_expert_used, chosen, weights);
}

static void cpu_gather(mst_context *ctx, float *dst, const float *src, const int32_t *rows, uint32_t g, uint32_t width)
{
    for (uint32_t j = 0; j < g; j++)
        memcpy(dst + (size_t)j * width, src + (size_t)rows[j] * width, width * sizeof(float));
    wrote(state(ctx), dst, (uint64_t)g * width);
}

static void cpu_scatter_add(mst_context *ctx, float *dst, const float *src, const int32_t *rows, const float *weights,
                            uint32_t g, uint32_t width)
{
    for (uint32_t j = 0; j < g; j++) {
        float *y = dst + (size_t)rows[j] * width;
        const float *o = src + (size_t)j * width, w = weights[j];
        for (uint32_t i = 0; i < width; i++)
            y[i] += w * o[i];
        wrote(state(ctx), y, width);
    }
}

static float *cpu_logits_buffer(mst_context *ctx, float *host, uint32_t rows)
{
    (void)ctx, (void)rows;
    return host; /* the output matmul writes the caller's array directly */
}

static mst_status cpu_end(mst_context *ctx, float *host, const float *buf, uint32_t rows)
{
    (void)host, (void)buf, (void)rows;
    state(ctx)->tokens = NULL; /* the caller's array: not ours past this call */
    return ctx->pass_status;
}

/* The logits are already in host memory (logits_buffer is the host's): the greedy id and the check are one scan each
 * of the row, by the rule every greedy pick follows (mst_argmax_logits). */
static mst_status cpu_end_greedy(mst_context *ctx, const float *buf, mst_greedy_answer *out)
{
    const mst_status st = cpu_end(ctx, NULL, buf, 1);
    const uint32_t n_vocab = ctx->model->cfg.n_vocab;
    out->id = 0, out->bad = -1, out->bad_value = 0.0f;
    if (st == MST_OK) {
        out->bad = mst_find_nonfinite(buf, n_vocab);
        out->bad_value = out->bad >= 0 ? buf[out->bad] : 0.0f;
        out->id = mst_argmax_logits(buf, n_vocab);
    }
    return st;
}

static int64_t cpu_find_nonfinite(mst_context *ctx, const float *x, uint64_t n)
{
    (void)ctx;
    return mst_find_nonfinite(x, n);
}

/* ---- lifecycle ---- */
static mst_status cpu_model_init(mst_model *m, const mst_model_params *params)
{
    /* never fails: without memory the file's layout is kept */
    mst_model_repack(m, params ? params->progress : NULL, params ? params->progress_user_data : NULL);
    if (params && params->progress)
        params->progress(1.0f, params->progress_user_data);
    return MST_OK;
}

static void cpu_model_free(mst_model *m)
{
    mst_os_free_large(m->repacked, m->repacked_bytes); /* weights_repack.c's arena */
    m->repacked_bytes = 0;
    m->repacked = NULL;
}

/* Frees whatever context_init allocated (any of it may be NULL) and clears the pointers. */
static void free_context(mst_context *c)
{
    mst_cpu_context *s = c->backend_state;
    if (s) {
        if (s->pool)
            mst_pool_free(s->pool);
        free(s->k_cache);
        free(s->v_cache);
        free(s->pos);
        free(s->scores);
        free(s->qa_buf);
        free(s);
    }
    float **scratch[] = {&c->x, &c->xb, &c->xb2, &c->q, &c->k, &c->v, &c->att, &c->hb, &c->hb2, &c->router, &c->xg};
    for (size_t i = 0; i < sizeof scratch / sizeof *scratch; i++) {
        free(*scratch[i]);
        *scratch[i] = NULL;
    }
    c->backend_state = NULL;
}

static mst_status cpu_context_init(mst_context *c, uint32_t n_threads)
{
    const mst_model *model = c->model;
    const mst_model_config *cfg = &model->cfg;
    mst_status kv_ok = mst_cpu_check_kv_type(c->kv_type);
    if (kv_ok != MST_OK)
        return kv_ok;
    mst_cpu_context *s = calloc(1, sizeof *s);
    c->backend_state = s;
    uint64_t size[MST_CPU_BUF_COUNT]; /* backend_cpu_memory.c: the one place these sizes are written */
    int ok = s && mst_cpu_context_sizes(c, n_threads, size);
    const uint64_t nb = c->n_batch;
    const uint32_t kv_eb = (uint32_t)mst_attn_elem_bytes(c->kv_type);
    if (ok) {
        s->kv_type = c->kv_type;
        s->kv_elem_bytes = kv_eb;
        s->kv_bytes = size[MST_CPU_BUF_K_CACHE] + size[MST_CPU_BUF_V_CACHE];
        s->k_cache = mst_alloc_array(size[MST_CPU_BUF_K_CACHE], 1);
        s->v_cache = mst_alloc_array(size[MST_CPU_BUF_V_CACHE], 1);
        s->pos = mst_alloc_array(size[MST_CPU_BUF_POS], 1);
        s->scores = mst_alloc_array(size[MST_CPU_BUF_SCORES], 1);
        s->qa_capacity = (uint64_t)mst_cpu_widest_input(model) * nb;
        s->qa_buf = malloc((size_t)size[MST_CPU_BUF_QA]);
        c->x = mst_alloc_array(size[MST_CPU_BUF_X], 1);
        c->xb = mst_alloc_array(size[MST_CPU_BUF_XB], 1);
        c->xb2 = mst_alloc_array(size[MST_CPU_BUF_XB2], 1);
        c->q = mst_alloc_array(size[MST_CPU_BUF_Q], 1);
        c->k = mst_alloc_array(size[MST_CPU_BUF_K], 1);
        c->v = mst_alloc_array(size[MST_CPU_BUF_V], 1);
        c->att = mst_alloc_array(size[MST_CPU_BUF_ATT], 1);
        c->hb = mst_alloc_array(size[MST_CPU_BUF_HB], 1);
        c->hb2 = mst_alloc_array(size[MST_CPU_BUF_HB2], 1);
        ok = s->k_cache && s->v_cache && s->pos && s->scores && s->qa_buf && c->x && c->xb && c->xb2 && c->q &&
             c->k && c->v && c->att && c->hb && c->hb2;
        if (ok && cfg->n_expert > 0) {
            c->router = mst_alloc_array(size[MST_CPU_BUF_ROUTER], 1);
            c->xg = mst_alloc_array(size[MST_CPU_BUF_XG], 1);
            ok = c->router && c->xg;
        }
    }
    if (!ok) {
        free_context(c);
        return mst_fail(MST_ERR_OUT_OF_MEMORY,
                        "mst_context_create: out of memory (KV cache of %u layers x %u tokens x %u values of %u bytes, "
                        "twice, plus scratch for %u tokens)",
                        cfg->n_layer, c->kv_slots, model->kv_dim, kv_eb, (unsigned)nb);
    }
    mst_status st = mst_pool_create(n_threads, &s->pool);
    if (st != MST_OK) {
        s->pool = NULL;
        free_context(c);
        return st;
    }
    mst_pool_set_abort(s->pool, &c->abort);
    return MST_OK;
}

static void cpu_context_free(mst_context *c)
{
    free_context(c);
}

static mst_status cpu_set_threads(mst_context *c, uint32_t n_threads)
{
    mst_cpu_context *s = state(c);
    /* Build the new pool and score rows first, so a failure leaves the context as it was. */
    float *scores = mst_alloc_array(mst_attention_scratch_floats(n_threads, c->model->cfg.head_dim), sizeof(float));
    mst_pool *pool = NULL;
    mst_status st = scores ? mst_pool_create(n_threads, &pool)
                           : mst_fail(MST_ERR_OUT_OF_MEMORY, "mst_context_set_threads: out of memory");
    if (st != MST_OK) {
        free(scores);
        return st;
    }
    mst_pool_set_abort(pool, &c->abort);
    mst_pool_free(s->pool);
    free(s->scores);
    s->pool = pool;
    s->scores = scores;
    return MST_OK;
}

/* ---- mst_backend_query ---- */

mst_status mst_cpu_query(mst_backend_info *out)
{
    out->available = 1;
    out->device_count = 1;
    if (!mst_os_cpu_name(out->device_name, sizeof out->device_name))
        snprintf(out->device_name, sizeof out->device_name, "CPU");
    /* left as they are where the OS does not say (platform.h answers 0) */
    const uint64_t total = mst_os_total_memory(), avail = mst_os_available_memory();
    if (total)
        out->total_memory = total;
    if (avail)
        out->free_memory = avail;
    out->reason[0] = '\0';
    return MST_OK;
}

const mst_backend mst_backend_cpu = {
    .name = "cpu",
    .model_init = cpu_model_init,
    .model_free = cpu_model_free,
    .context_init = cpu_context_init,
    .context_free = cpu_context_free,
    .set_threads = cpu_set_threads,
    .estimate = mst_cpu_estimate,
    .begin = cpu_begin,
    .embed = cpu_embed,
    .rmsnorm = cpu_rmsnorm,
    .matmul = cpu_matmul,
    .rope = cpu_rope,
    .kv_store = cpu_kv_store,
    .attention = cpu_attention,
    .swiglu = cpu_swiglu,
    .add = cpu_add,
    .moe_gate = cpu_moe_gate,
    .gather = cpu_gather,
    .scatter_add = cpu_scatter_add,
    .zero = cpu_zero,
    .logits_buffer = cpu_logits_buffer,
    .end = cpu_end,
    .end_greedy = cpu_end_greedy,
    .find_nonfinite = cpu_find_nonfinite,
};
