/* matmul_gemv.cuh — the decode GEMV (1 .. KMM_GEMV_MAX_TOKENS tokens) of the quantized weight types (Q4_0, Q8_0,
 * Q4_K, Q6_K) times the device-quantized activations (quantize_act.cu), over up to KMM_GEMV_MATS matrices of one
 * type and width that share x (Q, K, V; gate, up) in ONE launch. The type files (matmul_<type>.cu) give the
 * per-unit arithmetic; this file streams the weights. Its SwiGLU pair (kmm_gemv_body NM = 2, mst_k_gemv_swiglu_<T>,
 * called through matmul_swiglu.cu) computes the feed-forward's gate and up rows in the same warp and stores only
 * silu(gate) * up.
 *
 * Why the weights go through shared memory. GGUF blocks are 18, 34, 144 and 210 bytes, so at batch 1 a lane that
 * reads "its" block reads bytes at a stride of 18 (or 210) from its neighbours, with byte loads: the sectors end up
 * used, but through 18+ narrow load instructions per block, and the blocks are not aligned for anything wider
 * (Q4_0 and Q8_0 blocks sit 2 bytes off a word every other block, Q6_K super-blocks 2 bytes off every other one).
 * Repacking at upload (scales apart from quants) would give aligned blocks but every reader of the layout would
 * have to follow (the GEMMs, the tensor-core GEMMs, the embedding lookup, the MoE kernels, the expert slicing),
 * so the layout stays GGUF's and the GEMV alone changes: a warp copies a span of its rows' bytes into its own
 * slice of shared memory with 16-byte loads (ld.global.nc.v4 at 16-byte aligned addresses, lane i taking the
 * i-th 16-byte word of the span: each load instruction of the warp covers 512 consecutive bytes, fully
 * coalesced), then each lane decodes whole blocks from shared memory with aligned 32-bit shared loads and funnel
 * shifts (any byte alignment of the block). Only the two 16-byte words at the ends of the whole matrix may
 * straddle its bounds; those are read byte by byte, so no byte outside the matrix is touched (the emulator's
 * exact-size buffers, and an expert's neighbours, stay unread). Words at the ends of a span that belong to the
 * neighbouring rows are read (and ignored): at most 30 bytes per span, none when a row is a multiple of 16 bytes
 * (Q4_0 and Q8_0 rows of a multiple of 256 columns, every Q4_K row, Q6_K rows of a multiple of 2048 columns as in
 * Mistral 7B; Nemo's 5120-column Q6_K rows are 8-byte multiples, so their span ends cost a word each).
 *
 * Work split. A block is 4 warps; a warp owns RW = 32 / LPR consecutive rows of one matrix, LPR lanes per row
 * (the launcher picks RW in 1, 2, 4, 8: more rows per warp when rows are short, so every lane has work). A warp
 * walks its rows in spans of at most T::U units per lane: a unit is one block (Q4_0, Q8_0) or one eighth of a
 * super-block (Q4_K, Q6_K: 8 lanes share the super-block and meet by exact integer shuffles). With RW > 1 the
 * whole rows fit one span. Span bytes per warp: Q4_0 2304 (128 blocks), Q8_0 2176 (64 blocks), Q4_K 2304 and
 * Q6_K 3360 (16 super-blocks), i.e. 4096 columns (Q8_0: 2048) per span at RW = 1.
 *
 * Expected bandwidth behaviour (to be measured on a GPU; the emulator measures nothing). Weight bytes: each
 * 16-byte word of a row is loaded once (plus at most one word at each end of a span that is not 16-byte
 * aligned), by one lane, in warp-wide 512-byte runs: every sector fetched is used. Per warp and span each lane
 * issues its T::L 16-byte loads back to back before the first is used, so a block's 4 warps keep 4 spans in flight
 * (9.2 KB for Q4_0 and Q4_K, 8.7 KB for Q8_0, 13.4 KB for Q6_K). Shared memory per block: 4 x (T::L x 512 + 16)
 * bytes (10.3 KB; Q6_K 14.4 KB), plus the 1 KB the driver reserves per block: on sm_90 (228 KB per SM) the
 * thread limit, 16 blocks of 4 warps, bounds occupancy (Q6_K: 14 blocks), on sm_80 (164 KB) shared memory does
 * at 14 blocks (Q6_K: 10), i.e. 40 to 64 warps per SM; registers are ptxas's to report. The shared copy costs one
 * 16-byte store per 16 bytes; decoding takes 6 (Q4_0) to 22 (Q6_K) aligned 4-byte shared loads per 32 weights
 * and lane, i.e. one warp-wide shared load per 38 or more weight bytes, against about 13 bytes per SM and cycle that
 * HBM3 delivers on an H100 SXM (3.35 TB/s over 132 SMs at 1.98 GHz; a paper figure, not a measurement): shared
 * memory is not expected to bind.
 * The SwiGLU pair streams a gate span and an up span per warp (all 2 x T::L loads of a lane issued before the first
 * store), each into its own slice: twice the shared memory per block (20.1 KB; Q6_K 28.1 KB), so on sm_90 10 blocks
 * per SM (Q6_K: 7), on sm_80 7 (Q6_K: 5), i.e. 20 to 40 warps per SM, each with twice the bytes in flight, so about
 * as many weight bytes in flight per SM as the single-matrix launch has (to be measured on a GPU). In return the
 * gate and up outputs (2 x 4 bytes per row and token) are neither written nor read back by a SwiGLU kernel.
 * Per 32 weights and token a lane also makes 2 activation 16-byte loads (cols bytes per token, L1/L2 resident)
 * and 8 dp4a. At 8 tokens the activation loads are 8x the weight
 * bytes in L1 traffic, which is where a GEMM starts to pay. Matrices with few rows (K, V of a GQA model: 1024
 * rows = 256 blocks) give under 2 blocks per SM on a large GPU; splitting a row over warps would need a second
 * pass or float atomics (sums that differ run to run), so that is left to measurement.
 *
 * Numerics: per (row, token, block) the exact integer sums and the CPU reference's float term, as the comments of
 * matmul_qblock.cuh, matmul_q4_k.cu and matmul_q6_k.cu state; a lane adds its units' terms in unit order, then the
 * LPR lanes of a row meet in a xor tree. Include after cuda_compat.h and quant_blocks.cuh. */
