/* kernel_api.c — mst_kernel_*: each kernel reachable from C# for tests and benchmarks.
 * MST_IMPL_BEST calls exactly the functions mst_decode runs (single-threaded here); for matmul on
 * Q8_0/Q4_0 and K-quant weights that is activation quantization plus the integer kernel. */
#include <math.h>
#include <stdlib.h>

#include "cpu/attention.h"
#include "cpu/moe_gate.h"
#include "cpu/ops.h"
#include "cpu/quant.h"
#include "cpu/quant_act_k.h"
#include "internal.h"

static mst_status check_impl(int32_t impl, const char *fn)
{
    if (impl != MST_IMPL_REFERENCE && impl != MST_IMPL_BEST)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "%s: impl %d is neither REFERENCE (0) nor BEST (1)", fn, (int)impl);
    return MST_OK;
}

MST_API mst_status mst_kernel_matmul(int32_t impl, int32_t type, const void *w, uint64_t w_bytes, uint32_t rows,
                                     uint32_t cols, const float *x, uint32_t n_tokens, float *y)
{
    mst_clear_error();
    mst_status st = check_impl(impl, "mst_kernel_matmul");
    if (st != MST_OK)
        return st;
    if (!mst_type_supported(type))
        return mst_fail(MST_ERR_UNSUPPORTED, "mst_kernel_matmul: type %d is not supported", (int)type);
    if (!w || !x || !y)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_kernel_matmul: %s is NULL", !w ? "w" : !x ? "x" : "y");
    if (rows == 0 || cols == 0 || n_tokens == 0)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_kernel_matmul: rows (%u), cols (%u) and n_tokens (%u) must be > 0",
                        rows, cols, n_tokens);
    uint32_t bs = mst_type_block_size(type);
    if (cols % bs != 0)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_kernel_matmul: cols (%u) is not a multiple of the %s block size %u",
                        cols, mst_type_name(type), bs);
    uint64_t row_bytes, bytes;
    if (!mst_type_bytes(type, cols, &row_bytes) || !mst_mul_u64(row_bytes, rows, &bytes) || bytes > SIZE_MAX)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_kernel_matmul: matrix size overflows");
    if (w_bytes != bytes)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_kernel_matmul: w_bytes is %llu, but %u x %u %s takes %llu",
                        (unsigned long long)w_bytes, rows, cols, mst_type_name(type), (unsigned long long)bytes);
    uint64_t xy;
    if (!mst_mul_u64((uint64_t)n_tokens * (cols > rows ? cols : rows), sizeof(float), &xy) || xy > SIZE_MAX)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_kernel_matmul: activation size overflows");
    /* BEST is what mst_decode runs: for Q8_0/Q4_0 that includes quantizing x to Q8_0 blocks
     * (quant_act.h), for the K-quants to Q8_K blocks (quant_act_k.h), and the integer-dot kernel.
     * REFERENCE stays the float, double-accumulated one. BF16 is the exception: BEST runs its float
     * kernel on x as given, while mst_decode first rounds x to bf16 (quant_act_bf16.h; test_bf16_act checks
     * those kernels against the reference on the rounded x).
     * One difference: on AVX-512 VNNI, mst_decode runs Q4_0/Q8_0/Q4_K/Q6_K matrices repacked at load
     * (cpu/repack.h, cpu/repack_k.h); here the weights come in the file's layout, so the same-rule kernel
     * for that layout runs. Both give the same integer block sums; test_matmul_qa and test_kquant_x16
     * check the repacked kernels against the same scalar references. */
    mst_matmul_qa_fn qa_fn = impl == MST_IMPL_BEST ? mst_kernels_matmul_qa(mst_cpu_best(), type) : NULL;
    const int k8 = mst_qact_format_of(type) == MST_QACT_Q8_K;
    if (qa_fn) {
        void *buf = malloc(k8 ? mst_qact_k_bytes(cols, n_tokens) : mst_qact_bytes(cols, n_tokens));
        if (!buf)
            return mst_fail(MST_ERR_OUT_OF_MEMORY, "mst_kernel_matmul: out of memory for quantized activations");
        mst_qact qa;
        (k8 ? mst_qact_bind_k : mst_qact_bind)(&qa, buf, cols, n_tokens);
        (k8 ? mst_quantize_act_k : mst_quantize_act)(x, &qa, 0, n_tokens);
        qa_fn(w, (size_t)row_bytes, rows, &qa, y, 0, rows);
        free(buf);
        return MST_OK;
    }
    mst_matmul_fn fn = mst_kernels_matmul(impl == MST_IMPL_BEST ? mst_cpu_best() : mst_cpu_scalar(), type);
    fn(w, (size_t)row_bytes, rows, cols, x, n_tokens, y, 0, rows);
    return MST_OK;
}

