/* model.c — mst_model_create(_with)/free: every config value and tensor is checked before use, the same
 * checks whatever the backend; then the backend places the weights (backend.h: model_init).
 *
 * Weights are read in place from the caller's memory (typically the GGUF mapping). Only the norm
 * vectors are copied, to float32, so the forward pass needs no per-type norm code. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/quant.h"
#include "internal.h"

enum { N_ROLES = MST_ROLE_FFN_DOWN_EXPS + 1, N_GLOBAL_SLOTS = 3, N_LAYER_ROLES = N_ROLES - MST_ROLE_ATTN_NORM };
/* Experts per layer we accept: Mixtral has 8; this bounds the per-token routing scratch. */
enum { MAX_EXPERTS = 256 };

static const char *role_name(int32_t role)
{
    static const char *names[N_ROLES] = {
        "token_embd", "output_norm", "output", "attn_norm", "attn_q", "attn_k",
        "attn_v", "attn_output", "ffn_norm", "ffn_gate", "ffn_up", "ffn_down",
        "ffn_gate_inp", "ffn_gate_exps", "ffn_up_exps", "ffn_down_exps",
    };
    return role >= 0 && role < N_ROLES ? names[role] : "unknown role";
}

static int role_is_expert(int32_t role)
{
    return role >= MST_ROLE_FFN_GATE_INP && role <= MST_ROLE_FFN_DOWN_EXPS;
}

static int role_is_dense_ffn(int32_t role)
{
    return role == MST_ROLE_FFN_GATE || role == MST_ROLE_FFN_UP || role == MST_ROLE_FFN_DOWN;
}

/* Whether a per-layer role belongs to this model: a dense model has no router or experts, an MoE
 * model no dense feed-forward. */
static int role_used(const mst_model_config *c, int32_t role)
{
    return c->n_expert > 0 ? !role_is_dense_ffn(role) : !role_is_expert(role);
}

static int role_is_global(int32_t role)
{
    return role == MST_ROLE_TOKEN_EMBD || role == MST_ROLE_OUTPUT_NORM || role == MST_ROLE_OUTPUT;
}

/* Slot of a (role, layer) pair in the table of seen tensors. */
static size_t slot_of(int32_t role, int32_t layer)
{
    if (role_is_global(role))
        return (size_t)role;
    return N_GLOBAL_SLOTS + (size_t)layer * N_LAYER_ROLES + (size_t)(role - MST_ROLE_ATTN_NORM);
}

/* Expected [ne0, ne1, ne2] of a role (1 for unused dimensions), from the comments in mistral.h. */
static void expected_shape(const mst_model *m, int32_t role, uint64_t *ne0, uint64_t *ne1, uint64_t *ne2)
{
    const mst_model_config *c = &m->cfg;
    *ne1 = 1;
    *ne2 = 1;
    switch (role) {
    case MST_ROLE_TOKEN_EMBD:
    case MST_ROLE_OUTPUT: *ne0 = c->n_embd, *ne1 = c->n_vocab; break;
    case MST_ROLE_OUTPUT_NORM:
    case MST_ROLE_ATTN_NORM:
    case MST_ROLE_FFN_NORM: *ne0 = c->n_embd; break;
    case MST_ROLE_ATTN_Q: *ne0 = c->n_embd, *ne1 = m->q_dim; break;
    case MST_ROLE_ATTN_K:
    case MST_ROLE_ATTN_V: *ne0 = c->n_embd, *ne1 = m->kv_dim; break;
    case MST_ROLE_ATTN_OUT: *ne0 = m->q_dim, *ne1 = c->n_embd; break;
    case MST_ROLE_FFN_GATE:
    case MST_ROLE_FFN_UP: *ne0 = c->n_embd, *ne1 = c->n_ff; break;
    case MST_ROLE_FFN_DOWN: *ne0 = c->n_ff, *ne1 = c->n_embd; break;
    case MST_ROLE_FFN_GATE_INP: *ne0 = c->n_embd, *ne1 = c->n_expert; break;
    case MST_ROLE_FFN_GATE_EXPS:
    case MST_ROLE_FFN_UP_EXPS: *ne0 = c->n_embd, *ne1 = c->n_ff, *ne2 = c->n_expert; break;
    case MST_ROLE_FFN_DOWN_EXPS: *ne0 = c->n_ff, *ne1 = c->n_embd, *ne2 = c->n_expert; break;
    default: *ne0 = 0; break;
    }
}

