/* bench_report.c — bench.json and bench.md from the benchmark's results (bench_report.h).
 *
 * Each figure is written beside the limit it is measured against:
 *   decode:  the bandwidth wall, bandwidth / bytes a token reads (tokens/s), for the measured bandwidth and for
 *            the datasheet's; the ratio is decode tokens/s over that wall;
 *   prefill: FLOP/s achieved over the datasheet's dense FP16 and INT8 tensor throughput;
 *   MoE:     a MoE layer's decode time over a dense layer's, against the ratio of the bytes they read.
 * A figure that could not be measured, or a limit that is not known for this GPU, is null (JSON) or "–" (Markdown). */
#include "bench_report.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

double bench_measured_gbs(const bench_results *r)
{
    return r->copy_gbs > r->add_gbs ? r->copy_gbs : r->add_gbs;
}

static double ratio(double a, double b)
{
    return a > 0 && b > 0 ? a / b : NAN;
}

/* a JSON number, or null for NaN/Inf/non-positive "not measured" values */
static void jnum(FILE *f, const char *key, double v, const char *after)
{
    if (isfinite(v) && v > 0)
        fprintf(f, "\"%s\": %.6g%s", key, v, after);
    else
        fprintf(f, "\"%s\": null%s", key, after);
}

static void jstr(FILE *f, const char *key, const char *s, const char *after)
{
    if (!s || !s[0]) {
        fprintf(f, "\"%s\": null%s", key, after);
        return;
    }
    fprintf(f, "\"%s\": \"", key);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fprintf(f, "\"%s", after);
}

/* derived figures of one weight type */
typedef struct derived {
    double prefill_tps, prefill_tflops, of_f16, of_int8;
    double decode_tps, wall_tps, of_wall, sheet_wall_tps, of_sheet_wall;
} derived;

static derived derive(const bench_results *r, const bench_type_result *t)
{
    derived d;
    const double bw = bench_measured_gbs(r) * 1e9, sheet = r->gpu ? r->gpu->bandwidth_gbs * 1e9 : 0;
    d.prefill_tps = ratio(t->prefill_tokens, t->prefill_s);
    d.prefill_tflops = ratio(t->prefill_flops, t->prefill_s) / 1e12;
    d.of_f16 = r->gpu ? ratio(d.prefill_tflops, r->gpu->f16_tflops) : NAN;
    d.of_int8 = r->gpu ? ratio(d.prefill_tflops, r->gpu->int8_tops) : NAN;
    d.decode_tps = ratio(t->decode_tokens, t->decode_s);
    d.wall_tps = ratio(bw, t->decode_bytes_per_token);
    d.of_wall = ratio(d.decode_tps, d.wall_tps);
    d.sheet_wall_tps = ratio(sheet, t->decode_bytes_per_token);
    d.of_sheet_wall = ratio(d.decode_tps, d.sheet_wall_tps);
    return d;
}

