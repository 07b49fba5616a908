/* test_cuda_moe_ffn.c — the CUDA backend's MoE feed-forward with the routing kept on the device (backend.h moe_ffn:
 * moe_gate.cu's flagged gate, matmul_moe.cu's expert-indexed kernels) against the generic path (forward_moe.c: the
 * routing downloaded, each chosen expert one set of matmul / swiglu / scatter launches) on the same CUDA model.
 * Linked statically to call mst_moe_ffn on a context's buffers, with the backend table switched between the two.
 *
 *   equal:     for Q4_0, Q8_0, Q4_K, Q6_K, Q4_K_M-style (gate/up Q4_K, down Q6_K), F16, Q5_K (F16 on the device after
 *              upload conversion), BF16 experts; top-2 of 8 and top-1 of 4; 1..4 tokens over both layers: the op
 *              takes the case (returns 1), chooses the generic path's experts (device ids = host ids), and its output
 *              equals the generic output within TOL of the largest |output|. Router ties: layer 0's router has two
 *              equal rows (experts 3 and 5) at 4x the others' scale, and the top-1 of 4 model's layer 1 router is
 *              zero (every logit ties); the case counts the tokens where a tie decided the choice and must see some.
 *   nan:       a token with a NaN in its input (so NaN router logits) among three: the op routes it nowhere (its
 *              output row is 0, the others finite), and moe_nonfinite names the first layer and token; a NaN in
 *              layer 1 after one in layer 0 does not replace it. The next pass reports nothing, whether it runs
 *              no MoE op or runs it on finite rows (the flag is reset per pass, and read only where the op ran).
 *   first_fault: a NaN in layer 0's attention output weights makes its router logits, its output and the final
 *              hidden state NaN: one decode step on CUDA (a recorded graph; then with MST_CONTEXT_CHECK_LAYERS, op
 *              by op) fails with the CPU backend's status and message (the generic path, which meets the router
 *              first): "layer 0 produced non-finite router logits at position 0".
 *   declines:  5 tokens (over MST_CUDA_MOE_MAX_TOKENS), and 1 token of top-2 in a context of n_batch 1 (no room for
 *              the hidden rows), are left to the generic path (moe_ffn returns 0).
 *   decode:    through the ABI, a NaN in layer 1's router fails mst_decode with MST_ERR_NON_FINITE and the generic
 *              path's message ("layer 1 produced non-finite router logits at position 0"), and the host routing
 *              arrays are never written (the device path ran, not the generic one).
 *
 * Tolerance. Today the two paths give the same bits: matmul_moe.cu builds each row's sum in the order of the dense
 * GEMV bodies, rounds the activations with the same kernels and adds the experts in ascending id from zero, like
 * zero + scatter_add (the test prints how many cases were bit-exact). TOL = 1e-2 of the largest |output| is what
 * stays allowed if the dense GEMV changes its float order: the gate/up sums then differ by ~1e-7 relative, which
 * can move a hidden value across a rounding midpoint of its 8-bit block (one step, amax/127), changing a down
 * output by |w| * amax/127: about 1e-3 of the outputs' scale here, a few such flips at most. A real fault is far
 * above it: an expert's weight swapped for another's or a wrong expert read is O(1) of the output, a skipped
 * expert about half of it. */
#include "../test_util.h"
#include "backend_cuda_internal.h"
#include "cuda_test_util.h"
#include "forward_moe.h"
#include "tiny_model.h"

#define TOL 1e-2

enum { N_LAYER = 2, N_BATCH = 8 };

typedef struct moe_case {
    const char *name;
    int32_t gate_up, down; /* expert types */
    uint32_t n_embd, n_ff, n_expert, n_used;
    int zero_router_l1; /* layer 1's router all zeros: every logit ties */
} moe_case;

/* A Mixtral-shaped miniature: F32 attention and router, the experts of the case's types. Layer 0's router rows 3
 * and 5 are equal and 4x the others (ties among the top logits); returns layer 1's router for the tests to edit. */
