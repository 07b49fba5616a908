/*
 * mistral.h — the whole C ABI of the Mistral.Native core.
 *
 * Rules (why each exists: docs/ARCHITECTURE.md, "The C ABI"):
 *   - every function returns an mst_status; results go through out-pointers;
 *   - on failure, mst_last_error() (thread-local) explains it in words;
 *   - nothing here aborts, asserts or exits on bad input;
 *   - structs start with struct_size and use fixed-width fields only, laid out
 *     without implicit padding, so the C# side can mirror them blittably;
 *   - mst_abi_version() must equal MST_ABI_VERSION of the header the caller
 *     was built against, or the caller refuses the library.
 *
 * The C# P/Invoke layer is generated from this file (bindings/): keep it plain C.
 */
#ifndef MISTRAL_H
#define MISTRAL_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#  if defined(MST_BUILD)
#    define MST_API __declspec(dllexport)
#  elif defined(MST_STATIC) /* linked from the static library (the native tests): no DLL in between */
#    define MST_API
#  else
#    define MST_API __declspec(dllimport)
#  endif
#else
#  define MST_API __attribute__((visibility("default")))
#endif

/* Bumped on any change to a signature, struct layout or enum value below, and on a new function the C# layer
 * calls (7: mst_decode_greedy), so that an older library is refused by the version check, not at its first call. */
#define MST_ABI_VERSION 7

typedef enum mst_status {
    MST_OK = 0,
    MST_ERR_INVALID_ARGUMENT = 1, /* a null pointer, a bad size, an out-of-range value */
    MST_ERR_UNSUPPORTED = 2,      /* a tensor type, shape or feature this build cannot run */
    MST_ERR_OUT_OF_MEMORY = 3,    /* an allocation failed */
    MST_ERR_CONTEXT_FULL = 4,     /* the tokens do not fit in the context's KV cache */
    MST_ERR_ABI_MISMATCH = 5,     /* a struct_size the library does not know */
    MST_ERR_BUSY = 6,             /* the context is already in use by another call */
    MST_ERR_INTERNAL = 7,         /* a bug: please report it with mst_last_error() */
    MST_ERR_DEVICE = 8,           /* the GPU driver or device failed or is missing; mst_last_error() names
                                   * the call, the driver's error and what to do */
    MST_ERR_NON_FINITE = 9,       /* the forward pass produced NaN or Inf: mst_last_error() names the position
                                   * (and, with MST_CONTEXT_CHECK_LAYERS, the layer); the weights hold
                                   * non-finite values or overflow */
    MST_ERR_CANCELLED = 10        /* mst_context_set_abort asked the call to stop; the cache is unchanged (except
                                   * for a rolling cache's finished steps: see mst_context_set_abort) */
} mst_status;

/* Tensor element types: the values are GGML's type ids, as stored in GGUF files. */
typedef enum mst_type {
    MST_TYPE_F32 = 0,
    MST_TYPE_F16 = 1,
    MST_TYPE_Q4_0 = 2,
    MST_TYPE_Q8_0 = 8,
    MST_TYPE_Q2_K = 10, /* K-quants: super-blocks of 256 weights, so rows must be a multiple of 256 */
    MST_TYPE_Q3_K = 11,
    MST_TYPE_Q4_K = 12,
    MST_TYPE_Q5_K = 13,
    MST_TYPE_Q6_K = 14,
    MST_TYPE_BF16 = 30
} mst_type;

