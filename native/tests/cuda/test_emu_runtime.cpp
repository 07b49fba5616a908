/* test_emu_runtime.cpp — the SIMT emulator runs correct kernels (emu_kernels.cu) correctly, through the
 * device API (device.h) opened emulated. One case per run: test_emu_runtime <case>.
 *
 *   device        alloc/upload/download/copy/memset32 round trips; describe() names the emulator
 *   indices       threadIdx/blockIdx/blockDim/gridDim on a 3-D grid of 3-D blocks
 *   reduction     the block reduction (grid-stride, shuffles, shared partials, early-returning warps)
 *   fresh_shared  every block starts with freshly filled static shared memory
 *   early_exit    threads that returned before a barrier count as arrived
 *   dp4a, f16, f2h_ties, warp, atomics, dyn_shared, mma_f16, mma_s8
 *   speed         thread, barrier and GEMV rates (printed; fails only if something is wrong) */
#include <math.h>
#include <time.h>

#include "emu_test_support.h"

extern "C" {
extern const mst_kernel_ref mst_kernel_emu_indices, mst_kernel_emu_reduce, mst_kernel_emu_fresh_shared,
    mst_kernel_emu_dp4a, mst_kernel_emu_f16, mst_kernel_emu_warp, mst_kernel_emu_atomics, mst_kernel_emu_dyn_shared,
    mst_kernel_emu_mma_f16, mst_kernel_emu_mma_s8, mst_kernel_emu_gemv, mst_kernel_emu_scale, mst_kernel_emu_barriers,
    mst_kernel_emu_early_exit;
float mst_fp16_to_fp32(uint16_t h);
}

/* A device buffer with its host mirror. */
struct buf {
    mst_dptr d;
    size_t bytes;
};
static buf dalloc(size_t bytes)
{
    buf b = {0, bytes};
    mst_status st = mst_dev_alloc(g_dev, bytes, &b.d);
    if (st != MST_OK) {
        printf("FAIL alloc %zu: %s\n", bytes, mst_last_error());
        exit(1);
    }
    return b;
}
static buf dup_to_dev(const void *src, size_t bytes)
{
    buf b = dalloc(bytes);
    mst_dev_upload(g_dev, b.d, src, bytes);
    return b;
}
static void down(void *dst, buf b)
{
    mst_dev_download(g_dev, dst, b.d, b.bytes);
}