#ifndef MST_CUDA_MATMUL_GEMV_CUH
#define MST_CUDA_MATMUL_GEMV_CUH

#include "matmul_common.cuh"
#include "swiglu.cuh"

enum { KMM_GEMV_WARPS = 4, KMM_GEMV_THREADS = KMM_GEMV_WARPS * MST_WARP };

/* 16 bytes as four little-endian words; 16-byte aligned, so a load of one is one ld.global.v4. */
struct alignas(16) kmm_u4 {
    uint32_t x, y, z, w;
};

/* A 16-byte load from global memory at a 16-byte aligned address of data no launch writes while this one runs
 * (weights, the activation scratch): ld.global.nc.v4. The host pass loads through an aligned type, so a misaligned
 * address is undefined behaviour there too (UBSan's alignment check, the sanitizer build) instead of passing. */
MST_DEVICE kmm_u4 kmm_ldg_u4(const void *p)
{
    kmm_u4 v;
#if MST_HOST_CODE
    v = *(const kmm_u4 *)p;
#else
    asm("{ .reg .u64 g;\n\tcvta.to.global.u64 g, %4;\n\tld.global.nc.v4.u32 {%0, %1, %2, %3}, [g]; }"
        : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
        : "l"(p));
#endif
    return v;
}

/* The bytes at p .. p+15 (p 16-byte aligned) that lie in [lo, hi), zeros elsewhere: a word at an end of the matrix. */
MST_DEVICE kmm_u4 kmm_ldg_u4_clamped(const uint8_t *p, const uint8_t *lo, const uint8_t *hi)
{
    uint32_t v[4] = {0, 0, 0, 0};
    for (int k = 0; k < 16; k++)
        if (p + k >= lo && p + k < hi)
            v[k / 4] |= (uint32_t)p[k] << (8 * (k % 4));
    kmm_u4 r = {v[0], v[1], v[2], v[3]};
    return r;
}

