namespace Mistral.Gguf;

/// <summary>
/// Tensor element types, with the numeric ids GGML uses in GGUF files (<c>enum ggml_type</c> in ggml.h).
/// Ids not listed (4, 5, 31–33, 36–38) were removed from GGML or are runtime-only and never appear in files.
/// </summary>
public enum GgmlType : uint
{
    /// <summary>32-bit float.</summary>
    F32 = 0,

    /// <summary>IEEE half-precision float.</summary>
    F16 = 1,

    /// <summary>4-bit blocks of 32 with an fp16 scale.</summary>
    Q4_0 = 2,

    /// <summary>4-bit blocks of 32 with an fp16 scale and minimum.</summary>
    Q4_1 = 3,

    /// <summary>5-bit blocks of 32 with an fp16 scale.</summary>
    Q5_0 = 6,

    /// <summary>5-bit blocks of 32 with an fp16 scale and minimum.</summary>
    Q5_1 = 7,

    /// <summary>8-bit blocks of 32 with an fp16 scale.</summary>
    Q8_0 = 8,

    /// <summary>8-bit blocks of 32 with an fp16 scale and sum.</summary>
    Q8_1 = 9,

    /// <summary>2-bit k-quant, super-blocks of 256.</summary>
    Q2_K = 10,

    /// <summary>3-bit k-quant, super-blocks of 256.</summary>
    Q3_K = 11,

    /// <summary>4-bit k-quant, super-blocks of 256.</summary>
    Q4_K = 12,

    /// <summary>5-bit k-quant, super-blocks of 256.</summary>
    Q5_K = 13,

    /// <summary>6-bit k-quant, super-blocks of 256.</summary>
    Q6_K = 14,

    /// <summary>8-bit k-quant (intermediate), super-blocks of 256.</summary>
    Q8_K = 15,

    /// <summary>i-quant, about 2.06 bits per weight.</summary>
    IQ2_XXS = 16,

    /// <summary>i-quant, about 2.31 bits per weight.</summary>
    IQ2_XS = 17,

    /// <summary>i-quant, about 3.06 bits per weight.</summary>
    IQ3_XXS = 18,

    /// <summary>i-quant, about 1.56 bits per weight.</summary>
    IQ1_S = 19,

    /// <summary>Non-linear 4-bit blocks of 32.</summary>
    IQ4_NL = 20,

    /// <summary>i-quant, about 3.44 bits per weight.</summary>
    IQ3_S = 21,

    /// <summary>i-quant, about 2.56 bits per weight.</summary>
    IQ2_S = 22,

    /// <summary>Non-linear 4-bit super-blocks of 256.</summary>
    IQ4_XS = 23,

    /// <summary>8-bit signed integer.</summary>
    I8 = 24,

    /// <summary>16-bit signed integer.</summary>
    I16 = 25,

    /// <summary>32-bit signed integer.</summary>
    I32 = 26,

    /// <summary>64-bit signed integer.</summary>
    I64 = 27,

    /// <summary>64-bit float.</summary>
    F64 = 28,

    /// <summary>i-quant, about 1.75 bits per weight.</summary>
    IQ1_M = 29,

    /// <summary>bfloat16 (the top 16 bits of an IEEE single).</summary>
    BF16 = 30,

    /// <summary>Ternary quant, about 1.69 bits per weight.</summary>
    TQ1_0 = 34,

    /// <summary>Ternary quant, 2.06 bits per weight.</summary>
    TQ2_0 = 35,

    /// <summary>OCP microscaling FP4, blocks of 32 with a shared E8M0 exponent.</summary>
    MXFP4 = 39,
}

/// <summary>Block geometry of each <see cref="GgmlType"/>, as GGML lays the data out.</summary>
public static class GgmlTypeInfo
{
    // (elements per block, bytes per block); zero for ids GGML does not define.
    // Sizes follow the block structs in ggml-common.h.
    private static readonly (int Size, int Bytes)[] Table = BuildTable();

