/* test_cuda_graph.c — the decode step as one recorded graph (cuda/backend_cuda_graph.c), and the kernels that make
 * it possible, on the emulator (the gpu_graph twin: on a GPU):
 *   - graph replay against op-by-op runs of the same model: 24 decode steps after a 9-token prompt, logits equal
 *     bit for bit (the same kernels in the same order with the same arguments: no tolerance), on a dense model and
 *     on a sliding-window model whose rolling cache (16 rows, window 8) wraps twice; then both contexts truncated
 *     back (to 12; the rolling one to 31, as far as its cache allows) and 6 more steps, still equal (the recording
 *     reads the position from device memory, so moving it needs no new recording); the graph context holds a
 *     recording, the other none;
 *   - the same on a Mixtral-shaped model (8 experts, top-2, F16 experts, F32 router): its decode takes the device
 *     MoE op (the routing stays in device memory), so the step is recorded, and the recording holds the op; then,
 *     during a replay, a NaN put into layer 1's router weights on the device (the model both contexts share) fails
 *     both contexts' step with MST_ERR_NON_FINITE and the same message, "layer 1 produced non-finite router logits
 *     at position P" (the generic path's words), the recording kept; with the weight restored both go on equal;
 *     the same for a NaN in layer 1's attention output weights, which also carries NaN to the output layer: the
 *     router, which the generic path meets first, is still what is named;
 *     and a context whose n_batch (1) leaves no room for the op's top-2 hidden rows records nothing and says why;
 *   - emulator capture: launches are recorded, not run, with copies of their argument values; an upload during a
 *     capture is refused with a message, and the capture with it;
 *   - attention with the position in device memory, over 700 keys (the decode split: 3 chunks sized from the bound,
 *     so at early positions some are empty), against the same attention with host positions (whose split is sized
 *     from the keys there are): the two sum in different orders, so they agree to a tolerance, 2e-6 of max |v|: each
 *     output is a convex combination of V rows merged by exp2 rescales (ex2.approx, 2^-22 relative) and float sums
 *     (2^-24 per addition over <= 700 terms, about 4e-5 worst case, 1e-6 in practice); a wrong chunk or mask is O(1);
 *   - argmax.cu against the C# sampler's ArgMax rule (TokenSampler.cs) and nonfinite.cu against the first NaN/Inf:
 *     exact (comparisons only). */
#define _POSIX_C_SOURCE 200809L /* setenv */
#include "cuda_test_util.h"
#include "../decode_lockstep.h"

#include "cuda/backend_cuda_internal.h"

/* ---- graph replay against op-by-op ---- */

/* tm_build's model (F16 matrices) with a mixture of experts in place of the dense feed-forward: an F32 router
 * [n_embd -> n_expert] and the experts' gate, up and down stacked in 3-D tensors (n_expert slices each). */
