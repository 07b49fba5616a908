/* test_kv_f16.c — the F16 KV cache of the CPU backend (mst_context_params.kv_type, the default).
 *   convert:  each ISA's to_f16 (what cpu_kv_store rounds K and V with) gives mst_fp32_to_fp16's bits, and the
 *             scalar one gives those of an independent round-to-nearest-even in double arithmetic (test_util.h)
 *   kernels:  the tiled attention of each ISA on a cache of halves, against (a) the same ISA's float kernels on
 *             the halves widened to floats: bit for bit, since the F16 kernels only widen as they load and keep
 *             the float kernels' arithmetic and order; (b) the double reference on the same halves, within
 *             test_ops.c's TOL (1e-5 of max(1, max |ref|)), which holds for the same reason as there: the values
 *             are floats, so nothing but the float kernels' own rounding separates them. And the reference on
 *             halves equals the reference on the widened floats bit for bit (it reads each half as that float)
 *   kernels_long: the same checks at long contexts (decode 2,048 and 8,192 positions in, a late prefill chunk)
 *   model:    whole tiny models, an F16 context against an F32 one: logits within the bound below, and greedy
 *             continuations identical; also on a rolling (sliding-window) cache past n_ctx
 *   memory:   an F16 context's cache is 2 bytes a value, half an F32 one's: the sizes the backend records and what
 *             malloc actually handed out; a kv_type the CPU cannot hold is refused with a message
 *
 * Whole-model bound, F16 against F32 KV, per logit: tol * max(1, max |logit|) with tol
 *   F32_KV_BOUND (5e-3) where the matmuls take float activations: rounding to a half moves each K and V value by
 *     at most u = 2^-11 relative. V's error reaches the attention output as at most u max|v| (the softmax weights
 *     sum to 1); K's moves each score by at most u sum|q_i k_i|/sqrt(d), which moves the weights by at most twice
 *     that in total, ~4u max|v| at these models' score sizes. So ~5u relative per layer, carried through W_o
 *     into the residual stream (the rest of the layer and the output have gains of order 1): ~10u = 5e-3 after
 *     two layers. The same analysis as the CUDA backend's f16 cache (NativeVsReferenceTests.CudaKvTolerance).
 *   ROUNDED_ACT_BOUND (5e-2) for models whose matmul inputs are rounded to Q8_0 blocks or bf16: the cache's
 *     perturbation flips some of those roundings by a step, an error of the kind and size of activation rounding
 *     itself (1/254 of a block's largest value per flipped value), so the float-vs-rounded-activation bound the
 *     C# differential tests hold mixed-type models to (NativeVsReferenceTests.ApproximationTolerance; observed
 *     there up to 2.7e-2, here 0.8e-2..1.4e-2). Float-activation models stay at 5e-3: observed 2e-4..3e-4.
 * A wrong slot, head, row stride or a half read as garbage moves logits by O(0.1..1). */
#include "test_os.h"
#include "test_util.h"
#include "cpu/attention.h"
#include "cpu/backend_cpu.h"
#include "cpu/ops.h"
#include "cpu/quant.h"
#include "internal.h"

#define TOL 1e-5                /* the tiled kernels against the double reference: test_ops.c's bound */
#define F32_KV_BOUND 5e-3       /* whole model, float activations (see above) */
#define ROUNDED_ACT_BOUND 5e-2  /* whole model, Q8_0/bf16-rounded activations (see above) */

static const int32_t ALL_F32[9] = {MST_TYPE_F32, MST_TYPE_F32, MST_TYPE_F32, MST_TYPE_F32, MST_TYPE_F32,
                                   MST_TYPE_F32, MST_TYPE_F32, MST_TYPE_F32, MST_TYPE_F32};
/* embd, q, k, v, o, gate, up, down, output: as test_model.c's mixed model */
static const int32_t MIXED[9] = {MST_TYPE_Q8_0, MST_TYPE_Q4_0, MST_TYPE_Q8_0, MST_TYPE_F16, MST_TYPE_BF16,
                                 MST_TYPE_F32,  MST_TYPE_F16,  MST_TYPE_BF16, MST_TYPE_Q4_0};

