/* test_matmul.c — every SIMD matmul variant against the double-accumulating reference.
 *
 * Tolerance: |y - y_ref| <= 1e-5 * sum_c |w_rc * x_c| + 1e-30 per output. The bound scales with
 * the magnitude of the terms, so it is not fooled by sums that cancel; float accumulation of a
 * few thousand terms stays well inside it. Also checks that a run split into row ranges (as the
 * thread pool splits it) gives bit-identical rows. */
#include "test_util.h"
#include "cpu/ops.h"
#include "cpu/quant.h"

static const double TOL = 1e-5;

static void check_case(const mst_cpu_kernels *k, int32_t type, uint32_t rows, uint32_t cols, uint32_t n_tokens,
                       uint64_t seed)
{
    uint64_t s = seed;
    size_t bytes;
    uint8_t *w = make_weights(&s, type, rows, cols, 1.0f, &bytes);
    float *x = xmalloc((size_t)n_tokens * cols * 4);
    fill_uniform(&s, x, (size_t)n_tokens * cols, -1.0f, 1.0f);
    float *y = xmalloc((size_t)n_tokens * rows * 4), *y_ref = xmalloc((size_t)n_tokens * rows * 4);
    float *y_split = xmalloc((size_t)n_tokens * rows * 4);
    float *wf = xmalloc((size_t)rows * cols * 4);
    mst_dequantize_ref(type, w, (uint64_t)rows * cols, wf);
    const size_t row_bytes = bytes / rows;

    mst_matmul_ref(type, w, row_bytes, rows, cols, x, n_tokens, y_ref, 0, rows);
    mst_kernels_matmul(k, type)(w, row_bytes, rows, cols, x, n_tokens, y, 0, rows);
    uint32_t cut1 = rows / 3, cut2 = rows - rows / 4;
    mst_matmul_fn fn = mst_kernels_matmul(k, type);
    fn(w, row_bytes, rows, cols, x, n_tokens, y_split, 0, cut1);
    fn(w, row_bytes, rows, cols, x, n_tokens, y_split, cut1, cut2);
    fn(w, row_bytes, rows, cols, x, n_tokens, y_split, cut2, rows);

    check_matmul_result(k->name, mst_type_name(type), wf, x, y, y_ref, y_split, rows, cols, n_tokens, TOL, 1e-30);
    free(w);
    free(x);
    free(y);
    free(y_ref);
    free(y_split);
    free(wf);
}

static void run_variant(const mst_cpu_kernels *k)
{
    static const int32_t float_types[] = {MST_TYPE_F32, MST_TYPE_F16, MST_TYPE_BF16};
    static const int32_t quant_types[] = {MST_TYPE_Q8_0, MST_TYPE_Q4_0};
    static const uint32_t float_cols[] = {1, 7, 8, 15, 16, 17, 33, 100};
    static const uint32_t quant_cols[] = {32, 64, 96, 160};
    static const uint32_t rows_list[] = {1, 3, 17};
    static const uint32_t tokens_list[] = {1, 4, 5};
    uint64_t seed = 1;
    int before = g_failures;
    for (size_t ti = 0; ti < 3; ti++)
        for (size_t ci = 0; ci < sizeof float_cols / 4; ci++)
            for (size_t ri = 0; ri < 3; ri++)
                for (size_t ni = 0; ni < 3; ni++)
                    check_case(k, float_types[ti], rows_list[ri], float_cols[ci], tokens_list[ni], seed++);
    for (size_t ti = 0; ti < 2; ti++)
        for (size_t ci = 0; ci < sizeof quant_cols / 4; ci++)
            for (size_t ri = 0; ri < 3; ri++)
                for (size_t ni = 0; ni < 3; ni++)
                    check_case(k, quant_types[ti], rows_list[ri], quant_cols[ci], tokens_list[ni], seed++);
    /* big enough for several row tiles and token groups of 4 plus a remainder */
    check_case(k, MST_TYPE_F32, 300, 1024, 9, seed++);
    check_case(k, MST_TYPE_Q4_0, 300, 4096, 9, seed++);
    check_case(k, MST_TYPE_Q8_0, 130, 4096, 2, seed++);
    check_case(k, MST_TYPE_F16, 70, 4100, 5, seed++);
    printf("%s: %s\n", k->name, g_failures == before ? "ok" : "FAILED");
}

