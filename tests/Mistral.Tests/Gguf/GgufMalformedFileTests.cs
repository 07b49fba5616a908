using Mistral.Gguf;

namespace Mistral.Tests.Gguf;

/// <summary>
/// Every way a GGUF file can be broken must surface as a <see cref="GgufFormatException"/> that names the file,
/// the byte offset and the problem; never as another exception type, a crash or a huge allocation.
/// </summary>
[TestFixture]
public sealed class GgufMalformedFileTests
{
    private const uint F32 = (uint)GgmlType.F32;
    private const ulong Huge = 1UL << 60;

    private TempDirectory _dir = null!;

    [OneTimeSetUp]
    public void SetUp() => _dir = new TempDirectory();

    [OneTimeTearDown]
    public void TearDown() => _dir.Dispose();

    private GgufFormatException Fails(RawGguf raw, string expected) => Fails(raw.ToArray(), expected);

    private GgufFormatException Fails(byte[] bytes, string expected)
    {
        string path = _dir.Write(bytes);
        GgufFormatException ex = Assert.Throws<GgufFormatException>(() => GgufFile.Open(path).Dispose())!;
        Assert.Multiple(() =>
        {
            Assert.That(ex.Message, Does.Contain(expected).IgnoreCase);
            Assert.That(ex.Message, Does.Contain(path));
            Assert.That(ex.FilePath, Is.EqualTo(Path.GetFullPath(path)));
            Assert.That(ex.Offset, Is.Not.Null.And.InRange(0L, (long)bytes.Length));
            Assert.That(ex.Message, Does.Contain($"offset {ex.Offset}"));
        });
        return ex;
    }

    private static byte[] SmallValidFile()
    {
        var w = new GgufWriter();
        w.Add("general.architecture", "llama");
        w.Add("count", 7u);
        w.Add("tokens", new[] { "<s>", "ä" });
        w.Add("nested", GgufValue.FromArray(new[] { GgufValue.FromArray(new[] { 1.5f }) }));
        w.Add("flag", true);
        w.AddTensor("a", GgmlType.F32, [3], new byte[12]);
        w.AddTensor("b", GgmlType.Q8_0, [32], Enumerable.Range(0, 34).Select(i => (byte)i).ToArray());
        w.AddTensor("c", GgmlType.F16, [16], new byte[32]); // a multiple of 32 bytes: no trailing padding
        using var ms = new MemoryStream();
        w.WriteTo(ms);
        return ms.ToArray();
    }

    [Test]
    public void SmallValidFile_Opens()
    {
        string path = _dir.Write(SmallValidFile());
        using GgufFile f = GgufFile.Open(path);
        Assert.That(f.Tensors, Has.Count.EqualTo(3));
        Assert.That(f.GetTensorBytes(f.FindTensor("b")!)[33], Is.EqualTo(33));
    }

    [Test]
    public void TruncatedAtEveryByte_Fails()
    {
        byte[] full = SmallValidFile();
        for (int length = 0; length < full.Length; length++)
        {
            string path = _dir.Write(full[..length], "truncated");
            try
            {
                using GgufFile f = GgufFile.Open(path);
                Assert.Fail($"A file truncated to {length} of {full.Length} bytes opened without error.");
            }
            catch (GgufFormatException e)
            {
                Assert.That(e.FilePath, Is.EqualTo(path));
                Assert.That(e.Offset, Is.Not.Null);
            }
            finally
            {
                File.Delete(path);
            }
        }
    }

    [Test]
    public void RandomCorruption_OnlyEverThrowsGgufFormatException()
    {
        // Flip random bytes (mostly in the header and directory, where the structure lives) and require that every
        // outcome is either a successful open or a GgufFormatException.
        byte[] full = SmallValidFile();
        var rng = new Random(2024);
        int failures = 0;
        for (int trial = 0; trial < 1500; trial++)
        {
            byte[] bytes = (byte[])full.Clone();
            int flips = rng.Next(1, 4);
            for (int k = 0; k < flips; k++)
            {
                int at = rng.Next(0, Math.Min(bytes.Length, 400));
                bytes[at] = rng.Next(3) switch { 0 => 0xFF, 1 => 0x00, _ => (byte)rng.Next(256) };
            }

            string path = _dir.Write(bytes, "fuzz");
            try
            {
                using GgufFile f = GgufFile.Open(path);
                foreach (GgufTensorInfo t in f.Tensors)
                {
                    _ = f.GetTensorBytes(t).Length;
                }
            }
            catch (GgufFormatException e)
            {
                failures++;
                Assert.That(e.Offset, Is.Not.Null.And.InRange(0L, (long)bytes.Length));
            }
            finally
            {
                File.Delete(path);
            }
        }

        Assert.That(failures, Is.GreaterThan(100), "most corruptions are detected");
    }

    [Test]
    public void EmptyFile() => Fails([], "empty");

