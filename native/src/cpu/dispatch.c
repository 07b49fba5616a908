/* dispatch.c — chooses, once, the kernels this CPU runs best. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"

static const mst_cpu_kernels k_scalar = {
    .name = "scalar",
    .matmul_f32 = mst_matmul_ref_f32,
    .matmul_f16 = mst_matmul_ref_f16,
    .matmul_bf16 = mst_matmul_ref_bf16,
    .matmul_q8_0 = mst_matmul_ref_q8_0,
    .matmul_q4_0 = mst_matmul_ref_q4_0,
    .dot = mst_dot_scalar,
    .axpy = mst_axpy_scalar,
};

static const mst_cpu_kernels *g_avx2;
static const mst_cpu_kernels *g_avx512;
static const mst_cpu_kernels *g_best = &k_scalar;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void choose(void)
{
#if defined(__x86_64__)
    uint32_t f = mst_cpu_detect();
    uint32_t need2 = MST_CPU_AVX2 | MST_CPU_FMA | MST_CPU_F16C;
    uint32_t need512 = need2 | MST_CPU_AVX512F | MST_CPU_AVX512BW | MST_CPU_INTERNAL_AVX512VL;
    if ((f & need2) == need2)
        g_avx2 = &mst_kernels_avx2;
    if ((f & need512) == need512)
        g_avx512 = &mst_kernels_avx512;
#endif
    const char *cap = getenv("MISTRAL_CPU");
    if (g_avx512 && !(cap && (strcmp(cap, "avx2") == 0 || strcmp(cap, "scalar") == 0)))
        g_best = g_avx512;
    else if (g_avx2 && !(cap && strcmp(cap, "scalar") == 0))
        g_best = g_avx2;
    else
        g_best = &k_scalar;
}

const mst_cpu_kernels *mst_cpu_best(void)
{
    pthread_once(&g_once, choose);
    return g_best;
}

const mst_cpu_kernels *mst_cpu_scalar(void)
{
    return &k_scalar;
}

const mst_cpu_kernels *mst_cpu_avx2(void)
{
    pthread_once(&g_once, choose);
    return g_avx2;
}

const mst_cpu_kernels *mst_cpu_avx512(void)
{
    pthread_once(&g_once, choose);
    return g_avx512;
}

mst_matmul_fn mst_kernels_matmul(const mst_cpu_kernels *k, int32_t type)
{
    switch (type) {
    case MST_TYPE_F32: return k->matmul_f32;
    case MST_TYPE_F16: return k->matmul_f16;
    case MST_TYPE_BF16: return k->matmul_bf16;
    case MST_TYPE_Q8_0: return k->matmul_q8_0;
    case MST_TYPE_Q4_0: return k->matmul_q4_0;
    default: return NULL;
    }
}
