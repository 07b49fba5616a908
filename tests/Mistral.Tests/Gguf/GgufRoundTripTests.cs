using Mistral.Gguf;

namespace Mistral.Tests.Gguf;

[TestFixture]
public sealed class GgufRoundTripTests
{
    private TempDirectory _dir = null!;

    [OneTimeSetUp]
    public void SetUp() => _dir = new TempDirectory();

    [OneTimeTearDown]
    public void TearDown() => _dir.Dispose();

    private GgufFile WriteAndOpen(GgufWriter writer)
    {
        string path = _dir.NewFile("roundtrip");
        writer.Save(path);
        return GgufFile.Open(path);
    }

    private static GgufWriter WriterWithEveryType(uint version, uint alignment = 32)
    {
        var w = new GgufWriter(version, alignment);
        w.Add("u8", GgufValue.From((byte)250));
        w.Add("i8", GgufValue.From((sbyte)-120));
        w.Add("u16", GgufValue.From((ushort)65000));
        w.Add("i16", GgufValue.From((short)-32000));
        w.Add("u32", 4_000_000_000u);
        w.Add("i32", -2_000_000_000);
        w.Add("f32", 3.25f);
        w.Add("bool.true", true);
        w.Add("bool.false", false);
        w.Add("string", "héllo wörld ✓ 𝄞 日本語");
        w.Add("string.empty", "");
        w.Add("u64", ulong.MaxValue);
        w.Add("i64", GgufValue.From(long.MinValue));
        w.Add("f64", GgufValue.From(Math.PI));
        w.Add("arr.u8", GgufValue.FromArray(new byte[] { 0, 1, 255 }));
        w.Add("arr.i8", GgufValue.FromArray(new sbyte[] { -128, 0, 127 }));
        w.Add("arr.u16", GgufValue.FromArray(new ushort[] { 0, 65535 }));
        w.Add("arr.i16", GgufValue.FromArray(new short[] { short.MinValue, short.MaxValue }));
        w.Add("arr.u32", GgufValue.FromArray(new uint[] { 7, uint.MaxValue }));
        w.Add("arr.i32", new[] { -1, 0, int.MaxValue });
        w.Add("arr.f32", new[] { 1.5f, float.NegativeInfinity, float.Epsilon });
        w.Add("arr.bool", GgufValue.FromArray(new[] { true, false, true }));
        w.Add("arr.string", new[] { "a", "", "ünïcödé", "<0x0A>" });
        w.Add("arr.u64", GgufValue.FromArray(new ulong[] { ulong.MaxValue }));
        w.Add("arr.i64", GgufValue.FromArray(new long[] { long.MinValue, 5 }));
        w.Add("arr.f64", GgufValue.FromArray(new[] { -0.0, double.MaxValue }));
        w.Add("arr.empty.f32", Array.Empty<float>());
        w.Add("arr.empty.string", Array.Empty<string>());
        w.Add("arr.nested", GgufValue.FromArray(new[]
        {
            GgufValue.FromArray(new[] { 1, 2, 3 }),
            GgufValue.FromArray(new[] { "x", "y" }),
            GgufValue.FromArray(Array.Empty<byte>()),
            GgufValue.FromArray(new[] { GgufValue.FromArray(new[] { 9.5f }) }),
        }));
        w.Add("arr.nested.empty", GgufValue.FromArray(Array.Empty<GgufValue>()));
        return w;
    }

