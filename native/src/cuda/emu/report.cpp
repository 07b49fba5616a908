/* report.cpp — the emulator's failure messages: every one starts with the kernel, block and thread, so a
 * failing test names where to look. */
#include <stdio.h>
#include <stdlib.h>

#include "sched.h"

void emu_tid_str(uint32_t linear, char *buf, size_t n)
{
    const mst_dim3 b = g_emu->block;
    snprintf(buf, n, "(%u,%u,%u)", linear % b.x, (linear / b.x) % b.y, linear / (b.x * b.y));
}

const char *emu_op_name(int kind)
{
    switch (kind) {
    case MST_EMU_OP_SYNCWARP: return "mst_syncwarp";
    case MST_EMU_OP_SHFL_XOR: return "mst_shfl_xor";
    case MST_EMU_OP_SHFL_DOWN: return "mst_shfl_down";
    case MST_EMU_OP_SHFL_IDX: return "mst_shfl_idx";
    case MST_EMU_OP_BALLOT: return "mst_ballot";
    case MST_EMU_OP_MMA_F16: return "mst_mma_m16n8k16_f16_f32";
    case MST_EMU_OP_MMA_S8: return "mst_mma_m16n8k32_s8_s32";
    case MST_EMU_OP_MMA_BF16: return "mst_mma_m16n8k16_bf16_f32";
    case MST_EMU_OP_LDMATRIX_X1: return "mst_ldmatrix_x1";
    case MST_EMU_OP_LDMATRIX_X2: return "mst_ldmatrix_x2";
    case MST_EMU_OP_LDMATRIX_X4: return "mst_ldmatrix_x4";
    case MST_EMU_OP_LDMATRIX_X1_T: return "mst_ldmatrix_x1_trans";
    case MST_EMU_OP_LDMATRIX_X2_T: return "mst_ldmatrix_x2_trans";
    case MST_EMU_OP_LDMATRIX_X4_T: return "mst_ldmatrix_x4_trans";
    default: return "mst_syncthreads";
    }
}

static int where(const emu_state *s, const emu_thread *who, char *buf, size_t n)
{
    if (!who)
        return snprintf(buf, n, "kernel %s block (%u,%u,%u)", s->kernel->name, mst_emu_blockIdx.x,
                        mst_emu_blockIdx.y, mst_emu_blockIdx.z);
    return snprintf(buf, n, "kernel %s block (%u,%u,%u) thread (%u,%u,%u)", s->kernel->name, mst_emu_blockIdx.x,
                    mst_emu_blockIdx.y, mst_emu_blockIdx.z, who->tid.x, who->tid.y, who->tid.z);
}

int mst_emu_where(char *buf, size_t n)
{
    const emu_state *s = g_emu;
    if (n)
        buf[0] = 0;
    if (!s || !s->cur)
        return 0;
    where(s, s->cur, buf, n);
    return 1;
}

static void vrecord(emu_state *s, const emu_thread *who, const char *fmt, va_list ap)
{
    if (s->failed)
        return; /* the first failure is the one to report */
    s->failed = 1;
    if (!s->msg_len)
        return;
    int k = snprintf(s->msg, s->msg_len, "SIMT emulator: ");
    if (k > 0 && (size_t)k < s->msg_len)
        k += where(s, who, s->msg + k, s->msg_len - (size_t)k);
    if (k > 0 && (size_t)k + 2 < s->msg_len) {
        s->msg[k++] = ':';
        s->msg[k++] = ' ';
        vsnprintf(s->msg + k, s->msg_len - (size_t)k, fmt, ap);
    }
}

void emu_fail(const char *fmt, ...)
{
    emu_state *s = g_emu;
    va_list ap;
    va_start(ap, fmt);
    if (!s || !s->cur) {
        /* a kernel body called outside any launch: there is no launch to fail */
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        abort();
    }
    vrecord(s, s->cur, fmt, ap);
    va_end(ap);
    emu_abandon_current();
    __builtin_unreachable(); /* the scheduler never resumes an abandoned thread */
}

void emu_fail_as(const emu_thread *who, const char *fmt, ...)
{
    emu_state *s = g_emu;
    va_list ap;
    va_start(ap, fmt);
    vrecord(s, who, fmt, ap);
    va_end(ap);
    emu_abandon_current();
    __builtin_unreachable();
}

void emu_fail_from_scheduler(const emu_thread *who, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vrecord(g_emu, who, fmt, ap);
    va_end(ap);
}
