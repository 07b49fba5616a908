/* backend_cuda_context.c — the CUDA backend's context_init and context_free: the KV cache (f16, zeroed) and
 * every activation and scratch buffer of a context in device memory, after checking that all of it fits the
 * device's free memory; ctx's buffer pointers are then device addresses. */
#include <stdlib.h>

#include "backend_cuda_internal.h"
#include "kernels.h"

/* short names of the buffers (backend_cuda_internal.h) */
enum { KC = CUDA_BUF_KC, VC = CUDA_BUF_VC, X = CUDA_BUF_X, XB = CUDA_BUF_XB, XB2 = CUDA_BUF_XB2, Q = CUDA_BUF_Q,
       K = CUDA_BUF_K, V = CUDA_BUF_V, ATT = CUDA_BUF_ATT, HB = CUDA_BUF_HB, HB2 = CUDA_BUF_HB2, ROUTER = CUDA_BUF_ROUTER,
       XG = CUDA_BUF_XG, LOGITS = CUDA_BUF_LOGITS, TOKENS = CUDA_BUF_TOKENS, ROWS = CUDA_BUF_ROWS, ROW_W = CUDA_BUF_ROW_W,
       CHOSEN = CUDA_BUF_CHOSEN, CHOSEN_W = CUDA_BUF_CHOSEN_W, MM = CUDA_BUF_MM, ATTN = CUDA_BUF_ATTN };

static void free_cuda_ctx(cuda_ctx *s)
{
    if (!s)
        return;
    mst_dev_graph_free(s->dev, s->graph);
    mst_cuda_list_free(s->dev, &s->allocs);
    free(s->step_host);
    free(s->rows_host);
    free(s->check_host);
    free(s->row_w_host);
    free(s);
}

static void clear_buffers(mst_context *ctx)
{
    ctx->x = ctx->xb = ctx->xb2 = ctx->q = ctx->k = ctx->v = ctx->att = ctx->hb = ctx->hb2 = NULL;
    ctx->router = ctx->xg = NULL;
}

mst_status mst_cuda_check_kv_type(int32_t kv_type)
{
    if (kv_type != MST_TYPE_F16)
        return mst_fail(MST_ERR_UNSUPPORTED, "mst_context_create: the CUDA backend holds its KV cache in F16 only (kv_type %d asked)",
                        (int)kv_type);
    return MST_OK;
}

void mst_cuda_context_sizes(const mst_context *ctx, uint64_t size[CUDA_N_BUF])
{
    const mst_model *m = ctx->model;
    const mst_model_config *cfg = &m->cfg;
    const uint64_t nb = ctx->n_batch;
    const int moe = cfg->n_expert > 0;
    uint32_t widest = cfg->n_embd > m->q_dim ? cfg->n_embd : m->q_dim;
    widest = cfg->n_ff > widest ? cfg->n_ff : widest;
    for (int i = 0; i < CUDA_N_BUF; i++)
        size[i] = 0;
    const uint64_t kv_elems = (uint64_t)cfg->n_layer * ctx->kv_slots * m->kv_dim;
    size[KC] = size[VC] = kv_elems * sizeof(uint16_t);
    size[X] = size[XB] = size[XB2] = nb * cfg->n_embd * sizeof(float);
    size[Q] = size[ATT] = nb * m->q_dim * sizeof(float);
    size[K] = size[V] = nb * m->kv_dim * sizeof(float);
    size[HB] = size[HB2] = nb * cfg->n_ff * sizeof(float);
    size[ROUTER] = moe ? nb * cfg->n_expert * sizeof(float) : 0;
    size[XG] = moe ? nb * cfg->n_embd * sizeof(float) : 0;
    size[LOGITS] = nb * cfg->n_vocab * sizeof(float);
    size[TOKENS] = (CUDA_STEP_WORDS + nb) * sizeof(int32_t); /* the step's words, then the tokens */
    size[ROWS] = moe ? nb * sizeof(int32_t) : 0;
    size[ROW_W] = moe ? nb * sizeof(float) : 0;
    size[CHOSEN] = moe ? nb * cfg->n_expert_used * sizeof(int32_t) : 0;
    size[CHOSEN_W] = moe ? nb * cfg->n_expert_used * sizeof(float) : 0;
    size[MM] = mst_cuda_matmul_scratch_bytes(widest, (uint32_t)nb);
    size[ATTN] = mst_cuda_attention_scratch_bytes((uint32_t)nb, cfg->n_head, cfg->head_dim, ctx->kv_slots);
}

uint64_t mst_cuda_context_host_bytes(const mst_context *ctx)
{
    /* free_cuda_ctx's list: the state, the find_nonfinite download buffer, the MoE rows and weights, and the list
     * of device allocations */
    const uint64_t nb = ctx->n_batch;
    uint64_t bytes = mst_alloc_bound(sizeof(cuda_ctx), 0) + mst_alloc_bound((uint64_t)CUDA_CHECK_CHUNK * sizeof(float), 0) +
                     mst_alloc_bound((CUDA_STEP_WORDS + nb) * sizeof(int32_t), 0) + mst_cuda_list_bytes(CUDA_N_BUF);
    if (ctx->model->cfg.n_expert > 0)
        bytes += mst_alloc_bound(nb * sizeof(int32_t), 0) + mst_alloc_bound(nb * sizeof(float), 0);
    return bytes;
}

