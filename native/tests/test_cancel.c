/* test_cancel.c — mst_context_set_abort: cancellation of a running or starting mst_decode.
 *   pool:         a pool run whose task sees the abort flag between its work items leaves the rest undone and
 *                 reports itself cut short; a run started with the flag set runs nothing; cleared, all runs;
 *   before_start: a decode that starts with the flag set returns MST_ERR_CANCELLED at once: no backend op runs,
 *                 the logits are not written, the position does not move;
 *   null:         set_abort on NULL, or with a value other than 0/1, is MST_ERR_INVALID_ARGUMENT;
 *   latency:      a thread sets the flag while a prompt of seconds is being processed: mst_decode returns
 *                 MST_ERR_CANCELLED soon after (reported), set_abort never answers BUSY, the position is unchanged
 *                 and the next decode gives the bits of a fresh context;
 *   exact:        cancelled inside an op (a pool run cut short) and between layers (the forward loop's check), at
 *                 a position past 0, the context stays where it was and the same decode again gives exactly the
 *                 logits of a context that never saw the cancelled call;
 *   rolling:      a batch a rolling cache runs in two steps, cancelled in the second: back to the call's start
 *                 while the window of that position is intact; otherwise at the second step's start (the first
 *                 step stays, since its overwritten keys cannot come back), exact either way.
 * Linked statically: the exact and rolling cases cancel from inside a pass through a hooked CPU backend, so the
 * point of cancellation is deterministic. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

#include "internal.h"
#include "threadpool.h"
#include "test_util.h"

static double now_ms(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static mst_context *make_ctx(mst_model *m, uint32_t n_ctx, uint32_t n_batch)
{
    mst_context_params p;
    mst_context_params_default(&p);
    p.n_ctx = n_ctx, p.n_batch = n_batch, p.n_threads = 2;
    mst_context *c = NULL;
    if (mst_context_create(m, &p, &c) != MST_OK) {
        printf("mst_context_create: %s\n", mst_last_error());
        exit(1);
    }
    return c;
}

static mst_model *make_model(const test_model *tm)
{
    mst_model *m = NULL;
    if (mst_model_create(&tm->cfg, tm->desc, tm->n_desc, &m) != MST_OK) {
        printf("mst_model_create: %s\n", mst_last_error());
        exit(1);
    }
    return m;
}

static void sequence(int32_t *t, uint32_t n, uint32_t vocab, uint64_t seed)
{
    for (uint32_t i = 0; i < n; i++)
        t[i] = (int32_t)(rng_next(&seed) % vocab);
}

static uint32_t position(mst_context *c)
{
    uint32_t p = UINT32_MAX;
    mst_context_position(c, &p);
    return p;
}

/* ---- pool ---- */
enum { ITEMS = 64 };

typedef struct item_task {
    mst_pool *pool;
    atomic_int *flag;
    int set_at;             /* the item of thread 0 that sets the flag first, -1 none */
    atomic_int ran[ITEMS];  /* per item: run count */
    atomic_int calls;
} item_task;

static void item_worker(void *arg, uint32_t ith, uint32_t nth)
{
    item_task *t = arg;
    atomic_fetch_add(&t->calls, 1);
    const uint32_t per = (ITEMS + nth - 1) / nth;
    for (uint32_t i = ith * per; i < (ith + 1) * per && i < ITEMS; i++) {
        if (mst_pool_stopping(t->pool))
            return;
        if (ith == 0 && (int)i == t->set_at)
            atomic_store(t->flag, 1);
        atomic_fetch_add(&t->ran[i], 1);
    }
}

static int count_ran(item_task *t)
{
    int n = 0;
    for (int i = 0; i < ITEMS; i++)
        n += atomic_load(&t->ran[i]);
    return n;
}

static void reset(item_task *t, int set_at)
{
    t->set_at = set_at;
    atomic_store(&t->calls, 0);
    for (int i = 0; i < ITEMS; i++)
        atomic_store(&t->ran[i], 0);
}

