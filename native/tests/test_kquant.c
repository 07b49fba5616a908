/* test_kquant.c — K-quants (Q2_K..Q6_K): dequantization against hand-computed values and against
 * a per-weight restatement of each layout written independently of quant_k.c, then every SIMD
 * matmul variant against the double-accumulating reference.
 *
 * Matmul tolerance, as in test_matmul.c: |y - y_ref| <= 1e-5 * sum_c |w_rc * x_c| per output.
 * The decoded weights are bit-identical to the reference's (the kernels use the same float
 * operations), so the only difference is float vs double accumulation over <= 4096 terms, whose
 * error is a few float ulps (~1e-7) of that magnitude sum; 1e-5 leaves room without hiding a
 * wrong weight (one wrong quant of 256 moves y by ~1e-3 of the sum). */
#define _POSIX_C_SOURCE 199309L /* clock_gettime under -std=c11 */
#include <time.h>

#include "test_qact.h"
#include "cpu/ops.h"
#include "cpu/quant.h"

static const int32_t K_TYPES[] = {MST_TYPE_Q2_K, MST_TYPE_Q3_K, MST_TYPE_Q4_K, MST_TYPE_Q5_K, MST_TYPE_Q6_K};

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static float half(const uint8_t *p)
{
    uint16_t h = (uint16_t)(p[0] | (p[1] << 8));
    /* normal halves only in these tests: value = (1 + m/1024) * 2^(e-15) */
    int e = (h >> 10) & 31, m = h & 1023;
    float v = ldexpf(1.0f + (float)m / 1024.0f, e - 15);
    return (h & 0x8000) ? -v : v;
}

/* ---- the layouts restated per weight i (0..255), from the GGML block definitions ---- */

/* Q4_K/Q5_K sub-block s (0..7): scale and min, 6 bits each. */
static void k4_sm(const uint8_t *s12, int s, int *sc, int *mn)
{
    if (s < 4) {
        *sc = s12[s] & 0x3f;
        *mn = s12[4 + s] & 0x3f;
    } else {
        *sc = (s12[8 + s - 4] & 0x0f) + 16 * (s12[s - 4] >> 6);
        *mn = (s12[8 + s - 4] >> 4) + 16 * (s12[s] >> 6);
    }
}

static void expect_block(int32_t type, const uint8_t *b, float *y)
{
    for (int i = 0; i < 256; i++) {
        int sc, mn;
        switch (type) {
        case MST_TYPE_Q4_K: {
            /* weight i: sub-block i/32; byte 32*(i/64) + i%32, low nibble if (i/32) even */
            int s = i / 32;
            k4_sm(b + 4, s, &sc, &mn);
            int byte = b[16 + 32 * (i / 64) + i % 32];
            int q = (s % 2 == 0) ? (byte & 15) : (byte >> 4);
            y[i] = half(b) * (float)sc * (float)q - half(b + 2) * (float)mn;
            break;
        }
        case MST_TYPE_Q5_K: {
            int s = i / 32;
            k4_sm(b + 4, s, &sc, &mn);
            int byte = b[48 + 32 * (i / 64) + i % 32];
            int q = ((s % 2 == 0) ? (byte & 15) : (byte >> 4)) + 16 * ((b[16 + i % 32] >> s) & 1);
            y[i] = half(b) * (float)sc * (float)q - half(b + 2) * (float)mn;
            break;
        }
        case MST_TYPE_Q6_K: {
            /* weight i = 128h + r: nibble r/64 of ql[64h + r%64]; 2 high bits at 2*(r/32) of qh[32h + r%32];
             * scale i/16 (signed) */
            int h = i / 128, r = i % 128;
            int lo = (b[64 * h + r % 64] >> (4 * (r / 64))) & 15;
            int hi = (b[128 + 32 * h + r % 32] >> (2 * (r / 32))) & 3;
            y[i] = half(b + 208) * (float)(int8_t)b[192 + i / 16] * (float)(lo + 16 * hi - 32);
            break;
        }
        case MST_TYPE_Q2_K: {
            /* weight i = 128h + 32p + r: bits 2p of qs[32h + r]; scale byte i/16: low nibble scale, high min */
            int h = i / 128, p = (i % 128) / 32, r = i % 32;
            int q = (b[16 + 32 * h + r] >> (2 * p)) & 3;
            int s = b[i / 16];
            y[i] = half(b + 80) * (float)(s & 15) * (float)q - half(b + 82) * (float)(s >> 4);
            break;
        }
        case MST_TYPE_Q3_K: {
            /* as Q2_K for the low bits (qs at 32); third bit (4h + p) of hmask[r], clear = minus 4;
             * scale j = i/16: low nibble from byte j (j<8) or high nibble of byte j-8; top 2 bits
             * from byte 8 + j%4 at bit 2*(j/4); stored with +32 */
            int h = i / 128, p = (i % 128) / 32, r = i % 32, j = i / 16;
            int q = ((b[32 + 32 * h + r] >> (2 * p)) & 3) - (((b[r] >> (4 * h + p)) & 1) ? 0 : 4);
            int s6 = (j < 8 ? (b[96 + j] & 15) : (b[96 + j - 8] >> 4)) | (((b[96 + 8 + j % 4] >> (2 * (j / 4))) & 3) << 4);
            y[i] = half(b + 108) * (float)(s6 - 32) * (float)q;
            break;
        }
        }
    }
}

