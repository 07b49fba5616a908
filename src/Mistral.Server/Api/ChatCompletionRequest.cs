using Microsoft.Extensions.AI;

namespace Mistral.Server.Api;

/// <summary>
/// A <c>POST /v1/chat/completions</c> body after checking: the fields this server acts on. Tools and response
/// formats are refused by the parser until they are implemented, rather than silently ignored.
/// </summary>
internal sealed record ChatCompletionRequest
{
    /// <summary>The model the client named; any name is accepted (one model is served) so existing code runs unchanged.</summary>
    public string? Model { get; init; }

    public required IReadOnlyList<ChatMessage> Messages { get; init; }

    public float? Temperature { get; init; }

    public float? TopP { get; init; }

    /// <summary><c>max_tokens</c> (Mistral) or <c>max_completion_tokens</c> (what OpenAI's clients send).</summary>
    public int? MaxTokens { get; init; }

    public IReadOnlyList<string>? Stop { get; init; }

    /// <summary><c>random_seed</c> (Mistral) or <c>seed</c> (OpenAI).</summary>
    public long? Seed { get; init; }

    public bool Stream { get; init; }

    /// <summary>The request as Microsoft.Extensions.AI options for the session's chat client; unset fields keep the server's defaults.</summary>
    public ChatOptions ToChatOptions(int defaultMaxTokens) => new()
    {
        Temperature = Temperature,
        TopP = TopP,
        MaxOutputTokens = MaxTokens ?? defaultMaxTokens,
        StopSequences = Stop is { Count: > 0 } ? [.. Stop] : null,
        Seed = Seed,
    };
}
