/* backend_cpu.h — the CPU backend's own state (backend.h: mst_context.backend_state) and its query.
 * The ops themselves are reached through mst_backend_cpu (backend.h). */
#ifndef MST_BACKEND_CPU_H
#define MST_BACKEND_CPU_H

#include <stdint.h>

#include "mistral.h"
#include "quant_act.h"
#include "threadpool.h"

typedef struct mst_cpu_context {
    mst_pool *pool;          /* matmuls, attention, rmsnorm and swiglu split across it */
    /* [n_layer][kv_slots][kv_dim] of kv_type (mst_context.kv_type: IEEE halves, or floats): position p of layer l
     * in row p % kv_slots; F16 values are rounded once, when stored (cpu_kv_store) */
    void *k_cache;
    void *v_cache;
    int32_t kv_type;         /* MST_TYPE_F16 or MST_TYPE_F32 */
    uint32_t kv_elem_bytes;  /* 2 or 4 */
    uint64_t kv_bytes;       /* of both caches together: 2 * n_layer * kv_slots * kv_dim * kv_elem_bytes */
    int32_t *pos;            /* [n_batch] positions of the running pass (begin), for RoPE */
    const int32_t *tokens;   /* the running pass's tokens (begin), read by embed */
    float *scores;           /* attention scratch: mst_attention_scratch_floats(pool size, head_dim) (attention.h) */
    /* Q8_0/Q8_K/bf16 copy of the last matmul input (backend_cpu.c: prepare), reused while valid */
    void *qa_buf;            /* room for any format of the widest input over n_batch tokens */
    uint64_t qa_capacity;    /* values it holds: widest cols * n_batch */
    mst_qact qa;
    const float *qa_src;     /* the float input qa was made from; NULL = none */
} mst_cpu_context;

/* ---- sizes (backend_cpu_memory.c): what cpu_context_init allocates, written once ---- */
enum {
    MST_CPU_BUF_K_CACHE, MST_CPU_BUF_V_CACHE, MST_CPU_BUF_POS, MST_CPU_BUF_SCORES, MST_CPU_BUF_QA,
    MST_CPU_BUF_X, MST_CPU_BUF_XB, MST_CPU_BUF_XB2, MST_CPU_BUF_Q, MST_CPU_BUF_K, MST_CPU_BUF_V, MST_CPU_BUF_ATT,
    MST_CPU_BUF_HB, MST_CPU_BUF_HB2, MST_CPU_BUF_ROUTER, MST_CPU_BUF_XG, MST_CPU_BUF_COUNT
};
typedef struct mst_context mst_context;
typedef struct mst_model mst_model;
/* Bytes of each buffer a context planned as c (mst_context_plan) allocates with n_threads threads; 0 for one it does
 * not (the MoE buffers of a dense model). Returns 0 when a size overflows. */
int mst_cpu_context_sizes(const mst_context *c, uint32_t n_threads, uint64_t size[MST_CPU_BUF_COUNT]);
/* The widest matmul input (floats per token), which sizes the quantized-activation buffer. */
uint32_t mst_cpu_widest_input(const mst_model *m);
/* MST_OK for the KV cache types this backend holds (F16, F32), else MST_ERR_UNSUPPORTED naming the type. */
mst_status mst_cpu_check_kv_type(int32_t kv_type);
/* The backend's estimate hook (backend.h). */
mst_status mst_cpu_estimate(const mst_context *c, uint32_t n_threads, mst_memory_estimate *out);

/* mst_backend_query for the CPU: always available; the CPU's model name, physical and available memory. */
mst_status mst_cpu_query(mst_backend_info *out);

#endif
