/* test_cuda_driver.c — the NVIDIA driver loader (cuda/driver*.c) and the CUDA backend's device checks, on a
 * machine without a GPU: either no libcuda.so.1 at all, or the fake one of fake_libcuda.c (first on
 * LD_LIBRARY_PATH; what it pretends is set by FAKE_CUDA_* variables, see that file). One case per process:
 * the driver is loaded once per process, as in the library's real use.
 *
 *   absent        no libcuda.so.1: MST_ERR_DEVICE naming the library and what to install; the backend query
 *                 says unavailable with that reason; a CUDA model fails the same way; the emulator still works
 *   no_device     cuInit -> CUDA_ERROR_NO_DEVICE (a driver on a machine without a GPU)
 *   zero_devices  cuInit succeeds but there are 0 devices
 *   init_failure  cuInit -> CUDA_ERROR_SYSTEM_DRIVER_MISMATCH: the message names cuInit and the error
 *   old_driver    the driver supports CUDA 10.2: "update the NVIDIA driver"
 *   ptx_rejected  cuModuleLoadDataEx fails as an old driver does on newer PTX: the JIT log's first line and
 *                 the fix are in the message
 *   old_gpu       compute capability 7.5: the message names the device and the 8.0 minimum
 *   fake_device   a working fake: describe, memory round trips, kernels found by name across the modules
 *                 (and an unknown one refused), bad ordinals, the caller's context left current, allocation
 *                 failure as MST_ERR_OUT_OF_MEMORY
 *   no_proc_address  a driver without cuGetProcAddress (before CUDA 11.3): entry points by symbol
 *   model_too_big the CUDA backend refuses weights larger than the free memory, before allocating anything,
 *                 with the numbers; a model that fits uploads with progress and frees everything
 *   pass_failure  a kernel fault reported at the end of a pass fails mst_decode with the op, the driver's error
 *                 and what to do, and leaves the context's position alone
 *   graphs        the fake's stream capture: launches during a capture are recorded, not run; an upload during it
 *                 is refused and fails the capture (no graph); a graph launch runs what was recorded; decode steps
 *                 record the first and replay it for the later ones
 *   no_graphs     a driver without the graph entry points (FAKE_CUDA_NO_GRAPHS=1): graphs are off, decode works */
#define _POSIX_C_SOURCE 200809L /* setenv, clock_gettime under -std=c11 */
#include <dlfcn.h>

#include "../test_util.h"
#include "cuda/device.h"
#include "cuda/driver.h"
#include "cuda/ptx_modules.h"
#include "internal.h"

#define SKIP 77 /* ctest SKIP_RETURN_CODE */

static int contains(const char *s, const char *part)
{
    return s && strstr(s, part) != NULL;
}

/* mst_backend_query(CUDA) into a zeroed info of this version's size. */
static mst_status query_cuda(uint32_t flags, mst_backend_info *info)
{
    memset(info, 0, sizeof *info);
    info->struct_size = sizeof *info;
    return mst_backend_query(MST_BACKEND_CUDA, flags, info);
}

/* A failure status and a message holding every one of the parts. */
static void expect_failure(const char *what, mst_status got, mst_status want, const char *const *parts)
{
    const char *last = mst_last_error();
    const char *msg = last ? last : "";
    CHECK(got == want, "%s: status %s, expected %s (%s)", what, mst_status_to_string(got), mst_status_to_string(want),
          msg);
    for (size_t i = 0; parts[i]; i++) {
        const char *part = parts[i];
        CHECK(contains(msg, part), "%s: the message lacks \"%s\": %s", what, part, msg);
    }
    printf("%s: %s: %s\n", what, mst_status_to_string(got), msg);
}

/* The driver, the device layer and the backend query all fail with the same cause. The query's reason holds
 * 255 characters: it is checked for reason_parts (NULL: the same parts). */