static float *build(tiny_model *f, const moe_case *mc, uint64_t seed)
{
    memset(f, 0, sizeof *f);
    mst_model_config c = tiny_config();
    c.n_embd = mc->n_embd, c.n_ff = mc->n_ff, c.n_head = 4, c.n_head_kv = 2, c.head_dim = 16, c.n_layer = N_LAYER;
    c.n_expert = mc->n_expert, c.n_expert_used = mc->n_used;
    f->cfg = c;
    uint64_t s = seed;
    const uint32_t E = c.n_embd, F = c.n_ff, X = c.n_expert, QD = c.n_head * c.head_dim, KVD = c.n_head_kv * c.head_dim;
    const int32_t f32 = MST_TYPE_F32;
    float *router1 = NULL;
    tiny_add(f, &s, MST_ROLE_TOKEN_EMBD, -1, f32, E, c.n_vocab, 1, 1.0f);
    tiny_add(f, &s, MST_ROLE_OUTPUT_NORM, -1, f32, E, 0, 1, 0);
    tiny_add(f, &s, MST_ROLE_OUTPUT, -1, f32, E, c.n_vocab, 1, 1.0f / sqrtf((float)E));
    for (int32_t l = 0; l < N_LAYER; l++) {
        tiny_add(f, &s, MST_ROLE_ATTN_NORM, l, f32, E, 0, 1, 0);
        tiny_add(f, &s, MST_ROLE_ATTN_Q, l, f32, E, QD, 1, 1.7f / sqrtf((float)E));
        tiny_add(f, &s, MST_ROLE_ATTN_K, l, f32, E, KVD, 1, 1.7f / sqrtf((float)E));
        tiny_add(f, &s, MST_ROLE_ATTN_V, l, f32, E, KVD, 1, 1.7f / sqrtf((float)E));
        tiny_add(f, &s, MST_ROLE_ATTN_OUT, l, f32, QD, E, 1, 1.0f / sqrtf((float)QD));
        tiny_add(f, &s, MST_ROLE_FFN_NORM, l, f32, E, 0, 1, 0);
        float *r = tiny_add(f, &s, MST_ROLE_FFN_GATE_INP, l, f32, E, X, 1, 2.0f / sqrtf((float)E));
        if (l == 0 && X > 5)
            for (uint32_t i = 0; i < E; i++)
                r[3 * E + i] = r[5 * E + i] = 4.0f * r[3 * E + i];
        if (l == 1)
            router1 = r;
        if (l == 1 && mc->zero_router_l1)
            memset(r, 0, (size_t)X * E * 4);
        tiny_add(f, &s, MST_ROLE_FFN_GATE_EXPS, l, mc->gate_up, E, F, X, 1.7f / sqrtf((float)E));
        tiny_add(f, &s, MST_ROLE_FFN_UP_EXPS, l, mc->gate_up, E, F, X, 1.7f / sqrtf((float)E));
        tiny_add(f, &s, MST_ROLE_FFN_DOWN_EXPS, l, mc->down, F, E, X, 1.0f / sqrtf((float)F));
    }
    return router1;
}

/* The CUDA model (emulated, or the driver's device 0 for the gpu_ twin; none there: skipped) and a context of
 * N_BATCH. */
static mst_context *open_ctx_batch(const tiny_model *f, mst_model **m, uint32_t n_batch)
{
    mst_model_params p;
    mst_model_params_default(&p);
    p.backend = MST_BACKEND_CUDA;
    p.flags = ct_on_driver() ? 0 : MST_BACKEND_EMULATE;
    mst_status st = mst_model_create_with(&f->cfg, f->desc, f->n, &p, m);
    if (st == MST_ERR_DEVICE && ct_on_driver()) {
        printf("skipped: no CUDA device (%s)\n", mst_last_error());
        exit(77);
    }
    ct_ok(st, "mst_model_create_with(CUDA)");
    mst_context_params cp;
    mst_context_params_default(&cp);
    cp.n_ctx = 16, cp.n_batch = n_batch, cp.n_threads = 1;
    mst_context *c = NULL;
    ct_ok(mst_context_create(*m, &cp, &c), "mst_context_create");
    return c;
}

static mst_context *open_ctx(const tiny_model *f, mst_model **m)
{
    return open_ctx_batch(f, m, N_BATCH);
}

/* The CUDA table without the device MoE op: forward_moe.c's generic path on the same backend. */
static mst_backend g_generic;

static void download(mst_context *ctx, void *host, const void *dev, size_t bytes)
{
    ct_download(cstate(ctx)->dev, host, dptr_of(dev), bytes);
}

/* One pass's state, as mst_forward starts it. */
static void start(mst_context *ctx, uint32_t n)
{
    static const int32_t tokens[N_BATCH] = {0};
    ctx->pass_status = MST_OK;
    ctx->backend->begin(ctx, tokens, n);
}

