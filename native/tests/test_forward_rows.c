/* test_forward_rows.c — which rows each matmul of a pass computes (forward.c): every layer's projections run over
 * all n tokens, except the last layer's feed-forward block, which runs for the last token alone when only its
 * logits are asked for (all_logits 0) outside a diagnosis (MST_CONTEXT_CHECK_LAYERS), and for all n otherwise. The counting backend is the CPU's with matmul
 * replaced by a wrapper that records each call's weights and token count; linked statically to reach
 * mst_context. The logits of the shortened pass are those of the full one's last row, and a decode step after
 * it sees every token's keys and values of the last layer (the cache is not shortened). */
#include "internal.h"
#include "test_util.h"

enum { MAX_CALLS = 64 };
static struct {
    const mst_weight *w;
    uint32_t n;
} g_calls[MAX_CALLS];
static int g_n_calls;

static void counting_matmul(mst_context *ctx, const mst_weight *const *w, float *const *y, uint32_t n_w,
                            const float *x, uint32_t n)
{
    for (uint32_t i = 0; i < n_w && g_n_calls < MAX_CALLS; i++) {
        g_calls[g_n_calls].w = w[i];
        g_calls[g_n_calls++].n = n;
    }
    mst_backend_cpu.matmul(ctx, w, y, n_w, x, n);
}

/* the token count of the one call on weight w; 0 if w was not multiplied, UINT32_MAX if more than once */
static uint32_t rows_of(const mst_weight *w)
{
    uint32_t n = 0;
    int seen = 0;
    for (int i = 0; i < g_n_calls; i++)
        if (g_calls[i].w == w)
            n = g_calls[i].n, seen++;
    return seen > 1 ? UINT32_MAX : n;
}

/* One pass of n tokens; checks every layer's projections against the rows expected. */
static void check_pass(mst_context *c, const int32_t *toks, uint32_t n, int all_logits, float *logits)
{
    const mst_model *m = c->model;
    const uint32_t L = m->cfg.n_layer, V = m->cfg.n_vocab;
    g_n_calls = 0;
    CHECK(mst_decode(c, toks, n, all_logits, logits, (uint64_t)(all_logits ? n : 1) * V) == MST_OK, "decode: %s",
          mst_last_error());
    for (uint32_t l = 0; l < L; l++) {
        const mst_layer *ly = &m->layers[l];
        const int cut = l + 1 == L && !all_logits && !(c->flags & MST_CONTEXT_CHECK_LAYERS);
        const uint32_t ffn = cut ? 1 : n;
        const struct {
            const char *name;
            const mst_weight *w;
            uint32_t want;
        } expect[7] = {{"wq", &ly->wq, n},         {"wk", &ly->wk, n},     {"wv", &ly->wv, n},
                       {"wo", &ly->wo, n},         {"w_gate", &ly->w_gate, ffn}, {"w_up", &ly->w_up, ffn},
                       {"w_down", &ly->w_down, ffn}};
        for (int i = 0; i < 7; i++) {
            const uint32_t got = rows_of(expect[i].w);
            CHECK(got == expect[i].want, "n=%u all_logits=%d: layer %u %s multiplied %u rows, expected %u", n,
                  all_logits, l, expect[i].name, got, expect[i].want);
        }
    }
    CHECK(rows_of(&m->output) == (all_logits ? n : 1), "n=%u all_logits=%d: output layer over %u rows", n, all_logits,
          rows_of(&m->output));
}

int main(void)
{
    static const int32_t types[9] = {MST_TYPE_Q8_0, MST_TYPE_Q4_0, MST_TYPE_Q8_0, MST_TYPE_F32, MST_TYPE_F32,
                                     MST_TYPE_F32,  MST_TYPE_F32,  MST_TYPE_F32, MST_TYPE_F32};
    mst_model_config cfg = tiny_config();
    test_model tm;
    tm_build(&tm, 21, &cfg, types, 0);
    const uint32_t V = cfg.n_vocab;
    mst_model *m = NULL;
    mst_context *last = NULL, *all = NULL, *diag = NULL;
    mst_context_params p;
    mst_context_params_default(&p);
    p.n_ctx = 16, p.n_batch = 8, p.n_threads = 2;
    if (mst_model_create(&tm.cfg, tm.desc, tm.n_desc, &m) != MST_OK || mst_context_create(m, &p, &last) != MST_OK ||
        mst_context_create(m, &p, &all) != MST_OK) {
        printf("setup: %s\n", mst_last_error());
        return 1;
    }
    p.flags = MST_CONTEXT_CHECK_LAYERS; /* a diagnosis runs every row through every layer */
    if (mst_context_create(m, &p, &diag) != MST_OK) {
        printf("setup: %s\n", mst_last_error());
        return 1;
    }
    mst_backend counting = mst_backend_cpu;
    counting.matmul = counting_matmul;
    last->backend = all->backend = diag->backend = &counting;

    const int32_t toks[7] = {4, 8, 15, 16, 23, 42, 7};
    float *a = xmalloc(V * 4), *b = xmalloc(6 * V * 4), *a2 = xmalloc(V * 4), *b2 = xmalloc(V * 4);
    check_pass(last, toks, 6, 0, a);
    check_pass(all, toks, 6, 1, b);
    /* the same float operations on the last row either way, up to the kernels' batch-vs-one-row order (kv_consistency
     * in test_model.c holds that to 1e-6) */
    CHECK(max_abs_diff(a, b + 5 * V, V) <= 1e-6 * (1.0 + max_abs(b + 5 * V, V)), "last logits differ by %g",
          max_abs_diff(a, b + 5 * V, V));
    float *d = xmalloc(V * 4);
    check_pass(diag, toks, 6, 0, d);
    CHECK(max_abs_diff(d, a, V) <= 1e-6 * (1.0 + max_abs(a, V)), "the diagnosis pass's logits differ by %g",
          max_abs_diff(d, a, V));
    free(d);
    /* the next token attends to all 6 cached keys and values of the last layer in both contexts */
    check_pass(last, toks + 6, 1, 0, a2);
    check_pass(all, toks + 6, 1, 0, b2);
    CHECK(max_abs_diff(a2, b2, V) <= 1e-6 * (1.0 + max_abs(b2, V)), "the step after differs by %g",
          max_abs_diff(a2, b2, V));

    mst_context_free(diag);
    mst_context_free(last);
    mst_context_free(all);
    mst_model_free(m);
    tm_free(&tm);
    free(a), free(b), free(a2), free(b2);
    return finish("forward_rows");
}
