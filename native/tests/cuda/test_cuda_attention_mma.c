/* test_cuda_attention_mma.c — the tensor-core prefill kernel (attention_mma.cu) on the emulator against
 * mst_attention_ref (double) on the same f16 K/V and float q, against attention.cu's float kernel
 * (MISTRAL_CUDA_MMA=0), and mst_cuda_attention's choice between the two.
 *
 * The reference reads q as floats; the kernel rounds q * log2(e) / sqrt(head_dim) to f16 and the softmax
 * weights P to f16 for the mma. Tolerance, per (token, head) row, with c = log2(e) / sqrt(head_dim),
 * A_j = c * sum_i |q_i k_i| (key j's score magnitude, log2 units), K_j = sum_i |k_i|, n = visible keys:
 *   E    = max_j (2^-11 + (head_dim + 4) 2^-22) A_j + 2^-25 K_j
 *          score error: q's f16 rounding (relative 2^-11 of each product, absolute 2^-25 of q * c where it
 *          falls below f16's normal range) and the mma's f32 sums (2^-22 per add: the PTX ISA does not
 *          promise round-to-nearest inside the tensor core, so two bits more than IEEE's 2^-24);
 *   e_x  = (n / 32 + 4) (2^-22 + ln2 2^-23 max_j A_j)
 *          each exp2 (ex2.approx, 2^-22.5) and rescale, and the rounding of its argument (|s - m| <= 2 max A);
 *   e_p  = 2^-11 + n 2^-25
 *          P's f16 rounding: relative 2^-11, absolute 2^-25 for subnormal halves, summed against l >= 1 (the
 *          row's largest weight is exp2(0) = 1); l sums the rounded P, so the output is their weighted mean;
 *   eps  = 2^E (1 + e_x)(1 + e_p) - 1      relative error of each unnormalized softmax weight;
 *   |out - ref| <= max|v| (2 eps / (1 - eps) + (2 n + 8) 2^-22)
 * since weights each off by a relative eps move a weighted mean by at most 2 eps / (1 - eps) max|v|, and the
 * last term covers the f32 sums of P V (mma) and of l over n keys and the division. With q, k, v in [-1, 1)
 * that is about 2e-3 at head_dim 128 (q's rounding dominates); a wrong mask, a lost tile or a misplaced
 * fragment costs ~1e-1. The float kernel is held to test_cuda_attention.c's bound, and kernel against kernel
 * to the sum of the two.
 *
 * Cases: n_tokens from 1 to 130, most odd (one key; 1 and 2 blocks of 64 rows, one full block; 3 blocks),
 * q_pos0 > 0 (a prefill continuing a cache), GQA 1 / 4 / 8, window < context, window 1 (each query sees
 * only itself), a rolling cache that wraps, head_dim 64 and 128, the first token (position 0: every tile but
 * its first fully masked for its row), queries 8x larger (wide score range: most of P underflows, nothing may
 * become NaN), and head_dim 80, which this kernel refuses and mst_cuda_attention sends to the float kernel;
 * then the refusals (head size, GQA shape, queries past the keys, an unaligned cache, a device position). */
#define _POSIX_C_SOURCE 200809L /* setenv under -std=c11 */
#include "cuda_test_util.h"
#include "cpu/attention.h"
#include "cpu/ops.h"
#include "cpu/quant.h"

typedef struct acase {
    uint32_t n_tokens, q_pos0, n_kv, n_head, n_head_kv, head_dim, window, kv_slots;
    float q_amp; /* q uniform in [-q_amp, q_amp) */
} acase;

