using Mistral.Gguf;
using Mistral.Tests.Support;
using Mistral.Tokenization;

namespace Mistral.Tests.Api;

/// <summary>
/// Files with a vocabulary and metadata but no tensors, like the ggml-vocab-*.gguf files llama.cpp ships for its
/// tokenizer tests: the tokenizer works on them, and loading one as a model says it holds no weights.
/// </summary>
[TestFixture]
public class VocabularyOnlyFileTests : SmallModelFixture
{
    private static readonly string[] Texts = ["hello world", " leading space", "Bonjour le monde", "the cat\n\nsat", ""];
    private TempDir _dir = null!;

    [OneTimeSetUp]
    public void CreateDirectory() => _dir = new TempDir();

    [OneTimeTearDown]
    public void DeleteDirectory() => _dir.Dispose();

    /// <summary>The small model's file without its tensors; <paramref name="keep"/> chooses the metadata kept.</summary>
    private string VocabularyOnly(Func<string, bool>? keep = null)
    {
        var path = _dir.File($"vocab-{Guid.NewGuid():N}.gguf");
        GgufRewrite.Copy(Files.Path, path, (k, v) => keep is null || keep(k) ? v : null, tensors: (_, _) => null);
        return path;
    }

    private static bool TokenizerAndArchitectureOnly(string key) =>
        key.StartsWith("tokenizer.", StringComparison.Ordinal) || key == "general.architecture";

    [Test]
    public void The_tokenizer_of_a_file_without_tensors_gives_the_model_s_ids()
    {
        foreach (var path in new[] { VocabularyOnly(), VocabularyOnly(TokenizerAndArchitectureOnly) })
        {
            using var file = GgufFile.Open(path);
            Assert.That(file.Tensors, Is.Empty);
            var tok = MistralTokenizer.FromGguf(file);
            foreach (var text in Texts)
                Assert.That(tok.Encode(text, tok.AddBos), Is.EqualTo(Model.Tokenizer.Encode(text, Model.Tokenizer.AddBos)), text);
        }
    }

    [Test]
    public void The_config_of_a_file_without_tensors_takes_the_vocabulary_size_from_the_token_list()
    {
        using var file = GgufFile.Open(VocabularyOnly(k => k != "llama.vocab_size"));
        Assert.That(ModelConfig.FromGguf(file).VocabSize, Is.EqualTo(Model.Config.VocabSize));
    }

    [Test]
    public void Loading_it_as_a_model_says_it_holds_a_vocabulary_but_no_weights()
    {
        // With the hyper-parameters, and without them (where the missing keys must not be what is reported).
        foreach (var path in new[] { VocabularyOnly(), VocabularyOnly(TokenizerAndArchitectureOnly) })
        {
            var ex = Assert.Throws<GgufFormatException>(() => MistralModel.Load(path));
            Assert.That(ex!.Message, Does.Contain("vocabulary but no weights").And.Contain(path).And.Not.Contain("token_embd"));
        }
    }

    [Test]
    public void A_file_with_neither_tensors_nor_vocabulary_says_it_holds_no_weights()
    {
        var path = VocabularyOnly(k => !k.StartsWith("tokenizer.", StringComparison.Ordinal));
        var ex = Assert.Throws<GgufFormatException>(() => MistralModel.Load(path));
        Assert.That(ex!.Message, Does.Contain("holds no weights").And.Contain(path));
    }
}
