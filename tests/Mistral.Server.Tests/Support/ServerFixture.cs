using System.ClientModel;
using System.Net.Http.Headers;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using OpenAI;

namespace Mistral.Server.Tests.Support;

/// <summary>
/// A real server on a loopback ephemeral port, as a user runs it (<see cref="MistralServerApp"/>), over a synthetic
/// model, plus the same file loaded by the library itself for the expected answers. One per fixture class.
/// </summary>
public abstract class ServerFixture
{
    protected const string ApiKey = "test-key-0123456789";

    private TestModel? _file;
    private WebApplication? _app;
    private MistralModel? _reference;

    private protected virtual SyntheticModelSpec Spec => TestModel.Small;

    /// <summary>The server's options for this fixture; the model path and port are filled in.</summary>
    private protected virtual MistralServerOptions Options => new()
    {
        ApiKey = ApiKey,
        Sessions = 2,
        QueueLimit = 16,
        MaxTokensLimit = 200,
        Model = new ModelOptions { Threads = 1 },
    };

    protected Uri BaseAddress { get; private set; } = null!;

    /// <summary>The library's own load of the served file: what the server's answers must equal.</summary>
    private protected MistralModel Reference => _reference ?? throw new InvalidOperationException("not set up");

    private protected ServedModel Served => _app!.Services.GetRequiredService<ServedModel>();

    [OneTimeSetUp]
    public async Task StartServer()
    {
        _file = new TestModel(Spec);
        _app = MistralServerApp.Create(Options with { ModelPath = _file.Path, Port = 0 });
        await _app.StartAsync();
        BaseAddress = MistralServerApp.BaseAddress(_app);
        Assert.That(BaseAddress.Host, Is.EqualTo("127.0.0.1"), "the server binds loopback by default");
        _reference = MistralModel.Load(_file.Path, new ModelOptions { Threads = 1 });
    }

    [OneTimeTearDown]
    public async Task StopServer()
    {
        if (_app is not null) await _app.DisposeAsync();
        _reference?.Dispose();
        _file?.Dispose();
    }

    /// <summary>Microsoft.Extensions.AI's OpenAI adapter pointed at this server: what a .NET user would write.</summary>
    protected IChatClient ChatClient(string key = ApiKey) =>
        new OpenAI.Chat.ChatClient("mistral-test", new ApiKeyCredential(key), new OpenAIClientOptions { Endpoint = new Uri(BaseAddress, "v1/") })
            .AsIChatClient();

    protected HttpClient Http(string? key = ApiKey)
    {
        var http = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(120) };
        if (key is not null) http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return http;
    }

    /// <summary>The library's greedy answer on a fresh session: the expected text, ids and finish reason.</summary>
    private protected GenerationResult LibraryGreedy(IEnumerable<ChatMessage> messages, int maxTokens, params string[] stops)
    {
        using var session = Reference.CreateSession();
        return session.Chat(messages, GenerationOptions.Greedy(maxTokens) with { StopStrings = stops });
    }

    private protected int PromptTokens(IEnumerable<ChatMessage> messages) =>
        Reference.ChatTemplate.Tokenize(messages, Reference.Tokenizer).Length;
}
