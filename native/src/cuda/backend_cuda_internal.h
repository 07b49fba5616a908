/* backend_cuda_internal.h — what the files of the CUDA backend share; private to native/src/cuda/backend_cuda_*.c.
 *
 * The backend: backend.h on a CUDA device (device.h: the NVIDIA driver, or the SIMT emulator): the weights
 * uploaded once at model creation (backend_cuda_model.c), the KV cache (f16) and every scratch buffer of a
 * context in device memory (backend_cuda_context.c), each op one or a few kernel launches (kernels.h) queued on
 * the device's stream (backend_cuda_ops.c). The host waits only where a result must come back: the generic
 * MoE path's routing (moe_gate) and the logits (end). A decode step is recorded once as a graph and replayed
 * (backend_cuda_graph.c).
 *
 * Device addresses stand in for the host pointers of mst_model and mst_context (mst_weight.data, the norm
 * pointers, ctx->x ...): forward.c computes offsets from them and hands them back here, never dereferencing
 * them. The model's mst_weight fields are rewritten to describe the uploaded tensor (type and row_bytes after
 * conversion), so that mst_expert_slice's data + e * rows * row_bytes lands on expert e on the device too.
 *
 * Failures: model_init and context_init check the device's free memory before allocating anything and fail
 * with the numbers; a failing op records the first failure (mst_backend_fail) and every later op of the pass
 * is skipped. */
#ifndef MST_CUDA_BACKEND_CUDA_INTERNAL_H
#define MST_CUDA_BACKEND_CUDA_INTERNAL_H

#include <stdint.h>

#include "device.h"
#include "internal.h"

/* ---- device memory (backend_cuda_memory.c) ---- */

/* "12.3 MiB", "4.21 GiB": enough digits to compare two sizes in one message. */
const char *mst_cuda_fmt_bytes(uint64_t b, char *buf, size_t cap);

/* What a model or a context may take of the device's free memory. */
uint64_t mst_cuda_usable(uint64_t free_bytes);

/* A list of device allocations, freed together. */
typedef struct alloc_list {
    mst_dptr *p;
    uint32_t n, cap;
} alloc_list;

mst_status mst_cuda_list_alloc(mst_dev *d, alloc_list *l, uint64_t bytes, mst_dptr *out);
/* Host bytes of a list holding n allocations (its array grows by doubling), counted with mst_alloc_bound. */
uint64_t mst_cuda_list_bytes(uint32_t n);
void mst_cuda_list_free(mst_dev *d, alloc_list *l);

static inline mst_dptr dptr_of(const void *p)
{
    return (mst_dptr)(uintptr_t)p;
}

static inline void *ptr_of(mst_dptr p)
{
    return (void *)(uintptr_t)p;
}

/* ---- the model: weights on the device (backend_cuda_model.c) ---- */

typedef struct cuda_model {
    mst_dev *dev;
    alloc_list allocs;
    mst_dev_desc desc;
    uint64_t weight_bytes; /* device bytes of the weights and norms */
} cuda_model;

mst_status mst_cuda_model_init(mst_model *m, const mst_model_params *params);
void mst_cuda_model_free(mst_model *m);
/* Device bytes model_init allocates for m (weights after conversion, and the norms) and how many allocations, from
 * the weights' types and shapes alone (a skeleton's NULL data is never read); fails like model_init for a weight
 * type the kernels cannot read. */
mst_status mst_cuda_model_device_bytes(mst_model *m, uint64_t *out_bytes, uint32_t *out_allocs);
/* Host bytes model_init keeps for a model of n_allocs device allocations, counted with mst_alloc_bound. */
uint64_t mst_cuda_model_host_bytes(uint32_t n_allocs);

/* ---- the context: KV cache and scratch on the device (backend_cuda_context.c) ---- */

/* The step buffer's words before the tokens (cuda_ctx.step). */
enum { CUDA_STEP_POS = 0, CUDA_STEP_BAD = 1, CUDA_STEP_ARGMAX = 2, CUDA_STEP_MOE = 4, CUDA_STEP_WORDS = 8 };

