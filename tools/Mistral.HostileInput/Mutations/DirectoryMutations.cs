using System.Globalization;
using System.Text.RegularExpressions;
using Mistral.Gguf;
using Mistral.HostileInput.Gguf;

namespace Mistral.HostileInput.Mutations;

/// <summary>Mutations of the tensor directory: types, offsets, shapes, and which tensors and layers are there.</summary>
internal static partial class DirectoryMutations
{
    /// <summary>Ids GGML removed (4, 5), runtime-only ids (31–33, 36–38) and ids past the end of the table.</summary>
    private static readonly uint[] InvalidTypeIds = [4, 5, 31, 32, 33, 36, 37, 38, 40, 41, 255, 1000, int.MaxValue, uint.MaxValue];

    public static MutationKind TensorType { get; } = new("tensor-type",
        "a tensor's type id changed: to a type GGUF has but the loader does not run (data resized to match, or not), " +
        "to another supported type, or to an id GGML never defined", ctx =>
        {
            var t = ctx.PickTensor();
            var old = (GgmlType)t.Type;
            switch (ctx.Random.Next(3))
            {
                case 0:
                {
                    var known = Enum.GetValues<GgmlType>();
                    var type = ctx.Pick(known);
                    var resized = Resize(t, type);
                    t.Type = (uint)type;
                    return ctx.Written($"'{t.Name}' {old} -> {type}{(resized ? ", data resized to match" : ", data left as it was")}");
                }
                case 1:
                {
                    var type = ctx.Pick(MutationKinds.SupportedTypes);
                    t.Type = (uint)type;
                    return ctx.Written($"'{t.Name}' {old} -> {type}, data left as it was");
                }
                default:
                {
                    var id = ctx.Pick(InvalidTypeIds);
                    t.Type = id;
                    return ctx.Written($"'{t.Name}' {old} -> type id {id}");
                }
            }
        });

    /// <summary>Gives <paramref name="t"/> data of the size <paramref name="type"/> needs (zeros: finite in every format), if its rows allow.</summary>
    private static bool Resize(TensorEntry t, GgmlType type)
    {
        try
        {
            t.Data = new byte[GgmlTypeInfo.TensorBytes(type, [.. t.Dims.Select(d => (long)d)])];
            return true;
        }
        catch (ArgumentException)
        {
            return false; // ne0 is not a multiple of the new type's block
        }
    }

    public static MutationKind TensorOffset { get; } = new("tensor-offset",
        "a tensor's data offset planted: misaligned, past the end, straddling the end, huge, or another tensor's", ctx =>
        {
            var o = ctx.Original;
            var dataSize = (ulong)(o.Bytes.Length - o.DataOffset);
            var index = ctx.Random.Next(ctx.Image.Tensors.Count);
            var t = ctx.Image.Tensors[index];
            var real = (ulong)(o.TensorData[index].Offset - o.DataOffset);
            var other = (ulong)(ctx.Pick(o.TensorData).Offset - o.DataOffset);
            if (ctx.Chance(0.1))
            {
                foreach (var each in ctx.Image.Tensors) each.Offset = 0;
                return ctx.Written("every tensor's offset = 0");
            }
            var (offset, what) = ctx.Random.Next(8) switch
            {
                0 => (real + 1 + (ulong)ctx.Random.Next(31), "misaligned"),
                1 => (dataSize, "at the end of the data"),
                2 => (dataSize - 32 * (ulong)ctx.Random.Next(1, Math.Max(2, t.Data.Length / 32)), "straddling the end"),
                3 => (dataSize + 32 * (ulong)ctx.Random.Next(1, 1000), "past the end"),
                4 => (ctx.Pick(new[] { 1UL << 32, 1UL << 40, 1UL << 62, 1UL << 63, ulong.MaxValue - 31, ulong.MaxValue }), "huge"),
                5 => (other, "another tensor's"),
                6 => (real - Math.Min(real, 32 * (ulong)ctx.Random.Next(1, 4)), "overlapping the previous tensor"),
                _ => (real + 32 * (ulong)ctx.Random.Next(1, 4), "overlapping the next tensor"),
            };
            t.Offset = offset;
            return ctx.Written($"offset of '{t.Name}' = {offset} ({what}; was {real})");
        });

    private static readonly ulong[] HugeDims = [1UL << 31, 1UL << 32, (1UL << 32) + 32, 1UL << 40, 1UL << 62, 1UL << 63, ulong.MaxValue];

