/* emu_kernels.cu — correct kernels for the emulator's positive tests (test_emu_runtime.cpp). Compiled in the
 * host pass into the test, and by the emu_kernels_compile_to_ptx test through the device pass: every
 * construct here must also be valid CUDA. Not part of the library. */
#include "cuda_compat.h"

/* Each thread writes its coordinates: out[g * 12 + ...] with g its global linear index. */
MST_KERNEL void emu_indices(uint32_t *out)
{
    uint32_t t = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
    uint32_t b = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
    uint32_t g = b * (blockDim.x * blockDim.y * blockDim.z) + t;
    uint32_t *o = out + (uint64_t)g * 12;
    o[0] = threadIdx.x, o[1] = threadIdx.y, o[2] = threadIdx.z;
    o[3] = blockIdx.x, o[4] = blockIdx.y, o[5] = blockIdx.z;
    o[6] = blockDim.x, o[7] = blockDim.y, o[8] = blockDim.z;
    o[9] = gridDim.x, o[10] = gridDim.y, o[11] = gridDim.z;
}
MST_REGISTER_KERNEL(emu_indices);

MST_DEVICE float warp_sum(float s)
{
    for (int m = 16; m > 0; m >>= 1)
        s += mst_shfl_xor_f32(s, m);
    return s;
}

/* *out = the sum of every thread's s over the block: warp sums by shuffles, one partial per warp in shared
 * memory, a barrier, then warps 1.. return while warp 0 shuffles the partials together. */
MST_DEVICE void block_sum_store(float s, float *out)
{
    MST_SHARED(float, partial, 32);
    s = warp_sum(s);
    const uint32_t warp = threadIdx.x / MST_WARP, lane = threadIdx.x % MST_WARP;
    if (lane == 0)
        partial[warp] = s;
    mst_syncthreads();
    if (warp != 0)
        return;
    s = lane < blockDim.x / MST_WARP ? partial[lane] : 0.0f;
    s = warp_sum(s);
    if (lane == 0)
        *out = s;
}

/* out[block] = sum of this block's grid-stride share of x (block_sum_store). */
MST_KERNEL void emu_reduce(const float *x, uint64_t n, float *out)
{
    float s = 0.0f;
    for (uint64_t i = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (uint64_t)gridDim.x * blockDim.x)
        s += x[i];
    block_sum_store(s, out + blockIdx.x);
}
MST_REGISTER_KERNEL(emu_reduce);

/* Reads its shared element before writing it: each block must see the fill pattern, not the last block's. */
MST_KERNEL void emu_fresh_shared(uint32_t *out)
{
    MST_SHARED(uint32_t, s, 64);
    out[blockIdx.x * blockDim.x + threadIdx.x] = s[threadIdx.x];
    s[threadIdx.x] = blockIdx.x + 1;
}
MST_REGISTER_KERNEL(emu_fresh_shared);

MST_KERNEL void emu_dp4a(const int32_t *a, const int32_t *b, const int32_t *c, int32_t *out, uint32_t n)
{
    uint32_t i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        out[i] = mst_dp4a(a[i], b[i], c[i]);
}
MST_REGISTER_KERNEL(emu_dp4a);

/* h[i] -> float -> f16 again, and f[i] -> f16. */
MST_KERNEL void emu_f16(const uint16_t *h, float *hf, uint16_t *hfh, const float *f, uint16_t *fh, uint32_t n)
{
    uint32_t i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        hf[i] = mst_h2f(h[i]);
        hfh[i] = mst_f2h(hf[i]);
        fh[i] = mst_f2h(f[i]);
    }
}
MST_REGISTER_KERNEL(emu_f16);

/* Per thread: xor-1, down-3, idx-(lane*7) shuffles of f32 and i32, and a ballot of odd-or-big lanes. */
MST_KERNEL void emu_warp(float *fo, int32_t *io, uint32_t *ballots)
{
    const uint32_t t = threadIdx.x, lane = t % MST_WARP;
    float f = 0.5f * (float)t;
    int32_t v = (int32_t)(t * 3u) - 50;
    fo[t * 3 + 0] = mst_shfl_xor_f32(f, 1);
    fo[t * 3 + 1] = mst_shfl_down_f32(f, 3);
    fo[t * 3 + 2] = mst_shfl_idx_f32(f, (lane * 7) % 32);
    io[t * 3 + 0] = mst_shfl_xor_i32(v, 5);
    io[t * 3 + 1] = mst_shfl_down_i32(v, 17);
    io[t * 3 + 2] = mst_shfl_idx_i32(v, 31 - lane);
    ballots[t] = mst_ballot((t & 1) || t > 40);
}
MST_REGISTER_KERNEL(emu_warp);

MST_KERNEL void emu_atomics(float *fsum, int32_t *isum, int32_t *imax)
{
    uint32_t g = blockIdx.x * blockDim.x + threadIdx.x;
    mst_atomic_add_f32(fsum, 0.25f);
    mst_atomic_add_i32(isum, (int32_t)g);
    mst_atomic_max_i32(imax, (int32_t)((g * 37u) % 101u) - 50);
}
MST_REGISTER_KERNEL(emu_atomics);

/* Dynamic shared memory and mst_syncwarp: each lane writes its element, the warp syncs, each lane reads its
 * neighbour's; then the block syncs and each thread reads one of another warp. */
