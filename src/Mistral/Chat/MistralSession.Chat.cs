using System.Runtime.CompilerServices;
using Mistral.Chat;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;

namespace Mistral;

/// <summary>Chat on a session: a conversation rendered with the model's template, reusing the KV cache turn after turn.</summary>
public sealed partial class MistralSession
{
    // The last answer Chat generated, as text and as the exact ids the model produced: when the caller
    // passes that text back in the history, these ids stand in for it, so the history matches the cache.
    private string? _lastAnswerText;
    private int[]? _lastAnswerTokens;
    private bool _warnedAssumedTemplate;

    /// <summary>Tokens of the whole rendered conversation of the last chat call (reported as input usage).</summary>
    internal int LastChatPromptTokens { get; private set; }

    /// <summary>
    /// Answers the last user message of a conversation. Only the part of the rendered conversation that is
    /// not already in this session's KV cache is evaluated: pass the whole history each turn (with the
    /// previous answers as assistant messages) and a follow-up costs only its new tokens. A history that
    /// differs from what the session holds is evaluated again from the first token that differs.
    /// </summary>
    /// <param name="messages">The conversation, ending with a user message (see <see cref="ChatTemplate"/>).</param>
    /// <param name="options">Sampling and stopping; <see cref="GenerationOptions.AddBos"/> is ignored (the template adds BOS).</param>
    /// <param name="cancellationToken">Stops the call within a fraction of one layer's work, prompt processing included (<see cref="OperationCanceledException"/>).</param>
    /// <returns>The answer; <see cref="GenerationResult.PromptTokenCount"/> counts only the tokens evaluated for this call.</returns>
    /// <exception cref="ArgumentException">The roles do not alternate user/assistant or the last message is not a user message.</exception>
    /// <exception cref="ContextFullException">The conversation does not fit in the session.</exception>
    /// <exception cref="NotSupportedException">A message has a role or content the Mistral formats cannot carry (tools, images).</exception>
    public GenerationResult Chat(IEnumerable<ChatMessage> messages, GenerationOptions? options = null, CancellationToken cancellationToken = default) =>
        ChatTurns(ChatTurn.From(messages), options, cancellationToken);

    internal GenerationResult ChatTurns(IReadOnlyList<ChatTurn> messages, GenerationOptions? options, CancellationToken cancellationToken,
        IReadOnlyList<AIFunctionDeclaration>? tools = null)
    {
        cancellationToken.ThrowIfCancellationRequested(); // before PrepareChat, which may truncate the cache
        options ??= new GenerationOptions();
        var prompt = PrepareChat(messages, tools, out _);
        var result = Complete(prompt, options, cancellationToken);
        var text = TrimAnswerStart(result.Text);
        RememberAnswer(text, result.Tokens, result.FinishReason);
        Model.Logger?.LogDebug("Chat: {Evaluated} prompt tokens evaluated, {Generated} generated ({Reason}); {PromptRate:F1} prompt tok/s, {DecodeRate:F1} tok/s",
            result.PromptTokenCount, result.Tokens.Count, result.FinishReason, result.PromptTokensPerSecond, result.GenerationTokensPerSecond);
        return result with { Text = text };
    }

    /// <summary>Streams the answer to the last user message of a conversation; reuses the KV cache as <see cref="Chat"/> does.</summary>
    /// <param name="messages">The conversation, ending with a user message.</param>
    /// <param name="options">Sampling and stopping.</param>
    /// <param name="cancellationToken">Stops the call within a fraction of one layer's work, prompt processing included (<see cref="OperationCanceledException"/>).</param>
    /// <returns>Pieces of the answer, each whole UTF-8 characters.</returns>
    public async IAsyncEnumerable<string> ChatAsync(IEnumerable<ChatMessage> messages, GenerationOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var turns = ChatTurn.From(messages);
        await foreach (var update in ChatStreamAsync(turns, options, cancellationToken).ConfigureAwait(false))
        {
            if (update.Text.Length > 0) yield return update.Text;
        }
    }

    /// <summary>
    /// One streamed piece; the last one carries the finished result. <paramref name="InToolCalls"/>: the piece comes after
    /// the model's <c>[TOOL_CALLS]</c> token, so it is the calls' JSON, not answer text.
    /// </summary>
    internal readonly record struct ChatUpdate(string Text, GenerationResult? Result, int RenderedPromptTokens, bool InToolCalls = false);