/* The attention tables this CPU can run, the scalar one first. */
static uint32_t isa_tables(const mst_attn_kernels **out)
{
    uint32_t n = 0;
    out[n++] = mst_kernels_attn(mst_cpu_scalar());
    if (mst_cpu_avx2())
        out[n++] = mst_kernels_attn(mst_cpu_avx2());
    if (mst_cpu_avx512())
        out[n++] = mst_kernels_attn(mst_cpu_avx512());
    if (mst_cpu_neon()) /* AArch64: one NEON attention for every level */
        out[n++] = mst_kernels_attn(mst_cpu_neon());
    return n;
}

/* ---- convert ---- */

static uint32_t g_convert_mismatch_reported;

static void check_convert(const mst_attn_kernels *k, const float *src, size_t n, uint16_t *got)
{
    k->to_f16(got, src, n);
    for (size_t i = 0; i < n; i++) {
        uint16_t want = mst_fp32_to_fp16(src[i]);
        uint32_t bits;
        memcpy(&bits, &src[i], 4);
        if (got[i] != want && g_convert_mismatch_reported++ < 10)
            CHECK(0, "%s to_f16(0x%08x = %g) = 0x%04x, mst_fp32_to_fp16 gives 0x%04x", k->name, bits, src[i], got[i],
                  want);
        /* t_fp32_to_fp16 takes no NaN and drops the sign of zero: those are held to mst_fp32_to_fp16 above */
        if (k == mst_kernels_attn(mst_cpu_scalar()) && src[i] == src[i] && src[i] != 0.0f &&
            got[i] != t_fp32_to_fp16(src[i]) &&
            g_convert_mismatch_reported++ < 10)
            CHECK(0, "to_f16(0x%08x = %g) = 0x%04x, round-to-nearest-even in double gives 0x%04x", bits, src[i], got[i],
                  t_fp32_to_fp16(src[i]));
    }
}

static void test_convert(void)
{
    const mst_attn_kernels *isa[3];
    const uint32_t n_isa = isa_tables(isa);
    /* Every sign, exponent and top 11 mantissa bits (bits 12..31 all 2^20 ways), each with low bits 0, 1 and
     * 0xfff: with bit 12 that is exactly a tie of a normal half (the 13 bits dropped = 0x1000), just above it and
     * just below the next; subnormal halves, overflow to infinity (from 65520 up), infinities and NaNs included. */
    const size_t n = (size_t)3 << 20;
    float *src = xmalloc(n * 4);
    uint16_t *got = xmalloc(n * 2);
    static const uint32_t low[3] = {0, 1, 0xfff};
    for (uint32_t hi = 0; hi < (1u << 20); hi++)
        for (int l = 0; l < 3; l++) {
            uint32_t bits = hi << 12 | low[l];
            memcpy(&src[(size_t)hi * 3 + l], &bits, 4);
        }
    for (uint32_t i = 0; i < n_isa; i++)
        check_convert(isa[i], src, n, got);

    /* every length 0..40 at every misalignment 0..3: the vector tails write exactly n halves */
    for (uint32_t i = 0; i < n_isa; i++)
        for (uint32_t len = 0; len <= 40; len++)
            for (uint32_t off = 0; off < 4; off++) {
                uint16_t buf[48];
                for (uint32_t j = 0; j < 48; j++)
                    buf[j] = 0xBEEF;
                isa[i]->to_f16(buf + off, src + 1000 * len + 77, len);
                int ok = 1;
                for (uint32_t j = 0; j < 48; j++) {
                    const int inside = j >= off && j < off + len;
                    if (inside ? buf[j] != mst_fp32_to_fp16(src[1000 * len + 77 + j - off]) : buf[j] != 0xBEEF)
                        ok = 0;
                }
                CHECK(ok, "%s to_f16 of %u values at offset %u: wrong value or wrote outside", isa[i]->name, len, off);
            }
    printf("convert: %zu values and every tail length, %u ISA(s): %s\n", n, n_isa,
           g_convert_mismatch_reported ? "MISMATCHES" : "bit-identical");
    free(src), free(got);
}

