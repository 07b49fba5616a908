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

/* ---- ldmatrix and cp.async (test_emu_async.cpp) ---- */

/* Shared row of matrix row r (0..31: matrix r/8, row r%8) in emu_ldmatrix_forms: a permutation with a padded
 * stride, so that rows are neither contiguous nor in order (ldmatrix takes any 16-aligned row address). */
#define EMU_LDM_STRIDE 24 /* halves: 48 bytes, a multiple of 16 */
MST_DEVICE uint32_t ldm_row(uint32_t r)
{
    return (r * 5u + 3u) % 32u;
}

/* One warp. M holds 4 matrices of 8x8 b16 (M[i*64 + j*8 + c]); lane L stores row L (matrix L/8, row L%8)
 * into its shared row. out[f * 128 + lane * 4 + i] = register i of each form f: x1, x2, x4, x2_trans,
 * x4_trans, each with lane l giving row l's address, and x2 with lane l giving row (l + 16) % 32's
 * (matrices 2 and 3). Lanes above 8 * num give valid addresses of other rows, which must be ignored. */
MST_KERNEL void emu_ldmatrix_forms(const uint16_t *M, uint32_t *out)
{
    MST_SHARED_ALIGNED(uint16_t, rows, 32 * EMU_LDM_STRIDE, 16);
    const uint32_t lane = threadIdx.x;
    for (uint32_t c = 0; c < 8; c++)
        rows[ldm_row(lane) * EMU_LDM_STRIDE + c] = M[lane * 8 + c];
    mst_syncwarp(); /* ldmatrix hands lane L's row to other lanes */
    uint32_t r[6][4];
    for (uint32_t f = 0; f < 6; f++)
        for (uint32_t i = 0; i < 4; i++)
            r[f][i] = 0;
    mst_ldmatrix_x1(r[0], &rows[ldm_row(lane) * EMU_LDM_STRIDE]);
    mst_ldmatrix_x2(r[1], &rows[ldm_row(lane) * EMU_LDM_STRIDE]);
    mst_ldmatrix_x4(r[2], &rows[ldm_row(lane) * EMU_LDM_STRIDE]);
    mst_ldmatrix_x2_trans(r[3], &rows[ldm_row(lane) * EMU_LDM_STRIDE]);
    mst_ldmatrix_x4_trans(r[4], &rows[ldm_row(lane) * EMU_LDM_STRIDE]);
    mst_ldmatrix_x2(r[5], &rows[ldm_row((lane + 16) % 32) * EMU_LDM_STRIDE]);
    for (uint32_t f = 0; f < 6; f++)
        for (uint32_t i = 0; i < 4; i++)
            out[f * 128 + lane * 4 + i] = r[f][i];
}
MST_REGISTER_KERNEL(emu_ldmatrix_forms);

/* One warp: D = A B with fragments loaded by ldmatrix. A 16x16 f16 row-major; B given twice, K-major
 * (Bk[k * 8 + n], loaded with .trans) and N-major (Bn[n * 16 + k], loaded plainly), giving D1 and D2
 * (row-major 16x8). A's four 8x8 quarters are the x4 matrices in the order of the mma's a[0..3]:
 * rows 0-7 / 8-15 of columns 0-7, then of columns 8-15. */
