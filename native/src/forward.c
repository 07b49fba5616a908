/* forward.c — the Mistral transformer step, top to bottom.
 *
 * For n tokens at positions p..p+n-1 (activations are float32 rows, one per token):
 *   x = embedding rows of the tokens
 *   per layer:  h = rmsnorm(x) * attn_norm
 *               q, k, v = Wq h, Wk h, Wv h;  rope(q), rope(k);  k, v -> KV cache
 *               x += Wo attention(q, cached k, cached v)
 *               h = rmsnorm(x) * ffn_norm
 *               x += Wdown (silu(Wgate h) * Wup h)            (dense)
 *               x += sum over the token's chosen experts e of
 *                    weight_e * Wdown_e (silu(Wgate_e h) * Wup_e h)   (MoE: chosen by Wrouter h)
 *   logits = Woutput (rmsnorm(x) * output_norm)     (last token only, unless all_logits)
 * Matmuls, attention, rmsnorm and swiglu are split across the context's thread pool; the residual
 * adds, RoPE and the MoE gathers run on the calling thread. The KV cache of a layer has kv_slots rows; position p is row
 * p % kv_slots (the identity unless the context rolls, see context.c). */
#include <string.h>

#include "cpu/attention.h"
#include "cpu/moe_gate.h"
#include "cpu/ops.h"
#include "cpu/quant.h"
#include "cpu/quant_act_bf16.h"
#include "cpu/quant_act_k.h"
#include "cpu/repack.h"
#include "internal.h"

enum { MAX_FUSED = 3 };

/* One matrix of a pool run. */
typedef struct matmul_job {
    const mst_weight *w;
    mst_matmul_fn fn;       /* float activations (x), or */
    mst_matmul_qa_fn qa_fn; /* quantized activations (ctx->qa) when set */
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
} matmul_task;

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
        if (r0 >= r1)
            continue;
        if (b->qa_fn)
            b->qa_fn(b->w->data, b->w->row_bytes, rows, t->qa, b->y, (uint32_t)r0, (uint32_t)r1);
        else
            b->fn(b->w->data, b->w->row_bytes, rows, b->w->cols, b->x, t->n_tokens, b->y, (uint32_t)r0, (uint32_t)r1);
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

/* The job y[t][rows] = W x[t][cols] for every token, with its input made ready.
 * Q8_0/Q4_0 weights run on activations quantized to Q8_0 blocks (quant_act.h), K-quants (Q2_K..Q6_K) on
 * Q8_K blocks (quant_act_k.h), BF16 on activations rounded to bf16 (quant_act_bf16.h: the column-pair
 * kernel on AVX-512, else the float kernel on the rounded values), as llama.cpp does;
 * F32/F16 on float activations.
 * x is quantized once and reused by the matmuls that follow with the same input (Wq/Wk/Wv,
 * Wgate/Wup): the cached copy is valid only while consecutive calls pass the same x, n_tokens and
 * cols and need the same block format (a Q8_0 set is no use to a Q4_K matrix), no matmul writes into x,
 * and mst_forward starts with ctx->qa_src = NULL. Nothing else may write x between two such calls (the
 * forward pass never does: rmsnorm and gathers come before). */
static matmul_job prepare(mst_context *ctx, const mst_weight *w, const float *x, uint32_t n_tokens, float *y)
{
    matmul_job b = {w, float_kernel(w), NULL, x, y};
    const mst_matmul_qa_fn qa_fn = qa_kernel(w);
    const int32_t format = mst_qact_format_of(w->type);
    /* BF16 is rounded even with no pair kernel: the float kernel then reads the rounded copy (qa.xr) */
    if ((qa_fn || format == MST_QACT_BF16) && format >= 0 && (uint64_t)w->cols * n_tokens <= ctx->qa_capacity) {
        if (ctx->qa_src != x || ctx->qa.n_tokens != n_tokens || ctx->qa.cols != w->cols || ctx->qa.format != format) {
            (format == MST_QACT_Q8_K   ? mst_qact_bind_k
             : format == MST_QACT_BF16 ? mst_qact_bind_bf16
                                       : mst_qact_bind)(&ctx->qa, ctx->qa_buf, w->cols, n_tokens);
            quantize_task qt = {x, &ctx->qa};
            if (n_tokens > 1)
                mst_pool_run(ctx->pool, quantize_worker, &qt);
            else
                quantize_worker(&qt, 0, 1);
            ctx->qa_src = x;
        }
        b.qa_fn = qa_fn;
        if (!qa_fn)
            b.x = ctx->qa.xr;
    } else {
        /* Float activations: F32/F16 matrices (repacked or not). A matrix that needs quantized or rounded
         * inputs never lands here in a forward pass: its inputs (n_embd, q_dim or n_ff wide, at most
         * n_batch tokens) always fit the scratch sized in context.c. */
        ctx->qa_src = NULL;
    }
    return b;
}

