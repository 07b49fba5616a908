/* backend.h — the operations one forward pass needs, implemented once per backend:
 * cpu/backend_cpu.c (the thread pool and the SIMD kernels) and cuda/backend_cuda_*.c (device kernels).
 * forward.c writes the model's math against this table and nothing else.
 *
 * Buffers. The activation buffers of a context (mst_context.x, .xb, ...) and the weights of a model
 * (mst_weight.data, the norm vectors) belong to the backend: host memory on the CPU, device addresses on
 * CUDA. forward.c computes offsets into them (row t of x is x + t * n_embd) but never reads or writes
 * through them. Arrays the ops take as "host" are ordinary host memory on every backend.
 *
 * Failure. Ops return nothing. A backend that can fail in the middle of a pass (a CUDA error) records its
 * first failure with mst_backend_fail() and skips every later op; mst_forward then returns that status.
 * The CPU backend fails only when cancelled: an op whose pool run was cut short by the context's abort flag
 * (threadpool.h) records MST_ERR_CANCELLED. Backends need not watch the flag themselves: mst_forward checks it
 * between layers.
 *
 * Positions. A pass runs n tokens at positions ctx->n_past .. ctx->n_past + n - 1; token t of the batch is
 * at position n_past + t. A layer's KV cache has ctx->kv_slots rows; position p lives in row p % kv_slots. */
#ifndef MST_BACKEND_H
#define MST_BACKEND_H

#include <stdint.h>

#include "mistral.h"

typedef struct mst_model mst_model;
typedef struct mst_context mst_context;
typedef struct mst_weight mst_weight;
typedef struct mst_layer mst_layer;

/* end_greedy's answer (below). */
typedef struct mst_greedy_answer {
    int32_t id;         /* the greedy id */
    int64_t bad;        /* the first non-finite logit's index, or -1 */
    float bad_value;    /* that logit (NaN, +Inf or -Inf), for the message */
} mst_greedy_answer;

