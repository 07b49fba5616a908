/* ops.h — the CPU kernels: scalar references, per-ISA variants and the run-time choice. */
#ifndef MST_OPS_H
#define MST_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "mistral.h"
#include "quant_act.h"

/* y[t*rows + r] = dot(W row r, x[t*cols ..]) for rows r0 <= r < r1 and all n_tokens tokens. */
typedef void (*mst_matmul_fn)(const uint8_t *w, size_t row_bytes, uint32_t rows, uint32_t cols,
                              const float *x, uint32_t n_tokens, float *y, uint32_t r0, uint32_t r1);
typedef float (*mst_dot_fn)(const float *a, const float *b, uint32_t n);

struct mst_attn_kernels;      /* attention.h */
struct mst_kquant_qa_kernels; /* quant_act_k.h */

/* One instruction set's kernels. */
typedef struct mst_cpu_kernels {
    const char *name;
    mst_matmul_fn matmul_f32;
    mst_matmul_fn matmul_f16;
    mst_matmul_fn matmul_bf16;
    mst_matmul_fn matmul_q8_0;
    mst_matmul_fn matmul_q4_0;
    /* Q8_0/Q4_0 weights on Q8_0-quantized activations (quant_act.h): what mst_decode runs for
     * those types. NULL in a table means "use the float-activation kernel above". */
    mst_matmul_qa_fn matmul_qa_q8_0;
    mst_matmul_qa_fn matmul_qa_q4_0;
    /* Q4_0 repacked at model load (repack.h); NULL when this ISA has no such kernel (no repacking then) */
    mst_matmul_qa_fn matmul_qa_q4_0x16;
    mst_matmul_qa_fn matmul_qa_q8_0x16;
    /* Q4_K/Q6_K repacked at model load (repack_k.h), on Q8_K activations; NULL: no repacking */
    mst_matmul_qa_fn matmul_qa_q4_kx16;
    mst_matmul_qa_fn matmul_qa_q6_kx16;
    /* F16/BF16 repacked at model load (repack.h, 16-row groups, r0/r1 multiples of 16); NULL: no repacking */
    mst_matmul_fn matmul_f16x16;
    mst_matmul_fn matmul_bf16x16;
    /* BF16 repacked at model load in column pairs (MST_LAYOUT_BF16X16P, quant_act_bf16.h) on bf16-rounded
     * activations; NULL: BF16X16 above runs on the rounded activations as floats (AVX2) */
    mst_matmul_qa_fn matmul_qa_bf16x16p;
    mst_dot_fn dot;
    /* this ISA's attention micro-kernels (attention.h); a table copied from another keeps them */
    const struct mst_attn_kernels *attn;
    /* this ISA's K-quant kernels on Q8_K activations (quant_act_k.h), set by dispatch.c where they depend on
     * more features than the table's ISA (VNNI); NULL: the scalar ones */
    const struct mst_kquant_qa_kernels *kquant_qa;
} mst_cpu_kernels;

/* cpu_features.c: mst_cpu_feature bits plus internal ones above bit 15. */
#define MST_CPU_INTERNAL_AVX512VL (1u << 16)
#define MST_CPU_INTERNAL_AVX (1u << 17)
#define MST_CPU_INTERNAL_AVXVNNI (1u << 18) /* vpdpbusd/vpdpwssd on ymm without AVX-512 (CPUID 7.1:EAX bit 4) */
/* AArch64 (cpu_features_arm.c, from the kernel's HWCAP bits; NEON itself is always there) */
#define MST_CPU_INTERNAL_ARM_DOTPROD (1u << 19) /* sdot: HWCAP_ASIMDDP */
#define MST_CPU_INTERNAL_ARM_I8MM (1u << 20)    /* smmla: HWCAP2_I8MM */
uint32_t mst_cpu_detect(void);

/* dispatch.c: the kernels mst_decode uses on this CPU (chosen once; MISTRAL_CPU=scalar|avx2|avxvnni|avx512
 * in the environment caps the choice, for debugging and for measuring what an older CPU would run). */