/* Tokens among n whose choice a tie decided: a chosen expert's logit equal to another expert's (chosen or not), so
 * the lower index went first. */
static uint32_t ties(const float *logits, const int32_t *chosen, uint32_t n, uint32_t X, uint32_t k)
{
    uint32_t count = 0;
    for (uint32_t t = 0; t < n; t++) {
        const float *l = logits + (size_t)t * X;
        int tie = 0;
        for (uint32_t i = 0; i < k; i++)
            for (uint32_t e = 0; e < X; e++)
                tie |= chosen[(size_t)t * k + i] != (int32_t)e && l[chosen[(size_t)t * k + i]] == l[e];
        count += (uint32_t)tie;
    }
    return count;
}

static void test_equal(void)
{
    static const moe_case cases[] = {
        {"q4_0 top-2 of 8", MST_TYPE_Q4_0, MST_TYPE_Q4_0, 96, 160, 8, 2, 0},
        {"q8_0 top-2 of 8", MST_TYPE_Q8_0, MST_TYPE_Q8_0, 96, 160, 8, 2, 0},
        {"q4_k top-2 of 8", MST_TYPE_Q4_K, MST_TYPE_Q4_K, 256, 512, 8, 2, 0},
        {"q6_k top-2 of 8", MST_TYPE_Q6_K, MST_TYPE_Q6_K, 256, 512, 8, 2, 0},
        {"q4_k_m top-2 of 8", MST_TYPE_Q4_K, MST_TYPE_Q6_K, 256, 256, 8, 2, 0},
        {"f16 top-2 of 8 (odd rows)", MST_TYPE_F16, MST_TYPE_F16, 72, 90, 8, 2, 0},
        {"q5_k (f16 on the device) top-2 of 8", MST_TYPE_Q5_K, MST_TYPE_Q5_K, 256, 256, 8, 2, 0},
        {"bf16 top-1 of 4", MST_TYPE_BF16, MST_TYPE_BF16, 64, 96, 4, 1, 1},
        {"q8_0 top-1 of 4", MST_TYPE_Q8_0, MST_TYPE_Q8_0, 64, 96, 4, 1, 1},
    };
    uint64_t s = 515;
    for (size_t ci = 0; ci < sizeof cases / sizeof *cases; ci++) {
        const moe_case *mc = &cases[ci];
        tiny_model f;
        build(&f, mc, 3000 + ci);
        mst_model *m;
        mst_context *ctx = open_ctx(&f, &m);
        const uint32_t E = f.cfg.n_embd, X = f.cfg.n_expert, k = f.cfg.n_expert_used;
        mst_dev *d = cstate(ctx)->dev;
        float *x = xmalloc((size_t)N_LAYER * N_BATCH * E * 4), *want = xmalloc((size_t)N_LAYER * N_BATCH * E * 4),
              *got = xmalloc((size_t)N_BATCH * E * 4), *logits = xmalloc((size_t)N_BATCH * X * 4);
        int32_t *dev_ids = xmalloc((size_t)N_BATCH * k * 4), *host_ids = xmalloc((size_t)N_LAYER * N_BATCH * k * 4);
        uint32_t runs = 0, exact = 0, tied = 0;
        double worst = 0;
        /* Per batch size, one pass of each path over both layers, as mst_forward runs them (the device op's
         * non-finite flag lives across a pass: the generic path's row uploads must not land in the middle). */
        for (uint32_t n = 1; n <= MST_CUDA_MOE_MAX_TOKENS; n++) {
            fill_uniform(&s, x, (size_t)N_LAYER * n * E, -1.0f, 1.0f);
            ctx->backend = &g_generic; /* the routing downloaded, each expert its own launches */
            start(ctx, n);
            for (uint32_t l = 0; l < N_LAYER; l++) {
                ct_ok(mst_dev_upload(d, dptr_of(ctx->xb), x + (size_t)l * n * E, (size_t)n * E * 4), "upload xb");
                mst_moe_ffn(ctx, &m->layers[l], n);
                download(ctx, want + (size_t)l * n * E, ctx->xb2, (size_t)n * E * 4);
                download(ctx, logits, ctx->router, (size_t)n * X * 4);
                memcpy(host_ids + (size_t)l * n * k, ctx->chosen, (size_t)n * k * 4);
                tied += ties(logits, ctx->chosen, n, X, k);
            }
            CHECK(ctx->pass_status == MST_OK, "%s: generic pass failed: %s", mc->name, ctx->pass_error);
            ctx->backend = &mst_backend_cuda; /* the device op, as mst_moe_ffn calls it: router matmul, then moe_ffn */
            start(ctx, n);
            for (uint32_t l = 0; l < N_LAYER; l++) {
                const mst_layer *L = &m->layers[l];
                ct_ok(mst_dev_upload(d, dptr_of(ctx->xb), x + (size_t)l * n * E, (size_t)n * E * 4), "upload xb");
                const mst_weight *router = &L->router;
                ctx->backend->matmul(ctx, &router, &ctx->router, 1, ctx->xb, n);
                CHECK(mst_backend_cuda.moe_ffn(ctx, L, n) == 1, "%s n=%u: the device op did not take the case", mc->name, n);
                uint32_t bl = 0, bt = 0;
                if (l + 1 == N_LAYER) /* the pass's end: no non-finite router logits since layer 0 reset the flag */
                    CHECK(!mst_backend_cuda.moe_nonfinite(ctx, &bl, &bt), "%s n=%u: non-finite flag at layer %u token %u",
                          mc->name, n, bl, bt);
                download(ctx, got, ctx->xb2, (size_t)n * E * 4);
                download(ctx, dev_ids, ptr_of(cstate(ctx)->chosen), (size_t)n * k * 4);
                CHECK(memcmp(dev_ids, host_ids + (size_t)l * n * k, (size_t)n * k * 4) == 0,
                      "%s n=%u layer %u: device ids differ from the host's", mc->name, n, l);
                const float *w = want + (size_t)l * n * E;
                const double scale = max_abs(w, (size_t)n * E), err = max_abs_diff(got, w, (size_t)n * E);
                CHECK(scale > 0 && mst_find_nonfinite(got, (size_t)n * E) < 0, "%s n=%u layer %u: output zero or not finite",
                      mc->name, n, l);
                CHECK(err <= TOL * scale, "%s n=%u layer %u: device %.3g from generic (max |out| %.3g, tol %.1g of it)",
                      mc->name, n, l, err, scale, TOL);
                worst = err / scale > worst ? err / scale : worst;
                exact += memcmp(got, w, (size_t)n * E * 4) == 0;
                runs++;
            }
            CHECK(ctx->pass_status == MST_OK, "%s: device pass failed: %s", mc->name, ctx->pass_error);
        }
        printf("%s: %u of %u runs bit-exact (worst %.3g of max |out|), %u tokens routed by a tie\n", mc->name, exact,
               runs, worst, tied);
        CHECK(tied > 0, "%s: no router tie was exercised", mc->name);
        free(x), free(want), free(got), free(logits), free(dev_ids), free(host_ids);
        mst_context_free(ctx), mst_model_free(m);
        tiny_release(&f);
    }
}

