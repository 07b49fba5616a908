/* test_cuda_matmul_q4_0.c — mst_cuda_matmul with Q4_0 weights on the emulator against the CPU backend's arithmetic
 * for Q4_0 (cases and tolerances: matmul_runner.h). */
#include "matmul_runner.h"

int main(void)
{
    return mr_suite(MST_TYPE_Q4_0, "test_cuda_matmul_q4_0");
}
