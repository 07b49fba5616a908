using Mistral.Gguf;
using Mistral.HostileInput.Gguf;

namespace Mistral.HostileInput.Mutations;

/// <summary>
/// NaN and infinities planted where the loader does not look by default: weight elements (F32, F16, BF16), the f16
/// scales of quantized blocks (a non-finite scale makes its whole block non-finite), and the norms. Each records the
/// tensors it touched, which the weight scan must name.
/// </summary>
internal static class NonFiniteMutations
{
    private enum Bad { NaN, PositiveInfinity, NegativeInfinity }

    /// <summary>
    /// Where a non-finite value can be planted in one block of <paramref name="type"/>: the block's size in bytes, and
    /// the offsets of its f16 scales (d, and dmin where the type has one; for F16/BF16 the element itself, for F32 the
    /// float, marked by width 4).
    /// </summary>
    private static (int BlockBytes, int[] Scales)? Sites(GgmlType type) => type switch
    {
        GgmlType.F32 => (4, [0]),
        GgmlType.F16 or GgmlType.BF16 => (2, [0]),
        GgmlType.Q4_0 => (18, [0]),
        GgmlType.Q8_0 => (34, [0]),
        GgmlType.Q2_K => (84, [80, 82]),
        GgmlType.Q3_K => (110, [108]),
        GgmlType.Q4_K => (144, [0, 2]),
        GgmlType.Q5_K => (176, [0, 2]),
        GgmlType.Q6_K => (210, [208]),
        _ => null,
    };

    /// <summary>Writes <paramref name="bad"/> into block <paramref name="block"/> of <paramref name="t"/> at its scale <paramref name="scale"/>.</summary>
    private static void Plant(TensorEntry t, int block, int scale, Bad bad)
    {
        var type = (GgmlType)t.Type;
        var (blockBytes, scales) = Sites(type)!.Value;
        var at = block * blockBytes + scales[scale % scales.Length];
        var data = t.EditableData();
        switch (type)
        {
            case GgmlType.F32:
                BitConverter.TryWriteBytes(data.AsSpan(at), bad switch { Bad.NaN => float.NaN, Bad.PositiveInfinity => float.PositiveInfinity, _ => float.NegativeInfinity });
                break;
            case GgmlType.BF16:
                BitConverter.TryWriteBytes(data.AsSpan(at), bad switch { Bad.NaN => (ushort)0x7FC0, Bad.PositiveInfinity => (ushort)0x7F80, _ => (ushort)0xFF80 });
                break;
            default: // an IEEE half: the element of F16, the scale of every quantized type here
                BitConverter.TryWriteBytes(data.AsSpan(at), bad switch { Bad.NaN => (ushort)0x7E00, Bad.PositiveInfinity => (ushort)0x7C00, _ => (ushort)0xFC00 });
                break;
        }
    }

    private static int Blocks(TensorEntry t) => t.Data.Length / Sites((GgmlType)t.Type)!.Value.BlockBytes;

    private static bool Plantable(TensorEntry t) => Sites((GgmlType)t.Type) is not null;

    private static bool IsNorm(TensorEntry t) => t.Name.Contains("norm", StringComparison.Ordinal);

    public static MutationKind NonFiniteWeight { get; } = new("nonfinite-weight",
        "NaN or ±Inf planted in 1 to 3 places of a weight matrix: an F32/F16 element or the f16 scale (d or dmin) of a quantized block", ctx =>
        {
            var t = ctx.PickTensor(t => Plantable(t) && !IsNorm(t));
            var bad = ctx.Pick(Enum.GetValues<Bad>());
            var sites = ctx.Random.Next(1, 4);
            var blocks = new List<int>();
            for (var k = 0; k < sites; k++)
            {
                var block = ctx.Random.Next(Blocks(t));
                Plant(t, block, ctx.Random.Next(2), bad);
                blocks.Add(block);
            }
            return ctx.Written($"{bad} in '{t.Name}' ({(GgmlType)t.Type}) at block/element {string.Join(", ", blocks)}", [t.Name]);
        });

    public static MutationKind NonFiniteNorm { get; } = new("nonfinite-norm",
        "NaN or ±Inf in a norm's weights (attn_norm, ffn_norm, output_norm; one element or all) or in the MoE router", ctx =>
        {
            var t = ctx.PickTensor(t => (IsNorm(t) || t.Name.Contains("ffn_gate_inp", StringComparison.Ordinal)) && Plantable(t));
            var bad = ctx.Pick(Enum.GetValues<Bad>());
            var all = ctx.Chance(0.3);
            if (all)
            {
                for (var i = 0; i < Blocks(t); i++) Plant(t, i, 0, bad);
                return ctx.Written($"{bad} in every element of '{t.Name}'", [t.Name]);
            }
            var at = ctx.Random.Next(Blocks(t));
            Plant(t, at, 0, bad);
            return ctx.Written($"{bad} in '{t.Name}'[{at}]", [t.Name]);
        });

    public static MutationKind NonFiniteScales { get; } = new("nonfinite-scales",
        "every k-th block scale (k from 1 to 50) set to Inf or NaN, in one weight matrix or in all of them", ctx =>
        {
            var matrices = ctx.Image.Tensors.Where(t => Plantable(t) && (GgmlType)t.Type != GgmlType.F32).ToList();
            var targets = ctx.Chance(0.5) ? matrices : [ctx.Pick(matrices)];
            var bad = ctx.Chance(0.5) ? Bad.PositiveInfinity : Bad.NaN;
            var stride = ctx.Random.Next(1, 51);
            foreach (var t in targets)
            {
                // The first hit within the tensor, so that even one smaller than the stride gets one.
                for (var block = ctx.Random.Next(Math.Min(stride, Blocks(t))); block < Blocks(t); block += stride) Plant(t, block, 0, bad);
            }
            var what = targets.Count == 1 ? $"'{targets[0].Name}'" : $"all {targets.Count} quantized and half-precision matrices";
            return ctx.Written($"{bad} in every {stride}th block scale of {what}", [.. targets.Select(t => t.Name)]);
        });
}
