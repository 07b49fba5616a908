/* forward_moe.c — Mixtral's feed-forward for a batch of n tokens, written against backend.h (forward.c calls
 * it where a dense layer runs its own feed-forward):
 *   router logits = Wrouter h                        [n_embd -> n_expert] per token
 *   chosen, weights = top n_expert_used of them, softmax over those (backend moe_gate)
 *   out[t] = sum over t's chosen e of weight * Wdown_e (silu(Wgate_e h[t]) * Wup_e h[t])
 *
 * Grouped by expert: each expert some token chose runs one matmul per weight over exactly the tokens routed to it
 * (gathered into ctx->xg), so prefill multiplies a whole group at once (the GEMM reads the expert once for all
 * its tokens) and decode reads only the n_expert_used chosen experts. The expert slices are repacked at load
 * like dense matrices (weights_repack.c), so they run on the same kernels at the same bandwidth.
 *
 * A backend may take the whole feed-forward of a small batch itself (backend.h moe_ffn; CUDA does for decode,
 * cuda/matmul_moe.cu, whose comment sets a MoE layer's bytes against a dense layer's): the routing then stays in
 * device memory and the host does not wait on it every layer. Its result is the generic path's. */
#include "forward_moe.h"

#include <string.h>

/* The router matmul: ctx->router = Wrouter xb [n_embd -> n_expert] for the n tokens. */
static void router_logits(mst_context *ctx, const mst_layer *L, uint32_t n)
{
    const mst_weight *router = &L->router;
    ctx->backend->matmul(ctx, &router, &ctx->router, 1, ctx->xb, n);
}

/* t: the row of the feed-forward block's input, which in the last layer starts at the pass's row last_ffn_row0 */
static void fail_nonfinite_router(mst_context *ctx, uint32_t layer, uint32_t t)
{
    const uint32_t row0 = layer + 1 == ctx->model->cfg.n_layer ? ctx->last_ffn_row0 : 0;
    mst_backend_fail(ctx, MST_ERR_NON_FINITE, "layer %u produced non-finite router logits at position %u", layer,
                     ctx->n_past + row0 + t);
}

/* The gate on the router logits: ctx->chosen / ctx->chosen_w filled. 0 when the pass failed (nothing to run). */
static int gate(mst_context *ctx, const mst_layer *L, uint32_t n)
{
    const mst_backend *b = ctx->backend;
    const uint32_t k = ctx->model->cfg.n_expert_used;
    b->moe_gate(ctx, ctx->router, n, ctx->chosen, ctx->chosen_w); /* k experts per token and weights (host) */
    if (mst_backend_failed(ctx))
        return 0; /* chosen was not written: the pass is lost anyway */
    for (uint32_t t = 0; t < n; t++)
        if (ctx->chosen[(size_t)t * k] < 0) { /* backend.h: a NaN/Inf among the token's router logits */
            fail_nonfinite_router(ctx, (uint32_t)(L - ctx->model->layers), t);
            return 0;
        }
    return 1;
}

/* Router matmul and gate. 0 when the pass failed. */
static int route(mst_context *ctx, const mst_layer *L, uint32_t n)
{
    router_logits(ctx, L, n);
    return gate(ctx, L, n);
}

/* Expert e over g tokens whose inputs are the g rows at x: ctx->xb2[group[j]] += group_w[j] * its output. */
static void run_expert(mst_context *ctx, const mst_layer *L, uint32_t e, const float *x, uint32_t g)
{
    const mst_backend *b = ctx->backend;
    const uint32_t n_embd = ctx->model->cfg.n_embd, n_ff = ctx->model->cfg.n_ff;
    const mst_weight gate = mst_expert_slice(&L->w_gate, e), up = mst_expert_slice(&L->w_up, e),
                     down = mst_expert_slice(&L->w_down, e);
    const mst_weight *gate_up[2] = {&gate, &up}, *downp = &down;
    float *const hidden[2] = {ctx->hb, ctx->hb2};

    b->matmul(ctx, gate_up, hidden, 2, x, g);              /* Wgate_e, Wup_e [n_embd -> n_ff] */
    b->swiglu(ctx, ctx->hb, ctx->hb2, (uint64_t)g * n_ff); /* silu(gate) * up */
    b->matmul(ctx, &downp, &ctx->xg, 1, ctx->hb, g);       /* Wdown_e [n_ff -> n_embd] */
    b->scatter_add(ctx, ctx->xb2, ctx->xg, ctx->group, ctx->group_w, g, n_embd);
}