static void test_pool(void)
{
    for (uint32_t n = 1; n <= 3; n++) {
        mst_pool *pool = NULL;
        atomic_int flag;
        atomic_init(&flag, 0);
        CHECK(mst_pool_create(n, &pool) == MST_OK, "pool of %u: %s", n, mst_last_error());
        if (!pool)
            continue;
        mst_pool_set_abort(pool, &flag);
        static item_task t;
        t.pool = pool;
        t.flag = &flag;

        reset(&t, -1);
        CHECK(mst_pool_run(pool, item_worker, &t) == 0, "%u threads: a run with the flag clear reported a cut", n);
        CHECK(count_ran(&t) == ITEMS, "%u threads: %d of %d items ran with the flag clear", n, count_ran(&t), ITEMS);

        /* thread 0 sets the flag while doing its item 3: its item 4 on is skipped */
        reset(&t, 3);
        CHECK(mst_pool_run(pool, item_worker, &t) == 1, "%u threads: a run whose task saw the flag was not reported cut", n);
        CHECK(atomic_load(&t.ran[3]) == 1 && atomic_load(&t.ran[4]) == 0, "%u threads: thread 0 ran item 4 (%d) after the flag",
              n, atomic_load(&t.ran[4]));
        CHECK(count_ran(&t) < ITEMS, "%u threads: every item ran although the flag was set", n);

        /* the flag still set: the next run does nothing at all */
        reset(&t, -1);
        CHECK(mst_pool_run(pool, item_worker, &t) == 1, "%u threads: a run started with the flag set was not reported cut", n);
        CHECK(atomic_load(&t.calls) == 0, "%u threads: %d threads ran a task started with the flag set", n, atomic_load(&t.calls));

        /* cleared: runs are whole again */
        atomic_store(&flag, 0);
        reset(&t, -1);
        CHECK(mst_pool_run(pool, item_worker, &t) == 0 && count_ran(&t) == ITEMS, "%u threads: after clearing, %d items ran", n,
              count_ran(&t));
        mst_pool_free(pool);
    }
}

/* ---- a CPU backend with hooks: counts begin() calls; sets the abort flag at a chosen point of a pass ---- */
static int g_begins;
static uint32_t g_at_pos = UINT32_MAX; /* the pass at this n_past ... */
static uint32_t g_at_layer;            /* ... cancels in this layer's attention (inside an op) */
static int g_at_add = -1;              /* or at this residual add of the pass (0: layer 0's first), between ops */
static int g_adds;

static void hooked_begin(mst_context *ctx, const int32_t *tokens, uint32_t n)
{
    g_begins++;
    g_adds = 0;
    mst_backend_cpu.begin(ctx, tokens, n);
}

static void hooked_attention(mst_context *ctx, uint32_t layer, const float *q, uint32_t n, float *out)
{
    if (ctx->n_past == g_at_pos && layer == g_at_layer && g_at_add < 0)
        mst_context_set_abort(ctx, 1);
    mst_backend_cpu.attention(ctx, layer, q, n, out);
}

static void hooked_add(mst_context *ctx, float *x, const float *y, uint64_t n)
{
    mst_backend_cpu.add(ctx, x, y, n);
    if (ctx->n_past == g_at_pos && g_adds++ == g_at_add)
        mst_context_set_abort(ctx, 1);
}

static mst_backend g_hooked;

static void hook(mst_context *c)
{
    g_hooked = mst_backend_cpu;
    g_hooked.begin = hooked_begin;
    g_hooked.attention = hooked_attention;
    g_hooked.add = hooked_add;
    c->backend = &g_hooked;
}

static const int32_t TYPES[9] = {MST_TYPE_Q8_0, MST_TYPE_Q8_0, MST_TYPE_Q4_0, MST_TYPE_F32, MST_TYPE_F16,
                                 MST_TYPE_Q8_0, MST_TYPE_Q8_0, MST_TYPE_F32,  MST_TYPE_Q8_0};

