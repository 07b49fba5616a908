/* cuda_compat.h — the kernel-side API every .cu includes first. One kernel source, three compilers:
 *
 *   device pass   clang++ -x cuda --cuda-device-only -nocudainc -nocudalib (__clang__ && __CUDA__ &&
 *                 __CUDA_ARCH__): no CUDA headers, so everything maps onto clang's __nvvm_* builtins, the
 *                 builtin threadIdx/blockIdx variables and inline PTX.
 *   nvcc          (__CUDACC__ without clang): <cuda_runtime.h>/<cuda_fp16.h> and the CUDA names.
 *   host pass     g++ -x c++ (MST_HOST_CODE = 1): the kernel bodies run on the SIMT emulator (emu/emu.h);
 *                 every name here maps onto the emulator's runtime, and MST_REGISTER_KERNEL generates the
 *                 emulator's entry from the kernel's signature.
 *
 * Shared memory is declared with MST_SHARED / MST_SHARED_DYN and touched only as name[index]: in the host
 * pass name is an accessor that checks the index and records every access for the race check. &name[index]
 * is for ldmatrix and cp.async only (mst_ldmatrix_*, mst_cp_async_*), which check and record it themselves. */
#ifndef MST_CUDA_COMPAT_H
#define MST_CUDA_COMPAT_H

#define MST_WARP 32

#if defined(__clang__) && defined(__CUDA__) && defined(__CUDA_ARCH__)
#define MST_DEVICE_PASS_CLANG 1
#elif defined(__CUDACC__) && !defined(__clang__)
#define MST_DEVICE_PASS_NVCC 1
#endif

/* ======================================================================================================
 * Device passes (clang, nvcc): the code that becomes PTX.
 * ====================================================================================================== */
#if defined(MST_DEVICE_PASS_CLANG) || defined(MST_DEVICE_PASS_NVCC)

#define MST_HOST_CODE 0

#if defined(MST_DEVICE_PASS_CLANG)
/* -nocudainc: no CUDA headers, so the attribute spellings and fixed-width types come from here. */
#include <__clang_cuda_builtin_vars.h>
#define __global__ __attribute__((global))
#define __device__ __attribute__((device))
#define __shared__ __attribute__((shared))
#define __forceinline__ __inline__ __attribute__((always_inline))
#include <stddef.h>
#include <stdint.h>
#else
#include <cuda_runtime.h>
#include <cuda_fp16.h>
#include <stdint.h>
#endif

#define MST_KERNEL extern "C" __global__
#define MST_REGISTER_KERNEL(name) /* the driver finds kernels by their PTX name */
#define MST_DEVICE static __device__ __forceinline__

/* Dynamic shared memory: one extern array per translation unit, viewed with each kernel's type. */
extern __shared__ __attribute__((aligned(16))) unsigned char mst_dyn_smem_[];
#define MST_SHARED(type, name, count) __shared__ type name[(count)]
#define MST_SHARED_DYN(type, name) type *name = reinterpret_cast<type *>(mst_dyn_smem_)
/* A static shared array whose start is aligned to `align` bytes (16 for ldmatrix rows and cp.async 16-byte
 * destinations: a plain MST_SHARED array is only as aligned as its element type on the device). */
#define MST_SHARED_ALIGNED(type, name, count, align) __shared__ __attribute__((aligned(align))) type name[(count)]

#define MST_FULL_MASK 0xffffffffu

