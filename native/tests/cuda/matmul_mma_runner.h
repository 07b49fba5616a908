/* matmul_mma_runner.h — the body of the tensor-core GEMM tests (test_cuda_matmul_mma_<type>.c): for one weight
 * type (Q4_0, Q8_0, Q4_K, Q6_K, BF16), random weights (quant_fill.h) times random activations rounded on the
 * device, run through
 *   the tensor-core GEMM  (mst_cuda_mma_<type>, matmul_mma_*.cu),
 *   the dp4a GEMM it replaces (mst_cuda_mm_<type>, which picks its GEMM above MST_CUDA_GEMV_MAX_TOKENS tokens),
 *   mst_cuda_matmul itself (the dispatch: it must give the tensor-core result, unless MISTRAL_CUDA_MMA=0),
 * against the CPU backend's arithmetic for the type (matmul_runner.h's mr_reference).
 *
 * What is asserted, per output:
 *   - |y_mma - y_cpu| <= (N + 2) 2^-23 S (matmul_runner.h: both sides compute the same exact integer per block
 *     and the same float term from it; only the order of the N float additions may differ, and on a GPU the
 *     device compiler may fuse a multiply-add). One integer off by one in one block moves y by about S / cols,
 *     far above that bound, so this also checks the integer parts are exact.
 *   - on the emulator, y_mma == y_cpu and y_mma == y_old bit for bit: the host pass is compiled with
 *     -ffp-contract=off and every path adds the CPU's per-block terms in the CPU's (block) order, so any
 *     difference is a wrong term, not rounding. On a GPU (the gpu_ twin) the two GEMMs may fuse differently:
 *     |y_mma - y_old| <= 2 (N + 2) 2^-23 S, the sum of their two bounds against the CPU.
 *   - an activation block holding +Inf makes every output of that token NaN (the quantizer's NaN scale), as on
 *     the CPU, and leaves the other tokens as they were.
 *   - BF16 (no integers): the tensor core's f32 accumulation bound of mm_bf16_bounds, against the CPU and the
 *     old float GEMM.
 * Shapes: rows 1, 15, 17, 100, 257 (one 64-row tile, partial tiles, several tiles) x tokens 9, 33, 65, 130
 * (partial and several 64-token tiles) x cols 256, 512, 768 (2, 4, 6 stages of 128 columns), taken as a
 * diagonal walk so that every value of each list occurs, plus the block types' 96 columns (a partial stage)
 * and a matrix at an odd device address (BF16: cols 5, 300, 768; rows at their 2-byte alignment). Each case is
 * small enough that a program runs in seconds on the emulator. */
#ifndef MST_TEST_MATMUL_MMA_RUNNER_H
#define MST_TEST_MATMUL_MMA_RUNNER_H

/* matmul_runner.h's suite functions are not used here, only its reference and upload helpers */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "matmul_runner.h"
#pragma GCC diagnostic pop
#include "matmul_parts.h"

typedef mst_status (*mm_fn)(mst_dev *, const mst_cuda_weight *, const mst_cuda_qact *, mst_dptr);

static void mm_fns(int32_t type, mm_fn *mma, mm_fn *old)
{
    switch (type) {
    case MST_TYPE_Q8_0: *mma = mst_cuda_mma_q8_0, *old = mst_cuda_mm_q8_0; break;
    case MST_TYPE_Q4_0: *mma = mst_cuda_mma_q4_0, *old = mst_cuda_mm_q4_0; break;
    case MST_TYPE_Q4_K: *mma = mst_cuda_mma_q4_k, *old = mst_cuda_mm_q4_k; break;
    case MST_TYPE_Q6_K: *mma = mst_cuda_mma_q6_k, *old = mst_cuda_mm_q6_k; break;
    default: *mma = mst_cuda_mma_bf16, *old = mst_cuda_mm_bf16; break;
    }
}

static float *mm_run(mst_dev *d, mm_fn fn, const mst_cuda_weight *cw, const mst_cuda_qact *a, uint32_t n)
{
    const size_t count = (size_t)n * cw->rows;
    mst_dptr dy = ct_alloc(d, count * 4);
    ct_ok(mst_dev_memset32(d, dy, 0x7fbadbadu, count), "mst_dev_memset32"); /* a NaN where nothing is stored */
    ct_ok(fn(d, cw, a, dy), "the GEMM");
    float *y = (float *)xmalloc(count * 4);
    ct_download(d, y, dy, count * 4);
    mst_dev_free(d, dy);
    return y;
}

