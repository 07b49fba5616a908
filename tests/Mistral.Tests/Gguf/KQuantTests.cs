using System.Buffers.Binary;
using Mistral.Gguf;
using Mistral.Interop;

namespace Mistral.Tests.Gguf;

/// <summary>
/// K-quants in C#: <see cref="GgmlQuantization.Dequantize"/> against the native core's reference dequantizer
/// (bit for bit, on arbitrary bytes and on this library's own encodings), and the encoder's round-trip error.
/// </summary>
[TestFixture]
public sealed class KQuantTests
{
    private static readonly GgmlType[] KTypes = [GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K];

    public static IEnumerable<GgmlType> Types => KTypes;

    /// <summary>Where each type keeps its fp16 super-block scale(s).</summary>
    private static int[] HalfOffsets(GgmlType type) => type switch
    {
        GgmlType.Q2_K => [80, 82],
        GgmlType.Q3_K => [108],
        GgmlType.Q4_K or GgmlType.Q5_K => [0, 2],
        _ => [208],
    };

    private static int BlockBytes(GgmlType type) => (int)GgmlTypeInfo.RowBytes(type, 256);

    /// <summary>Random bytes in every field (every scale-packing and high-bit pattern) with finite fp16 scales.</summary>
    private static byte[] RandomBlocks(Random rng, GgmlType type, int blocks)
    {
        var data = new byte[BlockBytes(type) * blocks];
        rng.NextBytes(data);
        for (int b = 0; b < blocks; b++)
        {
            foreach (int offset in HalfOffsets(type))
            {
                float scale = (float)(Math.Pow(10, (rng.NextDouble() * 4) - 4) * (rng.Next(2) == 0 ? 1 : -1));
                BinaryPrimitives.WriteHalfLittleEndian(data.AsSpan((BlockBytes(type) * b) + offset), (Half)scale);
            }
        }

        return data;
    }

    private static unsafe float[] NativeDequantize(GgmlType type, byte[] data, int count)
    {
        var output = new float[count];
        fixed (byte* src = data)
        fixed (float* dst = output)
        {
            mst_status status = NativeMethods.mst_kernel_dequantize((int)type, src, (ulong)data.Length, (ulong)count, dst);
            Assert.That(status, Is.EqualTo(mst_status.MST_OK), $"native dequantize of {type}");
        }

        return output;
    }

