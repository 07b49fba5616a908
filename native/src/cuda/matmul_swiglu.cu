/* matmul_swiglu.cu — mst_cuda_gate_up_swiglu: the feed-forward's h = silu(Wgate x) * (Wup x) for a decode step
 * (1 .. MST_CUDA_GEMV_MAX_TOKENS tokens) as ONE GEMV launch, the "SwiGLU pair": each warp computes the same rows of
 * gate and up and stores only h, so gate and up never go to memory and swiglu.cu's pass over them (and its launch)
 * goes. The result has the bits of mst_cuda_matmul_multi over {gate, up} followed by mst_cuda_swiglu: each matrix's
 * dot products are summed in the same order (same kernel body, same rows per warp and lanes per row), and h is
 * swiglu.cuh's expression of the same two floats. test_cuda_gate_up_swiglu.c checks that bit for bit.
 *
 * The quantized types' pair kernels come with their GEMV (matmul_gemv.cuh KMM_GEMV_KERNEL); the float types' pair
 * kernels are here: matmul_float.cuh's 16-byte-load GEMV (one warp per row) with the up row streamed beside the
 * gate row. Anything the pair does not take (more tokens, a type without a GEMV, float rows or x that are not
 * 16-byte aligned, gate and up of different types or shapes) is left to the caller: mst_cuda_gate_up_swiglu_takes
 * says which, and the forward pass then runs the matmul and swiglu as before (backend_cuda_ops.c). */
#include "cuda_compat.h"

#include "quant_blocks.cuh"
#include "matmul_float.cuh"

/* kmm_gemv_float_v4 (matmul_float.cuh) for the pair: warp w of block b takes row 4b + w of gate (m[0]) and of up
 * (m[1]); lane l the 16-byte words l, l+32, ... of both rows. Per matrix the fmas are chained in kmm_gemv_float_v4's
 * order and the lanes meet in kmm_gemv_store's tree (xor 16, 8, 4, 2, 1), so gate and up are the floats the
 * separate GEMV stores; lane 0 stores silu(g) * u. */
template <class E> MST_DEVICE void kmm_gemv_float_v4_swiglu(const kmm_gemv_args &a)
{
    const uint32_t lane = threadIdx.x % MST_WARP;
    const uint32_t row = blockIdx.x * KMM_GEMV_WARPS + threadIdx.x / MST_WARP, rows = a.m[0].rows;
    if (row >= rows)
        return; /* the whole warp */
    const uint32_t cols = a.cols, nv = cols / E::PER;
    const uint8_t *wr[2] = {(const uint8_t *)a.m[0].w + (uint64_t)row * a.m[0].row_bytes,
                            (const uint8_t *)a.m[1].w + (uint64_t)row * a.m[1].row_bytes};
    const float *x = (const float *)a.x;
    float acc[2][KMM_GEMV_MAX_TOKENS] = {};
    for (uint32_t i = lane; i < nv; i += MST_WARP) {
        float wf[2][E::PER];
        E::widen(kmm_ldg_u4(wr[0] + 16 * (uint64_t)i), wf[0]); /* both loads issued before either is used */
        E::widen(kmm_ldg_u4(wr[1] + 16 * (uint64_t)i), wf[1]);
KMM_UNROLL
        for (uint32_t t = 0; t < KMM_GEMV_MAX_TOKENS; t++) {
            if (t < a.n_tokens) {
                const float *xt = x + (uint64_t)t * cols + (uint64_t)i * E::PER;
KMM_UNROLL
                for (int q = 0; q < E::PER / 4; q++) {
                    const kmm_u4 xv = kmm_ldg_u4(xt + 4 * q);
KMM_UNROLL
                    for (int m = 0; m < 2; m++) {
                        acc[m][t] = mst_fmaf(wf[m][4 * q], kmm_u2f(xv.x), acc[m][t]);
                        acc[m][t] = mst_fmaf(wf[m][4 * q + 1], kmm_u2f(xv.y), acc[m][t]);
                        acc[m][t] = mst_fmaf(wf[m][4 * q + 2], kmm_u2f(xv.z), acc[m][t]);
                        acc[m][t] = mst_fmaf(wf[m][4 * q + 3], kmm_u2f(xv.w), acc[m][t]);
                    }
                }
            }
        }
    }
    float *h = (float *)a.m[0].y;
KMM_UNROLL
    for (uint32_t t = 0; t < KMM_GEMV_MAX_TOKENS; t++) {
        if (t < a.n_tokens) { /* the same for every lane: the shuffles stay converged */
            float v[2] = {acc[0][t], acc[1][t]};
            for (int m = 16; m > 0; m >>= 1) {
                v[0] += mst_shfl_xor_f32(v[0], m);
                v[1] += mst_shfl_xor_f32(v[1], m);
            }
            if (lane == 0)
                h[(uint64_t)t * rows + row] = mst_silu_mul(v[0], v[1]);
        }
    }
}