    [TestCase("GGML")]
    [TestCase("GGJT")]
    [TestCase("gguf")]
    public void BadMagic(string magic) =>
        Fails(new RawGguf().Bytes(System.Text.Encoding.ASCII.GetBytes(magic)).U32(3).U64(0).U64(0), "magic");

    [TestCase(1u, "version 1")]
    [TestCase(99u, "version 99")]
    [TestCase(0u, "version 0")]
    [TestCase(0x03000000u, "big-endian")]
    public void UnsupportedVersion(uint version, string expected) =>
        Fails(new RawGguf().Header(0, 0, version), expected);

    [Test]
    public void AbsurdKvCount() => Fails(new RawGguf().Header(0, Huge).Zeros(64), "cannot fit");

    [Test]
    public void AbsurdTensorCount() => Fails(new RawGguf().Header(Huge, 0).Zeros(64), "cannot fit");

    [Test]
    public void MaxCounts() => Fails(new RawGguf().Header(ulong.MaxValue, ulong.MaxValue), "cannot fit");

    [Test]
    public void AbsurdStringLength() => Fails(new RawGguf().Header(0, 1).U64(Huge).Zeros(64), "string length");

    [Test]
    public void AbsurdArrayCount() =>
        Fails(new RawGguf().Header(0, 1).Str("arr").U32(9).U32(4).U64(Huge).Zeros(64), "cannot fit");

    [Test]
    public void StringArrayCountJustTooLarge()
    {
        // 10 elements need at least 80 bytes of length prefixes; only 72 remain.
        var ex = Fails(new RawGguf().Header(0, 1).Str("arr").U32(9).U32(8).U64(10).Zeros(72), "cannot fit");
        Assert.That(ex.Offset, Is.EqualTo(24 + 8 + 3 + 4 + 4));
    }

    [Test]
    public void NestedArrayCountAbsurd() =>
        Fails(new RawGguf().Header(0, 1).Str("arr").U32(9).U32(9).U64(1).U32(9).U64(Huge), "cannot fit");

    [Test]
    public void UnknownValueType()
    {
        var ex = Fails(new RawGguf().Header(0, 1).Str("key").U32(13).U32(0), "unknown value type 13");
        Assert.That(ex.Offset, Is.EqualTo(24 + 8 + 3));
    }

    [Test]
    public void UnknownArrayElementType() =>
        Fails(new RawGguf().Header(0, 1).Str("key").U32(9).U32(77).U64(0), "unknown value type 77");

    [Test]
    public void NestingTooDeep()
    {
        var raw = new RawGguf().Header(0, 1).Str("deep").U32(9);
        for (int i = 0; i < GgufValue.MaxNestingDepth; i++)
        {
            raw.U32(9).U64(1);
        }

        raw.U32(4).U64(0);
        Fails(raw, "nests arrays more than 8");
    }

    [Test]
    public void NestingAtTheLimit_Opens()
    {
        var raw = new RawGguf().Header(0, 1).Str("deep").U32(9);
        for (int i = 0; i < GgufValue.MaxNestingDepth - 1; i++)
        {
            raw.U32(9).U64(1);
        }

        raw.U32(4).U64(0);
        using GgufFile f = GgufFile.Open(_dir.Write(raw.ToArray()));
        Assert.That(f.Metadata["deep"].ElementType, Is.EqualTo(GgufValueType.Array));
    }

    [Test]
    public void InvalidBoolean() => Fails(new RawGguf().Header(0, 1).Str("flag").U32(7).U8(2), "Boolean");

    [TestCase(new byte[] { 0xC3, 0x28 })]
    [TestCase(new byte[] { 0xC0, 0x80 })] // overlong NUL
    [TestCase(new byte[] { 0xED, 0xA0, 0x80 })] // UTF-16 surrogate encoded as UTF-8
    [TestCase(new byte[] { 0x61, 0xFF })]
    public void InvalidUtf8Key(byte[] key) =>
        Fails(new RawGguf().Header(0, 1).RawStr(key).U32(4).U32(0), "Invalid UTF-8");

    [Test]
    public void InvalidUtf8StringValue() =>
        Fails(new RawGguf().Header(0, 1).Str("k").U32(8).RawStr([0x80]), "Invalid UTF-8");

    [Test]
    public void InvalidUtf8TensorName() =>
        Fails(new RawGguf().Header(1, 0).RawStr([0xFE]).U32(1).U64(1).U32(F32).U64(0).Pad().Zeros(32), "Invalid UTF-8");

    [Test]
    public void DuplicateKey()
    {
        var ex = Fails(new RawGguf().Header(0, 2).KvU32("k", 1).KvU32("k", 2), "Duplicate metadata key 'k'");
        Assert.That(ex.Offset, Is.EqualTo(24 + 8 + 1 + 4 + 4));
    }

    [Test]
    public void DuplicateTensorName() =>
        Fails(new RawGguf().Header(2, 0).TensorInfo("t", F32, 0, 8).TensorInfo("t", F32, 32, 8).Pad().Zeros(64),
            "Duplicate tensor name 't'");

