/* test_kquant_qa.c — K-quant weights on Q8_K-quantized activations (quant_act_k.h).
 *
 * 1. Q8_K quantization against a restatement of the rule written here (its own argmax and its own
 *    round-half-to-even on floor), bit for bit: random blocks, an all-zero block, exact .5 ties, a block
 *    whose max is negative, and +a/-a tied in |x| (the first wins). bsum16 recomputed.
 * 2. The 32-bit-word scale unpacking (mst_k4_scale_min16) equals mst_k4_scale_min on random bytes.
 * 3. The scalar reference against the double-accumulating float reference run on the dequantized
 *    activations (d·q), and every SIMD variant against the scalar reference. All compute exact integer
 *    sums per super-block; floats enter per super-block (int->float, d_w·d_x, one add), then a sum over at
 *    most 16 super-blocks and 8/16 lanes: a float error of (nb + log2(lanes) + 3)·2^-24 ≈ 1.5e-6 of the sum
 *    of the magnitudes of the terms added. The terms are d·sc·q·x and dmin·m·x (they cancel inside a
 *    weight, so |w·x| alone is too small a yardstick): bound = 1e-5 · Σ_c (|wS_c·xq_c| + |wM_c·xq_c|), wS and
 *    wM the weights dequantized with dmin = 0 and with d = 0. One wrong quant of 256 moves y by ~1e-3 of
 *    that sum, far above it. Split row ranges must be bit-identical (the pool splits that way).
 *    The AArch64 kernels (NEON, dotprod; Q4_K, Q5_K, Q6_K) add the per-super-block floats with the reference's
 *    own expressions in its order (matmul_kquant_qa_arm.h), so they must equal it bit for bit, not only within
 *    the bound.
 * 4. The approximation: every dequantized activation is within |d|/2·(1 + 1e-4) of x, which is at most
 *    amax/254·(1 + 1e-4): half a step, plus the float rounding of iscale·x (<= 127·2^-24 of a step before
 *    rounding to an integer) and of d = 1/iscale and d·q (2^-24 each), together < 5e-5 of half a step. So
 *    the result is within Σ_c |w_c|·amax_c/254·(1 + 1e-4) plus the bound of 3 of the float reference on x.
 * 5. The ABI: mst_kernel_matmul BEST for K-quants is the quantized kernel (equals the scalar quantized
 *    reference within the bound of 3), REFERENCE stays float. */
#include <math.h>

#include "test_qact.h"
#include "cpu/ops.h"
#include "cpu/quant.h"
#include "cpu/quant_act_k.h"
#include "cpu/quant_k.h"

static const double TOL = 1e-5;
static const int32_t QA_TYPES[] = {MST_TYPE_Q2_K, MST_TYPE_Q3_K, MST_TYPE_Q4_K, MST_TYPE_Q5_K, MST_TYPE_Q6_K};
enum { N_QA_TYPES = 5 };

/* Byte offsets of the fp16 d and dmin (-1: none) of each type's block. */
static int d_at(int32_t type)
{
    return type == MST_TYPE_Q2_K ? 80 : type == MST_TYPE_Q3_K ? 108 : type == MST_TYPE_Q6_K ? 208 : 0;
}

static int dmin_at(int32_t type)
{
    return type == MST_TYPE_Q2_K ? 82 : type == MST_TYPE_Q4_K || type == MST_TYPE_Q5_K ? 2 : -1;
}

/* ---- 1: the rule, restated ---- */

static float round_half_even(float v)
{
    float f = floorf(v), r = v - f; /* exact for |v| < 2^23 */
    if (r > 0.5f || (r == 0.5f && fmodf(f, 2.0f) != 0.0f))
        f += 1.0f;
    return f;
}

