using Microsoft.Extensions.AI;

namespace Mistral.Chat;

/// <summary>
/// Tokenizers V2/V3 and Tekken: <c>[INST]</c>/<c>[/INST]</c> are control tokens around the user text; the
/// answer follows <c>[/INST]</c> and ends with EOS. The token sequences are the same for both; the space
/// that V3's display shows before each text is the one its SentencePiece tokenizer adds, which Tekken's
/// tokenizer does not.
/// </summary>
/// <remarks>
/// Tool calling, as mistral-common's <c>InstructTokenizerV3</c> writes it (src/mistral_common/tokens/tokenizers/instruct.py;
/// its sample tests/data/samples/get_weather_full/text_v3.txt shows a whole conversation): the tools, as a JSON array,
/// between <c>[AVAILABLE_TOOLS]</c> and <c>[/AVAILABLE_TOOLS]</c> just before the last user message's <c>[INST]</c>;
/// an assistant's calls as <c>[TOOL_CALLS]</c> and a JSON array of <c>{"name", "arguments", "id"}</c>, then EOS; each
/// result as <c>[TOOL_RESULTS]</c> <c>{"content", "call_id"}</c> <c>[/TOOL_RESULTS]</c>, after which the model answers
/// with no <c>[INST]</c>. Each JSON text is tokenized on its own, like any message text. An assistant message with both
/// text and calls is written as its calls: the v3 format carries one or the other (mistral-common refuses both), and
/// the calls are what the results answer.
/// </remarks>
internal sealed class MistralV3ChatTemplate(bool tekken) : ChatTemplate
{
    public override ChatTemplateKind Kind => tekken ? ChatTemplateKind.Tekken : ChatTemplateKind.V3;

    private protected override bool SystemGoesToFirstUser => false;

    internal override bool SupportsTools => true;

    private protected override IEnumerable<Segment> Segments(IReadOnlyList<ChatTurn> turns, IReadOnlyList<AIFunctionDeclaration> tools)
    {
        var space = tekken ? "" : " ";
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
                case TurnRole.User:
                    if (i == lastUser && tools.Count > 0)
                    {
                        var json = ToolCallJson.Tools(tools);
                        yield return Segment.Control("[AVAILABLE_TOOLS]");
                        yield return Segment.Plain(json, space + json);
                        yield return Segment.Control("[/AVAILABLE_TOOLS]");
                    }
                    yield return Segment.Control("[INST]");
                    yield return Segment.Plain(turn.Content, space + turn.Content);
                    yield return Segment.Control("[/INST]");
                    break;
                case TurnRole.Assistant when turn.ToolCalls.Count > 0:
                    var calls = ToolCallJson.Calls(turn.ToolCalls);
                    yield return Segment.Control(ToolCallsToken);
                    yield return Segment.Plain(calls, space + calls);
                    yield return Segment.Control("</s>");
                    break;
                case TurnRole.Assistant:
                    yield return Segment.Answer(turn.Content, space + turn.Content);
                    yield return Segment.Control("</s>");
                    break;
                default:
                    var result = ToolCallJson.Result(turn);
                    yield return Segment.Control("[TOOL_RESULTS]");
                    yield return Segment.Plain(result, space + result);
                    yield return Segment.Control("[/TOOL_RESULTS]");
                    break;
            }
        }
    }
}
