using System.Text;
using Microsoft.Extensions.AI;
using Mistral.Server.Tests.Support;

namespace Mistral.Server.Tests;

/// <summary>
/// A seeded request is reproducible: the same request gives the same answer whole or streamed, whichever session
/// serves it and whatever that session's cache held before.
/// </summary>
public sealed class SeedReproducibilityTests : ServerFixture
{
    private static readonly ChatMessage[] Conversation = [new(ChatRole.User, "Describe a river.")];

    private static ChatOptions Seeded(long seed, ChatResponseFormat? format = null) =>
        new() { Temperature = 0.9f, Seed = seed, MaxOutputTokens = 40, ResponseFormat = format };

    private static async Task<string> Streamed(IChatClient client, ChatOptions options)
    {
        var text = new StringBuilder();
        await foreach (var update in client.GetStreamingResponseAsync(Conversation, options)) text.Append(update.Text);
        return text.ToString();
    }

    [TestCase(false)]
    [TestCase(true)]
    public async Task The_same_seeded_request_gives_the_same_answer_whole_or_streamed(bool json)
    {
        using var client = ChatClient();
        var format = json ? ChatResponseFormat.Json : null;
        foreach (var seed in (long[])[1, 2, 3])
        {
            var first = (await client.GetResponseAsync(Conversation, Seeded(seed, format))).Text;
            // Other requests in between leave the sessions' caches holding other answers.
            await client.GetResponseAsync(Conversation, Seeded(seed + 100, format));
            var second = (await client.GetResponseAsync(Conversation, Seeded(seed, format))).Text;
            var streamed = await Streamed(client, Seeded(seed, format));
            Assert.That(first, Is.Not.Empty);
            Assert.That(second, Is.EqualTo(first), $"seed {seed}, asked twice");
            Assert.That(streamed, Is.EqualTo(first), $"seed {seed}, streamed: {System.Text.Json.JsonSerializer.Serialize(streamed)} vs {System.Text.Json.JsonSerializer.Serialize(first)}");
        }
    }

    [Test]
    public async Task A_seeded_answer_equals_the_library_with_the_servers_sampling_defaults()
    {
        // The server samples as Mistral's API does (temperature and top-p; top-k and min-p off: see
        // MistralServerOptions.Generation), so the library gives the same text with those settings.
        using var client = ChatClient();
        var served = (await client.GetResponseAsync(Conversation, Seeded(7))).Text;
        using var session = Reference.CreateSession();
        var library = session.Chat(Conversation, new GenerationOptions { Temperature = 0.9f, TopP = 1f, TopK = 0, MinP = 0f, Seed = 7, MaxTokens = 40 });
        Assert.That(served, Is.EqualTo(library.Text));
    }
}
