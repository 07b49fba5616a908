using Mistral.Tests.Tokenization;

namespace Mistral.Conformance.Tokenization;

/// <summary>
/// Our byte-level BPE tokenizer against llama.cpp's on a Tekken-style GGUF vocabulary (<c>tokenizer.ggml.model =
/// "gpt2"</c>, <c>tokenizer.ggml.pre = "tekken"</c>, merges trained on the samples) and the multilingual samples.
/// </summary>
[TestFixture]
public sealed class TekkenTokenizerConformanceTests
{
    private string _directory = "";
    private string _path = "";
    private int _vocabSize;

    [OneTimeSetUp]
    public void WriteVocabulary()
    {
        _directory = Path.Combine(Path.GetTempPath(), "mistral-conformance", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_directory);
        _path = Path.Combine(_directory, "tekken-vocab.gguf");
        var (tokens, types, merges) = ByteLevelBpeVocabularyBuilder.Build(TokenizerSamples.Texts, mergeCount: 400);
        _vocabSize = tokens.Length;
        VocabularyFiles.Write(_path, w =>
        {
            // What llama.cpp needs for a BPE vocabulary: the model, the pre-tokenizer name it knows ("tekken"),
            // tokens, token types and merges; ids of BOS/EOS/UNK (its BPE defaults, 11, would be wrong here).
            w.Add("tokenizer.ggml.model", "gpt2");
            w.Add("tokenizer.ggml.pre", "tekken");
            w.Add("tokenizer.ggml.tokens", tokens);
            w.Add("tokenizer.ggml.token_type", types);
            w.Add("tokenizer.ggml.merges", merges);
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
        TokenizerAgreement.AssertAgreesWithLlamaCpp(_path, _vocabSize, addSpecial, parseSpecial, "Tekken BPE", "multi-byte tokens");
    }
}
