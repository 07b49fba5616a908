/* shared.cpp — shared memory for the emulator: storage per static MST_SHARED array (one per declaration
 * site, refilled with 0xff at every block start) and the launch's dynamic buffer, each with a shadow record
 * per byte for the race check.
 *
 * The race check (CUDA racecheck's rule): two accesses to one byte by different threads, at least one a
 * write, race unless a barrier orders them: a completed mst_syncthreads (the block epoch has advanced), or,
 * for two threads of one warp, a completed mst_syncwarp or warp collective (the warp's epoch has advanced).
 * Each byte keeps its last write and the reads since, which is enough: an access ordered after the last
 * write is ordered after every earlier one, and a read that replaces an older read record is ordered after
 * it, so whatever races with the dropped record races with the kept one too.
 *
 * ldmatrix's reads count as reads by the lane that receives the bytes (not the one that gave the address).
 * A cp.async destination is written twice in this check: at issue (it must not race with what came before)
 * and when it lands, at the issuing thread's wait (what comes after must be ordered after that: the issuing
 * thread itself, or others after a barrier). In between its bytes are marked pending, and any access to them,
 * by any thread, fails: the hardware may write them at any moment until the wait. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched.h"

enum { READ_ONE, READ_SOME_ONE_WARP, READ_SOME_WARPS };

struct emu_shadow {
    uint32_t w_epoch, w_warp_epoch, w_tid;      /* last write */
    uint32_t r_epoch, r_warp_epoch, r_tid, r_mode; /* reads since (r_epoch 0: none); r_warp_epoch the latest */
    uint32_t pending;                              /* 1 + the thread whose cp.async will land here; 0: none */
};

struct emu_shared_entry {
    const mst_emu_site *site;
    unsigned char *data;
    emu_shadow *shadow;
    uint64_t bytes;
    uint64_t align; /* of the declaration: the device places the array at a multiple of it, no more */
};

#define POISON 0xff

static mst_emu_shared_mem alloc_mem(uint64_t bytes)
{
    mst_emu_shared_mem m = {NULL, NULL, bytes};
    uint64_t rounded = bytes ? (bytes + 15) & ~(uint64_t)15 : 16; /* aligned_alloc wants a multiple */
    m.data = (unsigned char *)aligned_alloc(16, rounded);
    m.shadow = calloc(bytes ? bytes : 1, sizeof(emu_shadow));
    if (m.data)
        memset(m.data, POISON, bytes);
    return m;
}

mst_status emu_shared_launch_init(emu_state *s)
{
    s->dyn = alloc_mem(s->shared_bytes);
    if (!s->dyn.data || !s->dyn.shadow) {
        snprintf(s->msg, s->msg_len, "SIMT emulator: launch of %s: no memory for %u bytes of shared memory",
                 s->kernel->name, s->shared_bytes);
        return MST_ERR_OUT_OF_MEMORY;
    }
    return MST_OK;
}

void emu_shared_release(emu_state *s)
{
    for (uint32_t i = 0; i < s->shared_count; i++) {
        free(s->shared[i].data);
        free(s->shared[i].shadow);
    }
    free(s->shared);
    free(s->dyn.data);
    free(s->dyn.shadow);
    s->shared = NULL;
    s->shared_count = s->shared_cap = 0;
}

void emu_shared_block_start(emu_state *s)
{
    /* no shadow reset: the block epoch has advanced, which orders every older record */
    for (uint32_t i = 0; i < s->shared_count; i++)
        memset(s->shared[i].data, POISON, s->shared[i].bytes);
    memset(s->dyn.data, POISON, s->dyn.bytes);
}

mst_emu_shared_mem mst_emu_shared_static(const mst_emu_site *site, uint64_t bytes, uint64_t align)
{
    emu_state *s = g_emu;
    if (!s || !s->cur)
        emu_fail("MST_SHARED %s used outside a kernel launch", site->name);
    for (uint32_t i = 0; i < s->shared_count; i++)
        if (s->shared[i].site == site) {
            mst_emu_shared_mem m = {s->shared[i].data, s->shared[i].shadow, s->shared[i].bytes};
            return m;
        }
    /* alloc_mem aligns to 16, the most any scalar needs; the declared alignment is kept for ldmatrix and
     * cp.async, whose addresses must be 16-aligned on the device, not just here */
    uint64_t total = s->shared_bytes;
    for (uint32_t i = 0; i < s->shared_count; i++)
        total += s->shared[i].bytes;
    if (total + bytes > 227u * 1024u)
        emu_fail("MST_SHARED %s (%s:%d): %llu bytes of static shared memory on top of %llu more than the "
                 "227 KiB a block may have",
                 site->name, site->file, site->line, (unsigned long long)bytes, (unsigned long long)total);
    if (s->shared_count == s->shared_cap) {
        uint32_t cap = s->shared_cap ? 2 * s->shared_cap : 8;
        emu_shared_entry *e = (emu_shared_entry *)realloc(s->shared, cap * sizeof *e);
        if (!e)
            emu_fail("no memory for shared array %s", site->name);
        s->shared = e;
        s->shared_cap = cap;
    }
    mst_emu_shared_mem m = alloc_mem(bytes);
    if (!m.data || !m.shadow) {
        free(m.data);
        free(m.shadow);
        emu_fail("no memory for shared array %s (%llu bytes)", site->name, (unsigned long long)bytes);
    }
    emu_shared_entry e = {site, m.data, (emu_shadow *)m.shadow, bytes, align};
    s->shared[s->shared_count++] = e;
    return m;
}

