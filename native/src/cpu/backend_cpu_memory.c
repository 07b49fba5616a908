/* backend_cpu_memory.c — the sizes of the CPU backend's allocations, written once: cpu_context_init allocates
 * exactly these buffers, and mst_estimate_memory adds the same numbers up before anything exists, so the two
 * cannot drift apart. */
#include <stdlib.h>

#include "attention.h"
#include "backend_cpu.h"
#include "internal.h"
#include "quant_act.h"
#include "quant_act_bf16.h"
#include "quant_act_k.h"

mst_status mst_cpu_check_kv_type(int32_t kv_type)
{
    if (kv_type != MST_TYPE_F16 && kv_type != MST_TYPE_F32)
        return mst_fail(MST_ERR_UNSUPPORTED, "mst_context_create: the CPU backend holds its KV cache in F16 or F32, not "
                        "type %d", (int)kv_type);
    return MST_OK;
}

uint32_t mst_cpu_widest_input(const mst_model *m)
{
    /* n_embd (Wq/Wk/Wv, Wgate/Wup, output), q_dim (Wo), n_ff (Wdown) */
    uint32_t w = m->cfg.n_embd > m->q_dim ? m->cfg.n_embd : m->q_dim;
    return m->cfg.n_ff > w ? m->cfg.n_ff : w;
}

/* a * b * c, or 0 in *ok on overflow */
static uint64_t mul3(uint64_t a, uint64_t b, uint64_t c, int *ok)
{
    uint64_t ab, abc;
    if (!mst_mul_u64(a, b, &ab) || !mst_mul_u64(ab, c, &abc)) {
        *ok = 0;
        return 0;
    }
    return abc;
}

int mst_cpu_context_sizes(const mst_context *c, uint32_t n_threads, uint64_t size[MST_CPU_BUF_COUNT])
{
    const mst_model *m = c->model;
    const mst_model_config *cfg = &m->cfg;
    const uint64_t nb = c->n_batch, f = sizeof(float);
    int ok = 1;
    for (int i = 0; i < MST_CPU_BUF_COUNT; i++)
        size[i] = 0;
    /* [n_layer][kv_slots][kv_dim] values of kv_type, for K and for V */
    size[MST_CPU_BUF_K_CACHE] = size[MST_CPU_BUF_V_CACHE] =
        mul3(mul3(cfg->n_layer, c->kv_slots, m->kv_dim, &ok), mst_attn_elem_bytes(c->kv_type), 1, &ok);
    size[MST_CPU_BUF_POS] = mul3(nb, sizeof(int32_t), 1, &ok);
    size[MST_CPU_BUF_SCORES] = mul3(mst_attention_scratch_floats(n_threads, cfg->head_dim), f, 1, &ok);
    /* room for the widest input over n_batch tokens in any format (Q8_0 for Q4_0/Q8_0 weights, Q8_K for K-quants,
     * bf16 for BF16: the largest, 6 bytes a value, floats and pairs); each is a few bytes a value, so a product
     * below 2^60 cannot overflow inside the size functions. */
    const uint32_t w = mst_cpu_widest_input(m);
    if (nb > UINT32_MAX || mul3(w, nb, 1, &ok) >= (1ull << 60))
        ok = 0;
    if (ok) {
        const uint64_t q8_0 = mst_qact_bytes(w, (uint32_t)nb), q8_k = mst_qact_k_bytes(w, (uint32_t)nb);
        const uint64_t bf16 = mst_qact_bf16_bytes(w, (uint32_t)nb), most = q8_0 > q8_k ? q8_0 : q8_k;
        size[MST_CPU_BUF_QA] = bf16 > most ? bf16 : most;
    }
    size[MST_CPU_BUF_X] = size[MST_CPU_BUF_XB] = size[MST_CPU_BUF_XB2] = mul3(nb, cfg->n_embd, f, &ok);
    size[MST_CPU_BUF_Q] = size[MST_CPU_BUF_ATT] = mul3(nb, m->q_dim, f, &ok);
    size[MST_CPU_BUF_K] = size[MST_CPU_BUF_V] = mul3(nb, m->kv_dim, f, &ok);
    size[MST_CPU_BUF_HB] = size[MST_CPU_BUF_HB2] = mul3(nb, cfg->n_ff, f, &ok);
    if (cfg->n_expert > 0) {
        size[MST_CPU_BUF_ROUTER] = mul3(nb, cfg->n_expert, f, &ok);
        size[MST_CPU_BUF_XG] = mul3(nb, cfg->n_embd, f, &ok);
    }
    for (int i = 0; ok && i < MST_CPU_BUF_COUNT; i++)
        ok = size[i] <= SIZE_MAX;
    return ok;
}

mst_status mst_cpu_estimate(const mst_context *c, uint32_t n_threads, mst_memory_estimate *out)
{
    mst_status st = mst_cpu_check_kv_type(c->kv_type);
    if (st != MST_OK)
        return st;
    uint64_t size[MST_CPU_BUF_COUNT];
    if (!mst_cpu_context_sizes(c, n_threads, size))
        return mst_fail(MST_ERR_OUT_OF_MEMORY,
                        "mst_estimate_memory: the context's buffers overflow a size (KV cache of %u layers x %u tokens x "
                        "%u values, scratch for %u tokens)",
                        c->model->cfg.n_layer, c->kv_slots, c->model->kv_dim, c->n_batch);
    mst_model *m = c->model;
    /* The repacked copies are the backend's; the file's pages of what they copy are dropped (weights_repack.c). */
    out->weights_owned = mst_model_repack_bytes(m);
    const uint64_t copied = mst_model_repack_copied(m);
    out->weights_mapped = out->weights_mapped > copied ? out->weights_mapped - copied : 0;
    out->kv_cache = mst_alloc_bound(size[MST_CPU_BUF_K_CACHE], 0) + mst_alloc_bound(size[MST_CPU_BUF_V_CACHE], 0);
    /* the backend's state; the thread pool's struct and worker table (threadpool.c: a few hundred bytes and a few
     * words a thread, within one allocation's bound each); and per worker thread the C library's own small block
     * (glibc: the thread's TLS vector, allocated by the thread that creates it). The threads' stacks are mapped by
     * the C library, not allocated, and not counted. */
    uint64_t scratch = mst_alloc_bound(sizeof(mst_cpu_context), 0) + mst_alloc_bound(0, 0) +
                       mst_alloc_bound((uint64_t)n_threads * 64, 0) + (uint64_t)n_threads * mst_alloc_bound(0, 0);
    for (int i = 0; i < MST_CPU_BUF_COUNT; i++)
        if (i != MST_CPU_BUF_K_CACHE && i != MST_CPU_BUF_V_CACHE && size[i])
            scratch += mst_alloc_bound(size[i], 0);
    out->scratch = scratch;
    out->device = 0;
    return MST_OK;
}
