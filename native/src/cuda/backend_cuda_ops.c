/* backend_cuda_ops.c — the CUDA backend's table (mst_backend_cuda): every forward op as one or a few kernel
 * launches (kernels.h) on the context's device buffers. An op after a failure of the pass does nothing; a
 * failing op records "CUDA <op>: <why>" (mst_backend_fail). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend_cuda_internal.h"
#include "kernels.h"
#include "matmul_gemv.h" /* mst_cuda_gate_up_swiglu */

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
    s->nonfinite_queued = 0;
    s->moe_ran = 0;
    /* the step's words (backend_cuda_internal.h) and the tokens, one upload: the position the kernels read, the
     * non-finite answer's start (-1: none), the argmax words', the MoE router flag's (INT32_MAX: none; its
     * first gate also resets it). answers[CUDA_STEP_MOE] = -1, a value the device never writes there: end() has
     * not brought the flag back yet (cuda_moe_nonfinite). */
    int32_t *h = s->step_host;
    for (int i = 0; i < CUDA_STEP_WORDS; i++)
        h[i] = 0;
    h[CUDA_STEP_POS] = (int32_t)ctx->n_past;
    h[CUDA_STEP_BAD] = -1;
    h[CUDA_STEP_ARGMAX] = 0;
    h[CUDA_STEP_ARGMAX + 1] = INT32_MAX;
    h[CUDA_STEP_MOE] = INT32_MAX;
    s->answers[CUDA_STEP_MOE] = -1;
    memcpy(h + CUDA_STEP_WORDS, tokens, (size_t)n * sizeof(int32_t));
    OP_CHECK(mst_dev_upload(s->dev, s->step, h, (CUDA_STEP_WORDS + (size_t)n) * sizeof(int32_t)),
             "begin (token upload)");
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
 * previous one quantized into the scratch (x_is_quantized), since nothing else has written the scratch since.
 * For a decode step up to three of them (Q, K, V; gate, up) run as one GEMV launch (mst_cuda_matmul_multi). */
static void cuda_matmul(mst_context *ctx, const mst_weight *const *w, float *const *y, uint32_t n_w, const float *x,
                        uint32_t n_tokens)
{
    if (mst_backend_failed(ctx))
        return;
    cuda_ctx *s = cstate(ctx);
    enum { GROUP = 8 }; /* forward.c passes 3 at most (Q, K, V); mst_cuda_matmul_multi launches by 3 */
    for (uint32_t i = 0; i < n_w; i += GROUP) {
        const uint32_t n = n_w - i < GROUP ? n_w - i : GROUP;
        mst_cuda_weight cw[GROUP];
        mst_dptr yd[GROUP];
        for (uint32_t j = 0; j < n; j++) {
            cw[j] = dev_weight(w[i + j]);
            yd[j] = dptr_of(y[i + j]);
        }
        const int reuse = i > 0 && w[i - 1]->type == w[i]->type && w[i - 1]->cols == w[i]->cols;
        OP_CHECK(mst_cuda_matmul_multi(s->dev, cw, yd, n, dptr_of(x), n_tokens, s->mm_scratch, reuse), "matmul");
    }
}

