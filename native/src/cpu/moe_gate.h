/* moe_gate.h — mixture-of-experts routing: which experts a token runs, and with what weight.
 * Kept out of ops.h because routing is O(n_expert) per token, not a throughput kernel. */
#ifndef MST_MOE_GATE_H
#define MST_MOE_GATE_H

#include <stdint.h>

/* The chosen id written in every slot of a token whose router logits are not all finite (a NaN, +Inf or -Inf
 * among its n_expert): routing it would be a guess (a NaN never compares greater, so its expert would silently
 * never run), so the token is marked instead, its weights NaN, and the caller fails the pass
 * (MST_ERR_NON_FINITE, naming the layer and the position). cuda/moe_gate.cu writes the same. */
#define MST_MOE_NONFINITE (-1)

/* Per token of n_tokens: experts[t*n_used + i] = the i-th largest router logit's index (ties: lower
 * index first), weights[...] = softmax over those n_used logits. Requires 0 < n_used <= n_expert.
 * A token with a non-finite logit gets MST_MOE_NONFINITE and NaN in all its n_used slots. Returns the first
 * such token, or -1 when every logit was finite. */
int64_t mst_moe_gate_ref(const float *logits, uint32_t n_tokens, uint32_t n_expert, uint32_t n_used,
                         int32_t *experts, float *weights);
int64_t mst_moe_gate_best(const float *logits, uint32_t n_tokens, uint32_t n_expert, uint32_t n_used,
                          int32_t *experts, float *weights);

#endif