/* Elements where got and want differ in their bits: how many, printing the first. */
static int mm_bitwise(const char *what, const float *got, const float *want, size_t n)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++)
        if (memcmp(&got[i], &want[i], 4) != 0 && bad++ == 0)
            printf("  %s: first difference at [%zu]: %.9g vs %.9g\n", what, i, (double)got[i], (double)want[i]);
    return bad;
}

/* BF16 on tensor cores: every product of two bf16 is exact in float; one mma adds 16 of them to its f32
 * accumulator. Assuming only that the tensor core aligns its 17 terms to the largest and truncates (so the sum is
 * within 17 units of 2^-23 of the largest term, hence of Σ of their magnitudes <= S), ceil(cols / 16) mma give
 *   |y - y_exact| <= 17 ceil(cols / 16) 2^-23 S, and the CPU reference is within 2^-24 S of y_exact:
 *   tol = (17 ceil(cols / 16) + 1) 2^-23 S; against the old GEMM, that plus its (cols + 7) 2^-24 S.
 * S comes from matmul_runner.h's float bound, ref_tol = (cols + 7) 2^-24 S. The emulator's mma is exact then
 * rounds once, far inside this. One wrong product moves y by about S / cols, above the bound for these cols. */
static void mm_bf16_bounds(const double *ref_tol, size_t n, uint32_t cols, double **tol, double **tol_old)
{
    *tol = (double *)xmalloc(n * 8);
    *tol_old = (double *)xmalloc(n * 8);
    const double steps = (cols + 15) / 16;
    for (size_t i = 0; i < n; i++) {
        const double S = ref_tol[i] / ((cols + 7) * 0x1p-24);
        (*tol)[i] = (17.0 * steps + 1.0) * 0x1p-23 * S;
        (*tol_old)[i] = (*tol)[i] + ref_tol[i];
    }
}

/* nan_token >= 0: x of that token gets an +Inf in its first block; its outputs must all be NaN and are left out
 * of the other comparisons. */