static void dequant(int32_t type, const uint8_t *b, size_t nbytes, uint64_t n, float *out)
{
    CHECK(mst_kernel_dequantize(type, b, nbytes, n, out) == MST_OK, "%s dequantize failed: %s", mst_type_name(type),
          mst_last_error());
}

/* Hand-computed: the 12 scale bytes below decode (by hand, see each line) to
 *   scales 1 63 2 33 58 11 15 16 and mins 0 63 7 21 41 53 0 15:
 *   s0 = 0xC1&63 = 1          m0 = 0x80&63 = 0
 *   s1 = 0x3F&63 = 63         m1 = 0xFF&63 = 63
 *   s2 = 2                    m2 = 7
 *   s3 = 0x61&63 = 33         m3 = 0x15 = 21
 *   s4 = 0xA | (0xC1>>6)<<4 = 58     m4 = 0x9 | (0x80>>6)<<4 = 41
 *   s5 = 0xB | (0x3F>>6)<<4 = 11     m5 = 0x5 | (0xFF>>6)<<4 = 53
 *   s6 = 0xF | (0x02>>6)<<4 = 15     m6 = 0x0 | (0x07>>6)<<4 = 0
 *   s7 = 0x0 | (0x61>>6)<<4 = 16     m7 = 0xF | (0x15>>6)<<4 = 15 */
static const uint8_t K4_SCALES[12] = {0xC1, 0x3F, 0x02, 0x61, 0x80, 0xFF, 0x07, 0x15, 0x9A, 0x5B, 0x0F, 0xF0};
static const int K4_SC[8] = {1, 63, 2, 33, 58, 11, 15, 16};
static const int K4_MN[8] = {0, 63, 7, 21, 41, 53, 0, 15};

static void test_q4_k_hand(void)
{
    uint8_t b[144];
    put16(b, 0x3c00);     /* d = 1 */
    put16(b + 2, 0x3800); /* dmin = 0.5 */
    memcpy(b + 4, K4_SCALES, 12);
    for (int j = 0; j < 4; j++)
        for (int l = 0; l < 32; l++)
            b[16 + 32 * j + l] = (uint8_t)((l & 15) | ((15 - (l & 15)) << 4));
    float y[256];
    dequant(MST_TYPE_Q4_K, b, sizeof b, 256, y);
    for (int i = 0; i < 256; i++) {
        int s = i / 32, l = i % 32, q = (s & 1) ? 15 - (l & 15) : (l & 15);
        float e = (float)(K4_SC[s] * q) - 0.5f * (float)K4_MN[s];
        CHECK(y[i] == e, "Q4_K[%d] = %g, expected %g (sub-block %d: scale %d, min %d, q %d)", i, y[i], e, s, K4_SC[s],
              K4_MN[s], q);
    }
}

