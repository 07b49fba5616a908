/* matmul_runner.h — the body of the per-type mst_cuda_matmul tests (test_cuda_matmul_<type>.c): random weights
 * of one type, uploaded as the backend uploads them (mst_cuda_convert_for_upload), times random activations on
 * the emulator, against the CPU backend's own arithmetic for that type:
 *   Q8_0, Q4_0: x quantized by mst_quantize_act_ref (Q8_0 blocks), mst_matmul_qa_ref_q8_0 / _q4_0;
 *   Q4_K, Q6_K: x quantized by mst_quantize_act_k_ref (Q8_K blocks), mst_matmul_qa_ref_q4_k / _q6_k;
 *   BF16: x rounded by mst_round_bf16, then mst_matmul_ref (double accumulation);
 *   F16, F32 (and Q5_K, converted to F16 at upload): mst_matmul_ref on x as it is.
 *
 * Tolerances, per output, from S = Σ_c mag_c |x̂_c| (qf_magnitude_row: |w_c|, or |d sc q| + |dmin m| where a min
 * term exists; x̂ the activation as both backends see it), u = 2^-24:
 *   integer types: both backends compute the same exact integer per block and the same float term
 *     (d_x d_w) * isum from it (2 roundings; the device may fuse the last one into its add); only the order of
 *     the N float additions differs (N = cols/32 for Q8_0/Q4_0, 2 cols/256 for Q4_K, cols/256 for Q6_K). Each
 *     result is within (N + 1) u Σ|terms| of the exact sum of terms and Σ|terms| <= S, so
 *     |y - y_cpu| <= (N + 2) * 2^-23 * S (the +1 covers the float rounding of the magnitudes);
 *   float types: the device chains at most cols fmas per output plus a 5-level lane tree, the reference is
 *     exact but for its final rounding: |y - y_ref| <= (cols + 7) * 2^-24 * S.
 * The check that the device's activation rounding equals the CPU's is implicit: one q off by one in a block
 * moves y by |d_w q_w d_x| (about S / cols), far above these bounds for the shapes here.
 *
 * Cases: rows 1, 17, 100, 257 x the type's column counts x n_tokens 1, 2, 5, 8 (GEMV; 8 is its largest) and 9,
 * 19, 33 (GEMM); a type converted at upload: rows 17, 257 x n_tokens 1, 5, 19. x has an all-zero block (the
 * amax = 0 path) and a tie in |x| of opposite signs in different lanes of the Q8_K reduction (every lane must
 * settle on the same extreme value; taking the first is the CPU's rule, though the other choice would give the
 * same block values). One case with the matrix at an odd device address (loads at any alignment); a second
 * matrix run on the same quantized scratch with x_is_quantized = 1 and a different x, all zeros, which must then
 * be ignored (the F16/F32 kernels read x itself: they get the same x). mst_cuda_matmul_multi (several matrices
 * sharing x, one GEMV launch for up to three) over the GEMV's work splits: mr_multi_suite; each matrix has the
 * bound above, its own launch or not changing nothing in the per-(row, token, block) arithmetic. */
#ifndef MST_TEST_MATMUL_RUNNER_H
#define MST_TEST_MATMUL_RUNNER_H

#include "cuda_test_util.h"
#include "quant_fill.h"
#include "cpu/ops.h"
#include "cpu/quant_act.h"
#include "cpu/quant_act_bf16.h"
#include "cpu/quant_act_k.h"

typedef struct mr_ref {
    float *y;     /* [n_tokens][rows] the CPU's result */
    double *tol;  /* [n_tokens][rows] */
} mr_ref;

static int mr_is_int(int32_t type)
{
    return type == MST_TYPE_Q8_0 || type == MST_TYPE_Q4_0 || type == MST_TYPE_Q4_K || type == MST_TYPE_Q6_K;
}

