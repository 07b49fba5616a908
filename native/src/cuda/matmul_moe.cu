/* matmul_moe.cu — the chosen experts of a mixture-of-experts feed-forward for a few tokens (decode), with the
 * expert ids read from device memory (moe_gate.cu wrote them), so the host never learns which experts run:
 *   gate/up:  h[j][r] = silu(Wgate_e x[t])[r] * (Wup_e x[t])[r]  for every slot j = t * n_used + i, e = chosen[j]
 *             (one launch: grid.x over the n_ff rows, grid.y over the n_tokens * n_used slots; swiglu fused);
 *   down:     y[t][r] = sum over t's slots in ascending expert id of weight * (Wdown_e h[j])[r]
 *             (one launch: grid.x over the n_embd rows, grid.y over the tokens; the weighted sum in registers).
 * Expert e's matrix starts e * rows * row_bytes after expert 0's, mst_expert_slice's layout on the device.
 *
 * Numerics: the generic path's, value for value. Each row is one warp, and a lane's partial sum is built in the
 * order the dense GEMV bodies of matmul_<type>.cu build it today (Q4_0/Q8_0: blocks lane, lane+32, ...; Q4_K/Q6_K:
 * 4 super-blocks at a time, 8 lanes per super-block; float types: columns lane, lane+32, ... with fma), then the
 * same xor tree, with the activations quantized by quantize_act.cu exactly as mst_cuda_matmul quantizes them.
 * SwiGLU is swiglu.cu's expression and the weighted sum adds the experts in ascending id starting from zero, the
 * order of forward_moe.c's zero + scatter_add per expert. So on one machine the output equals the generic path's
 * bit for bit as long as the GEMV bodies keep that order (test_cuda_moe_ffn.c checks it against a stated float
 * tolerance, in case they change). These bodies are written over quant_blocks.cuh's per-block unpack helpers, not
 * over the dense GEMV functions, because those are being rewritten for coalesced loads: the weight layout read here
 * is the GGUF one (mst_cuda_upload_type keeps it for every type this file takes).
 *
 * Why this is the decode path (issue 16: a Mixtral-shaped MoE layer within 2.2x of a dense 7B layer). At batch 1
 * a layer's time is its weight bytes over memory bandwidth once launches and host waits do not dominate. Mixtral
 * 8x7B and Mistral 7B share n_embd 4096, n_ff 14336, 32 query / 8 KV heads of 128:
 *   attention (both)       Wq, Wo 4096 x 4096, Wk, Wv 1024 x 4096      41.9 M weights
 *   dense FFN              3 x 14336 x 4096                          176.2 M weights
 *   MoE FFN, 2 of 8 read   2 x 176.2 M                               352.3 M weights, router 8 x 4096 (F32: 128 KiB)
 * so a dense layer reads 218.1 M weights and a MoE layer 394.2 M (+ the router): at Q4_0 (18 bytes per 32) that
 * is 122.7 MB against 221.8 MB (+0.13 MB), a ratio of 1.81, the same at any single weight type (mixes such as
 * Q4_K_M, whose down projections are partly Q6_K, move it to about 1.83). The 2.2x target leaves about 0.37 of a
 * dense layer's time for what the MoE layer adds: the router (one matmul over 128 KiB), the gate (one thread per
 * token) and 6 launches for the feed-forward instead of the dense path's 5 (gate, quantize, gate/up/swiglu,
 * quantize, down/sum after the router) — a few microseconds on a GPU, against a dense layer's weight time in the
 * tens of microseconds (122.7 MB at 2 to 3 TB/s). Not so the generic path: one stream wait per layer for the
 * routing download (the GPU idles while the host decides) and 7 launches per chosen expert, which at batch 1
 * would cost more than the weight reads. The non-finite router check (moe_gate.cu's flag) is downloaded once per
 * pass, after the last layer. Only a GPU can tell the real ratio; this is the paper model. */
#include "cuda_compat.h"

#include "quant_blocks.cuh"
#include "swiglu.cuh"

enum { KMOE_MAX_USED = 8 }; /* experts per token this path takes (Mixtral: 2); a token's slots sit in registers */

/* One token's activations for a matmul: quantized words, block scales and 16-value sums (Q8_0 / Q8_K), or floats
 * (F32, F16; BF16: the bf16-rounded floats). */
struct kmoe_act {
    const int32_t *xq;
    const float *xd;
    const int32_t *bsum;
    const float *xf;
};

