/* moe_gate.c — top-k expert choice and the softmax over the chosen logits.
 *
 * Mixtral (as llama.cpp runs it) takes a softmax over all router logits, keeps the k largest and
 * renormalises them to sum to 1; exp(l_i - m) / sum over the chosen of exp(l_j - m) is the same
 * number, so we take the softmax over the k chosen logits directly. Selection is k passes of a
 * strict-greater scan: the lower index wins a tie, and k is tiny (2 for Mixtral). A token whose logits are
 * not all finite is marked (moe_gate.h) rather than routed: the scan would skip a NaN and an infinity makes the
 * softmax NaN. */
#include <float.h>
#include <math.h>
#include <stddef.h>

#include "moe_gate.h"

/* Whether all n_expert logits are finite; otherwise marks the token's n_used slots (moe_gate.h). */
static int routable(const float *l, uint32_t n_expert, uint32_t n_used, int32_t *ex, float *w)
{
    int bad = 0;
    for (uint32_t e = 0; e < n_expert; e++)
        bad |= !(fabsf(l[e]) <= FLT_MAX); /* NaN or +-Inf */
    if (!bad)
        return 1;
    for (uint32_t i = 0; i < n_used; i++) {
        ex[i] = MST_MOE_NONFINITE;
        w[i] = NAN;
    }
    return 0;
}

/* Writes the n_used chosen indices of one token's logits, largest first. */
static void choose(const float *l, uint32_t n_expert, uint32_t n_used, int32_t *out)
{
    for (uint32_t i = 0; i < n_used; i++) {
        int32_t best = -1;
        for (uint32_t e = 0; e < n_expert; e++) {
            int taken = 0;
            for (uint32_t j = 0; j < i; j++)
                taken |= out[j] == (int32_t)e;
            if (taken)
                continue;
            /* The first free index is taken unconditionally (the logits are finite here: routable()). */
            if (best < 0 || l[e] > l[best])
                best = (int32_t)e;
        }
        out[i] = best;
    }
}

int64_t mst_moe_gate_ref(const float *logits, uint32_t n_tokens, uint32_t n_expert, uint32_t n_used,
                         int32_t *experts, float *weights)
{
    int64_t first_bad = -1;
    for (uint32_t t = 0; t < n_tokens; t++) {
        const float *l = logits + (size_t)t * n_expert;
        int32_t *ex = experts + (size_t)t * n_used;
        float *w = weights + (size_t)t * n_used;
        if (!routable(l, n_expert, n_used, ex, w)) {
            if (first_bad < 0)
                first_bad = t;
            continue;
        }
        choose(l, n_expert, n_used, ex);
        double mx = l[ex[0]], sum = 0.0; /* ex[0] holds the largest logit */
        for (uint32_t i = 0; i < n_used; i++)
            sum += exp((double)l[ex[i]] - mx);
        for (uint32_t i = 0; i < n_used; i++)
            w[i] = (float)(exp((double)l[ex[i]] - mx) / sum);
    }
    return first_bad;
}

int64_t mst_moe_gate_best(const float *logits, uint32_t n_tokens, uint32_t n_expert, uint32_t n_used,
                          int32_t *experts, float *weights)
{
    int64_t first_bad = -1;
    for (uint32_t t = 0; t < n_tokens; t++) {
        const float *l = logits + (size_t)t * n_expert;
        int32_t *ex = experts + (size_t)t * n_used;
        float *w = weights + (size_t)t * n_used;
        if (!routable(l, n_expert, n_used, ex, w)) {
            if (first_bad < 0)
                first_bad = t;
            continue;
        }
        choose(l, n_expert, n_used, ex);
        const float mx = l[ex[0]];
        float sum = 0.0f;
        for (uint32_t i = 0; i < n_used; i++) {
            w[i] = expf(l[ex[i]] - mx);
            sum += w[i];
        }
        const float inv = 1.0f / sum;
        for (uint32_t i = 0; i < n_used; i++)
            w[i] *= inv;
    }
    return first_bad;
}
