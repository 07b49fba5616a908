/* sched.h — the emulator's state during a launch, shared by its parts (sched.cpp runs blocks and barriers,
 * warp.cpp the warp collectives, shared.cpp shared memory and the race check, report.cpp the messages). */
#ifndef MST_CUDA_EMU_SCHED_H
#define MST_CUDA_EMU_SCHED_H

#include <stdarg.h>
#include <stdint.h>

#include "emu.h"
#include "fiber.h"

#define MST_EMU_WARP 32u

enum { EMU_READY, EMU_RUNNING, EMU_AT_BARRIER, EMU_AT_WARP_OP, EMU_EXITED };

struct emu_thread {
    mst_emu_ctx ctx;
    unsigned char *stack; /* taken when the thread first runs, given back when it exits */
    void *asan_fake_stack;
    mst_emu_uint3 tid;
    uint32_t linear; /* x + y * bx + z * bx * by: warp = linear / 32, lane = linear % 32 */
    int state;
    /* where it waits (barrier or warp op), and the warp op's per-lane data (on its own stack) */
    const char *wait_file;
    int wait_line;
    int wait_kind;
    void *wait_data;
    /* cp.async copies issued and not yet completed (async.cpp), grown as needed, freed at launch end; groups
     * are numbered by cp_commits at issue (copies with group == cp_commits are not committed yet) */
    struct emu_cp *cp;
    uint32_t cp_count, cp_cap, cp_commits;
};

struct emu_warp {
    uint32_t lanes;   /* threads that exist in this warp (the block's last warp may be partial) */
    uint32_t exited;
    uint32_t arrived; /* lanes waiting at the current warp op */
    int kind;         /* MST_EMU_OP_* of the current warp op */
    uint32_t epoch;   /* completed warp ops: orders shared accesses within the warp */
};

struct emu_shared_entry; /* shared.cpp */

struct emu_state {
    const mst_kernel_ref *kernel;
    void **args;
    mst_dim3 grid, block;
    uint32_t shared_bytes;
    uint32_t n_threads, n_warps;
    emu_thread *threads;
    emu_warp *warps;
    size_t stack_size;
    /* Stacks: a thread takes one when it first runs and gives it back when it exits, so a block whose
     * threads never wait runs on two stacks that stay in cache, not one per thread. */
    unsigned char **free_stacks, **all_stacks;
    uint32_t n_free_stacks, n_all_stacks;
    unsigned char *retired_stack; /* the stack of the thread that just exited, free once switched off it */

    /* ready queue: a ring of thread indices (capacity a power of two >= n_threads; each thread is in it
     * at most once) */
    uint32_t *ready;
    uint32_t ready_head, ready_count, ready_mask;

    emu_thread *cur; /* NULL while the scheduler (the launching thread's own stack) runs */
    mst_emu_ctx main_ctx;
    void *main_fake_stack;
    const void *main_stack_bottom;
    size_t main_stack_size;

    uint32_t n_exited;
    uint32_t bar_arrived;
    const char *bar_file;
    int bar_line;
    /* Block epoch: +1 at every block start and every completed barrier, never reset within a launch, so a
     * shared-memory record from an earlier block or barrier interval is ordered by comparing epochs. */
    uint32_t epoch;

    int failed;
    char *msg;
    size_t msg_len;

    /* shared memory (shared.cpp) */
    emu_shared_entry *shared;
    uint32_t shared_count, shared_cap;
    mst_emu_shared_mem dyn;
};

extern emu_state *g_emu;

/* sched.cpp: the running thread waits (its state already set) until woken; another thread runs meanwhile. */
void emu_block_current(void);
void emu_make_ready(emu_thread *t);
/* report.cpp, after a failed check: back to the scheduler for good. */
void emu_abandon_current(void);

/* report.cpp: formats "kernel K block (..) thread (..): <what>" for the running thread (or `who`), marks
 * the launch failed and abandons the running thread for good (returns only on the scheduler's stack). */
[[noreturn]] void emu_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same, naming thread `who` of the block (a warp collective's lane other than the running one). */
[[noreturn]] void emu_fail_as(const emu_thread *who, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void emu_fail_from_scheduler(const emu_thread *who, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "(x,y,z)" of a thread index of the block, into a small buffer. */
void emu_tid_str(uint32_t linear, char *buf, size_t n);
const char *emu_op_name(int kind);

/* warp.cpp: completes the warp op all lanes of w reached (computes every lane's result). */
void emu_warp_complete(emu_warp *w, uint32_t warp_index);
/* warp.cpp: the running thread joins warp collective `kind`; returns once the warp has completed it. */
void emu_warp_op(int kind, const char *file, int line, void *data);

/* ldmatrix.cpp: the result of an ldmatrix all 32 lanes of the warp at `base` reached. */
void emu_ldmatrix_complete(emu_state *s, emu_warp *w, uint32_t base);
static inline int emu_is_ldmatrix(int kind)
{
    return kind >= MST_EMU_OP_LDMATRIX_X1 && kind <= MST_EMU_OP_LDMATRIX_X4_T;
}

/* async.cpp: the exiting thread must have no copy pending; launch end frees the per-thread lists. */
void emu_cp_async_at_exit(emu_thread *me);
void emu_cp_async_release(emu_state *s);

/* shared.cpp: raw pointers into shared memory (ldmatrix rows, cp.async destinations). */
struct emu_shadow;
typedef struct emu_shared_span {
    const mst_emu_site *site; /* the MST_SHARED declaration; NULL: the launch's dynamic shared memory */
    unsigned char *data;      /* the array's first byte */
    struct emu_shadow *shadow;
    uint64_t bytes, align;    /* align: what the device guarantees for the array's start */
    uint64_t offset;          /* of the pointer looked up */
} emu_shared_span;
/* Finds the shared array holding p .. p+n-1; 0 when p is in none (or runs past its end: *span still says
 * which array p starts in, with span->site set, if any). */
int emu_shared_find(const void *p, uint64_t n, emu_shared_span *span);
/* "byte 40 of As (declared at f.cu:12)" into buf. */
void emu_shared_describe(const emu_shared_span *span, uint64_t offset, char *buf, size_t n);
/* The race check for `n` bytes at span->data + offset, by thread `who` (not necessarily the running one). */
enum { EMU_ACCESS_READ, EMU_ACCESS_WRITE, EMU_ACCESS_ASYNC_ISSUE, EMU_ACCESS_ASYNC_LAND };
void emu_shared_access_raw(const emu_shared_span *span, uint64_t offset, uint32_t n, const emu_thread *who, int how);
/* async.cpp, for the message of an access to a pending destination: where the copy holding byte p was issued,
 * and whether it is still uncommitted (no wait_group completes it before an mst_cp_async_commit). */
void emu_cp_async_where(const emu_thread *issuer, const unsigned char *p, const char **file, int *line,
                        int *uncommitted);

/* shared.cpp */
void emu_shared_block_start(emu_state *s);
void emu_shared_release(emu_state *s);
mst_status emu_shared_launch_init(emu_state *s);

#endif
