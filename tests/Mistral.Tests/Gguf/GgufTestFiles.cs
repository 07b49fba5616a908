using System.Text;

namespace Mistral.Tests.Gguf;

/// <summary>A temporary directory that deletes itself, for files the tests write.</summary>
internal sealed class TempDirectory : IDisposable
{
    private int _counter;

    public TempDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "mistral-gguf-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string NewFile(string stem = "test") =>
        System.IO.Path.Combine(Path, $"{stem}-{Interlocked.Increment(ref _counter)}.gguf");

    public string Write(byte[] bytes, string stem = "raw")
    {
        string path = NewFile(stem);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // A file still mapped by a failed test must not hide that test's real failure.
        }
    }
}

/// <summary>
/// Hand-assembles GGUF bytes field by field, so tests can produce files the writer would refuse to.
/// </summary>
internal sealed class RawGguf
{
    private readonly MemoryStream _stream = new();
    private readonly BinaryWriter _w;

    public RawGguf() => _w = new BinaryWriter(_stream, Encoding.UTF8, leaveOpen: true);

    public long Length => _stream.Length;

    public RawGguf Bytes(params byte[] bytes) { _w.Write(bytes); return this; }
    public RawGguf U8(byte v) { _w.Write(v); return this; }
    public RawGguf U32(uint v) { _w.Write(v); return this; }
    public RawGguf U64(ulong v) { _w.Write(v); return this; }
    public RawGguf F32(float v) { _w.Write(v); return this; }

    /// <summary>GGUF string: u64 byte length then the bytes.</summary>
    public RawGguf Str(string s) => RawStr(Encoding.UTF8.GetBytes(s));

    public RawGguf RawStr(byte[] utf8) { _w.Write((ulong)utf8.Length); _w.Write(utf8); return this; }

    /// <summary>Magic, version and both counts.</summary>
    public RawGguf Header(ulong tensors, ulong kvs, uint version = 3) =>
        Bytes("GGUF"u8.ToArray()).U32(version).U64(tensors).U64(kvs);

    public RawGguf KvU32(string key, uint v) => Str(key).U32(4).U32(v);

    public RawGguf KvString(string key, string v) => Str(key).U32(8).Str(v);

    /// <summary>One tensor-directory entry.</summary>
    public RawGguf TensorInfo(string name, uint type, ulong offset, params ulong[] dims)
    {
        Str(name).U32((uint)dims.Length);
        foreach (ulong d in dims)
        {
            U64(d);
        }

        return U32(type).U64(offset);
    }

    /// <summary>Zero bytes up to the next multiple of <paramref name="alignment"/>.</summary>
    public RawGguf Pad(int alignment = 32)
    {
        while (_stream.Length % alignment != 0)
        {
            _w.Write((byte)0);
        }

        return this;
    }

    public RawGguf Zeros(int n) => Bytes(new byte[n]);

    public byte[] ToArray()
    {
        _w.Flush();
        return _stream.ToArray();
    }
}
