using Mistral.Conformance.LlamaCpp;
using Mistral.Gguf;
using Mistral.Tokenization;

namespace Mistral.Conformance.Tokenization;

/// <summary>Our SentencePiece tokenizer against llama.cpp's on one GGUF vocabulary and the multilingual samples.</summary>
[TestFixture]
public sealed class SentencePieceTokenizerConformanceTests
{
    private string _directory = "";
    private string _path = "";
    private int _vocabSize;

    [OneTimeSetUp]
    public void WriteVocabulary()
    {
        _directory = Path.Combine(Path.GetTempPath(), "mistral-conformance", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_directory);
        _path = Path.Combine(_directory, "spm-vocab.gguf");
        var (tokens, scores, types) = SentencePieceVocabularyBuilder.Build(TokenizerSamples.Texts);
        _vocabSize = tokens.Length;
        VocabularyFiles.Write(_path, w =>
        {
            w.Add("tokenizer.ggml.model", "llama");
            w.Add("tokenizer.ggml.tokens", tokens);
            w.Add("tokenizer.ggml.scores", scores);
            w.Add("tokenizer.ggml.token_type", types);
            w.Add("tokenizer.ggml.bos_token_id", 1u);
            w.Add("tokenizer.ggml.eos_token_id", 2u);
            w.Add("tokenizer.ggml.unknown_token_id", 0u);
            w.Add("tokenizer.ggml.add_bos_token", true);
            w.Add("tokenizer.ggml.add_eos_token", false);
        }, tokens.Length);
    }

    [OneTimeTearDown]
    public void DeleteVocabulary() => Directory.Delete(_directory, recursive: true);

    [Test]
    public void Ids_agree_with_llama_cpp_on_multilingual_samples(
        [Values(false, true)] bool addSpecial, [Values(false, true)] bool parseSpecial)
    {
        MistralTokenizer ours;
        using (var file = GgufFile.Open(_path))
            ours = MistralTokenizer.FromGguf(file);
        using var llama = LlamaCppModel.LoadVocabulary(_path);
        Assert.That(llama.VocabSize, Is.EqualTo(_vocabSize));

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
            $"SentencePiece, {_vocabSize} tokens, add_special={addSpecial}, parse_special={parseSpecial}: "
            + $"{agree}/{TokenizerSamples.Texts.Length} samples identical; {merged} multi-character tokens produced");
        Assert.That(merged, Is.GreaterThan(50), "the vocabulary barely merged anything; the comparison would be weak");
        Assert.That(failures, Is.Empty, string.Join("\n", failures));
    }

    internal static string Escape(string text) =>
        text.Replace("\r", "\\r", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal).Replace("\t", "\\t", StringComparison.Ordinal);
}
