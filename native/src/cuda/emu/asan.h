/* asan.h — AddressSanitizer hooks the emulator needs when the build has ASan: fiber-switch annotations
 * (so ASan knows which stack is live) and stack unpoisoning (a reused fiber stack may hold stale redzones). */
#ifndef MST_CUDA_EMU_ASAN_H
#define MST_CUDA_EMU_ASAN_H

#if defined(__SANITIZE_ADDRESS__)
#define MST_EMU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MST_EMU_ASAN 1
#endif
#endif

#if defined(MST_EMU_ASAN)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

#endif
