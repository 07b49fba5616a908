using System.Text.Json;
using Microsoft.Extensions.AI;
using Mistral.Chat;
using Mistral.Tokenization;
using static Mistral.Tests.Tokenization.TestVocabularies;

namespace Mistral.Tests.Chat;

/// <summary>
/// The V7 and V11 formats (system messages in place, <c>[TOOL_CONTENT]</c> results, V11's <c>[ARGS]</c> calls), checked
/// against the prompts mistral-common's own tests expect (tests/test_tokenizer_v7.py, tests/test_tokenizer_v11.py) and
/// the code paths of its <c>InstructTokenizerV7</c>/<c>V11</c> (src/mistral_common/tokens/tokenizers/instruct.py).
/// </summary>
[TestFixture]
public class ToolTemplateV7V11Tests
{
    private static readonly string[] V11Tokens =
        ["[TOOL_CALLS]", "[AVAILABLE_TOOLS]", "[/AVAILABLE_TOOLS]", "[TOOL_RESULTS]", "[/TOOL_RESULTS]", "[SYSTEM_PROMPT]", "[/SYSTEM_PROMPT]", "[TOOL_CONTENT]", "[ARGS]", "[CALL_ID]"];

    private static MistralTokenizer WithTokens(IEnumerable<string> controls, bool addSpacePrefix = true) =>
        new(Build([.. SmallPieces, .. controls.Select(t => (t, 0f, TokenType.Control))], addSpacePrefix));

    private static int V11Id(string token) => 3 + 256 + SmallPieces.Length + Array.IndexOf(V11Tokens, token);

    private static JsonElement Json(string json) => JsonDocument.Parse(json).RootElement.Clone();

    private static Dictionary<string, object?> Arguments(string json) =>
        Json(json).EnumerateObject().ToDictionary(p => p.Name, p => (object?)p.Value.Clone());

    private static AIFunctionDeclaration Tool(string name, string schema) => AIFunctionFactory.CreateDeclaration(name, null, Json(schema));

    /// <summary>mistral-common shows SentencePiece pieces with "▁" for the space before each text.</summary>
    private static string FromPieces(string sample) => sample.Replace("▁", " ", StringComparison.Ordinal);

    [Test]
    public void V7_renders_mistral_commons_spm_sample_with_system_tools_text_and_call()
    {
        // tests/test_tokenizer_v7.py, test_encode_spm, first case: a system message, a user message, an answer with text
        // and a call without an id. The conversation continues with the result (layout of the second case there:
        // "[TOOL_RESULTS]▁1234[TOOL_CONTENT]▁b[/TOOL_RESULTS]"), since the model answers a user message or a result.
        ChatMessage[] messages =
        [
            new(ChatRole.System, "a"),
            new(ChatRole.User, "a"),
            new(ChatRole.Assistant, [new TextContent("b"), new FunctionCallContent("", "t", Arguments("""{"g": "h"}"""))]),
            new(ChatRole.Tool, [new FunctionResultContent("1234", "b")]),
        ];
        const string sample = """<s>[SYSTEM_PROMPT]▁a[/SYSTEM_PROMPT][AVAILABLE_TOOLS]▁[{"type":▁"function",▁"function":▁{"name":▁"t",▁"description":▁"",▁"parameters":▁{"type":▁"object",▁"properties":▁{"g":▁{"type":▁"string"},▁"h":▁{"type":▁"string"}}}}}][/AVAILABLE_TOOLS][INST]▁a[/INST]▁b[TOOL_CALLS]▁[{"name":▁"t",▁"arguments":▁{"g":▁"h"}}]</s>""";
        var tools = new[] { Tool("t", """{"type": "object", "properties": {"g": {"type": "string"}, "h": {"type": "string"}}}""") };
        Assert.That(ChatTemplate.V7.Render(messages, tools), Is.EqualTo(FromPieces(sample + "[TOOL_RESULTS]▁1234[TOOL_CONTENT]▁b[/TOOL_RESULTS]")));
    }