static void test_nan(void)
{
    const moe_case mc = {"q8_0", MST_TYPE_Q8_0, MST_TYPE_Q8_0, 96, 160, 8, 2, 0};
    tiny_model f;
    build(&f, &mc, 4242);
    mst_model *m;
    mst_context *ctx = open_ctx(&f, &m);
    const uint32_t E = f.cfg.n_embd, n = 3;
    mst_dev *d = cstate(ctx)->dev;
    float *x = xmalloc((size_t)n * E * 4), *y = xmalloc((size_t)n * E * 4);
    uint64_t s = 99;
    for (uint32_t l = 0; l < N_LAYER; l++) {
        fill_uniform(&s, x, (size_t)n * E, -1.0f, 1.0f);
        x[(size_t)(l == 0 ? 1 : 0) * E + 7] = NAN; /* layer 0: token 1; layer 1: token 0 (later, so not reported) */
        ct_ok(mst_dev_upload(d, dptr_of(ctx->xb), x, (size_t)n * E * 4), "upload xb");
        if (l == 0)
            start(ctx, n);
        const mst_weight *router = &m->layers[l].router;
        ctx->backend->matmul(ctx, &router, &ctx->router, 1, ctx->xb, n);
        CHECK(mst_backend_cuda.moe_ffn(ctx, &m->layers[l], n) == 1, "nan: the device op did not take the case");
        download(ctx, y, ctx->xb2, (size_t)n * E * 4);
        const uint32_t bad = l == 0 ? 1 : 0;
        for (uint32_t t = 0; t < n; t++) {
            const float *row = y + (size_t)t * E;
            if (t == bad)
                CHECK(max_abs(row, E) == 0, "nan layer %u: the unrouted token %u's output is not 0", l, t);
            else
                CHECK(mst_find_nonfinite(row, E) < 0 && max_abs(row, E) > 0, "nan layer %u: token %u's output is not finite",
                      l, t);
        }
    }
    uint32_t bl = 99, bt = 99;
    CHECK(mst_backend_cuda.moe_nonfinite(ctx, &bl, &bt) && bl == 0 && bt == 1,
          "nan: moe_nonfinite says layer %u token %u, want layer 0 token 1", bl, bt);
    CHECK(ctx->pass_status == MST_OK, "nan: the op itself failed: %s", ctx->pass_error);
    printf("nan: the unrouted token adds nothing; the first bad (layer 0, token 1) is reported\n");
    /* The flag is the pass's own: a pass that does not run the op, and one that runs it on finite rows, report none */
    start(ctx, n);
    CHECK(!mst_backend_cuda.moe_nonfinite(ctx, &bl, &bt), "nan: a pass without the op reports layer %u token %u", bl, bt);
    fill_uniform(&s, x, (size_t)n * E, -1.0f, 1.0f);
    ct_ok(mst_dev_upload(d, dptr_of(ctx->xb), x, (size_t)n * E * 4), "upload xb");
    start(ctx, n);
    for (uint32_t l = 0; l < N_LAYER; l++) {
        const mst_weight *router = &m->layers[l].router;
        ctx->backend->matmul(ctx, &router, &ctx->router, 1, ctx->xb, n);
        CHECK(mst_backend_cuda.moe_ffn(ctx, &m->layers[l], n) == 1, "nan: the device op did not take the case");
    }
    CHECK(!mst_backend_cuda.moe_nonfinite(ctx, &bl, &bt), "nan: a finite pass after a bad one reports layer %u token %u",
          bl, bt);
    free(x), free(y);
    mst_context_free(ctx), mst_model_free(m);
    tiny_release(&f);
}