static int same_bits(const float *a, const float *b, size_t n)
{
    return memcmp(a, b, n * sizeof(float)) == 0;
}

/* ---- before_start, null ---- */
static void test_before_start(void)
{
    mst_model_config cfg = tiny_config();
    test_model tm;
    tm_build(&tm, 5, &cfg, TYPES, 0);
    mst_model *m = make_model(&tm);
    mst_context *c = make_ctx(m, 32, 8);
    hook(c);
    const int32_t toks[4] = {1, 2, 3, 4};
    float logits[50], sentinel[50];
    CHECK(mst_decode(c, toks, 2, 0, logits, 50) == MST_OK, "decode: %s", mst_last_error());
    for (int i = 0; i < 50; i++)
        logits[i] = sentinel[i] = -12345.0f;
    g_begins = 0;
    CHECK(mst_context_set_abort(c, 1) == MST_OK, "set_abort(1): %s", mst_last_error());
    const double t0 = now_ms(CLOCK_MONOTONIC);
    mst_status st = mst_decode(c, toks + 2, 2, 0, logits, 50);
    const double took = now_ms(CLOCK_MONOTONIC) - t0;
    CHECK(st == MST_ERR_CANCELLED, "decode with the flag set returned %s", mst_status_to_string(st));
    CHECK(strstr(mst_last_error(), "before it started") && strstr(mst_last_error(), "position 2"),
          "message does not say it was cancelled before starting, at position 2: %s", mst_last_error());
    CHECK(g_begins == 0, "%d passes began although the flag was set", g_begins);
    CHECK(same_bits(logits, sentinel, 50), "the logits were written");
    CHECK(position(c) == 2, "position moved to %u", position(c));
    printf("before_start: returned in %.3f ms\n", took);
    /* the flag stays set until cleared */
    CHECK(mst_decode(c, toks + 2, 2, 0, logits, 50) == MST_ERR_CANCELLED, "the flag did not stay set");
    CHECK(mst_context_set_abort(c, 0) == MST_OK && mst_decode(c, toks + 2, 2, 0, logits, 50) == MST_OK,
          "decode after clearing: %s", mst_last_error());
    CHECK(g_begins == 1 && position(c) == 4, "after clearing: %d passes, position %u", g_begins, position(c));
    CHECK(strcmp(mst_status_to_string(MST_ERR_CANCELLED), "cancelled") == 0, "status string: %s",
          mst_status_to_string(MST_ERR_CANCELLED));
    mst_context_free(c);
    mst_model_free(m);
    tm_free(&tm);
}

static void test_null(void)
{
    CHECK(mst_context_set_abort(NULL, 1) == MST_ERR_INVALID_ARGUMENT, "set_abort(NULL, 1) was not INVALID_ARGUMENT");
    CHECK(strstr(mst_last_error(), "mst_context_set_abort") && strstr(mst_last_error(), "NULL"),
          "message does not name the function and the NULL: %s", mst_last_error());
    CHECK(mst_context_set_abort(NULL, 0) == MST_ERR_INVALID_ARGUMENT, "set_abort(NULL, 0) was not INVALID_ARGUMENT");
    mst_model_config cfg = tiny_config();
    test_model tm;
    tm_build(&tm, 5, &cfg, TYPES, 0);
    mst_model *m = make_model(&tm);
    mst_context *c = make_ctx(m, 16, 4);
    CHECK(mst_context_set_abort(c, 2) == MST_ERR_INVALID_ARGUMENT && strstr(mst_last_error(), "not 2"),
          "set_abort(c, 2): %s", mst_last_error());
    const int32_t tok = 3;
    float logits[50];
    CHECK(mst_decode(c, &tok, 1, 0, logits, 50) == MST_OK, "a refused value set the flag: %s", mst_last_error());
    mst_context_free(c);
    mst_model_free(m);
    tm_free(&tm);
}

/* ---- latency ---- */
enum { LONG_PROMPT = 2048, CANCEL_AFTER_MS = 250, CHECKED_TOKENS = 8 };