/* The whole warp's sum of v, every lane getting the same bits (kmm_gemv_store's tree; float + commutes). */
MST_DEVICE float kmoe_warp_sum(float v)
{
    for (int m = 16; m > 0; m >>= 1)
        v += mst_shfl_xor_f32(v, m);
    return v;
}

/* ---- one weight row times one token, per type: the warp's sum, in the dense GEMV's order ---- */

struct kmoe_q4_0 {
    enum { BYTES = KMM_Q4_0_BYTES };
    MST_DEVICE void unpack(const uint8_t *blk, int32_t q[8]) { kmm_unpack_q4_0(blk, q, q + 4); }
};
struct kmoe_q8_0 {
    enum { BYTES = KMM_Q8_0_BYTES };
    MST_DEVICE void unpack(const uint8_t *blk, int32_t q[8])
    {
KMM_UNROLL
        for (int k = 0; k < 8; k++)
            q[k] = (int32_t)mst_load_u32(blk + 2 + 4 * k);
    }
};

/* Each dot product below is a type with one function, D::dot(row, cols, activations, lane), which is what the
 * kernels at the end are templated on. */

template <class B> struct kmoe_dot_qblock {
    MST_DEVICE float dot(const uint8_t *wr, uint32_t cols, const kmoe_act &a, uint32_t lane)
    {
        const uint32_t nb = cols / KMM_QK;
        float acc = 0.0f;
        for (uint32_t b = lane; b < nb; b += MST_WARP) {
            const uint8_t *blk = wr + (uint64_t)b * B::BYTES;
            int32_t q[8];
            B::unpack(blk, q);
            const float dw = mst_h2f(mst_load_u16(blk));
            const int32_t *xt = a.xq + 8 * b;
            int32_t s = 0;
KMM_UNROLL
            for (int k = 0; k < 8; k++)
                s = mst_dp4a(q[k], xt[k], s);
            acc += dw * a.xd[b] * (float)s;
        }
        return kmoe_warp_sum(acc);
    }
};

/* Q4_K and Q6_K, one loop for both: lane group g = lane/8 takes super-block ib0 + g, lane s = lane%8 its part s
 * (K::part: the integer sums is and, for Q4_K, ms, and the block's d and dmin, from the part's 8 activation words
 * xt and its two 16-value sums bt); the 8 lanes' integer sums meet by shuffles (exact) and lane s = 0 adds the
 * float terms. Loop bounds and K::HAS_MIN are warp-uniform. */
template <class K> struct kmoe_dot_kquant {
    MST_DEVICE float dot(const uint8_t *wr, uint32_t cols, const kmoe_act &a, uint32_t lane)
    {
        const uint32_t nsb = cols / KMM_QK_K, g = lane / 8, s = lane % 8;
        float acc = 0.0f;
        for (uint32_t ib0 = 0; ib0 < nsb; ib0 += 4) {
            const uint32_t ib = ib0 + g;
            const bool valid = ib < nsb;
            int32_t is = 0, ms = 0;
            float dw = 0.0f, dmin = 0.0f;
            if (valid)
                K::part(wr + (uint64_t)ib * K::BYTES, s, a.xq + 64 * ib + 8 * s, a.bsum + 16 * ib + 2 * s, is, ms,
                        dw, dmin);
            for (int m = 1; m < 8; m <<= 1) {
                is += mst_shfl_xor_i32(is, m);
                if (K::HAS_MIN)
                    ms += mst_shfl_xor_i32(ms, m);
            }
            if (valid && s == 0) {
                const float xdv = a.xd[ib];
                acc += xdv * dw * (float)is;
                if (K::HAS_MIN)
                    acc -= xdv * dmin * (float)ms;
            }
        }
        return kmoe_warp_sum(acc);
    }
};

/* Q4_K part s: sub-block s; is = sc * dot, ms = m * (its 32-value sum). */
struct kmoe_q4_k {
    enum { BYTES = KMM_Q4_K_BYTES, HAS_MIN = 1 };
    MST_DEVICE void part(const uint8_t *blk, uint32_t s, const int32_t *xt, const int32_t *bt, int32_t &is,
                         int32_t &ms, float &dw, float &dmin)
    {
        int32_t q[8], sc, mn;
        kmm_unpack_q4_k(blk, s, q);
        kmm_k4_scale_min(blk + 4, s, &sc, &mn);
        dw = mst_h2f(mst_load_u16(blk));
        dmin = mst_h2f(mst_load_u16(blk + 2));
        int32_t dot = 0;
KMM_UNROLL
        for (int k = 0; k < 8; k++)
            dot = mst_dp4a(q[k], xt[k], dot);
        is = sc * dot;
        ms = mn * (bt[0] + bt[1]);
    }
};

