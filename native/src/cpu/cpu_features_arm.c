/* cpu_features_arm.c — what this AArch64 CPU can run, as the kernel reports it (AArch64 Linux only).
 *
 * AArch64 has no user-mode cpuid: the feature registers are privileged, and the kernel publishes what it
 * has enabled for user space in the auxiliary vector (AT_HWCAP, AT_HWCAP2), as it does for every process.
 * NEON (ASIMD) is part of the base ARMv8-A Linux ABI, so MST_CPU_NEON is always set; the table dispatch.c
 * picks depends only on the two dot-product extensions below, reported both as the public bits
 * (mst_cpu_features) and the internal ones the dispatcher reads. */
#include <sys/auxv.h>

#include "ops.h"

/* The bits of <asm/hwcap.h>, spelled out so the file builds against older kernel headers too. */
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1ul << 20) /* sdot/udot (ARMv8.2-A dotprod, mandatory from v8.4) */
#endif
#ifndef HWCAP2_I8MM
#define HWCAP2_I8MM (1ul << 13) /* smmla/ummla/usmmla (ARMv8.6-A int8 matrix multiply) */
#endif

uint32_t mst_cpu_detect(void)
{
    const unsigned long hw = getauxval(AT_HWCAP), hw2 = getauxval(AT_HWCAP2);
    uint32_t f = MST_CPU_NEON;
    if (hw & HWCAP_ASIMDDP)
        f |= MST_CPU_ARM_DOTPROD | MST_CPU_INTERNAL_ARM_DOTPROD;
    if (hw2 & HWCAP2_I8MM)
        f |= MST_CPU_ARM_I8MM | MST_CPU_INTERNAL_ARM_I8MM;
    return f;
}