typedef struct mst_backend {
    const char *name; /* "cpu", "cuda" */

    /* ---- lifecycle ---- */
    /* After model.c has checked every tensor (host pointers into the caller's memory): place the weights
     * where this backend's kernels read them (CPU: repack; CUDA: check device memory, then upload, reporting
     * progress), rewriting the model's mst_weight.data and norm pointers. On failure nothing stays allocated. */
    mst_status (*model_init)(mst_model *m, const mst_model_params *params);
    void (*model_free)(mst_model *m);
    /* Allocates the KV cache and the scratch buffers of mst_context (sizes from ctx->n_batch and
     * ctx->kv_slots, already set) and the backend's own state (ctx->backend_state). On failure nothing
     * stays allocated and the message names the sizes. */
    mst_status (*context_init)(mst_context *ctx, uint32_t n_threads);
    void (*context_free)(mst_context *ctx);
    /* CPU: a new thread pool; other backends accept and ignore it. */
    mst_status (*set_threads)(mst_context *ctx, uint32_t n_threads);
    /* mst_estimate_memory's part of this backend: what model_init, then context_init(ctx, n_threads), would allocate,
     * from sizes alone. ctx is planned (mst_context_plan) but owns nothing; ctx->model is a skeleton (model.c), whose
     * weights carry the file's types and shapes and possibly NULL data, which must not be read. Fills weights_owned,
     * kv_cache, scratch and device with the backend's own allocations (model.c's and context.c's are added by the
     * caller), refusing what model_init or context_init would refuse for the config or ctx's parameters. */
    mst_status (*estimate)(const mst_context *ctx, uint32_t n_threads, mst_memory_estimate *out);

    /* ---- one forward pass: begin, ops, end ---- */
    /* tokens[n] (host, already validated): the ids embed() reads. */
    void (*begin)(mst_context *ctx, const int32_t *tokens, uint32_t n);
    /* x[t] = the embedding row of tokens[t], as float32 [n_embd], for t < n. */
    void (*embed)(mst_context *ctx, uint32_t n, float *x);
    /* y[r] = x[r] / sqrt(mean(x[r]^2) + eps) * weight, for rows r < rows of n_embd. */
    void (*rmsnorm)(mst_context *ctx, const float *x, const float *weight, uint32_t rows, float *y);
    /* y[i][t] = W[i] x[t] for n_w (1..3) matrices that read the same input x (n_tokens rows of W[i]->cols),
     * y[i] n_tokens rows of W[i]->rows. The activations are rounded for each weight type as llama.cpp does
     * (quantized to 8-bit blocks for quantized weights). No y may alias x. */
    void (*matmul)(mst_context *ctx, const mst_weight *const *w, float *const *y, uint32_t n_w, const float *x,
                   uint32_t n_tokens);
    /* RoPE on x (n_tokens rows of n_heads * head_dim): row t is at position ctx->n_past + t0 + t. */
    void (*rope)(mst_context *ctx, float *x, uint32_t n_tokens, uint32_t n_heads, uint32_t t0);
    /* Stores the batch's K and V rows (n rows of kv_dim each, RoPE applied to K) into layer `layer`'s cache at
     * the rows of their positions (p % kv_slots: a rolling cache wraps). The cache's element type is the
     * backend's (F32 on the CPU, F16 on CUDA). */
    void (*kv_store)(mst_context *ctx, uint32_t layer, const float *k, const float *v, uint32_t n);
    /* Causal GQA attention of the batch's n queries (q: n rows of n_head * head_dim, RoPE applied) over
     * layer `layer`'s cache, keys 0 .. n_past + n - 1, with the layer's sliding window; out like q. */
    void (*attention)(mst_context *ctx, uint32_t layer, const float *q, uint32_t n, float *out);
    /* gate[i] = silu(gate[i]) * up[i] for i < n. */
    void (*swiglu)(mst_context *ctx, float *gate, const float *up, uint64_t n);
    /* Optional (NULL: matmul of {gate, up}, then swiglu). out = silu(gate x) * (up x) for n_tokens rows of x
     * (gate->cols each; out: n_tokens rows of gate->rows, not aliasing x), the bits those two ops give, with no gate
     * or up output in memory. Returns 0, having done nothing, for a case it does not take (the caller then runs the
     * two ops). */
    int (*gate_up_swiglu)(mst_context *ctx, const mst_weight *gate, const mst_weight *up, const float *x,
                          uint32_t n_tokens, float *out);
    /* x[i] += y[i] for i < n. */
    void (*add)(mst_context *ctx, float *x, const float *y, uint64_t n);

    /* ---- mixture of experts ---- */
    /* From router logits (n rows of n_expert): per token the n_expert_used chosen experts, largest logit
     * first (ties: lower index), and their softmax weights, into host arrays chosen/weights (n rows of
     * n_expert_used). The one op whose result comes back to the host: it decides which experts run.
     * A token with a NaN or infinite logit is not routed: all its slots get -1 (weights NaN), and forward.c
     * fails the pass with MST_ERR_NON_FINITE naming the layer and the position. */
    void (*moe_gate)(mst_context *ctx, const float *router_logits, uint32_t n, int32_t *chosen, float *weights);
    /* dst[j] = src[rows[j]] for j < g, rows of `width` floats; rows is host memory. */
    void (*gather)(mst_context *ctx, float *dst, const float *src, const int32_t *rows, uint32_t g, uint32_t width);
    /* dst[rows[j]] += weights[j] * src[j] for j < g; rows and weights are host memory; rows distinct. */
    void (*scatter_add)(mst_context *ctx, float *dst, const float *src, const int32_t *rows, const float *weights,
                        uint32_t g, uint32_t width);
    /* x[i] = 0 for i < n. */
    void (*zero)(mst_context *ctx, float *x, uint64_t n);
    /* Optional (NULL: forward_moe.c's generic path, the ops above). Layer L's whole MoE feed-forward for n tokens
     * with the routing kept in backend memory: from ctx->router (the router logits, computed) and ctx->xb (the
     * normed input) to ctx->xb2, equal to the generic path's result (experts added in ascending id). Returns 0,
     * having done nothing, for a case it does not take (too many tokens, a weight type it lacks): the caller then
     * runs the generic path. A token with non-finite router logits adds nothing to xb2 and is remembered for
     * moe_nonfinite. */
    int (*moe_ffn)(mst_context *ctx, const mst_layer *L, uint32_t n);
    /* With moe_ffn: after the pass's last layer, whether a moe_ffn of this pass met non-finite router logits, and
     * the first such layer and token (the batch's index). A host answer: it waits for the queued work. */
    int (*moe_nonfinite)(mst_context *ctx, uint32_t *layer, uint32_t *token);

    /* ---- logits ---- */
    /* Where the output matmul may write rows * n_vocab logits that end up in host memory `host`: host itself
     * (CPU) or a backend buffer (CUDA). */
    float *(*logits_buffer)(mst_context *ctx, float *host, uint32_t rows);
    /* Ends the pass: copies rows * n_vocab logits from buf to host when they differ, and waits for the
     * device. Returns the pass's status (the first failure recorded, or MST_OK). */
    mst_status (*end)(mst_context *ctx, float *host, const float *buf, uint32_t rows);

    /* ---- checks ---- */
    /* Index of the first NaN/Inf among x[0..n) of backend memory, or -1; a host answer, so it waits for the
     * work queued before it (CUDA: a download). Every pass checks the output layer's input rows (forward.c);
     * MST_CONTEXT_CHECK_LAYERS adds every layer's output. */
    int64_t (*find_nonfinite)(mst_context *ctx, const float *x, uint64_t n);
    /* Optional (NULL: forward.c calls find_nonfinite). The same check of the output layer's input, queued on the
     * backend (a device kernel) instead of answered at once: end() brings the answer back with the logits, and
     * nonfinite_answer() then gives the index or -1. */
    void (*queue_nonfinite)(mst_context *ctx, const float *x, uint64_t n);
    int64_t (*nonfinite_answer)(mst_context *ctx);

    /* ---- a decode step as one recorded graph (optional: NULL for none) ----
     * After begin(): MST_GRAPH_NONE, forward.c queues the pass's ops as usual; MST_GRAPH_REPLAYED, the backend has
     * queued its recording of the whole pass (begin() had put this step's tokens and position where the recording
     * reads them), so forward.c queues no op and goes to end(); MST_GRAPH_CAPTURING, forward.c queues the ops, which
     * the backend records instead of running, then calls graph_end(), which keeps the recording and queues it
     * (returns 1), or, when the recording could not be made, turns recording off for the context and returns 0:
     * forward.c then queues the ops again, run as usual. A backend records only passes whose ops never need the
     * host in between (no MoE routing download, no per-layer check), so the recording is the pass. */
    int (*graph_begin)(mst_context *ctx, uint32_t n, int all_logits);
    int (*graph_end)(mst_context *ctx);

    /* ---- greedy decoding (optional: NULL, context.c runs end() and picks the id from the host logits) ----
     * Ends a pass of one logits row (all_logits = 0) like end(), but brings back only what mst_decode_greedy needs of
     * the n_vocab logits in buf (logits_buffer's): the greedy id (the largest, ties to the lowest id, a NaN never
     * replacing the best: TokenSampler.ArgMax's rule, as mst_argmax_logits), the index of the first NaN/Inf (-1:
     * none) and that value. Returns the pass's status, as end(). */
    mst_status (*end_greedy)(mst_context *ctx, const float *buf, mst_greedy_answer *out);
} mst_backend;

enum { MST_GRAPH_NONE = 0, MST_GRAPH_REPLAYED = 1, MST_GRAPH_CAPTURING = 2 };

extern const mst_backend mst_backend_cpu;  /* cpu/backend_cpu.c */
extern const mst_backend mst_backend_cuda; /* cuda/backend_cuda_ops.c (cuda/off/: a stub that says why, when not built) */
/* mst_backend_query for CUDA (cuda/backend_cuda_query.c): the driver and device 0, or the emulator, or why neither. */
mst_status mst_cuda_query(uint32_t flags, mst_backend_info *out);

/* Records the first failure of a pass (later ones are dropped: the first one is the cause) and returns it;
 * mst_backend_failed() tells ops to skip their work. The message goes to mst_last_error() when the pass
 * ends. */
mst_status mst_backend_fail(mst_context *ctx, mst_status status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int mst_backend_failed(const mst_context *ctx);

#endif