static mst_status check_config(const mst_model_config *c)
{
    if (c->struct_size != sizeof(mst_model_config))
        return mst_fail(MST_ERR_ABI_MISMATCH, "mst_model_config.struct_size is %u, this library expects %u",
                        c->struct_size, (unsigned)sizeof(mst_model_config));
#define POSITIVE(f)                                                                                         \
    if (c->f == 0)                                                                                          \
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "model config: " #f " must be > 0");
    POSITIVE(n_vocab) POSITIVE(n_embd) POSITIVE(n_layer) POSITIVE(n_head) POSITIVE(n_head_kv)
    POSITIVE(head_dim) POSITIVE(n_ff)
#undef POSITIVE
    if (c->n_head % c->n_head_kv != 0)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "model config: n_head (%u) is not a multiple of n_head_kv (%u)",
                        c->n_head, c->n_head_kv);
    if (c->head_dim % 2 != 0)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "model config: head_dim (%u) must be even for RoPE", c->head_dim);
    if (c->n_vocab > INT32_MAX)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "model config: n_vocab (%u) exceeds INT32_MAX", c->n_vocab);
    /* Every dimension a kernel sees must fit its uint32 row/column arguments with room to spare. */
    if ((uint64_t)c->n_head * c->head_dim > INT32_MAX)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "model config: n_head * head_dim (%u * %u) is too large",
                        c->n_head, c->head_dim);
    if (c->n_embd > INT32_MAX || c->n_ff > INT32_MAX || c->n_layer > INT32_MAX)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "model config: a dimension exceeds INT32_MAX");
    if (c->n_expert > MAX_EXPERTS)
        return mst_fail(MST_ERR_UNSUPPORTED, "model config: n_expert (%u) exceeds %d", c->n_expert, MAX_EXPERTS);
    if (c->n_expert == 0 ? c->n_expert_used != 0 : (c->n_expert_used == 0 || c->n_expert_used > c->n_expert))
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "model config: n_expert_used (%u) must be in 1..n_expert (%u)%s",
                        c->n_expert_used, c->n_expert, c->n_expert == 0 ? ", or 0 for a dense model" : "");
    if (!(isfinite(c->rope_freq_base) && c->rope_freq_base > 0.0f))
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "model config: rope_freq_base (%g) must be finite and > 0",
                        (double)c->rope_freq_base);
    if (!(isfinite(c->rms_norm_eps) && c->rms_norm_eps >= 0.0f))
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "model config: rms_norm_eps (%g) must be finite and >= 0",
                        (double)c->rms_norm_eps);
    return MST_OK;
}

