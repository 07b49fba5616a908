/* test_os_posix.c — test_os.h on Linux (glibc): malloc_usable_size, mallinfo2, sched_{get,set}affinity, mkdtemp. */
#define _GNU_SOURCE
#include <malloc.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "test_os.h"

size_t test_os_page_size(void)
{
    const long page = sysconf(_SC_PAGESIZE);
    return page > 0 ? (size_t)page : 4096;
}

size_t test_os_block_size(void *p)
{
    return malloc_usable_size(p);
}

/* In use in glibc's arenas, and mapped for large blocks (ASan and valgrind replace malloc: it then stays put). */
uint64_t test_os_heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();
    return (uint64_t)mi.uordblks + (uint64_t)mi.hblkhd;
}

static cpu_set_t g_saved;

int test_os_affinity_count(void)
{
    cpu_set_t mask;
    return sched_getaffinity(0, sizeof mask, &mask) == 0 ? CPU_COUNT(&mask) : -1;
}

int test_os_pin_to_one_cpu(void)
{
    if (sched_getaffinity(0, sizeof g_saved, &g_saved) != 0 || CPU_COUNT(&g_saved) == 0)
        return -1;
    int first = 0;
    while (!CPU_ISSET(first, &g_saved))
        first++;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(first, &one);
    return sched_setaffinity(0, sizeof one, &one) == 0 ? first : -1;
}

void test_os_restore_affinity(void)
{
    sched_setaffinity(0, sizeof g_saved, &g_saved);
}

int test_os_make_temp_dir(char *out, size_t out_size)
{
    return snprintf(out, out_size, "/tmp/mst_testXXXXXX") < (int)out_size && mkdtemp(out) != NULL;
}

void test_os_remove_dir(const char *path)
{
    rmdir(path);
}
