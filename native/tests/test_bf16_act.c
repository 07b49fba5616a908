/* test_bf16_act.c — BF16 matrices on bf16-rounded activations (quant_act_bf16.h): the rounding rule, the
 * MST_LAYOUT_BF16X16P repacking, and its kernels (matmul_bf16p_avx512.c) where this CPU has them.
 *
 * Rounding: mst_round_bf16 against the rule restated in arithmetic (frexp/nearbyint on doubles, not bit
 * tricks) over random floats of every magnitude, exact ties both ways, the largest finite values, infinities,
 * NaNs whose payload sits only in the low 16 bits, denormals and signed zeros; mst_round_act_bf16's float and
 * pair copies hold the same values.
 *
 * Kernels, bound: |y - y_ref| <= (K + ceil(cols/K) + 1) · 2^-24 · 1.01 · Σ_c |w_rc · xr_c|, K = min(MST_X16_FLUSH,
 * cols), y_ref the double-accumulating mst_matmul_ref_bf16 on the file's layout and the ROUNDED activations xr.
 * Why: a product of two bf16 values (8 significant bits each) is exact in fp32, so each multiply-add (an
 * FMA, or each of vdpbf16ps's two adds) rounds once; a lane sums K columns from zero (at most K roundings,
 * each at most 2^-24 times a partial sum no bigger than Σ|w·x|, first order; 1.01 covers the higher-order
 * terms) and adds that into a running sum (ceil(cols/K) more); +1 is the reference's own rounding to float:
 * 14336 columns give 1.44e-5 relative, 34 columns 2.1e-6. Denormals, which vdpbf16ps flushes, cannot occur
 * here: weights and activations are bf16 values of magnitude at least about 2^-40 (uniform draws), so every
 * nonzero product and partial sum is a multiple of about 2^-96, far above 2^-126. A kernel that drops or repeats a
 * column or a pair half, swaps the halves, or reads another row fails the bound by orders of magnitude.
 * Also: runs split at 16-row boundaries are bit-identical to the whole run; each token alone (the decode
 * path) gives its row of the batch bit for bit; un-interleaving the repacked matrix gives the original bytes;
 * and where the CPU has AVX512_BF16 the vdpbf16ps kernel equals the FMA one bit for bit, which holds only if
 * vdpbf16ps rounds after each product, odd column first, as the Intel SDM describes (the FMA kernel's
 * order). */
#include "test_util.h"
#include "cpu/ops.h"
#include "cpu/quant.h"
#include "cpu/quant_act_bf16.h"
#include "cpu/repack.h"