mst_emu_shared_mem mst_emu_shared_dynamic(void)
{
    emu_state *s = g_emu;
    if (!s)
        emu_fail("MST_SHARED_DYN used outside a kernel launch");
    return s->dyn;
}

void mst_emu_shared_oob(const mst_emu_site *site, int64_t index, uint64_t count)
{
    emu_fail("shared memory index out of bounds: %s[%lld] (declared at %s:%d with %llu elements)", site->name,
             (long long)index, site->file, site->line, (unsigned long long)count);
}

/* Where an access falls, for messages: an MST_SHARED element (site, index), or a raw byte (span). */
struct emu_loc {
    const mst_emu_site *site;
    uint64_t index;
    const emu_shared_span *span; /* non-NULL: a raw access at span->data + offset */
    uint64_t offset;
};

static void loc_str(const emu_loc &l, uint32_t byte, char *buf, size_t n)
{
    if (l.span)
        emu_shared_describe(l.span, l.offset + byte, buf, n);
    else
        snprintf(buf, n, "%s[%llu] (declared at %s:%d)", l.site->name, (unsigned long long)l.index, l.site->file,
                 l.site->line);
}

void emu_shared_describe(const emu_shared_span *span, uint64_t offset, char *buf, size_t n)
{
    if (span->site)
        snprintf(buf, n, "byte %llu of %s (declared at %s:%d)", (unsigned long long)offset, span->site->name,
                 span->site->file, span->site->line);
    else
        snprintf(buf, n, "byte %llu of the dynamic shared memory", (unsigned long long)offset);
}

[[noreturn]] static void race(const emu_loc &l, uint32_t byte, uint32_t t, int how, const char *what, uint32_t other,
                              int several)
{
    char who[48], where[200];
    emu_tid_str(other, who, sizeof who);
    loc_str(l, byte, where, sizeof where);
    const char *act = how == EMU_ACCESS_READ ? "reads" : how == EMU_ACCESS_WRITE ? "writes" : "cp.async writes";
    emu_fail_as(&g_emu->threads[t],
                "shared-memory race on %s: this thread %s what thread %s%s %s, with no barrier between them "
                "(mst_syncthreads; within one warp also mst_syncwarp or a warp collective)",
                where, act, who, several ? " (and others)" : "", what);
}

/* The data byte a shadow record stands for (messages only). */
static const unsigned char *data_of(const emu_shadow *rec)
{
    emu_state *s = g_emu;
    for (uint32_t i = 0; i < s->shared_count; i++)
        if (rec >= s->shared[i].shadow && rec < s->shared[i].shadow + s->shared[i].bytes)
            return s->shared[i].data + (rec - s->shared[i].shadow);
    return s->dyn.data + (rec - (const emu_shadow *)s->dyn.shadow);
}

[[noreturn]] static void pending(const emu_loc &l, uint32_t byte, const emu_shadow *rec, uint32_t t, int how)
{
    emu_state *s = g_emu;
    const emu_thread *issuer = &s->threads[rec->pending - 1];
    const char *file = "?";
    int line = 0, uncommitted = 0;
    emu_cp_async_where(issuer, data_of(rec), &file, &line, &uncommitted);
    char who[64], where[200];
    if (issuer->linear == t)
        snprintf(who, sizeof who, "this thread");
    else {
        char tid[48];
        emu_tid_str(issuer->linear, tid, sizeof tid);
        snprintf(who, sizeof who, "thread %s", tid);
    }
    loc_str(l, byte, where, sizeof where);
    const char *what = how == EMU_ACCESS_READ    ? "read of a pending cp.async destination before cp.async.wait_group"
                       : how == EMU_ACCESS_WRITE ? "write to a pending cp.async destination before cp.async.wait_group"
                                                 : "cp.async to a destination another cp.async has not yet written";
    /* the hint first: messages are cut at a few hundred characters, and the paths are long */
    emu_fail_as(&s->threads[t], "%s (%s): %s, which the cp.async %s issued at %s:%d may still write", what,
                uncommitted ? "that copy is not committed yet, and a wait completes committed groups only: "
                              "mst_cp_async_commit first"
                            : "a copy lands at its issuer's wait_group / wait_all; other threads read it after a "
                              "barrier that follows the wait",
                where, who, file, line);
}