MST_KERNEL void emu_dyn_shared(float *out)
{
    MST_SHARED_DYN(float, buf);
    const uint32_t t = threadIdx.x;
    buf[t] = (float)t * 2.0f;
    mst_syncwarp();
    float a = buf[t ^ 1];
    mst_syncthreads();
    float b = buf[(t + 32) % blockDim.x];
    out[t] = a + 1000.0f * b;
}
MST_REGISTER_KERNEL(emu_dyn_shared);

/* Where element i of a lane's C/D fragment sits in a row-major 16x8 matrix (g = lane / 4, t = lane % 4). */
MST_DEVICE uint32_t cd_index(uint32_t g, uint32_t t, uint32_t i)
{
    return (g + 8 * (i >> 1)) * 8 + 2 * t + (i & 1);
}

/* One warp: D = A B + C through the fragment layouts (cuda_compat.h). A row-major 16xK (f16 bits / int8),
 * B stored K-major as B[k][n] (8 columns), C and D row-major 16x8. */
MST_KERNEL void emu_mma_f16(const uint16_t *A, const uint16_t *B, const float *C, float *D)
{
    const uint32_t lane = threadIdx.x, g = lane >> 2, t = lane & 3;
    uint32_t a[4], b[2];
    float c[4], d[4];
    for (uint32_t r = 0; r < 4; r++) {
        uint32_t row = g + 8 * (r & 1), col = 2 * t + 8 * (r >> 1);
        a[r] = (uint32_t)A[row * 16 + col] | ((uint32_t)A[row * 16 + col + 1] << 16);
    }
    for (uint32_t r = 0; r < 2; r++) {
        uint32_t k = 2 * t + 8 * r;
        b[r] = (uint32_t)B[k * 8 + g] | ((uint32_t)B[(k + 1) * 8 + g] << 16);
    }
    for (uint32_t i = 0; i < 4; i++)
        c[i] = C[cd_index(g, t, i)];
    mst_mma_m16n8k16_f16_f32(d, a, b, c);
    for (uint32_t i = 0; i < 4; i++)
        D[cd_index(g, t, i)] = d[i];
}
MST_REGISTER_KERNEL(emu_mma_f16);

MST_KERNEL void emu_mma_s8(const int8_t *A, const int8_t *B, const int32_t *C, int32_t *D)
{
    const uint32_t lane = threadIdx.x, g = lane >> 2, t = lane & 3;
    uint32_t a[4], b[2];
    int32_t c[4], d[4];
    for (uint32_t r = 0; r < 4; r++) {
        uint32_t row = g + 8 * (r & 1), col = 4 * t + 16 * (r >> 1);
        a[r] = 0;
        for (uint32_t j = 0; j < 4; j++)
            a[r] |= (uint32_t)(uint8_t)A[row * 32 + col + j] << (8 * j);
    }
    for (uint32_t r = 0; r < 2; r++) {
        uint32_t k = 4 * t + 16 * r;
        b[r] = 0;
        for (uint32_t j = 0; j < 4; j++)
            b[r] |= (uint32_t)(uint8_t)B[(k + j) * 8 + g] << (8 * j);
    }
    for (uint32_t i = 0; i < 4; i++)
        c[i] = C[cd_index(g, t, i)];
    mst_mma_m16n8k32_s8_s32(d, a, b, c);
    for (uint32_t i = 0; i < 4; i++)
        D[cd_index(g, t, i)] = d[i];
}
MST_REGISTER_KERNEL(emu_mma_s8);

/* ---- speed ---- */

/* y[row] = W[row] . x, one block of blockDim.x threads a row: strided partial dots, then the reduction. */
MST_KERNEL void emu_gemv(const float *W, const float *x, float *y, uint32_t cols)
{
    const float *w = W + (uint64_t)blockIdx.x * cols;
    float s = 0.0f;
    for (uint32_t c = threadIdx.x; c < cols; c += blockDim.x)
        s += w[c] * x[c];
    block_sum_store(s, y + blockIdx.x);
}
MST_REGISTER_KERNEL(emu_gemv);

/* No sync at all: the cost of a thread. */
MST_KERNEL void emu_scale(float *x, uint32_t n)
{
    uint32_t i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        x[i] *= 2.0f;
}
MST_REGISTER_KERNEL(emu_scale);

/* `rounds` barriers per thread: the cost of a barrier. */
MST_KERNEL void emu_barriers(float *out, uint32_t rounds)
{
    float s = 0.0f;
    for (uint32_t r = 0; r < rounds; r++) {
        s += 1.0f;
        mst_syncthreads();
    }
    out[blockIdx.x * blockDim.x + threadIdx.x] = s;
}
MST_REGISTER_KERNEL(emu_barriers);

/* Threads past n leave before the barrier: exited threads count as arrived, so the others go on. Whole warps
 * and the tail of a warp exit (n = 40 of 96). Each remaining thread reads a neighbour's value after the barrier. */
MST_KERNEL void emu_early_exit(float *out, uint32_t n)
{
    MST_SHARED(float, s, 96);
    const uint32_t t = threadIdx.x;
    if (t >= n)
        return;
    s[t] = (float)t;
    mst_syncthreads();
    out[t] = s[(t + 1) % n];
}
MST_REGISTER_KERNEL(emu_early_exit);
