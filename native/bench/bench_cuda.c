/* bench_cuda.c — the CUDA backend's speed on a 7B-shaped model, against the limits of the GPU it runs on.
 *
 * Usage: bench_cuda [--out DIR] [--types Q4_0,Q8_0,Q4_K_M] [--layers N] [--prefill N] [--decode N]
 *                   [--budget-s S] [--tiny] [--emulate]
 *
 * For each weight mix it builds a random-weight model of Mistral 7B's shape in memory (bench_model.c; no file: the
 * C ABI takes the tensor table, and the GPU machine need not have .NET) and, through the public C ABI, measures:
 *   - the load, mst_model_create_with, twice: the first in the process pays the driver's start and the PTX JIT
 *     (run with a fresh CUDA_CACHE_PATH to make it cold), the second finds the JIT's output in the driver's cache;
 *     both upload the weights;
 *   - the first token of a fresh context; a prefill of 512 tokens into an empty cache (median of 3); 128
 *     single-token decode steps after it, each reading its logits back.
 * Then the device's bandwidth: a device-to-device copy, and the library's own add kernel launched through device.h
 * (the harness has no kernel of its own, which would need a PTX module of its own in the library's table); and a
 * Mixtral-shaped MoE layer against a dense one. Writes bench.json and bench.md (bench_report.c) to DIR after every
 * section, so a run stopped early keeps what it measured.
 *
 * --emulate (or MISTRAL_CUDA_EMULATE=1) runs on the SIMT emulator and --tiny on small shapes: a rehearsal of the
 * run on a machine without a GPU, whose timings are the emulator's and are labelled so. --budget-s stops starting
 * new sections after S seconds. Exit 0: every section ran; 1: one failed (bench.md says which); 2: bad arguments;
 * 77: no CUDA device (and no --emulate). */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, strtok_r */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "bench_model.h"
#include "bench_report.h"
#include "kernels.h"

typedef struct options {
    const char *out, *types;
    uint32_t layers, prefill, decode;
    double budget_s;
    int tiny, emulate;
} options;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double g_start;

static int over_budget(const options *o)
{
    return o->budget_s > 0 && now_s() - g_start > o->budget_s;
}

