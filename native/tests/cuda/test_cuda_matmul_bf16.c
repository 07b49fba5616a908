/* test_cuda_matmul_bf16.c — mst_cuda_matmul with BF16 weights on the emulator against the CPU backend's arithmetic
 * for BF16 (cases and tolerances: matmul_runner.h). */
#include "matmul_runner.h"

int main(void)
{
    return mr_suite(MST_TYPE_BF16, "test_cuda_matmul_bf16");
}