static void test_q5_k_hand(void)
{
    uint8_t b[176];
    put16(b, 0x3c00);
    put16(b + 2, 0x3800);
    memcpy(b + 4, K4_SCALES, 12);
    for (int l = 0; l < 32; l++)
        b[16 + l] = (uint8_t)(l * 37 + 11); /* fifth bits: bit s of qh[l] for sub-block s */
    for (int j = 0; j < 4; j++)
        for (int l = 0; l < 32; l++)
            b[48 + 32 * j + l] = (uint8_t)((l & 15) | ((15 - (l & 15)) << 4));
    float y[256];
    dequant(MST_TYPE_Q5_K, b, sizeof b, 256, y);
    for (int i = 0; i < 256; i++) {
        int s = i / 32, l = i % 32;
        int q = ((s & 1) ? 15 - (l & 15) : (l & 15)) + ((((l * 37 + 11) & 255) >> s) & 1) * 16;
        float e = (float)(K4_SC[s] * q) - 0.5f * (float)K4_MN[s];
        CHECK(y[i] == e, "Q5_K[%d] = %g, expected %g", i, y[i], e);
    }
    /* spot value: weight 255 = sub-block 7, l = 31: nibble 15-15 = 0, qh[31] = 31*37+11 = 1158 & 255 = 134
     * = 0b10000110, bit 7 set: q = 16; scale 16, min 15: 16*16 - 7.5 = 248.5 */
    CHECK(y[255] == 248.5f, "Q5_K[255] = %g, expected 248.5", y[255]);
}

static void test_q6_k_hand(void)
{
    uint8_t b[210];
    memset(b, 0, sizeof b);
    put16(b + 208, 0x3400); /* d = 0.25 */
    b[0] = 0x5A;
    b[128] = 0xE4; /* high parts of weights 0, 32, 64, 96: 0, 1, 2, 3 */
    b[32] = 0x3C;
    const int8_t sc[16] = {-3, 1, 2, -128, 7, 127, -1, 0, 4, 5, 6, 7, 8, 9, -10, 11};
    memcpy(b + 192, sc, 16);
    float y[256];
    dequant(MST_TYPE_Q6_K, b, sizeof b, 256, y);
    /* w0: low nibble of ql[0] = 0xA, high 0 -> 10 - 32 = -22, scale -3: 0.25 * -3 * -22 = 16.5
     * w32: low nibble of ql[32] = 0xC, high 1 -> 28 - 32 = -4, scale 2: -2
     * w64: high nibble of ql[0] = 5, high 2 -> 37 - 32 = 5, scale 7: 8.75
     * w96: high nibble of ql[32] = 3, high 3 -> 51 - 32 = 19, scale -1: -4.75
     * w1: all zero -> -32, scale -3: 24;  w16: -32, scale 1: -8;  w48 (scale 3 = -128): 1024;
     * w224 (scale 14 = -10): 80 */
    const int idx[] = {0, 32, 64, 96, 1, 16, 48, 224};
    const float e[] = {16.5f, -2.0f, 8.75f, -4.75f, 24.0f, -8.0f, 1024.0f, -0.25f * -10 * 32};
    for (int k = 0; k < 8; k++)
        CHECK(y[idx[k]] == e[k], "Q6_K[%d] = %g, expected %g", idx[k], y[idx[k]], e[k]);
}

