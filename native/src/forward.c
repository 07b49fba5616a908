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
 * When only the last token's logits are asked for, the last layer's feed-forward block (and the residual adds
 * around it) runs for that token alone: no other row of x is read after it, while every token's keys and values
 * still enter the cache. A 7B layer's feed-forward block is 81% of its multiply-adds, so a 512-token prompt
 * through 32 layers does 2.5% less work, through 2 layers 40% less. llama.cpp selects its output rows at the same
 * point (after the last layer's attention output projection), so the two do the same work on any file. Under
 * MST_CONTEXT_CHECK_LAYERS (a diagnosis) every row goes through every layer, as the first token a layer turns
 * into NaN/Inf is what that mode reports.
 * How each op runs (threads, SIMD, quantized activations; or device kernels) is the backend's business
 * (cpu/backend_cpu.c, cuda/backend_cuda_*.c). Weight shapes below are [input -> output] per token.
 * NaN/Inf is an error, not a token: the output layer's input rows are checked on every pass (context.c then checks
 * the logits), and with MST_CONTEXT_CHECK_LAYERS the residual stream after the embedding and every layer.
 * Cancellation (mst_context_set_abort) is seen before every layer and before the output layer, and inside the CPU
 * backend's long ops (threadpool.h); the pass then stops queuing work and returns MST_ERR_CANCELLED. */
#include <stdio.h>

#include "forward_moe.h"
#include "internal.h"

/* y = W x over n_tokens rows; one matrix. */
static inline void matmul(mst_context *ctx, const mst_weight *w, const float *x, uint32_t n_tokens, float *y)
{
    ctx->backend->matmul(ctx, &w, &y, 1, x, n_tokens);
}

/* Whether the pass is cancelled: an op was cut short by the abort flag (the CPU backend), or the flag is set now,
 * which fails the pass with MST_ERR_CANCELLED naming the layer about to run (n_layer: the output layer). A layer
 * is the granularity every backend shares: on CUDA the ops queued before the check still run, but no more are
 * queued. A pass that failed otherwise goes on as before, its backend skipping the ops (backend.h). */
static int stopped(mst_context *ctx, uint32_t layer)
{
    if (mst_backend_failed(ctx))
        return ctx->pass_status == MST_ERR_CANCELLED;
    if (!mst_abort_requested(ctx))
        return 0;
    if (layer < ctx->model->cfg.n_layer)
        mst_backend_fail(ctx, MST_ERR_CANCELLED, "cancelled (mst_context_set_abort) before layer %u", layer);
    else
        mst_backend_fail(ctx, MST_ERR_CANCELLED, "cancelled (mst_context_set_abort) before the output layer");
    return 1;
}

/* MST_CONTEXT_CHECK_LAYERS: fails the pass at the first layer whose output x holds NaN/Inf, naming the layer
 * ("the embedding" for layer -1) and the position of the first token affected. Every row of x is the layer's own:
 * this mode runs every row through the last layer too (queue_pass). */
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

/* The position the output layer's row `i / n_embd` belongs to, for the non-finite message. */
static uint32_t out_position(const mst_context *ctx, uint32_t n, int all_logits, int64_t i)
{
    return ctx->n_past + (all_logits ? (uint32_t)(i / ctx->model->cfg.n_embd) : n - 1);
}

