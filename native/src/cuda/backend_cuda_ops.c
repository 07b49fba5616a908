/* backend_cuda_ops.c — the CUDA backend's table (mst_backend_cuda): every forward op as one or a few kernel
 * launches (kernels.h) on the context's device buffers. An op after a failure of the pass does nothing; a
 * failing op records "CUDA <op>: <why>" (mst_backend_fail). */
#include <string.h>

#include "backend_cuda_internal.h"
#include "kernels.h"

static mst_status cuda_set_threads(mst_context *ctx, uint32_t n_threads)
{
    (void)ctx, (void)n_threads;
    return MST_OK;
}

/* Records a failed op: "<op>: <the device's or kernel's message>". */
static void op_failed(mst_context *ctx, mst_status st, const char *op)
{
    mst_backend_fail(ctx, st, "CUDA %s: %s", op, mst_last_error());
}

#define OP_CHECK(expr, op)                                                                                        \
    do {                                                                                                          \
        mst_status st_ = (expr);                                                                                  \
        if (st_ != MST_OK) {                                                                                      \
            op_failed(ctx, st_, op);                                                                              \
            return;                                                                                               \
        }                                                                                                         \
    } while (0)

static mst_cuda_weight dev_weight(const mst_weight *w)
{
    mst_cuda_weight cw = {w->type, w->rows, w->cols, 0, w->row_bytes, dptr_of(w->data)};
    return cw;
}

static void cuda_begin(mst_context *ctx, const int32_t *tokens, uint32_t n)
{
    if (mst_backend_failed(ctx))
        return;
    cuda_ctx *s = cstate(ctx);
    s->rows_n = s->row_w_n = 0;
    OP_CHECK(mst_dev_upload(s->dev, s->tokens, tokens, (size_t)n * sizeof(int32_t)), "begin (token upload)");
}

static void cuda_embed(mst_context *ctx, uint32_t n, float *x)
{
    if (mst_backend_failed(ctx))
        return;
    const mst_cuda_weight table = dev_weight(&ctx->model->tok_embd);
    OP_CHECK(mst_cuda_embed(cdev(ctx), &table, cstate(ctx)->tokens, n, dptr_of(x)), "embed");
}

static void cuda_rmsnorm(mst_context *ctx, const float *x, const float *weight, uint32_t rows, float *y)
{
    if (mst_backend_failed(ctx))
        return;
    const mst_model_config *cfg = &ctx->model->cfg;
    OP_CHECK(mst_cuda_rmsnorm(cdev(ctx), dptr_of(x), dptr_of(weight), cfg->n_embd, rows, cfg->rms_norm_eps, dptr_of(y)),
             "rmsnorm");
}

/* The matrices in order; a matrix right after one of the same type and width reads the activations the
 * previous one quantized into the scratch (x_is_quantized), since nothing else has written the scratch since. */
static void cuda_matmul(mst_context *ctx, const mst_weight *const *w, float *const *y, uint32_t n_w, const float *x,
                        uint32_t n_tokens)
{
    if (mst_backend_failed(ctx))
        return;
    cuda_ctx *s = cstate(ctx);
    for (uint32_t i = 0; i < n_w; i++) {
        const mst_cuda_weight cw = dev_weight(w[i]);
        const int reuse = i > 0 && w[i - 1]->type == w[i]->type && w[i - 1]->cols == w[i]->cols;
        OP_CHECK(mst_cuda_matmul(s->dev, &cw, dptr_of(x), n_tokens, dptr_of(y[i]), s->mm_scratch, reuse), "matmul");
    }
}

static void cuda_rope(mst_context *ctx, float *x, uint32_t n_tokens, uint32_t n_heads, uint32_t t0)
{
    if (mst_backend_failed(ctx))
        return;
    const mst_model_config *cfg = &ctx->model->cfg;
    OP_CHECK(mst_cuda_rope(cdev(ctx), dptr_of(x), n_tokens, n_heads, cfg->head_dim, ctx->n_past + t0,
                           cfg->rope_freq_base),
             "rope");
}

static uint64_t layer_cache_bytes(const mst_context *ctx)
{
    return (uint64_t)ctx->kv_slots * ctx->model->kv_dim * sizeof(uint16_t);
}

static void cuda_kv_store(mst_context *ctx, uint32_t layer, const float *k, const float *v, uint32_t n)
{
    if (mst_backend_failed(ctx))
        return;
    cuda_ctx *s = cstate(ctx);
    const uint64_t off = layer * layer_cache_bytes(ctx);
    OP_CHECK(mst_cuda_kv_store(s->dev, dptr_of(k), dptr_of(v), n, ctx->model->kv_dim, ctx->n_past, ctx->kv_slots,
                               s->k_cache + off, s->v_cache + off),
             "kv_store");
}