    public static MutationKind TensorDims { get; } = new("tensor-dims",
        "a tensor's shape changed: a zero or huge dimension, dimensions whose product overflows, swapped, an extra or " +
        "missing dimension, a row that is not whole blocks, or a dimension count of 0, 5 or 2^32-1", ctx =>
        {
            var t = ctx.PickTensor();
            var before = Shape(t.Dims);
            var d = t.Dims;
            var k = ctx.Random.Next(d.Length);
            string what;
            switch (ctx.Random.Next(10))
            {
                case 0: d[k] = 0; what = $"ne{k} = 0"; break;
                case 1: d[k] = ctx.Pick(HugeDims); what = $"ne{k} huge"; break;
                case 2:
                    // 2^32 × 2^32 wraps a 64-bit element count to 0; 2^33 × 2^31 also; each alone is a valid row length.
                    t.Dims = d.Length == 1 ? [1UL << 32, 1UL << 32] : [1UL << 32, 1UL << 32, .. d[2..]];
                    if (ctx.Chance(0.5)) t.Dims[0] = 1UL << 33;
                    if (t.Dims[0] == 1UL << 33) t.Dims[1] = 1UL << 31;
                    what = "element count overflows 64 bits";
                    break;
                case 3:
                    if (d.Length < 2) goto case 5;
                    (d[0], d[1]) = (d[1], d[0]);
                    what = "ne0 and ne1 swapped";
                    break;
                case 4: t.Dims = [.. d, 1]; what = "a trailing dimension of 1 added"; break;
                case 5:
                    if (d.Length >= 2 && d[1] % 2 == 0) { t.Dims = [d[0], d[1] / 2, 2, .. d[2..]]; what = "ne1 split into two dimensions"; }
                    else { t.Dims = [.. d, 2]; what = "a dimension of 2 added"; }
                    break;
                case 6:
                    t.Dims = [d.Aggregate(1UL, (a, b) => a * b)];
                    what = "flattened to one dimension";
                    break;
                case 7:
                    d[0] -= 1;
                    if (d.Length > 1) d[1] += 1;
                    what = "ne0 one less (not whole blocks for quantized types)";
                    break;
                case 8: t.Dims = [.. d, .. Enumerable.Repeat(1UL, 5 - d.Length)]; what = "5 dimensions"; break;
                default:
                    t.DimCountOverride = ctx.Pick(new[] { 0u, 5u, 64u, uint.MaxValue });
                    what = $"dimension count field = {t.DimCountOverride} (dims written as before)";
                    break;
            }
            return ctx.Written($"'{t.Name}' {before} -> {Shape(t.Dims)}: {what}");
        });

    private static string Shape(ulong[] dims) => "[" + string.Join(", ", dims) + "]";

    [GeneratedRegex(@"^blk\.(\d+)\.")]
    private static partial Regex LayerPrefix();

    private static string Blk(int layer, string part) => string.Create(CultureInfo.InvariantCulture, $"blk.{layer}.{part}");

    /// <summary>The tensors of layer <paramref name="layer"/>, copied and renamed to layer <paramref name="newLayer"/>.</summary>
    private static IEnumerable<TensorEntry> CopyLayer(Gguf.GgufImage image, int layer, int newLayer) =>
        image.Tensors.Where(t => t.Name.StartsWith(Blk(layer, ""), StringComparison.Ordinal))
            .Select(t => { var c = t.Clone(); c.Name = Blk(newLayer, t.Name[Blk(layer, "").Length..]); return c; })
            .ToList();