static void expect_unusable(const char *what, const char *const *parts, const char *const *reason_parts)
{
    mst_drv *d = NULL;
    expect_failure(what, mst_drv_open(0, &d), MST_ERR_DEVICE, parts);
    CHECK(d == NULL, "%s: a handle came back from a failed open", what);
    mst_dev_desc desc;
    int count = -1;
    expect_failure("probe", mst_drv_probe(&desc, &count), MST_ERR_DEVICE, parts);
    mst_dev *dev = NULL;
    expect_failure("mst_dev_open(driver)", mst_dev_open(0, 0, &dev), MST_ERR_DEVICE, parts);

    mst_backend_info info;
    CHECK(query_cuda(0, &info) == MST_OK, "query: %s", mst_last_error());
    CHECK(info.available == 0, "query says available");
    for (const char *const *p = reason_parts ? reason_parts : parts; *p; p++)
        CHECK(contains(info.reason, *p), "query reason lacks \"%s\": %s", *p, info.reason);
}

/* ---- the cases ---- */

/* tm_build's weight types: every tensor F16 */
static const int32_t all_f16[9] = {MST_TYPE_F16, MST_TYPE_F16, MST_TYPE_F16, MST_TYPE_F16, MST_TYPE_F16,
                                   MST_TYPE_F16, MST_TYPE_F16, MST_TYPE_F16, MST_TYPE_F16};

static int test_absent(void)
{
    /* On a machine with a real driver, the loader finds it despite LD_LIBRARY_PATH (ld.so.cache): nothing
     * to test there. */
    void *real = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (real) {
        printf("skipped: a real libcuda.so.1 is installed (ld.so.cache finds it)\n");
        dlclose(real);
        return SKIP;
    }
    const char *parts[] = {"libcuda.so.1", "install the NVIDIA driver", "no CUDA toolkit is needed", NULL};
    expect_unusable("no driver", parts, NULL);

    /* a CUDA model says the same, and nothing else happens */
    mst_model_config cfg = tiny_config();
    test_model tm;
    tm_build(&tm, 1, &cfg, all_f16, 0);
    mst_model_params p;
    mst_model_params_default(&p);
    p.backend = MST_BACKEND_CUDA;
    mst_model *m = NULL;
    expect_failure("mst_model_create_with(CUDA)", mst_model_create_with(&tm.cfg, tm.desc, tm.n_desc, &p, &m),
                   MST_ERR_DEVICE, parts);
    CHECK(m == NULL, "a model came back");
    tm_free(&tm);

    /* the emulator needs no driver */
    mst_backend_info info;
    CHECK(query_cuda(MST_BACKEND_EMULATE, &info) == MST_OK && info.available == 1 &&
              info.emulated == 1 && info.reason[0] == 0,
          "emulated query: available %d emulated %d reason %s (%s)", info.available, info.emulated, info.reason,
          mst_last_error());
    return finish("absent");
}

/* The cases where the fake (set up by driver_tests.cmake's FAKE_CUDA_* environment) cannot be used at all:
 * the driver, the device layer and the backend query must each say why. */
typedef struct {
    const char *name;      /* the command-line case, and the name finish() prints */
    const char *what;      /* the label of the printed checks */
    int needs_ptx;         /* the failure is the PTX load: skipped in a build that embeds none */
    const char *parts[6];  /* in every message; NULL-terminated */
    const char *reason[3]; /* in the query's 255-character reason where parts would not fit; {NULL}: parts */
} unusable_case;

static const unusable_case unusable_cases[] = {
    /* FAKE_CUDA_INIT_ERROR=100 */
    {"no_device", "cuInit without a GPU", 0,
     {"cuInit", "CUDA_ERROR_NO_DEVICE", "no CUDA-capable device is detected", "nvidia-smi", NULL}, {NULL}},
    /* FAKE_CUDA_DEVICES=0 */
    {"zero_devices", "zero devices", 0, {"reports no CUDA device", "CUDA 12.4", "CUDA_VISIBLE_DEVICES", NULL}, {NULL}},
    /* FAKE_CUDA_INIT_ERROR=803 */
    {"init_failure", "cuInit failure", 0,
     {"cuInit: CUDA_ERROR_SYSTEM_DRIVER_MISMATCH", "system has unsupported display driver / cuda driver combination",
      "reinstall the driver", NULL},
     {NULL}},
    /* FAKE_CUDA_DRIVER_VERSION=10020 */
    {"old_driver", "old driver", 0, {"supports CUDA 10.2", "11.0 or newer", "update the NVIDIA driver", NULL}, {NULL}},
    /* FAKE_CUDA_JIT_ERROR=1 */
    {"ptx_rejected", "PTX rejected", 1,
     {"cuModuleLoadDataEx(", "CUDA_ERROR_UNSUPPORTED_PTX_VERSION", "Unsupported .version 7.0; current version is '6.4'",
      "update the NVIDIA driver (this library's PTX needs a driver for CUDA 11.0 or newer)", NULL},
     {"CUDA_ERROR_UNSUPPORTED_PTX_VERSION", "update the NVIDIA driver", NULL}},
    /* FAKE_CUDA_CC=7.5 */
    {"old_gpu", "old GPU", 0, {"CUDA device 0 (Fake GPU 0)", "compute capability 7.5", "8.0 or newer", NULL}, {NULL}},
};