/* What a weight tensor is for. Per-layer roles carry the layer index in mst_tensor_desc.layer. */
typedef enum mst_tensor_role {
    MST_ROLE_TOKEN_EMBD = 0,  /* [n_embd, n_vocab]           global */
    MST_ROLE_OUTPUT_NORM = 1, /* [n_embd]                    global */
    MST_ROLE_OUTPUT = 2,      /* [n_embd, n_vocab]           global; absent = tied to TOKEN_EMBD */
    MST_ROLE_ATTN_NORM = 3,   /* [n_embd]                    per layer */
    MST_ROLE_ATTN_Q = 4,      /* [n_embd, n_head*head_dim]   per layer */
    MST_ROLE_ATTN_K = 5,      /* [n_embd, n_head_kv*head_dim] per layer */
    MST_ROLE_ATTN_V = 6,      /* [n_embd, n_head_kv*head_dim] per layer */
    MST_ROLE_ATTN_OUT = 7,    /* [n_head*head_dim, n_embd]   per layer */
    MST_ROLE_FFN_NORM = 8,    /* [n_embd]                    per layer */
    MST_ROLE_FFN_GATE = 9,    /* [n_embd, n_ff]              per layer */
    MST_ROLE_FFN_UP = 10,     /* [n_embd, n_ff]              per layer */
    MST_ROLE_FFN_DOWN = 11,   /* [n_ff, n_embd]              per layer */
    /* Mixture of experts (n_expert > 0): these replace FFN_GATE/UP/DOWN. The experts are stacked
     * along the last dimension, so expert e's matrix starts e * (its byte size) into the tensor. */
    MST_ROLE_FFN_GATE_INP = 12,  /* [n_embd, n_expert]           per layer: the router */
    MST_ROLE_FFN_GATE_EXPS = 13, /* [n_embd, n_ff, n_expert]     per layer */
    MST_ROLE_FFN_UP_EXPS = 14,   /* [n_embd, n_ff, n_expert]     per layer */
    MST_ROLE_FFN_DOWN_EXPS = 15  /* [n_ff, n_embd, n_expert]     per layer */
} mst_tensor_role;

/* Which implementation a mst_kernel_* call runs. */
typedef enum mst_impl {
    MST_IMPL_REFERENCE = 0, /* the plain scalar reference */
    MST_IMPL_BEST = 1       /* what mst_decode uses on this CPU (run-time dispatch) */
} mst_impl;

/* CPU features seen at run time (bit flags reported by mst_cpu_features). */
typedef enum mst_cpu_feature {
    MST_CPU_AVX2 = 1,
    MST_CPU_FMA = 2,
    MST_CPU_F16C = 4,
    MST_CPU_AVX512F = 8,
    MST_CPU_AVX512BW = 16,
    MST_CPU_AVX512VNNI = 32,
    MST_CPU_AVX512BF16 = 64,
    MST_CPU_NEON = 128,        /* AArch64 Advanced SIMD: always set on arm64 */
    MST_CPU_ARM_DOTPROD = 256, /* sdot/udot (HWCAP_ASIMDDP) */
    MST_CPU_ARM_I8MM = 512     /* smmla (HWCAP2_I8MM) */
} mst_cpu_feature;

/* Structs whose layout the C# side checks against the native one (mst_struct_layout). */
typedef enum mst_struct_id {
    MST_STRUCT_MODEL_CONFIG = 0,
    MST_STRUCT_TENSOR_DESC = 1,
    MST_STRUCT_CONTEXT_PARAMS = 2,
    MST_STRUCT_MODEL_PARAMS = 3,
    MST_STRUCT_BACKEND_INFO = 4,
    MST_STRUCT_MEMORY_ESTIMATE = 5
} mst_struct_id;

/* Where a model runs. */
typedef enum mst_backend_kind {
    MST_BACKEND_CPU = 0,  /* the C core, SIMD chosen at run time */
    MST_BACKEND_CUDA = 1  /* NVIDIA GPUs through the driver (libcuda.so.1) and PTX built into this library;
                           * MISTRAL_CUDA_EMULATE=1 in the environment runs it on the CPU's SIMT emulator;
                           * MISTRAL_CUDA_GRAPHS=0 turns off the recorded decode step (a context's first one-token
                           * mst_decode is recorded as a CUDA graph and replayed by the later ones, with the same
                           * results; off anyway with MST_CONTEXT_CHECK_LAYERS, and for a mixture of experts whose
                           * decode the device's MoE step does not take: an n_batch below n_expert_used, or an
                           * expert type it lacks) */
} mst_backend_kind;