/* The CPU result and per-output tolerance for w (the file's type, not the converted one) times x. */
static mr_ref mr_reference(int32_t type, const uint8_t *w, size_t row_bytes, const uint8_t *w_up, size_t up_row_bytes,
                           uint32_t rows, uint32_t cols, const float *x, uint32_t n)
{
    mr_ref ref = {(float *)xmalloc((size_t)n * rows * 4), (double *)xmalloc((size_t)n * rows * 8)};
    float *xh = (float *)xmalloc((size_t)n * cols * 4); /* x̂: the activations as both backends see them */
    const int fmt = mr_is_int(type) ? mst_qact_format_of(type) : -1;
    void *buf = NULL;
    mst_qact qa;
    if (fmt == MST_QACT_Q8_0) {
        buf = xmalloc(mst_qact_bytes(cols, n));
        mst_qact_bind(&qa, buf, cols, n);
        mst_quantize_act_ref(x, &qa, 0, n);
        for (size_t i = 0; i < (size_t)n * cols; i++)
            xh[i] = (float)qa.qs[i] * qa.d[i / 32];
        (type == MST_TYPE_Q8_0 ? mst_matmul_qa_ref_q8_0 : mst_matmul_qa_ref_q4_0)(w, row_bytes, rows, &qa, ref.y, 0, rows);
    } else if (fmt == MST_QACT_Q8_K) {
        buf = xmalloc(mst_qact_k_bytes(cols, n));
        mst_qact_bind_k(&qa, buf, cols, n);
        mst_quantize_act_k_ref(x, &qa, 0, n);
        for (size_t i = 0; i < (size_t)n * cols; i++)
            xh[i] = (float)qa.qs[i] * qa.d[i / 256];
        (type == MST_TYPE_Q4_K ? mst_matmul_qa_ref_q4_k : mst_matmul_qa_ref_q6_k)(w, row_bytes, rows, &qa, ref.y, 0, rows);
    } else {
        const int32_t up = mst_cuda_upload_type(type);
        for (size_t i = 0; i < (size_t)n * cols; i++) {
            xh[i] = x[i];
            if (type == MST_TYPE_BF16) {
                const uint32_t b = (uint32_t)mst_round_bf16(x[i]) << 16;
                memcpy(&xh[i], &b, 4);
            }
        }
        mst_matmul_ref(up, w_up, up_row_bytes, rows, cols, xh, n, ref.y, 0, rows);
    }
    /* the bound: S per output from the magnitudes of the (uploaded) weights */
    const int32_t mtype = mr_is_int(type) ? type : mst_cuda_upload_type(type);
    const uint8_t *mw = mr_is_int(type) ? w : w_up;
    const size_t mrb = mr_is_int(type) ? row_bytes : up_row_bytes;
    double n_terms = cols / 32.0;
    if (type == MST_TYPE_Q4_K)
        n_terms = 2.0 * cols / 256;
    else if (type == MST_TYPE_Q6_K)
        n_terms = cols / 256.0;
    float *mag = (float *)xmalloc((size_t)cols * 4);
    for (uint32_t r = 0; r < rows; r++) {
        qf_magnitude_row(mtype, mw + (size_t)r * mrb, cols, mag);
        for (uint32_t t = 0; t < n; t++) {
            double s = 0.0;
            for (uint32_t c = 0; c < cols; c++)
                s += (double)mag[c] * fabs((double)xh[(size_t)t * cols + c]);
            ref.tol[(size_t)t * rows + r] = mr_is_int(type) ? (n_terms + 2) * 0x1p-23 * s : (cols + 7) * 0x1p-24 * s;
        }
    }
    free(mag);
    free(buf);
    free(xh);
    return ref;
}

/* Random x with an all-zero first block in token 1 and a tie of opposite signs in token 0's first block. */
static float *mr_activations(uint64_t *seed, uint32_t cols, uint32_t n)
{
    float *x = ct_random(seed, (size_t)n * cols, -1.0f, 1.0f);
    if (cols >= 16) {
        x[5] = 1.25f;
        x[9] = -1.25f;
    }
    if (n > 1)
        memset(x + cols, 0, (cols < 32 ? cols : 32) * sizeof(float));
    return x;
}

/* The matrix as the backend uploads it: the converted host copy (freed by the caller) and its device copy at
 * base + offset (*base: the allocation to free). */
static uint8_t *mr_upload(mst_dev *d, int32_t type, const uint8_t *w, size_t row_bytes, uint32_t rows, uint32_t cols,
                          uint32_t offset, mst_cuda_weight *cw, mst_dptr *base)
{
    const uint64_t up_rb = mst_cuda_upload_row_bytes(type, cols);
    uint8_t *up = (uint8_t *)xmalloc(up_rb * rows);
    ct_ok(mst_cuda_convert_for_upload(type, w, row_bytes, rows, cols, up), "mst_cuda_convert_for_upload");
    *base = ct_alloc(d, up_rb * rows + offset);
    ct_ok(mst_dev_upload(d, *base + offset, up, up_rb * rows), "mst_dev_upload");
    cw->type = mst_cuda_upload_type(type);
    cw->rows = rows;
    cw->cols = cols;
    cw->reserved = 0;
    cw->row_bytes = up_rb;
    cw->data = *base + offset;
    return up;
}

