using System.Diagnostics;
using Mistral.Constraints;
using Mistral.Tokenization;

namespace Mistral.Tests.Sampling;

/// <summary>The trie-pruned token mask against brute force: a token is allowed iff the recognizer accepts all its bytes.</summary>
[TestFixture]
public class JsonTokenMaskTests
{
    private static IEnumerable<TestCaseData> Vocabularies()
    {
        yield return new TestCaseData(JsonVocabularies.SentencePiece(), false).SetArgDisplayNames("SentencePiece");
        yield return new TestCaseData(JsonVocabularies.ByteLevel(), true).SetArgDisplayNames("ByteLevel");
    }

    /// <summary>States met along valid documents: after every token-sized step of each, plus the start.</summary>
    private static IEnumerable<JsonRecognizer> States(bool rootObject)
    {
        var random = new Random(99);
        for (var d = 0; d < 60; d++)
        {
            var document = JsonCorpus.Document(random, rootObject: rootObject);
            var state = JsonRecognizer.Start(rootObject);
            yield return state;
            foreach (var b in document)
            {
                if (!state.Push(b)) break; // a generated text with a whitespace run past the limit (cannot happen: runs ≤ 3)
                yield return state;
            }
        }
    }

    [TestCaseSource(nameof(Vocabularies))]
    public void Mask_equals_brute_force_in_every_state_of_many_documents(MistralTokenizer tokenizer, bool byteLevel)
    {
        var trie = TokenTrie.For(tokenizer);
        var mask = new ulong[(tokenizer.VocabSize + 63) / 64];
        var scratch = new JsonRecognizer[trie.MaxTokenLength + 1];
        int states = 0, partlyAllowed = 0;
        foreach (var rootObject in (bool[])[false, true])
        {
            foreach (var state in States(rootObject))
            {
                trie.Allowed(state, mask, scratch);
                var allowedCount = 0;
                for (var id = 0; id < tokenizer.VocabSize; id++)
                {
                    var expected = BruteForce(tokenizer, byteLevel, state, id);
                    var actual = (mask[id >> 6] >> id & 1) != 0;
                    if (actual != expected)
                        Assert.Fail($"token {id} \"{tokenizer.GetPiece(id)}\": mask says {actual}, brute force {expected}");
                    if (actual) allowedCount++;
                }
                states++;
                if (allowedCount > 0 && allowedCount < tokenizer.VocabSize - 3) partlyAllowed++;
            }
        }
        Assert.That(states, Is.GreaterThan(1000));
        Assert.That(partlyAllowed, Is.EqualTo(states), "every state allows some tokens and refuses others");
    }

    private static bool BruteForce(MistralTokenizer tokenizer, bool byteLevel, JsonRecognizer state, int id)
    {
        var type = tokenizer.GetTokenType(id);
        if (type is not (TokenType.Normal or TokenType.Byte)) return false;
        var bytes = SpelledBytes(tokenizer, byteLevel, id, type);
        if (bytes.Length == 0) return false;
        foreach (var b in bytes)
        {
            if (!state.Push(b)) return false;
        }
        return true;
    }

    /// <summary>A token's bytes worked out from its piece text here, not through the tokenizer the trie reads.</summary>
    private static byte[] SpelledBytes(MistralTokenizer tokenizer, bool byteLevel, int id, TokenType type)
    {
        var piece = tokenizer.GetPiece(id);
        if (type == TokenType.Byte) return [Convert.ToByte(piece[3..5], 16)];
        return byteLevel ? ByteLevelEncoding.Decode(piece) : System.Text.Encoding.UTF8.GetBytes(piece.Replace('\u2581', ' '));
    }

