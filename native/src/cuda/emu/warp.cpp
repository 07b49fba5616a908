/* warp.cpp — warp collectives: mst_syncwarp, shuffles, ballot and the tensor-core products (ldmatrix, also
 * one, is in ldmatrix.cpp). They
 * synchronise the 32 consecutive threads (by linear id) of one warp, never the block: a lane waits until
 * every lane of its warp has reached the same kind of collective, and the last to arrive computes every
 * lane's result. Exited lanes count as arrived for mst_syncwarp only; a shuffle, ballot or mma with an
 * exited lane fails (its value would be undefined on the hardware). */
#include <string.h>

#include "sched.h"

struct lane_u32 {
    uint32_t v, param, out;
};
struct lane_mma {
    void *d;
    const uint32_t *a, *b;
    const void *c;
};

void emu_warp_op(int kind, const char *file, int line, void *data)
{
    emu_state *s = g_emu;
    emu_thread *me = s ? s->cur : NULL;
    if (!me)
        emu_fail("%s called outside a kernel launch", emu_op_name(kind));
    uint32_t wi = me->linear / MST_EMU_WARP, base = wi * MST_EMU_WARP;
    emu_warp *w = &s->warps[wi];
    if (kind != MST_EMU_OP_SYNCWARP && w->exited) {
        uint32_t l = 0;
        while (l < w->lanes && s->threads[base + l].state != EMU_EXITED)
            l++;
        char who[48];
        emu_tid_str(base + l, who, sizeof who);
        emu_fail("%s at %s:%d: lane %u (thread %s) of this warp has exited (a warp collective needs every lane "
                 "of the warp; keep the warp converged)",
                 emu_op_name(kind), file, line, l, who);
    }
    if (w->arrived && w->kind != kind) {
        uint32_t l = 0;
        while (l < w->lanes && s->threads[base + l].state != EMU_AT_WARP_OP)
            l++;
        const emu_thread *o = &s->threads[base + l];
        char who[48];
        emu_tid_str(o->linear, who, sizeof who);
        emu_fail("reached %s at %s:%d while thread %s of its warp waits at %s at %s:%d (the lanes of a warp must "
                 "meet at the same warp collective)",
                 emu_op_name(kind), file, line, who, emu_op_name(o->wait_kind), o->wait_file, o->wait_line);
    }
    w->kind = kind;
    me->wait_kind = kind;
    me->wait_file = file;
    me->wait_line = line;
    me->wait_data = data;
    me->state = EMU_AT_WARP_OP;
    w->arrived++;
    if (w->arrived + (kind == MST_EMU_OP_SYNCWARP ? w->exited : 0) == w->lanes) {
        emu_warp_complete(w, wi);
        return;
    }
    emu_block_current();
}

static void shuffle(emu_state *s, emu_warp *w, uint32_t base)
{
    for (uint32_t l = 0; l < w->lanes; l++) {
        emu_thread *t = &s->threads[base + l];
        lane_u32 *io = (lane_u32 *)t->wait_data;
        uint32_t src;
        switch (t->wait_kind) {
        case MST_EMU_OP_SHFL_XOR: src = l ^ io->param; break;
        case MST_EMU_OP_SHFL_DOWN: src = l + io->param; break;
        default: src = io->param & 31u; break;
        }
        if (src >= MST_EMU_WARP || (t->wait_kind == MST_EMU_OP_SHFL_DOWN && io->param >= MST_EMU_WARP)) {
            io->out = io->v; /* outside the warp: the lane keeps its own value, as shfl.sync does */
            continue;
        }
        if (src >= w->lanes) {
            char who[48];
            emu_tid_str(t->linear, who, sizeof who);
            emu_fail("%s at %s:%d: lane %u (thread %s) reads lane %u, which does not exist (this warp has %u "
                     "lanes: the block size is not a multiple of 32)",
                     emu_op_name(t->wait_kind), t->wait_file, t->wait_line, l, who, src, w->lanes);
        }
        io->out = ((lane_u32 *)s->threads[base + src].wait_data)->v;
    }
}

