/* test_emu_async.cpp — the emulator's ldmatrix and cp.async (emu/ldmatrix.cpp, emu/async.cpp) give what the
 * PTX ISA defines, on correct kernels (emu_kernels.cu). One case per run: test_emu_async <case>.
 *
 *   ldmatrix_forms     x1, x2, x4, x2_trans, x4_trans against a host model of the ISA's fragment layout, lane
 *                      by lane (rows permuted and padded; lanes past 8 * num ignored)
 *   ldmatrix_mma_f16   A and B fragments by ldmatrix (B both K-major with .trans and N-major without) into
 *                      mst_mma_m16n8k16_f16_f32: a 16x8x16 product equal to the host's
 *   ldmatrix_mma_s8    the same for int8 rows viewed as b16, into mst_mma_m16n8k32_s8_s32
 *   cp_async_pipeline  a two-stage cp.async pipeline copies an odd-sized array through shared memory exactly
 *   cp_async_zfill     src_bytes 0..16 (and 0..4) copy that many bytes and zero the rest; wait_group 2, 1, 0
 *                      each complete the oldest group */
#include "emu_test_support.h"
#include "emu/emu.h"

extern "C" {
extern const mst_kernel_ref mst_kernel_emu_ldmatrix_forms, mst_kernel_emu_ldmatrix_mma_f16,
    mst_kernel_emu_ldmatrix_mma_s8, mst_kernel_emu_cp_async_pipeline, mst_kernel_emu_cp_async_zfill;
float mst_fp16_to_fp32(uint16_t h);
}

static mst_dptr up(const void *h, size_t bytes)
{
    mst_dptr d = 0;
    if (mst_dev_alloc(g_dev, bytes, &d) != MST_OK || (h && mst_dev_upload(g_dev, d, h, bytes) != MST_OK)) {
        printf("FAIL device buffer of %zu bytes: %s\n", bytes, mst_last_error());
        exit(1);
    }
    return d;
}
static void down(void *h, mst_dptr d, size_t bytes)
{
    if (mst_dev_download(g_dev, h, d, bytes) != MST_OK) {
        printf("FAIL download: %s\n", mst_last_error());
        exit(1);
    }
}
/* whether the launch succeeded (emu_launch printed why not) */
static int run(const mst_kernel_ref *k, mst_dim3 grid, mst_dim3 block, uint32_t shared, void **args)
{
    return emu_launch(k, grid, block, shared, args) == MST_OK;
}
static uint64_t g_seed = 12345;
static uint32_t rnd(void)
{
    g_seed = g_seed * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(g_seed >> 32);
}

/* ---- ldmatrix ---- */

/* The ISA's layout, written from its description (not from the emulator): lane l's register for an 8x8
 * matrix m holds row l/4, columns 2(l%4) and 2(l%4)+1 in its low and high halves; transposed, rows 2(l%4)
 * and 2(l%4)+1 of column l/4. */
static uint32_t model(const uint16_t m[8][8], uint32_t l, int trans)
{
    const uint32_t g = l / 4, t = l % 4;
    if (trans)
        return (uint32_t)m[2 * t][g] | (uint32_t)m[2 * t + 1][g] << 16;
    return (uint32_t)m[g][2 * t] | (uint32_t)m[g][2 * t + 1] << 16;
}

static void test_ldmatrix_forms(void)
{
    uint16_t M[4][8][8];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 8; j++)
            for (int c = 0; c < 8; c++)
                M[i][j][c] = (uint16_t)(((i * 64 + j * 8 + c) * 1031 + 77) & 0xffff); /* 256 distinct values */
    mst_dptr dM = up(M, sizeof M), dOut = up(NULL, 6 * 128 * 4);
    void *args[] = {&dM, &dOut};
    if (!run(&mst_kernel_emu_ldmatrix_forms, mst_dim3{1, 1, 1}, mst_dim3{32, 1, 1}, 0, args)) {
        g_failures++;
        return;
    }
    uint32_t out[6][32][4];
    down(out, dOut, sizeof out);
    struct {
        const char *name;
        int num, trans, first;
    } forms[6] = {{"x1", 1, 0, 0},       {"x2", 2, 0, 0},       {"x4", 4, 0, 0},
                  {"x2_trans", 2, 1, 0}, {"x4_trans", 4, 1, 0}, {"x2 from lanes' rows 16..31", 2, 0, 2}};
    for (int f = 0; f < 6; f++)
        for (uint32_t l = 0; l < 32; l++)
            for (int i = 0; i < 4; i++) {
                /* registers past num are untouched (the kernel zeroed them) */
                const uint32_t want = i < forms[f].num ? model(M[forms[f].first + i], l, forms[f].trans) : 0;
                CHECK(out[f][l][i] == want, "%s: lane %u r[%d] = %08x, want %08x", forms[f].name, l, i, out[f][l][i],
                      want);
            }
    mst_dev_free(g_dev, dM);
    mst_dev_free(g_dev, dOut);
}

