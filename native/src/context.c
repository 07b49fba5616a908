/* context.c — a session: validation, cache geometry, one-call-at-a-time claims and the MoE routing arrays
 * here; the KV cache, the scratch buffers and (CPU) the thread pool are the backend's (backend.h:
 * context_init), all allocated up front so that mst_decode never allocates. One call at a time per context
 * (MST_ERR_BUSY otherwise). */
#include <stdlib.h>

#include "internal.h"

enum { MAX_THREADS = 1024 };

/* One thread per CPU this process may run on (usable_cpus.c: affinity mask and cgroup quota). */
static uint32_t default_threads(void)
{
    uint32_t n = mst_usable_cpus();
    return n > MAX_THREADS ? MAX_THREADS : n;
}

/* The host arrays of the MoE routing and mst_decode_greedy's logits row (the backend's buffers are context_free's). */
static void free_host_arrays(mst_context *c)
{
    free(c->chosen);
    free(c->chosen_w);
    free(c->group);
    free(c->group_w);
    free(c->greedy_logits);
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

mst_status mst_context_plan(mst_context *c, mst_model *model, const mst_context_params *params, uint32_t *n_threads)
{
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
    if (params->flags & ~(uint32_t)MST_CONTEXT_CHECK_LAYERS)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_context_create: flags 0x%x has unknown bits", params->flags);
    if (params->kv_type != MST_TYPE_F16 && params->kv_type != MST_TYPE_F32)
        return mst_fail(MST_ERR_UNSUPPORTED, "mst_context_create: kv_type %d is not a KV cache type (F32 = %d, F16 = %d)",
                        (int)params->kv_type, MST_TYPE_F32, MST_TYPE_F16);
    *n_threads = params->n_threads ? params->n_threads : default_threads();
    c->model = model;
    c->n_ctx = params->n_ctx;
    /* A batch can never hold more tokens than the cache, so do not size scratch beyond it. */
    c->n_batch = params->n_batch < params->n_ctx ? params->n_batch : params->n_ctx;
    c->flags = params->flags;
    c->kv_type = params->kv_type;
    plan_cache(c, model);
    return MST_OK;
}

uint64_t mst_context_host_bytes(const mst_context *c)
{
    const mst_model_config *cfg = &c->model->cfg;
    uint64_t bytes = mst_alloc_bound(sizeof(mst_context), 0);
    if (cfg->n_expert > 0) /* the routing arrays of mst_context_create */
        bytes += 2 * mst_alloc_bound((uint64_t)c->n_batch * cfg->n_expert_used * 4, 0) +
                 2 * mst_alloc_bound((uint64_t)c->n_batch * 4, 0);
    bytes += mst_alloc_bound((uint64_t)cfg->n_vocab * sizeof(float), 0); /* greedy_logits */
    return bytes;
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
    mst_context plan = {0};
    uint32_t n_threads;
    mst_status st = mst_context_plan(&plan, model, params, &n_threads);
    if (st != MST_OK)
        return st;
    const mst_model_config *cfg = &model->cfg;
    mst_context *c = calloc(1, sizeof *c);
    if (!c)
        return mst_fail(MST_ERR_OUT_OF_MEMORY, "mst_context_create: out of memory");
    *c = plan;
    atomic_init(&c->busy, 0);
    atomic_init(&c->abort, 0);

    c->backend = model->backend;
    if (cfg->n_expert > 0) {
        const uint64_t nb = c->n_batch;
        c->chosen = mst_alloc_array(nb * cfg->n_expert_used, sizeof(int32_t));
        c->chosen_w = mst_alloc_array(nb * cfg->n_expert_used, sizeof(float));
        c->group = mst_alloc_array(nb, sizeof(int32_t));
        c->group_w = mst_alloc_array(nb, sizeof(float));
        if (!c->chosen || !c->chosen_w || !c->group || !c->group_w) {
            free_host_arrays(c);
            free(c);
            return mst_fail(MST_ERR_OUT_OF_MEMORY, "mst_context_create: out of memory for the routing of %u tokens",
                            (unsigned)nb);
        }
    }
    /* mst_decode_greedy's logits row, allocated here so that no decode allocates */
    c->greedy_logits = mst_alloc_array(cfg->n_vocab, sizeof(float));
    if (!c->greedy_logits) {
        free_host_arrays(c);
        free(c);
        return mst_fail(MST_ERR_OUT_OF_MEMORY, "mst_context_create: out of memory for a logits row of %u floats",
                        (unsigned)cfg->n_vocab);
    }
    st = c->backend->context_init(c, n_threads);
    if (st != MST_OK) {
        free_host_arrays(c);
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
    context->backend->context_free(context);
    free_host_arrays(context);
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
    st = context->backend->set_threads(context, n_threads); /* a failure leaves the context as it was */
    release(context);
    return st;
}

/* No claim: it is meant to reach a decode running on another thread. The flag orders nothing (internal.h). */
MST_API mst_status mst_context_set_abort(mst_context *context, int32_t abort)
{
    mst_clear_error();
    if (!context)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_context_set_abort: context is NULL");
    if (abort != 0 && abort != 1)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_context_set_abort: abort must be 0 or 1, not %d", (int)abort);
    atomic_store_explicit(&context->abort, abort, memory_order_relaxed);
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

/* Where a call that began at `start` and failed in its step at start + done (n tokens) leaves the context.
 * Back at start, as if it had not run, unless a rolling cache has already overwritten keys that a token at
 * start would attend to: the slots of positions start + t (t up to done + n - 1) held positions start + t -
 * kv_slots, and a query at start sees start - w_max + 1 .. start. A single step (done = 0) never overwrites
 * those (max_chunk = kv_slots - w_max + 1), nor does the failed step overwrite what a query at start + done
 * sees; so then the finished steps stay, and the context is at start + done, exact. */
static uint32_t position_after_failure(const mst_context *c, uint32_t start, uint32_t done, uint32_t n)
{
    const uint64_t w_max = (uint64_t)c->kv_slots - c->max_chunk + 1;
    const uint64_t last_written = (uint64_t)start + done + n - 1; /* its slot held last_written - kv_slots */
    const uint64_t first_needed = start + 1 > w_max ? start + 1 - w_max : 0;
    if (done == 0 || last_written < first_needed + c->kv_slots)
        return start;
    return start + done;
}

/* The message of NaN or Inf in the logits: value at index i of the rows that start at position pos0. */
static mst_status logits_error(const mst_context *c, const char *fn, float bad, int64_t i, uint32_t pos0, uint32_t start)
{
    const uint32_t n_vocab = c->model->cfg.n_vocab;
    return mst_fail(MST_ERR_NON_FINITE,
                    "%s: the logits at position %u are not finite (%s for token %u): the model's weights or norms "
                    "hold NaN/Inf, or its activations overflow (MST_CONTEXT_CHECK_LAYERS names the first layer); the "
                    "context stays at position %u",
                    fn, pos0 + (uint32_t)(i / n_vocab), bad != bad ? "NaN" : bad > 0 ? "+Inf" : "-Inf",
                    (unsigned)(i % n_vocab), start);
}

/* NaN or Inf in the logits (rows of n_vocab, the first at position pos0) is an error, not a token: a sampler
 * would silently pick token 0 forever. A scan of the row costs nothing next to the pass that made it. */
static mst_status check_logits(const mst_context *c, const char *fn, const float *logits, uint32_t rows, uint32_t pos0,
                               uint32_t start)
{
    const int64_t i = mst_find_nonfinite(logits, (uint64_t)rows * c->model->cfg.n_vocab);
    return i < 0 ? MST_OK : logits_error(c, fn, logits[i], i, pos0, start);
}

/* One step of mst_decode_greedy (all_logits = 0): the greedy id and the non-finite answer of its last token, from the
 * backend's end_greedy where it has one (the CUDA backend: no logits download), else from the logits end() left in
 * the context's host row, by the same rule (mst_argmax_logits). */
static mst_status greedy_step(mst_context *c, const int32_t *tokens, uint32_t n, mst_greedy_answer *a)
{
    const uint32_t n_vocab = c->model->cfg.n_vocab;
    a->id = 0, a->bad = -1, a->bad_value = 0.0f;
    if (c->backend->end_greedy)
        return mst_forward_greedy(c, tokens, n, c->greedy_logits, a);
    const mst_status st = mst_forward(c, tokens, n, 0, c->greedy_logits);
    if (st == MST_OK) {
        a->bad = mst_find_nonfinite(c->greedy_logits, n_vocab);
        a->bad_value = a->bad >= 0 ? c->greedy_logits[a->bad] : 0.0f;
        a->id = mst_argmax_logits(c->greedy_logits, n_vocab);
    }
    return st;
}

/* mst_decode (out_token NULL) and mst_decode_greedy (out_token set: all_logits 0, no logits_out): the same checks,
 * steps and failures, fn naming the entry point in messages. The caller has claimed the context. */
static mst_status decode(mst_context *context, const char *fn, const int32_t *tokens, uint32_t n_tokens,
                         int32_t all_logits, float *logits_out, uint64_t logits_capacity, int32_t *out_token)
{
    mst_status st = MST_OK;
    const mst_model *m = context->model;
    const uint32_t n_vocab = m->cfg.n_vocab;
    uint64_t need = all_logits == 1 ? (uint64_t)n_tokens * n_vocab : n_vocab;
    if (!tokens)
        st = mst_fail(MST_ERR_INVALID_ARGUMENT, "%s: tokens is NULL", fn);
    else if (n_tokens == 0)
        st = mst_fail(MST_ERR_INVALID_ARGUMENT, "%s: n_tokens is 0", fn);
    else if (n_tokens > context->n_batch)
        st = mst_fail(MST_ERR_INVALID_ARGUMENT, "%s: n_tokens (%u) exceeds the context's n_batch (%u)", fn,
                      n_tokens, context->n_batch);
    else if (all_logits != 0 && all_logits != 1)
        st = mst_fail(MST_ERR_INVALID_ARGUMENT, "%s: all_logits must be 0 or 1, not %d", fn, (int)all_logits);
    else if (!out_token && !logits_out)
        st = mst_fail(MST_ERR_INVALID_ARGUMENT, "%s: logits_out is NULL", fn);
    else if (!out_token && logits_capacity < need)
        st = mst_fail(MST_ERR_INVALID_ARGUMENT, "%s: logits_capacity is %llu floats, %llu needed", fn,
                      (unsigned long long)logits_capacity, (unsigned long long)need);
    for (uint32_t i = 0; st == MST_OK && i < n_tokens; i++) {
        if (tokens[i] < 0 || (uint32_t)tokens[i] >= n_vocab)
            st = mst_fail(MST_ERR_INVALID_ARGUMENT, "%s: tokens[%u] = %d is outside the vocabulary [0, %u)", fn, i,
                          (int)tokens[i], n_vocab);
    }
    if (st == MST_OK && (uint64_t)context->n_past + n_tokens > context->max_pos)
        st = mst_fail(MST_ERR_CONTEXT_FULL, "%s: %u tokens at position %u do not fit in %s = %u", fn, n_tokens,
                      context->n_past, context->rolling ? "the position limit" : "n_ctx", context->max_pos);
    if (st == MST_OK && mst_abort_requested(context))
        st = mst_fail(MST_ERR_CANCELLED, "%s: cancelled before it started (mst_context_set_abort); the context "
                      "stays at position %u", fn, context->n_past);
    /* A rolling cache runs the batch in steps of at most max_chunk tokens, so no step overwrites a
     * key that one of its own queries still sees. The last step writes the last token's logits (or id). */
    const uint32_t start = context->n_past;
    int32_t id = 0;
    for (uint32_t done = 0; st == MST_OK && done < n_tokens;) {
        uint32_t n = n_tokens - done < context->max_chunk ? n_tokens - done : context->max_chunk;
        float *out = all_logits ? logits_out + (size_t)done * n_vocab : logits_out;
        const uint32_t p0 = context->n_past;
        mst_greedy_answer g = {0, -1, 0.0f};
        st = out_token ? greedy_step(context, tokens + done, n, &g) : mst_forward(context, tokens + done, n, all_logits, out);
        /* A failed step may have written some of its cache rows: kv_high counts them as written (so truncate
         * never promises keys they overwrote), but n_past goes back (position_after_failure). */
        if ((uint64_t)p0 + n > context->kv_high)
            context->kv_high = p0 + n;
        const uint32_t back = position_after_failure(context, start, done, n);
        if (st == MST_ERR_NON_FINITE || st == MST_ERR_CANCELLED) {
            mst_fail(st, "%s: %s; the context %s at position %u", fn, context->pass_error,
                     back == start ? "stays" : "is", back);
        } else if (st != MST_OK) {
            mst_fail(st,
                     "%s: the %s backend failed on tokens %u..%u of %u (positions %u..%u; the context %s "
                     "at position %u): %s",
                     fn, context->backend->name, done, done + n - 1, n_tokens, p0, p0 + n - 1,
                     back == start ? "stays" : "is", back, context->pass_error[0] ? context->pass_error : "no message");
        } else if (out_token) {
            st = g.bad < 0 ? MST_OK : logits_error(context, fn, g.bad_value, g.bad, p0 + n - 1, back);
            id = g.id;
        } else {
            st = check_logits(context, fn, out, all_logits ? n : 1, all_logits ? p0 : p0 + n - 1, back);
        }
        if (st != MST_OK) {
            context->n_past = back; /* the call's cache changes undone, as far as a rolling cache allows */
            break;
        }
        context->n_past += n;
        done += n;
    }
    if (st == MST_OK && out_token)
        *out_token = id;
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
    st = decode(context, "mst_decode", tokens, n_tokens, all_logits, logits_out, logits_capacity, NULL);
    release(context);
    return st;
}

MST_API mst_status mst_decode_greedy(mst_context *context, const int32_t *tokens, uint32_t n_tokens,
                                     int32_t *out_token)
{
    mst_clear_error();
    if (!context)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_decode_greedy: context is NULL");
    if (!out_token)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_decode_greedy: out_token is NULL");
    mst_status st = claim(context, "mst_decode_greedy");
    if (st != MST_OK)
        return st;
    st = decode(context, "mst_decode_greedy", tokens, n_tokens, 0, NULL, 0, out_token);
    release(context);
    return st;
}
