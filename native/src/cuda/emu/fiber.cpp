/* fiber.cpp — see fiber.h. */
#include "fiber.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#if defined(__x86_64__)
/* mst_emu_fiber_switch_x86_64(void **save_sp, void *to_sp): pushes the SysV callee-saved registers, stores
 * the stack pointer, loads the other one and pops its registers; `ret` resumes it. A new context's stack is
 * laid out by mst_emu_ctx_init so that the first switch "returns" into mst_emu_fiber_start. */
asm(R"(
    .text
    .p2align 4
    .globl mst_emu_fiber_switch_x86_64
    .hidden mst_emu_fiber_switch_x86_64
    .type mst_emu_fiber_switch_x86_64, @function
mst_emu_fiber_switch_x86_64:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size mst_emu_fiber_switch_x86_64, .-mst_emu_fiber_switch_x86_64

    .p2align 4
    .type mst_emu_fiber_start, @function
mst_emu_fiber_start:
    callq *%r12
    ud2
    .size mst_emu_fiber_start, .-mst_emu_fiber_start
)");
extern "C" void mst_emu_fiber_start(void);

void mst_emu_ctx_init(mst_emu_ctx *ctx, unsigned char *stack, size_t size, void (*entry)(void))
{
    /* After the first switch pops six registers and returns into mst_emu_fiber_start, rsp must be 16-byte
     * aligned so that its call enters entry() with the ABI's alignment. */
    uintptr_t top = ((uintptr_t)(stack + size) & ~(uintptr_t)15) - 16;
    void **sp = (void **)top;
    *--sp = (void *)&mst_emu_fiber_start; /* return address */
    *--sp = 0;                            /* rbp: 0 ends frame-pointer unwinds (ASan reports) here */
    *--sp = 0;                            /* rbx */
    *--sp = (void *)entry;                /* r12 */
    *--sp = 0;                            /* r13 */
    *--sp = 0;                            /* r14 */
    *--sp = 0;                            /* r15 */
    ctx->sp = sp;
}
#else
void mst_emu_ctx_init(mst_emu_ctx *ctx, unsigned char *stack, size_t size, void (*entry)(void))
{
    getcontext(&ctx->uc);
    ctx->uc.uc_stack.ss_sp = stack;
    ctx->uc.uc_stack.ss_size = size;
    ctx->uc.uc_link = NULL;
    makecontext(&ctx->uc, entry, 0);
}
#endif

/* The pool: a free list of stacks of one size (the emulator uses one size per build). Only touched under
 * the launch mutex, but a lock of its own keeps it correct on its own. */
static pthread_mutex_t g_pool_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned char **g_pool;
static size_t g_pool_count, g_pool_cap, g_pool_size;

static size_t page_size(void)
{
    long p = sysconf(_SC_PAGESIZE);
    return p > 0 ? (size_t)p : 4096;
}

unsigned char *mst_emu_stack_get(size_t size)
{
    pthread_mutex_lock(&g_pool_lock);
    if (g_pool_count > 0 && g_pool_size == size) {
        unsigned char *s = g_pool[--g_pool_count];
        pthread_mutex_unlock(&g_pool_lock);
        return s;
    }
    pthread_mutex_unlock(&g_pool_lock);
    size_t guard = page_size();
    void *m = mmap(NULL, size + guard, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    mprotect(m, guard, PROT_NONE); /* the stack grows down into this page */
    return (unsigned char *)m + guard;
}

void mst_emu_stack_put(unsigned char *stack, size_t size)
{
    pthread_mutex_lock(&g_pool_lock);
    if (g_pool_size != size) {
        /* a different size than the pooled ones (never happens within one build): drop the old pool */
        for (size_t i = 0; i < g_pool_count; i++)
            munmap(g_pool[i] - page_size(), g_pool_size + page_size());
        g_pool_count = 0;
        g_pool_size = size;
    }
    if (g_pool_count == g_pool_cap) {
        size_t cap = g_pool_cap ? 2 * g_pool_cap : 64;
        unsigned char **p = (unsigned char **)realloc(g_pool, cap * sizeof *p);
        if (!p) {
            pthread_mutex_unlock(&g_pool_lock);
            munmap(stack - page_size(), size + page_size());
            return;
        }
        g_pool = p;
        g_pool_cap = cap;
    }
    g_pool[g_pool_count++] = stack;
    pthread_mutex_unlock(&g_pool_lock);
}