static void tm_build_moe(test_model *tm, uint64_t seed, const mst_model_config *cfg)
{
    memset(tm, 0, sizeof *tm);
    tm->cfg = *cfg;
    uint64_t s = seed;
    const int32_t f16 = MST_TYPE_F16;
    const uint32_t e = cfg->n_embd, f = cfg->n_ff, x = cfg->n_expert, qd = cfg->n_head * cfg->head_dim,
                   kvd = cfg->n_head_kv * cfg->head_dim;
    tm_add(tm, &s, MST_ROLE_TOKEN_EMBD, -1, f16, e, cfg->n_vocab, 1.0f, 0);
    tm_add(tm, &s, MST_ROLE_OUTPUT_NORM, -1, MST_TYPE_F32, e, 1, 0, 1);
    tm_add(tm, &s, MST_ROLE_OUTPUT, -1, f16, e, cfg->n_vocab, 1.0f / sqrtf((float)e), 0);
    for (int32_t l = 0; l < (int32_t)cfg->n_layer; l++) {
        tm_add(tm, &s, MST_ROLE_ATTN_NORM, l, MST_TYPE_F32, e, 1, 0, 1);
        tm_add(tm, &s, MST_ROLE_ATTN_Q, l, f16, e, qd, 1.7f / sqrtf((float)e), 0);
        tm_add(tm, &s, MST_ROLE_ATTN_K, l, f16, e, kvd, 1.7f / sqrtf((float)e), 0);
        tm_add(tm, &s, MST_ROLE_ATTN_V, l, f16, e, kvd, 1.7f / sqrtf((float)e), 0);
        tm_add(tm, &s, MST_ROLE_ATTN_OUT, l, f16, qd, e, 1.0f / sqrtf((float)qd), 0);
        tm_add(tm, &s, MST_ROLE_FFN_NORM, l, MST_TYPE_F32, e, 1, 0, 1);
        tm_add(tm, &s, MST_ROLE_FFN_GATE_INP, l, MST_TYPE_F32, e, x, 2.0f / sqrtf((float)e), 0);
        static const int32_t roles[3] = {MST_ROLE_FFN_GATE_EXPS, MST_ROLE_FFN_UP_EXPS, MST_ROLE_FFN_DOWN_EXPS};
        for (int i = 0; i < 3; i++) {
            const uint32_t in = i == 2 ? f : e, out = i == 2 ? e : f;
            tm_add(tm, &s, roles[i], l, f16, in, out * x, (i == 2 ? 1.0f : 1.7f) / sqrtf((float)in), 0);
            mst_tensor_desc *d = &tm->desc[tm->n_desc - 1]; /* out * x rows: x slices of out rows */
            d->n_dims = 3, d->ne[1] = out, d->ne[2] = x;
        }
    }
}

static void open_model(const mst_model_config *cfg, uint64_t seed, test_model *tm, mst_model **m)
{
    static const int32_t f16[9] = {MST_TYPE_F16, MST_TYPE_F16, MST_TYPE_F16, MST_TYPE_F16, MST_TYPE_F16,
                                   MST_TYPE_F16, MST_TYPE_F16, MST_TYPE_F16, MST_TYPE_F16};
    if (cfg->n_expert > 0)
        tm_build_moe(tm, seed, cfg);
    else
        tm_build(tm, seed, cfg, f16, 0);
    mst_model_params p;
    mst_model_params_default(&p);
    p.backend = MST_BACKEND_CUDA;
    p.flags = ct_on_driver() ? 0 : MST_BACKEND_EMULATE;
    ct_ok(mst_model_create_with(&tm->cfg, tm->desc, tm->n_desc, &p, m), "model");
}

static mst_context *open_ctx_batch(mst_model *m, uint32_t n_ctx, uint32_t n_batch)
{
    mst_context_params cp;
    mst_context_params_default(&cp);
    cp.n_ctx = n_ctx, cp.n_batch = n_batch;
    mst_context *c = NULL;
    ct_ok(mst_context_create(m, &cp, &c), "context");
    return c;
}

static mst_context *open_ctx(mst_model *m, uint32_t n_ctx)
{
    return open_ctx_batch(m, n_ctx, 9);
}

static uint32_t host_argmax(const float *x, uint32_t n)
{
    uint32_t best = 0;
    for (uint32_t i = 1; i < n; i++)
        if (x[i] > x[best])
            best = i;
    return best;
}

/* Decodes `steps` tokens one at a time in both contexts (plain: graphs off by MISTRAL_CUDA_GRAPHS=0 at its first
 * step), each step's token the plain run's greedy choice, comparing the logits bit for bit. */
static void lockstep(const char *name, mst_context *plain, mst_context *graph, uint32_t V, int32_t *next, int steps,
                     float *a, float *b)
{
    for (int i = 0; i < steps && g_failures == 0; i++) {
        setenv("MISTRAL_CUDA_GRAPHS", "0", 1);
        ct_ok(mst_decode(plain, next, 1, 0, a, V), "decode (op by op)");
        unsetenv("MISTRAL_CUDA_GRAPHS");
        ct_ok(mst_decode(graph, next, 1, 0, b, V), "decode (graph)");
        CHECK(memcmp(a, b, (size_t)V * 4) == 0, "%s: step %d: the graph's logits differ from op by op (max %.3g)", name,
              i, max_abs_diff(a, b, V));
        *next = (int32_t)host_argmax(a, V);
    }
}

