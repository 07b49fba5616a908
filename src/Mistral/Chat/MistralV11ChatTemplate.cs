namespace Mistral.Chat;

/// <summary>
/// Tokenizer V11 (Tekken; Mistral Small 3.2): V7 (<see cref="MistralV7ChatTemplate"/>) with calls written one by one
/// instead of as a JSON list, as mistral-common's <c>InstructTokenizerV11._encode_tool_calls_in_assistant_message</c>
/// writes them (src/mistral_common/tokens/tokenizers/instruct.py; tests/test_tokenizer_v11.py):
/// <c>[TOOL_CALLS]</c> name <c>[CALL_ID]</c> id <c>[ARGS]</c> arguments, for each call, then EOS after the last.
/// The name, the id and the arguments (<c>json.dumps</c> of the object) are each tokenized on their own; a call without
/// an id has no <c>[CALL_ID]</c> part. The model writes its calls the same way; <see cref="NamedToolCallParser"/> reads them.
/// </summary>
internal sealed class MistralV11ChatTemplate() : MistralV7ChatTemplate(tekken: true)
{
    public override ChatTemplateKind Kind => ChatTemplateKind.TekkenV11;

    internal override bool WritesNamedCalls => true;

    private protected override IEnumerable<Segment> CallSegments(IReadOnlyList<ChatToolCall> calls)
    {
        foreach (var call in calls)
        {
            yield return Segment.Control(ToolCallsToken);
            yield return Text(call.Name);
            if (call.Id.Length > 0)
            {
                yield return Segment.Control(CallIdToken);
                yield return Text(call.Id);
            }
            yield return Segment.Control(ArgsToken);
            yield return Text(MistralJson.Dumps(call.Arguments));
        }
    }
}