/* The backend's own MoE feed-forward (backend.h moe_ffn: the routing never leaves the device), when it takes this
 * case. Its non-finite router check is answered after the pass (mst_moe_check_pass), so nothing waits mid-pass and
 * a decode step can be one recorded graph; under MST_CONTEXT_CHECK_LAYERS, which waits after every layer anyway,
 * it is asked after each layer, so the router's fault is named before the layer check can name its NaN. */
static int backend_moe_ffn(mst_context *ctx, const mst_layer *L, uint32_t n)
{
    const mst_backend *b = ctx->backend;
    if (!b->moe_ffn || !b->moe_nonfinite || !b->moe_ffn(ctx, L, n))
        return 0;
    uint32_t bad_layer, bad_t;
    if ((ctx->flags & MST_CONTEXT_CHECK_LAYERS) && !mst_backend_failed(ctx) && b->moe_nonfinite(ctx, &bad_layer, &bad_t))
        fail_nonfinite_router(ctx, bad_layer, bad_t);
    return 1;
}

void mst_moe_check_pass(mst_context *ctx)
{
    const mst_backend *b = ctx->backend;
    uint32_t bad_layer, bad_t;
    if (b->moe_nonfinite && !mst_backend_failed(ctx) && b->moe_nonfinite(ctx, &bad_layer, &bad_t))
        fail_nonfinite_router(ctx, bad_layer, bad_t);
}

void mst_moe_ffn(mst_context *ctx, const mst_layer *L, uint32_t n)
{
    const mst_backend *b = ctx->backend;
    const mst_model_config *cfg = &ctx->model->cfg;
    const uint32_t k = cfg->n_expert_used;
    router_logits(ctx, L, n);
    if (backend_moe_ffn(ctx, L, n) || !gate(ctx, L, n))
        return;
    b->zero(ctx, ctx->xb2, (uint64_t)n * cfg->n_embd);
    /* Experts in ascending order, so every token's sum is added up in the order of its expert ids. */
    for (uint32_t e = 0; e < cfg->n_expert; e++) {
        uint32_t g = 0; /* tokens routed to expert e (ascending), and their weights for it */
        for (uint32_t t = 0; t < n; t++)
            for (uint32_t i = 0; i < k; i++)
                if (ctx->chosen[(size_t)t * k + i] == (int32_t)e) {
                    ctx->group[g] = (int32_t)t;
                    ctx->group_w[g++] = ctx->chosen_w[(size_t)t * k + i];
                }
        if (g == 0)
            continue;
        /* Every token of the batch routed here (always so in decode): the rows are xb itself, in order, so the
         * copy is skipped. */
        if (g == n) {
            run_expert(ctx, L, e, ctx->xb, g);
        } else {
            b->gather(ctx, ctx->xg, ctx->xb, ctx->group, g, cfg->n_embd); /* the g tokens' inputs */
            run_expert(ctx, L, e, ctx->xg, g);
        }
    }
}

void mst_moe_ffn_per_token(mst_context *ctx, const mst_layer *L, uint32_t n)
{
    const mst_backend *b = ctx->backend;
    const mst_model_config *cfg = &ctx->model->cfg;
    const uint32_t k = cfg->n_expert_used;
    if (!route(ctx, L, n))
        return;
    b->zero(ctx, ctx->xb2, (uint64_t)n * cfg->n_embd);
    for (uint32_t t = 0; t < n; t++)
        for (uint32_t e = 0; e < cfg->n_expert; e++)
            for (uint32_t i = 0; i < k; i++)
                if (ctx->chosen[(size_t)t * k + i] == (int32_t)e) {
                    ctx->group[0] = (int32_t)t;
                    ctx->group_w[0] = ctx->chosen_w[(size_t)t * k + i];
                    b->gather(ctx, ctx->xg, ctx->xb, ctx->group, 1, cfg->n_embd);
                    run_expert(ctx, L, e, ctx->xg, 1);
                }
}