/* Q6_K part s: sub-blocks 2s, 2s+1 (kmm_unpack_q6_k), the -32 through the 16-value sums; no min term. */
struct kmoe_q6_k {
    enum { BYTES = KMM_Q6_K_BYTES, HAS_MIN = 0 };
    MST_DEVICE void part(const uint8_t *blk, uint32_t s, const int32_t *xt, const int32_t *bt, int32_t &is,
                         int32_t &ms, float &dw, float &dmin)
    {
        (void)ms, (void)dmin;
        int32_t q[8];
        kmm_unpack_q6_k(blk, s, q);
        const int32_t sc0 = kmm_q6_k_scale(blk, 2 * s), sc1 = kmm_q6_k_scale(blk, 2 * s + 1);
        dw = mst_h2f(mst_load_u16(blk + 208));
        int32_t d0 = 0, d1 = 0;
KMM_UNROLL
        for (int k = 0; k < 4; k++) {
            d0 = mst_dp4a(q[k], xt[k], d0);
            d1 = mst_dp4a(q[4 + k], xt[4 + k], d1);
        }
        is = sc0 * (d0 - 32 * bt[0]) + sc1 * (d1 - 32 * bt[1]);
    }
};

/* Float elements (F32, F16, BF16) times float activations: one fma per product, columns lane, lane+32, ... */
struct kmoe_f32 {
    MST_DEVICE float load(const uint8_t *row, uint32_t c) { return ((const float *)row)[c]; }
};
struct kmoe_f16 {
    MST_DEVICE float load(const uint8_t *row, uint32_t c) { return mst_h2f(((const uint16_t *)row)[c]); }
};
struct kmoe_bf16 {
    MST_DEVICE float load(const uint8_t *row, uint32_t c) { return mst_bf2f(((const uint16_t *)row)[c]); }
};

template <class E> struct kmoe_dot_float {
    MST_DEVICE float dot(const uint8_t *wr, uint32_t cols, const kmoe_act &a, uint32_t lane)
    {
        float acc = 0.0f;
        for (uint32_t c = lane; c < cols; c += MST_WARP)
            acc = mst_fmaf(E::load(wr, c), a.xf[c], acc);
        return kmoe_warp_sum(acc);
    }
};

/* Token t's activations in a matmul input of `cols` per token: the quantized layout of matmul_parts.h (words,
 * then scales per 32 (Q8_0) or per 256 (Q8_K), then 16-value sums), or float rows. */
MST_DEVICE kmoe_act kmoe_act_at(const int32_t *xq, const float *xd, const int32_t *bsum, const float *xf, uint32_t cols,
                                uint32_t per_scale, uint32_t t)
{
    kmoe_act a;
    a.xq = xq + (uint64_t)t * (cols / 4);
    a.xd = xd + (uint64_t)t * (cols / per_scale);
    a.bsum = bsum + (uint64_t)t * (cols / 16);
    a.xf = xf + (uint64_t)t * cols;
    return a;
}

/* The argument block of both kernels (one struct, so the launches stay short). Rows of expert 0's matrices start
 * at *_w, expert e's `*_expert` bytes further. */
struct kmoe_args {
    const uint8_t *gate_w, *up_w, *down_w;
    uint64_t gate_rb, up_rb, down_rb;             /* row bytes */
    uint64_t gate_expert, up_expert, down_expert; /* bytes of one expert's matrix */
    uint32_t n_embd, n_ff, n_expert, n_used;
    const int32_t *chosen; /* [n_tokens][n_used], -1: the token was not routed (non-finite router logits) */
    const float *weights;  /* [n_tokens][n_used] */
    /* gate/up input, then down input (the hidden rows), each quantized per the matrix type (or floats) */
    const int32_t *xq;
    const float *xd;
    const int32_t *bsum;
    const float *xf;
    uint32_t per_scale; /* values per activation scale: 32 (Q8_0) or 256 (Q8_K); 32 for float types (unused) */
    float *hidden;      /* [n_tokens * n_used][n_ff] */
    float *y;           /* [n_tokens][n_embd] */
};

