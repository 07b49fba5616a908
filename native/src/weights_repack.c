/* weights_repack.c — at model load, copies Q4_0, Q8_0, Q4_K, Q6_K, F16 and BF16 matrices into the 16-row interleaved
 * layouts of cpu/repack.h and cpu/repack_k.h when this CPU's kernels have a matmul for them (AVX-512 VNNI for
 * the quantized types; AVX2 or AVX-512 for F16/BF16). Every layout keeps each matrix's byte count, so w->row_bytes stays valid. One allocation holds
 * every repacked matrix; the file's mapping is then no longer read for them. Reading the file to copy
 * it makes its pages resident, though, so tensors flagged MST_TENSOR_FILE_MAPPED have their pages
 * dropped right after their copy (measured, 7B-shaped 2-layer Q4_0, 394 MB file: peak RSS 880 MB
 * before, see the closing note for after): resident memory stays about one copy of the weights, plus
 * one matrix while it is copied. Experts of MoE layers and the token embedding (read row by row for
 * the lookup) keep the file's layout; a tied output projection gets its own repacked copy (and its
 * source, the embedding, keeps its pages). */
#if !defined(_WIN32)
#define _DEFAULT_SOURCE /* madvise */
#include <sys/mman.h>
#include <unistd.h>
#endif
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/ops.h"
#include "cpu/quant_act_bf16.h"
#include "cpu/repack.h"
#include "cpu/repack_k.h"
#include "internal.h"

/* The layout this CPU's kernels want for w, or MST_LAYOUT_GGUF to leave it as it is. */
static int32_t target_layout(const mst_weight *w)
{
    const mst_cpu_kernels *k = mst_cpu_best();
    if (w->layout != MST_LAYOUT_GGUF || w->rows == 0 || w->rows % MST_X16_ROWS != 0)
        return MST_LAYOUT_GGUF;
    if (w->type == MST_TYPE_Q4_0 && k->matmul_qa_q4_0x16)
        return MST_LAYOUT_Q4_0X16;
    if (w->type == MST_TYPE_Q8_0 && k->matmul_qa_q8_0x16)
        return MST_LAYOUT_Q8_0X16;
    if (w->type == MST_TYPE_Q4_K && k->matmul_qa_q4_kx16)
        return MST_LAYOUT_Q4_KX16;
    if (w->type == MST_TYPE_Q6_K && k->matmul_qa_q6_kx16)
        return MST_LAYOUT_Q6_KX16;
    if (w->type == MST_TYPE_F16 && k->matmul_f16x16)
        return MST_LAYOUT_F16X16;
    /* column pairs need an even row length; the AVX2 and scalar tables have no pair kernel */
    if (w->type == MST_TYPE_BF16 && k->matmul_qa_bf16x16p && w->cols % 2 == 0)
        return MST_LAYOUT_BF16X16P;
    if (w->type == MST_TYPE_BF16 && k->matmul_bf16x16)
        return MST_LAYOUT_BF16X16;
    return MST_LAYOUT_GGUF;
}

typedef void (*repack_fn_t)(const uint8_t *src, size_t row_bytes, uint32_t rows, uint8_t *dst);

static repack_fn_t repack_fn(int32_t layout)
{
    switch (layout) {
    case MST_LAYOUT_Q4_0X16: return mst_repack_q4_0x16;
    case MST_LAYOUT_Q8_0X16: return mst_repack_q8_0x16;
    case MST_LAYOUT_Q4_KX16: return mst_repack_q4_kx16;
    case MST_LAYOUT_Q6_KX16: return mst_repack_q6_kx16;
    case MST_LAYOUT_BF16X16P: return mst_repack_bf16x16p;
    default: return mst_repack_x16_16bit; /* F16X16, BF16X16: any 2-byte element */
    }
}

/* Drops the whole pages inside [p, p + n) from the process; a neighbour's data on a shared edge page
 * stays. A failure only costs memory, so it is ignored. */
static void drop_pages(const uint8_t *p, size_t n)
{
#if !defined(_WIN32)
    const long page = sysconf(_SC_PAGESIZE);
    if (page <= 0)
        return;
    const uintptr_t mask = (uintptr_t)page - 1;
    uintptr_t start = ((uintptr_t)p + mask) & ~mask, end = ((uintptr_t)p + n) & ~mask;
    if (end > start)
        (void)madvise((void *)start, end - start, MADV_DONTNEED);
#else
    (void)p, (void)n;
#endif
}

/* Visits every dense matrix a decode multiplies with (not the embedding lookup, not MoE experts). */
static size_t visit(mst_model *m, uint8_t *arena)
{
    mst_weight *list[8];
    size_t total = 0;
    for (uint32_t l = 0; l <= m->cfg.n_layer; l++) {
        uint32_t n = 0;
        if (l == m->cfg.n_layer) {
            list[n++] = &m->output;
        } else {
            mst_layer *L = &m->layers[l];
            list[n++] = &L->wq, list[n++] = &L->wk, list[n++] = &L->wv, list[n++] = &L->wo;
            if (m->cfg.n_expert == 0)
                list[n++] = &L->w_gate, list[n++] = &L->w_up, list[n++] = &L->w_down;
        }
        for (uint32_t i = 0; i < n; i++) {
            mst_weight *w = list[i];
            const int32_t layout = target_layout(w);
            if (layout == MST_LAYOUT_GGUF)
                continue;
            size_t bytes = (size_t)w->rows * w->row_bytes;
            if (arena) {
                const uint8_t *src = w->data;
                repack_fn(layout)(src, w->row_bytes, w->rows, arena + total);
                w->data = arena + total;
                w->layout = layout;
                if ((w->flags & MST_TENSOR_FILE_MAPPED) && src != m->tok_embd.data)
                    drop_pages(src, bytes);
            }
            total += (bytes + 63) & ~(size_t)63;
        }
    }
    return total;
}

/* The arena, on 2 MiB boundaries and asked to be backed by transparent huge pages: decode streams every
 * weight once per token, and with 4 KiB pages the hardware prefetchers stop at every page boundary and the
 * page walks add up (measured on a 2-core 5th-generation Xeon VM with THP in "madvise" mode: a 4-stream
 * read of 1 GiB went from 14.0 to 17.2 GB/s on one core, 30-31 to 32-33 GB/s on two; the Q4_K decode kernel on 400 MB from 8.3-9.1
 * to 10.0-10.1 GB/s on one core). Where THP is off or unsupported the hint does nothing. */
static uint8_t *alloc_arena(size_t bytes)
{
#if defined(__linux__)
    const size_t huge = (size_t)2 << 20;
    size_t rounded = (bytes + huge - 1) & ~(huge - 1);
    uint8_t *arena = aligned_alloc(huge, rounded);
    if (arena)
        (void)madvise(arena, rounded, MADV_HUGEPAGE);
    return arena;
#else
    return aligned_alloc(64, (bytes + 63) & ~(size_t)63);
#endif
}

void mst_model_repack(mst_model *m)
{
    const char *env = getenv("MISTRAL_REPACK");
    if (env && strcmp(env, "0") == 0)
        return;
    size_t bytes = visit(m, NULL);
    if (bytes == 0)
        return;
    uint8_t *arena = alloc_arena(bytes);
    if (!arena)
        return; /* the file's layout still works, only slower */
    visit(m, arena);
    m->repacked = arena;
}
