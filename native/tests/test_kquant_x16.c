/* test_kquant_x16.c — Q4_K / Q6_K repacked 16 rows at a time (cpu/repack_k.h) and their AVX-512 VNNI kernels.
 *
 * 1. The repack is a permutation: unrepack() below, written from repack_k.h's layout description alone,
 *    rebuilds the GGUF blocks, which must equal the source byte for byte (random bytes: every bit pattern
 *    of scales, mins and quants).
 * 2. The kernel on the repacked matrix against the scalar Q8_K reference on the file's layout
 *    (mst_kernels_matmul_qa(mst_cpu_scalar(), type)). Both compute the same exact int32 sums per
 *    super-block; only float rounding differs. Per super-block the reference rounds d_x·d_w, the product
 *    and the add (3 roundings; Q4_K twice, for the scales and the mins term), the kernel d_w·d_x and one FMA
 *    per term, so over nb super-blocks each is within (2nb + 2)·2^-24 of Σ|terms| (first-order bound
 *    of recursive summation, |partial sums| <= Σ|terms|) and the two within (4nb + 4)·2^-24·Σ|terms|:
 *    6.6e-6 at 4096 columns, 1.4e-5 at 14336. Σ|terms| = Σ_c (|wS_c| + |wM_c|)·|xq_c| with wS/wM the
 *    weights dequantized with dmin = 0 / d = 0 (the scale and min parts cancel within a weight, so |w·x|
 *    alone would be too small a yardstick). One wrong quant of 256 moves y by ~1e-3 of that sum.
 * 3. Row ranges cut at 16-row boundaries (how the thread pool splits repacked matrices) give identical
 *    results, and one token alone (the decode path) equals its row of the batch bit for bit — for tokens
 *    that ran in groups of 8, of 4 and alone.
 * 2 and 3 run for every kernel set with an x16 kernel (AVX2, AVX-VNNI, AVX-512 VNNI), and the sets'
 * outputs must be bit-identical to each other; also on Q6_K built to reach the AVX2 kernel's int16 limits
 * (check_q6k_extremes).
 * Shapes: rows {16, 48, 80, 1024} x cols {256, 4096, 14336} x tokens {1, 5, 8, 13, 16}, each case capped at
 * rows·cols·tokens <= 2^22 so the whole test stays well under a second (it also runs under valgrind/ASan). */
#include "test_qact.h"
#include "cpu/ops.h"
#include "cpu/quant.h"
#include "cpu/quant_act_k.h"
#include "cpu/quant_k.h"
#include "cpu/repack_k.h"

/* ---- 1: the layout, read back independently ---- */

static size_t block_bytes(int32_t type)
{
    return type == MST_TYPE_Q4_K ? 144 : 210;
}

/* Q6_K six-bit value l of a block (0..63), set into a GGUF block: ql/qh as quant_k.h describes. */
static void q6_set(uint8_t *blk, int col, int v)
{
    const int h = col / 128, part = (col % 128) / 32, l = col % 32;
    uint8_t *ql = blk + 64 * h + l + 32 * (part & 1), *qh = blk + 128 + 32 * h + l;
    const int sh = 4 * (part >> 1);
    *ql = (uint8_t)((*ql & ~(0x0f << sh)) | ((v & 15) << sh));
    *qh = (uint8_t)((*qh & ~(3 << (2 * part))) | ((v >> 4) << (2 * part)));
}

static void unrepack(int32_t type, const uint8_t *src, size_t row_bytes, uint32_t rows, uint8_t *dst)
{
    const size_t bb = block_bytes(type), nb = row_bytes / bb, unit = 16 * bb;
    for (uint32_t r = 0; r < rows; r++)
        for (size_t b = 0; b < nb; b++) {
            const uint8_t *u = src + (size_t)(r / 16) * 16 * row_bytes + b * unit;
            const int lane = (int)(r % 16);
            uint8_t *blk = dst + (size_t)r * row_bytes + b * bb;
            if (type == MST_TYPE_Q4_K) { /* chunk k, lane r = bytes 4k..4k+3 */
                for (size_t k = 0; k < bb / 4; k++)
                    memcpy(blk + 4 * k, u + 64 * k + 4 * lane, 4);
                continue;
            }
            memcpy(blk + 208, u + 2 * lane, 2);
            for (int j = 0; j < 16; j++) {
                blk[192 + j] = u[32 + 16 * j + lane];
                const uint8_t *C = u + 288 + 192 * j + 4 * lane; /* chunk k at C + 64k (repack_k.h) */
                for (int i = 0; i < 4; i++) {
                    for (int k = 0; k < 3; k++)
                        q6_set(blk, 16 * j + 4 * k + i, C[64 * k + i] & 63);
                    q6_set(blk, 16 * j + 12 + i, (C[i] >> 6) | (C[64 + i] >> 6) << 2 | (C[128 + i] >> 6) << 4);
                }
            }
        }
}