    public static MutationKind BlockCount { get; } = new("block-count",
        "block_count disagreeing with the blk.N tensors: smaller, larger, 0, a stray blk.N tensor or layer beyond it, " +
        "a gap in the layer numbers, or (consistent) an extra whole layer with block_count raised to match", ctx =>
        {
            var layers = ctx.Shape.Layers;
            var image = ctx.Image;
            void SetBlockCount(uint n) => image.Set("llama.block_count", GgufValue.From(n));
            switch (ctx.Random.Next(8))
            {
                case 0: SetBlockCount((uint)layers - 1); return ctx.Written($"block_count = {layers - 1} with {layers} layers of tensors");
                case 1: SetBlockCount((uint)layers + 1); return ctx.Written($"block_count = {layers + 1} with {layers} layers of tensors");
                case 2: SetBlockCount(0); return ctx.Written($"block_count = 0 with {layers} layers of tensors");
                case 3:
                    image.Tensors.AddRange(CopyLayer(image, ctx.Random.Next(layers), layers));
                    return ctx.Written($"a stray whole layer blk.{layers} beyond block_count = {layers}");
                case 4:
                {
                    var stray = ctx.Pick(CopyLayer(image, 0, ctx.Pick(new[] { layers, layers + 1, 1000 })).ToList());
                    image.Tensors.Add(stray);
                    return ctx.Written($"a stray tensor '{stray.Name}' beyond block_count = {layers}");
                }
                case 5:
                {
                    // Layers 0..L-2 and L: as many layers as block_count says, one of them misnumbered.
                    var last = layers - 1;
                    foreach (var t in image.Tensors.Where(t => t.Name.StartsWith(Blk(last, ""), StringComparison.Ordinal)))
                        t.Name = Blk(layers, t.Name[Blk(last, "").Length..]);
                    return ctx.Written($"layer {last} renumbered blk.{layers}: a gap, with block_count = {layers}");
                }
                case 6:
                {
                    var extra = CopyLayer(image, ctx.Random.Next(layers), layers).ToList();
                    image.Tensors.AddRange(extra);
                    SetBlockCount((uint)layers + 1);
                    return ctx.Written($"a whole extra layer blk.{layers} with block_count = {layers + 1} (a consistent file)");
                }
                default:
                {
                    var renamed = ctx.PickTensor(t => LayerPrefix().IsMatch(t.Name));
                    var old = renamed.Name;
                    renamed.Name = LayerPrefix().Replace(old, string.Create(CultureInfo.InvariantCulture, $"blk.{layers + ctx.Random.Next(3)}."));
                    return ctx.Written($"'{old}' renamed '{renamed.Name}' (its layer now lacks it; block_count = {layers})");
                }
            }
        });

    public static MutationKind ExtraTensor { get; } = new("extra-tensor",
        "a tensor the model has no use for added: unknown names, biases and norms this architecture lacks, the dense " +
        "feed-forward in a mixture-of-experts file and the other way round, names that only look like a layer's", ctx =>
        {
            var moe = ctx.Shape.Experts > 0;
            string[] names =
            [
                "mystery.weight", "blk.0.attn_q.bias", "rope_freqs.weight", "output_norm.bias", "token_embd_norm.weight",
                "blk.0.attn_q_norm.weight", "blk.1.attn_qkv.weight", "blk.0.attn_q.weight.extra", "blk.00.attn_q.weight",
                "blk.-1.attn_q.weight", "blk.0.attn_q.weight ", "", "BLK.0.ATTN_Q.WEIGHT", "blk.x.attn_q.weight",
                moe ? "blk.0.ffn_gate.weight" : "blk.0.ffn_gate_exps.weight",
                moe ? "blk.1.ffn_down.weight" : "blk.1.ffn_gate_inp.weight",
            ];
            var name = ctx.Pick(names);
            var embd = (ulong)ctx.Shape.Embd;
            TensorEntry extra;
            if (ctx.Chance(0.5))
            {
                var values = new float[embd];
                for (var i = 0; i < values.Length; i++) values[i] = (float)(ctx.Random.NextDouble() - 0.5);
                extra = new TensorEntry(name, [embd], (uint)GgmlType.F32, GgmlQuantization.Quantize(GgmlType.F32, values));
            }
            else
            {
                extra = ctx.PickTensor().Clone();
                extra.Name = name;
            }
            ctx.Image.Tensors.Insert(ctx.Random.Next(ctx.Image.Tensors.Count + 1), extra);
            return ctx.Written($"extra tensor '{name}' {Shape(extra.Dims)} {(GgmlType)extra.Type}");
        });

    public static MutationKind MissingTensor { get; } = new("missing-tensor",
        "a tensor removed: any one, output.weight (a tied-output file, which may load), one part from every layer, or all of them", ctx =>
        {
            var image = ctx.Image;
            switch (ctx.Random.Next(6))
            {
                case 0:
                    image.Tensors.RemoveAll(t => t.Name == "output.weight");
                    return ctx.Written("'output.weight' removed (tied output)");
                case 1:
                {
                    var part = ctx.PickTensor(t => LayerPrefix().IsMatch(t.Name)).Name;
                    part = LayerPrefix().Replace(part, "");
                    image.Tensors.RemoveAll(t => LayerPrefix().IsMatch(t.Name) && LayerPrefix().Replace(t.Name, "") == part);
                    return ctx.Written($"'{part}' removed from every layer");
                }
                case 2:
                    image.Tensors.Clear();
                    return ctx.Written("every tensor removed");
                default:
                {
                    var t = ctx.PickTensor();
                    image.Tensors.Remove(t);
                    return ctx.Written($"'{t.Name}' removed");
                }
            }
        });
}