/* read_data = 0 (mst_estimate_memory): data may be NULL, as it is never read. */
static mst_status check_tensor(const mst_model *m, const mst_tensor_desc *d, uint32_t index, int read_data)
{
    if (d->struct_size != sizeof(mst_tensor_desc))
        return mst_fail(MST_ERR_ABI_MISMATCH, "tensor %u: struct_size is %u, this library expects %u", index,
                        d->struct_size, (unsigned)sizeof(mst_tensor_desc));
    if (d->role < 0 || d->role >= N_ROLES)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "tensor %u: role %d is out of range", index, (int)d->role);
    const char *rn = role_name(d->role);
    if (role_is_global(d->role) ? d->layer != -1 : (d->layer < 0 || (uint32_t)d->layer >= m->cfg.n_layer))
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "tensor %u (%s): layer %d is invalid (%s)", index, rn,
                        (int)d->layer, role_is_global(d->role) ? "a global tensor takes -1" : "out of range");
    if (!mst_type_supported(d->type))
        return mst_fail(MST_ERR_UNSUPPORTED, "tensor %s (layer %d): type %d is not supported (F32, F16, BF16, Q8_0, Q4_0, Q2_K..Q6_K)",
                        rn, (int)d->layer, (int)d->type);
    if (d->n_dims < 1 || d->n_dims > 4)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "tensor %s (layer %d): n_dims %u is not in 1..4", rn,
                        (int)d->layer, d->n_dims);
    if (d->flags & ~(uint32_t)MST_TENSOR_FILE_MAPPED)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "tensor %s (layer %d): flags 0x%x has unknown bits", rn, (int)d->layer,
                        d->flags);
    for (uint32_t i = 0; i < 4; i++) {
        if (d->ne[i] <= 0 || (i >= d->n_dims && d->ne[i] != 1))
            return mst_fail(MST_ERR_INVALID_ARGUMENT,
                            "tensor %s (layer %d): ne[%u] = %lld is invalid (must be > 0, and 1 beyond n_dims %u)", rn,
                            (int)d->layer, i, (long long)d->ne[i], d->n_dims);
    }
    if (!role_used(&m->cfg, d->role))
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "tensor %s (layer %d) does not belong to a %s model", rn,
                        (int)d->layer, m->cfg.n_expert > 0 ? "mixture-of-experts" : "dense (n_expert = 0)");
    uint64_t e0, e1, e2;
    expected_shape(m, d->role, &e0, &e1, &e2);
    if ((uint64_t)d->ne[0] != e0 || (uint64_t)d->ne[1] != e1 || (uint64_t)d->ne[2] != e2 || d->ne[3] != 1)
        return mst_fail(MST_ERR_INVALID_ARGUMENT,
                        "tensor %s (layer %d): shape [%lld, %lld, %lld, %lld] does not match the expected [%llu, %llu, %llu]",
                        rn, (int)d->layer, (long long)d->ne[0], (long long)d->ne[1], (long long)d->ne[2],
                        (long long)d->ne[3], (unsigned long long)e0, (unsigned long long)e1, (unsigned long long)e2);
    uint32_t bs = mst_type_block_size(d->type);
    if (e0 % bs != 0)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "tensor %s (layer %d): ne[0] = %llu is not a multiple of the %s block size %u",
                        rn, (int)d->layer, (unsigned long long)e0, mst_type_name(d->type), bs);
    uint64_t row_bytes, bytes;
    if (!mst_type_bytes(d->type, e0, &row_bytes) || !mst_mul_u64(row_bytes, e1, &bytes) ||
        !mst_mul_u64(bytes, e2, &bytes) || bytes > SIZE_MAX)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "tensor %s (layer %d): size overflows", rn, (int)d->layer);
    if (d->n_bytes != bytes)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "tensor %s (layer %d): n_bytes is %llu, but %s [%llu, %llu] takes %llu",
                        rn, (int)d->layer, (unsigned long long)d->n_bytes, mst_type_name(d->type),
                        (unsigned long long)e0, (unsigned long long)e1 * e2, (unsigned long long)bytes);
    if (read_data && !d->data)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "tensor %s (layer %d): data is NULL", rn, (int)d->layer);
    return MST_OK;
}

static mst_weight weight_of(const mst_tensor_desc *d)
{
    uint64_t row_bytes = 0;
    mst_type_bytes(d->type, (uint64_t)d->ne[0], &row_bytes);
    return (mst_weight){
        .type = d->type,
        .data = d->data,
        .rows = (uint32_t)d->ne[1],
        .cols = (uint32_t)d->ne[0],
        .row_bytes = (size_t)row_bytes,
        .flags = d->flags,
    };
}

/* m->backend stays set only once its model_init has succeeded: then model_free undoes it. */
static void free_model(mst_model *m)
{
    if (!m)
        return;
    if (m->backend)
        m->backend->model_free(m);
    free(m->layers);
    free(m->norms);
    free(m->windows);
    free(m);
}

/* The backend params ask for (NULL: the CPU). */
static mst_status choose_backend(const char *fn, const mst_model_params *params, const mst_backend **out)
{
    *out = &mst_backend_cpu;
    if (!params)
        return MST_OK;
    if (params->struct_size != sizeof(mst_model_params))
        return mst_fail(MST_ERR_ABI_MISMATCH, "mst_model_params.struct_size is %u, this library expects %u",
                        params->struct_size, (unsigned)sizeof(mst_model_params));
    if (params->flags & ~(uint32_t)MST_BACKEND_EMULATE)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "%s: mst_model_params.flags 0x%x has unknown bits", fn,
                        params->flags);
    switch (params->backend) {
    case MST_BACKEND_CPU: return MST_OK;
    case MST_BACKEND_CUDA:
        if (params->device < 0)
            return mst_fail(MST_ERR_INVALID_ARGUMENT, "%s: CUDA device %d is negative", fn, (int)params->device);
        *out = &mst_backend_cuda; /* built without it: its stub's model_init says so (cuda/off/) */
        return MST_OK;
    default:
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "%s: backend %d is neither CPU (0) nor CUDA (1)", fn,
                        (int)params->backend);
    }
}

