namespace Mistral;

/// <summary>Why generation ended.</summary>
public enum FinishReason
{
    /// <summary>The model produced its end-of-sequence token.</summary>
    EndOfSequence,

    /// <summary>A stop string was produced (it is not part of the text).</summary>
    StopString,

    /// <summary><see cref="GenerationOptions.MaxTokens"/> tokens were generated.</summary>
    MaxTokens,

    /// <summary>The session's context (KV cache) is full.</summary>
    ContextFull,
}

/// <summary>The outcome of one generation: the text, the token ids and how long each phase took.</summary>
/// <param name="Text">Generated text, without the prompt and without any stop string.</param>
/// <param name="Tokens">Generated token ids (the end-of-sequence token is not included).</param>
/// <param name="FinishReason">Why generation ended.</param>
/// <param name="PromptTokenCount">Tokens evaluated for the prompt.</param>
/// <param name="PromptTime">Time spent evaluating the prompt (prefill).</param>
/// <param name="GenerationTime">Time spent evaluating generated tokens one by one (decode), sampling included.</param>
public sealed record GenerationResult(
    string Text,
    IReadOnlyList<int> Tokens,
    FinishReason FinishReason,
    int PromptTokenCount,
    TimeSpan PromptTime,
    TimeSpan GenerationTime)
{
    /// <summary>Prompt tokens per second.</summary>
    public double PromptTokensPerSecond => PromptTime > TimeSpan.Zero ? PromptTokenCount / PromptTime.TotalSeconds : 0;

    /// <summary>Decode steps per second (a generated token is evaluated when the next one is asked for).</summary>
    public double GenerationTokensPerSecond => GenerationTime > TimeSpan.Zero ? DecodeSteps / GenerationTime.TotalSeconds : 0;

    internal int DecodeSteps { get; init; }
}
