/* test_cuda_matmul_f16.c — mst_cuda_matmul with F16 weights on the emulator against the CPU backend's arithmetic
 * for F16 (cases and tolerances: matmul_runner.h). */
#include "matmul_runner.h"

int main(void)
{
    return mr_suite(MST_TYPE_F16, "test_cuda_matmul_f16");
}
