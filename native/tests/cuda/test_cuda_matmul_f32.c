/* test_cuda_matmul_f32.c — mst_cuda_matmul with F32 weights on the emulator against the CPU backend's arithmetic
 * for F32 (cases and tolerances: matmul_runner.h). */
#include "matmul_runner.h"

int main(void)
{
    return mr_suite(MST_TYPE_F32, "test_cuda_matmul_f32");
}