static void expect_q8_k(const float *x, int8_t *q, float *d, int16_t *bs)
{
    int arg = 0;
    for (int i = 1; i < 256; i++)
        if (fabsf(x[i]) > fabsf(x[arg]))
            arg = i;
    const float max = x[arg];
    *d = 0.0f;
    memset(q, 0, 256);
    if (max != 0.0f) {
        const float iscale = -127.0f / max;
        for (int i = 0; i < 256; i++) {
            float v = round_half_even(iscale * x[i]);
            q[i] = (int8_t)(v > 127.0f ? 127.0f : v);
        }
        *d = 1.0f / iscale;
    }
    for (int j = 0; j < 16; j++) {
        int s = 0;
        for (int i = 0; i < 16; i++)
            s += q[16 * j + i];
        bs[j] = (int16_t)s;
    }
}

static void test_rule(void)
{
    enum { NB = 9 };
    float x[256 * NB];
    uint64_t s = 5;
    fill_uniform(&s, x, 256 * NB, -2.0f, 2.0f);
    /* block 1: max -127 so iscale = 1 and q = round-half-even(x): ties go to even */
    for (int i = 0; i < 256; i++)
        x[256 + i] = i == 7 ? -127.0f : (float)((i % 200) - 100) + 0.5f;
    /* block 2: all zero */
    memset(x + 512, 0, 256 * sizeof(float));
    /* block 3: +3 then -3 tie in |x|: the first (+3) is the max, so iscale = -127/3 and d < 0 */
    fill_uniform(&s, x + 768, 256, -1.0f, 1.0f);
    x[768 + 10] = 3.0f;
    x[768 + 200] = -3.0f;
    /* block 4: the same tie, other order: max = -3 */
    fill_uniform(&s, x + 1024, 256, -1.0f, 1.0f);
    x[1024 + 10] = -3.0f;
    x[1024 + 200] = 3.0f;
    /* block 5: one tiny value among zeros */
    memset(x + 1280, 0, 256 * sizeof(float));
    x[1280 + 255] = 1e-30f;
    qbuf b;
    quantize_k(&b, x, 256 * NB, 1);
    for (int k = 0; k < NB; k++) {
        int8_t q[256];
        float d;
        int16_t bs[16];
        expect_q8_k(x + 256 * k, q, &d, bs);
        CHECK(memcmp(q, b.q.qs + 256 * k, 256) == 0, "block %d: q differs from the restated rule", k);
        CHECK(memcmp(&d, &b.q.d[k], 4) == 0, "block %d: d %.9g, restated %.9g", k, b.q.d[k], d);
        CHECK(memcmp(bs, b.q.bsum16 + 16 * k, sizeof bs) == 0, "block %d: bsum16 differs", k);
    }
    /* hand values of block 1 (iscale 1): 0.5 -> 0, 1.5 -> 2, -0.5 -> 0, -1.5 -> -2, 2.5 -> 2; the max -> -127 */
    const int idx[] = {100, 101, 99, 98, 102, 7};
    const int want[] = {0, 2, 0, -2, 2, -127};
    for (int k = 0; k < 6; k++)
        CHECK(b.q.qs[256 + idx[k]] == want[k], "x = %g quantized to %d, want %d", x[256 + idx[k]], b.q.qs[256 + idx[k]],
              want[k]);
    CHECK(b.q.d[1] == 1.0f && b.q.d[2] == 0.0f, "d of the -127 block %g (want 1), of the zero block %g", b.q.d[1], b.q.d[2]);
    CHECK(b.q.d[3] < 0.0f && b.q.qs[768 + 10] == -127 && b.q.qs[768 + 200] == 127, "first-max tie: d %g, q %d %d",
          b.q.d[3], b.q.qs[768 + 10], b.q.qs[768 + 200]);
    CHECK(b.q.d[4] > 0.0f && b.q.qs[1024 + 10] == -127 && b.q.qs[1024 + 200] == 127, "first-max tie (negative first)");
    free(b.mem);
}

/* The AVX-512 and AVX2 quantizers against the scalar one, bit for bit: random blocks of many magnitudes, ties
 * in |x| (first wins, within one vector and across vectors), all-zero and -0 blocks, NaN and ±inf (the block
 * becomes q = 0, d = NaN), denormals (-127/max overflows: every product is ±inf or NaN), and a tiny normal max
 * with zeros beside it (the same overflow, 0·inf = NaN products). Several tokens, so the row offsets count. */