static uint32_t f_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static void test_device(void)
{
    mst_dev_desc desc;
    CHECK(mst_dev_describe(g_dev, &desc) == MST_OK, "describe");
    CHECK(desc.emulated == 1 && desc.compute_major == 8 && desc.compute_minor == 0, "emulated sm_80");
    CHECK(strcmp(desc.name, "SIMT emulator (CPU)") == 0, "name '%s'", desc.name);
    CHECK(desc.total_memory > 0 && desc.free_memory <= desc.total_memory, "memory %llu/%llu",
          (unsigned long long)desc.free_memory, (unsigned long long)desc.total_memory);
    int count = 0;
    CHECK(mst_dev_probe(1, &desc, &count) == MST_OK && count == 1 && desc.emulated, "probe");

    const size_t sizes[] = {0, 1, 6, 12, 34, 4096, 4097, 100000};
    for (size_t s : sizes) {
        buf a = dalloc(s), b = dalloc(s);
        unsigned char *h = (unsigned char *)malloc(s + 1), *r = (unsigned char *)malloc(s + 1);
        for (size_t i = 0; i < s; i++)
            h[i] = (unsigned char)(i * 131 + 7);
        CHECK(mst_dev_upload(g_dev, a.d, h, s) == MST_OK, "upload %zu", s);
        CHECK(mst_dev_copy(g_dev, b.d, a.d, s) == MST_OK, "copy %zu", s);
        memset(r, 0, s + 1);
        CHECK(mst_dev_download(g_dev, r, b.d, s) == MST_OK, "download %zu", s);
        CHECK(memcmp(h, r, s) == 0, "round trip of %zu bytes", s);
        if (s % 4 == 0) {
            CHECK(mst_dev_memset32(g_dev, a.d, 0xdeadbeefu, s / 4) == MST_OK, "memset32");
            mst_dev_download(g_dev, r, a.d, s);
            for (size_t i = 0; i < s / 4; i++) {
                uint32_t v;
                memcpy(&v, r + 4 * i, 4);
                CHECK(v == 0xdeadbeefu, "memset32 word %zu of %zu: %08x", i, s / 4, v);
            }
        }
        free(h);
        free(r);
        mst_dev_free(g_dev, a.d);
        mst_dev_free(g_dev, b.d);
    }
    CHECK(mst_dev_sync(g_dev) == MST_OK, "sync");
    /* bad dimensions are refused, not run */
    buf o = dalloc(16);
    void *args[] = {&o.d};
    CHECK(mst_dev_launch(g_dev, &mst_kernel_emu_indices, mst_dim3{1, 1, 1}, mst_dim3{1025, 1, 1}, 0, args) ==
              MST_ERR_INVALID_ARGUMENT,
          "1025 threads refused");
    CHECK(strstr(mst_last_error(), "emu_indices") != NULL, "message names the kernel: %s", mst_last_error());
    CHECK(mst_dev_launch(g_dev, &mst_kernel_emu_indices, mst_dim3{0, 1, 1}, mst_dim3{1, 1, 1}, 0, args) ==
              MST_ERR_INVALID_ARGUMENT,
          "empty grid refused");
    mst_dev_free(g_dev, o.d);
}

static void test_indices(void)
{
    const mst_dim3 grid = {3, 2, 2}, block = {8, 3, 2};
    const uint32_t per_block = 8 * 3 * 2, n = 12 * per_block;
    buf o = dalloc((size_t)n * 12 * 4);
    void *args[] = {&o.d};
    CHECK(emu_launch(&mst_kernel_emu_indices, grid, block, 0, args) == MST_OK, "launch");
    uint32_t *h = (uint32_t *)malloc(o.bytes);
    down(h, o);
    uint32_t g = 0;
    for (uint32_t bz = 0; bz < 2; bz++)
        for (uint32_t by = 0; by < 2; by++)
            for (uint32_t bx = 0; bx < 3; bx++)
                for (uint32_t tz = 0; tz < 2; tz++)
                    for (uint32_t ty = 0; ty < 3; ty++)
                        for (uint32_t tx = 0; tx < 8; tx++, g++) {
                            const uint32_t want[12] = {tx, ty, tz, bx, by, bz, 8, 3, 2, 3, 2, 2};
                            CHECK(memcmp(h + 12 * g, want, sizeof want) == 0, "thread (%u,%u,%u) block (%u,%u,%u)",
                                  tx, ty, tz, bx, by, bz);
                        }
    free(h);
    mst_dev_free(g_dev, o.d);
}

