/* dispatch.c — chooses, once, the kernels this CPU runs best. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "attention.h"
#include "ops.h"
#include "quant_act_bf16.h"
#include "quant_act_k.h"

static const mst_cpu_kernels k_scalar = {
    .name = "scalar",
    .matmul_f32 = mst_matmul_ref_f32,
    .matmul_f16 = mst_matmul_ref_f16,
    .matmul_bf16 = mst_matmul_ref_bf16,
    .matmul_q8_0 = mst_matmul_ref_q8_0,
    .matmul_q4_0 = mst_matmul_ref_q4_0,
    .matmul_qa_q8_0 = mst_matmul_qa_ref_q8_0,
    .matmul_qa_q4_0 = mst_matmul_qa_ref_q4_0,
    .dot = mst_dot_scalar,
    .attn = &mst_attn_scalar,
};

/* K-quant matmuls on float activations, Q2_K..Q6_K: the references on every ISA. mst_decode and the BEST
 * kernel ABI run K-quants on Q8_K activations (mst_kernels_matmul_qa), as llama.cpp does; these serve
 * MST_IMPL_REFERENCE. (Float-activation SIMD K-quant kernels existed until nothing reached them.) */
static const mst_matmul_fn k_kquant_ref[] = {mst_matmul_ref_q2_k, mst_matmul_ref_q3_k, mst_matmul_ref_q4_k,
                                             mst_matmul_ref_q5_k, mst_matmul_ref_q6_k};

static const mst_cpu_kernels *g_avx2;
static const mst_cpu_kernels *g_avxvnni;
static const mst_cpu_kernels *g_avx512;
static const mst_cpu_kernels *g_best = &k_scalar;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
/* The per-ISA tables plus their quantized-activation kernels, which depend on more features
 * (VNNI) than the table's own ISA, so they are filled in here. */
#if defined(__x86_64__)
static mst_cpu_kernels g_avx2_k, g_avxvnni_k, g_avx512_k;
#endif

#if defined(__aarch64__)
/* AArch64: NEON is always there (the Linux arm64 ABI); the levels differ in the integer dot products of the
 * kernels on quantized activations (Q8_0/Q4_0, and Q4_K/Q5_K/Q6_K on Q8_K). Plain row-major weights on every
 * level: the x16 repacked layouts (repack.h) exist for x86 kernels only, so their slots stay NULL and
 * weights_repack.c leaves the model as loaded. F32/F16/BF16 weights and attention (F32 and F16 caches) run
 * the NEON kernels on every level; dot, Q2_K/Q3_K and the Q8_K quantizer stay on the scalar code. */
#include "kernels_arm.h"
static const mst_cpu_kernels *g_neon, *g_dotprod, *g_i8mm;
static mst_cpu_kernels g_neon_k, g_dotprod_k, g_i8mm_k;

/* MISTRAL_CPU caps the level: scalar < neon < dotprod < i8mm (anything else: no cap) */
static void choose_aarch64(void)
{
    const uint32_t f = mst_cpu_detect();
    g_neon_k = k_scalar;
    g_neon_k.name = "neon";
    g_neon_k.matmul_f32 = mst_matmul_f32_neon;
    g_neon_k.matmul_f16 = mst_matmul_f16_neon;
    g_neon_k.matmul_bf16 = mst_matmul_bf16_neon;
    g_neon_k.matmul_qa_q8_0 = mst_matmul_qa_q8_0_neon;
    g_neon_k.matmul_qa_q4_0 = mst_matmul_qa_q4_0_neon;
    g_neon_k.kquant_qa = &mst_kquant_qa_neon;
    g_neon_k.attn = &mst_attn_neon;
    g_neon = &g_neon_k;
    if (f & MST_CPU_INTERNAL_ARM_DOTPROD) {
        g_dotprod_k = g_neon_k;
        g_dotprod_k.name = "dotprod";
        g_dotprod_k.matmul_qa_q8_0 = mst_matmul_qa_q8_0_dotprod;
        g_dotprod_k.matmul_qa_q4_0 = mst_matmul_qa_q4_0_dotprod;
        g_dotprod_k.kquant_qa = &mst_kquant_qa_dotprod;
        g_dotprod = &g_dotprod_k;
        if (f & MST_CPU_INTERNAL_ARM_I8MM) { /* its odd-token path is the sdot one */
            g_i8mm_k = g_dotprod_k;
            g_i8mm_k.name = "i8mm";
            g_i8mm_k.matmul_qa_q8_0 = mst_matmul_qa_q8_0_i8mm;
            g_i8mm_k.matmul_qa_q4_0 = mst_matmul_qa_q4_0_i8mm;
            g_i8mm = &g_i8mm_k;
        }
    }
    const char *cap = getenv("MISTRAL_CPU");
    const int level = !cap                          ? 3
                      : strcmp(cap, "scalar") == 0  ? 0
                      : strcmp(cap, "neon") == 0    ? 1
                      : strcmp(cap, "dotprod") == 0 ? 2
                                                    : 3;
    g_best = g_i8mm && level >= 3 ? g_i8mm : g_dotprod && level >= 2 ? g_dotprod : level >= 1 ? g_neon : &k_scalar;
}
#endif