/* Shared memory of 32-bit words that takes 16-byte stores (st.shared.v4): the device pass aligns it to 16. */
#if MST_HOST_CODE
#define KMM_SHARED_U4(name, words) MST_SHARED(uint32_t, name, words)
#else
#define KMM_SHARED_U4(name, words) __shared__ __attribute__((aligned(16))) uint32_t name[(words)]
#endif

/* buf[i .. i+3] = v, i a multiple of 4. */
template <class S> MST_DEVICE void kmm_sts_u4(S &buf, uint32_t i, kmm_u4 v)
{
#if MST_HOST_CODE
    buf[i] = v.x;
    buf[i + 1] = v.y;
    buf[i + 2] = v.z;
    buf[i + 3] = v.w;
#else
    *reinterpret_cast<kmm_u4 *>(&buf[i]) = v;
#endif
}

/* out[k] = the little-endian word at byte off + 4k of buf, any alignment: N + 1 aligned shared loads and funnel
 * shifts. Reads one word past the last byte it returns (the slices keep a word of slack for it). */
template <int N, class S> MST_DEVICE void kmm_sh_words(S &buf, uint32_t off, uint32_t out[N])
{
    const uint32_t w0 = off >> 2, sh = 8 * (off & 3);
    uint32_t lo = buf[w0];
KMM_UNROLL
    for (int k = 0; k < N; k++) {
        const uint32_t hi = buf[w0 + k + 1];
        out[k] = (uint32_t)((((uint64_t)hi << 32) | lo) >> sh);
        lo = hi;
    }
}

/* The 32 bits starting 2 bytes into word a (bytes 2, 3 of a, then 0, 1 of b). */
MST_DEVICE uint32_t kmm_mid16(uint32_t a, uint32_t b)
{
    return (a >> 16) | (b << 16);
}

/* The warp copies, for each of its NM matrices i, the bytes [s[i], e[i]) of the matrix [lo[i], hi[i]) into its slice
 * (word base[i] on) of buf: the 16-byte aligned words covering the span, word k at slice word 4k, so byte s[i] lands
 * at byte (s[i] & 15) of the slice. Each lane issues all its NM * L loads before its first store (NM = 2, the SwiGLU
 * pair: the gate and up rows stream side by side). At most L * 32 words per span (the launcher's bound). */
template <int L, int NM, class S>
MST_DEVICE void kmm_stage_spans(S &buf, const uint32_t base[NM], const uint8_t *const lo[NM],
                                const uint8_t *const hi[NM], const uint8_t *const s[NM], const uint8_t *const e[NM],
                                uint32_t lane)
{
    const uint8_t *a0[NM];
    uint32_t nw[NM];
    kmm_u4 v[NM][L];
KMM_UNROLL
    for (int i = 0; i < NM; i++) {
        a0[i] = (const uint8_t *)((uintptr_t)s[i] & ~(uintptr_t)15);
        nw[i] = (uint32_t)((((uintptr_t)e[i] + 15) & ~(uintptr_t)15) - (uintptr_t)a0[i]) / 16;
KMM_UNROLL
        for (int m = 0; m < L; m++) {
            const uint32_t k = lane + MST_WARP * m;
            const uint8_t *p = a0[i] + 16 * (uint64_t)k;
            if (k < nw[i])
                v[i][m] = p >= lo[i] && p + 16 <= hi[i] ? kmm_ldg_u4(p) : kmm_ldg_u4_clamped(p, lo[i], hi[i]);
        }
    }
KMM_UNROLL
    for (int i = 0; i < NM; i++)
KMM_UNROLL
        for (int m = 0; m < L; m++) {
            const uint32_t k = lane + MST_WARP * m;
            if (k < nw[i])
                kmm_sts_u4(buf, base[i] + 4 * k, v[i][m]);
        }
}

/* The launch's matrices (host and device agree on this layout: fixed-width fields, no implicit padding). Matrix
 * i owns grid blocks block0[i] .. block0[i+1]-1; y[i]: n_tokens rows of rows[i] floats. */
