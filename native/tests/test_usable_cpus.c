/* test_usable_cpus.c — the default thread count follows what the process may run on: its affinity mask
 * (`taskset`) and a cgroup CPU quota (containers), not the machine's online CPUs. */
#define _GNU_SOURCE
#include <sched.h>
#include <unistd.h>

#include "internal.h"
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
    cpu_set_t all, one;
    CHECK(sched_getaffinity(0, sizeof all, &all) == 0, "sched_getaffinity failed");
    const uint32_t n = mst_usable_cpus();
    CHECK(n >= 1 && n <= (uint32_t)CPU_COUNT(&all), "usable CPUs %u, affinity mask holds %d", n, CPU_COUNT(&all));
    int first = 0;
    while (!CPU_ISSET(first, &all))
        first++;
    CPU_ZERO(&one);
    CPU_SET(first, &one);
    CHECK(sched_setaffinity(0, sizeof one, &one) == 0, "sched_setaffinity failed");
    CHECK(mst_usable_cpus() == 1, "pinned to one CPU (as `taskset -c %d`), usable CPUs is %u", first, mst_usable_cpus());
    sched_setaffinity(0, sizeof all, &all);
}

static void cgroup_quota(void)
{
    char dir[] = "/tmp/mst_cgroupXXXXXX";
    if (!mkdtemp(dir)) {
        CHECK(0, "mkdtemp failed");
        return;
    }
    char max[64], q1[64], p1[64], none[64];
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
    remove(max), remove(q1), remove(p1), rmdir(dir);
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