static void run_jobs(mst_context *ctx, matmul_task *t)
{
    mst_pool_run(ctx->pool, matmul_worker, t);
    for (uint32_t j = 0; j < t->n_jobs; j++)
        if (ctx->qa_src == (const float *)t->job[j].y)
            ctx->qa_src = NULL; /* an output overwrote the cached input */
    t->n_jobs = 0;
}

/* y[i] = W[i] x for n_w (<= MAX_FUSED) matrices with the same input: one pool run for those whose inputs
 * take the same form (a model may mix, say, Q8_0 and Q4_K on one input: the set for one would be
 * overwritten preparing the other, so such a matrix starts a new run). */
static void matmuls(mst_context *ctx, const mst_weight *const *w, float *const *y, uint32_t n_w, const float *x,
                    uint32_t n_tokens)
{
    matmul_task t = {.n_jobs = 0, .qa = &ctx->qa, .n_tokens = n_tokens};
    int32_t format = 0;
    for (uint32_t i = 0; i < n_w; i++) {
        const int32_t f = mst_qact_format_of(w[i]->type);
        if (t.n_jobs > 0 && f != format)
            run_jobs(ctx, &t);
        format = f;
        t.job[t.n_jobs++] = prepare(ctx, w[i], x, n_tokens, y[i]);
    }
    run_jobs(ctx, &t);
}

static void matmul(mst_context *ctx, const mst_weight *w, const float *x, uint32_t n_tokens, float *y)
{
    matmuls(ctx, &w, &y, 1, x, n_tokens);
}

/* Attention over the thread pool: each thread runs its cost-balanced share of the plan's units
 * (cpu/attention.h); when the plan splits keys (decode over a long context) a second pass merges
 * the chunk partials. */