enum { KMM_GEMV_MATS = 3 };
struct kmm_gemv_mat {
    uint64_t w, y, row_bytes;
    uint32_t rows, block0;
};
struct kmm_gemv_args {
    kmm_gemv_mat m[KMM_GEMV_MATS];
    uint64_t x, xd, bsum; /* activation words, block scales, Q8_K 16-value sums (as the kernels' argument list) */
    uint32_t n_mats, cols, n_tokens, lpr_log2;
};

/* This block's matrix, picked with selects (a dynamic index into the parameter would go through local memory). */
MST_DEVICE kmm_gemv_mat kmm_gemv_pick(const kmm_gemv_args &a)
{
    kmm_gemv_mat m = a.m[0];
KMM_UNROLL
    for (int i = 1; i < KMM_GEMV_MATS; i++)
        if ((uint32_t)i < a.n_mats && blockIdx.x >= a.m[i].block0)
            m = a.m[i];
    return m;
}

/* The GEMV body for unit type T: T::BYTES per block, T::UPB units per block, T::QK values per block, T::U units
 * per lane per span, T::L loads per lane per span, and
 *   T::unit(buf, off, ib, sub, valid, a, acc): unit `sub` of block ib (the block at byte off of buf) times every
 *   token, added to acc; called by all lanes alike (K-quants shuffle inside), valid false for no unit.
 * NM = 1: y = W x for each of the launch's matrices. NM = 2, the SwiGLU pair (kmm_gemv_launch_rows' pair launch):
 * the warp takes the same rows of m[0] (gate) and m[1] (up), each with its own slice of shared memory, and stores
 * only h = silu(gate) * up (swiglu.cuh) into m[0].y. Each matrix's units go through the same lane, in the same
 * order, into the same xor tree as in an NM = 1 launch (the launcher picks the same LPR for the pair as for gate and
 * up in one launch), so h has the bits of the GEMV followed by swiglu.cu. */
template <class T, int NM> MST_DEVICE void kmm_gemv_body(const kmm_gemv_args &a)
{
    enum { SLICE = T::L * MST_WARP * 4 + 4 }; /* words per warp and matrix: the span and one word of slack */
    KMM_SHARED_U4(buf, KMM_GEMV_WARPS * NM * SLICE);
    kmm_gemv_mat m[NM];
    if (NM == 1)
        m[0] = kmm_gemv_pick(a);
    else
KMM_UNROLL
        for (int i = 0; i < NM; i++)
            m[i] = a.m[i]; /* the pair's grid covers m[0]'s rows; m[1] has as many */
    const uint32_t lane = threadIdx.x % MST_WARP, warp = threadIdx.x / MST_WARP;
    const uint32_t lpr_log2 = a.lpr_log2, lpr = 1u << lpr_log2, rw = MST_WARP >> lpr_log2;
    const uint32_t r0 = ((blockIdx.x - m[0].block0) * KMM_GEMV_WARPS + warp) * rw, rows = m[0].rows;
    if (r0 >= rows)
        return; /* the whole warp */
    const uint32_t nrows = rows - r0 < rw ? rows - r0 : rw, j = lane >> lpr_log2, u = lane & (lpr - 1);
    const uint32_t nb = a.cols / T::QK, cb = T::U * lpr / T::UPB;
    uint32_t base[NM];
    const uint8_t *lo[NM], *hi[NM], *wr[NM];
KMM_UNROLL
    for (int i = 0; i < NM; i++) {
        base[i] = (warp * NM + i) * SLICE;
        lo[i] = (const uint8_t *)m[i].w;
        wr[i] = lo[i] + (uint64_t)r0 * m[i].row_bytes;
        hi[i] = lo[i] + (uint64_t)(rows - 1) * m[i].row_bytes + (uint64_t)nb * T::BYTES;
    }
    float acc[NM][KMM_GEMV_MAX_TOKENS] = {};
    for (uint32_t b0 = 0; b0 < nb; b0 += cb) { /* RW > 1: one span (the launcher's choice) */
        const uint32_t b1 = nb - b0 < cb ? nb : b0 + cb;
        const uint8_t *s[NM], *e[NM];
        uint32_t head[NM];
KMM_UNROLL
        for (int i = 0; i < NM; i++) {
            s[i] = wr[i] + (uint64_t)b0 * T::BYTES;
            e[i] = wr[i] + (uint64_t)(nrows - 1) * m[i].row_bytes + (uint64_t)b1 * T::BYTES;
            head[i] = 4 * base[i] + (uint32_t)((uintptr_t)s[i] & 15) + j * (uint32_t)m[i].row_bytes;
        }
        kmm_stage_spans<T::L, NM>(buf, base, lo, hi, s, e, lane);
        mst_syncwarp();
KMM_UNROLL
        for (uint32_t k = 0; k < T::U; k++) {
            const uint32_t ui = u + k * lpr, ib = b0 + ui / T::UPB;
            const bool valid = j < nrows && ib < b1;
KMM_UNROLL
            for (int i = 0; i < NM; i++)
                T::unit(buf, valid ? head[i] + (ib - b0) * T::BYTES : 0, ib, ui % T::UPB, valid, a, acc[i]);
        }
        mst_syncwarp(); /* every lane done with the slice before the next span overwrites it */
    }
    /* each matrix's row: its LPR lanes meet in a xor tree; the row's first lane stores (the pair: silu(g) * u) */
    float *y = (float *)m[0].y;
KMM_UNROLL
    for (uint32_t t = 0; t < KMM_GEMV_MAX_TOKENS; t++) {
        if (t < a.n_tokens) { /* the same for every lane: the shuffles stay converged */
            float v[NM];
KMM_UNROLL
            for (int i = 0; i < NM; i++) {
                v[i] = acc[i][t];
                for (uint32_t msk = lpr >> 1; msk > 0; msk >>= 1)
                    v[i] += mst_shfl_xor_f32(v[i], (int)msk);
            }
            if (u == 0 && j < nrows)
                y[(uint64_t)t * rows + r0 + j] = NM == 1 ? v[0] : mst_silu_mul(v[0], v[NM - 1]);
        }
    }
}

