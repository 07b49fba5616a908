/* ldmatrix.cpp — ldmatrix.sync.aligned.m8n8.{x1,x2,x4}[.trans].shared.b16 (PTX ISA, "Warp-level matrix load
 * instruction: ldmatrix"), a warp collective like mma (warp.cpp): every lane arrives, the last one computes
 * every lane's registers.
 *
 * Matrix i (of num) is 8 rows of 8 b16 elements; lane 8i + j gives the address of its row j (16 bytes, 16-byte
 * aligned, in shared memory). Lanes at or above 8 * num give no address (the ISA ignores theirs from sm_80 on).
 * Lane l receives in r[i] row l/4, elements 2(l%4) and 2(l%4)+1 of matrix i (the lower column in the low
 * half); with .trans, those of the transposed matrix: elements (2(l%4), l/4) and (2(l%4)+1, l/4).
 *
 * Checks, each failing the launch naming the lane's thread: a row address outside the block's shared memory,
 * running past its array's end, or not 16-byte aligned on the device (an array declared with less than
 * 16-byte alignment may sit at any multiple of its alignment there, whatever it happens to be here); lanes at
 * different ldmatrix call sites or forms (.aligned: one instruction for the whole warp); an exited lane; a
 * partial warp. The bytes read go through the race check as reads by the lane that receives them. */
#include <stdio.h>
#include <string.h>

#include "sched.h"

struct lane_ldm {
    uint32_t *r;
    int num, trans;
    int has_row;          /* this lane gives a row address (lane < 8 * num) */
    emu_shared_span span; /* that row */
};

static int kind_of(int num, int trans)
{
    return MST_EMU_OP_LDMATRIX_X1 + (num == 1 ? 0 : num == 2 ? 1 : 2) + 3 * (trans != 0);
}

void mst_emu_ldmatrix(const char *file, int line, int num, int trans, uint32_t *r, const void *row)
{
    emu_state *s = g_emu;
    emu_thread *me = s ? s->cur : NULL;
    const int kind = kind_of(num, trans);
    const char *name = emu_op_name(kind);
    if (!me)
        emu_fail("%s called outside a kernel launch", name);
    const uint32_t lane = me->linear % MST_EMU_WARP, wi = me->linear / MST_EMU_WARP, base = wi * MST_EMU_WARP;
    lane_ldm io;
    memset(&io, 0, sizeof io);
    io.r = r;
    io.num = num;
    io.trans = trans;
    io.has_row = lane < 8u * (uint32_t)num;
    if (io.has_row) {
        if (!emu_shared_find(row, 16, &io.span)) {
            if (io.span.data) {
                char where[200];
                emu_shared_describe(&io.span, io.span.offset, where, sizeof where);
                emu_fail("%s at %s:%d: lane %u's row address is %s, and its 16 bytes run past the end of that "
                         "%llu-byte array",
                         name, file, line, lane, where, (unsigned long long)io.span.bytes);
            }
            emu_fail("%s at %s:%d: lane %u's row address %p is not in this block's shared memory (ldmatrix reads "
                     "16-byte rows of shared memory: pass &array[i] of an MST_SHARED or MST_SHARED_DYN array)",
                     name, file, line, lane, row);
        }
        if (io.span.offset % 16 != 0 || io.span.align < 16) {
            char where[200];
            emu_shared_describe(&io.span, io.span.offset, where, sizeof where);
            if (io.span.offset % 16 != 0)
                emu_fail("%s at %s:%d: lane %u's row address (%s) is not 16-byte aligned (each row address of "
                         "ldmatrix must be)",
                         name, file, line, lane, where);
            emu_fail("%s at %s:%d: lane %u's row address (%s) is 16-byte aligned only here: the array is declared "
                     "with %llu-byte alignment, and the device may place it at any multiple of that (declare it with "
                     "MST_SHARED_ALIGNED(type, name, count, 16))",
                     name, file, line, lane, where, (unsigned long long)io.span.align);
        }
    }
    /* .aligned: the lanes already waiting must be at this very instruction, not another ldmatrix */
    emu_warp *w = &s->warps[wi];
    if (w->arrived && w->kind == kind) {
        const emu_thread *o = NULL;
        for (uint32_t l = 0; l < w->lanes && !o; l++)
            if (s->threads[base + l].state == EMU_AT_WARP_OP)
                o = &s->threads[base + l];
        if (o && (o->wait_line != line || strcmp(o->wait_file, file) != 0)) {
            char who[48];
            emu_tid_str(o->linear, who, sizeof who);
            emu_fail("reached %s at %s:%d while thread %s of its warp waits at %s at %s:%d (ldmatrix is .aligned: "
                     "every lane of the warp must execute the same ldmatrix instruction; keep it out of divergent "
                     "code)",
                     name, file, line, who, name, o->wait_file, o->wait_line);
        }
    }
    emu_warp_op(kind, file, line, &io);
}

void emu_ldmatrix_complete(emu_state *s, emu_warp *w, uint32_t base)
{
    const emu_thread *t0 = &s->threads[base];
    if (w->lanes != MST_EMU_WARP) {
        char who[48];
        emu_tid_str(t0->linear, who, sizeof who);
        emu_fail_as(t0, "%s at %s:%d needs a full warp; the warp of thread %s has %u lanes", emu_op_name(w->kind),
                    t0->wait_file, t0->wait_line, who, w->lanes);
    }
    const lane_ldm *io0 = (const lane_ldm *)t0->wait_data;
    const int num = io0->num, trans = io0->trans;
    uint32_t out[MST_EMU_WARP][4];
    memset(out, 0, sizeof out);
    for (int i = 0; i < num; i++)
        for (uint32_t j = 0; j < 8; j++) {
            const lane_ldm *io = (const lane_ldm *)s->threads[base + 8 * (uint32_t)i + j].wait_data;
            const unsigned char *row = io->span.data + io->span.offset;
            for (uint32_t c = 0; c < 8; c++) {
                /* element (j, c) of matrix i: which lane receives it, and in which half */
                const uint32_t recv = trans ? 4 * c + j / 2 : 4 * j + c / 2;
                const uint32_t half = trans ? j % 2 : c % 2;
                emu_shared_access_raw(&io->span, io->span.offset + 2 * c, 2, &s->threads[base + recv],
                                      EMU_ACCESS_READ);
                const uint32_t v = (uint32_t)row[2 * c] | ((uint32_t)row[2 * c + 1] << 8);
                out[recv][i] |= v << (16 * half);
            }
        }
    for (uint32_t l = 0; l < MST_EMU_WARP; l++) {
        const lane_ldm *io = (const lane_ldm *)s->threads[base + l].wait_data;
        for (int i = 0; i < num; i++)
            io->r[i] = out[l][i];
    }
}