static void mr_case(mst_dev *d, uint64_t *seed, int32_t type, uint32_t rows, uint32_t cols, uint32_t n, uint32_t offset,
                    int reuse)
{
    uint64_t rb64 = 0;
    mst_type_bytes(type, cols, &rb64);
    const size_t rb = (size_t)rb64;
    uint8_t *w = (uint8_t *)xmalloc(rb * rows);
    qf_fill(seed, type, w, rows, cols, rb);
    float *x = mr_activations(seed, cols, n);
    mst_cuda_weight cw;
    mst_dptr wbase;
    uint8_t *up = mr_upload(d, type, w, rb, rows, cols, offset, &cw, &wbase);
    mr_ref ref = mr_reference(type, w, rb, up, cw.row_bytes, rows, cols, x, n);

    mst_dptr dx = ct_upload(d, x, (size_t)n * cols * 4), dy = ct_alloc(d, (size_t)n * rows * 4);
    mst_dptr scratch = ct_alloc(d, mst_cuda_matmul_scratch_bytes(cols, n));
    ct_ok(mst_cuda_matmul(d, &cw, dx, n, dy, scratch, 0), "mst_cuda_matmul");
    float *y = (float *)xmalloc((size_t)n * rows * 4);
    ct_download(d, y, dy, (size_t)n * rows * 4);
    char what[128];
    snprintf(what, sizeof what, "%s rows=%u cols=%u n_tokens=%u%s", mst_type_name(type), rows, cols, n,
             offset ? " at an odd address" : "");
    ct_compare_bounds(what, y, ref.y, ref.tol, (size_t)n * rows);

    if (reuse) { /* a second matrix on the same rounded activations; x itself replaced by zeros */
        const uint32_t rows2 = rows + 3;
        uint8_t *w2 = (uint8_t *)xmalloc(rb * rows2);
        qf_fill(seed, type, w2, rows2, cols, rb);
        mst_cuda_weight cw2;
        mst_dptr w2base;
        uint8_t *up2 = mr_upload(d, type, w2, rb, rows2, cols, 0, &cw2, &w2base);
        mr_ref ref2 = mr_reference(type, w2, rb, up2, cw2.row_bytes, rows2, cols, x, n);
        /* F16/F32 on the device read x itself (nothing is rounded), so only the others get zeros */
        const int rounded = cw2.type != MST_TYPE_F16 && cw2.type != MST_TYPE_F32;
        float *zeros = (float *)xmalloc((size_t)n * cols * 4);
        mst_dptr dz = ct_upload(d, rounded ? zeros : x, (size_t)n * cols * 4), dy2 = ct_alloc(d, (size_t)n * rows2 * 4);
        ct_ok(mst_cuda_matmul(d, &cw2, dz, n, dy2, scratch, 1), "mst_cuda_matmul (x_is_quantized)");
        float *y2 = (float *)xmalloc((size_t)n * rows2 * 4);
        ct_download(d, y2, dy2, (size_t)n * rows2 * 4);
        snprintf(what, sizeof what, "%s rows=%u cols=%u n_tokens=%u reusing the quantized x", mst_type_name(type), rows2,
                 cols, n);
        ct_compare_bounds(what, y2, ref2.y, ref2.tol, (size_t)n * rows2);
        mst_dev_free(d, dz);
        mst_dev_free(d, dy2);
        mst_dev_free(d, w2base);
        free(w2), free(up2), free(zeros), free(y2), free(ref2.y), free(ref2.tol);
    }
    mst_dev_free(d, dx);
    mst_dev_free(d, dy);
    mst_dev_free(d, scratch);
    mst_dev_free(d, wbase);
    free(w), free(up), free(x), free(y), free(ref.y), free(ref.tol);
}

/* mst_cuda_matmul_multi over n_w matrices of one type and width sharing x (rows[i] each, matrix i at an offset of
 * offsets[i] bytes from its allocation's start), each against its own CPU result: the first three make one GEMV
 * launch for n <= 8 (more than three: the fourth goes on its own, reading the activations the launch before
 * rounded). */
