/* test_moe_grouped.c — the mixture-of-experts feed-forward as the CPU runs it: experts repacked at load like dense
 * matrices (weights_repack.c), and each chosen expert run once over the tokens routed to it (forward_moe.c).
 * Linked statically to reach the context's buffers and the two forms of the feed-forward.
 *
 *   repack:  every expert slice of every stacked tensor, once loaded (repacked where this CPU has the x16 kernel,
 *            which is checked), multiplied through the backend's matmul with one-hot activations, equals the
 *            dequantized original weight of that expert, row and column: y[r] = W_e[r][c] * q(1), where q(1)
 *            is 1 after the activation rounding of the type (fp16 scale of a Q8_0 block: within 2^-11 of 1).
 *            Tolerance 1e-3 of the row's largest |weight|: the rounding above and a few float operations stay
 *            below 1e-4 of it, while a weight read from another expert, row or column is off by a random
 *            amount of the row's own size.
 *   grouped: the grouped feed-forward (mst_moe_ffn) equals the per-token one (mst_moe_ffn_per_token) bit for bit,
 *            for Q4_0, Q8_0, Q4_K, Q6_K, F16, BF16 and F32 experts, over 1, 2, 3, 7, 33 and 64 tokens routed
 *            at random (experts with no token among them), with every token the same (one expert pair gets the
 *            whole batch, the others none), and in two alternating kinds. Why exact: activations are quantized
 *            per row (the same int8 blocks whatever the batch), the kernels give a token's row the same bits
 *            alone as in a batch (test_matmul_qa, test_kquant_x16 check that for the x16 kernels), swiglu is
 *            elementwise, and each token's expert outputs are added in ascending expert order in both. */
#include "cpu/ops.h"
#include "cpu/quant.h"
#include "forward_moe.h"
#include "internal.h"
#include "test_util.h"

enum { N_EXPERT = 8, N_USED = 2, N_LAYER = 2, N_BATCH = 64, MAX_T = 3 + 10 * N_LAYER };

typedef struct moe_file {
    mst_model_config cfg;
    mst_tensor_desc desc[MAX_T];
    uint32_t n;
    void *own[MAX_T];
} moe_file;

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

/* rows x cols weights of type, values about in [-amp, amp]; K-quants: random bytes with fp16 scales set so the
 * values stay about that size (every packing bit pattern is valid). */
static void *weights(uint64_t *s, int32_t type, uint32_t rows, uint32_t cols, float amp, size_t *bytes)
{
    if (type != MST_TYPE_Q4_K && type != MST_TYPE_Q6_K)
        return make_weights(s, type, rows, cols, amp, bytes);
    const size_t bb = type == MST_TYPE_Q4_K ? 144 : 210, nb = (size_t)rows * cols / 256;
    uint8_t *w = xmalloc(nb * bb);
    for (size_t k = 0; k < nb; k++) {
        uint8_t *b = w + k * bb;
        for (size_t i = 0; i < bb; i++)
            b[i] = (uint8_t)rng_next(s);
        /* Q4_K: d*sc*q - dmin*m with sc, m < 64, q < 16; Q6_K: d*sc*q with |sc| <= 128, |q| <= 32 */
        const float unit = type == MST_TYPE_Q4_K ? amp / (63.0f * 15.0f) : amp / (128.0f * 32.0f);
        put16(b + (type == MST_TYPE_Q4_K ? 0 : 208), t_fp32_to_fp16(rng_uniform(s, 0.5f, 1.0f) * unit));
        if (type == MST_TYPE_Q4_K)
            put16(b + 2, t_fp32_to_fp16(rng_uniform(s, 0.5f, 1.0f) * unit));
    }
    *bytes = nb * bb;
    return w;
}

static void add(moe_file *f, uint64_t *s, int32_t role, int32_t layer, int32_t type, uint32_t ne0, uint32_t ne1,
                uint32_t ne2, float amp, int norm)
{
    size_t bytes;
    void *w;
    if (norm) {
        float *v = xmalloc((size_t)ne0 * 4);
        for (uint32_t i = 0; i < ne0; i++)
            v[i] = 1.0f + rng_uniform(s, -0.2f, 0.2f);
        w = v, bytes = (size_t)ne0 * 4;
    } else {
        w = weights(s, type, ne1 * ne2, ne0, amp, &bytes);
    }
    mst_tensor_desc *d = &f->desc[f->n];
    memset(d, 0, sizeof *d);
    d->struct_size = sizeof *d;
    d->role = role, d->layer = layer, d->type = type;
    d->n_dims = ne2 > 1 ? 3 : ne1 > 1 ? 2 : 1;
    d->ne[0] = ne0, d->ne[1] = ne1, d->ne[2] = ne2, d->ne[3] = 1;
    d->data = w, d->n_bytes = bytes;
    f->own[f->n++] = w;
}