static void test_abi_entry(void)
{
    /* BEST and REFERENCE through the ABI, and its argument checks */
    uint64_t s = 99;
    size_t bytes;
    uint8_t *w = make_weights(&s, MST_TYPE_Q4_0, 5, 64, 1.0f, &bytes);
    float x[2 * 64], y[2 * 5], yr[2 * 5];
    fill_uniform(&s, x, 128, -1, 1);
    CHECK(mst_kernel_matmul(MST_IMPL_BEST, MST_TYPE_Q4_0, w, bytes, 5, 64, x, 2, y) == MST_OK, "BEST: %s", mst_last_error());
    CHECK(mst_kernel_matmul(MST_IMPL_REFERENCE, MST_TYPE_Q4_0, w, bytes, 5, 64, x, 2, yr) == MST_OK, "REF: %s",
          mst_last_error());
    /* BEST quantizes x to Q8_0 blocks (exactness is checked in test_matmul_qa.c); against the float
     * REFERENCE that is a ~1e-2 relative approximation, so 5e-2 here */
    CHECK(max_abs_diff(y, yr, 10) <= 5e-2 * (max_abs(yr, 10) + 1), "BEST vs REFERENCE through the ABI");
    CHECK(mst_kernel_matmul(MST_IMPL_BEST, MST_TYPE_Q4_0, w, bytes - 1, 5, 64, x, 2, y) == MST_ERR_INVALID_ARGUMENT,
          "w_bytes one short");
    CHECK(mst_kernel_matmul(MST_IMPL_BEST, MST_TYPE_Q4_0, w, bytes, 5, 48, x, 2, y) == MST_ERR_INVALID_ARGUMENT,
          "cols not a multiple of 32");
    CHECK(mst_kernel_matmul(MST_IMPL_BEST, MST_TYPE_Q4_0, w, bytes, 5, 64, x, 0, y) == MST_ERR_INVALID_ARGUMENT,
          "n_tokens 0");
    CHECK(mst_kernel_matmul(7, MST_TYPE_Q4_0, w, bytes, 5, 64, x, 2, y) == MST_ERR_INVALID_ARGUMENT, "bad impl");
    CHECK(mst_kernel_matmul(MST_IMPL_BEST, 3, w, bytes, 5, 64, x, 2, y) == MST_ERR_UNSUPPORTED, "type 3 (Q4_1)");
    CHECK(mst_kernel_matmul(MST_IMPL_BEST, MST_TYPE_Q4_0, NULL, bytes, 5, 64, x, 2, y) == MST_ERR_INVALID_ARGUMENT,
          "NULL w");
    CHECK(mst_last_error()[0] != '\0', "no message");
    CHECK(mst_kernel_matmul(MST_IMPL_BEST, MST_TYPE_F32, w, UINT64_MAX, UINT32_MAX, UINT32_MAX, x, 2, y) ==
              MST_ERR_INVALID_ARGUMENT, "huge sizes");
    free(w);
}

int main(void)
{
    printf("best kernels on this CPU: %s\n", mst_cpu_best()->name);
    run_variant(mst_cpu_scalar()); /* the fallback: the reference itself, checked for split runs */
    if (mst_cpu_avx2())
        run_variant(mst_cpu_avx2());
    else
        printf("avx2: not supported here, skipped\n");
    if (mst_cpu_avx512())
        run_variant(mst_cpu_avx512());
    else
        printf("avx512: not supported here, skipped\n");
    if (mst_cpu_neon()) /* AArch64: one table runs the float kernels of all three levels */
        run_variant(mst_cpu_neon());
    test_abi_entry();
    return finish("kernel_matmul");
}
