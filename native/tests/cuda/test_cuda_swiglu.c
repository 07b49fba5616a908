/* test_cuda_swiglu.c — mst_cuda_swiglu on the emulator against mst_swiglu_ref (double).
 *
 * Tolerance, per element: |got - ref| <= (|g| + 8) * 2^-24 * |ref| + 1e-37. swiglu.cu derives
 * (|g| + 6) * 2^-24 relative for the device (the exponent's rounding |g| * 2^-24, ex2.approx 2^-22.5, four
 * roundings); 2 more ulp cover the reference's own rounding to float. The 1e-37 floor covers results in
 * the float subnormal range (g = -88.5, -100), which the device's flush-to-zero exp2 may return as 0.
 * Cases: n = 1, 33, 257, 4095 with g in [-20, 20], and the edges g = -100 (silu ~ 0, exp overflows),
 * +100 (silu = g), -88.5, 0, +-1e-30, which must come out finite. */
#include "cuda_test_util.h"
#include "cpu/ops.h"

static void run(mst_dev *d, uint64_t *seed, size_t n, const float *edge, size_t n_edge)
{
    float *g = ct_random(seed, n, -20, 20), *u = ct_random(seed, n, -3, 3);
    for (size_t i = 0; i < n_edge && i < n; i++)
        g[i] = edge[i];
    float *want = xmalloc(n * sizeof *want), *got = xmalloc(n * sizeof *got);
    double *bound = xmalloc(n * sizeof *bound);
    mst_swiglu_ref(g, u, n, want);
    for (size_t i = 0; i < n; i++)
        bound[i] = (fabs((double)g[i]) + 8.0) * 0x1p-24 * fabs((double)want[i]) + 1e-37;
    mst_dptr dg = ct_upload(d, g, n * 4), du = ct_upload(d, u, n * 4);
    ct_ok(mst_cuda_swiglu(d, dg, du, n), "mst_cuda_swiglu");
    ct_download(d, got, dg, n * 4);
    char what[64];
    snprintf(what, sizeof what, "swiglu n=%zu", n);
    ct_compare_bounds(what, got, want, bound, n);
    for (size_t i = 0; i < n; i++)
        CHECK(isfinite(got[i]), "swiglu n=%zu: [%zu] g=%g gives %g", n, i, (double)g[i], (double)got[i]);
    mst_dev_free(d, dg);
    mst_dev_free(d, du);
    free(g);
    free(u);
    free(want);
    free(got);
    free(bound);
}

int main(void)
{
    mst_dev *d = ct_open();
    uint64_t seed = 7;
    static const float edge[] = {-100.0f, 100.0f, -88.5f, 0.0f, 1e-30f, -1e-30f, 88.5f, -30.0f};
    static const size_t ns[] = {1, 33, 257, 4095};
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++)
        run(d, &seed, ns[i], edge, sizeof edge / sizeof edge[0]);
    mst_dev_close(d);
    return ct_finish("test_cuda_swiglu");
}
