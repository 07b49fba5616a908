/* test_cuda_matmul_mma_f16.c — the tensor-core prefill GEMM for F16 weights (matmul_mma_f16.cu: activations split
 * into hi + lo f16 terms after a per-token power-of-two scale) against the CPU backend's F16 matmul
 * (mst_matmul_ref: the floats as they are, double accumulation), the CUDA-core GEMM it replaces
 * (mst_cuda_mm_f16) and mst_cuda_matmul's dispatch.
 *
 * The bound, per output (r, t), with S = Σ_c |w_rc x_tc|, W1 = Σ_c |w_rc|, s_t the token's scale, steps =
 * ceil(cols / 16) (the kernel's comment derives each part):
 *   tol = (17 steps (1 + 2^-9) + 3) 2^-23 S + 2^-24 W1 / s_t + 2^-148
 *   17 steps (1 + 2^-9): the hi accumulator's mma steps, each within 17 2^-23 of the magnitudes it adds (the
 *     tensor core aligns and truncates; matmul_mma_bf16.cu's assumption), the hi terms up to 2^-11 above |x s|,
 *     the lo accumulator 2^-11 of the hi one;
 *   3: the split's 2^-22 S (2 units), the final hi + lo rounding and the reference's own rounding to float (half
 *     a unit each);
 *   2^-24 W1 / s_t: f16's subnormal half-step 2^-25 per value (values 2^37 below the token's largest), doubled
 *     for the mma bounds applied to those terms; 2^-148: the two roundings of a subnormal result.
 * One wrong product moves y by about S / cols, above this bound for the cols here (<= 768). Against the old
 * GEMM: tol plus its own (cols + 7) 2^-24 S (matmul_float.cuh).
 *
 * What could pass unnoticed with random data is made to show: in "coherent" cases every weight is positive and
 * every x is 1 + 2^-12 + a little, so that f16 rounds every value down by the same 2^-12: dropping the lo term
 * (or rounding x to f16 without the split) moves y by 2^-12 S, above the bound; the test computes that naive
 * result and requires it to fail the bound, so the case can tell. Activations of 1e6 and 1e30 (no f16 holds
 * them), 1e-6, 1e-30, subnormals and magnitudes spread over 12 decades in one token check the scale; a token of
 * zeros takes s = 1. The scales themselves are checked bit for bit against the rule written here again.
 *
 * Non-finite activations: the CPU's output for a token holding +-Inf or NaN is NaN or +-Inf per row (Inf w,
 * 0 * Inf, Inf - Inf); the device must give the same: NaN where the CPU has NaN, the same infinity where it has
 * one. The other tokens keep the bound.
 *
 * Every case but the coherent ones also runs mst_cuda_matmul (bit for bit the tensor-core GEMM), then (finite x) a
 * second matrix of the same width with x_is_quantized = 1, which must read the scales the first left in the
 * scratch (the bound).
 *
 * Shapes: rows 1, 15, 17, 100, 257 x tokens 9, 33, 65, 130 (partial and several 64 x 64 tiles) x cols 5 (under
 * one mma step), 48 (a stage and a half, weights by cp.async), 300 (odd row bytes: 2-byte loads), 768 (24
 * stages), as a walk of 20 cases (main()); cols 24 (half a stage, cp.async) and 64 at an odd device address
 * (2-byte loads though cols % 8 == 0).
 *
 * Run with "dispatch" as the argument (ctest cuda_matmul_mma_f16_off_runs_old_gemm sets MISTRAL_CUDA_MMA=0):
 * only the dispatch check, which then requires mst_cuda_matmul to give the old GEMM's result bit for bit. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "matmul_runner.h"
#pragma GCC diagnostic pop
#include "matmul_parts.h"

/* The scale rule of matmul_mma_f16.cu, written again from its definition: the largest finite |x| in
 * [2^e, 2^(e+1)) gives 2^(13 - e), at most 2^125; no nonzero finite value gives 1. */
static float f16_scale(const float *xt, uint32_t cols)
{
    double amax = 0.0;
    for (uint32_t c = 0; c < cols; c++)
        if (isfinite(xt[c]) && fabs((double)xt[c]) > amax)
            amax = fabs((double)xt[c]);
    if (amax == 0.0)
        return 1.0f;
    int e2;
    frexp(amax, &e2); /* amax = m 2^e2, m in [0.5, 1): e = e2 - 1 */
    const int k = 14 - e2 > 125 ? 125 : 14 - e2;
    return ldexpf(1.0f, k);
}

