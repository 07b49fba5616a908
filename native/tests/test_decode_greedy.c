/* test_decode_greedy.c — mst_decode_greedy on the CPU backend, against mst_decode on a second context of the same
 * model, run in lockstep (each step's token the one mst_decode's logits give):
 *   equal:     a 9-token prompt, then 20 one-token steps: the greedy id equals the argmax (TokenSampler.ArgMax's rule:
 *              the largest, ties to the lowest id) of mst_decode's logits at every step, and both contexts are at the
 *              same position; on a dense model, on a sliding-window model whose rolling cache (12 slots, window 8)
 *              makes the prompt run in two steps and wraps, and with the backend's end_greedy removed (context.c's
 *              fallback: end() and the host argmax). Exact: the same pass, then comparisons only.
 *   nonfinite: a model whose output matrix row 7 holds a NaN (so the hidden state is finite and only logit 7 is not):
 *              mst_decode_greedy fails with MST_ERR_NON_FINITE and the same message as mst_decode after the function
 *              name, leaves *out_token and the position unchanged; the same with the fallback.
 *   errors:    NULL context, out_token or tokens, n_tokens 0 or over n_batch, a token outside the vocabulary, a full
 *              context and a cancelled one: the status mst_decode gives, a message naming mst_decode_greedy, the
 *              position unchanged.
 * Linked statically to swap the backend table for the fallback case. */
#include "internal.h"
#include "decode_lockstep.h"

static const int32_t F16_TYPES[9] = {MST_TYPE_F16, MST_TYPE_Q8_0, MST_TYPE_Q4_0, MST_TYPE_F16, MST_TYPE_F16,
                                     MST_TYPE_Q8_0, MST_TYPE_F16,  MST_TYPE_F16, MST_TYPE_F16};

static mst_backend g_no_end_greedy; /* the CPU table without end_greedy: context.c's fallback */

static mst_context *open_ctx(mst_model *m, uint32_t n_ctx, int fallback)
{
    mst_context_params p;
    mst_context_params_default(&p);
    p.n_ctx = n_ctx, p.n_batch = 9, p.n_threads = 2;
    mst_context *c = NULL;
    if (mst_context_create(m, &p, &c) != MST_OK) {
        printf("context: %s\n", mst_last_error());
        exit(1);
    }
    if (fallback)
        c->backend = &g_no_end_greedy;
    return c;
}

static mst_model *open_model(const mst_model_config *cfg, test_model *tm)
{
    tm_build(tm, 31, cfg, F16_TYPES, 0);
    mst_model *m = NULL;
    if (mst_model_create(&tm->cfg, tm->desc, tm->n_desc, &m) != MST_OK) {
        printf("model: %s\n", mst_last_error());
        exit(1);
    }
    return m;
}

static void equal_case(const char *name, mst_model_config cfg, uint32_t n_ctx, int fallback)
{
    test_model tm;
    mst_model *m = open_model(&cfg, &tm);
    mst_context *plain = open_ctx(m, n_ctx, 0), *greedy = open_ctx(m, n_ctx, fallback);
    lockstep_greedy(name, plain, greedy, cfg.n_vocab, 20);
    mst_context_free(plain), mst_context_free(greedy);
    mst_model_free(m);
    tm_free(&tm);
}

static void nonfinite_case(int fallback)
{
    const char *name = fallback ? "nonfinite (fallback)" : "nonfinite";
    mst_model_config cfg = tiny_config();
    test_model tm;
    tm_build(&tm, 31, &cfg, F16_TYPES, 0);
    lockstep_nan_logit7(&tm);
    mst_model *m = NULL;
    CHECK(mst_model_create(&tm.cfg, tm.desc, tm.n_desc, &m) == MST_OK, "%s: model: %s", name, mst_last_error());
    if (!m)
        return;
    mst_context *plain = open_ctx(m, 32, 0), *greedy = open_ctx(m, 32, fallback);
    const int32_t prompt[3] = {2, 7, 1};
    lockstep_nonfinite(name, plain, greedy, prompt, 3, 50);
    mst_context_free(plain), mst_context_free(greedy);
    mst_model_free(m);
    tm_free(&tm);
}

#define EXPECT_FAIL(call, want)                                                                                    \
    do {                                                                                                           \
        mst_status st_ = (call);                                                                                   \
        CHECK(st_ == (want), "%s gave %s, expected %s", #call, mst_status_to_string(st_),                          \
              mst_status_to_string(want));                                                                         \
        CHECK(strncmp(mst_last_error(), "mst_decode_greedy: ", 19) == 0, "%s: message does not name the function: %s", \
              #call, mst_last_error());                                                                            \
    } while (0)

static void errors_case(void)
{
    mst_model_config cfg = tiny_config();
    test_model tm;
    mst_model *m = open_model(&cfg, &tm);
    mst_context *c = open_ctx(m, 12, 0);
    const int32_t toks[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, bad[2] = {1, 50};
    int32_t id = -42;
    EXPECT_FAIL(mst_decode_greedy(NULL, toks, 1, &id), MST_ERR_INVALID_ARGUMENT);
    EXPECT_FAIL(mst_decode_greedy(c, toks, 1, NULL), MST_ERR_INVALID_ARGUMENT);
    EXPECT_FAIL(mst_decode_greedy(c, NULL, 1, &id), MST_ERR_INVALID_ARGUMENT);
    EXPECT_FAIL(mst_decode_greedy(c, toks, 0, &id), MST_ERR_INVALID_ARGUMENT);
    EXPECT_FAIL(mst_decode_greedy(c, toks, 10, &id), MST_ERR_INVALID_ARGUMENT); /* > n_batch */
    EXPECT_FAIL(mst_decode_greedy(c, bad, 2, &id), MST_ERR_INVALID_ARGUMENT);
    CHECK(mst_decode_greedy(c, toks, 9, &id) == MST_OK && id >= 0 && id < 50, "9 tokens: %s (id %d)",
          mst_last_error(), id);
    EXPECT_FAIL(mst_decode_greedy(c, toks, 4, &id), MST_ERR_CONTEXT_FULL); /* 9 + 4 > 12 */
    mst_context_set_abort(c, 1);
    EXPECT_FAIL(mst_decode_greedy(c, toks, 1, &id), MST_ERR_CANCELLED);
    mst_context_set_abort(c, 0);
    uint32_t pos = 0;
    mst_context_position(c, &pos);
    CHECK(pos == 9, "failed calls moved the context to %u", pos);
    int32_t id2 = -1;
    CHECK(mst_decode_greedy(c, toks, 1, &id2) == MST_OK && mst_last_error()[0] == '\0',
          "a call after the failures: %s", mst_last_error());
    mst_context_free(c);
    mst_model_free(m);
    tm_free(&tm);
}

int main(int argc, char **argv)
{
    const char *which = argc > 1 ? argv[1] : "all";
    g_no_end_greedy = mst_backend_cpu;
    g_no_end_greedy.end_greedy = NULL;
    const int all = strcmp(which, "all") == 0;
    if (all || strcmp(which, "equal") == 0) {
        equal_case("dense", tiny_config(), 64, 0);
        mst_model_config win = tiny_config();
        win.sliding_window = 8;
        equal_case("sliding window, rolling cache", win, 12, 0); /* steps of 5: the prompt runs in two */
        equal_case("dense, no end_greedy", tiny_config(), 64, 1);
    }
    if (all || strcmp(which, "nonfinite") == 0) {
        nonfinite_case(0);
        nonfinite_case(1);
    }
    if (all || strcmp(which, "errors") == 0)
        errors_case();
    return finish("test_decode_greedy");
}
