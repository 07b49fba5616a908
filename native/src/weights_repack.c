/* weights_repack.c — at model load, copies Q4_0, Q8_0, Q4_K, Q6_K, F16 and BF16 matrices into the 16-row interleaved
 * layouts of cpu/repack.h and cpu/repack_k.h when this CPU's kernels have a matmul for them (AVX-512 VNNI for
 * the quantized types; AVX2 or AVX-512 for F16/BF16). Every layout keeps each matrix's byte count, so w->row_bytes stays valid. One allocation holds
 * every repacked matrix; the file's mapping is then no longer read for them. Reading the file to copy
 * it makes its pages resident, though, so tensors flagged MST_TENSOR_FILE_MAPPED have their pages
 * dropped right after their copy (without that, peak resident memory was over two copies of the weights:
 * benchmarks/RESULTS.md): resident memory stays about one copy of the weights, plus
 * one matrix while it is copied. MoE experts are repacked one by one like dense matrices. The token embedding
 * (read row by row for the lookup) keeps the file's layout; a tied output projection gets its own repacked copy
 * (and its source, the embedding, keeps its pages). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/ops.h"
#include "cpu/quant_act_bf16.h"
#include "cpu/repack.h"
#include "cpu/repack_k.h"
#include "internal.h"
#include "platform.h"

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

/* Where repack progress goes: bytes copied of the total, reported per matrix (copying is most of a CPU load). */
typedef struct repack_progress {
    mst_progress_fn fn;
    void *user;
    size_t done, total;
} repack_progress;

/* Visits every matrix a decode multiplies with (not the embedding lookup). A MoE layer's stacked expert tensor
 * is n_expert matrices one after another; each is repacked on its own into the same bytes, so expert e still
 * starts e * rows * row_bytes in (mst_expert_slice) and the kernels read a chosen expert as a dense matrix. */
static size_t visit(mst_model *m, uint8_t *arena, repack_progress *progress)
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
            list[n++] = &L->w_gate, list[n++] = &L->w_up, list[n++] = &L->w_down; /* MoE: stacked experts */
        }
        for (uint32_t i = 0; i < n; i++) {
            mst_weight *w = list[i];
            const int32_t layout = target_layout(w);
            if (layout == MST_LAYOUT_GGUF)
                continue;
            /* the feed-forward tensors of a MoE layer (list[4..6]) hold n_expert matrices */
            const uint32_t slices = l < m->cfg.n_layer && i >= 4 && m->cfg.n_expert > 0 ? m->cfg.n_expert : 1;
            const size_t slice = (size_t)w->rows * w->row_bytes, bytes = slice * slices;
            if (arena) {
                const uint8_t *src = w->data;
                for (uint32_t e = 0; e < slices; e++) {
                    repack_fn(layout)(src + e * slice, w->row_bytes, w->rows, arena + total + e * slice);
                    if ((w->flags & MST_TENSOR_FILE_MAPPED) && src != m->tok_embd.data)
                        mst_os_drop_pages(src + e * slice, slice);
                }
                w->data = arena + total;
                w->layout = layout;
                progress->done += bytes;
                if (progress->fn && progress->done < progress->total) /* 1 comes once, from the caller */
                    progress->fn((float)((double)progress->done / (double)progress->total), progress->user);
            }
            total += (bytes + 63) & ~(size_t)63;
        }
    }
    return total;
}

/* The arena's size for `bytes` of copies: whole alignment units, as aligned_alloc wants. */
static size_t arena_size(size_t bytes)
{
    const size_t align = mst_os_large_align();
    return (bytes + align - 1) & ~(align - 1);
}

/* The arena, on 2 MiB boundaries on Linux and asked to be backed by transparent huge pages
 * (mst_os_alloc_large): decode streams every weight once per token, and with 4 KiB pages the hardware
 * prefetchers stop at every page boundary and the page walks add up (on huge pages both a plain read and the
 * decode kernels read measurably faster: benchmarks/RESULTS.md). Where THP is off the hint does nothing.
 * Freed with mst_os_free_large (backend_cpu.c): on Windows free() cannot release an aligned block. */
static uint8_t *alloc_arena(size_t bytes)
{
    return mst_os_alloc_large(mst_os_large_align(), arena_size(bytes));
}

uint64_t mst_model_repack_bytes(const mst_model *m)
{
    const char *env = getenv("MISTRAL_REPACK");
    if (env && strcmp(env, "0") == 0)
        return 0;
    const size_t bytes = visit((mst_model *)m, NULL, NULL); /* without an arena visit only adds sizes up */
    return bytes ? mst_alloc_bound(arena_size(bytes), mst_os_large_align()) : 0;
}

uint64_t mst_model_repack_copied(mst_model *m)
{
    const char *env = getenv("MISTRAL_REPACK");
    if (env && strcmp(env, "0") == 0)
        return 0;
    const uint64_t all = visit(m, NULL, NULL);
    if (!m->tied_output)
        return all;
    /* A tied output's copy is made from the embedding table, which stays in place for the lookup: the walk once
     * more without the output (a matrix of no rows is never repacked) tells how much of `all` that copy is. */
    const uint32_t rows = m->output.rows;
    m->output.rows = 0;
    const uint64_t without_output = visit(m, NULL, NULL);
    m->output.rows = rows;
    return without_output;
}

void mst_model_repack(mst_model *m, mst_progress_fn progress_fn, void *progress_user_data)
{
    const char *env = getenv("MISTRAL_REPACK");
    if (env && strcmp(env, "0") == 0)
        return;
    size_t bytes = visit(m, NULL, NULL);
    if (bytes == 0)
        return;
    uint8_t *arena = alloc_arena(bytes);
    if (!arena)
        return; /* the file's layout still works, only slower */
    repack_progress progress = {progress_fn, progress_user_data, 0, bytes};
    visit(m, arena, &progress);
    m->repacked = arena;
    m->repacked_bytes = arena_size(bytes);
}