    [TestCase(0u, "nonzero power of two")]
    [TestCase(3u, "nonzero power of two")]
    [TestCase(48u, "nonzero power of two")]
    public void BadAlignmentValue(uint alignment, string expected) =>
        Fails(new RawGguf().Header(0, 1).KvU32("general.alignment", alignment), expected);

    [Test]
    public void AlignmentOfWrongType() =>
        Fails(new RawGguf().Header(0, 1).Str("general.alignment").U32(5).U32(64), "must be a UInt32");

    [Test]
    public void AlignmentAsString() =>
        Fails(new RawGguf().Header(0, 1).KvString("general.alignment", "32"), "must be a UInt32");

    [TestCase(0)]
    [TestCase(5)]
    public void BadDimensionCount(int nDims) =>
        Fails(new RawGguf().Header(1, 0).TensorInfo("t", F32, 0, Enumerable.Repeat(1UL, nDims).ToArray()).Pad().Zeros(32),
            $"{nDims} dimensions");

    [Test]
    public void ZeroDimension() =>
        Fails(new RawGguf().Header(1, 0).TensorInfo("t", F32, 0, 4, 0).Pad().Zeros(32), "Dimension 1 of tensor 't' is 0");

    [Test]
    public void DimensionProductOverflows() =>
        Fails(new RawGguf().Header(1, 0).TensorInfo("t", F32, 0, 1UL << 31, 1UL << 31, 1UL << 31).Pad().Zeros(32),
            "too large");

    [Test]
    public void HugeSingleDimension() =>
        Fails(new RawGguf().Header(1, 0).TensorInfo("t", F32, 0, ulong.MaxValue).Pad().Zeros(32), "too large");

    [Test]
    public void ByteSizeOverflows() =>
        Fails(new RawGguf().Header(1, 0).TensorInfo("t", (uint)GgmlType.F64, 0, 1UL << 62).Pad().Zeros(32),
            "overflows");

    [TestCase(4u)]
    [TestCase(31u)]
    [TestCase(40u)]
    [TestCase(0xFFFFFFFFu)]
    public void UnknownTensorType(uint type) =>
        Fails(new RawGguf().Header(1, 0).TensorInfo("t", type, 0, 32).Pad().Zeros(256), $"unknown ggml type id {type}");

    [Test]
    public void RowNotAMultipleOfTheBlockSize() =>
        Fails(new RawGguf().Header(1, 0).TensorInfo("t", (uint)GgmlType.Q4_0, 0, 16, 2).Pad().Zeros(64),
            "not a multiple of the block size 32");

    [Test]
    public void DataRunsPastTheEnd()
    {
        var ex = Fails(new RawGguf().Header(1, 0).TensorInfo("blk.0.attn_q.weight", F32, 0, 1024).Pad().Zeros(16),
            "runs past the end of the file");
        Assert.That(ex.Message, Does.Contain("'blk.0.attn_q.weight'").And.Contain("4096 bytes"));
    }

    [Test]
    public void OffsetPastTheEnd() =>
        Fails(new RawGguf().Header(1, 0).TensorInfo("t", F32, 1UL << 63, 8).Pad().Zeros(32), "runs past the end");

    [Test]
    public void MisalignedOffset() =>
        Fails(new RawGguf().Header(1, 0).TensorInfo("t", F32, 4, 4).Pad().Zeros(64), "not a multiple of the alignment 32");

    [Test]
    public void MisalignedForCustomAlignment() =>
        Fails(new RawGguf().Header(1, 1).KvU32("general.alignment", 64).TensorInfo("t", F32, 32, 4).Pad(64).Zeros(128),
            "not a multiple of the alignment 64");

    [Test]
    public void OverlappingTensors() =>
        Fails(new RawGguf().Header(2, 0).TensorInfo("a", F32, 32, 16).TensorInfo("b", F32, 0, 16).Pad().Zeros(128),
            "overlaps");

    [Test]
    public void DataSectionMissing() =>
        Fails(new RawGguf().Header(1, 0).TensorInfo("t", F32, 0, 1), "past the end of the file");

    [Test]
    public void CustomAlignment_HandCrafted_Opens()
    {
        // The data section starts at the next multiple of general.alignment after the directory.
        var raw = new RawGguf().Header(1, 1).KvU32("general.alignment", 128).TensorInfo("t", F32, 0, 2).Pad(128);
        long dataOffset = raw.Length;
        raw.F32(1.5f).F32(-2f);
        using GgufFile f = GgufFile.Open(_dir.Write(raw.ToArray()));
        Assert.That(f.Alignment, Is.EqualTo(128u));
        Assert.That(f.DataOffset, Is.EqualTo(dataOffset));
        Assert.That(GgmlQuantization.Dequantize(GgmlType.F32, f.GetTensorBytes(f.Tensors[0]), 2), Is.EqualTo(new[] { 1.5f, -2f }));
    }
}
