using System.Buffers.Binary;
using Mistral.Gguf;

namespace Mistral.Tests.Gguf;

[TestFixture]
public sealed class GgmlQuantizationTests
{
    [Test]
    public void Q8_0_KnownBlock_ExactBytes()
    {
        // amax = 127 makes d exactly 1, so every quant is round-half-away-from-zero of the value itself.
        var x = new float[32];
        float[] head = [127, -127, 0.5f, -0.5f, 1.49f, 2.5f, -2.5f, 0, 100.4f];
        head.CopyTo(x, 0);
        byte[] q = GgmlQuantization.Quantize(GgmlType.Q8_0, x);
        var expected = new byte[34];
        byte[] expectedHead = [0x00, 0x3C, 127, 0x81, 1, 0xFF, 1, 3, 0xFD, 0, 100];
        expectedHead.CopyTo(expected, 0);
        Assert.That(q, Is.EqualTo(expected));
        float[] back = GgmlQuantization.Dequantize(GgmlType.Q8_0, q, 32);
        Assert.That(back[..9], Is.EqualTo(new float[] { 127, -127, 1, -1, 1, 3, -3, 0, 100 }));
        Assert.That(back[9..], Is.All.Zero);
    }

    [Test]
    public void Q8_0_ZeroBlock()
    {
        byte[] q = GgmlQuantization.Quantize(GgmlType.Q8_0, new float[64]);
        Assert.That(q, Is.EqualTo(new byte[68]));
        Assert.That(GgmlQuantization.Dequantize(GgmlType.Q8_0, q, 64), Is.All.Zero);
    }

    [Test]
    public void Q4_0_KnownBlock_ExactBytes()
    {
        // The largest magnitude is -8, so d = max / -8 = 1 and q = trunc(x + 8.5) clamped to 15:
        // rounding is half-up (-0.5 -> 0, 0.5 -> 1) and 7.9 clamps to 7.
        var x = new float[32];
        float[] lo = [-8, 7, 7.9f, 0, 0.5f, -0.5f, 1.4f, 3, -3.6f];
        float[] hi = [1, 2, -1];
        lo.CopyTo(x, 0);
        hi.CopyTo(x, 16);
        byte[] q = GgmlQuantization.Quantize(GgmlType.Q4_0, x);
        var expected = Enumerable.Repeat((byte)0x88, 18).ToArray();
        byte[] expectedHead = [0x00, 0x3C, 0x90, 0xAF, 0x7F, 0x88, 0x89, 0x88, 0x89, 0x8B, 0x84];
        expectedHead.CopyTo(expected, 0);
        Assert.That(q, Is.EqualTo(expected));
        float[] back = GgmlQuantization.Dequantize(GgmlType.Q4_0, q, 32);
        Assert.That(back[..9], Is.EqualTo(new float[] { -8, 7, 7, 0, 1, 0, 1, 3, -4 }));
        Assert.That(back[16..19], Is.EqualTo(new float[] { 1, 2, -1 }));
    }

    [Test]
    public void Q4_0_PositiveMaximum_FlipsTheScale()
    {
        // max = +8 gives d = -1; the opposite extreme -8 would need q = 16 and clamps to 15, i.e. -7.
        var x = new float[32];
        x[0] = 8;
        x[1] = -8;
        byte[] q = GgmlQuantization.Quantize(GgmlType.Q4_0, x);
        Assert.That(BinaryPrimitives.ReadUInt16LittleEndian(q), Is.EqualTo(0xBC00));
        Assert.That(q[2], Is.EqualTo(0x80));
        Assert.That(q[3], Is.EqualTo(0x8F));
        float[] back = GgmlQuantization.Dequantize(GgmlType.Q4_0, q, 32);
        Assert.That(back[0], Is.EqualTo(8f));
        Assert.That(back[1], Is.EqualTo(-7f));
    }

    [Test]
    public void Q8_0_RandomData_ErrorWithinHalfAStep()
    {
        // Per element: |x - q*d16| <= d/2 (rounding) + 127*|d - d16| (the stored scale is fp16-rounded).
        var rng = new Random(7);
        float[] x = RandomBlocks(rng, 64);
        byte[] q = GgmlQuantization.Quantize(GgmlType.Q8_0, x);
        float[] back = GgmlQuantization.Dequantize(GgmlType.Q8_0, q, x.Length);
        for (int b = 0; b < 64; b++)
        {
            float amax = x.AsSpan(32 * b, 32).ToArray().Max(MathF.Abs);
            float d = amax / 127;
            float d16 = (float)BinaryPrimitives.ReadHalfLittleEndian(q.AsSpan(34 * b));
            float bound = (d / 2) + (127 * MathF.Abs(d - d16)) + (1e-6f * amax);
            for (int j = 32 * b; j < 32 * (b + 1); j++)
            {
                Assert.That(MathF.Abs(back[j] - x[j]), Is.LessThanOrEqualTo(bound), $"element {j}");
            }
        }
    }

