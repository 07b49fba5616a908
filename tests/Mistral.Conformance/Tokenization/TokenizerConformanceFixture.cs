using Mistral.Gguf;

namespace Mistral.Conformance.Tokenization;

/// <summary>
/// What both tokenizer conformance fixtures do: write one vocabulary-only GGUF (the subclass's tokenizer keys
/// plus the special-token ids and flags both share) once per fixture, then compare us with llama.cpp on it.
/// </summary>
public abstract class TokenizerConformanceFixture
{
    private string _directory = "";
    private string _path = "";
    private int _vocabSize;

    /// <summary>The vocabulary's file name, and its kind and unit for the agreement report.</summary>
    protected abstract (string FileName, string Label, string MergedWhat) Description { get; }

    /// <summary>Builds the vocabulary; returns its size and the writer of its model-specific keys.</summary>
    protected abstract (int VocabSize, Action<GgufWriter> AddKeys) BuildVocabulary();

    [OneTimeSetUp]
    public void WriteVocabulary()
    {
        _directory = Path.Combine(Path.GetTempPath(), "mistral-conformance", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_directory);
        _path = Path.Combine(_directory, Description.FileName);
        var (vocabSize, addKeys) = BuildVocabulary();
        _vocabSize = vocabSize;
        VocabularyFiles.Write(_path, w =>
        {
            addKeys(w);
            // ids of BOS/EOS/UNK given explicitly: llama.cpp's BPE defaults (11) would be wrong here
            w.Add("tokenizer.ggml.bos_token_id", 1u);
            w.Add("tokenizer.ggml.eos_token_id", 2u);
            w.Add("tokenizer.ggml.unknown_token_id", 0u);
            w.Add("tokenizer.ggml.add_bos_token", true);
            w.Add("tokenizer.ggml.add_eos_token", false);
        }, vocabSize);
    }

    [OneTimeTearDown]
    public void DeleteVocabulary() => Directory.Delete(_directory, recursive: true);

    [Test]
    public void Ids_agree_with_llama_cpp_on_multilingual_samples(
        [Values(false, true)] bool addSpecial, [Values(false, true)] bool parseSpecial)
    {
        TokenizerAgreement.AssertAgreesWithLlamaCpp(_path, _vocabSize, addSpecial, parseSpecial, Description.Label, Description.MergedWhat);
    }
}
