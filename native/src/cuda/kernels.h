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

/* ---- rmsnorm.cu ---- */
mst_status mst_cuda_rmsnorm(mst_dev *d, mst_dptr x, mst_dptr weight, uint32_t n, uint32_t rows, float eps, mst_dptr y);

/* ---- rope.cu ---- */
/* In place on x (n_tokens rows of n_heads * head_dim floats), adjacent pairs, token t at position pos0 + t,
 * angle = pos * freq_base^(-2i/head_dim). */
mst_status mst_cuda_rope(mst_dev *d, mst_dptr x, uint32_t n_tokens, uint32_t n_heads, uint32_t head_dim, uint32_t pos0,
                         float freq_base);

/* ---- swiglu.cu, add.cu ---- */
mst_status mst_cuda_swiglu(mst_dev *d, mst_dptr gate, mst_dptr up, uint64_t n); /* gate = silu(gate) * up */
mst_status mst_cuda_add(mst_dev *d, mst_dptr x, mst_dptr y, uint64_t n);       /* x += y */

/* ---- kv_store.cu ---- */
/* Rounds n rows of kv_dim floats (k, v) to f16 into the caches (kv_slots rows of kv_dim f16 each) at rows
 * (pos0 + t) % kv_slots. */
mst_status mst_cuda_kv_store(mst_dev *d, mst_dptr k, mst_dptr v, uint32_t n, uint32_t kv_dim, uint32_t pos0,
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
} mst_cuda_attn_args;
uint64_t mst_cuda_attention_scratch_bytes(uint32_t n_tokens, uint32_t n_head, uint32_t head_dim, uint32_t max_kv);
/* Causal GQA attention with sliding window: query head h reads KV head h / (n_head / n_head_kv); scale
 * 1/sqrt(head_dim). Prefill tiled with an online softmax; decode split over the keys, then combined. */
mst_status mst_cuda_attention(mst_dev *d, const mst_cuda_attn_args *a);

/* ---- moe_gate.cu ---- */
/* Per token: the n_used largest of n_expert router logits (ties: lower index first), largest first, into
 * chosen (int32), and their softmax over the chosen logits into weights; both n_tokens rows of n_used.
 * A token with a NaN or infinite logit gets -1 (cpu/moe_gate.h's MST_MOE_NONFINITE) and NaN in every slot. */
mst_status mst_cuda_moe_gate(mst_dev *d, mst_dptr logits, uint32_t n_tokens, uint32_t n_expert, uint32_t n_used,
                             mst_dptr chosen, mst_dptr weights);

/* ---- rows.cu ---- */
/* dst[j] = src[rows[j]] for j < g (rows of width floats; rows: int32 device array). */
mst_status mst_cuda_gather_rows(mst_dev *d, mst_dptr dst, mst_dptr src, mst_dptr rows, uint32_t g, uint32_t width);
/* dst[rows[j]] += weights[j] * src[j] for j < g; rows distinct. */
mst_status mst_cuda_scatter_add_rows(mst_dev *d, mst_dptr dst, mst_dptr src, mst_dptr rows, mst_dptr weights, uint32_t g,
                                     uint32_t width);

#ifdef __cplusplus
}
#endif

#endif
