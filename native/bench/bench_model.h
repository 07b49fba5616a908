/* bench_model.h — random-weight models of real shapes for the CUDA benchmark, built in memory as the tensor table
 * the C ABI takes (mst_model_create_with), with what a token costs them: bytes read at decode, FLOPs at prefill. */
#ifndef MST_BENCH_MODEL_H
#define MST_BENCH_MODEL_H

#include <stdint.h>

#include "mistral.h"

/* the matrix roles a weight mix gives a type to */
enum { BM_EMBD, BM_Q, BM_K, BM_V, BM_O, BM_GATE, BM_UP, BM_DOWN, BM_OUT, BM_N };

/* Mistral 7B (hidden 4096, 32 heads of 128, 8 KV heads, FFN 14336, vocab 32000) with n_layer layers. */
mst_model_config bench_config_7b(uint32_t n_layer);
/* Mixtral 8x7B's layer: the 7B shape with 8 experts, 2 per token. */
mst_model_config bench_config_mixtral(uint32_t n_layer);
/* The rehearsal shape: every dimension small (K-quant rows are 256 values), 8 experts top-2 when moe. */
mst_model_config bench_config_tiny(uint32_t n_layer, int moe);

/* Types per role for "Q4_0", "Q8_0" or "Q4_K_M" (llama.cpp's mix: Q4_K with attn_v, ffn_down and the output in
 * Q6_K). 0 for an unknown name. */
int bench_mix(const char *name, int32_t types[BM_N]);

typedef struct bench_model {
    mst_model_config cfg;
    mst_tensor_desc *desc;
    uint32_t n_desc;
    void *buf[BM_N + 3]; /* one buffer per role, shared by every layer (see bench_model.c) */
    uint64_t layer_read_bytes;   /* weight bytes one token reads in one layer (MoE: the router and 2 experts) */
    uint64_t head_read_bytes;    /* the output matrix and one embedding row */
    uint64_t weight_bytes;       /* every tensor of the model, as uploaded */
    uint64_t layer_macs;         /* multiply-adds of one token through one layer's matrices (MoE: chosen experts) */
    uint64_t ffn_macs;           /* the feed-forward block's share of layer_macs (with the router) */
    uint64_t head_macs;          /* the output projection of one token */
} bench_model;

/* Builds the table; 0 with a message on stderr when host memory runs out. */
int bench_model_build(bench_model *bm, const mst_model_config *cfg, const int32_t types[BM_N], uint64_t seed);
void bench_model_free(bench_model *bm);

/* Bytes one decode step reads: every weight it multiplies by, once, and the K and V cache of n_kv keys (f16). */
double bench_decode_bytes(const bench_model *bm, uint32_t n_kv);
/* FLOPs of an n-token prefill into an empty cache (logits of the last token only): 2 per multiply-add of the
 * matrices, and 4 * head_dim per query head per key seen (q.k and the weighted sum of V; causal: token t sees
 * t + 1 keys). The last layer's feed-forward block runs for the last token only (forward.c). */
double bench_prefill_flops(const bench_model *bm, uint32_t n);

#endif
