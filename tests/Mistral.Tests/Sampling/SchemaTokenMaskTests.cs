using System.Diagnostics;
using Mistral.Constraints;
using Mistral.Tokenization;

namespace Mistral.Tests.Sampling;

/// <summary>The trie-pruned token mask over the schema recognizer against testing every token on its own.</summary>
[TestFixture]
public class SchemaTokenMaskTests
{
    private static IEnumerable<TestCaseData> Vocabularies()
    {
        yield return new TestCaseData(JsonVocabularies.SentencePiece()).SetArgDisplayNames("SentencePiece");
        yield return new TestCaseData(JsonVocabularies.ByteLevel()).SetArgDisplayNames("ByteLevel");
    }

    [TestCaseSource(nameof(Vocabularies))]
    public void Mask_equals_brute_force_in_every_state_of_many_documents(MistralTokenizer tokenizer)
    {
        var trie = TokenTrie.For(tokenizer);
        var mask = new ulong[(tokenizer.VocabSize + 63) / 64];
        var scratch = new SchemaRecognizer[trie.MaxTokenLength + 1];
        var random = new Random(5);
        int states = 0, partlyAllowed = 0;
        for (var index = 0; index < SchemaCorpus.Schemas.Length; index++)
        {
            var schema = SchemaCorpus.Schema(index);
            var start = SchemaRecognizer.Start(JsonSchemaCompiler.Compile(schema));
            for (var d = 0; d < 12; d++)
            {
                var state = start;
                foreach (var b in SchemaCorpus.Write(random, SchemaCorpus.Document(random, schema)))
                {
                    trie.Allowed(state, mask, scratch);
                    var allowedCount = 0;
                    for (var id = 0; id < tokenizer.VocabSize; id++)
                    {
                        var bytes = trie.BytesOf(id);
                        var expected = !bytes.IsEmpty && Accepts(state, bytes);
                        var actual = (mask[id >> 6] >> id & 1) != 0;
                        if (actual != expected) Assert.Fail($"schema {index}, token {id} \"{tokenizer.GetPiece(id)}\": mask says {actual}, alone {expected}");
                        if (actual) allowedCount++;
                    }
                    states++;
                    if (allowedCount > 0 && allowedCount < tokenizer.VocabSize - 3) partlyAllowed++;
                    Assert.That(state.Push(b), Is.True);
                }
            }
        }
        Assert.That(states, Is.GreaterThan(1000));
        Assert.That(partlyAllowed, Is.EqualTo(states), "every state allows some tokens and refuses others");
    }

    private static bool Accepts(SchemaRecognizer state, ReadOnlySpan<byte> bytes)
    {
        foreach (var b in bytes)
        {
            if (!state.Push(b)) return false;
        }
        return true;
    }

    /// <summary>
    /// Not a test: prints how long a schema mask takes beside a plain JSON one on vocabularies of Mistral 7B's and
    /// Nemo's size, inside a free string (most tokens allowed, least pruning) and at a key (most pruning).
    /// Run with <c>--filter Name~Schema_mask_timing</c>.
    /// </summary>
    [Test, Explicit("prints timings; asserts nothing about speed")]
    public void Schema_mask_timing()
    {
        var grammar = JsonSchemaCompiler.Compile(SchemaCorpus.Schema(0));
        foreach (var (name, tokenizer) in new[] { ("SentencePiece 32k", JsonVocabularies.SentencePiece(32768)), ("byte-level 131k", JsonVocabularies.ByteLevel(131072)) })
        {
            var trie = TokenTrie.For(tokenizer);
            var mask = new ulong[(tokenizer.VocabSize + 63) / 64];
            foreach (var (where, prefix) in new[] { ("at a key", "{"), ("in a free string", "{\"name\":\"xy") })
            {
                var schema = SchemaRecognizer.Start(grammar);
                var json = JsonRecognizer.Start(rootObjectOnly: true);
                foreach (var b in System.Text.Encoding.UTF8.GetBytes(prefix)) { schema.Push(b); json.Push(b); }
                var schemaTime = Time(() => trie.Allowed(schema, mask, new SchemaRecognizer[trie.MaxTokenLength + 1]));
                var jsonTime = Time(() => trie.Allowed(json, mask, new JsonRecognizer[trie.MaxTokenLength + 1]));
                TestContext.Out.WriteLine($"{name}, {where}: schema {schemaTime:F0} µs, plain JSON {jsonTime:F0} µs per mask");
            }
        }

        static double Time(Action action)
        {
            for (var i = 0; i < 10; i++) action();
            var watch = Stopwatch.StartNew();
            for (var i = 0; i < 100; i++) action();
            return watch.Elapsed.TotalMilliseconds * 10;
        }
    }
}
