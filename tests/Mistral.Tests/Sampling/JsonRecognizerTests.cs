using System.Text;
using Mistral.Constraints;

namespace Mistral.Tests.Sampling;

/// <summary>The JSON recognizer against System.Text.Json, on whole texts and on every prefix of them.</summary>
[TestFixture]
public class JsonRecognizerTests
{
    /// <summary>How many leading bytes the recognizer accepts, and whether all of them make a complete value.</summary>
    private static (int Accepted, bool Complete) Run(ReadOnlySpan<byte> utf8, bool rootObject = false)
    {
        var state = JsonRecognizer.Start(rootObject);
        for (var i = 0; i < utf8.Length; i++)
        {
            if (!state.Push(utf8[i])) return (i, false);
        }
        return (utf8.Length, state.IsComplete);
    }

    private static bool Accepts(byte[] utf8) => Run(utf8) is var (n, complete) && n == utf8.Length && complete;

    [Test]
    public void Whole_texts_are_accepted_exactly_when_System_Text_Json_accepts_them()
    {
        var random = new Random(20240615);
        int valid = 0, invalid = 0;
        for (var i = 0; i < 3000; i++)
        {
            var document = JsonCorpus.Document(random);
            Assert.That(JsonCorpus.StjAccepts(document), Is.True, "the generator writes valid JSON: " + Encoding.UTF8.GetString(document));
            Assert.That(Accepts(document), Is.True, Encoding.UTF8.GetString(document));
            valid++;
            for (var m = 0; m < 4; m++)
            {
                var mutated = JsonCorpus.Mutate(random, document);
                var expected = JsonCorpus.StjAccepts(mutated);
                Assert.That(Accepts(mutated), Is.EqualTo(expected), () => $"{Convert.ToHexString(mutated)} = {Encoding.UTF8.GetString(mutated)}");
                if (!expected) invalid++;
            }
        }
        Assert.That(invalid, Is.GreaterThan(valid), "most mutations break the text, so rejection was exercised");
    }

    [Test]
    public void A_prefix_is_accepted_exactly_when_System_Text_Json_finds_no_error_in_it()
    {
        // Every prefix of every text (valid ones and mutations): the first refused byte must be where the streaming
        // reader, fed the same bytes as an unfinished block, first reports an error. That reader checks a string's
        // UTF-8 only once the string is closed, so texts that are not UTF-8 are left to the whole-text test.
        var random = new Random(7);
        var strictUtf8 = new UTF8Encoding(false, throwOnInvalidBytes: true);
        var rejectedSomewhere = 0;
        for (var i = 0; i < 600; i++)
        {
            var text = JsonCorpus.Document(random);
            if (i % 2 == 1) text = JsonCorpus.Mutate(random, text);
            try { strictUtf8.GetCharCount(text); }
            catch (DecoderFallbackException) { continue; }
            var (accepted, _) = Run(text);
            if (accepted < text.Length) rejectedSomewhere++;
            for (var length = 0; length <= text.Length; length++)
            {
                var prefix = text[..length];
                Assert.That(length <= accepted, Is.EqualTo(JsonCorpus.StjAcceptsPrefix(prefix)),
                    () => $"prefix of {length} bytes of {Encoding.UTF8.GetString(text)} (recognizer accepted {accepted})");
            }
        }
        Assert.That(rejectedSomewhere, Is.GreaterThan(100));
    }

