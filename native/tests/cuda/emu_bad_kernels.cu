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

/* ---- ldmatrix and cp.async: each launched with src a 1000-byte device buffer, one warp unless said ---- */

/* Reads its cp.async destination before waiting for the copy. */
MST_KERNEL void emu_bad_cp_async_early_read(const uint8_t *src, float *out)
{
    MST_SHARED_ALIGNED(float, s, 32 * 4, 16);
    const uint32_t t = threadIdx.x;
    mst_cp_async_16(&s[4 * t], src + 16 * t, 16);
    mst_cp_async_commit();
    out[t] = s[4 * t + 1]; /* mst_cp_async_wait_group(0) missing before this */
    mst_cp_async_wait_group(0);
}
MST_REGISTER_KERNEL(emu_bad_cp_async_early_read);

/* Waits for its own copy, then reads the previous thread's without the barrier that makes it visible: thread 1
 * reads what thread 0's copy wrote when it landed (thread 0 runs first, to its end). */
MST_KERNEL void emu_bad_cp_async_no_barrier(const uint8_t *src, float *out)
{
    MST_SHARED_ALIGNED(float, s, 64 * 4, 16);
    const uint32_t t = threadIdx.x;
    mst_cp_async_16(&s[4 * t], src + 16 * t, 16);
    mst_cp_async_wait_all();
    /* mst_syncthreads() missing here */
    out[t] = s[4 * ((t + 63) % 64)];
}
MST_REGISTER_KERNEL(emu_bad_cp_async_no_barrier);

/* Two groups, wait_group 1: the second is still pending when it is read. */
MST_KERNEL void emu_bad_cp_async_wait_group_1(const uint8_t *src, float *out)
{
    MST_SHARED_ALIGNED(float, a, 32 * 4, 16);
    MST_SHARED_ALIGNED(float, b, 32 * 4, 16);
    const uint32_t t = threadIdx.x;
    mst_cp_async_16(&a[4 * t], src + 16 * t, 16);
    mst_cp_async_commit();
    mst_cp_async_16(&b[4 * t], src + 16 * t, 16);
    mst_cp_async_commit();
    mst_cp_async_wait_group(1);
    float v = a[4 * t]; /* fine: the older group is complete */
    v += b[4 * t];      /* not yet */
    mst_cp_async_wait_all();
    out[t] = v;
}
MST_REGISTER_KERNEL(emu_bad_cp_async_wait_group_1);

/* Thread t copies 16 bytes from src + 16 t into byte 16 t + SKEW of an aligned array of ROWS 16-byte rows, taking
 * SRC_BYTES of them from src, and waits for it: the three kernels below each get one of those wrong. */
template <uint32_t ROWS, uint32_t SKEW, uint32_t SRC_BYTES> MST_DEVICE void copy_16(const uint8_t *src, float *out)
{
    MST_SHARED_ALIGNED(uint8_t, s, ROWS * 16, 16);
    const uint32_t t = threadIdx.x;
    mst_cp_async_16(&s[16 * t + SKEW], src + 16 * t, SRC_BYTES);
    mst_cp_async_wait_all();
    out[t] = 0.0f;
}

/* With 64 threads over 1000 bytes, thread 62 reads bytes 992..1007. */
MST_KERNEL void emu_bad_cp_async_past_end(const uint8_t *src, float *out) { copy_16<64, 0, 16>(src, out); }
MST_REGISTER_KERNEL(emu_bad_cp_async_past_end);

/* A 16-byte copy to a destination 8 bytes into an aligned array. */
MST_KERNEL void emu_bad_cp_async_misaligned(const uint8_t *src, float *out) { copy_16<33, 8, 16>(src, out); }
MST_REGISTER_KERNEL(emu_bad_cp_async_misaligned);

/* src_bytes above the copy's 16. */
MST_KERNEL void emu_bad_cp_async_src_bytes(const uint8_t *src, float *out) { copy_16<32, 0, 17>(src, out); }
MST_REGISTER_KERNEL(emu_bad_cp_async_src_bytes);

/* Returns with its copy still pending. */
MST_KERNEL void emu_bad_cp_async_exit_pending(const uint8_t *src, float *out)
{
    MST_SHARED_ALIGNED(uint8_t, s, 32 * 16, 16);
    const uint32_t t = threadIdx.x;
    out[t] = 0.0f;
    mst_cp_async_16(&s[16 * t], src + 16 * t, 16);
    mst_cp_async_commit();
}
MST_REGISTER_KERNEL(emu_bad_cp_async_exit_pending);

/* The ldmatrix kernels' operand: lane t writes row t of s, 8 halves, from src's first 8 bytes (S: the shared array,
 * whichever way it was declared). */
template <class S> MST_DEVICE void fill_row(S &s, const uint8_t *src, uint32_t t)
{
    for (uint32_t c = 0; c < 8; c++)
        s[8 * t + c] = (uint16_t)src[c];
}

