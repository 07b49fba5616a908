/* bench_report.h — what the CUDA benchmark measured, and the two files it writes from it: bench.json (every
 * figure, and its ratio to the limit it is measured against) and bench.md (the same as tables). */
#ifndef MST_BENCH_REPORT_H
#define MST_BENCH_REPORT_H

#include <stdint.h>

#include "bench_gpus.h"

enum { BENCH_MAX_TYPES = 3 };

typedef struct bench_type_result {
    char type[16];                  /* "Q4_0", "Q8_0", "Q4_K_M" */
    int ran;                        /* 1: measured; 0: error says why not */
    char error[320];
    double weight_bytes;            /* the model's tensors as uploaded */
    double decode_bytes_per_token;  /* weights a decode step reads, and its KV cache (bench_model.h) */
    double prefill_flops;           /* of one prefill of prefill_tokens */
    uint32_t prefill_tokens, decode_tokens;
    double load_first_s;            /* mst_model_create_with, the first in this process (driver start, cold JIT) */
    double load_second_s;           /* the same again (the driver's JIT cache) */
    double first_token_s;           /* the first mst_decode of a fresh context: one token */
    double prefill_s;               /* median of the prefill runs */
    double decode_s;                /* decode_tokens single-token steps, logits read back each step */
} bench_type_result;

typedef struct bench_results {
    char started_utc[32];
    int emulated, tiny;
    uint32_t layers;
    char device[128];
    int compute_major, compute_minor, driver_version, multiprocessors;
    uint64_t total_memory;
    const bench_gpu *gpu;           /* datasheet limits, or NULL: not in bench_gpus.c */
    double copy_gbs;                /* device-to-device copy, bytes read + written per second (0: not measured) */
    double add_gbs;                 /* the library's add kernel, x += y: 2 reads + 1 write per element */
    bench_type_result types[BENCH_MAX_TYPES];
    int n_types;
    int moe_ran;
    char moe_error[320];
    double dense_layer_s, moe_layer_s; /* one layer's decode time per token: fastest step, 2 layers - 1 */
    double moe_expected_ratio;         /* bytes one token reads in a MoE layer / in a dense layer */
    double wall_s;                     /* the whole run so far */
} bench_results;

/* The measured bandwidth the ratios divide by: the larger of the two probes (GB/s), 0 when not measured. */
double bench_measured_gbs(const bench_results *r);
/* Writes dir/bench.json and dir/bench.md (replacing them); 0 with a message on stderr when a file cannot be
 * written. Called after every section, so a run stopped early leaves what it had measured. */
int bench_write(const bench_results *r, const char *dir);

#endif
