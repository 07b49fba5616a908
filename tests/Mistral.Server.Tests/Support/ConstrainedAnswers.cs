using System.Text;
using Microsoft.Extensions.AI;

namespace Mistral.Server.Tests.Support;

/// <summary>What the JSON-mode and JSON-schema tests ask of a constrained answer, written once.</summary>
internal static class ConstrainedAnswers
{
    /// <summary>A whole answer: it opens an object; "stop" means it closed a valid one (<paramref name="valid"/>), and
    /// anything else must be "length", an answer cut off, which is not yet valid. Returns whether it stopped.</summary>
    public static bool Check(string text, ChatFinishReason? finish, Func<string, bool> valid, string at)
    {
        Assert.That(text.TrimStart(), Does.StartWith("{"), at);
        if (finish == ChatFinishReason.Stop)
        {
            Assert.That(valid(text), Is.True, at);
            return true;
        }
        Assert.That(finish, Is.EqualTo(ChatFinishReason.Length), at);
        Assert.That(valid(text), Is.False, "'length' means the answer was cut off: " + at);
        return false;
    }

    /// <summary>A streamed answer's text and its first finish reason.</summary>
    public static async Task<(string Text, ChatFinishReason? Finish)> Stream(IChatClient client, IEnumerable<ChatMessage> conversation, ChatOptions options)
    {
        var text = new StringBuilder();
        ChatFinishReason? finish = null;
        await foreach (var update in client.GetStreamingResponseAsync(conversation, options))
        {
            text.Append(update.Text);
            finish ??= update.FinishReason;
        }
        return (text.ToString(), finish);
    }
}
