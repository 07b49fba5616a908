using System.Text.Json;
using Microsoft.Extensions.AI;

namespace Mistral.Server.Api;

/// <summary>
/// The tool-calling parts of a chat-completions body, field by field so each refusal names its field: <c>tools</c>,
/// <c>tool_choice</c>, an assistant message's <c>tool_calls</c> and a tool message (<c>role</c> "tool" with
/// <c>tool_call_id</c>). Shapes are Mistral's API's (which OpenAI's clients also send).
/// </summary>
internal static class ToolRequestParser
{
    /// <summary><c>tools</c>: <c>[{"type": "function", "function": {"name", "description", "parameters"}}]</c>; null when absent or empty.</summary>
    public static IReadOnlyList<AIFunctionDeclaration>? Tools(JsonElement root)
    {
        if (!root.TryGetProperty("tools", out var tools) || tools.ValueKind == JsonValueKind.Null) return null;
        if (tools.ValueKind != JsonValueKind.Array) throw Invalid("tools", "'tools' must be an array of {\"type\": \"function\", \"function\": {…}}.");
        var list = new List<AIFunctionDeclaration>();
        var index = 0;
        foreach (var tool in tools.EnumerateArray())
        {
            var at = $"tools[{index++}]";
            if (tool.ValueKind != JsonValueKind.Object) throw Invalid(at, $"'{at}' must be an object.");
            var type = tool.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : "function";
            if (type != "function") throw Invalid($"{at}.type", $"'{at}.type' is \"{type}\"; only \"function\" tools are supported.");
            if (!tool.TryGetProperty("function", out var function) || function.ValueKind != JsonValueKind.Object)
                throw Invalid($"{at}.function", $"'{at}.function' is required: an object with 'name', 'description' and 'parameters'.");
            var name = RequiredString(function, "name", $"{at}.function.name");
            var description = function.TryGetProperty("description", out var d) && d.ValueKind == JsonValueKind.String ? d.GetString() : null;
            var parameters = function.TryGetProperty("parameters", out var p) ? p : default;
            if (parameters.ValueKind is not (JsonValueKind.Object or JsonValueKind.Undefined or JsonValueKind.Null))
                throw Invalid($"{at}.function.parameters", $"'{at}.function.parameters' must be a JSON Schema object.");
            var schema = parameters.ValueKind == JsonValueKind.Object ? parameters.Clone() : EmptySchema();
            list.Add(AIFunctionFactory.CreateDeclaration(name, description, schema));
        }
        return list.Count == 0 ? null : list;
    }

    /// <summary><c>tool_choice</c>: "auto", "none", "any" or "required", or <c>{"type": "function", "function": {"name"}}</c>.</summary>
    public static ChatToolMode? ToolChoice(JsonElement root, IReadOnlyList<AIFunctionDeclaration>? tools)
    {
        if (!root.TryGetProperty("tool_choice", out var choice) || choice.ValueKind == JsonValueKind.Null) return null;
        if (choice.ValueKind == JsonValueKind.String)
        {
            return choice.GetString() switch
            {
                "auto" => ChatToolMode.Auto,
                "none" => ChatToolMode.None,
                "any" or "required" => ChatToolMode.RequireAny,
                var other => throw Invalid("tool_choice", $"'tool_choice' is \"{other}\"; it must be \"auto\", \"none\", \"any\", \"required\" or a named function."),
            };
        }
        if (choice.ValueKind != JsonValueKind.Object || !choice.TryGetProperty("function", out var function) || function.ValueKind != JsonValueKind.Object)
            throw Invalid("tool_choice", "'tool_choice' must be a string or {\"type\": \"function\", \"function\": {\"name\": …}}.");
        var name = RequiredString(function, "name", "tool_choice.function.name");
        if (tools is null || tools.All(t => t.Name != name))
            throw Invalid("tool_choice.function.name", $"'tool_choice.function.name' is \"{name}\", which is not among 'tools'.");
        return ChatToolMode.RequireSpecific(name);
    }

    /// <summary>An assistant message's <c>tool_calls</c> as function calls (empty when absent).</summary>
    public static List<AIContent> ToolCalls(JsonElement message, string at)
    {
        var contents = new List<AIContent>();
        if (!message.TryGetProperty("tool_calls", out var calls) || calls.ValueKind == JsonValueKind.Null) return contents;
        if (calls.ValueKind != JsonValueKind.Array) throw Invalid($"{at}.tool_calls", $"'{at}.tool_calls' must be an array.");
        var index = 0;
        foreach (var call in calls.EnumerateArray())
        {
            var callAt = $"{at}.tool_calls[{index++}]";
            if (call.ValueKind != JsonValueKind.Object || !call.TryGetProperty("function", out var function) || function.ValueKind != JsonValueKind.Object)
                throw Invalid(callAt, $"'{callAt}' must be an object with 'id' and 'function' {{'name', 'arguments'}}.");
            var id = call.TryGetProperty("id", out var i) && i.ValueKind == JsonValueKind.String ? i.GetString()! : "";
            var name = RequiredString(function, "name", $"{callAt}.function.name");
            var arguments = function.TryGetProperty("arguments", out var a) ? a : default;
            var parsed = arguments.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null ? [] : ToolArguments.FromJson(arguments)
                ?? throw Invalid($"{callAt}.function.arguments", $"'{callAt}.function.arguments' must be a JSON object or a string holding one.");
            contents.Add(new FunctionCallContent(id, name, parsed));
        }
        return contents;
    }

    /// <summary>A tool message: its content is the result of the call named by <c>tool_call_id</c>.</summary>
    public static ChatMessage ToolMessage(JsonElement message, string at, string content)
    {
        var id = RequiredString(message, "tool_call_id", $"{at}.tool_call_id");
        return new ChatMessage(ChatRole.Tool, [new FunctionResultContent(id, content)]);
    }

    private static string RequiredString(JsonElement element, string name, string at)
    {
        if (!element.TryGetProperty(name, out var value) || value.ValueKind != JsonValueKind.String || string.IsNullOrEmpty(value.GetString()))
            throw Invalid(at, $"'{at}' is required: a non-empty string.");
        return value.GetString()!;
    }

    private static JsonElement EmptySchema()
    {
        using var document = JsonDocument.Parse("{\"type\": \"object\", \"properties\": {}}");
        return document.RootElement.Clone();
    }

    private static ApiException Invalid(string param, string message) => new(ApiError.InvalidField(param, message));
}
