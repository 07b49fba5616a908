namespace Mistral.Gguf;

/// <summary>One entry of a GGUF file's tensor directory.</summary>
/// <param name="Name">The tensor's name, e.g. <c>blk.0.attn_q.weight</c>.</param>
/// <param name="Type">The element (or block) type of the data.</param>
/// <param name="Dimensions">
/// The shape, innermost first as GGML stores it: <c>Dimensions[0]</c> is ne0, the contiguous dimension.
/// Treat as read-only.
/// </param>
/// <param name="Offset">Byte offset of the data relative to the start of the data section.</param>
/// <param name="ByteSize">Size of the data in bytes, computed from <paramref name="Type"/> and <paramref name="Dimensions"/>.</param>
public sealed record GgufTensorInfo(string Name, GgmlType Type, long[] Dimensions, ulong Offset, long ByteSize)
{
    /// <summary>The number of elements (product of the dimensions).</summary>
    public long ElementCount
    {
        get
        {
            long n = 1;
            foreach (long d in Dimensions)
            {
                n = checked(n * d);
            }

            return n;
        }
    }

    /// <summary>The number of dimensions.</summary>
    public int DimensionCount => Dimensions.Length;
}
