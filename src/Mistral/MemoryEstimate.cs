using System.Globalization;

namespace Mistral;

/// <summary>
/// What a model and one session take, in bytes, as the native core computes it from the file's header and tensor table
/// before anything is allocated (<see cref="MistralModel.EstimateMemory"/>). Each figure is an upper bound, within a few
/// MiB of what the native core allocates.
/// </summary>
/// <param name="WeightsMapped">
/// Weights read in place from the memory-mapped file: the operating system pages them in as they are used and counts
/// them as file cache, which it can reclaim (at the cost of reading them again), so they are not a hard need.
/// </param>
/// <param name="WeightsOwned">Host memory the core allocates for the weights: repacked copies, float32 norms, tables.</param>
/// <param name="KvCache">Host memory of the session's KV cache for its context length and cache type (0 on CUDA: see <paramref name="Device"/>).</param>
/// <param name="Scratch">Host memory of the session's activations and per-thread buffers.</param>
/// <param name="Device">CUDA: device memory for the uploaded weights, the KV cache and the scratch buffers; 0 on the CPU.</param>
public sealed record MemoryEstimate(long WeightsMapped, long WeightsOwned, long KvCache, long Scratch, long Device)
{
    /// <summary>Host memory the core allocates: <see cref="WeightsOwned"/> + <see cref="KvCache"/> + <see cref="Scratch"/>.</summary>
    public long Host => WeightsOwned + KvCache + Scratch;

    /// <summary>One line: each part in MiB or GiB.</summary>
    public override string ToString() =>
        $"host {FormatBytes(Host)} (weights {FormatBytes(WeightsOwned)}, KV cache {FormatBytes(KvCache)}, scratch {FormatBytes(Scratch)})" +
        $", mapped from the file {FormatBytes(WeightsMapped)}" + (Device > 0 ? $", device {FormatBytes(Device)}" : "");

    /// <summary>"512.0 MiB", "4.21 GiB": enough digits to compare two sizes in one message.</summary>
    public static string FormatBytes(long bytes) => bytes >= 1L << 30
        ? string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 30):F2} GiB")
        : string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 20):F1} MiB");
}
