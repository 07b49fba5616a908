using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;

namespace Mistral.Chat;

/// <summary>
/// The JSON texts of Mistral's tool format (tokenizer v3, mistral-common <c>InstructTokenizerV3</c>), each written as
/// <c>json.dumps</c> writes it (<see cref="MistralJson"/>):
/// available tools <c>[{"type": "function", "function": {"name": …, "description": …, "parameters": …}}]</c>,
/// an assistant's calls <c>[{"name": …, "arguments": {…}, "id": …}]</c>, a result <c>{"content": …, "call_id": …}</c>.
/// </summary>
internal static class ToolCallJson
{
    /// <summary>The tools block; a tool without a description gets "" and one without a schema an empty object schema, as mistral-common's defaults.</summary>
    public static string Tools(IReadOnlyList<AIFunctionDeclaration> tools)
    {
        var text = new StringBuilder("[");
        for (var i = 0; i < tools.Count; i++)
        {
            if (i > 0) text.Append(", ");
            var tool = tools[i];
            var parameters = tool.JsonSchema.ValueKind == JsonValueKind.Object ? MistralJson.Dumps(tool.JsonSchema) : "{\"type\": \"object\", \"properties\": {}}";
            text.Append("{\"type\": \"function\", \"function\": {\"name\": ").Append(MistralJson.Quote(tool.Name))
                .Append(", \"description\": ").Append(MistralJson.Quote(tool.Description ?? ""))
                .Append(", \"parameters\": ").Append(parameters).Append("}}");
        }
        return text.Append(']').ToString();
    }

    /// <summary>An assistant's calls; a call without an id is written without one, as mistral-common does.</summary>
    public static string Calls(IReadOnlyList<ChatToolCall> calls)
    {
        var text = new StringBuilder("[");
        for (var i = 0; i < calls.Count; i++)
        {
            if (i > 0) text.Append(", ");
            text.Append("{\"name\": ").Append(MistralJson.Quote(calls[i].Name))
                .Append(", \"arguments\": ").Append(MistralJson.Dumps(calls[i].Arguments));
            if (calls[i].Id.Length > 0) text.Append(", \"id\": ").Append(MistralJson.Quote(calls[i].Id));
            text.Append('}');
        }
        return text.Append(']').ToString();
    }

    /// <summary>One result block's JSON.</summary>
    public static string Result(ChatTurn tool) =>
        "{\"content\": " + MistralJson.Dumps(tool.ToolResult) + ", \"call_id\": " + MistralJson.Quote(tool.ToolCallId ?? "") + "}";

    /// <summary>
    /// A function's result as JSON. A string that parses as JSON is that JSON (mistral-common parses the tool message's
    /// content the same way: "22" is written as the number 22); any other string stays a string; objects are serialized.
    /// </summary>
    public static JsonElement Result(object? result) => result switch
    {
        null => Parse("null"),
        JsonElement element => element.Clone(),
        string text => TryParse(text) ?? Serialize(text),
        _ => Serialize(result),
    };

    /// <summary>
    /// A function's result as the text V7 and later write between <c>[TOOL_CONTENT]</c> and <c>[/TOOL_RESULTS]</c>:
    /// mistral-common's V7 normalizer keeps a tool message's content as given, so a string (or a JSON string value) is
    /// written as it is; other values, which have no text of their own, as <c>json.dumps</c> would write them.
    /// </summary>
    public static string ResultText(object? result, JsonElement json) => result switch
    {
        string text => text,
        _ when json.ValueKind == JsonValueKind.String => json.GetString()!,
        _ => MistralJson.Dumps(json),
    };

    /// <summary>A call's arguments as a JSON object.</summary>
    public static JsonElement Arguments(IDictionary<string, object?>? arguments) =>
        arguments is null ? Parse("{}") : Serialize(arguments);

    /// <summary>The element if <paramref name="text"/> is one whole JSON value, else null.</summary>
    public static JsonElement? TryParse(string text)
    {
        try
        {
            using var document = JsonDocument.Parse(text);
            return document.RootElement.Clone();
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static JsonElement Parse(string json)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.Clone();
    }

    // Microsoft.Extensions.AI's own options: the same serialization FunctionInvokingChatClient applies to results.
    private static JsonElement Serialize(object value) =>
        JsonSerializer.SerializeToElement(value, AIJsonUtilities.DefaultOptions.GetTypeInfo(typeof(object)));
}
