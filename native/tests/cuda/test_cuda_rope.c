/* test_cuda_rope.c — mst_cuda_rope on the emulator against mst_rope_ref (angle, cos, sin and rotation in
 * double).
 *
 * Tolerance, per pair (a, b) of inputs: each output within 2^-20 * (|a| + |b|) + 1e-30. rope.cu derives
 * (2^-22 + 3 * 2^-24) * (|a| + |b|) for the device: the angle is reduced in double (error far below a float
 * ulp at any position), sin and cos are float polynomials within 2^-22, and the rotation adds three roundings;
 * the reference's rounding adds 2^-24 (|a| + |b|). 2^-20 leaves a factor 2 over the sum of those.
 * Cases: head_dim 64 and 128 (and 2, 80), 3 and 11 heads (11 > the 8 heads a block rotates), positions 0..,
 * around 32768 (32760..32775) and near 10^6, bases 10000 and 1e6. */
#include "cuda_test_util.h"
#include "cpu/ops.h"

static void run(mst_dev *d, uint64_t *seed, uint32_t n_tokens, uint32_t n_heads, uint32_t head_dim, uint32_t pos0,
                float base)
{
    const size_t total = (size_t)n_tokens * n_heads * head_dim;
    float *x = ct_random(seed, total, -2, 2);
    float *want = xmalloc(total * 4), *got = xmalloc(total * 4);
    double *bound = xmalloc(total * sizeof *bound);
    int32_t *pos = xmalloc(n_tokens * sizeof *pos);
    for (uint32_t t = 0; t < n_tokens; t++)
        pos[t] = (int32_t)(pos0 + t);
    memcpy(want, x, total * 4);
    mst_rope_ref(want, n_tokens, n_heads, head_dim, pos, base);
    for (size_t i = 0; i < total; i += 2)
        bound[i] = bound[i + 1] = 0x1p-20 * (fabs((double)x[i]) + fabs((double)x[i + 1])) + 1e-30;
    mst_dptr dx = ct_upload(d, x, total * 4);
    ct_ok(mst_cuda_rope(d, dx, n_tokens, n_heads, head_dim, pos0, base), "mst_cuda_rope");
    ct_download(d, got, dx, total * 4);
    char what[128];
    snprintf(what, sizeof what, "rope tokens=%u heads=%u head_dim=%u pos0=%u base=%g", n_tokens, n_heads, head_dim,
             pos0, (double)base);
    ct_compare_bounds(what, got, want, bound, total);
    mst_dev_free(d, dx);
    free(x);
    free(want);
    free(got);
    free(bound);
    free(pos);
}

int main(void)
{
    mst_dev *d = ct_open();
    uint64_t seed = 3;
    run(d, &seed, 5, 3, 64, 0, 10000.0f);
    run(d, &seed, 5, 11, 128, 0, 10000.0f);
    run(d, &seed, 16, 3, 64, 32760, 10000.0f);
    run(d, &seed, 16, 3, 128, 32760, 1000000.0f);
    run(d, &seed, 3, 2, 128, 999990, 1000000.0f);
    run(d, &seed, 2, 3, 2, 12345, 10000.0f);
    run(d, &seed, 4, 1, 80, 77, 10000.0f);
    ct_ok(mst_cuda_rope(d, 0, 0, 3, 64, 0, 10000.0f), "mst_cuda_rope with no tokens");
    CHECK(mst_cuda_rope(d, 0, 1, 1, 63, 0, 10000.0f) == MST_ERR_INVALID_ARGUMENT, "odd head_dim accepted");
    mst_dev_close(d);
    return ct_finish("test_cuda_rope");
}
