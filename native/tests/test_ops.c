/* test_ops.c — rmsnorm, rope, swiglu and attention: BEST against REFERENCE through the ABI,
 * the tiled attention of every ISA against the double reference below the ABI (thread splits,
 * rolling caches), the per-ISA dot product (rmsnorm), and an independent check of the attention mask.
 * Usage: test_ops rmsnorm|rope|swiglu|attention|attention_long
 *
 * Tolerance: max |best - ref| <= 1e-5 * max(1, max |ref|) unless stated. */
#include "test_util.h"
#include "cpu/attention.h"
#include "cpu/ops.h"

static const double TOL = 1e-5;

static void compare(const char *what, const float *best, const float *ref, size_t n, double tol)
{
    double err = max_abs_diff(best, ref, n), scale = max_abs(ref, n);
    if (scale < 1.0)
        scale = 1.0;
    CHECK(err <= tol * scale, "%s: max error %.3g > %.3g", what, err, tol * scale);
}

static void test_rmsnorm(void)
{
    static const uint32_t ns[] = {1, 7, 33, 100, 4096};
    uint64_t s = 3;
    for (size_t i = 0; i < sizeof ns / 4; i++) {
        uint32_t n = ns[i], rows = 3;
        float *x = xmalloc((size_t)n * rows * 4), *w = xmalloc((size_t)n * 4);
        float *y = xmalloc((size_t)n * rows * 4), *yr = xmalloc((size_t)n * rows * 4);
        fill_uniform(&s, x, (size_t)n * rows, -3, 3);
        fill_uniform(&s, w, n, 0.5f, 1.5f);
        CHECK(mst_kernel_rmsnorm(MST_IMPL_BEST, x, w, n, rows, 1e-5f, y) == MST_OK, "%s", mst_last_error());
        CHECK(mst_kernel_rmsnorm(MST_IMPL_REFERENCE, x, w, n, rows, 1e-5f, yr) == MST_OK, "%s", mst_last_error());
        char what[64];
        snprintf(what, sizeof what, "rmsnorm n=%u", n);
        compare(what, y, yr, (size_t)n * rows, TOL);
        free(x), free(w), free(y), free(yr);
    }
    /* hand check: x = [3, 4], mean(x^2) = 12.5 */
    float x[2] = {3, 4}, w[2] = {1, 2}, y[2];
    mst_kernel_rmsnorm(MST_IMPL_BEST, x, w, 2, 1, 0.0f, y);
    CHECK(fabs(y[0] - 3 / sqrt(12.5)) < 1e-6 && fabs(y[1] - 8 / sqrt(12.5)) < 1e-6, "rmsnorm hand values");
    CHECK(mst_kernel_rmsnorm(MST_IMPL_BEST, x, w, 0, 1, 1e-5f, y) == MST_ERR_INVALID_ARGUMENT, "n = 0");
    CHECK(mst_kernel_rmsnorm(MST_IMPL_BEST, x, NULL, 2, 1, 1e-5f, y) == MST_ERR_INVALID_ARGUMENT, "NULL weight");
}