/* ---- 2, 3 ---- */

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

/* Random bytes with sane fp16 d (and dmin): every packing bit pattern, finite results. */
static uint8_t *k_weights(uint64_t *s, int32_t type, uint32_t rows, uint32_t cols)
{
    const size_t bb = block_bytes(type), nb = (size_t)rows * cols / 256;
    uint8_t *w = xmalloc(nb * bb);
    for (size_t k = 0; k < nb; k++) {
        uint8_t *b = w + k * bb;
        for (size_t i = 0; i < bb; i++)
            b[i] = (uint8_t)rng_next(s);
        put16(b + (type == MST_TYPE_Q4_K ? 0 : 208), t_fp32_to_fp16(rng_uniform(s, 0.002f, 0.02f)));
        if (type == MST_TYPE_Q4_K)
            put16(b + 2, t_fp32_to_fp16(rng_uniform(s, 0.002f, 0.02f)));
    }
    return w;
}

/* Σ_c (|wS| + |wM|)·|xq| per output: the yardstick of the bound (see the top). */
static void term_sums(int32_t type, const uint8_t *w, uint32_t rows, uint32_t cols, const qbuf *b, double *out)
{
    const size_t bb = block_bytes(type), n = (size_t)rows * cols;
    uint8_t *c = xmalloc(n / 256 * bb);
    float *wS = xmalloc(n * 4), *wM = xmalloc(n * 4);
    memcpy(c, w, n / 256 * bb);
    if (type == MST_TYPE_Q4_K)
        for (size_t k = 0; k < n / 256; k++)
            put16(c + k * bb + 2, 0);
    mst_dequantize_ref(type, c, n, wS);
    memset(wM, 0, n * 4);
    if (type == MST_TYPE_Q4_K) {
        memcpy(c, w, n / 256 * bb);
        for (size_t k = 0; k < n / 256; k++)
            put16(c + k * bb, 0);
        mst_dequantize_ref(type, c, n, wM);
    }
    for (uint32_t t = 0; t < b->q.n_tokens; t++)
        for (uint32_t r = 0; r < rows; r++) {
            double sum = 0;
            for (uint32_t k = 0; k < cols; k++) {
                const size_t xi = (size_t)t * cols + k, wi = (size_t)r * cols + k;
                sum += (fabs((double)wS[wi]) + fabs((double)wM[wi])) * fabs((double)b->q.d[xi / 256] * b->q.qs[xi]);
            }
            out[(size_t)t * rows + r] = sum;
        }
    free(c), free(wS), free(wM);
}

static double g_worst; /* largest error / Σ|terms| seen, reported at the end */

static mst_matmul_qa_fn kernel_of(const mst_cpu_kernels *k, int32_t type)
{
    return !k ? NULL : type == MST_TYPE_Q4_K ? k->matmul_qa_q4_kx16 : k->matmul_qa_q6_kx16;
}

/* One x16 kernel fn (of the set named kn) on the repacked wr, output into y: within tol·Σ|terms| of the
 * reference y_ref, row ranges cut at 16-row boundaries bit-identical, and one token alone equal to its row
 * of the batch: the first (a group of 8 when nt >= 8, else of 4 or alone) and the last (the remainder:
 * alone or in a group of 4). */
