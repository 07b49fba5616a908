/* matmul_mma_f16.cu — the prefill GEMM on tensor cores for F16 weights times float activations, without
 * rounding the activations (the CPU backend multiplies F16 weights by the floats as they are, and so does
 * matmul_f16.cu). matmul.cu runs it above MST_CUDA_GEMV_MAX_TOKENS tokens unless MISTRAL_CUDA_MMA=0. F32 weights
 * stay on matmul_f16.cu: an f32 weight is not an mma input.
 *
 * The split. Rounding x to f16 would cost up to 2^-11 relative per value and overflow above 65504, so each token
 * t gets a power-of-two scale s_t (mst_k_f16_act_scale: max|x_t| s_t in [2^13, 2^14) over its finite values;
 * s_t = 1 for a token with none but zeros; s_t <= 2^125 so that 1/s_t is a normal float too) and each value
 * u = x s_t (exact: a power of two) becomes two f16 terms, hi = f16(u) and lo = f16(u - hi) (u - hi is exact in
 * float: hi is u rounded to 11 bits). Then y = (W hi + W lo) / s_t, both products on mma.m16n8k16.f16 with f32
 * accumulators: an f16 weight is an exact mma input and every f16 x f16 product is exact in float. hi and lo
 * accumulate apart, so the rounding of the large sum is not paid twice per column step.
 *
 * Non-finite activations: a NaN or an infinity gives hi = the same NaN or infinity (f16 keeps both) and lo = 0,
 * so W hi holds exactly the CPU's non-finite terms (Inf * w, NaN for w = 0 or for opposite infinities) and every
 * output of that token is NaN or the same signed infinity as the CPU's; the scale comes from the finite values.
 *
 * Error bound (per output, S = Σ|w x|, the test checks it against the CPU's double-accumulated reference):
 *   split:   |u - hi - lo| <= 2^-22 |u| + 2^-25 (f16's subnormal half-step, where lo or hi is subnormal), i.e.
 *            per output 2^-22 S + 2^-25 Σ|w| / s_t, and 1 / s_t <= 2^-13 max|x_t| (or 2^-125 where clamped);
 *   mma:     ceil(cols / 16) steps on the hi accumulator, each (as matmul_mma_bf16.cu assumes: the tensor core
 *            aligns its 17 terms to the largest and truncates) within 17 2^-23 of the magnitudes it adds
 *            (<= (1 + 2^-11) S s_t); the lo accumulator adds 2^-11 of that again;
 *   the last: hi + lo rounds once (2^-24 |y|); times 1/s_t is exact (powers of two) unless y is subnormal.
 *
 * Where the split happens: in the tile load, from the floats. The per-token scales are the only thing computed
 * first (one small pass, n_tokens floats at the scratch's start, the way the integer paths quantize first);
 * writing hi and lo rows to the scratch instead would need 4 bytes per value, which the scratch (sized for
 * bf16's floats, matmul_parts.h) holds but not together with the scales, and the GEMM would read the same 4
 * bytes per value it reads as floats now. The split costs a few conversions per staged value, once per 64
 * weight rows, against 2 x 64 products of that value on the tensor cores.
 *
 * Tile: matmul_mma.cuh's (64 rows x 64 tokens, 4 warps of 32 x 32, its fragment coordinates and store), with
 * 32 columns per stage so that three operands fit in static shared memory twice: weights (f16 pairs), hi and
 * lo (f16 pairs), each 64 rows x 16 words padded to 20 words (80 bytes: ldmatrix's 8 rows of 16 bytes per
 * phase start at banks 20 j mod 32 = 0, 20, 8, 28, 16, 4, 24, 12, four banks each, all distinct; 80 is a
 * multiple of 16 as ldmatrix and cp.async need). 2 stages x 3 x 5120 bytes = 30720 bytes. A stage is 2 mma
 * steps of 16 columns, 16 mma per warp each (hi and lo): the same mma count per barrier as the bf16 tile.
 * Weights come by 16-byte cp.async when every row is 16-byte aligned and cols % 8 == 0 (chunks of 8 columns
 * wholly in or out of a row: mst_k_mma_f16_async), else by 2-byte loads (mst_k_mma_f16: odd column counts, odd
 * addresses); the activations are loaded into registers before the warps multiply the current stage and split
 * into the other buffer after, so their latency overlaps the mma.
 *
 * Any cols and any row count are taken (cols past the last stage's end are zeros on both sides), so matmul.cu
 * has no shape to fall back for. It runs mst_cuda_scale_f16 first unless x_is_quantized says the scratch already
 * holds this x's scales (the matrix before was F16 of the same width, on the same x). */