/* Row addresses 8 bytes past a 16-byte boundary. */
MST_KERNEL void emu_bad_ldmatrix_misaligned(const uint8_t *src, float *out)
{
    MST_SHARED_ALIGNED(uint16_t, s, 33 * 8, 16);
    const uint32_t t = threadIdx.x;
    fill_row(s, src, t);
    mst_syncwarp();
    uint32_t r[4];
    mst_ldmatrix_x4(r, &s[8 * t + 4]);
    out[t] = (float)r[0];
}
MST_REGISTER_KERNEL(emu_bad_ldmatrix_misaligned);

/* A plain MST_SHARED uint16_t array: 16-byte aligned in the emulator, only 2-byte aligned on the device. */
MST_KERNEL void emu_bad_ldmatrix_array_alignment(const uint8_t *src, float *out)
{
    MST_SHARED(uint16_t, s, 32 * 8);
    const uint32_t t = threadIdx.x;
    fill_row(s, src, t);
    mst_syncwarp();
    uint32_t r[4];
    mst_ldmatrix_x4(r, &s[8 * t]);
    out[t] = (float)r[0];
}
MST_REGISTER_KERNEL(emu_bad_ldmatrix_array_alignment);

/* The two halves of the warp reach two different ldmatrix instructions. */
MST_KERNEL void emu_bad_ldmatrix_divergent(const uint8_t *src, float *out)
{
    MST_SHARED_ALIGNED(uint16_t, s, 32 * 8, 16);
    const uint32_t t = threadIdx.x;
    fill_row(s, src, t);
    mst_syncwarp();
    uint32_t r[4];
    if (t < 16)
        mst_ldmatrix_x4(r, &s[8 * t]);
    else
        mst_ldmatrix_x4(r, &s[8 * (31 - t)]);
    out[t] = (float)r[0];
}
MST_REGISTER_KERNEL(emu_bad_ldmatrix_divergent);

/* Lanes 16.. return before the warp's ldmatrix. */
MST_KERNEL void emu_bad_ldmatrix_exited(const uint8_t *src, float *out)
{
    MST_SHARED_ALIGNED(uint16_t, s, 32 * 8, 16);
    const uint32_t t = threadIdx.x;
    out[t] = 0.0f;
    if (t >= 16)
        return;
    s[8 * t] = (uint16_t)src[t];
    uint32_t r[2];
    mst_ldmatrix_x2(r, &s[8 * t]);
    out[t] = (float)r[0];
}
MST_REGISTER_KERNEL(emu_bad_ldmatrix_exited);

/* Each lane writes its row and the warp loads them with ldmatrix without mst_syncwarp: lane 0's register
 * holds elements 0 and 1 of row 0, which lane 0 wrote, but lane 1's holds elements 2 and 3 of it — a race the
 * check must see in ldmatrix's reads. */
MST_KERNEL void emu_bad_ldmatrix_race(const uint8_t *src, float *out)
{
    MST_SHARED_ALIGNED(uint16_t, s, 32 * 8, 16);
    const uint32_t t = threadIdx.x;
    fill_row(s, src, t);
    /* mst_syncwarp() missing here */
    uint32_t r[1];
    mst_ldmatrix_x1(r, &s[8 * t]);
    out[t] = (float)r[0];
}
MST_REGISTER_KERNEL(emu_bad_ldmatrix_race);

/* A row address that is not shared memory at all (the global source). */
MST_KERNEL void emu_bad_ldmatrix_global(const uint8_t *src, float *out)
{
    const uint32_t t = threadIdx.x;
    uint32_t r[1];
    mst_ldmatrix_x1(r, src + 16 * (t % 8));
    out[t] = (float)r[0];
}
MST_REGISTER_KERNEL(emu_bad_ldmatrix_global);

/* Each thread reads the next thread's slot, then fills its own by cp.async with no barrier between: thread 1's
 * copy may land before thread 0 has read (the check at issue). */
MST_KERNEL void emu_bad_cp_async_overwrites_reads(const uint8_t *src, float *out)
{
    MST_SHARED_ALIGNED(float, s, 32 * 4, 16);
    const uint32_t t = threadIdx.x;
    out[t] = s[4 * ((t + 1) % 32)];
    /* mst_syncthreads() missing here */
    mst_cp_async_16(&s[4 * t], src + 16 * t, 16);
    mst_cp_async_wait_all();
}
MST_REGISTER_KERNEL(emu_bad_cp_async_overwrites_reads);

/* Waits with wait_group 0 but never commits: the copy is in no group, so it is still pending at the read. */
MST_KERNEL void emu_bad_cp_async_uncommitted(const uint8_t *src, float *out)
{
    MST_SHARED_ALIGNED(float, s, 32 * 4, 16);
    const uint32_t t = threadIdx.x;
    mst_cp_async_16(&s[4 * t], src + 16 * t, 16);
    mst_cp_async_wait_group(0);
    out[t] = s[4 * t];
    mst_cp_async_wait_all();
}
MST_REGISTER_KERNEL(emu_bad_cp_async_uncommitted);
