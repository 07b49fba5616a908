/* test_matmul_qa.c — the quantized-activation matmuls (quant_act.h).
 *
 * 1. The quantization rule on hand-made blocks (ties to even, zero block, fp16 scale).
 * 2. Every SIMD variant against the scalar integer-dot reference over odd shapes.
 *    Both compute exact integer sums per 4 products; they differ only in the order the float
 *    products d_w·d_x·isum are added (block order in the reference; 8 or 16 lanes and a tree at the
 *    end in SIMD). Tolerance: |y - y_ref| <= 1e-5 · Σ_c |w_c · xq_c| per output (w, xq dequantized),
 *    which bounds every partial sum; float error over <= 1024 such adds is a few 1e-7 relative in
 *    practice. Split row ranges must be bit-identical (the thread pool splits that way).
 * 2b. Q4_0 and Q8_0 repacked 16 rows at a time (repack.h) with their kernels (AVX2, AVX-VNNI, AVX-512 VNNI:
 *    those the CPU has), against the same scalar reference on the original layout, same bound;
 *    16-row-aligned splits bit-identical; the kernels bit-identical to each other; Q8_0 also at the ends
 *    of the integer range (weights -128 and 127, activations ±127), where a kernel's int16 steps are tightest.
 * 3. The approximation itself: the reference result equals the float dot product of W with the
 *    dequantized activations (same 1e-5 bound), and each dequantized activation is within
 *    d/2 + amax·2^-11 of the float one (half a step, plus the fp16 rounding of d times |q| <= 127). */
#include "test_qact.h"
#include "cpu/ops.h"
#include "cpu/quant.h"
#include "cpu/quant_act.h"
#include "cpu/repack.h"

static const double TOL = 1e-5;
static int g_x16_tables_run; /* bit k: tables[k] of check_repacked (avx2, avxvnni, avx512) had an x16 kernel */

static void test_rule(void)
{
    float x[64] = {0};
    /* block 0: amax 127 so d = 1 and q = round-half-even(x) */
    x[0] = 127.0f;
    x[1] = 0.5f;
    x[2] = 1.5f;
    x[3] = -2.5f;
    x[4] = 2.4999f;
    x[5] = -127.0f;
    /* block 1 stays zero: d = 0, q = 0 */
    qbuf b;
    quantize(&b, x, 64, 1);
    const int8_t want[6] = {127, 0, 2, -2, 2, -127};
    for (int i = 0; i < 6; i++)
        CHECK(b.q.qs[i] == want[i], "q[%d] = %d, want %d", i, b.q.qs[i], want[i]);
    CHECK(b.q.d[0] == 1.0f && b.q.d[1] == 0.0f, "scales %g %g, want 1 0", b.q.d[0], b.q.d[1]);
    int zero = 1;
    for (int i = 32; i < 64; i++)
        zero &= b.q.qs[i] == 0;
    CHECK(zero, "an all-zero block must quantize to zeros");
    CHECK(b.q.nsum4[0] == -(127 + 0 + 2 - 2) && b.q.nsum4[1] == -(2 - 127 + 0 + 0), "nsum4 %d %d", b.q.nsum4[0],
          b.q.nsum4[1]);
    CHECK(b.q.dxe[7] == 1.0f && b.q.dxe[8] == 0.0f, "dxe must repeat each block's d over its 8 lanes");
    /* the scale is the fp16 value of amax/127 */
    float y[32];
    for (int i = 0; i < 32; i++)
        y[i] = (float)i / 31.0f * 0.3f;
    free(b.mem);
    quantize(&b, y, 32, 1);
    CHECK(b.q.d[0] == mst_fp16_to_fp32(mst_fp32_to_fp16(0.3f / 127.0f)), "d = %.9g is not fp16(0.3/127)", b.q.d[0]);
    free(b.mem);
}

/* Every quantizer (the dispatched one, AVX2, AVX-512: those the CPU has) must equal the scalar rule bit for
 * bit: .5 ties, an all-zero and a -0 block, blocks of many magnitudes, the max in each lane position, a block
 * of denormals and one with a tiny normal max (127/amax overflows there: q = 0 by the rule, and d, the fp16 of
 * amax/127, is 0 too). Non-finite blocks are test_nan_propagation's. Several tokens and a token range that starts past 0, so row offsets count. */
