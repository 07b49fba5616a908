/* emu_bad_kernels.cu — deliberately broken kernels: each must make the emulator fail its launch with a
 * message naming the kernel, block and thread (test_emu_checks.cpp). Host pass only; never embedded. */
#include "cuda_compat.h"

/* Reads another warp's element without a barrier after the writes. */
MST_KERNEL void emu_bad_missing_sync(float *out)
{
    MST_SHARED(float, s, 64);
    const uint32_t t = threadIdx.x;
    s[t] = (float)t;
    /* mst_syncthreads() missing here */
    out[t] = s[63 - t];
}
MST_REGISTER_KERNEL(emu_bad_missing_sync);

/* Two barriers, one per half of the block. */
MST_KERNEL void emu_bad_divergent(float *out)
{
    const uint32_t t = threadIdx.x;
    if (t < 32) {
        out[t] = 1.0f;
        mst_syncthreads();
    } else {
        out[t] = 2.0f;
        mst_syncthreads();
    }
}
MST_REGISTER_KERNEL(emu_bad_divergent);

/* One warp exchanging through shared memory without mst_syncwarp between write and read. */
MST_KERNEL void emu_bad_warp_race(float *out)
{
    MST_SHARED(float, s, 32);
    const uint32_t lane = threadIdx.x;
    s[lane] = (float)lane;
    /* mst_syncwarp() missing here */
    out[lane] = s[lane ^ 1];
}
MST_REGISTER_KERNEL(emu_bad_warp_race);

/* Half of warp 0 shuffles while the other half (and warp 1) wait at the block barrier: nobody can go on. */
MST_KERNEL void emu_bad_deadlock(float *out)
{
    const uint32_t t = threadIdx.x;
    float v = (float)t;
    if (t < 16)
        v = mst_shfl_xor_f32(v, 1);
    mst_syncthreads();
    out[t] = v;
}
MST_REGISTER_KERNEL(emu_bad_deadlock);

/* Lane 5 leaves before the warp's shuffle. */
MST_KERNEL void emu_bad_exited_lane(float *out)
{
    const uint32_t t = threadIdx.x;
    if (t == 5)
        return;
    out[t] = mst_shfl_down_f32((float)t, 1);
}
MST_REGISTER_KERNEL(emu_bad_exited_lane);

/* 64 threads index a 32-element shared array. */
MST_KERNEL void emu_bad_shared_oob(float *out)
{
    MST_SHARED(float, small, 32);
    const uint32_t t = threadIdx.x;
    small[t] = 1.0f;
    out[t] = 0.0f;
}
MST_REGISTER_KERNEL(emu_bad_shared_oob);

/* Off by one: thread i reads x[i + 1], so the grid's last thread reads one float past the buffer's end. */
MST_KERNEL void emu_bad_oob_read(const float *x, float *out)
{
    const uint32_t i = blockIdx.x * blockDim.x + threadIdx.x;
    out[i] = x[i + 1];
}
MST_REGISTER_KERNEL(emu_bad_oob_read);
