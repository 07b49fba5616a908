using System.Globalization;
using Mistral.Gguf;

namespace Mistral;

/// <summary>The hyper-parameters of a Mistral-family model, as read from its GGUF metadata.</summary>
/// <param name="Architecture">GGUF <c>general.architecture</c> (the converter writes Mistral as "llama").</param>
/// <param name="Name">GGUF <c>general.name</c>, when present.</param>
/// <param name="VocabSize">Tokens in the vocabulary (rows of the embedding matrix).</param>
/// <param name="EmbeddingLength">Hidden size.</param>
/// <param name="LayerCount">Transformer blocks.</param>
/// <param name="HeadCount">Query heads.</param>
/// <param name="KvHeadCount">Key/value heads (grouped-query attention).</param>
/// <param name="HeadDim">Size of one head; may differ from hidden size / heads (Mistral Nemo).</param>
/// <param name="FeedForwardLength">Hidden size of the feed-forward block.</param>
/// <param name="TrainedContextLength">Context length the model was trained for.</param>
/// <param name="SlidingWindow">Attention window in tokens, 0 for full attention.</param>
/// <param name="RopeFreqBase">RoPE base frequency.</param>
/// <param name="RmsNormEps">Epsilon of the RMS norms.</param>
public sealed record ModelConfig(
    string Architecture,
    string? Name,
    int VocabSize,
    int EmbeddingLength,
    int LayerCount,
    int HeadCount,
    int KvHeadCount,
    int HeadDim,
    int FeedForwardLength,
    int TrainedContextLength,
    int SlidingWindow,
    float RopeFreqBase,
    float RmsNormEps)
{
    /// <summary>Experts per layer of a mixture-of-experts model (Mixtral: 8); 0 for a dense model.</summary>
    public int ExpertCount { get; init; }

    /// <summary>Experts each token runs (Mixtral: 2); 0 for a dense model.</summary>
    public int ExpertUsedCount { get; init; }

    private const float DefaultRopeBase = 10000f; // llama.cpp's value when the file has no rope.freq_base
    private const float DefaultRmsEps = 1e-5f;
    private const uint MaxExperts = 256; // the native core's limit (model.c)

    /// <summary>
    /// Reads the configuration from a GGUF file's metadata, checking that every value is present,
    /// positive and consistent with the others.
    /// </summary>
    /// <remarks>
    /// Read as tolerantly as llama.cpp loads files: an integer key may be stored as any GGUF integer type whose
    /// value fits (a value that does not fit is refused naming the key), a float key as float32 or float64,
    /// the head counts and feed-forward width as one value per layer (all equal), and optional keys take
    /// llama.cpp's defaults (no <c>head_count_kv</c>: as many as the query heads; no <c>rope.freq_base</c>: 10000;
    /// no <c>vocab_size</c>: the embedding matrix's rows, or else the token list's length).
    /// </remarks>
    /// <exception cref="NotSupportedException">The architecture or a feature of it is not supported yet.</exception>
    /// <exception cref="GgufFormatException">A required key is missing or a value is inconsistent.</exception>
    public static ModelConfig FromGguf(GgufFile file)
    {
        ArgumentNullException.ThrowIfNull(file);
        var arch = file.GetString("general.architecture")
            ?? throw Invalid(file, "the required key general.architecture is missing");
        if (arch != "llama")
        {
            throw new NotSupportedException(
                $"{file.Path}: architecture '{arch}' is not supported; Mistral-family files use 'llama' (Mistral 7B, Nemo, Small, Ministral).");
        }
        uint Required(string key) => file.GetUInt32($"{arch}.{key}")
            ?? throw Invalid(file, $"the required key {arch}.{key} is missing");
        int Positive(string key, uint value) => value is > 0 and <= int.MaxValue
            ? (int)value
            : throw Invalid(file, $"{arch}.{key} = {value} is out of range");

        // Mixtral: llama.expert_count experts per layer, llama.expert_used_count of them per token.
        var experts = file.GetUInt32($"{arch}.expert_count") ?? 0;
        var expertsUsed = file.GetUInt32($"{arch}.expert_used_count") ?? 0;
        if (experts > MaxExperts)
            throw new NotSupportedException($"{file.Path}: {arch}.expert_count = {experts} experts per layer; at most {MaxExperts} are supported.");
        if (experts > 0 && (expertsUsed == 0 || expertsUsed > experts))
            throw Invalid(file, $"{arch}.expert_used_count = {expertsUsed} must be in 1..{arch}.expert_count ({experts})");
        if (experts == 0 && expertsUsed != 0)
            throw Invalid(file, $"{arch}.expert_used_count = {expertsUsed} without {arch}.expert_count");

        var embd = Positive("embedding_length", Required("embedding_length"));
        var layers = Positive("block_count", Required("block_count"));
        uint? PerLayer(string key) => ReadPerLayer(file, $"{arch}.{key}", layers);
        var heads = Positive("attention.head_count", PerLayer("attention.head_count")
            ?? throw Invalid(file, $"the required key {arch}.attention.head_count is missing"));
        var kvHeads = Positive("attention.head_count_kv", PerLayer("attention.head_count_kv") ?? (uint)heads);
        var ff = Positive("feed_forward_length", PerLayer("feed_forward_length")
            ?? throw Invalid(file, $"the required key {arch}.feed_forward_length is missing"));
        var ctx = Positive("context_length", Required("context_length"));
        if (heads % kvHeads != 0)
            throw Invalid(file, $"{arch}.attention.head_count ({heads}) is not a multiple of {arch}.attention.head_count_kv ({kvHeads})");

        var keyLength = file.GetUInt32($"{arch}.attention.key_length");
        var headDim = keyLength is { } k
            ? Positive("attention.key_length", k)
            : embd % heads == 0 ? embd / heads : throw Invalid(file, $"{arch}.embedding_length {embd} is not divisible by {arch}.attention.head_count {heads}");
        var headSource = keyLength is not null ? $"{arch}.attention.key_length {headDim}" : $"head dim {headDim} ({arch}.embedding_length {embd} / {arch}.attention.head_count {heads})";
        // A head layout that disagrees with value_length or rope.dimension_count is more often a corrupted head count
        // than a model feature: blk.0's attention tensors tell which, before the file is called unsupported.
        void Unsupported(string what)
        {
            ModelShapes.CheckHeads(file, arch, embd, heads, kvHeads, headDim, keyLength is not null);
            throw new NotSupportedException($"{file.Path}: {what}");
        }
        if (file.GetUInt32($"{arch}.attention.value_length") is { } valueLength && valueLength != headDim)
            Unsupported($"{arch}.attention.value_length {valueLength} differs from {headSource}; separate key and value head sizes are not supported.");
        if (file.GetUInt32($"{arch}.rope.dimension_count") is { } ropeDims && ropeDims != headDim)
            Unsupported($"{arch}.rope.dimension_count {ropeDims} differs from {headSource}: partial RoPE is not supported.");
        if (headDim % 2 != 0) throw Invalid(file, $"head dimension {headDim} is odd; RoPE rotates pairs");

        // Without llama.vocab_size the embedding matrix tells the size, and without tensors (a vocabulary-only file)
        // the token list does, which is llama.cpp's own fallback.
        var vocab = file.GetUInt32($"{arch}.vocab_size") is { } v
            ? Positive("vocab_size", v)
            : file.FindTensor("token_embd.weight") is { Dimensions.Length: 2 } embdTensor && embdTensor.Dimensions[1] <= int.MaxValue
                ? (int)embdTensor.Dimensions[1]
                : file.TryGetValue("tokenizer.ggml.tokens", out var tokenList) && tokenList.ElementType == GgufValueType.String && tokenList.ArrayLength > 0
                    ? tokenList.ArrayLength
                    : throw Invalid(file, "neither llama.vocab_size, a 2-D token_embd.weight nor tokenizer.ggml.tokens tells the vocabulary size");

        var window = (int)Math.Min(file.GetUInt32($"{arch}.attention.sliding_window") ?? 0, int.MaxValue);
        var ropeBase = file.GetSingle($"{arch}.rope.freq_base") ?? DefaultRopeBase;
        var eps = file.GetSingle($"{arch}.attention.layer_norm_rms_epsilon") ?? DefaultRmsEps;
        if (!(ropeBase > 1f) || float.IsInfinity(ropeBase)) throw Invalid(file, $"{arch}.rope.freq_base {ropeBase.ToString(CultureInfo.InvariantCulture)} is not a usable base");
        if (!(eps > 0f) || eps > 1f) throw Invalid(file, $"{arch}.attention.layer_norm_rms_epsilon {eps.ToString(CultureInfo.InvariantCulture)} is out of range");

        // general.name is only shown to people, so a file that stores something other than a string there loses
        // the name, not the model.
        var name = file.TryGetValue("general.name", out var nameValue) && nameValue.Type == GgufValueType.String ? nameValue.AsString() : null;
        return new ModelConfig(arch, name, vocab, embd, layers, heads, kvHeads, headDim, ff, ctx, window, ropeBase, eps)
        {
            ExpertCount = (int)experts,
            ExpertUsedCount = (int)expertsUsed,
        };
    }

    // llama.cpp reads the head counts and the feed-forward width with get_key_or_arr: one integer, or an array with
    // a value per layer (block_count of them). The core runs one shape for every layer, so an array is accepted
    // when all its values agree, and refused as unsupported otherwise.
    private static uint? ReadPerLayer(GgufFile file, string key, int layers)
    {
        if (!file.TryGetValue(key, out var value)) return null;
        if (value.Type != GgufValueType.Array) return file.GetUInt32(key);
        var values = file.GetArray<uint>(key)!;
        if (values.Length != layers)
            throw Invalid(file, $"{key} has {values.Length} per-layer values but there are {layers} layers");
        if (values.Any(x => x != values[0]))
            throw new NotSupportedException($"{file.Path}: {key} differs between layers ({string.Join(", ", values.Distinct())}); one value for every layer is supported.");
        return values[0];
    }

    private static GgufFormatException Invalid(GgufFile file, string what) =>
        new($"{file.Path}: {what}.");
}
