/* test_nan_propagation.c — a NaN or an infinity in a matmul's activations reaches its output on every CPU
 * path, as it would in a float matmul (quant_act.h: the block's d becomes NaN, its q 0), and never becomes a
 * finite, wrong number. Poison values: quiet NaN of either sign, a signalling NaN, a NaN whose payload is only
 * in its low bits, +Inf, -Inf.
 *
 *   quantizers: every activation quantizer this CPU has (Q8_0: scalar, AVX-512; Q8_K: scalar, AVX-512) with
 *     one poison value at each position of a block, every poison kind, and two poisoned blocks at once: the
 *     block's d has the bits MST_QACT_NONFINITE_D and its q and derived sums are 0 (Q8_0: nsum4, nbsum8 and
 *     dxe = NaN; Q8_K: bsum16); every other block bit-identical to the scalar quantizer on the finite x. On
 *     finite x every variant equals the scalar quantizer bit for bit.
 *   kernels: every quantized-activation kernel of every table (scalar, AVX2, AVX-VNNI, AVX-512: those the CPU
 *     has), on the file's layout and repacked 16 rows at a time, for Q8_0, Q4_0 and Q2_K..Q6_K; and BF16's
 *     (the rounding keeps NaN and Inf; the column-pair kernels, the x16 float kernel): a NaN in token 1 makes
 *     every output of token 1 NaN (every row reads that column), +-Inf makes them non-finite, and tokens 0
 *     and 2 equal the finite run bit for bit.
 *   matmul: the same through mst_kernel_matmul, REFERENCE and BEST, for every weight type.
 *   moe_gate: mst_moe_gate_ref / _best on a NaN or infinite logit: that token's slots are MST_MOE_NONFINITE
 *     with NaN weights, the call returns the first such token, other tokens are routed as without it.
 *   model: Q4_0 and Q8_0 models with a NaN scale in layer 0's attn_v: mst_decode fails with MST_ERR_NON_FINITE
 *     naming layer 0 (MST_CONTEXT_CHECK_LAYERS). Only attention output dimension 0 is NaN there, so before
 *     activation quantization propagated NaN the Wo matmul turned it into a finite value and the pass
 *     "succeeded" with wrong logits. ctest runs it once per MISTRAL_CPU level (repacked x16 kernels). */
#include <float.h>

#include "test_qact.h"
#include "cuda/quant_fill.h"
#include "cpu/moe_gate.h"
#include "cpu/quant_act_bf16.h"
#include "cpu/repack.h"
#include "cpu/repack_k.h"

static const uint32_t POISON[] = {0x7fc00000u, 0xffc00000u, 0x7f800001u, 0x7f800fffu, 0x7f800000u, 0xff800000u};
enum { N_POISON = sizeof POISON / sizeof *POISON };

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

/* ---- quantizers ---- */

typedef void (*quantize_fn)(const float *, mst_qact *, uint32_t, uint32_t);
typedef struct quantizer {
    const char *name;
    quantize_fn fn;
    int k; /* Q8_K (else Q8_0) */
} quantizer;

static void qalloc(qbuf *b, int k, uint32_t cols, uint32_t nt)
{
    b->mem = xmalloc(k ? mst_qact_k_bytes(cols, nt) : mst_qact_bytes(cols, nt));
    (k ? mst_qact_bind_k : mst_qact_bind)(&b->q, b->mem, cols, nt);
}

/* Bytes of each array a set of n values holds (Q8_0: qs, nsum4, dxe, d, nbsum8; Q8_K: qs, d, bsum16). */
static void compare_sets(const char *what, int k, const mst_qact *a, const mst_qact *b, size_t n)
{
    const size_t nb = n / (k ? MST_QK_K : MST_QK);
    int same = memcmp(a->qs, b->qs, n) == 0 && memcmp(a->d, b->d, nb * 4) == 0;
    if (k)
        same &= memcmp(a->bsum16, b->bsum16, n / 16 * 2) == 0;
    else
        same &= memcmp(a->nsum4, b->nsum4, n) == 0 && memcmp(a->dxe, b->dxe, n) == 0 &&
                memcmp(a->nbsum8, b->nbsum8, nb * 4) == 0;
    CHECK(same, "%s: the quantized set differs from the scalar quantizer's", what);
}

