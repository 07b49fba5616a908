/* emu_alloc.c — the emulator's device memory: exact-size host buffers, so that a kernel reading past the end
 * of one faults where it happens instead of reading a neighbour.
 *
 * With ASan the buffer is an ordinary heap block (ASan's redzone starts right after the last byte). Without
 * it, the buffer's end sits against a PROT_NONE page of its own mmap, so the start is as aligned as the size
 * is (a float array 4-aligned, a multiple of 16 bytes 16-aligned: enough for the kernels' scalar loads). A header at the mapping's start lets free find the mapping.
 * Either way every live buffer is also listed (start and size), so cp.async can check its source
 * (mst_emu_alloc_find). */
#define _GNU_SOURCE
#include <pthread.h>
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

/* ---- the live buffers, sorted by start (for mst_emu_alloc_find; device.c may allocate from any thread) ---- */
typedef struct live_buf {
    const unsigned char *base;
    size_t bytes;
} live_buf;
static pthread_mutex_t g_live_lock = PTHREAD_MUTEX_INITIALIZER;
static live_buf *g_live;
static size_t g_live_count, g_live_cap;

/* index of the first entry whose start is > p */
static size_t live_upper(const unsigned char *p)
{
    size_t lo = 0, hi = g_live_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if ((uintptr_t)g_live[mid].base <= (uintptr_t)p)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int live_add(const void *p, size_t bytes)
{
    pthread_mutex_lock(&g_live_lock);
    int ok = 1;
    if (g_live_count == g_live_cap) {
        size_t cap = g_live_cap ? 2 * g_live_cap : 64;
        live_buf *n = realloc(g_live, cap * sizeof *n);
        if (n) {
            g_live = n;
            g_live_cap = cap;
        } else {
            ok = 0;
        }
    }
    if (ok) {
        size_t i = live_upper(p);
        memmove(g_live + i + 1, g_live + i, (g_live_count - i) * sizeof *g_live);
        g_live[i].base = p;
        g_live[i].bytes = bytes;
        g_live_count++;
    }
    pthread_mutex_unlock(&g_live_lock);
    return ok;
}

static void live_remove(const void *p)
{
    pthread_mutex_lock(&g_live_lock);
    size_t i = live_upper(p);
    if (i > 0 && g_live[i - 1].base == p) {
        memmove(g_live + i - 1, g_live + i, (g_live_count - i) * sizeof *g_live);
        g_live_count--;
    }
    pthread_mutex_unlock(&g_live_lock);
}

int mst_emu_alloc_find(const void *p, const unsigned char **base, size_t *bytes)
{
    pthread_mutex_lock(&g_live_lock);
    size_t i = live_upper(p);
    int found = i > 0;
    if (found) {
        *base = g_live[i - 1].base;
        *bytes = g_live[i - 1].bytes;
    }
    pthread_mutex_unlock(&g_live_lock);
    return found;
}

#if defined(EMU_ALLOC_ASAN)
void *mst_emu_alloc(size_t bytes)
{
    void *p = NULL;
    if (posix_memalign(&p, 256, bytes ? bytes : 1) != 0) /* cudaMalloc's alignment */
        return NULL;
    if (!live_add(p, bytes)) {
        free(p);
        return NULL;
    }
    return p;
}

void mst_emu_free(void *p)
{
    if (p)
        live_remove(p);
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
    if (!live_add(p, bytes)) {
        munmap(m, map_len);
        return NULL;
    }
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
    live_remove(p);
    h.magic = 0;
    memcpy(m, &h, sizeof h);
    munmap(m, h.map_len);
}
#endif
