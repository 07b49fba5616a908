using System.Globalization;
using Mistral.Gguf;

namespace Mistral.HostileInput.Mutations;

/// <summary>
/// Every llama.* hyper-parameter the loader reads (ModelConfig.FromGguf), planted with extreme values, alone or with
/// the keys that must agree with it set to agree, so the file is consistent in its metadata and wrong only against
/// its tensors (the shape of the case that once aborted the process: embedding_length 2^30 with a matching key_length).
/// </summary>
internal static class HyperParameterMutations
{
    /// <summary>The integer keys, without the "llama." prefix.</summary>
    public static readonly string[] IntegerKeys =
    [
        "embedding_length", "block_count", "attention.head_count", "attention.head_count_kv", "feed_forward_length",
        "context_length", "attention.key_length", "attention.value_length", "rope.dimension_count", "vocab_size",
        "attention.sliding_window", "expert_count", "expert_used_count",
    ];

    public static readonly string[] FloatKeys = ["rope.freq_base", "attention.layer_norm_rms_epsilon"];

    /// <summary>The values the issue asks for: 0, 1, 2^16, 2^28, 2^30, 2^31-1, 2^32-1.</summary>
    public static readonly uint[] Values = [0, 1, 1u << 16, 1u << 28, 1u << 30, int.MaxValue, uint.MaxValue];

    private static readonly ulong[] WideValues = [1UL << 32, 1UL << 40, 1UL << 63, ulong.MaxValue];

    private static readonly float[] FloatValues = [0f, -1f, float.NaN, float.PositiveInfinity, float.NegativeInfinity, float.Epsilon, 1e38f, 1f, 2f, 1e-30f];

    public static MutationKind HyperParameter { get; } = new("hyperparameter",
        "every llama.* hyper-parameter the loader reads planted with 0, 1, 2^16, 2^28, 2^30, 2^31-1, 2^32-1 (or a 64-bit " +
        "value, or a bad float), alone or with the keys that must agree with it made to agree; per-layer arrays; removed keys", ctx =>
        {
            var image = ctx.Image;
            var shape = ctx.Shape;
            void Set(string key, uint value) => image.Set("llama." + key, GgufValue.From(value));
            string Show(uint v) => v.ToString(CultureInfo.InvariantCulture);
            switch (ctx.Random.Next(10))
            {
                case 0 or 1 or 2:
                {
                    var key = ctx.Pick(IntegerKeys);
                    var value = ctx.Pick(Values);
                    Set(key, value);
                    return ctx.Written($"llama.{key} = {Show(value)}");
                }
                case 3:
                {
                    var key = ctx.Pick(IntegerKeys);
                    var value = ctx.Pick(WideValues);
                    image.Set("llama." + key, GgufValue.From(value));
                    return ctx.Written($"llama.{key} = {value} (UInt64)");
                }
                case 4:
                {
                    var key = ctx.Pick(FloatKeys);
                    var value = ctx.Pick(FloatValues);
                    image.Set("llama." + key, GgufValue.From(value));
                    return ctx.Written($"llama.{key} = {value.ToString(CultureInfo.InvariantCulture)}");
                }
                case 5 or 6:
                {
                    // embedding_length V with a head size that keeps heads × head_dim = V, as a consistent converter would write.
                    var embd = ctx.Pick(new[] { 1u << 16, 1u << 28, 1u << 30, 1u << 31, uint.MaxValue - 3 });
                    var headDim = embd / (uint)shape.Heads;
                    Set("embedding_length", embd);
                    Set("attention.key_length", headDim);
                    Set("attention.value_length", headDim);
                    Set("rope.dimension_count", headDim);
                    var withFfn = ctx.Chance(0.3);
                    if (withFfn) Set("feed_forward_length", embd);
                    return ctx.Written($"llama.embedding_length = {Show(embd)} with key_length = value_length = rope.dimension_count = {Show(headDim)} " +
                        $"({shape.Heads} heads){(withFfn ? " and feed_forward_length = " + Show(embd) : "")}");
                }
                case 7:
                {
                    // Many heads of the file's head size: embedding_length, head counts and head size all agree.
                    var heads = ctx.Pick(new[] { 1u << 8, 1u << 16, 1u << 20 });
                    var embd = heads * (uint)shape.HeadDim;
                    Set("attention.head_count", heads);
                    Set("attention.head_count_kv", ctx.Chance(0.5) ? heads : 1u);
                    Set("embedding_length", embd);
                    Set("attention.key_length", (uint)shape.HeadDim);
                    return ctx.Written($"llama.attention.head_count = {Show(heads)} with embedding_length = {Show(embd)} (head size {shape.HeadDim})");
                }
                case 8:
                {
                    // One value per layer, as llama.cpp allows for head counts and the feed-forward width.
                    var key = ctx.Pick(new[] { "attention.head_count", "attention.head_count_kv", "feed_forward_length" });
                    var current = ctx.Base.Values["llama." + key].AsUInt32();
                    var (values, what) = ctx.Random.Next(4) switch
                    {
                        0 => (Enumerable.Repeat(current, shape.Layers).ToArray(), "equal per-layer values (valid)"),
                        1 => ([.. Enumerable.Repeat(current, shape.Layers - 1), current * 2], "per-layer values that differ"),
                        2 => (Enumerable.Repeat(current, shape.Layers + 1).ToArray(), "one per-layer value too many"),
                        _ => (Enumerable.Repeat(ctx.Pick(Values), shape.Layers).ToArray(), "extreme per-layer values"),
                    };
                    image.Set("llama." + key, GgufValue.FromArray(values));
                    return ctx.Written($"llama.{key} = [{string.Join(", ", values)}]: {what}");
                }
                default:
                {
                    var key = ctx.Pick(IntegerKeys.Concat(FloatKeys).Append("general.architecture").ToList());
                    var full = key.StartsWith("general.", StringComparison.Ordinal) ? key : "llama." + key;
                    var removed = image.RemoveKey(full);
                    return ctx.Written(removed ? $"'{full}' removed" : $"'{full}' absent already (a valid file)");
                }
            }
        });
}
