/* kernels.h — the launch wrappers of the CUDA kernels, one group per .cu file (one op per file). Each
 * wrapper picks grid and block for its shapes and queues the launch on the device (device.h); the kernels
 * themselves sit in the .cu beside it, and each .cu's test (native/tests/cuda/) checks it against the CPU
 * reference. All pointers are device addresses; "f16" buffers hold IEEE half values as uint16. */
#ifndef MST_CUDA_KERNELS_H
#define MST_CUDA_KERNELS_H

#include "device.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A weight matrix in device memory: rows of `cols` values of `type` (an mst_type, after upload conversion:
 * see mst_cuda_upload_type), row_bytes apart, in the GGUF block layout. */
typedef struct mst_cuda_weight {
    int32_t type;
    uint32_t rows;
    uint32_t cols;
    uint32_t reserved;
    uint64_t row_bytes;
    mst_dptr data;
} mst_cuda_weight;

/* ---- embed.cu ---- */
/* x[t][:n_embd] = float row tokens[t] of the table (any upload type). tokens: int32 device array. */
mst_status mst_cuda_embed(mst_dev *d, const mst_cuda_weight *table, mst_dptr tokens, uint32_t n, mst_dptr x);

/* ---- matmul (quantize_act.cu, matmul_f16.cu, matmul_bf16.cu, matmul_q8_0.cu, matmul_q4_0.cu,
 *      matmul_q4_k.cu, matmul_q6_k.cu; matmul.cu chooses) ---- */
/* The type a tensor of `type` has on the device: itself for F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K;
 * MST_TYPE_F16 for the types converted at upload (Q2_K, Q3_K, Q5_K). */
int32_t mst_cuda_upload_type(int32_t type);
/* Bytes of one row of `cols` values once uploaded (the converted type's row size). */
uint64_t mst_cuda_upload_row_bytes(int32_t type, uint32_t cols);
/* Host-side conversion for upload: rows x cols of `type` at src (row_bytes apart) into dst in the upload
 * type's layout (a plain copy when the type is kept). */
mst_status mst_cuda_convert_for_upload(int32_t type, const void *src, uint64_t row_bytes, uint32_t rows, uint32_t cols,
                                       void *dst);
/* Device scratch a matmul of up to n_tokens rows of up to max_cols inputs needs (quantized activations). */
uint64_t mst_cuda_matmul_scratch_bytes(uint32_t max_cols, uint32_t n_tokens);
/* y[t][r] = sum_c W[r][c] x[t][c], x: n_tokens rows of w->cols floats, y: n_tokens rows of w->rows floats.
 * Activations are rounded as the CPU backend rounds them for that weight type (Q8_0 blocks of 32 for
 * Q4_0/Q8_0, Q8_K blocks of 256 for K-quants, bf16 for BF16, float for F16/F32), so the two backends differ
 * only by summation order.
 * scratch: mst_cuda_matmul_scratch_bytes(w->cols, n_tokens) bytes. x_is_quantized: 1 when scratch already
 * holds x quantized for this weight type (a second matmul of the same input), so it is not redone. */
mst_status mst_cuda_matmul(mst_dev *d, const mst_cuda_weight *w, mst_dptr x, uint32_t n_tokens, mst_dptr y,
                           mst_dptr scratch, int x_is_quantized);
/* y[i] = w[i] x for n_w matrices sharing x (Q, K, V; gate, up), as n_w mst_cuda_matmul calls would give, up to the
 * order of float additions: consecutive matrices of one type and width (up to 3) make one GEMV launch over all
 * their rows for 1 .. 8 tokens (matmul_multi.cu), the activations rounded once. x_is_quantized: as above, for w[0]. */
mst_status mst_cuda_matmul_multi(mst_dev *d, const mst_cuda_weight *w, const mst_dptr *y, uint32_t n_w, mst_dptr x,
                                 uint32_t n_tokens, mst_dptr scratch, int x_is_quantized);

/* ---- rmsnorm.cu ---- */
mst_status mst_cuda_rmsnorm(mst_dev *d, mst_dptr x, mst_dptr weight, uint32_t n, uint32_t rows, float eps, mst_dptr y);

/* ---- rope.cu ---- */
/* In place on x (n_tokens rows of n_heads * head_dim floats), adjacent pairs, token t at position pos0 + t,
 * angle = pos * freq_base^(-2i/head_dim). */
mst_status mst_cuda_rope(mst_dev *d, mst_dptr x, uint32_t n_tokens, uint32_t n_heads, uint32_t head_dim, uint32_t pos0,
                         float freq_base);
