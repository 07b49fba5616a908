using System.Text;
using System.Text.Json;
using Mistral.Constraints;

namespace Mistral.Tests.Sampling;

/// <summary>
/// The schema recognizer against <see cref="SchemaCorpus"/>'s validator: whole documents, each kind of broken one,
/// one-byte mutations, and every prefix (accepted prefixes must always be completable to a valid document).
/// </summary>
[TestFixture]
public class SchemaRecognizerTests
{
    private static IEnumerable<TestCaseData> Schemas() =>
        Enumerable.Range(0, SchemaCorpus.Schemas.Length).Select(i => new TestCaseData(i).SetArgDisplayNames($"schema{i}"));

    private static SchemaRecognizer Start(JsonElement schema) => SchemaRecognizer.Start(JsonSchemaCompiler.Compile(schema));

    /// <summary>How many leading bytes the recognizer accepts, and whether all of them make a complete value.</summary>
    private static (int Accepted, bool Complete) Run(SchemaRecognizer state, ReadOnlySpan<byte> utf8)
    {
        for (var i = 0; i < utf8.Length; i++)
        {
            if (!state.Push(utf8[i])) return (i, false);
        }
        return (utf8.Length, state.IsComplete);
    }

    private static bool Accepts(SchemaRecognizer start, byte[] utf8) => Run(start, utf8) is var (n, complete) && n == utf8.Length && complete;

    private static string Show(byte[] utf8) => Encoding.UTF8.GetString(utf8);

    [TestCaseSource(nameof(Schemas))]
    public void Valid_documents_are_accepted_and_each_kind_of_broken_one_refused(int index)
    {
        var schema = SchemaCorpus.Schema(index);
        var start = Start(schema);
        var random = new Random(100 + index);
        var refused = Enum.GetValues<SchemaMutation>().ToDictionary(m => m, _ => 0);
        for (var d = 0; d < 400; d++)
        {
            var document = SchemaCorpus.Document(random, schema);
            var utf8 = SchemaCorpus.Write(random, document);
            Assert.That(SchemaCorpus.Valid(schema, utf8), Is.True, "the generator follows the schema: " + Show(utf8));
            Assert.That(Accepts(start, utf8), Is.True, Show(utf8));
            foreach (var mutation in Enum.GetValues<SchemaMutation>())
            {
                var broken = SchemaCorpus.Mutate(random, schema, document, mutation, out var applied);
                if (!applied) continue;
                var text = SchemaCorpus.Write(random, broken);
                Assert.That(SchemaCorpus.Valid(schema, text), Is.False, $"{mutation} breaks the document: {Show(text)}");
                Assert.That(Accepts(start, text), Is.False, $"{mutation}: {Show(text)}");
                refused[mutation]++;
            }
        }
        TestContext.Out.WriteLine(string.Join(", ", refused.Select(r => $"{r.Key} {r.Value}")));
        foreach (var (mutation, count) in refused) Assert.That(count, Is.GreaterThan(50), $"{mutation} was exercised");
    }

    [TestCaseSource(nameof(Schemas))]
    public void One_byte_mutations_are_accepted_exactly_when_the_validator_accepts_them(int index)
    {
        var schema = SchemaCorpus.Schema(index);
        var start = Start(schema);
        var random = new Random(200 + index);
        int accepted = 0, refused = 0;
        for (var d = 0; d < 600; d++)
        {
            var utf8 = SchemaCorpus.Write(random, SchemaCorpus.Document(random, schema));
            for (var m = 0; m < 4; m++)
            {
                var mutated = JsonCorpus.Mutate(random, utf8);
                var expected = SchemaCorpus.Valid(schema, mutated);
                Assert.That(Accepts(start, mutated), Is.EqualTo(expected), () => $"{Convert.ToHexString(mutated)} = {Show(mutated)}");
                if (expected) accepted++;
                else refused++;
            }
        }
        TestContext.Out.WriteLine($"{accepted} accepted, {refused} refused");
        Assert.That(accepted, Is.GreaterThan(100), "mutations that keep the document valid (mostly whitespace) were exercised");
        Assert.That(refused, Is.GreaterThan(100), "mutations that break it were exercised");
    }

    [TestCaseSource(nameof(Schemas))]
    public void Every_accepted_prefix_completes_to_a_valid_document_and_is_complete_only_when_valid(int index)
    {
        // No dead ends: whatever prefix the recognizer accepts (of valid documents and of broken ones, up to the
        // first refused byte), some continuation it accepts is a document the validator accepts. A constraint with a
        // dead end would leave the model no token to choose.
        var schema = SchemaCorpus.Schema(index);
        var start = Start(schema);
        var random = new Random(300 + index);
        var completions = 0;
        for (var d = 0; d < 150; d++)
        {
            var text = SchemaCorpus.Write(random, SchemaCorpus.Document(random, schema));
            var valid = d % 2 == 0;
            if (!valid) text = JsonCorpus.Mutate(random, text);
            var state = start;
            for (var length = 0; length <= text.Length; length++)
            {
                var prefix = text[..length];
                if (valid || length % 3 == 0 || length == text.Length)
                {
                    Assert.That(state.IsComplete, Is.EqualTo(SchemaCorpus.Valid(schema, prefix)), () => $"complete at {length} bytes of {Show(text)}");
                    var completed = Complete(state, prefix);
                    Assert.That(SchemaCorpus.Valid(schema, completed), Is.True, () => $"{Show(prefix)} was completed as {Show(completed)}");
                    completions++;
                }
                if (length == text.Length || !state.Push(text[length]))
                {
                    if (valid) Assert.That(length, Is.EqualTo(text.Length), () => "a valid document is accepted to its end: " + Show(text));
                    break;
                }
            }
        }
        Assert.That(completions, Is.GreaterThan(3000));
    }

