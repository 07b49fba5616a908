using System.Buffers.Binary;

namespace Mistral.Gguf;

/// <summary>
/// Reference conversions between <see cref="float"/> values and GGML tensor encodings, for writing test models and
/// checking kernels. For F16, BF16, Q8_0 and Q4_0 they follow GGML's scalar reference quantizers
/// (<c>quantize_row_*_ref</c>) so the bytes match what GGML itself produces for the same input; the K-quant encoders
/// are simpler than GGML's (no scale search) but write the exact GGML layout. Every decoder matches GGML's.
/// </summary>
/// <remarks>
/// Supported for <see cref="Quantize"/> and <see cref="Dequantize"/>: F32, F16, BF16, Q8_0, Q4_0 and the K-quants
/// Q2_K, Q3_K, Q4_K, Q5_K, Q6_K (see GgmlQuantization.KQuants.cs). Data is row-major with blocks along ne0; the
/// element count must be a multiple of the block size (256 for K-quants).
/// </remarks>
public static partial class GgmlQuantization
{
    /// <summary>Encodes <paramref name="values"/> as <paramref name="type"/>.</summary>
    /// <param name="type">F32, F16, BF16, Q8_0, Q4_0, Q2_K, Q3_K, Q4_K, Q5_K or Q6_K.</param>
    /// <param name="values">The values; the count must be a multiple of the type's block size. Quantized types
    /// require finite values.</param>
    /// <returns>The encoded bytes (<see cref="GgmlTypeInfo.RowBytes"/> of the count).</returns>
    /// <exception cref="NotSupportedException">The type has no encoder here.</exception>
    /// <exception cref="ArgumentException">Bad count, or a non-finite value for a quantized type.</exception>
    public static byte[] Quantize(GgmlType type, ReadOnlySpan<float> values)
    {
        if (type is not (GgmlType.F32 or GgmlType.F16 or GgmlType.BF16 or GgmlType.Q8_0 or GgmlType.Q4_0)
            && !IsKQuant(type))
        {
            throw new NotSupportedException($"Quantizing to {type} is not supported.");
        }

        var output = new byte[GgmlTypeInfo.RowBytes(type, values.Length)];
        switch (type)
        {
            case GgmlType.F32:
                for (int i = 0; i < values.Length; i++)
                {
                    BinaryPrimitives.WriteSingleLittleEndian(output.AsSpan(4 * i), values[i]);
                }

                break;
            case GgmlType.F16:
                for (int i = 0; i < values.Length; i++)
                {
                    // Half's conversion rounds to nearest even, as GGML's fp32->fp16 does.
                    BinaryPrimitives.WriteHalfLittleEndian(output.AsSpan(2 * i), (Half)values[i]);
                }

                break;
            case GgmlType.BF16:
                for (int i = 0; i < values.Length; i++)
                {
                    BinaryPrimitives.WriteUInt16LittleEndian(output.AsSpan(2 * i), FloatToBf16(values[i]));
                }

                break;
            case GgmlType.Q8_0:
                RequireFinite(values);
                for (int b = 0; b < values.Length / 32; b++)
                {
                    QuantizeQ8_0Block(values.Slice(32 * b, 32), output.AsSpan(34 * b, 34));
                }

                break;
            case GgmlType.Q2_K or GgmlType.Q3_K or GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K:
                RequireFinite(values);
                QuantizeK(type, values, output);
                break;
            default:
                RequireFinite(values);
                for (int b = 0; b < values.Length / 32; b++)
                {
                    QuantizeQ4_0Block(values.Slice(32 * b, 32), output.AsSpan(18 * b, 18));
                }

                break;
        }

        return output;
    }

    /// <summary>Decodes <paramref name="count"/> values of <paramref name="type"/> from <paramref name="data"/>.</summary>
    /// <param name="type">F32, F16, BF16, Q8_0, Q4_0, Q2_K, Q3_K, Q4_K, Q5_K or Q6_K.</param>
    /// <param name="data">The encoded bytes; at least <see cref="GgmlTypeInfo.RowBytes"/> of <paramref name="count"/>
    /// (extra bytes are ignored).</param>
    /// <param name="count">The number of values, a multiple of the block size.</param>
    /// <returns>The values.</returns>
    /// <exception cref="NotSupportedException">The type has no decoder here.</exception>
    /// <exception cref="ArgumentException">Bad count, or too little data.</exception>
    public static float[] Dequantize(GgmlType type, ReadOnlySpan<byte> data, long count)
    {
        if (type is not (GgmlType.F32 or GgmlType.F16 or GgmlType.BF16 or GgmlType.Q8_0 or GgmlType.Q4_0)
            && !IsKQuant(type))
        {
            throw new NotSupportedException($"Dequantizing {type} is not supported.");
        }

        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, Array.MaxLength);
        long needed = GgmlTypeInfo.RowBytes(type, count);
        if (data.Length < needed)
        {
            throw new ArgumentException($"{count} {type} values need {needed} bytes; only {data.Length} given.", nameof(data));
        }