static void test_quantizers_agree(void)
{
    enum { COLS = 256, NT = 7, NB = COLS * NT / 32 };
    uint64_t s = 11;
    float x[COLS * NT];
    fill_uniform(&s, x, COLS * NT, -3.0f, 3.0f);
    for (int i = 0; i < 32; i++) /* block 0 of token 0: amax 127, so q = x and .5 ties decide the rounding */
        x[i] = i == 0 ? 127.0f : (float)(i - 16) + 0.5f;
    for (int i = 32; i < 64; i++) /* block 1: all zero */
        x[i] = 0.0f;
    for (int i = 64; i < 96; i++) /* block 2: all -0 */
        x[i] = -0.0f;
    for (int i = 96; i < 128; i++) /* block 3: denormals */
        x[i] = (float)ldexp((double)(i - 112), -140);
    for (int i = 128; i < 160; i++) /* block 4: zeros and a tiny normal max */
        x[i] = i == 150 ? -2e-38f : 0.0f;
    for (int b = 5; b < NB; b++) { /* the rest: magnitudes 2^-30..2^30, the max moved through the lanes */
        const float m = (float)ldexp(1.0, (int)(rng_next(&s) % 61) - 30);
        for (int i = 0; i < 32; i++)
            x[b * 32 + i] *= m;
        x[b * 32 + b % 32] = (b & 1 ? -4.0f : 4.0f) * m;
    }
    typedef void (*qfn)(const float *, mst_qact *, uint32_t, uint32_t);
    const struct {
        const char *name;
        qfn fn;
        int ok;
    } vs[3] = {{"dispatched", mst_quantize_act, 1},
#if defined(__x86_64__) /* each architecture's kernel files are built for its targets only */
               {"AVX2", mst_quantize_act_avx2, mst_cpu_avx2() != NULL},
               {"AVX-512", mst_quantize_act_avx512, mst_cpu_avx512() != NULL},
#elif defined(__aarch64__)
               {"NEON", mst_quantize_act_neon, mst_cpu_neon() != NULL},
#endif
    };
    qbuf a, b;
    a.mem = xmalloc(mst_qact_bytes(COLS, NT));
    b.mem = xmalloc(mst_qact_bytes(COLS, NT));
    mst_qact_bind(&a.q, a.mem, COLS, NT);
    mst_qact_bind(&b.q, b.mem, COLS, NT);
    mst_quantize_act_ref(x, &a.q, 0, NT);
    CHECK(a.q.qs[96] == 0 && a.q.d[3] == 0.0f && a.q.qs[150] == 0 && a.q.d[4] == 0.0f,
          "the scalar rule: a block whose 127/amax overflows is q = 0, d = fp16(amax/127) = 0");
    for (int v = 0; v < 3; v++) {
        if (!vs[v].ok)
            continue;
        memset(b.mem, 0x5a, mst_qact_bytes(COLS, NT));
        vs[v].fn(x, &b.q, 0, 3); /* in two ranges, as the pool splits tokens */
        vs[v].fn(x, &b.q, 3, NT);
        CHECK(memcmp(a.q.qs, b.q.qs, COLS * NT) == 0, "%s: qs differ from the scalar quantizer's", vs[v].name);
        CHECK(memcmp(a.q.nsum4, b.q.nsum4, COLS * NT) == 0, "%s: nsum4 differ", vs[v].name);
        CHECK(memcmp(a.q.dxe, b.q.dxe, COLS * NT) == 0, "%s: dxe differ", vs[v].name);
        CHECK(memcmp(a.q.d, b.q.d, COLS * NT / 8) == 0, "%s: d differ", vs[v].name);
        CHECK(memcmp(a.q.nbsum8, b.q.nbsum8, COLS * NT / 8) == 0, "%s: nbsum8 differ", vs[v].name);
    }
    free(a.mem);
    free(b.mem);
}

