using System.Globalization;
using Mistral.Gguf;
using Mistral.HostileInput.Gguf;

namespace Mistral.HostileInput.Models;

/// <summary>The shape a base model was written with, which mutations use to plant values that mean something.</summary>
internal sealed record ModelShape(int Vocab, int Embd, int Layers, int Heads, int KvHeads, int HeadDim, int Ff, int Experts, int ExpertsUsed);

/// <summary>A valid model every case of the campaign starts from.</summary>
/// <param name="Values">The metadata decoded, for mutations that re-encode a value as another type.</param>
internal sealed record BaseModel(string Name, ModelShape Shape, GgufImage Image, IReadOnlyDictionary<string, GgufValue> Values)
{
    /// <summary>The base written out once: its bytes and field map, for the byte-level mutations.</summary>
    public SerializedGguf Serialized { get; } = Image.Serialize();
}

/// <summary>
/// The four base models: tiny (a case takes milliseconds) but each a different path through the loader and the kernels.
/// </summary>
internal static class BaseModels
{
    /// <summary>Dense Q4_0 with a SentencePiece-style vocabulary.</summary>
    public const string Q4_0 = "q4_0";

    /// <summary>Dense, F16 matrices with some Q8_0 ones (per-tensor types).</summary>
    public const string F16Q8_0 = "f16-q8_0";

    /// <summary>llama.cpp's Q4_K_M mix (Q4_K with Q6_K output, attn_v and ffn_down in some layers); rows of 256.</summary>
    public const string Q4_K_M = "q4_k_m";

    /// <summary>Mixtral-shaped: 4 experts, top 2, stacked expert tensors.</summary>
    public const string Moe = "moe";

    public static IReadOnlyList<string> Names { get; } = [Q4_0, F16Q8_0, Q4_K_M, Moe];

    private const int Seed = 20260218;

    /// <summary>Writes the base model <paramref name="name"/> through a scratch file and reads it back as an image.</summary>
    public static BaseModel Create(string name, string scratchDirectory)
    {
        var spec = name switch
        {
            Q4_0 => new SyntheticModelSpec { VocabSize = 320, EmbeddingLength = 64, LayerCount = 2, HeadCount = 4, KvHeadCount = 2, FeedForwardLength = 128, WeightType = GgmlType.Q4_0 },
            F16Q8_0 => new SyntheticModelSpec { VocabSize = 300, EmbeddingLength = 64, LayerCount = 2, HeadCount = 4, KvHeadCount = 2, FeedForwardLength = 96, WeightType = GgmlType.F16, TypeOverrides = Q8_0Overrides(2) },
            // Three layers so that the mix gives one of them (layer 2) its Q6_K attn_v and ffn_down.
            Q4_K_M => new SyntheticModelSpec { VocabSize = 300, EmbeddingLength = 256, LayerCount = 3, HeadCount = 4, KvHeadCount = 2, FeedForwardLength = 256 }.WithQ4_K_M_Mix(),
            Moe => new SyntheticModelSpec { VocabSize = 300, EmbeddingLength = 64, LayerCount = 2, HeadCount = 4, KvHeadCount = 2, FeedForwardLength = 64, WeightType = GgmlType.Q8_0 },
            _ => throw new ArgumentException($"Unknown base model '{name}'; the bases are {string.Join(", ", Names)}.", nameof(name)),
        };
        spec = spec with { ContextLength = 64, Seed = Seed };
        var path = Path.Combine(scratchDirectory, $"base-{name}-{Environment.ProcessId}.gguf");
        GgufImage image;
        var values = new Dictionary<string, GgufValue>(StringComparer.Ordinal);
        try
        {
            SyntheticModel.Write(path, spec);
            using var file = GgufFile.Open(path);
            image = GgufImage.FromFile(file);
            foreach (var (key, value) in file.Metadata) values[key] = value;
        }
        finally
        {
            File.Delete(path);
        }

        var shape = new ModelShape(spec.VocabSize, spec.EmbeddingLength, spec.LayerCount, spec.HeadCount, spec.KvHeadCount,
            spec.EmbeddingLength / spec.HeadCount, spec.FeedForwardLength, 0, 0);
        if (name == Moe)
        {
            shape = shape with { Experts = 4, ExpertsUsed = 2 };
            MakeMixtureOfExperts(image, shape);
            values["llama.expert_count"] = GgufValue.From((uint)shape.Experts);
            values["llama.expert_used_count"] = GgufValue.From((uint)shape.ExpertsUsed);
        }
        return new BaseModel(name, shape, image, values);
    }

