using Microsoft.Extensions.Logging;
using Mistral.Chat;

namespace Mistral;

/// <summary>How a model is loaded.</summary>
public sealed record ModelOptions
{
    /// <summary>
    /// Worker threads for sessions of this model; 0 (the default) means one per processor this process may run on:
    /// its CPU affinity (<c>taskset</c>), capped by a container's cgroup CPU quota. More threads than that only wait
    /// on each other, so a larger number is capped to it (with a warning to <see cref="Logger"/>).
    /// </summary>
    public int Threads { get; init; }

    /// <summary>Default context length (KV cache tokens) of sessions; 0 means the trained length, at most 4096.</summary>
    public int ContextLength { get; init; }

    /// <summary>Most tokens evaluated in one native call during prompt processing.</summary>
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

    internal void Validate()
    {
        if (!Enum.IsDefined(Backend)) throw new ArgumentOutOfRangeException(nameof(Backend), Backend, "Backend must be Auto, Cpu or Cuda.");
        if (!Enum.IsDefined(ChatTemplate)) throw new ArgumentOutOfRangeException(nameof(ChatTemplate), ChatTemplate, "ChatTemplate must be a ChatTemplateKind value.");
        if (Device < 0) throw new ArgumentOutOfRangeException(nameof(Device), Device, "Device must be a CUDA device ordinal, 0 or more.");
        if (Threads < 0) throw new ArgumentOutOfRangeException(nameof(Threads), Threads, "Threads must be 0 (one per processor) or positive.");
        if (ContextLength < 0) throw new ArgumentOutOfRangeException(nameof(ContextLength), ContextLength, "ContextLength must be 0 (the model's default) or positive.");
        if (BatchSize <= 0) throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "BatchSize must be positive.");
    }
}

/// <summary>How a session (one conversation with its own KV cache) is created; unset values come from <see cref="ModelOptions"/>.</summary>
public sealed class SessionOptions
{
    /// <summary>KV cache length in tokens.</summary>
    public int? ContextLength { get; init; }

    /// <summary>Worker threads.</summary>
    public int? Threads { get; init; }

    /// <summary>Most tokens evaluated in one native call during prompt processing.</summary>
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
