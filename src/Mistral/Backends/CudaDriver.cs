using System.Runtime.InteropServices;

namespace Mistral.Backends;

/// <summary>
/// Counts NVIDIA devices through the driver API alone (libcuda.so.1 / nvcuda.dll), which the display driver
/// installs: no CUDA toolkit or runtime is needed to decide whether the CUDA backend can run.
/// </summary>
internal static class CudaDriver
{
    /// <summary>The driver library's file name on this platform.</summary>
    internal static string LibraryName => OperatingSystem.IsWindows() ? "nvcuda.dll" : "libcuda.so.1";

    /// <summary>How many CUDA devices the driver reports; 0 with <paramref name="detail"/> saying why when it cannot tell.</summary>
    internal static unsafe int CountDevices(out string detail)
    {
        if (OperatingSystem.IsMacOS())
        {
            detail = "CUDA does not exist on macOS";
            return 0;
        }
        if (!NativeLibrary.TryLoad(LibraryName, out var driver))
        {
            detail = $"the NVIDIA driver library {LibraryName} is not installed (or not on the loader's search path)";
            return 0;
        }
        // The handle is deliberately kept: a CUDA backend loaded later uses the same driver.
        if (!NativeLibrary.TryGetExport(driver, "cuInit", out var init) ||
            !NativeLibrary.TryGetExport(driver, "cuDeviceGetCount", out var getCount))
        {
            detail = $"{LibraryName} lacks cuInit/cuDeviceGetCount";
            return 0;
        }
        // CUresult is an int; 0 is CUDA_SUCCESS. 100 (CUDA_ERROR_NO_DEVICE) is what a GPU-less machine with a driver says.
        var status = ((delegate* unmanaged<uint, int>)init)(0);
        if (status != 0)
        {
            detail = $"cuInit failed with CUresult {status}" + (status == 100 ? " (no CUDA-capable device)" : "");
            return 0;
        }
        int count;
        status = ((delegate* unmanaged<int*, int>)getCount)(&count);
        if (status != 0)
        {
            detail = $"cuDeviceGetCount failed with CUresult {status}";
            return 0;
        }
        detail = $"{count} CUDA device(s) reported by {LibraryName}";
        return count;
    }
}
