/* internal.h — what the ABI files share: error reporting, overflow-checked sizes, model and context. */
#ifndef MST_INTERNAL_H
#define MST_INTERNAL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "mistral.h"
#include "threadpool.h"

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
} mst_weight;

typedef struct mst_layer {
    const float *attn_norm; /* [n_embd] */
    mst_weight wq;          /* [n_embd -> n_head*head_dim] */
    mst_weight wk;          /* [n_embd -> n_head_kv*head_dim] */
    mst_weight wv;          /* [n_embd -> n_head_kv*head_dim] */
    mst_weight wo;          /* [n_head*head_dim -> n_embd] */
    const float *ffn_norm;  /* [n_embd] */
    mst_weight w_gate;      /* [n_embd -> n_ff] */
    mst_weight w_up;        /* [n_embd -> n_ff] */
    mst_weight w_down;      /* [n_ff -> n_embd] */
} mst_layer;

struct mst_model {
    mst_model_config cfg;
    uint32_t q_dim;  /* n_head * head_dim */
    uint32_t kv_dim; /* n_head_kv * head_dim */
    mst_weight tok_embd;     /* [n_embd, n_vocab]: row = one token's embedding */
    const float *output_norm; /* [n_embd] */
    mst_weight output;       /* [n_embd -> n_vocab]; a copy of tok_embd when tied */
    mst_layer *layers;       /* [n_layer] */
    float *norms;            /* owned float32 copies of every norm weight, whatever their file type */
    /* One reference for the caller, one per context: mst_model_free while contexts live only
     * drops the caller's, and the last context to go frees the model. */
    atomic_uint refs;
    atomic_int caller_released;
};

void mst_model_retain(mst_model *model);
void mst_model_release(mst_model *model);

struct mst_context {
    mst_model *model;
    uint32_t n_ctx;
    uint32_t n_batch;
    uint32_t n_past;
    atomic_int busy; /* one call at a time; a second concurrent one gets MST_ERR_BUSY */
    mst_pool *pool;
    /* KV cache, float32 [n_layer][n_ctx][kv_dim] each */
    float *k_cache;
    float *v_cache;
    /* scratch for n_batch tokens, allocated once so a decode never allocates */
    float *x;      /* [n_batch][n_embd] residual stream */
    float *xb;     /* [n_batch][n_embd] normed input of a block */
    float *xb2;    /* [n_batch][n_embd] output of a block before the residual add */
    float *q;      /* [n_batch][q_dim] */
    float *att;    /* [n_batch][q_dim] attention output */
    float *hb;     /* [n_batch][n_ff] gate, then silu(gate)*up */
    float *hb2;    /* [n_batch][n_ff] up */
    int32_t *pos;  /* [n_batch] */
    float *scores; /* [n_threads][n_ctx] attention scores, one row per worker */
};

/* Allocates count elements of `size` bytes, checking the product; NULL on overflow or OOM. */
void *mst_alloc_array(uint64_t count, size_t size);

/* Runs the model over n tokens at positions n_past.. and writes logits. Arguments are
 * already validated; it neither allocates nor fails. */
void mst_forward(mst_context *ctx, const int32_t *tokens, uint32_t n_tokens, int all_logits,
                 float *logits);

#endif
