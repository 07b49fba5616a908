/* driver_context.c — a device's primary context made current on the calling thread for one call, and the
 * thread's own context (if it had another) restored after it. */
#include "driver_internal.h"

/* Makes d's context current on this thread for one call; *pushed says whether mst_cu_leave() must pop. */
mst_status mst_cu_enter(mst_drv *d, int *pushed)
{
    CUcontext cur = NULL;
    *pushed = 0;
    CU_CHECK(mst_cu.cuCtxGetCurrent(&cur), "cuCtxGetCurrent");
    if (cur == d->ctx)
        return MST_OK;
    if (cur == NULL) {
        /* nothing current on this thread: keep ours current (no pop needed next time) */
        CU_CHECK(mst_cu.cuCtxSetCurrent(d->ctx), "cuCtxSetCurrent");
        return MST_OK;
    }
    CU_CHECK(mst_cu.cuCtxPushCurrent(d->ctx), "cuCtxPushCurrent");
    *pushed = 1;
    return MST_OK;
}

void mst_cu_leave(int pushed)
{
    if (pushed) {
        CUcontext popped = NULL;
        (void)mst_cu.cuCtxPopCurrent(&popped);
    }
}
