using System.Globalization;
using Mistral.Gguf;

namespace Mistral;

/// <summary>
/// Checks every tensor a model runs against the shape its hyper-parameters imply, before anything is sized from
/// them, and names the keys behind a dimension that disagrees: a corrupted <c>llama.attention.head_count</c> is
/// reported as "head_count × head dim ≠ the rows of blk.0.attn_q.weight", not as whatever fails first later.
/// Every size the native core allocates from the config (norm copies, activations, the KV cache per token) is thus
/// bounded by tensors that really are in the file.
/// </summary>
internal static class ModelShapes
{
    /// <summary>One dimension of the config and the metadata that decides it, for messages.</summary>
    private readonly record struct Dim(long Value, string Source);

    /// <summary>
    /// Checks the attention shape as soon as the head layout is known, before any check that would misread a
    /// corrupted head count (as partial RoPE, say): blk.0's Q and K tensors must have head_count × head dim and
    /// head_count_kv × head dim rows.
    /// </summary>
    internal static void CheckHeads(GgufFile file, string arch, int embd, int heads, int kvHeads, int headDim, bool headDimFromKey)
    {
        var head = HeadDim(arch, embd, heads, headDim, headDimFromKey);
        var q = new Dim((long)heads * headDim, $"{arch}.attention.head_count {heads} × {head.Source}");
        var kv = new Dim((long)kvHeads * headDim, $"{arch}.attention.head_count_kv {kvHeads} × {head.Source}");
        var embdDim = new Dim(embd, $"{arch}.embedding_length {embd}");
        Expect(file, "blk.0.attn_q.weight", embdDim, q);
        Expect(file, "blk.0.attn_k.weight", embdDim, kv);
    }

    /// <summary>Checks every tensor of the model against <paramref name="config"/>.</summary>
    internal static void Check(GgufFile file, ModelConfig config, IEnumerable<(string Name, string Suffix)> tensors)
    {
        var arch = config.Architecture;
        var embd = new Dim(config.EmbeddingLength, $"{arch}.embedding_length {config.EmbeddingLength}");
        var vocab = new Dim(config.VocabSize, file.TryGetValue($"{arch}.vocab_size", out _)
            ? $"{arch}.vocab_size {config.VocabSize}" : $"the vocabulary size {config.VocabSize}");
        var headKey = file.TryGetValue($"{arch}.attention.key_length", out _);
        var head = HeadDim(arch, config.EmbeddingLength, config.HeadCount, config.HeadDim, headKey);
        var q = new Dim((long)config.HeadCount * config.HeadDim, $"{arch}.attention.head_count {config.HeadCount} × {head.Source}");
        var kv = new Dim((long)config.KvHeadCount * config.HeadDim, $"{arch}.attention.head_count_kv {config.KvHeadCount} × {head.Source}");
        var ff = new Dim(config.FeedForwardLength, $"{arch}.feed_forward_length {config.FeedForwardLength}");
        var experts = new Dim(config.ExpertCount, $"{arch}.expert_count {config.ExpertCount}");
        foreach (var (name, suffix) in tensors)
        {
            Dim[] expected = suffix switch
            {
                "token_embd.weight" or "output.weight" => [embd, vocab],
                "output_norm.weight" or "attn_norm.weight" or "ffn_norm.weight" => [embd],
                "attn_q.weight" => [embd, q],
                "attn_k.weight" or "attn_v.weight" => [embd, kv],
                "attn_output.weight" => [q, embd],
                "ffn_gate.weight" or "ffn_up.weight" => [embd, ff],
                "ffn_down.weight" => [ff, embd],
                "ffn_gate_inp.weight" => [embd, experts],
                "ffn_gate_exps.weight" or "ffn_up_exps.weight" => [embd, ff, experts],
                "ffn_down_exps.weight" => [ff, embd, experts],
                _ => [],
            };
            if (expected.Length > 0) Expect(file, name, expected);
        }
    }

    private static Dim HeadDim(string arch, int embd, int heads, int headDim, bool fromKey) => fromKey
        ? new Dim(headDim, $"head dim {headDim} ({arch}.attention.key_length)")
        : new Dim(headDim, $"head dim {headDim} ({arch}.embedding_length {embd} / {arch}.attention.head_count {heads})");

    private static void Expect(GgufFile file, string name, params Dim[] expected)
    {
        if (file.FindTensor(name) is not { } tensor) return; // a missing tensor is reported by name elsewhere
        var dims = tensor.Dimensions;
        var extraOk = dims.Length >= expected.Length && dims.Skip(expected.Length).All(d => d == 1);
        if (!extraOk)
        {
            throw new GgufFormatException(
                $"{file.Path}: tensor '{name}' has shape {Shape(dims)}; a {expected.Length}-D tensor " +
                $"[{string.Join(", ", expected.Select(e => e.Value.ToString(CultureInfo.InvariantCulture)))}] was expected " +
                $"({string.Join("; ", expected.Select(e => e.Source))}).");
        }
        for (var i = 0; i < expected.Length; i++)
        {
            if (dims[i] == expected[i].Value) continue;
            throw new GgufFormatException(
                $"{file.Path}: tensor '{name}' has shape {Shape(dims)}, but its dimension {i} should be " +
                $"{expected[i].Value.ToString(CultureInfo.InvariantCulture)} = {expected[i].Source}: " +
                "that key or this tensor is corrupt.");
        }
    }

    private static string Shape(long[] dims) =>
        "[" + string.Join(", ", dims.Select(d => d.ToString(CultureInfo.InvariantCulture))) + "]";
}