typedef struct attention_task {
    mst_attn_args args;
    mst_attn_plan plan;
    const mst_attn_kernels *kern;
    float *scratch; /* ctx->scores: mst_attention_scratch_floats(pool size, head_dim) */
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

static void attention(mst_context *ctx, const mst_attn_args *args)
{
    const uint32_t nth = mst_pool_size(ctx->pool);
    attention_task t = {.args = *args, .kern = mst_kernels_attn(mst_cpu_best()), .scratch = ctx->scores};
    mst_attention_plan(args, nth, mst_attention_scratch_floats(nth, args->head_dim), &t.plan);
    mst_pool_run(ctx->pool, attention_worker, &t);
    if (t.plan.chunks > 1)
        mst_pool_run(ctx->pool, attention_merge_worker, &t);
}

/* The elementwise steps over the pool too: while one thread ran them the others waited (a 512-token
 * prefill spent ~3% of its samples in swiglu's expf alone, doubled in wall time by the idle thread).
 * Threads take contiguous slices and every element is computed the same way whatever the split, so
 * results do not depend on the thread count. */
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

static void swiglu(mst_context *ctx, float *gate, const float *up, uint64_t n)
{
    swiglu_task t = {gate, up, n};
    mst_pool_run(ctx->pool, swiglu_worker, &t);
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

/* y = rmsnorm(x) * weight for rows rows of n_embd; one row (decode) is not worth a pool run. */
static void rmsnorm(mst_context *ctx, const float *x, const float *weight, uint32_t rows, float *y)
{
    const mst_model_config *cfg = &ctx->model->cfg;
    rmsnorm_task t = {x, weight, cfg->n_embd, rows, cfg->rms_norm_eps, y};
    if (rows > 1)
        mst_pool_run(ctx->pool, rmsnorm_worker, &t);
    else
        rmsnorm_worker(&t, 0, 1);
}

static void add_inplace(float *x, const float *y, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] += y[i];
}

/* Mixture-of-experts feed-forward of n tokens: ctx->xb (normed) in, ctx->xb2 out. Only the experts
 * some token chose are run, each once over the tokens routed to it (gathered into ctx->xg), through
 * the same matmul path as the dense block on that expert's slice of the stacked tensors. */
static void moe_ffn(mst_context *ctx, const mst_layer *L, uint32_t n)
{
    const mst_model_config *cfg = &ctx->model->cfg;
    const uint32_t n_embd = cfg->n_embd, n_ff = cfg->n_ff, k = cfg->n_expert_used;
    matmul(ctx, &L->router, ctx->xb, n, ctx->router); /* Wrouter [n_embd -> n_expert] */
    mst_moe_gate_best(ctx->router, n, cfg->n_expert, k, ctx->chosen, ctx->chosen_w);
    memset(ctx->xb2, 0, (size_t)n * n_embd * sizeof(float));
    for (uint32_t e = 0; e < cfg->n_expert; e++) {
        uint32_t g = 0; /* tokens routed to expert e */
        for (uint32_t t = 0; t < n; t++)
            for (uint32_t i = 0; i < k; i++)
                if (ctx->chosen[(size_t)t * k + i] == (int32_t)e) {
                    ctx->group[g] = (int32_t)t;
                    ctx->group_w[g++] = ctx->chosen_w[(size_t)t * k + i];
                }
        if (g == 0)
            continue; /* never touched: an unchosen expert's weights are not even read */
        for (uint32_t j = 0; j < g; j++)
            memcpy(ctx->xg + (size_t)j * n_embd, ctx->xb + (size_t)ctx->group[j] * n_embd, n_embd * sizeof(float));
        const mst_weight gate = mst_expert_slice(&L->w_gate, e), up = mst_expert_slice(&L->w_up, e),
                         down = mst_expert_slice(&L->w_down, e);
        const mst_weight *gate_up[2] = {&gate, &up};
        float *const hidden[2] = {ctx->hb, ctx->hb2};
        matmuls(ctx, gate_up, hidden, 2, ctx->xg, g); /* Wgate_e, Wup_e [n_embd -> n_ff] */
        swiglu(ctx, ctx->hb, ctx->hb2, (uint64_t)g * n_ff);
        matmul(ctx, &down, ctx->hb, g, ctx->xg); /* Wdown_e [n_ff -> n_embd], over the gathered inputs */
        for (uint32_t j = 0; j < g; j++) {
            float *y = ctx->xb2 + (size_t)ctx->group[j] * n_embd;
            const float *o = ctx->xg + (size_t)j * n_embd, w = ctx->group_w[j];
            for (uint32_t i = 0; i < n_embd; i++)
                y[i] += w * o[i];
        }
    }
}

/* K and V of tokens [t0, t0 + cnt) into cache rows slot0.. (no wrap inside), with RoPE on K. With q (the
 * tokens are the whole batch) Wq runs in the same pool run. */
static void kv_store(mst_context *ctx, const mst_layer *L, uint32_t t0, uint32_t cnt, uint32_t slot0, float *k_cache,
                     float *v_cache, float *q)
{
    const mst_model *m = ctx->model;
    const mst_model_config *cfg = &m->cfg;
    const float *h = ctx->xb + (size_t)t0 * cfg->n_embd;
    float *k = k_cache + (size_t)slot0 * m->kv_dim, *v = v_cache + (size_t)slot0 * m->kv_dim;
    const mst_weight *w[3] = {&L->wk, &L->wv, &L->wq};
    float *const y[3] = {k, v, q};
    /* Wk, Wv [n_embd -> n_head_kv*head_dim] straight into the cache; Wq [n_embd -> n_head*head_dim] */
    matmuls(ctx, w, y, q ? 3 : 2, h, cnt);
    mst_rope_best(k, cnt, cfg->n_head_kv, cfg->head_dim, ctx->pos + t0, cfg->rope_freq_base);
}

void mst_forward(mst_context *ctx, const int32_t *tokens, uint32_t n, int all_logits, float *logits)
{
    const mst_model *m = ctx->model;
    const mst_model_config *cfg = &m->cfg;
    const uint32_t n_embd = cfg->n_embd, kv_dim = m->kv_dim, n_ff = cfg->n_ff, slots = ctx->kv_slots;
    const uint32_t p0 = ctx->n_past, n_kv = p0 + n;
    /* The new tokens' rows: slot0.. up to the end of the cache, then (rolling only) from row 0. */
    const uint32_t slot0 = p0 % slots, n_first = n < slots - slot0 ? n : slots - slot0;
    const size_t n_x = (size_t)n * n_embd;
    ctx->qa_src = NULL; /* the activations cached by matmul() belong to the previous call */

    for (uint32_t t = 0; t < n; t++)
        ctx->pos[t] = (int32_t)(p0 + t);

    /* x = token_embd rows [n_embd] per token */
    const mst_weight *emb = &m->tok_embd;
    for (uint32_t t = 0; t < n; t++)
        mst_dequantize_ref(emb->type, emb->data + (size_t)tokens[t] * emb->row_bytes, n_embd, ctx->x + (size_t)t * n_embd);

    for (uint32_t l = 0; l < cfg->n_layer; l++) {
        const mst_layer *L = &m->layers[l];
        /* this layer's cache, [kv_slots][kv_dim]; the new tokens land at rows p0 % kv_slots.. */
        float *k_cache = ctx->k_cache + (size_t)l * slots * kv_dim;
        float *v_cache = ctx->v_cache + (size_t)l * slots * kv_dim;

        /* attention block */
        rmsnorm(ctx, ctx->x, L->attn_norm, n, ctx->xb); /* attn_norm [n_embd] */
        if (n_first == n) { /* the usual case: Wq, Wk, Wv in one pool run */
            kv_store(ctx, L, 0, n, slot0, k_cache, v_cache, ctx->q);
        } else { /* the new rows wrap around a rolling cache */
            matmul(ctx, &L->wq, ctx->xb, n, ctx->q); /* Wq [n_embd -> n_head*head_dim] */
            kv_store(ctx, L, 0, n_first, slot0, k_cache, v_cache, NULL);
            kv_store(ctx, L, n_first, n - n_first, 0, k_cache, v_cache, NULL);
        }
        mst_rope_best(ctx->q, n, cfg->n_head, cfg->head_dim, ctx->pos, cfg->rope_freq_base);

        const mst_attn_args at = {
            .q = ctx->q, .k = k_cache, .v = v_cache, .out = ctx->att,
            .n_tokens = n, .q_pos0 = p0, .n_kv = n_kv,
            .n_head = cfg->n_head, .n_head_kv = cfg->n_head_kv, .head_dim = cfg->head_dim,
            .window = m->windows[l], .kv_slots = ctx->rolling ? slots : 0,
        };
        attention(ctx, &at);
        matmul(ctx, &L->wo, ctx->att, n, ctx->xb2); /* Wo [n_head*head_dim -> n_embd] */
        add_inplace(ctx->x, ctx->xb2, n_x);

        /* feed-forward block */
        rmsnorm(ctx, ctx->x, L->ffn_norm, n, ctx->xb); /* ffn_norm [n_embd] */
        if (cfg->n_expert > 0) {
            moe_ffn(ctx, L, n);
        } else {
            const mst_weight *gate_up[2] = {&L->w_gate, &L->w_up};
            float *const hidden[2] = {ctx->hb, ctx->hb2};
            matmuls(ctx, gate_up, hidden, 2, ctx->xb, n); /* Wgate, Wup [n_embd -> n_ff] */
            swiglu(ctx, ctx->hb, ctx->hb2, (uint64_t)n * n_ff);
            matmul(ctx, &L->w_down, ctx->hb, n, ctx->xb2); /* Wdown [n_ff -> n_embd] */
        }
        add_inplace(ctx->x, ctx->xb2, n_x);
    }

    /* output_norm [n_embd], then Woutput [n_embd -> n_vocab] */
    if (all_logits) {
        rmsnorm(ctx, ctx->x, m->output_norm, n, ctx->xb);
        matmul(ctx, &m->output, ctx->xb, n, logits);
    } else {
        const float *last = ctx->x + (size_t)(n - 1) * n_embd;
        rmsnorm(ctx, last, m->output_norm, 1, ctx->xb);
        matmul(ctx, &m->output, ctx->xb, 1, logits);
    }
}
