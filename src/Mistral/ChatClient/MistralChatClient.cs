using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;

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

    /// <summary>
    /// The answer to the conversation. With <see cref="ChatOptions.Tools"/> (functions), the model may answer with calls:
    /// the message then holds <see cref="FunctionCallContent"/>s and <see cref="ChatResponse.FinishReason"/> is
    /// <see cref="ChatFinishReason.ToolCalls"/>; send them back with the results (<see cref="FunctionResultContent"/> in a
    /// tool message), or let Microsoft.Extensions.AI's <c>FunctionInvokingChatClient</c> do it. <see cref="ChatOptions.ToolMode"/>:
    /// none rules calls out, RequireAny (or a named function) makes the answer start with one.
    /// </summary>
    /// <remarks>
    /// A model that starts a call but writes JSON that cannot be read (cut off by the token limit, or malformed) does not
    /// make this method throw: the response holds the text as generated (<c>[TOOL_CALLS]</c> and what followed),
    /// <see cref="ToolCallErrorKey"/> in the response's and the message's <see cref="ChatResponse.AdditionalProperties"/>
    /// says what was wrong, and the finish reason is that of the generation (Length when it was cut off).
    /// </remarks>
    /// <param name="messages">The conversation: system, user, assistant (text or function calls) and tool (function results) messages.</param>
    /// <param name="options">Sampling, tools and tool mode; unset values take the client's defaults.</param>
    /// <param name="cancellationToken">Stops the generation.</param>
    /// <returns>The answer.</returns>
    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        var history = Chat.ChatTurn.From(messages);
        var tools = ChatTools.From(options, _model);
        var generation = tools.Apply(ChatOptionsMapping.ToGenerationOptions(options, _defaults));
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var result = await Task.Run(() => _session.ChatTurns(history, generation, cancellationToken, tools.Declarations), cancellationToken).ConfigureAwait(false);
            var answer = Chat.GeneratedAnswer.From(result.Text, result.Tokens, tools.ToolCallsId, _model.Tokenizer, _model.ChatTemplate);
            var message = AnswerMessage(answer);
            var response = new ChatResponse(message)
            {
                FinishReason = FinishReason(answer, result.FinishReason),
                Usage = ChatOptionsMapping.ToUsage(_session.LastChatPromptTokens, result.Tokens.Count),
                ModelId = _metadata.DefaultModelId,
                CreatedAt = DateTimeOffset.UtcNow,
            };
            if (message.AdditionalProperties is { } properties) response.AdditionalProperties = new(properties);
            return response;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Where a response says that the model began a tool call whose JSON could not be read, and why (a string, in
    /// <see cref="ChatResponse.AdditionalProperties"/>, <see cref="ChatMessage.AdditionalProperties"/> and, streaming, the
    /// last update's).
    /// </summary>
    public const string ToolCallErrorKey = "mistral.tool_call_error";

    /// <summary>
    /// Streams the answer. Text arrives as it is generated; tool calls arrive as one update holding every
    /// <see cref="FunctionCallContent"/> once the model has finished writing them (a call is only usable whole), followed
    /// by the update with the finish reason (<see cref="ChatFinishReason.ToolCalls"/>) and usage. Unreadable calls arrive
    /// as text, as in <see cref="GetResponseAsync"/>.
    /// </summary>
    /// <param name="messages">The conversation.</param>
    /// <param name="options">Sampling, tools and tool mode.</param>
    /// <param name="cancellationToken">Stops the generation.</param>
    /// <returns>The updates.</returns>
    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var history = Chat.ChatTurn.From(messages);
        var tools = ChatTools.From(options, _model);
        var generation = tools.Apply(ChatOptionsMapping.ToGenerationOptions(options, _defaults));
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var responseId = Guid.NewGuid().ToString("N");
            await foreach (var update in _session.ChatStreamAsync(history, generation, cancellationToken, tools.Declarations).ConfigureAwait(false))
            {
                // Text after [TOOL_CALLS] is the calls' JSON: held back, and given whole (parsed) with the last update.
                if (update.Text.Length > 0 && !update.InToolCalls)
                {
                    yield return new ChatResponseUpdate(ChatRole.Assistant, update.Text) { ResponseId = responseId, ModelId = _metadata.DefaultModelId };
                }
                if (update.Result is { } result)
                {
                    var answer = Chat.GeneratedAnswer.From(result.Text, result.Tokens, tools.ToolCallsId, _model.Tokenizer, _model.ChatTemplate);
                    var message = answer.ToolCallText is null ? null : AnswerMessage(answer);
                    if (message is not null)
                    {
                        // The calls, or (unreadable) the text that was held back, marker included.
                        List<AIContent> contents = answer.Parse!.Succeeded
                            ? [.. message.Contents.OfType<FunctionCallContent>()]
                            : [new TextContent(Chat.ChatTemplate.ToolCallsToken + answer.ToolCallText)];
                        yield return new ChatResponseUpdate(ChatRole.Assistant, contents) { ResponseId = responseId, ModelId = _metadata.DefaultModelId };
                    }
                    // The last update carries what only the end knows: why it stopped and the token counts.
                    yield return new ChatResponseUpdate(ChatRole.Assistant, [new UsageContent(ChatOptionsMapping.ToUsage(update.RenderedPromptTokens, result.Tokens.Count))])
                    {
                        ResponseId = responseId,
                        ModelId = _metadata.DefaultModelId,
                        FinishReason = FinishReason(answer, result.FinishReason),
                        AdditionalProperties = message?.AdditionalProperties,
                    };
                }
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>The assistant message: text, calls, or (calls that could not be read) the raw text with the reason.</summary>
    private ChatMessage AnswerMessage(Chat.GeneratedAnswer answer)
    {
        if (answer.Parse is null) return new ChatMessage(ChatRole.Assistant, answer.Text);
        if (!answer.Parse.Succeeded)
        {
            _model.Logger?.LogWarning("The model began a tool call that could not be read ({Error}); returned as text.", answer.Parse.Error);
            return new ChatMessage(ChatRole.Assistant, answer.RawText)
            {
                AdditionalProperties = new AdditionalPropertiesDictionary { [ToolCallErrorKey] = answer.Parse.Error },
            };
        }
        var contents = new List<AIContent>();
        if (answer.Text.Length > 0) contents.Add(new TextContent(answer.Text));
        contents.AddRange(answer.Parse.Calls.Select(c => c.ToContent()));
        return new ChatMessage(ChatRole.Assistant, contents);
    }

    private static ChatFinishReason FinishReason(Chat.GeneratedAnswer answer, FinishReason reason) =>
        answer.Parse is { Succeeded: true } ? ChatFinishReason.ToolCalls : ChatOptionsMapping.ToFinishReason(reason);

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
