namespace Mistral;

/// <summary>One step of a streamed generation (<see cref="MistralSession.CompleteStreaming(string, GenerationOptions?, CancellationToken)"/>).</summary>
/// <param name="Text">Text this step released: whole UTF-8 characters, possibly empty (a character or a possible stop string is incomplete).</param>
/// <param name="Result">On the last update only: the whole text, the ids, why generation stopped and the timings.</param>
public sealed record GenerationUpdate(string Text, GenerationResult? Result);

/// <summary>Streaming that also tells why generation stopped, for callers (a command line) that print as they go and then say why.</summary>
public sealed partial class MistralSession
{
    /// <summary>
    /// Streams generated text as <see cref="GenerateAsync"/> does, on the caller's thread, and ends with an update
    /// carrying the <see cref="GenerationResult"/> (finish reason, ids, timings) as <see cref="Complete(string, GenerationOptions?, CancellationToken)"/> gives it.
    /// </summary>
    /// <param name="prompt">The prompt text (BOS added as <see cref="GenerationOptions.AddBos"/> says).</param>
    /// <param name="options">Sampling and stopping.</param>
    /// <param name="cancellationToken">Stops generation; what was already yielded stays valid and the session stays usable.</param>
    /// <returns>Updates in order; the last has <see cref="GenerationUpdate.Result"/> set.</returns>
    /// <exception cref="ContextFullException">The prompt does not fit in what is left of the session.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public IEnumerable<GenerationUpdate> CompleteStreaming(string prompt, GenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        options ??= new GenerationOptions();
        return CompleteStreaming(Tokenize(prompt, options), options, cancellationToken);
    }

    /// <summary>As <see cref="CompleteStreaming(string, GenerationOptions?, CancellationToken)"/>, from prompt token ids (no BOS is added).</summary>
    /// <param name="promptTokens">The prompt's ids.</param>
    /// <param name="options">Sampling and stopping.</param>
    /// <param name="cancellationToken">Stops generation.</param>
    /// <returns>Updates in order; the last has <see cref="GenerationUpdate.Result"/> set.</returns>
    public IEnumerable<GenerationUpdate> CompleteStreaming(IReadOnlyList<int> promptTokens, GenerationOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(promptTokens);
        return Stream(promptTokens, options, cancellationToken);
    }

    private IEnumerable<GenerationUpdate> Stream(IReadOnlyList<int> promptTokens, GenerationOptions? options, CancellationToken cancellationToken)
    {
        using var run = StartRun(promptTokens, options);
        var tokens = new List<int>();
        var text = new System.Text.StringBuilder();
        while (run.MoveNext(cancellationToken))
        {
            tokens.Add(run.Token);
            text.Append(run.Text);
            if (run.Text.Length > 0) yield return new GenerationUpdate(run.Text, null);
        }
        text.Append(run.Text);
        yield return new GenerationUpdate(run.Text, run.ToResult(text.ToString(), tokens));
    }
}
