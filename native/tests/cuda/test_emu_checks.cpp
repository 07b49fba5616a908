/* test_emu_checks.cpp — each of the emulator's checks fires on a deliberately broken kernel
 * (emu_bad_kernels.cu) with MST_ERR_INTERNAL and a message that names kernel, block, thread and the fault.
 * One case per run: test_emu_checks <case>.
 *
 * global_oob runs the kernel in a child process: an overrun of a device buffer is caught by ASan (ASan
 * builds: the emulator's death callback adds the kernel/block/thread to ASan's report) or by the guard page
 * behind the buffer (plain builds: this harness's SIGSEGV handler asks mst_emu_where() who was running; the
 * library itself installs no signal handler). Either way the child must die and its stderr name the thread. */
#include <limits.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#define EMU_TEST_MAX_PRINTED INT_MAX /* every failure: each case has a handful of checks */
#include "emu_test_support.h"
#include "emu/emu.h"

extern "C" {
extern const mst_kernel_ref mst_kernel_emu_bad_missing_sync, mst_kernel_emu_bad_divergent, mst_kernel_emu_bad_warp_race,
    mst_kernel_emu_bad_deadlock, mst_kernel_emu_bad_exited_lane, mst_kernel_emu_bad_shared_oob,
    mst_kernel_emu_bad_oob_read, mst_kernel_emu_bad_cp_async_early_read, mst_kernel_emu_bad_cp_async_no_barrier,
    mst_kernel_emu_bad_cp_async_wait_group_1, mst_kernel_emu_bad_cp_async_past_end,
    mst_kernel_emu_bad_cp_async_misaligned, mst_kernel_emu_bad_cp_async_src_bytes,
    mst_kernel_emu_bad_cp_async_exit_pending, mst_kernel_emu_bad_ldmatrix_misaligned,
    mst_kernel_emu_bad_ldmatrix_array_alignment, mst_kernel_emu_bad_ldmatrix_divergent,
    mst_kernel_emu_bad_ldmatrix_exited, mst_kernel_emu_bad_ldmatrix_race, mst_kernel_emu_bad_ldmatrix_global,
    mst_kernel_emu_bad_cp_async_overwrites_reads, mst_kernel_emu_bad_cp_async_uncommitted;
}

/* The launch of k failed as it must: MST_ERR_INTERNAL and a message holding every one of the expected pieces. */
static void check_failed(const mst_kernel_ref *k, mst_status st, const char *const *expect, int n_expect)
{
    const char *msg = mst_last_error();
    printf("%s -> %d: %s\n", k->name, (int)st, msg);
    CHECK(st == MST_ERR_INTERNAL, "%s: status %d, want MST_ERR_INTERNAL", k->name, (int)st);
    for (int i = 0; i < n_expect; i++)
        CHECK(strstr(msg, expect[i]) != NULL, "message lacks '%s'", expect[i]);
}

/* Launches k, one block, with one output buffer of 64 floats: it must fail (check_failed). */
static void expect_failure(const mst_kernel_ref *k, mst_dim3 block, const char *const *expect, int n_expect)
{
    mst_dptr out = 0;
    mst_dev_alloc(g_dev, 64 * 4, &out);
    void *args[] = {&out};
    check_failed(k, mst_dev_launch(g_dev, k, mst_dim3{1, 1, 1}, block, 0, args), expect, n_expect);
    mst_dev_free(g_dev, out);
}

static void test_missing_syncthreads(void)
{
    /* threads run in order until they block: thread 31 (warp 0) reads s[32] before thread 32 (warp 1) writes
     * it, a write after a read that no barrier orders */
    const char *e[] = {"kernel emu_bad_missing_sync block (0,0,0) thread (32,0,0)", "shared-memory race on s[32]",
                       "writes what thread (31,0,0) read", "emu_bad_kernels.cu"};
    expect_failure(&mst_kernel_emu_bad_missing_sync, mst_dim3{64, 1, 1}, e, 4);
}

static void test_divergent_barrier(void)
{
    const char *e[] = {"kernel emu_bad_divergent block (0,0,0) thread (32,0,0)", "divergent barrier",
                       "thread (0,0,0) waits at mst_syncthreads"};
    expect_failure(&mst_kernel_emu_bad_divergent, mst_dim3{64, 1, 1}, e, 3);
}