/* The same with positions pos_dev[0] + t0 + t, pos_dev a device uint32 (a recorded decode step reads it). */
mst_status mst_cuda_rope_at(mst_dev *d, mst_dptr x, uint32_t n_tokens, uint32_t n_heads, uint32_t head_dim, mst_dptr pos,
                            uint32_t t0, float freq_base);

/* ---- swiglu.cu, add.cu ---- */
mst_status mst_cuda_swiglu(mst_dev *d, mst_dptr gate, mst_dptr up, uint64_t n); /* gate = silu(gate) * up */
mst_status mst_cuda_add(mst_dev *d, mst_dptr x, mst_dptr y, uint64_t n);       /* x += y */

/* ---- kv_store.cu ---- */
/* Rounds n rows of kv_dim floats (k, v) to f16 into the caches (kv_slots rows of kv_dim f16 each) at rows
 * (pos0 + t) % kv_slots. */
mst_status mst_cuda_kv_store(mst_dev *d, mst_dptr k, mst_dptr v, uint32_t n, uint32_t kv_dim, uint32_t pos0,
                             uint32_t kv_slots, mst_dptr k_cache, mst_dptr v_cache);
/* The same with pos0 read from device memory (pos: a device uint32). */
mst_status mst_cuda_kv_store_at(mst_dev *d, mst_dptr k, mst_dptr v, uint32_t n, uint32_t kv_dim, mst_dptr pos,
                                uint32_t kv_slots, mst_dptr k_cache, mst_dptr v_cache);

/* ---- attention.cu ---- */
typedef struct mst_cuda_attn_args {
    mst_dptr q;        /* n_tokens rows of n_head * head_dim floats */
    mst_dptr k_cache;  /* f16, key position j in row (kv_slots ? j % kv_slots : j), n_head_kv * head_dim wide */
    mst_dptr v_cache;
    mst_dptr out;      /* like q */
    mst_dptr scratch;  /* mst_cuda_attention_scratch_bytes(...) bytes: split-KV partials for decode */
    uint32_t n_tokens, q_pos0, n_kv; /* queries at positions q_pos0..; keys 0 .. n_kv - 1 exist */
    uint32_t n_head, n_head_kv, head_dim;
    uint32_t window;   /* 0 = full; else query p sees key j only if p - j < window */
    uint32_t kv_slots; /* 0 = not rolling */
    /* pos: 0, or a device uint32 that q_pos0 and n_kv are relative to (the position of a recorded decode step);
     * then max_keys bounds the keys any query sees (the window, or the cache's rows), which sizes the decode
     * split instead of the key count, so the grid does not depend on the position. */
    mst_dptr pos;
    uint32_t max_keys;
} mst_cuda_attn_args;
uint64_t mst_cuda_attention_scratch_bytes(uint32_t n_tokens, uint32_t n_head, uint32_t head_dim, uint32_t max_kv);
/* Causal GQA attention with sliding window: query head h reads KV head h / (n_head / n_head_kv); scale
 * 1/sqrt(head_dim). Prefill tiled with an online softmax; decode split over the keys, then combined. */
mst_status mst_cuda_attention(mst_dev *d, const mst_cuda_attn_args *a);

/* ---- attention_mma.cu ---- */
/* The prefill kernel on tensor cores (mma.sync f16 -> f32, flash-attention tiling), same arguments and results
 * as mst_cuda_attention up to rounding: q and the softmax weights P are rounded to f16 for the mma (scratch is
 * not used). Head sizes 64 and 128, 16-byte aligned caches and pos 0 only (mst_cuda_attention_mma_supports); other
 * arguments are MST_ERR_UNSUPPORTED. mst_cuda_attention calls it for prefill unless MISTRAL_CUDA_MMA=0. */
int mst_cuda_attention_mma_supports(const mst_cuda_attn_args *a);
mst_status mst_cuda_attention_mma(mst_dev *d, const mst_cuda_attn_args *a);

/* ---- moe_gate.cu ---- */
/* Per token: the n_used largest of n_expert router logits (ties: lower index first), largest first, into
 * chosen (int32), and their softmax over the chosen logits into weights; both n_tokens rows of n_used.
 * A token with a NaN or infinite logit gets -1 (cpu/moe_gate.h's MST_MOE_NONFINITE) and NaN in every slot. */