typedef struct {
    float *y;    /* [n][rows] the CPU's F16 matmul */
    double *tol; /* [n][rows] the bound above */
    double *old; /* [n][rows] the bound against the old GEMM */
    float *s;    /* [n] the scales */
} f16_ref;

static f16_ref f16_reference(const uint8_t *w, size_t rb, uint32_t rows, uint32_t cols, const float *x, uint32_t n)
{
    f16_ref ref = {(float *)xmalloc((size_t)n * rows * 4), (double *)xmalloc((size_t)n * rows * 8),
                   (double *)xmalloc((size_t)n * rows * 8), (float *)xmalloc((size_t)n * 4)};
    mst_matmul_ref(MST_TYPE_F16, w, rb, rows, cols, x, n, ref.y, 0, rows);
    for (uint32_t t = 0; t < n; t++)
        ref.s[t] = f16_scale(x + (size_t)t * cols, cols);
    const double steps = (cols + 15) / 16;
    for (uint32_t r = 0; r < rows; r++) {
        const uint8_t *row = w + (size_t)r * rb;
        for (uint32_t t = 0; t < n; t++) {
            double S = 0.0, W1 = 0.0;
            for (uint32_t c = 0; c < cols; c++) {
                const double wv = fabs((double)mst_fp16_to_fp32((uint16_t)(row[2 * c] | row[2 * c + 1] << 8)));
                const double xv = (double)x[(size_t)t * cols + c];
                W1 += wv;
                S += isfinite(xv) ? wv * fabs(xv) : 0.0;
            }
            const size_t i = (size_t)t * rows + r;
            ref.tol[i] = (17.0 * steps * (1.0 + 0x1p-9) + 3.0) * 0x1p-23 * S + 0x1p-24 * W1 / ref.s[t] + 0x1p-148;
            ref.old[i] = ref.tol[i] + (cols + 7) * 0x1p-24 * S;
        }
    }
    return ref;
}

static void f16_ref_free(f16_ref *ref)
{
    free(ref->y), free(ref->tol), free(ref->old), free(ref->s);
}

/* y of one GEMM path on the device: mma = 1 the tensor-core GEMM (scales first, into the scratch), else the
 * CUDA-core GEMM; NaN-filled first so that an output never written shows. */
static float *f16_run(mst_dev *d, int mma, const mst_cuda_weight *cw, mst_dptr dx, mst_dptr scratch, uint32_t n)
{
    const size_t count = (size_t)n * cw->rows;
    const mst_cuda_qact a = mst_cuda_qact_at(scratch, cw->cols, n);
    mst_dptr dy = ct_alloc(d, count * 4);
    ct_ok(mst_dev_memset32(d, dy, 0x7fbadbadu, count), "mst_dev_memset32");
    if (mma) {
        ct_ok(mst_cuda_scale_f16(d, dx, &a), "mst_cuda_scale_f16");
        ct_ok(mst_cuda_mma_f16(d, cw, dx, &a, dy), "mst_cuda_mma_f16");
    } else {
        ct_ok(mst_cuda_mm_f16(d, cw, dx, n, dy), "mst_cuda_mm_f16");
    }
    float *y = (float *)xmalloc(count * 4);
    ct_download(d, y, dy, count * 4);
    mst_dev_free(d, dy);
    return y;
}

static int f16_bitwise(const float *a, const float *b, size_t n)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++)
        bad += memcmp(&a[i], &b[i], 4) != 0;
    return bad;
}

/* Token t of x is non-finite (holds NaN or +-Inf). */
static int f16_bad_token(const float *x, uint32_t cols, uint32_t t)
{
    for (uint32_t c = 0; c < cols; c++)
        if (!isfinite(x[(size_t)t * cols + c]))
            return 1;
    return 0;
}

/* mr_upload, with the matrix `offset` bytes into an allocation whose size is a multiple of 256: the emulator's
 * buffers end against a guard page, so their host address is only as aligned as their size, and the host's
 * choice of the cp.async kernel (from the address) then agrees with the emulator's check (from the offset in
 * the buffer), as it does on a GPU, where every allocation starts 256-byte aligned. */
