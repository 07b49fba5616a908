/* async.cpp — cp.async (PTX ISA, "cp.async", "cp.async.commit_group", "cp.async.wait_group / wait_all"): one
 * thread's asynchronous copy of 4 or 16 bytes from global to shared memory, src_bytes of them from the source
 * and the rest zeros.
 *
 * Emulated asynchronously on purpose: a copy is only recorded at issue and performed when it completes, at the
 * issuing thread's wait, so a kernel that reads the destination early would see stale bytes on the emulator as
 * it may on the device. It does not get that far: the destination's bytes are marked pending from issue to
 * completion, and any access to them by any thread fails the launch (shared.cpp). When a copy lands it counts
 * as a write by the issuing thread at that moment, so other threads need a barrier after the wait.
 *
 * Groups: commit_group closes this thread's uncommitted copies into a group (an empty one if there are none,
 * as in PTX); wait_group N completes every committed group but the N most recent; wait_all is commit_group
 * then wait_group 0. Copies not yet committed are not completed by wait_group.
 *
 * Checks (each fails the launch naming the thread and the call's file:line): src_bytes above the copy's size;
 * a destination outside the block's shared memory, past its array's end or not aligned to the copy's size on
 * the device; a source (when src_bytes > 0) outside the device buffer it points into, or not aligned to the
 * copy's size from that buffer's start (device buffers start 256-aligned); a thread that exits with copies
 * pending (the ISA defines a copy's completion only through the issuing thread's wait). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched.h"

struct emu_cp {
    emu_shared_span dst; /* dst.offset: where in the array */
    const unsigned char *src;
    uint32_t cp_size, src_bytes, group;
    const char *file;
    int line;
};

static emu_thread *running(const char *what)
{
    emu_state *s = g_emu;
    emu_thread *me = s ? s->cur : NULL;
    if (!me)
        emu_fail("%s called outside a kernel launch", what);
    return me;
}

/* Checks the source against the device buffer it points into. */
static void check_source(const char *name, const char *file, int line, const unsigned char *src, uint32_t cp_size,
                         uint32_t src_bytes)
{
    const unsigned char *base = NULL;
    size_t len = 0;
    const int below = mst_emu_alloc_find(src, &base, &len);
    const uint64_t off = below ? (uint64_t)((uintptr_t)src - (uintptr_t)base) : 0;
    if (src_bytes == 0 && !(below && off <= len))
        return; /* nothing is read, and the address is in no buffer whose alignment we know */
    if (!below)
        emu_fail("%s at %s:%d: source %p is not in any device buffer", name, file, line, (const void *)src);
    if (src_bytes > 0 && off + src_bytes > len) {
        if (off < len)
            emu_fail("%s at %s:%d: source reads bytes %llu..%llu of a %zu-byte device buffer, past its end", name,
                     file, line, (unsigned long long)off, (unsigned long long)(off + src_bytes - 1), len);
        emu_fail("%s at %s:%d: source %p is %llu bytes past the end of the %zu-byte device buffer before it (or in "
                 "no buffer at all)",
                 name, file, line, (const void *)src, (unsigned long long)(off - len), len);
    }
    if (off % cp_size != 0)
        emu_fail("%s at %s:%d: source is byte %llu of its device buffer, not %u-byte aligned (device buffers start "
                 "256-byte aligned; cp.async needs the source aligned to the copy's size)",
                 name, file, line, (unsigned long long)off, cp_size);
}