static int test_unusable(const unusable_case *c)
{
    if (c->needs_ptx && mst_ptx_module_count == 0) {
        printf("skipped: this build embeds no PTX\n");
        return SKIP;
    }
    expect_unusable(c->what, c->parts, c->reason[0] ? c->reason : NULL);
    return finish(c->name);
}

/* the first kernel name in the embedded PTX: ".entry <name>(" */
static int first_entry(char *name, size_t cap)
{
    for (uint32_t m = 0; m < (uint32_t)mst_ptx_module_count; m++) {
        const char *p = strstr(mst_ptx_modules[m].ptx, ".entry ");
        if (!p)
            continue;
        p += 7;
        size_t n = strcspn(p, "( \n");
        if (n == 0 || n >= cap)
            continue;
        memcpy(name, p, n);
        name[n] = '\0';
        return 1;
    }
    return 0;
}

static int test_fake_device(void)
{
    if (mst_ptx_module_count == 0) {
        mst_drv *d = NULL;
        const char *parts[] = {"without a PTX compiler", "clang-19", NULL};
        expect_failure("open without PTX", mst_drv_open(0, &d), MST_ERR_DEVICE, parts);
        return g_failures ? finish("fake_device") : SKIP;
    }
    void *fake = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL); /* the same library driver_load.c loads */
    long (*launches)(void) = fake ? (long (*)(void))dlsym(fake, "fake_cuda_launch_count") : NULL;
    int (*set_current)(void *) = fake ? (int (*)(void *))dlsym(fake, "cuCtxSetCurrent") : NULL;
    int (*get_current)(void **) = fake ? (int (*)(void **))dlsym(fake, "cuCtxGetCurrent") : NULL;
    if (!launches || !set_current || !get_current) {
        printf("FAIL: the fake libcuda.so.1 is not the one loaded (LD_LIBRARY_PATH)\n");
        return 1;
    }

    mst_drv *d = NULL;
    CHECK(mst_drv_open(0, &d) == MST_OK, "open: %s", mst_last_error());
    if (!d)
        return finish("fake_device");
    mst_dev_desc desc;
    CHECK(mst_drv_describe(d, &desc) == MST_OK, "describe: %s", mst_last_error());
    CHECK(strcmp(desc.name, "Fake GPU 0") == 0 && desc.compute_major == 8 && desc.compute_minor == 6 &&
              desc.driver_version == 12040 && desc.multiprocessors == 84 && desc.total_memory == (24576ull << 20) &&
              desc.free_memory == (20000ull << 20) && !desc.emulated,
          "describe: %s cc %d.%d driver %d sms %d total %llu free %llu", desc.name, desc.compute_major,
          desc.compute_minor, desc.driver_version, desc.multiprocessors, (unsigned long long)desc.total_memory,
          (unsigned long long)desc.free_memory);

    /* memory: upload, device copy, memset, download */
    uint32_t host[64], back[64];
    for (int i = 0; i < 64; i++)
        host[i] = 0x1000u + (uint32_t)i;
    mst_dptr a = 0, b = 0;
    CHECK(mst_drv_alloc(d, sizeof host, &a) == MST_OK && a, "alloc: %s", mst_last_error());
    CHECK(mst_drv_alloc(d, sizeof host, &b) == MST_OK && b, "alloc: %s", mst_last_error());
    CHECK(mst_drv_upload(d, a, host, sizeof host) == MST_OK, "upload: %s", mst_last_error());
    CHECK(mst_drv_copy(d, b, a, sizeof host) == MST_OK, "copy: %s", mst_last_error());
    CHECK(mst_drv_memset32(d, b + 8 * 4, 0xdeadbeefu, 4) == MST_OK, "memset32: %s", mst_last_error());
    CHECK(mst_drv_download(d, back, b, sizeof back) == MST_OK, "download: %s", mst_last_error());
    int same = 1;
    for (int i = 0; i < 64; i++)
        same &= back[i] == (i >= 8 && i < 12 ? 0xdeadbeefu : host[i]);
    CHECK(same, "upload/copy/memset/download round trip differs");
    CHECK(mst_drv_sync(d) == MST_OK, "sync: %s", mst_last_error());

    /* a kernel of the embedded PTX is found (once: the second launch uses the cache), an unknown one is not */
    char name[128];
    CHECK(first_entry(name, sizeof name), "no .entry in the embedded PTX");
    mst_kernel_ref k = {name, NULL, 0, NULL}, missing = {"mst_no_such_kernel", NULL, 0, NULL};
    uint64_t arg = 0;
    void *args[1] = {&arg};
    const mst_dim3 one = {1, 1, 1}, block = {32, 1, 1};
    const long before = launches();
    CHECK(mst_drv_launch(d, &k, one, block, 0, args) == MST_OK, "launch %s: %s", name, mst_last_error());
    CHECK(mst_drv_launch(d, &k, one, block, 64 * 1024, args) == MST_OK, "launch %s with 64 KiB shared: %s", name,
          mst_last_error());
    CHECK(launches() == before + 2, "%ld launches reached the driver, expected 2", launches() - before);
    const char *p_missing[] = {"mst_no_such_kernel", "none of the", "PTX modules", NULL};
    expect_failure("unknown kernel", mst_drv_launch(d, &missing, one, block, 0, args), MST_ERR_INTERNAL, p_missing);
    const mst_dim3 huge = {2048, 1, 1};
    const char *p_launch[] = {"cuLaunchKernel(", name, "block 2048x1x1", "CUDA_ERROR_INVALID_VALUE", NULL};
    expect_failure("bad launch", mst_drv_launch(d, &k, one, huge, 0, args), MST_ERR_DEVICE, p_launch);

    /* a thread with another context current keeps it: ours is pushed for the call and popped after */
    int other_ctx;
    set_current(&other_ctx);
    CHECK(mst_drv_upload(d, a, host, 4) == MST_OK, "upload with another context current: %s", mst_last_error());
    void *cur = NULL;
    get_current(&cur);
    CHECK(cur == &other_ctx, "the caller's current context was replaced");
    set_current(NULL);

    /* a second device that does not exist */
    mst_drv *d2 = NULL;
    const char *p_ord[] = {"CUDA device 1 does not exist", "1 device", NULL};
    expect_failure("ordinal 1 of 1", mst_drv_open(1, &d2), MST_ERR_DEVICE, p_ord);

    /* allocation failure (FAKE_CUDA_ALLOC_LIMIT_MIB=64) */
    mst_dptr big = 0;
    const char *p_oom[] = {"cuMemAlloc", "CUDA_ERROR_OUT_OF_MEMORY", "100000000 bytes", NULL};
    expect_failure("alloc beyond the limit", mst_drv_alloc(d, 100000000, &big), MST_ERR_OUT_OF_MEMORY, p_oom);
    CHECK(big == 0, "a failed allocation returned an address");

    mst_drv_free(d, a);
    mst_drv_free(d, b);
    mst_drv_close(d);

    /* the probe: device 0, cached */
    int count = 0;
    CHECK(mst_drv_probe(&desc, &count) == MST_OK && count == 1 && strcmp(desc.name, "Fake GPU 0") == 0,
          "probe: %s, %d device(s), %s", mst_last_error(), count, desc.name);
    mst_backend_info info;
    CHECK(query_cuda(0, &info) == MST_OK, "query: %s", mst_last_error());
    CHECK(info.available == 1 && info.emulated == 0 && info.device_count == 1 && info.compute_major == 8 &&
              info.driver_version == 12040 && strcmp(info.device_name, "Fake GPU 0") == 0 && info.reason[0] == 0,
          "query: available %d emulated %d count %d cc %d driver %d name %s reason %s", info.available, info.emulated,
          info.device_count, info.compute_major, info.driver_version, info.device_name, info.reason);
    dlclose(fake);
    return finish("fake_device");
}