static void test_reduction(void)
{
    /* Small integers: every partial sum is an integer below 2^24, so float sums are exact in any order and
     * the comparison can be exact. */
    const uint64_t n = 5003;
    const uint32_t blocks = 4, threads = 256;
    float *x = (float *)malloc(n * 4);
    double want[4] = {0, 0, 0, 0};
    for (uint64_t i = 0; i < n; i++) {
        x[i] = (float)((int)(i % 7) - 3);
        want[(i / threads) % blocks] += x[i];
    }
    buf dx = dup_to_dev(x, n * 4), out = dalloc(blocks * 4);
    void *args[] = {&dx.d, (void *)&n, &out.d};
    CHECK(emu_launch(&mst_kernel_emu_reduce, mst_dim3{blocks, 1, 1}, mst_dim3{threads, 1, 1}, 0, args) == MST_OK,
          "launch");
    float got[4];
    down(got, out);
    for (uint32_t b = 0; b < blocks; b++)
        CHECK(got[b] == (float)want[b], "block %u: %g, want %g", b, got[b], want[b]);
    /* a block of 96 threads: 3 warps' partials */
    const uint32_t t96 = 96;
    void *args2[] = {&dx.d, (void *)&n, &out.d};
    CHECK(emu_launch(&mst_kernel_emu_reduce, mst_dim3{1, 1, 1}, mst_dim3{t96, 1, 1}, 0, args2) == MST_OK, "launch 96");
    down(got, out);
    double all = 0;
    for (uint64_t i = 0; i < n; i++)
        all += x[i];
    CHECK(got[0] == (float)all, "one block of 96: %g, want %g", got[0], all);
    free(x);
    mst_dev_free(g_dev, dx.d);
    mst_dev_free(g_dev, out.d);
}

static void test_fresh_shared(void)
{
    const uint32_t blocks = 3, threads = 64;
    buf o = dalloc(blocks * threads * 4);
    void *args[] = {&o.d};
    CHECK(emu_launch(&mst_kernel_emu_fresh_shared, mst_dim3{blocks, 1, 1}, mst_dim3{threads, 1, 1}, 0, args) == MST_OK,
          "launch");
    uint32_t h[3 * 64];
    down(h, o);
    for (uint32_t i = 0; i < blocks * threads; i++)
        CHECK(h[i] == 0xffffffffu, "thread %u saw %08x before any write in its block", i, h[i]);
    mst_dev_free(g_dev, o.d);
}

static int32_t dp4a_ref(int32_t a, int32_t b, int32_t c)
{
    int64_t s = c;
    for (int i = 0; i < 4; i++)
        s += (int64_t)(int8_t)(a >> (8 * i)) * (int8_t)(b >> (8 * i));
    return (int32_t)(uint32_t)(uint64_t)s;
}

static void test_dp4a(void)
{
    enum { N = 200 };
    int32_t a[N], b[N], c[N], r[N];
    uint64_t s = 12345;
    for (int i = 0; i < N; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        a[i] = (int32_t)(s >> 32);
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        b[i] = (int32_t)(s >> 32);
        c[i] = (int32_t)(s & 0xffff) - 30000;
    }
    a[0] = b[0] = (int32_t)0x80808080u; /* 4 * (-128)^2 */
    c[0] = 0;
    a[1] = (int32_t)0x7f7f7f7fu, b[1] = (int32_t)0x80808080u, c[1] = 0; /* 4 * 127 * -128 */
    c[2] = INT32_MAX; /* wraps */
    a[2] = b[2] = 0x01010101;
    buf da = dup_to_dev(a, sizeof a), db = dup_to_dev(b, sizeof b), dc = dup_to_dev(c, sizeof c), dr = dalloc(sizeof r);
    uint32_t n = N;
    void *args[] = {&da.d, &db.d, &dc.d, &dr.d, &n};
    CHECK(emu_launch(&mst_kernel_emu_dp4a, mst_dim3{4, 1, 1}, mst_dim3{64, 1, 1}, 0, args) == MST_OK, "launch");
    down(r, dr);
    for (int i = 0; i < N; i++)
        CHECK(r[i] == dp4a_ref(a[i], b[i], c[i]), "dp4a(%08x, %08x, %d) = %d, want %d", a[i], b[i], c[i], r[i],
              dp4a_ref(a[i], b[i], c[i]));
    CHECK(r[0] == 65536 && r[1] == -65024, "extremes %d %d", r[0], r[1]);
    mst_dev_free(g_dev, da.d), mst_dev_free(g_dev, db.d), mst_dev_free(g_dev, dc.d), mst_dev_free(g_dev, dr.d);
}

/* f16 bits -> value, written from the format's definition (not from quant.c): sign, 5-bit exponent (bias 15),
 * 10-bit fraction, subnormals at exponent 0. */
