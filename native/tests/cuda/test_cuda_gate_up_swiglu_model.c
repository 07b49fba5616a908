/* test_cuda_gate_up_swiglu_model.c — the fused gate/up/SwiGLU op (backend.h gate_up_swiglu, backend_cuda_ops.c,
 * matmul_swiglu.cu) in whole tiny models on the emulator: per type the pair takes (Q4_0, Q8_0, Q4_K, Q6_K, F16,
 * BF16, F32 as the gate and up weights; F16 elsewhere), two contexts of one CUDA model, one fused (the default) and
 * one with MISTRAL_CUDA_FUSE_SWIGLU=0 (matmul, then swiglu), must give the same logits bit for bit:
 *   - a 5-token prompt (a batch the GEMV takes, so fused too), every position's logits;
 *   - 8 decode steps, each token the greedy choice, where both contexts record their first step as a CUDA graph and
 *     replay it after (backend_cuda_graph.c): the fused op inside the recording; both must hold a recording.
 * No tolerance: the same rounded activations, the same per-matrix sums, the same silu expression (swiglu.cuh).
 * And the fusion must really happen: ctx->hb2, where the unfused path puts up's output, is filled with a NaN
 * pattern before the prompt; after the steps the fused context's is untouched (gate and up never reached memory),
 * the unfused context's overwritten (the pattern's check can fail). Odd sizes: n_ff 100 (K-quants: 200) rows. */
#define _POSIX_C_SOURCE 200809L /* setenv */
#include "cuda_test_util.h"
#include "quant_fill.h"

#include "cuda/backend_cuda_internal.h"

enum { N_PROMPT = 5, N_STEPS = 8, POISON = 0x7fc0beefu };

/* gate and up of `type` in place of tm_build's F16 ones: random values about in [-amp, amp] (qf_fill's random
 * blocks with the K-quants' scales set as test_cuda_model.c sets them). */
static void retype_gate_up(test_model *tm, uint64_t *seed, int32_t type)
{
    for (uint32_t i = 0; i < tm->n_desc; i++) {
        mst_tensor_desc *dsc = &tm->desc[i];
        if (dsc->role != MST_ROLE_FFN_GATE && dsc->role != MST_ROLE_FFN_UP)
            continue;
        const uint32_t cols = (uint32_t)dsc->ne[0], rows = (uint32_t)dsc->ne[1];
        const float amp = 1.7f / sqrtf((float)cols);
        size_t bytes = 0;
        void *w;
        if (type == MST_TYPE_Q4_K || type == MST_TYPE_Q6_K) {
            uint64_t rb = 0;
            mst_type_bytes(type, cols, &rb);
            bytes = (size_t)rb * rows;
            uint8_t *k = (uint8_t *)xmalloc(bytes);
            qf_fill(seed, type, k, rows, cols, (size_t)rb);
            const size_t bb = type == MST_TYPE_Q4_K ? 144 : 210;
            for (size_t b = 0; b < bytes / bb; b++) {
                uint8_t *blk = k + b * bb;
                const float u = rng_uniform(seed, 0.5f, 1.0f);
                if (type == MST_TYPE_Q4_K) { /* d * sc(0..63) * q(0..15) - dmin * m(0..63) */
                    const float d = amp / (63.0f * 7.5f) * u;
                    qf_put_u16(blk, t_fp32_to_fp16(d)), qf_put_u16(blk + 2, t_fp32_to_fp16(7.5f * d));
                } else { /* d * sc(int8) * (q - 32) */
                    qf_put_u16(blk + 208, t_fp32_to_fp16(amp / (128.0f * 32.0f) * u));
                }
            }
            w = k;
        } else {
            w = make_weights(seed, type, rows, cols, amp, &bytes);
        }
        dsc->type = type, dsc->data = w, dsc->n_bytes = bytes;
        tm->data[tm->n_data++] = w;
    }
}

static mst_context *open_ctx(mst_model *m)
{
    mst_context_params cp;
    mst_context_params_default(&cp);
    cp.n_ctx = 32, cp.n_batch = 9;
    mst_context *c = NULL;
    ct_ok(mst_context_create(m, &cp, &c), "context");
    return c;
}

/* One pass of n tokens in ctx, fused or not (MISTRAL_CUDA_FUSE_SWIGLU=0 for the pass). */
static void decode(mst_context *c, int fused, const int32_t *tokens, uint32_t n, float *logits, uint32_t V)
{
    if (!fused)
        setenv("MISTRAL_CUDA_FUSE_SWIGLU", "0", 1);
    const mst_status st = mst_decode(c, tokens, n, 1, logits, (uint64_t)n * V);
    unsetenv("MISTRAL_CUDA_FUSE_SWIGLU");
    ct_ok(st, fused ? "decode (fused)" : "decode (MISTRAL_CUDA_FUSE_SWIGLU=0)");
}

/* How many of hb2's first `n` floats still hold the pattern. */
static size_t poisoned(mst_context *c, size_t n)
{
    uint32_t *h = (uint32_t *)xmalloc(n * 4);
    ct_download(((cuda_ctx *)c->backend_state)->dev, h, dptr_of(c->hb2), n * 4);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += h[i] == POISON;
    free(h);
    return k;
}

