namespace Mistral;

/// <summary>How a model is loaded.</summary>
public sealed class ModelOptions
{
    /// <summary>Worker threads for sessions of this model; 0 means one per processor.</summary>
    public int Threads { get; init; }

    /// <summary>Default context length (KV cache tokens) of sessions; 0 means the trained length, at most 4096.</summary>
    public int ContextLength { get; init; }

    /// <summary>Most tokens evaluated in one native call during prompt processing.</summary>
    public int BatchSize { get; init; } = 512;

    internal void Validate()
    {
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