static void test_rope(void)
{
    static const uint32_t hds[] = {2, 8, 24, 128};
    static const float bases[] = {10000.0f, 1000000.0f};
    const int32_t pos[] = {0, 1, 5, 1000, 30000};
    uint64_t s = 5;
    for (size_t hi = 0; hi < 4; hi++)
        for (size_t bi = 0; bi < 2; bi++)
            for (uint32_t heads = 1; heads <= 3; heads += 2) {
                uint32_t hd = hds[hi], nt = 5;
                size_t n = (size_t)nt * heads * hd;
                float *a = xmalloc(n * 4), *b = xmalloc(n * 4);
                fill_uniform(&s, a, n, -1, 1);
                memcpy(b, a, n * 4);
                CHECK(mst_kernel_rope(MST_IMPL_BEST, a, nt, heads, hd, pos, bases[bi]) == MST_OK, "%s", mst_last_error());
                CHECK(mst_kernel_rope(MST_IMPL_REFERENCE, b, nt, heads, hd, pos, bases[bi]) == MST_OK, "%s", mst_last_error());
                char what[64];
                snprintf(what, sizeof what, "rope hd=%u heads=%u base=%g", hd, heads, (double)bases[bi]);
                compare(what, a, b, n, TOL);
                free(a), free(b);
            }
    /* hand check: position 1, head_dim 4: pair 0 turns by 1 rad, pair 1 by 1/sqrt(base) rad */
    float x[4] = {1, 0, 0, 1};
    int32_t p1 = 1;
    mst_kernel_rope(MST_IMPL_BEST, x, 1, 1, 4, &p1, 10000.0f);
    CHECK(fabs(x[0] - cos(1.0)) < 1e-6 && fabs(x[1] - sin(1.0)) < 1e-6, "rope pair 0");
    CHECK(fabs(x[2] + sin(0.01)) < 1e-6 && fabs(x[3] - cos(0.01)) < 1e-6, "rope pair 1");
    int32_t neg = -1;
    CHECK(mst_kernel_rope(MST_IMPL_BEST, x, 1, 1, 4, &neg, 10000.0f) == MST_ERR_INVALID_ARGUMENT, "negative position");
    CHECK(mst_kernel_rope(MST_IMPL_BEST, x, 1, 1, 3, &p1, 10000.0f) == MST_ERR_INVALID_ARGUMENT, "odd head_dim");
}

static void test_swiglu(void)
{
    uint64_t s = 9;
    const size_t n = 1001;
    float *g = xmalloc(n * 4), *u = xmalloc(n * 4), *o = xmalloc(n * 4), *orf = xmalloc(n * 4);
    fill_uniform(&s, g, n, -12, 12);
    fill_uniform(&s, u, n, -2, 2);
    CHECK(mst_kernel_swiglu(MST_IMPL_BEST, g, u, n, o) == MST_OK, "%s", mst_last_error());
    CHECK(mst_kernel_swiglu(MST_IMPL_REFERENCE, g, u, n, orf) == MST_OK, "%s", mst_last_error());
    compare("swiglu", o, orf, n, TOL);
    float g1 = 1.0f, u1 = 2.0f, o1;
    mst_kernel_swiglu(MST_IMPL_BEST, &g1, &u1, 1, &o1);
    CHECK(fabs(o1 - 2.0 / (1.0 + exp(-1.0))) < 1e-6, "swiglu hand value");
    CHECK(mst_kernel_swiglu(MST_IMPL_BEST, g, u, 0, o) == MST_ERR_INVALID_ARGUMENT, "n = 0");
    free(g), free(u), free(o), free(orf);
}

static void test_vec(const mst_cpu_kernels *k)
{
    uint64_t s = 11;
    float a[300], b[300];
    fill_uniform(&s, a, 300, -1, 1);
    fill_uniform(&s, b, 300, -1, 1);
    for (uint32_t n = 1; n <= 300; n += (n < 40 ? 1 : 37)) {
        double ref = 0;
        for (uint32_t i = 0; i < n; i++)
            ref += (double)a[i] * b[i];
        CHECK(fabs(k->dot(a, b, n) - ref) <= TOL * n, "%s dot n=%u", k->name, n);
    }
}

static void attention_case(uint32_t nt, uint32_t pos0, uint32_t n_kv, uint32_t nh, uint32_t nkv, uint32_t hd,
                           uint32_t window, uint64_t seed)
{
    uint64_t s = seed;
    size_t nq = (size_t)nt * nh * hd, nk = (size_t)n_kv * nkv * hd;
    float *q = xmalloc(nq * 4), *k = xmalloc(nk * 4), *v = xmalloc(nk * 4), *o = xmalloc(nq * 4), *orf = xmalloc(nq * 4);
    fill_uniform(&s, q, nq, -2, 2);
    fill_uniform(&s, k, nk, -2, 2);
    fill_uniform(&s, v, nk, -1, 1);
    CHECK(mst_kernel_attention(MST_IMPL_BEST, q, k, v, nt, pos0, n_kv, nh, nkv, hd, window, o) == MST_OK, "%s",
          mst_last_error());
    CHECK(mst_kernel_attention(MST_IMPL_REFERENCE, q, k, v, nt, pos0, n_kv, nh, nkv, hd, window, orf) == MST_OK, "%s",
          mst_last_error());
    char what[128];
    snprintf(what, sizeof what, "attention nt=%u pos0=%u n_kv=%u heads=%u/%u hd=%u window=%u", nt, pos0, n_kv, nh, nkv,
             hd, window);
    compare(what, o, orf, nq, TOL);
    free(q), free(k), free(v), free(o), free(orf);
}