/* A, B: multiples of 1/8 in [-2, 2], so every f16 product is a multiple of 1/64 below 4 and every sum of 16
 * below 64: exact in float whatever the order. D must equal the double product exactly. */
static void test_ldmatrix_mma_f16(void)
{
    uint16_t A[16 * 16], Bk[16 * 8], Bn[8 * 16];
    double Af[16 * 16], Bf[16 * 8];
    for (int e = 0; e < 256; e++) {
        Af[e] = (int)(rnd() % 33 - 16) / 8.0;
        A[e] = mst_emu_f2h((float)Af[e]);
        CHECK(mst_fp16_to_fp32(A[e]) == (float)Af[e], "A[%d] is not exact in f16", e);
    }
    for (int k = 0; k < 16; k++)
        for (int n = 0; n < 8; n++) {
            Bf[k * 8 + n] = (int)(rnd() % 33 - 16) / 8.0;
            Bk[k * 8 + n] = Bn[n * 16 + k] = mst_emu_f2h((float)Bf[k * 8 + n]);
        }
    mst_dptr dA = up(A, sizeof A), dBk = up(Bk, sizeof Bk), dBn = up(Bn, sizeof Bn);
    mst_dptr dD1 = up(NULL, 128 * 4), dD2 = up(NULL, 128 * 4);
    void *args[] = {&dA, &dBk, &dBn, &dD1, &dD2};
    if (!run(&mst_kernel_emu_ldmatrix_mma_f16, mst_dim3{1, 1, 1}, mst_dim3{32, 1, 1}, 0, args)) {
        g_failures++;
        return;
    }
    float D1[128], D2[128];
    down(D1, dD1, sizeof D1);
    down(D2, dD2, sizeof D2);
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 8; j++) {
            double want = 0;
            for (int k = 0; k < 16; k++)
                want += Af[i * 16 + k] * Bf[k * 8 + j];
            CHECK(D1[i * 8 + j] == (float)want, "K-major B (.trans): D[%d][%d] = %g, want %g", i, j, D1[i * 8 + j],
                  want);
            CHECK(D2[i * 8 + j] == (float)want, "N-major B: D[%d][%d] = %g, want %g", i, j, D2[i * 8 + j], want);
        }
    mst_dev_free(g_dev, dA), mst_dev_free(g_dev, dBk), mst_dev_free(g_dev, dBn);
    mst_dev_free(g_dev, dD1), mst_dev_free(g_dev, dD2);
}

/* Full-range int8 (with -128 in A and B): the int32 product is exact. */
static void test_ldmatrix_mma_s8(void)
{
    int8_t A[16 * 32], Bn[8 * 32];
    for (int e = 0; e < 512; e++)
        A[e] = (int8_t)(rnd() >> 24);
    for (int e = 0; e < 256; e++)
        Bn[e] = (int8_t)(rnd() >> 24);
    A[5] = -128, Bn[5] = -128;
    mst_dptr dA = up(A, sizeof A), dB = up(Bn, sizeof Bn), dD = up(NULL, 128 * 4);
    void *args[] = {&dA, &dB, &dD};
    if (!run(&mst_kernel_emu_ldmatrix_mma_s8, mst_dim3{1, 1, 1}, mst_dim3{32, 1, 1}, 0, args)) {
        g_failures++;
        return;
    }
    int32_t D[128];
    down(D, dD, sizeof D);
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 8; j++) {
            int32_t want = 0;
            for (int k = 0; k < 32; k++)
                want += A[i * 32 + k] * Bn[j * 32 + k];
            CHECK(D[i * 8 + j] == want, "D[%d][%d] = %d, want %d", i, j, D[i * 8 + j], want);
        }
    mst_dev_free(g_dev, dA), mst_dev_free(g_dev, dB), mst_dev_free(g_dev, dD);
}

/* ---- cp.async ---- */

