/* forward_moe.h — the mixture-of-experts feed-forward of one layer (forward_moe.c), written against backend.h
 * like the rest of forward.c, and its per-token reference. */
#ifndef MST_FORWARD_MOE_H
#define MST_FORWARD_MOE_H

#include "internal.h"

/* ctx->xb (n normed rows of n_embd) in, ctx->xb2 out: xb2[t] = sum over token t's chosen experts e (ascending e)
 * of weight_e * Wdown_e (silu(Wgate_e xb[t]) * Wup_e xb[t]). Each chosen expert runs once, over all the tokens
 * routed to it; an expert no token chose is not read. Fails the pass (MST_ERR_NON_FINITE) on a token whose
 * router logits are not finite: at once on the generic path; where the backend's moe_ffn ran the layers
 * (backend.h), in mst_moe_check_pass after the pass (under MST_CONTEXT_CHECK_LAYERS after the layer), with the
 * same message. Such a token adds nothing to xb2 on either path. */
void mst_moe_ffn(mst_context *ctx, const mst_layer *L, uint32_t n);

/* After the pass's end() (mst_forward): fails the pass, with mst_moe_ffn's message naming the first layer and
 * position, when the backend's moe_ffn met non-finite router logits in it; nothing for a pass that did not run it,
 * or that failed already. It comes before the output layer's non-finite check: the token that was not routed may
 * also carry NaN to the output layer, and the generic path would have failed at the router first. */
void mst_moe_check_pass(mst_context *ctx);

/* The same result computed token by token (one-row matmuls per token and chosen expert), the order of the
 * float additions into xb2 kept: the oracle the grouped path is tested against (test_moe_grouped.c). Not used
 * by a forward pass. */
void mst_moe_ffn_per_token(mst_context *ctx, const mst_layer *L, uint32_t n);

#endif
