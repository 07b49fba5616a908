using Microsoft.Extensions.AI;

namespace Mistral.Server.Api;

/// <summary>
/// A <c>POST /v1/chat/completions</c> body after checking: the fields this server acts on. Tools and response
/// formats other than text and JSON are refused by the parser until they are implemented, rather than silently ignored.
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

    /// <summary><c>tools</c>: the functions the model may call; null for none.</summary>
    public IReadOnlyList<AIFunctionDeclaration>? Tools { get; init; }

    /// <summary><c>tool_choice</c>: auto, none, any/required, or a named function; null = auto.</summary>
    public ChatToolMode? ToolMode { get; init; }

    /// <summary><c>response_format</c>: null or text for free text, JSON for output constrained to a JSON object or to a JSON schema.</summary>
    public ChatResponseFormat? ResponseFormat { get; init; }

    /// <summary>The request as Microsoft.Extensions.AI options for the session's chat client; unset fields keep the server's defaults.</summary>
    public ChatOptions ToChatOptions(int defaultMaxTokens) => new()
    {
        Temperature = Temperature,
        TopP = TopP,
        MaxOutputTokens = MaxTokens ?? defaultMaxTokens,
        StopSequences = Stop is { Count: > 0 } ? [.. Stop] : null,
        Seed = Seed,
        Tools = Tools is null ? null : [.. Tools],
        ToolMode = ToolMode,
        ResponseFormat = ResponseFormat,
    };
}