    [Test]
    public void TekkenV7_renders_mistral_commons_sample_of_text_and_two_calls()
    {
        // tests/test_tokenizer_v7.py, test_assistant_tool_call_and_content (Tekken), followed by the two results.
        ChatMessage[] messages =
        [
            new(ChatRole.User, "a"),
            new(ChatRole.Assistant, [new TextContent("b1b2"), new FunctionCallContent("000000000", "t1", Arguments("{}")), new FunctionCallContent("111111111", "t2", Arguments("{}"))]),
            new(ChatRole.Tool, [new FunctionResultContent("000000000", "r1"), new FunctionResultContent("111111111", "r2")]),
        ];
        const string sample =
            "<s>[AVAILABLE_TOOLS][{\"type\": \"function\", \"function\": {\"name\": \"t1\", \"description\": \"\", \"parameters\": {}}}, " +
            "{\"type\": \"function\", \"function\": {\"name\": \"t2\", \"description\": \"\", \"parameters\": {}}}][/AVAILABLE_TOOLS][INST]a[/INST]b1b2[TOOL_CALLS]" +
            "[{\"name\": \"t1\", \"arguments\": {}, \"id\": \"000000000\"}, {\"name\": \"t2\", \"arguments\": {}, \"id\": \"111111111\"}]</s>";
        var text = ChatTemplate.TekkenV7.Render(messages, [Tool("t1", "{}"), Tool("t2", "{}")]);
        Assert.That(text, Is.EqualTo(sample + "[TOOL_RESULTS]000000000[TOOL_CONTENT]r1[/TOOL_RESULTS][TOOL_RESULTS]111111111[TOOL_CONTENT]r2[/TOOL_RESULTS]"));
    }

    [Test]
    public void TekkenV7_keeps_each_system_message_where_it_is()
    {
        // tests/test_tokenizer_v7.py, test_truncation "full_convo": what remains after truncation is this conversation.
        ChatMessage[] messages =
        [
            new(ChatRole.System, "a"), new(ChatRole.User, "a"), new(ChatRole.Assistant, "a"), new(ChatRole.System, "b"), new(ChatRole.User, "a"),
        ];
        Assert.That(ChatTemplate.TekkenV7.Render(messages), Is.EqualTo("<s>[SYSTEM_PROMPT]a[/SYSTEM_PROMPT][INST]a[/INST]a</s>[SYSTEM_PROMPT]b[/SYSTEM_PROMPT][INST]a[/INST]"));
        // V3 layouts fold the same system messages into the last user message instead.
        Assert.That(ChatTemplate.Tekken.Render(messages), Is.EqualTo("<s>[INST]a[/INST]a</s>[INST]a\n\nb\n\na[/INST]"));
    }

    [Test]
    public void V7_writes_a_result_as_given_and_other_values_as_json_dumps()
    {
        // InstructRequestNormalizerV7 keeps a tool message's content as it is (V3's normalizer re-serializes it as JSON).
        ChatMessage[] messages =
        [
            new(ChatRole.User, "a"),
            new(ChatRole.Assistant, [new FunctionCallContent("123456789", "f", Arguments("{}"))]),
            new(ChatRole.Tool, [new FunctionResultContent("123456789", """{"a":1}""")]),
        ];
        Assert.That(ChatTemplate.TekkenV7.Render(messages), Does.EndWith("""[TOOL_RESULTS]123456789[TOOL_CONTENT]{"a":1}[/TOOL_RESULTS]"""));
        Assert.That(ChatTemplate.Tekken.Render(messages), Does.EndWith("""[TOOL_RESULTS]{"content": {"a": 1}, "call_id": "123456789"}[/TOOL_RESULTS]"""));
        messages[2] = new(ChatRole.Tool, [new FunctionResultContent("123456789", new Dictionary<string, object?> { ["t"] = 22, ["u"] = "°C" })]);
        Assert.That(ChatTemplate.TekkenV7.Render(messages), Does.EndWith("""[TOOL_CONTENT]{"t": 22, "u": "°C"}[/TOOL_RESULTS]"""));
    }

