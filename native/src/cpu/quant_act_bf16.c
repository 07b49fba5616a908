/* quant_act_bf16.c — rounding activations to bf16 (the rule is in quant_act_bf16.h) and the
 * MST_LAYOUT_BF16X16P repacking. */
#include <string.h>

#include "quant_act_bf16.h"

static size_t align64(size_t n)
{
    return (n + 63u) & ~(size_t)63u;
}

size_t mst_qact_bf16_bytes(uint32_t cols, uint32_t n_tokens)
{
    const size_t pairs = ((size_t)cols + 1) / 2 * n_tokens;
    return align64((size_t)cols * n_tokens * sizeof(float)) + align64(pairs * sizeof(uint32_t)) + 64;
}

void mst_qact_bind_bf16(mst_qact *q, void *buf, uint32_t cols, uint32_t n_tokens)
{
    memset(q, 0, sizeof(*q)); /* the Q8_0/Q8_K arrays stay NULL: a kernel of the wrong format faults loudly */
    uint8_t *p = (uint8_t *)(((uintptr_t)buf + 63u) & ~(uintptr_t)63u);
    q->xr = (float *)p;
    p += align64((size_t)cols * n_tokens * sizeof(float));
    q->xp = (uint32_t *)p;
    q->format = MST_QACT_BF16;
    q->cols = cols;
    q->n_tokens = n_tokens;
}

void mst_round_act_bf16(const float *x, mst_qact *q, uint32_t t0, uint32_t t1)
{
    const uint32_t cols = q->cols, pairs = (cols + 1) / 2;
    for (uint32_t t = t0; t < t1; t++) {
        const float *xt = x + (size_t)t * cols;
        float *xr = q->xr + (size_t)t * cols;
        uint32_t *xp = q->xp + (size_t)t * pairs;
        for (uint32_t i = 0; i < pairs; i++) {
            const uint32_t lo = mst_round_bf16(xt[2 * i]);
            const uint32_t hi = 2 * i + 1 < cols ? mst_round_bf16(xt[2 * i + 1]) : 0;
            xp[i] = lo | hi << 16;
            const uint32_t flo = lo << 16, fhi = hi << 16;
            memcpy(&xr[2 * i], &flo, 4);
            if (2 * i + 1 < cols)
                memcpy(&xr[2 * i + 1], &fhi, 4);
        }
    }
}
