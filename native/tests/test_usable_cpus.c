/* test_usable_cpus.c — the default thread count follows what the process may run on: its affinity mask
 * (`taskset`) and a cgroup CPU quota (containers), not the machine's online CPUs. */
#include "internal.h"
#include "test_os.h"
#include "test_util.h"

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void affinity(void)
{
    const int all = test_os_affinity_count();
    CHECK(all >= 1, "reading the affinity mask failed");
    const uint32_t n = mst_usable_cpus();
    CHECK(n >= 1 && (int64_t)n <= all, "usable CPUs %u, affinity mask holds %d", n, all);
    const int first = test_os_pin_to_one_cpu();
    CHECK(first >= 0, "pinning to one CPU failed");
    if (first < 0)
        return;
    CHECK(mst_usable_cpus() == 1, "pinned to one CPU (as `taskset -c %d`), usable CPUs is %u", first, mst_usable_cpus());
    test_os_restore_affinity();
    CHECK(test_os_affinity_count() == all, "the affinity mask was not restored");
}

static void cgroup_quota(void)
{
    char dir[512];
    if (!test_os_make_temp_dir(dir, sizeof dir)) {
        CHECK(0, "making a temporary directory failed");
        return;
    }
    char max[600], q1[600], p1[600], none[600];
    snprintf(max, sizeof max, "%s/cpu.max", dir);
    snprintf(q1, sizeof q1, "%s/quota", dir);
    snprintf(p1, sizeof p1, "%s/period", dir);
    snprintf(none, sizeof none, "%s/absent", dir);
    write_file(max, "150000 100000\n"); /* 1.5 CPUs: rounded up */
    CHECK(mst_cgroup_cpu_quota(max, none, none) == 2, "v2 1.5 CPUs gave %u", mst_cgroup_cpu_quota(max, none, none));
    write_file(max, "max 100000\n");
    CHECK(mst_cgroup_cpu_quota(max, none, none) == 0, "v2 'max' is no quota");
    write_file(q1, "50000\n");
    write_file(p1, "100000\n");
    CHECK(mst_cgroup_cpu_quota(none, q1, p1) == 1, "v1 half a CPU gave %u", mst_cgroup_cpu_quota(none, q1, p1));
    write_file(q1, "-1\n");
    CHECK(mst_cgroup_cpu_quota(none, q1, p1) == 0, "v1 -1 is no quota");
    CHECK(mst_cgroup_cpu_quota(none, none, none) == 0, "no cgroup files is no quota");
    remove(max), remove(q1), remove(p1);
    test_os_remove_dir(dir);
}

int main(void)
{
    affinity();
    cgroup_quota();
    if (g_failures)
        return 1;
    printf("ok\n");
    return 0;
}