    [Test]
    public void TekkenV11_writes_each_call_as_name_call_id_args()
    {
        // InstructTokenizerV11._encode_tool_calls_in_assistant_message; tests/test_tokenizer_v11.py shows
        // "[TOOL_CALLS]a_a_a[ARGS]\"blabla\"[TOOL_CALLS]b[ARGS]\"blu\"</s>" and, with an id, "[TOOL_CALLS]a_a_a[CALL_ID]ABC[ARGS]…".
        ChatMessage[] messages =
        [
            new(ChatRole.System, "s"),
            new(ChatRole.User, "u"),
            new(ChatRole.Assistant, [new FunctionCallContent("abc123XYZ", "get_weather", Arguments("""{"city":"Paris","days":3}""")), new FunctionCallContent("", "now", Arguments("{}"))]),
            new(ChatRole.Tool, [new FunctionResultContent("abc123XYZ", "sunny")]),
        ];
        Assert.That(ChatTemplate.TekkenV11.Render(messages), Is.EqualTo(
            "<s>[SYSTEM_PROMPT]s[/SYSTEM_PROMPT][INST]u[/INST]" +
            """[TOOL_CALLS]get_weather[CALL_ID]abc123XYZ[ARGS]{"city": "Paris", "days": 3}[TOOL_CALLS]now[ARGS]{}</s>""" +
            "[TOOL_RESULTS]abc123XYZ[TOOL_CONTENT]sunny[/TOOL_RESULTS]"));
    }

    [Test]
    public void TekkenV11_tokenizes_the_name_id_and_arguments_each_alone_between_control_tokens()
    {
        var tokenizer = WithTokens(V11Tokens, addSpacePrefix: false);
        ChatMessage[] messages =
        [
            new(ChatRole.User, "hello"),
            new(ChatRole.Assistant, [new FunctionCallContent("abc", "ab", Arguments("""{"x": 1}"""))]),
            new(ChatRole.Tool, [new FunctionResultContent("abc", "world")]),
        ];
        int[] expected =
        [
            Bos, Id("[INST]"), .. tokenizer.Encode("hello", addBos: false), Id("[/INST]"),
            V11Id("[TOOL_CALLS]"), .. tokenizer.Encode("ab", addBos: false), V11Id("[CALL_ID]"), .. tokenizer.Encode("abc", addBos: false),
            V11Id("[ARGS]"), .. tokenizer.Encode("""{"x": 1}""", addBos: false), Eos,
            V11Id("[TOOL_RESULTS]"), .. tokenizer.Encode("abc", addBos: false), V11Id("[TOOL_CONTENT]"), .. tokenizer.Encode("world", addBos: false), V11Id("[/TOOL_RESULTS]"),
        ];
        Assert.That(ChatTemplate.TekkenV11.Tokenize(messages, tokenizer), Is.EqualTo(expected));
    }

    [Test]
    public void TekkenV11_on_a_vocabulary_without_args_is_refused_naming_the_token()
    {
        ChatMessage[] messages =
        [
            new(ChatRole.User, "hello"),
            new(ChatRole.Assistant, [new FunctionCallContent("abc", "ab", Arguments("{}"))]),
            new(ChatRole.Tool, [new FunctionResultContent("abc", "world")]),
        ];
        var v7Only = WithTokens(V11Tokens.Where(t => t is not ("[ARGS]" or "[CALL_ID]")), addSpacePrefix: false);
        var ex = Assert.Throws<ArgumentException>(() => ChatTemplate.TekkenV11.Tokenize(messages, v7Only));
        Assert.That(ex!.Message, Does.Contain("'[CALL_ID]'").And.Contain("TekkenV11"));
    }

    [Test]
    public void V7_refuses_a_conversation_ending_with_a_system_message()
    {
        var ex = Assert.Throws<ArgumentException>(() => ChatTemplate.TekkenV7.Render([new ChatMessage(ChatRole.User, "a"), new ChatMessage(ChatRole.System, "b")]));
        Assert.That(ex!.Message, Does.Contain("must end with a user message"));
        // A system message between a user message and its answer does not break the alternation.
        ChatMessage[] between = [new(ChatRole.User, "a"), new(ChatRole.System, "b"), new(ChatRole.Assistant, "c"), new(ChatRole.User, "d")];
        Assert.That(ChatTemplate.TekkenV7.Render(between), Is.EqualTo("<s>[INST]a[/INST][SYSTEM_PROMPT]b[/SYSTEM_PROMPT]c</s>[INST]d[/INST]"));
    }

