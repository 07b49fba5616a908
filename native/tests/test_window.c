/* test_window.c — sliding window with a rolling KV cache.
 *   rolling:   window 4; a context of n_ctx 16, n_batch 2 (5 slots, so the cache wraps every 5
 *              positions) runs a 10-token prompt then 90 single steps, far past n_ctx, and must give
 *              the logits of a context that holds the whole history (n_ctx 128, one call);
 *   truncate:  going back within what the rolled cache still holds works and reproduces the logits;
 *              going back further is INVALID_ARGUMENT with a message, and leaves the context usable;
 *   per_layer: the per-layer window hook (mst_model_config.layer_windows): {w, w} equals the single
 *              window w, {0, 0} equals full attention, {w, 0} differs from both and does not roll. */
#include "test_util.h"

static const int32_t F32S[9] = {MST_TYPE_F32, MST_TYPE_F32, MST_TYPE_F32, MST_TYPE_F32, MST_TYPE_F32,
                                MST_TYPE_F32, MST_TYPE_F32, MST_TYPE_F32, MST_TYPE_F32};
enum { N = 100, W = 4 };

static mst_context *make_ctx(mst_model *m, uint32_t n_ctx, uint32_t n_batch)
{
    mst_context_params p;
    mst_context_params_default(&p);
    p.n_ctx = n_ctx, p.n_batch = n_batch, p.n_threads = 2;
    mst_context *c = NULL;
    if (mst_context_create(m, &p, &c) != MST_OK) {
        printf("mst_context_create: %s\n", mst_last_error());
        exit(1);
    }
    return c;
}

static mst_model *make_model(const test_model *tm, const mst_model_config *cfg)
{
    mst_model *m = NULL;
    if (mst_model_create(cfg, tm->desc, tm->n_desc, &m) != MST_OK) {
        printf("mst_model_create: %s\n", mst_last_error());
        exit(1);
    }
    return m;
}

static void sequence(int32_t *t, uint32_t n, uint32_t vocab)
{
    uint64_t s = 99;
    for (uint32_t i = 0; i < n; i++)
        t[i] = (int32_t)(rng_next(&s) % vocab);
}

/* Float32 sums in a different grouping (chunks of 2 vs one batch of 100): same bound as the
 * KV-consistency test in test_model.c; a wrong slot or mask moves logits by O(0.1..1). */
static double check_rel(const char *what, const float *a, const float *b, size_t n)
{
    double err = max_abs_diff(a, b, n), scale = max_abs(b, n);
    CHECK(err <= 1e-4 * (scale > 1 ? scale : 1), "%s: max error %.3g on logits up to %.3g", what, err, scale);
    return err;
}

typedef struct fixture {
    test_model tm;
    mst_model *m;
    int32_t tokens[N];
    float *full; /* [N][V] logits with the whole history held (no wrap) */
    uint32_t V;
} fixture;

static void setup(fixture *f)
{
    mst_model_config cfg = tiny_config();
    cfg.sliding_window = W;
    tm_build(&f->tm, 3, &cfg, F32S, 0);
    f->m = make_model(&f->tm, &cfg);
    f->V = cfg.n_vocab;
    sequence(f->tokens, N, f->V);
    f->full = xmalloc((size_t)N * f->V * 4);
    mst_context *c = make_ctx(f->m, 128, 128);
    uint32_t slots = 0, max_pos = 0;
    mst_context_limits(c, &slots, &max_pos);
    CHECK(slots == 128, "the full-history context has %u slots, expected 128 (window 4 + 128 - 1 > n_ctx)", slots);
    CHECK(mst_decode(c, f->tokens, N, 1, f->full, (uint64_t)N * f->V) == MST_OK, "full decode: %s", mst_last_error());
    mst_context_free(c);
}

static void teardown(fixture *f)
{
    mst_model_free(f->m);
    tm_free(&f->tm);
    free(f->full);
}

