/* quantize_act.cu — rounds a matmul's float activations on the device the way the CPU backend rounds them for
 * the weight type, so the integer dot products of the two backends are the same integers:
 *   Q8_0 blocks (Q4_0 / Q8_0 weights): cpu/quant_act.h's rule, 32 values, fp16-rounded scale amax/127;
 *   Q8_K blocks (Q4_K / Q6_K weights): cpu/quant_act_k.h's rule, 256 values, float scale, 16-value sums;
 *   bf16 (BF16 weights): cpu/quant_act_bf16.h's rule, stored back as floats.
 * Output layout: matmul_parts.h. Divisions are div.rn (mst_divf) and the product x * scale is rounded before
 * rint, exactly as the CPU's float code does, so every q and d is bit-identical to the CPU's. A block holding
 * NaN or +-Inf (one ballot per warp finds it) gets d = NaN and q = 0, as the CPU writes it (cpu/quant_act.h):
 * the NaN reaches the matmul's output instead of an arbitrary integer from converting NaN. */
#include "cuda_compat.h"

#include "quant_blocks.cuh"

/* One warp per 32-value block; lane i takes value i. grid (ceil(nb / warps per block), n_tokens). */
MST_KERNEL void mst_k_quantize_q8_0(const float *x, uint32_t cols, int8_t *qs, float *d)
{
    const uint32_t nb = cols / KMM_QK, t = blockIdx.y, lane = threadIdx.x % MST_WARP;
    const uint32_t b = blockIdx.x * (blockDim.x / MST_WARP) + threadIdx.x / MST_WARP;
    if (b >= nb)
        return; /* a whole warp leaves: no shuffle below misses a lane */
    const uint64_t i = (uint64_t)t * cols + (uint64_t)b * KMM_QK + lane;
    const float v = x[i];
    const int nonfinite = mst_ballot(kmm_nonfinite(v)) != 0; /* fmax below skips a NaN */
    float amax = mst_fabsf(v);
    for (int m = 16; m > 0; m >>= 1)
        amax = mst_fmaxf(amax, mst_shfl_xor_f32(amax, m));
    const float dq = nonfinite ? kmm_u2f(KMM_NONFINITE_D) : mst_h2f(mst_f2h(mst_divf(amax, 127.0f)));
    /* as the CPU's mst_qact_inv_scale: 0 where 127/amax overflows (a block of denormals), never an Inf to cast */
    const float id0 = amax != 0.0f ? mst_divf(127.0f, amax) : 0.0f;
    const float id = id0 <= 3.40282347e+38f ? id0 : 0.0f;
    qs[i] = nonfinite ? 0 : (int8_t)(int32_t)kmm_rintf(v * id);
    if (lane == 0)
        d[(uint64_t)t * nb + b] = dq;
}
MST_REGISTER_KERNEL(mst_k_quantize_q8_0);

/* One warp per 256-value block; lane l takes values 8l .. 8l+7. The block's extreme value is the first of the
 * largest |x| (the CPU scans with a strict >): each lane keeps its first, the reduction prefers the lower index
 * on ties. grid (ceil(nsb / warps per block), n_tokens). */
