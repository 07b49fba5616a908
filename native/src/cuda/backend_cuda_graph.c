/* backend_cuda_graph.c — the decode step as one graph (backend.h: graph_begin, graph_end).
 *
 * A decode step (one token) queues a few hundred small launches; a recorded graph replays them with one call, so
 * the host's per-launch cost goes. What makes a recording reusable: every kernel argument stays the same from one
 * step to the next. The buffers are the context's for its whole life; the token and the position are read from
 * device memory (cuda_ctx.step, uploaded by begin() before the replay); the attention's decode split is sized
 * from a bound on the keys, not from the position (attention.cu). So the first decode step is recorded (its ops
 * are captured, not run), then launched, and every later one is begin()'s upload and one graph launch: the same
 * kernels in the same order with the same arguments as a pass run op by op, hence the same results, bit for bit.
 *
 * A mixture of experts is recorded where its decode takes the device MoE op (backend_cuda_ops.c cuda_moe_ffn: the
 * routing stays in device memory, chosen by a kernel each replay, and the expert kernels read the ids from there).
 * Its non-finite router flag is a step word like the output layer's answer: begin() resets it, the first layer's
 * gate kernel too (inside the recording), and end() brings it back; the recording remembers that it holds the op
 * (graph_moe_ran), so a replay's flag is read as the pass's own.
 *
 * Not recorded (graphs_off, the pass runs op by op): MISTRAL_CUDA_GRAPHS=0; a driver without graph entry points;
 * a mixture of experts whose decode the device op does not take (the generic path's moe_gate downloads the routing
 * mid-pass); MST_CONTEXT_CHECK_LAYERS (a download per layer); a recording that failed (its error is dropped and
 * the step runs op by op). Prefill passes (n > 1) always run op by op: their shapes vary.
 *
 * The recording lives as long as the context: nothing it reads moves meanwhile (the buffers are allocated once by
 * context_init and the recording is freed before them; mst_context_truncate and every other position change only
 * change the position begin() uploads). A model's weights outlive its contexts. */
#include <stdlib.h>
#include <string.h>

#include "backend_cuda_internal.h"

/* Why the context cannot record, or NULL when it can. */
static const char *graphs_unusable(mst_context *ctx)
{
    const char *env = getenv("MISTRAL_CUDA_GRAPHS");
    if (env && strcmp(env, "0") == 0)
        return "MISTRAL_CUDA_GRAPHS=0";
    if (!mst_dev_graphs_supported(cdev(ctx)))
        return "the NVIDIA driver has no CUDA graph entry points";
    if (ctx->model->cfg.n_expert > 0 && !mst_cuda_moe_ffn_takes(ctx, 1))
        return "the device MoE op does not take this model's experts: the routing comes back to the host mid-pass";
    if (ctx->flags & MST_CONTEXT_CHECK_LAYERS)
        return "MST_CONTEXT_CHECK_LAYERS downloads every layer's output";
    return NULL;
}

static void turn_off(cuda_ctx *s, const char *why)
{
    s->graphs_off = 1;
    s->graphs_off_why = why;
}

int mst_cuda_graph_begin(mst_context *ctx, uint32_t n, int all_logits)
{
    (void)all_logits; /* one token: its logits are the last token's either way, written to the same buffer */
    cuda_ctx *s = cstate(ctx);
    /* a cancelled step goes the usual way, whose first check (before layer 0) reports it */
    if (n != 1 || s->graphs_off || mst_backend_failed(ctx) || mst_abort_requested(ctx))
        return MST_GRAPH_NONE;
    if (s->graph) {
        mst_status st = mst_dev_graph_launch(s->dev, s->graph);
        if (st != MST_OK)
            mst_backend_fail(ctx, st, "CUDA graph launch: %s", mst_last_error());
        s->nonfinite_queued = 1; /* the recording holds the output layer's check */
        s->moe_ran = s->graph_moe_ran; /* and, for a mixture of experts, the device MoE op */
        return MST_GRAPH_REPLAYED;
    }
    const char *why = graphs_unusable(ctx);
    if (why) {
        turn_off(s, why);
        return MST_GRAPH_NONE;
    }
    if (mst_dev_capture_begin(s->dev) != MST_OK) {
        turn_off(s, "the stream capture could not start");
        return MST_GRAPH_NONE;
    }
    return MST_GRAPH_CAPTURING;
}

int mst_cuda_graph_end(mst_context *ctx)
{
    cuda_ctx *s = cstate(ctx);
    const int cancelled = ctx->pass_status == MST_ERR_CANCELLED;
    const int failed = ctx->pass_status != MST_OK;
    mst_dev_graph *g = NULL;
    const mst_status st = mst_dev_capture_end(s->dev, &g);
    if (cancelled) {
        /* the recording stops part way: nothing of the pass ran, which is what a cancelled pass may leave */
        mst_dev_graph_free(s->dev, g);
        return 1;
    }
    if (failed || st != MST_OK || !s->nonfinite_queued) {
        /* an op refused to be recorded, or the driver refused the graph: this context runs op by op from now on,
         * starting with this step, whose failure so far was the recording's only */
        mst_dev_graph_free(s->dev, g);
        turn_off(s, "a recording failed");
        ctx->pass_status = MST_OK;
        ctx->pass_error[0] = '\0';
        s->nonfinite_queued = 0;
        s->moe_ran = 0;
        return 0;
    }
    s->graph = g;
    s->graph_moe_ran = s->moe_ran; /* the op was recorded: every replay runs it */
    const mst_status lst = mst_dev_graph_launch(s->dev, g);
    if (lst != MST_OK)
        mst_backend_fail(ctx, lst, "CUDA graph launch: %s", mst_last_error());
    return 1;
}
