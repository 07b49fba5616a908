namespace Mistral;

/// <summary>Which native backend runs a model (see <see cref="ModelOptions.Backend"/>). Both are in the one native library.</summary>
public enum MistralBackend
{
    /// <summary>CUDA when it can run here (an NVIDIA driver and device), else the CPU; the reason is logged.</summary>
    Auto,

    /// <summary>The CPU core (SIMD chosen at run time).</summary>
    Cpu,

    /// <summary>
    /// NVIDIA GPUs through the driver (libcuda.so.1; no CUDA toolkit needed: the kernels are built into the library as PTX).
    /// A <see cref="MistralDeviceException"/> when no driver or device is present. The environment variable
    /// MISTRAL_CUDA_EMULATE=1 runs it on the library's SIMT emulator instead (the same kernels on the CPU, slowly: for tests).
    /// </summary>
    Cuda,
}
