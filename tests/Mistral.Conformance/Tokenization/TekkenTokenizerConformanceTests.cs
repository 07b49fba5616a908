using Mistral.Gguf;
using Mistral.Tests.Tokenization;

namespace Mistral.Conformance.Tokenization;

/// <summary>
/// Our byte-level BPE tokenizer against llama.cpp's on a Tekken-style GGUF vocabulary (<c>tokenizer.ggml.model =
/// "gpt2"</c>, <c>tokenizer.ggml.pre = "tekken"</c>, merges trained on the samples) and the multilingual samples.
/// </summary>
[TestFixture]
public sealed class TekkenTokenizerConformanceTests : TokenizerConformanceFixture
{
    protected override (string FileName, string Label, string MergedWhat) Description =>
        ("tekken-vocab.gguf", "Tekken BPE", "multi-byte tokens");

    protected override (int VocabSize, Action<GgufWriter> AddKeys) BuildVocabulary()
    {
        var (tokens, types, merges) = ByteLevelBpeVocabularyBuilder.Build(TokenizerSamples.Texts, mergeCount: 400);
        // What llama.cpp needs for a BPE vocabulary: the model, the pre-tokenizer name it knows ("tekken"),
        // tokens, token types and merges (the base class adds the special-token ids).
        return (tokens.Length, w =>
        {
            w.Add("tokenizer.ggml.model", "gpt2");
            w.Add("tokenizer.ggml.pre", "tekken");
            w.Add("tokenizer.ggml.tokens", tokens);
            w.Add("tokenizer.ggml.token_type", types);
            w.Add("tokenizer.ggml.merges", merges);
        });
    }
}
