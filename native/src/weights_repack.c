/* weights_repack.c — at model load, copies Q4_0 and Q8_0 matrices into the 16-row interleaved layouts
 * of cpu/repack.h when this CPU's kernels have a matmul for them (AVX-512 VNNI). One allocation holds
 * every repacked matrix; the file's mapping is then no longer read for them, so resident memory stays
 * about one copy of the weights. Experts of MoE layers and the token embedding (read row by row for
 * the lookup) keep the file's layout; a tied output projection gets its own repacked copy. */
#include <stdlib.h>
#include <string.h>

#include "cpu/ops.h"
#include "cpu/repack.h"
#include "internal.h"

/* The layout this CPU's kernels want for w, or MST_LAYOUT_GGUF to leave it as it is. */
static int32_t target_layout(const mst_weight *w)
{
    const mst_cpu_kernels *k = mst_cpu_best();
    if (w->layout != MST_LAYOUT_GGUF || w->rows == 0 || w->rows % MST_Q4X16_ROWS != 0)
        return MST_LAYOUT_GGUF;
    if (w->type == MST_TYPE_Q4_0 && k->matmul_qa_q4_0x16)
        return MST_LAYOUT_Q4_0X16;
    if (w->type == MST_TYPE_Q8_0 && k->matmul_qa_q8_0x16)
        return MST_LAYOUT_Q8_0X16;
    return MST_LAYOUT_GGUF;
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
                (layout == MST_LAYOUT_Q4_0X16 ? mst_repack_q4_0x16 : mst_repack_q8_0x16)(w->data, w->row_bytes, w->rows,
                                                                                      arena + total);
                w->data = arena + total;
                w->layout = layout;
            }
            total += (bytes + 63) & ~(size_t)63;
        }
    }
    return total;
}

void mst_model_repack(mst_model *m)
{
    const char *env = getenv("MISTRAL_REPACK");
    if (env && strcmp(env, "0") == 0)
        return;
    size_t bytes = visit(m, NULL);
    if (bytes == 0)
        return;
    uint8_t *arena = aligned_alloc(64, bytes);
    if (!arena)
        return; /* the file's layout still works, only slower */
    visit(m, arena);
    m->repacked = arena;
}
