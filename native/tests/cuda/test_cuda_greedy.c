/* test_cuda_greedy.c — mst_decode_greedy on the CUDA backend (cuda_end_greedy: argmax.cu over the logits row, then
 * one download of the step's words), on the emulator (the gpu_greedy twin: on a GPU), against mst_decode on a second
 * context of the same model, in lockstep (each step's token the argmax of mst_decode's logits):
 *   - a 9-token prompt, then 16 one-token steps, with the decode step recorded as a graph and replayed (the greedy
 *     context's argmax runs after the replay) and with MISTRAL_CUDA_GRAPHS=0 (op by op): the greedy id equals the
 *     argmax, by TokenSampler.ArgMax's rule (the largest, ties to the lowest id), of mst_decode's logits at every
 *     step: exact, the same kernels then comparisons only; a dense model and a sliding-window one whose rolling
 *     cache wraps;
 *   - a model whose output row 7 holds a NaN (the hidden state stays finite, logit 7 does not): MST_ERR_NON_FINITE
 *     with mst_decode's message after the function's name, *out_token untouched, the position unchanged; graphs on
 *     (a recording made by earlier steps) and off. */
#define _POSIX_C_SOURCE 200809L /* setenv */
#include "cuda_test_util.h"
#include "../decode_lockstep.h"

#include "cuda/backend_cuda_internal.h"

static const int32_t TYPES[9] = {MST_TYPE_F16, MST_TYPE_Q8_0, MST_TYPE_Q4_0, MST_TYPE_F16, MST_TYPE_F16,
                                 MST_TYPE_Q8_0, MST_TYPE_F16,  MST_TYPE_F16, MST_TYPE_F16};

static mst_model *open_model(test_model *tm)
{
    mst_model_params p;
    mst_model_params_default(&p);
    p.backend = MST_BACKEND_CUDA;
    p.flags = ct_on_driver() ? 0 : MST_BACKEND_EMULATE;
    mst_model *m = NULL;
    ct_ok(mst_model_create_with(&tm->cfg, tm->desc, tm->n_desc, &p, &m), "model");
    return m;
}

static mst_context *open_ctx(mst_model *m, uint32_t n_ctx)
{
    mst_context_params cp;
    mst_context_params_default(&cp);
    cp.n_ctx = n_ctx, cp.n_batch = 9;
    mst_context *c = NULL;
    ct_ok(mst_context_create(m, &cp, &c), "context");
    return c;
}

/* MISTRAL_CUDA_GRAPHS is read at a context's first one-token step: set it for both contexts' whole run. */
static void set_graphs(int on)
{
    if (on)
        unsetenv("MISTRAL_CUDA_GRAPHS");
    else
        setenv("MISTRAL_CUDA_GRAPHS", "0", 1);
}

static void equal_case(const char *name, mst_model_config cfg, uint32_t n_ctx, int graphs)
{
    set_graphs(graphs);
    test_model tm;
    tm_build(&tm, 41, &cfg, TYPES, 0);
    mst_model *m = open_model(&tm);
    mst_context *plain = open_ctx(m, n_ctx), *greedy = open_ctx(m, n_ctx);
    lockstep_greedy(name, plain, greedy, cfg.n_vocab, 16);
    const cuda_ctx *gs = greedy->backend_state;
    CHECK((gs->graph != NULL) == (graphs != 0), "%s: the greedy context %s a recording", name,
          gs->graph ? "holds" : "does not hold");
    mst_context_free(plain), mst_context_free(greedy);
    mst_model_free(m);
    tm_free(&tm);
}

static void nonfinite_case(int graphs)
{
    const char *name = graphs ? "nonfinite, graphs on" : "nonfinite, graphs off";
    set_graphs(graphs);
    mst_model_config cfg = tiny_config();
    test_model tm;
    tm_build(&tm, 41, &cfg, TYPES, 0);
    lockstep_nan_logit7(&tm);
    mst_model *m = open_model(&tm);
    mst_context *plain = open_ctx(m, 32), *greedy = open_ctx(m, 32);
    const int32_t prompt[3] = {2, 7, 1};
    /* two steps each (the first fails, the context stays at 0: the second is again a prefill), then one-token steps
     * that are recorded and replayed when graphs are on */
    for (int step = 0; step < 4 && g_failures == 0; step++) {
        const uint32_t n = step < 2 ? 3 : 1;
        char what[96];
        snprintf(what, sizeof what, "%s: step %d", name, step);
        lockstep_nonfinite(what, plain, greedy, prompt, n, 50);
    }
    mst_context_free(plain), mst_context_free(greedy);
    mst_model_free(m);
    tm_free(&tm);
}

int main(void)
{
    mst_dev *d = ct_open(); /* skips (77) on the driver run where no GPU is usable */
    mst_dev_close(d);
    mst_model_config win = tiny_config();
    win.sliding_window = 8;
    for (int graphs = 1; graphs >= 0; graphs--) {
        equal_case(graphs ? "dense, graphs on" : "dense, graphs off", tiny_config(), 64, graphs);
        equal_case(graphs ? "rolling cache, graphs on" : "rolling cache, graphs off", win, 12, graphs);
        nonfinite_case(graphs);
    }
    unsetenv("MISTRAL_CUDA_GRAPHS");
    return ct_finish("test_cuda_greedy");
}
