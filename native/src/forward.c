/* forward.c — the Mistral transformer step, top to bottom, written once against backend.h.
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
 * How each op runs (threads, SIMD, quantized activations; or device kernels) is the backend's business
 * (cpu/backend_cpu.c, cuda/backend_cuda_*.c). Weight shapes below are [input -> output] per token.
 * NaN/Inf is an error, not a token: the output layer's input rows are checked on every pass (context.c then checks
 * the logits), and with MST_CONTEXT_CHECK_LAYERS the residual stream after the embedding and every layer. */
#include <stdio.h>

#include "internal.h"

/* y = W x over n_tokens rows; one matrix. */
static inline void matmul(mst_context *ctx, const mst_weight *w, const float *x, uint32_t n_tokens, float *y)
{
    ctx->backend->matmul(ctx, &w, &y, 1, x, n_tokens);
}

/* Mixture-of-experts feed-forward of n tokens: ctx->xb (normed) in, ctx->xb2 out. Only the experts some token
 * chose run, each once over the tokens routed to it (gathered into ctx->xg), on its slice of the stacked
 * tensors; an unchosen expert's weights are not even read. */
static void moe_ffn(mst_context *ctx, const mst_layer *L, uint32_t n)
{
    const mst_backend *b = ctx->backend;
    const mst_model_config *cfg = &ctx->model->cfg;
    const uint32_t n_embd = cfg->n_embd, n_ff = cfg->n_ff, k = cfg->n_expert_used;

    matmul(ctx, &L->router, ctx->xb, n, ctx->router);             /* router [n_embd -> n_expert] */
    b->moe_gate(ctx, ctx->router, n, ctx->chosen, ctx->chosen_w); /* k experts per token and weights (host) */
    if (mst_backend_failed(ctx))
        return; /* chosen was not written: the pass is lost anyway */
    for (uint32_t t = 0; t < n; t++)
        if (ctx->chosen[(size_t)t * k] < 0) { /* backend.h: a NaN/Inf among the token's router logits */
            mst_backend_fail(ctx, MST_ERR_NON_FINITE, "layer %u produced non-finite router logits at position %u",
                             (unsigned)(L - ctx->model->layers), ctx->n_past + t);
            return;
        }
    b->zero(ctx, ctx->xb2, (uint64_t)n * n_embd);
    for (uint32_t e = 0; e < cfg->n_expert; e++) {
        uint32_t g = 0; /* tokens routed to expert e, and their weights for it */
        for (uint32_t t = 0; t < n; t++)
            for (uint32_t i = 0; i < k; i++)
                if (ctx->chosen[(size_t)t * k + i] == (int32_t)e) {
                    ctx->group[g] = (int32_t)t;
                    ctx->group_w[g++] = ctx->chosen_w[(size_t)t * k + i];
                }
        if (g == 0)
            continue;
        const mst_weight gate = mst_expert_slice(&L->w_gate, e), up = mst_expert_slice(&L->w_up, e),
                         down = mst_expert_slice(&L->w_down, e);
        const mst_weight *gate_up[2] = {&gate, &up};
        float *const hidden[2] = {ctx->hb, ctx->hb2};

        b->gather(ctx, ctx->xg, ctx->xb, ctx->group, g, n_embd); /* the g tokens' inputs */
        b->matmul(ctx, gate_up, hidden, 2, ctx->xg, g);          /* Wgate_e, Wup_e [n_embd -> n_ff] */
        b->swiglu(ctx, ctx->hb, ctx->hb2, (uint64_t)g * n_ff);   /* silu(gate) * up */
        matmul(ctx, &down, ctx->hb, g, ctx->xg);                 /* Wdown_e [n_ff -> n_embd] */
        /* xb2[token] += its weight for e * the output */
        b->scatter_add(ctx, ctx->xb2, ctx->xg, ctx->group, ctx->group_w, g, n_embd);
    }
}

/* MST_CONTEXT_CHECK_LAYERS: fails the pass at the first layer whose output x holds NaN/Inf, naming the layer
 * ("the embedding" for layer -1) and the position of the first token affected. */
static int check_layer(mst_context *ctx, int32_t layer, uint32_t n)
{
    if (!(ctx->flags & MST_CONTEXT_CHECK_LAYERS) || mst_backend_failed(ctx))
        return 0;
    const uint32_t n_embd = ctx->model->cfg.n_embd;
    const int64_t i = ctx->backend->find_nonfinite(ctx, ctx->x, (uint64_t)n * n_embd);
    if (i < 0)
        return 0;
    char what[32];
    if (layer < 0)
        snprintf(what, sizeof what, "the token embedding");
    else
        snprintf(what, sizeof what, "layer %d", (int)layer);
    mst_backend_fail(ctx, MST_ERR_NON_FINITE, "%s produced NaN/Inf at position %u (element %u of %u)", what,
                     ctx->n_past + (uint32_t)(i / n_embd), (unsigned)(i % n_embd), n_embd);
    return 1;
}

