/* matmul_mma.cuh — the tensor-core tile shared by the integer prefill GEMMs (matmul_mma_qblock.cu: Q4_0, Q8_0;
 * matmul_mma_kquant.cu: Q4_K, Q6_K): its shape, the shared-memory layout of a stage, the fragment loads
 * (ldmatrix) for mma.m16n8k32.s8, the activations' cp.async staging, the two-stage pipeline, the reads of the
 * per-row and per-token scales and the output store: one copy of each for all four weight types. Include after
 * cuda_compat.h.
 *
 * Tile: a block of 128 threads (4 warps) computes y for 64 weight rows x 64 tokens; warp w takes rows
 * 32 (w % 2) .. +31 and tokens 32 (w / 2) .. +31, i.e. 2 x 4 mma tiles of 16 rows x 8 tokens. A stage holds
 * 128 columns: weights dequantized to int8 (64 rows x 128 bytes, plain loads and stores: GGUF blocks of 18,
 * 34 or 210 bytes have no alignment cp.async could use) and the activations' int8 words (64 tokens x 128
 * bytes, cp.async), each row padded from 32 to 36 words (144 bytes): 2 x 9216 bytes per stage plus the
 * stage's scales; the kernels keep two stages (double buffering), about 40 to 45 KiB, under the 48 KiB of
 * static shared memory.
 *
 * Why 36 words: ldmatrix reads, per 8-lane phase, 8 rows of 16 bytes; 144 bytes apart they start at banks
 * 4 j + const (j = 0..7), so the 8 x 4 banks are all distinct (no conflict); 128 bytes apart every row would
 * start at the same bank (8-way conflict). 144 is a multiple of 16, as ldmatrix rows and cp.async 16-byte
 * destinations need. The dequantizing stores (thread -> row u / 4, 8 consecutive words) are 4-way conflicted
 * at worst; they happen once per stage, while each stored word is read by 2 warps.
 *
 * Tensor-core share (an argument, not a measurement: nothing here has run on a GPU): per 32 columns a warp
 * issues 8 mma (8 x 16 x 8 x 32 = 32768 int8 products; Q6_K: 16, its 16-value scales need two half-zero
 * mma) after 4 ldmatrix.x4, and each lane then does one int-to-float conversion and a multiply-add per output
 * and block (Q4_0/Q8_0: 32 per lane) or two integer multiply-adds (K-quants, floats once per super-block).
 * So the products are on the tensor cores, and the per-block float epilogue that the CPU's numerics require
 * is the main issue cost; staging the next stage's activations with cp.async while the warps multiply hides
 * their latency, the weights' dequantization costs each thread 2 blocks per stage.
 *
 * Numerics: an mma with a zero accumulator gives, per (row, token), the exact int32 sum over its 32 columns
 * (|Σ| <= 32 * 127 * 128 < 2^31), the integer the CPU reference computes per block; the kernels then apply the
 * CPU's float expression per block (or super-block), adding the terms in column order as the CPU does. */
#ifndef MST_CUDA_MATMUL_MMA_CUH
#define MST_CUDA_MATMUL_MMA_CUH

#include "quant_blocks.cuh"

enum {
    KMMA_BM = 64,      /* weight rows per block */
    KMMA_BN = 64,      /* tokens per block */
    KMMA_BK = 128,     /* columns per stage */
    KMMA_KW = KMMA_BK / 4,      /* int8 words per row per stage */
    KMMA_LD = KMMA_KW + 4,      /* padded row: conflict-free fragment loads (above) */
    KMMA_THREADS = 128,
};

/* This thread's place in the tile: warp rows wr0 .. wr0+31, tokens wt0 .. wt0+31 (block-local), fragment
 * coordinates g, t. */
struct kmma_pos {
    uint32_t wr0, wt0, g, t;
};

MST_DEVICE kmma_pos kmma_here()
{
    const uint32_t warp = threadIdx.x / MST_WARP, lane = threadIdx.x % MST_WARP;
    kmma_pos p;
    p.wr0 = 32 * (warp % 2);
    p.wt0 = 32 * (warp / 2);
    p.g = lane / 4;
    p.t = lane % 4;
    return p;
}

/* Shared-memory sizes of one stage (int32 words; a kernel declares 2 of each, stage s in buffer s % 2). */
enum { KMMA_WS = KMMA_BM * KMMA_LD, KMMA_XS = KMMA_BN * KMMA_LD };

