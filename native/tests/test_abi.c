/* test_abi.c — the ABI's contract, through the shared library's exports only.
 *   layout:   mst_struct_layout matches this compiler's sizeof/offsetof, field by field;
 *   errors:   bad arguments give the documented status and a message, never a crash;
 *   backends: mst_model_create_with's params checks, mst_model_backend, mst_backend_query. */
#include <stddef.h>

#include "test_util.h"

#define EXPECT(call, status)                                                                                \
    do {                                                                                                    \
        mst_status st_ = (call);                                                                            \
        CHECK(st_ == (status), "%s returned %s, expected %s (%s)", #call, mst_status_to_string(st_),         \
              mst_status_to_string(status), mst_last_error());                                              \
        if ((status) != MST_OK)                                                                             \
            CHECK(mst_last_error()[0] != '\0', "%s left no error message", #call);                           \
    } while (0)

static void check_layout(int32_t id, const size_t *offs, size_t n, size_t size)
{
    uint64_t v = 0;
    EXPECT(mst_struct_layout(id, UINT32_MAX, &v), MST_OK);
    CHECK(v == size, "struct %d: size %llu, expected %zu", id, (unsigned long long)v, size);
    for (size_t i = 0; i < n; i++) {
        EXPECT(mst_struct_layout(id, (uint32_t)i, &v), MST_OK);
        CHECK(v == offs[i], "struct %d field %zu: offset %llu, expected %zu", id, i, (unsigned long long)v, offs[i]);
    }
    EXPECT(mst_struct_layout(id, (uint32_t)n, &v), MST_ERR_INVALID_ARGUMENT);
}

static void test_layout(void)
{
    CHECK(mst_abi_version() == MST_ABI_VERSION, "abi version %u vs header %d", mst_abi_version(), MST_ABI_VERSION);
    const size_t cfg[] = {
        offsetof(mst_model_config, struct_size), offsetof(mst_model_config, n_vocab),
        offsetof(mst_model_config, n_embd), offsetof(mst_model_config, n_layer),
        offsetof(mst_model_config, n_head), offsetof(mst_model_config, n_head_kv),
        offsetof(mst_model_config, head_dim), offsetof(mst_model_config, n_ff),
        offsetof(mst_model_config, n_ctx_train), offsetof(mst_model_config, sliding_window),
        offsetof(mst_model_config, rope_freq_base), offsetof(mst_model_config, rms_norm_eps),
        offsetof(mst_model_config, n_expert), offsetof(mst_model_config, n_expert_used),
        offsetof(mst_model_config, layer_windows)};
    const size_t td[] = {
        offsetof(mst_tensor_desc, struct_size), offsetof(mst_tensor_desc, role), offsetof(mst_tensor_desc, layer),
        offsetof(mst_tensor_desc, type), offsetof(mst_tensor_desc, n_dims), offsetof(mst_tensor_desc, flags),
        offsetof(mst_tensor_desc, ne), offsetof(mst_tensor_desc, data), offsetof(mst_tensor_desc, n_bytes)};
    const size_t cp[] = {offsetof(mst_context_params, struct_size), offsetof(mst_context_params, n_ctx),
                         offsetof(mst_context_params, n_threads), offsetof(mst_context_params, n_batch),
                         offsetof(mst_context_params, flags), offsetof(mst_context_params, kv_type)};
    check_layout(MST_STRUCT_MODEL_CONFIG, cfg, 15, sizeof(mst_model_config));
    check_layout(MST_STRUCT_TENSOR_DESC, td, 9, sizeof(mst_tensor_desc));
    check_layout(MST_STRUCT_CONTEXT_PARAMS, cp, 6, sizeof(mst_context_params));
    const size_t mp[] = {offsetof(mst_model_params, struct_size), offsetof(mst_model_params, backend),
                         offsetof(mst_model_params, device), offsetof(mst_model_params, flags),
                         offsetof(mst_model_params, progress), offsetof(mst_model_params, progress_user_data)};
    const size_t bi[] = {
        offsetof(mst_backend_info, struct_size), offsetof(mst_backend_info, backend),
        offsetof(mst_backend_info, available), offsetof(mst_backend_info, emulated),
        offsetof(mst_backend_info, device_count), offsetof(mst_backend_info, compute_major),
        offsetof(mst_backend_info, compute_minor), offsetof(mst_backend_info, driver_version),
        offsetof(mst_backend_info, total_memory), offsetof(mst_backend_info, free_memory),
        offsetof(mst_backend_info, device_name), offsetof(mst_backend_info, reason)};
    check_layout(MST_STRUCT_MODEL_PARAMS, mp, 6, sizeof(mst_model_params));
    check_layout(MST_STRUCT_BACKEND_INFO, bi, 12, sizeof(mst_backend_info));
    const size_t me[] = {
        offsetof(mst_memory_estimate, struct_size), offsetof(mst_memory_estimate, reserved),
        offsetof(mst_memory_estimate, weights_mapped), offsetof(mst_memory_estimate, weights_owned),
        offsetof(mst_memory_estimate, kv_cache), offsetof(mst_memory_estimate, scratch),
        offsetof(mst_memory_estimate, device)};
    check_layout(MST_STRUCT_MEMORY_ESTIMATE, me, 7, sizeof(mst_memory_estimate));
    uint64_t v;
    EXPECT(mst_struct_layout(MST_STRUCT_MEMORY_ESTIMATE + 1, 0, &v), MST_ERR_INVALID_ARGUMENT);
    EXPECT(mst_struct_layout(-1, UINT32_MAX, &v), MST_ERR_INVALID_ARGUMENT);
    EXPECT(mst_struct_layout(0, 0, NULL), MST_ERR_INVALID_ARGUMENT);
}

/* Builds the tiny model after applying `edit` to its descriptors; returns the status. */
static mst_status create_edited(void (*edit)(test_model *), mst_model_config cfg)
{
    static const int32_t types[9] = {MST_TYPE_F32, MST_TYPE_F32, MST_TYPE_F32, MST_TYPE_F32, MST_TYPE_F32,
                                     MST_TYPE_F32, MST_TYPE_F32, MST_TYPE_F32, MST_TYPE_F32};
    test_model tm;
    tm_build(&tm, 1, &cfg, types, 0);
    if (edit)
        edit(&tm);
    mst_model *m = NULL;
    mst_status st = mst_model_create(&tm.cfg, tm.desc, tm.n_desc, &m);
    if (st == MST_OK)
        mst_model_free(m);
    else
        CHECK(m == NULL, "failed create left a model behind");
    tm_free(&tm);
    return st;
}

static void drop_q_layer1(test_model *tm)
{
    for (uint32_t i = 0; i < tm->n_desc; i++)
        if (tm->desc[i].role == MST_ROLE_ATTN_Q && tm->desc[i].layer == 1)
            tm->desc[i] = tm->desc[--tm->n_desc];
}
static void dup_ffn_up(test_model *tm)
{
    for (uint32_t i = 0; i < tm->n_desc; i++)
        if (tm->desc[i].role == MST_ROLE_FFN_UP && tm->desc[i].layer == 0) {
            tm->desc[tm->n_desc++] = tm->desc[i];
            return;
        }
}
static void wrong_shape(test_model *tm) { tm->desc[3].ne[1] += 1; }
static void wrong_bytes(test_model *tm) { tm->desc[3].n_bytes -= 4; }
static void wrong_type(test_model *tm) { tm->desc[3].type = 3; /* Q4_1 */ }
static void global_with_layer(test_model *tm) { tm->desc[0].layer = 0; }
static void layer_out_of_range(test_model *tm) { tm->desc[4].layer = 2; }
static void bad_role(test_model *tm) { tm->desc[4].role = 12; }
static void bad_struct_size(test_model *tm) { tm->desc[5].struct_size = 8; }
static void null_data(test_model *tm) { tm->desc[5].data = NULL; }
static void bad_dims(test_model *tm) { tm->desc[5].n_dims = 5; }
static void unknown_flag(test_model *tm) { tm->desc[5].flags = 2; }
static void extra_dim(test_model *tm) { tm->desc[5].ne[2] = 2; }
static void transposed(test_model *tm)
{
    for (uint32_t i = 0; i < tm->n_desc; i++)
        if (tm->desc[i].role == MST_ROLE_FFN_DOWN) {
            int64_t t = tm->desc[i].ne[0];
            tm->desc[i].ne[0] = tm->desc[i].ne[1];
            tm->desc[i].ne[1] = t;
        }
}
static void quant_misfit(test_model *tm)
{
    /* Q8_0 output with n_bytes for F32 */
    tm->desc[2].type = MST_TYPE_Q8_0;
}

static void count_progress(float fraction, void *user_data)
{
    float *last = user_data;
    CHECK(fraction >= *last && fraction <= 1.0f, "progress went from %g to %g", *last, fraction);
    *last = fraction;
}

/* mst_model_create_with, mst_model_backend, mst_model_params_default and mst_backend_query. */
static void test_backends(void)
{
    CHECK(strcmp(mst_status_to_string(MST_ERR_DEVICE), "device error") == 0, "MST_ERR_DEVICE string");
    EXPECT(mst_model_params_default(NULL), MST_ERR_INVALID_ARGUMENT);
    mst_model_params mp;
    EXPECT(mst_model_params_default(&mp), MST_OK);
    CHECK(mp.struct_size == sizeof mp && mp.backend == MST_BACKEND_CPU && mp.device == 0 && mp.flags == 0 &&
              mp.progress == NULL,
          "default model params");

    mst_model_config cfg = tiny_config();
    static const int32_t types[9] = {MST_TYPE_Q8_0, MST_TYPE_Q4_0, MST_TYPE_F32, MST_TYPE_F32, MST_TYPE_F32,
                                     MST_TYPE_F32,  MST_TYPE_F32,  MST_TYPE_F32, MST_TYPE_F32};
    test_model tm;
    tm_build(&tm, 3, &cfg, types, 0);
    mst_model *m = (mst_model *)&tm; /* not NULL: a failed create must reset it */
    mst_model_params bad = mp;
    bad.struct_size = sizeof mp - 8;
    EXPECT(mst_model_create_with(&tm.cfg, tm.desc, tm.n_desc, &bad, &m), MST_ERR_ABI_MISMATCH);
    CHECK(m == NULL, "failed create_with left a model behind");
    bad = mp, bad.backend = 7;
    EXPECT(mst_model_create_with(&tm.cfg, tm.desc, tm.n_desc, &bad, &m), MST_ERR_INVALID_ARGUMENT);
    CHECK(strstr(mst_last_error(), "7") != NULL, "message names the backend: %s", mst_last_error());
    bad = mp, bad.flags = 0x80;
    EXPECT(mst_model_create_with(&tm.cfg, tm.desc, tm.n_desc, &bad, &m), MST_ERR_INVALID_ARGUMENT);
    EXPECT(mst_model_create_with(&tm.cfg, tm.desc, tm.n_desc, &mp, NULL), MST_ERR_INVALID_ARGUMENT);

    /* NULL params is the CPU; so are the defaults, with progress reported once, 1 at the end */
    EXPECT(mst_model_create_with(&tm.cfg, tm.desc, tm.n_desc, NULL, &m), MST_OK);
    int32_t kind = -1;
    EXPECT(mst_model_backend(m, &kind), MST_OK);
    CHECK(kind == MST_BACKEND_CPU, "mst_model_backend says %d for a CPU model", (int)kind);
    EXPECT(mst_model_backend(m, NULL), MST_ERR_INVALID_ARGUMENT);
    EXPECT(mst_model_backend(NULL, &kind), MST_ERR_INVALID_ARGUMENT);
    EXPECT(mst_model_free(m), MST_OK);
    float last = 0.0f;
    mp.progress = count_progress, mp.progress_user_data = &last;
    EXPECT(mst_model_create_with(&tm.cfg, tm.desc, tm.n_desc, &mp, &m), MST_OK);
    CHECK(last == 1.0f, "progress ended at %g, not 1", last);
    kind = -1;
    EXPECT(mst_model_backend(m, &kind), MST_OK);
    CHECK(kind == MST_BACKEND_CPU, "mst_model_backend says %d for a CPU model", (int)kind);
    EXPECT(mst_model_free(m), MST_OK);
    /* CUDA: a model where a GPU (or the emulator, by MISTRAL_CUDA_EMULATE) is there, else MST_ERR_DEVICE with why */
    mp = (mst_model_params){.struct_size = sizeof mp, .backend = MST_BACKEND_CUDA};
    mst_status st = mst_model_create_with(&tm.cfg, tm.desc, tm.n_desc, &mp, &m);
    CHECK(st == MST_OK || (st == MST_ERR_DEVICE && m == NULL && mst_last_error()[0] != '\0'),
          "CUDA create_with gave %s: %s", mst_status_to_string(st), mst_last_error());
    if (st == MST_OK) {
        EXPECT(mst_model_backend(m, &kind), MST_OK);
        CHECK(kind == MST_BACKEND_CUDA, "mst_model_backend says %d for a CUDA model", (int)kind);
        EXPECT(mst_model_free(m), MST_OK);
    } else {
        printf("CUDA backend: %s\n", mst_last_error());
    }
    mp.device = -1;
    EXPECT(mst_model_create_with(&tm.cfg, tm.desc, tm.n_desc, &mp, &m), MST_ERR_INVALID_ARGUMENT);
    tm_free(&tm);

    mst_backend_info info;
    memset(&info, 0x5a, sizeof info);
    info.struct_size = sizeof info;
    EXPECT(mst_backend_query(MST_BACKEND_CPU, 0, &info), MST_OK);
    CHECK(info.struct_size == sizeof info && info.backend == MST_BACKEND_CPU && info.available == 1 &&
              info.device_count == 1 && info.emulated == 0,
          "CPU query: struct_size %u backend %d available %d devices %d emulated %d", info.struct_size,
          (int)info.backend, (int)info.available, (int)info.device_count, (int)info.emulated);
    CHECK(info.device_name[0] != '\0' && memchr(info.device_name, 0, sizeof info.device_name) != NULL,
          "CPU query: no device name");
    CHECK(info.reason[0] == '\0', "CPU query: a reason although available: %s", info.reason);
    CHECK(info.total_memory > 0 && info.free_memory <= info.total_memory, "CPU query: memory %llu of %llu free",
          (unsigned long long)info.free_memory, (unsigned long long)info.total_memory);
    printf("CPU backend: %s, %.1f of %.1f GiB available\n", info.device_name, info.free_memory / 1073741824.0,
           info.total_memory / 1073741824.0);
    /* CUDA answers whether or not it can run here: available 0 comes with a reason */
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    EXPECT(mst_backend_query(MST_BACKEND_CUDA, 0, &info), MST_OK);
    CHECK(info.backend == MST_BACKEND_CUDA && (info.available == 1 || info.reason[0] != '\0'),
          "CUDA query: unavailable without a reason");
    info.struct_size = 8;
    EXPECT(mst_backend_query(MST_BACKEND_CPU, 0, &info), MST_ERR_ABI_MISMATCH);
    info.struct_size = sizeof info;
    EXPECT(mst_backend_query(7, 0, &info), MST_ERR_INVALID_ARGUMENT);
    EXPECT(mst_backend_query(MST_BACKEND_CPU, 0x80, &info), MST_ERR_INVALID_ARGUMENT);
    EXPECT(mst_backend_query(MST_BACKEND_CPU, 0, NULL), MST_ERR_INVALID_ARGUMENT);
}

static void test_errors(void)
{
    CHECK(strcmp(mst_status_to_string(MST_ERR_BUSY), "busy") == 0, "status string");
    CHECK(mst_status_to_string((mst_status)99)[0] != '\0', "unknown status string");
    uint32_t f;
    EXPECT(mst_cpu_features(&f), MST_OK);
    CHECK(mst_last_error()[0] == '\0', "success leaves an error message");
#if defined(__aarch64__) /* NEON is base AArch64; i8mm CPUs all have dotprod; no x86 bit on ARM */
    CHECK((f & MST_CPU_NEON) && (!(f & MST_CPU_ARM_I8MM) || (f & MST_CPU_ARM_DOTPROD)) && !(f & MST_CPU_AVX2),
          "arm64 features %#x", (unsigned)f);
#elif defined(__x86_64__)
    CHECK(!(f & (MST_CPU_NEON | MST_CPU_ARM_DOTPROD | MST_CPU_ARM_I8MM)), "ARM bits on x86-64: %#x", (unsigned)f);
#endif
    EXPECT(mst_cpu_features(NULL), MST_ERR_INVALID_ARGUMENT);
    EXPECT(mst_model_config_default(NULL), MST_ERR_INVALID_ARGUMENT);
    EXPECT(mst_context_params_default(NULL), MST_ERR_INVALID_ARGUMENT);
    mst_model_config dc;
    EXPECT(mst_model_config_default(&dc), MST_OK);
    CHECK(dc.struct_size == sizeof dc && dc.n_head % dc.n_head_kv == 0, "default config");

    mst_model_config cfg = tiny_config();
    EXPECT(create_edited(NULL, cfg), MST_OK);
    EXPECT(create_edited(drop_q_layer1, cfg), MST_ERR_INVALID_ARGUMENT);
    CHECK(strstr(mst_last_error(), "attn_q") && strstr(mst_last_error(), "1"), "missing message names role and layer: %s",
          mst_last_error());
    EXPECT(create_edited(dup_ffn_up, cfg), MST_ERR_INVALID_ARGUMENT);
    CHECK(strstr(mst_last_error(), "ffn_up") != NULL, "duplicate message names the role: %s", mst_last_error());
    EXPECT(create_edited(wrong_shape, cfg), MST_ERR_INVALID_ARGUMENT);
    EXPECT(create_edited(wrong_bytes, cfg), MST_ERR_INVALID_ARGUMENT);
    EXPECT(create_edited(wrong_type, cfg), MST_ERR_UNSUPPORTED);
    EXPECT(create_edited(global_with_layer, cfg), MST_ERR_INVALID_ARGUMENT);
    EXPECT(create_edited(layer_out_of_range, cfg), MST_ERR_INVALID_ARGUMENT);
    EXPECT(create_edited(bad_role, cfg), MST_ERR_INVALID_ARGUMENT);
    EXPECT(create_edited(bad_struct_size, cfg), MST_ERR_ABI_MISMATCH);
    EXPECT(create_edited(null_data, cfg), MST_ERR_INVALID_ARGUMENT);
    EXPECT(create_edited(bad_dims, cfg), MST_ERR_INVALID_ARGUMENT);
    EXPECT(create_edited(unknown_flag, cfg), MST_ERR_INVALID_ARGUMENT);
    EXPECT(create_edited(extra_dim, cfg), MST_ERR_INVALID_ARGUMENT);
    EXPECT(create_edited(transposed, cfg), MST_ERR_INVALID_ARGUMENT);
    EXPECT(create_edited(quant_misfit, cfg), MST_ERR_INVALID_ARGUMENT);

    mst_model_config bad = cfg;
    bad.n_head_kv = 3;
    EXPECT(mst_model_create(&bad, NULL, 0, &(mst_model *){0}), MST_ERR_INVALID_ARGUMENT);
    bad = cfg, bad.head_dim = 23;
    EXPECT(mst_model_create(&bad, NULL, 0, &(mst_model *){0}), MST_ERR_INVALID_ARGUMENT);
    bad = cfg, bad.n_layer = 0;
    EXPECT(mst_model_create(&bad, NULL, 0, &(mst_model *){0}), MST_ERR_INVALID_ARGUMENT);
    bad = cfg, bad.rope_freq_base = NAN;
    EXPECT(mst_model_create(&bad, NULL, 0, &(mst_model *){0}), MST_ERR_INVALID_ARGUMENT);
    bad = cfg, bad.struct_size = 12;
    EXPECT(mst_model_create(&bad, NULL, 0, &(mst_model *){0}), MST_ERR_ABI_MISMATCH);
    EXPECT(mst_model_create(NULL, NULL, 0, &(mst_model *){0}), MST_ERR_INVALID_ARGUMENT);
    EXPECT(mst_model_create(&cfg, NULL, 3, &(mst_model *){0}), MST_ERR_INVALID_ARGUMENT);
    EXPECT(mst_model_create(&cfg, NULL, 0, NULL), MST_ERR_INVALID_ARGUMENT);
    EXPECT(mst_model_create(&cfg, NULL, 0, &(mst_model *){0}), MST_ERR_INVALID_ARGUMENT); /* nothing given */

    /* context and decode argument checks on a real model */
    static const int32_t types[9] = {MST_TYPE_Q8_0, MST_TYPE_F32, MST_TYPE_F32, MST_TYPE_F32, MST_TYPE_F32,
                                     MST_TYPE_F32, MST_TYPE_F32, MST_TYPE_F32, MST_TYPE_F32};
    test_model tm;
    tm_build(&tm, 2, &cfg, types, 1);
    mst_model *m = NULL;
    EXPECT(mst_model_create(&tm.cfg, tm.desc, tm.n_desc, &m), MST_OK);
    mst_context_params p;
    mst_context_params_default(&p);
    p.n_ctx = 16, p.n_batch = 4, p.n_threads = 2;
    mst_context *c = NULL;
    mst_context_params bp = p;
    bp.struct_size = 4;
    EXPECT(mst_context_create(m, &bp, &c), MST_ERR_ABI_MISMATCH);
    bp = p, bp.n_ctx = 0;
    EXPECT(mst_context_create(m, &bp, &c), MST_ERR_INVALID_ARGUMENT);
    bp = p, bp.n_batch = 0;
    EXPECT(mst_context_create(m, &bp, &c), MST_ERR_INVALID_ARGUMENT);
    EXPECT(mst_context_create(NULL, &p, &c), MST_ERR_INVALID_ARGUMENT);
    EXPECT(mst_context_create(m, NULL, &c), MST_ERR_INVALID_ARGUMENT);
    EXPECT(mst_context_create(m, &p, NULL), MST_ERR_INVALID_ARGUMENT);
    bp = p, bp.n_ctx = 0x7fffffff, bp.n_batch = 0x7fffffff;
    {
        /* hundreds of GiB of cache: OUT_OF_MEMORY, unless the OS overcommits without limit */
        mst_status st = mst_context_create(m, &bp, &c);
        CHECK(st == MST_ERR_OUT_OF_MEMORY || st == MST_OK, "huge context gave %s", mst_status_to_string(st));
        if (st == MST_OK)
            mst_context_free(c);
        else
            CHECK(mst_last_error()[0] != '\0' && c == NULL, "huge context: no message, or a context left behind");
    }
    EXPECT(mst_context_create(m, &p, &c), MST_OK);

    float logits[4 * 50];
    int32_t toks[5] = {1, 2, 3, 4, 5};
    EXPECT(mst_decode(NULL, toks, 1, 0, logits, 50), MST_ERR_INVALID_ARGUMENT);
    EXPECT(mst_decode(c, NULL, 1, 0, logits, 50), MST_ERR_INVALID_ARGUMENT);
    EXPECT(mst_decode(c, toks, 0, 0, logits, 50), MST_ERR_INVALID_ARGUMENT);
    EXPECT(mst_decode(c, toks, 5, 0, logits, 50), MST_ERR_INVALID_ARGUMENT); /* > n_batch */
    EXPECT(mst_decode(c, toks, 1, 0, NULL, 50), MST_ERR_INVALID_ARGUMENT);
    EXPECT(mst_decode(c, toks, 1, 0, logits, 49), MST_ERR_INVALID_ARGUMENT);
    EXPECT(mst_decode(c, toks, 2, 1, logits, 99), MST_ERR_INVALID_ARGUMENT);
    EXPECT(mst_decode(c, toks, 2, 2, logits, 200), MST_ERR_INVALID_ARGUMENT);
    int32_t bad_tok[3] = {1, 50, 2};
    EXPECT(mst_decode(c, bad_tok, 3, 0, logits, 50), MST_ERR_INVALID_ARGUMENT);
    CHECK(strstr(mst_last_error(), "tokens[1]") && strstr(mst_last_error(), "50"), "message names index and value: %s",
          mst_last_error());
    bad_tok[1] = -1;
    EXPECT(mst_decode(c, bad_tok, 3, 0, logits, 50), MST_ERR_INVALID_ARGUMENT);
    uint32_t pos = 99;
    EXPECT(mst_context_position(c, &pos), MST_OK);
    CHECK(pos == 0, "failed decodes moved the position to %u", pos);
    EXPECT(mst_context_position(c, NULL), MST_ERR_INVALID_ARGUMENT);
    EXPECT(mst_context_truncate(c, 1), MST_ERR_INVALID_ARGUMENT);
    EXPECT(mst_context_truncate(NULL, 0), MST_ERR_INVALID_ARGUMENT);
    EXPECT(mst_context_set_threads(NULL, 1), MST_ERR_INVALID_ARGUMENT);
    EXPECT(mst_context_set_threads(c, 100000), MST_ERR_INVALID_ARGUMENT);
    EXPECT(mst_decode(c, toks, 4, 1, logits, 200), MST_OK);
    CHECK(isfinite(logits[0]) && isfinite(logits[199]), "logits are not finite");

    /* the model outlives its handle while a context holds it */
    EXPECT(mst_model_free(m), MST_OK);
    EXPECT(mst_model_free(m), MST_ERR_INVALID_ARGUMENT);
    EXPECT(mst_decode(c, toks, 1, 0, logits, 50), MST_OK);
    EXPECT(mst_context_free(c), MST_OK);
    EXPECT(mst_context_free(NULL), MST_OK);
    EXPECT(mst_model_free(NULL), MST_OK);
    tm_free(&tm);
}

int main(int argc, char **argv)
{
    const char *which = argc > 1 ? argv[1] : "all";
    if (strcmp(which, "all") == 0 || strcmp(which, "layout") == 0)
        test_layout();
    if (strcmp(which, "all") == 0 || strcmp(which, "errors") == 0)
        test_errors();
    if (strcmp(which, "all") == 0 || strcmp(which, "backends") == 0)
        test_backends();
    return finish(which);
}