/* ---- kernels ---- */

/* Runs the tiled attention as nth threads would (one after another: a thread's units depend only on ith and
 * nth), merge included. */
static void run_tiled(const mst_attn_args *a, const mst_attn_kernels *kern, uint32_t nth, float *out,
                      uint32_t *chunks)
{
    mst_attn_args b = *a;
    b.out = out;
    const uint64_t sf = mst_attention_scratch_floats(nth, a->head_dim);
    float *scratch = xmalloc(sf * 4);
    mst_attn_plan plan;
    mst_attention_plan(&b, nth, sf, &plan);
    for (uint32_t ith = 0; ith < nth; ith++)
        mst_attention_run(&b, &plan, kern, scratch, ith, nth);
    if (plan.chunks > 1)
        for (uint32_t ith = 0; ith < nth; ith++)
            mst_attention_merge(&b, &plan, scratch, ith, nth);
    *chunks = plan.chunks;
    free(scratch);
}

static double g_kernel_worst[3];

static void kernel_case(uint32_t nth, uint32_t nt, uint32_t pos0, uint32_t n_kv, uint32_t nh, uint32_t nkv, uint32_t hd,
                        uint32_t window, uint32_t kv_slots)
{
    uint64_t s = 7777u * nt + 131u * hd + n_kv + 3u * nth + window;
    const uint32_t rows = kv_slots ? kv_slots : n_kv;
    const size_t nq = (size_t)nt * nh * hd, nk = (size_t)rows * nkv * hd;
    float *q = xmalloc(nq * 4), *kf = xmalloc(nk * 4), *vf = xmalloc(nk * 4);
    uint16_t *kh = xmalloc(nk * 2), *vh = xmalloc(nk * 2);
    fill_uniform(&s, q, nq, -2, 2);
    fill_uniform(&s, kf, nk, -2, 2);
    fill_uniform(&s, vf, nk, -1, 1);
    for (size_t i = 0; i < nk; i++) { /* the cache's halves, and the floats they equal */
        kh[i] = mst_fp32_to_fp16(kf[i]);
        vh[i] = mst_fp32_to_fp16(vf[i]);
        kf[i] = mst_fp16_to_fp32(kh[i]);
        vf[i] = mst_fp16_to_fp32(vh[i]);
    }
    float *ref16 = xmalloc(nq * 4), *ref32 = xmalloc(nq * 4), *o16 = xmalloc(nq * 4), *o32 = xmalloc(nq * 4);
    mst_attn_args h = {
        .q = q, .k = kh, .v = vh, .out = ref16, .n_tokens = nt, .q_pos0 = pos0, .n_kv = n_kv,
        .n_head = nh, .n_head_kv = nkv, .head_dim = hd, .window = window, .kv_slots = kv_slots, .kv_type = MST_TYPE_F16,
    };
    mst_attn_args f = h;
    f.k = kf, f.v = vf, f.out = ref32, f.kv_type = MST_TYPE_F32;
    CHECK(mst_attention_ref(&h) && mst_attention_ref(&f), "reference out of memory");
    char what[160];
    snprintf(what, sizeof what, "nth=%u nt=%u pos0=%u n_kv=%u heads=%u/%u hd=%u window=%u slots=%u", nth, nt, pos0, n_kv,
             nh, nkv, hd, window, kv_slots);
    CHECK(memcmp(ref16, ref32, nq * 4) == 0, "reference on halves differs from the reference on their floats: %s", what);

    const mst_attn_kernels *isa[3];
    const uint32_t n_isa = isa_tables(isa);
    for (uint32_t i = 0; i < n_isa; i++) {
        uint32_t c16 = 0, c32 = 0;
        for (size_t j = 0; j < nq; j++)
            o16[j] = o32[j] = 1e30f; /* a row no unit writes shows up as a huge error */
        run_tiled(&h, isa[i], nth, o16, &c16);
        run_tiled(&f, isa[i], nth, o32, &c32);
        CHECK(c16 == c32, "%s %s: the F16 call planned %u chunks, the F32 one %u", isa[i]->name, what, c16, c32);
        CHECK(memcmp(o16, o32, nq * 4) == 0, "%s %s: F16 kernels differ from the float kernels on the same values (max %.3g)",
              isa[i]->name, what, max_abs_diff(o16, o32, nq));
        double scale = max_abs(ref16, nq), err = max_abs_diff(o16, ref16, nq) / (scale > 1 ? scale : 1);
        CHECK(err <= TOL, "%s %s: F16 tiled vs reference, normalized error %.3g > %.3g", isa[i]->name, what, err, TOL);
        g_kernel_worst[i] = err > g_kernel_worst[i] ? err : g_kernel_worst[i];
    }
    free(q), free(kf), free(vf), free(kh), free(vh), free(ref16), free(ref32), free(o16), free(o32);
}