#include "cuda_compat.h"

#include "matmul_mma.cuh"

enum {
    KF16_BK = 32,             /* columns per stage */
    KF16_KW = KF16_BK / 2,    /* f16-pair words per row per stage */
    KF16_LD = KF16_KW + 4,    /* padded row (above) */
    KF16_S = KMMA_BM * KF16_LD, /* words of one operand's stage (64 weight rows or 64 tokens) */
    KF16_XPT = KMMA_BN * KF16_KW / KMMA_THREADS, /* activation words each thread stages: 8 */
};
static_assert(KMMA_BM == KMMA_BN, "one stage size serves weights and activations");
static_assert(KMMA_THREADS % KF16_KW == 0, "a thread keeps one word column of the stage");

/* s_t from the largest finite |x| of the token: 2^(13 - e) for amax in [2^e, 2^(e+1)), so amax s in [2^13, 2^14)
 * (far inside f16's 65504: hi never overflows), at most 2^125 (amax below 2^-112, denormals included), 1 for
 * amax = 0. */
MST_DEVICE float kf16_scale_of(float amax)
{
    if (!(amax > 0.0f))
        return 1.0f;
    int32_t k = 13 - ((int32_t)((kmm_f2u(amax) >> 23) & 0xffu) - 127);
    if (k > 125)
        k = 125;
    return kmm_u2f((uint32_t)(127 + k) << 23);
}

/* 1 / s for s = 2^k, |k| <= 125: exponent 127 - k. */
MST_DEVICE float kf16_inv_scale(float s)
{
    return kmm_u2f(0x7f000000u - kmm_f2u(s));
}

/* One warp per token: scale[t] = kf16_scale_of(max over the finite values of |x_t|). grid ceil(n_tokens / 4),
 * 128 threads. */
MST_KERNEL void mst_k_f16_act_scale(const float *x, uint32_t cols, uint32_t n_tokens, float *scale)
{
    const uint32_t t = blockIdx.x * (blockDim.x / MST_WARP) + threadIdx.x / MST_WARP, lane = threadIdx.x % MST_WARP;
    if (t >= n_tokens)
        return; /* a whole warp */
    const float *xt = x + (uint64_t)t * cols;
    float amax = 0.0f;
    for (uint32_t c = lane; c < cols; c += MST_WARP) {
        const float v = xt[c];
        if (!kmm_nonfinite(v)) /* NaN and infinities take no part: they pass through the split as they are */
            amax = mst_fmaxf(amax, mst_fabsf(v));
    }
    for (int m = 16; m > 0; m >>= 1)
        amax = mst_fmaxf(amax, mst_shfl_xor_f32(amax, m));
    if (lane == 0)
        scale[t] = kf16_scale_of(amax);
}
MST_REGISTER_KERNEL(mst_k_f16_act_scale);

/* The word (f16 pair, lower column low) of hi terms for the floats v0, v1 of a token scaled by s; *lo gets the lo
 * terms' word. A non-finite hi keeps lo at 0 (u - hi would be NaN for an infinity). The product is rounded on
 * its own (kmm_mul_rn) so the device compiler cannot fuse it into u - hi. */
MST_DEVICE uint32_t kf16_split(float v0, float v1, float s, uint32_t *lo)
{
    const float u[2] = {kmm_mul_rn(v0, s), kmm_mul_rn(v1, s)};
    uint32_t hw = 0, lw = 0;
KMM_UNROLL
    for (int e = 0; e < 2; e++) {
        const uint16_t h = mst_f2h(u[e]);
        const uint16_t l = (h & 0x7c00u) != 0x7c00u ? mst_f2h(u[e] - mst_h2f(h)) : (uint16_t)0;
        hw |= (uint32_t)h << (16 * e);
        lw |= (uint32_t)l << (16 * e);
    }
    *lo = lw;
    return hw;
}

