/* test_cuda_rows.c — mst_cuda_gather_rows and mst_cuda_scatter_add_rows on the emulator against plain CPU
 * loops.
 *
 * Gather: a copy, must match bit for bit. Scatter-add: dst[rows[j]] += w[j] * src[j] is one product and one
 * sum, or one fma where the device fuses them: at most u |w src| + u |dst + w src| from the exact value
 * (u = 2^-24), and the reference (double, rounded once) at most u |dst + w src|; so
 * |got - ref| <= 3u (|dst| + |w src|), checked as 2^-22 (|dst| + |w src|). Rows not in the list must be
 * untouched (bit for bit).
 * Cases: widths 1, 257, 300 (not multiples of the 256-thread block), g = 1, 5, 33 rows, row lists in scrambled
 * order, out of a table of 40 rows. */
#include "cuda_test_util.h"

static void run(mst_dev *d, uint64_t *seed, uint32_t g, uint32_t width)
{
    const uint32_t table = 40;
    const size_t tw = (size_t)table * width, gw = (size_t)g * width;
    float *src = ct_random(seed, tw, -5, 5), *part = ct_random(seed, gw, -5, 5), *dst = ct_random(seed, tw, -5, 5);
    float *w = ct_random(seed, g, 0, 1);
    int32_t *rows = xmalloc(g * sizeof *rows);
    /* distinct rows in a scrambled order: a random permutation of the table, first g of it */
    int32_t perm[40];
    for (int i = 0; i < 40; i++)
        perm[i] = i;
    for (int i = 39; i > 0; i--) {
        int j = (int)(rng_next(seed) % (uint64_t)(i + 1)), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    for (uint32_t j = 0; j < g; j++)
        rows[j] = perm[j];

    /* gather */
    float *want = xmalloc(tw * 4), *got = xmalloc(tw * 4);
    for (uint32_t j = 0; j < g; j++)
        memcpy(want + (size_t)j * width, src + (size_t)rows[j] * width, width * 4);
    mst_dptr dsrc = ct_upload(d, src, tw * 4), drows = ct_upload(d, rows, g * 4), dout = ct_alloc(d, gw * 4);
    ct_ok(mst_cuda_gather_rows(d, dout, dsrc, drows, g, width), "mst_cuda_gather_rows");
    ct_download(d, got, dout, gw * 4);
    char what[96];
    snprintf(what, sizeof what, "gather g=%u width=%u", g, width);
    ct_compare(what, got, want, gw, 0.0, 0.0);

    /* scatter-add */
    double *bound = xmalloc(tw * sizeof *bound);
    for (size_t i = 0; i < tw; i++) {
        want[i] = dst[i];
        bound[i] = 0.0; /* untouched rows: exact */
    }
    for (uint32_t j = 0; j < g; j++)
        for (uint32_t c = 0; c < width; c++) {
            const size_t o = (size_t)rows[j] * width + c;
            const double p = (double)w[j] * (double)part[(size_t)j * width + c];
            want[o] = (float)((double)dst[o] + p);
            bound[o] = 0x1p-22 * (fabs((double)dst[o]) + fabs(p));
        }
    mst_dptr ddst = ct_upload(d, dst, tw * 4), dpart = ct_upload(d, part, gw * 4), dw = ct_upload(d, w, g * 4);
    ct_ok(mst_cuda_scatter_add_rows(d, ddst, dpart, drows, dw, g, width), "mst_cuda_scatter_add_rows");
    ct_download(d, got, ddst, tw * 4);
    snprintf(what, sizeof what, "scatter_add g=%u width=%u", g, width);
    ct_compare_bounds(what, got, want, bound, tw);

    mst_dev_free(d, dsrc);
    mst_dev_free(d, drows);
    mst_dev_free(d, dout);
    mst_dev_free(d, ddst);
    mst_dev_free(d, dpart);
    mst_dev_free(d, dw);
    free(src);
    free(part);
    free(dst);
    free(w);
    free(rows);
    free(want);
    free(got);
    free(bound);
}

int main(void)
{
    mst_dev *d = ct_open();
    uint64_t seed = 17;
    run(d, &seed, 1, 1);
    run(d, &seed, 5, 257);
    run(d, &seed, 33, 300);
    run(d, &seed, 40, 33);
    ct_ok(mst_cuda_gather_rows(d, 0, 0, 0, 0, 8), "gather of no rows");
    ct_ok(mst_cuda_scatter_add_rows(d, 0, 0, 0, 0, 0, 8), "scatter of no rows");
    mst_dev_close(d);
    return ct_finish("test_cuda_rows");
}