/* One decode step in both contexts with a NaN put into w (F32 or F16 on the device), row `row`, column 5; the graph
 * context's step is a replay. Both must fail alike, naming layer 1's router and the position; with the weight
 * restored the next steps are equal again, the graph context still replaying its recording. */
static void moe_nan_step(const char *what, const mst_weight *w, uint32_t row, mst_context *plain, mst_context *graph,
                         uint32_t V, int32_t *next, float *a, float *b)
{
    cuda_ctx *gs = graph->backend_state;
    CHECK(gs->graph && gs->graph_moe_ran, "moe: no recording holding the device MoE op to replay");
    mst_dev *d = gs->dev;
    CHECK(w->type == MST_TYPE_F32 || w->type == MST_TYPE_F16, "moe %s: type %d on the device, the test pokes F32/F16",
          what, (int)w->type);
    const uint32_t size = w->type == MST_TYPE_F32 ? 4 : 2;
    const uint32_t nan_bits = size == 4 ? 0x7fc00000u : 0x7e00u; /* a quiet NaN, little-endian low bytes */
    const mst_dptr at = dptr_of(w->data) + row * w->row_bytes + 5 * size;
    uint32_t keep = 0;
    ct_download(d, &keep, at, size);
    ct_ok(mst_dev_upload(d, at, &nan_bits, size), "NaN upload");
    uint32_t pos = 0;
    mst_context_position(graph, &pos);
    char want[96];
    snprintf(want, sizeof want, "layer 1 produced non-finite router logits at position %u", pos);

    setenv("MISTRAL_CUDA_GRAPHS", "0", 1);
    const mst_status sp = mst_decode(plain, next, 1, 0, a, V);
    char plain_msg[512];
    snprintf(plain_msg, sizeof plain_msg, "%s", mst_last_error());
    unsetenv("MISTRAL_CUDA_GRAPHS");
    const mst_status sg = mst_decode(graph, next, 1, 0, b, V);
    CHECK(sp == MST_ERR_NON_FINITE && strstr(plain_msg, want), "moe %s, op by op: %s (%s), want \"%s\"", what,
          mst_status_to_string(sp), plain_msg, want);
    CHECK(sg == MST_ERR_NON_FINITE && strstr(mst_last_error(), want), "moe %s, graph replay: %s (%s), want \"%s\"",
          what, mst_status_to_string(sg), mst_last_error(), want);
    CHECK(strcmp(plain_msg, mst_last_error()) == 0, "moe %s: op by op says \"%s\", the replay \"%s\"", what, plain_msg,
          mst_last_error());
    CHECK(gs->graph != NULL && !gs->graphs_off, "moe %s: the failed replay dropped the recording", what);
    printf("moe, %s during a replay: %s\n", what, mst_last_error());

    ct_ok(mst_dev_upload(d, at, &keep, size), "restore");
    uint32_t pp = 0, pg = 0;
    mst_context_position(plain, &pp);
    mst_context_position(graph, &pg);
    CHECK(pp == pg, "moe %s: after the failed step op by op is at %u, the graph context at %u", what, pp, pg);
    lockstep(what, plain, graph, V, next, 3, a, b);
}

/* A MoE context whose decode the device op does not take (n_batch 1: no room for top-2's two hidden rows) runs op
 * by op, the generic path's routing downloads and all, and says why it records nothing. */
static void moe_declined_case(mst_model *m, uint32_t V, float *a)
{
    mst_context *c = open_ctx_batch(m, 16, 1);
    const int32_t tok = 7;
    ct_ok(mst_decode(c, &tok, 1, 0, a, V), "decode (n_batch 1)");
    ct_ok(mst_decode(c, &tok, 1, 0, a, V), "decode (n_batch 1)");
    const cuda_ctx *s = c->backend_state;
    CHECK(s->graph == NULL && s->graphs_off && s->graphs_off_why && strstr(s->graphs_off_why, "MoE"),
          "moe, n_batch 1: recorded %d, off %d (%s); want no recording, the MoE op named", s->graph != NULL,
          s->graphs_off, s->graphs_off_why ? s->graphs_off_why : "no reason");
    mst_context_free(c);
}

