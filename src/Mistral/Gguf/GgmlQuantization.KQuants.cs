using System.Buffers.Binary;

namespace Mistral.Gguf;

/// <summary>
/// K-quants (super-blocks of 256 weights): encoders for Q2_K..Q6_K and the decoders of Q2_K, Q3_K and Q5_K
/// (Q4_K and Q6_K decode in GgmlQuantization.cs).
/// </summary>
/// <remarks>
/// The encoders are deliberately simple: each sub-block's scale (and min) comes straight from its min/max, with no
/// search for the error-minimizing scale as GGML's quantizers do, so the bytes differ from llama-quantize's for the
/// same input while following the same layout exactly (any GGML reader decodes them to the same floats as
/// <see cref="Dequantize"/>). Weight i of a super-block sits at (the native core restates this in quant_k.h):
/// <list type="bullet">
/// <item>Q4_K/Q5_K: sub-block s = i/32 (8 per super-block) with 6-bit scale and min; nibble s%2 of byte
/// 32·(i/64) + i%32; Q5_K's fifth bit is bit s of qh[i%32].</item>
/// <item>Q6_K: i = 128h + r: nibble r/64 of ql[64h + r%64], 2 high bits at bit 2·(r/32) of qh[32h + r%32],
/// signed 8-bit scale i/16.</item>
/// <item>Q2_K/Q3_K: i = 128h + 32p + r: 2 bits at bit 2p of qs[32h + r]; 16-weight sub-blocks. Q2_K packs scale
/// and min as the nibbles of one byte; Q3_K's third bit is bit 4h + p of hmask[r] (clear = minus 4) and its 6-bit
/// scales (stored +32) are packed in 12 bytes.</item>
/// </list>
/// Every float operation of the decoders happens in GGML's order (sub-scale = d·sc, then sub-scale·q − dmin·m), so
/// they agree bit for bit with GGML and the native core.
/// </remarks>
public static partial class GgmlQuantization
{
    private const int QK_K = 256;

    private static bool IsKQuant(GgmlType type) =>
        type is GgmlType.Q2_K or GgmlType.Q3_K or GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K;

    private static void QuantizeK(GgmlType type, ReadOnlySpan<float> values, Span<byte> output)
    {
        int blockBytes = (int)GgmlTypeInfo.RowBytes(type, QK_K);
        for (int b = 0; b < values.Length / QK_K; b++)
        {
            ReadOnlySpan<float> x = values.Slice(QK_K * b, QK_K);
            Span<byte> y = output.Slice(blockBytes * b, blockBytes);
            switch (type)
            {
                case GgmlType.Q2_K: QuantizeQ2_KBlock(x, y); break;
                case GgmlType.Q3_K: QuantizeQ3_KBlock(x, y); break;
                case GgmlType.Q4_K: QuantizeQ45_KBlock(x, y, fiveBits: false); break;
                case GgmlType.Q5_K: QuantizeQ45_KBlock(x, y, fiveBits: true); break;
                default: QuantizeQ6_KBlock(x, y); break;
            }
        }
    }

    private static void DequantizeK(GgmlType type, ReadOnlySpan<byte> data, Span<float> output)
    {
        int blockBytes = (int)GgmlTypeInfo.RowBytes(type, QK_K);
        for (int b = 0; b < output.Length / QK_K; b++)
        {
            ReadOnlySpan<byte> block = data.Slice(blockBytes * b, blockBytes);
            Span<float> y = output.Slice(QK_K * b, QK_K);
            switch (type)
            {
                case GgmlType.Q2_K: DequantizeQ2_KBlock(block, y); break;
                case GgmlType.Q3_K: DequantizeQ3_KBlock(block, y); break;
                case GgmlType.Q4_K: DequantizeQ4_KBlock(block, y); break;
                case GgmlType.Q5_K: DequantizeQ5_KBlock(block, y); break;
                default: DequantizeQ6_KBlock(block, y); break;
            }
        }
    }

    /// <summary>
    /// "Type-1" sub-block parameters (weight = d·sc·q − dmin·m, q in 0..levels−1): each sub-block's range is
    /// [min(x, 0), max(x)] (m is unsigned, so the offset can only go down), its step range/(levels−1); d and dmin
    /// are the largest step and offset over scaleMax, rounded to fp16 before the integer sc and m are chosen from
    /// them, so the stored scales are the ones the quants are computed against.
    /// </summary>
    private static void ChooseScaleMin(ReadOnlySpan<float> x, int sub, int levels, int scaleMax, out Half d,
        out Half dmin, Span<int> sc, Span<int> mn)
    {
        int n = x.Length / sub;
        Span<float> step = stackalloc float[n];
        Span<float> offset = stackalloc float[n];
        float maxStep = 0, maxOffset = 0;
        for (int s = 0; s < n; s++)
        {
            float lo = 0, hi = float.MinValue;
            foreach (float v in x.Slice(sub * s, sub))
            {
                lo = MathF.Min(lo, v);
                hi = MathF.Max(hi, v);
            }

            step[s] = (hi - lo) / (levels - 1);
            offset[s] = -lo;
            maxStep = MathF.Max(maxStep, step[s]);
            maxOffset = MathF.Max(maxOffset, offset[s]);
        }

        d = (Half)(maxStep / scaleMax);
        dmin = (Half)(maxOffset / scaleMax);
        for (int s = 0; s < n; s++)
        {
            sc[s] = QuantizeScale(step[s], (float)d, scaleMax);
            mn[s] = QuantizeScale(offset[s], (float)dmin, scaleMax);
        }
    }

