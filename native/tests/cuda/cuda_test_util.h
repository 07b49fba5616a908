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

/* Whether this run checks a real GPU: MISTRAL_CUDA_TEST_DRIVER=1 (the gpu_* twins of the cuda_* ctests). */
static inline int ct_on_driver(void)
{
    const char *v = getenv("MISTRAL_CUDA_TEST_DRIVER");
    return v && v[0] == '1';
}

/* Device 0: the SIMT emulator, or with ct_on_driver() the NVIDIA driver's device 0. Without a usable GPU the
 * driver run ends here as skipped (ctest SKIP_RETURN_CODE 77), saying why. */
static inline mst_dev *ct_open(void)
{
    mst_dev *d = NULL;
    if (!ct_on_driver()) {
        ct_ok(mst_dev_open(0, 1, &d), "mst_dev_open(emulated)");
        return d;
    }
    if (mst_dev_open(0, 0, &d) != MST_OK) {
        printf("skipped: no CUDA device (%s)\n", mst_last_error());
        exit(77);
    }
    mst_dev_desc desc;
    ct_ok(mst_dev_describe(d, &desc), "mst_dev_describe");
    if (desc.emulated) { /* MISTRAL_CUDA_EMULATE=1 inherited: this run would prove nothing about a GPU */
        printf("FAIL the driver run got the emulator (MISTRAL_CUDA_EMULATE is set)\n");
        exit(2);
    }
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

/* What ct_compare and ct_compare_bounds share: err/bound for every element (NaN anywhere: infinite), the
 * worst of them and how many exceed 1. The bound is bound[i], or abs_tol + rel_tol * |want[i]| where bound is
 * NULL. Prints the worst under CT_VERBOSE. */
typedef struct {
    size_t worst;
    double worst_ratio;
    int bad;
} ct_errors;

static inline ct_errors ct_measure(const char *what, const float *got, const float *want, size_t n,
                                   const double *bound, double abs_tol, double rel_tol)
{
    ct_errors e = {0, -1.0, 0};
    for (size_t i = 0; i < n; i++) {
        double err = fabs((double)got[i] - (double)want[i]);
        double b = bound ? bound[i] : abs_tol + rel_tol * fabs((double)want[i]);
        double ratio = b > 0 ? err / b : (err > 0 ? INFINITY : 0.0);
        if (err != err) /* got or want NaN (or both infinite) */
            ratio = INFINITY;
        if (ratio > e.worst_ratio) {
            e.worst_ratio = ratio;
            e.worst = i;
        }
        if (!(ratio <= 1.0))
            e.bad++;
    }
    if (n > 0 && getenv("CT_VERBOSE"))
        printf("  %s: worst err/bound %.3g at [%zu]\n", what, e.worst_ratio, e.worst);
    return e;
}

/* Checks |got[i] - want[i]| <= abs_tol + rel_tol * |want[i]| for every i (NaN anywhere fails), and prints
 * the worst element relative to its bound. Returns 1 on pass. */
static inline int ct_compare(const char *what, const float *got, const float *want, size_t n, double abs_tol,
                             double rel_tol)
{
    if (n == 0)
        return 1;
    ct_errors e = ct_measure(what, got, want, n, NULL, abs_tol, rel_tol);
    CHECK(e.bad == 0, "%s: %d of %zu elements out of tolerance; worst [%zu] got %.9g want %.9g (err/bound %.3g)", what,
          e.bad, n, e.worst, (double)got[e.worst], (double)want[e.worst], e.worst_ratio);
    return e.bad == 0;
}

/* Per-element bounds: |got[i] - want[i]| <= bound[i] (caller-computed, e.g. from sum |w*x|). */
static inline int ct_compare_bounds(const char *what, const float *got, const float *want, const double *bound,
                                    size_t n)
{
    if (n == 0)
        return 1;
    ct_errors e = ct_measure(what, got, want, n, bound, 0.0, 0.0);
    CHECK(e.bad == 0, "%s: %d of %zu elements out of tolerance; worst [%zu] got %.9g want %.9g bound %.3g", what,
          e.bad, n, e.worst, (double)got[e.worst], (double)want[e.worst], bound[e.worst]);
    return e.bad == 0;
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
