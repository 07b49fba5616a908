using System.Globalization;
using Mistral.Gguf;

namespace Mistral.Fuzz.Gguf;

/// <summary>
/// The starting corpus: tiny GGUF files that load and evaluate (dense Q4_0, windowed Q8_0, Mixtral-style experts, a
/// Tekken vocabulary with tied embeddings) and two vocabulary-only files, so the fuzzer mutates files that reach every
/// stage rather than having to discover the format. Kept small (a few KB to ~30 KB): AFL's mutations and its
/// per-execution cost grow with the input.
/// </summary>
internal static class SeedCorpus
{
    private static readonly SyntheticModelSpec Tiny = new()
    {
        VocabSize = 259, EmbeddingLength = 32, LayerCount = 1, HeadCount = 2, KvHeadCount = 1,
        FeedForwardLength = 64, ContextLength = 64, WeightType = GgmlType.Q4_0,
    };

    public static IReadOnlyList<string> Write(string directory)
    {
        Directory.CreateDirectory(directory);
        var written = new List<string>();
        string Out(string name)
        {
            var path = Path.Combine(directory, name);
            written.Add(path);
            return path;
        }

        SyntheticModel.Write(Out("dense_q4_0.gguf"), Tiny);
        SyntheticModel.Write(Out("dense_q8_0_window.gguf"), Tiny with { WeightType = GgmlType.Q8_0, SlidingWindow = 4, Seed = 7 });

        var scratch = Path.Combine(directory, ".scratch.gguf");
        try
        {
            SyntheticModel.Write(scratch, Tiny);
            using (var source = GgufFile.Open(scratch))
            {
                Experts(source).Save(Out("moe_q4_0.gguf"));
                Copy(source, key => key == "general.architecture" || key.StartsWith("tokenizer.", StringComparison.Ordinal), _ => false)
                    .Save(Out("vocab_only_llama.gguf"));
            }

            SyntheticModel.Write(scratch, Tiny with { VocabSize = TekkenVocabulary.Size, Seed = 11 });
            using (var source = GgufFile.Open(scratch))
            {
                var tekken = Copy(source, key => !key.StartsWith("tokenizer.", StringComparison.Ordinal), name => name != "output.weight");
                TekkenVocabulary.AddTo(tekken);
                tekken.Save(Out("tekken_tied_q4_0.gguf"));

                var vocab = Copy(source, key => key == "general.architecture", _ => false);
                TekkenVocabulary.AddTo(vocab);
                vocab.Save(Out("vocab_only_tekken.gguf"));
            }
        }
        finally
        {
            File.Delete(scratch);
        }
        return written;
    }

    /// <summary>A writer holding the metadata keys and tensors of <paramref name="source"/> that the filters keep.</summary>
    private static GgufWriter Copy(GgufFile source, Func<string, bool> keepKey, Func<string, bool> keepTensor)
    {
        var writer = new GgufWriter();
        foreach (var (key, value) in source.Metadata)
        {
            if (keepKey(key) && key != GgufFile.AlignmentKey)
                writer.Add(key, value);
        }
        foreach (var tensor in source.Tensors)
        {
            if (keepTensor(tensor.Name))
                writer.AddTensor(tensor.Name, tensor.Type, tensor.Dimensions, source.GetTensorBytes(tensor));
        }
        return writer;
    }

    /// <summary>
    /// The dense model with its feed-forward replaced by 2 experts per layer, 1 used per token: a router
    /// [n_embd, n_expert] and the three stacked expert matrices, as llama.cpp's converter writes Mixtral.
    /// </summary>
    private static GgufWriter Experts(GgufFile source)
    {
        const int experts = 2;
        var writer = Copy(source, _ => true, name => !IsDenseFfn(name));
        writer.Add("llama.expert_count", (uint)experts);
        writer.Add("llama.expert_used_count", 1u);
        var random = new Random(3);
        long embd = Tiny.EmbeddingLength, ff = Tiny.FeedForwardLength;
        for (var layer = 0; layer < Tiny.LayerCount; layer++)
        {
            string Name(string part) => string.Create(CultureInfo.InvariantCulture, $"blk.{layer}.{part}.weight");
            writer.AddTensor(Name("ffn_gate_inp"), GgmlType.F32, [embd, experts], Values(GgmlType.F32, embd * experts, random));
            writer.AddTensor(Name("ffn_gate_exps"), GgmlType.Q4_0, [embd, ff, experts], Values(GgmlType.Q4_0, embd * ff * experts, random));
            writer.AddTensor(Name("ffn_up_exps"), GgmlType.Q4_0, [embd, ff, experts], Values(GgmlType.Q4_0, embd * ff * experts, random));
            writer.AddTensor(Name("ffn_down_exps"), GgmlType.Q4_0, [ff, embd, experts], Values(GgmlType.Q4_0, ff * embd * experts, random));
        }
        return writer;
    }

    private static bool IsDenseFfn(string name) =>
        name.EndsWith(".ffn_gate.weight", StringComparison.Ordinal) || name.EndsWith(".ffn_up.weight", StringComparison.Ordinal)
        || name.EndsWith(".ffn_down.weight", StringComparison.Ordinal);

    private static byte[] Values(GgmlType type, long count, Random random)
    {
        var values = new float[count];
        for (var i = 0; i < values.Length; i++) values[i] = (float)((random.NextDouble() * 2 - 1) * 0.2);
        return GgmlQuantization.Quantize(type, values);
    }
}