/* bound_mma, bound_float: per-element bounds (see the top) for the tensor-core and the float kernel. */
static void bounds(const acase *c, const mst_attn_args *ra, const float *q, const float *kf, double vmax,
                   double *bound_mma, double *bound_float)
{
    const uint32_t hd = c->head_dim, group = c->n_head / c->n_head_kv;
    const double cs = 1.4426950408889634 / sqrt((double)hd), ln2 = 0.6931471805599453;
    for (uint32_t t = 0; t < c->n_tokens; t++) {
        uint32_t j0, j1;
        mst_attn_visible(ra, c->q_pos0 + t, &j0, &j1);
        for (uint32_t h = 0; h < c->n_head; h++) {
            const float *qr = q + ((size_t)t * c->n_head + h) * hd;
            double S = 0, E = 0;
            for (uint32_t j = j0; j < j1; j++) {
                const float *kr = kf + mst_attn_kv_row(ra, j) * c->n_head_kv * hd + (size_t)(h / group) * hd;
                double a = 0, ks = 0;
                for (uint32_t i = 0; i < hd; i++) {
                    a += fabs((double)qr[i] * kr[i]);
                    ks += fabs((double)kr[i]);
                }
                a *= cs;
                S = a > S ? a : S;
                const double e = (0x1p-11 + (hd + 4) * 0x1p-22) * a + 0x1p-25 * ks;
                E = e > E ? e : E;
            }
            const double n = j1 - j0;
            const double e_x = (n / 32 + 4) * (0x1p-22 + ln2 * 0x1p-23 * S), e_p = 0x1p-11 + n * 0x1p-25;
            const double eps = exp2(E) * (1 + e_x) * (1 + e_p) - 1;
            const double bm = vmax * (2 * eps / (1 - eps) + (2 * n + 8) * 0x1p-22);
            /* test_cuda_attention.c's bound of attention.cu (no split here: chunks 0) */
            const double tiles = n / 32 + 2;
            const double eps_f = ln2 * 2 * (hd + 4) * 0x1p-24 * S + (tiles + 2) * (0x1p-22 + ln2 * 0x1p-23 * S);
            const double bf = vmax * (2 * eps_f + (2 * n + 8) * 0x1p-24);
            for (uint32_t i = 0; i < hd; i++) {
                bound_mma[((size_t)t * c->n_head + h) * hd + i] = bm;
                bound_float[((size_t)t * c->n_head + h) * hd + i] = bf;
            }
        }
    }
}

/* Runs mst_cuda_attention (MISTRAL_CUDA_MMA as given, NULL = unset) or, with direct, mst_cuda_attention_mma. */
static mst_status attend(mst_dev *d, const mst_cuda_attn_args *a, const char *mma_env, int direct)
{
    if (mma_env)
        setenv("MISTRAL_CUDA_MMA", mma_env, 1);
    else
        unsetenv("MISTRAL_CUDA_MMA");
    mst_status st = direct ? mst_cuda_attention_mma(d, a) : mst_cuda_attention(d, a);
    unsetenv("MISTRAL_CUDA_MMA");
    return st;
}