/* gate/up: warp w of block (bx, j) computes row bx * warps + w of slot j's expert; lane 0 stores
 * silu(gate) * up. A slot whose id is out of range (-1: not routed) stores 0 and reads no weight. */
template <class D>
MST_DEVICE void kmoe_gate_up(const kmoe_args &p)
{
    const uint32_t lane = threadIdx.x % MST_WARP, row = blockIdx.x * (blockDim.x / MST_WARP) + threadIdx.x / MST_WARP;
    const uint32_t j = blockIdx.y, t = j / p.n_used;
    if (row >= p.n_ff)
        return; /* the whole warp */
    const int32_t e = p.chosen[j];
    float h = 0.0f;
    if (e >= 0 && (uint32_t)e < p.n_expert) { /* warp-uniform */
        const kmoe_act a = kmoe_act_at(p.xq, p.xd, p.bsum, p.xf, p.n_embd, p.per_scale, t);
        const float g = D::dot(p.gate_w + (uint64_t)e * p.gate_expert + (uint64_t)row * p.gate_rb, p.n_embd, a, lane);
        const float u = D::dot(p.up_w + (uint64_t)e * p.up_expert + (uint64_t)row * p.up_rb, p.n_embd, a, lane);
        h = mst_silu_mul(g, u); /* the SwiGLU kernel's expression (swiglu.cuh) */
    }
    if (lane == 0)
        p.hidden[(uint64_t)j * p.n_ff + row] = h;
}

/* down: warp w of block (bx, t) computes row bx * warps + w of y[t]: token t's experts in ascending id, each
 * weight times its expert's row, added into a sum that starts at zero. Slots not routed add nothing. */
template <class D>
MST_DEVICE void kmoe_down(const kmoe_args &p)
{
    const uint32_t lane = threadIdx.x % MST_WARP, row = blockIdx.x * (blockDim.x / MST_WARP) + threadIdx.x / MST_WARP;
    const uint32_t t = blockIdx.y;
    if (row >= p.n_embd)
        return;
    /* re-read each round (cached) rather than held in a runtime-indexed array, which would live in local memory */
    const int32_t *ids = p.chosen + (uint64_t)t * p.n_used;
    float acc = 0.0f;
    int32_t last = -1; /* ids are distinct: each round takes the smallest id above the last one */
    for (uint32_t k = 0; k < p.n_used; k++) {
        int32_t e = -1;
        uint32_t slot = 0;
        for (uint32_t i = 0; i < p.n_used; i++)
            if (ids[i] > last && (e < 0 || ids[i] < e))
                e = ids[i], slot = i;
        if (e < 0 || (uint32_t)e >= p.n_expert)
            break; /* no more (or not routed) */
        last = e;
        const uint32_t j = t * p.n_used + slot;
        const kmoe_act a = kmoe_act_at(p.xq, p.xd, p.bsum, p.xf, p.n_ff, p.per_scale, j);
        const float v = D::dot(p.down_w + (uint64_t)e * p.down_expert + (uint64_t)row * p.down_rb, p.n_ff, a, lane);
        acc += p.weights[j] * v; /* rows.cu's scatter-add expression, on a zeroed row */
    }
    if (lane == 0)
        p.y[(uint64_t)t * p.n_embd + row] = acc;
}

