using Mistral.Conformance.LlamaCpp;
using Mistral.Gguf;
using Mistral.Tokenization;

namespace Mistral.Conformance.Tokenization;

/// <summary>
/// The comparison both tokenizer conformance fixtures make: every multilingual sample tokenized by llama.cpp
/// and by us from the same GGUF vocabulary, with the same add-special / parse-special choice.
/// </summary>
internal static class TokenizerAgreement
{
    public static void AssertAgreesWithLlamaCpp(string path, int vocabSize, bool addSpecial, bool parseSpecial, string label, string mergedWhat)
    {
        MistralTokenizer ours;
        using (var file = GgufFile.Open(path))
            ours = MistralTokenizer.FromGguf(file);
        using var llama = LlamaCppModel.LoadVocabulary(path);
        Assert.That(llama.VocabSize, Is.EqualTo(vocabSize));

        var agree = 0;
        var merged = 0;
        var failures = new List<string>();
        foreach (var text in TokenizerSamples.Texts)
        {
            var expected = llama.Tokenize(text, addSpecial, parseSpecial);
            var actual = ours.Encode(text, addBos: addSpecial && ours.AddBos, parseSpecial);
            if (expected.SequenceEqual(actual))
                agree++;
            else
                failures.Add($"{Escape(text)}\n  llama.cpp: [{string.Join(",", expected)}]\n  ours:      [{string.Join(",", actual)}]");
            // Count tokens longer than one character: evidence that the vocabulary really exercised merging.
            merged += actual.Count(id => ours.GetTokenType(id) == TokenType.Normal && ours.GetPiece(id).Length > 1);
        }

        TestContext.Out.WriteLine(
            $"{label}, {vocabSize} tokens, add_special={addSpecial}, parse_special={parseSpecial}: "
            + $"{agree}/{TokenizerSamples.Texts.Length} samples identical; {merged} {mergedWhat} produced");
        Assert.That(merged, Is.GreaterThan(50), "the vocabulary barely merged anything; the comparison would be weak");
        Assert.That(failures, Is.Empty, string.Join("\n", failures));
    }

    public static string Escape(string text) =>
        text.Replace("\r", "\\r", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal).Replace("\t", "\\t", StringComparison.Ordinal);
}