/* (1 + 2 x n_layer) vectors of n_embd: output_norm, then attn_norm and ffn_norm of each layer. */
static uint64_t norm_floats(const mst_model_config *c)
{
    return (1 + 2 * (uint64_t)c->n_layer) * c->n_embd;
}

uint64_t mst_model_host_bytes(const mst_model_config *c)
{
    return mst_alloc_bound(sizeof(mst_model), 0) + mst_alloc_bound((uint64_t)c->n_layer * sizeof(mst_layer), 0) +
           mst_alloc_bound((uint64_t)c->n_layer * sizeof(uint32_t), 0) + mst_alloc_bound(norm_floats(c) * sizeof(float), 0);
}

/* Every check, then the model's tables. read_data = 1 (create): the norms are copied to float32 and checked for
 * NaN/Inf; 0 (a skeleton for mst_estimate_memory): no tensor data is read and data may be NULL. m->backend stays
 * NULL: the caller sets it once the backend has placed the weights. */
static mst_status assemble(const char *fn, const mst_model_config *config, const mst_tensor_desc *tensors,
                           uint32_t n_tensors, const mst_model_params *params, int read_data,
                           const mst_backend **out_backend, mst_model **out_model)
{
    if (!out_model)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "%s: out_model is NULL", fn);
    *out_model = NULL;
    if (!config)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "%s: config is NULL", fn);
    if (!tensors && n_tensors > 0)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "%s: tensors is NULL but n_tensors is %u", fn, n_tensors);
    const mst_backend *backend;
    mst_status st = choose_backend(fn, params, &backend);
    if (st != MST_OK)
        return st;
    st = check_config(config);
    if (st != MST_OK)
        return st;

    mst_model *m = calloc(1, sizeof *m);
    if (!m)
        return mst_fail(MST_ERR_OUT_OF_MEMORY, "%s: out of memory", fn);
    m->cfg = *config;
    m->q_dim = config->n_head * config->head_dim;
    m->kv_dim = config->n_head_kv * config->head_dim;
    m->cfg.layer_windows = NULL; /* the caller's array is read here only; m->windows is our copy */
    atomic_init(&m->refs, 1);
    atomic_init(&m->caller_released, 0);

    /* Nothing is sized from the config before the table confirms it: a layer count the tensors cannot fill is
     * refused here, and the norm copies are allocated only once every shape has matched the config. */
    const uint32_t n_layer = config->n_layer;
    const uint64_t per_layer = config->n_expert > 0 ? 10 : 9; /* 2 norms, q, k, v, out; 3 FFN (or router + 3) */
    if ((uint64_t)n_layer * per_layer + 2 > n_tensors) {
        free_model(m);
        return mst_fail(MST_ERR_INVALID_ARGUMENT,
                        "%s: n_layer = %u needs at least %llu tensors (%llu per layer, token_embd, output_norm), the table "
                        "has %u",
                        fn, n_layer, (unsigned long long)((uint64_t)n_layer * per_layer + 2),
                        (unsigned long long)per_layer, n_tensors);
    }
    const size_t n_slots = N_GLOBAL_SLOTS + (size_t)n_layer * N_LAYER_ROLES;
    const mst_tensor_desc **seen = mst_alloc_array(n_slots, sizeof *seen);
    m->layers = mst_alloc_array(n_layer, sizeof *m->layers);
    m->windows = mst_alloc_array(n_layer, sizeof *m->windows);
    if (!seen || !m->layers || !m->windows) {
        free(seen);
        free_model(m);
        return mst_fail(MST_ERR_OUT_OF_MEMORY, "%s: out of memory for the tables of %u layers (%llu bytes)", fn,
                        n_layer, (unsigned long long)(n_slots * sizeof *seen + n_layer * (sizeof(mst_layer) + 4)));
    }

    for (uint32_t i = 0; i < n_tensors && st == MST_OK; i++) {
        const mst_tensor_desc *d = &tensors[i];
        st = check_tensor(m, d, i, read_data);
        if (st != MST_OK)
            break;
        size_t s = slot_of(d->role, d->layer);
        if (seen[s])
            st = mst_fail(MST_ERR_INVALID_ARGUMENT, "tensor %s (layer %d) is given twice (entries %u and %u)",
                          role_name(d->role), (int)d->layer, (unsigned)(seen[s] - tensors), i);
        seen[s] = d;
    }
    /* Every tensor is required except OUTPUT, which falls back to TOKEN_EMBD (tied embeddings). */
    for (size_t s = 0; s < n_slots && st == MST_OK; s++) {
        int32_t role = s < N_GLOBAL_SLOTS ? (int32_t)s : MST_ROLE_ATTN_NORM + (int32_t)((s - N_GLOBAL_SLOTS) % N_LAYER_ROLES);
        int32_t layer = s < N_GLOBAL_SLOTS ? -1 : (int32_t)((s - N_GLOBAL_SLOTS) / N_LAYER_ROLES);
        if (seen[s] || s == MST_ROLE_OUTPUT || (layer >= 0 && !role_used(config, role)))
            continue;
        st = mst_fail(MST_ERR_INVALID_ARGUMENT, "tensor %s (layer %d) is missing", role_name(role), (int)layer);
    }
    const uint64_t n_norm_floats = norm_floats(config);
    if (st == MST_OK && read_data && !(m->norms = mst_alloc_array(n_norm_floats, sizeof(float))))
        st = mst_fail(MST_ERR_OUT_OF_MEMORY,
                      "%s: out of memory for the float32 norm weights (%llu bytes: (1 + 2 x n_layer %u) x n_embd %u)", fn,
                      (unsigned long long)(n_norm_floats * sizeof(float)), n_layer, config->n_embd);
    if (st != MST_OK) {
        free(seen);
        free_model(m);
        return st;
    }

    const uint32_t n_embd = config->n_embd;
    float *norm = m->norms; /* NULL in a skeleton: the norm pointers stay NULL */
    if (read_data) {
        mst_dequantize_ref(seen[MST_ROLE_OUTPUT_NORM]->type, seen[MST_ROLE_OUTPUT_NORM]->data, n_embd, norm);
        m->output_norm = norm;
        norm += n_embd;
    }
    m->tied_output = seen[MST_ROLE_OUTPUT] == NULL;
    m->tok_embd = weight_of(seen[MST_ROLE_TOKEN_EMBD]);
    m->output = weight_of(seen[MST_ROLE_OUTPUT] ? seen[MST_ROLE_OUTPUT] : seen[MST_ROLE_TOKEN_EMBD]);
    for (uint32_t l = 0; l < n_layer; l++) {
        const mst_tensor_desc **t = seen + N_GLOBAL_SLOTS + (size_t)l * N_LAYER_ROLES - MST_ROLE_ATTN_NORM;
        mst_layer *L = &m->layers[l];
        if (read_data) {
            mst_dequantize_ref(t[MST_ROLE_ATTN_NORM]->type, t[MST_ROLE_ATTN_NORM]->data, n_embd, norm);
            L->attn_norm = norm;
            norm += n_embd;
            mst_dequantize_ref(t[MST_ROLE_FFN_NORM]->type, t[MST_ROLE_FFN_NORM]->data, n_embd, norm);
            L->ffn_norm = norm;
            norm += n_embd;
        }
        L->wq = weight_of(t[MST_ROLE_ATTN_Q]);
        L->wk = weight_of(t[MST_ROLE_ATTN_K]);
        L->wv = weight_of(t[MST_ROLE_ATTN_V]);
        L->wo = weight_of(t[MST_ROLE_ATTN_OUT]);
        if (config->n_expert > 0) {
            L->router = weight_of(t[MST_ROLE_FFN_GATE_INP]);
            L->w_gate = weight_of(t[MST_ROLE_FFN_GATE_EXPS]); /* expert 0's slice; see mst_expert_slice */
            L->w_up = weight_of(t[MST_ROLE_FFN_UP_EXPS]);
            L->w_down = weight_of(t[MST_ROLE_FFN_DOWN_EXPS]);
        } else {
            L->w_gate = weight_of(t[MST_ROLE_FFN_GATE]);
            L->w_up = weight_of(t[MST_ROLE_FFN_UP]);
            L->w_down = weight_of(t[MST_ROLE_FFN_DOWN]);
        }
        m->windows[l] = config->layer_windows ? config->layer_windows[l] : config->sliding_window;
    }
    free(seen);
    /* A NaN/Inf norm weight is refused here, where it costs a scan of a few vectors: at run time it would not even
     * show reliably, as quantizing the activations for a matmul turns a NaN into an arbitrary integer. */
    const int64_t bad = read_data ? mst_find_nonfinite(m->norms, n_norm_floats) : -1;
    if (bad >= 0) {
        const uint64_t vec = (uint64_t)bad / n_embd; /* 0: output_norm; then attn_norm, ffn_norm per layer */
        free_model(m);
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "tensor %s (layer %d) holds NaN/Inf at element %llu",
                        vec == 0 ? "output_norm" : vec % 2 ? "attn_norm" : "ffn_norm", vec == 0 ? -1 : (int)((vec - 1) / 2),
                        (unsigned long long)((uint64_t)bad % n_embd));
    }
    *out_backend = backend;
    *out_model = m;
    return MST_OK;
}