#define KMOE_KERNELS(T, D)                                                                                          \
    MST_KERNEL void mst_k_moe_gate_up_##T(kmoe_args p) { kmoe_gate_up<D>(p); }                                     \
    MST_REGISTER_KERNEL(mst_k_moe_gate_up_##T);                                                                    \
    MST_KERNEL void mst_k_moe_down_##T(kmoe_args p) { kmoe_down<D>(p); }                                           \
    MST_REGISTER_KERNEL(mst_k_moe_down_##T);

KMOE_KERNELS(q4_0, kmoe_dot_qblock<kmoe_q4_0>)
KMOE_KERNELS(q8_0, kmoe_dot_qblock<kmoe_q8_0>)
KMOE_KERNELS(q4_k, kmoe_dot_kquant<kmoe_q4_k>)
KMOE_KERNELS(q6_k, kmoe_dot_kquant<kmoe_q6_k>)
KMOE_KERNELS(f32, kmoe_dot_float<kmoe_f32>)
KMOE_KERNELS(f16, kmoe_dot_float<kmoe_f16>)
KMOE_KERNELS(bf16, kmoe_dot_float<kmoe_bf16>)

#if MST_HOST_CODE
#include "matmul_parts.h"

extern "C" mst_status mst_fail(mst_status status, const char *fmt, ...);

enum { KMOE_WARPS = 4 }; /* rows per block */

/* The kernels of each type and how its activations are rounded (act 0: none, float; 1: Q8_0; 2: Q8_K; 3: bf16). */
typedef struct kmoe_pair {
    int32_t type;
    const mst_kernel_ref *gate_up, *down;
    int act;
} kmoe_pair;

static const kmoe_pair kmoe_table[] = {
    {MST_TYPE_Q4_0, &mst_kernel_mst_k_moe_gate_up_q4_0, &mst_kernel_mst_k_moe_down_q4_0, 1},
    {MST_TYPE_Q8_0, &mst_kernel_mst_k_moe_gate_up_q8_0, &mst_kernel_mst_k_moe_down_q8_0, 1},
    {MST_TYPE_Q4_K, &mst_kernel_mst_k_moe_gate_up_q4_k, &mst_kernel_mst_k_moe_down_q4_k, 2},
    {MST_TYPE_Q6_K, &mst_kernel_mst_k_moe_gate_up_q6_k, &mst_kernel_mst_k_moe_down_q6_k, 2},
    {MST_TYPE_F32, &mst_kernel_mst_k_moe_gate_up_f32, &mst_kernel_mst_k_moe_down_f32, 0},
    {MST_TYPE_F16, &mst_kernel_mst_k_moe_gate_up_f16, &mst_kernel_mst_k_moe_down_f16, 0},
    {MST_TYPE_BF16, &mst_kernel_mst_k_moe_gate_up_bf16, &mst_kernel_mst_k_moe_down_bf16, 3},
};

/* type's row of kmoe_table in *k and its activation rounding in *act; 0 for a type without kernels here. */
static int kmoe_kernels(int32_t type, kmoe_pair *k, int *act)
{
    for (size_t i = 0; i < sizeof kmoe_table / sizeof kmoe_table[0]; i++)
        if (kmoe_table[i].type == type) {
            *k = kmoe_table[i];
            *act = k->act;
            return 1;
        }
    return 0;
}

static uint32_t kmoe_col_multiple(int act)
{
    return act == 2 ? KMM_QK_K : act == 1 ? KMM_QK : 1;
}

extern "C" int mst_cuda_moe_experts_supported(const mst_cuda_weight *gate, const mst_cuda_weight *up,
                                              const mst_cuda_weight *down, uint32_t n_tokens, uint32_t n_used)
{
    kmoe_pair k;
    int ag, ad;
    return n_tokens >= 1 && n_tokens <= MST_CUDA_MOE_MAX_TOKENS && n_used >= 1 && n_used <= KMOE_MAX_USED &&
           gate->type == up->type && kmoe_kernels(gate->type, &k, &ag) && kmoe_kernels(down->type, &k, &ad);
}

extern "C" uint64_t mst_cuda_moe_experts_scratch_bytes(uint32_t n_embd, uint32_t n_ff, uint32_t n_tokens,
                                                       uint32_t n_used)
{
    const uint64_t in = mst_cuda_qact_bytes(n_embd, n_tokens), hid = mst_cuda_qact_bytes(n_ff, n_tokens * n_used);
    return in > hid ? in : hid;
}

/* Rounds n rows of x (cols floats each) for activation kind act into the scratch; fills the argument block's
 * activation fields. */
static mst_status kmoe_round(mst_dev *d, int act, mst_dptr x, uint32_t cols, uint32_t n, mst_dptr scratch,
                             kmoe_args *p)
{
    const mst_cuda_qact a = mst_cuda_qact_at(scratch, cols, n);
    mst_status st = MST_OK;
    if (act == 1)
        st = mst_cuda_quantize_q8_0(d, x, &a);
    else if (act == 2)
        st = mst_cuda_quantize_q8_k(d, x, &a);
    else if (act == 3)
        st = mst_cuda_round_bf16(d, x, &a);
    p->xq = (const int32_t *)(uintptr_t)a.qs;
    p->xd = (const float *)(uintptr_t)a.d;
    p->bsum = (const int32_t *)(uintptr_t)a.bsum;
    p->xf = (const float *)(uintptr_t)(act == 0 ? x : a.xr);
    p->per_scale = act == 2 ? KMM_QK_K : KMM_QK;
    return st;
}

extern "C" mst_status mst_cuda_moe_experts(mst_dev *d, const mst_cuda_moe_args *m)
{
    if (!d || !m)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_cuda_moe_experts: %s is NULL",
                        !d ? "the device" : "the arguments");
    kmoe_pair kg, kd;
    int ag = 0, ad = 0;
    if (!mst_cuda_moe_experts_supported(&m->gate, &m->up, &m->down, m->n_tokens, m->n_used) ||
        !kmoe_kernels(m->gate.type, &kg, &ag) || !kmoe_kernels(m->down.type, &kd, &ad))
        return mst_fail(MST_ERR_UNSUPPORTED,
                        "mst_cuda_moe_experts: %u tokens, %u experts each, types gate %d up %d down %d (need 1..%d "
                        "tokens, 1..%d experts, gate and up of one type with a device kernel)",
                        m->n_tokens, m->n_used, (int)m->gate.type, (int)m->up.type, (int)m->down.type,
                        MST_CUDA_MOE_MAX_TOKENS, KMOE_MAX_USED);
    const uint32_t n_embd = m->gate.cols, n_ff = m->gate.rows;
    if (m->up.rows != n_ff || m->up.cols != n_embd || m->down.rows != n_embd || m->down.cols != n_ff || n_ff == 0 ||
        n_embd == 0 || n_embd % kmoe_col_multiple(ag) != 0 || n_ff % kmoe_col_multiple(ad) != 0 ||
        m->gate.row_bytes < mst_cuda_upload_row_bytes(m->gate.type, n_embd) ||
        m->up.row_bytes < mst_cuda_upload_row_bytes(m->up.type, n_embd) ||
        m->down.row_bytes < mst_cuda_upload_row_bytes(m->down.type, n_ff) || m->n_expert < m->n_used)
        return mst_fail(MST_ERR_INVALID_ARGUMENT,
                        "mst_cuda_moe_experts: gate %ux%u, up %ux%u, down %ux%u, %u of %u experts do not make an "
                        "[n_embd -> n_ff -> n_embd] feed-forward of whole blocks",
                        m->gate.rows, m->gate.cols, m->up.rows, m->up.cols, m->down.rows, m->down.cols, m->n_used,
                        m->n_expert);
    kmoe_args p;
    p.gate_w = (const uint8_t *)(uintptr_t)m->gate.data;
    p.up_w = (const uint8_t *)(uintptr_t)m->up.data;
    p.down_w = (const uint8_t *)(uintptr_t)m->down.data;
    p.gate_rb = m->gate.row_bytes, p.up_rb = m->up.row_bytes, p.down_rb = m->down.row_bytes;
    p.gate_expert = (uint64_t)n_ff * p.gate_rb;
    p.up_expert = (uint64_t)n_ff * p.up_rb;
    p.down_expert = (uint64_t)n_embd * p.down_rb;
    p.n_embd = n_embd, p.n_ff = n_ff, p.n_expert = m->n_expert, p.n_used = m->n_used;
    p.chosen = (const int32_t *)(uintptr_t)m->chosen;
    p.weights = (const float *)(uintptr_t)m->weights;
    p.hidden = (float *)(uintptr_t)m->hidden;
    p.y = (float *)(uintptr_t)m->y;
    void *args[] = {&p};
    const mst_dim3 block = {KMOE_WARPS * MST_WARP, 1, 1};
    mst_status st = kmoe_round(d, ag, m->x, n_embd, m->n_tokens, m->scratch, &p);
    if (st == MST_OK)
        st = mst_dev_launch(d, kg.gate_up, mst_dim3{(n_ff + KMOE_WARPS - 1) / KMOE_WARPS, m->n_tokens * m->n_used, 1},
                            block, 0, args);
    if (st == MST_OK) /* the hidden rows replace the input in the scratch: the gate/up launch before it has read it */
        st = kmoe_round(d, ad, m->hidden, n_ff, m->n_tokens * m->n_used, m->scratch, &p);
    if (st == MST_OK)
        st = mst_dev_launch(d, kd.down, mst_dim3{(n_embd + KMOE_WARPS - 1) / KMOE_WARPS, m->n_tokens, 1}, block, 0,
                            args);
    return st;
}
#endif
