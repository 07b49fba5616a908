using Mistral.HostileInput.Gguf;

namespace Mistral.HostileInput.Mutations;

/// <summary>Mutations of the written bytes: cuts, flipped bits, planted numbers, garbage in the weights.</summary>
internal static class RawByteMutations
{
    public static MutationKind Truncate { get; } = new("truncate",
        "the file cut short: inside the header, metadata or directory, inside the data, or right at a field", ctx =>
        {
            var o = ctx.Original;
            var length = o.Bytes.Length;
            var header = (int)o.DataOffset;
            var cut = ctx.Random.Next(4) switch
            {
                0 => ctx.Random.Next(header),
                1 => header + ctx.Random.Next(length - header),
                2 => (int)ctx.Pick(o.Fields).Offset + ctx.Random.Next(9),
                _ => ctx.Pick(new[] { 0, 1, 4, 8, 16, 23, 24, header - 1, header, length - 1 }),
            };
            cut = Math.Clamp(cut, 0, length - 1);
            return new MutatedFile(o.Bytes[..cut], $"cut to {cut} of {length} bytes, at {ctx.Describe(cut)}");
        });

    public static MutationKind BitFlip { get; } = new("bit-flip",
        "1 to 3 bits flipped in the header, metadata or tensor directory", ctx =>
        {
            var bytes = (byte[])ctx.Original.Bytes.Clone();
            var flips = new List<string>();
            for (var k = ctx.Random.Next(1, 4); k > 0; k--)
            {
                var at = ctx.Random.Next((int)ctx.Original.DataOffset);
                var bit = ctx.Random.Next(8);
                bytes[at] ^= (byte)(1 << bit);
                flips.Add($"bit {bit} of {ctx.Describe(at)}");
            }
            return new MutatedFile(bytes, "flipped " + string.Join(", ", flips));
        });

    public static MutationKind ByteSwap { get; } = new("byte-swap",
        "two bytes of the header, metadata or directory swapped (types, dims, offsets, lengths)", ctx =>
        {
            var bytes = (byte[])ctx.Original.Bytes.Clone();
            var header = (int)ctx.Original.DataOffset;
            // Half the swaps stay within one field's neighbourhood, where a swap changes a number rather than the framing.
            var a = ctx.Random.Next(header);
            var b = ctx.Chance(0.5) ? Math.Clamp(a + ctx.Random.Next(-8, 9), 0, header - 1) : ctx.Random.Next(header);
            (bytes[a], bytes[b]) = (bytes[b], bytes[a]);
            return new MutatedFile(bytes, $"swapped {ctx.Describe(a)} with {ctx.Describe(b)}");
        });

    private static readonly ulong[] Extremes =
    [
        0, 1, int.MaxValue, (ulong)int.MaxValue + 1, uint.MaxValue, (ulong)uint.MaxValue + 1, 1UL << 40, 1UL << 62,
        long.MaxValue, (ulong)long.MaxValue + 1, ulong.MaxValue,
    ];

    public static MutationKind PlantedCount { get; } = new("planted-count",
        "an extreme or off-by-one value planted in the tensor or metadata count, a string length or an array length " +
        "(or, one case in five, a 32- or 64-bit extreme over any header bytes)", ctx =>
        {
            var o = ctx.Original;
            var bytes = (byte[])o.Bytes.Clone();
            if (ctx.Chance(0.2))
            {
                var at = ctx.Random.Next((int)o.DataOffset - 8);
                if (ctx.Chance(0.5))
                {
                    var extreme32 = (uint)ctx.Pick(Extremes);
                    BitConverter.TryWriteBytes(bytes.AsSpan(at), extreme32);
                    return new MutatedFile(bytes, $"{extreme32} written over 4 bytes at {ctx.Describe(at)}");
                }
                var extreme = ctx.Pick(Extremes);
                BitConverter.TryWriteBytes(bytes.AsSpan(at), extreme);
                return new MutatedFile(bytes, $"{extreme} written over 8 bytes at {ctx.Describe(at)}");
            }

            var fields = o.Fields.Where(f => f.Class is FieldClass.Count or FieldClass.StringLength or FieldClass.ArrayLength).ToList();
            // Counts are few and strings many: pick the class first so each gets its share.
            var kind = ctx.Pick(new[] { FieldClass.Count, FieldClass.StringLength, FieldClass.ArrayLength });
            var field = ctx.Pick(fields.Where(f => f.Class == kind).ToList());
            var current = BitConverter.ToUInt64(bytes, (int)field.Offset);
            var value = ctx.Random.Next(3) switch
            {
                0 => current + 1,
                1 => current - 1,
                _ => ctx.Pick(Extremes),
            };
            BitConverter.TryWriteBytes(bytes.AsSpan((int)field.Offset), value);
            return new MutatedFile(bytes, $"{field.Name} = {value} (was {current})");
        });

    public static MutationKind WeightGarbage { get; } = new("weight-garbage",
        "random bytes written over the tensor data: the file must still load and run, or be refused", ctx =>
        {
            var o = ctx.Original;
            var bytes = (byte[])o.Bytes.Clone();
            var data = bytes.Length - (int)o.DataOffset;
            var count = ctx.Random.Next(1, 64);
            for (var k = 0; k < count; k++) bytes[o.DataOffset + ctx.Random.Next(data)] = (byte)ctx.Random.Next(256);
            return new MutatedFile(bytes, $"{count} random bytes in the tensor data");
        }, MustBite: false);
}