    /// <summary>The streaming loop behind <see cref="ChatAsync"/> and the IChatClient adapter, which also needs the counts.</summary>
    internal async IAsyncEnumerable<ChatUpdate> ChatStreamAsync(IReadOnlyList<ChatTurn> messages, GenerationOptions? options,
        [EnumeratorCancellation] CancellationToken cancellationToken, IReadOnlyList<AIFunctionDeclaration>? tools = null)
    {
        cancellationToken.ThrowIfCancellationRequested(); // before PrepareChat, which may truncate the cache
        options ??= new GenerationOptions();
        var prompt = PrepareChat(messages, tools, out var rendered);
        var toolCallsId = Model.ChatTemplate.ToolCallsTokenId(Model.Tokenizer);
        using var run = StartRun(prompt, options);
        var tokens = new List<int>();
        var text = new System.Text.StringBuilder();
        var first = true;
        var inToolCalls = false;
        while (true)
        {
            var more = await Task.Run(() => run.MoveNext(cancellationToken), cancellationToken).ConfigureAwait(false);
            if (more) tokens.Add(run.Token);
            if (more && run.Token == toolCallsId) inToolCalls = true;
            var piece = run.Text;
            if (first && piece.Length > 0)
            {
                piece = TrimAnswerStart(piece);
                first = false; // one space is trimmed, from the first non-empty piece, as the whole answer's (even when that piece was the space)
            }
            text.Append(piece);
            if (!more)
            {
                var result = run.ToResult(text.ToString(), tokens);
                RememberAnswer(result.Text, tokens, result.FinishReason);
                yield return new ChatUpdate(piece, result, rendered, inToolCalls);
                yield break;
            }
            if (piece.Length > 0) yield return new ChatUpdate(piece, null, rendered, inToolCalls);
        }
    }

    /// <summary>
    /// Renders the conversation, keeps the longest prefix already in the cache and returns the rest. At
    /// least one token is always left to evaluate: the answer needs the logits after the last prompt token.
    /// </summary>
    private int[] PrepareChat(IReadOnlyList<ChatTurn> messages, IReadOnlyList<AIFunctionDeclaration>? tools, out int renderedCount)
    {
        ObjectDisposedException.ThrowIf(_context.IsClosed, this);
        if (Model.ChatTemplate.IsAssumed && !_warnedAssumedTemplate)
        {
            // A base model was never trained on a chat format: say which one is being guessed, once per session.
            _warnedAssumedTemplate = true;
            Model.Logger?.LogWarning("{Path} has no chat template (no tokenizer.chat_template naming a Mistral format, no [INST] control token): " +
                "chat assumes the {Template} format, which a base model was not trained on. Set ModelOptions.ChatTemplate to choose a format.",
                Model.Path, ChatTemplateKind.V1);
        }
        var answerText = _lastAnswerText;
        var answerTokens = _lastAnswerTokens;
        var rendered = Model.ChatTemplate.Tokenize(messages, Model.Tokenizer,
            text => answerTokens is not null && text == answerText ? answerTokens : null, tools);
        renderedCount = rendered.Length;
        LastChatPromptTokens = rendered.Length;

        IReadOnlyList<int> held = _pendingToken is int pending ? [.. _cached, pending] : _cached;
        var common = 0;
        while (common < held.Count && common < rendered.Length && held[common] == rendered[common]) common++;
        if (common == rendered.Length) common--; // everything is cached: re-evaluate the last token for its logits
        if (common < held.Count) Truncate(common);
        return rendered[common..];
    }

    /// <summary>SentencePiece answers start with the "▁" the template's next tokenization adds back; it is not part of the answer.</summary>
    private string TrimAnswerStart(string text) =>
        Model.Tokenizer.AddSpacePrefix && text.StartsWith(' ') ? text[1..] : text;

    private void RememberAnswer(string text, IReadOnlyList<int> tokens, FinishReason reason)
    {
        // After a stop string the ids hold text the caller never saw: let the history be tokenized from its text.
        var exact = reason != FinishReason.StopString;
        _lastAnswerText = exact ? text : null;
        _lastAnswerTokens = exact ? [.. tokens] : null;
    }
}
