/* test_matmul_x16.c — F16 and BF16 matrices repacked 16 rows at a time (repack.h) with their kernels
 * (matmul_x16_avx512.c, matmul_x16_avx2.c), where this CPU has them, against the double-accumulating reference on the
 * matrix as the file holds it.
 *
 * Bound: |y - y_ref| <= (K + ceil(cols/K) + 1) · 2^-24 · 1.01 · Σ_c |w_rc · x_c|, K = min(MST_X16_FLUSH, cols).
 * Why: F16/BF16 weights convert to float exactly and an FMA rounds once, so a lane's result is K-term
 * partial sums (at most K roundings each) added into a running sum (ceil(cols/K) more), each rounding at
 * most 2^-24 times a partial sum no bigger than Σ|w·x| (first order; the 1.01 covers the higher-order
 * terms, under 1e-4 relative here); the +1 is the reference's own rounding to float. This is a worst
 * case, not a statistical guess: 14336 columns give 1.44e-5 relative, 32 columns 2.0e-6. A kernel that
 * drops or repeats a column, or reads another row, fails it by orders of magnitude.
 * Also: a run split at 16-row boundaries (as the thread pool splits it) is bit-identical to the whole
 * run; each token alone (the decode path) gives its row of the batch bit for bit; un-interleaving the
 * repacked matrix gives back the original bytes; and where both exist, the AVX2 kernels equal the AVX-512
 * ones bit for bit (then that replaces their own reference check). */
#include "test_util.h"
#include "cpu/ops.h"
#include "cpu/quant.h"
#include "cpu/repack.h"

/* Element (r, c) of the repacked matrix, read as the layout in repack.h describes it. */
static uint16_t x16_at(const uint8_t *wr, uint32_t cols, uint32_t r, uint32_t c)
{
    uint16_t v;
    memcpy(&v, wr + ((size_t)(r / 16) * 16 * cols + (size_t)c * 16 + r % 16) * 2, 2);
    return v;
}

static void check_case(const mst_cpu_kernels *k, int32_t type, uint32_t rows, uint32_t cols, uint32_t n_tokens,
                       uint64_t seed)
{
    mst_matmul_fn fn = type == MST_TYPE_F16 ? k->matmul_f16x16 : k->matmul_bf16x16;
    uint64_t s = seed;
    size_t bytes;
    uint8_t *w = make_weights(&s, type, rows, cols, 1.0f, &bytes);
    const size_t row_bytes = bytes / rows, ny = (size_t)n_tokens * rows;
    uint8_t *wr = xmalloc(bytes);
    mst_repack_x16_16bit(w, row_bytes, rows, wr);
    int mismatched = 0;
    for (uint32_t r = 0; r < rows && !mismatched; r++)
        for (uint32_t c = 0; c < cols && !mismatched; c++) {
            uint16_t v;
            memcpy(&v, w + (size_t)r * row_bytes + 2 * (size_t)c, 2);
            mismatched = v != x16_at(wr, cols, r, c);
        }
    CHECK(!mismatched, "%s x16 rows=%u cols=%u: un-interleaving does not give the original", mst_type_name(type), rows,
          cols);

    float *x = xmalloc((size_t)n_tokens * cols * 4);
    fill_uniform(&s, x, (size_t)n_tokens * cols, -1.0f, 1.0f);
    float *y_ref = xmalloc(ny * 4), *y = xmalloc(ny * 4), *y_split = xmalloc(ny * 4), *y1 = xmalloc((size_t)rows * 4);
    fn(wr, row_bytes, rows, cols, x, n_tokens, y, 0, rows);
    /* three pieces cut at 16-row boundaries, as the pool cuts repacked matrices */
    const uint32_t cut1 = rows / 48 * 16, cut2 = rows - rows / 64 * 16;
    fn(wr, row_bytes, rows, cols, x, n_tokens, y_split, 0, cut1);
    fn(wr, row_bytes, rows, cols, x, n_tokens, y_split, cut1, cut2);
    fn(wr, row_bytes, rows, cols, x, n_tokens, y_split, cut2, rows);

    const mst_cpu_kernels *k512 = mst_cpu_avx512();
    if (k512 && k512 != k && k512->matmul_f16x16) {
        /* the AVX2 kernels do the same operations per lane in the same order as the AVX-512 ones, which
         * their own pass checks against the reference: equal bit for bit is the stronger check, and
         * half the test's time cheaper than the double reference again */
        (type == MST_TYPE_F16 ? k512->matmul_f16x16 : k512->matmul_bf16x16)(wr, row_bytes, rows, cols, x, n_tokens,
                                                                          y_ref, 0, rows);
        CHECK(memcmp(y, y_ref, ny * 4) == 0, "%s x16 rows=%u cols=%u tokens=%u: %s and avx512 differ",
              mst_type_name(type), rows, cols, n_tokens, k->name);
        CHECK(memcmp(y, y_split, ny * 4) == 0, "%s x16 rows=%u cols=%u tokens=%u: %s split run differs",
              mst_type_name(type), rows, cols, n_tokens, k->name);
    } else {
        float *wf = xmalloc((size_t)rows * cols * 4);
        mst_dequantize_ref(type, w, (uint64_t)rows * cols, wf);
        mst_matmul_ref(type, w, row_bytes, rows, cols, x, n_tokens, y_ref, 0, rows);
        const uint32_t kk = cols < MST_X16_FLUSH ? cols : MST_X16_FLUSH;
        const double tol = (kk + (cols + MST_X16_FLUSH - 1) / MST_X16_FLUSH + 1) * 0x1p-24 * 1.01;
        check_matmul_result(k->name, type == MST_TYPE_F16 ? "F16x16" : "BF16x16", wf, x, y, y_ref, y_split, rows,
                            cols, n_tokens, tol, 1e-30);
        free(wf);
    }

    /* one token takes the decode path (4 streams of groups), several the tiled one with 8, 4 or 1 tokens at
     * once: every token alone must give its row of the batch bit for bit, so a prompt and its replay agree */
    for (uint32_t t = 0; t < n_tokens && n_tokens > 1; t++) {
        fn(wr, row_bytes, rows, cols, x + (size_t)t * cols, 1, y1, 0, rows);
        if (memcmp(y1, y + (size_t)t * rows, (size_t)rows * 4) != 0) {
            CHECK(0, "%s x16 rows=%u cols=%u tokens=%u: token %u alone differs from its row of the batch",
                  mst_type_name(type), rows, cols, n_tokens, t);
            break;
        }
    }
    free(w), free(wr), free(x), free(y_ref), free(y), free(y_split), free(y1);
}

