/* test_cuda_attention.c — mst_cuda_attention on the emulator against mst_attention_ref (double), both on the
 * same f16-rounded K/V (the reference reads them as floats with the same rolling-row mapping), so the only
 * differences are the float arithmetic, the exp2 and the summation order.
 *
 * Tolerance, per (token, head) row, from attention.cu's error analysis:
 *   S    = max over the row's visible keys of sum_i |q_i k_i| * log2(e) / sqrt(head_dim)  (scores, log2 units)
 *   eps  = ln2 * 2 * (head_dim + 4) * 2^-24 * S                    (two scores' dot-product errors)
 *        + (tiles + chunks + 2) * (2^-22.5 + ln2 * 2^-23 * S)      (each exp2 / rescale and its argument)
 *   |out - ref| <= max|v| * (2 * eps + (2 * n_visible + 8) * 2^-24)
 * where eps bounds the relative error of each softmax weight (a weight perturbation moves the weighted mean by
 * at most 2 * eps * max|v|) and the last term covers the float sums of l and of p * v over n_visible keys and
 * the final division. For these shapes that is about 1e-4; a wrong mask or a lost chunk costs ~1e-1.
 *
 * Cases (n_head 8 unless noted): prefill 37 tokens at q_pos0 5, head_dim 64, GQA 1; prefill 37 at 20,
 * head_dim 128, GQA 4, window 16; prefill 20 at 40, GQA 8, window 24, rolling cache of 32 rows (< 60 keys);
 * decode 1 token over 1000 keys, head_dim 128, GQA 4 (split into 4 chunks and combined); decode over 1000
 * keys, window 300, rolling cache of 512 (2 chunks); decode of 3 tokens over 600 keys, GQA 4 (12 rows, one
 * tile, 3 chunks); head_dim 256 prefill (GQA 2, 4 heads) and decode (split); head_dim 80; a single key;
 * decode over 1000 keys without scratch (no split); 16 tokens (one head) over 1793 keys: 8 chunks of 256,
 * the last holding 1 key that only the last row sees (partials with m = -inf in the combine). */
#define _POSIX_C_SOURCE 200809L /* setenv under -std=c11 */
#include "cuda_test_util.h"
#include "cpu/attention.h"
#include "cpu/ops.h"
#include "cpu/quant.h"

typedef struct acase {
    uint32_t n_tokens, q_pos0, n_kv, n_head, n_head_kv, head_dim, window, kv_slots;
    int no_scratch;
} acase;

static void run(mst_dev *d, uint64_t *seed, acase c)
{
    const uint32_t hd = c.head_dim, rows = c.kv_slots ? c.kv_slots : c.n_kv;
    const size_t nq = (size_t)c.n_tokens * c.n_head * hd, nkv = (size_t)rows * c.n_head_kv * hd;
    float *q = ct_random(seed, nq, -1, 1), *kf = ct_random(seed, nkv, -1, 1), *vf = ct_random(seed, nkv, -1, 1);
    uint16_t *kh = xmalloc(nkv * 2), *vh = xmalloc(nkv * 2);
    double vmax = 0;
    for (size_t i = 0; i < nkv; i++) {
        kh[i] = mst_fp32_to_fp16(kf[i]);
        vh[i] = mst_fp32_to_fp16(vf[i]);
        kf[i] = mst_fp16_to_fp32(kh[i]); /* the reference sees exactly the cache's values */
        vf[i] = mst_fp16_to_fp32(vh[i]);
        if (fabs(vf[i]) > vmax)
            vmax = fabs(vf[i]);
    }
    float *want = xmalloc(nq * 4), *got = xmalloc(nq * 4);
    double *bound = xmalloc(nq * sizeof *bound);
    mst_attn_args ra = {q, kf, vf, want, c.n_tokens, c.q_pos0, c.n_kv, c.n_head, c.n_head_kv, hd, c.window, c.kv_slots, MST_TYPE_F32};
    if (!mst_attention_ref(&ra)) {
        printf("test: out of memory\n");
        exit(2);
    }

    const uint64_t scratch_bytes = c.no_scratch ? 0 : mst_cuda_attention_scratch_bytes(c.n_tokens, c.n_head, hd, c.n_kv);
    /* chunks the wrapper may use: at most one per 256 keys, at most 32 (attention.cu); bounded generously */
    const double chunks = c.n_kv / 256.0 + 2;
    const uint32_t group = c.n_head / c.n_head_kv;
    const double qk_scale = 1.4426950408889634 / sqrt((double)hd);
    for (uint32_t t = 0; t < c.n_tokens; t++) {
        const uint32_t p = c.q_pos0 + t;
        uint32_t j0, j1;
        mst_attn_visible(&ra, p, &j0, &j1);
        for (uint32_t h = 0; h < c.n_head; h++) {
            const float *qr = q + ((size_t)t * c.n_head + h) * hd;
            double S = 0;
            for (uint32_t j = j0; j < j1; j++) {
                const float *kr = kf + mst_attn_kv_row(&ra, j) * c.n_head_kv * hd + (size_t)(h / group) * hd;
                double s = 0;
                for (uint32_t i = 0; i < hd; i++)
                    s += fabs((double)qr[i] * kr[i]);
                if (s * qk_scale > S)
                    S = s * qk_scale;
            }
            const double n_vis = j1 - j0, tiles = n_vis / 32 + 2, ln2 = 0.6931471805599453;
            const double eps = ln2 * 2 * (hd + 4) * 0x1p-24 * S + (tiles + chunks + 2) * (0x1p-22 + ln2 * 0x1p-23 * S);
            const double b = vmax * (2 * eps + (2 * n_vis + 8) * 0x1p-24);
            for (uint32_t i = 0; i < hd; i++)
                bound[((size_t)t * c.n_head + h) * hd + i] = b;
        }
    }

    mst_dptr dq = ct_upload(d, q, nq * 4), dk = ct_upload(d, kh, nkv * 2), dv = ct_upload(d, vh, nkv * 2);
    mst_dptr dout = ct_alloc(d, nq * 4), dscratch = scratch_bytes ? ct_alloc(d, scratch_bytes) : 0;
    mst_cuda_attn_args a = {dq, dk, dv, dout, dscratch, c.n_tokens, c.q_pos0, c.n_kv, c.n_head, c.n_head_kv, hd,
                            c.window, c.kv_slots, 0, 0};
    ct_ok(mst_cuda_attention(d, &a), "mst_cuda_attention");
    ct_download(d, got, dout, nq * 4);
    char what[192];
    snprintf(what, sizeof what,
             "attention tokens=%u q_pos0=%u n_kv=%u heads=%u/%u head_dim=%u window=%u kv_slots=%u scratch=%llu",
             c.n_tokens, c.q_pos0, c.n_kv, c.n_head, c.n_head_kv, hd, c.window, c.kv_slots,
             (unsigned long long)scratch_bytes);
    ct_compare_bounds(what, got, want, bound, nq);

    mst_dev_free(d, dq);
    mst_dev_free(d, dk);
    mst_dev_free(d, dv);
    mst_dev_free(d, dout);
    if (dscratch)
        mst_dev_free(d, dscratch);
    free(q);
    free(kf);
    free(vf);
    free(kh);
    free(vh);
    free(want);
    free(got);
    free(bound);
}