static void test_quantizer_variants(void)
{
    typedef void (*qfn)(const float *, mst_qact *, uint32_t, uint32_t);
    struct {
        const char *name;
        qfn fn;
        int ok;
    } vs[2] = {
#if defined(__x86_64__) /* the x86 kernel files are built for x86-64 targets only */
        {"AVX-512", mst_quantize_act_k_avx512, mst_cpu_avx512() != NULL},
        {"AVX2", mst_quantize_act_k_avx2, mst_cpu_avx2() != NULL},
#else
        {"none", NULL, 0},
#endif
    };
    enum { NB = 40, NT = 2 };
    float *x = xmalloc(256 * NB * NT * sizeof(float));
    uint64_t s = 21;
    for (int k = 0; k < NB; k++) {
        const float scale = (float)ldexp(1.0, (int)(rng_next(&s) % 80) - 40);
        fill_uniform(&s, x + 256 * k, 256, -scale, scale);
    }
    x[256 * 1 + 3] = 5.0f, x[256 * 1 + 130] = -5.0f;   /* tie, positive first */
    x[256 * 2 + 17] = -5.0f, x[256 * 2 + 18] = 5.0f;   /* tie, negative first */
    memset(x + 256 * 3, 0, 256 * sizeof(float));
    for (int i = 0; i < 256; i++)
        x[256 * 4 + i] = -0.0f;
    x[256 * 5 + 9] = NAN, x[256 * 5 + 200] = -NAN;
    x[256 * 6 + 40] = INFINITY;
    x[256 * 7 + 41] = -INFINITY, x[256 * 7 + 90] = INFINITY;
    for (int i = 0; i < 256; i++)
        x[256 * 8 + i] = (float)ldexp((double)(i - 128), -140); /* denormals */
    for (int i = 0; i < 256; i++)
        x[256 * 9 + i] = NAN;
    memset(x + 256 * 10, 0, 256 * sizeof(float));
    x[256 * 10 + 77] = -1e-37f; /* normal, but -127/max overflows: the zeros beside it give 0·inf */
    x[256 * 10 + 78] = 3e-38f;
    fill_uniform(&s, x + 256 * 11, 512, -1.0f, 1.0f);
    x[256 * 11 + 0] = 7.0f, x[256 * 11 + 1] = -7.0f;  /* tie inside the first vector */
    x[256 * 12 + 255] = 9.0f;                          /* the max in the last lane */
    for (int i = 0; i < 256; i++)                       /* ties at rounding: q = ±(k + 0.5) before rounding */
        x[256 * 13 + i] = i == 0 ? -127.0f : (float)((i % 253) - 126) + 0.5f * (i & 1 ? 1.0f : -1.0f);
    for (int k = 0; k < NB; k++) /* token 1: token 0's blocks in reverse order */
        memcpy(x + 256 * NB + 256 * k, x + 256 * (NB - 1 - k), 256 * sizeof(float));
    mst_qact a, b;
    void *ma = xmalloc(mst_qact_k_bytes(256 * NB, NT)), *mb = xmalloc(mst_qact_k_bytes(256 * NB, NT));
    mst_qact_bind_k(&a, ma, 256 * NB, NT);
    mst_qact_bind_k(&b, mb, 256 * NB, NT);
    mst_quantize_act_k_ref(x, &a, 0, NT);
    for (int v = 0; v < 2; v++) {
        if (!vs[v].ok)
            continue;
        memset(mb, 0x5a, mst_qact_k_bytes(256 * NB, NT));
        vs[v].fn(x, &b, 0, NT);
        for (int k = 0; k < NB * NT; k++) {
            CHECK(memcmp(a.qs + 256 * k, b.qs + 256 * k, 256) == 0, "%s quantizer: block %d q differs", vs[v].name, k);
            CHECK(memcmp(&a.d[k], &b.d[k], 4) == 0, "%s quantizer: block %d d %.9g vs %.9g", vs[v].name, k, b.d[k],
                  a.d[k]);
            CHECK(memcmp(a.bsum16 + 16 * k, b.bsum16 + 16 * k, 32) == 0, "%s quantizer: block %d bsum16 differs",
                  vs[v].name, k);
        }
    }
    free(ma), free(mb), free(x);
}

