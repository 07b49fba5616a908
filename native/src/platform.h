/* platform.h — the little the core asks of the operating system, one implementation per OS:
 * platform/platform_posix.c (Linux and other POSIX systems) or platform/platform_win32.c, chosen by CMake for
 * the target. Threads are not here: the core uses pthreads directly, which on Windows is mingw-w64's winpthreads,
 * linked into mistral.dll. Nothing here fails loudly: 0 means "unknown", and a hint the OS lacks does nothing. */
#ifndef MST_PLATFORM_H
#define MST_PLATFORM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The virtual-memory page in bytes (4096 when the OS does not say). */
size_t mst_os_page_size(void);

/* The alignment for a large long-lived block (the repacked weights) that lets the OS back it with huge pages
 * (2 MiB on Linux), or a cache line where there is no such hint. A power of two. */
size_t mst_os_large_align(void);
/* `bytes` (a multiple of `align`, which is a power of two) on an `align` boundary, asked to be backed by huge
 * pages where the OS takes the hint; NULL when out of memory. Freed only by mst_os_free_large with the same
 * `bytes`. On POSIX systems the block is a mapping of its own, not malloc's: the huge-page hint then covers
 * exactly this block (a malloc arena would hand back ranges advised for an earlier model), and freeing it
 * returns the memory to the OS at once. */
void *mst_os_alloc_large(size_t align, size_t bytes);
void mst_os_free_large(void *p, size_t bytes);
/* Bytes held now by mst_os_alloc_large blocks (which malloc's statistics do not see): for tests that weigh
 * what the core allocates. */
size_t mst_os_large_in_use(void);
/* Gives back the whole pages inside [p, p + n) of a read-only file mapping: they leave the process's resident
 * memory and are read from the file again if touched. Pages shared with neighbours at the edges stay. */
void mst_os_drop_pages(const void *p, size_t n);

/* CPUs online on the machine (at least 1). */
uint32_t mst_os_online_cpus(void);
/* CPUs in this process's affinity mask, or 0 when unknown. */
uint32_t mst_os_affinity_cpus(void);
/* A CPU-time cap imposed on this process, as whole CPUs rounded up (a cgroup quota on Linux, a job object's hard
 * cap on Windows), or 0 for none. */
uint32_t mst_os_cpu_quota(void);

/* Physical memory, and what is available without swapping, in bytes; 0 when unknown. */
uint64_t mst_os_total_memory(void);
uint64_t mst_os_available_memory(void);
/* The CPU's model name, NUL-terminated in out; returns 0 when unknown. */
int mst_os_cpu_name(char *out, size_t out_size);

#ifdef __cplusplus
}
#endif

#endif