static void test_warp_race(void)
{
    /* lane 0 reads s[1] before lane 1 writes it: within a warp too, only mst_syncwarp orders them */
    const char *e[] = {"kernel emu_bad_warp_race block (0,0,0) thread (1,0,0)", "shared-memory race on s[1]",
                       "writes what thread (0,0,0) read", "mst_syncwarp"};
    expect_failure(&mst_kernel_emu_bad_warp_race, mst_dim3{32, 1, 1}, e, 4);
}

static void test_deadlock(void)
{
    const char *e[] = {"kernel emu_bad_deadlock block (0,0,0) thread (0,0,0)", "deadlock", "waits at mst_shfl_xor",
                       "thread (16,0,0) waits at mst_syncthreads"};
    expect_failure(&mst_kernel_emu_bad_deadlock, mst_dim3{64, 1, 1}, e, 4);
}

static void test_exited_lane(void)
{
    /* lane 0 waits at the shuffle when lane 5 exits */
    const char *e[] = {"kernel emu_bad_exited_lane block (0,0,0) thread (5,0,0)",
                       "exited while thread (0,0,0) of its warp waits at mst_shfl_down",
                       "a warp collective needs every lane"};
    expect_failure(&mst_kernel_emu_bad_exited_lane, mst_dim3{32, 1, 1}, e, 3);
}

static void test_shared_oob(void)
{
    const char *e[] = {"kernel emu_bad_shared_oob block (0,0,0) thread (32,0,0)",
                       "shared memory index out of bounds: small[32]", "with 32 elements"};
    expect_failure(&mst_kernel_emu_bad_shared_oob, mst_dim3{64, 1, 1}, e, 3);
}

/* ---- ldmatrix and cp.async: kernels (src, out) with src a 1000-byte device buffer ---- */

static void expect_failure_src(const mst_kernel_ref *k, uint32_t threads, const char *const *expect, int n_expect)
{
    mst_dptr src = 0, out = 0;
    mst_dev_alloc(g_dev, 1000, &src);
    mst_dev_alloc(g_dev, 64 * 4, &out);
    mst_dev_memset32(g_dev, src, 0x01020304u, 250);
    void *args[] = {&src, &out};
    check_failed(k, mst_dev_launch(g_dev, k, mst_dim3{1, 1, 1}, mst_dim3{threads, 1, 1}, 0, args), expect,
                 n_expect);
    mst_dev_free(g_dev, src);
    mst_dev_free(g_dev, out);
}

static void test_cp_async_early_read(void)
{
    const char *e[] = {"kernel emu_bad_cp_async_early_read block (0,0,0) thread (0,0,0)",
                       "read of a pending cp.async destination before cp.async.wait_group", "s[1]",
                       "the cp.async this thread issued at", "emu_bad_kernels.cu"};
    expect_failure_src(&mst_kernel_emu_bad_cp_async_early_read, 32, e, 5);
}

static void test_cp_async_no_barrier(void)
{
    /* the copy counts as thread 0's write when it landed (at thread 0's wait): thread 1 needs a barrier */
    const char *e[] = {"kernel emu_bad_cp_async_no_barrier block (0,0,0) thread (1,0,0)", "shared-memory race on s[0]",
                       "reads what thread (0,0,0) wrote"};
    expect_failure_src(&mst_kernel_emu_bad_cp_async_no_barrier, 64, e, 3);
}

static void test_cp_async_wait_group_1(void)
{
    const char *e[] = {"kernel emu_bad_cp_async_wait_group_1 block (0,0,0) thread (0,0,0)",
                       "read of a pending cp.async destination before cp.async.wait_group", "b[0]"};
    expect_failure_src(&mst_kernel_emu_bad_cp_async_wait_group_1, 32, e, 3);
}

static void test_cp_async_overwrites_reads(void)
{
    /* thread 0 ran first and read s[4] (bytes 16.., thread 1's slot); thread 1's cp.async then writes it unordered */
    const char *e[] = {"kernel emu_bad_cp_async_overwrites_reads block (0,0,0) thread (1,0,0)",
                       "shared-memory race on byte 16 of s", "this thread cp.async writes what thread (0,0,0) read"};
    expect_failure_src(&mst_kernel_emu_bad_cp_async_overwrites_reads, 32, e, 3);
}

static void test_cp_async_uncommitted(void)
{
    const char *e[] = {"kernel emu_bad_cp_async_uncommitted block (0,0,0) thread (0,0,0)",
                       "read of a pending cp.async destination before cp.async.wait_group",
                       "not committed yet", "mst_cp_async_commit first"};
    expect_failure_src(&mst_kernel_emu_bad_cp_async_uncommitted, 32, e, 4);
}