        var output = new float[count];
        int blocks = (int)(count / GgmlTypeInfo.BlockSize(type));
        switch (type)
        {
            case GgmlType.F32:
                for (int i = 0; i < output.Length; i++)
                {
                    output[i] = BinaryPrimitives.ReadSingleLittleEndian(data[(4 * i)..]);
                }

                break;
            case GgmlType.F16:
                for (int i = 0; i < output.Length; i++)
                {
                    output[i] = (float)BinaryPrimitives.ReadHalfLittleEndian(data[(2 * i)..]);
                }

                break;
            case GgmlType.BF16:
                for (int i = 0; i < output.Length; i++)
                {
                    output[i] = BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(data[(2 * i)..]) << 16);
                }

                break;
            case GgmlType.Q8_0:
                for (int b = 0; b < blocks; b++)
                {
                    ReadOnlySpan<byte> block = data.Slice(34 * b, 34);
                    float d = ReadHalf(block);
                    for (int j = 0; j < 32; j++)
                    {
                        output[(32 * b) + j] = (sbyte)block[2 + j] * d;
                    }
                }

                break;
            case GgmlType.Q4_0:
                for (int b = 0; b < blocks; b++)
                {
                    ReadOnlySpan<byte> block = data.Slice(18 * b, 18);
                    float d = ReadHalf(block);
                    for (int j = 0; j < 16; j++)
                    {
                        byte q = block[2 + j];
                        output[(32 * b) + j] = ((q & 0x0F) - 8) * d;
                        output[(32 * b) + j + 16] = ((q >> 4) - 8) * d;
                    }
                }