/* Hyper-parameters of a Mistral-architecture model ("llama" in GGUF). */
typedef struct mst_model_config {
    uint32_t struct_size;    /* sizeof(mst_model_config) */
    uint32_t n_vocab;
    uint32_t n_embd;         /* hidden size */
    uint32_t n_layer;
    uint32_t n_head;         /* query heads */
    uint32_t n_head_kv;      /* key/value heads (GQA: divides n_head) */
    uint32_t head_dim;       /* per head; may differ from n_embd / n_head (Nemo) */
    uint32_t n_ff;           /* feed-forward hidden size */
    uint32_t n_ctx_train;    /* context length the model was trained for (informational) */
    uint32_t sliding_window; /* 0 = full attention; else a key is seen only if pos_q - pos_k < window */
    float rope_freq_base;    /* e.g. 10000 or 1e6 */
    float rms_norm_eps;      /* e.g. 1e-5 */
    uint32_t n_expert;       /* 0 = dense feed-forward; else experts per layer (Mixtral: 8) */
    uint32_t n_expert_used;  /* experts each token runs, 0 < n_expert_used <= n_expert (Mixtral: 2);
                              * 0 when n_expert is 0. Routing: the n_expert_used largest router logits
                              * (ties: lower index), weighted by the softmax over those chosen logits. */
    /* NULL: every layer uses sliding_window. Else n_layer entries, read during mst_model_create only:
     * layer l's window (0 = full attention), for models that interleave windowed and full layers.
     * GGUF "llama" files carry no per-layer pattern (llama.cpp ignores the window for this
     * architecture), so the C# loader leaves this NULL; it is a hook for such files. */
    const uint32_t *layer_windows;
} mst_model_config;

/* mst_tensor_desc.flags bits. */
typedef enum mst_tensor_flag {
    /* data lies in a read-only mapping of a file that nobody writes while the model lives. When the
     * core copies such a tensor into a layout of its own at load (weight repacking), it drops the
     * copied pages from the process (madvise MADV_DONTNEED), so resident memory holds the weights
     * once, not twice. The memory stays mapped and readable (a page read again comes back from the
     * file). Never set it on heap memory: dropped anonymous pages read back as zeros. */
    MST_TENSOR_FILE_MAPPED = 1
} mst_tensor_flag;

/* One weight tensor: a pointer into memory the caller keeps alive for the model's lifetime. */
typedef struct mst_tensor_desc {
    uint32_t struct_size;    /* sizeof(mst_tensor_desc) */
    int32_t role;            /* mst_tensor_role */
    int32_t layer;           /* layer index, or -1 for global tensors */
    int32_t type;            /* mst_type */
    uint32_t n_dims;         /* 1..4 */
    uint32_t flags;          /* mst_tensor_flag bits, 0 for none */
    int64_t ne[4];           /* elements per dimension, ne[0] contiguous (GGUF order); unused = 1 */
    const void *data;        /* first byte */
    uint64_t n_bytes;        /* bytes readable at data; must equal the size the type and shape imply */
} mst_tensor_desc;

/* mst_context_params.flags bits. */
typedef enum mst_context_flag {
    /* Checks the residual stream after the embedding and after every layer for NaN/Inf, so that
     * MST_ERR_NON_FINITE names the first layer that produced one (a scan of n_tokens * n_embd floats per
     * layer: for finding a bad weight, not for production). Without it only the logits are checked. */
    MST_CONTEXT_CHECK_LAYERS = 1
} mst_context_flag;

/* Settings of one inference context (one KV cache, one thread pool). */
typedef struct mst_context_params {
    uint32_t struct_size;    /* sizeof(mst_context_params) */
    uint32_t n_ctx;          /* KV cache length in tokens (> 0); see "rolling cache" below */
    uint32_t n_threads;      /* worker threads including the caller; 0 = one per CPU this process may run on
                              * (its affinity mask, capped by a cgroup CPU quota). More than that is honoured but
                              * only slower: waiting threads spin briefly, yield, then sleep */
    uint32_t n_batch;        /* most tokens one mst_decode call takes (> 0) */
    uint32_t flags;          /* mst_context_flag bits, 0 for none */
    int32_t kv_type;         /* element type of the KV cache (mst_type): MST_TYPE_F16 (the default: half the
                              * memory of F32) or MST_TYPE_F32; a backend that cannot hold the type asked for
                              * fails with MST_ERR_UNSUPPORTED (CUDA holds F16 only) */
} mst_context_params;

/* mst_model_params.flags and mst_backend_query flags. */
typedef enum mst_backend_flag {
    /* CUDA: run on the SIMT emulator (the same kernels executed on the CPU, for tests without a GPU), as
     * the environment variable MISTRAL_CUDA_EMULATE=1 also asks */
    MST_BACKEND_EMULATE = 1
} mst_backend_flag;

