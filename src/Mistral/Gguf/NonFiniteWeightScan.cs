using System.Buffers.Binary;
using System.Globalization;

namespace Mistral.Gguf;

/// <summary>
/// Finds NaN or infinite weights in a GGUF tensor without dequantizing it (<see cref="ModelOptions.ScanWeightsForNonFinite"/>).
/// A float tensor is non-finite where an element is; a block-quantized one only where a block's float16 scale is
/// (d, and dmin for the types with offsets): its quantized values and 6-bit sub-scales are integers, so a block with
/// finite scales can only decode to finite weights.
/// </summary>
internal static class NonFiniteWeightScan
{
    /// <summary>Throws naming the tensor and the first bad element or block.</summary>
    /// <exception cref="GgufFormatException">A weight of one of the tensors is NaN or infinite.</exception>
    internal static void ThrowIfAny(GgufFile file, IEnumerable<GgufTensorInfo> tensors)
    {
        foreach (var tensor in tensors)
        {
            if (Find(file, tensor) is not { } at) continue;
            throw new GgufFormatException(
                $"{file.Path}: tensor '{tensor.Name}' ({tensor.Type}) holds a NaN or infinite value at " +
                $"{at.Unit} {at.Index.ToString(CultureInfo.InvariantCulture)}: the file is damaged or was converted from broken weights.");
        }
    }

    /// <summary>The first bad element or block of a tensor, or null.</summary>
    internal static (string Unit, long Index)? Find(GgufFile file, GgufTensorInfo tensor)
    {
        // (block bytes, offsets of its float16 scales); float types: one element per "block".
        (int Bytes, int[] HalfAt, string Unit) layout = tensor.Type switch
        {
            GgmlType.F16 => (2, [0], "element"),
            GgmlType.Q4_0 => (18, [0], "block"),
            GgmlType.Q8_0 => (34, [0], "block"),
            GgmlType.Q2_K => (84, [80, 82], "block"),
            GgmlType.Q3_K => (110, [108], "block"),
            GgmlType.Q4_K => (144, [0, 2], "block"),
            GgmlType.Q5_K => (176, [0, 2], "block"),
            GgmlType.Q6_K => (210, [208], "block"),
            _ => (0, [], ""),
        };
        var unit = tensor.Type switch { GgmlType.F32 => 4, GgmlType.BF16 => 2, _ => layout.Bytes };
        if (unit == 0) return null; // a type the loader refuses anyway
        long done = 0;
        var total = tensor.ByteSize;
        while (done < total)
        {
            // Spans are limited to 2 GiB: scan in chunks of whole blocks.
            var chunk = (int)Math.Min(total - done, (1L << 30) / unit * unit);
            var bytes = Chunk(file, tensor, done, chunk);
            long? hit = tensor.Type switch
            {
                GgmlType.F32 => FirstFloat(bytes),
                GgmlType.BF16 => FirstBfloat(bytes),
                _ => FirstScale(bytes, layout.Bytes, layout.HalfAt),
            };
            if (hit is { } i) return (tensor.Type is GgmlType.F32 or GgmlType.BF16 ? "element" : layout.Unit, done / unit + i);
            done += chunk;
        }
        return null;
    }

    private static unsafe ReadOnlySpan<byte> Chunk(GgufFile file, GgufTensorInfo tensor, long offset, int length) =>
        new((byte*)file.GetTensorPointer(tensor) + offset, length);

    private static long? FirstFloat(ReadOnlySpan<byte> bytes)
    {
        for (var i = 0; i + 4 <= bytes.Length; i += 4)
        {
            if ((BinaryPrimitives.ReadUInt32LittleEndian(bytes[i..]) & 0x7F80_0000u) == 0x7F80_0000u) return i / 4;
        }
        return null;
    }

    private static long? FirstBfloat(ReadOnlySpan<byte> bytes)
    {
        for (var i = 0; i + 2 <= bytes.Length; i += 2)
        {
            if ((BinaryPrimitives.ReadUInt16LittleEndian(bytes[i..]) & 0x7F80) == 0x7F80) return i / 2;
        }
        return null;
    }

    private static long? FirstScale(ReadOnlySpan<byte> bytes, int blockBytes, int[] halfAt)
    {
        for (var b = 0; (b + 1) * blockBytes <= bytes.Length; b++)
        {
            foreach (var at in halfAt)
            {
                if ((BinaryPrimitives.ReadUInt16LittleEndian(bytes[(b * blockBytes + at)..]) & 0x7C00) == 0x7C00) return b;
            }
        }
        return null;
    }
}
