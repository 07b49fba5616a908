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
 * Matmuls and attention are split across the context's thread pool; the small elementwise steps
 * run on the calling thread. The KV cache of a layer has kv_slots rows; position p is row
 * p % kv_slots (the identity unless the context rolls, see context.c). */
#include <string.h>

#include "cpu/moe_gate.h"
#include "cpu/ops.h"
#include "cpu/quant.h"
#include "cpu/repack.h"
#include "internal.h"

typedef struct matmul_task {
    const mst_weight *w;
    mst_matmul_fn fn;        /* float activations, or */
    mst_matmul_qa_fn qa_fn;  /* Q8_0-quantized activations (ctx->qa) when set */
    const mst_qact *qa;
    const float *x;
    uint32_t n_tokens;
    float *y;
} matmul_task;

static void matmul_worker(void *arg, uint32_t ith, uint32_t nth)
{
    const matmul_task *t = arg;
    const uint32_t rows = t->w->rows;
    /* contiguous row ranges: each thread streams its own slice of the matrix */
    uint32_t per = (uint32_t)(((uint64_t)rows + nth - 1) / nth);
    if (t->w->layout != MST_LAYOUT_GGUF) /* repacked: whole groups of 16 rows per thread */
        per = (per + MST_Q4X16_ROWS - 1) / MST_Q4X16_ROWS * MST_Q4X16_ROWS;
    uint64_t r0 = (uint64_t)ith * per, r1 = r0 + per;
    if (r1 > rows)
        r1 = rows;
    if (r0 >= r1)
        return;
    if (t->qa_fn)
        t->qa_fn(t->w->data, t->w->row_bytes, rows, t->qa, t->y, (uint32_t)r0, (uint32_t)r1);
    else
        t->fn(t->w->data, t->w->row_bytes, rows, t->w->cols, t->x, t->n_tokens, t->y, (uint32_t)r0, (uint32_t)r1);
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
        mst_quantize_act(t->x, t->qa, t0, t1);
}

/* y[t][rows] = W x[t][cols] for every token.
 * Q8_0/Q4_0 weights run on activations quantized to Q8_0 blocks (quant_act.h), as llama.cpp does.
 * x is quantized once and reused by the matmuls that follow with the same input (Wq/Wk/Wv,
 * Wgate/Wup): the cached copy is valid only while consecutive calls pass the same x, n_tokens and
 * cols, no matmul writes into x, and mst_forward starts with ctx->qa_src = NULL. Nothing else may
 * write x between two such calls (the forward pass never does: rmsnorm and gathers come before). */
static void matmul(mst_context *ctx, const mst_weight *w, const float *x, uint32_t n_tokens, float *y)
{
    matmul_task t = {w, mst_kernels_matmul(mst_cpu_best(), w->type), NULL, &ctx->qa, x, n_tokens, y};
    const mst_cpu_kernels *k = mst_cpu_best();
    mst_matmul_qa_fn qa_fn = w->layout == MST_LAYOUT_Q4_0X16   ? k->matmul_qa_q4_0x16
                             : w->layout == MST_LAYOUT_Q8_0X16 ? k->matmul_qa_q8_0x16
                                                               : mst_kernels_matmul_qa(k, w->type);
    if (qa_fn && (uint64_t)w->cols * n_tokens <= ctx->qa_capacity) {
        if (ctx->qa_src != x || ctx->qa.n_tokens != n_tokens || ctx->qa.cols != w->cols) {
            mst_qact_bind(&ctx->qa, ctx->qa_buf, w->cols, n_tokens);
            quantize_task qt = {x, &ctx->qa};
            if (n_tokens > 1)
                mst_pool_run(ctx->pool, quantize_worker, &qt);
            else
                quantize_worker(&qt, 0, 1);
            ctx->qa_src = x;
        }
        t.qa_fn = qa_fn;
    } else {
        /* Never a repacked matrix: those are dense weights whose inputs (n_embd, q_dim or n_ff wide,
         * at most n_batch tokens) always fit the scratch sized in context.c. */
        ctx->qa_src = NULL;
    }
    mst_pool_run(ctx->pool, matmul_worker, &t);
    if (ctx->qa_src == (const float *)y)
        ctx->qa_src = NULL; /* the output overwrote the cached input */
}

typedef struct attention_task {
    mst_attn_args args;
    float *scores; /* [nth][kv_slots] */
    uint32_t n_ctx; /* row stride of scores: kv_slots */
} attention_task;

