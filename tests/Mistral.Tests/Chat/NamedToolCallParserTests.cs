using Mistral.Chat;
using Mistral.Tokenization;
using static Mistral.Tests.Tokenization.TestVocabularies;

namespace Mistral.Tests.Chat;

/// <summary>Reading what a V11 model writes after [TOOL_CALLS]: name[CALL_ID]id[ARGS]{json}, one group per call.</summary>
[TestFixture]
public class NamedToolCallParserTests
{
    private static ToolCallPiece Calls(string text) => new(ToolCallMarker.ToolCalls, text);

    private static ToolCallPiece CallId(string text) => new(ToolCallMarker.CallId, text);

    private static ToolCallPiece Args(string text) => new(ToolCallMarker.Args, text);

    [Test]
    public void Several_calls_are_read_in_order_with_their_ids()
    {
        var parse = NamedToolCallParser.Parse([Calls("get_weather"), CallId("a1B2c3D4e"), Args("""{"city": "Paris", "days": 3}"""), Calls("now"), CallId("zzzzzzzzz"), Args("{}")]);
        Assert.That(parse.Error, Is.Null);
        Assert.That(parse.Calls.Select(c => (c.Name, c.Id)), Is.EqualTo(new[] { ("get_weather", "a1B2c3D4e"), ("now", "zzzzzzzzz") }));
        Assert.That(parse.Calls[0].Arguments.GetProperty("city").GetString(), Is.EqualTo("Paris"));
        Assert.That(parse.Calls[0].Arguments.GetProperty("days").GetInt32(), Is.EqualTo(3));
        Assert.That(parse.Calls[1].Arguments.EnumerateObject(), Is.Empty);
    }

    [Test]
    public void A_call_without_an_id_gets_nine_letters_and_digits()
    {
        var calls = NamedToolCallParser.Parse([Calls("f"), Args("{}"), Calls("f"), CallId("null"), Args("{}")]).Calls;
        Assert.That(calls, Has.Count.EqualTo(2));
        foreach (var call in calls) Assert.That(call.Id, Does.Match("^[A-Za-z0-9]{9}$"));
        Assert.That(calls[0].Id, Is.Not.EqualTo(calls[1].Id));
    }

    [Test]
    public void Arguments_written_as_a_json_string_holding_an_object_are_accepted()
    {
        var parse = NamedToolCallParser.Parse([Calls(" f "), Args(""" "{\"x\": [1]}" """)]);
        Assert.That(parse.Succeeded, Is.True, parse.Error);
        Assert.That(parse.Calls.Single().Name, Is.EqualTo("f"));
        Assert.That(parse.Calls.Single().Arguments.GetProperty("x")[0].GetInt32(), Is.EqualTo(1));
    }

    private static readonly Dictionary<string, ToolCallPiece[]> MalformedCases = new()
    {
        ["no name"] = [Calls(""), Args("{}")],
        ["no args"] = [Calls("f")],
        ["cut off"] = [Calls("f"), Args("{\"city\": \"Par")],
        ["text after the JSON"] = [Calls("f"), Args("{} and then text")],
        ["array arguments"] = [Calls("f"), Args("[1, 2]")],
        ["string arguments"] = [Calls("f"), Args("{}"), Calls("g"), Args("\"not json\"")],
        ["id after args"] = [Calls("f"), Args("{}"), CallId("x")],
        ["two ids"] = [Calls("f"), CallId("x"), CallId("y"), Args("{}")],
        ["no leading marker"] = [Args("{}")],
    };

    [TestCase("no name", "call 0 has no name")]
    [TestCase("no args", "call 0 (\"f\") has no [ARGS]")]
    [TestCase("cut off", "not valid JSON")] // the token limit ended the arguments
    [TestCase("text after the JSON", "not valid JSON")]
    [TestCase("array arguments", "arguments that are not a JSON object")]
    [TestCase("string arguments", "call 1 (\"g\") has arguments that are not a JSON object")]
    [TestCase("id after args", "[CALL_ID] after its [ARGS]")]
    [TestCase("two ids", "more than one [CALL_ID]")]
    [TestCase("no leading marker", "do not start with [TOOL_CALLS]")]
    public void Malformed_output_is_reported_not_thrown(string name, string reason)
    {
        var parse = NamedToolCallParser.Parse(MalformedCases[name]);
        Assert.That(parse.Succeeded, Is.False);
        Assert.That(parse.Calls, Is.Empty);
        Assert.That(parse.Error, Does.Contain(reason));
    }

    [Test]
    public void Generated_ids_are_split_at_the_control_tokens_not_at_their_text()
    {
        string[] controls = ["[TOOL_CALLS]", "[CALL_ID]", "[ARGS]"];
        var tokenizer = new MistralTokenizer(Build([.. SmallPieces, .. controls.Select(t => (t, 0f, TokenType.Control))], addSpacePrefix: false));
        int Control(string token) => 3 + 256 + SmallPieces.Length + Array.IndexOf(controls, token);
        // Text before the first [TOOL_CALLS] is the answer's, not a call's; "[ARGS]" typed as text stays text.
        int[] tokens =
        [
            .. tokenizer.Encode("hello", addBos: false), Control("[TOOL_CALLS]"), .. tokenizer.Encode("ab", addBos: false),
            Control("[ARGS]"), .. tokenizer.Encode("""{"q": "[ARGS]"}""", addBos: false),
            Control("[TOOL_CALLS]"), .. tokenizer.Encode("bc", addBos: false), Control("[CALL_ID]"), .. tokenizer.Encode("abc123XYZ", addBos: false),
            Control("[ARGS]"), .. tokenizer.Encode("{}", addBos: false),
        ];
        var pieces = NamedToolCallParser.Pieces(tokens, Control("[TOOL_CALLS]"), Control("[CALL_ID]"), Control("[ARGS]"), tokenizer)!;
        Assert.That(pieces, Is.EqualTo(new[] { Calls("ab"), Args("""{"q": "[ARGS]"}"""), Calls("bc"), CallId("abc123XYZ"), Args("{}") }));
        Assert.That(NamedToolCallParser.Text(pieces), Is.EqualTo("""ab[ARGS]{"q": "[ARGS]"}[TOOL_CALLS]bc[CALL_ID]abc123XYZ[ARGS]{}"""));
        var parse = NamedToolCallParser.Parse(pieces);
        Assert.That(parse.Calls.Select(c => c.Name), Is.EqualTo(new[] { "ab", "bc" }), parse.Error);
        Assert.That(parse.Calls[0].Arguments.GetProperty("q").GetString(), Is.EqualTo("[ARGS]"));
        Assert.That(NamedToolCallParser.Pieces(tokenizer.Encode("hello", addBos: false), Control("[TOOL_CALLS]"), -1, -1, tokenizer), Is.Null, "no call made");
    }
}