#if defined(MST_DEVICE_PASS_CLANG)
#define mst_syncthreads() __syncthreads()
#define mst_syncwarp() __nvvm_bar_warp_sync(MST_FULL_MASK)
MST_DEVICE float mst_shfl_xor_f32(float v, int m) { return __nvvm_shfl_sync_bfly_f32(MST_FULL_MASK, v, m, 0x1f); }
MST_DEVICE float mst_shfl_down_f32(float v, unsigned d) { return __nvvm_shfl_sync_down_f32(MST_FULL_MASK, v, d, 0x1f); }
MST_DEVICE float mst_shfl_idx_f32(float v, int s) { return __nvvm_shfl_sync_idx_f32(MST_FULL_MASK, v, s, 0x1f); }
MST_DEVICE int32_t mst_shfl_xor_i32(int32_t v, int m) { return __nvvm_shfl_sync_bfly_i32(MST_FULL_MASK, v, m, 0x1f); }
MST_DEVICE int32_t mst_shfl_down_i32(int32_t v, unsigned d)
{
    return __nvvm_shfl_sync_down_i32(MST_FULL_MASK, v, d, 0x1f);
}
MST_DEVICE int32_t mst_shfl_idx_i32(int32_t v, int s) { return __nvvm_shfl_sync_idx_i32(MST_FULL_MASK, v, s, 0x1f); }
MST_DEVICE uint32_t mst_ballot(int pred) { return __nvvm_vote_ballot_sync(MST_FULL_MASK, pred != 0); }
MST_DEVICE float mst_atomic_add_f32(float *p, float v) { return __nvvm_atom_add_gen_f(p, v); }
MST_DEVICE int32_t mst_atomic_add_i32(int32_t *p, int32_t v) { return __nvvm_atom_add_gen_i(p, v); }
MST_DEVICE int32_t mst_atomic_max_i32(int32_t *p, int32_t v) { return __nvvm_atom_max_gen_i(p, v); }
MST_DEVICE float mst_exp2f(float x) { return __nvvm_ex2_approx_ftz_f(x); }
MST_DEVICE float mst_rsqrtf(float x) { return __nvvm_rsqrt_approx_f(x); }
MST_DEVICE float mst_sqrtf(float x) { return __nvvm_sqrt_rn_f(x); }
MST_DEVICE float mst_fmaxf(float a, float b) { return __nvvm_fmax_f(a, b); }
MST_DEVICE float mst_fminf(float a, float b) { return __nvvm_fmin_f(a, b); }
MST_DEVICE float mst_fabsf(float x) { return __builtin_fabsf(x); }
MST_DEVICE float mst_fmaf(float a, float b, float c) { return __nvvm_fma_rn_f(a, b, c); }
MST_DEVICE float mst_floorf(float x) { return __nvvm_floor_f(x); }
MST_DEVICE float mst_divf(float a, float b) { return __nvvm_div_rn_f(a, b); }
MST_DEVICE int32_t mst_dp4a(int32_t a, int32_t b, int32_t c)
{
    int32_t d;
    asm("dp4a.s32.s32 %0, %1, %2, %3;" : "=r"(d) : "r"(a), "r"(b), "r"(c));
    return d;
}
MST_DEVICE float mst_h2f(uint16_t h)
{
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
    return f;
}
MST_DEVICE uint16_t mst_f2h(float f)
{
    uint16_t h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
    return h;
}
#else /* nvcc */
#define mst_syncthreads() __syncthreads()
#define mst_syncwarp() __syncwarp(MST_FULL_MASK)
MST_DEVICE float mst_shfl_xor_f32(float v, int m) { return __shfl_xor_sync(MST_FULL_MASK, v, m); }
MST_DEVICE float mst_shfl_down_f32(float v, unsigned d) { return __shfl_down_sync(MST_FULL_MASK, v, d); }
MST_DEVICE float mst_shfl_idx_f32(float v, int s) { return __shfl_sync(MST_FULL_MASK, v, s); }
MST_DEVICE int32_t mst_shfl_xor_i32(int32_t v, int m) { return __shfl_xor_sync(MST_FULL_MASK, v, m); }
MST_DEVICE int32_t mst_shfl_down_i32(int32_t v, unsigned d) { return __shfl_down_sync(MST_FULL_MASK, v, d); }
MST_DEVICE int32_t mst_shfl_idx_i32(int32_t v, int s) { return __shfl_sync(MST_FULL_MASK, v, s); }
MST_DEVICE uint32_t mst_ballot(int pred) { return __ballot_sync(MST_FULL_MASK, pred); }
MST_DEVICE float mst_atomic_add_f32(float *p, float v) { return atomicAdd(p, v); }
MST_DEVICE int32_t mst_atomic_add_i32(int32_t *p, int32_t v) { return atomicAdd((int *)p, (int)v); }
MST_DEVICE int32_t mst_atomic_max_i32(int32_t *p, int32_t v) { return atomicMax((int *)p, (int)v); }
MST_DEVICE float mst_exp2f(float x)
{
    float y; /* the same instruction as the clang pass, not nvcc's accurate exp2f */
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
}
MST_DEVICE float mst_rsqrtf(float x) { return rsqrtf(x); }
MST_DEVICE float mst_sqrtf(float x) { return __fsqrt_rn(x); }
MST_DEVICE float mst_fmaxf(float a, float b) { return fmaxf(a, b); }
MST_DEVICE float mst_fminf(float a, float b) { return fminf(a, b); }
MST_DEVICE float mst_fabsf(float x) { return fabsf(x); }
MST_DEVICE float mst_fmaf(float a, float b, float c) { return __fmaf_rn(a, b, c); }
MST_DEVICE float mst_floorf(float x) { return floorf(x); }
MST_DEVICE float mst_divf(float a, float b) { return __fdiv_rn(a, b); }
MST_DEVICE int32_t mst_dp4a(int32_t a, int32_t b, int32_t c) { return __dp4a(a, b, c); }
MST_DEVICE float mst_h2f(uint16_t h) { return __half2float(__ushort_as_half(h)); }
MST_DEVICE uint16_t mst_f2h(float f) { return __half_as_ushort(__float2half_rn(f)); }
#endif