static uint8_t *f16_upload(mst_dev *d, const uint8_t *w, size_t rb, uint32_t rows, uint32_t cols, uint32_t offset,
                           mst_cuda_weight *cw, mst_dptr *base)
{
    if (offset == 0)
        return mr_upload(d, MST_TYPE_F16, w, rb, rows, cols, 0, cw, base);
    uint8_t *up = (uint8_t *)xmalloc(rb * rows);
    memcpy(up, w, rb * rows);
    *base = ct_alloc(d, (rb * rows + offset + 255) / 256 * 256);
    ct_ok(mst_dev_upload(d, *base + offset, up, rb * rows), "mst_dev_upload");
    cw->type = MST_TYPE_F16;
    cw->rows = rows;
    cw->cols = cols;
    cw->reserved = 0;
    cw->row_bytes = rb;
    cw->data = *base + offset;
    return up;
}

enum { F16_PLAIN = 0, F16_COHERENT = 1 };

/* One matrix (rows x cols, at `offset` bytes into its allocation) times x (n tokens): the tensor-core GEMM
 * against the CPU, the old GEMM and the dispatch; the scales bit for bit. coherent: positive weights (x is the
 * caller's), and the naive f16 result must fail the bound. */
static void f16_case(mst_dev *d, uint64_t *seed, uint32_t rows, uint32_t cols, uint32_t n, const float *x,
                     uint32_t offset, int kind, const char *label)
{
    const size_t rb = (size_t)cols * 2, count = (size_t)n * rows;
    uint8_t *w = (uint8_t *)xmalloc(rb * rows);
    qf_fill(seed, MST_TYPE_F16, w, rows, cols, rb);
    if (kind == F16_COHERENT)
        for (size_t i = 1; i < rb * rows; i += 2)
            w[i] &= 0x7f; /* the f16 sign bits: every weight >= 0 */
    mst_cuda_weight cw;
    mst_dptr wbase;
    uint8_t *up = f16_upload(d, w, rb, rows, cols, offset, &cw, &wbase);
    f16_ref ref = f16_reference(w, rb, rows, cols, x, n);
    char what[200];
    snprintf(what, sizeof what, "F16 %s rows=%u cols=%u n_tokens=%u%s", label, rows, cols, n,
             offset ? " at an odd address" : "");

    mst_dptr dx = ct_upload(d, x, (size_t)n * cols * 4), scratch = ct_alloc(d, mst_cuda_matmul_scratch_bytes(cols, n));
    float *ym = f16_run(d, 1, &cw, dx, scratch, n);
    float *sc = (float *)xmalloc((size_t)n * 4);
    ct_download(d, sc, mst_cuda_qact_at(scratch, cols, n).qs, (size_t)n * 4);
    const int bad_s = f16_bitwise(sc, ref.s, n);
    CHECK(bad_s == 0, "%s: %d token scales differ from the rule (first token: %g, want %g)", what, bad_s, (double)sc[0],
          (double)ref.s[0]);
    float *yo = f16_run(d, 0, &cw, dx, scratch, n);

    /* tokens with a NaN or an infinity: the CPU's class per output, then out of the bounded comparisons */
    int any_bad = 0;
    for (uint32_t t = 0; t < n; t++) {
        if (!f16_bad_token(x, cols, t))
            continue;
        any_bad = 1;
        int wrong = 0;
        for (uint32_t r = 0; r < rows; r++) {
            const size_t i = (size_t)t * rows + r;
            const float g = ym[i], c = ref.y[i];
            if (isnan(c) ? !isnan(g) : isinf(c) ? g != c : !isfinite(g))
                wrong++;
            ym[i] = yo[i] = ref.y[i] = 0.0f;
        }
        CHECK(wrong == 0, "%s: token %u (non-finite x): %d outputs differ from the CPU's NaN / infinity", what, t,
              wrong);
    }
    ct_compare_bounds(what, ym, ref.y, ref.tol, count);
    snprintf(what + strlen(what), sizeof what - strlen(what), " vs the CUDA-core GEMM");
    ct_compare_bounds(what, ym, yo, ref.old, count);

    if (kind == F16_COHERENT) { /* the case can tell: x rounded to f16 (no lo term) must fail the bound */
        float *xh = (float *)xmalloc((size_t)n * cols * 4), *yn = (float *)xmalloc(count * 4);
        for (size_t i = 0; i < (size_t)n * cols; i++)
            xh[i] = mst_fp16_to_fp32(mst_fp32_to_fp16(x[i]));
        mst_matmul_ref(MST_TYPE_F16, w, rb, rows, cols, xh, n, yn, 0, rows);
        int over = 0;
        for (size_t i = 0; i < count; i++)
            over += fabs((double)yn[i] - (double)ref.y[i]) > ref.tol[i];
        CHECK(over == (int)count, "%s: only %d of %zu outputs of x rounded to f16 fail the bound", what, over, count);
        free(xh), free(yn);
    }

    /* the dispatch: the tensor-core GEMM (or, with MISTRAL_CUDA_MMA=0, the old one) bit for bit */
    if (kind == F16_PLAIN) {
        mst_dptr dy = ct_alloc(d, count * 4);
        ct_ok(mst_cuda_matmul(d, &cw, dx, n, dy, scratch, 0), "mst_cuda_matmul");
        float *yd = (float *)xmalloc(count * 4);
        ct_download(d, yd, dy, count * 4);
        float *yw = f16_run(d, mst_cuda_mma_enabled(), &cw, dx, scratch, n);
        const int bad = f16_bitwise(yd, yw, count);
        CHECK(bad == 0, "%s: mst_cuda_matmul differs from the %s GEMM in %d outputs", what,
              mst_cuda_mma_enabled() ? "tensor-core" : "CUDA-core", bad);
        mst_dev_free(d, dy);
        free(yd), free(yw);
    }
    /* a second matrix of the same width (rows + 3) through mst_cuda_matmul with x_is_quantized = 1: it reads the
     * scales the call before left in the scratch for this x (f16_run rewrote them just now). Finite x only: this
     * comparison has no NaN rule. */
    if (kind == F16_PLAIN && !any_bad) {
        const uint32_t rows2 = rows + 3;
        uint8_t *w2 = (uint8_t *)xmalloc(rb * rows2);
        qf_fill(seed, MST_TYPE_F16, w2, rows2, cols, rb);
        mst_cuda_weight cw2;
        mst_dptr w2base;
        uint8_t *up2 = mr_upload(d, MST_TYPE_F16, w2, rb, rows2, cols, 0, &cw2, &w2base);
        f16_ref ref2 = f16_reference(w2, rb, rows2, cols, x, n);
        mst_dptr dy2 = ct_alloc(d, (size_t)n * rows2 * 4);
        ct_ok(mst_cuda_matmul(d, &cw2, dx, n, dy2, scratch, 1), "mst_cuda_matmul (x_is_quantized)");
        float *y2 = (float *)xmalloc((size_t)n * rows2 * 4);
        ct_download(d, y2, dy2, (size_t)n * rows2 * 4);
        snprintf(what, sizeof what, "F16 %s rows=%u cols=%u n_tokens=%u, second matrix reusing the scales", label,
                 rows2, cols, n);
        ct_compare_bounds(what, y2, ref2.y, ref2.tol, (size_t)n * rows2);
        mst_dev_free(d, dy2), mst_dev_free(d, w2base);
        free(w2), free(up2), free(y2);
        f16_ref_free(&ref2);
    }
    mst_dev_free(d, dx), mst_dev_free(d, scratch), mst_dev_free(d, wbase);
    free(w), free(up), free(ym), free(yo), free(sc);
    f16_ref_free(&ref);
}