static void cuda_rope(mst_context *ctx, float *x, uint32_t n_tokens, uint32_t n_heads, uint32_t t0)
{
    if (mst_backend_failed(ctx))
        return;
    const mst_model_config *cfg = &ctx->model->cfg;
    /* the position from device memory (begin() put n_past there), so a recorded step reads the current one */
    OP_CHECK(mst_cuda_rope_at(cdev(ctx), dptr_of(x), n_tokens, n_heads, cfg->head_dim, cstate(ctx)->step, t0,
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
    OP_CHECK(mst_cuda_kv_store_at(s->dev, dptr_of(k), dptr_of(v), n, ctx->model->kv_dim, s->step, ctx->kv_slots,
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
    mst_cuda_attn_args a = {
        .q = dptr_of(q), .k_cache = s->k_cache + off, .v_cache = s->v_cache + off, .out = dptr_of(out),
        .scratch = s->attn_scratch,
        .n_tokens = n, .q_pos0 = ctx->n_past, .n_kv = ctx->n_past + n,
        .n_head = m->cfg.n_head, .n_head_kv = m->cfg.n_head_kv, .head_dim = m->cfg.head_dim,
        .window = m->windows[layer], .kv_slots = ctx->rolling ? ctx->kv_slots : 0,
    };
    if (n == 1) {
        /* decode: the position from device memory (begin() put n_past there), so that a recorded step reads the
         * current one; no query sees more keys than the window or the cache's rows, which sizes the split */
        a.q_pos0 = 0, a.n_kv = 1, a.pos = s->step;
        a.max_keys = m->windows[layer] && m->windows[layer] < ctx->kv_slots ? m->windows[layer] : ctx->kv_slots;
    }
    OP_CHECK(mst_cuda_attention(s->dev, &a), "attention");
}

static void cuda_swiglu(mst_context *ctx, float *gate, const float *up, uint64_t n)
{
    if (mst_backend_failed(ctx))
        return;
    OP_CHECK(mst_cuda_swiglu(cdev(ctx), dptr_of(gate), dptr_of(up), n), "swiglu");
}

/* The decode step's gate, up and SwiGLU as one GEMV launch (matmul_swiglu.cu), where it takes the pair; the same bits
 * as cuda_matmul then cuda_swiglu. MISTRAL_CUDA_FUSE_SWIGLU=0 declines it (read at each call, so a test can run both
 * paths in one process; a recorded decode step keeps the path it was recorded with). */
static int cuda_gate_up_swiglu(mst_context *ctx, const mst_weight *gate, const mst_weight *up, const float *x,
                               uint32_t n_tokens, float *out)
{
    const char *env = getenv("MISTRAL_CUDA_FUSE_SWIGLU");
    if (env && strcmp(env, "0") == 0)
        return 0;
    cuda_ctx *s = cstate(ctx);
    const mst_cuda_weight g = dev_weight(gate), u = dev_weight(up);
    if (!mst_cuda_gate_up_swiglu_takes(&g, &u, dptr_of(x), s->mm_scratch, n_tokens))
        return 0;
    if (mst_backend_failed(ctx))
        return 1; /* taken, and skipped like every op after a failure */
    const mst_status st = mst_cuda_gate_up_swiglu(s->dev, &g, &u, dptr_of(out), dptr_of(x), n_tokens, s->mm_scratch);
    if (st != MST_OK)
        op_failed(ctx, st, "gate_up_swiglu");
    return 1;
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
        if (st == MST_OK && s->nonfinite_queued) /* the step's answers, ready with the logits */
            st = mst_dev_download(s->dev, s->answers, s->step, sizeof s->answers);
        if (st != MST_OK)
            op_failed(ctx, st, "end (logits download)");
    } else {
        (void)mst_dev_sync(s->dev); /* the queued work still finishes before the caller reuses its arrays */
    }
    return ctx->pass_status;
}

/* mst_decode_greedy's end: argmax.cu picks the id from the logits row on the device (after the pass or the recorded
 * step's replay: it is not part of the recording, so a graph serves both ends), then one download of the step's
 * words brings back the id, the first non-finite logit and the hidden state's check together: 32 bytes and the one
 * wait of the pass, instead of n_vocab floats. The value of a non-finite logit is fetched only when there is one. */
static mst_status cuda_end_greedy(mst_context *ctx, const float *buf, mst_greedy_answer *out)
{
    cuda_ctx *s = cstate(ctx);
    out->id = 0, out->bad = -1, out->bad_value = 0.0f;
    if (mst_backend_failed(ctx)) {
        (void)mst_dev_sync(s->dev); /* the queued work still finishes before the caller reuses its arrays */
        return ctx->pass_status;
    }
    mst_status st = mst_cuda_argmax(s->dev, dptr_of(buf), ctx->model->cfg.n_vocab,
                                    s->step + CUDA_STEP_ARGMAX * sizeof(int32_t));
    if (st == MST_OK) /* the answers of argmax.cu and nonfinite.cu (when queued); waits for the pass */
        st = mst_dev_download(s->dev, s->answers, s->step, sizeof s->answers);
    if (st == MST_OK) {
        out->id = s->answers[CUDA_STEP_ARGMAX];
        const int32_t bad = s->answers[CUDA_STEP_ARGMAX + 1];
        if (bad != INT32_MAX) {
            out->bad = bad;
            st = mst_dev_download(s->dev, &out->bad_value, dptr_of(buf) + (uint64_t)bad * sizeof(float), sizeof(float));
        }
    }
    if (st != MST_OK)
        op_failed(ctx, st, "end (greedy id download)");
    return ctx->pass_status;
}

/* Every layer's output under MST_CONTEXT_CHECK_LAYERS: downloaded through the context's host buffer and scanned
 * there (a wait per layer, which that flag accepts). The output layer's input, checked on every pass, goes to a
 * kernel instead (cuda_queue_nonfinite), so a pass has one wait and a decode step can be one recorded graph. */
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

/* The output layer's input checked by a kernel (nonfinite.cu) whose answer end() downloads with the logits. */
static void cuda_queue_nonfinite(mst_context *ctx, const float *x, uint64_t n)
{
    if (mst_backend_failed(ctx))
        return;
    cuda_ctx *s = cstate(ctx);
    if (n > INT32_MAX) {
        mst_backend_fail(ctx, MST_ERR_INVALID_ARGUMENT, "CUDA find_nonfinite: %llu values", (unsigned long long)n);
        return;
    }
    OP_CHECK(mst_cuda_find_nonfinite(s->dev, dptr_of(x), (uint32_t)n, s->step + CUDA_STEP_BAD * sizeof(int32_t)),
             "find_nonfinite");
    s->nonfinite_queued = 1;
}

static int64_t cuda_nonfinite_answer(mst_context *ctx)
{
    const cuda_ctx *s = cstate(ctx);
    if (!s->nonfinite_queued || s->answers[CUDA_STEP_BAD] < 0)
        return -1;
    return (int64_t)INT32_MAX - s->answers[CUDA_STEP_BAD];
}

/* ---- the MoE feed-forward of a decode step on the device (backend.h moe_ffn; kernels: moe_gate.cu, matmul_moe.cu) ----
 * Router logits -> mst_cuda_moe_gate_flagged (ids and weights stay in s->chosen / s->chosen_w) -> mst_cuda_moe_experts
 * (gate/up/swiglu for every chosen expert in one launch, down and the weighted sum in another). No download, so a
 * decode step that takes it can be one recorded graph (backend_cuda_graph.c): the non-finite router flag is a step
 * word (CUDA_STEP_MOE) that begin() resets and end() brings back with the logits (cuda_moe_nonfinite). Buffers: the
 * hidden rows go to ctx->hb (n * n_used rows of n_ff: taken only where n * n_used <= n_batch), the rounded
 * activations to the matmul scratch. */

static mst_cuda_moe_args moe_args(mst_context *ctx, const mst_layer *L, uint32_t n)
{
    const mst_model_config *cfg = &ctx->model->cfg;
    cuda_ctx *s = cstate(ctx);
    mst_cuda_moe_args a;
    memset(&a, 0, sizeof a);
    a.gate = dev_weight(&L->w_gate), a.up = dev_weight(&L->w_up), a.down = dev_weight(&L->w_down);
    a.n_expert = cfg->n_expert, a.n_used = cfg->n_expert_used, a.n_tokens = n;
    a.x = dptr_of(ctx->xb), a.chosen = s->chosen, a.weights = s->chosen_w;
    a.hidden = dptr_of(ctx->hb), a.scratch = s->mm_scratch, a.y = dptr_of(ctx->xb2);
    return a;
}

/* Whether every layer's experts and this batch fit the device path: a pass takes it in all its layers or none, so
 * the flag its first layer resets is the pass's own. */
int mst_cuda_moe_ffn_takes(mst_context *ctx, uint32_t n)
{
    const mst_model *m = ctx->model;
    const mst_model_config *cfg = &m->cfg;
    uint32_t widest = cfg->n_embd > m->q_dim ? cfg->n_embd : m->q_dim;
    widest = cfg->n_ff > widest ? cfg->n_ff : widest;
    if (n == 0 || n > MST_CUDA_MOE_MAX_TOKENS || (uint64_t)n * cfg->n_expert_used > ctx->n_batch || cfg->n_layer > 32767 ||
        mst_cuda_moe_experts_scratch_bytes(cfg->n_embd, cfg->n_ff, n, cfg->n_expert_used) >
            mst_cuda_matmul_scratch_bytes(widest, ctx->n_batch))
        return 0;
    for (uint32_t l = 0; l < cfg->n_layer; l++) {
        const mst_cuda_moe_args a = moe_args(ctx, &m->layers[l], n);
        if (!mst_cuda_moe_experts_supported(&a.gate, &a.up, &a.down, n, a.n_used))
            return 0;
    }
    return 1;
}

static int cuda_moe_ffn(mst_context *ctx, const mst_layer *L, uint32_t n)
{
    if (!mst_cuda_moe_ffn_takes(ctx, n))
        return 0;
    if (mst_backend_failed(ctx))
        return 1; /* taken, and skipped like every op after a failure */
    cuda_ctx *s = cstate(ctx);
    const mst_model_config *cfg = &ctx->model->cfg;
    const uint32_t layer = (uint32_t)(L - ctx->model->layers);
    s->moe_ran = 1;
    const mst_status st = mst_cuda_moe_gate_flagged(s->dev, dptr_of(ctx->router), n, cfg->n_expert, cfg->n_expert_used,
                                                    s->chosen, s->chosen_w, s->step + CUDA_STEP_MOE * sizeof(int32_t),
                                                    layer, layer == 0);
    if (st != MST_OK) {
        op_failed(ctx, st, "moe_ffn (gate)");
        return 1;
    }
    const mst_cuda_moe_args a = moe_args(ctx, L, n);
    const mst_status st2 = mst_cuda_moe_experts(s->dev, &a);
    if (st2 != MST_OK)
        op_failed(ctx, st2, "moe_ffn (experts)");
    return 1;
}

/* The flag of this pass's device MoE op (0 for a pass that did not run it, whose flag word is begin()'s reset):
 * after end(), as end() downloaded it with the step's other words; asked before (MST_CONTEXT_CHECK_LAYERS checks
 * each layer, tests check mid-pass), or where end() did not bring it, a download of its own, which waits. */
static int cuda_moe_nonfinite(mst_context *ctx, uint32_t *layer, uint32_t *token)
{
    cuda_ctx *s = cstate(ctx);
    if (mst_backend_failed(ctx) || !s->moe_ran)
        return 0;
    int32_t flag = s->answers[CUDA_STEP_MOE];
    if (flag < 0) {
        const mst_status st = mst_dev_download(s->dev, &flag, s->step + CUDA_STEP_MOE * sizeof(int32_t), sizeof flag);
        if (st != MST_OK) {
            op_failed(ctx, st, "moe_ffn (router check download)");
            return 0;
        }
    }
    if (flag == INT32_MAX)
        return 0;
    *layer = (uint32_t)flag >> 16, *token = (uint32_t)flag & 0xffffu;
    return 1;
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
    .gate_up_swiglu = cuda_gate_up_swiglu,
    .add = cuda_add,
    .moe_gate = cuda_moe_gate,
    .gather = cuda_gather,
    .scatter_add = cuda_scatter_add,
    .zero = cuda_zero,
    .moe_ffn = cuda_moe_ffn,
    .moe_nonfinite = cuda_moe_nonfinite,
    .logits_buffer = cuda_logits_buffer,
    .end = cuda_end,
    .end_greedy = cuda_end_greedy,
    .find_nonfinite = cuda_find_nonfinite,
    .queue_nonfinite = cuda_queue_nonfinite,
    .nonfinite_answer = cuda_nonfinite_answer,
    .graph_begin = mst_cuda_graph_begin,
    .graph_end = mst_cuda_graph_end,
};
