/* emu_alloc.c — the emulator's device memory: exact-size host buffers, so that a kernel reading past the end
 * of one faults where it happens instead of reading a neighbour.
 *
 * With ASan the buffer is an ordinary heap block (ASan's redzone starts right after the last byte). Without
 * it, the buffer's end sits against a PROT_NONE page of its own mmap, so the start is as aligned as the size
 * is (a float array 4-aligned, a multiple of 16 bytes 16-aligned: enough for the kernels' scalar loads). A header at the mapping's start lets free find the mapping. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "emu.h"

#if defined(__SANITIZE_ADDRESS__)
#define EMU_ALLOC_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define EMU_ALLOC_ASAN 1
#endif
#endif

#if defined(EMU_ALLOC_ASAN)
void *mst_emu_alloc(size_t bytes)
{
    void *p = NULL;
    if (posix_memalign(&p, 256, bytes ? bytes : 1) != 0) /* cudaMalloc's alignment */
        return NULL;
    return p;
}

void mst_emu_free(void *p)
{
    free(p);
}
#else
#define HEADER 32u
#define MAGIC 0x6d73745f656d7541ull /* "Aume_tsm" */

typedef struct header {
    uint64_t magic;
    size_t map_len;
} header;

static size_t page(void)
{
    long p = sysconf(_SC_PAGESIZE);
    return p > 0 ? (size_t)p : 4096;
}

void *mst_emu_alloc(size_t bytes)
{
    size_t pg = page();
    if (bytes > SIZE_MAX - HEADER - 2 * pg)
        return NULL;
    size_t data_len = (bytes + HEADER + pg - 1) / pg * pg;
    size_t map_len = data_len + pg;
    unsigned char *m = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    if (mprotect(m + data_len, pg, PROT_NONE) != 0) {
        munmap(m, map_len);
        return NULL;
    }
    /* data_len is a page multiple, so p is as aligned as the size is: a multiple of 4 gives 4-aligned */
    unsigned char *p = m + data_len - bytes;
    header h = {MAGIC, map_len};
    memcpy(m, &h, sizeof h);
    return p;
}

void mst_emu_free(void *p)
{
    if (!p)
        return;
    size_t pg = page();
    unsigned char *m = (unsigned char *)(((uintptr_t)p - HEADER) / pg * pg);
    header h;
    memcpy(&h, m, sizeof h);
    if (h.magic != MAGIC)
        return; /* not ours: leave it rather than unmap something else */
    h.magic = 0;
    memcpy(m, &h, sizeof h);
    munmap(m, h.map_len);
}
#endif
