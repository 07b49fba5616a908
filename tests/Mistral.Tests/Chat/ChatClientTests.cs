using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Mistral.Tests.Support;

namespace Mistral.Tests.Chat;

/// <summary>The IChatClient over a small model. On the CPU and on CUDA (the SIMT emulator here; see <see cref="TestBackend"/>).</summary>
[TestFixture(MistralBackend.Cpu)]
[TestFixture(MistralBackend.Cuda)]
public class ChatClientTests(MistralBackend backend) : SmallModelFixture(backend)
{

    private static readonly ChatOptions Options = new() { Seed = 11, Temperature = 1.1f, TopK = 50, TopP = 0.99f, MaxOutputTokens = 10 };

    private static ChatMessage[] Conversation => [new(ChatRole.System, "be kind"), new(ChatRole.User, "hello world")];

    private string SessionAnswer(GenerationOptions options) => SessionResult(options).Text;

    private GenerationResult SessionResult(GenerationOptions options)
    {
        using var session = Model.CreateSession();
        return session.Chat(Conversation, options);
    }

    [Test]
    public async Task A_response_equals_the_sessions_chat_for_the_same_seed_and_reports_usage()
    {
        using var client = new MistralChatClient(Model);
        var response = await client.GetResponseAsync(Conversation, Options);
        var expected = SessionAnswer(ChatOptionsMapping.ToGenerationOptions(Options, new GenerationOptions()));
        Assert.That(response.Text, Is.EqualTo(expected));
        Assert.That(response.Messages.Single().Role, Is.EqualTo(ChatRole.Assistant));
        Assert.That(response.Usage!.InputTokenCount, Is.GreaterThan(3));
        Assert.That(response.Usage.OutputTokenCount, Is.InRange(1, 10));
        Assert.That(response.Usage.TotalTokenCount, Is.EqualTo(response.Usage.InputTokenCount + response.Usage.OutputTokenCount));
        Assert.That(response.FinishReason, Is.EqualTo(response.Usage.OutputTokenCount == 10 ? ChatFinishReason.Length : ChatFinishReason.Stop));
    }