static double h_value(uint16_t h)
{
    int sign = h >> 15, e = (h >> 10) & 31, m = h & 1023;
    double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(1024 + m, e - 25);
    return sign ? -v : v;
}

static void run_f16(const uint16_t *h, const float *f, uint32_t n, float *hf, uint16_t *hfh, uint16_t *fh)
{
    buf dh = dup_to_dev(h, n * 2), df = dup_to_dev(f, n * 4), dhf = dalloc(n * 4), dhfh = dalloc(n * 2),
        dfh = dalloc(n * 2);
    void *args[] = {&dh.d, &dhf.d, &dhfh.d, &df.d, &dfh.d, &n};
    CHECK(emu_launch(&mst_kernel_emu_f16, mst_dim3{(n + 255) / 256, 1, 1}, mst_dim3{256, 1, 1}, 0, args) == MST_OK,
          "launch");
    down(hf, dhf), down(hfh, dhfh), down(fh, dfh);
    mst_dev_free(g_dev, dh.d), mst_dev_free(g_dev, df.d), mst_dev_free(g_dev, dhf.d), mst_dev_free(g_dev, dhfh.d),
        mst_dev_free(g_dev, dfh.d);
}

static void test_f16(void)
{
    const uint32_t n = 65536;
    uint16_t *h = (uint16_t *)malloc(n * 2), *hfh = (uint16_t *)malloc(n * 2), *fh = (uint16_t *)malloc(n * 2);
    float *f = (float *)calloc(n, 4), *hf = (float *)malloc(n * 4);
    for (uint32_t i = 0; i < n; i++)
        h[i] = (uint16_t)i;
    run_f16(h, f, n, hf, hfh, fh);
    uint32_t nans = 0;
    for (uint32_t i = 0; i < n; i++) {
        double want = h_value((uint16_t)i);
        if (isnan(want)) {
            nans++;
            CHECK(isnan(hf[i]) && (hfh[i] & 0x7c00) == 0x7c00 && (hfh[i] & 0x3ff), "nan %04x -> %08x -> %04x", i,
                  f_bits(hf[i]), hfh[i]);
            continue;
        }
        CHECK((double)hf[i] == want && signbit(hf[i]) == (int)(i >> 15), "h2f(%04x) = %a, want %a", i, hf[i], want);
        CHECK(hfh[i] == i, "f2h(h2f(%04x)) = %04x", i, hfh[i]);
    }
    CHECK(nans == 2 * 1023, "%u nan patterns", nans);
    free(h), free(hfh), free(fh), free(f), free(hf);
}

