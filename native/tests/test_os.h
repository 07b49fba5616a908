/* test_os.h — what the native tests ask of the OS beyond standard C, one implementation per OS
 * (os/test_os_posix.c, os/test_os_win32.c, chosen by CMake like the library's platform.h). These are the tests'
 * own oracles, written apart from the library's platform layer so a test never checks the library against itself. */
#ifndef MST_TEST_OS_H
#define MST_TEST_OS_H

#include <stddef.h>
#include <stdint.h>

/* The page size the OS maps memory in. */
size_t test_os_page_size(void);
/* The bytes malloc actually handed out for p (its block, rounded up to its chunk). */
size_t test_os_block_size(void *p);
/* Bytes the C library's malloc holds for the program, or 0 where that cannot be read (callers then check that
 * a large malloc moves it, and skip heap comparisons when it does not). */
uint64_t test_os_heap_in_use(void);

/* CPUs in this process's affinity mask, or -1 when it cannot be read. */
int test_os_affinity_count(void);
/* Pins the process to the first CPU of its mask (as `taskset -c N`), saving the mask; returns that CPU's index,
 * or -1. test_os_restore_affinity puts the saved mask back. */
int test_os_pin_to_one_cpu(void);
void test_os_restore_affinity(void);

/* A new empty directory under the system's temporary directory, its path in out; 0 on failure. */
int test_os_make_temp_dir(char *out, size_t out_size);
void test_os_remove_dir(const char *path);

#endif