static void test_decode(void)
{
    const moe_case mc = {"q4_k", MST_TYPE_Q4_K, MST_TYPE_Q4_K, 256, 256, 8, 2, 0};
    tiny_model f;
    float *router1 = build(&f, &mc, 777);
    router1[2 * f.cfg.n_embd + 5] = NAN; /* expert 2's row: its logit is NaN for every token */
    mst_model *m;
    mst_context *ctx = open_ctx(&f, &m);
    const uint32_t V = f.cfg.n_vocab, k = f.cfg.n_expert_used;
    for (uint32_t i = 0; i < N_BATCH * k; i++)
        ctx->chosen[i] = -7; /* the generic path's host routing: must stay unwritten */
    float *logits = xmalloc((size_t)V * 4);
    const int32_t tok = 3;
    const mst_status st = mst_decode(ctx, &tok, 1, 0, logits, V);
    CHECK(st == MST_ERR_NON_FINITE && strstr(mst_last_error(), "layer 1 produced non-finite router logits at position 0"),
          "decode: %s (%s), want MST_ERR_NON_FINITE naming layer 1 and position 0", mst_status_to_string(st),
          mst_last_error());
    int untouched = 1;
    for (uint32_t i = 0; i < N_BATCH * k; i++)
        untouched &= ctx->chosen[i] == -7;
    CHECK(untouched, "decode: the host routing was written (the generic path ran)");
    printf("decode: %s\n", mst_last_error());
    free(logits);
    mst_context_free(ctx), mst_model_free(m);
    tiny_release(&f);
}

/* A NaN in layer 0's attention output weights: the residual stream is NaN before layer 0's feed-forward, so its
 * router logits are NaN, and so are layer 0's output and the hidden state at the output layer. The generic path
 * (the CPU backend, on the same tensors) fails at the router first; the CUDA backend, whose device op answers after
 * the pass (or after the layer, under MST_CONTEXT_CHECK_LAYERS), must name the same fault in the same words. */