static void cuda_attention(mst_context *ctx, uint32_t layer, const float *q, uint32_t n, float *out)
{
    if (mst_backend_failed(ctx))
        return;
    cuda_ctx *s = cstate(ctx);
    const mst_model *m = ctx->model;
    const uint64_t off = layer * layer_cache_bytes(ctx);
    const mst_cuda_attn_args a = {
        .q = dptr_of(q), .k_cache = s->k_cache + off, .v_cache = s->v_cache + off, .out = dptr_of(out),
        .scratch = s->attn_scratch,
        .n_tokens = n, .q_pos0 = ctx->n_past, .n_kv = ctx->n_past + n,
        .n_head = m->cfg.n_head, .n_head_kv = m->cfg.n_head_kv, .head_dim = m->cfg.head_dim,
        .window = m->windows[layer], .kv_slots = ctx->rolling ? ctx->kv_slots : 0,
    };
    OP_CHECK(mst_cuda_attention(s->dev, &a), "attention");
}

static void cuda_swiglu(mst_context *ctx, float *gate, const float *up, uint64_t n)
{
    if (mst_backend_failed(ctx))
        return;
    OP_CHECK(mst_cuda_swiglu(cdev(ctx), dptr_of(gate), dptr_of(up), n), "swiglu");
}

static void cuda_add(mst_context *ctx, float *x, const float *y, uint64_t n)
{
    if (mst_backend_failed(ctx))
        return;
    OP_CHECK(mst_cuda_add(cdev(ctx), dptr_of(x), dptr_of(y), n), "add");
}

/* The one op whose result the host needs at once (it decides which experts run): a download, so a wait. */
/* After a failure forward.c still reads the routing (its ops are skipped): a valid one, token t choosing
 * experts 0 .. n_used - 1 once each, so no expert's group outgrows the n_batch rows of ctx->group. */
static void placeholder_routing(const mst_model_config *cfg, uint32_t n, int32_t *chosen, float *weights)
{
    for (uint32_t t = 0; t < n; t++)
        for (uint32_t i = 0; i < cfg->n_expert_used; i++) {
            chosen[(size_t)t * cfg->n_expert_used + i] = (int32_t)i;
            weights[(size_t)t * cfg->n_expert_used + i] = 0.0f;
        }
}

static void cuda_moe_gate(mst_context *ctx, const float *router_logits, uint32_t n, int32_t *chosen, float *weights)
{
    const mst_model_config *cfg = &ctx->model->cfg;
    if (mst_backend_failed(ctx)) {
        placeholder_routing(cfg, n, chosen, weights);
        return;
    }
    cuda_ctx *s = cstate(ctx);
    const size_t k = (size_t)n * cfg->n_expert_used;
    mst_status st = mst_cuda_moe_gate(s->dev, dptr_of(router_logits), n, cfg->n_expert, cfg->n_expert_used, s->chosen,
                                      s->chosen_w);
    if (st == MST_OK)
        st = mst_dev_download(s->dev, chosen, s->chosen, k * sizeof(int32_t));
    if (st == MST_OK)
        st = mst_dev_download(s->dev, weights, s->chosen_w, k * sizeof(float));
    if (st != MST_OK) {
        op_failed(ctx, st, "moe_gate");
        placeholder_routing(cfg, n, chosen, weights);
    }
}

/* Puts g host values of `size` bytes each into dst unless they are there already (a scatter after its gather):
 * mirror holds the *mirror_n values dst now holds. */
static mst_status put_cached(mst_dev *d, mst_dptr dst, void *mirror, uint32_t *mirror_n, const void *src, uint32_t g,
                             size_t size)
{
    if (*mirror_n == g && memcmp(mirror, src, (size_t)g * size) == 0)
        return MST_OK;
    *mirror_n = 0;
    mst_status st = mst_dev_upload(d, dst, src, (size_t)g * size);
    if (st != MST_OK)
        return st;
    memcpy(mirror, src, (size_t)g * size);
    *mirror_n = g;
    return MST_OK;
}

static mst_status put_rows(cuda_ctx *s, const int32_t *rows, uint32_t g)
{
    return put_cached(s->dev, s->rows, s->rows_host, &s->rows_n, rows, g, sizeof *rows);
}