MST_KERNEL void mst_k_gemv_swiglu_f32(const kmm_gemv_args a) { kmm_gemv_float_v4_swiglu<kmm_elem_f32>(a); }
MST_REGISTER_KERNEL(mst_k_gemv_swiglu_f32);
MST_KERNEL void mst_k_gemv_swiglu_f16(const kmm_gemv_args a) { kmm_gemv_float_v4_swiglu<kmm_elem_16bit<false>>(a); }
MST_REGISTER_KERNEL(mst_k_gemv_swiglu_f16);
MST_KERNEL void mst_k_gemv_swiglu_bf16(const kmm_gemv_args a) { kmm_gemv_float_v4_swiglu<kmm_elem_16bit<true>>(a); }
MST_REGISTER_KERNEL(mst_k_gemv_swiglu_bf16);

#if MST_HOST_CODE
#include "matmul_launch.h"
#include "matmul_gemv_launch.h"

/* Whether w's rows (data and row_bytes) allow 16-byte loads. */
static int rows_aligned16(const mst_cuda_weight *w)
{
    return w->data % 16 == 0 && w->row_bytes % 16 == 0;
}

extern "C" int mst_cuda_gate_up_swiglu_takes(const mst_cuda_weight *gate, const mst_cuda_weight *up, mst_dptr x,
                                             mst_dptr scratch, uint32_t n_tokens)
{
    if (!gate || !up || n_tokens == 0 || n_tokens > MST_CUDA_GEMV_MAX_TOKENS || gate->type != up->type ||
        gate->cols != up->cols || gate->rows != up->rows || gate->rows == 0 || gate->cols == 0)
        return 0;
    const uint32_t cols = gate->cols;
    const uint64_t rb = mst_cuda_upload_row_bytes(gate->type, cols);
    if (gate->row_bytes < rb || up->row_bytes < rb)
        return 0;
    /* the conditions under which mst_cuda_matmul_multi runs gate and up as one GEMV launch (matmul_multi.cu
     * groupable; the float types: matmul_gemv_launch.h kmm_launch_gemv_float's 16-byte kernel), so the pair
     * replaces exactly that launch */
    switch (gate->type) {
    case MST_TYPE_Q8_0:
    case MST_TYPE_Q4_0: return cols % 32 == 0;
    case MST_TYPE_Q4_K:
    case MST_TYPE_Q6_K: return cols % 256 == 0;
    case MST_TYPE_BF16: return cols % 8 == 0 && scratch % 16 == 0 && rows_aligned16(gate) && rows_aligned16(up);
    case MST_TYPE_F16: return cols % 8 == 0 && x % 16 == 0 && rows_aligned16(gate) && rows_aligned16(up);
    case MST_TYPE_F32: return cols % 4 == 0 && x % 16 == 0 && rows_aligned16(gate) && rows_aligned16(up);
    default: return 0;
    }
}

extern "C" mst_status mst_cuda_gate_up_swiglu(mst_dev *d, const mst_cuda_weight *gate, const mst_cuda_weight *up,
                                              mst_dptr h, mst_dptr x, uint32_t n_tokens, mst_dptr scratch)
{
    if (!d || !gate || !up)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_cuda_gate_up_swiglu: %s",
                        !d ? "the device is NULL" : "the gate or up matrix is NULL");
    if (!mst_cuda_gate_up_swiglu_takes(gate, up, x, scratch, n_tokens))
        return mst_fail(MST_ERR_UNSUPPORTED,
                        "mst_cuda_gate_up_swiglu: gate (type %d, %u x %u) and up (type %d, %u x %u) for %u tokens are "
                        "not a pair the fused GEMV takes (mst_cuda_gate_up_swiglu_takes): run the matmul, then swiglu",
                        (int)gate->type, gate->rows, gate->cols, (int)up->type, up->rows, up->cols, n_tokens);
    const mst_cuda_weight w[2] = {*gate, *up};
    const mst_cuda_qact a = mst_cuda_qact_at(scratch, gate->cols, n_tokens);
    const mst_dptr y[2] = {h, 0};
    mst_status st = MST_OK;
    switch (gate->type) {
    case MST_TYPE_Q8_0:
    case MST_TYPE_Q4_0:
        st = mst_cuda_quantize_q8_0(d, x, &a);
        if (st != MST_OK)
            return st;
        return gate->type == MST_TYPE_Q8_0 ? mst_cuda_gemv_swiglu_q8_0(d, w, h, &a)
                                            : mst_cuda_gemv_swiglu_q4_0(d, w, h, &a);
    case MST_TYPE_Q4_K:
    case MST_TYPE_Q6_K:
        st = mst_cuda_quantize_q8_k(d, x, &a);
        if (st != MST_OK)
            return st;
        return gate->type == MST_TYPE_Q4_K ? mst_cuda_gemv_swiglu_q4_k(d, w, h, &a)
                                            : mst_cuda_gemv_swiglu_q6_k(d, w, h, &a);
    case MST_TYPE_BF16:
        st = mst_cuda_round_bf16(d, x, &a);
        if (st != MST_OK)
            return st;
        return kmm_gemv_launch_rows(d, &mst_kernel_mst_k_gemv_swiglu_bf16, w, y, 2, a.xr, 0, 0, n_tokens, 5, 1);
    case MST_TYPE_F16:
        return kmm_gemv_launch_rows(d, &mst_kernel_mst_k_gemv_swiglu_f16, w, y, 2, x, 0, 0, n_tokens, 5, 1);
    default: /* F32 */
        return kmm_gemv_launch_rows(d, &mst_kernel_mst_k_gemv_swiglu_f32, w, y, 2, x, 0, 0, n_tokens, 5, 1);
    }
}
#endif