/* What one thread stages: word column kw = tid % 16 of tokens (and weight rows) tid / 16 + 8 m, m = 0..7. */
struct kf16_regs {
    float x[2 * KF16_XPT];  /* the floats of its activation words, 0 past the end */
    uint32_t w[KF16_XPT];   /* its weight words (the 2-byte-load path only) */
};

/* Reads the global side of the stage at column c0: the activations into r.x, the weights into r.w or, on the
 * cp.async path, straight into buffer buf of ws (committed here; waited for before the barrier that opens the
 * stage). */
template <class S>
MST_DEVICE void kf16_fetch(kf16_regs &r, S &ws, uint32_t buf, bool w_async, const uint8_t *w, uint64_t row_bytes,
                           uint32_t rows, uint32_t cols, const float *x, uint32_t n_tokens, uint32_t r0, uint32_t t0,
                           uint32_t c0)
{
    const uint32_t kw = threadIdx.x % KF16_KW, l0 = threadIdx.x / KF16_KW, c = c0 + 2 * kw;
KMM_UNROLL
    for (int m = 0; m < KF16_XPT; m++) {
        const uint32_t t = t0 + l0 + 8 * m;
        const float *xt = x + (uint64_t)t * cols;
        r.x[2 * m] = t < n_tokens && c < cols ? xt[c] : 0.0f;
        r.x[2 * m + 1] = t < n_tokens && c + 1 < cols ? xt[c + 1] : 0.0f;
    }
    if (w_async) { /* 64 rows x 4 chunks of 8 columns: 2 per thread, consecutive threads along a row */
KMM_UNROLL
        for (int m = 0; m < 2; m++) {
            const uint32_t i = threadIdx.x + KMMA_THREADS * m, lr = i / 4, ch = i % 4, rr = r0 + lr;
            const bool in = rr < rows && c0 + 8 * ch < cols;
            mst_cp_async_16(&ws[buf * KF16_S + lr * KF16_LD + 4 * ch],
                            in ? w + (uint64_t)rr * row_bytes + 2 * (uint64_t)(c0 + 8 * ch) : w, in ? 16u : 0u);
        }
        mst_cp_async_commit();
        return;
    }
KMM_UNROLL
    for (int m = 0; m < KF16_XPT; m++) {
        const uint32_t rr = r0 + l0 + 8 * m;
        uint32_t v = 0;
        if (rr < rows) {
            const uint16_t *row = (const uint16_t *)(w + (uint64_t)rr * row_bytes);
            v = (c < cols ? (uint32_t)row[c] : 0u) | (c + 1 < cols ? (uint32_t)row[c + 1] << 16 : 0u);
        }
        r.w[m] = v;
    }
}

/* Writes the registers into buffer buf: the weight words (2-byte-load path) and the split activations. sc[m]:
 * the scale of token t0 + tid / 16 + 8 m. */
template <class S>
MST_DEVICE void kf16_put(const kf16_regs &r, S &ws, S &xh, S &xl, uint32_t buf, bool w_async, const float sc[KF16_XPT])
{
    const uint32_t kw = threadIdx.x % KF16_KW, l0 = threadIdx.x / KF16_KW;
KMM_UNROLL
    for (int m = 0; m < KF16_XPT; m++) {
        const uint32_t at = buf * KF16_S + (l0 + 8 * m) * KF16_LD + kw;
        uint32_t lo;
        xh[at] = kf16_split(r.x[2 * m], r.x[2 * m + 1], sc[m], &lo);
        xl[at] = lo;
        if (!w_async)
            ws[at] = r.w[m];
    }
}

