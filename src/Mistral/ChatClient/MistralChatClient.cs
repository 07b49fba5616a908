using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;

namespace Mistral;

/// <summary>
/// A Microsoft.Extensions.AI <see cref="IChatClient"/> over a local model, usable wherever an IChatClient is
/// taken (Semantic Kernel, middleware pipelines, DI). It keeps one session, so a conversation sent again with
/// one more turn only evaluates the new tokens; requests are served one at a time.
/// </summary>
/// <example><code>
/// using var model = MistralModel.Load("mistral-7b-instruct-v0.3.Q4_0.gguf");
/// using IChatClient client = new MistralChatClient(model);
/// var response = await client.GetResponseAsync("Name three rivers in France.");
/// </code></example>
public sealed class MistralChatClient : IChatClient
{
    private readonly MistralModel _model;
    private readonly bool _ownsModel;
    private readonly MistralSession _session;
    private readonly GenerationOptions _defaults;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly ChatClientMetadata _metadata;
    private int _disposed;

    /// <summary>Creates a client over a loaded model; the caller keeps ownership of the model.</summary>
    /// <param name="model">The model to chat with.</param>
    /// <param name="options">Defaults for generation and the session; the model options in it are not used.</param>
    public MistralChatClient(MistralModel model, MistralChatClientOptions? options = null)
        : this(model, options ?? new MistralChatClientOptions(), ownsModel: false)
    {
    }

    private MistralChatClient(MistralModel model, MistralChatClientOptions options, bool ownsModel)
    {
        ArgumentNullException.ThrowIfNull(model);
        _model = model;
        _ownsModel = ownsModel;
        _defaults = options.Generation ?? new GenerationOptions();
        _session = model.CreateSession(options.Session);
        _metadata = new ChatClientMetadata("Mistral.Native", null, System.IO.Path.GetFileNameWithoutExtension(model.Path));
    }

    /// <summary>Loads a model from a GGUF file and creates a client that owns it (disposing the client disposes the model).</summary>
    /// <param name="path">The GGUF file.</param>
    /// <param name="options">How to load and generate.</param>
    /// <returns>The client.</returns>
    public static MistralChatClient Load(string path, MistralChatClientOptions? options = null)
    {
        options ??= new MistralChatClientOptions();
        var model = MistralModel.Load(path, options.Model);
        try
        {
            return new MistralChatClient(model, options, ownsModel: true);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>The model this client runs.</summary>
    public MistralModel Model => _model;

    /// <inheritdoc />
    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        var history = Chat.ChatTurn.From(messages);
        var generation = ChatOptionsMapping.ToGenerationOptions(options, _defaults);
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var result = await Task.Run(() => _session.ChatTurns(history, generation, cancellationToken), cancellationToken).ConfigureAwait(false);
            return new ChatResponse(new ChatMessage(ChatRole.Assistant, result.Text))
            {
                FinishReason = ChatOptionsMapping.ToFinishReason(result.FinishReason),
                Usage = ChatOptionsMapping.ToUsage(_session.LastChatPromptTokens, result.Tokens.Count),
                ModelId = _metadata.DefaultModelId,
                CreatedAt = DateTimeOffset.UtcNow,
            };
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var history = Chat.ChatTurn.From(messages);
        var generation = ChatOptionsMapping.ToGenerationOptions(options, _defaults);
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var responseId = Guid.NewGuid().ToString("N");
            await foreach (var update in _session.ChatStreamAsync(history, generation, cancellationToken).ConfigureAwait(false))
            {
                if (update.Text.Length > 0)
                {
                    yield return new ChatResponseUpdate(ChatRole.Assistant, update.Text) { ResponseId = responseId, ModelId = _metadata.DefaultModelId };
                }
                if (update.Result is { } result)
                {
                    // The last update carries what only the end knows: why it stopped and the token counts.
                    yield return new ChatResponseUpdate(ChatRole.Assistant, [new UsageContent(ChatOptionsMapping.ToUsage(update.RenderedPromptTokens, result.Tokens.Count))])
                    {
                        ResponseId = responseId,
                        ModelId = _metadata.DefaultModelId,
                        FinishReason = ChatOptionsMapping.ToFinishReason(result.FinishReason),
                    };
                }
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <inheritdoc />
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null) return null;
        if (serviceType == typeof(ChatClientMetadata)) return _metadata;
        if (serviceType.IsInstanceOfType(this)) return this;
        if (serviceType == typeof(MistralModel)) return _model;
        return null;
    }

    /// <summary>Releases the session, and the model when this client loaded it.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _session.Dispose();
        if (_ownsModel) _model.Dispose();
        _gate.Dispose();
    }
}
