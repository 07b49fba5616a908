/* backend_cuda_internal.h — what the files of the CUDA backend share; private to native/src/cuda/backend_cuda_*.c.
 *
 * The backend: backend.h on a CUDA device (device.h: the NVIDIA driver, or the SIMT emulator): the weights
 * uploaded once at model creation (backend_cuda_model.c), the KV cache (f16) and every scratch buffer of a
 * context in device memory (backend_cuda_context.c), each op one or a few kernel launches (kernels.h) queued on
 * the device's stream (backend_cuda_ops.c). The host waits only where a result must come back: the MoE routing
 * (moe_gate) and the logits (end).
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

typedef struct cuda_ctx {
    mst_dev *dev; /* the model's */
    alloc_list allocs;
    mst_dptr k_cache, v_cache; /* f16 [n_layer][kv_slots][kv_dim] */
    mst_dptr logits;           /* [n_batch][n_vocab] floats */
    mst_dptr tokens;           /* [n_batch] int32 */
    mst_dptr rows, row_w;      /* [n_batch] int32 / float: a gather's or scatter's rows and weights */
    mst_dptr chosen, chosen_w; /* [n_batch][n_expert_used] int32 / float (moe_gate) */
    mst_dptr mm_scratch;       /* mst_cuda_matmul_scratch_bytes(widest input, n_batch) */
    mst_dptr attn_scratch;     /* mst_cuda_attention_scratch_bytes(n_batch, n_head, head_dim, kv_slots) */
    /* the rows (and weights) now in rows/row_w, so a scatter after the gather of the same group uploads none */
    int32_t *rows_host;
    float *row_w_host;
    uint32_t rows_n, row_w_n; /* entries valid; 0: none */
    float *check_host;        /* [CUDA_CHECK_CHUNK] host buffer of find_nonfinite's downloads */
} cuda_ctx;

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
