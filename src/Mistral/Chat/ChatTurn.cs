using Microsoft.Extensions.AI;

namespace Mistral.Chat;

/// <summary>Who wrote a turn, among the roles the Mistral instruct formats know.</summary>
internal enum TurnRole
{
    System,
    User,
    Assistant,
}

/// <summary>
/// One turn of a conversation as the templates see it. The public API takes Microsoft.Extensions.AI's
/// <see cref="ChatMessage"/> — the type .NET developers already use — and this is its text-only view.
/// </summary>
internal sealed record ChatTurn(TurnRole Role, string Content)
{
    /// <summary>Text turns from chat messages; roles other than system/user/assistant (tools) have no place in these formats.</summary>
    public static List<ChatTurn> From(IEnumerable<ChatMessage> messages)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var turns = new List<ChatTurn>();
        var index = 0;
        foreach (var message in messages)
        {
            if (message is null) throw new ArgumentException($"Message {index} is null.", nameof(messages));
            TurnRole role;
            if (message.Role == ChatRole.System) role = TurnRole.System;
            else if (message.Role == ChatRole.User) role = TurnRole.User;
            else if (message.Role == ChatRole.Assistant) role = TurnRole.Assistant;
            else
            {
                throw new NotSupportedException(
                    $"Message {index} has role '{message.Role}'; the Mistral chat formats here take system, user and assistant messages (no tool calling yet).");
            }
            if (message.Contents.Any(c => c is not TextContent))
            {
                throw new NotSupportedException(
                    $"Message {index} has non-text content ({string.Join(", ", message.Contents.Where(c => c is not TextContent).Select(c => c.GetType().Name).Distinct())}); only text is supported.");
            }
            turns.Add(new ChatTurn(role, message.Text));
            index++;
        }
        return turns;
    }
}