static void choose(void)
{
#if defined(__aarch64__)
    choose_aarch64();
    return;
#endif
#if defined(__x86_64__)
    uint32_t f = mst_cpu_detect();
    uint32_t need2 = MST_CPU_AVX2 | MST_CPU_FMA | MST_CPU_F16C;
    uint32_t need512 = need2 | MST_CPU_AVX512F | MST_CPU_AVX512BW | MST_CPU_INTERNAL_AVX512VL;
    if ((f & need2) == need2) {
        g_avx2_k = mst_kernels_avx2;
        g_avx2_k.matmul_qa_q8_0 = mst_matmul_qa_q8_0_avx2;
        g_avx2_k.matmul_qa_q4_0 = mst_matmul_qa_q4_0_avx2;
        g_avx2_k.matmul_qa_q4_0x16 = mst_matmul_qa_q4_0x16_avx2;
        g_avx2_k.matmul_qa_q8_0x16 = mst_matmul_qa_q8_0x16_avx2;
        g_avx2_k.matmul_qa_q4_kx16 = mst_matmul_qa_q4_kx16_avx2;
        g_avx2_k.matmul_qa_q6_kx16 = mst_matmul_qa_q6_kx16_avx2;
        g_avx2_k.matmul_f16x16 = mst_matmul_f16x16_avx2;
        g_avx2_k.matmul_bf16x16 = mst_matmul_bf16x16_avx2;
        g_avx2_k.kquant_qa = &mst_kquant_qa_avx2;
        g_avx2 = &g_avx2_k;
        if (f & MST_CPU_INTERNAL_AVXVNNI) { /* the same table, the x16 kernels built for AVX-VNNI */
            g_avxvnni_k = g_avx2_k;
            g_avxvnni_k.name = "avxvnni";
            g_avxvnni_k.matmul_qa_q4_0x16 = mst_matmul_qa_q4_0x16_avxvnni;
            g_avxvnni_k.matmul_qa_q8_0x16 = mst_matmul_qa_q8_0x16_avxvnni;
            g_avxvnni_k.matmul_qa_q4_kx16 = mst_matmul_qa_q4_kx16_avxvnni;
            g_avxvnni_k.matmul_qa_q6_kx16 = mst_matmul_qa_q6_kx16_avxvnni;
            g_avxvnni = &g_avxvnni_k;
        }
    }
    if ((f & need512) == need512) {
        int vnni = (f & MST_CPU_AVX512VNNI) != 0;
        g_avx512_k = mst_kernels_avx512;
        g_avx512_k.matmul_qa_q8_0 = vnni ? mst_matmul_qa_q8_0_vnni : mst_matmul_qa_q8_0_avx2;
        g_avx512_k.matmul_qa_q4_0 = vnni ? mst_matmul_qa_q4_0_vnni : mst_matmul_qa_q4_0_avx2;
        g_avx512_k.matmul_qa_q4_0x16 = vnni ? mst_matmul_qa_q4_0x16_vnni : mst_matmul_qa_q4_0x16_avx2;
        g_avx512_k.matmul_qa_q8_0x16 = vnni ? mst_matmul_qa_q8_0x16_vnni : mst_matmul_qa_q8_0x16_avx2;
        g_avx512_k.matmul_qa_q4_kx16 = vnni ? mst_matmul_qa_q4_kx16_vnni : mst_matmul_qa_q4_kx16_avx2;
        g_avx512_k.matmul_qa_q6_kx16 = vnni ? mst_matmul_qa_q6_kx16_vnni : mst_matmul_qa_q6_kx16_avx2;
        g_avx512_k.matmul_f16x16 = mst_matmul_f16x16_avx512;
        g_avx512_k.matmul_bf16x16 = mst_matmul_bf16x16_avx512;
        /* Both BF16X16P kernels give the same bits (quant_act_bf16.h). FMAs by default: where a vdpbf16ps
         * (32 multiply-adds) issues at a quarter of the rate of an FMA (16), as on Intel's AVX512_BF16 server
         * cores, the FMA kernel is the faster one (benchmarks/RESULTS.md); MISTRAL_BF16_DOT=vdpbf16ps picks
         * the other where it may be faster. */
        const char *dot = getenv("MISTRAL_BF16_DOT");
        int dp = (f & MST_CPU_AVX512BF16) && dot && strcmp(dot, "vdpbf16ps") == 0;
        g_avx512_k.matmul_qa_bf16x16p = dp ? mst_matmul_qa_bf16x16p_avx512bf16 : mst_matmul_qa_bf16x16p_avx512;
        /* the K-quant integer kernels: VNNI where present, else the AVX2 ones */
        g_avx512_k.kquant_qa = vnni ? &mst_kquant_qa_vnni : &mst_kquant_qa_avx2;
        g_avx512 = &g_avx512_k;
    }
#endif
    /* MISTRAL_CPU caps the level: scalar < avx2 < avxvnni < avx512 (anything else: no cap) */
    const char *cap = getenv("MISTRAL_CPU");
    const int level = !cap                          ? 3
                      : strcmp(cap, "scalar") == 0  ? 0
                      : strcmp(cap, "avx2") == 0    ? 1
                      : strcmp(cap, "avxvnni") == 0 ? 2
                                                    : 3;
    if (g_avx512 && level >= 3)
        g_best = g_avx512;
    else if (g_avxvnni && level >= 2)
        g_best = g_avxvnni;
    else if (g_avx2 && level >= 1)
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

const mst_cpu_kernels *mst_cpu_avxvnni(void)
{
    pthread_once(&g_once, choose);
    return g_avxvnni;
}

const mst_cpu_kernels *mst_cpu_avx512(void)
{
    pthread_once(&g_once, choose);
    return g_avx512;
}

#if defined(__aarch64__)
#define MST_ARM_TABLE(t) t
#else
#define MST_ARM_TABLE(t) NULL
#endif

const mst_cpu_kernels *mst_cpu_neon(void)
{
    pthread_once(&g_once, choose);
    return MST_ARM_TABLE(g_neon);
}

const mst_cpu_kernels *mst_cpu_dotprod(void)
{
    pthread_once(&g_once, choose);
    return MST_ARM_TABLE(g_dotprod);
}

const mst_cpu_kernels *mst_cpu_i8mm(void)
{
    pthread_once(&g_once, choose);
    return MST_ARM_TABLE(g_i8mm);
}

mst_matmul_fn mst_kernels_matmul(const mst_cpu_kernels *k, int32_t type)
{
    if (type >= MST_TYPE_Q2_K && type <= MST_TYPE_Q6_K)
        return k_kquant_ref[type - MST_TYPE_Q2_K];
    switch (type) {
    case MST_TYPE_F32: return k->matmul_f32;
    case MST_TYPE_F16: return k->matmul_f16;
    case MST_TYPE_BF16: return k->matmul_bf16;
    case MST_TYPE_Q8_0: return k->matmul_q8_0;
    case MST_TYPE_Q4_0: return k->matmul_q4_0;
    default: return NULL;
    }
}

mst_matmul_qa_fn mst_kernels_matmul_qa(const mst_cpu_kernels *k, int32_t type)
{
    if (type >= MST_TYPE_Q2_K && type <= MST_TYPE_Q6_K)
        return (k->kquant_qa ? k->kquant_qa : &mst_kquant_qa_scalar)->matmul_qa[type - MST_TYPE_Q2_K];
    switch (type) {
    case MST_TYPE_Q8_0: return k->matmul_qa_q8_0;
    case MST_TYPE_Q4_0: return k->matmul_qa_q4_0;
    default: return NULL;
    }
}

/* The attention micro-kernels of the same ISA as k (attention.h): the table names them, and a table copied
 * from another (choose()) keeps them. */
const mst_attn_kernels *mst_kernels_attn(const mst_cpu_kernels *k)
{
    return k->attn;
}
