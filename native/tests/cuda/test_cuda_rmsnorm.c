/* test_cuda_rmsnorm.c — mst_cuda_rmsnorm on the emulator against mst_rmsnorm_ref (double).
 *
 * Tolerance, per element: |got - ref| <= ((k + 11) / 2 + 8) * 2^-24 * |ref| + 1e-30, k = ceil(n / 256) squares
 * summed by each of the kernel's 256 threads. rmsnorm.cu derives ((k + 11) / 2 + 7) * 2^-24 relative (a sum of
 * positive terms over k + 11 levels, halved by the square root, plus the scale's and products' roundings);
 * one more ulp covers the reference's rounding to float.
 * Cases: n = 1, 33, 257, 4095 (3 rows each, values in [-3, 3]), a zero row (y = 0 through eps), and rows
 * scaled by 1e-3 and 1e3 (the mean and eps at other magnitudes). */
#include "cuda_test_util.h"
#include "cpu/ops.h"

static void run(mst_dev *d, uint64_t *seed, uint32_t n, uint32_t rows, float scale, float eps, int zero_row)
{
    const size_t total = (size_t)n * rows;
    float *x = ct_random(seed, total, -3, 3), *w = ct_random(seed, n, 0.5f, 1.5f);
    for (size_t i = 0; i < total; i++)
        x[i] *= scale;
    if (zero_row)
        memset(x, 0, n * sizeof *x);
    float *want = xmalloc(total * 4), *got = xmalloc(total * 4);
    mst_rmsnorm_ref(x, w, n, rows, eps, want);
    const double k = (n + 255) / 256;
    mst_dptr dx = ct_upload(d, x, total * 4), dw = ct_upload(d, w, n * 4), dy = ct_alloc(d, total * 4);
    ct_ok(mst_cuda_rmsnorm(d, dx, dw, n, rows, eps, dy), "mst_cuda_rmsnorm");
    ct_download(d, got, dy, total * 4);
    char what[96];
    snprintf(what, sizeof what, "rmsnorm n=%u rows=%u scale=%g%s", n, rows, (double)scale, zero_row ? " zero row" : "");
    ct_compare(what, got, want, total, 1e-30, ((k + 11) / 2 + 8) * 0x1p-24);
    mst_dev_free(d, dx);
    mst_dev_free(d, dw);
    mst_dev_free(d, dy);
    free(x);
    free(w);
    free(want);
    free(got);
}

int main(void)
{
    mst_dev *d = ct_open();
    uint64_t seed = 5;
    static const uint32_t ns[] = {1, 33, 257, 4095};
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++)
        run(d, &seed, ns[i], 3, 1.0f, 1e-5f, 0);
    run(d, &seed, 100, 2, 1.0f, 1e-6f, 1);
    run(d, &seed, 300, 2, 1e-3f, 1e-5f, 0);
    run(d, &seed, 300, 2, 1e3f, 1e-5f, 0);
    mst_dev_close(d);
    return ct_finish("test_cuda_rmsnorm");
}
