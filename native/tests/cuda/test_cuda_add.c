/* test_cuda_add.c — mst_cuda_add on the emulator against x[i] + y[i] on the CPU.
 * Tolerance: none. Each element is one float addition on both sides, so the result must match bit for bit.
 * Sizes: 1, 33, 257, 4095 (not multiples of the block) and 2^20 + 33 (past the grid's 4096 blocks of 256
 * threads, so the grid-stride loop takes a second step). */
#include "cuda_test_util.h"

static void run(mst_dev *d, uint64_t *seed, size_t n)
{
    float *x = ct_random(seed, n, -10, 10), *y = ct_random(seed, n, -10, 10);
    float *want = xmalloc(n * sizeof *want), *got = xmalloc(n * sizeof *got);
    for (size_t i = 0; i < n; i++)
        want[i] = x[i] + y[i];
    mst_dptr dx = ct_upload(d, x, n * 4), dy = ct_upload(d, y, n * 4);
    ct_ok(mst_cuda_add(d, dx, dy, n), "mst_cuda_add");
    ct_download(d, got, dx, n * 4);
    char what[64];
    snprintf(what, sizeof what, "add n=%zu", n);
    ct_compare(what, got, want, n, 0.0, 0.0);
    /* y is read-only */
    ct_download(d, got, dy, n * 4);
    snprintf(what, sizeof what, "add n=%zu (y unchanged)", n);
    ct_compare(what, got, y, n, 0.0, 0.0);
    mst_dev_free(d, dx);
    mst_dev_free(d, dy);
    free(x);
    free(y);
    free(want);
    free(got);
}

int main(void)
{
    mst_dev *d = ct_open();
    uint64_t seed = 11;
    static const size_t ns[] = {1, 33, 257, 4095, (1u << 20) + 33};
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++)
        run(d, &seed, ns[i]);
    ct_ok(mst_cuda_add(d, 0, 0, 0), "mst_cuda_add n=0"); /* nothing to do, nothing touched */
    mst_dev_close(d);
    return ct_finish("test_cuda_add");
}
