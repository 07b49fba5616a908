/* backend_cuda_query.c — mst_cuda_query (backend.h), behind mst_backend_query: whether a CUDA device (or the
 * emulator) can be used, and what it is; when it cannot, why, as an answer rather than a failure. */
#include <stdio.h>
#include <string.h>

#include "device.h"
#include "internal.h"

mst_status mst_cuda_query(uint32_t flags, mst_backend_info *out)
{
    mst_dev_desc desc;
    memset(&desc, 0, sizeof desc);
    int count = 0;
    const mst_status st = mst_dev_probe((flags & MST_BACKEND_EMULATE) ? 1 : 0, &desc, &count);
    if (st != MST_OK) {
        out->available = 0;
        out->device_count = count;
        out->driver_version = desc.driver_version;
        snprintf(out->reason, sizeof out->reason, "%s", mst_last_error());
        mst_clear_error(); /* not a failure of the query: the answer is "unavailable, because..." */
        return MST_OK;
    }
    out->available = 1;
    out->emulated = desc.emulated;
    out->device_count = count;
    out->compute_major = desc.compute_major;
    out->compute_minor = desc.compute_minor;
    out->driver_version = desc.driver_version;
    out->total_memory = desc.total_memory;
    out->free_memory = desc.free_memory;
    snprintf(out->device_name, sizeof out->device_name, "%s", desc.name);
    out->reason[0] = '\0';
    return MST_OK;
}
