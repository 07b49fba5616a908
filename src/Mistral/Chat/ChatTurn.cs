using System.Text.Json;
using Microsoft.Extensions.AI;

namespace Mistral.Chat;

/// <summary>Who wrote a turn, among the roles the Mistral instruct formats know.</summary>
internal enum TurnRole
{
    System,
    User,
    Assistant,
    Tool,
}

/// <summary>
/// One turn of a conversation as the templates see it. The public API takes Microsoft.Extensions.AI's
/// <see cref="ChatMessage"/> — the type .NET developers already use — and this is its view for the templates:
/// text, or the tool calls of an assistant turn, or one tool result.
/// </summary>
internal sealed record ChatTurn(TurnRole Role, string Content)
{
    /// <summary>The calls an assistant turn made (empty for a text answer).</summary>
    public IReadOnlyList<ChatToolCall> ToolCalls { get; init; } = [];

    /// <summary>For a tool turn: the id of the call it answers.</summary>
    public string? ToolCallId { get; init; }

    /// <summary>For a tool turn: the result, as JSON (a string result that is not JSON is a JSON string).</summary>
    public JsonElement ToolResult { get; init; }

    /// <summary>
    /// For a tool turn: the result as text, for the formats that write it verbatim (V7 and later do not re-serialize it
    /// as JSON): a string result as it was given, anything else as JSON.
    /// </summary>
    public string ToolResultText { get; init; } = "";

    /// <summary>
    /// Turns from chat messages. An assistant message's <see cref="FunctionCallContent"/>s become its tool calls; a tool
    /// message becomes one turn per <see cref="FunctionResultContent"/>, as the formats write one result block per call.
    /// </summary>
    public static List<ChatTurn> From(IEnumerable<ChatMessage> messages)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var turns = new List<ChatTurn>();
        var index = 0;
        foreach (var message in messages)
        {
            if (message is null) throw new ArgumentException($"Message {index} is null.", nameof(messages));
            var unsupported = message.Contents
                .Where(c => c is not (TextContent or FunctionCallContent or FunctionResultContent or UsageContent))
                .Select(c => c.GetType().Name).Distinct().ToList();
            if (unsupported.Count > 0)
            {
                throw new NotSupportedException(
                    $"Message {index} has content of type {string.Join(", ", unsupported)}; only text, function calls and function results are supported.");
            }
            if (message.Role == ChatRole.System) turns.Add(new ChatTurn(TurnRole.System, message.Text));
            else if (message.Role == ChatRole.User) turns.Add(new ChatTurn(TurnRole.User, message.Text));
            else if (message.Role == ChatRole.Assistant) turns.Add(Assistant(message, index));
            else if (message.Role == ChatRole.Tool) turns.AddRange(ToolResults(message, index));
            else
            {
                throw new NotSupportedException(
                    $"Message {index} has role '{message.Role}'; the Mistral chat formats take system, user, assistant and tool messages.");
            }
            index++;
        }
        return turns;
    }

    private static ChatTurn Assistant(ChatMessage message, int index)
    {
        var calls = message.Contents.OfType<FunctionCallContent>().Select(c => ChatToolCall.From(c, index)).ToList();
        return new ChatTurn(TurnRole.Assistant, message.Text) { ToolCalls = calls };
    }

    private static IEnumerable<ChatTurn> ToolResults(ChatMessage message, int index)
    {
        var results = message.Contents.OfType<FunctionResultContent>().ToList();
        if (results.Count == 0)
        {
            throw new ArgumentException(
                $"Message {index} is a tool message without a function result: a tool message carries FunctionResultContent naming the call it answers (CallId).",
                "messages");
        }
        foreach (var result in results)
        {
            if (string.IsNullOrEmpty(result.CallId))
                throw new ArgumentException($"Message {index} has a function result without a CallId: the Mistral formats tie each result to its call by id.", "messages");
            var json = ToolCallJson.Result(result.Result);
            yield return new ChatTurn(TurnRole.Tool, "") { ToolCallId = result.CallId, ToolResult = json, ToolResultText = ToolCallJson.ResultText(result.Result, json) };
        }
    }
}