const mst_cpu_kernels *mst_cpu_best(void);
const mst_cpu_kernels *mst_cpu_scalar(void);
const mst_cpu_kernels *mst_cpu_avx2(void);   /* NULL when this CPU/OS cannot run it */
const mst_cpu_kernels *mst_cpu_avxvnni(void); /* the AVX2 table with AVX-VNNI x16 kernels; NULL likewise */
const mst_cpu_kernels *mst_cpu_avx512(void); /* NULL when this CPU/OS cannot run it */
/* AArch64 (NULL elsewhere, or when the CPU lacks the extension): plain NEON, NEON with sdot, with sdot and
 * smmla. MISTRAL_CPU=scalar|neon|dotprod|i8mm caps the choice there. */
const mst_cpu_kernels *mst_cpu_neon(void);
const mst_cpu_kernels *mst_cpu_dotprod(void);
const mst_cpu_kernels *mst_cpu_i8mm(void);
mst_matmul_fn mst_kernels_matmul(const mst_cpu_kernels *k, int32_t type);
/* The quantized-activation kernel for `type`, or NULL when the type has none (then the float kernel runs).
 * Q8_0/Q4_0 take Q8_0 activations, the K-quants Q8_K ones: mst_qact_format_of (quant_act_k.h) says which.
 * The K-quant ones come from k->kquant_qa: set in the tables mst_cpu_* return (the bare
 * mst_kernels_avx2/avx512 get the scalar K-quant ones). */
mst_matmul_qa_fn mst_kernels_matmul_qa(const mst_cpu_kernels *k, int32_t type);

/* Per-ISA tables (defined only on x86-64). */
extern const mst_cpu_kernels mst_kernels_avx2;
extern const mst_cpu_kernels mst_kernels_avx512;

/* matmul_x16_avx512.c, matmul_x16_avx2.c: the x16 F16/BF16 kernels (x86-64 only). Each output sums
 * MST_X16_FLUSH columns at a time from zero and adds that to a running sum, so it carries at most
 * MST_X16_FLUSH + ceil(cols/MST_X16_FLUSH) float roundings (test_matmul_x16.c's bound). */
#define MST_X16_FLUSH 128
void mst_matmul_f16x16_avx512(const uint8_t *w, size_t row_bytes, uint32_t rows, uint32_t cols, const float *x,
                              uint32_t n_tokens, float *y, uint32_t r0, uint32_t r1);
void mst_matmul_bf16x16_avx512(const uint8_t *w, size_t row_bytes, uint32_t rows, uint32_t cols, const float *x,
                               uint32_t n_tokens, float *y, uint32_t r0, uint32_t r1);
void mst_matmul_f16x16_avx2(const uint8_t *w, size_t row_bytes, uint32_t rows, uint32_t cols, const float *x,
                            uint32_t n_tokens, float *y, uint32_t r0, uint32_t r1);
void mst_matmul_bf16x16_avx2(const uint8_t *w, size_t row_bytes, uint32_t rows, uint32_t cols, const float *x,
                             uint32_t n_tokens, float *y, uint32_t r0, uint32_t r1);

/* matmul_neon.c: the float-activation F32/F16/BF16 kernels of every AArch64 table (AArch64 only). */
void mst_matmul_f32_neon(const uint8_t *, size_t, uint32_t, uint32_t, const float *, uint32_t, float *, uint32_t, uint32_t);
void mst_matmul_f16_neon(const uint8_t *, size_t, uint32_t, uint32_t, const float *, uint32_t, float *, uint32_t, uint32_t);
void mst_matmul_bf16_neon(const uint8_t *, size_t, uint32_t, uint32_t, const float *, uint32_t, float *, uint32_t, uint32_t);

float mst_dot_avx2(const float *a, const float *b, uint32_t n);
float mst_dot_avx512(const float *a, const float *b, uint32_t n);

/* matmul.c: double-accumulating reference for any supported type. */
void mst_matmul_ref(int32_t type, const uint8_t *w, size_t row_bytes, uint32_t rows, uint32_t cols,
                    const float *x, uint32_t n_tokens, float *y, uint32_t r0, uint32_t r1);