static mst_status create(const char *fn, const mst_model_config *config, const mst_tensor_desc *tensors,
                         uint32_t n_tensors, const mst_model_params *params, mst_model **out_model)
{
    if (!out_model)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "%s: out_model is NULL", fn);
    *out_model = NULL;
    const mst_backend *backend;
    mst_model *m;
    mst_status st = assemble(fn, config, tensors, n_tensors, params, 1, &backend, &m);
    if (st != MST_OK)
        return st;
    m->backend = backend;
    st = backend->model_init(m, params); /* CPU: repacks; CUDA: uploads. Nothing stays allocated on failure. */
    if (st != MST_OK) {
        m->backend = NULL;
        free_model(m);
        return st;
    }
    *out_model = m;
    return MST_OK;
}

mst_status mst_model_skeleton(const char *fn, const mst_model_config *config, const mst_tensor_desc *tensors,
                              uint32_t n_tensors, const mst_model_params *params, const mst_backend **out_backend,
                              mst_model **out_model)
{
    return assemble(fn, config, tensors, n_tensors, params, 0, out_backend, out_model);
}

void mst_model_free_skeleton(mst_model *model)
{
    free_model(model); /* m->backend is NULL: only model.c's tables */
}

MST_API mst_status mst_model_create_with(const mst_model_config *config, const mst_tensor_desc *tensors,
                                         uint32_t n_tensors, const mst_model_params *params, mst_model **out_model)
{
    mst_clear_error();
    return create("mst_model_create_with", config, tensors, n_tensors, params, out_model);
}

