/* test_util.h — shared helpers for the native tests: a seeded RNG, tolerance checks, and a
 * builder for tiny random models (weights in any supported type). */
#ifndef MST_TEST_UTIL_H
#define MST_TEST_UTIL_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mistral.h"

static int g_failures;

#define CHECK(cond, ...)                                                                                    \
    do {                                                                                                    \
        if (!(cond)) {                                                                                      \
            g_failures++;                                                                                   \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                                                     \
            printf(__VA_ARGS__);                                                                            \
            printf("\n");                                                                                   \
        }                                                                                                   \
    } while (0)

static inline uint64_t rng_next(uint64_t *s)
{
    /* splitmix64: tiny, seeded, the same on every machine */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline float rng_uniform(uint64_t *s, float lo, float hi)
{
    return lo + (hi - lo) * (float)((rng_next(s) >> 40) * 0x1p-24);
}

static inline void fill_uniform(uint64_t *s, float *x, size_t n, float lo, float hi)
{
    for (size_t i = 0; i < n; i++)
        x[i] = rng_uniform(s, lo, hi);
}

static inline void *xmalloc(size_t n)
{
    void *p = calloc(1, n ? n : 1);
    if (!p) {
        printf("test: out of memory\n");
        exit(2);
    }
    return p;
}

/* Largest |a - b| / scale, the normalized error the tolerances below are stated in. */
static inline double max_abs_diff(const float *a, const float *b, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (d != d)
            return INFINITY;
        if (d > m)
            m = d;
    }
    return m;
}

static inline double max_abs(const float *a, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++)
        if (fabs((double)a[i]) > m)
            m = fabs((double)a[i]);
    return m;
}

/* ---- type helpers (independent of the library's internals) ---- */
static inline uint16_t t_fp32_to_fp16(float f)
{
    /* round-to-nearest via double arithmetic; good enough to make test data */
    if (f != f)
        return 0x7e00;
    uint16_t sign = f < 0 ? 0x8000 : 0;
    double a = fabs((double)f);
    if (a >= 65520.0)
        return sign | 0x7c00;
    if (a < 0x1p-14) {
        double q = nearbyint(a * 0x1p24);
        return sign | (uint16_t)q;
    }
    int e;
    double m = frexp(a, &e); /* a = m * 2^e, m in [0.5, 1) */
    double q = nearbyint(m * 2048.0);  /* 11 significant bits */
    if (q == 2048.0) {
        q = 1024.0;
        e++;
    }
    return sign | (uint16_t)(((e + 14) << 10) | ((uint16_t)q & 0x3ff));
}

static inline uint16_t t_fp32_to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    u += 0x7fff + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}

static inline size_t type_row_bytes(int32_t type, uint32_t cols)
{
    switch (type) {
    case MST_TYPE_F32: return (size_t)cols * 4;
    case MST_TYPE_F16:
    case MST_TYPE_BF16: return (size_t)cols * 2;
    case MST_TYPE_Q8_0: return (size_t)cols / 32 * 34;
    case MST_TYPE_Q4_0: return (size_t)cols / 32 * 18;
    default: return 0;
    }
}

/* Random weights of `type`, values about in [-amp, amp]. */
static inline void *make_weights(uint64_t *s, int32_t type, uint32_t rows, uint32_t cols, float amp, size_t *out_bytes)
{
    size_t bytes = type_row_bytes(type, cols) * rows;
    uint8_t *w = xmalloc(bytes);
    size_t n = (size_t)rows * cols;
    switch (type) {
    case MST_TYPE_F32:
        fill_uniform(s, (float *)w, n, -amp, amp);
        break;
    case MST_TYPE_F16:
        for (size_t i = 0; i < n; i++) {
            uint16_t h = t_fp32_to_fp16(rng_uniform(s, -amp, amp));
            memcpy(w + 2 * i, &h, 2);
        }
        break;
    case MST_TYPE_BF16:
        for (size_t i = 0; i < n; i++) {
            uint16_t h = t_fp32_to_bf16(rng_uniform(s, -amp, amp));
            memcpy(w + 2 * i, &h, 2);
        }
        break;
    case MST_TYPE_Q8_0:
    case MST_TYPE_Q4_0: {
        size_t bb = type == MST_TYPE_Q8_0 ? 34 : 18, nb = n / 32;
        for (size_t b = 0; b < nb; b++) {
            uint8_t *blk = w + b * bb;
            uint16_t d = t_fp32_to_fp16(rng_uniform(s, 0.2f, 1.0f) * amp / (type == MST_TYPE_Q8_0 ? 127.0f : 8.0f));
            memcpy(blk, &d, 2);
            for (size_t i = 2; i < bb; i++)
                blk[i] = (uint8_t)rng_next(s);
        }
        break;
    }
    }
    *out_bytes = bytes;
    return w;
}

/* ---- tiny model builder ---- */
typedef struct test_model {
    mst_model_config cfg;
    mst_tensor_desc desc[3 + 9 * 8];
    uint32_t n_desc;
    void *data[3 + 9 * 8];
    uint32_t n_data; /* owned buffers; descriptors may be edited or dropped independently */
} test_model;

