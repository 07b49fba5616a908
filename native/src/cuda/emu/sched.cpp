/* sched.cpp — launches, blocks and block barriers: runs each block's threads as fibers until every one has
 * exited, switching only at sync points. See emu.h for the model and sched.h for the state. */
#include "sched.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asan.h"

mst_emu_uint3 mst_emu_threadIdx, mst_emu_blockIdx, mst_emu_blockDim, mst_emu_gridDim;
emu_state *g_emu;

static pthread_mutex_t g_launch_lock = PTHREAD_MUTEX_INITIALIZER;

#if defined(MST_EMU_ASAN)
/* Fiber stacks are larger under ASan: its frames carry redzones, and its report runs on the faulting stack. */
#define EMU_STACK_SIZE (512u * 1024u)
#else
#define EMU_STACK_SIZE (64u * 1024u)
#endif

/* ---- switching ---- */

static void fiber_main(void);

static void after_switch(emu_thread *me)
{
    emu_state *s = g_emu;
    if (s->retired_stack) {
        s->free_stacks[s->n_free_stacks++] = s->retired_stack;
        s->retired_stack = NULL;
    }
#if defined(MST_EMU_ASAN)
    const void *bottom;
    size_t size;
    __sanitizer_finish_switch_fiber(me ? me->asan_fake_stack : s->main_fake_stack, &bottom, &size);
#else
    (void)me;
#endif
}

/* Gives a thread that has not run yet a stack and its initial context; 0 when no stack can be had. */
static int prepare(emu_state *s, emu_thread *t)
{
    unsigned char *st;
    if (s->n_free_stacks)
        st = s->free_stacks[--s->n_free_stacks];
    else {
        if (!(st = mst_emu_stack_get(s->stack_size)))
            return 0;
        s->all_stacks[s->n_all_stacks++] = st;
    }
#if defined(MST_EMU_ASAN)
    /* the thread that used it before left its last frames' redzones near the top */
    ASAN_UNPOISON_MEMORY_REGION(st + s->stack_size - 8192, 8192);
#endif
    t->stack = st;
    t->asan_fake_stack = NULL;
    mst_emu_ctx_init(&t->ctx, st, s->stack_size, fiber_main);
    return 1;
}

/* Leaves `from` (NULL: the scheduler) for `to` (NULL: the scheduler). from_exits: `from` never runs again,
 * so ASan may drop its fake stack. Returns when something switches back to `from`. */
static void emu_switch(emu_thread *from, emu_thread *to, int from_exits)
{
    emu_state *s = g_emu;
    if (to && !to->stack && !prepare(s, to)) {
        emu_fail_from_scheduler(to, "no memory for another %zu-byte fiber stack", s->stack_size);
        to = NULL; /* back to the scheduler, which sees the failure */
        if (!from)
            return;
    }
    s->cur = to;
    if (to) {
        to->state = EMU_RUNNING;
        mst_emu_threadIdx = to->tid;
    }
#if defined(MST_EMU_ASAN)
    void **fake = from_exits ? NULL : (from ? &from->asan_fake_stack : &s->main_fake_stack);
    if (to)
        __sanitizer_start_switch_fiber(fake, to->stack, s->stack_size);
    else
        __sanitizer_start_switch_fiber(fake, s->main_stack_bottom, s->main_stack_size);
#else
    (void)from_exits;
#endif
    mst_emu_ctx_switch(from ? &from->ctx : &s->main_ctx, to ? &to->ctx : &s->main_ctx);
    after_switch(from);
}

void emu_make_ready(emu_thread *t)
{
    emu_state *s = g_emu;
    t->state = EMU_READY;
    s->ready[(s->ready_head + s->ready_count++) & s->ready_mask] = t->linear;
}

static emu_thread *pop_ready(emu_state *s)
{
    if (s->ready_count == 0)
        return NULL;
    uint32_t i = s->ready[s->ready_head];
    s->ready_head = (s->ready_head + 1) & s->ready_mask;
    s->ready_count--;
    return &s->threads[i];
}

void emu_block_current(void)
{
    emu_state *s = g_emu;
    emu_switch(s->cur, pop_ready(s), 0);
}