static void f16_random_case(mst_dev *d, uint64_t *seed, uint32_t rows, uint32_t cols, uint32_t n, uint32_t offset)
{
    float *x = mr_activations(seed, cols, n); /* token 1 starts with a zero block */
    f16_case(d, seed, rows, cols, n, x, offset, F16_PLAIN, "random");
    free(x);
}

/* Token by token: x 1e6 (with values above f16's 65504), -1e6, 1e-6, 1e30, 1e-30, subnormals (~1e-40), a spread
 * over 12 decades, all zeros, then random tokens; times a random sign each. */
static void f16_magnitude_case(mst_dev *d, uint64_t *seed, uint32_t rows, uint32_t cols, uint32_t n)
{
    static const float mags[] = {1e6f, -1e6f, 1e-6f, 1e30f, 1e-30f, 1e-40f, 0.0f /* spread */, 0.0f /* zeros */};
    float *x = ct_random(seed, (size_t)n * cols, -1.0f, 1.0f);
    for (uint32_t t = 0; t < 8 && t < n; t++)
        for (uint32_t c = 0; c < cols; c++) {
            float *v = &x[(size_t)t * cols + c];
            if (t == 6)
                *v *= powf(10.0f, -8.0f + 12.0f * (float)((c * 7919u) % 97u) / 96.0f);
            else
                *v *= mags[t];
        }
    f16_case(d, seed, rows, cols, n, x, 0, F16_PLAIN, "magnitudes");
    free(x);
}