static void test_cp_async_past_end(void)
{
    const char *e[] = {"kernel emu_bad_cp_async_past_end block (0,0,0) thread (62,0,0)", "mst_cp_async_16 at",
                       "source reads bytes 992..1007 of a 1000-byte device buffer, past its end"};
    expect_failure_src(&mst_kernel_emu_bad_cp_async_past_end, 64, e, 3);
}

static void test_cp_async_misaligned(void)
{
    const char *e[] = {"kernel emu_bad_cp_async_misaligned block (0,0,0) thread (0,0,0)",
                       "destination byte 8 of s (declared at", "is not 16-byte aligned"};
    expect_failure_src(&mst_kernel_emu_bad_cp_async_misaligned, 32, e, 3);
}

static void test_cp_async_src_bytes(void)
{
    const char *e[] = {"kernel emu_bad_cp_async_src_bytes block (0,0,0) thread (0,0,0)",
                       "src_bytes 17 is more than the 16 bytes the copy writes"};
    expect_failure_src(&mst_kernel_emu_bad_cp_async_src_bytes, 32, e, 2);
}

static void test_cp_async_exit_pending(void)
{
    const char *e[] = {"kernel emu_bad_cp_async_exit_pending block (0,0,0) thread (0,0,0)",
                       "exited with 1 cp.async copies pending", "mst_cp_async_wait_all"};
    expect_failure_src(&mst_kernel_emu_bad_cp_async_exit_pending, 32, e, 3);
}

/* In these three the lanes leave an mst_syncwarp first: its last lane (31) goes on without a switch, so it is
 * the first to reach the ldmatrix, and the one whose check fires (lane 31's row: 8 * 31 + 4 halves in). */
static void test_ldmatrix_misaligned(void)
{
    const char *e[] = {"kernel emu_bad_ldmatrix_misaligned block (0,0,0) thread (31,0,0)", "mst_ldmatrix_x4 at",
                       "lane 31's row address (byte 504 of s (declared at", "is not 16-byte aligned"};
    expect_failure_src(&mst_kernel_emu_bad_ldmatrix_misaligned, 32, e, 4);
}

static void test_ldmatrix_array_alignment(void)
{
    const char *e[] = {"kernel emu_bad_ldmatrix_array_alignment block (0,0,0) thread (31,0,0)",
                       "declared with 2-byte alignment", "MST_SHARED_ALIGNED"};
    expect_failure_src(&mst_kernel_emu_bad_ldmatrix_array_alignment, 32, e, 3);
}

static void test_ldmatrix_divergent(void)
{
    const char *e[] = {"kernel emu_bad_ldmatrix_divergent block (0,0,0) thread (0,0,0)",
                       "while thread (31,0,0) of its warp waits at mst_ldmatrix_x4", "ldmatrix is .aligned"};
    expect_failure_src(&mst_kernel_emu_bad_ldmatrix_divergent, 32, e, 3);
}

static void test_ldmatrix_exited(void)
{
    const char *e[] = {"kernel emu_bad_ldmatrix_exited block (0,0,0) thread (16,0,0)",
                       "exited while thread (0,0,0) of its warp waits at mst_ldmatrix_x2",
                       "a warp collective needs every lane"};
    expect_failure_src(&mst_kernel_emu_bad_ldmatrix_exited, 32, e, 3);
}

static void test_ldmatrix_race(void)
{
    const char *e[] = {"kernel emu_bad_ldmatrix_race block (0,0,0) thread (1,0,0)", "shared-memory race on byte 4 of s",
                       "this thread reads what thread (0,0,0) wrote"};
    expect_failure_src(&mst_kernel_emu_bad_ldmatrix_race, 32, e, 3);
}

static void test_ldmatrix_global(void)
{
    const char *e[] = {"kernel emu_bad_ldmatrix_global block (0,0,0) thread (0,0,0)",
                       "is not in this block's shared memory"};
    expect_failure_src(&mst_kernel_emu_bad_ldmatrix_global, 32, e, 2);
}

