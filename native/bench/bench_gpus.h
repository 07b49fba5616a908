/* bench_gpus.h — the datasheet limits of the GPUs the benchmark knows, found by the device's name. */
#ifndef MST_BENCH_GPUS_H
#define MST_BENCH_GPUS_H

typedef struct bench_gpu {
    const char *match;       /* a substring of the driver's device name */
    const char *label;       /* how the datasheet names the product */
    double bandwidth_gbs;    /* memory bandwidth, GB/s (10^9 bytes) */
    double f16_tflops;       /* dense FP16 tensor-core throughput (no sparsity), 10^12 FLOP/s */
    double int8_tops;        /* dense INT8 tensor-core throughput (no sparsity), 10^12 OP/s */
} bench_gpu;

/* The entry whose match is in name, or NULL when the GPU is not in the table (its ratios to the datasheet are
 * then left out; the ratios to the measured bandwidth remain). */
const bench_gpu *bench_gpu_find(const char *name);

#endif