static void check_case(int32_t type, uint32_t rows, uint32_t cols, uint32_t n_tokens, uint64_t seed)
{
    uint64_t s = seed;
    size_t bytes;
    uint8_t *w = make_weights(&s, type, rows, cols, 1.0f, &bytes);
    const size_t row_bytes = bytes / rows, ny = (size_t)n_tokens * rows;
    float *x = xmalloc((size_t)n_tokens * cols * 4);
    fill_uniform(&s, x, (size_t)n_tokens * cols, -1.0f, 1.0f);
    x[0] = 3.0f; /* an outlier, so block scales differ */
    qbuf b;
    quantize(&b, x, cols, n_tokens);
    float *xdq = xmalloc((size_t)n_tokens * cols * 4), *wf = xmalloc((size_t)rows * cols * 4);
    for (size_t i = 0; i < (size_t)n_tokens * cols; i++)
        xdq[i] = b.q.d[i / 32] * b.q.qs[i];
    mst_dequantize_ref(type, w, (uint64_t)rows * cols, wf);
    float *y_ref = xmalloc(ny * 4), *y_dq = xmalloc(ny * 4), *y = xmalloc(ny * 4), *y_split = xmalloc(ny * 4);
    double *bound = xmalloc(ny * sizeof(double));
    mst_kernels_matmul_qa(mst_cpu_scalar(), type)(w, row_bytes, rows, &b.q, y_ref, 0, rows);
    mst_matmul_ref(type, w, row_bytes, rows, cols, xdq, n_tokens, y_dq, 0, rows);
    for (uint32_t t = 0; t < n_tokens; t++)
        for (uint32_t r = 0; r < rows; r++) {
            double sum = 0;
            for (uint32_t c = 0; c < cols; c++)
                sum += fabs((double)wf[(size_t)r * cols + c] * xdq[(size_t)t * cols + c]);
            bound[(size_t)t * rows + r] = TOL * sum + 1e-30;
        }

    /* 3: the reference is W times the dequantized activations */
    int bad = 0;
    for (size_t i = 0; i < ny && !bad; i++)
        if (!(fabs((double)y_ref[i] - y_dq[i]) <= bound[i])) {
            bad = 1;
            CHECK(0, "%s %ux%u t=%u: reference %.9g vs W·dequant(xq) %.9g", mst_type_name(type), rows, cols, n_tokens,
                  y_ref[i], y_dq[i]);
        }
    for (size_t i = 0; i < (size_t)n_tokens * cols && !bad; i++) {
        size_t blk = i / 32;
        float amax = 0;
        for (size_t k = blk * 32; k < blk * 32 + 32; k++)
            amax = fmaxf(amax, fabsf(x[k]));
        if (!(fabs((double)x[i] - xdq[i]) <= 0.5 * b.q.d[blk] + amax * 0x1p-11 + 1e-30)) {
            bad = 1;
            CHECK(0, "activation %zu: %.9g quantized to %.9g (d %.3g)", i, x[i], xdq[i], b.q.d[blk]);
        }
    }

    /* 2: every SIMD variant against the scalar reference */
    check_qa_variants(type, w, row_bytes, rows, cols, &b.q, y_ref, bound, y, y_split);
    free(w), free(x), free(b.mem), free(xdq), free(wf), free(y_ref), free(y_dq), free(y), free(y_split), free(bound);
}

/* x16 kernel fn (from the table named kn) on the repacked wr: within the bound of the scalar reference
 * y_ref, 16-row-aligned splits bit-identical, and the last token alone equal to its row of the batch. */
