/* estimate_table.h — tensor tables for the memory-estimate tests (test_memory_estimate.c, cuda/test_cuda_memory_estimate.c):
 * every tensor of a model of any weight type, zero-filled (zero is a valid value of every type, and finite norms),
 * plus the heap measurement both compare the estimates with. */
#ifndef MST_ESTIMATE_TABLE_H
#define MST_ESTIMATE_TABLE_H

#include "platform.h"
#include "test_os.h"
#include "test_util.h"

static inline uint64_t row_bytes(int32_t type, uint64_t cols)
{
    switch (type) {
    case MST_TYPE_F32: return cols * 4;
    case MST_TYPE_F16:
    case MST_TYPE_BF16: return cols * 2;
    case MST_TYPE_Q8_0: return cols / 32 * 34;
    case MST_TYPE_Q4_0: return cols / 32 * 18;
    case MST_TYPE_Q4_K: return cols / 256 * 144;
    case MST_TYPE_Q5_K: return cols / 256 * 176;
    case MST_TYPE_Q6_K: return cols / 256 * 210;
    default: return 0;
    }
}

enum { MAX_DESC = 3 + 10 * 8 };

typedef struct table {
    mst_model_config cfg;
    mst_tensor_desc d[MAX_DESC];
    uint32_t n;
    void *buf[MAX_DESC]; /* owned, whatever edits do to d */
    uint32_t n_buf;
} table;

static inline void add(table *t, int32_t role, int32_t layer, int32_t type, uint64_t ne0, uint64_t ne1, uint64_t ne2)
{
    mst_tensor_desc *d = &t->d[t->n++];
    memset(d, 0, sizeof *d);
    d->struct_size = sizeof *d;
    d->role = role, d->layer = layer, d->type = type;
    d->n_dims = ne2 > 1 ? 3 : ne1 > 1 ? 2 : 1;
    d->ne[0] = (int64_t)ne0, d->ne[1] = (int64_t)ne1, d->ne[2] = (int64_t)ne2, d->ne[3] = 1;
    d->n_bytes = row_bytes(type, ne0) * ne1 * ne2;
    d->data = t->buf[t->n_buf++] = xmalloc((size_t)d->n_bytes);
}

/* Matrices of `type` (the output projection too, unless tied), norms F32. */
static inline void build(table *t, const mst_model_config *cfg, int32_t type, int tied)
{
    memset(t, 0, sizeof *t);
    t->cfg = *cfg;
    const uint64_t e = cfg->n_embd, qd = (uint64_t)cfg->n_head * cfg->head_dim, kvd = (uint64_t)cfg->n_head_kv * cfg->head_dim;
    const uint64_t ff = cfg->n_ff, x = cfg->n_expert;
    add(t, MST_ROLE_TOKEN_EMBD, -1, type, e, cfg->n_vocab, 1);
    add(t, MST_ROLE_OUTPUT_NORM, -1, MST_TYPE_F32, e, 1, 1);
    if (!tied)
        add(t, MST_ROLE_OUTPUT, -1, type, e, cfg->n_vocab, 1);
    for (int32_t l = 0; l < (int32_t)cfg->n_layer; l++) {
        add(t, MST_ROLE_ATTN_NORM, l, MST_TYPE_F32, e, 1, 1);
        add(t, MST_ROLE_ATTN_Q, l, type, e, qd, 1);
        add(t, MST_ROLE_ATTN_K, l, type, e, kvd, 1);
        add(t, MST_ROLE_ATTN_V, l, type, e, kvd, 1);
        add(t, MST_ROLE_ATTN_OUT, l, type, qd, e, 1);
        add(t, MST_ROLE_FFN_NORM, l, MST_TYPE_F32, e, 1, 1);
        if (x > 0) {
            add(t, MST_ROLE_FFN_GATE_INP, l, MST_TYPE_F32, e, x, 1);
            add(t, MST_ROLE_FFN_GATE_EXPS, l, type, e, ff, x);
            add(t, MST_ROLE_FFN_UP_EXPS, l, type, e, ff, x);
            add(t, MST_ROLE_FFN_DOWN_EXPS, l, type, ff, e, x);
        } else {
            add(t, MST_ROLE_FFN_GATE, l, type, e, ff, 1);
            add(t, MST_ROLE_FFN_UP, l, type, e, ff, 1);
            add(t, MST_ROLE_FFN_DOWN, l, type, ff, e, 1);
        }
    }
}

static inline void drop(table *t)
{
    for (uint32_t i = 0; i < t->n_buf; i++)
        free(t->buf[i]);
}

/* 512 wide (a multiple of the K-quants' 256), 4 layers, GQA 8/2 of head_dim 64, FFN 1536, vocabulary 2048. */
static inline mst_model_config base_config(void)
{
    mst_model_config c;
    memset(&c, 0, sizeof c);
    c.struct_size = sizeof c;
    c.n_vocab = 2048, c.n_embd = 512, c.n_layer = 4, c.n_head = 8, c.n_head_kv = 2, c.head_dim = 64, c.n_ff = 1536;
    c.n_ctx_train = 4096, c.rope_freq_base = 10000.0f, c.rms_norm_eps = 1e-5f;
    return c;
}

/* Context params of 2 threads. */
static inline mst_context_params ctx_params(uint32_t n_ctx, uint32_t n_batch, int32_t kv_type)
{
    mst_context_params p;
    mst_context_params_default(&p);
    p.n_ctx = n_ctx, p.n_batch = n_batch, p.n_threads = 2, p.kv_type = kv_type;
    return p;
}

/* Bytes glibc's malloc holds for the program: in use in its arenas, and mapped for large blocks (test_os.h;
 * 0 where the C library does not say, as on Windows), plus the core's own large blocks (the repacked weights,
 * a mapping of their own that malloc's statistics do not see: platform.h). */
static inline uint64_t heap_in_use(void)
{
    const uint64_t heap = test_os_heap_in_use();
    return heap ? heap + mst_os_large_in_use() : 0;
}

/* Whether mallinfo2 sees malloc (not so under ASan or valgrind, whose allocators replace it). */
static inline int heap_measurable(void)
{
    const uint64_t before = heap_in_use();
    volatile char *p = malloc(4 << 20);
    const uint64_t after = heap_in_use();
    if (p)
        p[0] = 1;
    free((void *)p);
    return p && after >= before + (4 << 20);
}

static inline double mib(uint64_t b)
{
    return (double)b / (1 << 20);
}

#endif