void mst_matmul_ref_f32(const uint8_t *, size_t, uint32_t, uint32_t, const float *, uint32_t, float *, uint32_t, uint32_t);
void mst_matmul_ref_f16(const uint8_t *, size_t, uint32_t, uint32_t, const float *, uint32_t, float *, uint32_t, uint32_t);
void mst_matmul_ref_bf16(const uint8_t *, size_t, uint32_t, uint32_t, const float *, uint32_t, float *, uint32_t, uint32_t);
void mst_matmul_ref_q8_0(const uint8_t *, size_t, uint32_t, uint32_t, const float *, uint32_t, float *, uint32_t, uint32_t);
void mst_matmul_ref_q4_0(const uint8_t *, size_t, uint32_t, uint32_t, const float *, uint32_t, float *, uint32_t, uint32_t);
void mst_matmul_ref_q2_k(const uint8_t *, size_t, uint32_t, uint32_t, const float *, uint32_t, float *, uint32_t, uint32_t);
void mst_matmul_ref_q3_k(const uint8_t *, size_t, uint32_t, uint32_t, const float *, uint32_t, float *, uint32_t, uint32_t);
void mst_matmul_ref_q4_k(const uint8_t *, size_t, uint32_t, uint32_t, const float *, uint32_t, float *, uint32_t, uint32_t);
void mst_matmul_ref_q5_k(const uint8_t *, size_t, uint32_t, uint32_t, const float *, uint32_t, float *, uint32_t, uint32_t);
void mst_matmul_ref_q6_k(const uint8_t *, size_t, uint32_t, uint32_t, const float *, uint32_t, float *, uint32_t, uint32_t);

/* vec.c: portable float kernels. */
float mst_dot_scalar(const float *a, const float *b, uint32_t n);

/* rmsnorm.c: y = x / sqrt(mean(x^2) + eps) * weight, n_rows rows of n. */
void mst_rmsnorm_ref(const float *x, const float *weight, uint32_t n, uint32_t n_rows, float eps, float *y);
void mst_rmsnorm_best(const float *x, const float *weight, uint32_t n, uint32_t n_rows, float eps, float *y);

/* rope.c: rotates pairs (2i, 2i+1) of each head in place; x is n_tokens x n_heads x head_dim. */
void mst_rope_ref(float *x, uint32_t n_tokens, uint32_t n_heads, uint32_t head_dim, const int32_t *positions,
                  float freq_base);
void mst_rope_best(float *x, uint32_t n_tokens, uint32_t n_heads, uint32_t head_dim, const int32_t *positions,
                   float freq_base);

/* swiglu.c: out = silu(gate) * up. */
void mst_swiglu_ref(const float *gate, const float *up, uint64_t n, float *out);
void mst_swiglu_best(const float *gate, const float *up, uint64_t n, float *out);

/* attention.c: causal GQA attention; strides are explicit in elements. The fast tiled version,
 * its plan and thread split are in attention.h. */
typedef struct mst_attn_args {
    const float *q;   /* [n_tokens][n_head][head_dim] */
    const void *k;    /* [n_kv][n_head_kv][head_dim] of kv_type */
    const void *v;    /* [n_kv][n_head_kv][head_dim] of kv_type */
    float *out;       /* [n_tokens][n_head][head_dim] */
    uint32_t n_tokens;
    uint32_t q_pos0;
    uint32_t n_kv;
    uint32_t n_head;
    uint32_t n_head_kv;
    uint32_t head_dim;
    uint32_t window;
    uint32_t kv_slots; /* 0: key j is row j of k/v; else a rolling cache: key j is row j % kv_slots */
    int32_t kv_type;   /* element type of k and v: MST_TYPE_F32 (0, so a struct that leaves it out is F32) or
                        * MST_TYPE_F16 (IEEE half, read as is by every kernel: the CPU backend's KV cache) */
} mst_attn_args;

/* Reference: allocates its own double scores; returns 0 on allocation failure. */
int mst_attention_ref(const mst_attn_args *a);

#endif