static int test_no_proc_address(void)
{
    if (mst_ptx_module_count == 0)
        return SKIP;
    mst_drv *d = NULL;
    CHECK(mst_drv_open(0, &d) == MST_OK, "open without cuGetProcAddress: %s", mst_last_error());
    mst_dptr a = 0;
    CHECK(d && mst_drv_alloc(d, 256, &a) == MST_OK, "alloc: %s", mst_last_error());
    if (d) {
        mst_drv_free(d, a);
        mst_drv_close(d);
    }
    return finish("no_proc_address");
}

static void progress_cb(float f, void *user)
{
    float *last = user;
    CHECK(f >= last[0] && f <= 1.0f, "progress went from %g to %g", last[0], f);
    CHECK(last[0] < 1.0f, "progress reported after 1.0");
    last[0] = f;
    last[1] += 1.0f;
}

/* FAKE_CUDA_FREE_MIB=100: a model of ~(100 * 0.95 - 64) MiB of weights or more is refused */
static int test_model_too_big(void)
{
    if (mst_ptx_module_count == 0)
        return SKIP;
    void *fake = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    uint64_t (*allocated)(void) = fake ? (uint64_t(*)(void))dlsym(fake, "fake_cuda_allocated_bytes") : NULL;
    if (!allocated) {
        printf("FAIL: the fake libcuda.so.1 is not the one loaded (LD_LIBRARY_PATH)\n");
        return 1;
    }
    mst_model_params p;
    mst_model_params_default(&p);
    p.backend = MST_BACKEND_CUDA;
    float seen[2] = {0, 0};
    p.progress = progress_cb;
    p.progress_user_data = seen;

    /* 100 MiB free leaves 100 - 5 - 64 = 31 MiB for weights; a tied 320000 x 64 F16 embedding is 39 MiB */
    mst_model_config big = tiny_config();
    big.n_vocab = 320000;
    test_model tm;
    tm_build(&tm, 3, &big, all_f16, 1);
    const uint64_t before = allocated();
    mst_model *m = NULL;
    const char *parts[] = {"the weights need", "of device memory after conversion", "device 0 (Fake GPU 0)",
                           "100.0 MiB free of 24.00 GiB", NULL};
    expect_failure("weights over the free memory", mst_model_create_with(&tm.cfg, tm.desc, tm.n_desc, &p, &m),
                   MST_ERR_OUT_OF_MEMORY, parts);
    CHECK(allocated() == before, "%llu bytes stayed allocated after a refused model",
          (unsigned long long)(allocated() - before));
    CHECK(seen[1] == 0, "progress was reported for a refused model");
    tm_free(&tm);

    /* a small one fits: progress up to 1.0, and every byte comes back at mst_model_free */
    mst_model_config cfg = tiny_config();
    tm_build(&tm, 4, &cfg, all_f16, 0);
    CHECK(mst_model_create_with(&tm.cfg, tm.desc, tm.n_desc, &p, &m) == MST_OK, "small model: %s", mst_last_error());
    CHECK(seen[0] == 1.0f && seen[1] >= 2, "progress ended at %g after %g calls", seen[0], seen[1]);
    CHECK(allocated() > before, "nothing was allocated for the model");
    if (m) {
        mst_context_params cp;
        mst_context_params_default(&cp);
        cp.n_ctx = 64, cp.n_batch = 8;
        mst_context *c = NULL;
        CHECK(mst_context_create(m, &cp, &c) == MST_OK, "context: %s", mst_last_error());
        /* a context that cannot fit: 100 MiB free, a cache of 2 layers x 1M positions x 48 f16 x 2 = 384 MiB */
        cp.n_ctx = 1u << 20;
        mst_context *c2 = NULL;
        const char *p_ctx[] = {"the context needs", "KV cache", "use a smaller n_ctx", NULL};
        expect_failure("context over the free memory", mst_context_create(m, &cp, &c2), MST_ERR_OUT_OF_MEMORY, p_ctx);
        mst_context_free(c);
        mst_model_free(m);
    }
    CHECK(allocated() == before, "%llu bytes stayed allocated after mst_model_free",
          (unsigned long long)(allocated() - before));
    tm_free(&tm);
    dlclose(fake);
    return finish("model_too_big");
}

