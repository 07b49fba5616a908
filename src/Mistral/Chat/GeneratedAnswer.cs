using Mistral.Tokenization;

namespace Mistral.Chat;

/// <summary>
/// A generated answer split at the model's <c>[TOOL_CALLS]</c> token, by token id (the control token decodes to no
/// text, so the text alone could not tell a call from an answer that happens to look like JSON): the text before it
/// and the calls after it, parsed.
/// </summary>
/// <param name="Text">The answer text before <c>[TOOL_CALLS]</c> (all of it when there is no call).</param>
/// <param name="ToolCallText">What the model wrote after <c>[TOOL_CALLS]</c>, or null when it made no call.</param>
/// <param name="Parse">The calls read from <paramref name="ToolCallText"/>, or null when it made no call.</param>
internal sealed record GeneratedAnswer(string Text, string? ToolCallText, ToolCallParse? Parse)
{
    /// <summary>
    /// Splits <paramref name="tokens"/> at the first <paramref name="toolCallsId"/> (-1: the model has no such token) and
    /// reads the calls in the layout of <paramref name="template"/>: a JSON list (V3, V7), or V11's
    /// <c>name[CALL_ID]id[ARGS]{…}</c> groups, split at their control tokens (<see cref="NamedToolCallParser"/>).
    /// </summary>
    public static GeneratedAnswer From(string text, IReadOnlyList<int> tokens, int toolCallsId, MistralTokenizer tokenizer, ChatTemplate template)
    {
        var at = toolCallsId < 0 ? -1 : IndexOf(tokens, toolCallsId);
        if (at < 0) return new GeneratedAnswer(text, null, null);
        var ids = tokens as int[] ?? [.. tokens];
        var before = tokenizer.Decode(ids.AsSpan(0, at), startsText: true);
        if (template.WritesNamedCalls)
        {
            var pieces = NamedToolCallParser.Pieces(tokens, toolCallsId, Id(tokenizer, ChatTemplate.CallIdToken), Id(tokenizer, ChatTemplate.ArgsToken), tokenizer)!;
            return new GeneratedAnswer(before, NamedToolCallParser.Text(pieces), NamedToolCallParser.Parse(pieces));
        }
        var after = tokenizer.Decode(ids.AsSpan(at + 1), startsText: false);
        return new GeneratedAnswer(before, after, ToolCallParser.Parse(after));
    }

    private static int Id(MistralTokenizer tokenizer, string piece) => tokenizer.TryGetTokenId(piece, out var id) ? id : -1;

    /// <summary>The text to show when the calls could not be read: the answer as generated, the marker written out.</summary>
    public string RawText => ToolCallText is null ? Text : Text + ChatTemplate.ToolCallsToken + ToolCallText;

    private static int IndexOf(IReadOnlyList<int> tokens, int id)
    {
        for (var i = 0; i < tokens.Count; i++)
        {
            if (tokens[i] == id) return i;
        }
        return -1;
    }
}