static void check_kernel(int32_t type, const char *kn, mst_matmul_qa_fn fn, const uint8_t *wr, size_t row_bytes,
                         uint32_t rows, uint32_t cols, uint32_t nt, const float *x, const qbuf *b, const float *y_ref,
                         const double *terms, float *y)
{
    const size_t ny = (size_t)nt * rows;
    const char *tn = mst_type_name(type);
    float *y_split = xmalloc(ny * 4), *y1 = xmalloc(rows * 4);
    fn(wr, row_bytes, rows, &b->q, y, 0, rows);
    const uint32_t cut1 = rows / 48 * 16, cut2 = rows - rows / 32 * 16; /* 16-row boundaries, some ranges empty */
    fn(wr, row_bytes, rows, &b->q, y_split, 0, cut1);
    fn(wr, row_bytes, rows, &b->q, y_split, cut1, cut2);
    fn(wr, row_bytes, rows, &b->q, y_split, cut2, rows);
    const double tol = (4.0 * (cols / 256) + 4.0) * 0x1p-24;
    int bad = 0;
    for (size_t i = 0; i < ny && bad < 3; i++) {
        const double err = fabs((double)y[i] - (double)y_ref[i]);
        if (terms[i] > 0 && err / terms[i] > g_worst)
            g_worst = err / terms[i];
        if (!(err <= tol * terms[i] + 1e-30)) {
            bad++;
            CHECK(0, "%s %s rows=%u cols=%u tokens=%u: y[%zu] = %.9g, reference %.9g (err %.3g > %.3g)", tn, kn, rows,
                  cols, nt, i, y[i], y_ref[i], err, tol * terms[i]);
        }
        if (memcmp(&y[i], &y_split[i], 4) != 0) {
            bad++;
            CHECK(0, "%s %s rows=%u cols=%u tokens=%u: split run differs at %zu", tn, kn, rows, cols, nt, i);
        }
    }
    const uint32_t probe[2] = {0, nt - 1};
    for (int k = 0; k < 2; k++) {
        qbuf one;
        quantize_k(&one, x + (size_t)probe[k] * cols, cols, 1);
        fn(wr, row_bytes, rows, &one.q, y1, 0, rows);
        CHECK(memcmp(y1, y + (size_t)probe[k] * rows, rows * 4) == 0,
              "%s %s rows=%u cols=%u tokens=%u: token %u alone differs from its batch row", tn, kn, rows, cols, nt,
              probe[k]);
        free(one.mem);
    }
    free(y_split), free(y1);
}

enum { N_TABLES = 3 };

/* tables: the AVX2, AVX-VNNI and AVX-512 kernel sets (NULL where the CPU has none). The repack reads back;
 * each set's x16 kernel is checked alone (check_kernel), and all against each other bit for bit: same
 * exact integer sums, same float operations per row (matmul_q4kx16_avx2.c). Returns how many kernels ran. */
static int check_weights(int32_t type, const mst_cpu_kernels *const tables[N_TABLES], uint8_t *w, uint32_t rows,
                         uint32_t cols, uint32_t nt, float *x);

static int check_case(int32_t type, const mst_cpu_kernels *const tables[N_TABLES], uint32_t rows, uint32_t cols,
                      uint32_t nt, uint64_t seed)
{
    uint64_t s = seed;
    uint8_t *w = k_weights(&s, type, rows, cols);
    float *x = xmalloc((size_t)nt * cols * 4);
    fill_uniform(&s, x, (size_t)nt * cols, -1.0f, 1.0f);
    x[0] = 3.0f; /* an outlier, so block scales differ */
    return check_weights(type, tables, w, rows, cols, nt, x);
}

/* check_case on given weights w and activations x (both freed here) */
static int check_weights(int32_t type, const mst_cpu_kernels *const tables[N_TABLES], uint8_t *w, uint32_t rows,
                         uint32_t cols, uint32_t nt, float *x)
{
    const size_t bb = block_bytes(type), row_bytes = (size_t)cols / 256 * bb, bytes = rows * row_bytes;
    const size_t ny = (size_t)nt * rows;
    uint8_t *wr = xmalloc(bytes), *back = xmalloc(bytes);
    (type == MST_TYPE_Q4_K ? mst_repack_q4_kx16 : mst_repack_q6_kx16)(w, row_bytes, rows, wr);
    unrepack(type, wr, row_bytes, rows, back);
    CHECK(memcmp(back, w, bytes) == 0, "%s %ux%u: repack does not read back to the source", mst_type_name(type), rows,
          cols);
    if (!kernel_of(tables[0], type) && !kernel_of(tables[1], type) && !kernel_of(tables[2], type)) {
        free(w), free(wr), free(back), free(x);
        return 0;
    }
    qbuf b;
    quantize_k(&b, x, cols, nt);
    float *y_ref = xmalloc(ny * 4), *ys[N_TABLES] = {xmalloc(ny * 4), xmalloc(ny * 4), xmalloc(ny * 4)};
    double *terms = xmalloc(ny * sizeof(double));
    mst_kernels_matmul_qa(mst_cpu_scalar(), type)(w, row_bytes, rows, &b.q, y_ref, 0, rows);
    term_sums(type, w, rows, cols, &b, terms);
    int ran = 0, first = -1;
    for (int kt = 0; kt < N_TABLES; kt++)
        if (kernel_of(tables[kt], type)) {
            check_kernel(type, tables[kt]->name, kernel_of(tables[kt], type), wr, row_bytes, rows, cols, nt, x, &b,
                         y_ref, terms, ys[kt]);
            ran++;
            if (first < 0)
                first = kt;
            else
                CHECK(memcmp(ys[first], ys[kt], ny * 4) == 0, "%s rows=%u cols=%u tokens=%u: %s and %s kernels differ",
                      mst_type_name(type), rows, cols, nt, tables[first]->name, tables[kt]->name);
        }
    free(w), free(wr), free(back), free(x), free(b.mem), free(y_ref), free(ys[0]), free(ys[1]), free(ys[2]), free(terms);
    return ran;
}