/* An F32 mixture-of-experts model (4 experts, top 2) in tm: test_util.h's builder with the feed-forward
 * tensors stacked and a router added. */
static void build_moe(test_model *tm, uint64_t seed)
{
    mst_model_config cfg = tiny_config();
    cfg.n_expert = 4, cfg.n_expert_used = 2;
    const int32_t f32[9] = {0, 0, 0, 0, 0, 0, 0, 0, 0};
    tm_build(tm, seed, &cfg, f32, 0);
    uint64_t s = seed ^ 0x77;
    for (uint32_t i = 0; i < tm->n_desc; i++) {
        mst_tensor_desc *d = &tm->desc[i];
        if (d->role < MST_ROLE_FFN_GATE || d->role > MST_ROLE_FFN_DOWN)
            continue;
        /* the same matrix for every expert: only the shapes matter here */
        const size_t one = d->n_bytes;
        uint8_t *w = xmalloc(one * cfg.n_expert);
        for (uint32_t e = 0; e < cfg.n_expert; e++)
            memcpy(w + e * one, d->data, one);
        tm->data[tm->n_data++] = w;
        d->role += MST_ROLE_FFN_GATE_EXPS - MST_ROLE_FFN_GATE;
        d->n_dims = 3, d->ne[2] = cfg.n_expert, d->data = w, d->n_bytes = one * cfg.n_expert;
    }
    for (int32_t l = 0; l < (int32_t)cfg.n_layer; l++)
        tm_add(tm, &s, MST_ROLE_FFN_GATE_INP, l, MST_TYPE_F32, cfg.n_embd, cfg.n_expert, 0.3f, 0);
}

