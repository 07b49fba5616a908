/* memory_estimate.c — mst_estimate_memory: what a model and one context would allocate, from the config and the
 * tensor table alone, before anything is. Every figure comes from the code that allocates it: model.c (its tables
 * and norm copies), context.c (the context and its routing arrays) and the backend's estimate hook (repacked
 * weights, KV cache and scratch on the CPU; device buffers on CUDA), so an estimate cannot drift from what create
 * does. The checks are create's own (model.c's skeleton, context.c's plan), so what this accepts, create accepts.
 *
 * What is not counted: the tables the checks build and free again (a pointer per tensor role), the CUDA upload's
 * staging buffer (freed before create returns), and the worker threads' stacks, which the C library maps itself
 * and which stay mostly untouched. */
#include "internal.h"
#include "platform.h"

/* glibc's allocator (and others alike): a block carries a header of at most 16 bytes and is rounded to 16; one
 * past the mmap threshold gets a mapping of its own, rounded to whole pages; an aligned allocation asks for
 * `align` bytes and a minimum chunk more, and inside a mapping of its own the part in front of the aligned block
 * stays mapped. Rounding the block and 64 bytes of headers up to a whole page covers all but the alignment, which
 * is added. */
uint64_t mst_alloc_bound(uint64_t bytes, uint64_t align)
{
    const uint64_t pg = mst_os_page_size();
    uint64_t b;
    if (!mst_add_u64(bytes, 64 + pg - 1, &b))
        return UINT64_MAX;
    b = b / pg * pg;
    if (align > 16 && !mst_add_u64(b, align, &b))
        return UINT64_MAX;
    return b;
}

/* a + b, saturating: an estimate past 2^64 bytes is "does not fit" whatever its exact value */
static uint64_t sat_add(uint64_t a, uint64_t b)
{
    uint64_t s;
    return mst_add_u64(a, b, &s) ? s : UINT64_MAX;
}

MST_API mst_status mst_estimate_memory(const mst_model_config *config, const mst_tensor_desc *tensors,
                                       uint32_t n_tensors, const mst_model_params *model_params,
                                       const mst_context_params *context_params, mst_memory_estimate *out_estimate)
{
    mst_clear_error();
    if (!out_estimate)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_estimate_memory: out_estimate is NULL");
    if (out_estimate->struct_size != sizeof(mst_memory_estimate))
        return mst_fail(MST_ERR_ABI_MISMATCH, "mst_memory_estimate.struct_size is %u, this library expects %u",
                        out_estimate->struct_size, (unsigned)sizeof(mst_memory_estimate));
    if (!context_params)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_estimate_memory: context_params is NULL");
    const mst_backend *backend;
    mst_model *m;
    mst_status st = mst_model_skeleton("mst_estimate_memory", config, tensors, n_tensors, model_params, &backend, &m);
    if (st != MST_OK)
        return st;
    mst_context c = {0};
    uint32_t n_threads = 0;
    st = mst_context_plan(&c, m, context_params, &n_threads);
    mst_memory_estimate e = {.struct_size = sizeof(mst_memory_estimate)};
    /* Every tensor starts as read in place; the backend takes off what it copies and no longer reads. The table
     * has passed create's checks, so every n_bytes is the exact size of its tensor. */
    for (uint32_t i = 0; i < n_tensors; i++)
        e.weights_mapped = sat_add(e.weights_mapped, tensors[i].n_bytes);
    if (st == MST_OK)
        st = backend->estimate ? backend->estimate(&c, n_threads, &e)
                               : mst_fail(MST_ERR_INTERNAL, "mst_estimate_memory: the %s backend has no estimate", backend->name);
    if (st == MST_OK) {
        e.weights_owned = sat_add(e.weights_owned, mst_model_host_bytes(&m->cfg));
        e.scratch = sat_add(e.scratch, mst_context_host_bytes(&c));
        *out_estimate = e;
    }
    mst_model_free_skeleton(m);
    return st;
}