/* Checks that block blk (global index) of s holds the non-finite rule's values, then overwrites it with
 * ref's, so the caller can compare the rest bit for bit. */
static void check_and_restore_block(const char *what, int k, mst_qact *s, const mst_qact *ref, size_t blk)
{
    const size_t bs = k ? MST_QK_K : MST_QK, o = blk * bs;
    int zero = 1;
    for (size_t i = 0; i < bs; i++)
        zero &= s->qs[o + i] == 0;
    CHECK(zero, "%s: block %zu's q are not all 0", what, blk);
    CHECK(bits_of(s->d[blk]) == MST_QACT_NONFINITE_D, "%s: block %zu's d is 0x%08x, want the NaN 0x%08x", what, blk,
          bits_of(s->d[blk]), MST_QACT_NONFINITE_D);
    memcpy(s->qs + o, ref->qs + o, bs);
    s->d[blk] = ref->d[blk];
    if (k) {
        for (size_t j = 0; j < bs / 16; j++)
            zero &= s->bsum16[o / 16 + j] == 0;
        CHECK(zero, "%s: block %zu's bsum16 are not all 0", what, blk);
        memcpy(s->bsum16 + o / 16, ref->bsum16 + o / 16, bs / 16 * 2);
        return;
    }
    int lanes = s->nbsum8[blk] == 0;
    for (size_t j = 0; j < bs / 4; j++)
        lanes &= s->nsum4[o / 4 + j] == 0 && bits_of(s->dxe[o / 4 + j]) == MST_QACT_NONFINITE_D;
    CHECK(lanes, "%s: block %zu's nsum4/nbsum8 are not 0 or its dxe not NaN", what, blk);
    memcpy(s->nsum4 + o / 4, ref->nsum4 + o / 4, bs);
    memcpy(s->dxe + o / 4, ref->dxe + o / 4, bs);
    s->nbsum8[blk] = ref->nbsum8[blk];
}

static void check_quantizer(const quantizer *qz, uint64_t *seed)
{
    enum { NT = 3 };
    const uint32_t bs = qz->k ? MST_QK_K : MST_QK, cols = 4 * bs, nb = cols / bs;
    const size_t n = (size_t)cols * NT;
    float *x = xmalloc(n * 4), *xp = xmalloc(n * 4);
    fill_uniform(seed, x, n, -2.0f, 2.0f);
    memset(x + bs, 0, bs * 4); /* an all-zero block beside the poisoned ones */
    x[2 * bs + 3] = 2.5f, x[2 * bs + 7] = -2.5f; /* a tie in |x| (Q8_K: the first wins) */
    qbuf ref, got;
    qalloc(&ref, qz->k, cols, NT);
    qalloc(&got, qz->k, cols, NT);
    (qz->k ? mst_quantize_act_k_ref : mst_quantize_act_ref)(x, &ref.q, 0, NT);
    char what[160];
    qz->fn(x, &got.q, 0, NT);
    snprintf(what, sizeof what, "%s on finite x", qz->name);
    compare_sets(what, qz->k, &ref.q, &got.q, n);

    /* every position of one block (token 1, block 2: beside the tie), every poison kind in turn; then every
     * kind at random positions; then a whole block of NaN; then two blocks at once */
    for (uint32_t trial = 0; trial < bs + 2 * N_POISON + 2; trial++) {
        memcpy(xp, x, n * 4);
        size_t blk[2] = {(size_t)1 * nb + 2, (size_t)-1};
        uint32_t kind = trial % N_POISON;
        if (trial < bs) {
            xp[blk[0] * bs + trial] = from_bits(POISON[kind]);
        } else if (trial < bs + 2 * N_POISON) {
            blk[0] = rng_next(seed) % (NT * nb);
            xp[blk[0] * bs + rng_next(seed) % bs] = from_bits(POISON[kind]);
        } else if (trial == bs + 2 * N_POISON) {
            for (uint32_t i = 0; i < bs; i++)
                xp[blk[0] * bs + i] = NAN;
        } else {
            blk[0] = 0, blk[1] = 2 * nb + 3; /* token 0's first block and token 2's last */
            xp[bs - 1] = INFINITY;
            xp[blk[1] * bs] = -NAN;
        }
        qz->fn(xp, &got.q, 0, NT);
        snprintf(what, sizeof what, "%s trial %u (0x%08x)", qz->name, trial, POISON[kind]);
        for (int j = 0; j < 2; j++)
            if (blk[j] != (size_t)-1)
                check_and_restore_block(what, qz->k, &got.q, &ref.q, blk[j]);
        compare_sets(what, qz->k, &ref.q, &got.q, n);
    }
    printf("%s: checked\n", qz->name);
    free(x), free(xp), free(ref.mem), free(got.mem);
}

