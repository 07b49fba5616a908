/* attention.c — causal grouped-query attention with an optional sliding window.
 *
 * Query head h reads KV head h / (n_head / n_head_kv). The query at position p sees key j when
 * j <= p and, with a window w > 0, p - j < w. Softmax subtracts the row maximum before exp. */
#include <math.h>
#include <stdlib.h>

#include "ops.h"

/* Row of key position j: a rolling cache keeps position j in row j % kv_slots. The window
 * guarantees (forward.c) that the keys one query sees never share a row. */
static inline size_t kv_row(const mst_attn_args *a, uint32_t j)
{
    return a->kv_slots ? j % a->kv_slots : j;
}

/* The keys [*j0, *j1) that the query at position p sees. */
static void visible_keys(const mst_attn_args *a, uint32_t p, uint32_t *j0, uint32_t *j1)
{
    uint32_t end = p + 1 < a->n_kv ? p + 1 : a->n_kv;
    uint32_t start = 0;
    if (a->window > 0 && p + 1 > a->window)
        start = p + 1 - a->window;
    *j0 = start;
    *j1 = end;
}

int mst_attention_ref(const mst_attn_args *a)
{
    double *scores = malloc((size_t)a->n_kv * sizeof *scores); /* indexed by position */
    if (!scores)
        return 0;
    const uint32_t group = a->n_head / a->n_head_kv, hd = a->head_dim;
    const size_t q_stride = (size_t)a->n_head * hd, kv_stride = (size_t)a->n_head_kv * hd;
    const double scale = 1.0 / sqrt((double)hd);
    for (uint32_t t = 0; t < a->n_tokens; t++) {
        for (uint32_t h = 0; h < a->n_head; h++) {
            const float *q = a->q + t * q_stride + (size_t)h * hd;
            const size_t kvo = (size_t)(h / group) * hd;
            float *out = a->out + t * q_stride + (size_t)h * hd;
            uint32_t j0, j1;
            visible_keys(a, a->q_pos0 + t, &j0, &j1);
            double mx = -INFINITY;
            for (uint32_t j = j0; j < j1; j++) {
                const float *k = a->k + kv_row(a, j) * kv_stride + kvo;
                double s = 0.0;
                for (uint32_t i = 0; i < hd; i++)
                    s += (double)q[i] * (double)k[i];
                scores[j] = s * scale;
                if (scores[j] > mx)
                    mx = scores[j];
            }
            double sum = 0.0;
            for (uint32_t j = j0; j < j1; j++) {
                scores[j] = exp(scores[j] - mx);
                sum += scores[j];
            }
            for (uint32_t i = 0; i < hd; i++) {
                double o = 0.0;
                for (uint32_t j = j0; j < j1; j++)
                    o += scores[j] * (double)a->v[kv_row(a, j) * kv_stride + kvo + i];
                out[i] = (float)(o / sum);
            }
        }
    }
    free(scores);
    return 1;
}

void mst_attention_best(const mst_attn_args *a, float *scores, uint32_t item0, uint32_t item1)
{
    const mst_cpu_kernels *kern = mst_cpu_best();
    const uint32_t group = a->n_head / a->n_head_kv, hd = a->head_dim;
    const size_t q_stride = (size_t)a->n_head * hd, kv_stride = (size_t)a->n_head_kv * hd;
    const float scale = (float)(1.0 / sqrt((double)hd));
    for (uint32_t item = item0; item < item1; item++) {
        const uint32_t t = item / a->n_head, h = item % a->n_head;
        const float *q = a->q + t * q_stride + (size_t)h * hd;
        const float *kbase = a->k + (size_t)(h / group) * hd;
        const float *vbase = a->v + (size_t)(h / group) * hd;
        float *out = a->out + t * q_stride + (size_t)h * hd;
        uint32_t j0, j1;
        visible_keys(a, a->q_pos0 + t, &j0, &j1);
        float mx = -INFINITY;
        for (uint32_t j = j0; j < j1; j++) {
            float s = kern->dot(q, kbase + kv_row(a, j) * kv_stride, hd) * scale;
            scores[j - j0] = s;
            mx = s > mx ? s : mx;
        }
        double sum = 0.0;
        for (uint32_t j = j0; j < j1; j++) {
            float e = expf(scores[j - j0] - mx);
            scores[j - j0] = e;
            sum += e;
        }
        for (uint32_t i = 0; i < hd; i++)
            out[i] = 0.0f;
        for (uint32_t j = j0; j < j1; j++)
            kern->axpy(out, scores[j - j0], vbase + kv_row(a, j) * kv_stride, hd);
        const float inv = (float)(1.0 / sum);
        for (uint32_t i = 0; i < hd; i++)
            out[i] *= inv;
    }
}
