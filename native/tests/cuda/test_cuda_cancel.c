/* test_cuda_cancel.c — mst_context_set_abort on the CUDA backend (the SIMT emulator; the gpu_ twin: device 0).
 * CUDA ops are queued, not run in a thread pool, so a pass sees the flag where every backend does: before each
 * layer and before the output layer (forward.c). Checked here:
 *   - a decode started with the flag set returns MST_ERR_CANCELLED without running a pass, position unchanged;
 *   - a flag set in the middle of a pass (after layer 0's last residual add) stops it before layer 1 with
 *     MST_ERR_CANCELLED, the position unchanged, and the same call again gives exactly the logits of a CUDA
 *     context that never saw the cancelled call (no kernel here accumulates with atomics, so device runs repeat
 *     bit for bit). */
#include <stdlib.h>
#include <string.h>

#include "../test_util.h"
#include "internal.h"

static int g_passes;
static uint32_t g_at_pos = UINT32_MAX; /* the pass at this position sets the flag at its second residual add */
static int g_adds;

static void hooked_begin(mst_context *ctx, const int32_t *tokens, uint32_t n)
{
    g_passes++;
    g_adds = 0;
    mst_backend_cuda.begin(ctx, tokens, n);
}

static void hooked_add(mst_context *ctx, float *x, const float *y, uint64_t n)
{
    mst_backend_cuda.add(ctx, x, y, n);
    if (ctx->n_past == g_at_pos && ++g_adds == 2)
        mst_context_set_abort(ctx, 1);
}

static mst_backend g_hooked;

static mst_context *open_ctx(mst_model *m)
{
    mst_context_params p;
    mst_context_params_default(&p);
    p.n_ctx = 64, p.n_batch = 32, p.n_threads = 2;
    mst_context *c = NULL;
    if (mst_context_create(m, &p, &c) != MST_OK) {
        printf("FAIL context: %s\n", mst_last_error());
        exit(2);
    }
    return c;
}

static uint32_t position(mst_context *c)
{
    uint32_t p = UINT32_MAX;
    mst_context_position(c, &p);
    return p;
}

int main(void)
{
    static const int32_t types[9] = {MST_TYPE_Q8_0, MST_TYPE_Q8_0, MST_TYPE_Q4_0, MST_TYPE_F32, MST_TYPE_F16,
                                     MST_TYPE_Q8_0, MST_TYPE_Q8_0, MST_TYPE_F32,  MST_TYPE_Q8_0};
    mst_model_config cfg = tiny_config();
    cfg.n_layer = 3;
    test_model tm;
    tm_build(&tm, 7, &cfg, types, 0);
    const char *on_driver = getenv("MISTRAL_CUDA_TEST_DRIVER");
    const int driver = on_driver && on_driver[0] == '1';
    mst_model_params mp;
    mst_model_params_default(&mp);
    mp.backend = MST_BACKEND_CUDA;
    mp.flags = driver ? 0 : MST_BACKEND_EMULATE;
    mst_model *m = NULL;
    mst_status st = mst_model_create_with(&tm.cfg, tm.desc, tm.n_desc, &mp, &m);
    if (st == MST_ERR_DEVICE && driver) {
        printf("skipped: no CUDA device (%s)\n", mst_last_error());
        tm_free(&tm);
        return 77;
    }
    if (st != MST_OK) {
        printf("FAIL CUDA model: %s: %s\n", mst_status_to_string(st), mst_last_error());
        return 1;
    }
    const uint32_t V = cfg.n_vocab;
    int32_t toks[32];
    uint64_t seed = 5;
    for (int i = 0; i < 32; i++)
        toks[i] = (int32_t)(rng_next(&seed) % V);
    float got[50], want[50], sentinel[50];

    mst_context *ref = open_ctx(m);
    CHECK(mst_decode(ref, toks, 20, 0, want, V) == MST_OK && mst_decode(ref, toks + 20, 12, 0, want, V) == MST_OK,
          "reference: %s", mst_last_error());
    mst_context_free(ref);

    mst_context *c = open_ctx(m);
    g_hooked = mst_backend_cuda;
    g_hooked.begin = hooked_begin;
    g_hooked.add = hooked_add;
    c->backend = &g_hooked;
    CHECK(mst_decode(c, toks, 20, 0, got, V) == MST_OK, "prefix: %s", mst_last_error());

    /* set before the call: nothing runs */
    for (int i = 0; i < 50; i++)
        got[i] = sentinel[i] = -4321.0f;
    g_passes = 0;
    CHECK(mst_context_set_abort(c, 1) == MST_OK, "set_abort: %s", mst_last_error());
    st = mst_decode(c, toks + 20, 12, 0, got, V);
    CHECK(st == MST_ERR_CANCELLED, "decode with the flag set returned %s", mst_status_to_string(st));
    CHECK(g_passes == 0 && memcmp(got, sentinel, sizeof got) == 0, "a pass ran (%d) or the logits were written",
          g_passes);
    CHECK(position(c) == 20, "position %u", position(c));
    mst_context_set_abort(c, 0);

    /* set during the pass: stops before layer 1 */
    g_at_pos = 20;
    st = mst_decode(c, toks + 20, 12, 0, got, V);
    CHECK(st == MST_ERR_CANCELLED, "a pass cancelled after layer 0 returned %s", mst_status_to_string(st));
    CHECK(strstr(mst_last_error(), "before layer 1") && strstr(mst_last_error(), "stays at position 20"),
          "message: %s", mst_last_error());
    CHECK(position(c) == 20, "position %u after the cancelled call", position(c));
    g_at_pos = UINT32_MAX;
    mst_context_set_abort(c, 0);
    CHECK(mst_decode(c, toks + 20, 12, 0, got, V) == MST_OK, "retry: %s", mst_last_error());
    CHECK(memcmp(got, want, V * sizeof(float)) == 0, "the retried call's logits differ from a fresh context's");

    mst_context_free(c);
    mst_model_free(m);
    tm_free(&tm);
    return finish("cuda_cancel");
}