static void test_rolling(void)
{
    fixture f;
    setup(&f);
    const uint32_t V = f.V;
    mst_context *c = make_ctx(f.m, 16, 2);
    uint32_t slots = 0, max_pos = 0;
    CHECK(mst_context_limits(c, &slots, &max_pos) == MST_OK, "limits: %s", mst_last_error());
    CHECK(slots == W + 2 - 1, "slots %u, expected window + n_batch - 1 = %u", slots, W + 2 - 1);
    CHECK(max_pos == INT32_MAX, "a rolling context's position limit is %u, expected INT32_MAX", max_pos);
    float *got = xmalloc((size_t)N * V * 4);
    /* the prompt: 10 tokens in calls of 2 (the batch size), all logits */
    for (uint32_t t = 0; t < 10; t += 2)
        CHECK(mst_decode(c, f.tokens + t, 2, 1, got + (size_t)t * V, 2 * V) == MST_OK, "prompt: %s", mst_last_error());
    for (uint32_t t = 10; t < N; t++) {
        mst_status st = mst_decode(c, f.tokens + t, 1, 0, got + (size_t)t * V, V);
        CHECK(st == MST_OK, "step at position %u (n_ctx 16): %s: %s", t, mst_status_to_string(st), mst_last_error());
    }
    double err = check_rel("rolling cache (5 slots) vs full history, 100 positions", got, f.full, (size_t)N * V);
    uint32_t pos = 0;
    mst_context_position(c, &pos);
    CHECK(pos == N, "position %u after %u tokens", pos, N);
    printf("rolling: 5 slots, n_ctx 16, 100 positions: max error %.3g\n", err);
    mst_context_free(c);

    /* n_batch larger than the chunk the ring allows: n_ctx 8 caps the slots at 8, so a 20-token
     * call runs in steps of 8 - 4 + 1 = 5 inside mst_decode. */
    c = make_ctx(f.m, 8, 8);
    mst_context_limits(c, &slots, NULL);
    CHECK(slots == 8, "n_ctx 8: %u slots", slots);
    for (uint32_t t = 0; t < 40; t += 8)
        CHECK(mst_decode(c, f.tokens + t, 8, 1, got + (size_t)t * V, 8 * V) == MST_OK, "chunked: %s", mst_last_error());
    check_rel("8-token calls on an 8-slot ring vs full history", got, f.full, (size_t)40 * V);
    mst_context_free(c);

    /* A window wider than n_ctx cannot roll: n_ctx stays the limit. */
    c = make_ctx(f.m, 3, 2);
    mst_context_limits(c, &slots, &max_pos);
    CHECK(slots == 3 && max_pos == 3, "n_ctx 3 < window 4: %u slots, limit %u; expected 3 and 3", slots, max_pos);
    CHECK(mst_decode(c, f.tokens, 2, 0, got, V) == MST_OK, "decode: %s", mst_last_error());
    CHECK(mst_decode(c, f.tokens, 2, 0, got, V) == MST_ERR_CONTEXT_FULL, "4 tokens in n_ctx 3 accepted");
    mst_context_free(c);
    free(got);
    teardown(&f);
}

static void test_truncate(void)
{
    fixture f;
    setup(&f);
    const uint32_t V = f.V;
    mst_context *c = make_ctx(f.m, 16, 2); /* 5 slots */
    float *got = xmalloc((size_t)V * 4);
    for (uint32_t t = 0; t < 60; t++)
        mst_decode(c, f.tokens + t, 1, 0, got, V);
    /* slots hold positions 55..59; the token at p needs p-3..p-1, so 58 is the earliest reachable */
    mst_status st = mst_context_truncate(c, 57);
    CHECK(st == MST_ERR_INVALID_ARGUMENT, "truncate to 57 (keys 54.. gone) gave %s", mst_status_to_string(st));
    CHECK(strstr(mst_last_error(), "58") != NULL, "message names the earliest position: %s", mst_last_error());
    CHECK(mst_context_truncate(c, 58) == MST_OK, "truncate to 58: %s", mst_last_error());
    for (uint32_t t = 58; t < 62; t++) {
        CHECK(mst_decode(c, f.tokens + t, 1, 0, got, V) == MST_OK, "decode after truncate: %s", mst_last_error());
        char what[64];
        snprintf(what, sizeof what, "position %u after truncate to 58", t);
        check_rel(what, got, f.full + (size_t)t * V, V);
    }
    CHECK(mst_context_truncate(c, 0) == MST_OK, "truncate to 0 (a fresh start) is always possible: %s", mst_last_error());
    CHECK(mst_decode(c, f.tokens, 1, 0, got, V) == MST_OK, "decode after truncate to 0");
    check_rel("position 0 after truncate to 0", got, f.full, V);
    mst_context_free(c);
    free(got);
    teardown(&f);
}

