/* test_memory_estimate.c — mst_estimate_memory against what mst_model_create and mst_context_create allocate.
 *   cpu:       for dense Q4_0, F16 (F32 KV), Q4_K, tied output, MoE, a sliding window on a rolling cache: the
 *              estimate bounds the heap each create takes (glibc's mallinfo2, in use + mapped, before and after)
 *              and exceeds it by no more than the stated margin; the KV figure is the cache formula itself
 *   null_data: the same table with every data pointer NULL gives the same figures (and create still refuses it)
 *   refuses:   bad configs, tables and context params get the status create gives, with a message
 *
 * Margin. The estimate counts each allocation as its bytes rounded up to a whole page with 64 bytes of headers, and
 * the repacked weights' 2 MiB alignment in full (mst_alloc_bound): it may exceed what glibc reports by up to a page
 * per allocation (a model makes 5, a context about 20 and one per worker thread) and the unused alignment. So: model
 * within 2 MiB + 64 KiB, context within 256 KiB. Where malloc is not glibc's (ASan, valgrind), mallinfo2 cannot see
 * the allocations: the measured comparison says so and is skipped, the rest still runs. */

#include "estimate_table.h"

#define MARGIN_MODEL ((2ull << 20) + (64ull << 10))
#define MARGIN_CONTEXT (256ull << 10)

/* One model and context: the estimate against the heap each create took. */
static void measure(const char *name, const mst_model_config *cfg, int32_t type, int tied, uint32_t n_ctx, uint32_t n_batch,
                    int32_t kv_type, int measurable)
{
    table t;
    build(&t, cfg, type, tied);
    mst_context_params cp = ctx_params(n_ctx, n_batch, kv_type);
    mst_memory_estimate e = {.struct_size = sizeof e};
    mst_status st = mst_estimate_memory(&t.cfg, t.d, t.n, NULL, &cp, &e);
    CHECK(st == MST_OK, "%s: estimate failed: %s", name, mst_last_error());
    if (st != MST_OK) {
        drop(&t);
        return;
    }
    uint64_t table_bytes = 0;
    for (uint32_t i = 0; i < t.n; i++)
        table_bytes += t.d[i].n_bytes;
    CHECK(e.device == 0 && e.reserved == 0, "%s: device %llu, reserved %u on the CPU", name, (unsigned long long)e.device,
          e.reserved);
    CHECK(e.weights_mapped <= table_bytes, "%s: %llu bytes mapped of a %llu-byte table", name,
          (unsigned long long)e.weights_mapped, (unsigned long long)table_bytes);

    /* warm-up: the first create of a process sets up what every later one reuses (thread counts, dispatch) */
    mst_model *m = NULL;
    mst_context *c = NULL;
    if (mst_model_create(&t.cfg, t.d, t.n, &m) == MST_OK && mst_context_create(m, &cp, &c) == MST_OK) {
        mst_context_free(c);
        mst_model_free(m);
    }
    const uint64_t h0 = heap_in_use();
    st = mst_model_create(&t.cfg, t.d, t.n, &m);
    const uint64_t h1 = heap_in_use();
    CHECK(st == MST_OK, "%s: create failed: %s", name, mst_last_error());
    if (st == MST_OK)
        st = mst_context_create(m, &cp, &c);
    const uint64_t h2 = heap_in_use();
    CHECK(st == MST_OK, "%s: context failed: %s", name, mst_last_error());
    if (st == MST_OK) {
        /* the KV figure is the formula of mistral.h over the slots the context really has, within two allocations'
         * rounding */
        uint32_t slots = 0;
        mst_context_limits(c, &slots, NULL);
        const uint64_t kv = 2ull * cfg->n_layer * slots * cfg->n_head_kv * cfg->head_dim * (kv_type == MST_TYPE_F16 ? 2 : 4);
        const uint64_t page = test_os_page_size();
        CHECK(e.kv_cache >= kv && e.kv_cache <= kv + 2 * (page + 64), "%s: KV estimate %llu, the cache of %u slots is %llu",
              name, (unsigned long long)e.kv_cache, slots, (unsigned long long)kv);
        const uint64_t model = h1 - h0, context = h2 - h1, ctx_est = e.kv_cache + e.scratch;
        printf("%-34s estimate: owned %8.3f MiB, KV %7.3f, scratch %6.3f, mapped %7.3f | allocated: model %8.3f MiB, "
               "context %7.3f%s\n",
               name, mib(e.weights_owned), mib(e.kv_cache), mib(e.scratch), mib(e.weights_mapped), mib(model),
               mib(context), measurable ? "" : " (not measurable here)");
        if (measurable) {
            CHECK(e.weights_owned >= model && e.weights_owned - model <= MARGIN_MODEL,
                  "%s: model estimate %llu bytes, allocated %llu (margin %llu)", name,
                  (unsigned long long)e.weights_owned, (unsigned long long)model, MARGIN_MODEL);
            CHECK(ctx_est >= context && ctx_est - context <= MARGIN_CONTEXT,
                  "%s: context estimate %llu bytes, allocated %llu (margin %llu)", name, (unsigned long long)ctx_est,
                  (unsigned long long)context, MARGIN_CONTEXT);
        }
    }
    mst_context_free(c);
    mst_model_free(m);
    drop(&t);
}