    /// <summary>round(value / unit) in 0..max; at least 1 for a nonzero value so a narrow sub-block keeps a step.</summary>
    private static int QuantizeScale(float value, float unit, int max)
    {
        if (!(unit > 0) || value <= 0)
        {
            return 0;
        }

        return Math.Clamp((int)MathF.Round(value / unit), 1, max);
    }

    /// <summary>The quant nearest to x on the grid dl·q − ml, q in lo..hi (dl as the decoder computes it).</summary>
    private static int NearestLevel(float x, float dl, float ml, int lo, int hi) =>
        dl > 0 ? Math.Clamp((int)MathF.Round((x + ml) / dl), lo, hi) : Math.Clamp(0, lo, hi);

    private static void QuantizeQ45_KBlock(ReadOnlySpan<float> x, Span<byte> y, bool fiveBits)
    {
        int levels = fiveBits ? 32 : 16;
        Span<int> sc = stackalloc int[8];
        Span<int> mn = stackalloc int[8];
        ChooseScaleMin(x, 32, levels, 63, out Half d, out Half dmin, sc, mn);
        y.Clear();
        BinaryPrimitives.WriteHalfLittleEndian(y, d);
        BinaryPrimitives.WriteHalfLittleEndian(y[2..], dmin);
        PackScaleMinK4(sc, mn, y.Slice(4, 12));
        Span<byte> qh = y.Slice(16, 32);
        Span<byte> qs = y.Slice(fiveBits ? 48 : 16, 128);
        for (int i = 0; i < QK_K; i++)
        {
            int s = i / 32;
            float dl = (float)d * sc[s];
            float ml = (float)dmin * mn[s];
            int q = NearestLevel(x[i], dl, ml, 0, levels - 1);
            qs[(32 * (i / 64)) + (i % 32)] |= (byte)((q & 15) << (4 * (s % 2)));
            if (fiveBits)
            {
                qh[i % 32] |= (byte)((q >> 4) << s);
            }
        }
    }

    /// <summary>The inverse of <c>ScaleMinK4</c>: sub-blocks 4-7 keep their low 4 bits in bytes 8-11 and their
    /// top 2 bits in the top bits of bytes 0-7.</summary>
    private static void PackScaleMinK4(ReadOnlySpan<int> sc, ReadOnlySpan<int> mn, Span<byte> s)
    {
        for (int j = 0; j < 4; j++)
        {
            s[j] = (byte)((sc[j] & 63) | ((sc[j + 4] >> 4) << 6));
            s[j + 4] = (byte)((mn[j] & 63) | ((mn[j + 4] >> 4) << 6));
            s[j + 8] = (byte)((sc[j + 4] & 15) | ((mn[j + 4] & 15) << 4));
        }
    }

    private static void QuantizeQ2_KBlock(ReadOnlySpan<float> x, Span<byte> y)
    {
        Span<int> sc = stackalloc int[16];
        Span<int> mn = stackalloc int[16];
        ChooseScaleMin(x, 16, 4, 15, out Half d, out Half dmin, sc, mn);
        y.Clear();
        for (int s = 0; s < 16; s++)
        {
            y[s] = (byte)(sc[s] | (mn[s] << 4));
        }

        BinaryPrimitives.WriteHalfLittleEndian(y[80..], d);
        BinaryPrimitives.WriteHalfLittleEndian(y[82..], dmin);
        for (int i = 0; i < QK_K; i++)
        {
            int s = i / 16;
            float dl = (float)d * sc[s];
            float ml = (float)dmin * mn[s];
            int q = NearestLevel(x[i], dl, ml, 0, 3);
            (int h, int p, int r) = (i / 128, i % 128 / 32, i % 32);
            y[16 + (32 * h) + r] |= (byte)(q << (2 * p));
        }
    }

    /// <summary>
    /// "Type-0" sub-block scales (weight = d·sc·q): step amax/qmax per sub-block, d the largest step over scaleMax
    /// (fp16), sc = round(step/d). Symmetric, so the extra negative level (−qmax−1) is reachable but unused by design.
    /// </summary>
    private static Half ChooseScales(ReadOnlySpan<float> x, int sub, int qmax, int scaleMax, Span<int> sc)
    {
        int n = x.Length / sub;
        Span<float> step = stackalloc float[n];
        float maxStep = 0;
        for (int s = 0; s < n; s++)
        {
            float amax = 0;
            foreach (float v in x.Slice(sub * s, sub))
            {
                amax = MathF.Max(amax, MathF.Abs(v));
            }

            step[s] = amax / qmax;
            maxStep = MathF.Max(maxStep, step[s]);
        }

        var d = (Half)(maxStep / scaleMax);
        for (int s = 0; s < n; s++)
        {
            sc[s] = QuantizeScale(step[s], (float)d, scaleMax);
        }

        return d;
    }