MST_KERNEL void mst_k_quantize_q8_k(const float *x, uint32_t cols, int8_t *qs, float *d, int32_t *bsum)
{
    const uint32_t nsb = cols / KMM_QK_K, t = blockIdx.y, lane = threadIdx.x % MST_WARP;
    const uint32_t b = blockIdx.x * (blockDim.x / MST_WARP) + threadIdx.x / MST_WARP;
    if (b >= nsb)
        return;
    const uint64_t o = (uint64_t)t * cols + (uint64_t)b * KMM_QK_K + 8 * lane;
    float v[8];
    float amax = 0.0f, max = 0.0f;
    int32_t at = (int32_t)(8 * lane), bad = 0;
    for (int i = 0; i < 8; i++) {
        v[i] = x[o + i];
        bad |= kmm_nonfinite(v[i]); /* NaN, which the strict > skips, or +-Inf */
        if (mst_fabsf(v[i]) > amax) {
            amax = mst_fabsf(v[i]);
            max = v[i];
            at = (int32_t)(8 * lane) + i;
        }
    }
    for (int m = 16; m > 0; m >>= 1) {
        const float oa = mst_shfl_xor_f32(amax, m), om = mst_shfl_xor_f32(max, m);
        const int32_t oat = mst_shfl_xor_i32(at, m);
        if (oa > amax || (oa == amax && oat < at)) {
            amax = oa;
            max = om;
            at = oat;
        }
    }
    const int nonfinite = mst_ballot(bad) != 0;
    int32_t s = 0;
    if (nonfinite || amax == 0.0f) {
        for (int i = 0; i < 8; i++)
            qs[o + i] = 0;
    } else {
        const float iscale = mst_divf(-127.0f, max);
        for (int i = 0; i < 8; i++) {
            const float r = kmm_rintf(iscale * v[i]);
            /* min(127, r) is the rule; the rest mirrors the CPU's guard against a NaN/inf product (-127/max
             * overflows for |max| < 127/FLT_MAX) */
            const int32_t q = r > 127.0f ? 127 : r >= -127.0f ? (int32_t)r : r < 0.0f ? -127 : 0;
            qs[o + i] = (int8_t)q;
            s += q;
        }
    }
    s += mst_shfl_xor_i32(s, 1); /* lanes 2j and 2j+1 hold values 16j .. 16j+15 */
    if (lane % 2 == 0)
        bsum[(uint64_t)t * (cols / 16) + (uint64_t)b * 16 + lane / 2] = s;
    if (lane == 0)
        d[(uint64_t)t * nsb + b] = nonfinite     ? kmm_u2f(KMM_NONFINITE_D)
                                   : amax == 0.0f ? 0.0f
                                                  : mst_divf(1.0f, mst_divf(-127.0f, max));
}
MST_REGISTER_KERNEL(mst_k_quantize_q8_k);

/* xr[i] = x[i] rounded to bf16, for i < n. One thread per value. */
MST_KERNEL void mst_k_round_bf16(const float *x, uint64_t n, float *xr)
{
    const uint64_t i = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        xr[i] = kmm_round_bf16(x[i]);
}
MST_REGISTER_KERNEL(mst_k_round_bf16);

#if MST_HOST_CODE
#include "matmul_parts.h"

extern "C" mst_status mst_fail(mst_status status, const char *fmt, ...);

enum { WARPS = 4 };

extern "C" mst_status mst_cuda_quantize_q8_0(mst_dev *d, mst_dptr x, const mst_cuda_qact *a)
{
    if (a->cols % KMM_QK != 0)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_cuda_quantize_q8_0: cols (%u) is not a multiple of 32", a->cols);
    uint32_t cols = a->cols;
    mst_dptr qs = a->qs, dd = a->d;
    void *args[] = {&x, &cols, &qs, &dd};
    const mst_dim3 grid = {(cols / KMM_QK + WARPS - 1) / WARPS, a->n_tokens, 1}, block = {WARPS * MST_WARP, 1, 1};
    return mst_dev_launch(d, &mst_kernel_mst_k_quantize_q8_0, grid, block, 0, args);
}

extern "C" mst_status mst_cuda_quantize_q8_k(mst_dev *d, mst_dptr x, const mst_cuda_qact *a)
{
    if (a->cols % KMM_QK_K != 0)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_cuda_quantize_q8_k: cols (%u) is not a multiple of 256", a->cols);
    uint32_t cols = a->cols;
    mst_dptr qs = a->qs, dd = a->d, bs = a->bsum;
    void *args[] = {&x, &cols, &qs, &dd, &bs};
    const mst_dim3 grid = {(cols / KMM_QK_K + WARPS - 1) / WARPS, a->n_tokens, 1}, block = {WARPS * MST_WARP, 1, 1};
    return mst_dev_launch(d, &mst_kernel_mst_k_quantize_q8_k, grid, block, 0, args);
}

extern "C" mst_status mst_cuda_round_bf16(mst_dev *d, mst_dptr x, const mst_cuda_qact *a)
{
    uint64_t n = (uint64_t)a->cols * a->n_tokens;
    mst_dptr xr = a->xr;
    const uint64_t blocks = (n + 255) / 256;
    if (blocks > 0x7fffffffu)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_cuda_round_bf16: %llu values are too many for one launch",
                        (unsigned long long)n);
    void *args[] = {&x, &n, &xr};
    const mst_dim3 grid = {(uint32_t)blocks, 1, 1}, block = {256, 1, 1};
    return mst_dev_launch(d, &mst_kernel_mst_k_round_bf16, grid, block, 0, args);
}
#endif
