/* graph.h — the emulator's graphs (graph.c): a capture records each launch (kernel, grid, block, dynamic shared
 * bytes and a copy of its argument values, which are pointers and numbers), and a replay runs the records in
 * order through mst_emu_launch. device.c keeps the capture state and refuses copies during it. */
#ifndef MST_CUDA_EMU_GRAPH_H
#define MST_CUDA_EMU_GRAPH_H

#include "emu.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mst_emu_graph mst_emu_graph;

/* An empty graph; NULL when out of host memory. */
MST_EMU_HIDDEN mst_emu_graph *mst_emu_graph_new(void);
/* Appends a launch. Its argument values are copied now (args[i] points at argument i, k->arg_sizes[i] bytes), so
 * the caller's variables may go away. MST_ERR_INVALID_ARGUMENT (message in msg) for a kernel without argument
 * sizes; MST_ERR_OUT_OF_MEMORY when host memory runs out. */
MST_EMU_HIDDEN mst_status mst_emu_graph_record(mst_emu_graph *g, const mst_kernel_ref *k, mst_dim3 grid, mst_dim3 block,
                                               uint32_t shared_bytes, void **args, char *msg, size_t msg_len);
/* Runs the recorded launches in order; the first failing one stops it (msg names it and its index). */
MST_EMU_HIDDEN mst_status mst_emu_graph_replay(const mst_emu_graph *g, char *msg, size_t msg_len);
MST_EMU_HIDDEN uint32_t mst_emu_graph_launches(const mst_emu_graph *g);
MST_EMU_HIDDEN void mst_emu_graph_free(mst_emu_graph *g);

#ifdef __cplusplus
}
#endif

#endif