static void run(mst_dev *d, uint64_t *seed, acase c)
{
    const uint32_t hd = c.head_dim, rows = c.kv_slots ? c.kv_slots : c.n_kv;
    const size_t nq = (size_t)c.n_tokens * c.n_head * hd, nkv = (size_t)rows * c.n_head_kv * hd;
    float *q = ct_random(seed, nq, -c.q_amp, c.q_amp), *kf = ct_random(seed, nkv, -1, 1);
    float *vf = ct_random(seed, nkv, -1, 1);
    uint16_t *kh = xmalloc(nkv * 2), *vh = xmalloc(nkv * 2);
    double vmax = 0;
    for (size_t i = 0; i < nkv; i++) {
        kh[i] = mst_fp32_to_fp16(kf[i]);
        vh[i] = mst_fp32_to_fp16(vf[i]);
        kf[i] = mst_fp16_to_fp32(kh[i]); /* the reference sees exactly the cache's values */
        vf[i] = mst_fp16_to_fp32(vh[i]);
        vmax = fabs(vf[i]) > vmax ? fabs(vf[i]) : vmax;
    }
    float *want = xmalloc(nq * 4), *got_mma = xmalloc(nq * 4), *got = xmalloc(nq * 4), *got_float = xmalloc(nq * 4);
    double *bm = xmalloc(nq * sizeof *bm), *bf = xmalloc(nq * sizeof *bf), *bsum = xmalloc(nq * sizeof *bsum);
    mst_attn_args ra = {q, kf, vf, want, c.n_tokens, c.q_pos0, c.n_kv, c.n_head, c.n_head_kv, hd, c.window, c.kv_slots,
                        MST_TYPE_F32};
    if (!mst_attention_ref(&ra)) {
        printf("test: out of memory\n");
        exit(2);
    }
    bounds(&c, &ra, q, kf, vmax, bm, bf);
    for (size_t i = 0; i < nq; i++)
        bsum[i] = bm[i] + bf[i];

    mst_dptr dq = ct_upload(d, q, nq * 4), dk = ct_upload(d, kh, nkv * 2), dv = ct_upload(d, vh, nkv * 2);
    mst_dptr dout = ct_alloc(d, nq * 4);
    mst_cuda_attn_args a = {.q = dq, .k_cache = dk, .v_cache = dv, .out = dout, .n_tokens = c.n_tokens,
                            .q_pos0 = c.q_pos0, .n_kv = c.n_kv, .n_head = c.n_head, .n_head_kv = c.n_head_kv,
                            .head_dim = hd, .window = c.window, .kv_slots = c.kv_slots};
    char what[224];
    const int n = snprintf(what, sizeof what,
                           "tokens=%u q_pos0=%u n_kv=%u heads=%u/%u head_dim=%u window=%u kv_slots=%u q_amp=%g",
                           c.n_tokens, c.q_pos0, c.n_kv, c.n_head, c.n_head_kv, hd, c.window, c.kv_slots, c.q_amp);
    char *tail = what + n;
    const size_t room = sizeof what - (size_t)n;

    /* the float kernel, forced */
    ct_ok(attend(d, &a, "0", 0), "mst_cuda_attention (MISTRAL_CUDA_MMA=0)");
    ct_download(d, got_float, dout, nq * 4);
    snprintf(tail, room, " float kernel vs reference");
    ct_compare_bounds(what, got_float, want, bf, nq);

    if (!mst_cuda_attention_mma_supports(&a)) {
        /* refused by the tensor-core kernel with a message naming the head size; the wrapper falls back */
        mst_status st = attend(d, &a, NULL, 1);
        CHECK(st == MST_ERR_UNSUPPORTED && strstr(mst_last_error(), "head_dim"),
              "head_dim %u: mst_cuda_attention_mma gave %s (%s), want UNSUPPORTED naming head_dim", hd,
              mst_status_to_string(st), mst_last_error());
        ct_ok(attend(d, &a, NULL, 0), "mst_cuda_attention (fallback)");
        ct_download(d, got, dout, nq * 4);
        snprintf(tail, room, " fallback vs reference");
        ct_compare_bounds(what, got, want, bf, nq);
    } else {
        ct_ok(attend(d, &a, NULL, 1), "mst_cuda_attention_mma");
        ct_download(d, got_mma, dout, nq * 4);
        snprintf(tail, room, " mma vs reference");
        ct_compare_bounds(what, got_mma, want, bm, nq);
        snprintf(tail, room, " mma vs float kernel");
        ct_compare_bounds(what, got_mma, got_float, bsum, nq);

        /* the wrapper's choice: prefill (more than the float kernel's one tile of 16 rows) goes to tensor
         * cores, bit for bit the direct call; a decode-sized call stays on the float kernel */
        ct_ok(attend(d, &a, NULL, 0), "mst_cuda_attention");
        ct_download(d, got, dout, nq * 4);
        const int prefill = (uint64_t)c.n_tokens * (c.n_head / c.n_head_kv) > 16;
        const int same_mma = memcmp(got, got_mma, nq * 4) == 0, same_float = memcmp(got, got_float, nq * 4) == 0;
        /* q's f16 rounding moves the scores by ~2^-11, far above a float ulp of the output, so the kernels
         * differ in some bit, and which one ran shows; except where they agree exactly (window 1: every output
         * is one V row, whatever the scores), where only "the expected one's bits" can be checked */
        const int kernels_agree = memcmp(got_mma, got_float, nq * 4) == 0;
        CHECK(prefill ? same_mma && (!same_float || kernels_agree) : same_float && (!same_mma || kernels_agree),
              "%s: mst_cuda_attention took the %s path (%s expected)", what,
              same_mma ? "tensor-core" : same_float ? "float" : "unknown", prefill ? "tensor-core" : "float");
    }

    mst_dev_free(d, dq);
    mst_dev_free(d, dk);
    mst_dev_free(d, dv);
    mst_dev_free(d, dout);
    free(q);
    free(kf);
    free(vf);
    free(kh);
    free(vh);
    free(want);
    free(got_mma);
    free(got);
    free(got_float);
    free(bm);
    free(bf);
    free(bsum);
}

