/* usable_cpus.c — how many CPUs this process may actually run on: the default thread count.
 *
 * sysconf(_SC_NPROCESSORS_ONLN) counts the machine's CPUs, not this process's: under `taskset -c 0`, or in a
 * container limited to 2 CPUs by a cgroup quota on a 64-core host, a pool of one thread per online CPU puts
 * many threads on few cores, and a barrier-synchronised pool then waits for descheduled threads on every
 * step, and decode slows by orders of magnitude (benchmarks/RESULTS.md). So: the CPUs in our affinity
 * mask, capped by the cgroup CPU quota (v2 cpu.max, or v1 cpu.cfs_quota_us / cpu.cfs_period_us) rounded up;
 * on Windows, the affinity mask capped by a job object's CPU rate (platform.h). */
#include <stdio.h>

#include "internal.h"
#include "platform.h"

/* The quota as whole CPUs (rounded up), or 0 for none / unreadable. cpu_max: "max 100000" or "150000 100000". */
uint32_t mst_cgroup_cpu_quota(const char *cpu_max_path, const char *v1_quota_path, const char *v1_period_path)
{
    long long quota = -1, period = 0;
    FILE *f = fopen(cpu_max_path, "r");
    if (f) {
        char q[32] = {0};
        if (fscanf(f, "%31s %lld", q, &period) == 2 && q[0] != 'm') /* "max": no quota */
            sscanf(q, "%lld", &quota);
        fclose(f);
    } else if ((f = fopen(v1_quota_path, "r"))) {
        if (fscanf(f, "%lld", &quota) != 1)
            quota = -1;
        fclose(f);
        FILE *p = fopen(v1_period_path, "r");
        if (!p || fscanf(p, "%lld", &period) != 1)
            period = 0;
        if (p)
            fclose(p);
    }
    if (quota <= 0 || period <= 0)
        return 0;
    long long cpus = (quota + period - 1) / period;
    return cpus > UINT32_MAX ? UINT32_MAX : (uint32_t)cpus;
}

uint32_t mst_usable_cpus(void)
{
    const uint32_t affinity = mst_os_affinity_cpus();
    uint32_t n = affinity > 0 ? affinity : mst_os_online_cpus();
    const uint32_t quota = mst_os_cpu_quota(); /* on Linux, mst_cgroup_cpu_quota of /sys/fs/cgroup */
    if (quota > 0 && quota < n)
        n = quota;
    return n;
}