int main(int argc, char **argv)
{
    static const acase cases[] = {
        /* tokens pos0 n_kv heads kv_heads hd window slots no_scratch */
        {37, 5, 42, 8, 8, 64, 0, 0, 0},       /* prefill, GQA 1 */
        {37, 20, 57, 8, 2, 128, 16, 0, 0},    /* prefill, GQA 4, window */
        {20, 40, 60, 8, 1, 64, 24, 32, 0},    /* prefill, GQA 8, window, rolling cache */
        {1, 999, 1000, 8, 2, 128, 0, 0, 0},   /* decode, split into chunks + combine */
        {1, 999, 1000, 8, 8, 64, 300, 512, 0}, /* decode, window, rolling */
        {3, 597, 600, 8, 2, 64, 0, 0, 0},     /* 3-token decode, split */
        {9, 0, 9, 4, 2, 256, 0, 0, 0},        /* head_dim 256 prefill */
        {1, 599, 600, 4, 2, 256, 0, 0, 0},    /* head_dim 256 decode, split */
        {5, 3, 8, 8, 4, 80, 0, 0, 0},         /* head_dim 80: a lane's second pair half used */
        {1, 0, 1, 8, 8, 64, 0, 0, 0},         /* a single key */
        {1, 999, 1000, 8, 8, 64, 0, 0, 1},    /* decode without scratch: no split */
        {16, 1777, 1793, 1, 1, 64, 0, 0, 0},  /* 8 chunks of 256, the last of 1 key: 15 rows see none of it */
    };
    /* this file checks attention.cu's float kernel, prefill included, to its own bound; mst_cuda_attention
     * otherwise sends prefill to tensor cores, which test_cuda_attention_mma.c checks */
    setenv("MISTRAL_CUDA_MMA", "0", 1);
    mst_dev *d = ct_open();
    uint64_t seed = 23;
    const int only = argc > 1 ? atoi(argv[1]) : -1; /* debugging: run one case */
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (only < 0 || (size_t)only == i)
            run(d, &seed, cases[i]);

    mst_cuda_attn_args bad = {0, 0, 0, 0, 0, 1, 0, 1, 6, 4, 64, 0, 0, 0, 0};
    CHECK(mst_cuda_attention(d, &bad) == MST_ERR_UNSUPPORTED, "n_head 6 over 4 KV heads accepted");
    bad.n_head = 8;
    bad.head_dim = 63;
    CHECK(mst_cuda_attention(d, &bad) == MST_ERR_UNSUPPORTED, "odd head_dim accepted");
    bad.head_dim = 64;
    bad.q_pos0 = 1;
    CHECK(mst_cuda_attention(d, &bad) == MST_ERR_INVALID_ARGUMENT, "query past the keys accepted");
    mst_dev_close(d);
    return ct_finish("test_cuda_attention");
}