/* The race check for n bytes from rec on, by thread t. */
static void access(emu_shadow *rec, uint32_t n, uint32_t t, int how, const emu_loc &l)
{
    emu_state *s = g_emu;
    const uint32_t warp = t / MST_EMU_WARP;
    const uint32_t B = s->epoch, W = s->warps[warp].epoch;
    const int write = how != EMU_ACCESS_READ;
    for (uint32_t b = 0; b < n; b++, rec++) {
        if (rec->pending && how != EMU_ACCESS_ASYNC_LAND)
            pending(l, b, rec, t, how);
        /* the last write must be this thread's, or ordered before this access */
        if (rec->w_epoch == B && rec->w_tid != t && !(rec->w_tid / MST_EMU_WARP == warp && rec->w_warp_epoch < W))
            race(l, b, t, how, "wrote", rec->w_tid, 0);
        const int reads_now = rec->r_epoch == B;
        const uint32_t r_warp = rec->r_tid / MST_EMU_WARP;
        /* are all recorded reads ordered before this access (or this thread's own)? */
        int ordered = !reads_now;
        if (!ordered) {
            if (rec->r_mode == READ_ONE)
                ordered = rec->r_tid == t || (r_warp == warp && rec->r_warp_epoch < W);
            else if (rec->r_mode == READ_SOME_ONE_WARP)
                ordered = r_warp == warp && rec->r_warp_epoch < W;
        }
        if (write) {
            if (!ordered)
                race(l, b, t, how, "read", rec->r_tid, rec->r_mode != READ_ONE);
            rec->w_epoch = B;
            rec->w_warp_epoch = W;
            rec->w_tid = t;
            rec->r_epoch = 0;
            rec->pending = how == EMU_ACCESS_ASYNC_ISSUE ? t + 1 : 0;
        } else if (ordered) {
            rec->r_epoch = B;
            rec->r_warp_epoch = W;
            rec->r_tid = t;
            rec->r_mode = READ_ONE;
        } else {
            /* concurrent reads: remember whether they all come from one warp */
            rec->r_mode = r_warp == warp && rec->r_mode != READ_SOME_WARPS ? READ_SOME_ONE_WARP : READ_SOME_WARPS;
            rec->r_warp_epoch = W;
        }
    }
}

void mst_emu_shared_access(void *shadow, const mst_emu_site *site, uint64_t index, uint32_t size, int write)
{
    emu_loc l = {site, index, NULL, 0};
    access((emu_shadow *)shadow + index * size, size, g_emu->cur->linear,
           write ? EMU_ACCESS_WRITE : EMU_ACCESS_READ, l);
}

void emu_shared_access_raw(const emu_shared_span *span, uint64_t offset, uint32_t n, const emu_thread *who, int how)
{
    emu_loc l = {span->site, 0, span, offset};
    access(span->shadow + offset, n, who->linear, how, l);
}

int emu_shared_find(const void *p, uint64_t n, emu_shared_span *span)
{
    emu_state *s = g_emu;
    const unsigned char *c = (const unsigned char *)p;
    memset(span, 0, sizeof *span);
    for (uint32_t i = 0; i <= s->shared_count; i++) {
        const int dyn = i == s->shared_count;
        unsigned char *data = dyn ? s->dyn.data : s->shared[i].data;
        uint64_t bytes = dyn ? s->dyn.bytes : s->shared[i].bytes;
        /* compare as integers: p may point anywhere */
        if ((uintptr_t)c < (uintptr_t)data || (uintptr_t)c - (uintptr_t)data >= bytes)
            continue;
        span->site = dyn ? NULL : s->shared[i].site;
        span->data = data;
        span->shadow = dyn ? (emu_shadow *)s->dyn.shadow : s->shared[i].shadow;
        span->bytes = bytes;
        span->align = dyn ? 16 : s->shared[i].align; /* the device pass declares the dynamic array aligned(16) */
        span->offset = (uint64_t)((uintptr_t)c - (uintptr_t)data);
        return n <= bytes - span->offset;
    }
    return 0;
}