MST_KERNEL void emu_ldmatrix_mma_f16(const uint16_t *A, const uint16_t *Bk, const uint16_t *Bn, float *D1, float *D2)
{
    MST_SHARED_ALIGNED(uint16_t, As, 16 * EMU_LDM_STRIDE, 16);
    MST_SHARED_ALIGNED(uint16_t, Bks, 16 * EMU_LDM_STRIDE, 16);
    MST_SHARED_ALIGNED(uint16_t, Bns, 8 * EMU_LDM_STRIDE, 16);
    const uint32_t lane = threadIdx.x, g = lane >> 2, t = lane & 3;
    for (uint32_t e = lane; e < 256; e += 32)
        As[(e / 16) * EMU_LDM_STRIDE + e % 16] = A[e];
    for (uint32_t e = lane; e < 128; e += 32) {
        Bks[(e / 8) * EMU_LDM_STRIDE + e % 8] = Bk[e];
        Bns[(e / 16) * EMU_LDM_STRIDE + e % 16] = Bn[e];
    }
    mst_syncwarp();
    const uint32_t i = lane / 8, j = lane % 8;
    uint32_t a[4], b1[2], b2[2];
    mst_ldmatrix_x4(a, &As[(j + 8 * (i & 1)) * EMU_LDM_STRIDE + 8 * (i >> 1)]);
    /* .trans of Bk rows k = 0..7 and 8..15: lane l gets Bk[2t][g], Bk[2t+1][g] (and +8): the mma's b */
    mst_ldmatrix_x2_trans(b1, &Bks[(lane % 16) * EMU_LDM_STRIDE]);
    /* Bn rows n, columns k 0-7 then 8-15: lane l gets Bn[g][2t], Bn[g][2t+1]: the same b */
    mst_ldmatrix_x2(b2, &Bns[j * EMU_LDM_STRIDE + 8 * (i & 1)]);
    const float c[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    float d[4];
    mst_mma_m16n8k16_f16_f32(d, a, b1, c);
    for (uint32_t r = 0; r < 4; r++)
        D1[cd_index(g, t, r)] = d[r];
    mst_mma_m16n8k16_f16_f32(d, a, b2, c);
    for (uint32_t r = 0; r < 4; r++)
        D2[cd_index(g, t, r)] = d[r];
}
MST_REGISTER_KERNEL(emu_ldmatrix_mma_f16);

/* One warp: D = A B for int8, fragments by ldmatrix of b16-viewed int8 rows. A 16x32 row-major, B N-major
 * (Bn[n * 32 + k]). A b16 element is two adjacent int8, so lane l's register of a plain ldmatrix holds bytes
 * 4t..4t+3 of row g: the m16n8k32 a/b fragment word. Rows padded to 48 bytes. */
MST_KERNEL void emu_ldmatrix_mma_s8(const int8_t *A, const int8_t *Bn, int32_t *D)
{
    MST_SHARED_ALIGNED(int8_t, As, 16 * 48, 16);
    MST_SHARED_ALIGNED(int8_t, Bs, 8 * 48, 16);
    const uint32_t lane = threadIdx.x, g = lane >> 2, t = lane & 3;
    for (uint32_t e = lane; e < 512; e += 32)
        As[(e / 32) * 48 + e % 32] = A[e];
    for (uint32_t e = lane; e < 256; e += 32)
        Bs[(e / 32) * 48 + e % 32] = Bn[e];
    mst_syncwarp();
    const uint32_t i = lane / 8, j = lane % 8;
    uint32_t a[4], b[2];
    mst_ldmatrix_x4(a, &As[(j + 8 * (i & 1)) * 48 + 16 * (i >> 1)]);
    mst_ldmatrix_x2(b, &Bs[j * 48 + 16 * (i & 1)]);
    const int32_t c[4] = {0, 0, 0, 0};
    int32_t d[4];
    mst_mma_m16n8k32_s8_s32(d, a, b, c);
    for (uint32_t r = 0; r < 4; r++)
        D[cd_index(g, t, r)] = d[r];
}
MST_REGISTER_KERNEL(emu_ldmatrix_mma_s8);

/* dst = src (n words) through shared memory with a two-stage cp.async pipeline: block b copies tiles b,
 * b + gridDim.x, ... of blockDim.x * 4 words, each thread 16 bytes of a tile (fewer at the array's end,
 * src_bytes < 16, the rest zero-filled; none past it). Tile k+1 is in flight while tile k is read, and each
 * thread reads words another thread's copy brought in (the tile reversed), so the barrier after the wait is
 * what makes them visible. */
MST_KERNEL void emu_cp_async_pipeline(const uint32_t *src, uint32_t *dst, uint32_t n)
{
    MST_SHARED_DYN(uint32_t, stage); /* 2 stages of blockDim.x * 4 words */
    const uint32_t t = threadIdx.x, tile_words = blockDim.x * 4;
    const uint32_t n_tiles = (n + tile_words - 1) / tile_words;
    /* issues this thread's part of tile k into stage s (nothing past the array: src_bytes 0, the source
     * then the array's start, which is aligned and never read) */
    uint32_t k = blockIdx.x;
    {
        const uint32_t w = k * tile_words + 4 * t;
        const uint32_t bytes = k < n_tiles && w < n ? (n - w >= 4 ? 16u : (n - w) * 4u) : 0u;
        mst_cp_async_16(&stage[4 * t], bytes ? src + w : src, bytes);
        mst_cp_async_commit();
    }
    for (uint32_t it = 0; k < n_tiles; it++, k += gridDim.x) {
        const uint32_t cur = it & 1, next = cur ^ 1, kn = k + gridDim.x;
        const uint32_t w = kn * tile_words + 4 * t;
        const uint32_t bytes = kn < n_tiles && w < n ? (n - w >= 4 ? 16u : (n - w) * 4u) : 0u;
        mst_cp_async_16(&stage[next * tile_words + 4 * t], bytes ? src + w : src, bytes);
        mst_cp_async_commit();
        mst_cp_async_wait_group(1); /* tile k is in; tile k + gridDim.x may still be in flight */
        mst_syncthreads();          /* and every thread's part of it is visible to all */
        for (uint32_t q = 0; q < 4; q++) {
            const uint32_t e = tile_words - 1 - (4 * t + q); /* another thread's word */
            const uint32_t gw = k * tile_words + e;
            if (gw < n)
                dst[gw] = stage[cur * tile_words + e];
        }
        mst_syncthreads(); /* stage cur is read before the next iteration's copy overwrites it */
    }
    mst_cp_async_wait_all(); /* the last (empty) copy */
}
MST_REGISTER_KERNEL(emu_cp_async_pipeline);

/* One warp, zero fill: lane l copies src_bytes l % 17 of its 16 bytes (src + 16 l) and l % 5 of 4 bytes
 * (src + 4 l), over slots first filled with 0xab. out16[16 l ..] and out4[4 l ..] get the slots' bytes. Also
 * three groups in order: wait_group 2, 1, 0 each let the oldest remaining group's slot be read. */
MST_KERNEL void emu_cp_async_zfill(const uint8_t *src, uint8_t *out16, uint8_t *out4, uint32_t *groups)
{
    MST_SHARED_ALIGNED(uint8_t, s16, 32 * 16, 16);
    MST_SHARED_ALIGNED(uint8_t, s4, 32 * 4, 4);
    MST_SHARED_ALIGNED(uint32_t, g, 32 * 3, 4);
    const uint32_t l = threadIdx.x;
    for (uint32_t b = 0; b < 16; b++)
        s16[16 * l + b] = 0xab;
    for (uint32_t b = 0; b < 4; b++)
        s4[4 * l + b] = 0xab;
    mst_cp_async_16(&s16[16 * l], src + 16 * l, l % 17);
    mst_cp_async_4(&s4[4 * l], src + 4 * l, l % 5);
    mst_cp_async_wait_all();
    for (uint32_t b = 0; b < 16; b++)
        out16[16 * l + b] = s16[16 * l + b];
    for (uint32_t b = 0; b < 4; b++)
        out4[4 * l + b] = s4[4 * l + b];
    const uint32_t *src32 = (const uint32_t *)src;
    for (uint32_t q = 0; q < 3; q++) {
        mst_cp_async_4(&g[3 * l + q], src32 + 32 * q + l, 4);
        mst_cp_async_commit();
    }
    mst_cp_async_wait_group(2);
    groups[3 * l + 0] = g[3 * l + 0];
    mst_cp_async_wait_group(1);
    groups[3 * l + 1] = g[3 * l + 1];
    mst_cp_async_wait_group(0);
    groups[3 * l + 2] = g[3 * l + 2];
}
MST_REGISTER_KERNEL(emu_cp_async_zfill);
