/* context.c — a session: KV cache, scratch buffers and thread pool, all allocated up front so
 * that mst_decode never allocates. One call at a time per context (MST_ERR_BUSY otherwise). */
#include <stdlib.h>
#include <unistd.h>

#include "cpu/attention.h"
#include "cpu/ops.h"
#include "cpu/quant_act_bf16.h"
#include "cpu/quant_act_k.h"
#include "internal.h"

enum { MAX_THREADS = 1024 };

static uint32_t default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1u : n > MAX_THREADS ? MAX_THREADS : (uint32_t)n;
}

static void free_buffers(mst_context *c)
{
    free(c->k_cache);
    free(c->v_cache);
    free(c->x);
    free(c->xb);
    free(c->xb2);
    free(c->q);
    free(c->att);
    free(c->hb);
    free(c->hb2);
    free(c->pos);
    free(c->scores);
    free(c->qa_buf);
    free(c->router);
    free(c->chosen);
    free(c->chosen_w);
    free(c->group);
    free(c->group_w);
    free(c->xg);
}

/* Chooses the cache geometry (see "Rolling cache" in mistral.h). A context rolls only when every
 * layer is windowed and n_ctx can hold the widest window: then keys older than the window are
 * never read again and their slots can be reused. A batch of n tokens at p0 needs the keys of
 * positions p0 - w + 1 .. p0 + n - 1 at once, so w + n - 1 slots; forward steps are cut to fit. */
static void plan_cache(mst_context *c, const mst_model *m)
{
    uint32_t w_max = 0;
    int all_windowed = 1;
    for (uint32_t l = 0; l < m->cfg.n_layer; l++) {
        w_max = m->windows[l] > w_max ? m->windows[l] : w_max;
        all_windowed &= m->windows[l] > 0;
    }
    c->rolling = all_windowed && c->n_ctx >= w_max;
    if (c->rolling) {
        uint64_t want = (uint64_t)w_max + c->n_batch - 1;
        c->kv_slots = want < c->n_ctx ? (uint32_t)want : c->n_ctx;
        c->max_chunk = c->kv_slots - w_max + 1;
        c->max_pos = INT32_MAX;
    } else {
        c->kv_slots = c->n_ctx;
        c->max_chunk = c->n_batch;
        c->max_pos = c->n_ctx;
    }
}

/* Claims the context for one call; every claim is paired with release(). */
static mst_status claim(mst_context *c, const char *fn)
{
    int expected = 0;
    if (!atomic_compare_exchange_strong(&c->busy, &expected, 1))
        return mst_fail(MST_ERR_BUSY, "%s: the context is in use by another call", fn);
    return MST_OK;
}

static void release(mst_context *c)
{
    atomic_store(&c->busy, 0);
}

