/* bench_model.c — the benchmark's random-weight models (bench_model.h).
 *
 * Every layer's tensor of a role points at the same host buffer: a 32-layer Q8_0 7B is 7.7 GB, and random bytes
 * for all of it would take longer to make than the whole benchmark. The backend uploads each layer's tensor to
 * its own device allocation all the same, so the device holds and reads the full model's bytes; the kernels'
 * speed does not depend on the values. Weight bytes are random, with finite fp16 scales (quant_fill.h, shared
 * with the CUDA kernel tests), so every forward pass is finite. */
#include "bench_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tests/cuda/quant_fill.h"

mst_model_config bench_config_7b(uint32_t n_layer)
{
    mst_model_config c;
    mst_model_config_default(&c);
    c.n_vocab = 32000, c.n_embd = 4096, c.n_layer = n_layer;
    c.n_head = 32, c.n_head_kv = 8, c.head_dim = 128, c.n_ff = 14336;
    c.n_ctx_train = 32768, c.rope_freq_base = 1000000.0f, c.rms_norm_eps = 1e-5f;
    return c;
}

mst_model_config bench_config_mixtral(uint32_t n_layer)
{
    mst_model_config c = bench_config_7b(n_layer);
    c.n_expert = 8, c.n_expert_used = 2;
    return c;
}

mst_model_config bench_config_tiny(uint32_t n_layer, int moe)
{
    mst_model_config c = bench_config_7b(n_layer);
    c.n_vocab = 320, c.n_embd = 256, c.n_head = 4, c.n_head_kv = 2, c.head_dim = 64, c.n_ff = 512;
    c.n_ctx_train = 256;
    if (moe)
        c.n_expert = 8, c.n_expert_used = 2;
    return c;
}

int bench_mix(const char *name, int32_t types[BM_N])
{
    int32_t all = -1;
    if (strcmp(name, "Q4_0") == 0)
        all = MST_TYPE_Q4_0;
    else if (strcmp(name, "Q8_0") == 0)
        all = MST_TYPE_Q8_0;
    else if (strcmp(name, "Q4_K_M") == 0)
        all = MST_TYPE_Q4_K;
    else
        return 0;
    for (int r = 0; r < BM_N; r++)
        types[r] = all;
    if (all == MST_TYPE_Q4_K)
        types[BM_V] = types[BM_DOWN] = types[BM_OUT] = MST_TYPE_Q6_K;
    return 1;
}

/* rows x cols of type, random (a 3-d tensor of n_mat matrices is n_mat * rows rows); NULL when out of memory */
static void *matrix(uint64_t *seed, int32_t type, uint32_t cols, uint64_t rows, uint64_t *bytes)
{
    uint64_t row_bytes = 0;
    mst_type_bytes(type, cols, &row_bytes);
    *bytes = row_bytes * rows;
    uint8_t *w = malloc(*bytes);
    if (w)
        qf_fill(seed, type, w, (uint32_t)rows, cols, (size_t)row_bytes);
    return w;
}

static void add(bench_model *bm, int32_t role, int32_t layer, int32_t type, const void *data, uint64_t bytes,
                uint32_t n_dims, int64_t ne0, int64_t ne1, int64_t ne2)
{
    mst_tensor_desc *d = &bm->desc[bm->n_desc++];
    memset(d, 0, sizeof *d);
    d->struct_size = sizeof *d;
    d->role = role, d->layer = layer, d->type = type, d->n_dims = n_dims;
    d->ne[0] = ne0, d->ne[1] = ne1, d->ne[2] = ne2, d->ne[3] = 1;
    d->data = data, d->n_bytes = bytes;
}