static void test_cpu(void)
{
    const int measurable = heap_measurable();
    if (!measurable)
        printf("the heap cannot be measured here (ASan, valgrind, or a C library other than glibc): estimates are not compared "
               "with the heap\n");
    const mst_model_config base = base_config();
    measure("dense Q4_0, F16 KV", &base, MST_TYPE_Q4_0, 0, 1024, 64, MST_TYPE_F16, measurable);
    measure("dense F16, F32 KV", &base, MST_TYPE_F16, 0, 1024, 64, MST_TYPE_F32, measurable);
    measure("dense Q4_K, F16 KV", &base, MST_TYPE_Q4_K, 0, 2048, 128, MST_TYPE_F16, measurable);
    measure("dense Q8_0, tied output", &base, MST_TYPE_Q8_0, 1, 512, 32, MST_TYPE_F16, measurable);
    mst_model_config moe = base;
    moe.n_expert = 4, moe.n_expert_used = 2, moe.n_layer = 2;
    measure("MoE 4 experts top-2 Q4_0", &moe, MST_TYPE_Q4_0, 0, 1024, 64, MST_TYPE_F16, measurable);
    mst_model_config win = base;
    win.sliding_window = 256;
    measure("window 256, rolling (319 slots)", &win, MST_TYPE_Q4_0, 0, 4096, 64, MST_TYPE_F16, measurable);

    /* the parts scale as they should: KV doubles from F16 to F32 and with the context; scratch follows the batch */
    table t;
    build(&t, &base, MST_TYPE_Q4_0, 0);
    mst_memory_estimate a = {.struct_size = sizeof a}, b = a, c = a, d = a;
    mst_context_params p16 = ctx_params(1024, 64, MST_TYPE_F16), p32 = ctx_params(1024, 64, MST_TYPE_F32);
    mst_context_params p16x4 = ctx_params(4096, 64, MST_TYPE_F16), p16b = ctx_params(1024, 256, MST_TYPE_F16);
    CHECK(mst_estimate_memory(&t.cfg, t.d, t.n, NULL, &p16, &a) == MST_OK &&
              mst_estimate_memory(&t.cfg, t.d, t.n, NULL, &p32, &b) == MST_OK &&
              mst_estimate_memory(&t.cfg, t.d, t.n, NULL, &p16x4, &c) == MST_OK &&
              mst_estimate_memory(&t.cfg, t.d, t.n, NULL, &p16b, &d) == MST_OK,
          "estimates failed: %s", mst_last_error());
    const uint64_t kv1024 = 2ull * 4 * 1024 * 128 * 2;
    CHECK(a.kv_cache - kv1024 == (b.kv_cache - 2 * kv1024), "F32 KV %llu is not twice F16 %llu (+ rounding)",
          (unsigned long long)b.kv_cache, (unsigned long long)a.kv_cache);
    CHECK(c.kv_cache - 4 * kv1024 == a.kv_cache - kv1024, "4x the context: KV %llu, 1x %llu", (unsigned long long)c.kv_cache,
          (unsigned long long)a.kv_cache);
    CHECK(a.weights_owned == b.weights_owned && a.scratch == b.scratch && a.weights_owned == c.weights_owned,
          "the KV type or context changed the weights or scratch");
    CHECK(d.scratch > a.scratch, "4x the batch: scratch %llu, not above %llu", (unsigned long long)d.scratch,
          (unsigned long long)a.scratch);
    drop(&t);
}

/* ---- NULL data ---- */

static void test_null_data(void)
{
    const mst_model_config base = base_config();
    for (int tied = 0; tied <= 1; tied++) {
        table t;
        build(&t, &base, MST_TYPE_Q4_0, tied);
        mst_context_params cp = ctx_params(1024, 64, MST_TYPE_F16);
        mst_memory_estimate with = {.struct_size = sizeof with}, without = with;
        CHECK(mst_estimate_memory(&t.cfg, t.d, t.n, NULL, &cp, &with) == MST_OK, "estimate: %s", mst_last_error());
        for (uint32_t i = 0; i < t.n; i++)
            t.d[i].data = NULL;
        CHECK(mst_estimate_memory(&t.cfg, t.d, t.n, NULL, &cp, &without) == MST_OK, "estimate without data: %s",
              mst_last_error());
        CHECK(memcmp(&with, &without, sizeof with) == 0,
              "tied %d: figures differ without data (owned %llu vs %llu, mapped %llu vs %llu)", tied,
              (unsigned long long)with.weights_owned, (unsigned long long)without.weights_owned,
              (unsigned long long)with.weights_mapped, (unsigned long long)without.weights_mapped);
        mst_model *m = NULL;
        CHECK(mst_model_create(&t.cfg, t.d, t.n, &m) == MST_ERR_INVALID_ARGUMENT && m == NULL,
              "create accepted NULL data");
        drop(&t);
    }
}

/* ---- refused like create ---- */

