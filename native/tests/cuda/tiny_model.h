/* tiny_model.h — the tensor table of a tiny random model, grown one tensor at a time, for the CUDA backend's
 * whole-model tests (test_cuda_model.c, test_cuda_moe_ffn.c). Unlike test_util.h's tm_build it takes every weight
 * type the backend takes, K-quants included, and stacked [ne0, ne1, n_expert] expert tensors. Each test lists its
 * own tensors in its own order with tiny_add: the order decides which random values each tensor gets, so a test's
 * seeds keep giving the model its tolerances were measured on. */
#ifndef MST_TINY_MODEL_H
#define MST_TINY_MODEL_H

#include "../test_util.h"

enum { TINY_MAX_DESC = 64 };

typedef struct tiny_model {
    mst_model_config cfg;
    mst_tensor_desc desc[TINY_MAX_DESC];
    uint32_t n;
    void *own[TINY_MAX_DESC]; /* own[i] is desc[i].data, freed by tiny_release */
} tiny_model;

static inline void tiny_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

/* Bytes of one 256-value super-block of a K-quant type; 0 for the other types. */
static inline size_t tiny_k_block_bytes(int32_t type)
{
    switch (type) {
    case MST_TYPE_Q2_K: return 84;
    case MST_TYPE_Q3_K: return 110;
    case MST_TYPE_Q4_K: return 144;
    case MST_TYPE_Q5_K: return 176;
    case MST_TYPE_Q6_K: return 210;
    default: return 0;
    }
}

/* K-quant super-blocks of random bits with scales chosen so values fall about in [-amp, amp] and centre near 0
 * (the min offsets of Q2_K/Q4_K/Q5_K, dmin * m, are set to cancel d * sc * the mean quant). */
static inline void *tiny_k_weights(uint64_t *s, int32_t type, uint32_t rows, uint32_t cols, float amp, size_t *bytes)
{
    const size_t bb = tiny_k_block_bytes(type), nb = (size_t)rows * cols / 256;
    uint8_t *w = xmalloc(bb * nb);
    for (size_t b = 0; b < nb; b++) {
        uint8_t *blk = w + b * bb;
        for (size_t i = 0; i < bb; i++)
            blk[i] = (uint8_t)rng_next(s);
        const float u = rng_uniform(s, 0.5f, 1.0f);
        float d;
        switch (type) {
        case MST_TYPE_Q2_K: /* d * sc(0..15) * q(0..3) - dmin * m(0..15) */
            d = amp / (15.0f * 1.5f) * u;
            tiny_put16(blk + 80, t_fp32_to_fp16(d)), tiny_put16(blk + 82, t_fp32_to_fp16(1.5f * d));
            break;
        case MST_TYPE_Q3_K: /* d * (sc - 32) * (q - 4) */
            tiny_put16(blk + 108, t_fp32_to_fp16(amp / (32.0f * 4.0f) * u));
            break;
        case MST_TYPE_Q4_K: /* d * sc(0..63) * q(0..15) - dmin * m(0..63) */
            d = amp / (63.0f * 7.5f) * u;
            tiny_put16(blk, t_fp32_to_fp16(d)), tiny_put16(blk + 2, t_fp32_to_fp16(7.5f * d));
            break;
        case MST_TYPE_Q5_K: /* d * sc(0..63) * q(0..31) - dmin * m(0..63) */
            d = amp / (63.0f * 15.5f) * u;
            tiny_put16(blk, t_fp32_to_fp16(d)), tiny_put16(blk + 2, t_fp32_to_fp16(15.5f * d));
            break;
        case MST_TYPE_Q6_K: /* d * sc(int8) * (q - 32) */
            tiny_put16(blk + 208, t_fp32_to_fp16(amp / (128.0f * 32.0f) * u));
            break;
        }
    }
    *bytes = bb * nb;
    return w;
}

/* rows x cols weights of any type, values about in [-amp, amp]. */
static inline void *tiny_weights(uint64_t *s, int32_t type, uint32_t rows, uint32_t cols, float amp, size_t *bytes)
{
    if (tiny_k_block_bytes(type))
        return tiny_k_weights(s, type, rows, cols, amp, bytes);
    return make_weights(s, type, rows, cols, amp, bytes);
}

/* Appends a [ne0, ne1, ne2] tensor of `type` (ne2 > 1: stacked experts) and returns its data; ne1 == 0 makes a
 * norm instead: [ne0] F32 near 1, like trained models. */
static inline void *tiny_add(tiny_model *mm, uint64_t *s, int32_t role, int32_t layer, int32_t type, uint32_t ne0,
                             uint32_t ne1, uint32_t ne2, float amp)
{
    const int norm = ne1 == 0;
    size_t bytes = 0;
    void *w;
    if (norm) {
        float *f = xmalloc((size_t)ne0 * 4);
        for (uint32_t i = 0; i < ne0; i++)
            f[i] = 1.0f + rng_uniform(s, -0.2f, 0.2f);
        w = f, bytes = (size_t)ne0 * 4, type = MST_TYPE_F32;
    } else {
        w = tiny_weights(s, type, ne1 * ne2, ne0, amp, &bytes);
    }
    mst_tensor_desc *d = &mm->desc[mm->n];
    memset(d, 0, sizeof *d);
    d->struct_size = sizeof *d;
    d->role = role, d->layer = layer, d->type = type;
    d->n_dims = norm ? 1 : ne2 > 1 ? 3 : 2;
    d->ne[0] = ne0, d->ne[1] = norm ? 1 : ne1, d->ne[2] = norm ? 1 : ne2, d->ne[3] = 1;
    d->data = w, d->n_bytes = bytes;
    mm->own[mm->n++] = w;
    return w;
}

static inline void tiny_release(tiny_model *mm)
{
    for (uint32_t i = 0; i < mm->n; i++)
        free(mm->own[i]);
}

#endif