/* Called by report.cpp: the running thread is abandoned (never resumed); back to the scheduler. */
void emu_abandon_current(void)
{
    emu_state *s = g_emu;
    emu_switch(s->cur, NULL, 0);
}

/* ---- barriers and exit ---- */

static int same_site(const char *f1, int l1, const char *f2, int l2)
{
    return l1 == l2 && (f1 == f2 || strcmp(f1, f2) == 0);
}

static void barrier_complete(emu_state *s)
{
    s->bar_arrived = 0;
    s->epoch++; /* every shared access before this barrier is now ordered before every one after it */
    for (uint32_t i = 0; i < s->n_threads; i++)
        if (s->threads[i].state == EMU_AT_BARRIER)
            emu_make_ready(&s->threads[i]);
}

void mst_emu_syncthreads(const char *file, int line)
{
    emu_state *s = g_emu;
    emu_thread *me = s ? s->cur : NULL;
    if (!me)
        return; /* not inside a launch: nothing to wait for */
    if (s->bar_arrived > 0 && !same_site(s->bar_file, s->bar_line, file, line)) {
        const emu_thread *other = NULL;
        for (uint32_t i = 0; i < s->n_threads && !other; i++)
            if (s->threads[i].state == EMU_AT_BARRIER)
                other = &s->threads[i];
        char who[48];
        emu_tid_str(other->linear, who, sizeof who);
        emu_fail("divergent barrier: this thread reached mst_syncthreads at %s:%d while thread %s waits at "
                 "mst_syncthreads %s:%d (every thread of the block must reach the same barrier)",
                 file, line, who, s->bar_file, s->bar_line);
    }
    if (s->bar_arrived == 0) {
        s->bar_file = file;
        s->bar_line = line;
    }
    s->bar_arrived++;
    if (s->bar_arrived + s->n_exited == s->n_threads) {
        barrier_complete(s); /* the last to arrive goes on without a switch */
        return;
    }
    me->state = EMU_AT_BARRIER;
    me->wait_file = file;
    me->wait_line = line;
    me->wait_kind = 0;
    emu_block_current();
}

static void thread_exit(emu_state *s, emu_thread *me)
{
    emu_cp_async_at_exit(me); /* fails the launch if copies are still pending */
    me->state = EMU_EXITED;
    s->n_exited++;
    emu_warp *w = &s->warps[me->linear / MST_EMU_WARP];
    w->exited++;
    if (w->arrived > 0) {
        if (w->kind != MST_EMU_OP_SYNCWARP) {
            const emu_thread *lane = NULL;
            uint32_t base = (me->linear / MST_EMU_WARP) * MST_EMU_WARP;
            for (uint32_t l = 0; l < w->lanes && !lane; l++)
                if (s->threads[base + l].state == EMU_AT_WARP_OP)
                    lane = &s->threads[base + l];
            char who[48];
            emu_tid_str(lane->linear, who, sizeof who);
            emu_fail("exited while thread %s of its warp waits at %s at %s:%d (a warp collective needs every lane "
                     "of the warp; keep the warp converged)",
                     who, emu_op_name(w->kind), lane->wait_file, lane->wait_line);
        }
        if (w->arrived + w->exited == w->lanes)
            emu_warp_complete(w, me->linear / MST_EMU_WARP);
    }
    if (s->bar_arrived > 0 && s->bar_arrived + s->n_exited == s->n_threads)
        barrier_complete(s); /* exited threads count as arrived */
    s->retired_stack = me->stack; /* free for the next thread once we are off it */
    me->stack = NULL;
    emu_switch(me, pop_ready(s), 1);
    /* never resumed */
}

static void fiber_main(void)
{
    emu_state *s = g_emu;
#if defined(MST_EMU_ASAN)
    const void *bottom;
    size_t size;
    __sanitizer_finish_switch_fiber(NULL, &bottom, &size);
    if (s->main_stack_size == 0) { /* the first switch of a launch comes from the scheduler */
        s->main_stack_bottom = bottom;
        s->main_stack_size = size;
    }
#endif
    if (s->retired_stack) {
        s->free_stacks[s->n_free_stacks++] = s->retired_stack;
        s->retired_stack = NULL;
    }
    emu_thread *me = s->cur;
    s->kernel->emu_entry(s->args);
    thread_exit(s, me);
}

