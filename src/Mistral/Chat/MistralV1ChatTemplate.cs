using Microsoft.Extensions.AI;

namespace Mistral.Chat;

/// <summary>
/// Tokenizer V1: <c>[INST]</c> and <c>[/INST]</c> are ordinary text inside the user segment, which is
/// tokenized as "[INST] {user} [/INST]"; the answer is its own segment, followed by EOS. Tokenized with a
/// SentencePiece vocabulary that gives <c>&lt;s&gt;▁[INST]▁user▁[/INST]▁answer&lt;/s&gt;▁[INST]▁next▁[/INST]</c>.
/// </summary>
internal sealed class MistralV1ChatTemplate : ChatTemplate
{
    public override ChatTemplateKind Kind => ChatTemplateKind.V1;

    private protected override bool SystemGoesToFirstUser => true;

    internal override bool SupportsTools => false;

    private protected override IEnumerable<Segment> Segments(IReadOnlyList<ChatTurn> turns, IReadOnlyList<AIFunctionDeclaration> tools)
    {
        // Tokenizer V1 has no tool tokens (mistral-common's InstructTokenizerV1 refuses tool messages).
        if (tools.Count > 0) throw new NotSupportedException($"The {Kind} chat format has no tool calling; tools need a V3 or Tekken model.");
        yield return Segment.Control("<s>");
        foreach (var turn in turns)
        {
            if (turn.Role == TurnRole.User)
            {
                var text = "[INST] " + turn.Content + " [/INST]";
                yield return Segment.Plain(text, " " + text);
            }
            else
            {
                yield return Segment.Answer(turn.Content, " " + turn.Content);
                yield return Segment.Control("</s>");
            }
        }
    }
}
