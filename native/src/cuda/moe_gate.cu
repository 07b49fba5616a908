/* moe_gate.cu — per token, the n_used largest router logits (largest first, ties to the lower index) and the
 * softmax over them.
 *
 * One thread per token (blocks of 64): routing is O(n_expert * n_used) per token against the experts' matmuls,
 * so a thread running the CPU reference's own selection (n_used strict-greater scans that skip the experts
 * already taken, the first free index taken unconditionally) is cheap and picks bit for bit the same ids. The
 * taken set is a 256-bit mask (n_expert <= 256). A token whose logits are not all finite (NaN, +-Inf) is not
 * routed: its n_used slots get id -1 and weight NaN, cpu/moe_gate.h's MST_MOE_NONFINITE, which the host turns
 * into MST_ERR_NON_FINITE.
 *
 * Weights: exp(l_i - max) with mst_expf, summed in float, one IEEE division each. The exponent's rounding costs
 * |l_i - max| * 2^-24 relative, ex2.approx 2^-22.5, the sum n_used roundings, the division one:
 * |w - exact| <= (|l_i - max| + max_j |l_j - max| + n_used + 8) * 2^-24 * exact (test_cuda_moe_gate.c). */
#include "cuda_compat.h"

#define MST_MOE_MAX_EXPERTS 256

/* Whether a token's n_expert logits hold a NaN or an infinity. */
MST_DEVICE int kmoe_logits_nonfinite(const float *l, uint32_t n_expert)
{
    int nonfinite = 0;
    for (uint32_t e = 0; e < n_expert; e++)
        nonfinite |= !(mst_fabsf(l[e]) <= 0x1.fffffep+127f); /* NaN or +-Inf: a NaN never compares greater */
    return nonfinite;
}

/* Token t's routing (the kernels below: one thread per token). */
MST_DEVICE void kmoe_route(const float *logits, int32_t *chosen, float *weights, uint32_t t, uint32_t n_expert,
                           uint32_t n_used)
{
    const float *l = logits + (uint64_t)t * n_expert;
    int32_t *ex = chosen + (uint64_t)t * n_used;
    float *w = weights + (uint64_t)t * n_used;

    if (kmoe_logits_nonfinite(l, n_expert)) {
        for (uint32_t i = 0; i < n_used; i++) {
            ex[i] = -1;
            w[i] = __builtin_bit_cast(float, 0x7fc00000u);
        }
        return;
    }

    uint32_t taken[MST_MOE_MAX_EXPERTS / 32];
    for (int i = 0; i < MST_MOE_MAX_EXPERTS / 32; i++)
        taken[i] = 0;
    for (uint32_t i = 0; i < n_used; i++) {
        int32_t best = -1;
        float best_v = 0.0f;
        for (uint32_t e = 0; e < n_expert; e++) {
            if ((taken[e / 32] >> (e % 32)) & 1u)
                continue;
            const float v = l[e];
            if (best < 0 || v > best_v) {
                best = (int32_t)e;
                best_v = v;
            }
        }
        taken[(uint32_t)best / 32] |= 1u << ((uint32_t)best % 32);
        ex[i] = best;
    }

    const float mx = l[ex[0]]; /* the first chosen holds the largest logit */
    float sum = 0.0f;
    for (uint32_t i = 0; i < n_used; i++) {
        const float e = mst_expf(l[ex[i]] - mx);
        w[i] = e;
        sum += e;
    }
    for (uint32_t i = 0; i < n_used; i++)
        w[i] = mst_divf(w[i], sum);
}

MST_KERNEL void mst_k_moe_gate(const float *logits, int32_t *chosen, float *weights, uint32_t n_tokens,
                               uint32_t n_expert, uint32_t n_used)
{
    const uint32_t t = blockIdx.x * blockDim.x + threadIdx.x;
    if (t < n_tokens)
        kmoe_route(logits, chosen, weights, t, n_expert, n_used);
}
MST_REGISTER_KERNEL(mst_k_moe_gate);

