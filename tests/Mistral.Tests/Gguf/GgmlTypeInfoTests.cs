using Mistral.Gguf;

namespace Mistral.Tests.Gguf;

[TestFixture]
public sealed class GgmlTypeInfoTests
{
    // Block geometry as in ggml-common.h's block structs.
    [TestCase(GgmlType.F32, 1, 4)]
    [TestCase(GgmlType.F16, 1, 2)]
    [TestCase(GgmlType.Q4_0, 32, 18)]
    [TestCase(GgmlType.Q4_1, 32, 20)]
    [TestCase(GgmlType.Q5_0, 32, 22)]
    [TestCase(GgmlType.Q5_1, 32, 24)]
    [TestCase(GgmlType.Q8_0, 32, 34)]
    [TestCase(GgmlType.Q8_1, 32, 36)]
    [TestCase(GgmlType.Q2_K, 256, 84)]
    [TestCase(GgmlType.Q3_K, 256, 110)]
    [TestCase(GgmlType.Q4_K, 256, 144)]
    [TestCase(GgmlType.Q5_K, 256, 176)]
    [TestCase(GgmlType.Q6_K, 256, 210)]
    [TestCase(GgmlType.Q8_K, 256, 292)]
    [TestCase(GgmlType.IQ2_XXS, 256, 66)]
    [TestCase(GgmlType.IQ2_XS, 256, 74)]
    [TestCase(GgmlType.IQ3_XXS, 256, 98)]
    [TestCase(GgmlType.IQ1_S, 256, 50)]
    [TestCase(GgmlType.IQ4_NL, 32, 18)]
    [TestCase(GgmlType.IQ3_S, 256, 110)]
    [TestCase(GgmlType.IQ2_S, 256, 82)]
    [TestCase(GgmlType.IQ4_XS, 256, 136)]
    [TestCase(GgmlType.I8, 1, 1)]
    [TestCase(GgmlType.I16, 1, 2)]
    [TestCase(GgmlType.I32, 1, 4)]
    [TestCase(GgmlType.I64, 1, 8)]
    [TestCase(GgmlType.F64, 1, 8)]
    [TestCase(GgmlType.IQ1_M, 256, 56)]
    [TestCase(GgmlType.BF16, 1, 2)]
    [TestCase(GgmlType.TQ1_0, 256, 54)]
    [TestCase(GgmlType.TQ2_0, 256, 66)]
    [TestCase(GgmlType.MXFP4, 32, 17)]
    public void BlockGeometry(GgmlType type, int size, int bytes)
    {
        Assert.That(GgmlTypeInfo.IsKnown(type), Is.True);
        Assert.That(GgmlTypeInfo.BlockSize(type), Is.EqualTo(size));
        Assert.That(GgmlTypeInfo.BlockBytes(type), Is.EqualTo(bytes));
        Assert.That(GgmlTypeInfo.RowBytes(type, size * 3L), Is.EqualTo(bytes * 3L));
    }

    [Test]
    public void EveryEnumMemberIsKnown() =>
        Assert.That(Enum.GetValues<GgmlType>().All(GgmlTypeInfo.IsKnown), Is.True);

    [TestCase(4u)]
    [TestCase(5u)]
    [TestCase(31u)]
    [TestCase(36u)]
    [TestCase(40u)]
    [TestCase(uint.MaxValue)]
    public void UnknownIds(uint id)
    {
        Assert.That(GgmlTypeInfo.IsKnown((GgmlType)id), Is.False);
        Assert.That(() => GgmlTypeInfo.BlockSize((GgmlType)id), Throws.InstanceOf<ArgumentOutOfRangeException>());
    }

    [Test]
    public void SizesAndErrors()
    {
        Assert.That(GgmlTypeInfo.TensorBytes(GgmlType.Q4_K, [4096, 14336]), Is.EqualTo(4096L / 256 * 144 * 14336));
        Assert.That(GgmlTypeInfo.TensorBytes(GgmlType.F16, [3, 5, 7, 2]), Is.EqualTo(2L * 3 * 5 * 7 * 2));
        Assert.That(() => GgmlTypeInfo.RowBytes(GgmlType.Q8_0, 48), Throws.ArgumentException);
        Assert.That(() => GgmlTypeInfo.RowBytes(GgmlType.F32, -1), Throws.InstanceOf<ArgumentOutOfRangeException>());
        Assert.That(() => GgmlTypeInfo.TensorBytes(GgmlType.F64, [1L << 40, 1L << 40]), Throws.InstanceOf<OverflowException>());
        Assert.That(() => GgmlTypeInfo.TensorBytes(GgmlType.F32, []), Throws.InstanceOf<ArgumentOutOfRangeException>());
    }
}