MST_API mst_status mst_kernel_dequantize(int32_t type, const void *src, uint64_t src_bytes, uint64_t n, float *dst)
{
    mst_clear_error();
    if (!mst_type_supported(type))
        return mst_fail(MST_ERR_UNSUPPORTED, "mst_kernel_dequantize: type %d is not supported", (int)type);
    if (!src || !dst)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_kernel_dequantize: %s is NULL", !src ? "src" : "dst");
    if (n == 0)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_kernel_dequantize: n must be > 0");
    uint32_t bs = mst_type_block_size(type);
    if (n % bs != 0)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_kernel_dequantize: n (%llu) is not a multiple of the %s block size %u",
                        (unsigned long long)n, mst_type_name(type), bs);
    uint64_t bytes, out_bytes;
    if (!mst_type_bytes(type, n, &bytes) || !mst_mul_u64(n, sizeof(float), &out_bytes) || out_bytes > SIZE_MAX)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_kernel_dequantize: size overflows");
    if (src_bytes != bytes)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_kernel_dequantize: src_bytes is %llu, but %llu %s elements take %llu",
                        (unsigned long long)src_bytes, (unsigned long long)n, mst_type_name(type),
                        (unsigned long long)bytes);
    mst_dequantize_ref(type, src, n, dst);
    return MST_OK;
}

MST_API mst_status mst_kernel_rmsnorm(int32_t impl, const float *x, const float *weight, uint32_t n, uint32_t n_rows,
                                      float eps, float *y)
{
    mst_clear_error();
    mst_status st = check_impl(impl, "mst_kernel_rmsnorm");
    if (st != MST_OK)
        return st;
    if (!x || !weight || !y)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_kernel_rmsnorm: %s is NULL", !x ? "x" : !weight ? "weight" : "y");
    if (n == 0 || n_rows == 0)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_kernel_rmsnorm: n (%u) and n_rows (%u) must be > 0", n, n_rows);
    if (!(isfinite(eps) && eps >= 0.0f))
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_kernel_rmsnorm: eps (%g) must be finite and >= 0", (double)eps);
    (impl == MST_IMPL_BEST ? mst_rmsnorm_best : mst_rmsnorm_ref)(x, weight, n, n_rows, eps, y);
    return MST_OK;
}

MST_API mst_status mst_kernel_rope(int32_t impl, float *x, uint32_t n_tokens, uint32_t n_heads, uint32_t head_dim,
                                   const int32_t *positions, float freq_base)
{
    mst_clear_error();
    mst_status st = check_impl(impl, "mst_kernel_rope");
    if (st != MST_OK)
        return st;
    if (!x || !positions)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_kernel_rope: %s is NULL", !x ? "x" : "positions");
    if (n_tokens == 0 || n_heads == 0 || head_dim == 0)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_kernel_rope: n_tokens (%u), n_heads (%u) and head_dim (%u) must be > 0",
                        n_tokens, n_heads, head_dim);
    if (head_dim % 2 != 0)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_kernel_rope: head_dim (%u) must be even", head_dim);
    if (!(isfinite(freq_base) && freq_base > 0.0f))
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_kernel_rope: freq_base (%g) must be finite and > 0", (double)freq_base);
    for (uint32_t t = 0; t < n_tokens; t++)
        if (positions[t] < 0)
            return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_kernel_rope: positions[%u] = %d is negative", t, (int)positions[t]);
    (impl == MST_IMPL_BEST ? mst_rope_best : mst_rope_ref)(x, n_tokens, n_heads, head_dim, positions, freq_base);
    return MST_OK;
}

MST_API mst_status mst_kernel_swiglu(int32_t impl, const float *gate, const float *up, uint64_t n, float *out)
{
    mst_clear_error();
    mst_status st = check_impl(impl, "mst_kernel_swiglu");
    if (st != MST_OK)
        return st;
    if (!gate || !up || !out)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_kernel_swiglu: %s is NULL", !gate ? "gate" : !up ? "up" : "out");
    if (n == 0 || n > SIZE_MAX / sizeof(float))
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_kernel_swiglu: n (%llu) is 0 or too large", (unsigned long long)n);
    (impl == MST_IMPL_BEST ? mst_swiglu_best : mst_swiglu_ref)(gate, up, n, out);
    return MST_OK;
}