static void run_variant(const mst_cpu_kernels *k)
{
    if (!k || !k->matmul_f16x16 || !k->matmul_bf16x16) {
        printf("%s: no x16 F16/BF16 kernels, skipped\n", k ? k->name : "(not supported here)");
        return;
    }
    static const int32_t types[] = {MST_TYPE_F16, MST_TYPE_BF16};
    static const uint32_t rows_small[] = {16, 48, 80};     /* 1, 3 and 5 groups: odd pairs, 4 streams + 1 */
    static const uint32_t cols_small[] = {32, 96, 4096};   /* under, not a multiple of, and 32 × FLUSH */
    static const uint32_t tokens_list[] = {1, 5, 8, 13, 16}; /* blocks of 8/4/1 (AVX2: 6/3/1) and their mixes */
    uint64_t seed = 1;
    int before = g_failures;
    for (size_t ti = 0; ti < 2; ti++) {
        for (size_t ri = 0; ri < sizeof rows_small / 4; ri++)
            for (size_t ci = 0; ci < sizeof cols_small / 4; ci++)
                for (size_t ni = 0; ni < sizeof tokens_list / 4; ni++)
                    check_case(k, types[ti], rows_small[ri], cols_small[ci], tokens_list[ni], seed++);
        /* the large shapes, work capped (the test also runs under valgrind and ASan): several L2 tiles of
         * groups (about 256 KB: 2 groups at 4096 columns, the 2-group minimum at 14336 (AVX2: 1)), 4 decode
         * streams over 16 and 64 groups, 14336-wide rows */
        check_case(k, types[ti], 256, 4096, 5, seed++);
        check_case(k, types[ti], 1024, 4096, 1, seed++);
        check_case(k, types[ti], 80, 14336, 13, seed++);
        check_case(k, types[ti], 256, 14336, 1, seed++);
    }
    printf("%s: %s\n", k->name, g_failures == before ? "ok" : "FAILED");
}

int main(void)
{
    printf("best kernels on this CPU: %s\n", mst_cpu_best()->name);
    run_variant(mst_cpu_avx2());
    run_variant(mst_cpu_avx512());
    return finish("kernel_matmul_x16");
}