/* Independent mask check: q = 0 makes every visible key equally likely; v_j = one-hot(j) then
 * makes out[j] = 1/count exactly when key j is visible. GQA: kv head g has v_j = (g+1) one-hot. */
static void attention_mask_check(uint32_t window)
{
    const uint32_t nt = 4, pos0 = 5, n_kv = 9, nh = 4, nkv = 2, hd = n_kv;
    float q[4 * 4 * 9] = {0}, k[9 * 2 * 9], v[9 * 2 * 9] = {0}, o[4 * 4 * 9];
    uint64_t s = 13;
    fill_uniform(&s, k, sizeof k / 4, -1, 1);
    for (uint32_t j = 0; j < n_kv; j++)
        for (uint32_t g = 0; g < nkv; g++)
            v[(j * nkv + g) * hd + j] = (float)(g + 1);
    for (int impl = 0; impl < 2; impl++) {
        CHECK(mst_kernel_attention(impl, q, k, v, nt, pos0, n_kv, nh, nkv, hd, window, o) == MST_OK, "%s", mst_last_error());
        for (uint32_t t = 0; t < nt; t++) {
            uint32_t p = pos0 + t, count = 0;
            for (uint32_t j = 0; j < n_kv; j++)
                count += j <= p && (window == 0 || p - j < window);
            for (uint32_t h = 0; h < nh; h++)
                for (uint32_t j = 0; j < n_kv; j++) {
                    int visible = j <= p && (window == 0 || p - j < window);
                    double expect = visible ? (double)(h / (nh / nkv) + 1) / count : 0.0;
                    double got = o[(t * nh + h) * hd + j];
                    CHECK(fabs(got - expect) < 1e-6, "mask impl=%d window=%u t=%u h=%u key %u: %g, expected %g", impl,
                          window, t, h, j, got, expect);
                }
        }
    }
}

/* The tiled kernel of one ISA (attention.h) against the double reference, below the ABI so it
 * reaches what mst_kernel_attention cannot say: each ISA's micro-kernels, rolling caches
 * (kv_slots) and the thread split, with nth threads simulated one after another (the units and
 * merge rows a thread takes depend only on ith and nth, so the order does not matter).
 *
 * Tolerance: TOL (1e-5) of max(1, max |ref|), as the ABI cases. What it must absorb: float dots
 * over head_dim <= 256 of values in [-2, 2] (error ~1e-6 in a score, whose exp then moves by the
 * same relative amount), the polynomial exp (relative error < 1e-7), and float sums of <= 64
 * probabilities per tile into a double running sum; outputs are weighted means of values in
 * [-1, 1], so each of those relative errors is also an absolute one. Measured here: 1.2e-6 for the
 * scalar kernels (plain float dot loops), 4.2e-7 for AVX2 and AVX-512; the test prints it. */
static double g_tiled_worst; /* largest normalized error of the tiled cases of one ISA, printed */