    private static void QuantizeQ6_KBlock(ReadOnlySpan<float> x, Span<byte> y)
    {
        Span<int> sc = stackalloc int[16];
        Half d = ChooseScales(x, 16, 31, 127, sc);
        y.Clear();
        for (int s = 0; s < 16; s++)
        {
            y[192 + s] = (byte)(sbyte)sc[s];
        }

        BinaryPrimitives.WriteHalfLittleEndian(y[208..], d);
        for (int i = 0; i < QK_K; i++)
        {
            float dl = (float)d * sc[i / 16];
            int v = NearestLevel(x[i], dl, 0, -32, 31) + 32;
            (int h, int r) = (i / 128, i % 128);
            y[(64 * h) + (r % 64)] |= (byte)((v & 15) << (4 * (r / 64)));
            y[128 + (32 * h) + (r % 32)] |= (byte)((v >> 4) << (2 * (r / 32)));
        }
    }

    private static void QuantizeQ3_KBlock(ReadOnlySpan<float> x, Span<byte> y)
    {
        Span<int> sc = stackalloc int[16];
        Half d = ChooseScales(x, 16, 3, 31, sc);
        y.Clear();
        Span<byte> packed = y.Slice(96, 12);
        for (int j = 0; j < 16; j++)
        {
            // Stored +32 in 6 bits: the low nibble in byte j (j < 8) or the high nibble of byte j-8, the top 2 bits
            // at bit 2*(j/4) of byte 8 + j%4.
            int u = sc[j] + 32;
            packed[j % 8] |= (byte)((u & 15) << (j < 8 ? 0 : 4));
            packed[8 + (j % 4)] |= (byte)((u >> 4) << (2 * (j / 4)));
        }

        BinaryPrimitives.WriteHalfLittleEndian(y[108..], d);
        for (int i = 0; i < QK_K; i++)
        {
            float dl = (float)d * sc[i / 16];
            int v = NearestLevel(x[i], dl, 0, -4, 3) + 4;
            (int h, int p, int r) = (i / 128, i % 128 / 32, i % 32);
            y[32 + (32 * h) + r] |= (byte)((v & 3) << (2 * p));
            y[r] |= (byte)((v >> 2) << ((4 * h) + p));
        }
    }

    private static void DequantizeQ5_KBlock(ReadOnlySpan<byte> block, Span<float> y)
    {
        float d = ReadHalf(block);
        float dmin = ReadHalf(block[2..]);
        ReadOnlySpan<byte> scales = block.Slice(4, 12);
        ReadOnlySpan<byte> qh = block.Slice(16, 32);
        ReadOnlySpan<byte> qs = block.Slice(48, 128);
        for (int s = 0; s < 8; s++)
        {
            ScaleMinK4(s, scales, out int sc, out int m);
            float dl = d * sc;
            float ml = dmin * m;
            for (int l = 0; l < 32; l++)
            {
                int q = ((qs[(32 * (s / 2)) + l] >> (4 * (s % 2))) & 15) | (((qh[l] >> s) & 1) << 4);
                y[(32 * s) + l] = (dl * q) - ml;
            }
        }
    }

    private static void DequantizeQ2_KBlock(ReadOnlySpan<byte> block, Span<float> y)
    {
        float d = ReadHalf(block[80..]);
        float dmin = ReadHalf(block[82..]);
        for (int i = 0; i < QK_K; i++)
        {
            int s = block[i / 16];
            float dl = d * (s & 15);
            float ml = dmin * (s >> 4);
            (int h, int p, int r) = (i / 128, i % 128 / 32, i % 32);
            int q = (block[16 + (32 * h) + r] >> (2 * p)) & 3;
            y[i] = (dl * q) - ml;
        }
    }

    private static void DequantizeQ3_KBlock(ReadOnlySpan<byte> block, Span<float> y)
    {
        float d = ReadHalf(block[108..]);
        ReadOnlySpan<byte> packed = block.Slice(96, 12);
        for (int i = 0; i < QK_K; i++)
        {
            int j = i / 16;
            int u = ((packed[j % 8] >> (j < 8 ? 0 : 4)) & 15) | (((packed[8 + (j % 4)] >> (2 * (j / 4))) & 3) << 4);
            float dl = d * (u - 32);
            (int h, int p, int r) = (i / 128, i % 128 / 32, i % 32);
            int low = (block[32 + (32 * h) + r] >> (2 * p)) & 3;
            int q = low - (((block[r] >> ((4 * h) + p)) & 1) != 0 ? 0 : 4);
            y[i] = dl * q;
        }
    }
}
