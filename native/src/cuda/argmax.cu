/* argmax.cu — greedy decoding on the device: the id the C# sampler's ArgMax (TokenSampler.cs) would pick from the
 * logits, so that a greedy step downloads 4 bytes instead of n_vocab floats, and the first NaN/Inf among them, so
 * that the logits are checked as mst_decode checks downloaded ones.
 *
 * ArgMax scans in order and replaces its best only by a strictly greater value: ties keep the lowest index, a NaN
 * never replaces (every comparison with NaN is false), and a NaN at index 0 is never replaced. Here: one block;
 * each thread scans indices tid, tid + blockDim.x, ... keeping the first largest non-NaN value it sees; the
 * threads' (value, index) pairs are merged with "larger value, or equal value and lower index" (an order-free
 * rule, so the merge tree does not matter), within warps by xor shuffles, then across warps through shared
 * memory. A NaN at index 0 overrides the result with 0. Equal values compare equal whatever their sign
 * (-0 == +0), as in C#. Exact: comparisons only. */
#include "cuda_compat.h"

#define MST_ARGMAX_THREADS 256

/* (v2, i2) replaces (v1, i1): i < 0 means "none yet" */
MST_DEVICE int mst_argmax_better(float v2, int32_t i2, float v1, int32_t i1)
{
    return i2 >= 0 && (i1 < 0 || v2 > v1 || (v2 == v1 && i2 < i1));
}

MST_KERNEL void mst_k_argmax(const float *x, uint32_t n, int32_t *out)
{
    MST_SHARED(float, best_v_s, MST_ARGMAX_THREADS / MST_WARP);
    MST_SHARED(int32_t, best_i_s, MST_ARGMAX_THREADS / MST_WARP);
    MST_SHARED(int32_t, bad_s, MST_ARGMAX_THREADS / MST_WARP);
    const uint32_t tid = threadIdx.x, lane = tid % MST_WARP, warp = tid / MST_WARP;
    float best_v = 0.0f;
    int32_t best_i = -1, bad = 0x7fffffff;
    for (uint32_t i = tid; i < n; i += blockDim.x) {
        const float v = x[i];
        const uint32_t bits = __builtin_bit_cast(uint32_t, v);
        if ((bits & 0x7f800000u) == 0x7f800000u && (int32_t)i < bad)
            bad = (int32_t)i;
        if (v == v && (best_i < 0 || v > best_v)) { /* this thread's indices rise: ties keep the first */
            best_v = v;
            best_i = (int32_t)i;
        }
    }
    for (int m = MST_WARP / 2; m > 0; m /= 2) {
        const float ov = mst_shfl_xor_f32(best_v, m);
        const int32_t oi = mst_shfl_xor_i32(best_i, m), ob = mst_shfl_xor_i32(bad, m);
        if (mst_argmax_better(ov, oi, best_v, best_i)) {
            best_v = ov;
            best_i = oi;
        }
        bad = ob < bad ? ob : bad;
    }
    if (lane == 0) {
        best_v_s[warp] = best_v;
        best_i_s[warp] = best_i;
        bad_s[warp] = bad;
    }
    mst_syncthreads();
    if (tid == 0) {
        const uint32_t n_warps = (blockDim.x + MST_WARP - 1) / MST_WARP;
        for (uint32_t w = 1; w < n_warps; w++) {
            const float ov = best_v_s[w];
            const int32_t oi = best_i_s[w], ob = bad_s[w];
            if (mst_argmax_better(ov, oi, best_v, best_i)) {
                best_v = ov;
                best_i = oi;
            }
            bad = ob < bad ? ob : bad;
        }
        const float x0 = x[0];
        out[0] = (x0 != x0 || best_i < 0) ? 0 : best_i;
        out[1] = bad;
    }
}
MST_REGISTER_KERNEL(mst_k_argmax);

#if MST_HOST_CODE
#include "kernels.h"

extern "C" mst_status mst_fail(mst_status status, const char *fmt, ...);

extern "C" mst_status mst_cuda_argmax(mst_dev *d, mst_dptr x, uint32_t n, mst_dptr out)
{
    if (n == 0 || n > 0x7fffffffu)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_cuda_argmax: %u values (need 1 .. 2^31 - 1)", n);
    void *args[] = {&x, &n, &out};
    return mst_dev_launch(d, &mst_kernel_mst_k_argmax, mst_dim3{1, 1, 1}, mst_dim3{MST_ARGMAX_THREADS, 1, 1}, 0, args);
}
#endif