static void test_f2h_ties(void)
{
    /* Exact midpoints between neighbouring f16 values (a midpoint needs 12 significant bits: exact in float)
     * must round to the neighbour with the even fraction; just above/below a midpoint to the nearer one. */
    enum { MAXN = 3 * 2 * 31744 + 8 };
    uint16_t *h = (uint16_t *)calloc(MAXN, 2), *hfh = (uint16_t *)malloc(MAXN * 2), *fh = (uint16_t *)malloc(MAXN * 2),
             *want = (uint16_t *)malloc(MAXN * 2);
    float *f = (float *)malloc(MAXN * 4), *hf = (float *)malloc(MAXN * 4);
    uint32_t n = 0;
    for (uint32_t sign = 0; sign < 2; sign++)
        for (uint32_t lo = 0; lo < 0x7bff; lo++) { /* lo and lo + 1 both finite */
            double a = h_value((uint16_t)lo), b = h_value((uint16_t)(lo + 1)), mid = (a + b) / 2;
            uint16_t s = (uint16_t)(sign << 15);
            float m = (float)(sign ? -mid : mid);
            CHECK((double)fabsf(m) == mid, "midpoint of %04x not exact in float", lo);
            f[n] = m, want[n++] = (uint16_t)(s | ((lo & 1) ? lo + 1 : lo));
            f[n] = nextafterf(m, sign ? -INFINITY : INFINITY), want[n++] = (uint16_t)(s | (lo + 1));
            f[n] = nextafterf(m, 0.0f), want[n++] = (uint16_t)(s | lo);
        }
    /* overflow: 65504 is the largest; 65520 (its midpoint with 2^16) rounds to infinity, just below to 65504 */
    f[n] = 65520.0f, want[n++] = 0x7c00;
    f[n] = nextafterf(65520.0f, 0.0f), want[n++] = 0x7bff;
    f[n] = -1e10f, want[n++] = 0xfc00;
    f[n] = 0x1p-25f, want[n++] = 0x0000; /* half the smallest subnormal: a tie, to even (zero) */
    f[n] = 0x1.8p-24f, want[n++] = 0x0002; /* 1.5 ulps of subnormal: tie between 1 and 2, to 2 */
    f[n] = -0.0f, want[n++] = 0x8000;
    run_f16(h, f, n, hf, hfh, fh);
    for (uint32_t i = 0; i < n; i++)
        CHECK(fh[i] == want[i], "f2h(%a) = %04x, want %04x", f[i], fh[i], want[i]);
    free(h), free(hfh), free(fh), free(want), free(f), free(hf);
}

static void test_warp(void)
{
    const uint32_t n = 64;
    buf fo = dalloc(n * 3 * 4), io = dalloc(n * 3 * 4), bo = dalloc(n * 4);
    void *args[] = {&fo.d, &io.d, &bo.d};
    CHECK(emu_launch(&mst_kernel_emu_warp, mst_dim3{1, 1, 1}, mst_dim3{n, 1, 1}, 0, args) == MST_OK, "launch");
    float f[64 * 3];
    int32_t iv[64 * 3];
    uint32_t b[64];
    down(f, fo), down(iv, io), down(b, bo);
    uint32_t ballot[2] = {0, 0};
    for (uint32_t t = 0; t < n; t++)
        if ((t & 1) || t > 40)
            ballot[t / 32] |= 1u << (t % 32);
    for (uint32_t t = 0; t < n; t++) {
        uint32_t lane = t % 32, base = t - lane;
        auto fv = [](uint32_t u) { return 0.5f * (float)u; };
        auto ivv = [](uint32_t u) { return (int32_t)(u * 3u) - 50; };
        CHECK(f[t * 3 + 0] == fv(base + (lane ^ 1)), "xor f32 lane %u", t);
        CHECK(f[t * 3 + 1] == fv(lane + 3 < 32 ? t + 3 : t), "down f32 lane %u: %g", t, f[t * 3 + 1]);
        CHECK(f[t * 3 + 2] == fv(base + (lane * 7) % 32), "idx f32 lane %u", t);
        CHECK(iv[t * 3 + 0] == ivv(base + (lane ^ 5)), "xor i32 lane %u", t);
        CHECK(iv[t * 3 + 1] == ivv(lane + 17 < 32 ? t + 17 : t), "down i32 lane %u", t);
        CHECK(iv[t * 3 + 2] == ivv(base + 31 - lane), "idx i32 lane %u", t);
        CHECK(b[t] == ballot[t / 32], "ballot thread %u: %08x, want %08x", t, b[t], ballot[t / 32]);
    }
    mst_dev_free(g_dev, fo.d), mst_dev_free(g_dev, io.d), mst_dev_free(g_dev, bo.d);
}