static uint32_t bits_of(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float float_of(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* The rule, restated: NaN -> a NaN of the same sign; |v| < 2^-126 -> zero of v's sign; else v rounded to 8
 * significant bits, ties to even (an infinity when that passes the largest bf16, as IEEE rounding gives). */
static void expect_round(float f)
{
    const uint16_t got = mst_round_bf16(f);
    const float g = float_of((uint32_t)got << 16);
    int ok;
    if (isnan(f)) {
        ok = isnan(g) && signbit(g) == signbit(f);
    } else if (fabsf(f) < 0x1p-126f) {
        ok = g == 0.0f && signbit(g) == signbit(f);
    } else if (isinf(f)) {
        ok = g == f;
    } else {
        int e;
        (void)frexp((double)f, &e);
        const double want = ldexp(nearbyint(ldexp((double)f, 8 - e)), e - 8); /* may reach 2^128: inf as float */
        ok = (double)g == (want >= 0x1p128 ? INFINITY : want <= -0x1p128 ? -INFINITY : want);
    }
    CHECK(ok, "bf16 rounding of %a (bits %08x) gave %04x (%a)", (double)f, bits_of(f), got, (double)g);
}

static void test_rounding(void)
{
    static const uint32_t special[] = {
        0x00000000u, 0x80000000u,             /* signed zeros */
        0x00000001u, 0x807fffffu, 0x00400000u, /* denormals: become signed zeros */
        0x00800000u, 0x80800000u,             /* the smallest normals stay */
        0x3f808000u, 0x3f818000u,             /* exact ties: 1 + 2^-8 rounds down (even), 1 + 3·2^-8 up */
        0x3f808001u, 0x3f807fffu,             /* just past and just short of a tie */
        0x7f7fffffu, 0x7f7f7fffu, 0xff7f8000u, /* largest floats: inf; stays; tie to even = inf */
        0x7f800000u, 0xff800000u,             /* infinities stay */
        0x7fc00000u, 0xffc00001u, 0x7f800001u, 0xff80ffffu, /* NaNs, two with payload only in the low bits */
    };
    for (size_t i = 0; i < sizeof special / sizeof special[0]; i++)
        expect_round(float_of(special[i]));
    uint64_t s = 7;
    for (int i = 0; i < 200000; i++)
        expect_round(float_of((uint32_t)rng_next(&s))); /* every exponent, NaNs and denormals included */

    /* the set's two copies: xr[c] is the pair half of column c as a float; odd cols pad with zero */
    const uint32_t cols = 37, n = 3;
    float *x = xmalloc(cols * n * 4);
    fill_uniform(&s, x, (size_t)cols * n, -3.0f, 3.0f);
    void *buf = xmalloc(mst_qact_bf16_bytes(cols, n));
    mst_qact q;
    mst_qact_bind_bf16(&q, buf, cols, n);
    mst_round_act_bf16(x, &q, 0, n);
    const uint32_t pairs = (cols + 1) / 2;
    int bad = 0;
    for (uint32_t t = 0; t < n; t++)
        for (uint32_t c = 0; c < 2 * pairs; c++) {
            const uint32_t pair = q.xp[t * pairs + c / 2], half = (c & 1) ? pair >> 16 : pair & 0xffffu;
            if (c >= cols) {
                bad += half != 0;
                continue;
            }
            bad += half != mst_round_bf16(x[t * cols + c]) || bits_of(q.xr[t * cols + c]) != half << 16;
        }
    CHECK(bad == 0, "mst_round_act_bf16: %d values of the float and pair copies disagree with the rule", bad);
    CHECK(q.format == MST_QACT_BF16, "mst_qact_bind_bf16 sets format %d", q.format);
    free(x), free(buf);
}

typedef struct kernel {
    const char *name;
    mst_matmul_qa_fn fn;
} kernel;

static void check_case(const kernel *ks, int nk, uint32_t rows, uint32_t cols, uint32_t n_tokens, uint64_t seed)
{
    uint64_t s = seed;
    size_t bytes;
    uint8_t *w = make_weights(&s, MST_TYPE_BF16, rows, cols, 1.0f, &bytes);
    const size_t row_bytes = bytes / rows, ny = (size_t)n_tokens * rows;
    uint8_t *wp = xmalloc(bytes);
    mst_repack_bf16x16p(w, row_bytes, rows, wp);
    int mismatched = 0;
    for (uint32_t r = 0; r < rows && !mismatched; r++)
        for (uint32_t c = 0; c < cols && !mismatched; c++) {
            /* element (r, c) as the layout says: group r/16, pair c/2 (64 bytes), lane r%16, half c%2 */
            const size_t at = (size_t)(r / 16) * 16 * row_bytes + (size_t)(c / 2) * 64 + (r % 16) * 4 + (c % 2) * 2;
            mismatched = memcmp(w + (size_t)r * row_bytes + 2 * (size_t)c, wp + at, 2) != 0;
        }
    CHECK(!mismatched, "BF16X16P rows=%u cols=%u: un-interleaving does not give the original", rows, cols);

    float *x = xmalloc((size_t)n_tokens * cols * 4);
    fill_uniform(&s, x, (size_t)n_tokens * cols, -1.0f, 1.0f);
    void *buf = xmalloc(mst_qact_bf16_bytes(cols, n_tokens)), *buf1 = xmalloc(mst_qact_bf16_bytes(cols, 1));
    mst_qact q, q1;
    mst_qact_bind_bf16(&q, buf, cols, n_tokens);
    mst_round_act_bf16(x, &q, 0, n_tokens);
    float *wf = xmalloc((size_t)rows * cols * 4), *y_ref = xmalloc(ny * 4), *y_first = xmalloc(ny * 4);
    float *y = xmalloc(ny * 4), *y_split = xmalloc(ny * 4), *y1 = xmalloc((size_t)rows * 4);
    mst_dequantize_ref(MST_TYPE_BF16, w, (uint64_t)rows * cols, wf);
    mst_matmul_ref_bf16(w, row_bytes, rows, cols, q.xr, n_tokens, y_ref, 0, rows);
    const uint32_t kk = cols < MST_X16_FLUSH ? cols : MST_X16_FLUSH;
    const double tol = (kk + (cols + MST_X16_FLUSH - 1) / MST_X16_FLUSH + 1) * 0x1p-24 * 1.01;
    for (int k = 0; k < nk; k++) {
        ks[k].fn(wp, row_bytes, rows, &q, y, 0, rows);
        const uint32_t cut1 = rows / 48 * 16, cut2 = rows - rows / 64 * 16; /* cut as the pool cuts */
        ks[k].fn(wp, row_bytes, rows, &q, y_split, 0, cut1);
        ks[k].fn(wp, row_bytes, rows, &q, y_split, cut1, cut2);
        ks[k].fn(wp, row_bytes, rows, &q, y_split, cut2, rows);
        check_matmul_result(ks[k].name, "BF16X16P", wf, q.xr, y, y_ref, y_split, rows, cols, n_tokens, tol, 1e-30);
        for (uint32_t t = 0; t < n_tokens && n_tokens > 1; t++) {
            mst_qact_bind_bf16(&q1, buf1, cols, 1);
            mst_round_act_bf16(x + (size_t)t * cols, &q1, 0, 1);
            ks[k].fn(wp, row_bytes, rows, &q1, y1, 0, rows);
            if (memcmp(y1, y + (size_t)t * rows, (size_t)rows * 4) != 0) {
                CHECK(0, "%s BF16X16P rows=%u cols=%u tokens=%u: token %u alone differs from its row of the batch",
                      ks[k].name, rows, cols, n_tokens, t);
                break;
            }
        }
        if (k == 0)
            memcpy(y_first, y, ny * 4);
        else
            CHECK(memcmp(y, y_first, ny * 4) == 0, "BF16X16P rows=%u cols=%u tokens=%u: %s and %s differ", rows, cols,
                  n_tokens, ks[k].name, ks[0].name);
    }
    free(w), free(wp), free(x), free(buf), free(buf1), free(wf), free(y_ref), free(y_first), free(y), free(y_split),
        free(y1);
}

static void test_kernels(void)
{
    kernel ks[2];
    int nk = 0;
#if defined(__x86_64__)
    if (mst_cpu_avx512())
        ks[nk++] = (kernel){"avx512 fma", mst_matmul_qa_bf16x16p_avx512};
    if (mst_cpu_avx512() && (mst_cpu_detect() & MST_CPU_AVX512BF16))
        ks[nk++] = (kernel){"avx512 vdpbf16ps", mst_matmul_qa_bf16x16p_avx512bf16};
#endif
    if (nk == 0) {
        printf("no BF16X16P kernels on this CPU, skipped\n");
        return;
    }
    static const uint32_t rows_small[] = {16, 48, 80};          /* 1, 3 and 5 groups: odd pairs, 4 streams + 1 */
    static const uint32_t cols_small[] = {2, 34, 130, 4096};     /* one pair; odd pair counts; FLUSH + 2; 32 × FLUSH */
    static const uint32_t tokens_list[] = {1, 5, 8, 13, 16, 29}; /* blocks of 12/8/4/1 and their mixes */
    uint64_t seed = 1;
    for (size_t ri = 0; ri < sizeof rows_small / 4; ri++)
        for (size_t ci = 0; ci < sizeof cols_small / 4; ci++)
            for (size_t ni = 0; ni < sizeof tokens_list / 4; ni++)
                check_case(ks, nk, rows_small[ri], cols_small[ci], tokens_list[ni], seed++);
    /* large shapes, work capped (the test also runs under ASan): several L2 tiles, 4 decode streams over 64
     * groups, 14336-wide rows */
    check_case(ks, nk, 256, 4096, 13, seed++);
    check_case(ks, nk, 1024, 4096, 1, seed++);
    check_case(ks, nk, 64, 14336, 13, seed++);
    for (int k = 0; k < nk; k++)
        printf("%s: checked\n", ks[k].name);
}

int main(void)
{
    test_rounding();
    test_kernels();
    return finish("kernel_bf16_act");
}
