using System.Text.Json;
using Microsoft.Extensions.AI;
using Mistral.Server.Tests.Support;

namespace Mistral.Server.Tests;

/// <summary>More concurrent streams than sessions: every one is queued, served, and gets its whole answer.</summary>
public sealed class LoadTests : ServerFixture
{
    [Test]
    public async Task Eight_concurrent_streams_over_two_sessions_all_complete_with_their_full_answers()
    {
        const int streams = 8;
        const int maxTokens = 40;
        var conversations = Enumerable.Range(0, streams)
            .Select(i => new[] { new ChatMessage(ChatRole.User, $"Question number {i}: what comes next?") })
            .ToArray();
        var expected = conversations.Select(c => LibraryGreedy(c, maxTokens).Text).ToArray();
        using var client = ChatClient();

        var answers = await Task.WhenAll(conversations.Select(async messages =>
        {
            var text = new System.Text.StringBuilder();
            await foreach (var update in client.GetStreamingResponseAsync(messages, new ChatOptions { Temperature = 0, MaxOutputTokens = maxTokens }))
                text.Append(update.Text);
            return text.ToString();
        }));

        Assert.That(answers, Is.EqualTo(expected), "each stream got exactly the library's answer to its own question");
        using var http = Http();
        var health = JsonDocument.Parse(await http.GetStringAsync("health")).RootElement;
        Assert.That(health.GetProperty("busy").GetInt32(), Is.EqualTo(0), "every session was given back");
        Assert.That(health.GetProperty("queued").GetInt32(), Is.EqualTo(0));
    }
}
