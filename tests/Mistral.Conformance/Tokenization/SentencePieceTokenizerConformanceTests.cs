using Mistral.Gguf;

namespace Mistral.Conformance.Tokenization;

/// <summary>Our SentencePiece tokenizer against llama.cpp's on one GGUF vocabulary and the multilingual samples.</summary>
[TestFixture]
public sealed class SentencePieceTokenizerConformanceTests : TokenizerConformanceFixture
{
    protected override (string FileName, string Label, string MergedWhat) Description =>
        ("spm-vocab.gguf", "SentencePiece", "multi-character tokens");

    protected override (int VocabSize, Action<GgufWriter> AddKeys) BuildVocabulary()
    {
        var (tokens, scores, types) = SentencePieceVocabularyBuilder.Build(TokenizerSamples.Texts);
        return (tokens.Length, w =>
        {
            w.Add("tokenizer.ggml.model", "llama");
            w.Add("tokenizer.ggml.tokens", tokens);
            w.Add("tokenizer.ggml.scores", scores);
            w.Add("tokenizer.ggml.token_type", types);
        });
    }
}