/* Queues every op of the pass, from the embedding to the output matmul into `out` (the backend's logits buffer). */
static void queue_pass(mst_context *ctx, uint32_t n, int all_logits, float *out)
{
    const mst_backend *b = ctx->backend;
    const mst_model *m = ctx->model;
    const mst_model_config *cfg = &m->cfg;
    /* MST_CONTEXT_CHECK_LAYERS runs every row to the end, so its message names the first position a layer spoils */
    ctx->last_ffn_row0 = all_logits || (ctx->flags & MST_CONTEXT_CHECK_LAYERS) ? 0 : n - 1;

    b->embed(ctx, n, ctx->x); /* x = token_embd rows [n_embd] of the tokens */
    int bad = check_layer(ctx, -1, n);

    for (uint32_t l = 0; l < cfg->n_layer && !bad; l++) {
        const mst_layer *L = &m->layers[l];
        if ((bad = stopped(ctx, l)))
            break;

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

        /* from here on, rows row0..n-1 only: all of them, or the last token's in the last layer (header) */
        const uint32_t row0 = l + 1 == cfg->n_layer ? ctx->last_ffn_row0 : 0, nf = n - row0;
        const uint64_t n_xf = (uint64_t)nf * cfg->n_embd;
        float *const x = ctx->x + (size_t)row0 * cfg->n_embd;
        b->add(ctx, x, ctx->xb2 + (size_t)row0 * cfg->n_embd, n_xf);

        /* feed-forward block */
        b->rmsnorm(ctx, x, L->ffn_norm, nf, ctx->xb); /* ffn_norm [n_embd] */
        if (cfg->n_expert > 0) {
            mst_moe_ffn(ctx, L, nf); /* forward_moe.c: router, top-k, each chosen expert over its tokens */
        } else {
            const mst_weight *gate_up[2] = {&L->w_gate, &L->w_up};
            float *const hidden[2] = {ctx->hb, ctx->hb2};
            /* hb = silu(Wgate xb) * Wup xb: one fused op where the backend has it, else the two ops */
            if (!b->gate_up_swiglu || !b->gate_up_swiglu(ctx, &L->w_gate, &L->w_up, ctx->xb, nf, ctx->hb)) {
                b->matmul(ctx, gate_up, hidden, 2, ctx->xb, nf);             /* Wgate, Wup [n_embd -> n_ff] */
                b->swiglu(ctx, ctx->hb, ctx->hb2, (uint64_t)nf * cfg->n_ff); /* silu(gate) * up */
            }
            matmul(ctx, &L->w_down, ctx->hb, nf, ctx->xb2);              /* Wdown [n_ff -> n_embd] */
        }
        b->add(ctx, x, ctx->xb2, n_xf);
        bad = check_layer(ctx, (int32_t)l, n);
    }

    /* every token's logits, or the last token's only */
    const uint32_t rows = all_logits ? n : 1;
    const float *x_out = all_logits ? ctx->x : ctx->x + (size_t)(n - 1) * cfg->n_embd;
    if (!bad && !stopped(ctx, cfg->n_layer)) { /* n_layer: "before the output layer" */
        b->rmsnorm(ctx, x_out, m->output_norm, rows, ctx->xb); /* output_norm [n_embd] */
        matmul(ctx, &m->output, ctx->xb, rows, out);            /* Woutput [n_embd -> n_vocab] */
        /* NaN in the hidden state must not be laundered into finite logits by the output matmul's activation
         * quantization (a NaN becomes an arbitrary int8): its input rows are checked, a few thousand floats next to
         * the n_vocab x n_embd weights it reads. On a GPU the answer arrives with the logits' own wait. */
        const uint64_t n_in = (uint64_t)rows * cfg->n_embd;
        if (b->queue_nonfinite) { /* answered after end() */
            b->queue_nonfinite(ctx, ctx->xb, n_in);
            return;
        }
        const int64_t i = mst_backend_failed(ctx) ? -1 : b->find_nonfinite(ctx, ctx->xb, n_in);
        if (i >= 0)
            mst_backend_fail(ctx, MST_ERR_NON_FINITE, "the hidden state at position %u is not finite (NaN/Inf reached the output layer)",
                             out_position(ctx, n, all_logits, i));
    }
}

/* One pass; greedy (all_logits = 0 then): ends with end_greedy, bringing back the id instead of the logits. */
static mst_status forward(mst_context *ctx, const int32_t *tokens, uint32_t n, int all_logits, float *logits,
                          mst_greedy_answer *greedy)
{
    const mst_backend *b = ctx->backend;
    const uint32_t rows = all_logits ? n : 1;

    ctx->pass_status = MST_OK;
    ctx->pass_error[0] = '\0';
    b->begin(ctx, tokens, n);
    float *out = b->logits_buffer(ctx, logits, rows);
    /* A backend may replay a recording of the whole step, or record this one (backend.h) */
    const int graph = b->graph_begin && !mst_backend_failed(ctx) ? b->graph_begin(ctx, n, all_logits) : MST_GRAPH_NONE;
    if (graph != MST_GRAPH_REPLAYED) {
        queue_pass(ctx, n, all_logits, out);
        if (graph == MST_GRAPH_CAPTURING && !b->graph_end(ctx))
            queue_pass(ctx, n, all_logits, out); /* not recorded after all: the same ops, run as usual */
    }
    mst_status st = greedy ? b->end_greedy(ctx, out, greedy) : b->end(ctx, logits, out, rows);
    if (st == MST_OK) /* a router fault of the backend's MoE op (forward_moe.c) first: the generic path meets it first */
        mst_moe_check_pass(ctx);
    if (st == MST_OK && ctx->pass_status == MST_OK && b->nonfinite_answer) {
        const int64_t i = b->nonfinite_answer(ctx);
        if (i >= 0)
            mst_backend_fail(ctx, MST_ERR_NON_FINITE, "the hidden state at position %u is not finite (NaN/Inf reached the output layer)",
                             out_position(ctx, n, all_logits, i));
    }
    return st != MST_OK ? st : ctx->pass_status;
}

mst_status mst_forward(mst_context *ctx, const int32_t *tokens, uint32_t n, int all_logits, float *logits)
{
    return forward(ctx, tokens, n, all_logits, logits, NULL);
}

mst_status mst_forward_greedy(mst_context *ctx, const int32_t *tokens, uint32_t n, float *host, mst_greedy_answer *out)
{
    return forward(ctx, tokens, n, 0, host, out);
}