    [TestCase(2u)]
    [TestCase(3u)]
    public void EveryValueType_RoundTrips(uint version)
    {
        using GgufFile f = WriteAndOpen(WriterWithEveryType(version));
        Assert.Multiple(() =>
        {
            Assert.That(f.Version, Is.EqualTo(version));
            Assert.That(f.Alignment, Is.EqualTo(32u));
            Assert.That(f.Tensors, Is.Empty);
            Assert.That(f.Metadata.ContainsKey("general.alignment"), Is.False, "default alignment is not written");
            Assert.That(f.Metadata["u8"].Value, Is.EqualTo((byte)250));
            Assert.That(f.Metadata["u8"].Type, Is.EqualTo(GgufValueType.UInt8));
            Assert.That(f.Metadata["i8"].Value, Is.EqualTo((sbyte)-120));
            Assert.That(f.Metadata["u16"].Value, Is.EqualTo((ushort)65000));
            Assert.That(f.Metadata["i16"].Value, Is.EqualTo((short)-32000));
            Assert.That(f.GetUInt32("u32"), Is.EqualTo(4_000_000_000u));
            Assert.That(f.GetInt32("i32"), Is.EqualTo(-2_000_000_000));
            Assert.That(f.GetSingle("f32"), Is.EqualTo(3.25f));
            Assert.That(f.GetBoolean("bool.true"), Is.True);
            Assert.That(f.GetBoolean("bool.false"), Is.False);
            Assert.That(f.GetString("string"), Is.EqualTo("héllo wörld ✓ 𝄞 日本語"));
            Assert.That(f.GetString("string.empty"), Is.EqualTo(""));
            Assert.That(f.GetUInt64("u64"), Is.EqualTo(ulong.MaxValue));
            Assert.That(f.Metadata["i64"].AsInt64(), Is.EqualTo(long.MinValue));
            Assert.That(f.Metadata["f64"].Value, Is.EqualTo(Math.PI));
            Assert.That(f.Metadata["f64"].AsSingle(), Is.EqualTo((float)Math.PI));
            Assert.That(f.GetArray<byte>("arr.u8"), Is.EqualTo(new byte[] { 0, 1, 255 }));
            Assert.That(f.GetArray<sbyte>("arr.i8"), Is.EqualTo(new sbyte[] { -128, 0, 127 }));
            Assert.That(f.GetArray<ushort>("arr.u16"), Is.EqualTo(new ushort[] { 0, 65535 }));
            Assert.That(f.GetArray<short>("arr.i16"), Is.EqualTo(new short[] { short.MinValue, short.MaxValue }));
            Assert.That(f.GetArray<uint>("arr.u32"), Is.EqualTo(new uint[] { 7, uint.MaxValue }));
            Assert.That(f.GetArray<int>("arr.i32"), Is.EqualTo(new[] { -1, 0, int.MaxValue }));
            Assert.That(f.GetArray<float>("arr.f32"), Is.EqualTo(new[] { 1.5f, float.NegativeInfinity, float.Epsilon }));
            Assert.That(f.GetArray<bool>("arr.bool"), Is.EqualTo(new[] { true, false, true }));
            Assert.That(f.GetArray<string>("arr.string"), Is.EqualTo(new[] { "a", "", "ünïcödé", "<0x0A>" }));
            Assert.That(f.GetArray<ulong>("arr.u64"), Is.EqualTo(new[] { ulong.MaxValue }));
            Assert.That(f.GetArray<long>("arr.i64"), Is.EqualTo(new[] { long.MinValue, 5L }));
            Assert.That(f.GetArray<double>("arr.f64"), Is.EqualTo(new[] { -0.0, double.MaxValue }));
            Assert.That(f.GetArray<float>("arr.empty.f32"), Is.Empty);
            Assert.That(f.Metadata["arr.empty.f32"].ElementType, Is.EqualTo(GgufValueType.Float32));
            Assert.That(f.GetArray<string>("arr.empty.string"), Is.Empty);
            Assert.That(f.Metadata["arr.empty.string"].ElementType, Is.EqualTo(GgufValueType.String));
        });

        GgufValue nested = f.Metadata["arr.nested"];
        Assert.That(nested.ElementType, Is.EqualTo(GgufValueType.Array));
        GgufValue[] inner = nested.AsArray<GgufValue>();
        Assert.Multiple(() =>
        {
            Assert.That(inner, Has.Length.EqualTo(4));
            Assert.That(inner[0].AsArray<int>(), Is.EqualTo(new[] { 1, 2, 3 }));
            Assert.That(inner[1].AsArray<string>(), Is.EqualTo(new[] { "x", "y" }));
            Assert.That(inner[2].ElementType, Is.EqualTo(GgufValueType.UInt8));
            Assert.That(inner[2].ArrayLength, Is.Zero);
            Assert.That(inner[3].AsArray<GgufValue>()[0].AsArray<float>(), Is.EqualTo(new[] { 9.5f }));
            Assert.That(f.Metadata["arr.nested.empty"].ArrayLength, Is.Zero);
            Assert.That(f.Metadata["arr.nested.empty"].ElementType, Is.EqualTo(GgufValueType.Array));
        });
    }