    [Test]
    public async Task Streaming_concatenates_to_the_same_text_and_ends_with_finish_reason_and_usage()
    {
        using var client = new MistralChatClient(Model);
        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in client.GetStreamingResponseAsync(Conversation, Options)) updates.Add(update);
        var session = SessionResult(ChatOptionsMapping.ToGenerationOptions(Options, new GenerationOptions()));
        var expected = session.Text;
        Assert.That(string.Concat(updates.Select(u => u.Text)), Is.EqualTo(expected));
        // With this seed the session's own run reaches MaxOutputTokens (10), which IChatClient calls Length.
        Assert.That(session.FinishReason, Is.EqualTo(FinishReason.MaxTokens));
        Assert.That(updates[^1].FinishReason, Is.EqualTo(ChatFinishReason.Length));
        Assert.That(updates[^1].Contents.OfType<UsageContent>().Single().Details.OutputTokenCount, Is.EqualTo(session.Tokens.Count));
        var response = updates.ToChatResponse();
        Assert.That(response.Text, Is.EqualTo(expected));
    }

    [Test]
    public void Chat_options_override_the_defaults_and_leave_the_rest()
    {
        var defaults = new GenerationOptions { MinP = 0.2f, RepetitionPenalty = 1.3f, StopStrings = ["x"], Seed = 5 };
        var mapped = ChatOptionsMapping.ToGenerationOptions(
            new ChatOptions { Temperature = 0.3f, TopP = 0.5f, TopK = 7, MaxOutputTokens = 9, StopSequences = ["END"], Seed = -1 }, defaults);
        Assert.That(mapped.Temperature, Is.EqualTo(0.3f));
        Assert.That(mapped.TopP, Is.EqualTo(0.5f));
        Assert.That(mapped.TopK, Is.EqualTo(7));
        Assert.That(mapped.MaxTokens, Is.EqualTo(9));
        Assert.That(mapped.StopStrings, Is.EqualTo(new[] { "END" }));
        Assert.That(mapped.Seed, Is.EqualTo(ulong.MaxValue));
        Assert.That(mapped.MinP, Is.EqualTo(0.2f));
        Assert.That(mapped.RepetitionPenalty, Is.EqualTo(1.3f));
        var unset = ChatOptionsMapping.ToGenerationOptions(new ChatOptions(), defaults);
        Assert.That(unset.StopStrings, Is.EqualTo(new[] { "x" }));
        Assert.That(unset.Seed, Is.EqualTo(5UL));
    }

    [Test]
    public async Task A_tool_message_without_a_function_result_is_refused_with_the_position()
    {
        using var client = new MistralChatClient(Model);
        var ex = await Assert.ThrowsAsync<ArgumentException>(() => client.GetResponseAsync([new ChatMessage(ChatRole.Tool, "42")]));
        Assert.That(ex!.Message, Does.Contain("Message 0").And.Contain("FunctionResultContent"));
    }

    [Test]
    public void Metadata_names_the_provider_and_the_model()
    {
        using var client = new MistralChatClient(Model);
        var metadata = client.GetService<ChatClientMetadata>();
        Assert.That(metadata!.ProviderName, Is.EqualTo("Mistral.Native"));
        Assert.That(metadata.DefaultModelId, Is.EqualTo("small"));
        Assert.That(client.GetService<MistralModel>(), Is.SameAs(Model));
    }

    [Test]
    public async Task Dependency_injection_resolves_a_working_client_that_owns_its_model()
    {
        var services = new ServiceCollection();
        services.AddMistralChatClient(Files.Path, new MistralChatClientOptions
        {
            Model = TestBackend.Options(Backend),
            Generation = GenerationOptions.Greedy(4),
        });
        IChatClient chat;
        await using (var provider = services.BuildServiceProvider())
        {
            chat = provider.GetRequiredService<IChatClient>();
            Assert.That(provider.GetRequiredService<MistralChatClient>(), Is.SameAs(chat));
            var response = await chat.GetResponseAsync("hello");
            Assert.That(response.Usage!.OutputTokenCount, Is.InRange(1, 4));
        }
        await Assert.ThrowsAsync<ObjectDisposedException>(() => chat.GetResponseAsync("hello"), "the container disposed the client");
    }

    [Test]
    public async Task Dependency_injection_logs_through_the_containers_logger_factory_unless_a_logger_is_given()
    {
        var fromContainer = new RecordingLogger();
        var factory = new OneLoggerFactory(fromContainer);
        var services = new ServiceCollection();
        services.AddSingleton<ILoggerFactory>(factory);
        services.AddMistralChatClient(Files.Path, new MistralChatClientOptions { Model = TestBackend.Options(Backend) });
        await using (var provider = services.BuildServiceProvider())
        {
            provider.GetRequiredService<IChatClient>();
            Assert.That(factory.Categories, Is.EqualTo(new[] { "Mistral" }));
            Assert.That(fromContainer.Lines, Has.Some.Matches<(LogLevel Level, string Message)>(l => l.Level == LogLevel.Information && l.Message.StartsWith("Loaded ", StringComparison.Ordinal)));
        }

        var given = new RecordingLogger();
        var unused = new OneLoggerFactory(new RecordingLogger());
        services = new ServiceCollection();
        services.AddSingleton<ILoggerFactory>(unused);
        services.AddMistralChatClient(Files.Path, new MistralChatClientOptions { Model = TestBackend.Options(Backend) with { Logger = given } });
        await using (var provider = services.BuildServiceProvider())
        {
            provider.GetRequiredService<IChatClient>();
            Assert.That(unused.Categories, Is.Empty, "a logger set in the options wins over the container's");
            Assert.That(given.Lines, Has.Some.Matches<(LogLevel Level, string Message)>(l => l.Message.StartsWith("Loaded ", StringComparison.Ordinal)));
        }
    }

    /// <summary>Hands out one logger and remembers the categories asked for.</summary>
    private sealed class OneLoggerFactory(ILogger logger) : ILoggerFactory
    {
        public List<string> Categories { get; } = [];

        public ILogger CreateLogger(string categoryName)
        {
            Categories.Add(categoryName);
            return logger;
        }

        public void AddProvider(ILoggerProvider provider) => throw new NotSupportedException();

        public void Dispose()
        {
        }
    }
}