/* Reports loading progress: fraction in [0, 1], nondecreasing, 1 once at the end. Called on the thread that
 * called mst_model_create_with. */
typedef void (*mst_progress_fn)(float fraction, void *user_data);

/* How a model is created (mst_model_create_with). */
typedef struct mst_model_params {
    uint32_t struct_size;      /* sizeof(mst_model_params) */
    int32_t backend;           /* mst_backend_kind */
    int32_t device;            /* CUDA device ordinal (0 = first); ignored on the CPU */
    uint32_t flags;            /* mst_backend_flag bits, 0 for none */
    mst_progress_fn progress;  /* may be NULL */
    void *progress_user_data;  /* passed to progress */
} mst_model_params;

/* What a backend can run on (mst_backend_query). Strings are NUL-terminated UTF-8. */
typedef struct mst_backend_info {
    uint32_t struct_size;      /* sizeof(mst_backend_info) */
    int32_t backend;           /* mst_backend_kind asked for */
    int32_t available;         /* 1: models can be created on it; 0: reason says why not */
    int32_t emulated;          /* CUDA: 1 when the SIMT emulator stands in for a GPU (MST_BACKEND_EMULATE) */
    int32_t device_count;      /* CUDA devices the driver reports (1 for the emulator, CPU: 1) */
    int32_t compute_major;     /* CUDA compute capability of device 0, e.g. 9 and 0 for an H100 */
    int32_t compute_minor;
    int32_t driver_version;    /* CUDA driver API version, e.g. 12040 for 12.4; 0 when none */
    uint64_t total_memory;     /* bytes of device memory (CPU: physical memory) */
    uint64_t free_memory;      /* bytes free now (CPU: available memory) */
    char device_name[128];     /* e.g. "NVIDIA H100 80GB HBM3", "SIMT emulator (CPU)", the CPU model */
    char reason[256];          /* when not available: what was looked for and what to install; else "" */
} mst_backend_info;

/* What a model and one context will allocate (mst_estimate_memory), in bytes, before anything is. */
typedef struct mst_memory_estimate {
    uint32_t struct_size;      /* sizeof(mst_memory_estimate) */
    uint32_t reserved;         /* 0 */
    uint64_t weights_mapped;   /* weights read in place from the caller's memory (a mapped file): paged in as
                                * used, counted by the OS as file cache, not allocated by the library */
    uint64_t weights_owned;    /* host memory the backend allocates for repacked or converted weights */
    uint64_t kv_cache;         /* host memory of one context's KV cache for params->n_ctx and kv_type */
    uint64_t scratch;          /* host memory of one context's activations, logits and thread buffers */
    uint64_t device;           /* CUDA: device memory for weights + KV cache + scratch; 0 on the CPU */
} mst_memory_estimate;

typedef struct mst_model mst_model;
typedef struct mst_context mst_context;

/* ---- library ---------------------------------------------------------------------------- */
MST_API uint32_t mst_abi_version(void);
/* Explains the last failure on this thread; "" when none. Valid until the next call on this thread. */
MST_API const char *mst_last_error(void);
MST_API const char *mst_status_to_string(mst_status status);
/* Bit set of mst_cpu_feature seen on this CPU (and enabled by the OS). */
MST_API mst_status mst_cpu_features(uint32_t *out_features);
/* Size of a struct, or (field_index < count) the offset of one field, as this library laid it out.
 * field_index = UINT32_MAX asks for sizeof; fields are numbered in declaration order. */
MST_API mst_status mst_struct_layout(int32_t struct_id, uint32_t field_index, uint64_t *out_value);

/* ---- defaults --------------------------------------------------------------------------- */
MST_API mst_status mst_model_config_default(mst_model_config *out_config);
MST_API mst_status mst_context_params_default(mst_context_params *out_params);
MST_API mst_status mst_model_params_default(mst_model_params *out_params);
/* Whether a backend can run here, and on what. Never fails for a known backend: an unusable one comes
 * back with available = 0 and the reason. Cheap after the first call (the driver is probed once). */
MST_API mst_status mst_backend_query(int32_t backend, uint32_t flags, mst_backend_info *out_info);

/* ---- model ------------------------------------------------------------------------------ */
/* Checks the config and every tensor (role, layer, type, shape, byte size) and builds a model
 * that reads the weights in place. The tensor memory must outlive the model. */