/* ---- blocks and launches ---- */

static void deadlock(emu_state *s)
{
    const emu_thread *bar = NULL, *warp = NULL;
    uint32_t blocked = 0;
    for (uint32_t i = 0; i < s->n_threads; i++) {
        const emu_thread *t = &s->threads[i];
        if (t->state == EMU_AT_BARRIER) {
            blocked++;
            if (!bar)
                bar = t;
        } else if (t->state == EMU_AT_WARP_OP) {
            blocked++;
            if (!warp)
                warp = t;
        }
    }
    const emu_thread *first = bar && (!warp || bar->linear < warp->linear) ? bar : warp;
    const emu_thread *second = first == bar ? warp : bar;
    if (!first) {
        emu_fail_from_scheduler(NULL, "internal: block stopped with no thread waiting");
        return;
    }
    char what1[160], what2[200] = "";
    snprintf(what1, sizeof what1, "%s at %s:%d", first == bar ? "mst_syncthreads" : emu_op_name(first->wait_kind),
             first->wait_file, first->wait_line);
    if (second) {
        char who[48];
        emu_tid_str(second->linear, who, sizeof who);
        snprintf(what2, sizeof what2, "; thread %s waits at %s at %s:%d", who,
                 second == bar ? "mst_syncthreads" : emu_op_name(second->wait_kind), second->wait_file,
                 second->wait_line);
    }
    emu_fail_from_scheduler(first,
                            "deadlock: %u live threads all wait and none can go on: this thread waits at %s%s (a "
                            "warp collective needs every lane of its warp, a barrier every live thread of the block)",
                            blocked, what1, what2);
}

static void run_block(emu_state *s)
{
    s->n_exited = 0;
    s->bar_arrived = 0;
    s->epoch++;
    s->ready_head = 0;
    s->ready_count = 0;
    for (uint32_t w = 0; w < s->n_warps; w++) {
        s->warps[w].exited = 0;
        s->warps[w].arrived = 0;
        s->warps[w].epoch = 0;
    }
    emu_shared_block_start(s);
    for (uint32_t i = 0; i < s->n_threads; i++)
        emu_make_ready(&s->threads[i]); /* each gets a stack when it first runs */
    emu_switch(NULL, pop_ready(s), 0);
    if (!s->failed && s->n_exited != s->n_threads)
        deadlock(s);
}

#if defined(MST_EMU_ASAN)
static void asan_death(void)
{
    char where[256];
    if (mst_emu_where(where, sizeof where))
        fprintf(stderr, "SIMT emulator: the error above happened in %s\n", where);
}
#endif

static mst_status check_dims(const mst_kernel_ref *k, mst_dim3 grid, mst_dim3 block, uint32_t shared_bytes,
                             char *msg, size_t msg_len)
{
    const char *why = NULL;
    uint64_t n = (uint64_t)block.x * block.y * block.z;
    if (!k || !k->emu_entry)
        why = "the kernel has no emulator entry (is its .cu compiled in the host pass with MST_REGISTER_KERNEL?)";
    else if (grid.x == 0 || grid.y == 0 || grid.z == 0 || grid.x > 0x7fffffffu || grid.y > 65535 || grid.z > 65535)
        why = "grid dimensions out of range (x 1..2^31-1, y and z 1..65535)";
    else if (block.x == 0 || block.y == 0 || block.z == 0 || block.z > 64 || n > 1024)
        why = "block dimensions out of range (at most 1024 threads, z at most 64)";
    else if (shared_bytes > 163u * 1024u)
        why = "dynamic shared memory above sm_80's 163 KiB";
    if (!why)
        return MST_OK;
    snprintf(msg, msg_len, "SIMT emulator: launch of %s with grid (%u,%u,%u) block (%u,%u,%u) shared %u: %s",
             k && k->name ? k->name : "(null)", grid.x, grid.y, grid.z, block.x, block.y, block.z, shared_bytes,
             why);
    return MST_ERR_INVALID_ARGUMENT;
}