/* A Mixtral-shaped miniature: 8 experts of type `type`, top-2, rows of 256 (K-quant blocks); the rest F32. */
static void build(moe_file *f, int32_t type, uint64_t seed)
{
    memset(f, 0, sizeof *f);
    mst_model_config c = tiny_config();
    c.n_embd = 256, c.n_ff = 512, c.n_head = 4, c.n_head_kv = 2, c.head_dim = 64, c.n_layer = N_LAYER;
    c.n_expert = N_EXPERT, c.n_expert_used = N_USED;
    f->cfg = c;
    uint64_t s = seed;
    const uint32_t E = c.n_embd, F = c.n_ff, QD = c.n_head * c.head_dim, KVD = c.n_head_kv * c.head_dim;
    const int32_t f32 = MST_TYPE_F32;
    add(f, &s, MST_ROLE_TOKEN_EMBD, -1, f32, E, c.n_vocab, 1, 1.0f, 0);
    add(f, &s, MST_ROLE_OUTPUT_NORM, -1, f32, E, 1, 1, 0, 1);
    add(f, &s, MST_ROLE_OUTPUT, -1, f32, E, c.n_vocab, 1, 1.0f / sqrtf((float)E), 0);
    for (int32_t l = 0; l < N_LAYER; l++) {
        add(f, &s, MST_ROLE_ATTN_NORM, l, f32, E, 1, 1, 0, 1);
        add(f, &s, MST_ROLE_ATTN_Q, l, f32, E, QD, 1, 1.7f / sqrtf((float)E), 0);
        add(f, &s, MST_ROLE_ATTN_K, l, f32, E, KVD, 1, 1.7f / sqrtf((float)E), 0);
        add(f, &s, MST_ROLE_ATTN_V, l, f32, E, KVD, 1, 1.7f / sqrtf((float)E), 0);
        add(f, &s, MST_ROLE_ATTN_OUT, l, f32, QD, E, 1, 1.0f / sqrtf((float)QD), 0);
        add(f, &s, MST_ROLE_FFN_NORM, l, f32, E, 1, 1, 0, 1);
        add(f, &s, MST_ROLE_FFN_GATE_INP, l, f32, E, N_EXPERT, 1, 2.0f / sqrtf((float)E), 0);
        add(f, &s, MST_ROLE_FFN_GATE_EXPS, l, type, E, F, N_EXPERT, 1.7f / sqrtf((float)E), 0);
        add(f, &s, MST_ROLE_FFN_UP_EXPS, l, type, E, F, N_EXPERT, 1.7f / sqrtf((float)E), 0);
        add(f, &s, MST_ROLE_FFN_DOWN_EXPS, l, type, F, E, N_EXPERT, 1.0f / sqrtf((float)F), 0);
    }
}

static void release(moe_file *f)
{
    for (uint32_t i = 0; i < f->n; i++)
        free(f->own[i]);
}

static mst_context *open_ctx(const moe_file *f, mst_model **m)
{
    if (mst_model_create(&f->cfg, f->desc, f->n, m) != MST_OK) {
        printf("mst_model_create: %s\n", mst_last_error());
        exit(1);
    }
    mst_context_params p;
    mst_context_params_default(&p);
    p.n_ctx = N_BATCH, p.n_batch = N_BATCH, p.n_threads = 2;
    mst_context *c = NULL;
    if (mst_context_create(*m, &p, &c) != MST_OK) {
        printf("mst_context_create: %s\n", mst_last_error());
        exit(1);
    }
    return c;
}