int bench_model_build(bench_model *bm, const mst_model_config *cfg, const int32_t types[BM_N], uint64_t seed)
{
    memset(bm, 0, sizeof *bm);
    bm->cfg = *cfg;
    const uint32_t E = cfg->n_embd, QD = cfg->n_head * cfg->head_dim, KVD = cfg->n_head_kv * cfg->head_dim;
    const uint32_t F = cfg->n_ff, X = cfg->n_expert ? cfg->n_expert : 1, moe = cfg->n_expert > 0;
    bm->desc = calloc(3 + (size_t)cfg->n_layer * 10, sizeof *bm->desc);
    float *norm = malloc((size_t)E * sizeof *norm);
    if (!bm->desc || !norm) {
        free(norm);
        fprintf(stderr, "bench: out of host memory for the tensor table\n");
        return 0;
    }
    for (uint32_t i = 0; i < E; i++)
        norm[i] = 1.0f;
    bm->buf[BM_N] = norm;

    /* one buffer per role: [cols, rows, matrices] */
    static const int32_t role_of[BM_N] = {MST_ROLE_TOKEN_EMBD, MST_ROLE_ATTN_Q, MST_ROLE_ATTN_K, MST_ROLE_ATTN_V,
                                          MST_ROLE_ATTN_OUT, MST_ROLE_FFN_GATE, MST_ROLE_FFN_UP, MST_ROLE_FFN_DOWN,
                                          MST_ROLE_OUTPUT};
    const uint32_t cols[BM_N] = {E, E, E, E, QD, E, E, F, E};
    const uint32_t rows[BM_N] = {cfg->n_vocab, QD, KVD, KVD, E, F, F, E, cfg->n_vocab};
    uint64_t bytes[BM_N + 2] = {0};
    for (int r = 0; r < BM_N; r++) {
        const uint64_t mats = r == BM_GATE || r == BM_UP || r == BM_DOWN ? X : 1;
        bm->buf[r] = matrix(&seed, types[r], cols[r], (uint64_t)rows[r] * mats, &bytes[r]);
        if (!bm->buf[r]) {
            fprintf(stderr, "bench: out of host memory for the %u x %u weights of role %d\n", rows[r], cols[r], r);
            return 0;
        }
    }
    if (moe) {
        bm->buf[BM_N + 1] = matrix(&seed, MST_TYPE_F32, E, X, &bytes[BM_N + 1]);
        if (!bm->buf[BM_N + 1]) {
            fprintf(stderr, "bench: out of host memory for the router\n");
            return 0;
        }
    }

    const uint64_t norm_bytes = (uint64_t)E * 4;
    add(bm, MST_ROLE_TOKEN_EMBD, -1, types[BM_EMBD], bm->buf[BM_EMBD], bytes[BM_EMBD], 2, E, cfg->n_vocab, 1);
    add(bm, MST_ROLE_OUTPUT_NORM, -1, MST_TYPE_F32, norm, norm_bytes, 1, E, 1, 1);
    add(bm, MST_ROLE_OUTPUT, -1, types[BM_OUT], bm->buf[BM_OUT], bytes[BM_OUT], 2, E, cfg->n_vocab, 1);
    for (uint32_t l = 0; l < cfg->n_layer; l++) {
        const int32_t L = (int32_t)l;
        add(bm, MST_ROLE_ATTN_NORM, L, MST_TYPE_F32, norm, norm_bytes, 1, E, 1, 1);
        for (int r = BM_Q; r <= BM_O; r++)
            add(bm, role_of[r], L, types[r], bm->buf[r], bytes[r], 2, cols[r], rows[r], 1);
        add(bm, MST_ROLE_FFN_NORM, L, MST_TYPE_F32, norm, norm_bytes, 1, E, 1, 1);
        for (int r = BM_GATE; r <= BM_DOWN; r++) /* the _EXPS roles follow GATE/UP/DOWN by 4 */
            add(bm, role_of[r] + (moe ? 4 : 0), L, types[r], bm->buf[r], bytes[r], moe ? 3 : 2, cols[r], rows[r], X);
        if (moe)
            add(bm, MST_ROLE_FFN_GATE_INP, L, MST_TYPE_F32, bm->buf[BM_N + 1], bytes[BM_N + 1], 2, E, X, 1);
    }

    /* what a token reads and multiplies: MoE layers run n_expert_used of the X experts */
    const uint64_t attn = bytes[BM_Q] + bytes[BM_K] + bytes[BM_V] + bytes[BM_O];
    const uint64_t ffn = bytes[BM_GATE] + bytes[BM_UP] + bytes[BM_DOWN];
    const uint64_t used = moe ? cfg->n_expert_used : 1;
    bm->layer_read_bytes = attn + ffn / X * used + bytes[BM_N + 1] + 2 * norm_bytes;
    bm->head_read_bytes = bytes[BM_OUT] + bytes[BM_EMBD] / cfg->n_vocab + norm_bytes;
    bm->weight_bytes = bytes[BM_EMBD] + bytes[BM_OUT] + norm_bytes +
                       (uint64_t)cfg->n_layer * (attn + ffn + bytes[BM_N + 1] + 2 * norm_bytes);
    bm->ffn_macs = used * 3 * (uint64_t)E * F + (moe ? (uint64_t)E * X : 0);
    bm->layer_macs = (uint64_t)E * (QD + 2 * KVD) + (uint64_t)QD * E + bm->ffn_macs;
    bm->head_macs = (uint64_t)E * cfg->n_vocab;
    return 1;
}

void bench_model_free(bench_model *bm)
{
    for (size_t i = 0; i < sizeof bm->buf / sizeof bm->buf[0]; i++)
        free(bm->buf[i]);
    free(bm->desc);
    memset(bm, 0, sizeof *bm);
}

double bench_decode_bytes(const bench_model *bm, uint32_t n_kv)
{
    const double kv = 2.0 * bm->cfg.n_layer * n_kv * bm->cfg.n_head_kv * bm->cfg.head_dim * 2; /* K and V, f16 */
    return (double)bm->cfg.n_layer * (double)bm->layer_read_bytes + (double)bm->head_read_bytes + kv;
}

double bench_prefill_flops(const bench_model *bm, uint32_t n)
{
    const double keys_seen = (double)n * (n + 1) / 2; /* causal, empty cache */
    const double attn = 4.0 * bm->cfg.head_dim * bm->cfg.n_head * keys_seen;
    return bm->cfg.n_layer * (2.0 * (double)bm->layer_macs * n + attn) - 2.0 * (double)bm->ffn_macs * (n - 1) +
           2.0 * (double)bm->head_macs;
}