    private static void AssertBitIdentical(float[] expected, float[] actual, string what)
    {
        Assert.That(actual, Has.Length.EqualTo(expected.Length));
        for (int i = 0; i < expected.Length; i++)
        {
            if (BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual[i]))
            {
                Assert.Fail($"{what}: value {i} is {actual[i]:R} in C#, {expected[i]:R} natively");
            }
        }
    }

    [TestCaseSource(nameof(Types))]
    public void Dequantize_matches_the_native_core_bit_for_bit_on_random_bytes(GgmlType type)
    {
        var rng = new Random(100 + (int)type);
        const int blocks = 64;
        byte[] data = RandomBlocks(rng, type, blocks);
        AssertBitIdentical(NativeDequantize(type, data, 256 * blocks),
            GgmlQuantization.Dequantize(type, data, 256 * blocks), $"{type} random bytes");
    }

    [TestCaseSource(nameof(Types))]
    public void Quantized_bytes_decode_identically_in_CSharp_and_natively(GgmlType type)
    {
        float[] x = TestData(new Random(7 + (int)type), 16);
        byte[] data = GgmlQuantization.Quantize(type, x);
        Assert.That(data, Has.Length.EqualTo(BlockBytes(type) * 16));
        AssertBitIdentical(NativeDequantize(type, data, x.Length), GgmlQuantization.Dequantize(type, data, x.Length),
            $"{type} encoded");
    }

    /// <summary>
    /// Asserted per weight: |x − w| ≤ ½·step + (L−1)·½·d + ½·dmin, with step the sub-block's unrounded step
    /// (range/(L−1) for the min/scale types, amax/qmax for the symmetric ones), L its number of levels above the
    /// lowest used (L−1 = 3, 15, 31 for Q2_K, Q4_K, Q5_K; qmax = 3, 31 for Q3_K, Q6_K), d and dmin the super-block's
    /// fp16 units of scale and min. Why: rounding to the nearest level costs at most half a step; rounding the
    /// sub-block scale to a whole multiple of d moves the top level by at most (L−1)·d/2, rounding the min by dmin/2.
    /// Plus 0.2% for fp16 rounding of d. Also asserted: the mean error is at most 0.3 of the mean step (uniform
    /// rounding error averages a quarter step), so an encoder that wastes levels fails even inside the bound.
    /// </summary>
    [TestCaseSource(nameof(Types))]
    public void Round_trip_error_is_within_half_a_step_plus_scale_rounding(GgmlType type)
    {
        const int blocks = 32;
        float[] x = TestData(new Random(11 + (int)type), blocks);
        byte[] data = GgmlQuantization.Quantize(type, x);
        float[] w = GgmlQuantization.Dequantize(type, data, x.Length);
        bool symmetric = type is GgmlType.Q3_K or GgmlType.Q6_K;
        int sub = type is GgmlType.Q4_K or GgmlType.Q5_K ? 32 : 16;
        int top = type switch { GgmlType.Q2_K => 3, GgmlType.Q3_K => 3, GgmlType.Q4_K => 15, GgmlType.Q5_K => 31, _ => 31 };
        int scaleMax = type switch { GgmlType.Q2_K => 15, GgmlType.Q3_K => 31, GgmlType.Q6_K => 127, _ => 63 };
        double sumErr = 0, sumStep = 0, worst = 0;
        for (int b = 0; b < blocks; b++)
        {
            var steps = new double[256 / sub];
            double maxStep = 0, maxOffset = 0;
            for (int s = 0; s < steps.Length; s++)
            {
                ReadOnlySpan<float> v = x.AsSpan((256 * b) + (sub * s), sub);
                double lo = Math.Min(0, Min(v)), hi = Max(v), amax = Math.Max(-Min(v), Max(v));
                steps[s] = symmetric ? amax / top : (hi - lo) / top;
                maxStep = Math.Max(maxStep, steps[s]);
                maxOffset = Math.Max(maxOffset, -lo);
            }

            double d = maxStep / scaleMax * 1.002, dmin = symmetric ? 0 : maxOffset / scaleMax * 1.002;
            for (int i = 0; i < 256; i++)
            {
                int k = (256 * b) + i;
                double step = steps[i / sub];
                double bound = (0.5 * step) + (top * 0.5 * d) + (0.5 * dmin) + 1e-7;
                double err = Math.Abs(x[k] - w[k]);
                Assert.That(err, Is.LessThanOrEqualTo(bound), $"{type} block {b} weight {i}: {x[k]} -> {w[k]}");
                sumErr += err;
                sumStep += step;
                worst = Math.Max(worst, err / step);
            }
        }

        TestContext.Out.WriteLine($"{type}: mean error {sumErr / x.Length:G3}, mean step {sumStep / x.Length:G3}, worst {worst:F2} steps");
        Assert.That(sumErr, Is.LessThanOrEqualTo(0.3 * sumStep), $"{type}: mean error too large for the step");
    }

    [TestCaseSource(nameof(Types))]
    public void Zero_block_encodes_to_zeros(GgmlType type)
    {
        byte[] data = GgmlQuantization.Quantize(type, new float[256]);
        Assert.That(GgmlQuantization.Dequantize(type, data, 256), Is.All.Zero);
    }

    [Test]
    public void Q4_K_scales_of_sub_blocks_4_to_7_use_the_borrowed_top_bits()
    {
        // Sub-block 7 spans 0..63·15 with step 63 (needs all 6 scale bits, 2 of them borrowed from byte 3); the
        // others span 0..15 (scale 1). d = 63/63 = 1, every value is exactly a level, so the round trip is exact.
        var x = new float[256];
        for (int i = 0; i < 256; i++)
        {
            x[i] = i >= 224 ? 63 * (i % 16) : i % 16;
        }

        byte[] data = GgmlQuantization.Quantize(GgmlType.Q4_K, x);
        Assert.That(BinaryPrimitives.ReadHalfLittleEndian(data) == (Half)1, "d");
        Assert.That(data[4 + 11] & 0x0F, Is.EqualTo(63 & 15), "low bits of scale 7 in byte 11");
        Assert.That(data[4 + 3] >> 6, Is.EqualTo(63 >> 4), "top bits of scale 7 in byte 3");
        Assert.That(GgmlQuantization.Dequantize(GgmlType.Q4_K, data, 256), Is.EqualTo(x));
    }

    [Test]
    public void Q6_K_round_trips_whole_steps_of_both_signs()
    {
        // Every 16-weight sub-block holds −31, −27, …, 29: amax 31, step 1, d = fp16(1/127), sc = 127, so each value
        // is level x of a step within 2^-11 of 1: back within 31·2^-11 ≈ 0.015.
        var x = new float[256];
        for (int i = 0; i < 256; i++)
        {
            x[i] = (4 * (i % 16)) - 31;
        }

        float[] back = GgmlQuantization.Dequantize(GgmlType.Q6_K, GgmlQuantization.Quantize(GgmlType.Q6_K, x), 256);
        for (int i = 0; i < 256; i++)
        {
            Assert.That(back[i], Is.EqualTo(x[i]).Within(1e-3 * 31), $"weight {i}");
        }
    }

    /// <summary>Per super-block: a random asymmetric range, every fourth block all positive, one block with an outlier.</summary>
    private static float[] TestData(Random rng, int blocks)
    {
        var x = new float[256 * blocks];
        for (int b = 0; b < blocks; b++)
        {
            double lo = -Math.Pow(10, (rng.NextDouble() * 3) - 2), hi = Math.Pow(10, (rng.NextDouble() * 3) - 2);
            if (b % 4 == 3)
            {
                lo = hi / 4;
            }

            for (int i = 0; i < 256; i++)
            {
                x[(256 * b) + i] = (float)(lo + (rng.NextDouble() * (hi - lo)));
            }
        }

        x[(256 * (blocks / 2)) + 17] *= 40;
        return x;
    }

    private static double Min(ReadOnlySpan<float> v)
    {
        float m = float.MaxValue;
        foreach (float f in v)
        {
            m = MathF.Min(m, f);
        }

        return m;
    }

    private static double Max(ReadOnlySpan<float> v)
    {
        float m = float.MinValue;
        foreach (float f in v)
        {
            m = MathF.Max(m, f);
        }

        return m;
    }
}