    [Test]
    public void Metadata_EnumeratesInFileOrder()
    {
        var w = new GgufWriter();
        string[] keys = ["zeta", "alpha", "mid", "general.name", "b"];
        foreach (string k in keys)
        {
            w.Add(k, k.Length);
        }

        using GgufFile f = WriteAndOpen(w);
        Assert.That(f.Metadata.Select(p => p.Key), Is.EqualTo(keys));
        Assert.That(f.Metadata.Keys, Is.EqualTo(keys));
        Assert.That(f.Metadata.Count, Is.EqualTo(keys.Length));
    }

    [Test]
    public void TypedGetters_ConvertIntegersAndRejectWrongTypes()
    {
        var w = new GgufWriter();
        w.Add("small", GgufValue.From((byte)7));
        w.Add("negative", -1);
        w.Add("big", ulong.MaxValue);
        w.Add("name", "llama");
        w.Add("ints", new[] { 1, 2 });
        w.Add("uints", GgufValue.FromArray(new uint[] { 1, uint.MaxValue }));
        using GgufFile f = WriteAndOpen(w);
        Assert.Multiple(() =>
        {
            Assert.That(f.GetUInt32("small"), Is.EqualTo(7u));
            Assert.That(f.GetSingle("small"), Is.EqualTo(7f));
            Assert.That(f.GetString("absent"), Is.Null);
            Assert.That(f.GetUInt32("absent"), Is.Null);
            Assert.That(f.GetArray<int>("absent"), Is.Null);
            Assert.That(f.GetBoolean("absent"), Is.Null);
            Assert.That(f.GetArray<long>("ints"), Is.EqualTo(new[] { 1L, 2L }), "integer arrays widen");
            Assert.That(f.TryGetValue("name", out GgufValue v) && v.AsString() == "llama", Is.True);
        });

        Assert.That(() => f.GetUInt32("negative"),
            Throws.InstanceOf<GgufFormatException>().With.Message.Contains("'negative'").And.Message.Contains("does not fit"));
        Assert.That(() => f.GetInt32("big"), Throws.InstanceOf<GgufFormatException>().With.Message.Contains("'big'"));
        Assert.That(() => f.GetString("small"),
            Throws.InstanceOf<GgufFormatException>().With.Message.Contains("'small'").And.Message.Contains("string"));
        Assert.That(() => f.GetUInt32("name"), Throws.InstanceOf<GgufFormatException>().With.Message.Contains("'name'"));
        Assert.That(() => f.GetBoolean("name"), Throws.InstanceOf<GgufFormatException>().With.Message.Contains("'name'"));
        Assert.That(() => f.GetArray<string>("ints"),
            Throws.InstanceOf<GgufFormatException>().With.Message.Contains("'ints'").And.Message.Contains("Int32"));
        Assert.That(() => f.GetArray<int>("uints"),
            Throws.InstanceOf<GgufFormatException>().With.Message.Contains("'uints'"), "uint.MaxValue does not fit in int");
        Assert.That(() => f.GetArray<int>("name"), Throws.InstanceOf<GgufFormatException>());
    }

    [Test]
    public void Values_AreImmutable()
    {
        int[] source = [1, 2, 3];
        GgufValue v = GgufValue.FromArray(source);
        source[0] = 99;
        int[] copy = v.AsArray<int>();
        copy[1] = 99;
        ((int[])v.Value)[2] = 99;
        Assert.That(v.AsSpan<int>().ToArray(), Is.EqualTo(new[] { 1, 2, 3 }));
    }

    [Test]
    public void ArrayTypes_AreMatchedExactly_NotByClrCovariance()
    {
        // The CLR treats uint[] as int[] and byte[] as sbyte[]; the value must not reinterpret through that.
        GgufValue u = GgufValue.FromArray(new uint[] { uint.MaxValue });
        GgufValue b = GgufValue.FromArray(new byte[] { 200 });
        Assert.That(() => u.AsSpan<int>().Length, Throws.InstanceOf<GgufFormatException>());
        Assert.That(() => u.AsArray<int>(), Throws.InstanceOf<GgufFormatException>().With.Message.Contains("does not fit"));
        Assert.That(() => b.AsArray<sbyte>(), Throws.InstanceOf<GgufFormatException>());
        Assert.That(u.AsArray<long>(), Is.EqualTo(new[] { (long)uint.MaxValue }));
        Assert.That(GgufValue.FromArray(new[] { 1.5 }).AsArray<float>(), Is.EqualTo(new[] { 1.5f }));
    }

