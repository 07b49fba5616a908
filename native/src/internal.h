/* internal.h — what the ABI files share: error reporting, overflow-checked sizes, model and context. */
#ifndef MST_INTERNAL_H
#define MST_INTERNAL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "mistral.h"
#include "backend.h"

/* Thread-local message for mst_last_error(); every ABI entry clears it first. */
void mst_clear_error(void);
/* Records a message and returns `status`, so a failure is one line: return mst_fail(...). */
mst_status mst_fail(mst_status status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Products of sizes that come from callers: 0 on overflow, so no size can wrap silently. */
static inline int mst_mul_u64(uint64_t a, uint64_t b, uint64_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}
static inline int mst_add_u64(uint64_t a, uint64_t b, uint64_t *out)
{
    return !__builtin_add_overflow(a, b, out);
}

/* A matrix as the kernels see it: rows of `cols` elements of `type`, row_bytes apart. */
typedef struct mst_weight {
    int32_t type;
    const uint8_t *data;
    uint32_t rows;
    uint32_t cols;
    size_t row_bytes;
    int32_t layout; /* MST_LAYOUT_*: how data is laid out (weights_repack.c) */
    uint32_t flags; /* mst_tensor_flag bits of the tensor it came from */
} mst_weight;

#define MST_LAYOUT_GGUF 0    /* rows as in the file */
#define MST_LAYOUT_Q4_0X16 1 /* Q4_0 interleaved 16 rows at a time (cpu/repack.h) */
#define MST_LAYOUT_Q8_0X16 2 /* Q8_0 interleaved 16 rows at a time (cpu/repack.h) */
#define MST_LAYOUT_F16X16 3  /* F16 interleaved 16 rows at a time, one column's 16 values together (cpu/repack.h) */
#define MST_LAYOUT_BF16X16 4 /* BF16 the same way */
#define MST_LAYOUT_Q4_KX16 5 /* Q4_K interleaved 16 rows at a time, one super-block's 16 blocks per unit (cpu/repack_k.h) */
#define MST_LAYOUT_Q6_KX16 6 /* Q6_K the same way */
#define MST_LAYOUT_BF16X16P 16 /* BF16, 16 rows at a time, a column pair per 32-bit lane (cpu/quant_act_bf16.h);
                               * numbered apart from the x16 layouts above so those can grow without a clash */

typedef struct mst_layer {
    const float *attn_norm; /* [n_embd] */
    mst_weight wq;          /* [n_embd -> n_head*head_dim] */
    mst_weight wk;          /* [n_embd -> n_head_kv*head_dim] */
    mst_weight wv;          /* [n_embd -> n_head_kv*head_dim] */
    mst_weight wo;          /* [n_head*head_dim -> n_embd] */
    const float *ffn_norm;  /* [n_embd] */
    /* Dense: the feed-forward matrices. MoE: expert 0's matrix of each stacked tensor; expert e's
     * starts e * rows * row_bytes further (mst_expert_slice). */
    mst_weight w_gate;      /* [n_embd -> n_ff] */
    mst_weight w_up;        /* [n_embd -> n_ff] */
    mst_weight w_down;      /* [n_ff -> n_embd] */
    mst_weight router;      /* MoE only: [n_embd -> n_expert] */
} mst_layer;

/* Expert e's matrix within a stacked [cols, rows, n_expert] tensor. */
static inline mst_weight mst_expert_slice(const mst_weight *w, uint32_t e)
{
    mst_weight s = *w;
    s.data = w->data + (size_t)e * w->rows * w->row_bytes;
    return s;
}

struct mst_model {
    mst_model_config cfg;
    uint32_t q_dim;  /* n_head * head_dim */
    uint32_t kv_dim; /* n_head_kv * head_dim */
    mst_weight tok_embd;     /* [n_embd, n_vocab]: row = one token's embedding */
    const float *output_norm; /* [n_embd] */
    mst_weight output;       /* [n_embd -> n_vocab]; a copy of tok_embd when tied */
    mst_layer *layers;       /* [n_layer] */
    float *norms;            /* owned float32 copies of every norm weight, whatever their file type */
    void *repacked;          /* owned copies of the weights repacked at load (weights_repack.c), or NULL */
    size_t repacked_bytes;   /* the size of that block, for mst_os_free_large */
    uint32_t *windows;       /* [n_layer] sliding window per layer, 0 = full attention */
    int tied_output;         /* no OUTPUT tensor: output reads tok_embd's (compared by flag: a skeleton's data may be NULL) */
    const mst_backend *backend; /* where the weights live and the forward pass runs (backend.h) */
    void *backend_state;        /* the backend's own (CUDA: the device and its allocations) */
    /* One reference for the caller, one per context: mst_model_free while contexts live only
     * drops the caller's, and the last context to go frees the model. */
    atomic_uint refs;
    atomic_int caller_released;
};

/* weights_repack.c: repacks the weights the best kernels prefer (never fails: without memory, or with
 * MISTRAL_REPACK=0 in the environment, the file's layout is kept). progress (may be NULL) hears the fraction of
 * the bytes repacked after each matrix, below 1: the caller reports 1 when all of loading is done. */
void mst_model_repack(mst_model *model, mst_progress_fn progress, void *progress_user_data);
/* The heap bytes mst_model_repack takes for this model (0: none), from the weights' types and shapes alone (data
 * is not read), counted with mst_alloc_bound. */
uint64_t mst_model_repack_bytes(const mst_model *model);
/* The bytes of the caller's tensors that mst_model_repack copies and then no longer reads (within 64 bytes a
 * matrix): what leaves the in-place weights. Reads no data; leaves the model as it was. */
uint64_t mst_model_repack_copied(mst_model *model);

/* model.c: every check mst_model_create(_with) makes, and the model they describe, with no tensor data read: the
 * weights keep the descriptors' data pointers (NULL allowed), no norm is copied and no backend places anything
 * (m->backend stays NULL; *out_backend is the one params ask for). For mst_estimate_memory; freed with
 * mst_model_free_skeleton. */
mst_status mst_model_skeleton(const char *fn, const mst_model_config *config, const mst_tensor_desc *tensors,
                              uint32_t n_tensors, const mst_model_params *params, const mst_backend **out_backend,
                              mst_model **out_model);
void mst_model_free_skeleton(mst_model *model);
/* Heap bytes model.c itself keeps for a model of this config (the struct, the layer and window tables, the float32
 * norm copies), counted with mst_alloc_bound. */
uint64_t mst_model_host_bytes(const mst_model_config *config);

void mst_model_retain(mst_model *model);
void mst_model_release(mst_model *model);

struct mst_context {
    mst_model *model;
    const mst_backend *backend; /* = model->backend */
    void *backend_state;        /* the backend's own (CPU: thread pool, quantized-activation cache, ...) */
    uint32_t n_ctx;
    uint32_t n_batch;
    uint32_t n_past;
    uint32_t flags;  /* mst_context_flag bits */
    int32_t kv_type; /* mst_type of the KV cache (the backend's context_init refuses one it cannot hold) */
    /* KV slots per layer. Position p lives in slot p % kv_slots; without rolling kv_slots = n_ctx
     * and positions never reach it, so that is the identity. */
    uint32_t kv_slots;
    uint32_t max_pos;   /* positions allowed: n_ctx, or INT32_MAX when rolling */
    uint32_t max_chunk; /* most tokens one forward step takes: n_batch, or less so the ring keeps the window */
    int rolling;
    uint32_t kv_high;   /* one past the highest position ever written (truncate does not lower it) */
    atomic_int busy; /* one call at a time; a second concurrent one gets MST_ERR_BUSY */
    /* mst_context_set_abort: 1 asks the running (and any later) mst_decode to stop. Written from any thread
     * without the busy claim and read with relaxed loads: it carries no data, only "stop soon", and a pass
     * that saw it reports MST_ERR_CANCELLED however the flag changes afterwards (threadpool.h). */
    atomic_int abort;
    /* The first failure of the running pass (backend.h: mst_backend_fail); MST_OK while none. */
    mst_status pass_status;
    char pass_error[512];
    /* The first row of the running pass that the last layer's feed-forward block computes (forward.c): n - 1
     * when only the last token's logits are asked for, else 0. Error messages about that block add it. */
    uint32_t last_ffn_row0;
    /* Scratch for n_batch tokens, allocated by the backend (backend memory: see backend.h), so a decode
     * never allocates. */
    float *x;      /* [n_batch][n_embd] residual stream */
    float *xb;     /* [n_batch][n_embd] normed input of a block */
    float *xb2;    /* [n_batch][n_embd] output of a block before the residual add */
    float *q;      /* [n_batch][q_dim] */
    float *k;      /* [n_batch][kv_dim] new keys, before they go into the cache */
    float *v;      /* [n_batch][kv_dim] new values */
    float *att;    /* [n_batch][q_dim] attention output */
    float *hb;     /* [n_batch][n_ff] gate, then silu(gate)*up */
    float *hb2;    /* [n_batch][n_ff] up */
    /* mixture of experts only (NULL for dense models) */
    float *router;      /* [n_batch][n_expert] router logits (backend memory) */
    float *xg;          /* [n_batch][n_embd] gathered inputs, then that expert's outputs (backend memory) */
    int32_t *chosen;    /* [n_batch][n_expert_used] chosen experts per token (host, context.c) */
    float *chosen_w;    /* [n_batch][n_expert_used] their weights (host) */
    int32_t *group;     /* [n_batch] tokens routed to the expert being run (host) */
    float *group_w;     /* [n_batch] their weights for that expert (host) */
    /* mst_decode_greedy's host logits row [n_vocab] (context.c): where a backend whose logits_buffer is the host's
     * (the CPU) writes them, or end() copies them when the backend has no end_greedy */
    float *greedy_logits;
};

/* context.c: checks params as mst_context_create does and sets c's geometry from them and the model (model, n_ctx,
 * n_batch, flags, kv_type, the cache plan: see "Rolling cache" in mistral.h) and *n_threads (0 asked: the default).
 * Nothing else of c is touched and nothing is allocated. */
mst_status mst_context_plan(mst_context *c, mst_model *model, const mst_context_params *params, uint32_t *n_threads);
/* Heap bytes context.c itself keeps for a planned context (the struct, the MoE routing arrays), counted with
 * mst_alloc_bound. */
uint64_t mst_context_host_bytes(const mst_context *c);

/* memory_estimate.c: an upper bound of the heap one allocation of `bytes` aligned to `align` (0: malloc's own)
 * holds: the block, its header, rounding to whole pages when the allocator maps it on its own, and for a wider
 * alignment the slack an aligned allocator may keep in front of it. Estimates add this per allocation, so that
 * they bound what the allocator hands out, not only what the code asks for. */
uint64_t mst_alloc_bound(uint64_t bytes, uint64_t align);

/* usable_cpus.c: the CPUs this process may run on (affinity mask, capped by the cgroup CPU quota), at least 1;
 * and the quota alone, as whole CPUs rounded up (0: none), read from the given cgroup v2 / v1 files. */
uint32_t mst_usable_cpus(void);
uint32_t mst_cgroup_cpu_quota(const char *cpu_max_path, const char *v1_quota_path, const char *v1_period_path);

/* Index of the first NaN or Inf among x[0..n) (host memory), or -1. Tests the exponent bits rather than calling
 * isfinite(), so that no floating-point compiler option can fold the check away. */
static inline int64_t mst_find_nonfinite(const float *x, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        union { float f; uint32_t u; } v = {x[i]};
        if ((v.u & 0x7f800000u) == 0x7f800000u)
            return (int64_t)i;
    }
    return -1;
}

