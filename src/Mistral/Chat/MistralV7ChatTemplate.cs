using Microsoft.Extensions.AI;

namespace Mistral.Chat;

/// <summary>
/// Tokenizer V7 (Mistral Large 2411 with SentencePiece; Mistral Small 3 and 3.1 with Tekken): V3's <c>[INST]</c> turns
/// and tools, with three changes, as mistral-common's <c>InstructTokenizerV7</c> writes them
/// (src/mistral_common/tokens/tokenizers/instruct.py, with <c>InstructRequestNormalizerV7</c> in
/// src/mistral_common/protocol/instruct/normalize.py; its tests/test_tokenizer_v7.py shows whole prompts):
/// <list type="bullet">
/// <item><description>each system message stays where it is in the conversation, as <c>[SYSTEM_PROMPT]</c> text
/// <c>[/SYSTEM_PROMPT]</c>, instead of being prepended to the last user message;</description></item>
/// <item><description>a tool result is <c>[TOOL_RESULTS]</c> call id <c>[TOOL_CONTENT]</c> result <c>[/TOOL_RESULTS]</c>,
/// the call id and the result each tokenized on their own and the result written as given (no JSON wrapper);</description></item>
/// <item><description>an assistant message may hold text and calls: the text, then <c>[TOOL_CALLS]</c> and the calls,
/// then EOS.</description></item>
/// </list>
/// The calls themselves are V3's JSON list (<see cref="ToolCallJson.Calls"/>); V11 (<see cref="MistralV11ChatTemplate"/>)
/// changes only that.
/// </summary>
internal class MistralV7ChatTemplate(bool tekken) : ChatTemplate
{
    public override ChatTemplateKind Kind => tekken ? ChatTemplateKind.TekkenV7 : ChatTemplateKind.V7;

    private protected override bool SystemGoesToFirstUser => false;

    private protected override bool SystemMessagesInPlace => true;

    internal override bool SupportsTools => true;

    /// <summary>
    /// A text tokenized on its own; its display shows the space SentencePiece puts before a text (Tekken puts none, and
    /// an empty text gives no token at all).
    /// </summary>
    private protected Segment Text(string text) => Segment.Plain(text, tekken || text.Length == 0 ? text : " " + text);

    private protected override IEnumerable<Segment> Segments(IReadOnlyList<ChatTurn> turns, IReadOnlyList<AIFunctionDeclaration> tools)
    {
        var lastUser = -1;
        for (var i = 0; i < turns.Count; i++)
        {
            if (turns[i].Role == TurnRole.User) lastUser = i;
        }
        yield return Segment.Control("<s>");
        for (var i = 0; i < turns.Count; i++)
        {
            var turn = turns[i];
            switch (turn.Role)
            {
                case TurnRole.System:
                    yield return Segment.Control("[SYSTEM_PROMPT]");
                    yield return Text(turn.Content);
                    yield return Segment.Control("[/SYSTEM_PROMPT]");
                    break;
                case TurnRole.User:
                    if (i == lastUser && tools.Count > 0)
                    {
                        var json = ToolCallJson.Tools(tools);
                        yield return Segment.Control("[AVAILABLE_TOOLS]");
                        yield return Text(json);
                        yield return Segment.Control("[/AVAILABLE_TOOLS]");
                    }
                    yield return Segment.Control("[INST]");
                    yield return Text(turn.Content);
                    yield return Segment.Control("[/INST]");
                    break;
                case TurnRole.Assistant:
                    if (turn.ToolCalls.Count == 0)
                    {
                        // A text answer: the exact ids it was generated as may stand in for it (the KV cache matches).
                        yield return Segment.Answer(turn.Content, tekken ? turn.Content : " " + turn.Content);
                    }
                    else
                    {
                        // Text before calls is written only when there is some: an empty text is not tokenized at all.
                        if (turn.Content.Length > 0) yield return Text(turn.Content);
                        foreach (var segment in CallSegments(turn.ToolCalls)) yield return segment;
                    }
                    yield return Segment.Control("</s>");
                    break;
                default:
                    var id = turn.ToolCallId ?? "";
                    yield return Segment.Control("[TOOL_RESULTS]");
                    yield return Text(id);
                    yield return Segment.Control("[TOOL_CONTENT]");
                    yield return Text(turn.ToolResultText);
                    yield return Segment.Control("[/TOOL_RESULTS]");
                    break;
            }
        }
    }

    /// <summary>An assistant's calls: V7 writes <c>[TOOL_CALLS]</c> and the JSON list, as V3 does.</summary>
    private protected virtual IEnumerable<Segment> CallSegments(IReadOnlyList<ChatToolCall> calls)
    {
        var json = ToolCallJson.Calls(calls);
        yield return Segment.Control(ToolCallsToken);
        yield return Text(json);
    }
}
