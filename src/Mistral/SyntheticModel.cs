using System.Globalization;
using Mistral.Gguf;

namespace Mistral;

/// <summary>
/// The shape of a synthetic model: a Mistral-architecture GGUF with random weights, for trying the
/// library, benchmarking and testing integrations without downloading a real model.
/// Its text is meaningless; its speed and memory behaviour are those of a real model of that shape.
/// </summary>
public sealed record SyntheticModelSpec
{
    /// <summary>Tokens in the vocabulary (at least 259: unknown, BOS, EOS and the 256 byte tokens).</summary>
    public int VocabSize { get; init; } = 2048;

    /// <summary>Hidden size (a multiple of 32 for the block-quantized types).</summary>
    public int EmbeddingLength { get; init; } = 512;

    /// <summary>Transformer blocks.</summary>
    public int LayerCount { get; init; } = 4;

    /// <summary>Query heads.</summary>
    public int HeadCount { get; init; } = 8;

    /// <summary>Key/value heads.</summary>
    public int KvHeadCount { get; init; } = 2;

    /// <summary>Feed-forward hidden size.</summary>
    public int FeedForwardLength { get; init; } = 1536;

    /// <summary>Context length written to the file.</summary>
    public int ContextLength { get; init; } = 4096;

    /// <summary>Type of the weight matrices (norms are always F32).</summary>
    public GgmlType WeightType { get; init; } = GgmlType.Q4_0;

    /// <summary>Seed of the random weights.</summary>
    public int Seed { get; init; } = 1234;

    /// <summary>RoPE base frequency.</summary>
    public float RopeFreqBase { get; init; } = 10000f;

    /// <summary>Attention window (0 = full attention).</summary>
    public int SlidingWindow { get; init; }

    /// <summary>
    /// Per-tensor types by GGUF tensor name (for example <c>"output.weight"</c> or <c>"blk.0.attn_v.weight"</c>),
    /// overriding <see cref="WeightType"/> for those matrices; null for one type throughout.
    /// </summary>
    public IReadOnlyDictionary<string, GgmlType>? TypeOverrides { get; init; }

    /// <summary>The type the matrix <paramref name="tensorName"/> is written as.</summary>
    /// <param name="tensorName">The GGUF tensor name.</param>
    /// <returns>Its entry in <see cref="TypeOverrides"/>, else <see cref="WeightType"/>.</returns>
    public GgmlType TypeOf(string tensorName) =>
        TypeOverrides is not null && TypeOverrides.TryGetValue(tensorName, out var type) ? type : WeightType;

    /// <summary>
    /// This shape with llama.cpp's Q4_K_M mix: Q4_K matrices, a Q6_K output, and Q6_K <c>attn_v</c> and
    /// <c>ffn_down</c> in the layers llama-quantize gives more bits (the first and last eighth of the layers and
    /// every third one between). Rows must be multiples of 256 (<see cref="EmbeddingLength"/>,
    /// <see cref="FeedForwardLength"/>).
    /// </summary>
    /// <returns>A copy of this spec with <see cref="WeightType"/> and <see cref="TypeOverrides"/> set.</returns>
    public SyntheticModelSpec WithQ4_K_M_Mix()
    {
        var overrides = new Dictionary<string, GgmlType>(StringComparer.Ordinal) { ["output.weight"] = GgmlType.Q6_K };
        int eighth = LayerCount / 8;
        for (var layer = 0; layer < LayerCount; layer++)
        {
            if (layer < eighth || layer >= LayerCount - eighth || (layer - eighth) % 3 == 2)
            {
                overrides[string.Create(CultureInfo.InvariantCulture, $"blk.{layer}.attn_v.weight")] = GgmlType.Q6_K;
                overrides[string.Create(CultureInfo.InvariantCulture, $"blk.{layer}.ffn_down.weight")] = GgmlType.Q6_K;
            }
        }

        return this with { WeightType = GgmlType.Q4_K, TypeOverrides = overrides };
    }
}

/// <summary>Writes synthetic Mistral-architecture GGUF files (see <see cref="SyntheticModelSpec"/>).</summary>
public static class SyntheticModel
{
    private const int ByteTokenStart = 3; // after <unk>, <s>, </s>