static void check_repacked_kernel(const char *kn, mst_matmul_qa_fn fn, int32_t type, const uint8_t *wr,
                                  size_t row_bytes, uint32_t rows, uint32_t cols, uint32_t n_tokens, const float *x,
                                  const qbuf *b, const float *wf, const float *y_ref, float *y)
{
    const size_t ny = (size_t)n_tokens * rows;
    float *y_split = xmalloc(ny * 4);
    fn(wr, row_bytes, rows, &b->q, y, 0, rows);
    uint32_t cut = rows / 32 * 16; /* a 16-row boundary near the middle, as the pool splits */
    fn(wr, row_bytes, rows, &b->q, y_split, 0, cut);
    fn(wr, row_bytes, rows, &b->q, y_split, cut, rows);
    int reported = 0;
    for (uint32_t t = 0; t < n_tokens; t++)
        for (uint32_t r = 0; r < rows; r++) {
            size_t i = (size_t)t * rows + r;
            double bound = 0;
            for (uint32_t c = 0; c < cols; c++)
                bound += fabs((double)wf[(size_t)r * cols + c] * b->q.d[((size_t)t * cols + c) / 32] *
                              b->q.qs[(size_t)t * cols + c]);
            bound = TOL * bound + 1e-30;
            double err = fabs((double)y[i] - (double)y_ref[i]);
            if (!(err <= bound) && !reported++)
                CHECK(0, "%s x16 %s rows=%u cols=%u tokens=%u: y[t=%u][r=%u] = %.9g, reference %.9g (err %.3g > %.3g)",
                      mst_type_name(type), kn, rows, cols, n_tokens, t, r, y[i], y_ref[i], err, bound);
            if (memcmp(&y[i], &y_split[i], 4) != 0 && !reported++)
                CHECK(0, "%s x16 %s rows=%u cols=%u tokens=%u: split run differs at t=%u r=%u", mst_type_name(type), kn,
                      rows, cols, n_tokens, t, r);
        }
    /* one token takes the decode path (4 streams of groups, matmul_tile.h), several the tiled one: the last
     * token alone must give its row of the batch bit for bit, so a prompt and its replay agree exactly */
    if (n_tokens > 1) {
        qbuf one;
        quantize(&one, x + (size_t)(n_tokens - 1) * cols, cols, 1);
        float *y1 = xmalloc((size_t)rows * 4);
        fn(wr, row_bytes, rows, &one.q, y1, 0, rows);
        CHECK(memcmp(y1, y + (size_t)(n_tokens - 1) * rows, (size_t)rows * 4) == 0,
              "%s x16 %s rows=%u cols=%u: one token differs from its row of a %u-token batch", mst_type_name(type), kn,
              rows, cols, n_tokens);
        free(y1), free(one.mem);
    }
    free(y_split);
}

/* Every table's x16 kernel for type (AVX2, AVX-VNNI, AVX-512 VNNI: those the CPU has), each checked alone,
 * and all against each other bit for bit: they form the exact integer block sums and the same float
 * operations per row (matmul_q4x16_avx2.c), so a model gives the same tokens on any of these CPUs. */
static void check_repacked_on(int32_t type, const uint8_t *w, size_t bytes, uint32_t rows, uint32_t cols,
                              uint32_t n_tokens, const float *x)
{
    enum { N_TABLES = 3 };
    const mst_cpu_kernels *tables[N_TABLES] = {mst_cpu_avx2(), mst_cpu_avxvnni(), mst_cpu_avx512()};
    const size_t row_bytes = bytes / rows, ny = (size_t)n_tokens * rows;
    uint8_t *wr = xmalloc(bytes);
    (type == MST_TYPE_Q4_0 ? mst_repack_q4_0x16 : mst_repack_q8_0x16)(w, row_bytes, rows, wr);
    qbuf b;
    quantize(&b, x, cols, n_tokens);
    float *wf = xmalloc((size_t)rows * cols * 4);
    mst_dequantize_ref(type, w, (uint64_t)rows * cols, wf);
    float *y_ref = xmalloc(ny * 4), *y = xmalloc(ny * 4), *y_first = NULL;
    mst_kernels_matmul_qa(mst_cpu_scalar(), type)(w, row_bytes, rows, &b.q, y_ref, 0, rows);
    const char *first = NULL;
    for (int k = 0; k < N_TABLES; k++) {
        const mst_cpu_kernels *kt = tables[k];
        mst_matmul_qa_fn fn = !kt ? NULL : type == MST_TYPE_Q4_0 ? kt->matmul_qa_q4_0x16 : kt->matmul_qa_q8_0x16;
        if (!fn)
            continue;
        check_repacked_kernel(kt->name, fn, type, wr, row_bytes, rows, cols, n_tokens, x, &b, wf, y_ref, y);
        g_x16_tables_run |= 1 << k;
        if (!y_first) {
            y_first = y, first = kt->name;
            y = xmalloc(ny * 4);
        } else {
            CHECK(memcmp(y_first, y, ny * 4) == 0, "%s x16 rows=%u cols=%u tokens=%u: %s and %s kernels differ",
                  mst_type_name(type), rows, cols, n_tokens, first, kt->name);
        }
    }
    free(wr), free(b.mem), free(wf), free(y_ref), free(y), free(y_first);
}

