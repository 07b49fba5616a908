/* quant_act_k.c — quantizing activations to Q8_K blocks; the rule is stated in quant_act_k.h. */
#include <float.h>
#include <math.h>
#include <pthread.h>

#include "mistral.h"
#include "ops.h"
#include "quant_act_k.h"
#include "quant_k.h"

int32_t mst_qact_format_of(int32_t type)
{
    switch (type) {
    case MST_TYPE_Q8_0:
    case MST_TYPE_Q4_0: return MST_QACT_Q8_0;
    case MST_TYPE_Q2_K:
    case MST_TYPE_Q3_K:
    case MST_TYPE_Q4_K:
    case MST_TYPE_Q5_K:
    case MST_TYPE_Q6_K: return MST_QACT_Q8_K;
    case MST_TYPE_BF16: return MST_QACT_BF16; /* rounded even where no kernel takes the pairs (quant_act_bf16.h) */
    default: return -1;
    }
}

static size_t align64(size_t n)
{
    return (n + 63u) & ~(size_t)63u;
}

size_t mst_qact_k_bytes(uint32_t cols, uint32_t n_tokens)
{
    size_t n = (size_t)cols * n_tokens;
    return align64(n) /* qs */ + align64(n / MST_QK_K * sizeof(float)) /* d */ + align64(n / 16 * sizeof(int16_t)) + 64;
}

void mst_qact_bind_k(mst_qact *q, void *buf, uint32_t cols, uint32_t n_tokens)
{
    size_t n = (size_t)cols * n_tokens;
    uint8_t *p = (uint8_t *)(((uintptr_t)buf + 63u) & ~(uintptr_t)63u);
    q->qs = (int8_t *)p;
    p += align64(n);
    q->d = (float *)p;
    p += align64(n / MST_QK_K * sizeof(float));
    q->bsum16 = (int16_t *)p;
    q->nsum4 = NULL;
    q->dxe = NULL;
    q->nbsum8 = NULL;
    q->format = MST_QACT_Q8_K;
    q->cols = cols;
    q->n_tokens = n_tokens;
}

void mst_quantize_act_k_ref(const float *x, mst_qact *q, uint32_t t0, uint32_t t1)
{
    const uint32_t cols = q->cols, nb = cols / MST_QK_K;
    for (uint32_t t = t0; t < t1; t++) {
        for (uint32_t b = 0; b < nb; b++) {
            const size_t o = (size_t)t * cols + (size_t)b * MST_QK_K;
            const float *xb = x + o;
            int8_t *qb = q->qs + o;
            float amax = 0.0f, max = 0.0f;
            int nonfinite = 0;
            for (int i = 0; i < MST_QK_K; i++) {
                const float a = fabsf(xb[i]);
                nonfinite |= !(a <= FLT_MAX); /* NaN (which the strict > below skips) or +-Inf */
                if (a > amax) { /* strict: the first of equal |x| wins, as in llama.cpp */
                    amax = a;
                    max = xb[i];
                }
            }
            float d = 0.0f;
            if (nonfinite || amax == 0.0f) {
                for (int i = 0; i < MST_QK_K; i++)
                    qb[i] = 0;
                if (nonfinite)
                    d = mst_qact_nonfinite_d();
            } else {
                const float iscale = -127.0f / max;
                for (int i = 0; i < MST_QK_K; i++) {
                    float v = nearbyintf(iscale * xb[i]); /* default rounding mode: half to even */
                    /* min(127, v) is the rule; the rest keeps the product's NaN/inf from an undefined cast: finite
                     * inputs give one when |max| < 127/FLT_MAX, where -127/max overflows */
                    qb[i] = (int8_t)(v > 127.0f ? 127 : v >= -127.0f ? (int)v : v < 0.0f ? -127 : 0);
                }
                d = 1.0f / iscale;
            }
            q->d[(size_t)t * nb + b] = d;
            int16_t *bs = q->bsum16 + o / 16;
            for (int j = 0; j < MST_QK_K / 16; j++) {
                int s = 0;
                for (int i = 0; i < 16; i++)
                    s += qb[16 * j + i];
                bs[j] = (int16_t)s;
            }
        }
    }
}

typedef void (*quantize_fn)(const float *, mst_qact *, uint32_t, uint32_t);
static quantize_fn g_quantize = mst_quantize_act_k_ref;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void choose(void)
{
#if defined(__x86_64__)
    const mst_cpu_kernels *best = mst_cpu_best();
    if (best == mst_cpu_avx512() && mst_cpu_avx512())
        g_quantize = mst_quantize_act_k_avx512;
    else if (best && (best == mst_cpu_avx2() || best == mst_cpu_avxvnni())) /* both need AVX2 + FMA + F16C */
        g_quantize = mst_quantize_act_k_avx2;
#endif
}

void mst_quantize_act_k(const float *x, mst_qact *q, uint32_t t0, uint32_t t1)
{
    pthread_once(&g_once, choose);
    g_quantize(x, q, t0, t1);
}
