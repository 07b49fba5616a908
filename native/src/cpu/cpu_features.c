/* cpu_features.c — what this CPU can run, as cpuid reports it and as the OS has enabled it.
 *
 * A CPU may support AVX/AVX-512 while the OS does not save the wider registers on a context
 * switch; xgetbv (XCR0) says which register states the OS manages, so both must agree. */
#include "ops.h"

#if defined(__x86_64__)
#include <cpuid.h>

static uint64_t read_xcr0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

uint32_t mst_cpu_detect(void)
{
    unsigned a, b, c, d;
    uint32_t f = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return 0;
    int osxsave = (c >> 27) & 1;
    int avx = (c >> 28) & 1;
    int fma = (c >> 12) & 1;
    int f16c = (c >> 29) & 1;
    if (!osxsave || !avx)
        return 0;
    uint64_t xcr0 = read_xcr0();
    int os_ymm = (xcr0 & 0x6) == 0x6;    /* SSE and AVX state */
    int os_zmm = (xcr0 & 0xe6) == 0xe6;  /* plus opmask, upper ZMM0-15, ZMM16-31 */
    if (!os_ymm)
        return 0;
    f |= MST_CPU_INTERNAL_AVX;
    if (fma)
        f |= MST_CPU_FMA;
    if (f16c)
        f |= MST_CPU_F16C;
    unsigned max_leaf = __get_cpuid_max(0, NULL);
    if (max_leaf < 7)
        return f;
    __cpuid_count(7, 0, a, b, c, d);
    unsigned a1 = 0, b1, c1, d1; /* leaf 7 sub-leaf 1: AVX-VNNI (EAX bit 4), AVX512_BF16 (bit 5) */
    if (a >= 1)
        __cpuid_count(7, 1, a1, b1, c1, d1);
    if ((b >> 5) & 1)
        f |= MST_CPU_AVX2;
    if ((f & MST_CPU_AVX2) && ((a1 >> 4) & 1))
        f |= MST_CPU_INTERNAL_AVXVNNI;
    if (os_zmm) {
        if ((b >> 16) & 1)
            f |= MST_CPU_AVX512F;
        if ((b >> 30) & 1)
            f |= MST_CPU_AVX512BW;
        if ((b >> 31) & 1)
            f |= MST_CPU_INTERNAL_AVX512VL;
        if ((c >> 11) & 1)
            f |= MST_CPU_AVX512VNNI;
        if ((a1 >> 5) & 1)
            f |= MST_CPU_AVX512BF16;
        if (!(f & MST_CPU_AVX512F)) /* the extensions mean nothing without the foundation */
            f &= ~(uint32_t)(MST_CPU_AVX512BW | MST_CPU_INTERNAL_AVX512VL | MST_CPU_AVX512VNNI |
                             MST_CPU_AVX512BF16);
    }
    return f;
}

#else

uint32_t mst_cpu_detect(void)
{
    return 0;
}

#endif
