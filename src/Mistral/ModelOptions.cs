using Microsoft.Extensions.Logging;
using Mistral.Chat;

namespace Mistral;

/// <summary>
/// How a model is loaded, and the defaults of the sessions created from it. <see cref="Threads"/>,
/// <see cref="ContextLength"/> and <see cref="BatchSize"/> are per-session settings given here once for every session;
/// a session's <see cref="SessionOptions"/> overrides any of them for that session alone. Like every options type of this
/// library it is an immutable record: build it with an initializer, derive a variant with <c>with</c>.
/// </summary>
public sealed record ModelOptions
{
    /// <summary>
    /// Worker threads for sessions of this model; 0 (the default) means one per processor this process may run on:
    /// its CPU affinity (<c>taskset</c>), capped by a container's cgroup CPU quota. More threads than that only wait
    /// on each other, so a larger number is capped to it (with a warning to <see cref="Logger"/>). The default of every
    /// session; <see cref="SessionOptions.Threads"/>, when set, wins for its session.
    /// </summary>
    public int Threads { get; init; }

    /// <summary>
    /// Context length (KV cache tokens) of sessions; 0 means the trained length, at most 4096. The default of every
    /// session; <see cref="SessionOptions.ContextLength"/>, when set, wins for its session.
    /// </summary>
    public int ContextLength { get; init; }

    /// <summary>
    /// Most tokens evaluated in one native call during prompt processing. The default of every session;
    /// <see cref="SessionOptions.BatchSize"/>, when set, wins for its session.
    /// </summary>
    public int BatchSize { get; init; } = 512;

    /// <summary>
    /// Which native backend runs the model; both are in the one native library, and each model chooses its own.
    /// <see cref="MistralBackend.Auto"/> (the default) takes CUDA when an NVIDIA driver and device are present
    /// (only the driver, libcuda.so.1, is needed), else the CPU, and logs the reason at Information level.
    /// <see cref="MistralBackend.Cuda"/> where it cannot run is a <see cref="MistralDeviceException"/> saying why.
    /// With the environment variable MISTRAL_CUDA_EMULATE=1, Cuda runs on the native SIMT emulator (for tests;
    /// Auto never chooses the emulator). <see cref="MistralModel.BackendInfo"/> tells what the model runs on.
    /// </summary>
    public MistralBackend Backend { get; init; } = MistralBackend.Auto;

    /// <summary>The CUDA device ordinal (0 = the first GPU the driver lists); ignored on the CPU.</summary>
    public int Device { get; init; }

    /// <summary>Receives what happens while loading and running: the backend chosen and why, load time, generation timings.</summary>
    public ILogger? Logger { get; init; }

    /// <summary>
    /// Told how far loading has come, from 0 to 1 (1 when the model is ready), never going back. Most of the range is
    /// the native model creation (for CUDA: the weights' upload), reported by the native core as it goes.
    /// </summary>
    public IProgress<double>? Progress { get; init; }

    /// <summary>The prompt format of <see cref="MistralSession.Chat"/>; Auto chooses from the model file.</summary>
    public ChatTemplateKind ChatTemplate { get; init; } = ChatTemplateKind.Auto;

    /// <summary>
    /// Reads every weight at load and refuses the file (<see cref="Gguf.GgufFormatException"/> naming the tensor and the
    /// element or block) when one is NaN or infinite: for vetting a file from an untrusted source. Off by default, as it
    /// reads the whole file (seconds for a 7B model). Without it, non-finite weights are caught where they matter: a
    /// forward pass whose logits are not finite throws <see cref="NonFiniteOutputException"/>.
    /// </summary>
    public bool ScanWeightsForNonFinite { get; init; }

    /// <summary>
    /// Before the native model is created, <see cref="MistralModel.Load"/> estimates what it and a session of the default
    /// settings will take (<see cref="MistralModel.EstimateMemory"/>) and throws <see cref="ModelMemoryException"/>, with
    /// the numbers, when that does not fit: host memory (repacked weights, KV cache, scratch) against what the system has
    /// available, or on CUDA device memory against the GPU's free memory. A session larger than that default is checked
    /// the same way when it is created. True by default; false skips the check (the native core still refuses an
    /// allocation that fails, later and with less to say).
    /// </summary>
    public bool CheckMemory { get; init; } = true;