static void test_kernels(void)
{
    /* head_dim below, at and between the vector widths and panels (8/16 lanes, 16/64-column panels; the
     * half tails of AVX2 go through a zeroed copy, AVX-512's through 16-bit masks), Mistral's 128, 256 */
    static const uint32_t hds[] = {8, 12, 16, 24, 33, 40, 64, 72, 80, 128, 136, 256};
    for (size_t i = 0; i < sizeof hds / sizeof hds[0]; i++) {
        kernel_case(1, 37, 5, 42, 4, 4, hds[i], 0, 0);   /* prefill after 5 cached, GQA 1 */
        kernel_case(2, 19, 0, 19, 16, 2, hds[i], 0, 0);  /* GQA 8, two threads */
        kernel_case(1, 1, 70, 71, 8, 2, hds[i], 0, 0);   /* one decode step */
    }
    kernel_case(3, 150, 0, 150, 8, 2, 128, 0, 0);       /* a longer prefill over several 64-key tiles */
    kernel_case(2, 40, 30, 70, 8, 2, 32, 5, 0);         /* sliding window */
    kernel_case(2, 20, 90, 110, 8, 2, 32, 16, 40);      /* rolling cache: key j in row j % 40 */
    kernel_case(16, 1, 7000, 7001, 32, 8, 128, 4096, 4100); /* rolling decode, keys split over chunks */
    kernel_case(16, 1, 4095, 4096, 32, 8, 128, 0, 0);   /* decode over 4096 keys, split and merged */
    kernel_case(5, 2, 2046, 2048, 16, 2, 40, 600, 0);   /* split, window, odd head_dim */
    const mst_attn_kernels *isa[3];
    const uint32_t n_isa = isa_tables(isa);
    for (uint32_t i = 0; i < n_isa; i++)
        printf("kernels %s: F16 = float kernels bit for bit; worst normalized error vs reference %.3g (bound %.3g)\n",
               isa[i]->name, g_kernel_worst[i], TOL);
}

/* The F16 cache at long contexts (test_ops.c's attention_long shapes on halves): decode 2,048 and 8,192
 * positions in with a group of 4 (one 4-row score block per tile) and of 3 (the 2- and 1-row remainders),
 * and a late prefill chunk whose 64-row blocks cross ~30 key tiles. Same two checks as test_kernels. */
static void test_kernels_long(void)
{
    for (uint32_t i = 0; i < 3; i++)
        g_kernel_worst[i] = 0.0;
    kernel_case(1, 1, 2047, 2048, 4, 1, 16, 0, 0);
    kernel_case(2, 1, 2047, 2048, 8, 2, 16, 0, 0);
    kernel_case(4, 1, 2047, 2048, 3, 1, 33, 0, 0); /* keys split over chunks */
    kernel_case(2, 1, 8191, 8192, 4, 1, 8, 0, 0);
    kernel_case(2, 150, 1898, 2048, 4, 1, 16, 0, 0);
    kernel_case(3, 130, 7870, 8000, 8, 2, 24, 4096, 0); /* window */
    const mst_attn_kernels *isa[3];
    const uint32_t n_isa = isa_tables(isa);
    for (uint32_t i = 0; i < n_isa; i++)
        printf("long-context kernels %s: F16 = float kernels bit for bit; worst normalized error vs reference %.3g "
               "(bound %.3g)\n",
               isa[i]->name, g_kernel_worst[i], TOL);
}

