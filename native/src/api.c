/* api.c — library-level entry points: version, errors, struct layouts, defaults, CPU features, backends. */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/backend_cpu.h"
#include "cpu/ops.h"
#include "internal.h"

static _Thread_local char g_last_error[512];

void mst_clear_error(void)
{
    g_last_error[0] = '\0';
}

mst_status mst_fail(mst_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_last_error, sizeof g_last_error, fmt, ap);
    va_end(ap);
    return status;
}

void *mst_alloc_array(uint64_t count, size_t size)
{
    uint64_t bytes;
    if (!mst_mul_u64(count, size, &bytes) || bytes > SIZE_MAX)
        return NULL;
    /* calloc: the KV cache is zero until written, and large zeroed blocks cost no page faults up front */
    return calloc(1, bytes ? (size_t)bytes : 1);
}

MST_API uint32_t mst_abi_version(void)
{
    return MST_ABI_VERSION;
}

MST_API const char *mst_last_error(void)
{
    return g_last_error;
}

MST_API const char *mst_status_to_string(mst_status status)
{
    switch (status) {
    case MST_OK: return "ok";
    case MST_ERR_INVALID_ARGUMENT: return "invalid argument";
    case MST_ERR_UNSUPPORTED: return "unsupported";
    case MST_ERR_OUT_OF_MEMORY: return "out of memory";
    case MST_ERR_CONTEXT_FULL: return "context full";
    case MST_ERR_ABI_MISMATCH: return "ABI mismatch";
    case MST_ERR_BUSY: return "busy";
    case MST_ERR_INTERNAL: return "internal error";
    case MST_ERR_DEVICE: return "device error";
    case MST_ERR_NON_FINITE: return "non-finite values";
    case MST_ERR_CANCELLED: return "cancelled";
    }
    return "unknown status";
}

MST_API mst_status mst_cpu_features(uint32_t *out_features)
{
    mst_clear_error();
    if (!out_features)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_cpu_features: out_features is NULL");
    *out_features = mst_cpu_detect() & 0xffffu; /* internal bits stay internal */
    return MST_OK;
}

/* Offsets in declaration order; UINT32_MAX asks for sizeof. */
#define FIELD(s, f) offsetof(s, f)
static const uint64_t k_config_fields[] = {
    FIELD(mst_model_config, struct_size), FIELD(mst_model_config, n_vocab), FIELD(mst_model_config, n_embd),
    FIELD(mst_model_config, n_layer), FIELD(mst_model_config, n_head), FIELD(mst_model_config, n_head_kv),
    FIELD(mst_model_config, head_dim), FIELD(mst_model_config, n_ff), FIELD(mst_model_config, n_ctx_train),
    FIELD(mst_model_config, sliding_window), FIELD(mst_model_config, rope_freq_base),
    FIELD(mst_model_config, rms_norm_eps), FIELD(mst_model_config, n_expert),
    FIELD(mst_model_config, n_expert_used), FIELD(mst_model_config, layer_windows),
};
static const uint64_t k_tensor_fields[] = {
    FIELD(mst_tensor_desc, struct_size), FIELD(mst_tensor_desc, role), FIELD(mst_tensor_desc, layer),
    FIELD(mst_tensor_desc, type), FIELD(mst_tensor_desc, n_dims), FIELD(mst_tensor_desc, flags),
    FIELD(mst_tensor_desc, ne), FIELD(mst_tensor_desc, data), FIELD(mst_tensor_desc, n_bytes),
};
static const uint64_t k_params_fields[] = {
    FIELD(mst_context_params, struct_size), FIELD(mst_context_params, n_ctx),
    FIELD(mst_context_params, n_threads), FIELD(mst_context_params, n_batch),
    FIELD(mst_context_params, flags), FIELD(mst_context_params, kv_type),
};
static const uint64_t k_model_params_fields[] = {
    FIELD(mst_model_params, struct_size), FIELD(mst_model_params, backend), FIELD(mst_model_params, device),
    FIELD(mst_model_params, flags), FIELD(mst_model_params, progress), FIELD(mst_model_params, progress_user_data),
};
static const uint64_t k_backend_info_fields[] = {
    FIELD(mst_backend_info, struct_size), FIELD(mst_backend_info, backend), FIELD(mst_backend_info, available),
    FIELD(mst_backend_info, emulated), FIELD(mst_backend_info, device_count), FIELD(mst_backend_info, compute_major),
    FIELD(mst_backend_info, compute_minor), FIELD(mst_backend_info, driver_version),
    FIELD(mst_backend_info, total_memory), FIELD(mst_backend_info, free_memory), FIELD(mst_backend_info, device_name),
    FIELD(mst_backend_info, reason),
};
static const uint64_t k_memory_estimate_fields[] = {
    FIELD(mst_memory_estimate, struct_size), FIELD(mst_memory_estimate, reserved),
    FIELD(mst_memory_estimate, weights_mapped), FIELD(mst_memory_estimate, weights_owned),
    FIELD(mst_memory_estimate, kv_cache), FIELD(mst_memory_estimate, scratch), FIELD(mst_memory_estimate, device),
};