static void test_quantizers(void)
{
    uint64_t seed = 18;
    quantizer qs[6];
    int n = 0;
    qs[n++] = (quantizer){"Q8_0 scalar", mst_quantize_act_ref, 0};
    qs[n++] = (quantizer){"Q8_K scalar", mst_quantize_act_k_ref, 1};
#if defined(__x86_64__)
    if (mst_cpu_avx512()) {
        qs[n++] = (quantizer){"Q8_0 avx512", mst_quantize_act_avx512, 0};
        qs[n++] = (quantizer){"Q8_K avx512", mst_quantize_act_k_avx512, 1};
    }
    if (mst_cpu_avx2()) {
        qs[n++] = (quantizer){"Q8_0 avx2", mst_quantize_act_avx2, 0};
        qs[n++] = (quantizer){"Q8_K avx2", mst_quantize_act_k_avx2, 1};
    }
#elif defined(__aarch64__)
    if (mst_cpu_neon())
        qs[n++] = (quantizer){"Q8_0 neon", mst_quantize_act_neon, 0};
#endif
    for (int i = 0; i < n; i++)
        check_quantizer(&qs[i], &seed);
    /* and the dispatched ones decode calls */
    check_quantizer(&(quantizer){"Q8_0 dispatched", mst_quantize_act, 0}, &seed);
    check_quantizer(&(quantizer){"Q8_K dispatched", mst_quantize_act_k, 1}, &seed);
}

/* ---- kernels ---- */

enum { KR = 32, KT = 3, BAD_T = 1 }; /* rows (two 16-row groups), tokens, the poisoned token */

/* y from a poisoned x against y_ok from the finite one: token BAD_T all NaN (want_nan) or all non-finite,
 * the other tokens bit-identical. */
static void check_outputs(const char *what, const float *y_ok, const float *y, uint32_t rows, int want_nan)
{
    int finite_ok = 1, poisoned = 1, others = 1;
    for (uint32_t t = 0; t < KT; t++)
        for (uint32_t r = 0; r < rows; r++) {
            const size_t i = (size_t)t * rows + r;
            finite_ok &= isfinite(y_ok[i]) != 0;
            if (t == BAD_T)
                poisoned &= want_nan ? isnan(y[i]) != 0 : !isfinite(y[i]);
            else
                others &= memcmp(&y[i], &y_ok[i], 4) == 0;
        }
    CHECK(finite_ok, "%s: the finite run gave a non-finite output", what);
    CHECK(poisoned, "%s: an output of the poisoned token is %s", what, want_nan ? "not NaN" : "finite");
    CHECK(others, "%s: the other tokens' outputs changed", what);
}

/* x ([KT][cols], finite) and three poisoned copies: NaN, +Inf, -Inf at random columns of token BAD_T. */
static float *poisoned_copies(uint64_t *seed, const float *x, uint32_t cols)
{
    static const uint32_t kinds[3] = {0x7fc00000u, 0x7f800000u, 0xff800000u};
    const size_t n = (size_t)KT * cols;
    float *xs = xmalloc(3 * n * 4);
    for (int k = 0; k < 3; k++) {
        memcpy(xs + k * n, x, n * 4);
        xs[k * n + (size_t)BAD_T * cols + rng_next(seed) % cols] = from_bits(kinds[k]);
    }
    return xs;
}

static const char *const KIND_NAME[3] = {"NaN", "+Inf", "-Inf"};

typedef struct qa_kernel {
    char name[48];
    mst_matmul_qa_fn fn;
    int repacked;
} qa_kernel;

static int repackable(int32_t type)
{
    return type == MST_TYPE_Q4_0 || type == MST_TYPE_Q8_0 || type == MST_TYPE_Q4_K || type == MST_TYPE_Q6_K;
}