static void test_atomics(void)
{
    const uint32_t blocks = 5, threads = 96, n = blocks * threads;
    float f0 = 1.0f;
    int32_t i0 = -7, m0 = -1000;
    buf f = dup_to_dev(&f0, 4), i = dup_to_dev(&i0, 4), m = dup_to_dev(&m0, 4);
    void *args[] = {&f.d, &i.d, &m.d};
    CHECK(emu_launch(&mst_kernel_emu_atomics, mst_dim3{blocks, 1, 1}, mst_dim3{threads, 1, 1}, 0, args) == MST_OK,
          "launch");
    float fr;
    int32_t ir, mr, mwant = -1000;
    down(&fr, f), down(&ir, i), down(&mr, m);
    for (uint32_t g = 0; g < n; g++)
        if ((int32_t)((g * 37u) % 101u) - 50 > mwant)
            mwant = (int32_t)((g * 37u) % 101u) - 50;
    /* 0.25 steps: every partial sum is exact in float */
    CHECK(fr == 1.0f + 0.25f * n, "float sum %g", fr);
    CHECK(ir == -7 + (int32_t)(n * (n - 1) / 2), "int sum %d", ir);
    CHECK(mr == mwant, "max %d, want %d", mr, mwant);
    mst_dev_free(g_dev, f.d), mst_dev_free(g_dev, i.d), mst_dev_free(g_dev, m.d);
}

static void test_early_exit(void)
{
    const uint32_t n = 40;
    buf o = dalloc(96 * 4);
    mst_dev_memset32(g_dev, o.d, 0, 96);
    void *args[] = {&o.d, (void *)&n};
    CHECK(emu_launch(&mst_kernel_emu_early_exit, mst_dim3{2, 1, 1}, mst_dim3{96, 1, 1}, 0, args) == MST_OK, "launch");
    float h[96];
    down(h, o);
    for (uint32_t t = 0; t < 96; t++)
        CHECK(h[t] == (t < n ? (float)((t + 1) % n) : 0.0f), "thread %u: %g", t, h[t]);
    mst_dev_free(g_dev, o.d);
}

static void test_dyn_shared(void)
{
    const uint32_t n = 128;
    buf o = dalloc(n * 4);
    void *args[] = {&o.d};
    CHECK(emu_launch(&mst_kernel_emu_dyn_shared, mst_dim3{2, 1, 1}, mst_dim3{n, 1, 1}, n * 4, args) == MST_OK,
          "launch");
    float h[128];
    down(h, o);
    for (uint32_t t = 0; t < n; t++)
        CHECK(h[t] == (float)(t ^ 1) * 2.0f + 1000.0f * (float)((t + 32) % n) * 2.0f, "thread %u: %g", t, h[t]);
    /* too little dynamic shared memory for the block: the accessor's bound is the launch's size */
    CHECK(mst_dev_launch(g_dev, &mst_kernel_emu_dyn_shared, mst_dim3{1, 1, 1}, mst_dim3{n, 1, 1}, n * 2, args) ==
              MST_ERR_INTERNAL,
          "half the shared memory it needs");
    CHECK(strstr(mst_last_error(), "buf[64]") != NULL, "%s", mst_last_error());
    mst_dev_free(g_dev, o.d);
}

/* The fragment tests fill A, B, C with small multiples of 1/8 (f16) or full-range int8: the f16 products and
 * their sums are exact in float (magnitudes below 2^8, 7 fraction bits), so D must equal the double product
 * exactly; the int8 product is exact in int32. */
