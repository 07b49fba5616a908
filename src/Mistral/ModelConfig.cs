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
            throw new NotSupportedException($"{file.Path}: {experts} experts per layer; at most {MaxExperts} are supported.");
        if (experts > 0 && (expertsUsed == 0 || expertsUsed > experts))
            throw Invalid(file, $"{arch}.expert_used_count = {expertsUsed} must be in 1..{arch}.expert_count ({experts})");
        if (experts == 0 && expertsUsed != 0)
            throw Invalid(file, $"{arch}.expert_used_count = {expertsUsed} without {arch}.expert_count");

        var embd = Positive("embedding_length", Required("embedding_length"));
        var layers = Positive("block_count", Required("block_count"));
        var heads = Positive("attention.head_count", Required("attention.head_count"));
        var kvHeads = Positive("attention.head_count_kv", file.GetUInt32($"{arch}.attention.head_count_kv") ?? (uint)heads);
        var ff = Positive("feed_forward_length", Required("feed_forward_length"));
        var ctx = Positive("context_length", Required("context_length"));
        if (heads % kvHeads != 0)
            throw Invalid(file, $"attention.head_count ({heads}) is not a multiple of attention.head_count_kv ({kvHeads})");

        var headDim = file.GetUInt32($"{arch}.attention.key_length") is { } keyLength
            ? Positive("attention.key_length", keyLength)
            : embd % heads == 0 ? embd / heads : throw Invalid(file, $"embedding_length {embd} is not divisible by head_count {heads}");
        if (file.GetUInt32($"{arch}.attention.value_length") is { } valueLength && valueLength != headDim)
            throw new NotSupportedException($"{file.Path}: value_length {valueLength} != key_length {headDim} is not supported.");
        if (file.GetUInt32($"{arch}.rope.dimension_count") is { } ropeDims && ropeDims != headDim)
            throw new NotSupportedException($"{file.Path}: partial RoPE (rope.dimension_count {ropeDims} != head dim {headDim}) is not supported.");
        if (headDim % 2 != 0) throw Invalid(file, $"head dimension {headDim} is odd; RoPE rotates pairs");

        var vocab = file.GetUInt32($"{arch}.vocab_size") is { } v
            ? Positive("vocab_size", v)
            : file.FindTensor("token_embd.weight") is { Dimensions.Length: 2 } embdTensor && embdTensor.Dimensions[1] <= int.MaxValue
                ? (int)embdTensor.Dimensions[1]
                : throw Invalid(file, "neither llama.vocab_size nor a 2-D token_embd.weight tells the vocabulary size");

        var window = (int)Math.Min(file.GetUInt32($"{arch}.attention.sliding_window") ?? 0, int.MaxValue);
        var ropeBase = file.GetSingle($"{arch}.rope.freq_base") ?? DefaultRopeBase;
        var eps = file.GetSingle($"{arch}.attention.layer_norm_rms_epsilon") ?? DefaultRmsEps;
        if (!(ropeBase > 1f) || float.IsInfinity(ropeBase)) throw Invalid(file, $"rope.freq_base {ropeBase.ToString(CultureInfo.InvariantCulture)} is not a usable base");
        if (!(eps > 0f) || eps > 1f) throw Invalid(file, $"layer_norm_rms_epsilon {eps.ToString(CultureInfo.InvariantCulture)} is out of range");

        return new ModelConfig(arch, file.GetString("general.name"), vocab, embd, layers, heads, kvHeads, headDim, ff, ctx, window, ropeBase, eps)
        {
            ExpertCount = (int)experts,
            ExpertUsedCount = (int)expertsUsed,
        };
    }

    private static GgufFormatException Invalid(GgufFile file, string what) =>
        new($"{file.Path}: {what}.");
}