/* After a failed launch (threads abandoned mid-kernel) the emulator runs the next launch normally. */
static void test_recovers(void)
{
    test_warp_race();
    test_deadlock();
    mst_dptr x = 0, out = 0;
    mst_dev_alloc(g_dev, 65 * 4, &x);
    mst_dev_alloc(g_dev, 64 * 4, &out);
    float h[65];
    for (int i = 0; i < 65; i++)
        h[i] = (float)i;
    mst_dev_upload(g_dev, x, h, sizeof h);
    void *args[] = {&x, &out};
    mst_status st = mst_dev_launch(g_dev, &mst_kernel_emu_bad_oob_read, mst_dim3{2, 1, 1}, mst_dim3{32, 1, 1}, 0, args);
    CHECK(st == MST_OK, "launch after failures: %s", mst_last_error());
    mst_dev_download(g_dev, h, out, 64 * 4);
    for (int i = 0; i < 64; i++)
        CHECK(h[i] == (float)(i + 1), "out[%d] = %g", i, h[i]);
    mst_dev_free(g_dev, x);
    mst_dev_free(g_dev, out);
}

static void on_segv(int sig)
{
    char where[256], line[400];
    mst_emu_where(where, sizeof where);
    int n = snprintf(line, sizeof line, "SIGSEGV (%d) in %s\n", sig, where[0] ? where : "(no kernel running)");
    if (write(2, line, (size_t)n) < 0)
        _exit(98);
    _exit(97);
}

static void oob_child(void)
{
    static char alt[1 << 16];
    stack_t ss = {};
    ss.ss_sp = alt;
    ss.ss_size = sizeof alt;
    sigaltstack(&ss, NULL);
    struct sigaction sa = {};
    sa.sa_handler = on_segv;
    sa.sa_flags = SA_ONSTACK;
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    /* 64 floats, 64 threads reading x[i + 1]: thread 31 of block 1 reads x[64], one past the end */
    mst_dptr x = 0, out = 0;
    mst_dev_alloc(g_dev, 64 * 4, &x);
    mst_dev_alloc(g_dev, 64 * 4, &out);
    mst_dev_memset32(g_dev, x, 0, 64);
    void *args[] = {&x, &out};
    mst_status st = mst_dev_launch(g_dev, &mst_kernel_emu_bad_oob_read, mst_dim3{2, 1, 1}, mst_dim3{32, 1, 1}, 0, args);
    fprintf(stderr, "the overrun went unnoticed: launch returned %d\n", (int)st);
    _exit(0);
}

static void test_global_oob(void)
{
    int fds[2];
    if (pipe(fds) != 0) {
        CHECK(0, "pipe");
        return;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], 2);
        oob_child();
    }
    close(fds[1]);
    static char text[1 << 16];
    size_t len = 0;
    ssize_t r;
    while ((r = read(fds[0], text + len, sizeof text - 1 - len)) > 0)
        len += (size_t)r;
    text[len] = 0;
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    printf("child's stderr:\n%s\n", text);
    CHECK(!(WIFEXITED(status) && WEXITSTATUS(status) == 0), "the child survived the overrun");
    CHECK(strstr(text, "kernel emu_bad_oob_read block (1,0,0) thread (31,0,0)") != NULL,
          "the report does not name the kernel, block and thread");
}

int main(int argc, char **argv)
{
    static const emu_case cases[] = {{"missing_syncthreads", test_missing_syncthreads},
                                     {"divergent_barrier", test_divergent_barrier},
                                     {"warp_race", test_warp_race},
                                     {"deadlock", test_deadlock},
                                     {"exited_lane", test_exited_lane},
                                     {"shared_oob", test_shared_oob},
                                     {"global_oob", test_global_oob},
                                     {"recovers", test_recovers},
                                     {"cp_async_early_read", test_cp_async_early_read},
                                     {"cp_async_no_barrier", test_cp_async_no_barrier},
                                     {"cp_async_wait_group_1", test_cp_async_wait_group_1},
                                     {"cp_async_past_end", test_cp_async_past_end},
                                     {"cp_async_overwrites_reads", test_cp_async_overwrites_reads},
                                     {"cp_async_uncommitted", test_cp_async_uncommitted},
                                     {"cp_async_misaligned", test_cp_async_misaligned},
                                     {"cp_async_src_bytes", test_cp_async_src_bytes},
                                     {"cp_async_exit_pending", test_cp_async_exit_pending},
                                     {"ldmatrix_misaligned", test_ldmatrix_misaligned},
                                     {"ldmatrix_array_alignment", test_ldmatrix_array_alignment},
                                     {"ldmatrix_divergent", test_ldmatrix_divergent},
                                     {"ldmatrix_exited", test_ldmatrix_exited},
                                     {"ldmatrix_race", test_ldmatrix_race},
                                     {"ldmatrix_global", test_ldmatrix_global}};
    return emu_test_main(argc, argv, cases);
}
