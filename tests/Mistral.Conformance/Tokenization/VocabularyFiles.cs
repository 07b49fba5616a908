using Mistral.Gguf;

namespace Mistral.Conformance.Tokenization;

/// <summary>
/// Writes vocabulary-only GGUF files: the model metadata llama.cpp requires before it reads a vocabulary
/// (architecture and hyper-parameters), the tokenizer keys, and no tensors (both sides load the vocabulary only).
/// </summary>
internal static class VocabularyFiles
{
    public static void Write(string path, Action<GgufWriter> addTokenizer, int vocabSize)
    {
        var writer = new GgufWriter();
        writer.Add("general.architecture", "llama");
        writer.Add("general.name", "tokenizer-conformance");
        writer.Add("llama.vocab_size", (uint)vocabSize);
        writer.Add("llama.context_length", 128u);
        writer.Add("llama.embedding_length", 64u);
        writer.Add("llama.block_count", 1u);
        writer.Add("llama.feed_forward_length", 96u);
        writer.Add("llama.attention.head_count", 4u);
        writer.Add("llama.attention.head_count_kv", 2u);
        writer.Add("llama.rope.dimension_count", 16u);
        writer.Add("llama.attention.layer_norm_rms_epsilon", 1e-5f);
        addTokenizer(writer);
        writer.Save(path);
    }
}
