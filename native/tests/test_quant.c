/* test_quant.c — dequantization against hand-computed values, one block of each type, and the
 * library's scalar fp16/bf16 conversions (every half value, rounding cases, F16C agreement). */
#include "test_util.h"
#include "cpu/quant.h"

#if defined(__x86_64__)
#include <immintrin.h>
__attribute__((target("f16c"))) static uint16_t hw_fp32_to_fp16(float f)
{
    return (uint16_t)_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT);
}
__attribute__((target("f16c"))) static float hw_fp16_to_fp32(uint16_t h)
{
    return _cvtsh_ss(h);
}
#endif

static int same_float(float a, float b)
{
    uint32_t ua, ub;
    memcpy(&ua, &a, 4);
    memcpy(&ub, &b, 4);
    return ua == ub || (a != a && b != b);
}

static void test_q8_0(void)
{
    uint8_t blk[34];
    uint16_t d = 0x3800; /* 0.5 */
    memcpy(blk, &d, 2);
    for (int i = 0; i < 32; i++)
        blk[2 + i] = (uint8_t)(int8_t)(i - 16);
    float out[32];
    CHECK(mst_kernel_dequantize(MST_TYPE_Q8_0, blk, sizeof blk, 32, out) == MST_OK, "Q8_0 dequantize failed: %s",
          mst_last_error());
    for (int i = 0; i < 32; i++)
        CHECK(out[i] == 0.5f * (float)(i - 16), "Q8_0[%d] = %g, expected %g", i, out[i], 0.5 * (i - 16));
}

static void test_q4_0(void)
{
    uint8_t blk[18];
    uint16_t d = 0x3400; /* 0.25 */
    memcpy(blk, &d, 2);
    for (int j = 0; j < 16; j++)
        blk[2 + j] = (uint8_t)((j & 0xf) | ((15 - j) << 4));
    float out[32];
    CHECK(mst_kernel_dequantize(MST_TYPE_Q4_0, blk, sizeof blk, 32, out) == MST_OK, "Q4_0 dequantize failed: %s",
          mst_last_error());
    for (int j = 0; j < 16; j++) {
        CHECK(out[j] == 0.25f * (float)(j - 8), "Q4_0[%d] = %g, expected %g", j, out[j], 0.25 * (j - 8));
        CHECK(out[j + 16] == 0.25f * (float)(7 - j), "Q4_0[%d] = %g, expected %g", j + 16, out[j + 16], 0.25 * (7 - j));
    }
}

static void test_f16_bf16_f32(void)
{
    const uint16_t h[] = {0x3c00, 0xc000, 0x0001, 0x03ff, 0x7bff, 0x7c00, 0xfc00, 0x8000, 0x3555, 0x0400};
    const float hv[] = {1.0f, -2.0f, 0x1p-24f, 1023 * 0x1p-24f, 65504.0f, INFINITY, -INFINITY, -0.0f, 0.333251953125f,
                        0x1p-14f};
    const size_t nh = sizeof h / sizeof *h;
    float out[16];
    CHECK(mst_kernel_dequantize(MST_TYPE_F16, h, nh * 2, nh, out) == MST_OK, "F16 dequantize failed");
    for (size_t i = 0; i < nh; i++)
        CHECK(same_float(out[i], hv[i]), "F16 0x%04x -> %g, expected %g", h[i], out[i], hv[i]);
    uint16_t nan16 = 0x7e00;
    CHECK(mst_kernel_dequantize(MST_TYPE_F16, &nan16, 2, 1, out) == MST_OK && out[0] != out[0], "F16 nan not nan");

    const uint16_t b[] = {0x3f80, 0xc040, 0x7f80, 0x0000, 0x3e80};
    const float bv[] = {1.0f, -3.0f, INFINITY, 0.0f, 0.25f};
    CHECK(mst_kernel_dequantize(MST_TYPE_BF16, b, sizeof b, 5, out) == MST_OK, "BF16 dequantize failed");
    for (int i = 0; i < 5; i++)
        CHECK(same_float(out[i], bv[i]), "BF16 0x%04x -> %g, expected %g", b[i], out[i], bv[i]);

    const float f[] = {1.5f, -0.0f, 3e-40f};
    CHECK(mst_kernel_dequantize(MST_TYPE_F32, f, sizeof f, 3, out) == MST_OK, "F32 dequantize failed");
    for (int i = 0; i < 3; i++)
        CHECK(same_float(out[i], f[i]), "F32 copy changed %g to %g", f[i], out[i]);
}

