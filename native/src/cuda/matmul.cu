/* matmul.cu — mst_cuda_matmul: checks the shapes, rounds the activations for the weight type into the scratch
 * (quantize_act.cu) unless the caller says they already are, and runs that type's kernels (matmul_<type>.cu;
 * each picks its GEMV for up to MST_CUDA_GEMV_MAX_TOKENS tokens, its tiled GEMM above; above that
 * limit Q4_0, Q8_0, Q4_K, Q6_K, BF16 and F16 go to the tensor-core GEMMs of matmul_mma_*.cu instead, unless
 * MISTRAL_CUDA_MMA=0). No kernels here. */
#include "cuda_compat.h"

#if MST_HOST_CODE
#include "matmul_parts.h"
#include <stdlib.h>

extern "C" mst_status mst_fail(mst_status status, const char *fmt, ...);

extern "C" uint64_t mst_cuda_matmul_scratch_bytes(uint32_t max_cols, uint32_t n_tokens)
{
    return mst_cuda_qact_bytes(max_cols, n_tokens);
}

/* The column multiple the type's kernels and activation format need (0: a type with no device kernel). */
static uint32_t col_multiple(int32_t type)
{
    switch (type) {
    case MST_TYPE_F32:
    case MST_TYPE_F16:
    case MST_TYPE_BF16: return 1;
    case MST_TYPE_Q8_0:
    case MST_TYPE_Q4_0: return 32;
    case MST_TYPE_Q4_K:
    case MST_TYPE_Q6_K: return 256;
    default: return 0;
    }
}

/* MISTRAL_CUDA_MMA=0 keeps the dp4a GEMMs for prefill (to compare the two on a GPU); anything else, or unset, runs
 * the tensor-core GEMMs (matmul_mma_*.cu). Read once: every thread computes the same value, so the unsynchronised
 * first reads agree. */
extern "C" int mst_cuda_mma_enabled(void)
{
    static int cached = -1;
    int v = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (v < 0) {
        const char *e = getenv("MISTRAL_CUDA_MMA");
        v = !(e && e[0] == '0' && e[1] == '\0');
        __atomic_store_n(&cached, v, __ATOMIC_RELAXED);
    }
    return v;
}

/* Whether this matmul goes to a tensor-core GEMM: a prefill (more tokens than the GEMV takes) of a type that has
 * one. */
static int use_mma(int32_t type, uint32_t n_tokens)
{
    if (n_tokens <= MST_CUDA_GEMV_MAX_TOKENS || !mst_cuda_mma_enabled())
        return 0;
    return type == MST_TYPE_Q8_0 || type == MST_TYPE_Q4_0 || type == MST_TYPE_Q4_K || type == MST_TYPE_Q6_K ||
           type == MST_TYPE_BF16 || type == MST_TYPE_F16; /* F16: x split in two f16 terms (matmul_mma_f16.cu) */
}

extern "C" mst_status mst_cuda_matmul(mst_dev *d, const mst_cuda_weight *w, mst_dptr x, uint32_t n_tokens, mst_dptr y,
                                      mst_dptr scratch, int x_is_quantized)
{
    if (!d || !w)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_cuda_matmul: %s is NULL", !d ? "the device" : "the weight");
    const uint32_t m = col_multiple(w->type);
    if (m == 0)
        return mst_fail(MST_ERR_UNSUPPORTED,
                        "mst_cuda_matmul: weight type %d has no device kernel (upload converts it: mst_cuda_upload_type)",
                        (int)w->type);
    if (w->rows == 0 || w->cols == 0 || n_tokens == 0 || w->cols % m != 0)
        return mst_fail(MST_ERR_INVALID_ARGUMENT,
                        "mst_cuda_matmul: rows (%u), cols (%u) and n_tokens (%u) must be > 0, cols a multiple of %u",
                        w->rows, w->cols, n_tokens, m);
    if (n_tokens > 65535) /* the activation passes put the token in grid.y */
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_cuda_matmul: %u tokens are more than one launch takes (65535)",
                        n_tokens);
    if (w->row_bytes < mst_cuda_upload_row_bytes(w->type, w->cols))
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_cuda_matmul: rows of %llu bytes cannot hold %u columns of type %d",
                        (unsigned long long)w->row_bytes, w->cols, (int)w->type);
    const mst_cuda_qact a = mst_cuda_qact_at(scratch, w->cols, n_tokens);
    mst_status st = MST_OK;
    switch (w->type) {
    case MST_TYPE_F32:
    case MST_TYPE_F16:
        if (use_mma(w->type, n_tokens)) { /* F16 only; x_is_quantized: the scratch holds x's scales already */
            if (!x_is_quantized)
                st = mst_cuda_scale_f16(d, x, &a);
            return st != MST_OK ? st : mst_cuda_mma_f16(d, w, x, &a, y);
        }
        return mst_cuda_mm_f16(d, w, x, n_tokens, y); /* x as it is, whatever x_is_quantized says */
    case MST_TYPE_BF16:
        if (!x_is_quantized)
            st = mst_cuda_round_bf16(d, x, &a);
        if (st == MST_OK && use_mma(w->type, n_tokens))
            return mst_cuda_mma_bf16(d, w, &a, y);
        return st != MST_OK ? st : mst_cuda_mm_bf16(d, w, &a, y);
    case MST_TYPE_Q8_0:
    case MST_TYPE_Q4_0:
        if (!x_is_quantized)
            st = mst_cuda_quantize_q8_0(d, x, &a);
        if (st != MST_OK)
            return st;
        if (use_mma(w->type, n_tokens))
            return w->type == MST_TYPE_Q8_0 ? mst_cuda_mma_q8_0(d, w, &a, y) : mst_cuda_mma_q4_0(d, w, &a, y);
        return w->type == MST_TYPE_Q8_0 ? mst_cuda_mm_q8_0(d, w, &a, y) : mst_cuda_mm_q4_0(d, w, &a, y);
    default: /* Q4_K, Q6_K */
        if (!x_is_quantized)
            st = mst_cuda_quantize_q8_k(d, x, &a);
        if (st != MST_OK)
            return st;
        if (use_mma(w->type, n_tokens))
            return w->type == MST_TYPE_Q4_K ? mst_cuda_mma_q4_k(d, w, &a, y) : mst_cuda_mma_q6_k(d, w, &a, y);
        return w->type == MST_TYPE_Q4_K ? mst_cuda_mm_q4_k(d, w, &a, y) : mst_cuda_mm_q6_k(d, w, &a, y);
    }
}
#endif