mst_status mst_emu_launch(const mst_kernel_ref *k, mst_dim3 grid, mst_dim3 block, uint32_t shared_bytes, void **args,
                          char *msg, size_t msg_len)
{
    if (msg_len)
        msg[0] = 0;
    mst_status st = check_dims(k, grid, block, shared_bytes, msg, msg_len);
    if (st != MST_OK)
        return st;

    pthread_mutex_lock(&g_launch_lock);
#if defined(MST_EMU_ASAN)
    static int death_hook;
    if (!death_hook) {
        __asan_set_death_callback(asan_death);
        death_hook = 1;
    }
#endif
    emu_state st_ = {};
    emu_state *s = &st_;
    s->kernel = k;
    s->args = args;
    s->grid = grid;
    s->block = block;
    s->shared_bytes = shared_bytes;
    s->n_threads = block.x * block.y * block.z;
    s->n_warps = (s->n_threads + MST_EMU_WARP - 1) / MST_EMU_WARP;
    s->stack_size = EMU_STACK_SIZE;
    s->msg = msg;
    s->msg_len = msg_len;
    s->threads = (emu_thread *)calloc(s->n_threads, sizeof *s->threads);
    s->warps = (emu_warp *)calloc(s->n_warps, sizeof *s->warps);
    s->ready_mask = 1;
    while (s->ready_mask < s->n_threads)
        s->ready_mask *= 2;
    s->ready = (uint32_t *)calloc(s->ready_mask, sizeof *s->ready);
    s->ready_mask -= 1;
    /* +1: the retired stack of the block's last exit joins the free ones */
    s->free_stacks = (unsigned char **)calloc(s->n_threads + 1, sizeof *s->free_stacks);
    s->all_stacks = (unsigned char **)calloc(s->n_threads + 1, sizeof *s->all_stacks);
    if (!s->threads || !s->warps || !s->ready || !s->free_stacks || !s->all_stacks) {
        snprintf(msg, msg_len, "SIMT emulator: launch of %s: no memory for %u threads", k->name, s->n_threads);
        st = MST_ERR_OUT_OF_MEMORY;
    } else {
        st = emu_shared_launch_init(s);
    }
    if (st == MST_OK) {
        for (uint32_t i = 0; i < s->n_threads; i++) {
            emu_thread *t = &s->threads[i];
            t->linear = i;
            t->tid.x = i % block.x;
            t->tid.y = (i / block.x) % block.y;
            t->tid.z = i / (block.x * block.y);
        }
        for (uint32_t w = 0; w < s->n_warps; w++) {
            uint32_t left = s->n_threads - w * MST_EMU_WARP;
            s->warps[w].lanes = left < MST_EMU_WARP ? left : MST_EMU_WARP;
        }
        mst_emu_gridDim = mst_emu_uint3{grid.x, grid.y, grid.z};
        mst_emu_blockDim = mst_emu_uint3{block.x, block.y, block.z};
        g_emu = s;
        for (uint32_t z = 0; z < grid.z && !s->failed; z++)
            for (uint32_t y = 0; y < grid.y && !s->failed; y++)
                for (uint32_t x = 0; x < grid.x && !s->failed; x++) {
                    mst_emu_blockIdx = mst_emu_uint3{x, y, z};
                    run_block(s);
                }
        g_emu = NULL;
        st = s->failed ? MST_ERR_INTERNAL : MST_OK;
    }
    emu_shared_release(s);
    emu_cp_async_release(s);
    for (uint32_t i = 0; i < s->n_all_stacks; i++) {
#if defined(MST_EMU_ASAN)
        if (s->failed) /* abandoned threads leave redzones anywhere on their stacks */
            ASAN_UNPOISON_MEMORY_REGION(s->all_stacks[i], s->stack_size);
#endif
        mst_emu_stack_put(s->all_stacks[i], s->stack_size);
    }
    free(s->free_stacks);
    free(s->all_stacks);
    free(s->threads);
    free(s->warps);
    free(s->ready);
    pthread_mutex_unlock(&g_launch_lock);
    return st;
}