static void replay_case(const char *name, mst_model_config cfg, uint32_t n_ctx, uint32_t back_to)
{
    test_model tm;
    mst_model *m = NULL;
    open_model(&cfg, 77, &tm, &m);
    mst_context *plain = open_ctx(m, n_ctx), *graph = open_ctx(m, n_ctx);
    const uint32_t V = cfg.n_vocab;
    float *a = xmalloc((size_t)V * 4), *b = xmalloc((size_t)V * 4);
    const int32_t prompt[9] = {3, 1, 4, 1, 5, 9, 2, 6, 5};
    ct_ok(mst_decode(plain, prompt, 9, 0, a, V), "prefill");
    ct_ok(mst_decode(graph, prompt, 9, 0, b, V), "prefill");
    CHECK(memcmp(a, b, (size_t)V * 4) == 0, "%s: prefill logits differ", name);
    int32_t next = (int32_t)host_argmax(a, V);
    lockstep(name, plain, graph, V, &next, 24, a, b);
    CHECK(((cuda_ctx *)graph->backend_state)->graph != NULL, "%s: the graph context holds no recording", name);
    CHECK(((cuda_ctx *)plain->backend_state)->graph == NULL, "%s: MISTRAL_CUDA_GRAPHS=0 still recorded", name);
    ct_ok(mst_context_truncate(plain, back_to), "truncate");
    ct_ok(mst_context_truncate(graph, back_to), "truncate");
    lockstep(name, plain, graph, V, &next, 6, a, b);
    uint32_t pos = 0;
    mst_context_position(graph, &pos);
    CHECK(pos == back_to + 6, "%s: the graph context is at %u, expected %u", name, pos, back_to + 6);
    if (cfg.n_expert > 0) {
        CHECK(((cuda_ctx *)graph->backend_state)->graph_moe_ran, "%s: the recording does not hold the device MoE op",
              name);
        /* expert 2's router row: that logit NaN for every token, the hidden state finite */
        moe_nan_step("NaN router weight", &m->layers[1].router, 2, plain, graph, V, &next, a, b);
        /* Wo's row 0: the residual stream NaN before the feed-forward, so the router's logits too, and the hidden
         * state reaching the output layer; the router, met first on the generic path, must be what is named */
        moe_nan_step("NaN attention output weight", &m->layers[1].wo, 0, plain, graph, V, &next, a, b);
        moe_declined_case(m, V, a);
    }
    free(a), free(b);
    mst_context_free(plain), mst_context_free(graph);
    mst_model_free(m);
    tm_free(&tm);
}

/* ---- emulator capture ---- */

