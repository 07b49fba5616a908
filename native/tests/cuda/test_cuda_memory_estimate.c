/* test_cuda_memory_estimate.c — mst_estimate_memory on the CUDA backend against what create allocates.
 *   (no argument)  the SIMT emulator (or, as gpu_memory_estimate, the real device 0): the figures' shape (device bytes,
 *                  no host KV cache, nothing read in place), an F32 KV cache refused as context_create refuses it, the
 *                  host heap each create takes within the estimate (mallinfo2, margins as in test_memory_estimate.c);
 *                  on a real GPU, the drop of the driver's free memory against the device estimate
 *   fake           the fake driver (fake_libcuda.c), which counts the bytes cuMemAlloc hands out: for dense Q4_0, Q5_K
 *                  (converted to F16 at upload), tied, MoE and rolling-window models, the device bytes of model and
 *                  context together equal the estimate exactly (the estimate is what the backend asks the device for;
 *                  a real driver rounds each allocation up to its own granularity on top) */
#include <dlfcn.h>
#include <unistd.h>

#include "../estimate_table.h"

#define MARGIN_MODEL (64ull << 10)  /* a page per host allocation: the CUDA model's host side makes about 8 */
#define MARGIN_CONTEXT (64ull << 10) /* and its context about 5 */

static int on_driver(void)
{
    const char *v = getenv("MISTRAL_CUDA_TEST_DRIVER");
    return v && v[0] == '1';
}

static mst_model_params cuda_params(int emulate)
{
    mst_model_params p;
    mst_model_params_default(&p);
    p.backend = MST_BACKEND_CUDA;
    p.flags = emulate ? MST_BACKEND_EMULATE : 0;
    return p;
}

/* The device's free bytes as the library reports them (0 on the emulator). */
static uint64_t device_free(void)
{
    mst_backend_info info = {.struct_size = sizeof info};
    return mst_backend_query(MST_BACKEND_CUDA, 0, &info) == MST_OK ? info.free_memory : 0;
}

static void test_emulated_or_gpu(void)
{
    const int gpu = on_driver();
    mst_model_params mp = cuda_params(!gpu);
    const mst_model_config cfg = base_config();
    table t;
    build(&t, &cfg, MST_TYPE_Q4_0, 0);
    mst_context_params cp = ctx_params(1024, 64, MST_TYPE_F16);
    mst_memory_estimate e = {.struct_size = sizeof e};
    CHECK(mst_estimate_memory(&t.cfg, t.d, t.n, &mp, &cp, &e) == MST_OK, "estimate: %s", mst_last_error());
    CHECK(e.device > 0 && e.kv_cache == 0 && e.weights_mapped == 0 && e.weights_owned > 0 && e.scratch > 0,
          "CUDA figures: device %llu, host KV %llu, mapped %llu, owned %llu, scratch %llu", (unsigned long long)e.device,
          (unsigned long long)e.kv_cache, (unsigned long long)e.weights_mapped, (unsigned long long)e.weights_owned,
          (unsigned long long)e.scratch);
    /* the device holds the KV cache: twice the context, at least the F16 cache's growth more on the device */
    mst_context_params cp2 = ctx_params(2048, 64, MST_TYPE_F16);
    mst_memory_estimate e2 = {.struct_size = sizeof e2};
    CHECK(mst_estimate_memory(&t.cfg, t.d, t.n, &mp, &cp2, &e2) == MST_OK, "estimate: %s", mst_last_error());
    const uint64_t kv_growth = 2ull * cfg.n_layer * 1024 * cfg.n_head_kv * cfg.head_dim * 2;
    CHECK(e2.device >= e.device + kv_growth, "2048 tokens: device %llu, 1024: %llu (+%llu of KV expected)",
          (unsigned long long)e2.device, (unsigned long long)e.device, (unsigned long long)kv_growth);

    /* an F32 cache: refused alike, with the same words */
    mst_context_params p32 = ctx_params(256, 32, MST_TYPE_F32);
    mst_memory_estimate e32 = {.struct_size = sizeof e32};
    const mst_status est = mst_estimate_memory(&t.cfg, t.d, t.n, &mp, &p32, &e32);
    char message[512];
    snprintf(message, sizeof message, "%s", mst_last_error());

    const int measurable = !gpu && heap_measurable();
    mst_model *hold = NULL, *m = NULL;
    mst_context *c = NULL;
    /* warm-up, and on a GPU a model that keeps the device's context and modules loaded while the next is measured */
    mst_status st = mst_model_create_with(&t.cfg, t.d, t.n, &mp, &hold);
    if (st != MST_OK && gpu) {
        printf("skipped: no CUDA device (%s)\n", mst_last_error());
        drop(&t);
        exit(77);
    }
    CHECK(st == MST_OK, "create: %s", mst_last_error());
    mst_context *bad = NULL;
    const mst_status made = hold ? mst_context_create(hold, &p32, &bad) : MST_ERR_INTERNAL;
    CHECK(est == MST_ERR_UNSUPPORTED && made == est && strcmp(message, mst_last_error()) == 0,
          "F32 KV on CUDA: estimate %s (\"%s\"), create %s (\"%s\")", mst_status_to_string(est), message,
          mst_status_to_string(made), mst_last_error());
    if (hold && mst_context_create(hold, &cp, &c) == MST_OK)
        mst_context_free(c), c = NULL;

    const uint64_t f0 = device_free(), h0 = heap_in_use();
    st = mst_model_create_with(&t.cfg, t.d, t.n, &mp, &m);
    const uint64_t h1 = heap_in_use();
    CHECK(st == MST_OK, "create: %s", mst_last_error());
    if (st == MST_OK)
        st = mst_context_create(m, &cp, &c);
    const uint64_t h2 = heap_in_use(), f1 = device_free();
    CHECK(st == MST_OK, "context: %s", mst_last_error());
    printf("CUDA %s: estimate device %.3f MiB, host owned %.3f, scratch %.3f | host allocated: model %.3f MiB, "
           "context %.3f%s\n",
           gpu ? "device 0" : "emulated", mib(e.device), mib(e.weights_owned), mib(e.scratch), mib(h1 - h0),
           mib(h2 - h1), measurable ? "" : " (host heap not measured)");
    if (measurable && st == MST_OK) {
        CHECK(e.weights_owned >= h1 - h0 && e.weights_owned - (h1 - h0) <= MARGIN_MODEL,
              "host model estimate %llu, allocated %llu", (unsigned long long)e.weights_owned,
              (unsigned long long)(h1 - h0));
        CHECK(e.scratch >= h2 - h1 && e.scratch - (h2 - h1) <= MARGIN_CONTEXT, "host context estimate %llu, allocated %llu",
              (unsigned long long)e.scratch, (unsigned long long)(h2 - h1));
    }
    if (gpu && st == MST_OK) {
        /* The driver hands out whole pages of its own (up to 2 MiB) per allocation, about 40 here; it cannot hand
         * out less than asked. */
        const uint64_t drop = f0 > f1 ? f0 - f1 : 0;
        printf("device 0: free memory dropped by %.3f MiB for an estimate of %.3f MiB\n", mib(drop), mib(e.device));
        CHECK(drop + (1 << 20) >= e.device && drop <= e.device + (96ull << 20),
              "free memory dropped by %llu bytes, estimate %llu", (unsigned long long)drop, (unsigned long long)e.device);
    }
    mst_context_free(c);
    mst_model_free(m);
    mst_model_free(hold);
    drop(&t);
}

