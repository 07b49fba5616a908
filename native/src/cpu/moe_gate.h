/* moe_gate.h — mixture-of-experts routing: which experts a token runs, and with what weight.
 * Kept out of ops.h because routing is O(n_expert) per token, not a throughput kernel. */
#ifndef MST_MOE_GATE_H
#define MST_MOE_GATE_H

#include <stdint.h>

/* Per token of n_tokens: experts[t*n_used + i] = the i-th largest router logit's index (ties: lower
 * index first), weights[...] = softmax over those n_used logits. Requires 0 < n_used <= n_expert.
 * Always writes valid indices, even for non-finite logits (then the weights are not finite). */
void mst_moe_gate_ref(const float *logits, uint32_t n_tokens, uint32_t n_expert, uint32_t n_used,
                      int32_t *experts, float *weights);
void mst_moe_gate_best(const float *logits, uint32_t n_tokens, uint32_t n_expert, uint32_t n_used,
                       int32_t *experts, float *weights);

#endif