    [TestCase("{}", true)]
    [TestCase("{\"a\":[1,2.5e-3,-0,true,false,null,\"\\u00e9\\n\"]}", true)]
    [TestCase("\"caf\u00e9 \U0001F600\"", true)]
    [TestCase("[1,]", false)]
    [TestCase("{\"a\" 1}", false)]
    [TestCase("01", false)]
    [TestCase("1.", false)]
    [TestCase("-", false)]
    [TestCase("\"\\x\"", false)]
    [TestCase("\"\\u12g4\"", false)]
    [TestCase("\"a\tb\"", false)]
    [TestCase("[1] [2]", false)]
    [TestCase("{\"a\":1", false)]
    [TestCase("tru", false)]
    [TestCase("\"\\ud83d\\ude00\"", true)]
    [TestCase("\"\\uD83D\\uDE00\"", true)]
    [TestCase("\"\\ud83d\"", false)]
    [TestCase("\"\\ude00\"", false)]
    [TestCase("\"\\ud83d\\u0041\"", false)]
    [TestCase("\"\\ud83dx\"", false)]
    public void Hand_picked_texts(string json, bool valid)
    {
        var utf8 = Encoding.UTF8.GetBytes(json);
        Assert.That(JsonCorpus.StjAccepts(utf8), Is.EqualTo(valid), "the expectation agrees with System.Text.Json");
        Assert.That(Accepts(utf8), Is.EqualTo(valid));
    }

    [TestCase(new byte[] { 0x22, 0xC0, 0x80, 0x22 }, TestName = "Overlong_two_byte_form_is_refused")]
    [TestCase(new byte[] { 0x22, 0xED, 0xA0, 0x80, 0x22 }, TestName = "Encoded_surrogate_is_refused")]
    [TestCase(new byte[] { 0x22, 0xF4, 0x90, 0x80, 0x80, 0x22 }, TestName = "Code_point_above_U_10FFFF_is_refused")]
    [TestCase(new byte[] { 0x22, 0xE2, 0x82, 0x22 }, TestName = "Truncated_sequence_is_refused")]
    [TestCase(new byte[] { 0x22, 0x80, 0x22 }, TestName = "Lone_continuation_byte_is_refused")]
    public void Strings_must_be_well_formed_UTF8(byte[] utf8)
    {
        Assert.That(Accepts(utf8), Is.False);
        Assert.That(JsonCorpus.StjAccepts(utf8), Is.False, "System.Text.Json refuses it too");
    }

    [Test]
    public void Whitespace_runs_and_nesting_are_bounded()
    {
        var longest = Encoding.UTF8.GetBytes("[" + new string(' ', JsonRecognizer.MaxWhitespaceRun) + "1]");
        var tooLong = Encoding.UTF8.GetBytes("[" + new string(' ', JsonRecognizer.MaxWhitespaceRun + 1) + "1]");
        Assert.That(Accepts(longest), Is.True);
        Assert.That(Run(tooLong).Accepted, Is.EqualTo(1 + JsonRecognizer.MaxWhitespaceRun), "the first blank past the limit is refused");

        var deepest = Encoding.UTF8.GetBytes(new string('[', JsonRecognizer.MaxDepth) + new string(']', JsonRecognizer.MaxDepth));
        Assert.That(Accepts(deepest), Is.True);
        Assert.That(Run(Encoding.UTF8.GetBytes(new string('[', JsonRecognizer.MaxDepth + 1))).Accepted, Is.EqualTo(JsonRecognizer.MaxDepth));
    }

    [Test]
    public void Root_object_mode_refuses_any_other_top_level_value_and_closes_at_the_last_brace()
    {
        Assert.That(Run("[1]"u8, rootObject: true).Accepted, Is.EqualTo(0));
        Assert.That(Run("\"s\""u8, rootObject: true).Accepted, Is.EqualTo(0));
        var state = JsonRecognizer.Start(rootObjectOnly: true);
        foreach (var b in " {\"a\":{}}"u8)
        {
            Assert.That(state.IsClosed, Is.False);
            Assert.That(state.Push(b), Is.True);
        }
        Assert.That(state.IsClosed && state.IsComplete, Is.True);
        Assert.That(state.Push((byte)'\n'), Is.True, "whitespace may still follow");
        Assert.That(state.Push((byte)'{'), Is.False, "but not a second value");
    }

    [Test]
    public void A_top_level_number_is_complete_but_not_closed()
    {
        var state = JsonRecognizer.Start(rootObjectOnly: false);
        foreach (var b in "12"u8) state.Push(b);
        Assert.That(state.IsComplete, Is.True);
        Assert.That(state.IsClosed, Is.False, "more digits could follow");
    }
}