/* tm's CUDA model on the fake driver and a context of n_ctx 32, n_batch 4 in *m and *c (NULL where creating one
 * failed, with a failed check whose message starts with `label`). */
static void open_on_fake(const test_model *tm, const char *label, mst_model **m, mst_context **c)
{
    mst_model_params p;
    mst_model_params_default(&p);
    p.backend = MST_BACKEND_CUDA;
    *m = NULL, *c = NULL;
    CHECK(mst_model_create_with(&tm->cfg, tm->desc, tm->n_desc, &p, m) == MST_OK, "%smodel: %s", label,
          mst_last_error());
    mst_context_params cp;
    mst_context_params_default(&cp);
    cp.n_ctx = 32, cp.n_batch = 4;
    CHECK(*m && mst_context_create(*m, &cp, c) == MST_OK, "%scontext: %s", label, mst_last_error());
}

/* Frees what open_on_fake made and the weights. */
static void close_on_fake(test_model *tm, mst_model *m, mst_context *c)
{
    if (c)
        mst_context_free(c);
    if (m)
        mst_model_free(m);
    tm_free(tm);
}

/* A kernel fault (seen at the next synchronization) fails the pass: mst_decode says which backend, which
 * tokens, the op and the driver's error, and the context stays where it was. */
static int test_pass_failure(void)
{
    if (mst_ptx_module_count == 0)
        return SKIP;
    void *fake = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    void (*fail_syncs)(int) = fake ? (void (*)(int))dlsym(fake, "fake_cuda_fail_syncs") : NULL;
    if (!fail_syncs) {
        printf("FAIL: the fake libcuda.so.1 is not the one loaded (LD_LIBRARY_PATH)\n");
        return 1;
    }
    mst_model_config cfg = tiny_config();
    test_model tm;
    tm_build(&tm, 5, &cfg, all_f16, 0);
    mst_model *m;
    mst_context *c;
    open_on_fake(&tm, "", &m, &c);
    if (c) {
        const int32_t tokens[3] = {1, 2, 3};
        float *logits = xmalloc((size_t)cfg.n_vocab * 4);
        CHECK(mst_decode(c, tokens, 2, 0, logits, cfg.n_vocab) == MST_OK, "decode on the fake: %s", mst_last_error());
        fail_syncs(700); /* CUDA_ERROR_ILLEGAL_ADDRESS */
        const char *parts[] = {"mst_decode: the cuda backend failed on tokens 0..0 of 1 (positions 2..2",
                               /* the first wait of the pass: the logits' download (the output layer's input
                                * check is a kernel whose answer comes back with them) */
                               "CUDA end (logits download)", "cuStreamSynchronize",
                               "CUDA_ERROR_ILLEGAL_ADDRESS (an illegal memory access was encountered)",
                               "restart the process", NULL};
        expect_failure("kernel fault", mst_decode(c, tokens + 2, 1, 0, logits, cfg.n_vocab), MST_ERR_DEVICE, parts);
        uint32_t pos = 0;
        mst_context_position(c, &pos);
        CHECK(pos == 2, "the failed decode moved the position to %u", pos);
        fail_syncs(0);
        free(logits);
    }
    close_on_fake(&tm, m, c);

    /* a mixture of experts fails at the routing, the first wait of its pass; the routing forward.c reads after
     * the failure stays in bounds (ASan would see a group overflow) */
    build_moe(&tm, 6);
    open_on_fake(&tm, "MoE ", &m, &c);
    if (c) {
        const int32_t tokens[4] = {1, 2, 3, 4};
        float *logits = xmalloc((size_t)cfg.n_vocab * 4);
        fail_syncs(700);
        const char *parts[] = {"tokens 0..3 of 4", "CUDA moe_gate", "CUDA_ERROR_ILLEGAL_ADDRESS", NULL};
        expect_failure("kernel fault, MoE", mst_decode(c, tokens, 4, 0, logits, cfg.n_vocab), MST_ERR_DEVICE, parts);
        fail_syncs(0);
        free(logits);
    }
    close_on_fake(&tm, m, c);
    dlclose(fake);
    return finish("pass_failure");
}