mst_status mst_forward(mst_context *ctx, const int32_t *tokens, uint32_t n, int all_logits, float *logits)
{
    const mst_backend *b = ctx->backend;
    const mst_model *m = ctx->model;
    const mst_model_config *cfg = &m->cfg;
    const uint64_t n_x = (uint64_t)n * cfg->n_embd;

    ctx->pass_status = MST_OK;
    ctx->pass_error[0] = '\0';
    b->begin(ctx, tokens, n);

    b->embed(ctx, n, ctx->x); /* x = token_embd rows [n_embd] of the tokens */
    int bad = check_layer(ctx, -1, n);

    for (uint32_t l = 0; l < cfg->n_layer && !bad; l++) {
        const mst_layer *L = &m->layers[l];

        /* attention block */
        b->rmsnorm(ctx, ctx->x, L->attn_norm, n, ctx->xb); /* attn_norm [n_embd] */
        /* Wq [n_embd -> n_head*head_dim]; Wk, Wv [n_embd -> n_head_kv*head_dim]: one call, one input */
        const mst_weight *qkv_w[3] = {&L->wq, &L->wk, &L->wv};
        float *const qkv[3] = {ctx->q, ctx->k, ctx->v};
        b->matmul(ctx, qkv_w, qkv, 3, ctx->xb, n);
        b->rope(ctx, ctx->q, n, cfg->n_head, 0);
        b->rope(ctx, ctx->k, n, cfg->n_head_kv, 0);
        b->kv_store(ctx, l, ctx->k, ctx->v, n);     /* cache rows (n_past + t) % kv_slots */
        b->attention(ctx, l, ctx->q, n, ctx->att);  /* causal GQA over the cache, window m->windows[l] */
        matmul(ctx, &L->wo, ctx->att, n, ctx->xb2); /* Wo [n_head*head_dim -> n_embd] */
        b->add(ctx, ctx->x, ctx->xb2, n_x);

        /* feed-forward block */
        b->rmsnorm(ctx, ctx->x, L->ffn_norm, n, ctx->xb); /* ffn_norm [n_embd] */
        if (cfg->n_expert > 0) {
            moe_ffn(ctx, L, n);
        } else {
            const mst_weight *gate_up[2] = {&L->w_gate, &L->w_up};
            float *const hidden[2] = {ctx->hb, ctx->hb2};
            b->matmul(ctx, gate_up, hidden, 2, ctx->xb, n);             /* Wgate, Wup [n_embd -> n_ff] */
            b->swiglu(ctx, ctx->hb, ctx->hb2, (uint64_t)n * cfg->n_ff); /* silu(gate) * up */
            matmul(ctx, &L->w_down, ctx->hb, n, ctx->xb2);              /* Wdown [n_ff -> n_embd] */
        }
        b->add(ctx, ctx->x, ctx->xb2, n_x);
        bad = check_layer(ctx, (int32_t)l, n);
    }

    /* every token's logits, or the last token's only */
    const uint32_t rows = all_logits ? n : 1;
    const float *x_out = all_logits ? ctx->x : ctx->x + (size_t)(n - 1) * cfg->n_embd;
    float *out = b->logits_buffer(ctx, logits, rows);
    if (!bad) {
        b->rmsnorm(ctx, x_out, m->output_norm, rows, ctx->xb); /* output_norm [n_embd] */
        matmul(ctx, &m->output, ctx->xb, rows, out);            /* Woutput [n_embd -> n_vocab] */
        /* NaN in the hidden state must not be laundered into finite logits by the output matmul's activation
         * quantization (a NaN becomes an arbitrary int8): its input rows are checked, a few thousand floats next to
         * the n_vocab x n_embd weights it reads. On a GPU the answer arrives with the logits' own wait. */
        const uint64_t n_in = (uint64_t)rows * cfg->n_embd;
        const int64_t i = mst_backend_failed(ctx) ? -1 : b->find_nonfinite(ctx, ctx->xb, n_in);
        if (i >= 0)
            mst_backend_fail(ctx, MST_ERR_NON_FINITE, "the hidden state at position %u is not finite (NaN/Inf reached the output layer)",
                             ctx->n_past + (all_logits ? (uint32_t)(i / cfg->n_embd) : n - 1));
    }
    const mst_status st = b->end(ctx, logits, out, rows);
    return st != MST_OK ? st : ctx->pass_status;
}