static void test_q2_q3_hand(void)
{
    uint8_t b[110];
    memset(b, 0, sizeof b);
    /* Q2_K: scale byte 0 = 0x3A (scale 10, min 3), d = 0.5, dmin = 1; qs[0] = 0b11100100: weights 0, 32,
     * 64, 96 have quants 0, 1, 2, 3 (bits 0-1, 2-3, 4-5, 6-7) under scales 0, 2, 4, 6 */
    b[0] = 0x3A;
    b[2] = 0x21; /* scale 1, min 2 */
    b[4] = 0x0F;
    b[6] = 0xF0;
    b[16] = 0xE4;
    put16(b + 80, 0x3800);
    put16(b + 82, 0x3c00);
    float y[256];
    dequant(MST_TYPE_Q2_K, b, 84, 256, y);
    CHECK(y[0] == -3.0f, "Q2_K[0] = %g, expected 0.5*10*0 - 3 = -3", y[0]);
    CHECK(y[32] == -1.5f, "Q2_K[32] = %g, expected 0.5*1*1 - 2 = -1.5", y[32]);
    CHECK(y[64] == 15.0f, "Q2_K[64] = %g, expected 0.5*15*2 - 0 = 15", y[64]);
    CHECK(y[96] == -15.0f, "Q2_K[96] = %g, expected 0.5*0*3 - 15 = -15", y[96]);

    /* Q3_K: scale 0 stored 0 (low nibble of byte 96, top bits of byte 104) -> -32; scale 15 stored 63
     * (high nibble of byte 96+7, bits 6-7 of byte 96+11) -> 31; d = 0.5. Weight 0: qs[0] bits 0-1 = 1,
     * hmask[0] bit 0 clear -> 1 - 4 = -3: 0.5*-32*-3 = 48. Weight 255 = 128 + 96 + 31: qs[32+31] bits 6-7 = 2,
     * hmask[31] bit 7 set -> 2: 0.5*31*2 = 31. */
    memset(b, 0, sizeof b);
    b[32] = 0x01;
    b[32 + 63] = 0x80;
    b[31] = 0x80;
    b[96 + 7] = 0xF0;
    b[96 + 11] = 0xC0;
    put16(b + 108, 0x3800);
    dequant(MST_TYPE_Q3_K, b, 110, 256, y);
    CHECK(y[0] == 48.0f, "Q3_K[0] = %g, expected 48", y[0]);
    CHECK(y[255] == 31.0f, "Q3_K[255] = %g, expected 31", y[255]);
    CHECK(y[16] == 0.5f * -32 * -4, "Q3_K[16] = %g, expected 64 (scale 1 stored 0, quant 0 - 4)", y[16]);
}

/* Random bytes with sane fp16 scales; every packing bit pattern is exercised. */
static void randomize(uint64_t *s, int32_t type, uint8_t *b)
{
    size_t n = mst_type_block_bytes(type);
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)rng_next(s);
    uint16_t d = t_fp32_to_fp16(rng_uniform(s, 0.002f, 0.02f)), dm = t_fp32_to_fp16(rng_uniform(s, 0.002f, 0.02f));
    switch (type) {
    case MST_TYPE_Q4_K:
    case MST_TYPE_Q5_K: put16(b, d); put16(b + 2, dm); break;
    case MST_TYPE_Q6_K: put16(b + 208, d); break;
    case MST_TYPE_Q2_K: put16(b + 80, d); put16(b + 82, dm); break;
    case MST_TYPE_Q3_K: put16(b + 108, d); break;
    }
}

static void test_random_blocks(void)
{
    uint64_t s = 7;
    for (size_t t = 0; t < 5; t++) {
        int32_t type = K_TYPES[t];
        const int nb = 40;
        uint8_t *b = xmalloc(mst_type_block_bytes(type) * nb);
        float *y = xmalloc(256 * nb * 4), e[256];
        for (int k = 0; k < nb; k++)
            randomize(&s, type, b + k * mst_type_block_bytes(type));
        dequant(type, b, mst_type_block_bytes(type) * nb, 256 * nb, y);
        int bad = 0;
        for (int k = 0; k < nb; k++) {
            expect_block(type, b + k * mst_type_block_bytes(type), e);
            for (int i = 0; i < 256; i++)
                if (memcmp(&e[i], &y[256 * k + i], 4) != 0 && !bad++)
                    CHECK(0, "%s block %d weight %d: %.9g, the restated layout gives %.9g", mst_type_name(type), k, i,
                          y[256 * k + i], e[i]);
        }
        free(b);
        free(y);
    }
}