static mst_matmul_qa_fn x16_kernel(const mst_cpu_kernels *t, int32_t type)
{
    switch (type) {
    case MST_TYPE_Q4_0: return t->matmul_qa_q4_0x16;
    case MST_TYPE_Q8_0: return t->matmul_qa_q8_0x16;
    case MST_TYPE_Q4_K: return t->matmul_qa_q4_kx16;
    case MST_TYPE_Q6_K: return t->matmul_qa_q6_kx16;
    default: return NULL;
    }
}

static void repack(int32_t type, const uint8_t *w, size_t row_bytes, uint32_t rows, uint8_t *wr)
{
    switch (type) {
    case MST_TYPE_Q4_0: mst_repack_q4_0x16(w, row_bytes, rows, wr); break;
    case MST_TYPE_Q8_0: mst_repack_q8_0x16(w, row_bytes, rows, wr); break;
    case MST_TYPE_Q4_K: mst_repack_q4_kx16(w, row_bytes, rows, wr); break;
    case MST_TYPE_Q6_K: mst_repack_q6_kx16(w, row_bytes, rows, wr); break;
    default: break;
    }
}

static void check_qa_type(int32_t type, uint64_t *seed)
{
    const int k = mst_qact_format_of(type) == MST_QACT_Q8_K;
    const uint32_t cols = k ? 2 * MST_QK_K : 16 * MST_QK;
    uint64_t rb64 = 0;
    mst_type_bytes(type, cols, &rb64);
    const size_t rb = (size_t)rb64, n = (size_t)KT * cols;
    uint8_t *w = xmalloc(rb * KR), *wr = xmalloc(rb * KR);
    qf_fill(seed, type, w, KR, cols, rb);
    repack(type, w, rb, KR, wr);
    float *x = xmalloc(n * 4);
    fill_uniform(seed, x, n, -1.0f, 1.0f);
    float *xs = poisoned_copies(seed, x, cols);
    qbuf q_ok, q_bad[3];
    qalloc(&q_ok, k, cols, KT);
    (k ? mst_quantize_act_k : mst_quantize_act)(x, &q_ok.q, 0, KT);
    for (int j = 0; j < 3; j++) {
        qalloc(&q_bad[j], k, cols, KT);
        (k ? mst_quantize_act_k : mst_quantize_act)(xs + j * n, &q_bad[j].q, 0, KT);
    }

    const mst_cpu_kernels *tables[7] = {mst_cpu_scalar(), mst_cpu_avx2(),    mst_cpu_avxvnni(), mst_cpu_avx512(),
                                        mst_cpu_neon(),   mst_cpu_dotprod(), mst_cpu_i8mm()};
    qa_kernel ks[14];
    int nk = 0;
    for (int t = 0; t < 7; t++) {
        if (!tables[t])
            continue;
        ks[nk] = (qa_kernel){"", mst_kernels_matmul_qa(tables[t], type), 0};
        snprintf(ks[nk].name, sizeof ks[nk].name, "%s %s", tables[t]->name, mst_type_name(type));
        nk++;
        if (repackable(type) && x16_kernel(tables[t], type)) {
            ks[nk] = (qa_kernel){"", x16_kernel(tables[t], type), 1};
            snprintf(ks[nk].name, sizeof ks[nk].name, "%s %s x16", tables[t]->name, mst_type_name(type));
            nk++;
        }
    }
    float *y_ok = xmalloc((size_t)KT * KR * 4), *y = xmalloc((size_t)KT * KR * 4);
    for (int i = 0; i < nk; i++) {
        CHECK(ks[i].fn != NULL, "%s: no kernel", ks[i].name);
        if (!ks[i].fn)
            continue;
        const uint8_t *wk = ks[i].repacked ? wr : w;
        ks[i].fn(wk, rb, KR, &q_ok.q, y_ok, 0, KR);
        for (int j = 0; j < 3; j++) {
            char what[192];
            snprintf(what, sizeof what, "%.47s, %s in token %d", ks[i].name, KIND_NAME[j], BAD_T);
            ks[i].fn(wk, rb, KR, &q_bad[j].q, y, 0, KR);
            check_outputs(what, y_ok, y, KR, 1); /* the block's d is NaN whatever the poison was */
        }
    }
    printf("%s: %d kernels checked\n", mst_type_name(type), nk);
    for (int j = 0; j < 3; j++)
        free(q_bad[j].mem);
    free(q_ok.mem), free(w), free(wr), free(x), free(xs), free(y_ok), free(y);
}

