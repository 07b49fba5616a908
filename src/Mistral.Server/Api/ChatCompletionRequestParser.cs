using System.Text.Json;
using Microsoft.Extensions.AI;

namespace Mistral.Server.Api;

/// <summary>
/// Reads a chat-completions body field by field, so every refusal names the field at fault (<c>messages[2].role</c>,
/// <c>max_tokens</c>) instead of a serializer's type error. Unknown fields are ignored, as clients send extras.
/// </summary>
internal static class ChatCompletionRequestParser
{
    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 32 };

    public static ChatCompletionRequest Parse(ReadOnlyMemory<byte> body, int maxTokensLimit)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body, DocumentOptions);
        }
        catch (JsonException ex)
        {
            throw new ApiException(ApiError.InvalidField("body", $"The request body is not valid JSON: {ex.Message}"));
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw Invalid("body", "The request body must be a JSON object.");
            RefuseUnsupported(root);
            var tools = ToolRequestParser.Tools(root);
            return new ChatCompletionRequest
            {
                Model = OptionalString(root, "model"),
                Messages = Messages(root),
                Temperature = OptionalNumber(root, "temperature", 0, 2, "between 0 and 2"),
                TopP = TopP(root),
                MaxTokens = MaxTokens(root, maxTokensLimit),
                Stop = Stop(root),
                Seed = Seed(root),
                Stream = OptionalBool(root, "stream") ?? false,
                Tools = tools,
                ToolMode = ToolRequestParser.ToolChoice(root, tools),
                ResponseFormat = ResponseFormat(root),
            };
        }
    }

    private static IReadOnlyList<ChatMessage> Messages(JsonElement root)
    {
        if (!root.TryGetProperty("messages", out var messages) || messages.ValueKind == JsonValueKind.Null)
            throw Invalid("messages", "The field 'messages' is required: the conversation, ending with a user message.");
        if (messages.ValueKind != JsonValueKind.Array) throw Invalid("messages", "The field 'messages' must be an array.");
        if (messages.GetArrayLength() == 0) throw Invalid("messages", "The field 'messages' must not be empty.");
        var list = new List<ChatMessage>(messages.GetArrayLength());
        var index = 0;
        foreach (var message in messages.EnumerateArray())
        {
            var at = $"messages[{index}]";
            if (message.ValueKind != JsonValueKind.Object) throw Invalid(at, $"'{at}' must be an object with 'role' and 'content'.");
            list.Add(Message(message, at));
            index++;
        }
        return list;
    }

    /// <summary>A message; an assistant's may carry <c>tool_calls</c> (its content then may be null), a tool's answers one call.</summary>
    private static ChatMessage Message(JsonElement message, string at)
    {
        var role = Role(message, at);
        if (role == ChatRole.Tool) return ToolRequestParser.ToolMessage(message, at, Content(message, at));
        if (role != ChatRole.Assistant) return new ChatMessage(role, Content(message, at));
        var calls = ToolRequestParser.ToolCalls(message, at);
        var hasContent = message.TryGetProperty("content", out var c) && c.ValueKind != JsonValueKind.Null;
        if (calls.Count == 0 || hasContent) calls.Insert(0, new TextContent(Content(message, at)));
        return new ChatMessage(role, calls);
    }

    private static ChatRole Role(JsonElement message, string at)
    {
        var role = message.TryGetProperty("role", out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
        return role switch
        {
            "system" => ChatRole.System,
            "user" => ChatRole.User,
            "assistant" => ChatRole.Assistant,
            "tool" => ChatRole.Tool,
            null => throw Invalid($"{at}.role", $"'{at}.role' is required: \"system\", \"user\", \"assistant\" or \"tool\"."),
            _ => throw Invalid($"{at}.role", $"'{at}.role' is \"{role}\"; it must be \"system\", \"user\", \"assistant\" or \"tool\"."),
        };
    }

    /// <summary>A string, or an array of chunks (<c>{"type":"text","text":…}</c>) as both Mistral's and OpenAI's clients may send.</summary>
    private static string Content(JsonElement message, string at)
    {
        if (!message.TryGetProperty("content", out var content) || content.ValueKind == JsonValueKind.Null)
            throw Invalid($"{at}.content", $"'{at}.content' is required.");
        if (content.ValueKind == JsonValueKind.String) return content.GetString()!;
        if (content.ValueKind != JsonValueKind.Array) throw Invalid($"{at}.content", $"'{at}.content' must be a string or an array of text chunks.");
        var text = new System.Text.StringBuilder();
        var index = 0;
        foreach (var chunk in content.EnumerateArray())
        {
            var chunkAt = $"{at}.content[{index++}]";
            var type = chunk.ValueKind == JsonValueKind.Object && chunk.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
            if (type != "text") throw Invalid(chunkAt, $"'{chunkAt}' must be a text chunk ({{\"type\":\"text\",\"text\":…}}); other content (images, documents) is not supported.");
            if (!chunk.TryGetProperty("text", out var part) || part.ValueKind != JsonValueKind.String)
                throw Invalid($"{chunkAt}.text", $"'{chunkAt}.text' must be a string.");
            text.Append(part.GetString());
        }
        return text.ToString();
    }

    /// <summary>
    /// <c>{"type":"text"}</c>, <c>{"type":"json_object"}</c> (output constrained to a JSON object) or
    /// <c>{"type":"json_schema","json_schema":{"name":…,"schema":{…},"strict":…}}</c> (output constrained to the
    /// schema); others are refused by name.
    /// </summary>
    private static ChatResponseFormat? ResponseFormat(JsonElement root)
    {
        if (!root.TryGetProperty("response_format", out var format) || format.ValueKind == JsonValueKind.Null) return null;
        var type = format.ValueKind == JsonValueKind.Object && format.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
        return type switch
        {
            "text" => ChatResponseFormat.Text,
            "json_object" => ChatResponseFormat.Json,
            "json_schema" => JsonSchemaFormat(format),
            null => throw Invalid("response_format", "'response_format' must be an object with a string 'type': \"text\", \"json_object\" or \"json_schema\"."),
            _ => throw Invalid("response_format.type", $"'response_format.type' \"{type}\" is not supported by this server; only \"text\", \"json_object\" and \"json_schema\"."),
        };
    }

    /// <summary>
    /// The <c>json_schema</c> object. The schema is compiled here, so a schema outside the supported subset is a 400
    /// naming the schema path, before the request waits for a session. The output always follows the schema:
    /// <c>strict</c> false is accepted but constrains as true does.
    /// </summary>
    private static ChatResponseFormat JsonSchemaFormat(JsonElement format)
    {
        const string at = "response_format.json_schema";
        if (!format.TryGetProperty("json_schema", out var spec) || spec.ValueKind != JsonValueKind.Object)
            throw Invalid(at, $"'{at}' must be an object with 'name' and 'schema'.");
        var name = OptionalString(spec, "name", $"{at}.name");
        var description = OptionalString(spec, "description", $"{at}.description");
        OptionalBool(spec, "strict", $"{at}.strict");
        if (!spec.TryGetProperty("schema", out var schema) || schema.ValueKind != JsonValueKind.Object)
            throw Invalid($"{at}.schema", $"'{at}.schema' must be a JSON schema object.");
        try
        {
            global::Mistral.ResponseFormat.ForJsonSchema(schema, name);
        }
        catch (Exception ex) when (ex is NotSupportedException or ArgumentException)
        {
            throw Invalid($"{at}.schema", $"'{at}.schema' cannot be used: {ex.Message}");
        }
        return ChatResponseFormat.ForJsonSchema(schema.Clone(), name, description);
    }

    private static float? TopP(JsonElement root)
    {
        var topP = OptionalNumber(root, "top_p", 0, 1, "greater than 0 and at most 1");
        if (topP == 0) throw Invalid("top_p", "'top_p' must be greater than 0 and at most 1 (use temperature 0 for greedy decoding).");
        return topP;
    }

    private static int? MaxTokens(JsonElement root, int limit)
    {
        var name = root.TryGetProperty("max_tokens", out var v) && v.ValueKind != JsonValueKind.Null ? "max_tokens" : "max_completion_tokens";
        if (!root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null) return null;
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out var tokens) || tokens < 1)
            throw Invalid(name, $"'{name}' must be a positive integer.");
        if (tokens > limit) throw Invalid(name, $"'{name}' is {tokens}; this server's limit is {limit} (MaxTokensLimit).");
        return (int)tokens;
    }

    private static List<string>? Stop(JsonElement root)
    {
        if (!root.TryGetProperty("stop", out var stop) || stop.ValueKind == JsonValueKind.Null) return null;
        if (stop.ValueKind == JsonValueKind.String) return NonEmpty([stop.GetString()!]);
        if (stop.ValueKind != JsonValueKind.Array) throw Invalid("stop", "'stop' must be a string or an array of strings.");
        var list = new List<string>();
        foreach (var item in stop.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.String) throw Invalid("stop", "'stop' must be a string or an array of strings.");
            list.Add(item.GetString()!);
        }
        return NonEmpty(list);

        static List<string> NonEmpty(List<string> stops) =>
            stops.Any(string.IsNullOrEmpty) ? throw Invalid("stop", "'stop' must not contain empty strings.") : stops;
    }

    private static long? Seed(JsonElement root)
    {
        var name = root.TryGetProperty("random_seed", out var v) && v.ValueKind != JsonValueKind.Null ? "random_seed" : "seed";
        if (!root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null) return null;
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out var seed)) throw Invalid(name, $"'{name}' must be an integer.");
        return seed;
    }

    /// <summary>Fields of features not built yet: refused by name, so a client never gets an answer that ignored them.</summary>
    private static void RefuseUnsupported(JsonElement root)
    {
        if (root.TryGetProperty("n", out var n) && n.ValueKind != JsonValueKind.Null && !(n.TryGetInt32(out var count) && count == 1))
            throw Invalid("n", "'n' must be 1: one choice per request.");
        foreach (var penalty in (string[])["presence_penalty", "frequency_penalty"])
        {
            if (root.TryGetProperty(penalty, out var p) && p.ValueKind == JsonValueKind.Number && p.GetDouble() != 0)
                throw Invalid(penalty, $"'{penalty}' is not supported by this server; leave it at 0.");
        }
        if (OptionalBool(root, "safe_prompt") == true)
            throw Invalid("safe_prompt", "'safe_prompt' is not supported by this server; send your own system message.");
    }

    // field: the full name messages give (name itself at the top level, response_format.json_schema.name below).
    private static string? OptionalString(JsonElement root, string name, string? field = null)
    {
        field ??= name;
        if (!root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null) return null;
        return value.ValueKind == JsonValueKind.String ? value.GetString() : throw Invalid(field, $"'{field}' must be a string.");
    }

    private static bool? OptionalBool(JsonElement root, string name, string? field = null)
    {
        field ??= name;
        if (!root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null) return null;
        return value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw Invalid(field, $"'{field}' must be true or false."),
        };
    }

    private static float? OptionalNumber(JsonElement root, string name, double min, double max, string range)
    {
        if (!root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null) return null;
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetDouble(out var number) || number < min || number > max)
            throw Invalid(name, $"'{name}' must be a number {range}.");
        return (float)number;
    }

    private static ApiException Invalid(string param, string message) => new(ApiError.InvalidField(param, message));
}
