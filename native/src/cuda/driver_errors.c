/* driver_errors.c — a failed driver call as an mst_status and a message: MST_ERR_DEVICE (MST_ERR_OUT_OF_MEMORY
 * for CUDA_ERROR_OUT_OF_MEMORY) with "<call>: <error name> (<error text>)" and, where one is known, what to do
 * about it. */
#include "driver_internal.h"

const char *mst_cu_error_name(CUresult r)
{
    const char *s = NULL;
    if (!mst_cu.cuGetErrorName || mst_cu.cuGetErrorName(r, &s) != CUDA_SUCCESS || !s)
        return "CUDA_ERROR_UNKNOWN_CODE";
    return s;
}

const char *mst_cu_error_text(CUresult r)
{
    const char *s = NULL;
    if (!mst_cu.cuGetErrorString || mst_cu.cuGetErrorString(r, &s) != CUDA_SUCCESS || !s)
        return "no description from the driver";
    return s;
}

/* What to do about an error, where something can be said. */
const char *mst_cu_error_hint(CUresult r)
{
    switch (r) {
    case CUDA_ERROR_OUT_OF_MEMORY:
        return "free device memory (see nvidia-smi for other processes) or use a smaller model or context";
    case CUDA_ERROR_INSUFFICIENT_DRIVER: return "update the NVIDIA driver";
    case CUDA_ERROR_NO_DEVICE:
        return "no NVIDIA GPU is visible to this process: check nvidia-smi and CUDA_VISIBLE_DEVICES";
    case CUDA_ERROR_INVALID_DEVICE: return "check the device ordinal against nvidia-smi and CUDA_VISIBLE_DEVICES";
    case CUDA_ERROR_SYSTEM_DRIVER_MISMATCH:
        return "the NVIDIA driver library and kernel module have different versions: reboot, or reinstall the driver";
    case CUDA_ERROR_INVALID_PTX:
    case CUDA_ERROR_UNSUPPORTED_PTX_VERSION: return PTX_HINT;
    case CUDA_ERROR_ILLEGAL_ADDRESS:
    case CUDA_ERROR_LAUNCH_FAILED:
    case CUDA_ERROR_ILLEGAL_INSTRUCTION:
    case CUDA_ERROR_MISALIGNED_ADDRESS:
        return "a kernel faulted, and CUDA keeps this process's device context unusable from now on: restart the "
               "process (and please report this message: it is a bug)";
    default: return NULL;
    }
}

/* Records a failed driver call and returns its status: "<call>: <name> (<text>)[: <hint>]". */
mst_status mst_cu_fail(CUresult r, const char *call)
{
    const mst_status st = r == CUDA_ERROR_OUT_OF_MEMORY ? MST_ERR_OUT_OF_MEMORY : MST_ERR_DEVICE;
    const char *hint = mst_cu_error_hint(r);
    return mst_fail(st, "%s: %s (%s)%s%s", call, mst_cu_error_name(r), mst_cu_error_text(r), hint ? ": " : "",
                    hint ? hint : "");
}