/* The warp's fragments for columns 4 kw0 .. +31 of the stage at word `base` of ws / xs, by ldmatrix (PTX ISA
 * m16n8k32 .s8 layouts, an int8 pair read as one b16): a[i] rows wr0 + 16 i, b[j] tokens wt0 + 8 j.
 *   A, x4: matrix m = lane / 8 is rows 8 (m % 2) .. +7, bytes 16 (m / 2) .. +15 of the 16 x 32 tile, so
 *          r[0..3] = a[0..3] (a[0] row g bytes 4t..4t+3, a[1] row g+8, a[2], a[3] the upper 16 bytes);
 *   B, x4 for two token tiles: matrix m is tokens 8 (m / 2) .. +7, bytes 16 (m % 2) .. +15, so r[0], r[1] =
 *          b[j][0..1] and r[2], r[3] = b[j+1][0..1] (b[0] token g bytes 4t..4t+3, b[1] bytes 16 on).
 * Each 8-lane phase reads 8 rows of 16 bytes 144 bytes apart: banks 4 j .. 4 j + 3 (+ a constant) for row j,
 * all 32 distinct. */
template <class S>
MST_DEVICE void kmma_load_frags(const S &ws, const S &xs, uint32_t base_w, uint32_t base_x, uint32_t kw0,
                                const kmma_pos &p, uint32_t a[2][4], uint32_t b[4][2])
{
    const uint32_t lane = threadIdx.x % MST_WARP, m = lane / 8, j8 = lane % 8;
KMM_UNROLL
    for (int i = 0; i < 2; i++)
        mst_ldmatrix_x4(a[i], &ws[base_w + (p.wr0 + 16 * i + j8 + 8 * (m % 2)) * KMMA_LD + kw0 + 4 * (m / 2)]);
KMM_UNROLL
    for (int jp = 0; jp < 2; jp++) {
        uint32_t r[4];
        mst_ldmatrix_x4(r, &xs[base_x + (p.wt0 + 16 * jp + j8 + 8 * (m / 2)) * KMMA_LD + kw0 + 4 * (m % 2)]);
        b[2 * jp][0] = r[0];
        b[2 * jp][1] = r[1];
        b[2 * jp + 1][0] = r[2];
        b[2 * jp + 1][1] = r[3];
    }
}

/* dot = A x B over the 32 columns of the fragments (a fresh sum: the exact per-block integer). */
MST_DEVICE void kmma_dot(const uint32_t a[4], const uint32_t b[2], int32_t dot[4])
{
    const int32_t zero[4] = {0, 0, 0, 0};
    mst_mma_m16n8k32_s8_s32(dot, a, b, zero);
}

/* Output element c (0..3) of mma tile (i, j) belongs to block-local row kmma_row(p, i, c) and token
 * kmma_tok(p, j, c) (the PTX ISA's C/D layout: c[0], c[1] row g, c[2], c[3] row g+8; columns 2t, 2t+1). */
MST_DEVICE uint32_t kmma_row(const kmma_pos &p, int i, int c)
{
    return p.wr0 + 16 * i + p.g + 8 * (c >> 1);
}
MST_DEVICE uint32_t kmma_tok(const kmma_pos &p, int j, int c)
{
    return p.wt0 + 8 * j + 2 * p.t + (c & 1);
}

/* y[t][r] for the warp's 32 outputs per lane; rows and tokens past the end: nothing. */
MST_DEVICE void kmma_store(const float acc[2][4][4], const kmma_pos &p, uint32_t r0, uint32_t t0, uint32_t rows,
                           uint32_t n_tokens, float *y)
{
KMM_UNROLL
    for (int i = 0; i < 2; i++)
KMM_UNROLL
        for (int j = 0; j < 4; j++)
KMM_UNROLL
            for (int c = 0; c < 4; c++) {
                const uint32_t r = r0 + kmma_row(p, i, c), t = t0 + kmma_tok(p, j, c);
                if (r < rows && t < n_tokens)
                    y[(uint64_t)t * rows + r] = acc[i][j][c];
            }
}

/* The per-row and per-token values the warp's outputs need from a stage's shared tables (scales, mins, sums):
 * out[i][h] for rows kmma_row(p, i, 2h) (h: rows g and g + 8 of tile i), out[j][e] for tokens kmma_tok(p, j, e)
 * (e: columns 2t and 2t + 1 of tile j), each entry k of its row's or token's `stride` entries from word `base`. */
