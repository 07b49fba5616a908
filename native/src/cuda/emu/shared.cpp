/* shared.cpp — shared memory for the emulator: storage per static MST_SHARED array (one per declaration
 * site, refilled with 0xff at every block start) and the launch's dynamic buffer, each with a shadow record
 * per byte for the race check.
 *
 * The race check (CUDA racecheck's rule): two accesses to one byte by different threads, at least one a
 * write, race unless a barrier orders them: a completed mst_syncthreads (the block epoch has advanced), or,
 * for two threads of one warp, a completed mst_syncwarp or warp collective (the warp's epoch has advanced).
 * Each byte keeps its last write and the reads since, which is enough: an access ordered after the last
 * write is ordered after every earlier one, and a read that replaces an older read record is ordered after
 * it, so whatever races with the dropped record races with the kept one too. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched.h"

enum { READ_ONE, READ_SOME_ONE_WARP, READ_SOME_WARPS };

struct emu_shadow {
    uint32_t w_epoch, w_warp_epoch, w_tid;      /* last write */
    uint32_t r_epoch, r_warp_epoch, r_tid, r_mode; /* reads since (r_epoch 0: none); r_warp_epoch the latest */
};

struct emu_shared_entry {
    const mst_emu_site *site;
    unsigned char *data;
    emu_shadow *shadow;
    uint64_t bytes;
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
    (void)align; /* alloc_mem aligns to 16, the most any scalar needs */
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
    emu_shared_entry e = {site, m.data, (emu_shadow *)m.shadow, bytes};
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

[[noreturn]] static void race(const mst_emu_site *site, uint64_t index, int write, const char *what, uint32_t other,
                              int several)
{
    char who[48];
    emu_tid_str(other, who, sizeof who);
    emu_fail("shared-memory race on %s[%llu] (declared at %s:%d): this thread %s what thread %s%s %s, with no "
             "barrier between them (mst_syncthreads; within one warp also mst_syncwarp or a warp collective)",
             site->name, (unsigned long long)index, site->file, site->line, write ? "writes" : "reads", who,
             several ? " (and others)" : "", what);
}

void mst_emu_shared_access(void *shadow, const mst_emu_site *site, uint64_t index, uint32_t size, int write)
{
    emu_state *s = g_emu;
    const uint32_t t = s->cur->linear, warp = t / MST_EMU_WARP;
    const uint32_t B = s->epoch, W = s->warps[warp].epoch;
    emu_shadow *rec = (emu_shadow *)shadow + index * size;
    for (uint32_t b = 0; b < size; b++, rec++) {
        /* the last write must be this thread's, or ordered before this access */
        if (rec->w_epoch == B && rec->w_tid != t && !(rec->w_tid / MST_EMU_WARP == warp && rec->w_warp_epoch < W))
            race(site, index, write, "wrote", rec->w_tid, 0);
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
                race(site, index, write, "read", rec->r_tid, rec->r_mode != READ_ONE);
            rec->w_epoch = B;
            rec->w_warp_epoch = W;
            rec->w_tid = t;
            rec->r_epoch = 0;
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
