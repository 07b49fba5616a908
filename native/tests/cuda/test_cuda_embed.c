/* test_cuda_embed.c — mst_cuda_embed on the emulator: for every upload type (F32, F16, BF16, Q8_0, Q4_0, Q4_K,
 * Q6_K) and for a Q5_K table converted to F16 at upload, the rows of the tokens (repeats, first and last row,
 * a table at an odd device address for the block types) must equal mst_dequantize_ref of the uploaded rows BIT
 * FOR BIT (tolerance 0: embed.cu evaluates the reference's float expression per value). A token outside the
 * table gives a NaN row; a type that is not an upload type is refused. */
#include "cuda_test_util.h"
#include "quant_fill.h"

static void run(mst_dev *d, uint64_t *seed, int32_t type, uint32_t cols, uint32_t offset)
{
    const uint32_t rows = 7;
    static const int32_t tokens[] = {3, 0, 6, 3, 1};
    const uint32_t n = sizeof tokens / sizeof tokens[0];
    uint64_t rb = 0;
    mst_type_bytes(type, cols, &rb);
    uint8_t *w = (uint8_t *)xmalloc(rb * rows);
    qf_fill(seed, type, w, rows, cols, rb);
    const uint64_t up_rb = mst_cuda_upload_row_bytes(type, cols);
    uint8_t *up = (uint8_t *)xmalloc(up_rb * rows);
    ct_ok(mst_cuda_convert_for_upload(type, w, rb, rows, cols, up), "mst_cuda_convert_for_upload");
    mst_dptr base = ct_alloc(d, up_rb * rows + offset);
    ct_ok(mst_dev_upload(d, base + offset, up, up_rb * rows), "mst_dev_upload");
    const mst_cuda_weight table = {mst_cuda_upload_type(type), rows, cols, 0, up_rb, base + offset};
    mst_dptr dt = ct_upload(d, tokens, sizeof tokens), dx = ct_alloc(d, (size_t)n * cols * 4);
    ct_ok(mst_cuda_embed(d, &table, dt, n, dx), "mst_cuda_embed");
    float *got = (float *)xmalloc((size_t)n * cols * 4), *want = (float *)xmalloc((size_t)n * cols * 4);
    ct_download(d, got, dx, (size_t)n * cols * 4);
    for (uint32_t t = 0; t < n; t++)
        mst_dequantize_ref(table.type, up + (size_t)tokens[t] * up_rb, cols, want + (size_t)t * cols);
    int bad = 0;
    size_t first = 0;
    for (size_t i = 0; i < (size_t)n * cols; i++)
        if (memcmp(&got[i], &want[i], 4) != 0 && !bad++)
            first = i;
    CHECK(bad == 0, "%s cols=%u%s: %d values differ, first [%zu] got %.9g want %.9g", mst_type_name(type), cols,
          offset ? " at an odd address" : "", bad, first, (double)got[first], (double)want[first]);
    mst_dev_free(d, base);
    mst_dev_free(d, dt);
    mst_dev_free(d, dx);
    free(w), free(up), free(got), free(want);
}

static void bad_token(mst_dev *d)
{
    const float row[4] = {1, 2, 3, 4};
    const int32_t tokens[2] = {1, 0};
    mst_dptr dtab = ct_upload(d, row, sizeof row), dt = ct_upload(d, tokens, sizeof tokens), dx = ct_alloc(d, 8 * 4);
    const mst_cuda_weight table = {MST_TYPE_F32, 1, 4, 0, 16, dtab};
    ct_ok(mst_cuda_embed(d, &table, dt, 2, dx), "mst_cuda_embed");
    float got[8];
    ct_download(d, got, dx, sizeof got);
    for (int i = 0; i < 4; i++) {
        CHECK(got[i] != got[i], "token 1 of a 1-row table: [%d] = %g, not NaN", i, (double)got[i]);
        CHECK(got[4 + i] == row[i], "token 0: [%d] = %g", i, (double)got[4 + i]);
    }
    const mst_cuda_weight q5 = {MST_TYPE_Q5_K, 1, 256, 0, 176, dtab};
    CHECK(mst_cuda_embed(d, &q5, dt, 2, dx) == MST_ERR_UNSUPPORTED, "a Q5_K table (not an upload type) accepted");
    mst_dev_free(d, dtab);
    mst_dev_free(d, dt);
    mst_dev_free(d, dx);
}

int main(void)
{
    mst_dev *d = ct_open();
    uint64_t seed = 11;
    run(d, &seed, MST_TYPE_F32, 300, 0);
    run(d, &seed, MST_TYPE_F16, 300, 0);
    run(d, &seed, MST_TYPE_BF16, 300, 0);
    run(d, &seed, MST_TYPE_Q8_0, 96, 0);
    run(d, &seed, MST_TYPE_Q8_0, 96, 1);
    run(d, &seed, MST_TYPE_Q4_0, 96, 0);
    run(d, &seed, MST_TYPE_Q4_0, 96, 3);
    run(d, &seed, MST_TYPE_Q4_K, 512, 0);
    run(d, &seed, MST_TYPE_Q4_K, 512, 1);
    run(d, &seed, MST_TYPE_Q6_K, 512, 0);
    run(d, &seed, MST_TYPE_Q6_K, 512, 1);
    run(d, &seed, MST_TYPE_Q5_K, 512, 0);
    bad_token(d);
    mst_dev_close(d);
    return ct_finish("test_cuda_embed");
}