    [Test]
    public void End_of_sequence_is_allowed_only_once_the_object_is_complete_and_control_tokens_never()
    {
        var tokenizer = JsonVocabularies.SentencePiece();
        var mask = new JsonTokenMask(tokenizer, rootObjectOnly: true);
        bool Allowed(int id) => (mask.Allowed()[id >> 6] >> id & 1) != 0;
        Assert.That(Allowed(tokenizer.EosId), Is.False);
        Assert.That(Allowed(tokenizer.BosId) || Allowed(tokenizer.UnkId), Is.False);
        Assert.That(tokenizer.TryGetTokenId("[", out var bracket) && !Allowed(bracket), Is.True, "the top level must be an object");
        Assert.That(tokenizer.TryGetTokenId("{\"", out var open) && Allowed(open), Is.True);
        mask.Accept(open);
        Assert.That(tokenizer.TryGetTokenId("\"}", out var quoteClose) && Allowed(quoteClose), Is.False, "a key needs its colon and value");
        foreach (var piece in (string[])["key", "\":", "1}"])
        {
            Assert.That(tokenizer.TryGetTokenId(piece, out var id), Is.True);
            Assert.That(Allowed(id), Is.True, piece);
            Assert.That(mask.IsClosed, Is.False);
            mask.Accept(id);
        }
        Assert.That(mask.IsClosed && mask.IsComplete, Is.True, "{\"key\":1} is a complete object");
        Assert.That(Allowed(tokenizer.EosId), Is.True);
        Assert.Throws<ArgumentException>(() => mask.Accept(bracket), "a token the mask refuses cannot be accepted");
    }

    [Test]
    public void Applying_the_mask_leaves_allowed_logits_and_sets_the_others_to_minus_infinity()
    {
        var logits = new float[130];
        for (var i = 0; i < logits.Length; i++) logits[i] = i;
        var allowed = new ulong[3];
        foreach (var id in (int[])[0, 63, 64, 129]) allowed[id >> 6] |= 1UL << id;
        JsonTokenMask.Apply(logits, allowed);
        for (var i = 0; i < logits.Length; i++)
            Assert.That(logits[i], Is.EqualTo(i is 0 or 63 or 64 or 129 ? i : float.NegativeInfinity), $"logit {i}");
    }

    /// <summary>
    /// Not a test: prints how long a mask takes on vocabularies of Mistral 7B's size (32,768, SentencePiece) and
    /// Nemo's (131,072, byte-level), in the states where it costs most (inside a string nearly every token is
    /// allowed, so little of the trie is pruned) and least. Run with <c>--filter Name~Mask_timing</c>.
    /// </summary>
    [Test, Explicit("prints timings; asserts nothing about speed")]
    public void Mask_timing()
    {
        foreach (var (name, tokenizer) in new[] { ("SentencePiece 32k", JsonVocabularies.SentencePiece(32768)), ("byte-level 131k", JsonVocabularies.ByteLevel(131072)) })
        {
            var build = Stopwatch.StartNew();
            var trie = TokenTrie.For(tokenizer);
            build.Stop();
            var mask = new ulong[(tokenizer.VocabSize + 63) / 64];
            var scratch = new JsonRecognizer[trie.MaxTokenLength + 1];
            foreach (var (where, prefix) in new[] { ("start", ""), ("after {", "{"), ("in a key", "{\"ab"), ("after :", "{\"a\":"), ("in a value string", "{\"a\":\"xy") })
            {
                var state = JsonRecognizer.Start(rootObjectOnly: true);
                foreach (var b in System.Text.Encoding.UTF8.GetBytes(prefix)) state.Push(b);
                for (var i = 0; i < 20; i++) trie.Allowed(state, mask, scratch); // warm-up
                const int runs = 200;
                var watch = Stopwatch.StartNew();
                for (var i = 0; i < runs; i++) trie.Allowed(state, mask, scratch);
                watch.Stop();
                var allowed = mask.Sum(w => System.Numerics.BitOperations.PopCount(w));
                TestContext.Out.WriteLine($"{name} ({trie.NodeCount} trie nodes, built in {build.ElapsedMilliseconds} ms), {where}: " +
                    $"{watch.Elapsed.TotalMilliseconds * 1000 / runs:F0} µs per mask, {allowed} tokens allowed");
            }
        }
    }
}