static void run(const test_model *tm, mst_model_config cfg, const uint32_t *windows, const int32_t *tok, uint32_t n,
                float *out, uint32_t *max_pos)
{
    cfg.layer_windows = windows;
    mst_model *m = make_model(tm, &cfg);
    mst_context *c = make_ctx(m, 32, 32);
    mst_context_limits(c, NULL, max_pos);
    CHECK(mst_decode(c, tok, n, 1, out, (uint64_t)n * cfg.n_vocab) == MST_OK, "decode: %s", mst_last_error());
    mst_context_free(c);
    mst_model_free(m);
}

static void test_per_layer(void)
{
    mst_model_config cfg = tiny_config();
    test_model tm;
    tm_build(&tm, 8, &cfg, F32S, 0);
    const uint32_t V = cfg.n_vocab, n = 12;
    int32_t tok[12];
    sequence(tok, n, V);
    float *single = xmalloc(n * V * 4), *full = xmalloc(n * V * 4), *a = xmalloc(n * V * 4), *b = xmalloc(n * V * 4);
    uint32_t lim_single, lim_full, lim_a, lim_b, lim_mixed;
    mst_model_config w3 = cfg;
    w3.sliding_window = 3;
    run(&tm, w3, NULL, tok, n, single, &lim_single);
    run(&tm, cfg, NULL, tok, n, full, &lim_full);
    const uint32_t both[2] = {3, 3}, none[2] = {0, 0}, mixed[2] = {3, 0};
    run(&tm, cfg, both, tok, n, a, &lim_a);      /* sliding_window 0, but both layers windowed */
    run(&tm, w3, none, tok, n, b, &lim_b);       /* sliding_window 3, overridden to full */
    CHECK(memcmp(a, single, n * V * 4) == 0, "layer_windows {3,3} differs from sliding_window 3");
    CHECK(memcmp(b, full, n * V * 4) == 0, "layer_windows {0,0} differs from full attention");
    CHECK(lim_a == INT32_MAX && lim_single == INT32_MAX, "all-windowed contexts roll (limits %u, %u)", lim_a, lim_single);
    CHECK(lim_b == 32 && lim_full == 32, "full-attention contexts stop at n_ctx (limits %u, %u)", lim_b, lim_full);
    run(&tm, cfg, mixed, tok, n, a, &lim_mixed);
    CHECK(max_abs_diff(a, single, n * V) > 1e-3 && max_abs_diff(a, full, n * V) > 1e-3,
          "layer_windows {3,0} equals one of the uniform cases (%.3g, %.3g)", max_abs_diff(a, single, n * V),
          max_abs_diff(a, full, n * V));
    CHECK(lim_mixed == 32, "a model with a full-attention layer must not roll (limit %u)", lim_mixed);
    free(single), free(full), free(a), free(b);
    tm_free(&tm);
}

int main(int argc, char **argv)
{
    const char *which = argc > 1 ? argv[1] : "all";
    int all = strcmp(which, "all") == 0;
    if (all || strcmp(which, "rolling") == 0)
        test_rolling();
    if (all || strcmp(which, "truncate") == 0)
        test_truncate();
    if (all || strcmp(which, "per_layer") == 0)
        test_per_layer();
    return finish(which);
}
