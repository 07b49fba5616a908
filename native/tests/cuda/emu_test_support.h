/* emu_test_support.h — what the emulator's own tests (test_emu_runtime.cpp, test_emu_async.cpp,
 * test_emu_checks.cpp) share: the failure counter and CHECK, the emulated device they all run on, a launch that
 * prints the library's message when it fails, and the main() that runs the one case named on the command line
 * (one case per process, so ctest names each; exit 2 for a usage error or an unknown case).
 *
 * C++ (the three link the emulator's kernels, emu_kernels.cu / emu_bad_kernels.cu, compiled as C++). The
 * kernel tests (test_cuda_*.c) have their own helpers, cuda_test_util.h, in C. */
#ifndef MST_EMU_TEST_SUPPORT_H
#define MST_EMU_TEST_SUPPORT_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device.h"
#include "mistral.h"

/* How many failed checks print their line: a broken kernel fails hundreds of element checks, and the first
 * few say what is wrong. A file may define it higher before including this header. */
#ifndef EMU_TEST_MAX_PRINTED
#define EMU_TEST_MAX_PRINTED 20
#endif

static int g_failures;
#define CHECK(cond, ...)                                                                                        \
    do {                                                                                                        \
        if (!(cond)) {                                                                                          \
            g_failures++;                                                                                       \
            if (g_failures <= EMU_TEST_MAX_PRINTED) {                                                           \
                printf("FAIL %s:%d: ", __FILE__, __LINE__);                                                     \
                printf(__VA_ARGS__);                                                                            \
                printf("\n");                                                                                   \
            }                                                                                                   \
        }                                                                                                       \
    } while (0)

/* The emulated device 0, open while a case runs. */
static mst_dev *g_dev;

/* mst_dev_launch on g_dev; a failure prints the kernel's name and the library's message (the caller checks
 * the status: for the negative tests a failure is the expected outcome). */
static inline mst_status emu_launch(const mst_kernel_ref *k, mst_dim3 grid, mst_dim3 block, uint32_t shared,
                                    void **args)
{
    mst_status st = mst_dev_launch(g_dev, k, grid, block, shared, args);
    if (st != MST_OK)
        printf("launch %s: %s\n", k->name, mst_last_error());
    return st;
}

struct emu_case {
    const char *name;
    void (*fn)(void);
};

/* main() of each emulator test: opens g_dev, runs the case named by argv[1], closes g_dev; "ok" and 0 when
 * every CHECK held. */
template <size_t N> static int emu_test_main(int argc, char **argv, const emu_case (&cases)[N])
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s <case>\n", argv[0]);
        return 2;
    }
    if (mst_dev_open(0, 1, &g_dev) != MST_OK) {
        printf("FAIL open: %s\n", mst_last_error());
        return 1;
    }
    int found = 0;
    for (const emu_case &k : cases)
        if (strcmp(argv[1], k.name) == 0) {
            k.fn();
            found = 1;
        }
    mst_dev_close(g_dev);
    if (!found) {
        fprintf(stderr, "unknown case %s\n", argv[1]);
        return 2;
    }
    if (g_failures) {
        printf("%d check(s) failed\n", g_failures);
        return 1;
    }
    printf("ok\n");
    return 0;
}

#endif