    private static (int, int)[] BuildTable()
    {
        var t = new (int, int)[40];
        const int QK_K = 256;
        t[(int)GgmlType.F32] = (1, 4);
        t[(int)GgmlType.F16] = (1, 2);
        t[(int)GgmlType.Q4_0] = (32, 2 + 16);
        t[(int)GgmlType.Q4_1] = (32, 4 + 16);
        t[(int)GgmlType.Q5_0] = (32, 2 + 4 + 16);
        t[(int)GgmlType.Q5_1] = (32, 4 + 4 + 16);
        t[(int)GgmlType.Q8_0] = (32, 2 + 32);
        t[(int)GgmlType.Q8_1] = (32, 4 + 32);
        t[(int)GgmlType.Q2_K] = (QK_K, 4 + (QK_K / 16) + (QK_K / 4));
        t[(int)GgmlType.Q3_K] = (QK_K, 2 + (QK_K / 8) + (QK_K / 4) + 12);
        t[(int)GgmlType.Q4_K] = (QK_K, 4 + 12 + (QK_K / 2));
        t[(int)GgmlType.Q5_K] = (QK_K, 4 + 12 + (QK_K / 8) + (QK_K / 2));
        t[(int)GgmlType.Q6_K] = (QK_K, 2 + (QK_K / 16) + (3 * QK_K / 4));
        t[(int)GgmlType.Q8_K] = (QK_K, 4 + QK_K + (QK_K / 16 * 2));
        t[(int)GgmlType.IQ2_XXS] = (QK_K, 2 + (QK_K / 8 * 2));
        t[(int)GgmlType.IQ2_XS] = (QK_K, 2 + (QK_K / 8 * 2) + (QK_K / 32));
        t[(int)GgmlType.IQ3_XXS] = (QK_K, 2 + (3 * QK_K / 8));
        t[(int)GgmlType.IQ1_S] = (QK_K, 2 + (QK_K / 8) + (QK_K / 16));
        t[(int)GgmlType.IQ4_NL] = (32, 2 + 16);
        t[(int)GgmlType.IQ3_S] = (QK_K, 2 + (13 * QK_K / 32) + (QK_K / 64));
        t[(int)GgmlType.IQ2_S] = (QK_K, 2 + (QK_K / 4) + (QK_K / 16));
        t[(int)GgmlType.IQ4_XS] = (QK_K, 2 + 2 + (QK_K / 64) + (QK_K / 2));
        t[(int)GgmlType.I8] = (1, 1);
        t[(int)GgmlType.I16] = (1, 2);
        t[(int)GgmlType.I32] = (1, 4);
        t[(int)GgmlType.I64] = (1, 8);
        t[(int)GgmlType.F64] = (1, 8);
        t[(int)GgmlType.IQ1_M] = (QK_K, (QK_K / 8) + (QK_K / 16) + (QK_K / 32));
        t[(int)GgmlType.BF16] = (1, 2);
        t[(int)GgmlType.TQ1_0] = (QK_K, 2 + (QK_K / 64) + ((QK_K - (4 * QK_K / 64)) / 5));
        t[(int)GgmlType.TQ2_0] = (QK_K, 2 + (QK_K / 4));
        t[(int)GgmlType.MXFP4] = (32, 1 + 16);
        return t;
    }

    /// <summary>Whether <paramref name="type"/> is a GGML type id this library knows the layout of.</summary>
    /// <param name="type">The type id, possibly read from an untrusted file.</param>
    /// <returns><see langword="true"/> for every named <see cref="GgmlType"/> member.</returns>
    public static bool IsKnown(GgmlType type) => (uint)type < (uint)Table.Length && Table[(int)type].Size != 0;

    /// <summary>The number of elements in one block of <paramref name="type"/> (1 for plain scalar types).</summary>
    /// <param name="type">A known type.</param>
    /// <returns>Elements per block.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="type"/> is not known.</exception>
    public static int BlockSize(GgmlType type) => Entry(type).Size;

    /// <summary>The number of bytes one block of <paramref name="type"/> occupies.</summary>
    /// <param name="type">A known type.</param>
    /// <returns>Bytes per block.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="type"/> is not known.</exception>
    public static int BlockBytes(GgmlType type) => Entry(type).Bytes;

    /// <summary>The number of bytes a row of <paramref name="ne0"/> elements occupies.</summary>
    /// <param name="type">A known type.</param>
    /// <param name="ne0">Elements in the row; must be a non-negative multiple of <see cref="BlockSize"/>.</param>
    /// <returns>Bytes in the row.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="type"/> is unknown or <paramref name="ne0"/> negative.</exception>
    /// <exception cref="ArgumentException"><paramref name="ne0"/> is not a multiple of the block size.</exception>
    public static long RowBytes(GgmlType type, long ne0)
    {
        var (size, bytes) = Entry(type);
        ArgumentOutOfRangeException.ThrowIfNegative(ne0);
        if (ne0 % size != 0)
        {
            throw new ArgumentException(
                $"Row length {ne0} is not a multiple of the {type} block size {size}.", nameof(ne0));
        }

        // ne0 / size * bytes cannot overflow: bytes/size <= 8 only for 1-element blocks, and otherwise
        // bytes < size, but keep it checked so a future table entry cannot silently wrap.
        return checked(ne0 / size * bytes);
    }

    /// <summary>The number of bytes a tensor of <paramref name="type"/> with shape <paramref name="dims"/> occupies.</summary>
    /// <param name="type">A known type.</param>
    /// <param name="dims">The shape, ne0 first; each dimension non-negative, ne0 a multiple of the block size.</param>
    /// <returns>The tensor's size in bytes.</returns>
    /// <exception cref="ArgumentOutOfRangeException">Unknown type, no dimensions, or a negative dimension.</exception>
    /// <exception cref="ArgumentException">ne0 is not a multiple of the block size.</exception>
    /// <exception cref="OverflowException">The size does not fit in a <see cref="long"/>.
    /// (The GGUF reader turns this into a <see cref="GgufFormatException"/>.)</exception>
    public static long TensorBytes(GgmlType type, IReadOnlyList<long> dims)
    {
        ArgumentNullException.ThrowIfNull(dims);
        if (dims.Count == 0)
        {
            throw new ArgumentOutOfRangeException(nameof(dims), "A tensor needs at least one dimension.");
        }

        long total = RowBytes(type, dims[0]);
        for (int i = 1; i < dims.Count; i++)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(dims[i], nameof(dims));
            total = checked(total * dims[i]);
        }

        return total;
    }

    private static (int Size, int Bytes) Entry(GgmlType type)
    {
        if (!IsKnown(type))
        {
            throw new ArgumentOutOfRangeException(nameof(type), type, $"Unknown GGML type id {(uint)type}.");
        }

        return Table[(int)type];
    }
}