static void capture_case(mst_dev *d)
{
    if (ct_on_driver())
        return; /* the emulator's own rules; the driver's capture is test_cuda_driver's graphs case */
    uint64_t seed = 5;
    const size_t n = 37;
    float *x = ct_random(&seed, n, -1, 1), *y = ct_random(&seed, n, -1, 1), *got = xmalloc(n * 4);
    mst_dptr dx = ct_upload(d, x, n * 4), dy = ct_upload(d, y, n * 4);
    ct_ok(mst_dev_capture_begin(d), "capture begin");
    ct_ok(mst_cuda_add(d, dx, dy, n), "captured add"); /* its argument array is the wrapper's: gone on return */
    mst_dev_graph *g = NULL;
    ct_ok(mst_dev_capture_end(d, &g), "capture end");
    ct_download(d, got, dx, n * 4);
    CHECK(memcmp(got, x, n * 4) == 0, "a captured launch ran during the capture");
    ct_ok(mst_dev_graph_launch(d, g), "graph launch");
    ct_ok(mst_dev_graph_launch(d, g), "graph launch");
    ct_download(d, got, dx, n * 4);
    int same = 1;
    for (size_t i = 0; i < n; i++)
        same &= got[i] == (x[i] + y[i]) + y[i];
    CHECK(same, "two replays of x += y did not give x + y + y");
    mst_dev_graph_free(d, g);

    ct_ok(mst_dev_capture_begin(d), "capture begin");
    const mst_status up = mst_dev_upload(d, dx, x, n * 4);
    CHECK(up == MST_ERR_INTERNAL && strstr(mst_last_error(), "graph capture"), "upload during a capture: %s (%s)",
          mst_status_to_string(up), mst_last_error());
    g = NULL;
    const mst_status end = mst_dev_capture_end(d, &g);
    CHECK(end == MST_ERR_INTERNAL && !g && strstr(mst_last_error(), "mst_dev_upload"),
          "a capture with a refused upload ended with %s (%s)", mst_status_to_string(end), mst_last_error());
    mst_dev_free(d, dx), mst_dev_free(d, dy);
    free(x), free(y), free(got);
}

/* ---- attention with the position on the device ---- */

static void attention_case(mst_dev *d)
{
    const uint32_t n_head = 4, n_head_kv = 2, hd = 64, slots = 700, kv_dim = n_head_kv * hd;
    uint64_t seed = 9;
    uint16_t *kc = xmalloc((size_t)slots * kv_dim * 2), *vc = xmalloc((size_t)slots * kv_dim * 2);
    float vmax = 0;
    for (size_t i = 0; i < (size_t)slots * kv_dim; i++) {
        kc[i] = t_fp32_to_fp16(rng_uniform(&seed, -1, 1));
        const float v = rng_uniform(&seed, -1, 1);
        vc[i] = t_fp32_to_fp16(v);
        vmax = fabsf(v) > vmax ? fabsf(v) : vmax;
    }
    float *q = ct_random(&seed, (size_t)n_head * hd, -1, 1);
    float *a = xmalloc((size_t)n_head * hd * 4), *b = xmalloc((size_t)n_head * hd * 4);
    mst_dptr dk = ct_upload(d, kc, (size_t)slots * kv_dim * 2), dv = ct_upload(d, vc, (size_t)slots * kv_dim * 2);
    mst_dptr dq = ct_upload(d, q, (size_t)n_head * hd * 4), out = ct_alloc(d, (size_t)n_head * hd * 4);
    mst_dptr scratch = ct_alloc(d, mst_cuda_attention_scratch_bytes(1, n_head, hd, slots));
    mst_dptr pos = ct_alloc(d, 4);
    static const uint32_t positions[] = {0, 5, 40, 255, 256, 300, 511, 699};
    for (size_t i = 0; i < sizeof positions / sizeof *positions; i++) {
        const uint32_t p = positions[i];
        for (uint32_t window = 0; window <= 300; window += 300) {
            mst_cuda_attn_args host = {.q = dq, .k_cache = dk, .v_cache = dv, .out = out, .scratch = scratch,
                                       .n_tokens = 1, .q_pos0 = p, .n_kv = p + 1, .n_head = n_head,
                                       .n_head_kv = n_head_kv, .head_dim = hd, .window = window};
            ct_ok(mst_cuda_attention(d, &host), "attention (host position)");
            ct_download(d, a, out, (size_t)n_head * hd * 4);
            ct_ok(mst_dev_upload(d, pos, &p, 4), "position upload");
            mst_cuda_attn_args dev = host;
            dev.q_pos0 = 0, dev.n_kv = 1, dev.pos = pos, dev.max_keys = window ? window : slots;
            ct_ok(mst_cuda_attention(d, &dev), "attention (device position)");
            ct_download(d, b, out, (size_t)n_head * hd * 4);
            char what[96];
            snprintf(what, sizeof what, "attention, position %u in device memory, window %u", p, window);
            ct_compare(what, b, a, (size_t)n_head * hd, 2e-6 * vmax, 0.0);
        }
    }
    mst_dev_free(d, dk), mst_dev_free(d, dv), mst_dev_free(d, dq), mst_dev_free(d, out), mst_dev_free(d, scratch);
    mst_dev_free(d, pos);
    free(kc), free(vc), free(q), free(a), free(b);
}