static void tiled_case(const mst_attn_kernels *kern, uint32_t nth, uint32_t nt, uint32_t pos0, uint32_t n_kv, uint32_t nh,
                       uint32_t nkv, uint32_t hd, uint32_t window, uint32_t kv_slots, int expect_split)
{
    uint64_t s = 1000003u * nt + 7919u * hd + n_kv + nth;
    const uint32_t rows = kv_slots ? kv_slots : n_kv;
    size_t nq = (size_t)nt * nh * hd, nk = (size_t)rows * nkv * hd;
    float *q = xmalloc(nq * 4), *k = xmalloc(nk * 4), *v = xmalloc(nk * 4), *o = xmalloc(nq * 4), *orf = xmalloc(nq * 4);
    fill_uniform(&s, q, nq, -2, 2);
    fill_uniform(&s, k, nk, -2, 2);
    fill_uniform(&s, v, nk, -1, 1);
    for (size_t i = 0; i < nq; i++)
        o[i] = 1e30f; /* a row no unit writes shows up as a huge error */
    mst_attn_args a = {
        .q = q, .k = k, .v = v, .out = orf, .n_tokens = nt, .q_pos0 = pos0, .n_kv = n_kv,
        .n_head = nh, .n_head_kv = nkv, .head_dim = hd, .window = window, .kv_slots = kv_slots,
    };
    CHECK(mst_attention_ref(&a), "reference out of memory");
    a.out = o;
    const uint64_t sf = mst_attention_scratch_floats(nth, hd);
    float *scratch = xmalloc(sf * 4);
    mst_attn_plan plan;
    mst_attention_plan(&a, nth, sf, &plan);
    for (uint32_t ith = 0; ith < nth; ith++)
        mst_attention_run(&a, &plan, kern, scratch, ith, nth);
    if (plan.chunks > 1)
        for (uint32_t ith = 0; ith < nth; ith++)
            mst_attention_merge(&a, &plan, scratch, ith, nth);
    char what[192];
    snprintf(what, sizeof what,
             "tiled %s nth=%u nt=%u pos0=%u n_kv=%u heads=%u/%u hd=%u window=%u slots=%u (chunks %u, rows %u)", kern->name,
             nth, nt, pos0, n_kv, nh, nkv, hd, window, kv_slots, plan.chunks, plan.rows);
    compare(what, o, orf, nq, TOL);
    double sc = max_abs(orf, nq), err = max_abs_diff(o, orf, nq) / (sc > 1 ? sc : 1);
    g_tiled_worst = err > g_tiled_worst ? err : g_tiled_worst;
    if (expect_split >= 0)
        CHECK((plan.chunks > 1) == expect_split, "%s: expected %s", what, expect_split ? "a key split" : "no key split");
    free(q), free(k), free(v), free(o), free(orf), free(scratch);
}