static void mr_multi_case(mst_dev *d, uint64_t *seed, int32_t type, const uint32_t *rows, const uint32_t *offsets,
                          uint32_t n_w, uint32_t cols, uint32_t n)
{
    enum { MAXW = 4 };
    uint64_t rb64 = 0;
    mst_type_bytes(type, cols, &rb64);
    const size_t rb = (size_t)rb64;
    float *x = mr_activations(seed, cols, n);
    mst_dptr dx = ct_upload(d, x, (size_t)n * cols * 4);
    mst_dptr scratch = ct_alloc(d, mst_cuda_matmul_scratch_bytes(cols, n));
    uint8_t *w[MAXW], *up[MAXW];
    mst_cuda_weight cw[MAXW];
    mst_dptr wbase[MAXW], dy[MAXW];
    for (uint32_t i = 0; i < n_w; i++) {
        w[i] = (uint8_t *)xmalloc(rb * rows[i]);
        qf_fill(seed, type, w[i], rows[i], cols, rb);
        up[i] = mr_upload(d, type, w[i], rb, rows[i], cols, offsets[i], &cw[i], &wbase[i]);
        dy[i] = ct_alloc(d, (size_t)n * rows[i] * 4);
    }
    ct_ok(mst_cuda_matmul_multi(d, cw, dy, n_w, dx, n, scratch, 0), "mst_cuda_matmul_multi");
    for (uint32_t i = 0; i < n_w; i++) {
        mr_ref ref = mr_reference(type, w[i], rb, up[i], cw[i].row_bytes, rows[i], cols, x, n);
        float *y = (float *)xmalloc((size_t)n * rows[i] * 4);
        ct_download(d, y, dy[i], (size_t)n * rows[i] * 4);
        char what[160];
        snprintf(what, sizeof what, "%s multi %u/%u rows=%u cols=%u n_tokens=%u offset=%u", mst_type_name(type), i,
                 n_w, rows[i], cols, n, offsets[i]);
        ct_compare_bounds(what, y, ref.y, ref.tol, (size_t)n * rows[i]);
        free(y), free(ref.y), free(ref.tol);
        mst_dev_free(d, dy[i]);
        mst_dev_free(d, wbase[i]);
        free(w[i]), free(up[i]);
    }
    mst_dev_free(d, dx);
    mst_dev_free(d, scratch);
    free(x);
}

/* The multi-matrix launch over the GEMV's shapes: rows per warp 8, 4, 2 and 1 (short rows share a warp; rows longer
 * than a warp's span take several spans, the last one partial), row counts that are not multiples of the rows a
 * block takes, 1 .. 8 tokens, a matrix at an odd address (16-byte words that straddle the matrix's ends), four
 * matrices (a launch of three, then one more on the same rounded x), and a GEMM-sized batch that goes matrix by
 * matrix. Quantized types: cols picks the rows per warp (matmul_gemv_launch.h): Q4_0 32 / 1024 / 2048 / 4160 ->
 * 8 / 4 / 2 / 1 (130 blocks: 2 spans); Q8_0 256 / 512 / 1024 / 4160 -> 8 / 4 / 2 / 1 (3 spans); Q4_K, Q6_K
 * 1024 / 1536 / 4352 -> 4 / 2 / 1 (17 super-blocks: 2 spans). Float types: cols 64 (16-byte loads) and 300
 * (F16/BF16 rows of 600 bytes: the any-alignment kernel, one launch per matrix). */
static void mr_multi_suite(mst_dev *d, uint64_t *seed, int32_t type)
{
    static const uint32_t rows3[] = {5, 33, 70, 9}, aligned[] = {0, 0, 0, 0}, odd[] = {0, 1, 0, 3};
    uint32_t cols_list[4], n_cols = 0;
    const uint32_t bs = mst_type_block_size(type);
    if (type == MST_TYPE_Q4_0) {
        cols_list[0] = 32, cols_list[1] = 1024, cols_list[2] = 2048, cols_list[3] = 4160, n_cols = 4;
    } else if (type == MST_TYPE_Q8_0) {
        cols_list[0] = 256, cols_list[1] = 512, cols_list[2] = 1024, cols_list[3] = 4160, n_cols = 4;
    } else if (bs == 256) {
        cols_list[0] = 1024, cols_list[1] = 1536, cols_list[2] = 4352, n_cols = 3;
    } else {
        cols_list[0] = 64, cols_list[1] = 300, n_cols = 2;
    }
    const int odd_ok = mr_is_int(type); /* f16/f32 rows need their element alignment */
    for (uint32_t ci = 0; ci < n_cols; ci++) {
        const uint32_t cols = cols_list[ci];
        if (ci == 0)
            for (uint32_t n = 1; n <= 8; n++)
                mr_multi_case(d, seed, type, rows3, aligned, 3, cols, n);
        else
            mr_multi_case(d, seed, type, rows3, aligned, 3, cols, ci % 2 ? 3 : 8);
        mr_multi_case(d, seed, type, rows3, odd_ok ? odd : aligned, 4, cols, ci == n_cols - 1 ? 2 : 1);
    }
    mr_multi_case(d, seed, type, rows3, aligned, 3, cols_list[0], 11); /* above the GEMV: one matmul each */
}