mst_status mst_cuda_moe_gate(mst_dev *d, mst_dptr logits, uint32_t n_tokens, uint32_t n_expert, uint32_t n_used,
                             mst_dptr chosen, mst_dptr weights);

/* ---- nonfinite.cu ---- */
/* The first NaN/Inf among x[0..n), n < 2^31, into *worst (a device int32 set to -1 before): it becomes
 * INT32_MAX - that index (atomicMax keeps the lowest index), and stays -1 when all are finite. */
mst_status mst_cuda_find_nonfinite(mst_dev *d, mst_dptr x, uint32_t n, mst_dptr worst);

/* ---- argmax.cu ---- */
/* out[0] = the index of the largest of x[0..n) as the C# sampler's greedy ArgMax picks it (ties: the lowest index;
 * NaN never wins, except that a NaN at index 0 makes the answer 0, since nothing compares greater than it);
 * out[1] = the index of the first NaN/Inf, or INT32_MAX when all are finite. One block; n < 2^31. out: 2 int32. */
mst_status mst_cuda_argmax(mst_dev *d, mst_dptr x, uint32_t n, mst_dptr out);

/* ---- rows.cu ---- */
/* dst[j] = src[rows[j]] for j < g (rows of width floats; rows: int32 device array). */
mst_status mst_cuda_gather_rows(mst_dev *d, mst_dptr dst, mst_dptr src, mst_dptr rows, uint32_t g, uint32_t width);
/* dst[rows[j]] += weights[j] * src[j] for j < g; rows distinct. */
mst_status mst_cuda_scatter_add_rows(mst_dev *d, mst_dptr dst, mst_dptr src, mst_dptr rows, mst_dptr weights, uint32_t g,
                                     uint32_t width);

/* ---- moe_gate.cu (the device-only routing) and matmul_moe.cu: a MoE feed-forward with no host round trip ---- */
/* mst_cuda_moe_gate, plus *flag (a device int32) = the first (layer, token) whose logits are not finite, as
 * layer * 65536 + token, or INT32_MAX for none; reset starts it afresh (the pass's first layer), else the
 * smaller of the old and this layer's. 1..65535 tokens, layer < 32768. */
mst_status mst_cuda_moe_gate_flagged(mst_dev *d, mst_dptr logits, uint32_t n_tokens, uint32_t n_expert, uint32_t n_used,
                                     mst_dptr chosen, mst_dptr weights, mst_dptr flag, uint32_t layer, int reset);

/* Tokens mst_cuda_moe_experts takes: a decode step and a few more. Each token reads its own experts, so 4 tokens
 * read 8 expert matrices of Mixtral where grouping by expert reads the ~5 distinct ones among them; beyond that
 * the generic path's shared reads outweigh the routing wait it costs. */
enum { MST_CUDA_MOE_MAX_TOKENS = 4 };

typedef struct mst_cuda_moe_args {
    mst_cuda_weight gate, up, down; /* expert 0's matrices; expert e's start e * rows * row_bytes further */
    uint32_t n_expert, n_used, n_tokens, reserved;
    mst_dptr x;               /* n_tokens rows of gate.cols floats */
    mst_dptr chosen, weights; /* n_tokens rows of n_used: ids (int32, -1: not routed) and weights (float) */
    mst_dptr hidden;          /* n_tokens * n_used rows of gate.rows floats (written) */
    mst_dptr scratch;         /* mst_cuda_moe_experts_scratch_bytes(...) bytes */
    mst_dptr y;               /* n_tokens rows of down.rows floats (written) */
} mst_cuda_moe_args;

/* Whether mst_cuda_moe_experts takes these matrices and shape (gate and up of one type; every upload type). */
int mst_cuda_moe_experts_supported(const mst_cuda_weight *gate, const mst_cuda_weight *up, const mst_cuda_weight *down,
                                   uint32_t n_tokens, uint32_t n_used);
uint64_t mst_cuda_moe_experts_scratch_bytes(uint32_t n_embd, uint32_t n_ff, uint32_t n_tokens, uint32_t n_used);
/* y[t] = sum over token t's chosen experts e, in ascending e, of weight * Wdown_e (silu(Wgate_e x[t]) *
 * Wup_e x[t]), the ids read on the device; a slot with id -1 adds nothing. Activations rounded as mst_cuda_matmul
 * rounds them. Four launches (round x, gate/up/swiglu, round hidden, down and the weighted sum). */
mst_status mst_cuda_moe_experts(mst_dev *d, const mst_cuda_moe_args *a);

#ifdef __cplusplus
}
#endif

#endif
