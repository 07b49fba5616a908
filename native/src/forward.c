/* forward.c — the Mistral transformer step, top to bottom.
 *
 * For n tokens at positions p..p+n-1 (activations are float32 rows, one per token):
 *   x = embedding rows of the tokens
 *   per layer:  h = rmsnorm(x) * attn_norm
 *               q, k, v = Wq h, Wk h, Wv h;  rope(q), rope(k);  k, v -> KV cache
 *               x += Wo attention(q, cached k, cached v)
 *               h = rmsnorm(x) * ffn_norm
 *               x += Wdown (silu(Wgate h) * Wup h)
 *   logits = Woutput (rmsnorm(x) * output_norm)     (last token only, unless all_logits)
 * Matmuls and attention are split across the context's thread pool; the small elementwise steps
 * run on the calling thread. */
#include "cpu/ops.h"
#include "cpu/quant.h"
#include "internal.h"

typedef struct matmul_task {
    const mst_weight *w;
    mst_matmul_fn fn;
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
    uint64_t r0 = (uint64_t)ith * per, r1 = r0 + per;
    if (r1 > rows)
        r1 = rows;
    if (r0 < r1)
        t->fn(t->w->data, t->w->row_bytes, rows, t->w->cols, t->x, t->n_tokens, t->y, (uint32_t)r0, (uint32_t)r1);
}

/* y[t][rows] = W x[t][cols] for every token. */
static void matmul(mst_context *ctx, const mst_weight *w, const float *x, uint32_t n_tokens, float *y)
{
    matmul_task t = {w, mst_kernels_matmul(mst_cpu_best(), w->type), x, n_tokens, y};
    mst_pool_run(ctx->pool, matmul_worker, &t);
}

typedef struct attention_task {
    mst_attn_args args;
    float *scores; /* [nth][n_ctx] */
    uint32_t n_ctx;
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

void mst_forward(mst_context *ctx, const int32_t *tokens, uint32_t n, int all_logits, float *logits)
{
    const mst_model *m = ctx->model;
    const mst_model_config *cfg = &m->cfg;
    const uint32_t n_embd = cfg->n_embd, kv_dim = m->kv_dim, n_ff = cfg->n_ff;
    const uint32_t p0 = ctx->n_past, n_kv = p0 + n;
    const size_t n_x = (size_t)n * n_embd;

    for (uint32_t t = 0; t < n; t++)
        ctx->pos[t] = (int32_t)(p0 + t);

    /* x = token_embd rows [n_embd] per token */
    const mst_weight *emb = &m->tok_embd;
    for (uint32_t t = 0; t < n; t++)
        mst_dequantize_ref(emb->type, emb->data + (size_t)tokens[t] * emb->row_bytes, n_embd, ctx->x + (size_t)t * n_embd);

    for (uint32_t l = 0; l < cfg->n_layer; l++) {
        const mst_layer *L = &m->layers[l];
        /* this layer's cache, [n_ctx][kv_dim]; the new tokens land at rows p0.. */
        float *k_cache = ctx->k_cache + (size_t)l * ctx->n_ctx * kv_dim;
        float *v_cache = ctx->v_cache + (size_t)l * ctx->n_ctx * kv_dim;
        float *k_new = k_cache + (size_t)p0 * kv_dim;
        float *v_new = v_cache + (size_t)p0 * kv_dim;

        /* attention block */
        mst_rmsnorm_best(ctx->x, L->attn_norm, n_embd, n, cfg->rms_norm_eps, ctx->xb); /* attn_norm [n_embd] */
        matmul(ctx, &L->wq, ctx->xb, n, ctx->q);  /* Wq [n_embd -> n_head*head_dim] */
        matmul(ctx, &L->wk, ctx->xb, n, k_new);   /* Wk [n_embd -> n_head_kv*head_dim], straight into the cache */
        matmul(ctx, &L->wv, ctx->xb, n, v_new);   /* Wv [n_embd -> n_head_kv*head_dim] */
        mst_rope_best(ctx->q, n, cfg->n_head, cfg->head_dim, ctx->pos, cfg->rope_freq_base);
        mst_rope_best(k_new, n, cfg->n_head_kv, cfg->head_dim, ctx->pos, cfg->rope_freq_base);

        attention_task at = {
            .args = {
                .q = ctx->q, .k = k_cache, .v = v_cache, .out = ctx->att,
                .n_tokens = n, .q_pos0 = p0, .n_kv = n_kv,
                .n_head = cfg->n_head, .n_head_kv = cfg->n_head_kv, .head_dim = cfg->head_dim,
                .window = cfg->sliding_window,
            },
            .scores = ctx->scores,
            .n_ctx = ctx->n_ctx,
        };
        mst_pool_run(ctx->pool, attention_worker, &at);
        matmul(ctx, &L->wo, ctx->att, n, ctx->xb2); /* Wo [n_head*head_dim -> n_embd] */
        add_inplace(ctx->x, ctx->xb2, n_x);

        /* feed-forward block */
        mst_rmsnorm_best(ctx->x, L->ffn_norm, n_embd, n, cfg->rms_norm_eps, ctx->xb); /* ffn_norm [n_embd] */
        matmul(ctx, &L->w_gate, ctx->xb, n, ctx->hb); /* Wgate [n_embd -> n_ff] */
        matmul(ctx, &L->w_up, ctx->xb, n, ctx->hb2);  /* Wup   [n_embd -> n_ff] */
        mst_swiglu_best(ctx->hb, ctx->hb2, (uint64_t)n * n_ff, ctx->hb);
        matmul(ctx, &L->w_down, ctx->hb, n, ctx->xb2); /* Wdown [n_ff -> n_embd] */
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
