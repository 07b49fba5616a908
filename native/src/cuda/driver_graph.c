/* driver_graph.c — CUDA graphs on the driver (driver.h): the device's stream captured (cuStreamBeginCapture,
 * thread-local mode), the graph instantiated (cuGraphInstantiateWithFlags, or cuGraphInstantiate_v2 on drivers
 * before CUDA 11.4) and the CUgraph dropped at once (the executable graph is independent of it), then launched on
 * the same stream. The entry points are optional (driver_load.c): without them graphs are off, never an error. */
#include <stdio.h>
#include <string.h>

#include "driver_internal.h"

int mst_drv_graphs_supported(mst_drv *d)
{
    (void)d;
    return mst_cu.cuStreamBeginCapture && mst_cu.cuStreamEndCapture &&
           (mst_cu.cuGraphInstantiateWithFlags || mst_cu.cuGraphInstantiate_v2) && mst_cu.cuGraphLaunch &&
           mst_cu.cuGraphExecDestroy && mst_cu.cuGraphDestroy;
}

mst_status mst_drv_capture_begin(mst_drv *d)
{
    if (!mst_drv_graphs_supported(d))
        return mst_fail(MST_ERR_UNSUPPORTED, "this NVIDIA driver has no stream capture (cuStreamBeginCapture)");
    int pushed = 0;
    mst_status st = mst_cu_enter(d, &pushed);
    if (st != MST_OK)
        return st;
    CUresult r = mst_cu.cuStreamBeginCapture(d->stream, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL);
    mst_cu_leave(pushed);
    return r == CUDA_SUCCESS ? MST_OK : mst_cu_fail(r, "cuStreamBeginCapture");
}

static mst_status instantiate(CUgraphExec *exec, CUgraph graph)
{
    if (mst_cu.cuGraphInstantiateWithFlags) {
        CUresult r = mst_cu.cuGraphInstantiateWithFlags(exec, graph, 0);
        return r == CUDA_SUCCESS ? MST_OK : mst_cu_fail(r, "cuGraphInstantiateWithFlags");
    }
    char log[512] = "";
    CUgraphNode bad = NULL;
    CUresult r = mst_cu.cuGraphInstantiate_v2(exec, graph, &bad, log, sizeof log);
    if (r == CUDA_SUCCESS)
        return MST_OK;
    log[sizeof log - 1] = '\0';
    char what[600];
    snprintf(what, sizeof what, "cuGraphInstantiate%s%s", log[0] ? " (driver log: " : "", log[0] ? log : "");
    if (log[0])
        snprintf(what + strlen(what), sizeof what - strlen(what), ")");
    return mst_cu_fail(r, what);
}

mst_status mst_drv_capture_end(mst_drv *d, int want, void **exec_out)
{
    if (exec_out)
        *exec_out = NULL;
    int pushed = 0;
    mst_status st = mst_cu_enter(d, &pushed);
    if (st != MST_OK)
        return st;
    CUgraph graph = NULL;
    CUresult r = mst_cu.cuStreamEndCapture(d->stream, &graph);
    if (r != CUDA_SUCCESS)
        st = mst_cu_fail(r, "cuStreamEndCapture");
    CUgraphExec exec = NULL;
    if (st == MST_OK && want && exec_out)
        st = instantiate(&exec, graph);
    if (graph) {
        r = mst_cu.cuGraphDestroy(graph);
        if (r != CUDA_SUCCESS && st == MST_OK)
            st = mst_cu_fail(r, "cuGraphDestroy");
    }
    if (st != MST_OK && exec) {
        (void)mst_cu.cuGraphExecDestroy(exec);
        exec = NULL;
    }
    mst_cu_leave(pushed);
    if (exec_out)
        *exec_out = exec;
    return st;
}

mst_status mst_drv_graph_launch(mst_drv *d, void *exec)
{
    int pushed = 0;
    mst_status st = mst_cu_enter(d, &pushed);
    if (st != MST_OK)
        return st;
    CUresult r = mst_cu.cuGraphLaunch((CUgraphExec)exec, d->stream);
    mst_cu_leave(pushed);
    return r == CUDA_SUCCESS ? MST_OK : mst_cu_fail(r, "cuGraphLaunch");
}

void mst_drv_graph_free(mst_drv *d, void *exec)
{
    if (!exec)
        return;
    int pushed = 0;
    if (mst_cu_enter(d, &pushed) != MST_OK)
        return;
    (void)mst_cu.cuGraphExecDestroy((CUgraphExec)exec);
    mst_cu_leave(pushed);
}