    [Test]
    public void Q4_0_RandomData_ErrorWithinOneStep()
    {
        // Per element: |x - (q-8)*d16| <= |d|/2 + 8*|d - d16|, except values near the opposite extreme from the
        // block's signed maximum, which clamp to q = 15 and may be off by up to |d| (+ the same fp16 term).
        var rng = new Random(11);
        float[] x = RandomBlocks(rng, 64);
        byte[] q = GgmlQuantization.Quantize(GgmlType.Q4_0, x);
        float[] back = GgmlQuantization.Dequantize(GgmlType.Q4_0, q, x.Length);
        int clamped = 0;
        for (int b = 0; b < 64; b++)
        {
            ReadOnlySpan<float> block = x.AsSpan(32 * b, 32);
            float max = 0;
            foreach (float v in block)
            {
                if (MathF.Abs(v) > MathF.Abs(max))
                {
                    max = v;
                }
            }

            float d = MathF.Abs(max / -8);
            float d16 = MathF.Abs((float)BinaryPrimitives.ReadHalfLittleEndian(q.AsSpan(18 * b)));
            float eps = (8 * MathF.Abs(d - d16)) + (1e-6f * MathF.Abs(max));
            for (int j = 0; j < 32; j++)
            {
                int nibble = j < 16 ? q[(18 * b) + 2 + j] & 0xF : q[(18 * b) + 2 + j - 16] >> 4;
                float err = MathF.Abs(back[(32 * b) + j] - block[j]);
                Assert.That(err, Is.LessThanOrEqualTo(d + eps), $"block {b} element {j}");
                if (nibble < 15)
                {
                    Assert.That(err, Is.LessThanOrEqualTo((d / 2) + eps), $"block {b} element {j}");
                }
                else
                {
                    clamped++;
                }
            }
        }

        Assert.That(clamped, Is.LessThan(x.Length / 8), "the clamped bucket is rare");
    }

    [Test]
    public void F16_KnownValues()
    {
        float[] x = [1, -2, 65504, 0.1f, 1e-8f, 65520, float.NaN, float.NegativeInfinity];
        byte[] q = GgmlQuantization.Quantize(GgmlType.F16, x);
        ushort[] bits = Enumerable.Range(0, x.Length).Select(i => BinaryPrimitives.ReadUInt16LittleEndian(q.AsSpan(2 * i))).ToArray();
        Assert.That(bits[..6], Is.EqualTo(new ushort[] { 0x3C00, 0xC000, 0x7BFF, 0x2E66, 0x0000, 0x7C00 }));
        Assert.That(bits[6] & 0x7C00, Is.EqualTo(0x7C00));
        Assert.That(bits[6] & 0x03FF, Is.Not.Zero, "NaN stays NaN");
        Assert.That(bits[7], Is.EqualTo(0xFC00));
        float[] back = GgmlQuantization.Dequantize(GgmlType.F16, q, x.Length);
        Assert.That(back[..3], Is.EqualTo(new float[] { 1, -2, 65504 }));
        Assert.That(float.IsNaN(back[6]), Is.True);
    }

    [Test]
    public void BF16_RoundsToNearestEven_AndKeepsNaN()
    {
        float[] x =
        [
            1f,
            BitConverter.UInt32BitsToSingle(0x3F808000), // tie, even below: stays
            BitConverter.UInt32BitsToSingle(0x3F818000), // tie, odd below: rounds up to even
            BitConverter.UInt32BitsToSingle(0x3F808001), // just above the tie: up
            BitConverter.UInt32BitsToSingle(0x7F800001), // signalling NaN with a low payload only
            float.PositiveInfinity,
            float.MaxValue, // rounds up to infinity, as GGML does
            -0f,
        ];
        byte[] q = GgmlQuantization.Quantize(GgmlType.BF16, x);
        ushort[] bits = Enumerable.Range(0, x.Length).Select(i => BinaryPrimitives.ReadUInt16LittleEndian(q.AsSpan(2 * i))).ToArray();
        Assert.That(bits, Is.EqualTo(new ushort[] { 0x3F80, 0x3F80, 0x3F82, 0x3F81, 0x7FC0, 0x7F80, 0x7F80, 0x8000 }));
        float[] back = GgmlQuantization.Dequantize(GgmlType.BF16, q, x.Length);
        Assert.That(back[0], Is.EqualTo(1f));
        Assert.That(float.IsNaN(back[4]), Is.True);
    }