typedef struct canceller {
    mst_context *c;
    double set_at, cpu_at;
    mst_status st;
} canceller;

static void *cancel_later(void *arg)
{
    canceller *k = arg;
    usleep(CANCEL_AFTER_MS * 1000u);
    k->cpu_at = now_ms(CLOCK_PROCESS_CPUTIME_ID);
    k->set_at = now_ms(CLOCK_MONOTONIC);
    k->st = mst_context_set_abort(k->c, 1);
    return NULL;
}

static void test_latency(void)
{
    /* 4 layers of a 1024-wide model (48M weights in Q8_0) over 2048 tokens: about 200 GFLOP, seconds on 2 threads */
    mst_model_config cfg = tiny_config();
    cfg.n_vocab = 256, cfg.n_embd = 1024, cfg.n_layer = 4, cfg.n_head = 8, cfg.n_head_kv = 2, cfg.head_dim = 128;
    cfg.n_ff = 3072, cfg.n_ctx_train = LONG_PROMPT;
    static const int32_t q8[9] = {MST_TYPE_Q8_0, MST_TYPE_Q8_0, MST_TYPE_Q8_0, MST_TYPE_Q8_0, MST_TYPE_Q8_0,
                                  MST_TYPE_Q8_0, MST_TYPE_Q8_0, MST_TYPE_Q8_0, MST_TYPE_Q8_0};
    test_model tm;
    tm_build(&tm, 11, &cfg, q8, 0);
    mst_model *m = make_model(&tm);
    mst_context *c = make_ctx(m, LONG_PROMPT, LONG_PROMPT);
    int32_t *toks = xmalloc(LONG_PROMPT * sizeof(int32_t));
    sequence(toks, LONG_PROMPT, cfg.n_vocab, 21);
    float *logits = xmalloc((size_t)cfg.n_vocab * 4), *fresh = xmalloc((size_t)cfg.n_vocab * 4);

    canceller k = {.c = c, .st = MST_ERR_INTERNAL};
    pthread_t th;
    const double t0 = now_ms(CLOCK_MONOTONIC);
    if (pthread_create(&th, NULL, cancel_later, &k) != 0) {
        printf("pthread_create failed\n");
        exit(1);
    }
    mst_status st = mst_decode(c, toks, LONG_PROMPT, 0, logits, cfg.n_vocab);
    const double t_ret = now_ms(CLOCK_MONOTONIC), cpu_ret = now_ms(CLOCK_PROCESS_CPUTIME_ID);
    pthread_join(th, NULL);
    CHECK(k.st == MST_OK, "set_abort during a decode returned %s (it must not wait for or refuse the busy context)",
          mst_status_to_string(k.st));
    CHECK(st == MST_ERR_CANCELLED, "a %u-token prompt cancelled after %d ms returned %s after %.0f ms%s", LONG_PROMPT,
          CANCEL_AFTER_MS, mst_status_to_string(st), t_ret - t0,
          st == MST_OK ? ": it finished first, so this model is too small to test cancellation" : "");
    CHECK(position(c) == 0, "the cancelled prompt moved the context to %u", position(c));
    const double wall = t_ret - k.set_at, cpu = cpu_ret - k.cpu_at;
    printf("latency: cancelled %.0f ms into a %u-token prompt; returned %.1f ms after set_abort (wall), %.1f ms of CPU "
           "on %u threads in between%s; %s\n",
           k.set_at - t0, LONG_PROMPT, wall, cpu, 2u, RUNNING_ON_VALGRIND ? " (under valgrind)" : "", mst_last_error());
    /* The work done after the flag is CPU time, which other processes on the machine do not inflate as they do the
     * wall time: at most 100 ms per thread (the bound), i.e. the pass stopped within a piece of a matmul or
     * a few attention units. valgrind runs the code tens of times slower, so there it is only reported. */
    if (!RUNNING_ON_VALGRIND)
        CHECK(cpu <= 2 * 100.0, "%.1f ms of CPU were spent after the abort (at most 100 ms per thread)", cpu);

    /* The context is as fresh: the next decode gives a fresh context's bits. */
    CHECK(mst_context_set_abort(c, 0) == MST_OK, "set_abort(0): %s", mst_last_error());
    mst_context *ref = make_ctx(m, LONG_PROMPT, LONG_PROMPT);
    CHECK(mst_decode(c, toks, CHECKED_TOKENS, 0, logits, cfg.n_vocab) == MST_OK, "decode after the cancel: %s",
          mst_last_error());
    CHECK(mst_decode(ref, toks, CHECKED_TOKENS, 0, fresh, cfg.n_vocab) == MST_OK, "fresh decode: %s", mst_last_error());
    CHECK(same_bits(logits, fresh, cfg.n_vocab), "logits after a cancelled prompt differ from a fresh context's");
    mst_context_free(ref);
    mst_context_free(c);
    mst_model_free(m);
    free(toks);
    free(logits);
    free(fresh);
    tm_free(&tm);
}