static void test_attention_tiled(const mst_attn_kernels *kern)
{
    g_tiled_worst = 0.0;
    /* head_dim: below, at and between the vector widths and panels (8/16 lanes, 16/64-float panels),
     * the Mistral 128, the largest 256, and odd ones for the masked tails */
    static const uint32_t hds[] = {8, 16, 24, 32, 33, 40, 64, 72, 96, 128, 136, 256};
    /* GQA 1:1, 4:1, 8:1 over every head_dim; prefill of 37 tokens after 5 cached: blocks of
     * 64 rows end mid-way, and keys end off the 64-key tile */
    for (size_t i = 0; i < sizeof hds / sizeof hds[0]; i++) {
        tiled_case(kern, 1, 37, 5, 42, 4, 4, hds[i], 0, 0, 0);
        tiled_case(kern, 2, 37, 5, 42, 8, 2, hds[i], 0, 0, 0);
        tiled_case(kern, 3, 19, 0, 19, 16, 2, hds[i], 0, 0, 0);
    }
    /* longer prefill, the 7B group shape, thread counts that do not divide the units */
    tiled_case(kern, 3, 150, 0, 150, 8, 2, 128, 0, 0, 0);
    tiled_case(kern, 2, 130, 70, 200, 4, 1, 64, 0, 0, 0);
    /* sliding windows: narrower than a tile, wider, and 1 (each query sees only itself) */
    tiled_case(kern, 2, 40, 30, 70, 8, 2, 32, 5, 0, 0);
    tiled_case(kern, 2, 100, 0, 100, 4, 4, 16, 70, 0, 0);
    tiled_case(kern, 1, 9, 3, 12, 4, 2, 8, 1, 0, 0);
    /* rolling caches: position j in row j % kv_slots, the window no wider than the ring */
    tiled_case(kern, 2, 20, 90, 110, 8, 2, 32, 16, 40, 0);
    tiled_case(kern, 3, 1, 5000, 5001, 8, 2, 64, 4096, 4096, -1);
    tiled_case(kern, 16, 1, 7000, 7001, 32, 8, 128, 4096, 4100, 1);
    /* group wider than a row block (MQA 96:1): one token's heads span two units */
    tiled_case(kern, 2, 3, 10, 13, 96, 1, 8, 0, 0, 0);
    /* decode over thousands of keys: many threads, few (KV head, block) items, so keys split */
    tiled_case(kern, 16, 1, 4095, 4096, 32, 8, 128, 0, 0, 1);
    tiled_case(kern, 16, 3, 3000, 3003, 8, 8, 72, 0, 0, 1);
    tiled_case(kern, 8, 1, 999, 1000, 4, 1, 256, 0, 0, 1);
    tiled_case(kern, 5, 2, 2046, 2048, 16, 2, 40, 600, 0, 1);
    tiled_case(kern, 1, 1, 4095, 4096, 32, 8, 128, 0, 0, 0); /* one thread never splits */
    /* a scratch sized for fewer threads than run: the plan splits less, never overflows */
    {
        uint64_t s = 21;
        const uint32_t n_kv = 4096, hd = 128;
        float *q = xmalloc(32 * hd * 4), *kv = xmalloc((size_t)n_kv * 8 * hd * 4);
        fill_uniform(&s, q, 32 * hd, -1, 1);
        mst_attn_args a = {.q = q, .k = kv, .v = kv, .out = q, .n_tokens = 1, .q_pos0 = n_kv - 1, .n_kv = n_kv,
                           .n_head = 32, .n_head_kv = 8, .head_dim = hd};
        mst_attn_plan plan;
        mst_attention_plan(&a, 16, mst_attention_scratch_floats(16, hd) / 8, &plan);
        CHECK(plan.part_off + (uint64_t)plan.units * plan.rows * (hd + 2) <= mst_attention_scratch_floats(16, hd) / 8 ||
                  plan.chunks == 1,
              "plan overruns a small scratch: %u chunks", plan.chunks);
        free(q), free(kv);
    }
    printf("tiled attention %s: worst normalized error %.3g (bound %.3g)\n", kern->name, g_tiled_worst, TOL);
}

/* Work balance of the thread split: kernels that only count the scores each thread computes.
 * A causal prefill split by equal unit counts would give the last thread of 2 three times the
 * first one's keys; the cost-balanced split must keep every thread within 10% of the mean. */
static uint64_t g_scores_done;

static void count_scores(const float *const *q, uint32_t nq, const float *const *k, uint32_t nk, uint32_t hd,
                         float scale, float *s, uint32_t lds)
{
    (void)q, (void)k, (void)hd, (void)scale;
    g_scores_done += (uint64_t)nq * nk;
    for (uint32_t i = 0; i < nq; i++)
        for (uint32_t j = 0; j < nk; j++)
            s[(size_t)i * lds + j] = 0.0f;
}
static void count_pv(float *const *o, uint32_t nq, const float *p, uint32_t ldp, const float *const *v, uint32_t nk,
                     uint32_t hd)
{
    (void)o, (void)nq, (void)p, (void)ldp, (void)v, (void)nk, (void)hd;
}
static float count_max(const float *s, uint32_t n)
{
    (void)s, (void)n;
    return 0.0f;
}
static float count_exp(float *s, uint32_t n, float m)
{
    (void)s, (void)m;
    return (float)n;
}
static void count_scale(float *o, uint32_t n, float a)
{
    (void)o, (void)n, (void)a;
}