typedef struct cuda_ctx {
    mst_dev *dev; /* the model's */
    alloc_list allocs;
    mst_dptr k_cache, v_cache; /* f16 [n_layer][kv_slots][kv_dim] */
    mst_dptr logits;           /* [n_batch][n_vocab] floats */
    /* step: int32 [CUDA_STEP_WORDS + n_batch], the pass's values that kernels read from device memory so that a
     * recorded decode step (a CUDA graph) keeps its arguments: [CUDA_STEP_POS] the position n_past,
     * [CUDA_STEP_BAD] the output layer input's non-finite answer (nonfinite.cu), [CUDA_STEP_ARGMAX] 2 words
     * (argmax.cu), [CUDA_STEP_MOE] the device MoE op's non-finite router flag (moe_gate.cu, cuda_moe_ffn), then
     * the tokens (CUDA_STEP_WORDS keeps them 16-byte aligned). begin() uploads the step's words and the tokens in
     * one go, and end() brings the words back with the logits, so neither answer costs a wait of its own. */
    mst_dptr step;
    mst_dptr tokens;           /* = step + CUDA_STEP_WORDS words: [n_batch] int32 */
    mst_dptr rows, row_w;      /* [n_batch] int32 / float: a gather's or scatter's rows and weights */
    mst_dptr chosen, chosen_w; /* [n_batch][n_expert_used] int32 / float (moe_gate) */
    mst_dptr mm_scratch;       /* mst_cuda_matmul_scratch_bytes(widest input, n_batch) */
    mst_dptr attn_scratch;     /* mst_cuda_attention_scratch_bytes(n_batch, n_head, head_dim, kv_slots) */
    /* the rows (and weights) now in rows/row_w, so a scatter after the gather of the same group uploads none */
    int32_t *rows_host;
    float *row_w_host;
    uint32_t rows_n, row_w_n; /* entries valid; 0: none */
    float *check_host;        /* [CUDA_CHECK_CHUNK] host buffer of find_nonfinite's downloads */
    int32_t *step_host;       /* [CUDA_STEP_WORDS + n_batch]: what begin() uploads */
    int32_t answers[CUDA_STEP_WORDS]; /* the step's words as end() downloaded them */
    int nonfinite_queued;     /* queue_nonfinite ran this pass: end() brings back its answer */
    /* the device MoE op (cuda_moe_ffn) ran in this pass, so the flag at CUDA_STEP_MOE is this pass's; graph_moe_ran:
     * the recording holds it, so a replay sets moe_ran */
    int moe_ran, graph_moe_ran;
    /* the recorded decode step (backend_cuda_graph.c): graph once recorded; graphs_off once known unusable for
     * this context (the reason in graphs_off_why, for diagnostics) */
    mst_dev_graph *graph;
    int graphs_off;
    const char *graphs_off_why;
} cuda_ctx;



/* Whether cuda_moe_ffn takes a pass of n tokens (every MoE layer's expert types and the context's buffers; a
 * pass takes it in all its layers or in none): the graph recorder asks it for n = 1. */
int mst_cuda_moe_ffn_takes(mst_context *ctx, uint32_t n);

/* Floats find_nonfinite downloads at a time (a decode's hidden state is one chunk). */
#define CUDA_CHECK_CHUNK (1u << 16)

static inline cuda_ctx *cstate(mst_context *ctx)
{
    return ctx->backend_state;
}

static inline mst_dev *cdev(mst_context *ctx)
{
    return cstate(ctx)->dev;
}

/* ---- the decode step as one graph (backend_cuda_graph.c): backend.h's graph_begin / graph_end ----
 * Off for the context (every pass then runs op by op, with the same results) under MISTRAL_CUDA_GRAPHS=0, on a
 * driver without graphs, for a mixture of experts whose decode the device MoE op does not take (the generic path's
 * routing comes back to the host mid-pass), with MST_CONTEXT_CHECK_LAYERS (a download per layer), and after a
 * recording failed. */
int mst_cuda_graph_begin(mst_context *ctx, uint32_t n, int all_logits);
int mst_cuda_graph_end(mst_context *ctx);

mst_status mst_cuda_context_init(mst_context *ctx, uint32_t n_threads);
void mst_cuda_context_free(mst_context *ctx);

/* The device buffers of a context, by index (context_init allocates those of nonzero size). */
enum { CUDA_BUF_KC, CUDA_BUF_VC, CUDA_BUF_X, CUDA_BUF_XB, CUDA_BUF_XB2, CUDA_BUF_Q, CUDA_BUF_K, CUDA_BUF_V,
       CUDA_BUF_ATT, CUDA_BUF_HB, CUDA_BUF_HB2, CUDA_BUF_ROUTER, CUDA_BUF_XG, CUDA_BUF_LOGITS, CUDA_BUF_TOKENS,
       CUDA_BUF_ROWS, CUDA_BUF_ROW_W, CUDA_BUF_CHOSEN, CUDA_BUF_CHOSEN_W, CUDA_BUF_MM, CUDA_BUF_ATTN, CUDA_N_BUF };
/* Their sizes for a planned context (mst_context_plan): the one place they are written. */
void mst_cuda_context_sizes(const mst_context *ctx, uint64_t size[CUDA_N_BUF]);
/* Host bytes context_init keeps for ctx, counted with mst_alloc_bound. */
uint64_t mst_cuda_context_host_bytes(const mst_context *ctx);
/* MST_OK for the KV cache types this backend holds (F16), else MST_ERR_UNSUPPORTED naming the type. */
mst_status mst_cuda_check_kv_type(int32_t kv_type);
/* The backend's estimate hook (backend.h; backend_cuda_estimate.c). */
mst_status mst_cuda_estimate(const mst_context *ctx, uint32_t n_threads, mst_memory_estimate *out);

#endif