MST_API mst_status mst_model_create(const mst_model_config *config, const mst_tensor_desc *tensors,
                                    uint32_t n_tensors, mst_model **out_model);
MST_API mst_status mst_model_free(mst_model *model);
/* mst_model_create on a chosen backend. CUDA: checks that the weights, after conversion, fit in the device's
 * free memory before allocating anything (MST_ERR_OUT_OF_MEMORY with the numbers otherwise), then uploads
 * them once, reporting progress; a missing driver or device is MST_ERR_DEVICE. params may be NULL: the CPU. */
MST_API mst_status mst_model_create_with(const mst_model_config *config, const mst_tensor_desc *tensors,
                                         uint32_t n_tensors, const mst_model_params *params,
                                         mst_model **out_model);
/* The backend a model runs on (mst_backend_kind). */
MST_API mst_status mst_model_backend(mst_model *model, int32_t *out_backend);
/* What mst_model_create_with(config, tensors, ..., model_params) and then one mst_context_create(...,
 * context_params) would allocate, computed from the config and the tensor descriptors alone: tensor data
 * may be NULL and is never read; none of what it estimates is allocated (only the checks' own small tables,
 * freed before it returns). The same checks as mst_model_create apply to the
 * config and the descriptors (shapes, types, byte sizes), so a model this accepts, create accepts too.
 * model_params may be NULL (the CPU). The figures are upper bounds within a few MiB of what is allocated. */
MST_API mst_status mst_estimate_memory(const mst_model_config *config, const mst_tensor_desc *tensors,
                                       uint32_t n_tensors, const mst_model_params *model_params,
                                       const mst_context_params *context_params,
                                       mst_memory_estimate *out_estimate);

/* ---- context ---------------------------------------------------------------------------- */
/* A context keeps its model alive: free the context before the model. */
MST_API mst_status mst_context_create(mst_model *model, const mst_context_params *params,
                                      mst_context **out_context);
MST_API mst_status mst_context_free(mst_context *context);
MST_API mst_status mst_context_set_threads(mst_context *context, uint32_t n_threads);
/* Cancellation. Safe from any thread at any time, also while mst_decode runs on another thread (it never
 * returns MST_ERR_BUSY). While abort is 1, mst_decode stops at its next check, at most a fraction of one
 * layer's work apart (between layers and between the work items of the long operations), and returns
 * MST_ERR_CANCELLED with the cache and position unchanged, as if it had not been called (one exception: when a rolling cache
 * runs the batch in several steps and a later step has already overwritten keys the call's first position needs, the
 * finished steps stay and the position is after them: mst_context_position says where, mst_last_error names it).
 * The CUDA backend checks between layers only; a call that starts
 * while abort is 1 returns MST_ERR_CANCELLED at once. The flag stays set until set back to 0. */
MST_API mst_status mst_context_set_abort(mst_context *context, int32_t abort);
/* Rolling cache. A context rolls when every layer of its model has a sliding window w > 0 and
 * n_ctx >= the largest w: no query ever sees more than w keys, so the cache keeps only
 * min(n_ctx, w_max + n_batch - 1) slots per layer (position p lives in slot p % slots), RoPE and the
 * window mask use absolute positions, and mst_decode accepts tokens until the position would pass
 * INT32_MAX instead of n_ctx (a batch larger than slots - w_max + 1 is run in chunks inside the one
 * call). Otherwise (full-attention layers, or n_ctx < the window) the cache holds n_ctx positions
 * and n_ctx is the position limit, as without a window. */

/* Tokens the context has seen (the position of the next token). With a rolling cache this may
 * exceed n_ctx; older keys are no longer held. */
MST_API mst_status mst_context_position(mst_context *context, uint32_t *out_n_past);
/* Cache slots per layer (memory: 2 * n_layer * slots * kv_dim values of kv_type: 2 bytes F16, 4 bytes F32) and the position limit
 * (n_ctx, or INT32_MAX for a rolling cache). Either out-pointer may be NULL. */
MST_API mst_status mst_context_limits(mst_context *context, uint32_t *out_kv_slots, uint32_t *out_max_position);
/* Forgets every cached token from position n_past on (n_past <= current position). With a rolling
 * cache, MST_ERR_INVALID_ARGUMENT if keys that the token at n_past would attend to were overwritten. */
MST_API mst_status mst_context_truncate(mst_context *context, uint32_t n_past);