/* The x16 layout this CPU's kernels repack `type` into, or MST_LAYOUT_GGUF (weights_repack.c's choice). */
static int32_t expected_layout(int32_t type)
{
    const mst_cpu_kernels *k = mst_cpu_best();
    switch (type) {
    case MST_TYPE_Q4_0: return k->matmul_qa_q4_0x16 ? MST_LAYOUT_Q4_0X16 : MST_LAYOUT_GGUF;
    case MST_TYPE_Q8_0: return k->matmul_qa_q8_0x16 ? MST_LAYOUT_Q8_0X16 : MST_LAYOUT_GGUF;
    case MST_TYPE_Q4_K: return k->matmul_qa_q4_kx16 ? MST_LAYOUT_Q4_KX16 : MST_LAYOUT_GGUF;
    case MST_TYPE_Q6_K: return k->matmul_qa_q6_kx16 ? MST_LAYOUT_Q6_KX16 : MST_LAYOUT_GGUF;
    case MST_TYPE_F16: return k->matmul_f16x16 ? MST_LAYOUT_F16X16 : MST_LAYOUT_GGUF;
    case MST_TYPE_BF16:
        return k->matmul_qa_bf16x16p ? MST_LAYOUT_BF16X16P : k->matmul_bf16x16 ? MST_LAYOUT_BF16X16 : MST_LAYOUT_GGUF;
    default: return MST_LAYOUT_GGUF;
    }
}

static const int32_t TYPES[] = {MST_TYPE_Q4_0, MST_TYPE_Q8_0, MST_TYPE_Q4_K, MST_TYPE_Q6_K,
                                MST_TYPE_F16,  MST_TYPE_BF16, MST_TYPE_F32};

/* ---- repack ---- */

static void check_expert(mst_context *ctx, const mst_weight *w, const mst_tensor_desc *d, uint32_t e, uint64_t *s)
{
    const uint32_t rows = w->rows, cols = w->cols, T = 5;
    const size_t slice = (size_t)rows * w->row_bytes;
    float *wf = xmalloc((size_t)rows * cols * 4), *x = xmalloc((size_t)T * cols * 4), *y = xmalloc((size_t)T * rows * 4);
    mst_dequantize_ref(d->type, (const uint8_t *)d->data + e * slice, (uint64_t)rows * cols, wf);
    uint32_t col[5];
    for (uint32_t t = 0; t < T; t++)
        col[t] = t == 0 ? 0 : t == T - 1 ? cols - 1 : (uint32_t)(rng_next(s) % cols); /* the first and last too */
    memset(x, 0, (size_t)T * cols * 4);
    for (uint32_t t = 0; t < T; t++)
        x[(size_t)t * cols + col[t]] = 1.0f;
    const mst_weight slice_w = mst_expert_slice(w, e), *wp = &slice_w;
    /* x was written behind the backend's back (it may even reuse the last call's address): begin() drops the
     * quantized copy of the previous input that the backend keeps */
    const int32_t tokens[5] = {0};
    ctx->backend->begin(ctx, tokens, T);
    ctx->backend->matmul(ctx, &wp, &y, 1, x, T);
    int reported = 0;
    for (uint32_t r = 0; r < rows && !reported; r++) {
        const float *row = wf + (size_t)r * cols;
        double rmax = max_abs(row, cols);
        for (uint32_t t = 0; t < T && !reported; t++) {
            const double got = y[(size_t)t * rows + r], want = row[col[t]];
            if (!(fabs(got - want) <= 1e-3 * rmax) && ++reported)
                CHECK(0, "%s expert %u of %s: y[row %u] for column %u = %.9g, the weight is %.9g (row max %.3g)",
                      mst_type_name(d->type), e,
                      d->role == MST_ROLE_FFN_GATE_EXPS ? "gate" : d->role == MST_ROLE_FFN_UP_EXPS ? "up" : "down", r,
                      col[t], got, want, rmax);
        }
    }
    free(wf), free(x), free(y);
}

static void test_repack(void)
{
    uint64_t s = 404;
    for (size_t ti = 0; ti < sizeof TYPES / sizeof *TYPES; ti++) {
        const int32_t type = TYPES[ti];
        moe_file f;
        build(&f, type, 1000 + ti);
        mst_model *m;
        mst_context *ctx = open_ctx(&f, &m);
        for (uint32_t i = 0; i < f.n; i++) {
            const mst_tensor_desc *d = &f.desc[i];
            const mst_layer *L = &m->layers[d->layer < 0 ? 0 : d->layer];
            const mst_weight *w = d->role == MST_ROLE_FFN_GATE_EXPS ? &L->w_gate
                                  : d->role == MST_ROLE_FFN_UP_EXPS ? &L->w_up
                                  : d->role == MST_ROLE_FFN_DOWN_EXPS ? &L->w_down
                                                                      : NULL;
            if (!w)
                continue;
            CHECK(w->layout == expected_layout(type), "%s experts: layout %d, expected %d (the dense choice)",
                  mst_type_name(type), (int)w->layout, (int)expected_layout(type));
            for (uint32_t e = 0; e < N_EXPERT; e++)
                check_expert(ctx, w, d, e, &s);
        }
        printf("repack %s: experts in layout %d, %u x 3 x %u slices read back\n", mst_type_name(type),
               (int)m->layers[0].w_gate.layout, N_LAYER, N_EXPERT);
        mst_context_free(ctx), mst_model_free(m);
        release(&f);
    }
}