/* ---- model ---- */

static mst_model *make_model(const test_model *tm)
{
    mst_model *m = NULL;
    if (mst_model_create(&tm->cfg, tm->desc, tm->n_desc, &m) != MST_OK) {
        printf("mst_model_create: %s\n", mst_last_error());
        exit(1);
    }
    return m;
}

static mst_context *make_ctx(mst_model *m, uint32_t n_ctx, uint32_t n_batch, int32_t kv_type)
{
    mst_context_params p;
    mst_context_params_default(&p);
    p.n_ctx = n_ctx, p.n_batch = n_batch, p.n_threads = 2, p.kv_type = kv_type;
    mst_context *c = NULL;
    if (mst_context_create(m, &p, &c) != MST_OK) {
        printf("mst_context_create: %s\n", mst_last_error());
        exit(1);
    }
    return c;
}

static int32_t argmax(const float *x, uint32_t n)
{
    uint32_t best = 0;
    for (uint32_t i = 1; i < n; i++)
        best = x[i] > x[best] ? i : best;
    return (int32_t)best;
}

/* The prompt in calls of `batch` tokens (all logits), then `steps` greedy tokens one call each: logits of every
 * position to out[(n_prompt + steps) * V], the generated ids to ids[steps]. */
static void run_greedy(mst_context *c, const int32_t *prompt, uint32_t n_prompt, uint32_t batch, uint32_t steps,
                       uint32_t V, float *out, int32_t *ids)
{
    for (uint32_t t = 0; t < n_prompt; t += batch) {
        const uint32_t n = n_prompt - t < batch ? n_prompt - t : batch;
        CHECK(mst_decode(c, prompt + t, n, 1, out + (size_t)t * V, (uint64_t)n * V) == MST_OK, "prompt: %s",
              mst_last_error());
    }
    int32_t next = argmax(out + (size_t)(n_prompt - 1) * V, V);
    for (uint32_t i = 0; i < steps; i++) {
        ids[i] = next;
        float *row = out + (size_t)(n_prompt + i) * V;
        CHECK(mst_decode(c, &next, 1, 0, row, V) == MST_OK, "step %u: %s", i, mst_last_error());
        next = argmax(row, V);
    }
}

/* F16 vs F32 KV on one model: every position's logits within tol relative, and the greedy ids identical.
 * near_ties: the ids may part at a step where the F32 run's top logit is within 2 * tol * scale of the one the
 * F16 run chose (each may be off by the bound: a near tie, which models with rounded activations meet, their
 * logit error being 40 times larger); the logits are compared up to there. */