    [TestCase(2u, 1u)]
    [TestCase(3u, 8u)]
    [TestCase(3u, 32u)]
    [TestCase(3u, 64u)]
    [TestCase(2u, 4096u)]
    public void Tensors_RoundTripWithAlignment(uint version, uint alignment)
    {
        var rng = new Random(42);
        var w = new GgufWriter(version, alignment);
        w.Add("general.architecture", "test");
        var expected = new List<(string Name, GgmlType Type, long[] Dims, byte[] Data)>
        {
            ("f32.vec", GgmlType.F32, [5], RandomBytes(rng, 20)),
            ("f16.mat", GgmlType.F16, [3, 7], RandomBytes(rng, 42)),
            ("q8.mat", GgmlType.Q8_0, [64, 3], RandomBytes(rng, 2 * 34 * 3)),
            ("q4k.4d", GgmlType.Q4_K, [256, 1, 2, 1], RandomBytes(rng, 144 * 2)),
            ("i8.one", GgmlType.I8, [1], RandomBytes(rng, 1)),
            ("ünïcode.name", GgmlType.BF16, [2, 2, 2], RandomBytes(rng, 16)),
        };
        foreach (var t in expected)
        {
            w.AddTensor(t.Name, t.Type, t.Dims, t.Data);
        }

        using GgufFile f = WriteAndOpen(w);
        Assert.Multiple(() =>
        {
            Assert.That(f.Version, Is.EqualTo(version));
            Assert.That(f.Alignment, Is.EqualTo(alignment));
            Assert.That(f.DataOffset % alignment, Is.Zero);
            Assert.That(f.FileLength, Is.EqualTo(new FileInfo(f.Path).Length));
            Assert.That(f.GetUInt32("general.alignment"), alignment == 32 ? Is.Null : Is.EqualTo(alignment));
            Assert.That(f.Tensors.Select(t => t.Name), Is.EqualTo(expected.Select(t => t.Name)));
            Assert.That(f.FindTensor("missing"), Is.Null);
        });

        foreach (var e in expected)
        {
            GgufTensorInfo? t = f.FindTensor(e.Name);
            Assert.That(t, Is.Not.Null);
            Assert.Multiple(() =>
            {
                Assert.That(t!.Type, Is.EqualTo(e.Type));
                Assert.That(t.Dimensions, Is.EqualTo(e.Dims));
                Assert.That(t.ByteSize, Is.EqualTo(e.Data.Length));
                Assert.That(t.ElementCount, Is.EqualTo(e.Dims.Aggregate(1L, (a, b) => a * b)));
                Assert.That(t.Offset % alignment, Is.Zero);
                Assert.That(f.GetTensorBytes(t).ToArray(), Is.EqualTo(e.Data));
            });
            unsafe
            {
                fixed (byte* p = f.GetTensorBytes(t!))
                {
                    Assert.That(f.GetTensorPointer(t!), Is.EqualTo((IntPtr)p));
                }
            }
        }
    }

    [Test]
    public void Dispose_IsIdempotent_AndLaterUseThrows()
    {
        var w = new GgufWriter();
        w.Add("k", 1u);
        w.AddTensor("t", GgmlType.F32, [4], new byte[16]);
        GgufFile f = WriteAndOpen(w);
        GgufTensorInfo t = f.Tensors[0];
        f.Dispose();
        f.Dispose();
        Assert.That(() => f.GetTensorBytes(t).Length, Throws.InstanceOf<ObjectDisposedException>());
        Assert.That(() => f.GetTensorPointer(t), Throws.InstanceOf<ObjectDisposedException>());
        Assert.That(() => f.GetUInt32("k"), Throws.InstanceOf<ObjectDisposedException>());
    }

    [Test]
    public void ForgedTensorInfo_IsRejected()
    {
        var w = new GgufWriter();
        w.AddTensor("t", GgmlType.F32, [4], new byte[16]);
        using GgufFile f = WriteAndOpen(w);
        var forged = f.Tensors[0] with { ByteSize = 1 << 20 };
        Assert.That(() => f.GetTensorBytes(forged).Length, Throws.ArgumentException);
        Assert.That(() => f.GetTensorPointer(f.Tensors[0] with { Offset = ulong.MaxValue }), Throws.ArgumentException);
    }