/* ---- grouped vs per token ---- */

enum { RANDOM, SAME, TWO_KINDS };

static void test_grouped(void)
{
    static const uint32_t counts[] = {1, 2, 3, 7, 33, 64};
    static const char *const mode_name[] = {"random", "same", "two kinds"};
    int32_t tokens[N_BATCH] = {0};
    uint64_t s = 77;
    for (size_t ti = 0; ti < sizeof TYPES / sizeof *TYPES; ti++) {
        const int32_t type = TYPES[ti];
        moe_file f;
        build(&f, type, 2000 + ti);
        mst_model *m;
        mst_context *ctx = open_ctx(&f, &m);
        const uint32_t E = f.cfg.n_embd;
        float *a = xmalloc((size_t)N_BATCH * E * 4), *b = xmalloc((size_t)N_BATCH * E * 4);
        uint32_t idle = 0, whole = 0, cases = 0, exact = 0;
        for (int mode = RANDOM; mode <= TWO_KINDS; mode++)
            for (size_t ci = 0; ci < sizeof counts / sizeof *counts; ci++)
                for (uint32_t l = 0; l < N_LAYER; l++) {
                    const uint32_t n = counts[ci];
                    fill_uniform(&s, ctx->xb, (size_t)2 * E, -1.0f, 1.0f);
                    if (mode == RANDOM)
                        fill_uniform(&s, ctx->xb, (size_t)n * E, -1.0f, 1.0f);
                    for (uint32_t t = 2; mode != RANDOM && t < n; t++) /* SAME: row 0 again; TWO_KINDS: 0, 1, 0 ... */
                        memcpy(ctx->xb + (size_t)t * E, ctx->xb + (size_t)(mode == SAME ? 0 : t % 2) * E, E * 4);
                    if (mode == SAME && n > 1)
                        memcpy(ctx->xb + E, ctx->xb, E * 4);
                    ctx->pass_status = MST_OK;
                    ctx->backend->begin(ctx, tokens, n);
                    mst_moe_ffn(ctx, &m->layers[l], n);
                    memcpy(a, ctx->xb2, (size_t)n * E * 4);
                    /* routing coverage: experts no token chose, and experts the whole batch chose */
                    uint32_t per[N_EXPERT] = {0};
                    for (uint32_t i = 0; i < n * N_USED; i++)
                        per[ctx->chosen[i]]++;
                    for (uint32_t e = 0; e < N_EXPERT; e++)
                        idle += per[e] == 0, whole += n > 1 && per[e] == n;
                    mst_moe_ffn_per_token(ctx, &m->layers[l], n);
                    memcpy(b, ctx->xb2, (size_t)n * E * 4);
                    CHECK(ctx->pass_status == MST_OK, "pass failed: %s", ctx->pass_error);
                    const double err = max_abs_diff(a, b, (size_t)n * E), scale = max_abs(b, (size_t)n * E);
                    int finite = mst_find_nonfinite(a, (size_t)n * E) < 0;
                    CHECK(finite && scale > 0, "%s %s n=%u layer %u: output not finite or all zero", mst_type_name(type),
                          mode_name[mode], n, l);
                    const int same = memcmp(a, b, (size_t)n * E * 4) == 0;
                    CHECK(same, "%s %s n=%u layer %u: grouped differs from per-token (max %.3g of %.3g)",
                          mst_type_name(type), mode_name[mode], n, l, err, scale);
                    cases++, exact += same;
                }
        printf("grouped %s (experts in layout %d): %u of %u cases bit-exact; %u idle experts, %u taking the whole batch\n",
               mst_type_name(type), (int)m->layers[0].w_gate.layout, exact, cases, idle, whole);
        CHECK(idle > 0 && whole > 0, "%s: the cases did not cover idle experts (%u) and whole-batch experts (%u)",
              mst_type_name(type), idle, whole);
        free(a), free(b);
        mst_context_free(ctx), mst_model_free(m);
        release(&f);
    }
}

int main(int argc, char **argv)
{
    const char *which = argc > 1 ? argv[1] : "all";
    const int all = strcmp(which, "all") == 0;
    if (all || strcmp(which, "repack") == 0)
        test_repack();
    if (all || strcmp(which, "grouped") == 0)
        test_grouped();
    return finish(which);
}