/* ---- argmax and the non-finite check ---- */

/* sampler_argmax (TokenSampler.ArgMax's rule): ../decode_lockstep.h */

static int32_t first_bad(const float *x, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return (int32_t)i;
    return INT32_MAX;
}

static void argmax_one(mst_dev *d, const char *what, const float *x, uint32_t n)
{
    mst_dptr dx = ct_upload(d, x, (size_t)n * 4), out = ct_alloc(d, 8), worst = ct_alloc(d, 4);
    const int32_t minus_one = -1;
    ct_ok(mst_dev_upload(d, worst, &minus_one, 4), "upload");
    ct_ok(mst_cuda_argmax(d, dx, n, out), "mst_cuda_argmax");
    ct_ok(mst_cuda_find_nonfinite(d, dx, n, worst), "mst_cuda_find_nonfinite");
    int32_t got[2], w;
    ct_download(d, got, out, 8);
    ct_download(d, &w, worst, 4);
    const int32_t want = sampler_argmax(x, n), bad = first_bad(x, n);
    CHECK(got[0] == want, "argmax %s (n %u): %d, the sampler's rule gives %d", what, n, got[0], want);
    CHECK(got[1] == bad, "argmax %s (n %u): first non-finite %d, expected %d", what, n, got[1], bad);
    const int32_t w_idx = w < 0 ? INT32_MAX : INT32_MAX - w;
    CHECK(w_idx == bad, "find_nonfinite %s (n %u): %d, expected %d", what, n, w_idx, bad);
    mst_dev_free(d, dx), mst_dev_free(d, out), mst_dev_free(d, worst);
}

static void argmax_case(mst_dev *d)
{
    uint64_t seed = 21;
    const uint32_t n = 1001;
    float *x = ct_random(&seed, n, -5, 5);
    argmax_one(d, "random", x, n);
    argmax_one(d, "one value", x, 1);
    x[700] = x[300] = x[999] = 9.0f; /* ties: the lowest index */
    argmax_one(d, "tie", x, n);
    x[100] = NAN; /* NaN elsewhere never wins, and is the first non-finite */
    argmax_one(d, "NaN inside", x, n);
    x[0] = NAN; /* NaN at index 0: nothing compares greater, so 0 */
    argmax_one(d, "NaN at 0", x, n);
    x[0] = 1.0f, x[100] = 2.0f, x[850] = INFINITY, x[900] = -INFINITY; /* +Inf is the largest */
    argmax_one(d, "infinities", x, n);
    for (uint32_t i = 0; i < n; i++)
        x[i] = (i % 3) ? 0.0f : -0.0f; /* -0 == +0: index 0 */
    argmax_one(d, "signed zeros", x, n);
    for (uint32_t i = 0; i < n; i++)
        x[i] = -1.0f;
    x[n - 1] = -0.5f; /* the last index, past every warp's first lap */
    argmax_one(d, "last", x, n);
    free(x);
}

int main(void)
{
    unsetenv("MISTRAL_CUDA_GRAPHS");
    mst_dev *d = ct_open();
    capture_case(d);
    attention_case(d);
    argmax_case(d);
    mst_dev_close(d);
    mst_model_config dense = tiny_config();
    replay_case("dense", dense, 64, 12);
    mst_model_config win = tiny_config();
    win.sliding_window = 8;
    replay_case("sliding window, rolling cache", win, 16, 31); /* a rolling cache keeps only the last keys */
    mst_model_config moe = tiny_config();
    moe.n_expert = 8, moe.n_expert_used = 2, moe.n_ff = 40;
    replay_case("mixtral-shaped, 8 experts top-2", moe, 64, 12);
    return ct_finish("test_cuda_graph");
}