                break;
            default: // the K-quants, one 256-weight super-block at a time
                DequantizeK(type, data, output);
                break;
        }

        return output;
    }

    /// <summary>Converts a float to bfloat16 bits: round to nearest even; NaN stays NaN (quieted), as GGML does.</summary>
    /// <param name="value">The value.</param>
    /// <returns>The bfloat16 bit pattern.</returns>
    public static ushort FloatToBf16(float value)
    {
        uint u = BitConverter.SingleToUInt32Bits(value);
        if ((u & 0x7FFFFFFF) > 0x7F800000)
        {
            // Truncating a NaN could clear every mantissa bit and make it infinity; force the quiet bit.
            return (ushort)((u >> 16) | 0x40);
        }

        return (ushort)((u + 0x7FFF + ((u >> 16) & 1)) >> 16);
    }

    private static void RequireFinite(ReadOnlySpan<float> values)
    {
        for (int i = 0; i < values.Length; i++)
        {
            if (!float.IsFinite(values[i]))
            {
                throw new ArgumentException($"Value {i} is {values[i]}; quantized types need finite values.", nameof(values));
            }
        }
    }

    private static float ReadHalf(ReadOnlySpan<byte> bytes) => (float)BinaryPrimitives.ReadHalfLittleEndian(bytes);

    private static void QuantizeQ8_0Block(ReadOnlySpan<float> x, Span<byte> y)
    {
        float amax = 0;
        foreach (float v in x)
        {
            amax = MathF.Max(amax, MathF.Abs(v));
        }

        // Scale from the unrounded d, store d as fp16: exactly GGML's reference order of operations.
        float d = amax / 127;
        float id = d != 0 ? 1.0f / d : 0.0f;
        BinaryPrimitives.WriteHalfLittleEndian(y, (Half)d);
        for (int j = 0; j < 32; j++)
        {
            y[2 + j] = (byte)(sbyte)MathF.Round(x[j] * id, MidpointRounding.AwayFromZero);
        }
    }

    private static void QuantizeQ4_0Block(ReadOnlySpan<float> x, Span<byte> y)
    {
        // GGML keeps the sign of the largest-magnitude value and maps it to -8, which uses the full [-8, 7] range.
        float amax = 0;
        float max = 0;
        foreach (float v in x)
        {
            if (amax < MathF.Abs(v))
            {
                amax = MathF.Abs(v);
                max = v;
            }
        }

        float d = max / -8;
        float id = d != 0 ? 1.0f / d : 0.0f;
        BinaryPrimitives.WriteHalfLittleEndian(y, (Half)d);
        for (int j = 0; j < 16; j++)
        {
            // x*id + 8.5 truncated toward zero is round-half-up of x*id, shifted by 8; the top value clamps to 15.
            int lo = Math.Min(15, (int)((x[j] * id) + 8.5f));
            int hi = Math.Min(15, (int)((x[j + 16] * id) + 8.5f));
            y[2 + j] = (byte)(lo | (hi << 4));
        }
    }

    private static void DequantizeQ4_KBlock(ReadOnlySpan<byte> block, Span<float> y)
    {
        // Layout: fp16 d, fp16 dmin, 12 bytes of packed 6-bit scales and mins for 8 sub-blocks, 128 bytes of nibbles.
        float d = ReadHalf(block);
        float dmin = ReadHalf(block[2..]);
        ReadOnlySpan<byte> scales = block.Slice(4, 12);
        ReadOnlySpan<byte> q = block.Slice(16, 128);
        for (int chunk = 0; chunk < 4; chunk++)
        {
            ScaleMinK4((2 * chunk) + 0, scales, out int sc1, out int m1);
            ScaleMinK4((2 * chunk) + 1, scales, out int sc2, out int m2);
            ReadOnlySpan<byte> qc = q.Slice(32 * chunk, 32);
            Span<float> yc = y.Slice(64 * chunk, 64);
            for (int l = 0; l < 32; l++)
            {
                yc[l] = (d * sc1 * (qc[l] & 0x0F)) - (dmin * m1);
                yc[l + 32] = (d * sc2 * (qc[l] >> 4)) - (dmin * m2);
            }
        }
    }

    private static void ScaleMinK4(int j, ReadOnlySpan<byte> s, out int scale, out int min)
    {
        // Sub-blocks 0-3 keep their 6-bit scale/min in the low bits of bytes 0-7; sub-blocks 4-7 put the low
        // 4 bits in bytes 8-11 and borrow the top 2 bits of bytes 0-7.
        if (j < 4)
        {
            scale = s[j] & 63;
            min = s[j + 4] & 63;
        }
        else
        {
            scale = (s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4);
            min = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
        }
    }

    private static void DequantizeQ6_KBlock(ReadOnlySpan<byte> block, Span<float> y)
    {
        // Layout: 128 bytes low nibbles, 64 bytes of 2-bit high parts, 16 int8 scales, fp16 d.
        ReadOnlySpan<byte> ql = block[..128];
        ReadOnlySpan<byte> qh = block.Slice(128, 64);
        ReadOnlySpan<byte> sc = block.Slice(192, 16);
        float d = ReadHalf(block[208..]);
        for (int half = 0; half < 2; half++)
        {
            ReadOnlySpan<byte> l4 = ql.Slice(64 * half, 64);
            ReadOnlySpan<byte> h2 = qh.Slice(32 * half, 32);
            ReadOnlySpan<byte> s = sc.Slice(8 * half, 8);
            Span<float> yh = y.Slice(128 * half, 128);
            for (int l = 0; l < 32; l++)
            {
                int si = l / 16;
                int q1 = ((l4[l] & 0x0F) | (((h2[l] >> 0) & 3) << 4)) - 32;
                int q2 = ((l4[l + 32] & 0x0F) | (((h2[l] >> 2) & 3) << 4)) - 32;
                int q3 = ((l4[l] >> 4) | (((h2[l] >> 4) & 3) << 4)) - 32;
                int q4 = ((l4[l + 32] >> 4) | (((h2[l] >> 6) & 3) << 4)) - 32;
                yh[l] = d * (sbyte)s[si] * q1;
                yh[l + 32] = d * (sbyte)s[si + 2] * q2;
                yh[l + 64] = d * (sbyte)s[si + 4] * q3;
                yh[l + 96] = d * (sbyte)s[si + 6] * q4;
            }
        }
    }
}