    [Test]
    public void F32_RoundTripsExactly()
    {
        float[] x = [1.25f, -0f, float.MinValue, float.Epsilon, float.NaN];
        byte[] q = GgmlQuantization.Quantize(GgmlType.F32, x);
        Assert.That(q, Has.Length.EqualTo(20));
        Assert.That(GgmlQuantization.Dequantize(GgmlType.F32, q, 5), Is.EqualTo(x));
    }

    [Test]
    public void Q4_K_KnownBlock()
    {
        var block = new byte[144];
        BinaryPrimitives.WriteHalfLittleEndian(block.AsSpan(0), (Half)1);
        BinaryPrimitives.WriteHalfLittleEndian(block.AsSpan(2), (Half)0.5f);
        // Sub-block 0: scale 2, min 1 (6-bit fields in bytes 0 and 4). Sub-block 4: low 4 bits of scale and min in
        // byte 8 (3 and 2), high 2 bits from the top of bytes 0 and 4 (1 and 0): scale 16+3 = 19, min 2.
        block[4 + 0] = 2 | (1 << 6);
        block[4 + 4] = 1;
        block[4 + 8] = 0x23;
        block[16 + 0] = 0x05; // sub-block 0 (low nibble) element 0 = 5, sub-block 1 (high nibble) element 0 = 0
        block[16 + 65] = 0x0F; // chunk 2 low nibble: sub-block 4, element 1 = 15
        float[] y = GgmlQuantization.Dequantize(GgmlType.Q4_K, block, 256);
        Assert.Multiple(() =>
        {
            Assert.That(y[0], Is.EqualTo((1 * 2 * 5) - (0.5f * 1)));
            Assert.That(y[1], Is.EqualTo(-0.5f));
            Assert.That(y[32], Is.EqualTo(0f));
            Assert.That(y[128], Is.EqualTo(-1f));
            Assert.That(y[129], Is.EqualTo((19 * 15) - (0.5f * 2)));
            Assert.That(y[160], Is.EqualTo(0f));
        });
    }

    [Test]
    public void Q6_K_KnownBlock()
    {
        var block = new byte[210];
        block[0] = 0x0A; // ql: element 0 low 4 bits = 10, element 64 low 4 bits = 0
        block[32] = 0x01; // element 32 low 4 bits = 1
        block[128] = 0x02; // qh: element 0 high bits = 2 (adds 32), elements 32, 64, 96 high bits 0
        block[192 + 0] = 3;
        block[192 + 2] = unchecked((byte)-2);
        block[192 + 4] = 1;
        block[192 + 8] = 1;
        BinaryPrimitives.WriteHalfLittleEndian(block.AsSpan(208), (Half)0.5f);
        float[] y = GgmlQuantization.Dequantize(GgmlType.Q6_K, block, 256);
        Assert.Multiple(() =>
        {
            Assert.That(y[0], Is.EqualTo(0.5f * 3 * 10));
            Assert.That(y[1], Is.EqualTo(0.5f * 3 * -32));
            Assert.That(y[16], Is.EqualTo(0f));
            Assert.That(y[32], Is.EqualTo(0.5f * -2 * -31));
            Assert.That(y[33], Is.EqualTo(0.5f * -2 * -32));
            Assert.That(y[64], Is.EqualTo(0.5f * 1 * -32));
            Assert.That(y[96], Is.EqualTo(0f));
            Assert.That(y[128], Is.EqualTo(0.5f * 1 * -32));
            Assert.That(y[255], Is.EqualTo(0f));
        });
    }

    [Test]
    public void UnsupportedAndInvalidInput()
    {
        Assert.That(() => GgmlQuantization.Quantize(GgmlType.Q4_1, new float[256]),
            Throws.InstanceOf<NotSupportedException>().With.Message.Contains("Q4_1"));
        Assert.That(() => GgmlQuantization.Dequantize(GgmlType.IQ2_XXS, new byte[66], 256),
            Throws.InstanceOf<NotSupportedException>().With.Message.Contains("IQ2_XXS"));
        Assert.That(() => GgmlQuantization.Quantize(GgmlType.Q8_0, new float[33]), Throws.ArgumentException);
        Assert.That(() => GgmlQuantization.Quantize(GgmlType.Q8_0, Enumerable.Repeat(float.NaN, 32).ToArray()), Throws.ArgumentException);
        Assert.That(() => GgmlQuantization.Dequantize(GgmlType.Q8_0, new byte[33], 32), Throws.ArgumentException);
    }

    private static float[] RandomBlocks(Random rng, int blocks)
    {
        var x = new float[32 * blocks];
        for (int b = 0; b < blocks; b++)
        {
            // Vary the magnitude per block so the fp16 scale is exercised from tiny to large.
            float scale = MathF.Pow(10, (float)((rng.NextDouble() * 8) - 4));
            for (int j = 0; j < 32; j++)
            {
                x[(32 * b) + j] = (float)((rng.NextDouble() * 2) - 1) * scale;
            }
        }

        return x;
    }
}