    private static Dictionary<string, GgmlType> Q8_0Overrides(int layers)
    {
        var types = new Dictionary<string, GgmlType>(StringComparer.Ordinal) { ["output.weight"] = GgmlType.Q8_0 };
        for (var l = 0; l < layers; l++)
        {
            foreach (var part in new[] { "attn_k", "attn_output", "ffn_up" })
                types[string.Create(CultureInfo.InvariantCulture, $"blk.{l}.{part}.weight")] = GgmlType.Q8_0;
        }
        return types;
    }

    /// <summary>
    /// Replaces each layer's dense feed-forward tensors by Mixtral's: an F32 router ffn_gate_inp [n_embd, n_expert] and
    /// stacked Q8_0 experts ffn_{gate,up}_exps [n_embd, n_ff, n_expert] and ffn_down_exps [n_ff, n_embd, n_expert].
    /// </summary>
    private static void MakeMixtureOfExperts(GgufImage image, ModelShape shape)
    {
        var random = new Random(Seed);
        var at = image.IndexOfKey("llama.feed_forward_length") + 1;
        image.Metadata.Insert(at, ValueCodec.Entry("llama.expert_count", GgufValue.From((uint)shape.Experts)));
        image.Metadata.Insert(at + 1, ValueCodec.Entry("llama.expert_used_count", GgufValue.From((uint)shape.ExpertsUsed)));
        for (var l = 0; l < shape.Layers; l++)
        {
            string Name(string part) => string.Create(CultureInfo.InvariantCulture, $"blk.{l}.{part}.weight");
            var first = image.Tensors.FindIndex(t => t.Name == Name("ffn_gate"));
            image.Tensors.RemoveAll(t => t.Name == Name("ffn_gate") || t.Name == Name("ffn_up") || t.Name == Name("ffn_down"));
            // A 2/√embd router spreads the expert logits so that top-2 is not decided by rounding.
            image.Tensors.InsertRange(first,
            [
                Weights(random, Name("ffn_gate_inp"), GgmlType.F32, [shape.Embd, shape.Experts], 2 / Math.Sqrt(shape.Embd)),
                Weights(random, Name("ffn_gate_exps"), GgmlType.Q8_0, [shape.Embd, shape.Ff, shape.Experts], 1 / Math.Sqrt(shape.Embd)),
                Weights(random, Name("ffn_up_exps"), GgmlType.Q8_0, [shape.Embd, shape.Ff, shape.Experts], 1 / Math.Sqrt(shape.Embd)),
                Weights(random, Name("ffn_down_exps"), GgmlType.Q8_0, [shape.Ff, shape.Embd, shape.Experts], 1 / Math.Sqrt(shape.Ff)),
            ]);
        }
    }

    /// <summary>Uniform weights with standard deviation <paramref name="std"/>, so each projection keeps activations O(1).</summary>
    private static TensorEntry Weights(Random random, string name, GgmlType type, int[] dims, double std)
    {
        var values = new float[dims.Aggregate(1, (a, b) => a * b)];
        for (var i = 0; i < values.Length; i++) values[i] = (float)((random.NextDouble() * 2 - 1) * std * Math.Sqrt(3));
        return new TensorEntry(name, [.. dims.Select(d => (ulong)d)], (uint)type, GgmlQuantization.Quantize(type, values));
    }
}