static void test_cp_async_pipeline(void)
{
    /* 20011 words (not a multiple of 4: the last copy is 12 bytes), 3 blocks of 96 threads: 53 tiles of 384
     * words, so blocks run unequal numbers of iterations and one's prefetch past the end is empty */
    const uint32_t n = 20011, threads = 96, blocks = 3;
    uint32_t *h = (uint32_t *)malloc(n * 4), *r = (uint32_t *)malloc(n * 4);
    for (uint32_t i = 0; i < n; i++)
        h[i] = rnd();
    mst_dptr src = up(h, n * 4), dst = up(NULL, n * 4);
    mst_dev_memset32(g_dev, dst, 0xdeadbeefu, n);
    void *args[] = {&src, &dst, (void *)&n};
    if (run(&mst_kernel_emu_cp_async_pipeline, mst_dim3{blocks, 1, 1}, mst_dim3{threads, 1, 1}, 2 * threads * 16,
            args)) {
        down(r, dst, n * 4);
        for (uint32_t i = 0; i < n; i++)
            CHECK(r[i] == h[i], "dst[%u] = %08x, want %08x", i, r[i], h[i]);
    } else {
        g_failures++;
    }
    /* more blocks than tiles: the extra blocks only issue and wait for an empty copy */
    const uint32_t n2 = 5;
    void *args2[] = {&src, &dst, (void *)&n2};
    if (run(&mst_kernel_emu_cp_async_pipeline, mst_dim3{2, 1, 1}, mst_dim3{32, 1, 1}, 2 * 32 * 16, args2)) {
        down(r, dst, n2 * 4);
        for (uint32_t i = 0; i < n2; i++)
            CHECK(r[i] == h[i], "n = 5: dst[%u] = %08x, want %08x", i, r[i], h[i]);
    } else {
        g_failures++;
    }
    free(h);
    free(r);
    mst_dev_free(g_dev, src);
    mst_dev_free(g_dev, dst);
}

static void test_cp_async_zfill(void)
{
    uint8_t src[512];
    for (int i = 0; i < 512; i++)
        src[i] = (uint8_t)(i * 7 + 1); /* never 0: a copied byte differs from a zero-filled one */
    mst_dptr dsrc = up(src, sizeof src), d16 = up(NULL, 512), d4 = up(NULL, 128), dg = up(NULL, 96 * 4);
    void *args[] = {&dsrc, &d16, &d4, &dg};
    if (!run(&mst_kernel_emu_cp_async_zfill, mst_dim3{1, 1, 1}, mst_dim3{32, 1, 1}, 0, args)) {
        g_failures++;
        return;
    }
    uint8_t o16[512], o4[128];
    uint32_t og[96], src32[128];
    down(o16, d16, sizeof o16);
    down(o4, d4, sizeof o4);
    down(og, dg, sizeof og);
    memcpy(src32, src, sizeof src32);
    for (uint32_t l = 0; l < 32; l++) {
        for (uint32_t b = 0; b < 16; b++)
            CHECK(o16[16 * l + b] == (b < l % 17 ? src[16 * l + b] : 0), "16-byte copy of lane %u (src_bytes %u): "
                  "byte %u = %02x", l, l % 17, b, o16[16 * l + b]);
        for (uint32_t b = 0; b < 4; b++)
            CHECK(o4[4 * l + b] == (b < l % 5 ? src[4 * l + b] : 0), "4-byte copy of lane %u (src_bytes %u): byte %u "
                  "= %02x", l, l % 5, b, o4[4 * l + b]);
        for (uint32_t q = 0; q < 3; q++)
            CHECK(og[3 * l + q] == src32[32 * q + l], "lane %u group %u: %08x, want %08x", l, q, og[3 * l + q],
                  src32[32 * q + l]);
    }
    mst_dev_free(g_dev, dsrc), mst_dev_free(g_dev, d16), mst_dev_free(g_dev, d4), mst_dev_free(g_dev, dg);
}

int main(int argc, char **argv)
{
    static const emu_case cases[] = {{"ldmatrix_forms", test_ldmatrix_forms},
                                     {"ldmatrix_mma_f16", test_ldmatrix_mma_f16},
                                     {"ldmatrix_mma_s8", test_ldmatrix_mma_s8},
                                     {"cp_async_pipeline", test_cp_async_pipeline},
                                     {"cp_async_zfill", test_cp_async_zfill}};
    return emu_test_main(argc, argv, cases);
}
