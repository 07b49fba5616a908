/* backend_cuda_estimate.c — the CUDA backend's part of mst_estimate_memory: the device bytes model_init and
 * context_init would allocate (the same size functions they use) and the host memory they keep, with no device
 * opened: sizes depend on the weights' types and shapes and the context's geometry only. */
#include "backend_cuda_internal.h"

mst_status mst_cuda_estimate(const mst_context *ctx, uint32_t n_threads, mst_memory_estimate *out)
{
    (void)n_threads; /* the device has its own parallelism */
    mst_status st = mst_cuda_check_kv_type(ctx->kv_type);
    if (st != MST_OK)
        return st;
    uint64_t weights = 0;
    uint32_t allocs = 0;
    st = mst_cuda_model_device_bytes(ctx->model, &weights, &allocs);
    if (st != MST_OK)
        return st;
    uint64_t size[CUDA_N_BUF], context = 0;
    mst_cuda_context_sizes(ctx, size);
    for (int i = 0; i < CUDA_N_BUF; i++)
        context += size[i];
    /* Every weight is uploaded; nothing is read in place once the model exists. The KV cache and the scratch live
     * on the device: on the host only the backend's bookkeeping. */
    out->weights_mapped = 0;
    out->weights_owned = mst_cuda_model_host_bytes(allocs);
    out->kv_cache = 0;
    out->scratch = mst_cuda_context_host_bytes(ctx);
    out->device = weights + context;
    return MST_OK;
}
