/* test_os_win32.c — test_os.h on Windows: _msize, Get/SetProcessAffinityMask, the temporary directory. */
#include <windows.h>

#include <malloc.h>
#include <stdio.h>

#include "test_os.h"

size_t test_os_page_size(void)
{
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    return si.dwPageSize ? (size_t)si.dwPageSize : 4096;
}

size_t test_os_block_size(void *p)
{
    return _msize(p);
}

/* The C runtime has no cheap total of its heap (walking it is slow and, under wine, incomplete): "unknown". */
uint64_t test_os_heap_in_use(void)
{
    return 0;
}

static DWORD_PTR g_saved;

int test_os_affinity_count(void)
{
    DWORD_PTR process = 0, system = 0;
    if (!GetProcessAffinityMask(GetCurrentProcess(), &process, &system))
        return -1;
    int n = 0;
    for (; process; process &= process - 1)
        n++;
    return n;
}

int test_os_pin_to_one_cpu(void)
{
    DWORD_PTR system = 0;
    if (!GetProcessAffinityMask(GetCurrentProcess(), &g_saved, &system) || g_saved == 0)
        return -1;
    int first = 0;
    while (!(g_saved & ((DWORD_PTR)1 << first)))
        first++;
    return SetProcessAffinityMask(GetCurrentProcess(), (DWORD_PTR)1 << first) ? first : -1;
}

void test_os_restore_affinity(void)
{
    SetProcessAffinityMask(GetCurrentProcess(), g_saved);
}

int test_os_make_temp_dir(char *out, size_t out_size)
{
    char base[MAX_PATH];
    const DWORD n = GetTempPathA(sizeof base, base);
    if (n == 0 || n >= sizeof base)
        return 0;
    for (unsigned attempt = 0; attempt < 100; attempt++) {
        if (snprintf(out, out_size, "%smst_test%lu_%u", base, (unsigned long)GetCurrentProcessId(), attempt) >=
            (int)out_size)
            return 0;
        if (CreateDirectoryA(out, NULL))
            return 1;
    }
    return 0;
}

void test_os_remove_dir(const char *path)
{
    RemoveDirectoryA(path);
}
