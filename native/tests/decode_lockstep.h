/* decode_lockstep.h — mst_decode_greedy checked against mst_decode in lockstep, shared by the CPU test
 * (test_decode_greedy.c) and the CUDA ones (cuda/test_cuda_greedy.c, cuda/test_cuda_graph.c): both backends must
 * meet the same contract, so they are checked by the same code — the C# sampler's ArgMax rule, the prompt and
 * step loop, and what a failed greedy call must leave behind. */
#ifndef MST_DECODE_LOCKSTEP_H
#define MST_DECODE_LOCKSTEP_H

#include "test_util.h"

/* The C# sampler's ArgMax (TokenSampler.ArgMax), written out here rather than taken from the library: scan in
 * order, replace only by a strictly greater value (ties go to the lowest id). */
static inline int32_t sampler_argmax(const float *x, uint32_t n)
{
    uint32_t best = 0;
    for (uint32_t i = 1; i < n; i++)
        if (x[i] > x[best])
            best = i;
    return (int32_t)best;
}

/* The message after "fn: ", which the two entry points share. */
static inline const char *after_name(const char *msg)
{
    const char *p = strstr(msg, ": ");
    return p ? p + 2 : msg;
}

/* A 9-token prompt, then n_steps one-token steps, on two contexts of one model: each step's token is the argmax of
 * plain's logits (mst_decode), and greedy's id (mst_decode_greedy) must equal it at every step; then both contexts
 * must be at position 9 + n_steps. Exact: the same pass, then comparisons only. Stops at the first failure. */
static inline void lockstep_greedy(const char *name, mst_context *plain, mst_context *greedy, uint32_t n_vocab,
                                   int n_steps)
{
    float *logits = xmalloc((size_t)n_vocab * 4);
    const int32_t prompt[9] = {3, 1, 4, 1, 5, 9, 2, 6, 5};
    int32_t next = -1, got = -1;
    mst_status st = mst_decode(plain, prompt, 9, 0, logits, n_vocab);
    CHECK(st == MST_OK, "%s: prefill: %s", name, mst_last_error());
    st = mst_decode_greedy(greedy, prompt, 9, &got);
    CHECK(st == MST_OK, "%s: greedy prefill: %s", name, mst_last_error());
    next = sampler_argmax(logits, n_vocab);
    CHECK(got == next, "%s: prefill: greedy id %d, argmax of the logits %d", name, got, next);
    for (int i = 0; i < n_steps && g_failures == 0; i++) {
        st = mst_decode(plain, &next, 1, 0, logits, n_vocab);
        CHECK(st == MST_OK, "%s: step %d: %s", name, i, mst_last_error());
        got = -1;
        st = mst_decode_greedy(greedy, &next, 1, &got);
        CHECK(st == MST_OK, "%s: greedy step %d: %s", name, i, mst_last_error());
        next = sampler_argmax(logits, n_vocab);
        CHECK(got == next, "%s: step %d: greedy id %d, argmax of the logits %d", name, i, got, next);
    }
    const uint32_t want = 9 + (uint32_t)n_steps;
    uint32_t pa = 0, pb = 1;
    mst_context_position(plain, &pa);
    mst_context_position(greedy, &pb);
    CHECK(pa == pb && pa == want, "%s: positions %u (mst_decode) and %u (greedy), expected %u", name, pa, pb, want);
    free(logits);
}

/* Puts an fp16 NaN into row 7 of tm's F16 output matrix (n_embd columns): the hidden state stays finite and only
 * logit 7 is not, the model lockstep_nonfinite expects. */
static inline void lockstep_nan_logit7(test_model *tm)
{
    for (uint32_t i = 0; i < tm->n_desc; i++)
        if (tm->desc[i].role == MST_ROLE_OUTPUT)
            ((uint16_t *)tm->desc[i].data)[7 * tm->cfg.n_embd + 5] = 0x7e00;
}

/* One call of each entry point with tokens whose logits hold a NaN at token 7 (greedy a fresh context at position
 * 0): both must fail with MST_ERR_NON_FINITE, greedy's message must be mst_decode's after its own name, neither may
 * write *out_token, and greedy's context must stay at position 0. n_vocab: the logits buffer's length. */
static inline void lockstep_nonfinite(const char *what, mst_context *plain, mst_context *greedy,
                                      const int32_t *tokens, uint32_t n_tokens, uint32_t n_vocab)
{
    float *logits = xmalloc((size_t)n_vocab * 4);
    mst_status a = mst_decode(plain, tokens, n_tokens, 0, logits, n_vocab);
    char want[1024];
    snprintf(want, sizeof want, "%s", after_name(mst_last_error()));
    int32_t got = -42;
    mst_status b = mst_decode_greedy(greedy, tokens, n_tokens, &got);
    CHECK(a == MST_ERR_NON_FINITE && b == MST_ERR_NON_FINITE, "%s: statuses %s and %s, not MST_ERR_NON_FINITE", what,
          mst_status_to_string(a), mst_status_to_string(b));
    CHECK(strncmp(mst_last_error(), "mst_decode_greedy: ", 19) == 0, "%s: message does not name the function: %s",
          what, mst_last_error());
    CHECK(strcmp(after_name(mst_last_error()), want) == 0, "%s: messages differ:\n  %s\n  mst_decode: %s", what,
          after_name(mst_last_error()), want);
    CHECK(strstr(want, "NaN for token 7") != NULL, "%s: mst_decode's message does not name token 7: %s", what, want);
    CHECK(got == -42, "%s: a failed call wrote *out_token = %d", what, got);
    uint32_t pos = 99;
    mst_context_position(greedy, &pos);
    CHECK(pos == 0, "%s: the failed call left the context at %u", what, pos);
    free(logits);
}

#endif