/* BF16: the rounding keeps NaN (quiet) and +-Inf in both copies, then the decode kernels on them. */
static void check_bf16(uint64_t *seed)
{
    const uint32_t cols = 130; /* an odd number of pairs */
    const size_t rb = 2 * (size_t)cols, n = (size_t)KT * cols;
    uint8_t *w = xmalloc(rb * KR), *wp = xmalloc(rb * KR), *wx = xmalloc(rb * KR);
    qf_fill(seed, MST_TYPE_BF16, w, KR, cols, rb);
    mst_repack_bf16x16p(w, rb, KR, wp);
    mst_repack_x16_16bit(w, rb, KR, wx);
    float *x = xmalloc(n * 4);
    fill_uniform(seed, x, n, -1.0f, 1.0f);
    float *xs = poisoned_copies(seed, x, cols);
    void *mem[4];
    mst_qact q[4]; /* [0] finite, [1..3] NaN, +Inf, -Inf */
    for (int j = 0; j < 4; j++) {
        mem[j] = xmalloc(mst_qact_bf16_bytes(cols, KT));
        mst_qact_bind_bf16(&q[j], mem[j], cols, KT);
        mst_round_act_bf16(j == 0 ? x : xs + (j - 1) * n, &q[j], 0, KT);
    }
    for (int j = 1; j < 4; j++) {
        const float *src = xs + (j - 1) * n;
        int kept = 1;
        for (size_t i = 0; i < n; i++) {
            if (isfinite(src[i]))
                continue;
            const size_t t = i / cols, c = i % cols;
            const uint16_t half = (uint16_t)(q[j].xp[t * ((cols + 1) / 2) + c / 2] >> (16 * (c % 2)));
            const uint32_t want = isnan(src[i]) ? 0x7fc00000u : bits_of(src[i]);
            kept &= bits_of(q[j].xr[i]) == want && ((uint32_t)half << 16) == want;
        }
        CHECK(kept, "bf16 rounding: %s did not stay %s in xr and xp", KIND_NAME[j - 1], KIND_NAME[j - 1]);
    }

    float *y_ok = xmalloc((size_t)KT * KR * 4), *y = xmalloc((size_t)KT * KR * 4);
    int nk = 0;
    /* the scalar float kernel on the rounded values (what the scalar table runs for BF16) */
    for (int j = 1; j < 4; j++) {
        char what[192];
        snprintf(what, sizeof what, "BF16 scalar, %s", KIND_NAME[j - 1]);
        mst_matmul_ref_bf16(w, rb, KR, cols, q[0].xr, KT, y_ok, 0, KR);
        mst_matmul_ref_bf16(w, rb, KR, cols, q[j].xr, KT, y, 0, KR);
        check_outputs(what, y_ok, y, KR, j == 1);
    }
    nk++;
    const mst_cpu_kernels *tables[2] = {mst_cpu_avx2(), mst_cpu_avx512()};
    for (int t = 0; t < 2; t++) {
        if (!tables[t] || !tables[t]->matmul_bf16x16)
            continue;
        for (int j = 1; j < 4; j++) {
            char what[192];
            snprintf(what, sizeof what, "%s BF16 x16, %s", tables[t]->name, KIND_NAME[j - 1]);
            tables[t]->matmul_bf16x16(wx, rb, KR, cols, q[0].xr, KT, y_ok, 0, KR);
            tables[t]->matmul_bf16x16(wx, rb, KR, cols, q[j].xr, KT, y, 0, KR);
            check_outputs(what, y_ok, y, KR, j == 1);
        }
        nk++;
    }
#if defined(__x86_64__)
    qa_kernel pk[2];
    int np = 0;
    if (mst_cpu_avx512())
        pk[np++] = (qa_kernel){"avx512 BF16X16P fma", mst_matmul_qa_bf16x16p_avx512, 1};
    if (mst_cpu_avx512() && (mst_cpu_detect() & MST_CPU_AVX512BF16))
        pk[np++] = (qa_kernel){"avx512 BF16X16P vdpbf16ps", mst_matmul_qa_bf16x16p_avx512bf16, 1};
    for (int i = 0; i < np; i++, nk++)
        for (int j = 1; j < 4; j++) {
            char what[192];
            snprintf(what, sizeof what, "%s, %s", pk[i].name, KIND_NAME[j - 1]);
            pk[i].fn(wp, rb, KR, &q[0], y_ok, 0, KR);
            pk[i].fn(wp, rb, KR, &q[j], y, 0, KR);
            check_outputs(what, y_ok, y, KR, j == 1);
        }
#endif
    printf("BF16: %d kernels checked\n", nk);
    for (int j = 0; j < 4; j++)
        free(mem[j]);
    free(w), free(wp), free(wx), free(x), free(xs), free(y_ok), free(y);
}

