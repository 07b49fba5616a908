/* test_cuda_matmul_mma_q6_k.c — the tensor-core prefill GEMM for Q6_K weights (matmul_mma_*.cu) on the emulator
 * against the CPU backend's arithmetic and the dp4a GEMM it replaces (cases and tolerances: matmul_mma_runner.h). */
#include "matmul_mma_runner.h"

int main(void)
{
    return mm_suite(MST_TYPE_Q6_K, "test_cuda_matmul_mma_q6_k");
}
