/* fiber.h — the emulator's context switch: a hand-written one for x86-64 (callee-saved registers and the
 * stack pointer, nothing else: kernels never change the FP control state), ucontext elsewhere. Stacks come
 * from mmap with a PROT_NONE guard page below, so an overflow faults instead of corrupting a neighbour. */
#ifndef MST_CUDA_EMU_FIBER_H
#define MST_CUDA_EMU_FIBER_H

#include <stddef.h>

#if !defined(__x86_64__)
#include <ucontext.h>
#endif

typedef struct mst_emu_ctx {
#if defined(__x86_64__)
    void *sp;
#else
    ucontext_t uc;
#endif
} mst_emu_ctx;

/* Prepares ctx to start entry() on the given stack at the next switch to it. entry must never return. */
void mst_emu_ctx_init(mst_emu_ctx *ctx, unsigned char *stack, size_t size, void (*entry)(void));

#if defined(__x86_64__)
extern "C" void mst_emu_fiber_switch_x86_64(void **save_sp, void *to_sp);
/* Saves the running context in from and resumes to. */
static inline void mst_emu_ctx_switch(mst_emu_ctx *from, mst_emu_ctx *to)
{
    mst_emu_fiber_switch_x86_64(&from->sp, to->sp);
}
#else
static inline void mst_emu_ctx_switch(mst_emu_ctx *from, mst_emu_ctx *to)
{
    swapcontext(&from->uc, &to->uc);
}
#endif

/* A stack of `size` usable bytes (plus the guard page); NULL when mmap fails. Stacks are pooled for the
 * life of the process (the emulator reuses them launch after launch). */
unsigned char *mst_emu_stack_get(size_t size);
void mst_emu_stack_put(unsigned char *stack, size_t size);

#endif