/* The routing that stays on the device (mst_cuda_moe_gate_flagged): as mst_k_moe_gate, and thread 0 of block 0
 * also keeps in *flag the first (layer, token) whose logits are not finite, as layer * 65536 + token, INT32_MAX
 * for none; reset = 1 (the pass's first layer) starts it afresh. Thread 0 rescans the logits itself rather than
 * read the other threads' results, so no barrier or atomic is needed (a decode has a few tokens: a few hundred
 * loads); launches on one stream run in order, so the layers' updates do not race. */
MST_KERNEL void mst_k_moe_gate_flagged(const float *logits, int32_t *chosen, float *weights, uint32_t n_tokens,
                                       uint32_t n_expert, uint32_t n_used, int32_t *flag, int32_t layer_code,
                                       uint32_t reset)
{
    const uint32_t t = blockIdx.x * blockDim.x + threadIdx.x;
    if (t < n_tokens)
        kmoe_route(logits, chosen, weights, t, n_expert, n_used);
    if (t != 0)
        return;
    int32_t first = reset ? 0x7fffffff : *flag;
    for (uint32_t u = 0; u < n_tokens; u++)
        if (kmoe_logits_nonfinite(logits + (uint64_t)u * n_expert, n_expert)) {
            if (layer_code + (int32_t)u < first)
                first = layer_code + (int32_t)u;
            break;
        }
    *flag = first;
}
MST_REGISTER_KERNEL(mst_k_moe_gate_flagged);

#if MST_HOST_CODE
#include "kernels.h"

extern "C" mst_status mst_fail(mst_status status, const char *fmt, ...);

enum { MST_MOE_THREADS = 64 };

extern "C" mst_status mst_cuda_moe_gate(mst_dev *d, mst_dptr logits, uint32_t n_tokens, uint32_t n_expert,
                                        uint32_t n_used, mst_dptr chosen, mst_dptr weights)
{
    if (n_tokens == 0)
        return MST_OK;
    if (n_used == 0 || n_used > n_expert || n_expert > MST_MOE_MAX_EXPERTS)
        return mst_fail(MST_ERR_UNSUPPORTED, "mst_cuda_moe_gate: %u of %u experts (need 0 < used <= experts <= %d)",
                        n_used, n_expert, MST_MOE_MAX_EXPERTS);
    const uint32_t blocks = (n_tokens + MST_MOE_THREADS - 1) / MST_MOE_THREADS;
    void *args[] = {&logits, &chosen, &weights, &n_tokens, &n_expert, &n_used};
    return mst_dev_launch(d, &mst_kernel_mst_k_moe_gate, mst_dim3{blocks, 1, 1}, mst_dim3{MST_MOE_THREADS, 1, 1}, 0,
                          args);
}

extern "C" mst_status mst_cuda_moe_gate_flagged(mst_dev *d, mst_dptr logits, uint32_t n_tokens, uint32_t n_expert,
                                                uint32_t n_used, mst_dptr chosen, mst_dptr weights, mst_dptr flag,
                                                uint32_t layer, int reset)
{
    if (n_tokens == 0 || n_tokens > 65535 || layer > 32767)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_cuda_moe_gate_flagged: %u tokens at layer %u (need 1..65535, "
                        "layer < 32768: the flag packs both in an int32)", n_tokens, layer);
    if (n_used == 0 || n_used > n_expert || n_expert > MST_MOE_MAX_EXPERTS)
        return mst_fail(MST_ERR_UNSUPPORTED, "mst_cuda_moe_gate_flagged: %u of %u experts (need 0 < used <= experts <= %d)",
                        n_used, n_expert, MST_MOE_MAX_EXPERTS);
    const uint32_t blocks = (n_tokens + MST_MOE_THREADS - 1) / MST_MOE_THREADS;
    int32_t code = (int32_t)(layer * 65536u);
    uint32_t rs = reset ? 1u : 0u;
    void *args[] = {&logits, &chosen, &weights, &n_tokens, &n_expert, &n_used, &flag, &code, &rs};
    return mst_dev_launch(d, &mst_kernel_mst_k_moe_gate_flagged, mst_dim3{blocks, 1, 1}, mst_dim3{MST_MOE_THREADS, 1, 1},
                          0, args);
}
#endif