static void test_kernels(void)
{
    uint64_t seed = 1818;
    static const int32_t types[] = {MST_TYPE_Q8_0, MST_TYPE_Q4_0, MST_TYPE_Q2_K, MST_TYPE_Q3_K,
                                    MST_TYPE_Q4_K, MST_TYPE_Q5_K, MST_TYPE_Q6_K};
    for (size_t i = 0; i < sizeof types / sizeof *types; i++)
        check_qa_type(types[i], &seed);
    check_bf16(&seed);
}

/* ---- mst_kernel_matmul, every type ---- */

static void test_matmul(void)
{
    uint64_t seed = 180;
    static const int32_t types[] = {MST_TYPE_F32,  MST_TYPE_F16,  MST_TYPE_BF16, MST_TYPE_Q8_0, MST_TYPE_Q4_0,
                                    MST_TYPE_Q2_K, MST_TYPE_Q3_K, MST_TYPE_Q4_K, MST_TYPE_Q5_K, MST_TYPE_Q6_K};
    const uint32_t rows = 19, cols = 512;
    for (size_t ti = 0; ti < sizeof types / sizeof *types; ti++) {
        const int32_t type = types[ti];
        uint64_t rb64 = 0;
        mst_type_bytes(type, cols, &rb64);
        uint8_t *w = xmalloc(rb64 * rows);
        qf_fill(&seed, type, w, rows, cols, rb64);
        const size_t n = (size_t)KT * cols;
        float *x = xmalloc(n * 4);
        fill_uniform(&seed, x, n, -1.0f, 1.0f);
        float *xs = poisoned_copies(&seed, x, cols);
        float *y_ok = xmalloc((size_t)KT * rows * 4), *y = xmalloc((size_t)KT * rows * 4);
        for (int impl = MST_IMPL_REFERENCE; impl <= MST_IMPL_BEST; impl++) {
            CHECK(mst_kernel_matmul(impl, type, w, rb64 * rows, rows, cols, x, KT, y_ok) == MST_OK, "%s", mst_last_error());
            for (int j = 0; j < 3; j++) {
                char what[192];
                snprintf(what, sizeof what, "mst_kernel_matmul %s %s, %s", impl ? "BEST" : "REFERENCE",
                         mst_type_name(type), KIND_NAME[j]);
                CHECK(mst_kernel_matmul(impl, type, w, rb64 * rows, rows, cols, xs + j * n, KT, y) == MST_OK, "%s",
                      mst_last_error());
                check_outputs(what, y_ok, y, rows, j == 0);
            }
        }
        free(w), free(x), free(xs), free(y_ok), free(y);
    }
    printf("mst_kernel_matmul: %zu types checked\n", sizeof types / sizeof *types);
}

/* ---- MoE gate ---- */

typedef int64_t (*gate_fn)(const float *, uint32_t, uint32_t, uint32_t, int32_t *, float *);