MST_DEVICE float mst_expf(float x) { return mst_exp2f(x * 1.4426950408889634f); }
#if defined(MST_DEVICE_PASS_CLANG)
MST_DEVICE float mst_bf2f(uint16_t b) { return __builtin_bit_cast(float, (uint32_t)b << 16); }
#else
MST_DEVICE float mst_bf2f(uint16_t b) { return __uint_as_float((uint32_t)b << 16); }
#endif

/* Warp-collective tensor-core products (every lane of the warp takes part), PTX ISA fragment layouts with
 * g = lane >> 2, t = lane % 4:
 *   f16: A 16x16 row-major, a[0] = A[g][2t..2t+1], a[1] = A[g+8][2t..], a[2] = A[g][2t+8..], a[3] = A[g+8][2t+8..]
 *        (low half = lower column); B 16x8, b[0] = B[2t..2t+1][g], b[1] = B[2t+8..2t+9][g];
 *   s8:  A 16x32, a[0] = A[g][4t..4t+3], a[1] = A[g+8][4t..], a[2] = A[g][4t+16..], a[3] = A[g+8][4t+16..];
 *        B 32x8, b[0] = B[4t..4t+3][g], b[1] = B[4t+16..4t+19][g] (lowest byte = lowest index);
 *   C, D 16x8: c[0] = C[g][2t], c[1] = C[g][2t+1], c[2] = C[g+8][2t], c[3] = C[g+8][2t+1].
 * bf16 has the f16 layout with bf16 elements (mma.m16n8k16 .bf16, sm_80): the two share one asm, the A/B type
 * pasted into its string (adjacent string literals concatenate, under clang and nvcc alike). */
#define MST_MMA_M16N8K16_F32(ab, d, a, b, c)                                                                   \
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32." ab "." ab ".f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "       \
                 "{%8,%9}, {%10,%11,%12,%13};"                                                                  \
                 : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])                                              \
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]), "f"(c[1]),    \
                   "f"(c[2]), "f"(c[3]))
