/* rope.c — rotary position embedding on adjacent pairs (2i, 2i+1) of each head.
 *
 * Angles are pos * base^(-2i/head_dim), computed in double: at positions in the tens of
 * thousands a float angle would already be off in the third decimal. The fast version computes
 * each (cos, sin) once per token and applies it to every head; the reference recomputes it per
 * head and rotates in double. */
#include <math.h>

#include "ops.h"

void mst_rope_ref(float *x, uint32_t n_tokens, uint32_t n_heads, uint32_t head_dim, const int32_t *positions,
                  float freq_base)
{
    for (uint32_t t = 0; t < n_tokens; t++) {
        for (uint32_t h = 0; h < n_heads; h++) {
            float *v = x + ((size_t)t * n_heads + h) * head_dim;
            for (uint32_t i = 0; i < head_dim / 2; i++) {
                double theta = (double)positions[t] * pow((double)freq_base, -2.0 * i / (double)head_dim);
                double c = cos(theta), s = sin(theta);
                double a = v[2 * i], b = v[2 * i + 1];
                v[2 * i] = (float)(a * c - b * s);
                v[2 * i + 1] = (float)(a * s + b * c);
            }
        }
    }
}

void mst_rope_best(float *x, uint32_t n_tokens, uint32_t n_heads, uint32_t head_dim, const int32_t *positions,
                   float freq_base)
{
    const size_t stride = head_dim; /* between heads of one token */
    for (uint32_t t = 0; t < n_tokens; t++) {
        float *xt = x + (size_t)t * n_heads * head_dim;
        for (uint32_t i = 0; i < head_dim / 2; i++) {
            double theta = (double)positions[t] * pow((double)freq_base, -2.0 * i / (double)head_dim);
            float c = (float)cos(theta), s = (float)sin(theta);
            for (uint32_t h = 0; h < n_heads; h++) {
                float *p = xt + h * stride + 2 * i;
                float a = p[0], b = p[1];
                p[0] = a * c - b * s;
                p[1] = a * s + b * c;
            }
        }
    }
}
