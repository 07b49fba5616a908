/* test_cuda_moe_gate.c — mst_cuda_moe_gate on the emulator against mst_moe_gate_ref.
 *
 * Chosen experts: must equal the reference's exactly (the kernel runs the same sequential selection).
 * Weights: |got - ref| <= (|l_i - max| + max_j |l_j - max| + n_used + 9) * 2^-24 * ref + 1e-37 with the maxima
 * over the token's chosen logits. moe_gate.cu derives (... + n_used + 8) for the device (the exponent's rounding,
 * ex2.approx, the float sum and the division); one more ulp for the reference's rounding. The floor covers
 * weights below the float normal range.
 * Cases: 8 experts top-2 (Mixtral) over 1, 33 and 70 tokens (70 > the 64-thread block); 64 top-6; 256 top-8;
 * ties (logits from a handful of values, so most tokens have equal logits; the lower index must come first);
 * logits of -1000, whose weights underflow to exactly 0 on both sides; top-k = all experts. Non-finite logits
 * (not routed at all) are test_cuda_nan.c's. */
#include "cuda_test_util.h"
#include "cpu/moe_gate.h"

static void run(mst_dev *d, uint64_t *seed, uint32_t n_tokens, uint32_t n_expert, uint32_t n_used, int ties)
{
    const size_t nl = (size_t)n_tokens * n_expert, nc = (size_t)n_tokens * n_used;
    float *l = ct_random(seed, nl, -4, 4);
    if (ties)
        for (size_t i = 0; i < nl; i++) /* 4 distinct values and a few far below them */
            l[i] = (i % 13 == 5) ? -1000.0f : (float)(rng_next(seed) % 4) * 0.5f;
    int32_t *want_id = xmalloc(nc * 4), *got_id = xmalloc(nc * 4);
    float *want_w = xmalloc(nc * 4), *got_w = xmalloc(nc * 4);
    double *bound = xmalloc(nc * sizeof *bound);
    mst_moe_gate_ref(l, n_tokens, n_expert, n_used, want_id, want_w);
    for (uint32_t t = 0; t < n_tokens; t++) {
        const float *lt = l + (size_t)t * n_expert;
        const double mx = lt[want_id[(size_t)t * n_used]];
        double spread = 0.0;
        for (uint32_t i = 0; i < n_used; i++) {
            double dl = mx - lt[want_id[(size_t)t * n_used + i]];
            if (dl < 1000 && dl > spread)
                spread = dl;
        }
        for (uint32_t i = 0; i < n_used; i++) {
            const size_t o = (size_t)t * n_used + i;
            double dl = mx - lt[want_id[o]];
            if (dl >= 1000)
                dl = 0; /* a -1000 logit: weight exactly 0 on both sides */
            bound[o] = (dl + spread + n_used + 9) * 0x1p-24 * fabs((double)want_w[o]) + 1e-37;
        }
    }
    mst_dptr dl = ct_upload(d, l, nl * 4), dc = ct_alloc(d, nc * 4), dw = ct_alloc(d, nc * 4);
    ct_ok(mst_cuda_moe_gate(d, dl, n_tokens, n_expert, n_used, dc, dw), "mst_cuda_moe_gate");
    ct_download(d, got_id, dc, nc * 4);
    ct_download(d, got_w, dw, nc * 4);
    int bad = 0;
    size_t first = 0;
    for (size_t i = 0; i < nc; i++)
        if (got_id[i] != want_id[i] && !bad++)
            first = i;
    CHECK(bad == 0, "moe_gate tokens=%u experts=%u used=%u%s: %d ids differ, first token %zu slot %zu: %d want %d",
          n_tokens, n_expert, n_used, ties ? " ties" : "", bad, first / n_used, first % n_used, got_id[first],
          want_id[first]);
    char what[96];
    snprintf(what, sizeof what, "moe_gate weights tokens=%u experts=%u used=%u%s", n_tokens, n_expert, n_used,
             ties ? " ties" : "");
    ct_compare_bounds(what, got_w, want_w, bound, nc);
    mst_dev_free(d, dl);
    mst_dev_free(d, dc);
    mst_dev_free(d, dw);
    free(l);
    free(want_id);
    free(got_id);
    free(want_w);
    free(got_w);
    free(bound);
}

int main(void)
{
    mst_dev *d = ct_open();
    uint64_t seed = 19;
    run(d, &seed, 1, 8, 2, 0);
    run(d, &seed, 33, 8, 2, 0);
    run(d, &seed, 70, 8, 2, 0);
    run(d, &seed, 33, 8, 2, 1);
    run(d, &seed, 9, 64, 6, 0);
    run(d, &seed, 9, 64, 6, 1);
    run(d, &seed, 5, 256, 8, 0);
    run(d, &seed, 5, 256, 8, 1);
    run(d, &seed, 4, 8, 8, 1);
    CHECK(mst_cuda_moe_gate(d, 0, 1, 257, 2, 0, 0) == MST_ERR_UNSUPPORTED, "257 experts accepted");
    CHECK(mst_cuda_moe_gate(d, 0, 1, 8, 9, 0, 0) == MST_ERR_UNSUPPORTED, "top-9 of 8 accepted");
    mst_dev_close(d);
    return ct_finish("test_cuda_moe_gate");
}