static void test_conversions(void)
{
    /* every non-nan half survives half -> float -> half */
    for (uint32_t u = 0; u < 65536; u++) {
        uint16_t hh = (uint16_t)u;
        float x = mst_fp16_to_fp32(hh);
        if (x != x)
            continue;
        CHECK(mst_fp32_to_fp16(x) == hh, "fp16 round trip of 0x%04x gave 0x%04x", hh, mst_fp32_to_fp16(x));
    }
    /* ties go to even, overflow goes to inf, tiny values to zero or the smallest subnormal */
    CHECK(mst_fp32_to_fp16(1.0f + 0x1p-11f) == 0x3c00, "1+2^-11 should round down to even 1.0");
    CHECK(mst_fp32_to_fp16(1.0f + 3 * 0x1p-11f) == 0x3c02, "1+3*2^-11 should round up to even");
    CHECK(mst_fp32_to_fp16(65519.0f) == 0x7bff, "65519 -> 65504");
    CHECK(mst_fp32_to_fp16(65520.0f) == 0x7c00, "65520 -> inf");
    CHECK(mst_fp32_to_fp16(0x1p-25f) == 0x0000, "2^-25 ties to zero");
    CHECK(mst_fp32_to_fp16(0x1.8p-25f) == 0x0001, "1.5*2^-25 -> smallest subnormal");
    CHECK(mst_fp32_to_fp16(-INFINITY) == 0xfc00, "-inf");
    CHECK((mst_fp32_to_fp16(NAN) & 0x7fff) > 0x7c00, "nan stays nan");
    CHECK(mst_fp32_to_bf16(1.0f + 0x1p-8f) == 0x3f80, "bf16 tie to even");
    CHECK(mst_fp32_to_bf16(1.0f + 3 * 0x1p-8f) == 0x3f82, "bf16 round up");
    CHECK((mst_fp32_to_bf16(NAN) & 0x7fff) > 0x7f80, "bf16 nan stays nan");
#if defined(__x86_64__)
    if (__builtin_cpu_supports("f16c")) {
        uint64_t s = 7;
        for (int i = 0; i < 200000; i++) {
            uint32_t bits = (uint32_t)rng_next(&s);
            float x;
            memcpy(&x, &bits, 4);
            if (x != x)
                continue;
            CHECK(mst_fp32_to_fp16(x) == hw_fp32_to_fp16(x), "fp32->fp16 of %a: 0x%04x, F16C says 0x%04x", x,
                  mst_fp32_to_fp16(x), hw_fp32_to_fp16(x));
            if (g_failures > 10)
                break;
        }
        for (uint32_t u = 0; u < 65536; u++)
            CHECK(same_float(mst_fp16_to_fp32((uint16_t)u), hw_fp16_to_fp32((uint16_t)u)),
                  "fp16->fp32 of 0x%04x differs from F16C", u);
    }
#endif
}

static void test_bad_args(void)
{
    float out[32];
    uint8_t blk[34] = {0};
    CHECK(mst_kernel_dequantize(MST_TYPE_Q8_0, blk, 33, 32, out) == MST_ERR_INVALID_ARGUMENT, "wrong src_bytes");
    CHECK(mst_kernel_dequantize(MST_TYPE_Q8_0, blk, 34, 31, out) == MST_ERR_INVALID_ARGUMENT, "n not whole blocks");
    CHECK(mst_kernel_dequantize(3, blk, 34, 32, out) == MST_ERR_UNSUPPORTED, "Q4_1 is unsupported");
    CHECK(mst_kernel_dequantize(MST_TYPE_F32, NULL, 4, 1, out) == MST_ERR_INVALID_ARGUMENT, "NULL src");
    CHECK(mst_last_error()[0] != '\0', "no error message");
}

int main(void)
{
    test_q8_0();
    test_q4_0();
    test_f16_bf16_f32();
    test_conversions();
    test_bad_args();
    return finish("kernel_dequantize");
}