static void test_first_fault(void)
{
    const moe_case mc = {"q8_0", MST_TYPE_Q8_0, MST_TYPE_Q8_0, 96, 160, 8, 2, 0};
    tiny_model f;
    build(&f, &mc, 909);
    for (uint32_t i = 0; i < f.n; i++)
        if (f.desc[i].role == MST_ROLE_ATTN_OUT && f.desc[i].layer == 0)
            ((float *)f.own[i])[5] = NAN; /* row 0, column 5: x[0] NaN */
    const int32_t tok = 3;
    float *logits = xmalloc((size_t)f.cfg.n_vocab * 4);
    for (int checked = 0; checked <= 1; checked++) {
        char msg[2][512];
        mst_status st[2];
        for (int cuda = 0; cuda <= 1; cuda++) {
            mst_model_params p;
            mst_model_params_default(&p);
            p.backend = cuda ? MST_BACKEND_CUDA : MST_BACKEND_CPU;
            p.flags = cuda && !ct_on_driver() ? MST_BACKEND_EMULATE : 0;
            mst_model *m = NULL;
            ct_ok(mst_model_create_with(&f.cfg, f.desc, f.n, &p, &m), "mst_model_create_with");
            mst_context_params cp;
            mst_context_params_default(&cp);
            cp.n_ctx = 16, cp.n_batch = N_BATCH, cp.n_threads = 1, cp.flags = checked ? MST_CONTEXT_CHECK_LAYERS : 0;
            mst_context *c = NULL;
            ct_ok(mst_context_create(m, &cp, &c), "mst_context_create");
            st[cuda] = mst_decode(c, &tok, 1, 0, logits, f.cfg.n_vocab);
            snprintf(msg[cuda], sizeof msg[cuda], "%s", mst_last_error());
            mst_context_free(c), mst_model_free(m);
        }
        const char *want = "layer 0 produced non-finite router logits at position 0";
        CHECK(st[0] == MST_ERR_NON_FINITE && strstr(msg[0], want), "first fault%s, CPU: %s (%s), want \"%s\"",
              checked ? " (layers checked)" : "", mst_status_to_string(st[0]), msg[0], want);
        CHECK(st[1] == st[0] && strcmp(msg[1], msg[0]) == 0, "first fault%s: CUDA %s (%s), the generic path %s (%s)",
              checked ? " (layers checked)" : "", mst_status_to_string(st[1]), msg[1], mst_status_to_string(st[0]),
              msg[0]);
        printf("first fault%s: %s\n", checked ? " (layers checked)" : "", msg[1]);
    }
    free(logits);
    tiny_release(&f);
}

/* Cases the op leaves to the generic path, returning 0 before it queues anything: more tokens than it takes, and a
 * context whose hidden buffer cannot hold n * n_used rows (n_batch 1, top-2). */
static void test_declines(void)
{
    const moe_case mc = {"q8_0", MST_TYPE_Q8_0, MST_TYPE_Q8_0, 96, 160, 8, 2, 0};
    tiny_model f;
    build(&f, &mc, 555);
    for (int small = 0; small <= 1; small++) {
        mst_model *m;
        mst_context *ctx = open_ctx_batch(&f, &m, small ? 1 : N_BATCH);
        const uint32_t n = small ? 1 : MST_CUDA_MOE_MAX_TOKENS + 1;
        start(ctx, n);
        CHECK(mst_backend_cuda.moe_ffn(ctx, &m->layers[0], n) == 0, "declines: n_batch %u, %u tokens taken",
              ctx->n_batch, n);
        mst_context_free(ctx), mst_model_free(m);
    }
    printf("declines: %u tokens, and 1 token with n_batch 1, go to the generic path\n", MST_CUDA_MOE_MAX_TOKENS + 1);
    tiny_release(&f);
}

int main(int argc, char **argv)
{
    const char *which = argc > 1 ? argv[1] : "all";
    const int all = strcmp(which, "all") == 0;
    g_generic = mst_backend_cuda;
    g_generic.moe_ffn = NULL, g_generic.moe_nonfinite = NULL;
    CHECK(mst_backend_cuda.moe_ffn && mst_backend_cuda.moe_nonfinite, "the CUDA backend has no device MoE op");
    if (all || strcmp(which, "equal") == 0)
        test_equal();
    if (all || strcmp(which, "nan") == 0)
        test_nan();
    if (all || strcmp(which, "decode") == 0)
        test_decode();
    if (all || strcmp(which, "declines") == 0)
        test_declines();
    if (all || strcmp(which, "first_fault") == 0)
        test_first_fault();
    return finish(which);
}