static void model_case(const char *name, const mst_model_config *cfg, const int32_t types[9], int tied, uint64_t seed,
                       uint32_t n_ctx, uint32_t batch, uint32_t steps, double tol, int near_ties)
{
    test_model tm;
    tm_build(&tm, seed, cfg, types, tied);
    mst_model *m = make_model(&tm);
    const uint32_t V = cfg->n_vocab, n_prompt = 12, n = n_prompt + steps;
    int32_t prompt[12];
    uint64_t s = seed * 31 + 5;
    for (uint32_t i = 0; i < n_prompt; i++)
        prompt[i] = (int32_t)(rng_next(&s) % V);
    float *l16 = xmalloc((size_t)n * V * 4), *l32 = xmalloc((size_t)n * V * 4);
    int32_t *ids16 = xmalloc(steps * 4), *ids32 = xmalloc(steps * 4);
    mst_context *c16 = make_ctx(m, n_ctx, batch, MST_TYPE_F16), *c32 = make_ctx(m, n_ctx, batch, MST_TYPE_F32);
    run_greedy(c16, prompt, n_prompt, batch, steps, V, l16, ids16);
    run_greedy(c32, prompt, n_prompt, batch, steps, V, l32, ids32);

    uint32_t same = 0;
    while (same < steps && ids16[same] == ids32[same])
        same++;
    char parted[160] = "identical";
    if (same < steps) {
        /* the F32 logits both runs chose from: position n_prompt + same - 1 */
        const float *row = l32 + (size_t)(n_prompt + same - 1) * V;
        const double scale = max_abs(row, V) > 1 ? max_abs(row, V) : 1;
        const double margin = (double)row[ids32[same]] - row[ids16[same]], allowed = 2 * tol * scale;
        snprintf(parted, sizeof parted, "parted at step %u: %d (F32) vs %d (F16), F32 logits %.3g apart (near tie: <= %.3g)",
                 same, ids32[same], ids16[same], margin, allowed);
        CHECK(near_ties && margin <= allowed, "%s: greedy ids %s", name, parted);
    }
    /* logits compared along the common history only (after a divergence the inputs differ) */
    const uint32_t rows = n_prompt + same;
    double worst = 0, scale_max = 0;
    for (uint32_t t = 0; t < rows; t++) {
        const float *a = l16 + (size_t)t * V, *b = l32 + (size_t)t * V;
        double err = max_abs_diff(a, b, V), scale = max_abs(b, V);
        scale = scale > 1 ? scale : 1;
        CHECK(err <= tol * scale, "%s: position %u: F16 vs F32 KV max |dlogit| %.3g > %.3g", name, t, err, tol * scale);
        worst = err / scale > worst ? err / scale : worst;
        scale_max = scale > scale_max ? scale : scale_max;
    }
    printf("model %s: %u positions, greedy ids %s; F16 vs F32 KV worst relative error %.3g (bound %.3g, "
           "max |logit| %.3g)\n",
           name, rows, parted, worst, tol, scale_max);
    mst_context_free(c16), mst_context_free(c32);
    mst_model_free(m);
    tm_free(&tm);
    free(l16), free(l32), free(ids16), free(ids32);
}

static void test_models(void)
{
    mst_model_config tiny = tiny_config(); /* head_dim 24, GQA 2, 2 layers */
    model_case("f32 untied", &tiny, ALL_F32, 0, 42, 64, 8, 40, F32_KV_BOUND, 0);
    model_case("f32 tied", &tiny, ALL_F32, 1, 42, 64, 8, 40, F32_KV_BOUND, 0);
    model_case("mixed types (Q8_0/Q4_0/BF16-rounded activations)", &tiny, MIXED, 0, 43, 64, 8, 40, ROUNDED_ACT_BOUND, 1);
    /* Mistral 7B's attention shape: head_dim 128, 4 query heads per KV head; long enough for several tiles */
    mst_model_config wide = tiny;
    wide.n_embd = 256, wide.n_head = 8, wide.n_head_kv = 2, wide.head_dim = 128, wide.n_ff = 384;
    wide.n_ctx_train = 256;
    model_case("head_dim 128, GQA 4", &wide, ALL_F32, 0, 7, 256, 16, 150, F32_KV_BOUND, 0);
    /* sliding window 4 on a rolling cache: n_ctx 16, batch 2 (5 slots), 12 + 90 positions, far past n_ctx */
    mst_model_config win = tiny;
    win.sliding_window = 4;
    model_case("window 4, rolling cache of 5 slots", &win, ALL_F32, 0, 3, 16, 2, 90, F32_KV_BOUND, 0);
    model_case("mixed types, window 4, rolling", &win, MIXED, 0, 43, 16, 2, 90, ROUNDED_ACT_BOUND, 1);
}

/* ---- memory ---- */