static void test_moe_gate(void)
{
    enum { T = 5, E = 8, K = 2 };
    const gate_fn fns[2] = {mst_moe_gate_ref, mst_moe_gate_best};
    const char *names[2] = {"mst_moe_gate_ref", "mst_moe_gate_best"};
    uint64_t seed = 8;
    float l[T * E], lp[T * E], w_ok[T * K], w[T * K];
    int32_t ex_ok[T * K], ex[T * K];
    fill_uniform(&seed, l, T * E, -4.0f, 4.0f);
    for (int f = 0; f < 2; f++) {
        CHECK(fns[f](l, T, E, K, ex_ok, w_ok) == -1, "%s: finite logits reported as not finite", names[f]);
        for (uint32_t p = 0; p < N_POISON; p++) {
            memcpy(lp, l, sizeof l);
            const uint32_t e = (uint32_t)(rng_next(&seed) % E);
            lp[2 * E + e] = from_bits(POISON[p]);
            if (p == N_POISON - 1)
                lp[4 * E] = NAN; /* a second token after the first: the first is reported */
            const int64_t first = fns[f](lp, T, E, K, ex, w);
            CHECK(first == 2, "%s, 0x%08x at expert %u of token 2: returned %lld", names[f], POISON[p], e,
                  (long long)first);
            int marked = 1, others = 1;
            for (uint32_t t = 0; t < T; t++)
                for (uint32_t i = 0; i < K; i++) {
                    const size_t o = (size_t)t * K + i;
                    if (t == 2 || (t == 4 && p == N_POISON - 1))
                        marked &= ex[o] == MST_MOE_NONFINITE && isnan(w[o]);
                    else
                        others &= ex[o] == ex_ok[o] && memcmp(&w[o], &w_ok[o], 4) == 0;
                }
            CHECK(marked, "%s, 0x%08x in token 2: its slots are not MST_MOE_NONFINITE with NaN weights", names[f],
                  POISON[p]);
            CHECK(others, "%s, 0x%08x in token 2: the other tokens' routing changed", names[f], POISON[p]);
        }
    }
}

/* ---- whole model ---- */

static void check_model(int32_t type)
{
    mst_model_config cfg = tiny_config();
    const int32_t types[9] = {type, type, type, type, type, type, type, type, type};
    test_model tm;
    tm_build(&tm, 77, &cfg, types, 0);
    uint8_t *v = NULL;
    for (uint32_t i = 0; i < tm.n_desc; i++)
        if (tm.desc[i].role == MST_ROLE_ATTN_V && tm.desc[i].layer == 0)
            v = (uint8_t *)tm.desc[i].data;
    const int32_t prompt[3] = {1, 7, 9};
    float *logits = xmalloc((size_t)cfg.n_vocab * 4);
    for (int poison = 0; poison < 2; poison++) {
        if (poison)
            v[0] = 0x00, v[1] = 0x7e; /* row 0's first block scale: fp16 NaN */
        mst_model *m = NULL;
        mst_context *c = NULL;
        mst_context_params p;
        mst_context_params_default(&p);
        p.n_ctx = 16, p.n_batch = 4, p.n_threads = 2, p.flags = MST_CONTEXT_CHECK_LAYERS;
        if (mst_model_create(&tm.cfg, tm.desc, tm.n_desc, &m) != MST_OK || mst_context_create(m, &p, &c) != MST_OK) {
            CHECK(0, "%s model: %s", mst_type_name(type), mst_last_error());
            mst_model_free(m);
            break;
        }
        const mst_status st = mst_decode(c, prompt, 3, 0, logits, cfg.n_vocab);
        if (!poison)
            CHECK(st == MST_OK, "%s model, clean: %s", mst_type_name(type), mst_last_error());
        else
            CHECK(st == MST_ERR_NON_FINITE && strstr(mst_last_error(), "layer 0") != NULL,
                  "%s model with a NaN in attn_v: %s (%s), want MST_ERR_NON_FINITE naming layer 0",
                  mst_type_name(type), mst_status_to_string(st), mst_last_error());
        mst_context_free(c);
        mst_model_free(m);
    }
    free(logits);
    tm_free(&tm);
}

static void test_model_nan(void)
{
    check_model(MST_TYPE_Q4_0);
    check_model(MST_TYPE_Q8_0);
    printf("models checked on the %s kernels\n", mst_cpu_best()->name);
}

int main(int argc, char **argv)
{
    const char *which = argc > 1 ? argv[1] : "all";
    const int all = strcmp(which, "all") == 0;
    if (all || strcmp(which, "quantizers") == 0)
        test_quantizers();
    if (all || strcmp(which, "kernels") == 0)
        test_kernels();
    if (all || strcmp(which, "matmul") == 0)
        test_matmul();
    if (all || strcmp(which, "moe_gate") == 0)
        test_moe_gate();
    if (all || strcmp(which, "model") == 0)
        test_model_nan();
    return finish("test_nan_propagation");
}