    // Detection: what each version's files carry (mistral-common tests/data/chat_templates/v7.jinja, v7_spm.jinja, v11.jinja;
    // tekken.py's DEPRECATED_SPECIAL_TOKENS, the list every V3/V7 Tekken file has, already holds [SYSTEM_PROMPT] and
    // [TOOL_CONTENT]; tests/test_tekken.py get_special_tokens adds [ARGS] and [CALL_ID] from v11 on).
    private const string V7Jinja = "{{- '[SYSTEM_PROMPT]' -}}{{- '[INST]' -}}{{- '[TOOL_RESULTS]' + tool_id + '[TOOL_CONTENT]' + message['content']|string + '[/TOOL_RESULTS]' }}";
    private const string V11Jinja = "{{- '[SYSTEM_PROMPT]' -}}{{- '[INST]' -}}{{- '[TOOL_CALLS]' }}{{- name + '[CALL_ID]' + id + '[ARGS]' + arguments }}";
    private const string V3Jinja = "{{- '[INST]' -}}{{- '[TOOL_RESULTS]' }}";

    private static readonly string[] V7Controls = V11Tokens.Where(t => t is not ("[ARGS]" or "[CALL_ID]")).ToArray();
    private static readonly string[] V3Controls = V11Tokens.Where(t => !t.Contains("SYSTEM", StringComparison.Ordinal) && t is not ("[TOOL_CONTENT]" or "[ARGS]" or "[CALL_ID]")).ToArray();

    [TestCase(V11Jinja, false, ChatTemplateKind.TekkenV11)]
    [TestCase(V7Jinja, false, ChatTemplateKind.TekkenV7)]
    [TestCase(V7Jinja, true, ChatTemplateKind.V7)]
    [TestCase(V3Jinja, false, ChatTemplateKind.Tekken)]
    public void Detect_reads_the_version_from_the_files_template(string jinja, bool sentencePiece, ChatTemplateKind expected)
    {
        var template = ChatTemplate.Detect(jinja, WithTokens(V7Controls, sentencePiece), out var origin);
        Assert.That((template.Kind, origin), Is.EqualTo((expected, ChatTemplateOrigin.FileTemplate)));
    }

    [Test]
    public void Detect_takes_a_v7_template_on_a_v11_vocabulary_as_v11()
    {
        // A template that shows no call history cannot say how calls are written; the vocabulary's [ARGS] can.
        Assert.That(ChatTemplate.Detect(V7Jinja, WithTokens(V11Tokens, addSpacePrefix: false)).Kind, Is.EqualTo(ChatTemplateKind.TekkenV11));
    }

    [TestCase(false, "v11", ChatTemplateKind.TekkenV11)]
    [TestCase(true, "v7", ChatTemplateKind.V7)]
    [TestCase(false, "v7", ChatTemplateKind.Tekken)] // Tekken V3 (Nemo) and V7 files have the same control tokens
    [TestCase(true, "v3", ChatTemplateKind.V3)]
    public void Detect_without_a_template_reads_the_version_from_the_control_tokens(bool sentencePiece, string vocabulary, ChatTemplateKind expected)
    {
        var controls = vocabulary switch { "v11" => V11Tokens, "v7" => V7Controls, _ => V3Controls };
        var template = ChatTemplate.Detect(null, WithTokens(controls, sentencePiece), out var origin);
        Assert.That((template.Kind, origin), Is.EqualTo((expected, ChatTemplateOrigin.Tokenizer)));
    }

    [Test]
    public void Args_as_plain_text_does_not_make_a_v11_vocabulary()
    {
        var tokenizer = new MistralTokenizer(Build([.. SmallPieces, ("[ARGS]", 0f, TokenType.Normal), ("[CALL_ID]", 0f, TokenType.Normal)], addSpacePrefix: false));
        Assert.That(ChatTemplate.Detect(null, tokenizer).Kind, Is.EqualTo(ChatTemplateKind.Tekken));
    }

    [TestCase(ChatTemplateKind.V7)]
    [TestCase(ChatTemplateKind.TekkenV7)]
    [TestCase(ChatTemplateKind.TekkenV11)]
    public void FromKind_gives_the_new_formats(ChatTemplateKind kind) =>
        Assert.That(ChatTemplate.FromKind(kind).Kind, Is.EqualTo(kind));
}
