/* swiglu.c — out = silu(gate) * up, silu(g) = g / (1 + exp(-g)).
 *
 * It is O(n_ff) per token against the O(n_embd * n_ff) matmuls around it, so the fast version
 * is a plain float loop; the reference works in double. */
#include <math.h>

#include "ops.h"

void mst_swiglu_ref(const float *gate, const float *up, uint64_t n, float *out)
{
    for (uint64_t i = 0; i < n; i++) {
        double g = gate[i];
        out[i] = (float)(g / (1.0 + exp(-g)) * (double)up[i]);
    }
}

void mst_swiglu_best(const float *gate, const float *up, uint64_t n, float *out)
{
    for (uint64_t i = 0; i < n; i++) {
        float g = gate[i];
        out[i] = g / (1.0f + expf(-g)) * up[i];
    }
}