/* Q6_K at the int16 limits of the AVX2 kernel (matmul_q6kx16_avx2.c sums 4 columns of 6-bit values times
 * activations in int16: at most 4·63·127 = 32004 of 32767): rows of all-63 and all-0 values, with sub-block
 * scales -128 and 127, against tokens whose activations all quantize to -127 (every value equal: the block's
 * max maps to -127), to +127 but for one -127 (the max, negative, first), or alternate, beside random rows.
 * Random data (check_case) rarely comes near the limit; an int16 sum of one column more would wrap here and
 * miss the reference by far more than its bound. */
static int check_q6k_extremes(const mst_cpu_kernels *const tables[N_TABLES], uint64_t seed)
{
    enum { ROWS = 32, COLS = 512, NT = 13 };
    uint64_t s = seed;
    uint8_t *w = k_weights(&s, MST_TYPE_Q6_K, ROWS, COLS);
    for (int r = 0; r < ROWS; r++)
        for (int blk = 0; blk < COLS / 256; blk++) {
            uint8_t *b = w + ((size_t)r * (COLS / 256) + blk) * 210;
            if (r % 4 < 2)
                memset(b, r % 4 == 0 ? 0xFF : 0x00, 192); /* q = 63 (weight 31) or 0 (weight -32) everywhere */
            if (r % 8 < 4)
                for (int j = 0; j < 16; j++)
                    b[192 + j] = (uint8_t)(j % 2 ? 127 : -128);
        }
    float *x = xmalloc((size_t)NT * COLS * 4);
    for (int t = 0; t < NT; t++)
        for (int c = 0; c < COLS; c++)
            x[(size_t)t * COLS + c] = t % 3 == 0   ? 1.0f
                                      : t % 3 == 1 ? (c % 256 ? 1.0f : -1.0f)
                                                   : (c % 2 ? 0.5f : -0.5f);
    return check_weights(MST_TYPE_Q6_K, tables, w, ROWS, COLS, NT, x);
}

int main(void)
{
    static const uint32_t rows_list[] = {16, 48, 80, 1024};
    static const uint32_t cols_list[] = {256, 4096, 14336};
    static const uint32_t tokens_list[] = {1, 5, 8, 13, 16};
    static const int32_t types[] = {MST_TYPE_Q4_K, MST_TYPE_Q6_K};
    const mst_cpu_kernels *const tables[N_TABLES] = {mst_cpu_avx2(), mst_cpu_avxvnni(), mst_cpu_avx512()};
    uint64_t seed = 1;
    int ran = 0;
    for (int ti = 0; ti < 2; ti++) {
        for (int ri = 0; ri < 4; ri++)
            for (int ci = 0; ci < 3; ci++)
                for (int ni = 0; ni < 5; ni++) {
                    const uint32_t r = rows_list[ri], c = cols_list[ci], n = tokens_list[ni];
                    if ((uint64_t)r * c * n > (1u << 22))
                        continue;
                    ran += check_case(types[ti], tables, r, c, n, seed++);
                }
    }
    ran += check_q6k_extremes(tables, seed++);
    if (!kernel_of(tables[0], MST_TYPE_Q4_K) && !kernel_of(tables[1], MST_TYPE_Q4_K) &&
        !kernel_of(tables[2], MST_TYPE_Q4_K))
        printf("note: no x16 kernel here: only the repack layout was checked\n");
    printf("%d kernel cases, worst error / sum|terms| = %.3g\n", ran, g_worst);
    if (g_failures)
        printf("%d failure(s)\n", g_failures);
    return g_failures ? 1 : 0;
}