/* The warp's fragments for the 16 columns at word kw0 of the stage at word `base` (PTX ISA m16n8k16 .f16 layouts,
 * the same word pattern as matmul_mma.cuh's kmma_load_frags with rows KF16_LD words apart):
 *   A, x4: matrix m = lane / 8 is rows 8 (m % 2) .. +7, words 4 (m / 2) .. +3 -> a[i][0..3] for rows wr0 + 16 i;
 *   B, x4 for two token tiles: matrix m is tokens 8 (m / 2) .. +7, words 4 (m % 2) .. +3 -> b[j][0..1] and
 *   b[j+1][0..1]; once from the hi buffer, once from the lo buffer. */
template <class S>
MST_DEVICE void kf16_frags(const S &ws, const S &xh, const S &xl, uint32_t base, uint32_t kw0, const kmma_pos &p,
                           uint32_t a[2][4], uint32_t bh[4][2], uint32_t bl[4][2])
{
    const uint32_t lane = threadIdx.x % MST_WARP, m = lane / 8, j8 = lane % 8;
KMM_UNROLL
    for (int i = 0; i < 2; i++)
        mst_ldmatrix_x4(a[i], &ws[base + (p.wr0 + 16 * i + j8 + 8 * (m % 2)) * KF16_LD + kw0 + 4 * (m / 2)]);
KMM_UNROLL
    for (int jp = 0; jp < 2; jp++) {
        const uint32_t at = base + (p.wt0 + 16 * jp + j8 + 8 * (m / 2)) * KF16_LD + kw0 + 4 * (m % 2);
        uint32_t r[4];
        mst_ldmatrix_x4(r, &xh[at]);
        bh[2 * jp][0] = r[0], bh[2 * jp][1] = r[1], bh[2 * jp + 1][0] = r[2], bh[2 * jp + 1][1] = r[3];
        mst_ldmatrix_x4(r, &xl[at]);
        bl[2 * jp][0] = r[0], bl[2 * jp][1] = r[1], bl[2 * jp + 1][0] = r[2], bl[2 * jp + 1][1] = r[3];
    }
}

/* The GEMM: grid (ceil(rows / 64), ceil(n_tokens / 64)), 128 threads. x: the float activations; xd: the
 * per-token scales of mst_k_f16_act_scale. w_async: the host found every weight row 16-byte aligned on the device
 * and cols % 8 == 0 (the host decides: only it knows device addresses; the emulator's buffers sit anywhere in
 * host memory). */
template <bool w_async>
MST_DEVICE void kf16_gemm(const uint8_t *w, uint64_t row_bytes, uint32_t rows, uint32_t cols, const float *x,
                          const float *xd, uint32_t n_tokens, float *y)
{
    MST_SHARED_ALIGNED(uint32_t, ws, 2 * KF16_S, 16);
    MST_SHARED_ALIGNED(uint32_t, xh, 2 * KF16_S, 16);
    MST_SHARED_ALIGNED(uint32_t, xl, 2 * KF16_S, 16);
    const uint32_t r0 = blockIdx.x * KMMA_BM, t0 = blockIdx.y * KMMA_BN;
    const uint32_t n_st = (cols + KF16_BK - 1) / KF16_BK;
    const kmma_pos p = kmma_here();
    const bool active = kmma_warp_active(p, r0, t0, rows, n_tokens);
    float sc[KF16_XPT];
KMM_UNROLL
    for (int m = 0; m < KF16_XPT; m++) {
        const uint32_t t = t0 + threadIdx.x / KF16_KW + 8 * m;
        sc[m] = t < n_tokens ? xd[t] : 1.0f;
    }
    float hi[2][4][4] = {}, lo[2][4][4] = {};
    kf16_regs r;
    kf16_fetch(r, ws, 0, w_async, w, row_bytes, rows, cols, x, n_tokens, r0, t0, 0);
    kf16_put(r, ws, xh, xl, 0, w_async, sc);
    for (uint32_t st = 0; st < n_st; st++) {
        const uint32_t buf = st % 2, c0 = KF16_BK * st;
        const bool more = st + 1 < n_st;
        mst_cp_async_wait_group(0); /* this thread's weight copies of stage st */
        mst_syncthreads(); /* stage st is complete in buffer st % 2; nobody reads the other buffer any more */
        if (more)
            kf16_fetch(r, ws, buf ^ 1, w_async, w, row_bytes, rows, cols, x, n_tokens, r0, t0, c0 + KF16_BK);
        if (active) {
KMM_UNROLL
            for (uint32_t ks = 0; ks < 2; ks++) { /* 16 columns = 8 words each */
                if (c0 + 16 * ks >= cols) /* the same for the whole block */
                    break;
                uint32_t a[2][4], bh[4][2], bl[4][2];
                kf16_frags(ws, xh, xl, buf * KF16_S, 8 * ks, p, a, bh, bl);
KMM_UNROLL
                for (int i = 0; i < 2; i++)
KMM_UNROLL
                    for (int j = 0; j < 4; j++) {
                        mst_mma_m16n8k16_f16_f32(hi[i][j], a[i], bh[j], hi[i][j]);
                        mst_mma_m16n8k16_f16_f32(lo[i][j], a[i], bl[j], lo[i][j]);
                    }
            }
        }
        if (more)
            kf16_put(r, ws, xh, xl, buf ^ 1, w_async, sc);
    }
    /* y = (W hi + W lo) / s_t */
KMM_UNROLL
    for (int j = 0; j < 4; j++)
KMM_UNROLL
        for (int c = 0; c < 4; c++) {
            const uint32_t t = t0 + kmma_tok(p, j, c);
            const float inv = t < n_tokens ? kf16_inv_scale(xd[t]) : 0.0f;
KMM_UNROLL
            for (int i = 0; i < 2; i++)
                hi[i][j][c] = (hi[i][j][c] + lo[i][j][c]) * inv;
        }
    kmma_store(hi, p, r0, t0, rows, n_tokens, y);
}