/* ---- the fake driver: device bytes asked for ---- */

static uint64_t (*g_allocated)(void);

static void fake_case(const char *name, const mst_model_config *cfg, int32_t type, int tied, uint32_t n_ctx,
                      uint32_t n_batch)
{
    mst_model_params mp = cuda_params(0);
    table t;
    build(&t, cfg, type, tied);
    mst_context_params cp = ctx_params(n_ctx, n_batch, MST_TYPE_F16);
    mst_memory_estimate e = {.struct_size = sizeof e};
    CHECK(mst_estimate_memory(&t.cfg, t.d, t.n, &mp, &cp, &e) == MST_OK, "%s: estimate: %s", name, mst_last_error());
    const uint64_t a0 = g_allocated();
    mst_model *m = NULL;
    mst_context *c = NULL;
    mst_status st = mst_model_create_with(&t.cfg, t.d, t.n, &mp, &m);
    const uint64_t a1 = g_allocated();
    if (st == MST_OK)
        st = mst_context_create(m, &cp, &c);
    const uint64_t a2 = g_allocated();
    CHECK(st == MST_OK, "%s: create: %s", name, mst_last_error());
    printf("%-28s device estimate %10llu bytes; cuMemAlloc: model %10llu + context %9llu = %10llu\n", name,
           (unsigned long long)e.device, (unsigned long long)(a1 - a0), (unsigned long long)(a2 - a1),
           (unsigned long long)(a2 - a0));
    CHECK(st != MST_OK || a2 - a0 == e.device, "%s: estimate %llu device bytes, allocated %llu", name,
          (unsigned long long)e.device, (unsigned long long)(a2 - a0));
    mst_context_free(c);
    mst_model_free(m);
    CHECK(g_allocated() == a0, "%s: %llu device bytes left after free", name, (unsigned long long)(g_allocated() - a0));
    drop(&t);
}

static int test_fake(void)
{
    void *fake = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL); /* the library driver_load.c opens */
    g_allocated = fake ? (uint64_t (*)(void))dlsym(fake, "fake_cuda_allocated") : NULL;
    if (!g_allocated) {
        printf("skipped: the libcuda.so.1 found is not the fake driver (a real one comes first)\n");
        if (fake)
            dlclose(fake);
        return 77;
    }
    const mst_model_config base = base_config();
    fake_case("dense Q4_0", &base, MST_TYPE_Q4_0, 0, 1024, 64);
    fake_case("dense Q5_K (to F16)", &base, MST_TYPE_Q5_K, 0, 1024, 64);
    fake_case("dense Q8_0, tied", &base, MST_TYPE_Q8_0, 1, 512, 32);
    mst_model_config moe = base;
    moe.n_expert = 4, moe.n_expert_used = 2, moe.n_layer = 2;
    fake_case("MoE 4 experts top-2 Q4_0", &moe, MST_TYPE_Q4_0, 0, 1024, 64);
    mst_model_config win = base;
    win.sliding_window = 256;
    fake_case("window 256, rolling", &win, MST_TYPE_Q4_0, 0, 4096, 64);
    dlclose(fake);
    return finish("test_cuda_memory_estimate fake");
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "fake") == 0)
        return test_fake();
    test_emulated_or_gpu();
    return finish("test_cuda_memory_estimate");
}
