/* test_cuda_nan.c — NaN and infinities in the CUDA kernels' inputs reach their outputs, as on the CPU
 * (cpu/quant_act.h, cpu/moe_gate.h), on the emulator (or the GPU: gpu_nan).
 *
 *   quantizers: mst_cuda_quantize_q8_0 / _q8_k against mst_quantize_act_ref / _k_ref bit for bit (every q, every
 *     d's bits, every 16-value sum), on finite x and on x with a NaN (either sign, signalling, low-bit payload)
 *     or an infinity planted in several blocks at different lanes, one block entirely NaN: those blocks are
 *     d = NaN (MST_QACT_NONFINITE_D), q = 0 on both backends. mst_cuda_round_bf16 the same against
 *     mst_round_act_bf16 (NaN stays NaN, Inf stays Inf).
 *   matmul: mst_cuda_matmul for every upload type (F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K, and Q5_K converted to
 *     F16), GEMV (3 tokens) and GEMM (11 tokens): a NaN in token 1 makes every output of token 1 NaN, +-Inf
 *     makes them non-finite, the other tokens equal the finite run bit for bit.
 *   moe_gate: NaN, +Inf, -Inf logits: those tokens' ids are -1 and weights NaN, every other token's ids equal
 *     mst_moe_gate_ref's. */
#include "cuda_test_util.h"
#include "quant_fill.h"
#include "cpu/moe_gate.h"
#include "cpu/quant_act.h"
#include "cpu/quant_act_bf16.h"
#include "cpu/quant_act_k.h"
#include "matmul_parts.h"

