using Microsoft.Extensions.Logging;
using Mistral.Chat;

namespace Mistral;

/// <summary>How a model is loaded.</summary>
public sealed record ModelOptions
{
    /// <summary>Worker threads for sessions of this model; 0 means one per processor.</summary>
    public int Threads { get; init; }

    /// <summary>Default context length (KV cache tokens) of sessions; 0 means the trained length, at most 4096.</summary>
    public int ContextLength { get; init; }

    /// <summary>Most tokens evaluated in one native call during prompt processing.</summary>
    public int BatchSize { get; init; } = 512;

    /// <summary>
    /// Which native backend runs the model. <see cref="MistralBackend.Auto"/> (the default) takes CUDA when
    /// the Mistral.Native.Runtime.Cuda package's library and an NVIDIA device are present, else the CPU.
    /// The first model loaded in a process fixes the backend for the process.
    /// </summary>
    public MistralBackend Backend { get; init; } = MistralBackend.Auto;

    /// <summary>Receives what happens while loading and running: the backend chosen and why, load time, generation timings.</summary>
    public ILogger? Logger { get; init; }

    /// <summary>Told how far loading has come, from 0 to 1 (1 when the model is ready).</summary>
    public IProgress<double>? Progress { get; init; }

    /// <summary>The prompt format of <see cref="MistralSession.Chat"/>; Auto chooses from the model file.</summary>
    public ChatTemplateKind ChatTemplate { get; init; } = ChatTemplateKind.Auto;

    internal void Validate()
    {
        if (!Enum.IsDefined(Backend)) throw new ArgumentOutOfRangeException(nameof(Backend), Backend, "Backend must be Auto, Cpu or Cuda.");
        if (!Enum.IsDefined(ChatTemplate)) throw new ArgumentOutOfRangeException(nameof(ChatTemplate), ChatTemplate, "ChatTemplate must be a ChatTemplateKind value.");
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
}