/* A dense tiny model on the fake driver; decodes `steps` single tokens after a 2-token prompt, all MST_OK. */
static void decode_steps(int steps)
{
    mst_model_config cfg = tiny_config();
    test_model tm;
    tm_build(&tm, 5, &cfg, all_f16, 0);
    mst_model *m;
    mst_context *c;
    open_on_fake(&tm, "", &m, &c);
    if (c) {
        const int32_t tokens[2] = {1, 2};
        float *logits = xmalloc((size_t)cfg.n_vocab * 4);
        CHECK(mst_decode(c, tokens, 2, 0, logits, cfg.n_vocab) == MST_OK, "prefill on the fake: %s", mst_last_error());
        for (int i = 0; i < steps; i++)
            CHECK(mst_decode(c, tokens + i % 2, 1, 0, logits, cfg.n_vocab) == MST_OK, "decode step %d on the fake: %s",
                  i, mst_last_error());
        free(logits);
    }
    close_on_fake(&tm, m, c);
}

static int test_graphs(int available)
{
    const char *name_ = available ? "graphs" : "no_graphs";
    if (mst_ptx_module_count == 0)
        return SKIP;
    void *fake = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    long (*launches)(void) = fake ? (long (*)(void))dlsym(fake, "fake_cuda_launch_count") : NULL;
    long (*graph_launches)(void) = fake ? (long (*)(void))dlsym(fake, "fake_cuda_graph_launch_count") : NULL;
    if (!launches || !graph_launches) {
        printf("FAIL: the fake libcuda.so.1 is not the one loaded (LD_LIBRARY_PATH)\n");
        return 1;
    }
    mst_dev *d = NULL;
    CHECK(mst_dev_open(0, 0, &d) == MST_OK, "open: %s", mst_last_error());
    if (!d)
        return finish(name_);
    CHECK(mst_dev_graphs_supported(d) == available, "graphs supported: %d, expected %d", mst_dev_graphs_supported(d),
          available);
    if (available) {
        char name[128];
        CHECK(first_entry(name, sizeof name), "no .entry in the embedded PTX");
        mst_kernel_ref k = {name, NULL, 0, NULL};
        uint64_t arg = 0;
        void *args[1] = {&arg};
        const mst_dim3 one = {1, 1, 1}, block = {32, 1, 1};
        mst_dptr a = 0;
        uint32_t host[4] = {0};
        CHECK(mst_dev_alloc(d, sizeof host, &a) == MST_OK, "alloc: %s", mst_last_error());

        /* an upload inside a capture is refused, and the capture with it */
        const long l0 = launches();
        CHECK(mst_dev_capture_begin(d) == MST_OK, "capture begin: %s", mst_last_error());
        CHECK(mst_dev_launch(d, &k, one, block, 0, args) == MST_OK, "captured launch: %s", mst_last_error());
        const char *p_up[] = {"mst_dev_upload", "graph capture", NULL};
        expect_failure("upload during capture", mst_dev_upload(d, a, host, sizeof host), MST_ERR_INTERNAL, p_up);
        mst_dev_graph *g = NULL;
        const char *p_end[] = {"graph capture failed", "mst_dev_upload", NULL};
        expect_failure("capture with a refused upload", mst_dev_capture_end(d, &g), MST_ERR_INTERNAL, p_end);
        CHECK(g == NULL, "a failed capture returned a graph");
        CHECK(launches() == l0, "a captured launch ran (%ld launches)", launches() - l0);

        /* a clean capture of two launches: nothing runs until the graph does, then both, each time */
        CHECK(mst_dev_capture_begin(d) == MST_OK, "capture begin: %s", mst_last_error());
        CHECK(mst_dev_launch(d, &k, one, block, 0, args) == MST_OK, "captured launch: %s", mst_last_error());
        CHECK(mst_dev_launch(d, &k, one, block, 0, args) == MST_OK, "captured launch: %s", mst_last_error());
        CHECK(mst_dev_capture_end(d, &g) == MST_OK && g, "capture end: %s", mst_last_error());
        CHECK(launches() == l0, "captured launches ran before the graph (%ld)", launches() - l0);
        CHECK(g && mst_dev_graph_launch(d, g) == MST_OK && mst_dev_graph_launch(d, g) == MST_OK, "graph launch: %s",
              mst_last_error());
        CHECK(launches() == l0 + 4, "two graph launches ran %ld kernels, expected 4", launches() - l0);
        CHECK(mst_dev_sync(d) == MST_OK, "sync after the graph: %s", mst_last_error());
        mst_dev_graph_free(d, g);
        mst_dev_free(d, a);
    }
    mst_dev_close(d);

    /* decode: the first single-token step is recorded and launched, the next two replay it */
    const long g0 = graph_launches();
    decode_steps(3);
    CHECK(graph_launches() - g0 == (available ? 3 : 0), "%ld graph launches in 3 decode steps, expected %d",
          graph_launches() - g0, available ? 3 : 0);
    dlclose(fake);
    return finish(name_);
}

int main(int argc, char **argv)
{
    unsetenv("MISTRAL_CUDA_EMULATE"); /* these cases are about the driver */
    const char *which = argc > 1 ? argv[1] : "";
    if (strcmp(which, "absent") == 0)
        return test_absent();
    for (size_t i = 0; i < sizeof unusable_cases / sizeof unusable_cases[0]; i++)
        if (strcmp(which, unusable_cases[i].name) == 0)
            return test_unusable(&unusable_cases[i]);
    if (strcmp(which, "fake_device") == 0)
        return test_fake_device();
    if (strcmp(which, "no_proc_address") == 0)
        return test_no_proc_address();
    if (strcmp(which, "model_too_big") == 0)
        return test_model_too_big();
    if (strcmp(which, "pass_failure") == 0)
        return test_pass_failure();
    if (strcmp(which, "graphs") == 0 || strcmp(which, "no_graphs") == 0)
        return test_graphs(strcmp(which, "graphs") == 0);
    printf("usage: test_cuda_driver absent|no_device|zero_devices|init_failure|old_driver|ptx_rejected|old_gpu|"
           "fake_device|no_proc_address|model_too_big|pass_failure|graphs|no_graphs\n");
    return 2;
}
