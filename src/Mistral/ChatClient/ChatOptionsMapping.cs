using Microsoft.Extensions.AI;

namespace Mistral;

/// <summary>Maps Microsoft.Extensions.AI request options and messages onto this library's own.</summary>
internal static class ChatOptionsMapping
{
    /// <summary>The client's defaults with whatever the request sets on top.</summary>
    public static GenerationOptions ToGenerationOptions(ChatOptions? request, GenerationOptions defaults)
    {
        if (request is null) return defaults;
        return new GenerationOptions
        {
            MaxTokens = request.MaxOutputTokens ?? defaults.MaxTokens,
            Temperature = request.Temperature ?? defaults.Temperature,
            TopK = request.TopK ?? defaults.TopK,
            TopP = request.TopP ?? defaults.TopP,
            MinP = defaults.MinP,
            RepetitionPenalty = defaults.RepetitionPenalty,
            RepetitionLastN = defaults.RepetitionLastN,
            // ChatOptions.Seed is a long; every bit pattern is a valid seed for our generator.
            Seed = request.Seed is long seed ? unchecked((ulong)seed) : defaults.Seed,
            StopStrings = request.StopSequences is { Count: > 0 } stops ? [.. stops] : defaults.StopStrings,
            AddBos = defaults.AddBos,
            ResponseFormat = ToResponseFormat(request.ResponseFormat) ?? defaults.ResponseFormat,
        };
    }

    /// <summary>
    /// ChatResponseFormat.Json becomes a JSON-object constraint, ForJsonSchema a schema constraint (a schema outside
    /// the supported subset throws, naming where); text (or nothing) leaves the default.
    /// </summary>
    private static ResponseFormat? ToResponseFormat(ChatResponseFormat? format) => format switch
    {
        null or ChatResponseFormatText => null,
        ChatResponseFormatJson { Schema: null } => ResponseFormat.JsonObject,
        ChatResponseFormatJson json => ResponseFormat.ForJsonSchema(json.Schema.Value, json.SchemaName),
        _ => throw new NotSupportedException($"ChatOptions.ResponseFormat: {format.GetType().Name} is not supported."),
    };

    public static ChatFinishReason ToFinishReason(FinishReason reason) => reason switch
    {
        FinishReason.MaxTokens or FinishReason.ContextFull => ChatFinishReason.Length,
        _ => ChatFinishReason.Stop,
    };

    public static UsageDetails ToUsage(int promptTokens, int outputTokens) => new()
    {
        InputTokenCount = promptTokens,
        OutputTokenCount = outputTokens,
        TotalTokenCount = promptTokens + outputTokens,
    };
}