    /// <summary>Writes a model with random weights to <paramref name="path"/>.</summary>
    public static void Write(string path, SyntheticModelSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (spec.VocabSize < ByteTokenStart + 256) throw new ArgumentOutOfRangeException(nameof(spec), spec.VocabSize, "VocabSize must be at least 259.");
        if (spec.HeadCount % spec.KvHeadCount != 0) throw new ArgumentException("HeadCount must be a multiple of KvHeadCount.", nameof(spec));
        var headDim = spec.EmbeddingLength / spec.HeadCount;
        var random = new Random(spec.Seed);
        var writer = new GgufWriter();

        writer.Add("general.architecture", "llama");
        writer.Add("general.name", "synthetic-mistral");
        writer.Add("llama.vocab_size", (uint)spec.VocabSize);
        writer.Add("llama.context_length", (uint)spec.ContextLength);
        writer.Add("llama.embedding_length", (uint)spec.EmbeddingLength);
        writer.Add("llama.block_count", (uint)spec.LayerCount);
        writer.Add("llama.feed_forward_length", (uint)spec.FeedForwardLength);
        writer.Add("llama.attention.head_count", (uint)spec.HeadCount);
        writer.Add("llama.attention.head_count_kv", (uint)spec.KvHeadCount);
        writer.Add("llama.rope.dimension_count", (uint)headDim);
        writer.Add("llama.rope.freq_base", spec.RopeFreqBase);
        writer.Add("llama.attention.layer_norm_rms_epsilon", 1e-5f);
        if (spec.SlidingWindow > 0) writer.Add("llama.attention.sliding_window", (uint)spec.SlidingWindow);
        AddVocabulary(writer, spec.VocabSize);

        var embd = spec.EmbeddingLength;
        var kvDim = spec.KvHeadCount * headDim;
        AddMatrix(writer, random, "token_embd.weight", embd, spec.VocabSize, spec, 1.0);
        AddNorm(writer, random, "output_norm.weight", embd);
        AddMatrix(writer, random, "output.weight", embd, spec.VocabSize, spec, 1.0 / Math.Sqrt(embd));
        for (var layer = 0; layer < spec.LayerCount; layer++)
        {
            string Name(string part) => string.Create(CultureInfo.InvariantCulture, $"blk.{layer}.{part}.weight");
            AddNorm(writer, random, Name("attn_norm"), embd);
            AddMatrix(writer, random, Name("attn_q"), embd, embd, spec, 1.0 / Math.Sqrt(embd));
            AddMatrix(writer, random, Name("attn_k"), embd, kvDim, spec, 1.0 / Math.Sqrt(embd));
            AddMatrix(writer, random, Name("attn_v"), embd, kvDim, spec, 1.0 / Math.Sqrt(embd));
            AddMatrix(writer, random, Name("attn_output"), embd, embd, spec, 1.0 / Math.Sqrt(embd));
            AddNorm(writer, random, Name("ffn_norm"), embd);
            AddMatrix(writer, random, Name("ffn_gate"), embd, spec.FeedForwardLength, spec, 1.0 / Math.Sqrt(embd));
            AddMatrix(writer, random, Name("ffn_up"), embd, spec.FeedForwardLength, spec, 1.0 / Math.Sqrt(embd));
            AddMatrix(writer, random, Name("ffn_down"), spec.FeedForwardLength, embd, spec, 1.0 / Math.Sqrt(spec.FeedForwardLength));
        }
        writer.Save(path);
    }

    /// <summary>
    /// A SentencePiece-style vocabulary: the control tokens, the 256 byte-fallback tokens, then pieces
    /// made of common English letters and syllables so that ordinary text tokenizes into real pieces.
    /// </summary>
    private static void AddVocabulary(GgufWriter writer, int vocabSize)
    {
        var tokens = new List<string> { "<unk>", "<s>", "</s>" };
        var types = new List<int> { 2, 3, 3 };
        for (var b = 0; b < 256; b++)
        {
            tokens.Add(string.Create(CultureInfo.InvariantCulture, $"<0x{b:X2}>"));
            types.Add(6);
        }
        var seen = new HashSet<string>(tokens, StringComparer.Ordinal);
        const string letters = "etaoinshrdlcumwfgypbvkjxqz";
        var pieces = new List<string> { "\u2581" };
        foreach (var c in letters) pieces.Add(c.ToString());
        foreach (var c in letters) pieces.Add("\u2581" + c);
        foreach (var a in letters)
            foreach (var b in letters) pieces.Add(string.Concat(a.ToString(), b.ToString()));
        foreach (var a in letters)
            foreach (var b in letters) pieces.Add("\u2581" + a + b);
        foreach (var piece in pieces)
        {
            if (tokens.Count >= vocabSize) break;
            if (seen.Add(piece))
            {
                tokens.Add(piece);
                types.Add(1);
            }
        }
        for (var i = 0; tokens.Count < vocabSize; i++)
        {
            var filler = string.Create(CultureInfo.InvariantCulture, $"\u2581tok{i}");
            if (seen.Add(filler))
            {
                tokens.Add(filler);
                types.Add(1);
            }
        }
        // Longer pieces score higher so merges prefer them, as in a trained SentencePiece model.
        var scores = tokens.Select((t, i) => i < ByteTokenStart + 256 ? 0f : -1000f + t.Length * 10f - i * 1e-3f).ToArray();
        writer.Add("tokenizer.ggml.model", "llama");
        writer.Add("tokenizer.ggml.tokens", tokens.ToArray());
        writer.Add("tokenizer.ggml.scores", scores);
        writer.Add("tokenizer.ggml.token_type", types.ToArray());
        writer.Add("tokenizer.ggml.bos_token_id", 1u);
        writer.Add("tokenizer.ggml.eos_token_id", 2u);
        writer.Add("tokenizer.ggml.unknown_token_id", 0u);
        writer.Add("tokenizer.ggml.add_bos_token", true);
        writer.Add("tokenizer.ggml.add_eos_token", false);
    }

    private static void AddMatrix(GgufWriter writer, Random random, string name, int columns, int rows, SyntheticModelSpec spec, double scale)
    {
        var type = spec.TypeOf(name);
        var values = new float[(long)columns * rows];
        for (var i = 0; i < values.Length; i++) values[i] = (float)((random.NextDouble() * 2 - 1) * scale * Math.Sqrt(3));
        writer.AddTensor(name, type, [columns, rows], GgmlQuantization.Quantize(type, values));
    }

    private static void AddNorm(GgufWriter writer, Random random, string name, int length)
    {
        var values = new float[length];
        for (var i = 0; i < length; i++) values[i] = (float)(1 + (random.NextDouble() - 0.5) * 0.2);
        writer.AddTensor(name, GgmlType.F32, [length], GgmlQuantization.Quantize(GgmlType.F32, values));
    }
}