static void *k_weights(uint64_t *s, int32_t type, uint32_t rows, uint32_t cols, size_t *bytes)
{
    size_t nb = (size_t)rows * cols / 256;
    uint8_t *w = xmalloc(nb * mst_type_block_bytes(type));
    for (size_t k = 0; k < nb; k++)
        randomize(s, type, w + k * mst_type_block_bytes(type));
    *bytes = nb * mst_type_block_bytes(type);
    return w;
}

static void check_matmul(const mst_cpu_kernels *k, int32_t type, uint32_t rows, uint32_t cols, uint32_t n_tokens,
                         uint64_t seed)
{
    uint64_t s = seed;
    size_t bytes;
    uint8_t *w = k_weights(&s, type, rows, cols, &bytes);
    float *x = xmalloc((size_t)n_tokens * cols * 4);
    fill_uniform(&s, x, (size_t)n_tokens * cols, -1.0f, 1.0f);
    float *y = xmalloc((size_t)n_tokens * rows * 4), *y_ref = xmalloc((size_t)n_tokens * rows * 4);
    float *y_split = xmalloc((size_t)n_tokens * rows * 4), *wf = xmalloc((size_t)rows * cols * 4);
    mst_dequantize_ref(type, w, (uint64_t)rows * cols, wf);
    const size_t row_bytes = bytes / rows;
    mst_matmul_fn fn = mst_kernels_matmul(k, type);
    CHECK(fn != NULL, "%s has no %s matmul", k->name, mst_type_name(type));
    if (!fn)
        return;
    mst_matmul_ref(type, w, row_bytes, rows, cols, x, n_tokens, y_ref, 0, rows);
    fn(w, row_bytes, rows, cols, x, n_tokens, y, 0, rows);
    uint32_t cut = rows / 2;
    fn(w, row_bytes, rows, cols, x, n_tokens, y_split, 0, cut);
    fn(w, row_bytes, rows, cols, x, n_tokens, y_split, cut, rows);
    check_matmul_result(k->name, mst_type_name(type), wf, x, y, y_ref, y_split, rows, cols, n_tokens, 1e-5, 0.0);
    free(w);
    free(x);
    free(y);
    free(y_ref);
    free(y_split);
    free(wf);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Not a check: a rough single-thread timing of a 4096 x 4096 matrix, one token (decode) and 16 (prefill). */
static void report_speed(const mst_cpu_kernels *k, int32_t type)
{
    const uint32_t rows = 4096, cols = 4096;
    uint64_t s = 5;
    size_t bytes;
    uint8_t *w = k_weights(&s, type, rows, cols, &bytes);
    float *x = xmalloc((size_t)16 * cols * 4), *y = xmalloc((size_t)16 * rows * 4);
    fill_uniform(&s, x, (size_t)16 * cols, -1, 1);
    mst_matmul_fn fn = mst_kernels_matmul(k, type);
    fn(w, bytes / rows, rows, cols, x, 1, y, 0, rows);
    double t0 = now_s();
    for (int i = 0; i < 5; i++)
        fn(w, bytes / rows, rows, cols, x, 1, y, 0, rows);
    double t1 = now_s();
    fn(w, bytes / rows, rows, cols, x, 16, y, 0, rows);
    double t2 = now_s();
    printf("  %s %s 4096x4096: 1 token %.2f ms (%.1f GB/s of weights), 16 tokens %.1f ms (%.1f GFLOP/s)\n", k->name,
           mst_type_name(type), (t1 - t0) / 5 * 1e3, bytes / ((t1 - t0) / 5) * 1e-9, (t2 - t1) * 1e3,
           2.0 * rows * cols * 16 / (t2 - t1) * 1e-9);
    free(w);
    free(x);
    free(y);
}

static void run_variant(const mst_cpu_kernels *k, int speed)
{
    static const uint32_t cols_list[] = {256, 512, 768};
    static const uint32_t rows_list[] = {1, 3, 17};
    static const uint32_t tokens_list[] = {1, 4, 5};
    uint64_t seed = 100;
    int before = g_failures;
    for (size_t t = 0; t < 5; t++) {
        for (size_t ci = 0; ci < 3; ci++)
            for (size_t ri = 0; ri < 3; ri++)
                for (size_t ni = 0; ni < 3; ni++)
                    check_matmul(k, K_TYPES[t], rows_list[ri], cols_list[ci], tokens_list[ni], seed++);
        /* several row tiles and token groups of 4 plus a remainder */
        check_matmul(k, K_TYPES[t], 301, 4096, 9, seed++);
    }
    printf("%s: %s\n", k->name, g_failures == before ? "ok" : "FAILED");
    if (speed)
        for (size_t t = 0; t < 5; t++)
            report_speed(k, K_TYPES[t]);
}

static void test_abi_entry(void)
{
    uint64_t s = 3;
    size_t bytes;
    uint8_t *w = k_weights(&s, MST_TYPE_Q4_K, 3, 512, &bytes);
    float x[512], y[12], yr[3];
    fill_uniform(&s, x, 512, -1, 1);
    CHECK(bytes == 3 * 2 * 144, "Q4_K 3 x 512 bytes %zu", bytes);
    CHECK(mst_kernel_matmul(MST_IMPL_BEST, MST_TYPE_Q4_K, w, bytes, 3, 512, x, 1, y) == MST_OK, "BEST: %s",
          mst_last_error());
    CHECK(mst_kernel_matmul(MST_IMPL_REFERENCE, MST_TYPE_Q4_K, w, bytes, 3, 512, x, 1, yr) == MST_OK, "REF: %s",
          mst_last_error());
    /* BEST quantizes x to Q8_K blocks (test_kquant_qa checks it exactly): each activation moves by at most
     * max|x|/254 (<= 1/254 here), so y moves by at most Σ_c |w_rc|/254; 1.01 covers float rounding. */
    float wf[3 * 512];
    mst_dequantize_ref(MST_TYPE_Q4_K, w, 3 * 512, wf);
    for (int r = 0; r < 3; r++) {
        double wsum = 0;
        for (int c = 0; c < 512; c++)
            wsum += fabs((double)wf[r * 512 + c]);
        CHECK(fabs((double)y[r] - yr[r]) <= wsum / 254 * 1.01, "BEST vs REFERENCE through the ABI, row %d: %g vs %g", r,
              y[r], yr[r]);
    }
    CHECK(mst_kernel_matmul(MST_IMPL_BEST, MST_TYPE_Q4_K, w, bytes, 6, 256, x, 1, y) == MST_OK,
          "6 x 256 is the same bytes");
    CHECK(mst_kernel_matmul(MST_IMPL_BEST, MST_TYPE_Q4_K, w, bytes, 12, 128, x, 1, y) == MST_ERR_INVALID_ARGUMENT,
          "cols 128 is not a multiple of 256");
    float out[256];
    CHECK(mst_kernel_dequantize(MST_TYPE_Q6_K, w, 209, 256, out) == MST_ERR_INVALID_ARGUMENT, "Q6_K takes 210 bytes");
    CHECK(mst_kernel_dequantize(MST_TYPE_Q5_K, w, 176, 128, out) == MST_ERR_INVALID_ARGUMENT, "n 128 for Q5_K");
    free(w);
}

int main(int argc, char **argv)
{
    int speed = argc > 1 && strcmp(argv[1], "speed") == 0;
    test_q4_k_hand();
    test_q5_k_hand();
    test_q6_k_hand();
    test_q2_q3_hand();
    test_random_blocks();
    printf("best kernels on this CPU: %s\n", mst_cpu_best()->name);
    /* float activations: only the references (every ISA's table holds them); the SIMD K-quant kernels run
     * on Q8_K activations and are checked in test_kquant_qa and test_kquant_x16 */
    run_variant(mst_cpu_scalar(), speed);
    test_abi_entry();
    return finish("kernel_kquant");
}