/* Runs the forward pass for n_tokens tokens appended at the current position, in one call.
 * all_logits = 0: writes n_vocab logits of the last token; 1: n_tokens * n_vocab, row per token.
 * logits_capacity is the number of floats logits_out can take. On failure the cache is unchanged (except for a rolling
 * cache's finished steps: see mst_context_set_abort). */
MST_API mst_status mst_decode(mst_context *context, const int32_t *tokens, uint32_t n_tokens,
                              int32_t all_logits, float *logits_out, uint64_t logits_capacity);
/* Greedy decoding: mst_decode(context, tokens, n_tokens, 0, ...) that returns, instead of the last token's logits,
 * the id a greedy sampler picks from them: the largest logit, ties to the lowest id (a NaN never wins, though
 * non-finite logits fail anyway). The same checks, errors and messages as mst_decode (MST_ERR_NON_FINITE for NaN/Inf
 * logits, MST_ERR_CANCELLED, MST_ERR_CONTEXT_FULL...), and on failure the cache is left as mst_decode leaves it;
 * *out_token is written only on success. The CUDA backend picks the id on the device and brings back only it, not
 * n_vocab floats; the CPU backend scans the logits it computed. */
MST_API mst_status mst_decode_greedy(mst_context *context, const int32_t *tokens, uint32_t n_tokens,
                                     int32_t *out_token);

/* ---- kernels (for tests and benchmarks; the same code mst_decode runs) ------------------ */
/* y[t*rows + r] = sum_c W[r][c] * x[t*cols + c]: W is rows x cols of `type`, rows stored contiguously. */
MST_API mst_status mst_kernel_matmul(int32_t impl, int32_t type, const void *w, uint64_t w_bytes,
                                     uint32_t rows, uint32_t cols, const float *x, uint32_t n_tokens,
                                     float *y);
/* dst[i] = float value of element i of a row-major tensor of n elements of `type`. */
MST_API mst_status mst_kernel_dequantize(int32_t type, const void *src, uint64_t src_bytes, uint64_t n,
                                         float *dst);
/* y = x / sqrt(mean(x^2) + eps) * weight, per row of n; n_rows rows. */
MST_API mst_status mst_kernel_rmsnorm(int32_t impl, const float *x, const float *weight, uint32_t n,
                                      uint32_t n_rows, float eps, float *y);
/* Rotates adjacent pairs (2i, 2i+1) of each head in place: x is n_tokens x n_heads x head_dim,
 * token t at position positions[t]; angle = pos * base^(-2i/head_dim). */
MST_API mst_status mst_kernel_rope(int32_t impl, float *x, uint32_t n_tokens, uint32_t n_heads,
                                   uint32_t head_dim, const int32_t *positions, float freq_base);
/* out = silu(gate) * up, elementwise over n. */
MST_API mst_status mst_kernel_swiglu(int32_t impl, const float *gate, const float *up, uint64_t n,
                                     float *out);
/* Causal GQA attention of n_tokens queries (positions q_pos0 ..) over n_kv cached keys (positions 0..),
 * q: n_tokens x n_head x head_dim; k, v: n_kv x n_head_kv x head_dim; out like q.
 * Scale 1/sqrt(head_dim); window 0 = full, else key j is seen by query at p only if p - j < window. */
MST_API mst_status mst_kernel_attention(int32_t impl, const float *q, const float *k, const float *v,
                                        uint32_t n_tokens, uint32_t q_pos0, uint32_t n_kv,
                                        uint32_t n_head, uint32_t n_head_kv, uint32_t head_dim,
                                        uint32_t window, float *out);
/* Mixture-of-experts routing for n_tokens tokens: router_logits is n_tokens x n_expert. Per token,
 * out_experts gets the n_used expert indices with the largest logits, largest first (ties: the lower
 * index first), and out_weights their softmax over those n_used logits (they sum to 1); both are
 * n_tokens x n_used. 0 < n_used <= n_expert; logits must be finite. */
MST_API mst_status mst_kernel_moe_gate(int32_t impl, const float *router_logits, uint32_t n_tokens,
                                       uint32_t n_expert, uint32_t n_used, int32_t *out_experts,
                                       float *out_weights);

#ifdef __cplusplus
}
#endif

#endif /* MISTRAL_H */