static void test_memory(void)
{
    mst_model_config cfg = tiny_config();
    test_model tm;
    tm_build(&tm, 1, &cfg, ALL_F32, 0);
    mst_model *m = make_model(&tm);
    const uint32_t n_ctx = 4096;
    mst_context *c16 = make_ctx(m, n_ctx, 8, MST_TYPE_F16), *c32 = make_ctx(m, n_ctx, 8, MST_TYPE_F32);
    const mst_cpu_context *s16 = c16->backend_state, *s32 = c32->backend_state;
    uint32_t slots16 = 0, slots32 = 0;
    mst_context_limits(c16, &slots16, NULL);
    mst_context_limits(c32, &slots32, NULL);
    CHECK(slots16 == slots32 && slots16 == n_ctx, "slots %u (F16) and %u (F32), expected %u", slots16, slots32, n_ctx);
    /* 2 (K and V) * n_layer * kv_dim values per token: 2 bytes each for F16, 4 for F32 */
    const uint64_t per_token16 = 2ull * cfg.n_layer * cfg.n_head_kv * cfg.head_dim * 2;
    CHECK(s16->kv_bytes == per_token16 * n_ctx, "F16 cache %llu bytes, expected %llu", (unsigned long long)s16->kv_bytes,
          (unsigned long long)(per_token16 * n_ctx));
    CHECK(s32->kv_bytes == 2 * per_token16 * n_ctx, "F32 cache %llu bytes, expected %llu",
          (unsigned long long)s32->kv_bytes, (unsigned long long)(2 * per_token16 * n_ctx));
    CHECK(s16->kv_type == MST_TYPE_F16 && s32->kv_type == MST_TYPE_F32, "cache types %d and %d", s16->kv_type,
          s32->kv_type);
    /* What malloc handed out (rounded up to its chunk or page size): each F16 cache holds its bytes and is smaller
     * than half of an F32 one plus a page, so the memory itself halved, not only the bookkeeping. */
    const size_t u16 = test_os_block_size(s16->k_cache), u32 = test_os_block_size(s32->k_cache);
    CHECK(u16 >= s16->kv_bytes / 2 && test_os_block_size(s16->v_cache) >= s16->kv_bytes / 2,
          "F16 caches of %zu bytes, each must hold %llu", u16, (unsigned long long)s16->kv_bytes / 2);
    CHECK(u16 <= u32 / 2 + 4096, "F16 K cache %zu bytes, F32 %zu: not half", u16, u32);
    printf("memory: KV per token %llu bytes (F16) vs %llu (F32); K cache allocations %zu vs %zu bytes\n",
           (unsigned long long)per_token16, (unsigned long long)(2 * per_token16), u16, u32);
    mst_context_free(c16), mst_context_free(c32);

    /* a type the CPU cannot hold: refused, named, nothing created */
    mst_context_params p;
    mst_context_params_default(&p);
    CHECK(p.kv_type == MST_TYPE_F16, "the default kv_type is %d, expected F16 (%d)", p.kv_type, MST_TYPE_F16);
    p.n_ctx = 16, p.n_batch = 4, p.n_threads = 1, p.kv_type = MST_TYPE_Q8_0;
    mst_context *bad = NULL;
    mst_status st = mst_context_create(m, &p, &bad);
    CHECK(st == MST_ERR_UNSUPPORTED && bad == NULL, "kv_type Q8_0 gave %s", mst_status_to_string(st));
    CHECK(strstr(mst_last_error(), "kv_type") != NULL, "the message names kv_type: %s", mst_last_error());
    mst_model_free(m);
    tm_free(&tm);
}

int main(int argc, char **argv)
{
    const char *which = argc > 1 ? argv[1] : "all";
    int all = strcmp(which, "all") == 0;
    if (all || strcmp(which, "convert") == 0)
        test_convert();
    if (all || strcmp(which, "kernels") == 0)
        test_kernels();
    if (all || strcmp(which, "kernels_long") == 0)
        test_kernels_long();
    if (all || strcmp(which, "model") == 0)
        test_models();
    if (all || strcmp(which, "memory") == 0)
        test_memory();
    return finish(which);
}