static void model_case(int32_t type)
{
    mst_model_config cfg = tiny_config();
    cfg.n_vocab = 120, cfg.n_ff = 100, cfg.n_ctx_train = 64;
    if (type == MST_TYPE_Q4_K || type == MST_TYPE_Q6_K) /* rows of 256 values */
        cfg.n_embd = 256, cfg.n_head = 4, cfg.n_head_kv = 2, cfg.head_dim = 64, cfg.n_ff = 200;
    static const int32_t f16[9] = {MST_TYPE_F16, MST_TYPE_F16, MST_TYPE_F16, MST_TYPE_F16, MST_TYPE_F16,
                                   MST_TYPE_F16, MST_TYPE_F16, MST_TYPE_F16, MST_TYPE_F16};
    test_model tm;
    tm_build(&tm, 0x600d + (uint64_t)type, &cfg, f16, 0);
    uint64_t seed = 0x5eed + (uint64_t)type;
    retype_gate_up(&tm, &seed, type);
    mst_model_params p;
    mst_model_params_default(&p);
    p.backend = MST_BACKEND_CUDA;
    p.flags = ct_on_driver() ? 0 : MST_BACKEND_EMULATE;
    mst_model *m = NULL;
    const mst_status st = mst_model_create_with(&tm.cfg, tm.desc, tm.n_desc, &p, &m);
    if (st == MST_ERR_DEVICE && ct_on_driver()) { /* the gpu_ twin where there is no GPU */
        printf("skipped: no CUDA device (%s)\n", mst_last_error());
        exit(77);
    }
    ct_ok(st, "model");
    mst_context *ctx[2] = {open_ctx(m), open_ctx(m)}; /* [0] fused, [1] not */
    const size_t n_hb2 = (size_t)N_PROMPT * cfg.n_ff;
    for (int i = 0; i < 2; i++)
        ct_ok(mst_dev_memset32(((cuda_ctx *)ctx[i]->backend_state)->dev, dptr_of(ctx[i]->hb2), POISON, n_hb2),
              "hb2 fill");

    const uint32_t V = cfg.n_vocab;
    float *a = (float *)xmalloc((size_t)N_PROMPT * V * 4), *b = (float *)xmalloc((size_t)N_PROMPT * V * 4);
    const int32_t prompt[N_PROMPT] = {3, 1, 4, 1, 5};
    decode(ctx[0], 1, prompt, N_PROMPT, a, V);
    decode(ctx[1], 0, prompt, N_PROMPT, b, V);
    const char *name = mst_type_name(type);
    CHECK(memcmp(a, b, (size_t)N_PROMPT * V * 4) == 0, "%s: prompt logits differ, fused against not (max %.3g)", name,
          max_abs_diff(a, b, (size_t)N_PROMPT * V));
    int32_t next = 0;
    for (uint32_t i = 1; i < V; i++)
        next = a[(size_t)(N_PROMPT - 1) * V + i] > a[(size_t)(N_PROMPT - 1) * V + next] ? (int32_t)i : next;
    const int failures = g_failures;
    int steps = 0;
    for (; steps < N_STEPS && g_failures == failures; steps++) {
        decode(ctx[0], 1, &next, 1, a, V);
        decode(ctx[1], 0, &next, 1, b, V);
        CHECK(memcmp(a, b, (size_t)V * 4) == 0, "%s: decode step %d: logits differ, fused against not (max %.3g)", name,
              steps, max_abs_diff(a, b, V));
        for (uint32_t i = 1; i < V; i++)
            next = a[i] > a[next] ? (int32_t)i : next;
    }
    /* (a driver without graph entry points runs op by op, which the comparison covers too) */
    if (!ct_on_driver() && steps == N_STEPS)
        for (int i = 0; i < 2; i++)
            CHECK(((cuda_ctx *)ctx[i]->backend_state)->graph != NULL, "%s: the %s context recorded no decode step",
                  name, i ? "unfused" : "fused");
    const size_t kept = poisoned(ctx[0], n_hb2), kept_unfused = poisoned(ctx[1], n_hb2);
    CHECK(kept == n_hb2, "%s: the fused context wrote up's output (%zu of %zu hb2 values overwritten)", name,
          n_hb2 - kept, n_hb2);
    CHECK(kept_unfused < n_hb2 / 2, "%s: the unfused context left hb2 as filled (%zu of %zu): up went elsewhere?",
          name, kept_unfused, n_hb2);
    free(a), free(b);
    mst_context_free(ctx[0]), mst_context_free(ctx[1]);
    mst_model_free(m);
    tm_free(&tm);
}

int main(void)
{
    static const int32_t types[] = {MST_TYPE_Q4_0, MST_TYPE_Q8_0, MST_TYPE_Q4_K, MST_TYPE_Q6_K,
                                    MST_TYPE_F16,  MST_TYPE_BF16, MST_TYPE_F32};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        model_case(types[i]);
    return ct_finish("test_cuda_gate_up_swiglu_model");
}
