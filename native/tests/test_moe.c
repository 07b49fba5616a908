/* test_moe.c — mixture of experts.
 *   gate:       mst_kernel_moe_gate (reference and best) vs a plain sort-based routing written here,
 *               ties included, and its argument checks;
 *   one_expert: a 1-of-1 expert model equals the dense model with the same feed-forward weights;
 *   batch:      4 experts, top-2: a 7-token prompt in one call (tokens grouped per expert) equals
 *               the same tokens one call each;
 *   only_chosen: poisoning one expert's weights with NaN breaks the logits exactly when that expert
 *               is one of the token's chosen ones: n_used of n_expert poisonings give NaN;
 *   nonfinite_router: a NaN in layer 1's router makes that layer's router logits NaN: mst_decode fails with
 *               MST_ERR_NON_FINITE naming layer 1 and position 0, rather than routing around the NaN expert. */
#include "test_util.h"

/* ---- gate ---- */

/* Plain routing: order all experts by (logit desc, index asc), keep n_used, softmax in double. */
static void gate_plain(const float *l, uint32_t n_expert, uint32_t n_used, int32_t *ex, double *w)
{
    int32_t order[64];
    for (uint32_t e = 0; e < n_expert; e++)
        order[e] = (int32_t)e;
    for (uint32_t i = 1; i < n_expert; i++) /* insertion sort: stable, so ties keep index order */
        for (uint32_t j = i; j > 0 && l[order[j]] > l[order[j - 1]]; j--) {
            int32_t t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    double sum = 0;
    for (uint32_t i = 0; i < n_used; i++) {
        ex[i] = order[i];
        sum += exp((double)l[order[i]] - (double)l[order[0]]);
    }
    for (uint32_t i = 0; i < n_used; i++)
        w[i] = exp((double)l[ex[i]] - (double)l[order[0]]) / sum;
}

static void test_gate(void)
{
    uint64_t s = 5;
    const uint32_t shapes[][3] = {{1, 1, 1}, {3, 8, 2}, {5, 4, 4}, {2, 7, 3}, {9, 60, 5}};
    for (size_t c = 0; c < sizeof shapes / sizeof *shapes; c++) {
        const uint32_t T = shapes[c][0], E = shapes[c][1], K = shapes[c][2];
        float *l = xmalloc((size_t)T * E * 4), *w = xmalloc((size_t)T * K * 4);
        int32_t *ex = xmalloc((size_t)T * K * 4), want_ex[64];
        double want_w[64];
        fill_uniform(&s, l, (size_t)T * E, -4, 4);
        if (E >= 4) { /* exact ties on the first token: the lower index must win */
            l[1] = l[3] = 10.0f;
            l[2] = l[0] = 9.0f;
        }
        for (int impl = MST_IMPL_REFERENCE; impl <= MST_IMPL_BEST; impl++) {
            CHECK(mst_kernel_moe_gate(impl, l, T, E, K, ex, w) == MST_OK, "moe_gate: %s", mst_last_error());
            for (uint32_t t = 0; t < T; t++) {
                gate_plain(l + (size_t)t * E, E, K, want_ex, want_w);
                double sum = 0;
                for (uint32_t i = 0; i < K; i++) {
                    CHECK(ex[t * K + i] == want_ex[i], "impl %d %ux%u top-%u token %u rank %u: expert %d, expected %d",
                          impl, T, E, K, t, i, (int)ex[t * K + i], (int)want_ex[i]);
                    /* float softmax of <= 5 terms: a few ulps; 1e-6 absolute on weights <= 1 */
                    CHECK(fabs(w[t * K + i] - want_w[i]) <= 1e-6, "impl %d token %u rank %u: weight %.9g, expected %.9g",
                          impl, t, i, (double)w[t * K + i], want_w[i]);
                    sum += w[t * K + i];
                }
                CHECK(fabs(sum - 1.0) <= 1e-6, "weights sum to %.9g", sum);
            }
            if (E >= 4)
                CHECK(ex[0] == 1 && ex[1] == (K > 1 ? 3 : ex[1]), "tie: chose %d, %d; expected 1, 3", (int)ex[0],
                      (int)ex[1]);
        }
        free(l), free(w), free(ex);
    }
    float l[4] = {1, 2, 3, 4}, w[4];
    int32_t ex[4];
    CHECK(mst_kernel_moe_gate(1, l, 1, 4, 5, ex, w) == MST_ERR_INVALID_ARGUMENT, "n_used > n_expert accepted");
    CHECK(mst_kernel_moe_gate(1, l, 1, 4, 0, ex, w) == MST_ERR_INVALID_ARGUMENT, "n_used 0 accepted");
    CHECK(mst_kernel_moe_gate(1, NULL, 1, 4, 2, ex, w) == MST_ERR_INVALID_ARGUMENT, "NULL logits accepted");
    CHECK(mst_kernel_moe_gate(7, l, 1, 4, 2, ex, w) == MST_ERR_INVALID_ARGUMENT, "bad impl accepted");
    l[2] = NAN;
    CHECK(mst_kernel_moe_gate(0, l, 1, 4, 2, ex, w) == MST_ERR_INVALID_ARGUMENT, "NaN logit accepted");
}

/* ---- whole models ---- */

enum { MAX_DESC = 3 + 10 * 4 };
typedef struct moe_model {
    mst_model_config cfg;
    mst_tensor_desc desc[MAX_DESC];
    uint32_t n;
    void *own[MAX_DESC];
} moe_model;

static mst_tensor_desc *add(moe_model *mm, int32_t role, int32_t layer, uint32_t ne0, uint32_t ne1, uint32_t ne2,
                            uint64_t *s, float amp, int norm)
{
    size_t count = (size_t)ne0 * ne1 * ne2;
    float *f = xmalloc(count * 4);
    for (size_t i = 0; i < count; i++)
        f[i] = norm ? 1.0f + rng_uniform(s, -0.2f, 0.2f) : rng_uniform(s, -amp, amp);
    mst_tensor_desc *d = &mm->desc[mm->n];
    memset(d, 0, sizeof *d);
    d->struct_size = sizeof *d;
    d->role = role, d->layer = layer, d->type = MST_TYPE_F32;
    d->n_dims = ne2 > 1 ? 3 : ne1 > 1 ? 2 : 1;
    d->ne[0] = ne0, d->ne[1] = ne1, d->ne[2] = ne2, d->ne[3] = 1;
    d->data = f, d->n_bytes = count * 4;
    mm->own[mm->n++] = f;
    return d;
}

/* F32 model; n_expert 0 = dense. The same seed gives the same attention and embedding weights
 * whatever n_expert is, and expert 0 of a 1-expert model gets the dense model's FFN values. */
static void build(moe_model *mm, uint32_t n_layer, uint32_t n_expert, uint32_t n_used, uint64_t seed)
{
    memset(mm, 0, sizeof *mm);
    mst_model_config c = tiny_config();
    c.n_layer = n_layer, c.n_expert = n_expert, c.n_expert_used = n_used;
    mm->cfg = c;
    uint64_t s = seed, rs = seed ^ 0x5eed;
    const uint32_t E = c.n_embd, QD = c.n_head * c.head_dim, KVD = c.n_head_kv * c.head_dim, F = c.n_ff;
    const uint32_t X = n_expert ? n_expert : 1;
    add(mm, MST_ROLE_TOKEN_EMBD, -1, E, c.n_vocab, 1, &s, 1.0f, 0);
    add(mm, MST_ROLE_OUTPUT_NORM, -1, E, 1, 1, &s, 0, 1);
    add(mm, MST_ROLE_OUTPUT, -1, E, c.n_vocab, 1, &s, 1.0f / sqrtf((float)E), 0);
    for (int32_t l = 0; l < (int32_t)n_layer; l++) {
        add(mm, MST_ROLE_ATTN_NORM, l, E, 1, 1, &s, 0, 1);
        add(mm, MST_ROLE_ATTN_Q, l, E, QD, 1, &s, 1.7f / sqrtf((float)E), 0);
        add(mm, MST_ROLE_ATTN_K, l, E, KVD, 1, &s, 1.7f / sqrtf((float)E), 0);
        add(mm, MST_ROLE_ATTN_V, l, E, KVD, 1, &s, 1.7f / sqrtf((float)E), 0);
        add(mm, MST_ROLE_ATTN_OUT, l, QD, E, 1, &s, 1.0f / sqrtf((float)QD), 0);
        add(mm, MST_ROLE_FFN_NORM, l, E, 1, 1, &s, 0, 1);
        int moe = n_expert > 0;
        add(mm, moe ? MST_ROLE_FFN_GATE_EXPS : MST_ROLE_FFN_GATE, l, E, F, moe ? X : 1, &s, 1.7f / sqrtf((float)E), 0);
        add(mm, moe ? MST_ROLE_FFN_UP_EXPS : MST_ROLE_FFN_UP, l, E, F, moe ? X : 1, &s, 1.7f / sqrtf((float)E), 0);
        add(mm, moe ? MST_ROLE_FFN_DOWN_EXPS : MST_ROLE_FFN_DOWN, l, F, E, moe ? X : 1, &s, 1.0f / sqrtf((float)F), 0);
        if (moe) /* its own random stream, so the shared weights are the same with or without experts */
            add(mm, MST_ROLE_FFN_GATE_INP, l, E, n_expert, 1, &rs, 2.0f / sqrtf((float)E), 0);
    }
}

static void release(moe_model *mm)
{
    for (uint32_t i = 0; i < mm->n; i++)
        free(mm->own[i]);
}

static mst_context *open_ctx(const moe_model *mm, mst_model **out_m, uint32_t n_batch)
{
    mst_status st = mst_model_create(&mm->cfg, mm->desc, mm->n, out_m);
    if (st != MST_OK) {
        printf("mst_model_create: %s\n", mst_last_error());
        exit(1);
    }
    mst_context_params p;
    mst_context_params_default(&p);
    p.n_ctx = 32, p.n_batch = n_batch, p.n_threads = 2;
    mst_context *c = NULL;
    if (mst_context_create(*out_m, &p, &c) != MST_OK) {
        printf("mst_context_create: %s\n", mst_last_error());
        exit(1);
    }
    return c;
}

static void compare(const char *what, const float *a, const float *b, size_t n, double tol)
{
    double err = max_abs_diff(a, b, n), scale = max_abs(b, n);
    CHECK(err <= tol * (scale > 1 ? scale : 1), "%s: max error %.3g (scale %.3g, tolerance %.3g relative)", what, err,
          scale, tol);
    printf("%s: max error %.3g on logits up to %.3g\n", what, err, scale);
}

static const int32_t PROMPT[7] = {3, 17, 42, 0, 49, 17, 8};

static void test_one_expert(void)
{
    moe_model dense, moe;
    build(&dense, 2, 0, 0, 21);
    build(&moe, 2, 1, 1, 21);
    const uint32_t V = dense.cfg.n_vocab;
    mst_model *md, *mm;
    mst_context *cd = open_ctx(&dense, &md, 8), *cm = open_ctx(&moe, &mm, 8);
    float *a = xmalloc(7 * V * 4), *b = xmalloc(7 * V * 4);
    CHECK(mst_decode(cd, PROMPT, 7, 1, a, 7 * V) == MST_OK, "dense decode: %s", mst_last_error());
    CHECK(mst_decode(cm, PROMPT, 7, 1, b, 7 * V) == MST_OK, "moe decode: %s", mst_last_error());
    /* Same float operations except a weight of exactly 1.0 and a gather/scatter copy: identical
     * up to float rounding order (0 observed); 1e-6 relative leaves room for a different matmul path. */
    compare("1-of-1 expert vs dense", b, a, 7 * V, 1e-6);
    mst_context_free(cd), mst_context_free(cm), mst_model_free(md), mst_model_free(mm);
    release(&dense), release(&moe);
    free(a), free(b);
}

static void test_batch(void)
{
    moe_model mm;
    build(&mm, 2, 4, 2, 33);
    const uint32_t V = mm.cfg.n_vocab;
    mst_model *m, *m2;
    mst_context *batch = open_ctx(&mm, &m, 8), *step = open_ctx(&mm, &m2, 8);
    float *a = xmalloc(7 * V * 4), *b = xmalloc(7 * V * 4);
    CHECK(mst_decode(batch, PROMPT, 7, 1, a, 7 * V) == MST_OK, "batch decode: %s", mst_last_error());
    for (uint32_t t = 0; t < 7; t++)
        CHECK(mst_decode(step, PROMPT + t, 1, 0, b + (size_t)t * V, V) == MST_OK, "step: %s", mst_last_error());
    /* Same tolerance as the dense KV-consistency test: float sums in a different order. */
    compare("4 experts top-2: one call vs one token per call", a, b, 7 * V, 1e-4);
    int finite = 1;
    for (size_t i = 0; i < 7 * (size_t)V; i++)
        finite &= isfinite(a[i]) != 0;
    CHECK(finite, "non-finite logits");
    mst_context_free(batch), mst_context_free(step), mst_model_free(m2);
    /* the config checks */
    mst_model *bad = NULL;
    mm.cfg.n_expert_used = 5;
    CHECK(mst_model_create(&mm.cfg, mm.desc, mm.n, &bad) == MST_ERR_INVALID_ARGUMENT, "n_expert_used 5 of 4 accepted");
    mm.cfg.n_expert_used = 0;
    CHECK(mst_model_create(&mm.cfg, mm.desc, mm.n, &bad) == MST_ERR_INVALID_ARGUMENT, "n_expert_used 0 accepted");
    mm.cfg.n_expert_used = 2;
    mm.desc[mm.n - 1].ne[1] = 3; /* router of the wrong width */
    CHECK(mst_model_create(&mm.cfg, mm.desc, mm.n, &bad) == MST_ERR_INVALID_ARGUMENT, "3-wide router accepted");
    mm.desc[mm.n - 1].ne[1] = 4;
    CHECK(mst_model_create(&mm.cfg, mm.desc, mm.n - 1, &bad) == MST_ERR_INVALID_ARGUMENT, "missing router accepted");
    CHECK(strstr(mst_last_error(), "ffn_gate_inp") != NULL, "message names the router: %s", mst_last_error());
    mst_model_free(m);
    release(&mm);
    free(a), free(b);
}

static void test_only_chosen(void)
{
    const uint32_t NE = 4, K = 2;
    moe_model mm;
    build(&mm, 1, NE, K, 77);
    const uint32_t V = mm.cfg.n_vocab, F = mm.cfg.n_ff, E = mm.cfg.n_embd;
    float *gate = NULL;
    for (uint32_t i = 0; i < mm.n; i++)
        if (mm.desc[i].role == MST_ROLE_FFN_GATE_EXPS)
            gate = (float *)mm.own[i];
    float *logits = xmalloc(V * 4), *saved = xmalloc((size_t)F * E * 4);
    uint32_t broken = 0, fine = 0;
    for (uint32_t e = 0; e < NE; e++) {
        float *slice = gate + (size_t)e * F * E; /* expert e's [n_embd, n_ff] matrix */
        memcpy(saved, slice, (size_t)F * E * 4);
        for (size_t i = 0; i < (size_t)F * E; i++)
            slice[i] = NAN;
        mst_model *m;
        mst_context *c = open_ctx(&mm, &m, 4);
        /* One layer, one token: the router sees the same input whatever the expert weights are. A chosen
         * expert's NaN reaches the logits, which mst_decode refuses (MST_ERR_NON_FINITE). */
        mst_status st = mst_decode(c, PROMPT, 1, 0, logits, V);
        CHECK(st == MST_OK || st == MST_ERR_NON_FINITE, "decode: %s", mst_last_error());
        int finite = st == MST_OK;
        for (uint32_t i = 0; finite && i < V; i++)
            finite &= isfinite(logits[i]) != 0;
        finite ? fine++ : broken++;
        mst_context_free(c), mst_model_free(m);
        memcpy(slice, saved, (size_t)F * E * 4);
    }
    CHECK(broken == K && fine == NE - K, "NaN in an expert broke the logits %u times of %u (expected %u: only chosen experts run)",
          broken, NE, K);
    release(&mm);
    free(logits), free(saved);
}

static void test_nonfinite_router(void)
{
    moe_model mm;
    build(&mm, 2, 4, 2, 91);
    float *router = NULL;
    for (uint32_t i = 0; i < mm.n; i++)
        if (mm.desc[i].role == MST_ROLE_FFN_GATE_INP && mm.desc[i].layer == 1)
            router = (float *)mm.own[i];
    router[2 * mm.cfg.n_embd + 5] = NAN; /* expert 2's row: its logit is NaN for every token */
    mst_model *m;
    mst_context *c = open_ctx(&mm, &m, 8);
    float *logits = xmalloc((size_t)3 * mm.cfg.n_vocab * 4);
    const mst_status st = mst_decode(c, PROMPT, 3, 1, logits, (uint64_t)3 * mm.cfg.n_vocab);
    CHECK(st == MST_ERR_NON_FINITE && strstr(mst_last_error(), "layer 1 produced non-finite router logits at position 0"),
          "NaN router: %s (%s), want MST_ERR_NON_FINITE naming layer 1 and position 0", mst_status_to_string(st),
          mst_last_error());
    mst_context_free(c), mst_model_free(m);
    release(&mm);
    free(logits);
}

int main(int argc, char **argv)
{
    const char *which = argc > 1 ? argv[1] : "all";
    int all = strcmp(which, "all") == 0;
    if (all || strcmp(which, "gate") == 0)
        test_gate();
    if (all || strcmp(which, "one_expert") == 0)
        test_one_expert();
    if (all || strcmp(which, "batch") == 0)
        test_batch();
    if (all || strcmp(which, "only_chosen") == 0)
        test_only_chosen();
    if (all || strcmp(which, "nonfinite_router") == 0)
        test_nonfinite_router();
    return finish(which);
}
