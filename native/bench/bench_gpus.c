/* bench_gpus.c — NVIDIA's datasheet figures for the GPUs the benchmark compares itself with.
 *
 * Sources (NVIDIA product datasheets; "dense" = the figure without structured sparsity, half the datasheet's
 * starred number):
 *   H100 Tensor Core GPU datasheet: H100 SXM 3.35 TB/s, FP16 tensor 1,979 TFLOPS sparse = 989 dense,
 *     INT8 tensor 3,958 TOPS sparse = 1,979 dense; H100 PCIe 2.0 TB/s, 1,513 / 756 TFLOPS, 3,026 / 1,513 TOPS.
 *   H200 Tensor Core GPU datasheet: H200 SXM 4.8 TB/s, the H100 SXM's tensor throughput (989 / 1,979 dense).
 *   A100 Tensor Core GPU datasheet: FP16 tensor 312 TFLOPS, INT8 624 TOPS (dense); 80GB SXM 2,039 GB/s,
 *     80GB PCIe 1,935 GB/s.
 * The order matters: the first entry whose match is in the device name wins, so the specific names come
 * before the generic ones ("H100 PCIe" before "H100"). A variant not listed (H100 NVL, H200 NVL, A100 40GB,
 * other boards) is left unknown rather than given another product's figures. */
#include "bench_gpus.h"

#include <stddef.h>
#include <string.h>

static const bench_gpu table[] = {
    {"H100 NVL", NULL, 0, 0, 0},
    {"H100 PCIe", "H100 PCIe", 2000, 756, 1513},
    {"H100", "H100 SXM", 3350, 989, 1979}, /* the SXM board reports itself as "NVIDIA H100 80GB HBM3" */
    {"H200 NVL", NULL, 0, 0, 0},
    {"H200", "H200 SXM", 4800, 989, 1979},
    {"A100-SXM4-80GB", "A100 80GB SXM", 2039, 312, 624},
    {"A100 80GB PCIe", "A100 80GB PCIe", 1935, 312, 624},
};

const bench_gpu *bench_gpu_find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strstr(name, table[i].match))
            return table[i].label ? &table[i] : NULL;
    return NULL;
}