mst_status mst_cuda_context_init(mst_context *ctx, uint32_t n_threads)
{
    (void)n_threads; /* the device has its own parallelism */
    mst_status st = mst_cuda_check_kv_type(ctx->kv_type);
    if (st != MST_OK)
        return st;
    const mst_model *m = ctx->model;
    const mst_model_config *cfg = &m->cfg;
    cuda_model *cm = m->backend_state;
    const uint64_t nb = ctx->n_batch;
    const int moe = cfg->n_expert > 0;

    /* every buffer's size, before anything is allocated */
    uint64_t size[CUDA_N_BUF];
    mst_cuda_context_sizes(ctx, size);
    uint64_t total = 0;
    for (int i = 0; i < CUDA_N_BUF; i++)
        total += size[i];

    mst_dev_desc desc;
    st = mst_dev_describe(cm->dev, &desc);
    if (st != MST_OK)
        return st;
    if (total > mst_cuda_usable(desc.free_memory)) {
        char a[32], b[32], c[32], f[32];
        return mst_fail(MST_ERR_OUT_OF_MEMORY,
                        "mst_context_create: the context needs %s of device memory (KV cache %s: %u layers x %u "
                        "positions x %u f16, twice; scratch for %u tokens %s); device %d (%s) has %s free (5%% + 64 "
                        "MiB of it kept for the driver): use a smaller n_ctx or n_batch",
                        mst_cuda_fmt_bytes(total, a, sizeof a), mst_cuda_fmt_bytes(size[KC] + size[VC], b, sizeof b),
                        cfg->n_layer, ctx->kv_slots, m->kv_dim, (unsigned)nb,
                        mst_cuda_fmt_bytes(total - size[KC] - size[VC], c, sizeof c),
                        desc.ordinal, desc.name, mst_cuda_fmt_bytes(desc.free_memory, f, sizeof f));
    }

    cuda_ctx *s = calloc(1, sizeof *s);
    if (!s)
        return mst_fail(MST_ERR_OUT_OF_MEMORY, "out of host memory for the CUDA context state");
    s->dev = cm->dev;
    s->check_host = mst_alloc_array(CUDA_CHECK_CHUNK, sizeof(float));
    s->step_host = mst_alloc_array(CUDA_STEP_WORDS + nb, sizeof(int32_t));
    if (!s->check_host || !s->step_host) {
        free_cuda_ctx(s);
        return mst_fail(MST_ERR_OUT_OF_MEMORY, "out of host memory for the CUDA context state");
    }
    if (moe) {
        s->rows_host = mst_alloc_array(nb, sizeof(int32_t));
        s->row_w_host = mst_alloc_array(nb, sizeof(float));
        if (!s->rows_host || !s->row_w_host) {
            free_cuda_ctx(s);
            return mst_fail(MST_ERR_OUT_OF_MEMORY, "out of host memory for the routing of %u tokens", (unsigned)nb);
        }
    }
    mst_dptr p[CUDA_N_BUF] = {0};
    for (int i = 0; i < CUDA_N_BUF && st == MST_OK; i++)
        if (size[i])
            st = mst_cuda_list_alloc(s->dev, &s->allocs, size[i], &p[i]);
    if (st == MST_OK) /* a fresh cache holds zeros, not garbage that a bug could read as keys */
        st = mst_dev_memset32(s->dev, p[KC], 0, size[KC] / 4);
    if (st == MST_OK)
        st = mst_dev_memset32(s->dev, p[VC], 0, size[VC] / 4);
    if (st == MST_OK)
        st = mst_dev_sync(s->dev);
    if (st != MST_OK) {
        free_cuda_ctx(s);
        return st;
    }
    s->k_cache = p[KC], s->v_cache = p[VC], s->logits = p[LOGITS];
    s->step = p[TOKENS], s->tokens = p[TOKENS] + CUDA_STEP_WORDS * sizeof(int32_t);
    s->rows = p[ROWS], s->row_w = p[ROW_W], s->chosen = p[CHOSEN], s->chosen_w = p[CHOSEN_W];
    s->mm_scratch = p[MM], s->attn_scratch = p[ATTN];
    ctx->x = ptr_of(p[X]), ctx->xb = ptr_of(p[XB]), ctx->xb2 = ptr_of(p[XB2]);
    ctx->q = ptr_of(p[Q]), ctx->k = ptr_of(p[K]), ctx->v = ptr_of(p[V]), ctx->att = ptr_of(p[ATT]);
    ctx->hb = ptr_of(p[HB]), ctx->hb2 = ptr_of(p[HB2]);
    ctx->router = moe ? ptr_of(p[ROUTER]) : NULL;
    ctx->xg = moe ? ptr_of(p[XG]) : NULL;
    ctx->backend_state = s;
    return MST_OK;
}

void mst_cuda_context_free(mst_context *ctx)
{
    cuda_ctx *s = cstate(ctx);
    if (s)
        (void)mst_dev_sync(s->dev); /* nothing of ours may still run on buffers about to be freed */
    free_cuda_ctx(s);
    ctx->backend_state = NULL;
    clear_buffers(ctx);
}
