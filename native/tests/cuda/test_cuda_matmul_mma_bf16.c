/* test_cuda_matmul_mma_bf16.c — the tensor-core prefill GEMM for BF16 weights (matmul_mma_bf16.cu) on the emulator
 * against the CPU backend's arithmetic and the float GEMM it replaces (cases and tolerances: matmul_mma_runner.h). */
#include "matmul_mma_runner.h"

int main(void)
{
    return mm_suite(MST_TYPE_BF16, "test_cuda_matmul_mma_bf16");
}
