
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
        TokenizerAgreement.AssertAgreesWithLlamaCpp(_path, _vocabSize, addSpecial, parseSpecial, "SentencePiece", "multi-character tokens");
    }
}
