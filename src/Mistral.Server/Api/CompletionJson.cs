using System.Text.Json;
using Microsoft.Extensions.AI;

namespace Mistral.Server.Api;

/// <summary>Token counts of one completion, as the response's <c>usage</c>.</summary>
internal readonly record struct TokenUsage(int PromptTokens, int CompletionTokens);

/// <summary>What every response and chunk of one completion repeats: its id, creation time and model.</summary>
internal sealed record CompletionHeader(string Id, long Created, string Model)
{
    public static CompletionHeader New(string model) =>
        new($"chatcmpl-{Guid.NewGuid():N}", DateTimeOffset.UtcNow.ToUnixTimeSeconds(), model);
}

/// <summary>
/// The JSON of Mistral's chat-completion responses: <c>chat.completion</c> for a whole answer and
/// <c>chat.completion.chunk</c> for a streamed delta. Written field by field so the shape is exactly the API's.
/// </summary>
internal static class CompletionJson
{
    public static void WriteCompletion(Utf8JsonWriter json, CompletionHeader header, string content, string finishReason, TokenUsage usage,
        IReadOnlyList<FunctionCallContent>? toolCalls = null)
    {
        json.WriteStartObject();
        WriteHeader(json, header, "chat.completion");
        json.WriteStartArray("choices");
        json.WriteStartObject();
        json.WriteNumber("index", 0);
        json.WriteStartObject("message");
        json.WriteString("role", "assistant");
        json.WriteString("content", content);
        if (toolCalls is { Count: > 0 }) WriteToolCalls(json, toolCalls, withIndex: false);
        json.WriteEndObject();
        json.WriteString("finish_reason", finishReason);
        json.WriteEndObject();
        json.WriteEndArray();
        WriteUsage(json, usage);
        json.WriteEndObject();
    }

    /// <summary>
    /// One streamed delta. The first carries the role; the last carries <paramref name="finishReason"/> and, as
    /// Mistral's API does, the usage (OpenAI's clients read it there too).
    /// </summary>
    public static void WriteChunk(Utf8JsonWriter json, CompletionHeader header, bool withRole, string content,
        string? finishReason = null, TokenUsage? usage = null, IReadOnlyList<FunctionCallContent>? toolCalls = null)
    {
        json.WriteStartObject();
        WriteHeader(json, header, "chat.completion.chunk");
        json.WriteStartArray("choices");
        json.WriteStartObject();
        json.WriteNumber("index", 0);
        json.WriteStartObject("delta");
        if (withRole) json.WriteString("role", "assistant");
        json.WriteString("content", content);
        if (toolCalls is { Count: > 0 }) WriteToolCalls(json, toolCalls, withIndex: true);
        json.WriteEndObject();
        if (finishReason is null) json.WriteNull("finish_reason");
        else json.WriteString("finish_reason", finishReason);
        json.WriteEndObject();
        json.WriteEndArray();
        if (usage is { } counts) WriteUsage(json, counts);
        json.WriteEndObject();
    }

    /// <summary>
    /// <c>tool_calls</c>: <c>[{"id", "type": "function", "function": {"name", "arguments"}}]</c> with the arguments as a
    /// JSON string, as Mistral's and OpenAI's APIs write them. A streamed delta numbers each call (<c>index</c>), which
    /// clients use to join a call sent in pieces; here each call is sent whole, in one delta.
    /// </summary>
    private static void WriteToolCalls(Utf8JsonWriter json, IReadOnlyList<FunctionCallContent> calls, bool withIndex)
    {
        json.WriteStartArray("tool_calls");
        for (var i = 0; i < calls.Count; i++)
        {
            json.WriteStartObject();
            if (withIndex) json.WriteNumber("index", i);
            json.WriteString("id", calls[i].CallId);
            json.WriteString("type", "function");
            json.WriteStartObject("function");
            json.WriteString("name", calls[i].Name);
            json.WriteString("arguments", ToolArguments.ToJson(calls[i].Arguments));
            json.WriteEndObject();
            json.WriteEndObject();
        }
        json.WriteEndArray();
    }

    private static void WriteHeader(Utf8JsonWriter json, CompletionHeader header, string objectType)
    {
        json.WriteString("id", header.Id);
        json.WriteString("object", objectType);
        json.WriteNumber("created", header.Created);
        json.WriteString("model", header.Model);
    }

    private static void WriteUsage(Utf8JsonWriter json, TokenUsage usage)
    {
        json.WriteStartObject("usage");
        json.WriteNumber("prompt_tokens", usage.PromptTokens);
        json.WriteNumber("completion_tokens", usage.CompletionTokens);
        json.WriteNumber("total_tokens", usage.PromptTokens + usage.CompletionTokens);
        json.WriteEndObject();
    }
}