static void attention_balance_case(uint32_t nt, uint32_t pos0, uint32_t nth, uint32_t window, uint32_t nkv)
{
    static const mst_attn_kernels counting = {
        .name = "counting", .scores = count_scores, .pv = count_pv, .row_max = count_max, .exp_sum = count_exp, .scale = count_scale};
    const uint32_t nh = 4 * nkv, hd = 128, n_kv = pos0 + nt;
    float *q = xmalloc((size_t)nt * nh * hd * 4), *o = xmalloc((size_t)nt * nh * hd * 4);
    static float kv[8 * 128]; /* the kernels read no K/V: one row (kv_slots = 1) of up to 8 heads */
    mst_attn_args a = {.q = q, .k = kv, .v = kv, .out = o, .n_tokens = nt, .q_pos0 = pos0, .n_kv = n_kv,
                       .n_head = nh, .n_head_kv = nkv, .head_dim = hd, .window = window, .kv_slots = 1};
    const uint64_t sf = mst_attention_scratch_floats(nth, hd);
    float *scratch = xmalloc(sf * 4);
    mst_attn_plan plan;
    mst_attention_plan(&a, nth, sf, &plan);
    uint64_t total = 0, most = 0;
    for (uint32_t ith = 0; ith < nth; ith++) {
        g_scores_done = 0;
        mst_attention_run(&a, &plan, &counting, scratch, ith, nth);
        total += g_scores_done;
        most = g_scores_done > most ? g_scores_done : most;
    }
    double mean = (double)total / nth;
    CHECK(most <= 1.1 * mean, "balance nt=%u pos0=%u nth=%u window=%u nkv=%u: busiest thread %llu scores, mean %.0f", nt,
          pos0, nth, window, nkv, (unsigned long long)most, mean);
    free(q), free(o), free(scratch);
}

/* Long contexts, the shapes whose cost grows with the context (decode over thousands of cached positions,
 * a prefill chunk late in a long prompt), each ISA's tiled kernels against the double reference within TOL,
 * as test_attention_tiled. Head counts and head_dim stay tiny so the reference stays cheap; what is long is
 * the key axis: thousands of keys in 64-key tiles, row blocks whose causal edge falls inside a tile, the
 * decode group of 4 (Mistral's) that the 4-row score blocks take whole, and groups of 1..3 that leave the
 * 2- and 1-row remainders. Splits over keys happen where the thread count asks for them (expect -1: either). */
static void test_attention_long_context(const mst_attn_kernels *kern)
{
    g_tiled_worst = 0.0;
    /* decode at position 2,047 and 8,191: GQA 4 (one unit per KV head), with and without a key split */
    tiled_case(kern, 1, 1, 2047, 2048, 4, 1, 16, 0, 0, 0);
    tiled_case(kern, 2, 1, 2047, 2048, 8, 2, 16, 0, 0, -1);
    tiled_case(kern, 4, 1, 2047, 2048, 4, 1, 24, 0, 0, 1);
    tiled_case(kern, 2, 1, 8191, 8192, 4, 1, 8, 0, 0, -1);
    /* groups 1, 2, 3 (rows left after the 4-row blocks) and 5, decoding 2,048 positions in */
    tiled_case(kern, 2, 1, 2047, 2048, 2, 2, 16, 0, 0, -1);
    tiled_case(kern, 2, 1, 2047, 2048, 2, 1, 16, 0, 0, -1);
    tiled_case(kern, 2, 1, 2047, 2048, 3, 1, 33, 0, 0, -1);
    tiled_case(kern, 2, 1, 2047, 2048, 5, 1, 16, 0, 0, -1);
    /* the last 150 tokens of a 2,048-token prefill: 64-row blocks that see ~1,900 keys over 30 tiles, the
     * causal edge inside the last tile of each block; and a 130-token chunk at 8,000 with a 4,096 window */
    tiled_case(kern, 2, 150, 1898, 2048, 4, 1, 16, 0, 0, 0);
    tiled_case(kern, 3, 150, 1898, 2048, 6, 2, 24, 0, 0, 0); /* group 3: 63-row blocks, 2- and 1-row remainders */
    tiled_case(kern, 2, 130, 7870, 8000, 4, 1, 8, 4096, 0, 0);
    /* a whole 2,048-token prompt at once: the causal triangle over 32 tiles */
    tiled_case(kern, 2, 2048, 0, 2048, 1, 1, 8, 0, 0, 0);
    printf("long-context attention %s: worst normalized error %.3g (bound %.3g)\n", kern->name, g_tiled_worst, TOL);
}

