/* backend_cuda_off.c — the CUDA backend of a library built with MISTRAL_CUDA=OFF: it exists so that asking
 * for CUDA is an answer ("not built") rather than a missing symbol. mst_model_create_with(CUDA) fails in
 * model_init with MST_ERR_DEVICE and says why; mst_backend_query reports available = 0 with the same reason.
 * No op is ever reached (no model can be created), so only the lifecycle entries are filled in. */
#include <stdio.h>

#include "internal.h"

#define NOT_BUILT "this library was built without the CUDA backend (MISTRAL_CUDA=OFF)"

static mst_status off_model_init(mst_model *m, const mst_model_params *params)
{
    (void)m, (void)params;
    return mst_fail(MST_ERR_DEVICE, NOT_BUILT);
}

static void off_model_free(mst_model *m)
{
    (void)m;
}

static mst_status off_context_init(mst_context *ctx, uint32_t n_threads)
{
    (void)ctx, (void)n_threads;
    return mst_fail(MST_ERR_DEVICE, NOT_BUILT);
}

static mst_status off_estimate(const mst_context *ctx, uint32_t n_threads, mst_memory_estimate *out)
{
    (void)ctx, (void)n_threads, (void)out;
    return mst_fail(MST_ERR_DEVICE, NOT_BUILT);
}

static void off_context_free(mst_context *ctx)
{
    (void)ctx;
}

static mst_status off_set_threads(mst_context *ctx, uint32_t n_threads)
{
    (void)ctx, (void)n_threads;
    return MST_OK;
}

const mst_backend mst_backend_cuda = {
    .name = "cuda",
    .model_init = off_model_init,
    .model_free = off_model_free,
    .context_init = off_context_init,
    .context_free = off_context_free,
    .set_threads = off_set_threads,
    .estimate = off_estimate,
};

mst_status mst_cuda_query(uint32_t flags, mst_backend_info *out)
{
    (void)flags;
    out->available = 0;
    snprintf(out->reason, sizeof out->reason, "%s", NOT_BUILT);
    return MST_OK;
}