static void test_mma_f16(void)
{
    uint16_t A[16 * 16], B[16 * 8];
    float C[16 * 8], D[16 * 8];
    double Af[16 * 16], Bf[16 * 8];
    uint64_t s = 99;
    auto small = [&](double *v) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        int k = (int)((s >> 33) % 33) - 16; /* -2 .. 2 in steps of 1/8 */
        *v = k / 8.0;
        /* f16 bits of k/8: exact, built by hand */
        if (k == 0)
            return (uint16_t)0;
        int a = k < 0 ? -k : k, e = 0;
        while ((a << 10 >> e) >= 2048)
            e++;
        uint32_t frac = (uint32_t)(a << 10 >> e) - 1024; /* a / 2^e in [1, 2) */
        uint32_t exp = (uint32_t)(e - 3 + 15);           /* value = (a / 2^e) * 2^(e - 3) */
        return (uint16_t)((k < 0 ? 0x8000u : 0) | (exp << 10) | frac);
    };
    for (int i = 0; i < 256; i++)
        A[i] = small(&Af[i]);
    for (int i = 0; i < 128; i++)
        B[i] = small(&Bf[i]);
    for (int i = 0; i < 128; i++)
        C[i] = (float)((i % 9) - 4) * 0.5f;
    for (int i = 0; i < 256; i++)
        CHECK(mst_fp16_to_fp32(A[i]) == (float)Af[i], "A[%d] encoding", i);
    buf dA = dup_to_dev(A, sizeof A), dB = dup_to_dev(B, sizeof B), dC = dup_to_dev(C, sizeof C), dD = dalloc(sizeof D);
    void *args[] = {&dA.d, &dB.d, &dC.d, &dD.d};
    CHECK(emu_launch(&mst_kernel_emu_mma_f16, mst_dim3{1, 1, 1}, mst_dim3{32, 1, 1}, 0, args) == MST_OK, "launch");
    down(D, dD);
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 8; j++) {
            double want = C[i * 8 + j];
            for (int k = 0; k < 16; k++)
                want += Af[i * 16 + k] * Bf[k * 8 + j];
            CHECK(D[i * 8 + j] == (float)want, "D[%d][%d] = %g, want %g", i, j, D[i * 8 + j], want);
        }
    mst_dev_free(g_dev, dA.d), mst_dev_free(g_dev, dB.d), mst_dev_free(g_dev, dC.d), mst_dev_free(g_dev, dD.d);
}