template <class T, class S>
MST_DEVICE void kmma_row_vals(const S &sh, uint32_t base, uint32_t stride, uint32_t k, const kmma_pos &p,
                              T out[2][2])
{
KMM_UNROLL
    for (int i = 0; i < 2; i++)
KMM_UNROLL
        for (int h = 0; h < 2; h++)
            out[i][h] = sh[base + kmma_row(p, i, 2 * h) * stride + k];
}
template <class T, class S>
MST_DEVICE void kmma_tok_vals(const S &sh, uint32_t base, uint32_t stride, uint32_t k, const kmma_pos &p,
                              T out[4][2])
{
KMM_UNROLL
    for (int j = 0; j < 4; j++)
KMM_UNROLL
        for (int e = 0; e < 2; e++)
            out[j][e] = sh[base + kmma_tok(p, j, e) * stride + k];
}

/* The K-quants' float step at the end of a super-block: acc += sign * xd[token] * wd[row] * n (sign +1 for the
 * scale term, -1 for Q4_K's min term: -x * y rounds as -(x * y), so the sign changes no rounding), then n = 0.
 * wd, xds: the stage's per-row and per-token floats in buffer buf. */
template <class SW, class SX>
MST_DEVICE void kmma_flush(float acc[2][4][4], int32_t n[2][4][4], const SW &wd, const SX &xds, uint32_t buf,
                           const kmma_pos &p, float sign)
{
KMM_UNROLL
    for (int i = 0; i < 2; i++)
KMM_UNROLL
        for (int j = 0; j < 4; j++)
KMM_UNROLL
            for (int c = 0; c < 4; c++) {
                const float xdv = sign * xds[buf * KMMA_BN + kmma_tok(p, j, c)];
                acc[i][j][c] += xdv * wd[buf * KMMA_BM + kmma_row(p, i, c)] * (float)n[i][j][c];
                n[i][j][c] = 0;
            }
}

/* The two-stage pipeline of every tile kernel here: stage(s, buf) starts stage s into buffer buf (stores and
 * uncommitted cp.async copies); while the warps run body(s, buf) on stage s, stage s + 1 is on its way into the
 * other buffer. The barrier before body makes every thread's stores and copies of stage s visible; the one after
 * frees buffer s % 2 for stage s + 2. Every thread calls it (its barriers are block-wide). */
template <class Stage, class Body>
MST_DEVICE void kmma_pipeline(uint32_t n_st, Stage stage, Body body)
{
    stage(0u, 0u);
    mst_cp_async_commit();
    for (uint32_t st = 0; st < n_st; st++) {
        const uint32_t buf = st % 2;
        if (st + 1 < n_st) {
            stage(st + 1, buf ^ 1);
            mst_cp_async_commit();
            mst_cp_async_wait_group(1); /* stage st's copies are in; st + 1's may still be in flight */
        } else {
            mst_cp_async_wait_group(0);
        }
        mst_syncthreads();
        body(st, buf);
        mst_syncthreads();
    }
}

/* Whether any of the warp's 32 rows and 32 tokens exist (the same for all its lanes, so a skipped warp skips
 * its mma as a whole; it still meets every barrier). */
MST_DEVICE bool kmma_warp_active(const kmma_pos &p, uint32_t r0, uint32_t t0, uint32_t rows, uint32_t n_tokens)
{
    return r0 + p.wr0 < rows && t0 + p.wt0 < n_tokens;
}

/* Starts the copy of a stage's activation words into xs at word `base`: tokens t0 .. t0+63, words kw .. kw+31
 * of each token's row of xw words, as 16-byte cp.async (4 per thread; consecutive threads along a token's row:
 * coalesced). The activation scratch is 256-byte aligned and xw a multiple of 8 words, so every chunk is
 * 16-byte aligned and wholly inside or outside a row; past the last token or word: src_bytes 0, i.e. zeros
 * (from the buffer's aligned start, which nothing reads). The caller commits and waits. */
template <class S>
MST_DEVICE void kmma_stage_x(S &xs, uint32_t base, const int32_t *xq, uint32_t xw, uint32_t t0,
                             uint32_t n_tokens, uint32_t kw)
{
    enum { CHUNKS = KMMA_KW / 4 }; /* per token */
    for (uint32_t i = threadIdx.x; i < KMMA_BN * CHUNKS; i += KMMA_THREADS) {
        const uint32_t lt = i / CHUNKS, c = i % CHUNKS, t = t0 + lt, wi = kw + 4 * c;
        const bool in = t < n_tokens && wi < xw;
        mst_cp_async_16(&xs[base + lt * KMMA_LD + 4 * c], in ? xq + (uint64_t)t * xw + wi : xq, in ? 16u : 0u);
    }
}

#endif