static void ballot(emu_state *s, emu_warp *w, uint32_t base)
{
    uint32_t bits = 0;
    for (uint32_t l = 0; l < w->lanes; l++)
        if (((lane_u32 *)s->threads[base + l].wait_data)->v)
            bits |= 1u << l;
    for (uint32_t l = 0; l < w->lanes; l++)
        ((lane_u32 *)s->threads[base + l].wait_data)->out = bits;
}

static float h2f(uint32_t word, int hi)
{
    return mst_emu_h2f((uint16_t)(hi ? word >> 16 : word & 0xffffu));
}

/* The same for a bf16 element (the top half of a float: exact). */
static float bf2f(uint32_t word, int hi)
{
    const uint32_t u = (hi ? word >> 16 : word & 0xffffu) << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* mma fragment layouts (PTX ISA, mma.m16n8k16 / m16n8k32): g = lane >> 2, t = lane % 4. All inputs are
 * gathered before any output is written: d and c may be the same array. */
static void mma(emu_state *s, emu_warp *w, uint32_t base, int kind)
{
    const emu_thread *t0 = &s->threads[base];
    if (w->lanes != MST_EMU_WARP) {
        char who[48];
        emu_tid_str(t0->linear, who, sizeof who);
        emu_fail("%s at %s:%d needs a full warp; the warp of thread %s has %u lanes", emu_op_name(kind),
                 t0->wait_file, t0->wait_line, who, w->lanes);
    }
    double acc[16][8];
    if (kind == MST_EMU_OP_MMA_F16 || kind == MST_EMU_OP_MMA_BF16) {
        float (*const cvt)(uint32_t, int) = kind == MST_EMU_OP_MMA_BF16 ? bf2f : h2f;
        float A[16][16], B[16][8];
        for (uint32_t lane = 0; lane < 32; lane++) {
            const lane_mma *io = (const lane_mma *)s->threads[base + lane].wait_data;
            uint32_t g = lane >> 2, t = lane & 3;
            for (int r = 0; r < 4; r++)
                for (int h = 0; h < 2; h++)
                    A[g + 8 * (r & 1)][2 * t + h + 8 * (r >> 1)] = cvt(io->a[r], h);
            for (int r = 0; r < 2; r++)
                for (int h = 0; h < 2; h++)
                    B[2 * t + h + 8 * r][g] = cvt(io->b[r], h);
            const float *c = (const float *)io->c;
            for (int i = 0; i < 4; i++)
                acc[g + 8 * (i >> 1)][2 * t + (i & 1)] = c[i];
        }
        /* f16 x f16 products are exact in double (22-bit significands; bf16 x bf16: 16), and their sum is too
         * unless the magnitudes span more than ~2^31: one rounding to float at the end, as close as the hardware's
         * accumulation can be (the test's tolerance allows for the hardware's own order). */
        for (int i = 0; i < 16; i++)
            for (int j = 0; j < 8; j++)
                for (int k = 0; k < 16; k++)
                    acc[i][j] += (double)A[i][k] * (double)B[k][j];
        for (uint32_t lane = 0; lane < 32; lane++) {
            const lane_mma *io = (const lane_mma *)s->threads[base + lane].wait_data;
            uint32_t g = lane >> 2, t = lane & 3;
            float *d = (float *)io->d;
            for (int i = 0; i < 4; i++)
                d[i] = (float)acc[g + 8 * (i >> 1)][2 * t + (i & 1)];
        }
    } else {
        int32_t A[16][32], B[32][8];
        uint32_t C[16][8];
        for (uint32_t lane = 0; lane < 32; lane++) {
            const lane_mma *io = (const lane_mma *)s->threads[base + lane].wait_data;
            uint32_t g = lane >> 2, t = lane & 3;
            for (int r = 0; r < 4; r++)
                for (int byte = 0; byte < 4; byte++)
                    A[g + 8 * (r & 1)][4 * t + byte + 16 * (r >> 1)] = (int8_t)(io->a[r] >> (8 * byte));
            for (int r = 0; r < 2; r++)
                for (int byte = 0; byte < 4; byte++)
                    B[4 * t + byte + 16 * r][g] = (int8_t)(io->b[r] >> (8 * byte));
            const int32_t *c = (const int32_t *)io->c;
            for (int i = 0; i < 4; i++)
                C[g + 8 * (i >> 1)][2 * t + (i & 1)] = (uint32_t)c[i];
        }
        for (int i = 0; i < 16; i++)
            for (int j = 0; j < 8; j++)
                for (int k = 0; k < 32; k++)
                    C[i][j] += (uint32_t)(A[i][k] * B[k][j]); /* wraps like the instruction without .satfinite */
        for (uint32_t lane = 0; lane < 32; lane++) {
            const lane_mma *io = (const lane_mma *)s->threads[base + lane].wait_data;
            uint32_t g = lane >> 2, t = lane & 3;
            int32_t *d = (int32_t *)io->d;
            for (int i = 0; i < 4; i++)
                d[i] = (int32_t)C[g + 8 * (i >> 1)][2 * t + (i & 1)];
        }
    }
}

void emu_warp_complete(emu_warp *w, uint32_t wi)
{
    emu_state *s = g_emu;
    uint32_t base = wi * MST_EMU_WARP;
    switch (w->kind) {
    case MST_EMU_OP_SHFL_XOR:
    case MST_EMU_OP_SHFL_DOWN:
    case MST_EMU_OP_SHFL_IDX: shuffle(s, w, base); break;
    case MST_EMU_OP_BALLOT: ballot(s, w, base); break;
    case MST_EMU_OP_MMA_F16:
    case MST_EMU_OP_MMA_S8:
    case MST_EMU_OP_MMA_BF16: mma(s, w, base, w->kind); break;
    default:
        if (emu_is_ldmatrix(w->kind))
            emu_ldmatrix_complete(s, w, base);
        break;
    }
    w->arrived = 0;
    w->epoch++; /* orders the warp's shared accesses before the collective before those after it */
    for (uint32_t l = 0; l < w->lanes; l++) {
        emu_thread *t = &s->threads[base + l];
        if (t->state != EMU_AT_WARP_OP)
            continue;
        if (t == s->cur)
            t->state = EMU_RUNNING; /* the last to arrive goes on without a switch */
        else
            emu_make_ready(t);
    }
}

uint32_t mst_emu_warp_u32(int kind, const char *file, int line, uint32_t v, uint32_t param)
{
    lane_u32 io = {v, param, 0};
    emu_warp_op(kind, file, line, &io);
    return io.out;
}

void mst_emu_syncwarp(const char *file, int line)
{
    emu_warp_op(MST_EMU_OP_SYNCWARP, file, line, NULL);
}

void mst_emu_mma_f16_f32(const char *file, int line, float d[4], const uint32_t a[4], const uint32_t b[2],
                         const float c[4])
{
    lane_mma io = {d, a, b, c};
    emu_warp_op(MST_EMU_OP_MMA_F16, file, line, &io);
}

void mst_emu_mma_s8_s32(const char *file, int line, int32_t d[4], const uint32_t a[4], const uint32_t b[2],
                        const int32_t c[4])
{
    lane_mma io = {d, a, b, c};
    emu_warp_op(MST_EMU_OP_MMA_S8, file, line, &io);
}

void mst_emu_mma_bf16_f32(const char *file, int line, float d[4], const uint32_t a[4], const uint32_t b[2],
                          const float c[4])
{
    lane_mma io = {d, a, b, c};
    emu_warp_op(MST_EMU_OP_MMA_BF16, file, line, &io);
}