/* check_repacked_on over random weights of type and activations in [-1, 1] */
static void check_repacked(int32_t type, uint32_t rows, uint32_t cols, uint32_t n_tokens, uint64_t seed)
{
    uint64_t s = seed;
    size_t bytes;
    uint8_t *w = make_weights(&s, type, rows, cols, 1.0f, &bytes);
    float *x = xmalloc((size_t)n_tokens * cols * 4);
    fill_uniform(&s, x, (size_t)n_tokens * cols, -1.0f, 1.0f);
    check_repacked_on(type, w, bytes, rows, cols, n_tokens, x);
    free(w), free(x);
}

/* Q8_0 at the ends of the integer range: weights -128 and 127 against activations quantized to ±127, in
 * sign patterns that give the largest products of both signs, pair by pair (the AVX2 kernel's pmaddubsw
 * pairs |w|·sign(x, w) reach 2·128·127 = 32512 there, just inside int16) and block by block (|Σ| up to
 * 32·128·127). A pair or a sum that overflowed would be off by a multiple of 65536·d_w·d_x, far outside
 * the bound; the kernels must still equal each other bit for bit. Weight patterns per (row, block):
 * all -128, all 127, -128/127 alternating, random bytes; activation patterns per token: all +1, all -1,
 * ±1 alternating (the alternating weights' signs: every product +128·127 or +127·127), its opposite,
 * uniform. 2 groups, 4 blocks, 5 tokens (a group of 4 and one alone). */
static void check_repacked_q8_extremes(void)
{
    enum { ROWS = 32, COLS = 128, NT = 5, BB = 34 };
    uint64_t s = 99;
    const size_t bytes = (size_t)ROWS * COLS / 32 * BB;
    uint8_t *w = xmalloc(bytes);
    for (size_t blk = 0; blk < bytes / BB; blk++) {
        uint8_t *p = w + blk * BB;
        const uint16_t d = t_fp32_to_fp16(0.25f + 0.125f * (float)(blk % 5));
        memcpy(p, &d, 2);
        const size_t pattern = (blk + blk / (COLS / 32)) % 4; /* varies along a row and down a column */
        for (int i = 0; i < 32; i++)
            p[2 + i] = pattern == 0 ? 0x80 : pattern == 1 ? 0x7F : pattern == 2 ? (i % 2 ? 0x7F : 0x80)
                                                                                 : (uint8_t)rng_next(&s);
    }
    float x[NT * COLS];
    for (int c = 0; c < COLS; c++) {
        x[0 * COLS + c] = 1.0f;
        x[1 * COLS + c] = -1.0f;
        x[2 * COLS + c] = c % 2 ? 1.0f : -1.0f;
        x[3 * COLS + c] = c % 2 ? -1.0f : 1.0f;
    }
    fill_uniform(&s, x + 4 * COLS, COLS, -1.0f, 1.0f);
    check_repacked_on(MST_TYPE_Q8_0, w, bytes, ROWS, COLS, NT, x);
    free(w);
}