static void fail_into(char *dst, size_t cap, const char *what, mst_status st)
{
    snprintf(dst, cap, "%s: %s: %s", what, mst_status_to_string(st), mst_last_error());
    fprintf(stderr, "bench: %s\n", dst);
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static mst_status create(const bench_model *bm, const options *o, mst_model **m)
{
    mst_model_params p;
    mst_model_params_default(&p);
    p.backend = MST_BACKEND_CUDA;
    p.flags = o->emulate ? MST_BACKEND_EMULATE : 0;
    return mst_model_create_with(&bm->cfg, bm->desc, bm->n_desc, &p, m);
}

static mst_status context(mst_model *m, uint32_t n_ctx, uint32_t n_batch, mst_context **c)
{
    mst_context_params cp;
    mst_context_params_default(&cp);
    cp.n_ctx = n_ctx, cp.n_batch = n_batch;
    return mst_context_create(m, &cp, c);
}

/* Load twice, first token, prefill (median of runs), decode; t->error says what failed. */
static void measure_type(const options *o, const mst_model_config *cfg, bench_type_result *t)
{
    int32_t types[BM_N];
    bench_mix(t->type, types);
    bench_model bm;
    const double t_fill = now_s();
    if (!bench_model_build(&bm, cfg, types, 0x5eed0000u + (uint64_t)types[BM_Q])) {
        snprintf(t->error, sizeof t->error, "out of host memory for the weights");
        bench_model_free(&bm);
        return;
    }
    printf("%s: %.2f GB of weights made in %.1f s\n", t->type, (double)bm.weight_bytes * 1e-9, now_s() - t_fill);
    t->weight_bytes = (double)bm.weight_bytes;
    t->prefill_tokens = o->prefill, t->decode_tokens = o->decode;
    t->prefill_flops = bench_prefill_flops(&bm, o->prefill);
    t->decode_bytes_per_token = bench_decode_bytes(&bm, o->prefill + o->decode / 2); /* the mean cache length */

    mst_model *m = NULL;
    mst_context *c = NULL;
    const uint32_t V = cfg->n_vocab, runs = o->tiny ? 1 : 3;
    int32_t *prompt = malloc((size_t)o->prefill * sizeof *prompt);
    float *logits = malloc((size_t)V * sizeof *logits);
    double times[3];
    mst_status st = prompt && logits ? MST_OK : MST_ERR_OUT_OF_MEMORY;
    for (uint32_t i = 0; prompt && i < o->prefill; i++)
        prompt[i] = (int32_t)((i * 2654435761u) % V);
    double t0 = now_s();
    if (st == MST_OK && (st = create(&bm, o, &m)) == MST_OK) {
        t->load_first_s = now_s() - t0;
        mst_model_free(m), m = NULL;
        t0 = now_s();
        st = create(&bm, o, &m);
        t->load_second_s = now_s() - t0;
    }
    if (st != MST_OK) {
        fail_into(t->error, sizeof t->error, "load", st);
        goto done;
    }
    if ((st = context(m, o->prefill + o->decode + 1, o->prefill, &c)) != MST_OK) {
        fail_into(t->error, sizeof t->error, "context", st);
        goto done;
    }
    t0 = now_s();
    st = mst_decode(c, prompt, 1, 0, logits, V);
    t->first_token_s = now_s() - t0;
    for (uint32_t r = 0; r < runs && st == MST_OK; r++) {
        if ((st = mst_context_truncate(c, 0)) != MST_OK)
            break;
        t0 = now_s();
        st = mst_decode(c, prompt, o->prefill, 0, logits, V);
        times[r] = now_s() - t0;
    }
    if (st != MST_OK) {
        fail_into(t->error, sizeof t->error, "prefill", st);
        goto done;
    }
    qsort(times, runs, sizeof times[0], cmp_double);
    t->prefill_s = times[runs / 2];
    t0 = now_s();
    for (uint32_t i = 0; i < o->decode && st == MST_OK; i++) {
        const int32_t next = (int32_t)((i * 40503u + 7) % V);
        st = mst_decode(c, &next, 1, 0, logits, V);
    }
    t->decode_s = now_s() - t0;
    if (st != MST_OK) {
        t->decode_s = 0;
        fail_into(t->error, sizeof t->error, "decode", st);
        goto done;
    }
    t->ran = 1;
    printf("%s: load %.2f s then %.2f s, first token %.1f ms, prefill %u in %.3f s, decode %u in %.3f s\n", t->type,
           t->load_first_s, t->load_second_s, t->first_token_s * 1e3, o->prefill, t->prefill_s, o->decode, t->decode_s);
done:
    if (c)
        mst_context_free(c);
    if (m)
        mst_model_free(m);
    free(prompt), free(logits);
    bench_model_free(&bm);
}

/* best of reps timings of iters launches of op over bytes-long buffers a and b; returns GB/s counting moved
 * bytes (moved_per_byte: 2 for a copy, 3 for x += y) */
static double probe(mst_dev *d, int add_kernel, mst_dptr a, mst_dptr b, size_t bytes, int iters, int reps,
                    mst_status *st)
{
    double best = INFINITY;
    for (int r = 0; r < reps && *st == MST_OK; r++) {
        const double t0 = now_s();
        for (int i = 0; i < iters && *st == MST_OK; i++)
            *st = add_kernel ? mst_cuda_add(d, a, b, bytes / 4) : mst_dev_copy(d, b, a, bytes);
        if (*st == MST_OK)
            *st = mst_dev_sync(d);
        const double dt = now_s() - t0;
        best = dt < best ? dt : best;
    }
    return *st == MST_OK ? (add_kernel ? 3.0 : 2.0) * (double)bytes * iters / best / 1e9 : 0;
}

static void measure_bandwidth(const options *o, bench_results *r)
{
    mst_dev *d = NULL;
    mst_dptr a = 0, b = 0;
    const size_t bytes = o->tiny ? (size_t)1 << 20 : (size_t)1 << 30;
    const int iters = o->tiny ? 2 : 20, reps = o->tiny ? 2 : 5;
    mst_status st = mst_dev_open(0, o->emulate, &d);
    if (st == MST_OK && (st = mst_dev_alloc(d, bytes, &a)) == MST_OK && (st = mst_dev_alloc(d, bytes, &b)) == MST_OK &&
        (st = mst_dev_memset32(d, a, 0x3f800000u, bytes / 4)) == MST_OK && /* 1.0f: finite values to add */
        (st = mst_dev_memset32(d, b, 0, bytes / 4)) == MST_OK) {
        probe(d, 0, a, b, bytes, 1, 1, &st); /* warm-up: first touch, kernel lookup */
        probe(d, 1, a, b, bytes, 1, 1, &st);
        r->copy_gbs = probe(d, 0, a, b, bytes, iters, reps, &st);
        r->add_gbs = probe(d, 1, a, b, bytes, iters, reps, &st);
    }
    if (st != MST_OK)
        fprintf(stderr, "bench: bandwidth probe: %s: %s\n", mst_status_to_string(st), mst_last_error());
    else
        printf("bandwidth: copy %.0f GB/s, add kernel %.0f GB/s (%zu MiB buffers)\n", r->copy_gbs, r->add_gbs,
               bytes >> 20);
    if (d) {
        mst_dev_free(d, a), mst_dev_free(d, b);
        mst_dev_close(d);
    }
}

/* One layer's decode time per token: bm's table holds 2 layers in order, so its first 1 and its 2 layers are two
 * models that differ by one layer. Their steps alternate, and each keeps its fastest step: other work on the
 * machine only ever adds time to a step, and alternating gives both models the same conditions. */
static mst_status layer_time(const options *o, const bench_model *bm, double *out)
{
    const uint32_t per_layer = (bm->n_desc - 3) / bm->cfg.n_layer, steps = o->tiny ? 8 : 64, V = bm->cfg.n_vocab;
    const int32_t prompt[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    mst_model *m[2] = {NULL, NULL};
    mst_context *c[2] = {NULL, NULL};
    double best[2] = {INFINITY, INFINITY};
    float *logits = malloc((size_t)V * sizeof *logits);
    mst_status st = logits ? MST_OK : MST_ERR_OUT_OF_MEMORY;
    for (uint32_t k = 0; k < 2 && st == MST_OK; k++) {
        bench_model part = *bm;
        part.cfg.n_layer = k + 1;
        part.n_desc = 3 + per_layer * (k + 1);
        st = create(&part, o, &m[k]);
        if (st == MST_OK)
            st = context(m[k], 8 + steps + 1, 8, &c[k]);
        if (st == MST_OK)
            st = mst_decode(c[k], prompt, 8, 0, logits, V);
    }
    for (uint32_t i = 0; i < 2 * steps && st == MST_OK; i++) {
        const int32_t next = (int32_t)((i / 2 * 40503u + 11) % V);
        const double t0 = now_s();
        st = mst_decode(c[i % 2], &next, 1, 0, logits, V);
        const double dt = now_s() - t0;
        best[i % 2] = dt < best[i % 2] ? dt : best[i % 2];
    }
    *out = best[1] - best[0];
    for (int k = 0; k < 2; k++) {
        if (c[k])
            mst_context_free(c[k]);
        if (m[k])
            mst_model_free(m[k]);
    }
    free(logits);
    return st;
}

static void measure_moe(const options *o, bench_results *r)
{
    int32_t types[BM_N];
    bench_mix("Q4_0", types);
    double layer_s[2] = {0, 0}, expected[2] = {0, 0};
    mst_status st = MST_OK;
    for (int moe = 0; moe < 2 && st == MST_OK; moe++) {
        const mst_model_config cfg = o->tiny ? bench_config_tiny(2, moe) : moe ? bench_config_mixtral(2) : bench_config_7b(2);
        bench_model bm;
        if (!bench_model_build(&bm, &cfg, types, 0x0e0e + (uint64_t)moe)) {
            bench_model_free(&bm);
            snprintf(r->moe_error, sizeof r->moe_error, "out of host memory for the weights");
            return;
        }
        st = layer_time(o, &bm, &layer_s[moe]);
        expected[moe] = (double)bm.layer_read_bytes;
        bench_model_free(&bm);
    }
    if (st != MST_OK) {
        fail_into(r->moe_error, sizeof r->moe_error, "MoE against dense", st);
        return;
    }
    if (layer_s[0] <= 0 || layer_s[1] <= 0) {
        snprintf(r->moe_error, sizeof r->moe_error, "a second layer did not add time (dense %.3g s, MoE %.3g s): "
                 "timer noise larger than a layer", layer_s[0], layer_s[1]);
        return;
    }
    r->dense_layer_s = layer_s[0], r->moe_layer_s = layer_s[1];
    r->moe_expected_ratio = expected[1] / expected[0];
    r->moe_ran = 1;
    printf("MoE layer %.3f ms, dense layer %.3f ms per token (bytes give %.2fx)\n", layer_s[1] * 1e3, layer_s[0] * 1e3,
           r->moe_expected_ratio);
}

/* Names the device in r; 0 when there is none. Called after the first model load: the query opens the device and
 * loads its modules, and the first load is the one meant to pay the cold JIT. */
static int describe_device(const options *o, bench_results *r)
{
    mst_backend_info info = {.struct_size = sizeof info};
    mst_backend_query(MST_BACKEND_CUDA, o->emulate ? MST_BACKEND_EMULATE : 0, &info);
    snprintf(r->device, sizeof r->device, "%s", info.available ? info.device_name : "none");
    r->compute_major = info.compute_major, r->compute_minor = info.compute_minor;
    r->driver_version = info.driver_version, r->total_memory = info.total_memory;
    if (!info.available) {
        printf("skipped: no CUDA device: %s\n", info.reason);
        snprintf(r->moe_error, sizeof r->moe_error, "no CUDA device: %s", info.reason);
        return 0;
    }
    r->emulated = info.emulated;
    r->gpu = r->emulated ? NULL : bench_gpu_find(info.device_name);
    mst_dev *d = NULL;
    mst_dev_desc dd;
    if (mst_dev_open(0, o->emulate, &d) == MST_OK && mst_dev_describe(d, &dd) == MST_OK)
        r->multiprocessors = dd.multiprocessors;
    if (d)
        mst_dev_close(d);
    printf("device: %s (%d.%d)%s\n", r->device, r->compute_major, r->compute_minor, r->emulated ? ", emulated" : "");
    return 1;
}

static int parse(int argc, char **argv, options *o)
{
    memset(o, 0, sizeof *o);
    o->out = ".", o->types = "Q4_0,Q8_0,Q4_K_M", o->layers = 32, o->prefill = 512, o->decode = 128;
    const char *e = getenv("MISTRAL_CUDA_EMULATE");
    o->emulate = e && strcmp(e, "1") == 0;
    int prefill_set = 0, decode_set = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--tiny") == 0)
            o->tiny = 1;
        else if (strcmp(a, "--emulate") == 0)
            o->emulate = 1;
        else if (v && strcmp(a, "--out") == 0)
            o->out = v, i++;
        else if (v && strcmp(a, "--types") == 0)
            o->types = v, i++;
        else if (v && strcmp(a, "--layers") == 0)
            o->layers = (uint32_t)strtoul(v, NULL, 10), i++;
        else if (v && strcmp(a, "--prefill") == 0)
            o->prefill = (uint32_t)strtoul(v, NULL, 10), prefill_set = 1, i++;
        else if (v && strcmp(a, "--decode") == 0)
            o->decode = (uint32_t)strtoul(v, NULL, 10), decode_set = 1, i++;
        else if (v && strcmp(a, "--budget-s") == 0)
            o->budget_s = strtod(v, NULL), i++;
        else {
            fprintf(stderr, "bench_cuda: unknown or incomplete argument '%s'\nusage: bench_cuda [--out DIR] "
                            "[--types Q4_0,Q8_0,Q4_K_M] [--layers N] [--prefill N] [--decode N] [--budget-s S] "
                            "[--tiny] [--emulate]\n", a);
            return 0;
        }
    }
    if (o->tiny) {
        o->layers = o->layers == 32 ? 2 : o->layers;
        o->prefill = prefill_set ? o->prefill : 16;
        o->decode = decode_set ? o->decode : 8;
    }
    if (o->layers == 0 || o->prefill == 0 || o->decode == 0) {
        fprintf(stderr, "bench_cuda: --layers, --prefill and --decode must be positive\n");
        return 0;
    }
    return 1;
}

int main(int argc, char **argv)
{
    options o;
    if (!parse(argc, argv, &o))
        return 2;
    setvbuf(stdout, NULL, _IOLBF, 0); /* bench.log keeps each line even if the run is stopped at its time limit */
    g_start = now_s();
    mkdir(o.out, 0777); /* may exist already; a folder that cannot be made shows when bench.json cannot be written */
    static bench_results r;
    const time_t now = time(NULL);
    strftime(r.started_utc, sizeof r.started_utc, "%Y-%m-%d %H:%M UTC", gmtime(&now));
    r.emulated = o.emulate, r.tiny = o.tiny, r.layers = o.layers;

    const mst_model_config cfg = o.tiny ? bench_config_tiny(o.layers, 0) : bench_config_7b(o.layers);
    int failed = 0;
    char list[64];
    snprintf(list, sizeof list, "%s", o.types);
    for (char *save = NULL, *name = strtok_r(list, ",", &save); name && r.n_types < BENCH_MAX_TYPES;
         name = strtok_r(NULL, ",", &save)) {
        bench_type_result *t = &r.types[r.n_types++];
        snprintf(t->type, sizeof t->type, "%s", name);
        int32_t types[BM_N];
        if (!bench_mix(name, types))
            snprintf(t->error, sizeof t->error, "unknown weight mix (Q4_0, Q8_0, Q4_K_M)");
        else if (over_budget(&o))
            snprintf(t->error, sizeof t->error, "skipped: the --budget-s time was spent");
        else
            measure_type(&o, &cfg, t);
        failed |= !t->ran;
        if (r.n_types == 1) { /* after the first load, the one to pay the driver's start and a cold JIT */
            if (!describe_device(&o, &r)) {
                bench_write(&r, o.out);
                return 77;
            }
            measure_bandwidth(&o, &r);
        }
        r.wall_s = now_s() - g_start;
        bench_write(&r, o.out);
    }
    if (r.n_types == 0 && !describe_device(&o, &r)) {
        bench_write(&r, o.out);
        return 77;
    }
    if (r.copy_gbs <= 0 && r.add_gbs <= 0)
        failed = 1;
    if (over_budget(&o))
        snprintf(r.moe_error, sizeof r.moe_error, "skipped: the --budget-s time was spent");
    else
        measure_moe(&o, &r);
    failed |= !r.moe_ran;
    r.wall_s = now_s() - g_start;
    if (!bench_write(&r, o.out))
        return 1;
    printf("wrote %s/bench.json and bench.md (%.0f s)\n", o.out, r.wall_s);
    return failed ? 1 : 0;
}
