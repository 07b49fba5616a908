using System.Globalization;
using System.Text;
using Mistral.Interop;

namespace Mistral;

/// <summary>
/// What a backend runs on, as the native core reports it: the device's name, for CUDA its compute capability, the
/// driver version and memory, or why the backend cannot run here. <see cref="MistralModel.BackendInfo"/> describes
/// the device a model was loaded on; <see cref="Query"/> asks without loading anything.
/// </summary>
/// <example><code>
/// var cuda = BackendInfo.Query(MistralBackend.Cuda);
/// Console.WriteLine(cuda.IsAvailable ? cuda.ToString() : "no GPU: " + cuda.UnavailableReason);
/// </code></example>
public sealed record BackendInfo
{
    /// <summary>The backend described: <see cref="MistralBackend.Cpu"/> or <see cref="MistralBackend.Cuda"/>, never Auto.</summary>
    public MistralBackend Backend { get; init; }

    /// <summary>Whether models can be created on this backend here.</summary>
    public bool IsAvailable { get; init; }

    /// <summary>When not available: what was looked for and what to install; otherwise null.</summary>
    public string? UnavailableReason { get; init; }

    /// <summary>
    /// The CUDA device ordinal a model uses (<see cref="ModelOptions.Device"/>, or the one given to <see cref="Query"/>); 0 for the CPU.
    /// The other properties describe the device the driver lists first (ordinal 0): the native query reports that one.
    /// </summary>
    public int Device { get; init; }

    /// <summary>CUDA devices the driver reports (1 for the emulator); 1 for the CPU.</summary>
    public int DeviceCount { get; init; }

    /// <summary>e.g. "NVIDIA H100 80GB HBM3", "SIMT emulator (CPU)", or the CPU's model name.</summary>
    public string DeviceName { get; init; } = "";

    /// <summary>CUDA compute capability (e.g. 9.0 for an H100); null on the CPU.</summary>
    public Version? ComputeCapability { get; init; }

    /// <summary>The CUDA driver API version (e.g. 12.4); null on the CPU and where no driver was found.</summary>
    public Version? DriverVersion { get; init; }

    /// <summary>True when the SIMT emulator stands in for a GPU (MISTRAL_CUDA_EMULATE=1): the CUDA kernels run on the CPU.</summary>
    public bool IsEmulated { get; init; }

    /// <summary>Bytes of device memory (the CPU: physical memory).</summary>
    public ulong TotalMemoryBytes { get; init; }

    /// <summary>Bytes free when it was asked (the CPU: available memory).</summary>
    public ulong FreeMemoryBytes { get; init; }

    /// <summary>
    /// Asks the native core whether <paramref name="backend"/> can run here, and on what. Cheap after the first call
    /// (the driver is probed once). <see cref="MistralBackend.Auto"/> answers for the backend Auto would choose.
    /// For <see cref="MistralBackend.Cuda"/>, MISTRAL_CUDA_EMULATE=1 asks about the SIMT emulator.
    /// </summary>
    /// <param name="backend">The backend to ask about, as <see cref="ModelOptions.Backend"/> would name it.</param>
    /// <param name="device">The CUDA device ordinal, as <see cref="ModelOptions.Device"/>: one the driver does not list makes CUDA unavailable.</param>
    /// <exception cref="MistralNativeLibraryException">The native core could not be loaded.</exception>
    public static BackendInfo Query(MistralBackend backend, int device = 0)
    {
        if (!Enum.IsDefined(backend)) throw new ArgumentOutOfRangeException(nameof(backend), backend, "backend must be Auto, Cpu or Cuda.");
        ArgumentOutOfRangeException.ThrowIfNegative(device);
        return BackendSelection.Choose(backend, device, logger: null, throwIfUnavailable: false);
    }

    /// <summary>One line for people: the backend and its device, e.g. "CUDA: NVIDIA H100 80GB HBM3 (compute 9.0, driver 12.4, 79.1 of 79.6 GiB free)".</summary>
    public override string ToString()
    {
        var ci = CultureInfo.InvariantCulture;
        var text = new StringBuilder(Backend == MistralBackend.Cuda ? "CUDA" : "CPU");
        if (!IsAvailable) return text.Append(": unavailable (").Append(UnavailableReason).Append(')').ToString();
        text.Append(": ").Append(DeviceName);
        var details = new List<string>();
        if (Backend == MistralBackend.Cuda && !IsEmulated)
        {
            details.Add(string.Create(ci, $"device {Device} of {DeviceCount}"));
            if (ComputeCapability is { } cc) details.Add($"compute {cc.ToString(2)}");
            if (DriverVersion is { } driver) details.Add($"driver {driver.ToString(2)}");
        }
        if (TotalMemoryBytes > 0)
            details.Add(string.Create(ci, $"{FreeMemoryBytes / GiB:F1} of {TotalMemoryBytes / GiB:F1} GiB free"));
        if (details.Count > 0) text.Append(" (").Append(string.Join(", ", details)).Append(')');
        return text.ToString();
    }

    private const double GiB = 1024.0 * 1024 * 1024;

    // By value: a local copy is not movable, so its fixed buffers can be read through plain pointers.
    internal static unsafe BackendInfo FromNative(mst_backend_info info, int device)
    {
        var backend = info.backend == (int)mst_backend_kind.MST_BACKEND_CUDA ? MistralBackend.Cuda : MistralBackend.Cpu;
        var available = info.available != 0;
        var reasonText = Text(info.reason, 256);
        return new BackendInfo
        {
            Backend = backend,
            IsAvailable = available,
            UnavailableReason = available ? null : reasonText.Length > 0 ? reasonText : "the native core gave no reason",
            Device = device,
            DeviceCount = info.device_count,
            DeviceName = Text(info.device_name, 128),
            ComputeCapability = backend == MistralBackend.Cuda && (info.compute_major > 0 || info.compute_minor > 0)
                ? new Version(info.compute_major, info.compute_minor) : null,
            // The driver API encodes 12.4 as 12040 (1000 * major + 10 * minor).
            DriverVersion = info.driver_version > 0 ? new Version(info.driver_version / 1000, info.driver_version % 1000 / 10) : null,
            IsEmulated = info.emulated != 0,
            TotalMemoryBytes = info.total_memory,
            FreeMemoryBytes = info.free_memory,
        };
    }

    // A char[N] the library fills: NUL-terminated UTF-8, read no further than N even if the NUL is missing.
    private static unsafe string Text(byte* buffer, int capacity)
    {
        var bytes = new ReadOnlySpan<byte>(buffer, capacity);
        var end = bytes.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end >= 0 ? bytes[..end] : bytes);
    }
}