MST_API mst_status mst_struct_layout(int32_t struct_id, uint32_t field_index, uint64_t *out_value)
{
    mst_clear_error();
    if (!out_value)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_struct_layout: out_value is NULL");
    const uint64_t *fields;
    uint32_t count;
    uint64_t size;
    switch (struct_id) {
    case MST_STRUCT_MODEL_CONFIG:
        fields = k_config_fields, count = sizeof k_config_fields / sizeof *fields, size = sizeof(mst_model_config);
        break;
    case MST_STRUCT_TENSOR_DESC:
        fields = k_tensor_fields, count = sizeof k_tensor_fields / sizeof *fields, size = sizeof(mst_tensor_desc);
        break;
    case MST_STRUCT_CONTEXT_PARAMS:
        fields = k_params_fields, count = sizeof k_params_fields / sizeof *fields, size = sizeof(mst_context_params);
        break;
    case MST_STRUCT_MODEL_PARAMS:
        fields = k_model_params_fields, count = sizeof k_model_params_fields / sizeof *fields,
        size = sizeof(mst_model_params);
        break;
    case MST_STRUCT_BACKEND_INFO:
        fields = k_backend_info_fields, count = sizeof k_backend_info_fields / sizeof *fields,
        size = sizeof(mst_backend_info);
        break;
    case MST_STRUCT_MEMORY_ESTIMATE:
        fields = k_memory_estimate_fields, count = sizeof k_memory_estimate_fields / sizeof *fields,
        size = sizeof(mst_memory_estimate);
        break;
    default:
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_struct_layout: unknown struct id %d", (int)struct_id);
    }
    if (field_index == UINT32_MAX) {
        *out_value = size;
        return MST_OK;
    }
    if (field_index >= count)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_struct_layout: struct %d has %u fields, asked for field %u",
                        (int)struct_id, count, field_index);
    *out_value = fields[field_index];
    return MST_OK;
}

MST_API mst_status mst_model_config_default(mst_model_config *out_config)
{
    mst_clear_error();
    if (!out_config)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_model_config_default: out_config is NULL");
    /* Mistral 7B v0.1: the architecture every other model in the family varies from. */
    *out_config = (mst_model_config){
        .struct_size = sizeof(mst_model_config),
        .n_vocab = 32000,
        .n_embd = 4096,
        .n_layer = 32,
        .n_head = 32,
        .n_head_kv = 8,
        .head_dim = 128,
        .n_ff = 14336,
        .n_ctx_train = 32768,
        .sliding_window = 4096,
        .rope_freq_base = 10000.0f,
        .rms_norm_eps = 1e-5f,
    };
    return MST_OK;
}

MST_API mst_status mst_context_params_default(mst_context_params *out_params)
{
    mst_clear_error();
    if (!out_params)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_context_params_default: out_params is NULL");
    *out_params = (mst_context_params){
        .struct_size = sizeof(mst_context_params),
        .n_ctx = 4096,
        .n_threads = 0,
        .n_batch = 512,
        .flags = 0,
        .kv_type = MST_TYPE_F16,
    };
    return MST_OK;
}

MST_API mst_status mst_model_params_default(mst_model_params *out_params)
{
    mst_clear_error();
    if (!out_params)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_model_params_default: out_params is NULL");
    *out_params = (mst_model_params){
        .struct_size = sizeof(mst_model_params),
        .backend = MST_BACKEND_CPU,
        .device = 0,
        .flags = 0,
        .progress = NULL,
        .progress_user_data = NULL,
    };
    return MST_OK;
}

/* The caller sets out_info->struct_size (the library writes that many bytes); everything else is filled here. */
MST_API mst_status mst_backend_query(int32_t backend, uint32_t flags, mst_backend_info *out_info)
{
    mst_clear_error();
    if (!out_info)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_backend_query: out_info is NULL");
    if (out_info->struct_size != sizeof(mst_backend_info))
        return mst_fail(MST_ERR_ABI_MISMATCH, "mst_backend_info.struct_size is %u, this library expects %u",
                        out_info->struct_size, (unsigned)sizeof(mst_backend_info));
    if (backend != MST_BACKEND_CPU && backend != MST_BACKEND_CUDA)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_backend_query: backend %d is neither CPU (0) nor CUDA (1)",
                        (int)backend);
    if (flags & ~(uint32_t)MST_BACKEND_EMULATE)
        return mst_fail(MST_ERR_INVALID_ARGUMENT, "mst_backend_query: flags 0x%x has unknown bits", flags);
    memset(out_info, 0, sizeof *out_info);
    out_info->struct_size = sizeof(mst_backend_info);
    out_info->backend = backend;
    return backend == MST_BACKEND_CPU ? mst_cpu_query(out_info) : mst_cuda_query(flags, out_info);
}