static void test_scale_unpack(void)
{
    uint64_t s = 9;
    for (int k = 0; k < 1000; k++) {
        uint8_t b[12], sc[8], mn[8], sm[16];
        for (int i = 0; i < 12; i++)
            b[i] = (uint8_t)rng_next(&s);
        mst_k4_scale_min(b, sc, mn);
        mst_k4_scale_min16(b, sm);
        CHECK(memcmp(sc, sm, 8) == 0 && memcmp(mn, sm + 8, 8) == 0, "mst_k4_scale_min16 differs (case %d)", k);
    }
}

/* ---- 3, 4: kernels ---- */

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

/* Random bytes (every packing bit pattern) with sane fp16 scales. */
static uint8_t *k_weights(uint64_t *s, int32_t type, uint32_t rows, uint32_t cols, size_t *bytes)
{
    size_t nb = (size_t)rows * cols / 256, bb = mst_type_block_bytes(type);
    uint8_t *w = xmalloc(nb * bb);
    for (size_t k = 0; k < nb; k++) {
        uint8_t *b = w + k * bb;
        for (size_t i = 0; i < bb; i++)
            b[i] = (uint8_t)rng_next(s);
        uint16_t d = t_fp32_to_fp16(rng_uniform(s, 0.002f, 0.02f)), dm = t_fp32_to_fp16(rng_uniform(s, 0.002f, 0.02f));
        put16(b + d_at(type), d);
        if (dmin_at(type) >= 0)
            put16(b + dmin_at(type), dm);
    }
    *bytes = nb * bb;
    return w;
}

/* wS: weights with dmin = 0 (d·sc·q); wM: with d = 0 (-dmin·m; zero for Q3_K/Q6_K, which have no mins). */
static void split_weights(int32_t type, const uint8_t *w, size_t bytes, uint64_t n, float *wS, float *wM)
{
    uint8_t *c = xmalloc(bytes);
    const size_t bb = mst_type_block_bytes(type);
    memcpy(c, w, bytes);
    if (dmin_at(type) >= 0)
        for (size_t k = 0; k < bytes / bb; k++)
            put16(c + k * bb + dmin_at(type), 0);
    mst_dequantize_ref(type, c, n, wS);
    if (dmin_at(type) < 0) {
        memset(wM, 0, n * sizeof(float));
    } else {
        memcpy(c, w, bytes);
        for (size_t k = 0; k < bytes / bb; k++)
            put16(c + k * bb + d_at(type), 0);
        mst_dequantize_ref(type, c, n, wM);
    }
    free(c);
}

/* 3c: the AArch64 tables' Q4_K/Q5_K/Q6_K kernels against the scalar reference, bit for bit (see 3 above). */
static void check_arm_exact(int32_t type, const uint8_t *w, size_t row_bytes, uint32_t rows, const mst_qact *q,
                            const float *y_ref, float *y)
{
    if (type != MST_TYPE_Q4_K && type != MST_TYPE_Q5_K && type != MST_TYPE_Q6_K)
        return;
    const mst_cpu_kernels *arm[3] = {mst_cpu_neon(), mst_cpu_dotprod(), mst_cpu_i8mm()};
    const size_t ny = (size_t)q->n_tokens * rows;
    for (int v = 0; v < 3; v++) {
        if (!arm[v])
            continue;
        memset(y, 0x7f, ny * sizeof *y);
        mst_kernels_matmul_qa(arm[v], type)(w, row_bytes, rows, q, y, 0, rows);
        for (size_t i = 0; i < ny; i++)
            if (memcmp(&y[i], &y_ref[i], 4) != 0) {
                CHECK(0, "%s %s rows=%u cols=%u tokens=%u: y[%zu] = %.9g, reference %.9g: not bit-identical",
                      arm[v]->name, mst_type_name(type), rows, q->cols, q->n_tokens, i, y[i], y_ref[i]);
                break;
            }
    }
}