static void mm_case(mst_dev *d, uint64_t *seed, int32_t type, uint32_t rows, uint32_t cols, uint32_t n, uint32_t offset,
                    int nan_token)
{
    uint64_t rb64 = 0;
    mst_type_bytes(type, cols, &rb64);
    const size_t rb = (size_t)rb64, count = (size_t)n * rows;
    uint8_t *w = (uint8_t *)xmalloc(rb * rows);
    qf_fill(seed, type, w, rows, cols, rb);
    float *x = mr_activations(seed, cols, n);
    mst_cuda_weight cw;
    mst_dptr wbase;
    uint8_t *up = mr_upload(d, type, w, rb, rows, cols, offset, &cw, &wbase);
    if (nan_token >= 0) /* the reference first, on finite x: the token's expected values are "all NaN" */
        x[(size_t)nan_token * cols + 7] = INFINITY;
    float *xr = (float *)xmalloc((size_t)n * cols * 4);
    memcpy(xr, x, (size_t)n * cols * 4);
    if (nan_token >= 0)
        xr[(size_t)nan_token * cols + 7] = 0.0f;
    mr_ref ref = mr_reference(type, w, rb, up, cw.row_bytes, rows, cols, xr, n);

    mst_dptr dx = ct_upload(d, x, (size_t)n * cols * 4), scratch = ct_alloc(d, mst_cuda_matmul_scratch_bytes(cols, n));
    const mst_cuda_qact a = mst_cuda_qact_at(scratch, cols, n);
    const int is_int = mr_is_int(type);
    mst_status st;
    if (!is_int)
        st = mst_cuda_round_bf16(d, dx, &a);
    else if (mst_qact_format_of(type) == MST_QACT_Q8_K)
        st = mst_cuda_quantize_q8_k(d, dx, &a);
    else
        st = mst_cuda_quantize_q8_0(d, dx, &a);
    ct_ok(st, "round the activations");
    mm_fn fmma, fold;
    mm_fns(type, &fmma, &fold);
    float *ym = mm_run(d, fmma, &cw, &a, n), *yo = mm_run(d, fold, &cw, &a, n);

    char what[160];
    snprintf(what, sizeof what, "%s rows=%u cols=%u n_tokens=%u%s%s", mst_type_name(type), rows, cols, n,
             offset ? " at an odd address" : "", nan_token >= 0 ? " with an Inf" : "");
    if (nan_token >= 0) {
        int finite = 0;
        for (uint32_t r = 0; r < rows; r++) {
            const size_t i = (size_t)nan_token * rows + r;
            finite += !isnan(ym[i]);
            ym[i] = yo[i] = ref.y[i] = 0.0f; /* out of the comparisons below */
            ref.tol[i] = 0.0;
        }
        CHECK(finite == 0, "%s: %d outputs of the token with an Inf are not NaN", what, finite);
    }
    /* BF16: the bound of the tensor core's accumulation (mm_bf16_bounds), against the CPU and, with the float
     * GEMM's own bound added, against the old GEMM */
    double *tol = ref.tol, *tol_old = NULL;
    if (!is_int)
        mm_bf16_bounds(ref.tol, count, cols, &tol, &tol_old);
    ct_compare_bounds(what, ym, ref.y, tol, count);
    if (!is_int) {
        ct_compare_bounds(what, ym, yo, tol_old, count);
    } else if (!ct_on_driver()) {
        int bad = mm_bitwise("tensor-core vs CPU", ym, ref.y, count);
        CHECK(bad == 0, "%s: %d outputs differ from the CPU's in their bits on the emulator", what, bad);
        bad = mm_bitwise("tensor-core vs dp4a GEMM", ym, yo, count);
        CHECK(bad == 0, "%s: %d outputs differ from the dp4a GEMM's in their bits on the emulator", what, bad);
    } else {
        double *tol2 = (double *)xmalloc(count * 8);
        for (size_t i = 0; i < count; i++)
            tol2[i] = 2.0 * ref.tol[i];
        ct_compare_bounds(what, ym, yo, tol2, count);
        free(tol2);
    }

    /* the dispatch: mst_cuda_matmul on the same x must be the tensor-core GEMM, bit for bit */
    if (mst_cuda_mma_enabled() && nan_token < 0) {
        mst_dptr dy = ct_alloc(d, count * 4);
        ct_ok(mst_cuda_matmul(d, &cw, dx, n, dy, scratch, 0), "mst_cuda_matmul");
        float *yd = (float *)xmalloc(count * 4);
        ct_download(d, yd, dy, count * 4);
        const int bad = mm_bitwise("mst_cuda_matmul vs tensor-core", yd, ym, count);
        CHECK(bad == 0, "%s: mst_cuda_matmul differs from the tensor-core GEMM in %d outputs", what, bad);
        mst_dev_free(d, dy);
        free(yd);
    }
    mst_dev_free(d, dx);
    mst_dev_free(d, scratch);
    mst_dev_free(d, wbase);
    if (!is_int)
        free(tol), free(tol_old);
    free(w), free(up), free(x), free(xr), free(ym), free(yo), free(ref.y), free(ref.tol);
}

static int mm_suite(int32_t type, const char *name)
{
    mst_dev *d = ct_open();
    uint64_t seed = 0x6d6d61u + (uint64_t)type;
    static const uint32_t rows_l[] = {1, 15, 17, 100, 257}, n_l[] = {9, 33, 65, 130};
    /* BF16 takes any column count: 5 (less than one mma step), 300 (4 stages of 64 and 44 more) */
    static const uint32_t cols_q[] = {256, 512, 768}, cols_bf16[] = {5, 300, 768};
    const int is_int = mr_is_int(type);
    const uint32_t *cols_l = is_int ? cols_q : cols_bf16;
    /* the walk: case i takes rows_l[i % 5], n_l[(i / 5 + i % 5) % 4], cols_l[i % 3]: 20 cases, every pair of
     * a row count and a token count once */
    for (uint32_t i = 0; i < 20; i++)
        mm_case(d, &seed, type, rows_l[i % 5], cols_l[i % 3], n_l[(i / 5 + i % 5) % 4], 0, -1);
    if (mst_type_block_size(type) == 32) /* 3 blocks: a stage of 4 with one block past the end */
        mm_case(d, &seed, type, 33, 96, 40, 0, -1);
    mm_case(d, &seed, type, 70, 512, 70, is_int ? 3 : 0, -1); /* int types: weights at an odd address */
    if (is_int) /* (BF16 has no NaN rule to check: an Inf activation gives +-Inf or NaN by the signs) */
        mm_case(d, &seed, type, 65, 256, 20, 0, 13); /* a token with an Inf */
    if (!mst_cuda_mma_enabled())
        printf("note: MISTRAL_CUDA_MMA=0: mst_cuda_matmul runs the dp4a GEMMs; its dispatch check was skipped\n");
    mst_dev_close(d);
    return ct_finish(name);
}

#endif