static mst_status put_weights(cuda_ctx *s, const float *w, uint32_t g)
{
    return put_cached(s->dev, s->row_w, s->row_w_host, &s->row_w_n, w, g, sizeof *w);
}

static void cuda_gather(mst_context *ctx, float *dst, const float *src, const int32_t *rows, uint32_t g, uint32_t width)
{
    if (mst_backend_failed(ctx))
        return;
    cuda_ctx *s = cstate(ctx);
    OP_CHECK(put_rows(s, rows, g), "gather (row upload)");
    OP_CHECK(mst_cuda_gather_rows(s->dev, dptr_of(dst), dptr_of(src), s->rows, g, width), "gather");
}

static void cuda_scatter_add(mst_context *ctx, float *dst, const float *src, const int32_t *rows, const float *weights,
                             uint32_t g, uint32_t width)
{
    if (mst_backend_failed(ctx))
        return;
    cuda_ctx *s = cstate(ctx);
    OP_CHECK(put_rows(s, rows, g), "scatter_add (row upload)");
    OP_CHECK(put_weights(s, weights, g), "scatter_add (weight upload)");
    OP_CHECK(mst_cuda_scatter_add_rows(s->dev, dptr_of(dst), dptr_of(src), s->rows, s->row_w, g, width), "scatter_add");
}

static void cuda_zero(mst_context *ctx, float *x, uint64_t n)
{
    if (mst_backend_failed(ctx))
        return;
    OP_CHECK(mst_dev_memset32(cdev(ctx), dptr_of(x), 0, (size_t)n), "zero");
}

static float *cuda_logits_buffer(mst_context *ctx, float *host, uint32_t rows)
{
    (void)host, (void)rows; /* n_batch rows fit: rows <= n <= n_batch */
    return ptr_of(cstate(ctx)->logits);
}

static mst_status cuda_end(mst_context *ctx, float *host, const float *buf, uint32_t rows)
{
    cuda_ctx *s = cstate(ctx);
    if (!mst_backend_failed(ctx)) {
        const size_t bytes = (size_t)rows * ctx->model->cfg.n_vocab * sizeof(float);
        mst_status st = mst_dev_download(s->dev, host, dptr_of(buf), bytes); /* waits for the pass */
        if (st != MST_OK)
            op_failed(ctx, st, "end (logits download)");
    } else {
        (void)mst_dev_sync(s->dev); /* the queued work still finishes before the caller reuses its arrays */
    }
    return ctx->pass_status;
}

/* The output layer's input on every pass, every layer's output under MST_CONTEXT_CHECK_LAYERS: downloaded through
 * the context's host buffer and scanned there. The download waits for the queued work, which the logits' download
 * right after would wait for anyway; a kernel would save only the copy of a few thousand floats. */
static int64_t cuda_find_nonfinite(mst_context *ctx, const float *x, uint64_t n)
{
    if (mst_backend_failed(ctx))
        return -1;
    cuda_ctx *s = cstate(ctx);
    for (uint64_t at = 0; at < n; at += CUDA_CHECK_CHUNK) {
        const uint64_t m = n - at < CUDA_CHECK_CHUNK ? n - at : CUDA_CHECK_CHUNK;
        mst_status st = mst_dev_download(s->dev, s->check_host, dptr_of(x) + at * sizeof(float), (size_t)m * sizeof(float));
        if (st != MST_OK) {
            op_failed(ctx, st, "find_nonfinite (download)");
            return -1;
        }
        const int64_t i = mst_find_nonfinite(s->check_host, m);
        if (i >= 0)
            return (int64_t)at + i;
    }
    return -1;
}

const mst_backend mst_backend_cuda = {
    .name = "cuda",
    .model_init = mst_cuda_model_init,
    .model_free = mst_cuda_model_free,
    .context_init = mst_cuda_context_init,
    .context_free = mst_cuda_context_free,
    .set_threads = cuda_set_threads,
    .estimate = mst_cuda_estimate,
    .begin = cuda_begin,
    .embed = cuda_embed,
    .rmsnorm = cuda_rmsnorm,
    .matmul = cuda_matmul,
    .rope = cuda_rope,
    .kv_store = cuda_kv_store,
    .attention = cuda_attention,
    .swiglu = cuda_swiglu,
    .add = cuda_add,
    .moe_gate = cuda_moe_gate,
    .gather = cuda_gather,
    .scatter_add = cuda_scatter_add,
    .zero = cuda_zero,
    .logits_buffer = cuda_logits_buffer,
    .end = cuda_end,
    .find_nonfinite = cuda_find_nonfinite,
};