/* Bad arguments come back as statuses: cols off the block, a type with no device kernel. */
static void mr_errors(mst_dev *d, int32_t type)
{
    const uint32_t bs = mst_type_block_size(mst_cuda_upload_type(type));
    if (bs > 1) {
        mst_cuda_weight cw = {mst_cuda_upload_type(type), 4, bs + bs / 2, 0, 1024, 0};
        CHECK(mst_cuda_matmul(d, &cw, 0, 1, 0, 0, 0) == MST_ERR_INVALID_ARGUMENT, "%s: cols %u accepted",
              mst_type_name(type), bs + bs / 2);
    }
    mst_cuda_weight q5 = {MST_TYPE_Q5_K, 4, 256, 0, 176, 0};
    CHECK(mst_cuda_matmul(d, &q5, 0, 1, 0, 0, 0) == MST_ERR_UNSUPPORTED, "Q5_K (not an upload type) accepted");
    /* the multi-matrix entry: no matrix, and a group whose first matrix has rows too short for its columns (the
     * per-matrix checks still apply to matrices that could share a launch; nothing is launched) */
    mst_dptr ys[2] = {0, 0};
    CHECK(mst_cuda_matmul_multi(d, &q5, ys, 0, 0, 1, 0, 0) == MST_ERR_INVALID_ARGUMENT, "multi: 0 matrices accepted");
    const int32_t ut = mst_cuda_upload_type(type);
    const uint32_t c2 = bs > 1 ? bs : 8;
    const uint64_t rb2 = mst_cuda_upload_row_bytes(ut, c2);
    mst_cuda_weight two[2] = {{ut, 4, c2, 0, rb2 - 1, 0}, {ut, 4, c2, 0, rb2, 0}};
    CHECK(mst_cuda_matmul_multi(d, two, ys, 2, 0, 1, 0, 0) == MST_ERR_INVALID_ARGUMENT,
          "%s: multi with a row of %llu bytes for %u columns accepted", mst_type_name(type),
          (unsigned long long)(rb2 - 1), c2);
}

static int mr_suite(int32_t type, const char *name)
{
    mst_dev *d = ct_open();
    uint64_t seed = 0x6b6d6du + (uint64_t)type;
    static const uint32_t rows_full[] = {1, 17, 100, 257}, n_full[] = {1, 2, 5, 8, 9, 19, 33};
    /* a converted type runs the F16 kernels, which test_cuda_matmul_f16 covers in full: fewer shapes here */
    static const uint32_t rows_conv[] = {17, 257}, n_conv[] = {1, 5, 19};
    const int conv = mst_cuda_upload_type(type) != type;
    const uint32_t *rows_list = conv ? rows_conv : rows_full, *n_list = conv ? n_conv : n_full;
    const size_t n_rows = conv ? 2 : 4, n_ns = conv ? 3 : 7;
    uint32_t cols_list[3], n_cols;
    const uint32_t bs = mst_type_block_size(type);
    if (bs == 256) {
        cols_list[0] = 256, cols_list[1] = 512, n_cols = 2;
    } else if (bs == 32) {
        cols_list[0] = 32, cols_list[1] = 96, cols_list[2] = 512, n_cols = 3;
    } else {
        cols_list[0] = 5, cols_list[1] = 64, cols_list[2] = 300, n_cols = 3;
    }
    for (size_t ri = 0; ri < n_rows; ri++)
        for (uint32_t ci = 0; ci < n_cols; ci++)
            for (size_t ni = 0; ni < n_ns; ni++)
                mr_case(d, &seed, type, rows_list[ri], cols_list[ci], n_list[ni], 0, 0);
    const int odd_ok = mr_is_int(type); /* f16/f32 rows need their element alignment */
    mr_case(d, &seed, type, 17, cols_list[n_cols - 1], 2, odd_ok ? 1 : 0, 1);
    mr_case(d, &seed, type, 17, cols_list[n_cols - 1], 19, odd_ok ? 3 : 0, 1);
    if (!conv)
        mr_multi_suite(d, &seed, type);
    mr_errors(d, type);
    mst_dev_close(d);
    return ct_finish(name);
}

#endif
