namespace Mistral.Chat;

/// <summary>
/// Tokenizers V2/V3 and Tekken: <c>[INST]</c>/<c>[/INST]</c> are control tokens around the user text; the
/// answer follows <c>[/INST]</c> and ends with EOS. The token sequences are the same for both; the space
/// that V3's display shows before each text is the one its SentencePiece tokenizer adds, which Tekken's
/// tokenizer does not.
/// </summary>
internal sealed class MistralV3ChatTemplate(bool tekken) : ChatTemplate
{
    public override ChatTemplateKind Kind => tekken ? ChatTemplateKind.Tekken : ChatTemplateKind.V3;

    private protected override bool SystemGoesToFirstUser => false;

    private protected override IEnumerable<Segment> Segments(IReadOnlyList<ChatTurn> turns)
    {
        var space = tekken ? "" : " ";
        yield return Segment.Control("<s>");
        foreach (var turn in turns)
        {
            if (turn.Role == TurnRole.User)
            {
                yield return Segment.Control("[INST]");
                yield return Segment.Plain(turn.Content, space + turn.Content);
                yield return Segment.Control("[/INST]");
            }
            else
            {
                yield return Segment.Answer(turn.Content, space + turn.Content);
                yield return Segment.Control("</s>");
            }
        }
    }
}
