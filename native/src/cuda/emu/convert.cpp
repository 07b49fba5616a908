/* convert.cpp — f16 conversions of the host pass: the CPU backend's own (cpu/quant.c), so that the emulated
 * kernels round exactly as the CPU reference does; both round to nearest even like cvt.rn.f16.f32. */
#include "emu.h"

extern "C" float mst_fp16_to_fp32(uint16_t h);
extern "C" uint16_t mst_fp32_to_fp16(float f);

float mst_emu_h2f(uint16_t h)
{
    return mst_fp16_to_fp32(h);
}

uint16_t mst_emu_f2h(float f)
{
    return mst_fp32_to_fp16(f);
}