/* x = 1 + 2^-12 + up to 2^-20: f16 rounds each down by about 2^-12 (the header). */
static void f16_coherent_case(mst_dev *d, uint64_t *seed, uint32_t rows, uint32_t cols, uint32_t n)
{
    float *x = ct_random(seed, (size_t)n * cols, 0.0f, 0x1p-20f);
    for (size_t i = 0; i < (size_t)n * cols; i++)
        x[i] += 1.0f + 0x1p-12f;
    f16_case(d, seed, rows, cols, n, x, 0, F16_COHERENT, "coherent");
    free(x);
}

/* +Inf, NaN, -Inf with +Inf, -Inf in four tokens of random x. */
static void f16_nonfinite_case(mst_dev *d, uint64_t *seed, uint32_t rows, uint32_t cols, uint32_t n)
{
    float *x = mr_activations(seed, cols, n);
    x[3 * (size_t)cols + 7] = INFINITY;
    x[5 * (size_t)cols + cols / 3] = NAN;
    x[8 * (size_t)cols + 2] = -INFINITY;
    x[8 * (size_t)cols + cols - 1] = INFINITY;
    x[11 * (size_t)cols] = -INFINITY;
    f16_case(d, seed, rows, cols, n, x, 0, F16_PLAIN, "non-finite");
    free(x);
}

static void f16_errors(mst_dev *d)
{
    const mst_cuda_qact a = mst_cuda_qact_at(0, 64, 9);
    mst_cuda_weight bf = {MST_TYPE_BF16, 4, 64, 0, 128, 0}, narrow = {MST_TYPE_F16, 4, 32, 0, 64, 0};
    CHECK(mst_cuda_mma_f16(d, &bf, 0, &a, 0) == MST_ERR_INVALID_ARGUMENT, "mst_cuda_mma_f16 took a BF16 weight");
    CHECK(mst_cuda_mma_f16(d, &narrow, 0, &a, 0) == MST_ERR_INVALID_ARGUMENT,
          "mst_cuda_mma_f16 took a weight narrower than the activations");
}

int main(int argc, char **argv)
{
    mst_dev *d = ct_open();
    uint64_t seed = 0x66313661u;
    if (argc > 1 && strcmp(argv[1], "dispatch") == 0) {
        f16_random_case(d, &seed, 70, 300, 40, 0);
        f16_random_case(d, &seed, 33, 64, 9, 0);
        mst_dev_close(d);
        return ct_finish("test_cuda_matmul_mma_f16 dispatch");
    }
    static const uint32_t rows_l[] = {1, 15, 17, 100, 257}, n_l[] = {9, 33, 65, 130}, cols_l[] = {5, 48, 300, 768};
    /* case i = 5 q + r: rows r, tokens (q + r) % 4, cols (q + 2 r) % 4: every row count meets every token count
     * and every column count, and each token count several column counts */
    for (uint32_t i = 0; i < 20; i++)
        f16_random_case(d, &seed, rows_l[i % 5], cols_l[(i / 5 + 2 * (i % 5)) % 4], n_l[(i / 5 + i % 5) % 4], 0);
    f16_random_case(d, &seed, 40, 24, 17, 0);
    f16_random_case(d, &seed, 70, 64, 70, 2);
    f16_magnitude_case(d, &seed, 33, 64, 12);
    f16_magnitude_case(d, &seed, 20, 77, 10);
    f16_coherent_case(d, &seed, 20, 64, 9);
    f16_coherent_case(d, &seed, 17, 37, 11);
    f16_nonfinite_case(d, &seed, 65, 300, 20);
    f16_errors(d);
    if (!mst_cuda_mma_enabled())
        printf("note: MISTRAL_CUDA_MMA=0: the dispatch checks expected the CUDA-core GEMM\n");
    mst_dev_close(d);
    return ct_finish("test_cuda_matmul_mma_f16");
}