static int write_json(const bench_results *r, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return 0;
    fprintf(f, "{\n  \"schema\": \"mistral-bench-cuda/1\",\n  ");
    jstr(f, "started_utc", r->started_utc, ",\n  ");
    fprintf(f, "\"emulated\": %s,\n  \"tiny\": %s,\n  \"layers\": %u,\n  ", r->emulated ? "true" : "false",
            r->tiny ? "true" : "false", r->layers);
    jstr(f, "note", r->emulated ? "SIMT emulator on the CPU: these timings say nothing about any GPU" : "", ",\n  ");
    fprintf(f, "\"device\": {");
    jstr(f, "name", r->device, ", ");
    fprintf(f, "\"compute_capability\": \"%d.%d\", \"driver_version\": %d, \"multiprocessors\": %d, "
               "\"total_memory_bytes\": %llu},\n  ",
            r->compute_major, r->compute_minor, r->driver_version, r->multiprocessors,
            (unsigned long long)r->total_memory);
    if (r->gpu) {
        fprintf(f, "\"datasheet\": {");
        jstr(f, "product", r->gpu->label, ", ");
        jnum(f, "bandwidth_gbs", r->gpu->bandwidth_gbs, ", ");
        jnum(f, "f16_dense_tflops", r->gpu->f16_tflops, ", ");
        jnum(f, "int8_dense_tops", r->gpu->int8_tops, "},\n  ");
    } else {
        fprintf(f, "\"datasheet\": null,\n  ");
    }
    fprintf(f, "\"bandwidth\": {");
    jnum(f, "copy_gbs", r->copy_gbs, ", ");
    jnum(f, "add_kernel_gbs", r->add_gbs, ", ");
    jnum(f, "measured_gbs", bench_measured_gbs(r), ", ");
    jnum(f, "of_datasheet", r->gpu ? ratio(bench_measured_gbs(r), r->gpu->bandwidth_gbs) : NAN, "},\n  ");
    fprintf(f, "\"types\": [");
    for (int i = 0; i < r->n_types; i++) {
        const bench_type_result *t = &r->types[i];
        const derived d = derive(r, t);
        fprintf(f, "%s\n    {", i ? "," : "");
        jstr(f, "type", t->type, ", ");
        fprintf(f, "\"ran\": %s, ", t->ran ? "true" : "false");
        jstr(f, "error", t->error, ",\n     ");
        jnum(f, "weight_bytes", t->weight_bytes, ", ");
        jnum(f, "decode_bytes_per_token", t->decode_bytes_per_token, ",\n     ");
        jnum(f, "load_first_s", t->load_first_s, ", ");
        jnum(f, "load_second_s", t->load_second_s, ", ");
        jnum(f, "first_token_s", t->first_token_s, ",\n     ");
        fprintf(f, "\"prefill_tokens\": %u, ", t->prefill_tokens);
        jnum(f, "prefill_s", t->prefill_s, ", ");
        jnum(f, "prefill_tokens_per_s", d.prefill_tps, ", ");
        jnum(f, "prefill_flops", t->prefill_flops, ", ");
        jnum(f, "prefill_tflops", d.prefill_tflops, ",\n     ");
        jnum(f, "prefill_of_f16_peak", d.of_f16, ", ");
        jnum(f, "prefill_of_int8_peak", d.of_int8, ",\n     ");
        fprintf(f, "\"decode_tokens\": %u, ", t->decode_tokens);
        jnum(f, "decode_s", t->decode_s, ", ");
        jnum(f, "decode_tokens_per_s", d.decode_tps, ",\n     ");
        jnum(f, "decode_wall_tokens_per_s", d.wall_tps, ", ");
        jnum(f, "decode_of_wall", d.of_wall, ",\n     ");
        jnum(f, "decode_datasheet_wall_tokens_per_s", d.sheet_wall_tps, ", ");
        jnum(f, "decode_of_datasheet_wall", d.of_sheet_wall, "}");
    }
    fprintf(f, "\n  ],\n  \"moe\": {\"ran\": %s, ", r->moe_ran ? "true" : "false");
    jstr(f, "error", r->moe_error, ", ");
    jnum(f, "dense_layer_ms", r->dense_layer_s * 1e3, ", ");
    jnum(f, "moe_layer_ms", r->moe_layer_s * 1e3, ", ");
    jnum(f, "ratio", ratio(r->moe_layer_s, r->dense_layer_s), ", ");
    jnum(f, "expected_ratio", r->moe_expected_ratio, ", ");
    jnum(f, "ratio_of_expected", ratio(ratio(r->moe_layer_s, r->dense_layer_s), r->moe_expected_ratio), "},\n  ");
    jnum(f, "wall_s", r->wall_s, "\n}\n");
    return fclose(f) == 0;
}

/* a Markdown cell: the value with fmt and scale, or "–" */
static const char *cell(char *buf, size_t cap, const char *fmt, double v, double scale)
{
    if (isfinite(v) && v > 0)
        snprintf(buf, cap, fmt, v * scale);
    else
        snprintf(buf, cap, "–");
    return buf;
}