static void check_case(int32_t type, uint32_t rows, uint32_t cols, uint32_t n_tokens, uint64_t seed)
{
    uint64_t s = seed;
    size_t bytes;
    uint8_t *w = k_weights(&s, type, rows, cols, &bytes);
    const size_t row_bytes = bytes / rows, ny = (size_t)n_tokens * rows, nx = (size_t)n_tokens * cols;
    float *x = xmalloc(nx * 4);
    fill_uniform(&s, x, nx, -1.0f, 1.0f);
    x[0] = 3.0f; /* an outlier, so block scales differ */
    qbuf b;
    quantize_k(&b, x, cols, n_tokens);
    float *xdq = xmalloc(nx * 4), *wf = xmalloc((size_t)rows * cols * 4);
    float *wS = xmalloc((size_t)rows * cols * 4), *wM = xmalloc((size_t)rows * cols * 4);
    for (size_t i = 0; i < nx; i++)
        xdq[i] = b.q.d[i / 256] * (float)b.q.qs[i];
    mst_dequantize_ref(type, w, (uint64_t)rows * cols, wf);
    split_weights(type, w, bytes, (uint64_t)rows * cols, wS, wM);
    float *y_ref = xmalloc(ny * 4), *y_dq = xmalloc(ny * 4), *y_fl = xmalloc(ny * 4), *y = xmalloc(ny * 4),
          *y_split = xmalloc(ny * 4);
    double *bound = xmalloc(ny * sizeof(double)), *qbound = xmalloc(ny * sizeof(double));
    mst_matmul_qa_fn ref = mst_kernels_matmul_qa(mst_cpu_scalar(), type);
    CHECK(ref != NULL, "no scalar Q8_K kernel for %s", mst_type_name(type));
    ref(w, row_bytes, rows, &b.q, y_ref, 0, rows);
    mst_matmul_ref(type, w, row_bytes, rows, cols, xdq, n_tokens, y_dq, 0, rows);
    mst_matmul_ref(type, w, row_bytes, rows, cols, x, n_tokens, y_fl, 0, rows);
    float *bmax = xmalloc(nx / 256 * 4); /* each block's max |x|, for the rounding bound */
    for (size_t k = 0; k < nx / 256; k++) {
        bmax[k] = 0;
        for (size_t i = 256 * k; i < 256 * k + 256; i++)
            bmax[k] = fmaxf(bmax[k], fabsf(x[i]));
    }
    for (uint32_t t = 0; t < n_tokens; t++) {
        for (uint32_t r = 0; r < rows; r++) {
            double sum = 0, qsum = 0, fsum = 0;
            for (uint32_t c = 0; c < cols; c++) {
                size_t wi = (size_t)r * cols + c, xi = (size_t)t * cols + c;
                sum += (fabs((double)wS[wi]) + fabs((double)wM[wi])) * fabs((double)xdq[xi]);
                fsum += (fabs((double)wS[wi]) + fabs((double)wM[wi])) * fabs((double)x[xi]);
                qsum += fabs((double)wf[wi]) * bmax[xi / 256] / 254.0 * (1 + 1e-4);
            }
            bound[(size_t)t * rows + r] = TOL * sum + 1e-30;
            qbound[(size_t)t * rows + r] = qsum + TOL * (sum + fsum) + 1e-30;
        }
    }
    const char *tn = mst_type_name(type);
    /* 3a: the scalar reference is W times the dequantized activations */
    int bad = 0;
    for (size_t i = 0; i < ny && !bad; i++)
        if (!(fabs((double)y_ref[i] - y_dq[i]) <= bound[i]))
            { bad = 1; CHECK(0, "%s %ux%u t=%u: reference %.9g vs W·dequant(xq) %.9g (bound %.3g)", tn, rows, cols,
                           n_tokens, y_ref[i], y_dq[i], bound[i]); }
    /* 4: each activation within half a step, the result within the rounding bound of the float one */
    for (size_t i = 0; i < nx && !bad; i++) {
        const float d = b.q.d[i / 256];
        if (!(fabs((double)x[i] - xdq[i]) <= fabs(d) * 0.5 * (1 + 1e-4) + 1e-30))
            { bad = 1; CHECK(0, "%s activation %zu: %.9g quantized to %.9g (d %.3g)", tn, i, x[i], xdq[i], d); }
    }
    for (size_t i = 0; i < ny && !bad; i++)
        if (!(fabs((double)y_ref[i] - y_fl[i]) <= qbound[i]))
            { bad = 1; CHECK(0, "%s %ux%u: Q8_K result %.9g vs float %.9g beyond the rounding bound %.3g", tn, rows, cols,
                           y_ref[i], y_fl[i], qbound[i]); }

    /* 3b: every SIMD variant against the scalar reference */
    check_qa_variants(type, w, row_bytes, rows, cols, &b.q, y_ref, bound, y, y_split);
    check_arm_exact(type, w, row_bytes, rows, &b.q, y_ref, y);
    free(w), free(x), free(b.mem), free(xdq), free(wf), free(wS), free(wM), free(y_ref), free(y_dq), free(y_fl);
    free(y), free(y_split), free(bound), free(qbound), free(bmax);
}

