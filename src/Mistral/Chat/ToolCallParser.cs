using System.Text.Json;

namespace Mistral.Chat;

/// <summary>What the model wrote after <c>[TOOL_CALLS]</c>: the calls, or why they could not be read.</summary>
/// <param name="Calls">The calls, in order; empty when <paramref name="Error"/> is set.</param>
/// <param name="Error">Null when the text was a well-formed list of calls; otherwise what was wrong with it.</param>
internal sealed record ToolCallParse(IReadOnlyList<ChatToolCall> Calls, string? Error)
{
    public bool Succeeded => Error is null;
}

/// <summary>
/// Reads the calls a model generates after the <c>[TOOL_CALLS]</c> token (Mistral's v3 format: a JSON array of
/// <c>{"name": …, "arguments": {…}, "id": …}</c>, ended by EOS). Lenient where models are known to vary — a single
/// object instead of an array, arguments written as a JSON string, no id (one is made, as Mistral's API does) — and
/// never throwing: a model's malformed output is data, reported through <see cref="ToolCallParse.Error"/> so the
/// caller can hand the text back instead of failing in the middle of a conversation.
/// </summary>
internal static class ToolCallParser
{
    private static readonly JsonDocumentOptions Options = new() { MaxDepth = 64 };

    public static ToolCallParse Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var json = text.Trim();
        if (json.Length == 0) return Fail("the model wrote [TOOL_CALLS] and nothing after it");
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, Options);
        }
        catch (JsonException ex)
        {
            return Fail($"the text after [TOOL_CALLS] is not valid JSON ({ex.Message})");
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind == JsonValueKind.Object)
            {
                // One call without the list around it: some fine-tunes write this; the call is unambiguous.
                var (call, error) = One(root, 0);
                return error is null ? new([call!], null) : Fail(error);
            }
            if (root.ValueKind != JsonValueKind.Array) return Fail($"the text after [TOOL_CALLS] is a JSON {root.ValueKind}, not a list of calls");
            var calls = new List<ChatToolCall>();
            var index = 0;
            foreach (var item in root.EnumerateArray())
            {
                var (call, error) = One(item, index++);
                if (error is not null) return Fail(error);
                calls.Add(call!);
            }
            return calls.Count == 0 ? Fail("the list of calls after [TOOL_CALLS] is empty") : new(calls, null);
        }
    }

    private static (ChatToolCall? Call, string? Error) One(JsonElement item, int index)
    {
        if (item.ValueKind != JsonValueKind.Object) return (null, $"call {index} is a JSON {item.ValueKind}, not an object");
        if (!item.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String || string.IsNullOrEmpty(name.GetString()))
            return (null, $"call {index} has no \"name\" string");
        var arguments = item.TryGetProperty("arguments", out var a) ? a : default;
        if (arguments.ValueKind == JsonValueKind.String && ToolCallJson.TryParse(arguments.GetString()!) is { } parsed) arguments = parsed;
        if (arguments.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null) arguments = EmptyObject();
        if (arguments.ValueKind != JsonValueKind.Object) return (null, $"call {index} (\"{name.GetString()}\") has \"arguments\" that are not a JSON object");
        var id = item.TryGetProperty("id", out var i) && i.ValueKind == JsonValueKind.String && i.GetString() is { Length: > 0 } given && given != "null"
            ? given
            : ChatToolCall.NewId();
        return (new ChatToolCall(id, name.GetString()!, arguments.Clone()), null);
    }

    private static JsonElement EmptyObject()
    {
        using var document = JsonDocument.Parse("{}");
        return document.RootElement.Clone();
    }

    private static ToolCallParse Fail(string error) => new([], error);
}