static float from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static uint32_t bits_of(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static const uint32_t POISON[] = {0x7fc00000u, 0xffc00000u, 0x7f800001u, 0x7f800fffu, 0x7f800000u, 0xff800000u};
enum { N_POISON = sizeof POISON / sizeof *POISON };

/* x with poison kind k in block k (at lane 5k + 3 of it), and block N_POISON entirely NaN. */
static void plant(float *x, uint32_t bs)
{
    for (uint32_t k = 0; k < N_POISON; k++)
        x[(size_t)k * bs + (5 * k + 3) % bs] = from_bits(POISON[k]);
    for (uint32_t i = 0; i < bs; i++)
        x[(size_t)N_POISON * bs + i] = NAN;
}

/* One Q8_0 or Q8_K pass on the device against the CPU reference, every array bit for bit. */
static void check_quantize(mst_dev *d, int k, const float *x, uint32_t cols, uint32_t n, const char *what)
{
    const size_t nv = (size_t)cols * n, bs = k ? MST_QK_K : MST_QK, nb = nv / bs;
    void *mem = xmalloc(k ? mst_qact_k_bytes(cols, n) : mst_qact_bytes(cols, n));
    mst_qact q;
    (k ? mst_qact_bind_k : mst_qact_bind)(&q, mem, cols, n);
    (k ? mst_quantize_act_k_ref : mst_quantize_act_ref)(x, &q, 0, n);

    mst_dptr dx = ct_upload(d, x, nv * 4), scratch = ct_alloc(d, mst_cuda_qact_bytes(cols, n));
    const mst_cuda_qact a = mst_cuda_qact_at(scratch, cols, n);
    ct_ok((k ? mst_cuda_quantize_q8_k : mst_cuda_quantize_q8_0)(d, dx, &a), "quantize");
    int8_t *qs = xmalloc(nv);
    float *dd = xmalloc(nb * 4);
    int32_t *bsum = xmalloc(nv / 16 * 4);
    ct_download(d, qs, a.qs, nv);
    ct_download(d, dd, a.d, nb * 4);
    if (k)
        ct_download(d, bsum, a.bsum, nv / 16 * 4);
    CHECK(memcmp(qs, q.qs, nv) == 0, "%s: q differ from the CPU's", what);
    CHECK(memcmp(dd, q.d, nb * 4) == 0, "%s: d differ from the CPU's (bits)", what);
    int sums = 1;
    for (size_t j = 0; k && j < nv / 16; j++)
        sums &= bsum[j] == q.bsum16[j];
    CHECK(sums, "%s: 16-value sums differ from the CPU's", what);
    size_t nonfinite = 0;
    for (size_t b = 0; b < nb; b++)
        nonfinite += bits_of(dd[b]) == MST_QACT_NONFINITE_D;
    mst_dev_free(d, dx);
    mst_dev_free(d, scratch);
    free(mem), free(qs), free(dd), free(bsum);
    if (ct_on_driver() || getenv("CT_VERBOSE"))
        printf("  %s: %zu non-finite blocks\n", what, nonfinite);
}

static void test_quantizers(mst_dev *d, uint64_t *seed)
{
    for (int k = 0; k < 2; k++) {
        const uint32_t bs = k ? MST_QK_K : MST_QK, cols = 8 * bs, n = 3;
        float *x = ct_random(seed, (size_t)cols * n, -2.0f, 2.0f);
        char what[64];
        snprintf(what, sizeof what, "%s finite", k ? "Q8_K" : "Q8_0");
        check_quantize(d, k, x, cols, n, what);
        plant(x + cols, bs); /* token 1 */
        snprintf(what, sizeof what, "%s poisoned", k ? "Q8_K" : "Q8_0");
        check_quantize(d, k, x, cols, n, what);
        free(x);
    }
    /* bf16 rounding: NaN and Inf kept, the same bits as the CPU's */
    const uint32_t cols = 40, n = 2;
    float *x = ct_random(seed, (size_t)cols * n, -2.0f, 2.0f);
    for (uint32_t k = 0; k < N_POISON; k++)
        x[cols + 3 * k] = from_bits(POISON[k]);
    void *mem = xmalloc(mst_qact_bf16_bytes(cols, n));
    mst_qact q;
    mst_qact_bind_bf16(&q, mem, cols, n);
    mst_round_act_bf16(x, &q, 0, n);
    mst_dptr dx = ct_upload(d, x, (size_t)cols * n * 4), scratch = ct_alloc(d, mst_cuda_qact_bytes(cols, n));
    const mst_cuda_qact a = mst_cuda_qact_at(scratch, cols, n);
    ct_ok(mst_cuda_round_bf16(d, dx, &a), "mst_cuda_round_bf16");
    float *xr = xmalloc((size_t)cols * n * 4);
    ct_download(d, xr, a.xr, (size_t)cols * n * 4);
    CHECK(memcmp(xr, q.xr, (size_t)cols * n * 4) == 0, "bf16 rounding with NaN/Inf differs from the CPU's");
    int kept = 1;
    for (uint32_t k = 0; k < N_POISON; k++)
        kept &= !isfinite(xr[cols + 3 * k]) && (isnan(xr[cols + 3 * k]) != 0) == (isnan(x[cols + 3 * k]) != 0);
    CHECK(kept, "bf16 rounding: a NaN or Inf did not stay one");
    mst_dev_free(d, dx);
    mst_dev_free(d, scratch);
    free(x), free(mem), free(xr);
}

/* ---- matmul ---- */

static void check_matmul(mst_dev *d, uint64_t *seed, int32_t type, uint32_t n)
{
    const uint32_t rows = 37, cols = 512, bad_t = 1;
    uint64_t rb = 0;
    mst_type_bytes(type, cols, &rb);
    uint8_t *w = xmalloc(rb * rows);
    qf_fill(seed, type, w, rows, cols, rb);
    const uint64_t up_rb = mst_cuda_upload_row_bytes(type, cols);
    uint8_t *up = xmalloc(up_rb * rows);
    ct_ok(mst_cuda_convert_for_upload(type, w, rb, rows, cols, up), "mst_cuda_convert_for_upload");
    const mst_cuda_weight cw = {mst_cuda_upload_type(type), rows, cols, 0, up_rb, ct_upload(d, up, up_rb * rows)};
    const size_t nx = (size_t)n * cols, ny = (size_t)n * rows;
    float *x = ct_random(seed, nx, -1.0f, 1.0f), *y_ok = xmalloc(ny * 4), *y = xmalloc(ny * 4);
    mst_dptr dx = ct_alloc(d, nx * 4), dy = ct_alloc(d, ny * 4), scratch = ct_alloc(d, mst_cuda_matmul_scratch_bytes(cols, n));
    static const uint32_t kinds[3] = {0x7fc00000u, 0x7f800000u, 0xff800000u};
    static const char *const names[3] = {"NaN", "+Inf", "-Inf"};
    for (int j = -1; j < 3; j++) {
        const size_t at = (size_t)bad_t * cols + (size_t)(rng_next(seed) % cols);
        const float saved = x[at];
        if (j >= 0)
            x[at] = from_bits(kinds[j]);
        ct_ok(mst_dev_upload(d, dx, x, nx * 4), "mst_dev_upload");
        ct_ok(mst_cuda_matmul(d, &cw, dx, n, dy, scratch, 0), "mst_cuda_matmul");
        ct_download(d, j < 0 ? y_ok : y, dy, ny * 4);
        x[at] = saved;
        if (j < 0)
            continue;
        int finite_ok = 1, poisoned = 1, others = 1;
        for (uint32_t t = 0; t < n; t++)
            for (uint32_t r = 0; r < rows; r++) {
                const size_t i = (size_t)t * rows + r;
                finite_ok &= isfinite(y_ok[i]) != 0;
                if (t == bad_t)
                    poisoned &= j == 0 ? isnan(y[i]) != 0 : !isfinite(y[i]);
                else
                    others &= memcmp(&y[i], &y_ok[i], 4) == 0;
            }
        CHECK(finite_ok, "%s n_tokens=%u: the finite run gave a non-finite output", mst_type_name(type), n);
        CHECK(poisoned, "%s n_tokens=%u, %s in token %u: an output of that token is %s", mst_type_name(type), n,
              names[j], bad_t, j == 0 ? "not NaN" : "finite");
        CHECK(others, "%s n_tokens=%u, %s in token %u: other tokens' outputs changed", mst_type_name(type), n, names[j],
              bad_t);
    }
    mst_dev_free(d, cw.data);
    mst_dev_free(d, dx);
    mst_dev_free(d, dy);
    mst_dev_free(d, scratch);
    free(w), free(up), free(x), free(y_ok), free(y);
}

static void test_matmul(mst_dev *d, uint64_t *seed)
{
    static const int32_t types[] = {MST_TYPE_F32,  MST_TYPE_F16,  MST_TYPE_BF16, MST_TYPE_Q8_0,
                                    MST_TYPE_Q4_0, MST_TYPE_Q4_K, MST_TYPE_Q6_K, MST_TYPE_Q5_K};
    for (size_t i = 0; i < sizeof types / sizeof *types; i++) {
        check_matmul(d, seed, types[i], 3);  /* GEMV */
        check_matmul(d, seed, types[i], 11); /* GEMM */
    }
}

/* ---- moe_gate ---- */

/* test_cuda_moe_gate.c's relative bound on chosen slot i's weight (moe_gate.cu derives it). */
static double bound(const float *l, const int32_t *ids, uint32_t k, uint32_t i)
{
    const double mx = l[ids[0]];
    double spread = 0.0;
    for (uint32_t j = 0; j < k; j++)
        spread = fmax(spread, mx - l[ids[j]]);
    return ((mx - l[ids[i]]) + spread + k + 9) * 0x1p-24;
}

static void test_moe_gate(mst_dev *d, uint64_t *seed)
{
    enum { T = 9, E = 8, K = 2 };
    float *l = ct_random(seed, (size_t)T * E, -4.0f, 4.0f);
    for (uint32_t p = 0; p < N_POISON; p++) /* tokens 1, 2, 3, 5, 6, 7: one poison each, at different experts */
        l[(size_t)(p < 3 ? p + 1 : p + 2) * E + (3 * p) % E] = from_bits(POISON[p]);
    int32_t want_id[T * K], got_id[T * K];
    float want_w[T * K], got_w[T * K];
    CHECK(mst_moe_gate_ref(l, T, E, K, want_id, want_w) == 1, "mst_moe_gate_ref: the first non-finite token is not 1");
    mst_dptr dl = ct_upload(d, l, sizeof(float) * T * E), dc = ct_alloc(d, sizeof got_id), dw = ct_alloc(d, sizeof got_w);
    ct_ok(mst_cuda_moe_gate(d, dl, T, E, K, dc, dw), "mst_cuda_moe_gate");
    ct_download(d, got_id, dc, sizeof got_id);
    ct_download(d, got_w, dw, sizeof got_w);
    for (uint32_t t = 0; t < T; t++) {
        const int bad = t != 0 && t != 4 && t != 8;
        for (uint32_t i = 0; i < K; i++) {
            const size_t o = (size_t)t * K + i;
            CHECK(got_id[o] == want_id[o], "moe_gate token %u slot %u: id %d, the CPU's %d", t, i, got_id[o], want_id[o]);
            if (bad)
                CHECK(got_id[o] == MST_MOE_NONFINITE && isnan(got_w[o]),
                      "moe_gate token %u (non-finite logit) slot %u: id %d weight %g, want -1 and NaN", t, i, got_id[o],
                      (double)got_w[o]);
            else
                CHECK(fabs((double)got_w[o] - want_w[o]) <= bound(l + (size_t)t * E, want_id + (size_t)t * K, K, i) *
                                                                 want_w[o] + 1e-37,
                      "moe_gate token %u slot %u: weight %.9g, the CPU's %.9g", t, i, (double)got_w[o],
                      (double)want_w[o]);
        }
    }
    mst_dev_free(d, dl);
    mst_dev_free(d, dc);
    mst_dev_free(d, dw);
    free(l);
}

int main(void)
{
    mst_dev *d = ct_open();
    uint64_t seed = 1818;
    test_quantizers(d, &seed);
    test_matmul(d, &seed);
    test_moe_gate(d, &seed);
    mst_dev_close(d);
    return ct_finish("test_cuda_nan");
}