/* The argument list of every tiled matmul kernel (matmul_launch.h); bsum unused. */
MST_KERNEL void mst_k_mma_f16(const uint8_t *w, uint64_t row_bytes, uint32_t rows, uint32_t cols, const float *x,
                              const float *xd, const int32_t *bsum, uint32_t n_tokens, float *y)
{
    (void)bsum;
    kf16_gemm<false>(w, row_bytes, rows, cols, x, xd, n_tokens, y);
}
MST_REGISTER_KERNEL(mst_k_mma_f16);
MST_KERNEL void mst_k_mma_f16_async(const uint8_t *w, uint64_t row_bytes, uint32_t rows, uint32_t cols,
                                    const float *x, const float *xd, const int32_t *bsum, uint32_t n_tokens, float *y)
{
    (void)bsum;
    kf16_gemm<true>(w, row_bytes, rows, cols, x, xd, n_tokens, y);
}
MST_REGISTER_KERNEL(mst_k_mma_f16_async);

#if MST_HOST_CODE
#include "matmul_launch.h"

extern "C" mst_status mst_fail(mst_status status, const char *fmt, ...);

extern "C" mst_status mst_cuda_scale_f16(mst_dev *d, mst_dptr x, const mst_cuda_qact *a)
{
    uint32_t cols = a->cols, n = a->n_tokens;
    mst_dptr scale = a->qs;
    void *args[] = {&x, &cols, &n, &scale};
    const mst_dim3 grid = {(n + 3) / 4, 1, 1}, block = {128, 1, 1};
    return mst_dev_launch(d, &mst_kernel_mst_k_f16_act_scale, grid, block, 0, args);
}

extern "C" mst_status mst_cuda_mma_f16(mst_dev *d, const mst_cuda_weight *w, mst_dptr x, const mst_cuda_qact *a,
                                       mst_dptr y)
{
    if (w->type != MST_TYPE_F16 || w->cols != a->cols)
        return mst_fail(MST_ERR_INVALID_ARGUMENT,
                        "mst_cuda_mma_f16: the weight must be F16 (type %d) with the activations' width (%u, not %u)",
                        (int)w->type, a->cols, w->cols);
    const int w_async = w->data % 16 == 0 && w->row_bytes % 16 == 0 && w->cols % 8 == 0;
    return kmm_launch_mma(d, w_async ? &mst_kernel_mst_k_mma_f16_async : &mst_kernel_mst_k_mma_f16, w, x, a->qs, 0,
                          a->n_tokens, y);
}
#endif
