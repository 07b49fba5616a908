/* test_cuda_kv_store.c — mst_cuda_kv_store on the emulator against mst_fp32_to_fp16 stored row by row on
 * the CPU (the sequential store: a later token overwrites an earlier one in the same row).
 *
 * Tolerance: none. The kernel rounds each float once to nearest even, as the CPU conversion does, so the
 * caches must match bit for bit; NaN inputs must give NaN halves (their payload bits may differ: the device's
 * cvt makes a canonical NaN). Rows the call does not store keep their previous contents.
 * Cases: kv_dim 4, 33, 257 (not a multiple of the 256-thread block); a plain cache (kv_slots 0) and rolling
 * ones: a batch wrapping past the end, and a batch of 40 tokens into 16 slots (only the last 16 survive).
 * Values: random, plus ties (1 + 2^-11, 1 + 3 * 2^-11), 65504, 65520 (rounds to infinity), subnormal halves,
 * underflow to zero, infinities, NaN. */
#include "cuda_test_util.h"
#include "cpu/quant.h"

static const float specials[] = {1.00048828125f, 1.00146484375f, 65504.0f, 65520.0f, -65520.0f, 3e-6f, -6e-8f,
                                 1e-9f, INFINITY, -INFINITY, NAN, 0.0f, -0.0f, 2.9802322e-08f /* 2^-25 */};

static int same_half(uint16_t a, uint16_t b)
{
    int nan_a = (a & 0x7c00u) == 0x7c00u && (a & 0x3ffu), nan_b = (b & 0x7c00u) == 0x7c00u && (b & 0x3ffu);
    return nan_a || nan_b ? nan_a && nan_b : a == b;
}

static void run(mst_dev *d, uint64_t *seed, uint32_t n, uint32_t kv_dim, uint32_t pos0, uint32_t kv_slots)
{
    const uint32_t rows = kv_slots ? kv_slots : pos0 + n + 3; /* a plain cache with rows past the batch */
    const size_t in = (size_t)n * kv_dim, cache = (size_t)rows * kv_dim;
    float *k = ct_random(seed, in, -70000, 70000), *v = ct_random(seed, in, -2, 2);
    for (size_t i = 0; i < in && i < sizeof specials / sizeof specials[0]; i++) {
        k[in - 1 - i] = specials[i];
        v[i] = specials[i];
    }
    uint16_t *kc = xmalloc(cache * 2), *vc = xmalloc(cache * 2), *kw = xmalloc(cache * 2), *vw = xmalloc(cache * 2);
    for (size_t i = 0; i < cache; i++) {
        kc[i] = (uint16_t)(0xabcd + i); /* previous contents to keep */
        vc[i] = (uint16_t)(0x1234 + 3 * i);
    }
    memcpy(kw, kc, cache * 2);
    memcpy(vw, vc, cache * 2);
    for (uint32_t t = 0; t < n; t++) {
        const uint64_t row = kv_slots ? ((uint64_t)pos0 + t) % kv_slots : (uint64_t)pos0 + t;
        for (uint32_t c = 0; c < kv_dim; c++) {
            kw[row * kv_dim + c] = mst_fp32_to_fp16(k[(size_t)t * kv_dim + c]);
            vw[row * kv_dim + c] = mst_fp32_to_fp16(v[(size_t)t * kv_dim + c]);
        }
    }
    mst_dptr dk = ct_upload(d, k, in * 4), dv = ct_upload(d, v, in * 4);
    mst_dptr dkc = ct_upload(d, kc, cache * 2), dvc = ct_upload(d, vc, cache * 2);
    ct_ok(mst_cuda_kv_store(d, dk, dv, n, kv_dim, pos0, kv_slots, dkc, dvc), "mst_cuda_kv_store");
    ct_download(d, kc, dkc, cache * 2);
    ct_download(d, vc, dvc, cache * 2);
    int bad = 0;
    size_t first = 0;
    for (size_t i = 0; i < cache; i++)
        if (!same_half(kc[i], kw[i]) || !same_half(vc[i], vw[i])) {
            if (!bad++)
                first = i;
        }
    CHECK(bad == 0,
          "kv_store n=%u kv_dim=%u pos0=%u kv_slots=%u: %d elements differ; first [row %zu col %zu] k %04x want %04x, "
          "v %04x want %04x",
          n, kv_dim, pos0, kv_slots, bad, first / kv_dim, first % kv_dim, kc[first], kw[first], vc[first], vw[first]);
    mst_dev_free(d, dk);
    mst_dev_free(d, dv);
    mst_dev_free(d, dkc);
    mst_dev_free(d, dvc);
    free(k);
    free(v);
    free(kc);
    free(vc);
    free(kw);
    free(vw);
}

int main(void)
{
    mst_dev *d = ct_open();
    uint64_t seed = 13;
    run(d, &seed, 1, 4, 0, 0);
    run(d, &seed, 5, 33, 7, 0);
    run(d, &seed, 3, 257, 2, 0);
    run(d, &seed, 6, 33, 13, 16);  /* rows 13, 14, 15, 0, 1, 2 */
    run(d, &seed, 40, 33, 5, 16);  /* 40 tokens into 16 slots */
    run(d, &seed, 1, 257, 1000, 16);
    mst_dev_close(d);
    return ct_finish("test_cuda_kv_store");
}