static int write_md(const bench_results *r, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return 0;
    char a[32], b[32], c[32], d_[32];
    fprintf(f, "# CUDA benchmark, %s\n\n", r->started_utc);
    if (r->emulated)
        fprintf(f, "**Emulated run (SIMT emulator on the CPU, %s shapes): a rehearsal of the script. None of these "
                   "timings is a GPU figure.**\n\n", r->tiny ? "tiny" : "full");
    fprintf(f, "Device: %s (compute capability %d.%d, %d multiprocessors, %.1f GiB, driver API %d); %s. "
               "%u layers%s. Model: docs/CUDA-PERFORMANCE.md.\n\n",
            r->device, r->compute_major, r->compute_minor, r->multiprocessors,
            (double)r->total_memory / (1024.0 * 1024 * 1024), r->driver_version,
            r->gpu ? r->gpu->label : "not in the datasheet table (native/bench/bench_gpus.c)", r->layers,
            r->tiny ? " of the tiny shape" : " of Mistral 7B's shape");
    fprintf(f, "| bandwidth | GB/s | of datasheet |\n| --- | --- | --- |\n");
    fprintf(f, "| device-to-device copy (read + write) | %s | %s |\n", cell(a, sizeof a, "%.3g", r->copy_gbs, 1),
            cell(b, sizeof b, "%.0f%%", r->gpu ? ratio(r->copy_gbs, r->gpu->bandwidth_gbs) : NAN, 100));
    fprintf(f, "| add kernel, x += y (2 reads + 1 write) | %s | %s |\n", cell(a, sizeof a, "%.3g", r->add_gbs, 1),
            cell(b, sizeof b, "%.0f%%", r->gpu ? ratio(r->add_gbs, r->gpu->bandwidth_gbs) : NAN, 100));
    if (r->gpu)
        fprintf(f, "| datasheet (%s) | %.0f | |\n", r->gpu->label, r->gpu->bandwidth_gbs);
    fprintf(f, "\n| type | weights GB | load s (first / again) | first token ms | prefill t/s | prefill TFLOP/s "
               "(of f16 / int8 peak) | decode t/s | bandwidth wall t/s (measured / datasheet) | decode of wall "
               "(measured / datasheet) |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
    for (int i = 0; i < r->n_types; i++) {
        const bench_type_result *t = &r->types[i];
        if (!t->ran) {
            fprintf(f, "| %s | not measured: %s |||||||| \n", t->type, t->error);
            continue;
        }
        const derived d = derive(r, t);
        char v[13][32]; /* one buffer per cell: they are all printed by the one fprintf */
        fprintf(f, "| %s | %s | %s / %s | %s | %s | %s (%s / %s) | %s | %s / %s | %s / %s |\n", t->type,
                cell(v[0], 32, "%.3g", t->weight_bytes, 1e-9), cell(v[1], 32, "%.2f", t->load_first_s, 1),
                cell(v[2], 32, "%.2f", t->load_second_s, 1), cell(v[3], 32, "%.1f", t->first_token_s, 1e3),
                cell(v[4], 32, "%.0f", d.prefill_tps, 1), cell(v[5], 32, "%.3g", d.prefill_tflops, 1),
                cell(v[6], 32, "%.1f%%", d.of_f16, 100), cell(v[7], 32, "%.1f%%", d.of_int8, 100),
                cell(v[8], 32, "%.1f", d.decode_tps, 1), cell(v[9], 32, "%.0f", d.wall_tps, 1),
                cell(v[10], 32, "%.0f", d.sheet_wall_tps, 1), cell(v[11], 32, "%.0f%%", d.of_wall, 100),
                cell(v[12], 32, "%.0f%%", d.of_sheet_wall, 100));
    }
    fprintf(f, "\nMixture of experts (8 experts, 2 per token) against a dense layer of the same shape, decode time "
               "per layer per token (the fastest step with 2 layers minus the fastest with 1): ");
    if (r->moe_ran)
        fprintf(f, "dense %s ms, MoE %s ms, ratio %s; the bytes they read give %.2f, so the MoE layer runs at %s of "
                   "the dense layer's bandwidth.\n",
                cell(a, sizeof a, "%.3f", r->dense_layer_s, 1e3), cell(b, sizeof b, "%.3f", r->moe_layer_s, 1e3),
                cell(c, sizeof c, "%.2f", ratio(r->moe_layer_s, r->dense_layer_s), 1), r->moe_expected_ratio,
                cell(d_, sizeof d_, "%.0f%%", ratio(r->moe_expected_ratio, ratio(r->moe_layer_s, r->dense_layer_s)), 100));
    else
        fprintf(f, "not measured: %s.\n", r->moe_error[0] ? r->moe_error : "not run");
    fprintf(f, "\nWhole run: %.0f s.\n", r->wall_s);
    return fclose(f) == 0;
}

int bench_write(const bench_results *r, const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/bench.json", dir);
    int ok = write_json(r, path);
    if (ok) {
        snprintf(path, sizeof path, "%s/bench.md", dir);
        ok = write_md(r, path);
    }
    if (!ok)
        fprintf(stderr, "bench: cannot write %s\n", path);
    return ok;
}