MST_DEVICE void mst_mma_m16n8k16_f16_f32(float d[4], const uint32_t a[4], const uint32_t b[2], const float c[4])
{
    MST_MMA_M16N8K16_F32("f16", d, a, b, c);
}
MST_DEVICE void mst_mma_m16n8k16_bf16_f32(float d[4], const uint32_t a[4], const uint32_t b[2], const float c[4])
{
    MST_MMA_M16N8K16_F32("bf16", d, a, b, c);
}
MST_DEVICE void mst_mma_m16n8k32_s8_s32(int32_t d[4], const uint32_t a[4], const uint32_t b[2], const int32_t c[4])
{
    asm volatile("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                 "{%10,%11,%12,%13};"
                 : "=r"(d[0]), "=r"(d[1]), "=r"(d[2]), "=r"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "r"(c[0]), "r"(c[1]),
                   "r"(c[2]), "r"(c[3]));
}

/* Shared-memory operands of ldmatrix/cp.async: pointers of the kernel's address space, as &array[i] of an
 * MST_SHARED / MST_SHARED_ALIGNED / MST_SHARED_DYN array gives (in the host pass that is a checked handle,
 * convertible to void * only, for these calls). The instructions take .shared (32-bit) and .global addresses,
 * not generic ones: cvta converts (clang: an address-space cast, which emits cvta.to.shared / cvta.to.global,
 * or folds away for a __shared__ variable). */
#if defined(MST_DEVICE_PASS_CLANG)
MST_DEVICE uint32_t mst_smem_addr(const void *p)
{
    return (uint32_t)(uintptr_t)(const __attribute__((address_space(3))) void *)p;
}
MST_DEVICE uint64_t mst_gmem_addr(const void *p)
{
    return (uint64_t)(uintptr_t)(const __attribute__((address_space(1))) void *)p;
}
#else
MST_DEVICE uint32_t mst_smem_addr(const void *p) { return (uint32_t)__cvta_generic_to_shared(p); }
MST_DEVICE uint64_t mst_gmem_addr(const void *p) { return (uint64_t)__cvta_generic_to_global(p); }
#endif

/* ldmatrix.sync.aligned.m8n8.{x1,x2,x4}[.trans].shared.b16 (PTX ISA, "Warp-level matrix load instruction"):
 * warp-collective, every lane of the warp executes the same call (never in divergent code). Loads 1, 2 or 4
 * 8x8 matrices of b16 elements; lane 8i + j passes the address of row j of matrix i (16 bytes, 16-byte
 * aligned, shared memory; lanes 8 * num and up pass anything: ignored). Lane l receives in r[i] row l/4,
 * elements 2(l%4) and 2(l%4)+1 of matrix i (lower column in the low half) — exactly an mma A/B fragment
 * register (g = l/4, t = l%4); _trans delivers the transposed matrix: elements (2(l%4), l/4) and
 * (2(l%4)+1, l/4). An 8x8 int8 view works too: one b16 is two adjacent int8 (m16n8k32 fragments).
 * The five forms share one asm: MST_LDMATRIX(shape, operands, row, outputs...) pastes the shape ("x2.trans")
 * and the operand list (the output registers, then the row address) into the instruction; the "=r" outputs,
 * one per matrix, follow. */
#define MST_LDMATRIX(shape, operands, smem_row, ...)                                                          \
    asm volatile("ldmatrix.sync.aligned.m8n8." shape ".shared.b16 " operands ";"                              \
                 : __VA_ARGS__                                                                                 \
                 : "r"(mst_smem_addr(smem_row))                                                                \
                 : "memory")