static void test_abi_best(void)
{
    uint64_t s = 21;
    for (int ti = 0; ti < N_QA_TYPES; ti++) {
        const int32_t type = QA_TYPES[ti];
        const uint32_t rows = 7, cols = 512, nt = 5;
        size_t bytes;
        uint8_t *w = k_weights(&s, type, rows, cols, &bytes);
        float x[5 * 512], y[35], yq[35], yr[35];
        fill_uniform(&s, x, nt * cols, -1, 1);
        CHECK(mst_kernel_matmul(MST_IMPL_BEST, type, w, bytes, rows, cols, x, nt, y) == MST_OK, "%s", mst_last_error());
        CHECK(mst_kernel_matmul(MST_IMPL_REFERENCE, type, w, bytes, rows, cols, x, nt, yr) == MST_OK, "%s",
              mst_last_error());
        qbuf b;
        quantize_k(&b, x, cols, nt);
        mst_kernels_matmul_qa(mst_cpu_scalar(), type)(w, bytes / rows, rows, &b.q, yq, 0, rows);
        /* 1e-5 of the largest |y| plus 1e-6: float reordering only (outputs here are O(0.1..1)) */
        CHECK(max_abs_diff(y, yq, 35) <= 1e-5 * max_abs(yq, 35) + 1e-6, "%s BEST vs quantized reference: %g",
              mst_type_name(type), max_abs_diff(y, yq, 35));
        CHECK(max_abs_diff(y, yr, 35) > 0, "%s BEST should not be bit-equal to the float REFERENCE", mst_type_name(type));
        free(b.mem);
        free(w);
    }
}

int main(void)
{
    test_rule();
    test_quantizer_variants();
    test_scale_unpack();
    static const uint32_t rows_list[] = {1, 3, 17, 301};
    static const uint32_t cols_list[] = {256, 768, 4096};
    static const uint32_t tokens_list[] = {1, 4, 5, 9};
    uint64_t seed = 1;
    for (int ti = 0; ti < N_QA_TYPES; ti++)
        for (int ri = 0; ri < 4; ri++)
            for (int ci = 0; ci < 3; ci++)
                for (int ni = 0; ni < 4; ni++) {
                    /* the largest corners add nothing the others do not cover; the test also runs under ASan */
                    if ((uint64_t)rows_list[ri] * cols_list[ci] * tokens_list[ni] <= 3000000u)
                        check_case(QA_TYPES[ti], rows_list[ri], cols_list[ci], tokens_list[ni], seed);
                    seed++;
                }
    test_abi_best();
    printf("variants checked: scalar %s%s%s%s%s\n", mst_cpu_avx2() ? "avx2 " : "",
           mst_cpu_avx512() ? mst_cpu_avx512()->name : "", mst_cpu_neon() ? "neon " : "",
           mst_cpu_dotprod() ? "dotprod " : "", mst_cpu_i8mm() ? "i8mm" : "");
    return finish("kernel_kquant_qa");
}