MST_API mst_status mst_model_create(const mst_model_config *config, const mst_tensor_desc *tensors,
                                    uint32_t n_tensors, mst_model **out_model)
{
    mst_clear_error();
    return create("mst_model_create", config, tensors, n_tensors, NULL, out_model);
}

MST_API mst_status mst_model_backend(mst_model *model, int32_t *out_backend)
{
    mst_clear_error();
    if (!model || !out_backend)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_model_backend: %s is NULL", model ? "out_backend" : "model");
    *out_backend = model->backend == &mst_backend_cuda ? MST_BACKEND_CUDA : MST_BACKEND_CPU;
    return MST_OK;
}

void mst_model_retain(mst_model *model)
{
    atomic_fetch_add_explicit(&model->refs, 1, memory_order_relaxed);
}

void mst_model_release(mst_model *model)
{
    if (atomic_fetch_sub_explicit(&model->refs, 1, memory_order_acq_rel) == 1)
        free_model(model);
}

MST_API mst_status mst_model_free(mst_model *model)
{
    mst_clear_error();
    if (!model)
        return MST_OK; /* like free(NULL) */
    if (atomic_exchange(&model->caller_released, 1))
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_model_free: this model was already freed (its contexts keep it alive)");
    mst_model_release(model);
    return MST_OK;
}