MST_DEVICE void mst_ldmatrix_x1(uint32_t r[1], const void *smem_row)
{
    MST_LDMATRIX("x1", "{%0}, [%1]", smem_row, "=r"(r[0]));
}
MST_DEVICE void mst_ldmatrix_x2(uint32_t r[2], const void *smem_row)
{
    MST_LDMATRIX("x2", "{%0,%1}, [%2]", smem_row, "=r"(r[0]), "=r"(r[1]));
}
MST_DEVICE void mst_ldmatrix_x4(uint32_t r[4], const void *smem_row)
{
    MST_LDMATRIX("x4", "{%0,%1,%2,%3}, [%4]", smem_row, "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]));
}
MST_DEVICE void mst_ldmatrix_x2_trans(uint32_t r[2], const void *smem_row)
{
    MST_LDMATRIX("x2.trans", "{%0,%1}, [%2]", smem_row, "=r"(r[0]), "=r"(r[1]));
}
MST_DEVICE void mst_ldmatrix_x4_trans(uint32_t r[4], const void *smem_row)
{
    MST_LDMATRIX("x4.trans", "{%0,%1,%2,%3}, [%4]", smem_row, "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]));
}

/* cp.async (PTX ISA, sm_80): this thread starts a copy from global to shared memory that completes only at
 * its own wait. mst_cp_async_16: cp.async.cg.shared.global [dst], [src], 16, src_bytes — src_bytes (0..16)
 * bytes from src, zeros for the rest of the 16; dst and src 16-byte aligned (.cg: bypasses L1, the only
 * cache option for 16 bytes). mst_cp_async_4: cp.async.ca ... 4, src_bytes (0..4), both 4-byte aligned.
 * With src_bytes 0 nothing is read (src must still be an aligned address).
 * mst_cp_async_commit: cp.async.commit_group — this thread's copies since the last commit become one group.
 * mst_cp_async_wait_group(N), N an integer literal: cp.async.wait_group N — waits until at most the N most
 * recent groups are pending; the completed copies are visible to this thread only: other threads read them
 * after a barrier (mst_syncthreads) that follows the wait. mst_cp_async_wait_all: cp.async.wait_all —
 * commit, then wait for every copy. Touching a destination before its wait is a race; a thread must wait for
 * its copies before it exits (the emulator fails the launch on either). The two widths share one asm,
 * MST_CP_ASYNC(cache, size, ...), with the cache qualifier and the copy size pasted into the instruction. */
#define MST_CP_ASYNC(cache, size, smem_dst, gmem_src, src_bytes)                                              \
    asm volatile("cp.async." cache ".shared.global [%0], [%1], " size ", %2;"                                 \
                 :                                                                                             \
                 : "r"(mst_smem_addr(smem_dst)), "l"(mst_gmem_addr(gmem_src)), "r"(src_bytes)                  \
                 : "memory")
MST_DEVICE void mst_cp_async_16(void *smem_dst, const void *gmem_src, uint32_t src_bytes)
{
    MST_CP_ASYNC("cg", "16", smem_dst, gmem_src, src_bytes);
}
MST_DEVICE void mst_cp_async_4(void *smem_dst, const void *gmem_src, uint32_t src_bytes)
{
    MST_CP_ASYNC("ca", "4", smem_dst, gmem_src, src_bytes);
}
MST_DEVICE void mst_cp_async_commit(void) { asm volatile("cp.async.commit_group;" ::: "memory"); }
#define mst_cp_async_wait_group(N) asm volatile("cp.async.wait_group %0;" ::"n"(N) : "memory")
MST_DEVICE void mst_cp_async_wait_all(void) { asm volatile("cp.async.wait_all;" ::: "memory"); }

/* ======================================================================================================
 * Host pass: the same bodies as ordinary C++ functions, run per emulated thread by emu/.
 * ====================================================================================================== */
#else

#define MST_HOST_CODE 1

#include <stdint.h>
#include <string.h>
#include <math.h>

#include "device.h"
#include "emu/emu.h"

#define MST_KERNEL extern "C"
#define MST_DEVICE static inline

#define threadIdx mst_emu_threadIdx
#define blockIdx mst_emu_blockIdx
#define blockDim mst_emu_blockDim
#define gridDim mst_emu_gridDim

/* The emulator entry of a kernel: args[i] points at argument i's value (a cuLaunchKernel array); each value
 * is copied into the parameter's type and the kernel runs for the current emulated thread. */
namespace mst_emu_detail {
template <unsigned... I> struct seq {};
template <unsigned N, unsigned... I> struct make_seq : make_seq<N - 1, N - 1, I...> {};
template <unsigned... I> struct make_seq<0, I...> { typedef seq<I...> type; };
template <typename T> static inline T arg(void *p)
{
    T v;
    memcpy(&v, p, sizeof v);
    return v;
}
template <typename F, F *fn> struct trampoline;
template <typename... A, void (*fn)(A...)> struct trampoline<void(A...), fn> {
    template <unsigned... I> static void call(void **args, seq<I...>) { fn(arg<A>(args[I])...); }
    static void entry(void **args) { call(args, typename make_seq<sizeof...(A)>::type()); }
    static constexpr uint16_t sizes[sizeof...(A) + 1] = {(uint16_t)sizeof(A)..., 0}; /* for graph capture */
};
} // namespace mst_emu_detail

#define MST_REGISTER_KERNEL(name)                                                                             \
    extern "C" const mst_kernel_ref mst_kernel_##name = {                                                   \
        #name, &mst_emu_detail::trampoline<decltype(name), &name>::entry,                                    \
        (uint32_t)(sizeof(mst_emu_detail::trampoline<decltype(name), &name>::sizes) / sizeof(uint16_t) - 1),  \
        mst_emu_detail::trampoline<decltype(name), &name>::sizes}

/* &name[i] in the host pass: the element's address for ldmatrix / cp.async (mst_ldmatrix_*, mst_cp_async_*),
 * which check it against the block's shared memory themselves. It converts to void * only, so that nothing
 * reads or writes through it past the race check. */
template <typename T> struct mst_emu_sptr {
    T *p;
    operator void *() const { return (void *)p; }
};

/* Shared memory: `name` is an accessor; name[i] a reference that records the access. */
template <typename T> struct mst_emu_sref {
    T *p;
    void *shadow;
    const mst_emu_site *site;
    uint64_t index;
    mst_emu_sref(T *p_, void *shadow_, const mst_emu_site *site_, uint64_t index_)
        : p(p_), shadow(shadow_), site(site_), index(index_)
    {
    }
    mst_emu_sref(const mst_emu_sref &) = default;
    void note(int write) const { mst_emu_shared_access(shadow, site, index, (uint32_t)sizeof(T), write); }
    mst_emu_sptr<T> operator&() const { return mst_emu_sptr<T>{p}; }
    operator T() const
    {
        note(0);
        return *p;
    }
    const mst_emu_sref &operator=(T v) const
    {
        note(1);
        *p = v;
        return *this;
    }
    const mst_emu_sref &operator=(const mst_emu_sref &o) const { return *this = (T)o; }
    const mst_emu_sref &operator+=(T v) const { return *this = (T)((T) * this + v); }
    const mst_emu_sref &operator-=(T v) const { return *this = (T)((T) * this - v); }
    const mst_emu_sref &operator*=(T v) const { return *this = (T)((T) * this * v); }
    const mst_emu_sref &operator/=(T v) const { return *this = (T)((T) * this / v); }
    const mst_emu_sref &operator|=(T v) const { return *this = (T)((T) * this | v); }
    const mst_emu_sref &operator&=(T v) const { return *this = (T)((T) * this & v); }
    const mst_emu_sref &operator^=(T v) const { return *this = (T)((T) * this ^ v); }
    const mst_emu_sref &operator<<=(int s) const { return *this = (T)((T) * this << s); }
    const mst_emu_sref &operator>>=(int s) const { return *this = (T)((T) * this >> s); }
    const mst_emu_sref &operator++() const { return *this = (T)((T) * this + 1); }
    const mst_emu_sref &operator--() const { return *this = (T)((T) * this - 1); }
    T operator++(int) const
    {
        T old = *this;
        *this = (T)(old + 1);
        return old;
    }
    T operator--(int) const
    {
        T old = *this;
        *this = (T)(old - 1);
        return old;
    }
};

template <typename T> struct mst_emu_shared {
    mst_emu_shared_mem m;
    const mst_emu_site *site;
    uint64_t count;
    template <typename I> mst_emu_sref<T> operator[](I i) const
    {
        /* any integer type; a negative index becomes huge and fails the same check */
        uint64_t u = (uint64_t)(int64_t)i;
        if (u >= count)
            mst_emu_shared_oob(site, (int64_t)i, count);
        return mst_emu_sref<T>((T *)m.data + u, m.shadow, site, u);
    }
};

#define MST_SHARED(type, name, count)                                                                         \
    static const mst_emu_site mst_emu_site_##name = {#name, __FILE__, __LINE__};                              \
    const mst_emu_shared<type> name = {                                                                       \
        mst_emu_shared_static(&mst_emu_site_##name, (uint64_t)sizeof(type) * (uint64_t)(count), alignof(type)), \
        &mst_emu_site_##name, (uint64_t)(count)}
#define MST_SHARED_DYN(type, name)                                                                            \
    static const mst_emu_site mst_emu_site_##name = {#name, __FILE__, __LINE__};                              \
    const mst_emu_shared<type> name = {mst_emu_shared_dynamic(), &mst_emu_site_##name,                      \
                                       mst_emu_shared_dynamic().bytes / sizeof(type)}
#define MST_SHARED_ALIGNED(type, name, count, align)                                                          \
    static const mst_emu_site mst_emu_site_##name = {#name, __FILE__, __LINE__};                              \
    const mst_emu_shared<type> name = {                                                                       \
        mst_emu_shared_static(&mst_emu_site_##name, (uint64_t)sizeof(type) * (uint64_t)(count), (align)),     \
        &mst_emu_site_##name, (uint64_t)(count)}

/* Barriers and warp collectives: the call site identifies the barrier. */
#define mst_syncthreads() mst_emu_syncthreads(__FILE__, __LINE__)
#define mst_syncwarp() mst_emu_syncwarp(__FILE__, __LINE__)
#define MST_EMU_SHFL(kind, v, p) mst_emu_warp_u32((kind), __FILE__, __LINE__, (v), (uint32_t)(p))
static inline uint32_t mst_emu_f2u(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}
static inline float mst_emu_u2f(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}
#define mst_shfl_xor_f32(v, m) mst_emu_u2f(MST_EMU_SHFL(MST_EMU_OP_SHFL_XOR, mst_emu_f2u(v), (m)))
#define mst_shfl_down_f32(v, d) mst_emu_u2f(MST_EMU_SHFL(MST_EMU_OP_SHFL_DOWN, mst_emu_f2u(v), (d)))
#define mst_shfl_idx_f32(v, s) mst_emu_u2f(MST_EMU_SHFL(MST_EMU_OP_SHFL_IDX, mst_emu_f2u(v), (s)))
#define mst_shfl_xor_i32(v, m) ((int32_t)MST_EMU_SHFL(MST_EMU_OP_SHFL_XOR, (uint32_t)(int32_t)(v), (m)))
#define mst_shfl_down_i32(v, d) ((int32_t)MST_EMU_SHFL(MST_EMU_OP_SHFL_DOWN, (uint32_t)(int32_t)(v), (d)))
#define mst_shfl_idx_i32(v, s) ((int32_t)MST_EMU_SHFL(MST_EMU_OP_SHFL_IDX, (uint32_t)(int32_t)(v), (s)))
#define mst_ballot(pred) MST_EMU_SHFL(MST_EMU_OP_BALLOT, (uint32_t)((pred) != 0), 0)
#define mst_mma_m16n8k16_f16_f32(d, a, b, c) mst_emu_mma_f16_f32(__FILE__, __LINE__, (d), (a), (b), (c))
#define mst_mma_m16n8k32_s8_s32(d, a, b, c) mst_emu_mma_s8_s32(__FILE__, __LINE__, (d), (a), (b), (c))
#define mst_mma_m16n8k16_bf16_f32(d, a, b, c) mst_emu_mma_bf16_f32(__FILE__, __LINE__, (d), (a), (b), (c))
/* ldmatrix and cp.async (semantics: the device pass above; emulation: emu/ldmatrix.cpp, emu/async.cpp) */
#define mst_ldmatrix_x1(r, row) mst_emu_ldmatrix(__FILE__, __LINE__, 1, 0, (r), (row))
#define mst_ldmatrix_x2(r, row) mst_emu_ldmatrix(__FILE__, __LINE__, 2, 0, (r), (row))
#define mst_ldmatrix_x4(r, row) mst_emu_ldmatrix(__FILE__, __LINE__, 4, 0, (r), (row))
#define mst_ldmatrix_x2_trans(r, row) mst_emu_ldmatrix(__FILE__, __LINE__, 2, 1, (r), (row))
#define mst_ldmatrix_x4_trans(r, row) mst_emu_ldmatrix(__FILE__, __LINE__, 4, 1, (r), (row))
#define mst_cp_async_16(dst, src, n) mst_emu_cp_async(__FILE__, __LINE__, (dst), (src), 16u, (uint32_t)(n))
#define mst_cp_async_4(dst, src, n) mst_emu_cp_async(__FILE__, __LINE__, (dst), (src), 4u, (uint32_t)(n))
#define mst_cp_async_commit() mst_emu_cp_async_commit(__FILE__, __LINE__)
template <unsigned N> struct mst_emu_literal {
    static const unsigned value = N;
};
/* N must be a constant here too, as the device pass's "n" operand requires */
#define mst_cp_async_wait_group(N) mst_emu_cp_async_wait(__FILE__, __LINE__, mst_emu_literal<(N)>::value)
#define mst_cp_async_wait_all() mst_emu_cp_async_wait_all(__FILE__, __LINE__)

/* Atomics: the emulator runs one thread at a time, so a plain read-modify-write is atomic. */
static inline float mst_atomic_add_f32(float *p, float v)
{
    float old = *p;
    *p = old + v;
    return old;
}
static inline int32_t mst_atomic_add_i32(int32_t *p, int32_t v)
{
    int32_t old = *p;
    *p = (int32_t)((uint32_t)old + (uint32_t)v); /* wraps as the hardware does */
    return old;
}
static inline int32_t mst_atomic_max_i32(int32_t *p, int32_t v)
{
    int32_t old = *p;
    if (v > old)
        *p = v;
    return old;
}

/* Math: the device's approximate instructions are within a few ulp of these (see the preamble). */
static inline float mst_exp2f(float x) { return exp2f(x); }
static inline float mst_expf(float x) { return mst_exp2f(x * 1.4426950408889634f); }
static inline float mst_rsqrtf(float x) { return 1.0f / sqrtf(x); }
static inline float mst_sqrtf(float x) { return sqrtf(x); }
static inline float mst_fmaxf(float a, float b) { return fmaxf(a, b); }
static inline float mst_fminf(float a, float b) { return fminf(a, b); }
static inline float mst_fabsf(float x) { return fabsf(x); }
static inline float mst_fmaf(float a, float b, float c) { return fmaf(a, b, c); }
static inline float mst_floorf(float x) { return floorf(x); }
static inline float mst_divf(float a, float b) { return a / b; }

static inline int32_t mst_dp4a(int32_t a, int32_t b, int32_t c)
{
    uint32_t s = (uint32_t)c;
    for (int i = 0; i < 4; i++)
        s += (uint32_t)((int32_t)(int8_t)(uint8_t)((uint32_t)a >> (8 * i)) *
                        (int32_t)(int8_t)(uint8_t)((uint32_t)b >> (8 * i)));
    return (int32_t)s; /* wraps like the instruction */
}
static inline float mst_bf2f(uint16_t b) { return mst_emu_u2f((uint32_t)b << 16); }
static inline float mst_h2f(uint16_t h) { return mst_emu_h2f(h); }
static inline uint16_t mst_f2h(float f) { return mst_emu_f2h(f); }

#endif /* host pass */

/* ---- every pass ---- */
MST_DEVICE uint16_t mst_load_u16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
MST_DEVICE uint32_t mst_load_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

#endif