int main(int argc, char **argv)
{
    static const acase cases[] = {
        /* tokens pos0 n_kv heads kv_heads hd window slots q_amp */
        {1, 0, 1, 8, 8, 64, 0, 0, 1},       /* the first token alone: one key, decode-sized (float path) */
        {7, 0, 7, 8, 2, 128, 0, 0, 1},      /* from position 0, GQA 4: the first row sees only key 0 */
        {31, 12, 43, 8, 8, 64, 0, 0, 1},    /* continuing a cache, GQA 1 */
        {65, 0, 65, 4, 4, 128, 0, 0, 1},    /* 65 rows per KV head: a second block of one row */
        {16, 100, 116, 8, 2, 128, 0, 0, 1}, /* GQA 4: exactly one block of 64 rows, 4 key tiles */
        {130, 3, 133, 2, 2, 64, 0, 0, 1},   /* 3 blocks, 5 key tiles */
        {45, 20, 65, 8, 1, 64, 16, 0, 1},   /* GQA 8, window 16 < context */
        {21, 60, 81, 8, 1, 128, 24, 48, 1}, /* GQA 8, window 24, rolling cache of 48 rows: keys 37..80 wrap */
        {33, 5, 38, 4, 1, 64, 1, 0, 1},     /* window 1: each query sees only its own key */
        {19, 0, 19, 8, 2, 128, 0, 0, 8},    /* wide scores: P mostly underflows, must stay finite */
        {129, 50, 179, 8, 2, 128, 100, 0, 1}, /* GQA 4, window 100: 9 blocks, tiles cut by the window */
        {67, 200, 267, 8, 2, 64, 64, 130, 1}, /* GQA 4, rolling cache of 130 rows (window + tokens - 1) */
        {3, 40, 43, 8, 8, 128, 0, 0, 1},    /* 3 tokens x 8 heads = 24 rows: prefill-sized */
        {2, 9, 11, 8, 8, 64, 0, 0, 1},      /* 16 rows: decode-sized, stays on the float kernel */
        {20, 6, 26, 8, 8, 80, 0, 0, 1},     /* head_dim 80: not this kernel's, falls back */
    };
    mst_dev *d = ct_open();
    uint64_t seed = 61;
    const int only = argc > 1 ? atoi(argv[1]) : -1; /* debugging: run one case */
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (only < 0 || (size_t)only == i)
            run(d, &seed, cases[i]);

    /* bad shapes: a status and a message, nothing launched */
    mst_cuda_attn_args bad = {.n_tokens = 1, .n_kv = 1, .n_head = 6, .n_head_kv = 4, .head_dim = 64};
    CHECK(mst_cuda_attention_mma(d, &bad) == MST_ERR_UNSUPPORTED, "n_head 6 over 4 KV heads accepted");
    bad.n_head = 8;
    bad.head_dim = 96;
    CHECK(mst_cuda_attention_mma(d, &bad) == MST_ERR_UNSUPPORTED, "head_dim 96 accepted");
    bad.head_dim = 128;
    bad.q_pos0 = 1;
    CHECK(mst_cuda_attention_mma(d, &bad) == MST_ERR_INVALID_ARGUMENT, "query past the keys accepted");
    bad.q_pos0 = 0;
    bad.k_cache = 0x1002; /* cp.async copies 16 bytes from 16-byte aligned rows */
    CHECK(mst_cuda_attention_mma(d, &bad) == MST_ERR_UNSUPPORTED && strstr(mst_last_error(), "aligned"),
          "a cache off 16-byte alignment accepted (%s)", mst_last_error());
    bad.k_cache = 0;
    bad.pos = 0x1000; /* a recorded decode step's position in device memory: the float kernel's */
    CHECK(mst_cuda_attention_mma(d, &bad) == MST_ERR_UNSUPPORTED, "a device position accepted");
    bad.n_tokens = 0;
    CHECK(mst_cuda_attention_mma(d, &bad) == MST_OK, "no tokens: nothing to do, not an error");
    mst_dev_close(d);
    return ct_finish("test_cuda_attention_mma");
}