/* Allocates count elements of `size` bytes, checking the product; NULL on overflow or OOM. */
void *mst_alloc_array(uint64_t count, size_t size);

/* Whether mst_context_set_abort asked the context to stop (a relaxed load). */
static inline int mst_abort_requested(const mst_context *ctx)
{
    return atomic_load_explicit(&ctx->abort, memory_order_relaxed) != 0;
}

/* Runs the model over n tokens at positions n_past.. and writes logits (host memory). Arguments are
 * already validated; it never allocates. Fails where the backend can (a device error), on NaN/Inf, and with
 * MST_ERR_CANCELLED once the abort flag is seen (between layers, or by the backend inside an op). */
mst_status mst_forward(mst_context *ctx, const int32_t *tokens, uint32_t n_tokens, int all_logits,
                       float *logits);
/* mst_forward with all_logits = 0 that ends with the backend's end_greedy (it must have one): the last token's greedy
 * id and non-finite answer into *out instead of logits. host: n_vocab floats of host memory for a backend whose
 * logits_buffer is the host's. */
mst_status mst_forward_greedy(mst_context *ctx, const int32_t *tokens, uint32_t n_tokens, float *host,
                              mst_greedy_answer *out);

/* The id a greedy sampler picks from x[0..n) (n > 0): TokenSampler.ArgMax's rule in C# and argmax.cu's on the device.
 * Scans in order and takes only a strictly greater value, so ties keep the lowest id and a NaN never replaces the
 * best (every comparison with it is false; a NaN at 0 is never replaced). */
static inline int32_t mst_argmax_logits(const float *x, uint32_t n)
{
    uint32_t best = 0;
    for (uint32_t i = 1; i < n; i++)
        if (x[i] > x[best])
            best = i;
    return (int32_t)best;
}

#endif
