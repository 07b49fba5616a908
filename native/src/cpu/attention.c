/* attention.c — the reference: causal grouped-query attention with an optional sliding window,
 * in double, one (token, head) at a time. The fast tiled version is attention_tiled.c.
 *
 * Query head h reads KV head h / (n_head / n_head_kv). The query at position p sees key j when
 * j <= p and, with a window w > 0, p - j < w. Softmax subtracts the row maximum before exp.
 * K and V are float32 or IEEE halves (mst_attn_args.kv_type); a half is read as the float it
 * equals, so on halves this computes exactly what it computes on those floats. */
#include <math.h>
#include <stdlib.h>

#include "attention.h"
#include "quant.h"

/* Element i of a cache of a->kv_type. */
static double kv_at(const mst_attn_args *a, const void *base, size_t i)
{
    return a->kv_type == MST_TYPE_F16 ? (double)mst_fp16_to_fp32(((const uint16_t *)base)[i])
                                      : (double)((const float *)base)[i];
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
            mst_attn_visible(a, a->q_pos0 + t, &j0, &j1);
            double mx = -INFINITY;
            for (uint32_t j = j0; j < j1; j++) {
                const size_t k0 = mst_attn_kv_row(a, j) * kv_stride + kvo;
                double s = 0.0;
                for (uint32_t i = 0; i < hd; i++)
                    s += (double)q[i] * kv_at(a, a->k, k0 + i);
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
                    o += scores[j] * kv_at(a, a->v, mst_attn_kv_row(a, j) * kv_stride + kvo + i);
                out[i] = (float)(o / sum);
            }
        }
    }
    free(scores);
    return 1;
}