/* A message without the name of the function that gave it ("mst_model_create: ..."), which is all the two may differ in. */
static const char *without_fn(const char *msg)
{
    const char *colon = strstr(msg, ": ");
    return strncmp(msg, "mst_", 4) == 0 && colon && !memchr(msg, ' ', (size_t)(colon - msg)) ? colon + 2 : msg;
}

typedef void (*edit_fn)(table *t, mst_context_params *p);
static void e_bytes(table *t, mst_context_params *p) { (void)p, t->d[5].n_bytes += 1; }
static void e_shape(table *t, mst_context_params *p) { (void)p, t->d[6].ne[1] += 1; }
static void e_missing(table *t, mst_context_params *p) { (void)p, t->d[7] = t->d[--t->n]; }
static void e_twice(table *t, mst_context_params *p) { (void)p, t->d[8].role = MST_ROLE_ATTN_NORM; }
static void e_type(table *t, mst_context_params *p) { (void)p, t->d[5].type = 1234; }
static void e_heads(table *t, mst_context_params *p) { (void)p, t->cfg.n_head_kv = 3; }
static void e_layers(table *t, mst_context_params *p) { (void)p, t->cfg.n_layer = 1000; }
static void e_desc_size(table *t, mst_context_params *p) { (void)p, t->d[3].struct_size = 8; }
static void e_n_ctx(table *t, mst_context_params *p) { (void)t, p->n_ctx = 0; }
static void e_kv_type(table *t, mst_context_params *p) { (void)t, p->kv_type = MST_TYPE_Q8_0; }
static void e_flags(table *t, mst_context_params *p) { (void)t, p->flags = 0x80; }

static void test_refuses(void)
{
    static const struct { const char *name; edit_fn edit; } cases[] = {
        {"n_bytes one too many", e_bytes}, {"a shape off by one row", e_shape}, {"a tensor missing", e_missing},
        {"a tensor given twice", e_twice}, {"an unknown type", e_type}, {"n_head_kv not dividing n_head", e_heads},
        {"n_layer beyond the table", e_layers}, {"a descriptor's struct_size", e_desc_size}, {"n_ctx 0", e_n_ctx},
        {"kv_type Q8_0", e_kv_type}, {"unknown context flags", e_flags},
    };
    const mst_model_config base = base_config();
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        table t;
        build(&t, &base, MST_TYPE_Q4_0, 0);
        mst_context_params cp = ctx_params(256, 32, MST_TYPE_F16);
        cases[i].edit(&t, &cp);
        mst_memory_estimate e = {.struct_size = sizeof e};
        const mst_status est = mst_estimate_memory(&t.cfg, t.d, t.n, NULL, &cp, &e);
        char message[512];
        snprintf(message, sizeof message, "%s", mst_last_error());
        mst_model *m = NULL;
        mst_context *c = NULL;
        mst_status made = mst_model_create(&t.cfg, t.d, t.n, &m);
        if (made == MST_OK)
            made = mst_context_create(m, &cp, &c);
        CHECK(est != MST_OK && est == made, "%s: estimate %s, create %s", cases[i].name, mst_status_to_string(est),
              mst_status_to_string(made));
        CHECK(message[0] != '\0' && strcmp(without_fn(message), without_fn(mst_last_error())) == 0,
              "%s: estimate said \"%s\", create \"%s\"",
              cases[i].name, message, mst_last_error());
        mst_context_free(c);
        mst_model_free(m);
        drop(&t);
    }
    /* the ABI's own arguments */
    table t;
    build(&t, &base, MST_TYPE_Q4_0, 0);
    mst_context_params cp = ctx_params(256, 32, MST_TYPE_F16);
    mst_memory_estimate e = {.struct_size = sizeof e - 8};
    CHECK(mst_estimate_memory(&t.cfg, t.d, t.n, NULL, &cp, &e) == MST_ERR_ABI_MISMATCH, "a short struct_size accepted");
    e.struct_size = sizeof e;
    CHECK(mst_estimate_memory(&t.cfg, t.d, t.n, NULL, &cp, NULL) == MST_ERR_INVALID_ARGUMENT, "NULL out accepted");
    CHECK(mst_estimate_memory(&t.cfg, t.d, t.n, NULL, NULL, &e) == MST_ERR_INVALID_ARGUMENT, "NULL params accepted");
    CHECK(mst_estimate_memory(NULL, t.d, t.n, NULL, &cp, &e) == MST_ERR_INVALID_ARGUMENT, "NULL config accepted");
    mst_model_params mp;
    mst_model_params_default(&mp);
    mp.backend = 7;
    CHECK(mst_estimate_memory(&t.cfg, t.d, t.n, &mp, &cp, &e) == MST_ERR_INVALID_ARGUMENT, "backend 7 accepted");
    drop(&t);
}

int main(int argc, char **argv)
{
    const char *which = argc > 1 ? argv[1] : "all";
    const int all = strcmp(which, "all") == 0;
    if (all || strcmp(which, "cpu") == 0)
        test_cpu();
    if (all || strcmp(which, "null_data") == 0)
        test_null_data();
    if (all || strcmp(which, "refuses") == 0)
        test_refuses();
    return finish("test_memory_estimate");
}