    [Test]
    public void Writer_RejectsInvalidInput()
    {
        var w = new GgufWriter(alignment: 64);
        w.Add("a", 1);
        Assert.Multiple(() =>
        {
            Assert.That(() => w.Add("a", 2), Throws.ArgumentException.With.Message.Contains("Duplicate"));
            Assert.That(() => w.Add("general.alignment", 32u), Throws.ArgumentException);
            Assert.That(() => w.Add("general.alignment", 64), Throws.ArgumentException, "must be UInt32");
            Assert.That(() => w.Add("bad\ud800", 1), Throws.ArgumentException);
            Assert.That(() => w.AddTensor("t", GgmlType.Q8_0, [31], new byte[34]), Throws.ArgumentException);
            Assert.That(() => w.AddTensor("t", GgmlType.F32, [4], new byte[15]), Throws.ArgumentException);
            Assert.That(() => w.AddTensor("t", GgmlType.F32, [1, 1, 1, 1, 1], new byte[4]), Throws.ArgumentException);
            Assert.That(() => w.AddTensor("t", GgmlType.F32, [0], []), Throws.ArgumentException);
            Assert.That(() => w.AddTensor("t", (GgmlType)4, [1], new byte[4]), Throws.ArgumentException);
            Assert.That(() => new GgufWriter(version: 1), Throws.InstanceOf<ArgumentOutOfRangeException>());
            Assert.That(() => new GgufWriter(alignment: 48), Throws.InstanceOf<ArgumentOutOfRangeException>());
            Assert.That(() => GgufValue.FromArray(new[] { GgufValue.From(1) }), Throws.ArgumentException);
        });
        w.Add("general.alignment", 64u);
        w.AddTensor("t", GgmlType.F32, [4], new byte[16]);
        Assert.That(() => w.AddTensor("t", GgmlType.F32, [4], new byte[16]), Throws.ArgumentException.With.Message.Contains("Duplicate"));
        using GgufFile f = WriteAndOpen(w);
        Assert.That(f.Alignment, Is.EqualTo(64u));
        Assert.That(f.Metadata.Count, Is.EqualTo(2), "an explicit general.alignment is not duplicated");
    }

    [Test]
    public void Nesting_UpToTheLimit_RoundTrips()
    {
        GgufValue v = GgufValue.FromArray(new[] { 1 });
        for (int depth = 2; depth <= GgufValue.MaxNestingDepth; depth++)
        {
            v = GgufValue.FromArray(new[] { v });
        }

        Assert.That(() => GgufValue.FromArray(new[] { v }), Throws.ArgumentException);
        var w = new GgufWriter();
        w.Add("deep", v);
        using GgufFile f = WriteAndOpen(w);
        GgufValue r = f.Metadata["deep"];
        for (int depth = GgufValue.MaxNestingDepth; depth > 1; depth--)
        {
            r = r.AsArray<GgufValue>()[0];
        }

        Assert.That(r.AsArray<int>(), Is.EqualTo(new[] { 1 }));
    }

    [Test]
    public void EmptyFile_WithoutTensorsOrMetadata_RoundTrips()
    {
        using GgufFile f = WriteAndOpen(new GgufWriter());
        Assert.That(f.Metadata, Is.Empty);
        Assert.That(f.Tensors, Is.Empty);
        Assert.That(f.DataOffset, Is.EqualTo(32));
    }

    [Test]
    public void WriteTo_MatchesSave()
    {
        GgufWriter w = WriterWithEveryType(3, 16);
        w.AddTensor("t", GgmlType.Q4_0, [32], new byte[18]);
        using var ms = new MemoryStream();
        w.WriteTo(ms);
        string path = _dir.NewFile("save");
        w.Save(path);
        Assert.That(File.ReadAllBytes(path), Is.EqualTo(ms.ToArray()));
        Assert.That(ms.Length % 16, Is.Zero, "the last tensor is padded too");
    }

    private static byte[] RandomBytes(Random rng, int n)
    {
        var b = new byte[n];
        rng.NextBytes(b);
        return b;
    }
}
