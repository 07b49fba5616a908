/* matmul_multi.cu — mst_cuda_matmul_multi: several matrices times the same x (Q, K, V; gate, up). Consecutive
 * matrices of one type and width, up to MST_CUDA_GEMV_MATS of them, make one GEMV launch over all their rows when
 * there are few enough tokens for the GEMV (a decode step: one launch instead of three, and the activations
 * rounded once); anything else goes matrix by matrix through mst_cuda_matmul, which also reports any bad shape
 * or type. No kernels here. A decode step's gate and up usually do not come here: the forward pass asks first for
 * their fused form with SwiGLU (matmul_swiglu.cu), which takes exactly the pairs this file would launch as one GEMV. */
#include "cuda_compat.h"

#if MST_HOST_CODE
#include "matmul_gemv.h"

extern "C" mst_status mst_fail(mst_status status, const char *fmt, ...);

/* Whether w[0 .. n) can share one GEMV launch: a type with a GEMV, whole blocks, rows that hold their columns. The
 * caller already knows they agree in type and width. */
static int groupable(const mst_cuda_weight *w, uint32_t n)
{
    uint32_t mult;
    switch (w[0].type) {
    case MST_TYPE_F32:
    case MST_TYPE_F16:
    case MST_TYPE_BF16: mult = 1; break;
    case MST_TYPE_Q8_0:
    case MST_TYPE_Q4_0: mult = 32; break;
    case MST_TYPE_Q4_K:
    case MST_TYPE_Q6_K: mult = 256; break;
    default: return 0;
    }
    for (uint32_t i = 0; i < n; i++)
        if (w[i].rows == 0 || w[i].cols == 0 || w[i].cols % mult != 0 ||
            w[i].row_bytes < mst_cuda_upload_row_bytes(w[i].type, w[i].cols))
            return 0;
    return 1;
}

/* One launch for w[0 .. n) (groupable, 1 .. MST_CUDA_GEMV_MAX_TOKENS tokens), rounding x first unless it is. */
static mst_status gemv_group(mst_dev *d, const mst_cuda_weight *w, const mst_dptr *y, uint32_t n, mst_dptr x,
                             uint32_t n_tokens, mst_dptr scratch, int x_is_quantized)
{
    const mst_cuda_qact a = mst_cuda_qact_at(scratch, w[0].cols, n_tokens);
    mst_status st = MST_OK;
    switch (w[0].type) {
    case MST_TYPE_BF16:
        if (!x_is_quantized)
            st = mst_cuda_round_bf16(d, x, &a);
        return st != MST_OK ? st : mst_cuda_gemv_bf16(d, w, y, n, &a);
    case MST_TYPE_Q8_0:
    case MST_TYPE_Q4_0:
        if (!x_is_quantized)
            st = mst_cuda_quantize_q8_0(d, x, &a);
        if (st != MST_OK)
            return st;
        return w[0].type == MST_TYPE_Q8_0 ? mst_cuda_gemv_q8_0(d, w, y, n, &a) : mst_cuda_gemv_q4_0(d, w, y, n, &a);
    case MST_TYPE_Q4_K:
    case MST_TYPE_Q6_K:
        if (!x_is_quantized)
            st = mst_cuda_quantize_q8_k(d, x, &a);
        if (st != MST_OK)
            return st;
        return w[0].type == MST_TYPE_Q4_K ? mst_cuda_gemv_q4_k(d, w, y, n, &a) : mst_cuda_gemv_q6_k(d, w, y, n, &a);
    default: /* F32, F16: x as it is */
        return mst_cuda_gemv_f16(d, w, y, n, x, n_tokens);
    }
}

extern "C" mst_status mst_cuda_matmul_multi(mst_dev *d, const mst_cuda_weight *w, const mst_dptr *y, uint32_t n_w,
                                            mst_dptr x, uint32_t n_tokens, mst_dptr scratch, int x_is_quantized)
{
    if (!d || !w || !y || n_w == 0)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_cuda_matmul_multi: %s",
                        !d ? "the device is NULL" : !w || !y ? "the weights or outputs are NULL" : "no matrix");
    for (uint32_t i = 0; i < n_w;) {
        uint32_t n = 1;
        while (i + n < n_w && n < MST_CUDA_GEMV_MATS && w[i + n].type == w[i].type && w[i + n].cols == w[i].cols)
            n++;
        /* the scratch holds x rounded for w[i] when the caller says so (i = 0) or the matrix before had its type */
        const int quantized = i == 0 ? x_is_quantized : w[i - 1].type == w[i].type && w[i - 1].cols == w[i].cols;
        mst_status st = MST_OK;
        if (n > 1 && n_tokens >= 1 && n_tokens <= MST_CUDA_GEMV_MAX_TOKENS && groupable(w + i, n))
            st = gemv_group(d, w + i, y + i, n, x, n_tokens, scratch, quantized);
        else
            for (uint32_t j = 0; j < n && st == MST_OK; j++)
                st = mst_cuda_matmul(d, &w[i + j], x, n_tokens, y[i + j], scratch, j > 0 || quantized);
        if (st != MST_OK)
            return st;
        i += n;
    }
    return MST_OK;
}
#endif