    /// <summary>
    /// Extends an accepted prefix greedily, one byte at a time, preferring bytes that close things, until the
    /// recognizer says the text is complete.
    /// </summary>
    private static byte[] Complete(SchemaRecognizer state, byte[] prefix)
    {
        ReadOnlySpan<byte> preferred = "\"}],0n:tf{[rueals"u8;
        var order = preferred.ToArray().Concat(Enumerable.Range(0, 256).Select(b => (byte)b)).ToArray();
        var text = new List<byte>(prefix);
        for (var step = 0; !state.IsComplete; step++)
        {
            if (step > 2000) Assert.Fail("no completion within 2000 bytes: " + Encoding.UTF8.GetString([.. text]));
            var pushed = false;
            foreach (var b in order)
            {
                var next = state;
                if (!next.Push(b)) continue;
                state = next;
                text.Add(b);
                pushed = true;
                break;
            }
            if (!pushed) Assert.Fail("dead end: no byte continues " + Encoding.UTF8.GetString([.. text]));
        }
        return [.. text];
    }

    [TestCase("{\"a\":1}", "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"}}}", true)]
    [TestCase("{\"a\":1.5}", "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"}}}", false)]
    [TestCase("{\"a\":1.5}", "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"number\"}}}", true)]
    [TestCase("{\"a\":1e3}", "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"}}}", false)]
    [TestCase("{\"a\":-0}", "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"}}}", true)]
    [TestCase("{}", "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"}},\"required\":[\"a\"]}", false)]
    [TestCase("{\"b\":true,\"a\":1}", "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"},\"b\":{\"type\":\"boolean\"}}}", false)]
    [TestCase("{\"a\":1,\"b\":true}", "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"},\"b\":{\"type\":\"boolean\"}}}", true)]
    [TestCase("{\"a\":1,}", "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"},\"b\":{\"type\":\"boolean\"}}}", false)]
    [TestCase("{\"a\":null}", "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":[\"integer\",\"null\"]}}}", true)]
    [TestCase("\"b\"", "{\"enum\":[\"a\",\"b\"]}", true)]
    [TestCase("\"c\"", "{\"enum\":[\"a\",\"b\"]}", false)]
    [TestCase("\"\\u0061\"", "{\"enum\":[\"a\",\"b\"]}", false)]
    [TestCase("[[1,2],[]]", "{\"type\":\"array\",\"items\":{\"type\":\"array\",\"items\":{\"type\":\"integer\"}}}", true)]
    [TestCase("[[1,\"2\"]]", "{\"type\":\"array\",\"items\":{\"type\":\"array\",\"items\":{\"type\":\"integer\"}}}", false)]
    [TestCase("12", "{\"type\":\"integer\"}", true)]
    public void Hand_picked_documents(string json, string schemaJson, bool valid)
    {
        var schema = JsonDocument.Parse(schemaJson).RootElement;
        var utf8 = Encoding.UTF8.GetBytes(json);
        Assert.That(Accepts(Start(schema), utf8), Is.EqualTo(valid));
    }

    [Test]
    public void A_comma_with_no_key_left_to_write_is_refused()
    {
        // After the last declared key a ',' could only lead to a dead end, so it is refused at once.
        var start = Start(JsonDocument.Parse("{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"boolean\"},\"b\":{\"type\":\"boolean\"}}}").RootElement);
        Assert.That(Run(start, "{\"b\":true,"u8).Accepted, Is.EqualTo(9));
        Assert.That(Run(start, "{\"a\":true,"u8).Accepted, Is.EqualTo(10));
        Assert.That(Run(start, "{\"a\":true,\"a"u8).Accepted, Is.EqualTo(11), "a key already written cannot come again");
    }

    [Test]
    public void Whitespace_runs_are_bounded_as_in_plain_JSON()
    {
        var start = Start(JsonDocument.Parse("{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"boolean\"},\"b\":{\"type\":\"boolean\"}}}").RootElement);
        foreach (var prefix in (string[])["", "{", "{\"a\"", "{\"a\":", "{\"a\":true", "{\"a\":true,"])
        {
            var text = Encoding.UTF8.GetBytes(prefix + new string('\t', JsonRecognizer.MaxWhitespaceRun + 1));
            Assert.That(Run(start, text).Accepted, Is.EqualTo(text.Length - 1), $"after '{prefix}'");
        }
    }
}