void mst_emu_cp_async(const char *file, int line, void *dst, const void *src, uint32_t cp_size, uint32_t src_bytes)
{
    const char *name = cp_size == 16 ? "mst_cp_async_16" : "mst_cp_async_4";
    emu_thread *me = running(name);
    if (src_bytes > cp_size)
        emu_fail("%s at %s:%d: src_bytes %u is more than the %u bytes the copy writes (undefined in PTX)", name, file,
                 line, src_bytes, cp_size);
    emu_cp c;
    memset(&c, 0, sizeof c);
    if (!emu_shared_find(dst, cp_size, &c.dst)) {
        if (c.dst.data) {
            char where[200];
            emu_shared_describe(&c.dst, c.dst.offset, where, sizeof where);
            emu_fail("%s at %s:%d: destination %s: its %u bytes run past the end of that %llu-byte array", name, file,
                     line, where, cp_size, (unsigned long long)c.dst.bytes);
        }
        emu_fail("%s at %s:%d: destination %p is not in this block's shared memory (cp.async copies global to "
                 "shared memory: pass &array[i] of an MST_SHARED or MST_SHARED_DYN array)",
                 name, file, line, dst);
    }
    if (c.dst.offset % cp_size != 0 || c.dst.align < cp_size) {
        char where[200];
        emu_shared_describe(&c.dst, c.dst.offset, where, sizeof where);
        if (c.dst.offset % cp_size != 0)
            emu_fail("%s at %s:%d: destination %s is not %u-byte aligned", name, file, line, where, cp_size);
        emu_fail("%s at %s:%d: destination %s is %u-byte aligned only here: the array is declared with %llu-byte "
                 "alignment, and the device may place it at any multiple of that (declare it with "
                 "MST_SHARED_ALIGNED(type, name, count, 16))",
                 name, file, line, where, cp_size, (unsigned long long)c.dst.align);
    }
    check_source(name, file, line, (const unsigned char *)src, cp_size, src_bytes);
    /* the race check as a write now (it must not race with what came before); marks the bytes pending */
    emu_shared_access_raw(&c.dst, c.dst.offset, cp_size, me, EMU_ACCESS_ASYNC_ISSUE);
    if (me->cp_count == me->cp_cap) {
        uint32_t cap = me->cp_cap ? 2 * me->cp_cap : 16;
        emu_cp *n = (emu_cp *)realloc(me->cp, cap * sizeof *n);
        if (!n)
            emu_fail("no memory for another pending cp.async");
        me->cp = n;
        me->cp_cap = cap;
    }
    c.src = (const unsigned char *)src;
    c.cp_size = cp_size;
    c.src_bytes = src_bytes;
    c.group = me->cp_commits;
    c.file = file;
    c.line = line;
    me->cp[me->cp_count++] = c;
}

void mst_emu_cp_async_commit(const char *file, int line)
{
    (void)file;
    (void)line;
    running("mst_cp_async_commit")->cp_commits++;
}

/* The copy lands: the source's bytes now (the device may read them any time up to here), zeros after them. */
static void land(emu_thread *me, const emu_cp *c)
{
    unsigned char buf[16];
    memset(buf, 0, sizeof buf);
    if (c->src_bytes)
        memcpy(buf, c->src, c->src_bytes);
    emu_shared_access_raw(&c->dst, c->dst.offset, c->cp_size, me, EMU_ACCESS_ASYNC_LAND);
    memcpy(c->dst.data + c->dst.offset, buf, c->cp_size);
}

void mst_emu_cp_async_wait(const char *file, int line, uint32_t n)
{
    (void)file;
    (void)line;
    emu_thread *me = running("mst_cp_async_wait_group");
    uint32_t kept = 0;
    for (uint32_t i = 0; i < me->cp_count; i++) {
        const emu_cp *c = &me->cp[i];
        /* committed groups are 0 .. cp_commits-1; all but the n most recent complete */
        if ((uint64_t)c->group + n < me->cp_commits)
            land(me, c);
        else
            me->cp[kept++] = *c;
    }
    me->cp_count = kept;
}

void mst_emu_cp_async_wait_all(const char *file, int line)
{
    mst_emu_cp_async_commit(file, line);
    mst_emu_cp_async_wait(file, line, 0);
}

void emu_cp_async_where(const emu_thread *issuer, const unsigned char *p, const char **file, int *line,
                        int *uncommitted)
{
    for (uint32_t i = 0; i < issuer->cp_count; i++) {
        const emu_cp *c = &issuer->cp[i];
        const unsigned char *d = c->dst.data + c->dst.offset;
        if ((uintptr_t)p >= (uintptr_t)d && (uintptr_t)p < (uintptr_t)d + c->cp_size) {
            *file = c->file;
            *line = c->line;
            *uncommitted = c->group == issuer->cp_commits;
            return;
        }
    }
}

void emu_cp_async_at_exit(emu_thread *me)
{
    if (me->cp_count) {
        const emu_cp *c = &me->cp[0];
        emu_fail("exited with %u cp.async copies pending (the first issued at %s:%d): wait for them "
                 "(mst_cp_async_wait_all) before the thread returns; the PTX ISA defines when a copy completes only "
                 "through the issuing thread's wait",
                 me->cp_count, c->file, c->line);
    }
    me->cp_commits = 0; /* the next block's thread of this index starts with no groups */
}

void emu_cp_async_release(emu_state *s)
{
    if (!s->threads)
        return;
    for (uint32_t i = 0; i < s->n_threads; i++) {
        free(s->threads[i].cp);
        s->threads[i].cp = NULL;
        s->threads[i].cp_count = s->threads[i].cp_cap = s->threads[i].cp_commits = 0;
    }
}
