/* graph.c — the emulator's graphs (graph.h): records of launches, replayed in order. An argument is kept in an
 * 8-byte-aligned slot of the record's own buffer, so a replay hands the kernel's trampoline pointers to copies
 * made at capture, as a CUDA graph's kernel node holds copies of its parameters. */
#include "graph.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct emu_launch {
    const mst_kernel_ref *kernel;
    mst_dim3 grid, block;
    uint32_t shared_bytes;
    unsigned char *values; /* the argument values, each at an 8-byte-aligned offset */
    void **args;           /* args[i] = values + offset of argument i */
} emu_launch;

struct mst_emu_graph {
    emu_launch *launches;
    uint32_t n, cap;
};

mst_emu_graph *mst_emu_graph_new(void)
{
    return calloc(1, sizeof(mst_emu_graph));
}

mst_status mst_emu_graph_record(mst_emu_graph *g, const mst_kernel_ref *k, mst_dim3 grid, mst_dim3 block,
                                uint32_t shared_bytes, void **args, char *msg, size_t msg_len)
{
    if (!k->arg_sizes) {
        snprintf(msg, msg_len,
                 "SIMT emulator: %s cannot be captured in a graph: its reference carries no argument sizes", k->name);
        return MST_ERR_INVALID_ARGUMENT;
    }
    if (g->n == g->cap) {
        const uint32_t cap = g->cap ? 2 * g->cap : 64;
        emu_launch *l = realloc(g->launches, cap * sizeof *l);
        if (!l)
            goto oom;
        g->launches = l;
        g->cap = cap;
    }
    size_t bytes = 0;
    for (uint32_t i = 0; i < k->n_args; i++)
        bytes += (k->arg_sizes[i] + 7u) / 8u * 8u;
    emu_launch *l = &g->launches[g->n];
    l->kernel = k, l->grid = grid, l->block = block, l->shared_bytes = shared_bytes;
    l->values = malloc(bytes ? bytes : 1);
    l->args = calloc(k->n_args ? k->n_args : 1, sizeof *l->args);
    if (!l->values || !l->args) {
        free(l->values);
        free(l->args);
        goto oom;
    }
    size_t at = 0;
    for (uint32_t i = 0; i < k->n_args; i++) {
        memcpy(l->values + at, args[i], k->arg_sizes[i]);
        l->args[i] = l->values + at;
        at += (k->arg_sizes[i] + 7u) / 8u * 8u;
    }
    g->n++;
    return MST_OK;
oom:
    snprintf(msg, msg_len, "SIMT emulator: out of host memory recording launch %u (%s) of a graph", g->n, k->name);
    return MST_ERR_OUT_OF_MEMORY;
}

mst_status mst_emu_graph_replay(const mst_emu_graph *g, char *msg, size_t msg_len)
{
    for (uint32_t i = 0; i < g->n; i++) {
        const emu_launch *l = &g->launches[i];
        mst_status st = mst_emu_launch(l->kernel, l->grid, l->block, l->shared_bytes, l->args, msg, msg_len);
        if (st != MST_OK) {
            const size_t used = strlen(msg);
            char tail[64];
            snprintf(tail, sizeof tail, " (launch %u of %u of a graph)", i + 1, g->n);
            if (used + 1 < msg_len)
                snprintf(msg + used, msg_len - used, "%s", tail);
            return st;
        }
    }
    return MST_OK;
}

uint32_t mst_emu_graph_launches(const mst_emu_graph *g)
{
    return g->n;
}

void mst_emu_graph_free(mst_emu_graph *g)
{
    if (!g)
        return;
    for (uint32_t i = 0; i < g->n; i++) {
        free(g->launches[i].values);
        free(g->launches[i].args);
    }
    free(g->launches);
    free(g);
}