static void test_abi_best(void)
{
    /* mst_kernel_matmul BEST = quantize + integer kernel: equal to the scalar quantized reference
     * within the 1e-5 bound, and within the approximation error of the float REFERENCE */
    uint64_t s = 7;
    size_t bytes;
    const uint32_t rows = 9, cols = 96, nt = 3;
    uint8_t *w = make_weights(&s, MST_TYPE_Q4_0, rows, cols, 1.0f, &bytes);
    float x[3 * 96], y[27], yq[27], yr[27];
    fill_uniform(&s, x, nt * cols, -1, 1);
    CHECK(mst_kernel_matmul(MST_IMPL_BEST, MST_TYPE_Q4_0, w, bytes, rows, cols, x, nt, y) == MST_OK, "%s", mst_last_error());
    CHECK(mst_kernel_matmul(MST_IMPL_REFERENCE, MST_TYPE_Q4_0, w, bytes, rows, cols, x, nt, yr) == MST_OK, "%s",
          mst_last_error());
    qbuf b;
    quantize(&b, x, cols, nt);
    mst_matmul_qa_ref_q4_0(w, bytes / rows, rows, &b.q, yq, 0, rows);
    /* 1e-5 of the largest |y| (these outputs are O(1..10)) covers float reordering */
    CHECK(max_abs_diff(y, yq, 27) <= 1e-5 * (max_abs(yq, 27) + 1), "BEST vs quantized reference");
    /* Q8_0 activations move a 96-term dot of O(1) terms by ~1e-2 relative; 5e-2 is a loose ceiling */
    CHECK(max_abs_diff(y, yr, 27) <= 5e-2 * (max_abs(yr, 27) + 1), "BEST vs float REFERENCE: %g",
          max_abs_diff(y, yr, 27));
    CHECK(max_abs_diff(y, yr, 27) > 0, "BEST should not be bit-equal to the float reference for Q4_0");
    free(b.mem);
    free(w);
}

int main(void)
{
    test_rule();
    test_quantizers_agree();
    static const int32_t types[] = {MST_TYPE_Q8_0, MST_TYPE_Q4_0};
    static const uint32_t rows_list[] = {1, 3, 17, 4093};
    static const uint32_t cols_list[] = {32, 96, 4096};
    static const uint32_t tokens_list[] = {1, 5, 13, 16}; /* 13 = 8 + 4 + 1: every token-group size of the tiled kernels */
    uint64_t seed = 1;
    for (int ti = 0; ti < 2; ti++)
        for (int ri = 0; ri < 4; ri++)
            for (int ci = 0; ci < 3; ci++)
                for (int ni = 0; ni < 4; ni++) {
                    /* the cross product minus its largest corner (4093 x 4096 x 5..16 tokens): this test
                     * also runs under valgrind and ASan in the suite, and the corner adds nothing the
                     * 17 x 4096 x 16 and 4093 x 96 x 16 cases do not cover */
                    uint64_t work = (uint64_t)rows_list[ri] * cols_list[ci] * tokens_list[ni];
                    if (work <= 2000000u)
                        check_case(types[ti], rows_list[ri], cols_list[ci], tokens_list[ni], seed);
                    seed++;
                }
    check_case(MST_TYPE_Q4_0, 4093, 4096, 1, seed++); /* the decode shape, once */
    /* 48: fewer groups than decode streams; 80: one group per stream plus a tail group */
    static const uint32_t rows16[] = {16, 48, 80, 1024};
    for (int ri = 0; ri < 4; ri++)
        for (int ci = 0; ci < 3; ci++)
            for (int ni = 0; ni < 4; ni++)
                if ((uint64_t)rows16[ri] * cols_list[ci] * tokens_list[ni] <= 2000000u)
                    for (int ti = 0; ti < 2; ti++)
                        check_repacked(types[ti], rows16[ri], cols_list[ci], tokens_list[ni], seed++);
    check_repacked(MST_TYPE_Q4_0, 4096, 4096, 1, seed++);
    check_repacked(MST_TYPE_Q8_0, 1024, 4096, 1, seed++);
    check_repacked_q8_extremes();
    test_abi_best();
    printf("variants checked: %s%s%s%s%s; x16 kernels: %s%s%s\n", mst_cpu_avx2() ? "avx2 " : "",
           mst_cpu_avx512() ? mst_cpu_avx512()->name : "", mst_cpu_neon() ? "neon " : "",
           mst_cpu_dotprod() ? "dotprod " : "", mst_cpu_i8mm() ? "i8mm" : "", g_x16_tables_run & 1 ? "avx2 " : "",
           g_x16_tables_run & 2 ? "avxvnni " : "", g_x16_tables_run & 4 ? "avx512" : "");
    return finish("kernel_matmul_qa");
}