MST_API mst_status mst_context_create(mst_model *model, const mst_context_params *params,
                                      mst_context **out_context)
{
    mst_clear_error();
    if (!out_context)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_context_create: out_context is NULL");
    *out_context = NULL;
    if (!model)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_context_create: model is NULL");
    if (!params)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_context_create: params is NULL");
    if (params->struct_size != sizeof(mst_context_params))
        return mst_fail(MST_ERR_ABI_MISMATCH, "mst_context_params.struct_size is %u, this library expects %u",
                        params->struct_size, (unsigned)sizeof(mst_context_params));
    if (params->n_ctx == 0)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_context_create: n_ctx must be > 0");
    if (params->n_ctx > INT32_MAX)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_context_create: n_ctx (%u) exceeds INT32_MAX", params->n_ctx);
    if (params->n_batch == 0)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_context_create: n_batch must be > 0");
    if (params->n_threads > MAX_THREADS)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_context_create: n_threads (%u) exceeds %d", params->n_threads,
                        MAX_THREADS);

    const mst_model_config *cfg = &model->cfg;
    uint32_t n_threads = params->n_threads ? params->n_threads : default_threads();
    mst_context *c = calloc(1, sizeof *c);
    if (!c)
        return mst_fail(MST_ERR_OUT_OF_MEMORY, "mst_context_create: out of memory");
    c->model = model;
    c->n_ctx = params->n_ctx;
    /* A batch can never hold more tokens than the cache, so do not size scratch beyond it. */
    c->n_batch = params->n_batch < params->n_ctx ? params->n_batch : params->n_ctx;
    atomic_init(&c->busy, 0);
    plan_cache(c, model);

    uint64_t kv_elems; /* per cache: n_layer * kv_slots * kv_dim */
    int ok = mst_mul_u64((uint64_t)cfg->n_layer * c->kv_slots, model->kv_dim, &kv_elems);
    uint64_t nb = c->n_batch;
    c->k_cache = ok ? mst_alloc_array(kv_elems, sizeof(float)) : NULL;
    c->v_cache = ok ? mst_alloc_array(kv_elems, sizeof(float)) : NULL;
    c->x = mst_alloc_array(nb * cfg->n_embd, sizeof(float));
    c->xb = mst_alloc_array(nb * cfg->n_embd, sizeof(float));
    c->xb2 = mst_alloc_array(nb * cfg->n_embd, sizeof(float));
    c->q = mst_alloc_array(nb * model->q_dim, sizeof(float));
    c->att = mst_alloc_array(nb * model->q_dim, sizeof(float));
    c->hb = mst_alloc_array(nb * cfg->n_ff, sizeof(float));
    c->hb2 = mst_alloc_array(nb * cfg->n_ff, sizeof(float));
    c->pos = mst_alloc_array(nb, sizeof(int32_t));
    c->scores = mst_alloc_array(mst_attention_scratch_floats(n_threads, cfg->head_dim), sizeof(float));
    {
        /* the widest matmul input: n_embd (Wq/Wk/Wv, Wgate/Wup, output), q_dim (Wo), n_ff (Wdown) */
        uint32_t w = cfg->n_embd > model->q_dim ? cfg->n_embd : model->q_dim;
        w = cfg->n_ff > w ? cfg->n_ff : w;
        c->qa_capacity = (uint64_t)w * nb;
        /* room for any format (Q8_0 for Q4_0/Q8_0 weights, Q8_K for K-quants, bf16 for BF16: the largest,
         * 6 bytes a value, floats and pairs) */
        size_t q8_0 = nb <= UINT32_MAX ? mst_qact_bytes(w, (uint32_t)nb) : 0;
        size_t q8_k = nb <= UINT32_MAX ? mst_qact_k_bytes(w, (uint32_t)nb) : 0;
        size_t bf16 = nb <= UINT32_MAX ? mst_qact_bf16_bytes(w, (uint32_t)nb) : 0;
        size_t most = q8_0 > q8_k ? q8_0 : q8_k;
        c->qa_buf = nb <= UINT32_MAX ? malloc(bf16 > most ? bf16 : most) : NULL;
    }
    int moe_ok = 1;
    if (cfg->n_expert > 0) {
        c->router = mst_alloc_array(nb * cfg->n_expert, sizeof(float));
        c->chosen = mst_alloc_array(nb * cfg->n_expert_used, sizeof(int32_t));
        c->chosen_w = mst_alloc_array(nb * cfg->n_expert_used, sizeof(float));
        c->group = mst_alloc_array(nb, sizeof(int32_t));
        c->group_w = mst_alloc_array(nb, sizeof(float));
        c->xg = mst_alloc_array(nb * cfg->n_embd, sizeof(float));
        moe_ok = c->router && c->chosen && c->chosen_w && c->group && c->group_w && c->xg;
    }
    if (!c->k_cache || !c->v_cache || !c->x || !c->xb || !c->xb2 || !c->q || !c->att || !c->hb || !c->hb2 ||
        !c->pos || !c->scores || !c->qa_buf || !moe_ok) {
        uint32_t slots = c->kv_slots;
        free_buffers(c);
        free(c);
        return mst_fail(MST_ERR_OUT_OF_MEMORY,
                        "mst_context_create: out of memory (KV cache of %u layers x %u tokens x %u floats, twice, "
                        "plus scratch for %u tokens)",
                        cfg->n_layer, slots, model->kv_dim, (unsigned)nb);
    }
    mst_status st = mst_pool_create(n_threads, &c->pool);
    if (st != MST_OK) {
        free_buffers(c);
        free(c);
        return st;
    }
    mst_model_retain(model);
    *out_context = c;
    return MST_OK;
}

MST_API mst_status mst_context_free(mst_context *context)
{
    mst_clear_error();
    if (!context)
        return MST_OK; /* like free(NULL) */
    mst_status st = claim(context, "mst_context_free");
    if (st != MST_OK)
        return st;
    mst_pool_free(context->pool);
    free_buffers(context);
    mst_model_release(context->model);
    free(context);
    return MST_OK;
}

MST_API mst_status mst_context_set_threads(mst_context *context, uint32_t n_threads)
{
    mst_clear_error();
    if (!context)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_context_set_threads: context is NULL");
    if (n_threads > MAX_THREADS)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_context_set_threads: n_threads (%u) exceeds %d", n_threads,
                        MAX_THREADS);
    mst_status st = claim(context, "mst_context_set_threads");
    if (st != MST_OK)
        return st;
    if (n_threads == 0)
        n_threads = default_threads();
    /* Build the new pool and score rows first, so a failure leaves the context as it was. */
    float *scores = mst_alloc_array(mst_attention_scratch_floats(n_threads, context->model->cfg.head_dim),
                                    sizeof(float));
    mst_pool *pool = NULL;
    if (!scores) {
        st = mst_fail(MST_ERR_OUT_OF_MEMORY, "mst_context_set_threads: out of memory");
    } else {
        st = mst_pool_create(n_threads, &pool);
    }
    if (st != MST_OK) {
        free(scores);
        release(context);
        return st;
    }
    mst_pool_free(context->pool);
    free(context->scores);
    context->pool = pool;
    context->scores = scores;
    release(context);
    return MST_OK;
}

