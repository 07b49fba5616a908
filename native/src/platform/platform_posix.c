/* platform_posix.c — platform.h on Linux (and, with the Linux-only parts answering "unknown", other POSIX
 * systems): sysconf, sched_getaffinity, the cgroup CPU quota, /proc/meminfo and /proc/cpuinfo, madvise. */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT, madvise */
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"
#include "platform.h"

size_t mst_os_page_size(void)
{
    const long page = sysconf(_SC_PAGESIZE);
    return page > 0 ? (size_t)page : 4096;
}

/* 2 MiB, the x86-64 huge page: transparent huge pages back only whole, aligned 2 MiB ranges. */
size_t mst_os_large_align(void)
{
#if defined(__linux__)
    return (size_t)2 << 20;
#else
    return 64;
#endif
}

static atomic_size_t g_large_in_use; /* bytes of the blocks mst_os_alloc_large holds now */

/* Decode streams every weight once per token; with 4 KiB pages the hardware prefetchers stop at every page
 * boundary and the page walks add up, so the block asks for huge pages (where THP is off the hint does nothing). */
void *mst_os_alloc_large(size_t align, size_t bytes)
{
    const size_t page = mst_os_page_size();
    if (align < page)
        align = page;
    if (bytes == 0 || bytes > SIZE_MAX - align)
        return NULL;
    bytes = (bytes + page - 1) & ~(page - 1);
    /* map align more than asked, then unmap the unaligned head and the tail: the block starts on the boundary */
    const size_t span = bytes + align;
    uint8_t *raw = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED)
        return NULL;
    uint8_t *p = (uint8_t *)(((uintptr_t)raw + align - 1) & ~(uintptr_t)(align - 1));
    const size_t head = (size_t)(p - raw), tail = span - head - bytes;
    if (head)
        (void)munmap(raw, head);
    if (tail)
        (void)munmap(p + bytes, tail);
#if defined(MADV_HUGEPAGE)
    (void)madvise(p, bytes, MADV_HUGEPAGE);
#endif
    atomic_fetch_add_explicit(&g_large_in_use, bytes, memory_order_relaxed);
    return p;
}

void mst_os_free_large(void *p, size_t bytes)
{
    if (!p)
        return;
    const size_t page = mst_os_page_size();
    bytes = (bytes + page - 1) & ~(page - 1);
    (void)munmap(p, bytes);
    atomic_fetch_sub_explicit(&g_large_in_use, bytes, memory_order_relaxed);
}

size_t mst_os_large_in_use(void)
{
    return atomic_load_explicit(&g_large_in_use, memory_order_relaxed);
}

/* A failure only costs memory, so it is ignored. */
void mst_os_drop_pages(const void *p, size_t n)
{
    const uintptr_t mask = (uintptr_t)mst_os_page_size() - 1;
    const uintptr_t start = ((uintptr_t)p + mask) & ~mask, end = ((uintptr_t)p + n) & ~mask;
    if (end > start)
        (void)madvise((void *)start, end - start, MADV_DONTNEED);
}

uint32_t mst_os_online_cpus(void)
{
    const long online = sysconf(_SC_NPROCESSORS_ONLN);
    return online < 1 ? 1u : (uint32_t)online;
}

uint32_t mst_os_affinity_cpus(void)
{
#if defined(CPU_COUNT)
    cpu_set_t mask;
    if (sched_getaffinity(0, sizeof mask, &mask) == 0 && CPU_COUNT(&mask) > 0)
        return (uint32_t)CPU_COUNT(&mask);
#endif
    return 0;
}

uint32_t mst_os_cpu_quota(void)
{
    return mst_cgroup_cpu_quota("/sys/fs/cgroup/cpu.max", "/sys/fs/cgroup/cpu/cpu.cfs_quota_us",
                                "/sys/fs/cgroup/cpu/cpu.cfs_period_us");
}

/* The value of "key : value" lines in a /proc file, or 0 when the file or key is missing. */
static int proc_value(const char *path, const char *key, char *out, size_t out_size)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char line[512];
    int found = 0;
    const size_t klen = strlen(key);
    while (!found && fgets(line, sizeof line, f)) {
        if (strncmp(line, key, klen) != 0)
            continue;
        const char *p = line + klen;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p != ':')
            continue;
        p++;
        while (*p == ' ' || *p == '\t')
            p++;
        size_t n = strcspn(p, "\n");
        if (n >= out_size)
            n = out_size - 1;
        memcpy(out, p, n);
        out[n] = '\0';
        found = 1;
    }
    fclose(f);
    return found;
}

uint64_t mst_os_total_memory(void)
{
    const long page = sysconf(_SC_PAGESIZE), pages = sysconf(_SC_PHYS_PAGES);
    return page > 0 && pages > 0 ? (uint64_t)pages * (uint64_t)page : 0;
}

/* MemAvailable counts the page cache the kernel would give back; free pages alone undercount it. */
uint64_t mst_os_available_memory(void)
{
    char avail[64];
    if (proc_value("/proc/meminfo", "MemAvailable", avail, sizeof avail))
        return strtoull(avail, NULL, 10) * 1024u; /* "12345 kB" */
#if defined(_SC_AVPHYS_PAGES)
    const long page = sysconf(_SC_PAGESIZE), av = sysconf(_SC_AVPHYS_PAGES);
    if (page > 0 && av > 0)
        return (uint64_t)av * (uint64_t)page;
#endif
    return 0;
}

int mst_os_cpu_name(char *out, size_t out_size)
{
    return out_size > 0 && proc_value("/proc/cpuinfo", "model name", out, out_size) && out[0];
}
