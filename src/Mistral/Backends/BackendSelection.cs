using Microsoft.Extensions.Logging;
using Mistral.Interop;

namespace Mistral;

/// <summary>
/// Decides where a model runs. Both backends live in the one native library; whether CUDA can run (a driver, a
/// device) is the native core's to say (mst_backend_query), so this only applies <see cref="ModelOptions.Backend"/>'s
/// rules to its answer: Auto takes CUDA when it can run, else the CPU with the reason logged; Cuda without it throws.
/// </summary>
internal static class BackendSelection
{
    /// <summary>"1" runs Backend = Cuda on the native SIMT emulator (tests without a GPU). Read as .NET sees it, so tests can set it in-process.</summary>
    internal const string EmulateVariable = "MISTRAL_CUDA_EMULATE";

    /// <summary>
    /// The mst_backend_flag bits for a request. Only an explicit Cuda request asks for the emulator: Auto must never
    /// land a model on it (it is orders of magnitude slower than the CPU backend) just because a test set the variable.
    /// </summary>
    internal static uint FlagsFor(MistralBackend requested) =>
        requested == MistralBackend.Cuda && Environment.GetEnvironmentVariable(EmulateVariable) == "1"
            ? (uint)mst_backend_flag.MST_BACKEND_EMULATE
            : 0;

    /// <summary>
    /// The backend a model asking for <paramref name="requested"/> runs on, described. Unavailable CUDA is a
    /// <see cref="MistralDeviceException"/> when <paramref name="throwIfUnavailable"/> (a load), else its description.
    /// </summary>
    internal static BackendInfo Choose(MistralBackend requested, int device, ILogger? logger, bool throwIfUnavailable)
    {
        if (requested == MistralBackend.Cpu)
        {
            logger?.LogInformation("Backend: CPU (requested)");
            return Query(MistralBackend.Cpu, 0, 0);
        }

        var cuda = Query(MistralBackend.Cuda, FlagsFor(requested), device);
        var reason = WhyNot(cuda, requested, device);
        if (reason is null)
        {
            logger?.LogInformation("Backend: CUDA on {Device}", cuda);
            return cuda;
        }
        if (requested == MistralBackend.Cuda)
        {
            var message = $"The CUDA backend was requested but cannot run: {reason}. Use ModelOptions.Backend = Auto or Cpu to run on the CPU instead.";
            if (throwIfUnavailable) throw new MistralDeviceException(message);
            return cuda with { IsAvailable = false, UnavailableReason = reason };
        }
        logger?.LogInformation("Backend: CPU, because {Reason}", reason);
        return Query(MistralBackend.Cpu, 0, 0);
    }

    /// <summary>Why a model asking for <paramref name="requested"/> cannot run on <paramref name="cuda"/>, or null when it can.</summary>
    private static string? WhyNot(BackendInfo cuda, MistralBackend requested, int device)
    {
        if (!cuda.IsAvailable) return cuda.UnavailableReason;
        // The native side ORs in the process environment it sees, so Auto can still be offered the emulator.
        if (cuda.IsEmulated && requested == MistralBackend.Auto)
            return $"only the SIMT emulator is available ({EmulateVariable}=1 in the environment), and Auto never chooses it: ask for Backend = Cuda to run on it";
        if (device >= cuda.DeviceCount)
            return $"CUDA device {device} does not exist: the driver reports {cuda.DeviceCount} device(s), ordinals 0 to {cuda.DeviceCount - 1}";
        return null;
    }

    internal static unsafe BackendInfo Query(MistralBackend backend, uint flags, int device)
    {
        NativeLibraryLoader.EnsureLoaded();
        var kind = backend == MistralBackend.Cuda ? mst_backend_kind.MST_BACKEND_CUDA : mst_backend_kind.MST_BACKEND_CPU;
        var info = new mst_backend_info { struct_size = (uint)sizeof(mst_backend_info) };
        NativeStatus.Check(NativeMethods.mst_backend_query((int)kind, flags, &info), $"Asking whether the {backend} backend can run");
        return BackendInfo.FromNative(info, device);
    }
}
