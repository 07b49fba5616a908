/* cuda_test_util.h — shared helpers of the CUDA kernel tests (native/tests/cuda/test_cuda_*.c): open the
 * emulated device, move arrays to and from it, and compare a device result with a CPU reference, printing
 * the worst element. On top of ../test_util.h (CHECK, g_failures, the seeded RNG, fill_uniform, xmalloc).
 *
 * CT_VERBOSE=1 in the environment prints every comparison's worst error relative to its bound.
 *
 * Device-side failures (alloc, upload, launch) are not the thing under test: they print the library's
 * message and exit(2), so a test body stays a straight line of calls. */
#ifndef MST_CUDA_TEST_UTIL_H
#define MST_CUDA_TEST_UTIL_H

#include "../test_util.h"
#include "cuda/kernels.h"

/* Exits with the library's message when st is not MST_OK. */
static inline void ct_ok(mst_status st, const char *what)
{
    if (st != MST_OK) {
        printf("FAIL %s: %s (%s)\n", what, mst_status_to_string(st), mst_last_error());
        exit(2);
    }
}

/* The SIMT emulator as device 0. */
static inline mst_dev *ct_open(void)
{
    mst_dev *d = NULL;
    ct_ok(mst_dev_open(0, 1, &d), "mst_dev_open(emulated)");
    return d;
}

/* A device buffer of `bytes` (at least 1), contents undefined. */
static inline mst_dptr ct_alloc(mst_dev *d, size_t bytes)
{
    mst_dptr p = 0;
    ct_ok(mst_dev_alloc(d, bytes ? bytes : 1, &p), "mst_dev_alloc");
    return p;
}

/* A device copy of host[0 .. bytes). */
static inline mst_dptr ct_upload(mst_dev *d, const void *host, size_t bytes)
{
    mst_dptr p = ct_alloc(d, bytes);
    if (bytes)
        ct_ok(mst_dev_upload(d, p, host, bytes), "mst_dev_upload");
    return p;
}

/* Waits for the queued work, then copies bytes from the device into host. */
static inline void ct_download(mst_dev *d, void *host, mst_dptr src, size_t bytes)
{
    ct_ok(mst_dev_sync(d), "mst_dev_sync");
    if (bytes)
        ct_ok(mst_dev_download(d, host, src, bytes), "mst_dev_download");
}

/* Seeded uniform floats in [lo, hi): a fresh host array the caller frees. */
static inline float *ct_random(uint64_t *seed, size_t n, float lo, float hi)
{
    float *x = (float *)xmalloc(n * sizeof(float));
    fill_uniform(seed, x, n, lo, hi);
    return x;
}

/* Checks |got[i] - want[i]| <= abs_tol + rel_tol * |want[i]| for every i (NaN anywhere fails), and prints
 * the worst element relative to its bound. Returns 1 on pass. */
static inline int ct_compare(const char *what, const float *got, const float *want, size_t n, double abs_tol,
                             double rel_tol)
{
    size_t worst = 0;
    double worst_ratio = -1.0;
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        double err = fabs((double)got[i] - (double)want[i]);
        double bound = abs_tol + rel_tol * fabs((double)want[i]);
        double ratio = bound > 0 ? err / bound : (err > 0 ? INFINITY : 0.0);
        if (err != err || got[i] != got[i] || want[i] != want[i])
            ratio = INFINITY;
        if (ratio > worst_ratio) {
            worst_ratio = ratio;
            worst = i;
        }
        if (!(ratio <= 1.0))
            bad++;
    }
    if (n == 0)
        return 1;
    if (getenv("CT_VERBOSE"))
        printf("  %s: worst err/bound %.3g at [%zu]\n", what, worst_ratio, worst);
    CHECK(bad == 0, "%s: %d of %zu elements out of tolerance; worst [%zu] got %.9g want %.9g (err/bound %.3g)", what,
          bad, n, worst, (double)got[worst], (double)want[worst], worst_ratio);
    return bad == 0;
}

/* Per-element bounds: |got[i] - want[i]| <= bound[i] (caller-computed, e.g. from sum |w*x|). */
static inline int ct_compare_bounds(const char *what, const float *got, const float *want, const double *bound,
                                    size_t n)
{
    size_t worst = 0;
    double worst_ratio = -1.0;
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        double err = fabs((double)got[i] - (double)want[i]);
        double ratio = bound[i] > 0 ? err / bound[i] : (err > 0 ? INFINITY : 0.0);
        if (err != err)
            ratio = INFINITY;
        if (ratio > worst_ratio) {
            worst_ratio = ratio;
            worst = i;
        }
        if (!(ratio <= 1.0))
            bad++;
    }
    if (n == 0)
        return 1;
    if (getenv("CT_VERBOSE"))
        printf("  %s: worst err/bound %.3g at [%zu]\n", what, worst_ratio, worst);
    CHECK(bad == 0, "%s: %d of %zu elements out of tolerance; worst [%zu] got %.9g want %.9g bound %.3g", what, bad,
          n, worst, (double)got[worst], (double)want[worst], bound[worst]);
    return bad == 0;
}

/* The exit status of a test program: prints PASS/FAIL with the count. */
static inline int ct_finish(const char *name)
{
    if (g_failures) {
        printf("%s: %d check(s) failed\n", name, g_failures);
        return 1;
    }
    printf("%s: PASS\n", name);
    return 0;
}

#endif
