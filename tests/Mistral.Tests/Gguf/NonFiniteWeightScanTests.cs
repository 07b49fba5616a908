using System.Buffers.Binary;
using Mistral.Gguf;
using Mistral.Tests.Support;

namespace Mistral.Tests.Gguf;

/// <summary>
/// The weight scan reads only float16 scales of quantized blocks: for each type, a NaN/Inf written at the offset the
/// scan checks must be one that makes the block decode to non-finite weights (checked with the dequantizer), and
/// the scan must find exactly that block; a clean tensor must pass.
/// </summary>
[TestFixture]
public class NonFiniteWeightScanTests
{
    private static readonly (GgmlType Type, int BlockBytes, int BlockValues, int[] ScaleAt)[] Layouts =
    [
        (GgmlType.Q4_0, 18, 32, [0]), (GgmlType.Q8_0, 34, 32, [0]),
        (GgmlType.Q2_K, 84, 256, [80, 82]), (GgmlType.Q3_K, 110, 256, [108]), (GgmlType.Q4_K, 144, 256, [0, 2]),
        (GgmlType.Q5_K, 176, 256, [0, 2]), (GgmlType.Q6_K, 210, 256, [208]), (GgmlType.F16, 2, 1, [0]),
    ];

    private static IEnumerable<TestCaseData> Cases() =>
        from l in Layouts from at in l.ScaleAt from bits in new ushort[] { 0x7E00, 0x7C00, 0xFC00 }
        select new TestCaseData(l.Type, l.BlockBytes, l.BlockValues, at, bits).SetArgDisplayNames(l.Type.ToString(), $"scale@{at}", $"0x{bits:X4}");

    [TestCaseSource(nameof(Cases))]
    public void A_non_finite_scale_is_found_in_its_block_and_really_poisons_it(GgmlType type, int blockBytes, int blockValues, int scaleAt, ushort bits)
    {
        const int blocks = 6, bad = 4;
        var random = new Random(5);
        var values = Enumerable.Range(0, blocks * blockValues).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        var data = GgmlQuantization.Quantize(type, values);
        Assert.That(data, Has.Length.EqualTo(blocks * blockBytes));
        using var dir = new TempDir();
        Assert.That(Scan(dir, type, data, blocks * blockValues), Is.Null, "a clean tensor passes");

        BinaryPrimitives.WriteUInt16LittleEndian(data.AsSpan(bad * blockBytes + scaleAt), bits);
        var decoded = GgmlQuantization.Dequantize(type, data, values.Length);
        Assert.That(decoded.AsSpan(bad * blockValues, blockValues).ToArray().Any(v => !float.IsFinite(v)), Is.True,
            "the planted value is a scale: its block decodes to NaN/Inf");
        Assert.That(decoded.Where((_, i) => i / blockValues != bad).All(float.IsFinite), Is.True, "and only its block");
        Assert.That(Scan(dir, type, data, blocks * blockValues), Is.EqualTo((type == GgmlType.F16 ? "element" : "block", (long)bad)));
    }

    [TestCase(GgmlType.F32)]
    [TestCase(GgmlType.BF16)]
    public void A_non_finite_float_element_is_found(GgmlType type)
    {
        var values = Enumerable.Range(0, 100).Select(i => i * 0.5f).ToArray();
        values[37] = float.NegativeInfinity;
        var data = GgmlQuantization.Quantize(type, values);
        using var dir = new TempDir();
        Assert.That(Scan(dir, type, data, values.Length), Is.EqualTo(("element", 37L)));
    }

    private static (string, long)? Scan(TempDir dir, GgmlType type, byte[] data, long count)
    {
        var path = dir.File($"t-{Guid.NewGuid():N}.gguf");
        var writer = new GgufWriter();
        writer.Add("general.architecture", "llama");
        writer.AddTensor("w", type, [count], data);
        writer.Save(path);
        using var file = GgufFile.Open(path);
        return NonFiniteWeightScan.Find(file, file.Tensors[0]);
    }
}
