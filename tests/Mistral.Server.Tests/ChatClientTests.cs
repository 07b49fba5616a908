using System.ClientModel;
using Microsoft.Extensions.AI;
using Mistral.Server.Tests.Support;

namespace Mistral.Server.Tests;

/// <summary>The server through Microsoft.Extensions.AI.OpenAI's IChatClient: answers must be the library's own.</summary>
public sealed class ChatClientTests : ServerFixture
{
    private static readonly ChatMessage[] Conversation =
    [
        new(ChatRole.System, "Be brief."),
        new(ChatRole.User, "Name three rivers in France."),
    ];

    [Test]
    public async Task Plain_completion_equals_the_library_greedy_answer_with_its_token_counts()
    {
        var expected = LibraryGreedy(Conversation, maxTokens: 24);
        using var client = ChatClient();

        var response = await client.GetResponseAsync(Conversation, new ChatOptions { Temperature = 0, MaxOutputTokens = 24 });

        Assert.That(expected.Text, Is.Not.Empty, "the reference answer has text to compare");
        Assert.That(response.Text, Is.EqualTo(expected.Text));
        Assert.That(response.Usage?.InputTokenCount, Is.EqualTo(PromptTokens(Conversation)), "prompt tokens: the rendered conversation");
        Assert.That(response.Usage?.OutputTokenCount, Is.EqualTo(expected.Tokens.Count));
        Assert.That(response.Usage?.TotalTokenCount, Is.EqualTo(PromptTokens(Conversation) + expected.Tokens.Count));
    }

    [Test]
    public async Task Streamed_text_concatenates_to_the_library_greedy_answer()
    {
        var expected = LibraryGreedy(Conversation, maxTokens: 32);
        using var client = ChatClient();

        var text = new System.Text.StringBuilder();
        var updates = 0;
        ChatFinishReason? finish = null;
        UsageDetails? usage = null;
        await foreach (var update in client.GetStreamingResponseAsync(Conversation, new ChatOptions { Temperature = 0, MaxOutputTokens = 32 }))
        {
            text.Append(update.Text);
            updates++;
            finish ??= update.FinishReason;
            usage ??= update.Contents.OfType<UsageContent>().FirstOrDefault()?.Details;
        }

        Assert.That(text.ToString(), Is.EqualTo(expected.Text));
        Assert.That(updates, Is.GreaterThan(2), "the answer arrived in pieces, not at once");
        Assert.That(finish, Is.EqualTo(ChatFinishReason.Length));
        Assert.That(usage?.InputTokenCount, Is.EqualTo(PromptTokens(Conversation)));
        Assert.That(usage?.OutputTokenCount, Is.EqualTo(expected.Tokens.Count));
    }

    [Test]
    public async Task Finish_reason_is_length_at_max_tokens_and_stop_at_a_stop_string()
    {
        var full = LibraryGreedy(Conversation, maxTokens: 40);
        Assert.That(full.FinishReason, Is.EqualTo(FinishReason.MaxTokens), "the reference ran to max_tokens");
        Assert.That(full.Text.Length, Is.GreaterThan(12), "long enough to pick a stop string from");
        var stop = full.Text.Substring(8, 3);
        var stopped = LibraryGreedy(Conversation, maxTokens: 40, stop);
        Assert.That(stopped.FinishReason, Is.EqualTo(FinishReason.StopString), "the reference stopped at the stop string");
        using var client = ChatClient();

        var atLimit = await client.GetResponseAsync(Conversation, new ChatOptions { Temperature = 0, MaxOutputTokens = 40 });
        var atStop = await client.GetResponseAsync(Conversation, new ChatOptions { Temperature = 0, MaxOutputTokens = 40, StopSequences = [stop] });

        Assert.That(atLimit.FinishReason, Is.EqualTo(ChatFinishReason.Length));
        Assert.That(atLimit.Text, Is.EqualTo(full.Text));
        Assert.That(atStop.FinishReason, Is.EqualTo(ChatFinishReason.Stop));
        Assert.That(atStop.Text, Is.EqualTo(stopped.Text));
        Assert.That(atStop.Text, Does.Not.Contain(stop));
    }

    [Test]
    public async Task A_follow_up_turn_is_answered_as_the_library_answers_it()
    {
        // The library answers a conversation's turns on one session, whose cache holds the exact ids of its last
        // answer; the server must route the follow-up to the session that gave that answer to do the same.
        using var session = Reference.CreateSession();
        var first = session.Chat(Conversation, GenerationOptions.Greedy(16));
        List<ChatMessage> history = [.. Conversation, new(ChatRole.Assistant, first.Text), new(ChatRole.User, "And in Germany?")];
        var expected = session.Chat(history, GenerationOptions.Greedy(16));
        using var client = ChatClient();

        var answer1 = await client.GetResponseAsync(Conversation, new ChatOptions { Temperature = 0, MaxOutputTokens = 16 });
        var answer2 = await client.GetResponseAsync(history, new ChatOptions { Temperature = 0, MaxOutputTokens = 16 });

        Assert.That(answer1.Text, Is.EqualTo(first.Text));
        Assert.That(answer2.Text, Is.EqualTo(expected.Text));
    }

    [Test]
    public async Task A_wrong_api_key_is_refused_with_401()
    {
        using var client = ChatClient("not-the-key");

        var error = await Assert.ThrowsAsync<ClientResultException>(() => client.GetResponseAsync("Hello"));

        Assert.That(error!.Status, Is.EqualTo(401));
    }
}