/* ---- exact ---- */
/* Decodes tokens on a fresh context in calls of sizes[0], sizes[1], ... (a 0 ends the list): the logits of the last
 * token. The same calls as the context under test, so the same batches: bit-identical logits are expected. */
static void reference(mst_model *m, uint32_t n_ctx, uint32_t n_batch, const int32_t *tokens, const uint32_t *sizes,
                      float *out, uint32_t V)
{
    mst_context *r = make_ctx(m, n_ctx, n_batch);
    for (uint32_t done = 0; *sizes; done += *sizes++)
        CHECK(mst_decode(r, tokens + done, *sizes, 0, out, V) == MST_OK, "reference: %s", mst_last_error());
    mst_context_free(r);
}

static void test_exact(void)
{
    mst_model_config cfg = tiny_config();
    cfg.n_layer = 3;
    test_model tm;
    tm_build(&tm, 7, &cfg, TYPES, 0);
    mst_model *m = make_model(&tm);
    const uint32_t V = cfg.n_vocab;
    int32_t toks[32];
    sequence(toks, 32, V, 5);
    float got[50], want[50];
    reference(m, 64, 32, toks, (const uint32_t[]){20, 12, 0}, want, V);

    /* inside an op: layer 1's attention finds the flag set when its pool run starts */
    /* between ops: set after layer 0's second residual add, seen by the forward loop before layer 1 */
    for (int between = 0; between <= 1; between++) {
        mst_context *c = make_ctx(m, 64, 32);
        hook(c);
        CHECK(mst_decode(c, toks, 20, 0, got, V) == MST_OK, "prefix: %s", mst_last_error());
        g_at_pos = 20, g_at_layer = 1, g_at_add = between ? 1 : -1;
        mst_status st = mst_decode(c, toks + 20, 12, 0, got, V);
        CHECK(st == MST_ERR_CANCELLED, "%s: returned %s", between ? "between layers" : "inside an op",
              mst_status_to_string(st));
        CHECK(strstr(mst_last_error(), "stays at position 20") != NULL, "message: %s", mst_last_error());
        if (between)
            CHECK(strstr(mst_last_error(), "before layer 1") != NULL, "the forward loop's check did not name layer 1: %s",
                  mst_last_error());
        CHECK(position(c) == 20, "position %u after the cancelled call", position(c));
        g_at_pos = UINT32_MAX;
        CHECK(mst_context_set_abort(c, 0) == MST_OK, "clear: %s", mst_last_error());
        CHECK(mst_decode(c, toks + 20, 12, 0, got, V) == MST_OK, "retry: %s", mst_last_error());
        CHECK(same_bits(got, want, V), "%s: the retried call's logits differ from a context that never saw the cancel",
              between ? "between layers" : "inside an op");
        mst_context_free(c);
    }
    mst_model_free(m);
    tm_free(&tm);
}