/* The kernels mst_k_gemv_<T> and mst_k_gemv_swiglu_<T> (the SwiGLU pair) over unit type U (one parameter, by value:
 * cuLaunchKernel copies it); in the host pass also the pair's launcher mst_cuda_gemv_swiglu_<T> (matmul_gemv.h),
 * written here so that every type with a GEMV has it without a line of its own. */
#define KMM_GEMV_KERNEL(T, U)                                                                                       \
    MST_KERNEL void mst_k_gemv_##T(const kmm_gemv_args a) { kmm_gemv_body<U, 1>(a); }                              \
    MST_REGISTER_KERNEL(mst_k_gemv_##T);                                                                           \
    MST_KERNEL void mst_k_gemv_swiglu_##T(const kmm_gemv_args a) { kmm_gemv_body<U, 2>(a); }                       \
    MST_REGISTER_KERNEL(mst_k_gemv_swiglu_##T);                                                                    \
    KMM_GEMV_SWIGLU_LAUNCHER(T, U)

#if MST_HOST_CODE
#include "matmul_gemv.h"

/* matmul_gemv_launch.h (which every file with a GEMV includes in its host pass) defines it. */
template <class T>
static mst_status kmm_launch_gemv_swiglu(mst_dev *d, const mst_kernel_ref *k, const mst_cuda_weight *w, mst_dptr h,
                                         mst_dptr x, mst_dptr xd, mst_dptr bsum, uint32_t n_tokens);
#define KMM_GEMV_SWIGLU_LAUNCHER(T, U)                                                                              \
    extern "C" mst_status mst_cuda_gemv_swiglu_##T(mst_dev *d, const mst_cuda_weight *w, mst_dptr h,               \
                                                   const mst_cuda_qact *a)                                          \
    {                                                                                                                \
        return kmm_launch_gemv_swiglu<U>(d, &mst_kernel_mst_k_gemv_swiglu_##T, w, h, a->qs, a->d, a->bsum,        \
                                         a->n_tokens);                                                              \
    }
#else
#define KMM_GEMV_SWIGLU_LAUNCHER(T, U)
#endif

#endif