MST_API mst_status mst_context_position(mst_context *context, uint32_t *out_n_past)
{
    mst_clear_error();
    if (!context || !out_n_past)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_context_position: %s is NULL", context ? "out_n_past" : "context");
    *out_n_past = context->n_past;
    return MST_OK;
}

MST_API mst_status mst_context_limits(mst_context *context, uint32_t *out_kv_slots, uint32_t *out_max_position)
{
    mst_clear_error();
    if (!context)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_context_limits: context is NULL");
    if (out_kv_slots)
        *out_kv_slots = context->kv_slots;
    if (out_max_position)
        *out_max_position = context->max_pos;
    return MST_OK;
}

/* Lowest position whose key is surely still in a rolling cache: a slot is reused by the position
 * kv_slots later, and no position at or past kv_high has ever been written. */
static uint32_t oldest_held(const mst_context *c)
{
    return c->kv_high > c->kv_slots ? c->kv_high - c->kv_slots : 0;
}

MST_API mst_status mst_context_truncate(mst_context *context, uint32_t n_past)
{
    mst_clear_error();
    if (!context)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_context_truncate: context is NULL");
    mst_status st = claim(context, "mst_context_truncate");
    if (st != MST_OK)
        return st;
    /* The token at n_past will attend to positions n_past - w_max + 1 .. n_past - 1; with a rolling
     * cache those must not have been overwritten (max_chunk = kv_slots - w_max + 1). */
    uint32_t w_max = context->kv_slots - context->max_chunk + 1;
    if (n_past > context->n_past) {
        st = mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_context_truncate: n_past %u is beyond the current position %u",
                      n_past, context->n_past);
    } else if (context->rolling && n_past > 0 && oldest_held(context) > 0 &&
               (uint64_t)n_past + 1 < (uint64_t)oldest_held(context) + w_max) {
        st = mst_fail(MST_ERR_INVALID_ARGUMENT,
                      "mst_context_truncate: cannot go back to position %u: the rolling KV cache (%u slots, window %u) "
                      "holds positions %u..%u only; the earliest reachable position is %u",
                      n_past, context->kv_slots, w_max, oldest_held(context), context->n_past - 1,
                      oldest_held(context) + w_max - 1);
    } else {
        /* Entries past n_past are simply overwritten by later decodes; attention never reads them. */
        context->n_past = n_past;
    }
    release(context);
    return st;
}

MST_API mst_status mst_decode(mst_context *context, const int32_t *tokens, uint32_t n_tokens, int32_t all_logits,
                              float *logits_out, uint64_t logits_capacity)
{
    mst_clear_error();
    if (!context)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_decode: context is NULL");
    mst_status st = claim(context, "mst_decode");
    if (st != MST_OK)
        return st;
    const mst_model *m = context->model;
    const uint32_t n_vocab = m->cfg.n_vocab;
    uint64_t need = all_logits == 1 ? (uint64_t)n_tokens * n_vocab : n_vocab;
    if (!tokens)
        st = mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_decode: tokens is NULL");
    else if (n_tokens == 0)
        st = mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_decode: n_tokens is 0");
    else if (n_tokens > context->n_batch)
        st = mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_decode: n_tokens (%u) exceeds the context's n_batch (%u)",
                      n_tokens, context->n_batch);
    else if (all_logits != 0 && all_logits != 1)
        st = mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_decode: all_logits must be 0 or 1, not %d", (int)all_logits);
    else if (!logits_out)
        st = mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_decode: logits_out is NULL");
    else if (logits_capacity < need)
        st = mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_decode: logits_capacity is %llu floats, %llu needed",
                      (unsigned long long)logits_capacity, (unsigned long long)need);
    for (uint32_t i = 0; st == MST_OK && i < n_tokens; i++) {
        if (tokens[i] < 0 || (uint32_t)tokens[i] >= n_vocab)
            st = mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_decode: tokens[%u] = %d is outside the vocabulary [0, %u)", i,
                          (int)tokens[i], n_vocab);
    }
    if (st == MST_OK && (uint64_t)context->n_past + n_tokens > context->max_pos)
        st = mst_fail(MST_ERR_CONTEXT_FULL, "mst_decode: %u tokens at position %u do not fit in %s = %u", n_tokens,
                      context->n_past, context->rolling ? "the position limit" : "n_ctx", context->max_pos);
    /* A rolling cache runs the batch in steps of at most max_chunk tokens, so no step overwrites a
     * key that one of its own queries still sees. The last step writes the last token's logits. */
    for (uint32_t done = 0; st == MST_OK && done < n_tokens;) {
        uint32_t n = n_tokens - done < context->max_chunk ? n_tokens - done : context->max_chunk;
        float *out = all_logits ? logits_out + (size_t)done * n_vocab : logits_out;
        mst_forward(context, tokens + done, n, all_logits, out);
        context->n_past += n;
        if (context->n_past > context->kv_high)
            context->kv_high = context->n_past;
        done += n;
    }
    release(context);
    return st;
}