/* ---- rolling ---- */
static void test_rolling(void)
{
    /* window 48, n_ctx 64, n_batch 32: the cache rolls on n_ctx = 64 slots (48 + 32 - 1 would not fit), so a batch
     * runs in steps of at most 64 - 48 + 1 = 17 tokens: a 32-token batch is two steps. */
    mst_model_config cfg = tiny_config();
    cfg.sliding_window = 48;
    test_model tm;
    tm_build(&tm, 9, &cfg, TYPES, 0);
    mst_model *m = make_model(&tm);
    const uint32_t V = cfg.n_vocab;
    int32_t toks[72];
    sequence(toks, 72, V, 8);
    float got[50], want[50];
    {
        mst_context *c = make_ctx(m, 64, 32);
        uint32_t slots = 0, max_pos = 0;
        mst_context_limits(c, &slots, &max_pos);
        CHECK(slots == 64 && max_pos == INT32_MAX, "the context does not roll on 64 slots (%u, limit %u)", slots, max_pos);
        mst_context_free(c);
    }

    /* From position 0: the second step (positions 17..31) overwrites nothing a query at 0 sees: back to 0. */
    reference(m, 64, 32, toks, (const uint32_t[]){32, 0}, want, V);
    {
        mst_context *c = make_ctx(m, 64, 32);
        hook(c);
        g_at_pos = 17, g_at_layer = 1, g_at_add = -1;
        CHECK(mst_decode(c, toks, 32, 0, got, V) == MST_ERR_CANCELLED, "from 0: not cancelled: %s", mst_last_error());
        CHECK(position(c) == 0, "from 0: position %u after a cancel in the second step", position(c));
        g_at_pos = UINT32_MAX;
        mst_context_set_abort(c, 0);
        CHECK(mst_decode(c, toks, 32, 0, got, V) == MST_OK, "from 0, retry: %s", mst_last_error());
        CHECK(same_bits(got, want, V), "from 0: the retried batch's logits differ from a fresh context's");
        mst_context_free(c);
    }

    /* From position 40: the second step (57..71) reuses the slots of positions 0..7, which a query at 40 sees
     * (window 48: 0..40), so the call cannot be undone; the first step (40..56) stays, exactly. */
    reference(m, 64, 32, toks, (const uint32_t[]){32, 8, 32, 0}, want, V);
    {
        mst_context *c = make_ctx(m, 64, 32);
        hook(c);
        CHECK(mst_decode(c, toks, 32, 0, got, V) == MST_OK && mst_decode(c, toks + 32, 8, 0, got, V) == MST_OK,
              "prefix: %s", mst_last_error());
        g_at_pos = 57, g_at_layer = 1, g_at_add = -1;
        CHECK(mst_decode(c, toks + 40, 32, 0, got, V) == MST_ERR_CANCELLED, "from 40: not cancelled: %s",
              mst_last_error());
        CHECK(strstr(mst_last_error(), "is at position 57") != NULL, "from 40: message: %s", mst_last_error());
        CHECK(position(c) == 57, "from 40: position %u after a cancel in the second step, expected 57", position(c));
        g_at_pos = UINT32_MAX;
        mst_context_set_abort(c, 0);
        CHECK(mst_decode(c, toks + 57, 15, 0, got, V) == MST_OK, "from 57, the rest: %s", mst_last_error());
        CHECK(same_bits(got, want, V), "from 40: the logits after the rest differ from a context fed the whole batch");
        mst_context_free(c);
    }
    mst_model_free(m);
    tm_free(&tm);
}

int main(int argc, char **argv)
{
    const char *which = argc > 1 ? argv[1] : "";
    if (!strcmp(which, "pool"))
        test_pool();
    else if (!strcmp(which, "before_start"))
        test_before_start();
    else if (!strcmp(which, "null"))
        test_null();
    else if (!strcmp(which, "latency"))
        test_latency();
    else if (!strcmp(which, "exact"))
        test_exact();
    else if (!strcmp(which, "rolling"))
        test_rolling();
    else {
        printf("usage: test_cancel pool|before_start|null|latency|exact|rolling\n");
        return 2;
    }
    return finish(which);
}