static void test_mma_s8(void)
{
    int8_t A[16 * 32], B[32 * 8];
    int32_t C[16 * 8], D[16 * 8];
    uint64_t s = 7;
    for (int i = 0; i < 16 * 32; i++)
        A[i] = (int8_t)(s = s * 6364136223846793005ull + 1442695040888963407ull, s >> 56);
    for (int i = 0; i < 32 * 8; i++)
        B[i] = (int8_t)(s = s * 6364136223846793005ull + 1442695040888963407ull, s >> 56);
    for (int i = 0; i < 16 * 8; i++)
        C[i] = i * 1000 - 64000;
    A[0] = -128, B[0] = -128;
    buf dA = dup_to_dev(A, sizeof A), dB = dup_to_dev(B, sizeof B), dC = dup_to_dev(C, sizeof C), dD = dalloc(sizeof D);
    void *args[] = {&dA.d, &dB.d, &dC.d, &dD.d};
    CHECK(emu_launch(&mst_kernel_emu_mma_s8, mst_dim3{1, 1, 1}, mst_dim3{32, 1, 1}, 0, args) == MST_OK, "launch");
    down(D, dD);
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 8; j++) {
            int32_t want = C[i * 8 + j];
            for (int k = 0; k < 32; k++)
                want += A[i * 32 + k] * B[k * 8 + j];
            CHECK(D[i * 8 + j] == want, "D[%d][%d] = %d, want %d", i, j, D[i * 8 + j], want);
        }
    mst_dev_free(g_dev, dA.d), mst_dev_free(g_dev, dB.d), mst_dev_free(g_dev, dC.d), mst_dev_free(g_dev, dD.d);
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void test_speed(void)
{
    /* sizes keep this around a second; MST_EMU_SPEED_ROWS=4096 runs the full 4096x4096 GEMV */
    const char *env = getenv("MST_EMU_SPEED_ROWS");
    const uint32_t rows = env ? (uint32_t)atoi(env) : 512, cols = 4096, threads = 256;
    float *W = (float *)malloc((size_t)rows * cols * 4), *x = (float *)malloc(cols * 4), *y = (float *)malloc(rows * 4);
    for (size_t i = 0; i < (size_t)rows * cols; i++)
        W[i] = (float)((int)(i % 5) - 2);
    for (uint32_t i = 0; i < cols; i++)
        x[i] = (float)((int)(i % 3) - 1);
    buf dW = dup_to_dev(W, (size_t)rows * cols * 4), dx = dup_to_dev(x, cols * 4), dy = dalloc(rows * 4);
    uint32_t c = cols;
    void *args[] = {&dW.d, &dx.d, &dy.d, &c};
    double t0 = now();
    CHECK(emu_launch(&mst_kernel_emu_gemv, mst_dim3{rows, 1, 1}, mst_dim3{threads, 1, 1}, 0, args) == MST_OK, "gemv");
    double t_gemv = now() - t0;
    down(y, dy);
    for (uint32_t r = 0; r < rows; r++) {
        double want = 0;
        for (uint32_t k = 0; k < cols; k++)
            want += (double)W[(size_t)r * cols + k] * x[k];
        CHECK(y[r] == (float)want, "gemv row %u: %g, want %g", r, y[r], want);
    }
    /* per thread: 16 multiply-adds (+ loop), 10 shuffles, 1 barrier; warp 0 another 5 shuffles */
    printf("gemv %ux%u, %u threads/block: %.3f s, %.1f M emulated threads/s, %.1f M MAC/s\n", rows, cols, threads,
           t_gemv, rows * threads / t_gemv * 1e-6, (double)rows * cols / t_gemv * 1e-6);

    const uint32_t n = 1u << 20;
    buf dz = dalloc(n * 4);
    mst_dev_memset32(g_dev, dz.d, 0, n);
    void *args2[] = {&dz.d, (void *)&n};
    t0 = now();
    CHECK(emu_launch(&mst_kernel_emu_scale, mst_dim3{n / 256, 1, 1}, mst_dim3{256, 1, 1}, 0, args2) == MST_OK, "scale");
    double t_scale = now() - t0;
    printf("no-sync kernel: %u threads in %.3f s: %.1f ns per emulated thread (start, run, exit)\n", n, t_scale,
           t_scale / n * 1e9);

    const uint32_t rounds = 200, bthreads = 256, bblocks = 16;
    buf dout = dalloc(bblocks * bthreads * 4);
    void *args3[] = {&dout.d, (void *)&rounds};
    t0 = now();
    CHECK(emu_launch(&mst_kernel_emu_barriers, mst_dim3{bblocks, 1, 1}, mst_dim3{bthreads, 1, 1}, 0, args3) == MST_OK,
          "barriers");
    double t_bar = now() - t0;
    printf("barriers: %u blocks x %u threads x %u barriers in %.3f s: %.1f ns per thread per barrier, %.1f us per "
           "block-wide barrier of %u threads\n",
           bblocks, bthreads, rounds, t_bar, t_bar / ((double)bblocks * bthreads * rounds) * 1e9,
           t_bar / ((double)bblocks * rounds) * 1e6, bthreads);
    free(W), free(x), free(y);
    mst_dev_free(g_dev, dW.d), mst_dev_free(g_dev, dx.d), mst_dev_free(g_dev, dy.d), mst_dev_free(g_dev, dz.d),
        mst_dev_free(g_dev, dout.d);
}

int main(int argc, char **argv)
{
    static const emu_case cases[] = {
        {"device", test_device},         {"indices", test_indices},         {"reduction", test_reduction},
        {"fresh_shared", test_fresh_shared}, {"dp4a", test_dp4a},            {"f16", test_f16},
        {"f2h_ties", test_f2h_ties},     {"warp", test_warp},               {"atomics", test_atomics},
        {"dyn_shared", test_dyn_shared}, {"early_exit", test_early_exit},   {"mma_f16", test_mma_f16},
        {"mma_s8", test_mma_s8},         {"speed", test_speed}};
    return emu_test_main(argc, argv, cases);
}