    /// <summary>
    /// The memory the check of <see cref="CheckMemory"/> allows, in bytes, instead of what is available: host memory on
    /// the CPU, device memory on CUDA. Null (the default): on the CPU the smaller of the system's available memory
    /// (Linux MemAvailable, which counts reclaimable file cache as available) and this process's share of its container
    /// limit (<see cref="GCMemoryInfo.TotalAvailableMemoryBytes"/> less the process's working set); on CUDA the device's
    /// free memory. Weights read in place from the mapped file are not counted: they are file cache the system can evict.
    /// </summary>
    public long? MemoryLimitBytes { get; init; }

    internal void Validate()
    {
        if (!Enum.IsDefined(Backend)) throw new ArgumentOutOfRangeException(nameof(Backend), Backend, "Backend must be Auto, Cpu or Cuda.");
        if (!Enum.IsDefined(ChatTemplate)) throw new ArgumentOutOfRangeException(nameof(ChatTemplate), ChatTemplate, "ChatTemplate must be a ChatTemplateKind value.");
        if (Device < 0) throw new ArgumentOutOfRangeException(nameof(Device), Device, "Device must be a CUDA device ordinal, 0 or more.");
        if (Threads < 0) throw new ArgumentOutOfRangeException(nameof(Threads), Threads, "Threads must be 0 (one per processor) or positive.");
        if (ContextLength < 0) throw new ArgumentOutOfRangeException(nameof(ContextLength), ContextLength, "ContextLength must be 0 (the model's default) or positive.");
        if (BatchSize <= 0) throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "BatchSize must be positive.");
        if (MemoryLimitBytes < 0) throw new ArgumentOutOfRangeException(nameof(MemoryLimitBytes), MemoryLimitBytes, "MemoryLimitBytes must be null (what is available) or 0 or more.");
    }
}

/// <summary>
/// How a session (one conversation with its own KV cache) is created. <see cref="Threads"/>, <see cref="ContextLength"/>
/// and <see cref="BatchSize"/> override the model's <see cref="ModelOptions"/> for this session: null (the default)
/// takes the model's value, a value set here wins. They exist on both because one loaded model may serve sessions of
/// different sizes (a long chat beside short classifications) while most programs set them once, on the model.
/// </summary>
public sealed record SessionOptions
{
    /// <summary>KV cache length in tokens, positive; null = <see cref="ModelOptions.ContextLength"/>.</summary>
    public int? ContextLength { get; init; }

    /// <summary>
    /// Worker threads: 0 = one per processor this process may use, as for <see cref="ModelOptions.Threads"/>;
    /// null = <see cref="ModelOptions.Threads"/>.
    /// </summary>
    public int? Threads { get; init; }

    /// <summary>
    /// Most tokens evaluated in one native call during prompt processing, positive; null = <see cref="ModelOptions.BatchSize"/>.
    /// </summary>
    public int? BatchSize { get; init; }

    /// <summary>
    /// Element type of the KV cache: <see cref="KvCacheType.F16"/> (the default, as in llama.cpp: half the memory) or
    /// <see cref="KvCacheType.F32"/>. The CUDA backend holds F16 only.
    /// </summary>
    public KvCacheType KvCacheType { get; init; } = KvCacheType.F16;

    /// <summary>
    /// Checks every layer's output for NaN/Inf, so that a <see cref="NonFiniteOutputException"/> names the first layer
    /// that produced one (<see cref="NonFiniteOutputException.Layer"/>), not only the position. A diagnostic: it scans
    /// the hidden state after each layer (and, on a GPU, copies it to the host), so leave it off in production.
    /// </summary>
    public bool DiagnoseNonFinite { get; init; }
}

/// <summary>Element type of a session's KV cache (<see cref="SessionOptions.KvCacheType"/>).</summary>
public enum KvCacheType
{
    /// <summary>Half precision: 2 bytes per value (the default).</summary>
    F16,

    /// <summary>Single precision: 4 bytes per value, exact to the activations.</summary>
    F32,
}