static inline void tm_add(test_model *tm, uint64_t *s, int32_t role, int32_t layer, int32_t type, uint32_t ne0,
                          uint32_t ne1, float amp, int is_norm)
{
    size_t bytes;
    void *w;
    if (is_norm) {
        /* norm weights near 1, like trained models */
        float *f = xmalloc((size_t)ne0 * 4);
        for (uint32_t i = 0; i < ne0; i++)
            f[i] = 1.0f + rng_uniform(s, -0.2f, 0.2f);
        w = f;
        bytes = (size_t)ne0 * 4;
    } else {
        w = make_weights(s, type, ne1, ne0, amp, &bytes);
    }
    mst_tensor_desc *d = &tm->desc[tm->n_desc];
    memset(d, 0, sizeof *d);
    d->struct_size = sizeof *d;
    d->role = role;
    d->layer = layer;
    d->type = type;
    d->n_dims = is_norm ? 1 : 2;
    d->ne[0] = ne0;
    d->ne[1] = is_norm ? 1 : ne1;
    d->ne[2] = d->ne[3] = 1;
    d->data = w;
    d->n_bytes = bytes;
    tm->n_desc++;
    tm->data[tm->n_data++] = w;
}

/* types[]: one type per matrix role (embd, q, k, v, o, gate, up, down, output); tied: no OUTPUT. */
static inline void tm_build(test_model *tm, uint64_t seed, const mst_model_config *cfg, const int32_t types[9], int tied)
{
    memset(tm, 0, sizeof *tm);
    tm->cfg = *cfg;
    uint64_t s = seed;
    const uint32_t e = cfg->n_embd, qd = cfg->n_head * cfg->head_dim, kvd = cfg->n_head_kv * cfg->head_dim;
    tm_add(tm, &s, MST_ROLE_TOKEN_EMBD, -1, types[0], e, cfg->n_vocab, 1.0f, 0);
    tm_add(tm, &s, MST_ROLE_OUTPUT_NORM, -1, MST_TYPE_F32, e, 1, 0, 1);
    if (!tied)
        tm_add(tm, &s, MST_ROLE_OUTPUT, -1, types[8], e, cfg->n_vocab, 1.0f / sqrtf((float)e), 0);
    for (uint32_t l = 0; l < cfg->n_layer; l++) {
        int32_t L = (int32_t)l;
        tm_add(tm, &s, MST_ROLE_ATTN_NORM, L, MST_TYPE_F32, e, 1, 0, 1);
        tm_add(tm, &s, MST_ROLE_ATTN_Q, L, types[1], e, qd, 1.7f / sqrtf((float)e), 0);
        tm_add(tm, &s, MST_ROLE_ATTN_K, L, types[2], e, kvd, 1.7f / sqrtf((float)e), 0);
        tm_add(tm, &s, MST_ROLE_ATTN_V, L, types[3], e, kvd, 1.7f / sqrtf((float)e), 0);
        tm_add(tm, &s, MST_ROLE_ATTN_OUT, L, types[4], qd, e, 1.0f / sqrtf((float)qd), 0);
        tm_add(tm, &s, MST_ROLE_FFN_NORM, L, MST_TYPE_F32, e, 1, 0, 1);
        tm_add(tm, &s, MST_ROLE_FFN_GATE, L, types[5], e, cfg->n_ff, 1.7f / sqrtf((float)e), 0);
        tm_add(tm, &s, MST_ROLE_FFN_UP, L, types[6], e, cfg->n_ff, 1.7f / sqrtf((float)e), 0);
        tm_add(tm, &s, MST_ROLE_FFN_DOWN, L, types[7], cfg->n_ff, e, 1.0f / sqrtf((float)cfg->n_ff), 0);
    }
}

static inline void tm_free(test_model *tm)
{
    for (uint32_t i = 0; i < tm->n_data; i++)
        free(tm->data[i]);
}

static inline mst_model_config tiny_config(void)
{
    mst_model_config c;
    memset(&c, 0, sizeof c);
    c.struct_size = sizeof c;
    c.n_vocab = 50;
    c.n_embd = 64;
    c.n_layer = 2;
    c.n_head = 4;
    c.n_head_kv = 2;
    c.head_dim = 24; /* not n_embd / n_head, as in Mistral Nemo */
    c.n_ff = 96;
    c.n_ctx_train = 64;
    c.sliding_window = 0;
    c.rope_freq_base = 10000.0f;
    c.rms_norm_eps = 1e-5f;
    return c;
}

/* A matmul result against the double-accumulated reference: every output within
 * tol * sum|w*x| + floor (the float32 rounding a correct kernel can add), and the run split over row
 * ranges (as the threads split it) bit-identical to the whole run. Reports the first failure of each kind. */
static inline void check_matmul_result(const char *kernel, const char *type_name, const float *wf, const float *x,
                                       const float *y, const float *y_ref, const float *y_split, uint32_t rows,
                                       uint32_t cols, uint32_t n_tokens, double tol, double floor)
{
    int reported = 0;
    for (uint32_t t = 0; t < n_tokens; t++) {
        for (uint32_t r = 0; r < rows; r++) {
            double bound = 0.0;
            for (uint32_t c = 0; c < cols; c++)
                bound += fabs((double)wf[(size_t)r * cols + c] * x[(size_t)t * cols + c]);
            size_t i = (size_t)t * rows + r;
            double err = fabs((double)y[i] - (double)y_ref[i]);
            if (!(err <= tol * bound + floor) && !reported++)
                CHECK(0, "%s %s rows=%u cols=%u tokens=%u: y[t=%u][r=%u] = %.9g, reference %.9g (err %.3g > %.3g)",
                      kernel, type_name, rows, cols, n_tokens, t, r, y[i], y_ref[i], err, tol * bound + floor);
            if (memcmp(&y[i], &y_split[i], 4) != 0 && !reported++)
                CHECK(0, "%s %s rows=%u cols=%u tokens=%u: split run differs at t=%u r=%u", kernel, type_name, rows,
                      cols, n_tokens, t, r);
        }
    }
}

static inline int finish(const char *name)
{
    if (g_failures) {
        printf("%s: %d check(s) FAILED\n", name, g_failures);
        return 1;
    }
    printf("%s: all checks passed\n", name);
    return 0;
}

#endif
