using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Extensions.AI;

namespace Mistral.Chat;

/// <summary>A tool call as the formats write it and the parser reads it: the function's name, its arguments (JSON) and the call's id.</summary>
internal sealed record ChatToolCall(string Id, string Name, JsonElement Arguments)
{
    private const string IdAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

    /// <summary>
    /// A new call id as Mistral's API writes them: nine letters and digits (mistral-common's v3 format rejects other
    /// shapes in its validator), random so that the ids of one conversation do not collide.
    /// </summary>
    public static string NewId() => RandomNumberGenerator.GetString(IdAlphabet, 9);

    /// <summary>A Microsoft.Extensions.AI call in the history; a missing id stays empty (the formats then omit it).</summary>
    public static ChatToolCall From(FunctionCallContent call, int messageIndex)
    {
        if (string.IsNullOrEmpty(call.Name))
            throw new ArgumentException($"Message {messageIndex} has a function call without a name.", "messages");
        return new ChatToolCall(call.CallId ?? "", call.Name, ToolCallJson.Arguments(call.Arguments));
    }

    /// <summary>The call as Microsoft.Extensions.AI content: arguments as a dictionary of JSON values.</summary>
    public FunctionCallContent ToContent()
    {
        var arguments = new Dictionary<string, object?>(StringComparer.Ordinal);
        if (Arguments.ValueKind == JsonValueKind.Object)
        {
            foreach (var member in Arguments.EnumerateObject()) arguments[member.Name] = member.Value.Clone();
        }
        return new FunctionCallContent(Id, Name, arguments);
    }
}
