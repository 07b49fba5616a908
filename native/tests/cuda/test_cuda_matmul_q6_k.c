/* test_cuda_matmul_q6_k.c — mst_cuda_matmul with Q6_K weights on the emulator against the CPU backend's arithmetic
 * for Q6_K (cases and tolerances: matmul_runner.h). */
#include "matmul_runner.h"

int main(void)
{
    return mr_suite(MST_TYPE_Q6_K, "test_cuda_matmul_q6_k");
}