static void attention_worker(void *arg, uint32_t ith, uint32_t nth)
{
    const attention_task *t = arg;
    const uint32_t items = t->args.n_tokens * t->args.n_head;
    uint32_t per = (uint32_t)(((uint64_t)items + nth - 1) / nth);
    uint64_t i0 = (uint64_t)ith * per, i1 = i0 + per;
    if (i1 > items)
        i1 = items;
    if (i0 < i1)
        mst_attention_best(&t->args, t->scores + (size_t)ith * t->n_ctx, (uint32_t)i0, (uint32_t)i1);
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
        matmul(ctx, &gate, ctx->xg, g, ctx->hb); /* Wgate_e [n_embd -> n_ff] */
        matmul(ctx, &up, ctx->xg, g, ctx->hb2);  /* Wup_e   [n_embd -> n_ff] */
        mst_swiglu_best(ctx->hb, ctx->hb2, (uint64_t)g * n_ff, ctx->hb);
        matmul(ctx, &down, ctx->hb, g, ctx->xg); /* Wdown_e [n_ff -> n_embd], over the gathered inputs */
        for (uint32_t j = 0; j < g; j++) {
            float *y = ctx->xb2 + (size_t)ctx->group[j] * n_embd;
            const float *o = ctx->xg + (size_t)j * n_embd, w = ctx->group_w[j];
            for (uint32_t i = 0; i < n_embd; i++)
                y[i] += w * o[i];
        }
    }
}

/* K and V of tokens [t0, t0 + cnt) into cache rows slot0.. (no wrap inside), with RoPE on K. */
static void kv_store(mst_context *ctx, const mst_layer *L, uint32_t t0, uint32_t cnt, uint32_t slot0, float *k_cache,
                     float *v_cache)
{
    const mst_model *m = ctx->model;
    const mst_model_config *cfg = &m->cfg;
    const float *h = ctx->xb + (size_t)t0 * cfg->n_embd;
    float *k = k_cache + (size_t)slot0 * m->kv_dim, *v = v_cache + (size_t)slot0 * m->kv_dim;
    matmul(ctx, &L->wk, h, cnt, k); /* Wk [n_embd -> n_head_kv*head_dim], straight into the cache */
    matmul(ctx, &L->wv, h, cnt, v); /* Wv [n_embd -> n_head_kv*head_dim] */
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
        mst_rmsnorm_best(ctx->x, L->attn_norm, n_embd, n, cfg->rms_norm_eps, ctx->xb); /* attn_norm [n_embd] */
        matmul(ctx, &L->wq, ctx->xb, n, ctx->q);  /* Wq [n_embd -> n_head*head_dim] */
        mst_rope_best(ctx->q, n, cfg->n_head, cfg->head_dim, ctx->pos, cfg->rope_freq_base);
        kv_store(ctx, L, 0, n_first, slot0, k_cache, v_cache);
        if (n_first < n)
            kv_store(ctx, L, n_first, n - n_first, 0, k_cache, v_cache);

        attention_task at = {
            .args = {
                .q = ctx->q, .k = k_cache, .v = v_cache, .out = ctx->att,
                .n_tokens = n, .q_pos0 = p0, .n_kv = n_kv,
                .n_head = cfg->n_head, .n_head_kv = cfg->n_head_kv, .head_dim = cfg->head_dim,
                .window = m->windows[l], .kv_slots = ctx->rolling ? slots : 0,
            },
            .scores = ctx->scores,
            .n_ctx = slots,
        };
        mst_pool_run(ctx->pool, attention_worker, &at);
        matmul(ctx, &L->wo, ctx->att, n, ctx->xb2); /* Wo [n_head*head_dim -> n_embd] */
        add_inplace(ctx->x, ctx->xb2, n_x);

        /* feed-forward block */
        mst_rmsnorm_best(ctx->x, L->ffn_norm, n_embd, n, cfg->rms_norm_eps, ctx->xb); /* ffn_norm [n_embd] */
        if (cfg->n_expert > 0) {
            moe_ffn(ctx, L, n);
        } else {
            matmul(ctx, &L->w_gate, ctx->xb, n, ctx->hb); /* Wgate [n_embd -> n_ff] */
            matmul(ctx, &L->w_up, ctx->xb, n, ctx->hb2);  /* Wup   [n_embd -> n_ff] */
            mst_swiglu_best(ctx->hb, ctx->hb2, (uint64_t)n * n_ff, ctx->hb);
            matmul(ctx, &L->w_down, ctx->hb, n, ctx->xb2); /* Wdown [n_ff -> n_embd] */
        }
        add_inplace(ctx->x, ctx->xb2, n_x);
    }

    /* output_norm [n_embd], then Woutput [n_embd -> n_vocab] */
    if (all_logits) {
        mst_rmsnorm_best(ctx->x, m->output_norm, n_embd, n, cfg->rms_norm_eps, ctx->xb);
        matmul(ctx, &m->output, ctx->xb, n, logits);
    } else {
        const float *last = ctx->x + (size_t)(n - 1) * n_embd;
        mst_rmsnorm_best(last, m->output_norm, n_embd, 1, cfg->rms_norm_eps, ctx->xb);
        matmul(ctx, &m->output, ctx->xb, 1, logits);
    }
}
