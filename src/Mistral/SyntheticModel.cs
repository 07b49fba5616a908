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
    /// <c>ffn_down</c> in the layers llama-quantize gives more bits: layer i of n when i &lt; n/8, i &gt;= 7n/8 or
    /// (i - n/8) % 3 == 2, in integer division (so the last layer of a 2-layer file is one of them). Rows must be
    /// multiples of 256 (<see cref="EmbeddingLength"/>, <see cref="FeedForwardLength"/>).
    /// </summary>
    /// <returns>A copy of this spec with <see cref="WeightType"/> and <see cref="TypeOverrides"/> set.</returns>
    public SyntheticModelSpec WithQ4_K_M_Mix()
    {
        var overrides = new Dictionary<string, GgmlType>(StringComparer.Ordinal) { ["output.weight"] = GgmlType.Q6_K };
        int eighth = LayerCount / 8;
        for (var layer = 0; layer < LayerCount; layer++)
        {
            if (layer < eighth || layer >= 7 * LayerCount / 8 || (layer - eighth) % 3 == 2)
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

        AddLlamaMetadata(writer, new LlamaMetadata("synthetic-mistral", FileType: null, spec.VocabSize, spec.ContextLength,
            spec.EmbeddingLength, spec.LayerCount, spec.FeedForwardLength, spec.HeadCount, spec.KvHeadCount, headDim,
            WriteKeyLength: false, spec.RopeFreqBase, RmsNormEps: 1e-5f, spec.SlidingWindow));
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
        var (tokens, types) = ControlAndByteTokens();
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
        AddSentencePieceTokenizer(writer, [.. tokens], scores, [.. types]);
    }

    /// <summary>
    /// The first 259 tokens of a Mistral SentencePiece vocabulary: &lt;unk&gt; (type 2 = unknown), &lt;s&gt; and
    /// &lt;/s&gt; (type 3 = control), then the byte-fallback tokens &lt;0x00&gt;..&lt;0xFF&gt; (type 6 = byte).
    /// Also the start of the test suite's tiny models' vocabulary.
    /// </summary>
    internal static (List<string> Tokens, List<int> Types) ControlAndByteTokens()
    {
        var tokens = new List<string>(ByteTokenStart + 256) { "<unk>", "<s>", "</s>" };
        var types = new List<int>(ByteTokenStart + 256) { 2, 3, 3 };
        for (var b = 0; b < 256; b++)
        {
            tokens.Add(string.Create(CultureInfo.InvariantCulture, $"<0x{b:X2}>"));
            types.Add(6);
        }
        return (tokens, types);
    }

    /// <summary>
    /// The "llama"-architecture keys, in the order llama.cpp's converter writes them for a Mistral model. One
    /// writer for every synthetic file, this library's and the test suite's tiny models, so both stay the layout
    /// real files have.
    /// </summary>
    internal static void AddLlamaMetadata(GgufWriter writer, LlamaMetadata m)
    {
        writer.Add("general.architecture", "llama");
        writer.Add("general.name", m.Name);
        if (m.FileType is uint fileType) writer.Add("general.file_type", fileType);
        writer.Add("llama.vocab_size", (uint)m.VocabSize);
        writer.Add("llama.context_length", (uint)m.ContextLength);
        writer.Add("llama.embedding_length", (uint)m.EmbeddingLength);
        writer.Add("llama.block_count", (uint)m.LayerCount);
        writer.Add("llama.feed_forward_length", (uint)m.FeedForwardLength);
        writer.Add("llama.attention.head_count", (uint)m.HeadCount);
        writer.Add("llama.attention.head_count_kv", (uint)m.KvHeadCount);
        if (m.WriteKeyLength)
        {
            writer.Add("llama.attention.key_length", (uint)m.HeadDim);
            writer.Add("llama.attention.value_length", (uint)m.HeadDim);
        }
        writer.Add("llama.rope.dimension_count", (uint)m.HeadDim);
        writer.Add("llama.rope.freq_base", m.RopeFreqBase);
        writer.Add("llama.attention.layer_norm_rms_epsilon", m.RmsNormEps);
        if (m.SlidingWindow > 0) writer.Add("llama.attention.sliding_window", (uint)m.SlidingWindow);
        if (m.ExpertCount > 0)
        {
            writer.Add("llama.expert_count", (uint)m.ExpertCount);
            writer.Add("llama.expert_used_count", (uint)m.ExpertUsedCount);
        }
    }

    /// <summary>
    /// A SentencePiece ("llama") tokenizer as Mistral files carry it: ids 0, 1, 2 are unknown, BOS and EOS
    /// (<see cref="ControlAndByteTokens"/>), BOS added to a prompt, EOS not.
    /// </summary>
    internal static void AddSentencePieceTokenizer(GgufWriter writer, string[] tokens, float[] scores, int[] types)
    {
        writer.Add("tokenizer.ggml.model", "llama");
        writer.Add("tokenizer.ggml.tokens", tokens);
        writer.Add("tokenizer.ggml.scores", scores);
        writer.Add("tokenizer.ggml.token_type", types);
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

/// <summary>The hyper-parameters <see cref="SyntheticModel.AddLlamaMetadata"/> writes, each under its llama.* key.</summary>
/// <param name="Name">general.name.</param>
/// <param name="FileType">general.file_type (llama.cpp's LLAMA_FTYPE), or null to leave the key out.</param>
/// <param name="VocabSize">vocab_size.</param>
/// <param name="ContextLength">context_length.</param>
/// <param name="EmbeddingLength">embedding_length.</param>
/// <param name="LayerCount">block_count.</param>
/// <param name="FeedForwardLength">feed_forward_length.</param>
/// <param name="HeadCount">attention.head_count.</param>
/// <param name="KvHeadCount">attention.head_count_kv.</param>
/// <param name="HeadDim">rope.dimension_count, and key/value length when <paramref name="WriteKeyLength"/>.</param>
/// <param name="WriteKeyLength">Whether attention.key_length/value_length are written: needed where the head size is
/// not embedding / heads (Nemo), optional otherwise (readers then derive it).</param>
/// <param name="RopeFreqBase">rope.freq_base.</param>
/// <param name="RmsNormEps">attention.layer_norm_rms_epsilon.</param>
/// <param name="SlidingWindow">attention.sliding_window; 0 = full attention (the key is left out).</param>
/// <param name="ExpertCount">expert_count; 0 = dense (the expert keys are left out).</param>
/// <param name="ExpertUsedCount">expert_used_count.</param>
internal sealed record LlamaMetadata(
    string Name, uint? FileType, int VocabSize, int ContextLength, int EmbeddingLength, int LayerCount, int FeedForwardLength,
    int HeadCount, int KvHeadCount, int HeadDim, bool WriteKeyLength, float RopeFreqBase, float RmsNormEps,
    int SlidingWindow = 0, int ExpertCount = 0, int ExpertUsedCount = 0);
