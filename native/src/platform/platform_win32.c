/* platform_win32.c — platform.h on Windows: GetSystemInfo, _aligned_malloc, the process affinity mask and its
 * job object's CPU rate cap, GlobalMemoryStatusEx, the registry's processor name. Only system DLLs (kernel32,
 * advapi32, msvcrt) are used, so mistral.dll needs nothing installed beside it. */
#include <stdatomic.h>
#include <windows.h>

#include <malloc.h>
#include <stdio.h>

#include "platform.h"

size_t mst_os_page_size(void)
{
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    return si.dwPageSize ? (size_t)si.dwPageSize : 4096;
}

/* Large pages on Windows need the "Lock pages in memory" privilege, which accounts do not have by default, and
 * are then never paged out: not worth asking for here, so a cache line is enough. */
size_t mst_os_large_align(void)
{
    return 64;
}

/* The C runtime has no aligned_alloc (free could not release it); _aligned_malloc pairs with _aligned_free. */
static atomic_size_t g_large_in_use; /* bytes of the blocks mst_os_alloc_large holds now */

void *mst_os_alloc_large(size_t align, size_t bytes)
{
    void *p = _aligned_malloc(bytes, align);
    if (p)
        atomic_fetch_add_explicit(&g_large_in_use, bytes, memory_order_relaxed);
    return p;
}

void mst_os_free_large(void *p, size_t bytes)
{
    if (!p)
        return;
    _aligned_free(p);
    atomic_fetch_sub_explicit(&g_large_in_use, bytes, memory_order_relaxed);
}

size_t mst_os_large_in_use(void)
{
    return atomic_load_explicit(&g_large_in_use, memory_order_relaxed);
}

/* VirtualUnlock on pages that are not locked takes them out of the working set (it then reports
 * ERROR_NOT_LOCKED, which is the expected answer): the file mapping's pages go back to the standby list,
 * as MADV_DONTNEED drops them on Linux. A failure only costs memory, so it is ignored. */
void mst_os_drop_pages(const void *p, size_t n)
{
    const uintptr_t mask = (uintptr_t)mst_os_page_size() - 1;
    const uintptr_t start = ((uintptr_t)p + mask) & ~mask, end = ((uintptr_t)p + n) & ~mask;
    if (end > start)
        (void)VirtualUnlock((void *)start, end - start);
}

uint32_t mst_os_online_cpus(void)
{
    const DWORD n = GetActiveProcessorCount(ALL_PROCESSOR_GROUPS);
    return n ? (uint32_t)n : 1u;
}

/* The mask covers the process's processor group (up to 64 CPUs): threads start in that group. */
uint32_t mst_os_affinity_cpus(void)
{
    DWORD_PTR process = 0, system = 0;
    if (!GetProcessAffinityMask(GetCurrentProcess(), &process, &system))
        return 0;
    uint32_t n = 0;
    for (; process; process &= process - 1)
        n++;
    return n;
}

/* A job object's hard cap (what a Windows container's --cpus sets): CpuRate is the share of all the machine's
 * CPU cycles in hundredths of a percent. A weight-based or soft limit caps nothing. */
uint32_t mst_os_cpu_quota(void)
{
    JOBOBJECT_CPU_RATE_CONTROL_INFORMATION rate = {0};
    if (!QueryInformationJobObject(NULL, JobObjectCpuRateControlInformation, &rate, sizeof rate, NULL))
        return 0; /* not in a job, or no rate control */
    const DWORD wanted = JOB_OBJECT_CPU_RATE_CONTROL_ENABLE | JOB_OBJECT_CPU_RATE_CONTROL_HARD_CAP;
    if ((rate.ControlFlags & wanted) != wanted || rate.CpuRate == 0)
        return 0;
    const uint64_t cycles = (uint64_t)rate.CpuRate * mst_os_online_cpus();
    return (uint32_t)((cycles + 9999) / 10000);
}

uint64_t mst_os_total_memory(void)
{
    MEMORYSTATUSEX ms = {.dwLength = sizeof ms};
    return GlobalMemoryStatusEx(&ms) ? (uint64_t)ms.ullTotalPhys : 0;
}

/* ullAvailPhys counts the standby list (cached file pages Windows gives back), like Linux's MemAvailable. */
uint64_t mst_os_available_memory(void)
{
    MEMORYSTATUSEX ms = {.dwLength = sizeof ms};
    return GlobalMemoryStatusEx(&ms) ? (uint64_t)ms.ullAvailPhys : 0;
}

int mst_os_cpu_name(char *out, size_t out_size)
{
    char name[256];
    DWORD size = sizeof name;
    if (out_size == 0 ||
        RegGetValueA(HKEY_LOCAL_MACHINE, "HARDWARE\\DESCRIPTION\\System\\CentralProcessor\\0", "ProcessorNameString",
                     RRF_RT_REG_SZ, NULL, name, &size) != ERROR_SUCCESS)
        return 0;
    const char *p = name;
    while (*p == ' ') /* some CPUs pad the brand string on the left */
        p++;
    if (!*p)
        return 0;
    snprintf(out, out_size, "%s", p);
    return 1;
}
