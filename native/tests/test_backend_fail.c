/* test_backend_fail.c — a backend that fails in the middle of a pass (backend.h: mst_backend_fail), seen from
 * the ABI: mst_decode returns that status with the backend's first message, the context stays at the position
 * before the failed step, the ops after the failure are skipped, and the next decode runs normally.
 * The failing backend is the CPU's with one op replaced; linked statically to reach mst_context. */
#include "internal.h"
#include "test_util.h"

static int g_fail_at_layer = -1; /* the layer whose attention fails, -1 none */
static int g_ops_after_failure;

static void failing_attention(mst_context *ctx, uint32_t layer, const float *q, uint32_t n, float *out)
{
    if ((int)layer == g_fail_at_layer) {
        mst_backend_fail(ctx, MST_ERR_DEVICE, "attention of layer %u: the device fell off the bus", layer);
        mst_backend_fail(ctx, MST_ERR_INTERNAL, "a later failure that must not replace the first");
        return;
    }
    if (mst_backend_failed(ctx)) {
        g_ops_after_failure++; /* a backend skips its work here; this one counts that it was told to */
        return;
    }
    mst_backend_cpu.attention(ctx, layer, q, n, out);
}

int main(void)
{
    static const int32_t types[9] = {MST_TYPE_Q8_0, MST_TYPE_Q4_0, MST_TYPE_F32, MST_TYPE_F32, MST_TYPE_F32,
                                     MST_TYPE_F32,  MST_TYPE_F32,  MST_TYPE_F32, MST_TYPE_F32};
    mst_model_config cfg = tiny_config();
    test_model tm;
    tm_build(&tm, 9, &cfg, types, 0);
    mst_model *m = NULL;
    mst_context *c = NULL, *ref = NULL;
    mst_context_params p;
    mst_context_params_default(&p);
    p.n_ctx = 16, p.n_batch = 4, p.n_threads = 2;
    if (mst_model_create(&tm.cfg, tm.desc, tm.n_desc, &m) != MST_OK || mst_context_create(m, &p, &c) != MST_OK ||
        mst_context_create(m, &p, &ref) != MST_OK) {
        printf("setup: %s\n", mst_last_error());
        return 1;
    }
    mst_backend failing = mst_backend_cpu;
    failing.attention = failing_attention;
    c->backend = &failing;

    const int32_t toks[3] = {4, 8, 15};
    float a[50], b[50];
    CHECK(mst_decode(c, toks, 2, 0, a, 50) == MST_OK, "decode before the failure: %s", mst_last_error());
    g_fail_at_layer = 0;
    mst_status st = mst_decode(c, toks + 2, 1, 0, a, 50);
    CHECK(st == MST_ERR_DEVICE, "failed step returned %s, not MST_ERR_DEVICE", mst_status_to_string(st));
    CHECK(strstr(mst_last_error(), "fell off the bus") && !strstr(mst_last_error(), "later failure"),
          "message is not the first failure's: %s", mst_last_error());
    CHECK(strstr(mst_last_error(), "position 2") != NULL, "message does not say where the context stays: %s",
          mst_last_error());
    CHECK(g_ops_after_failure == (int)cfg.n_layer - 1, "%d later attention calls saw the failure, expected %u",
          g_ops_after_failure, cfg.n_layer - 1);
    uint32_t pos = 99;
    mst_context_position(c, &pos);
    CHECK(pos == 2, "the failed step moved the context to %u", pos);

    /* the same step again, now without the failure: the logits of an undisturbed context */
    g_fail_at_layer = -1;
    CHECK(mst_decode(c, toks + 2, 1, 0, a, 50) == MST_OK, "decode after the failure: %s", mst_last_error());
    CHECK(mst_last_error()[0] == '\0', "success left a message");
    CHECK(mst_decode(ref, toks, 3, 0, b, 50) == MST_OK, "reference decode: %s", mst_last_error());
    /* 2 + 1 tokens against 3 in one call: the same math, split differently (test_model kv_consistency: 1e-4) */
    CHECK(max_abs_diff(a, b, 50) <= 1e-4 * (1.0 + max_abs(b, 50)), "logits after a failed step differ by %g",
          max_abs_diff(a, b, 50));

    mst_context_free(c);
    mst_context_free(ref);
    mst_model_free(m);
    tm_free(&tm);
    return finish("backend_fail");
}