MST_API mst_status mst_kernel_attention(int32_t impl, const float *q, const float *k, const float *v,
                                        uint32_t n_tokens, uint32_t q_pos0, uint32_t n_kv, uint32_t n_head,
                                        uint32_t n_head_kv, uint32_t head_dim, uint32_t window, float *out)
{
    mst_clear_error();
    mst_status st = check_impl(impl, "mst_kernel_attention");
    if (st != MST_OK)
        return st;
    if (!q || !k || !v || !out)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_kernel_attention: %s is NULL",
                        !q ? "q" : !k ? "k" : !v ? "v" : "out");
    if (n_tokens == 0 || n_kv == 0 || n_head == 0 || n_head_kv == 0 || head_dim == 0)
        return mst_fail(MST_ERR_INVALID_ARGUMENT,
                        "mst_kernel_attention: n_tokens (%u), n_kv (%u), n_head (%u), n_head_kv (%u) and head_dim (%u) "
                        "must be > 0", n_tokens, n_kv, n_head, n_head_kv, head_dim);
    if (n_head % n_head_kv != 0)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_kernel_attention: n_head (%u) is not a multiple of n_head_kv (%u)",
                        n_head, n_head_kv);
    if ((uint64_t)q_pos0 + n_tokens > n_kv)
        return mst_fail(MST_ERR_INVALID_ARGUMENT,
                        "mst_kernel_attention: queries at positions %u..%llu need their own keys, but n_kv is %u", q_pos0,
                        (unsigned long long)q_pos0 + n_tokens - 1, n_kv);
    uint64_t qe, kve;
    if (!mst_mul_u64((uint64_t)n_tokens * n_head, head_dim, &qe) || !mst_mul_u64((uint64_t)n_kv * n_head_kv, head_dim, &kve) ||
        qe > SIZE_MAX / sizeof(float) || kve > SIZE_MAX / sizeof(float) || (uint64_t)n_tokens * n_head > UINT32_MAX)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_kernel_attention: sizes overflow");
    mst_attn_args a = {
        .q = q, .k = k, .v = v, .out = out,
        .n_tokens = n_tokens, .q_pos0 = q_pos0, .n_kv = n_kv,
        .n_head = n_head, .n_head_kv = n_head_kv, .head_dim = head_dim, .window = window,
    };
    if (impl == MST_IMPL_REFERENCE) {
        if (!mst_attention_ref(&a))
            return mst_fail(MST_ERR_OUT_OF_MEMORY, "mst_kernel_attention: out of memory for %u scores", n_kv);
        return MST_OK;
    }
    /* one thread: the plan never splits keys, so there is no merge pass */
    float *scratch = mst_alloc_array(mst_attention_scratch_floats(1, head_dim), sizeof(float));
    if (!scratch)
        return mst_fail(MST_ERR_OUT_OF_MEMORY, "mst_kernel_attention: out of memory for scratch");
    mst_attn_plan plan;
    mst_attention_plan(&a, 1, mst_attention_scratch_floats(1, head_dim), &plan);
    mst_attention_run(&a, &plan, mst_kernels_attn(mst_cpu_best()), scratch, 0, 1);
    free(scratch);
    return MST_OK;
}

MST_API mst_status mst_kernel_moe_gate(int32_t impl, const float *router_logits, uint32_t n_tokens, uint32_t n_expert,
                                       uint32_t n_used, int32_t *out_experts, float *out_weights)
{
    mst_clear_error();
    mst_status st = check_impl(impl, "mst_kernel_moe_gate");
    if (st != MST_OK)
        return st;
    if (!router_logits || !out_experts || !out_weights)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_kernel_moe_gate: %s is NULL",
                        !router_logits ? "router_logits" : !out_experts ? "out_experts" : "out_weights");
    if (n_tokens == 0 || n_expert == 0 || n_used == 0 || n_used > n_expert)
        return mst_fail(MST_ERR_INVALID_ARGUMENT,
                        "mst_kernel_moe_gate: need n_tokens > 0 and 0 < n_used <= n_expert (got %u, %u, %u)", n_tokens,
                        n_used, n_expert);
    uint64_t n;
    if (!mst_mul_u64(n_tokens, n_expert, &n) || n > SIZE_MAX / sizeof(float))
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_kernel_moe_gate: sizes overflow");
    for (uint64_t i = 0; i < n; i++)
        if (!isfinite(router_logits[i]))
            return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_kernel_moe_gate: router_logits[%llu] is not finite",
                            (unsigned long long)i);
    (impl == MST_IMPL_BEST ? mst_moe_gate_best : mst_moe_gate_ref)(router_logits, n_tokens, n_expert, n_used,
                                                                   out_experts, out_weights);
    return MST_OK;
}