static void test_attention(void)
{
    attention_case(1, 0, 1, 1, 1, 8, 0, 1);
    attention_case(5, 3, 8, 4, 2, 16, 0, 2);
    attention_case(5, 3, 8, 4, 2, 16, 3, 3);
    attention_case(1, 99, 100, 8, 8, 128, 0, 4);
    attention_case(7, 20, 40, 6, 2, 64, 10, 5);
    attention_case(3, 0, 3, 32, 8, 33, 1, 6);
    attention_mask_check(0);
    attention_mask_check(3);
    attention_mask_check(1);
    /* one KV head: its units' costs grow with t, so only the cost split balances them; 8 KV heads
     * in head-major order nearly balance by count alone, the cost split must not make it worse */
    attention_balance_case(512, 0, 2, 0, 1);
    attention_balance_case(512, 0, 3, 0, 1);
    attention_balance_case(300, 100, 4, 64, 1);
    attention_balance_case(512, 0, 2, 0, 8);
    attention_balance_case(512, 0, 7, 0, 8);
    attention_balance_case(1, 4095, 16, 0, 8); /* decode: split keys */
    test_attention_tiled(mst_kernels_attn(mst_cpu_scalar()));
    if (mst_cpu_avx2())
        test_attention_tiled(mst_kernels_attn(mst_cpu_avx2()));
    if (mst_cpu_avx512())
        test_attention_tiled(mst_kernels_attn(mst_cpu_avx512()));
    if (mst_cpu_neon()) /* AArch64: every level's table runs the same NEON attention */
        test_attention_tiled(mst_kernels_attn(mst_cpu_neon()));
    test_vec(mst_cpu_scalar());
    if (mst_cpu_avx2())
        test_vec(mst_cpu_avx2());
    if (mst_cpu_avx512())
        test_vec(mst_cpu_avx512());
    float x[16] = {0}, out[16];
    CHECK(mst_kernel_attention(MST_IMPL_BEST, x, x, x, 2, 0, 1, 1, 1, 8, 0, out) == MST_ERR_INVALID_ARGUMENT,
          "queries without their keys");
    CHECK(mst_kernel_attention(MST_IMPL_BEST, x, x, x, 1, 0, 1, 3, 2, 8, 0, out) == MST_ERR_INVALID_ARGUMENT,
          "n_head not a multiple of n_head_kv");
    CHECK(mst_kernel_attention(MST_IMPL_BEST, NULL, x, x, 1, 0, 1, 1, 1, 8, 0, out) == MST_ERR_INVALID_ARGUMENT, "NULL q");
}

int main(int argc, char **argv)
{
    const char *which = argc > 1 ? argv[1] : "all";
    int all = strcmp(which, "all") == 0;
    if (all || strcmp(which, "rmsnorm") == 0)
        test_rmsnorm();
    if (all || strcmp(which, "rope") == 0)
        test_rope();
    if (all || strcmp(which, "swiglu") == 0)
        test_swiglu();
    if (all || strcmp(which, "attention") == 0)
        test_attention();
    if (all || strcmp(which, "attention_long") == 0) {
        test_attention_long_context(mst_kernels_attn(mst_cpu_scalar()));
        if (mst_cpu_avx2())
            test_attention_long_context(mst_kernels_attn(mst_cpu_avx2()));
        if (mst_cpu_avx512())
            test_attention_long_context(mst_kernels_attn(mst_cpu_avx512()));
        if (mst_cpu_neon())
            test_attention_long_context(mst_kernels_attn(mst_cpu_neon()));
    }
    return finish(which);
}
