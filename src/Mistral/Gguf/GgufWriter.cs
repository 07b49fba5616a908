using System.Text;

namespace Mistral.Gguf;

/// <summary>
/// Builds a GGUF v2/v3 file: metadata in insertion order, then the tensor directory, then the tensor data,
/// each tensor at an offset aligned to <see cref="Alignment"/>.
/// </summary>
/// <remarks>
/// Intended for tests, tools and small models: tensor data is copied into memory when added. The writer checks
/// everything the reader checks, so whatever it writes, <see cref="GgufFile.Open"/> accepts.
/// </remarks>
public sealed class GgufWriter
{
    private static readonly UTF8Encoding StrictUtf8 = new(false, throwOnInvalidBytes: true);

    private readonly List<KeyValuePair<string, GgufValue>> _metadata = [];
    private readonly HashSet<string> _keys = new(StringComparer.Ordinal);
    private readonly List<(string Name, GgmlType Type, long[] Dims, byte[] Data)> _tensors = [];
    private readonly HashSet<string> _tensorNames = new(StringComparer.Ordinal);

    /// <summary>Creates an empty writer.</summary>
    /// <param name="version">The GGUF version to write: 2 or 3 (the layouts are identical for little-endian files).</param>
    /// <param name="alignment">Data alignment, a nonzero power of two. When it is not the default 32 and the caller
    /// does not add <c>general.alignment</c>, that key is written automatically (first), since readers need it.</param>
    /// <exception cref="ArgumentOutOfRangeException">Unsupported version or alignment.</exception>
    public GgufWriter(uint version = 3, uint alignment = GgufFile.DefaultAlignment)
    {
        if (version is not (2 or 3))
        {
            throw new ArgumentOutOfRangeException(nameof(version), version, "Only GGUF versions 2 and 3 can be written.");
        }

        if (alignment == 0 || (alignment & (alignment - 1)) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(alignment), alignment, "The alignment must be a nonzero power of two.");
        }

        Version = version;
        Alignment = alignment;
    }

    /// <summary>The GGUF version that will be written.</summary>
    public uint Version { get; }

    /// <summary>The alignment of the data section and of each tensor.</summary>
    public uint Alignment { get; }

    /// <summary>Adds a metadata entry.</summary>
    /// <param name="key">The key; must be unique and valid Unicode.</param>
    /// <param name="value">The value.</param>
    /// <exception cref="ArgumentException">Duplicate key, invalid key, or a <c>general.alignment</c> that is not a
    /// UInt32 equal to <see cref="Alignment"/>.</exception>
    public void Add(string key, GgufValue value)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(value);
        Encode(key, nameof(key));
        if (key == GgufFile.AlignmentKey && (value.Type != GgufValueType.UInt32 || (uint)value.Value != Alignment))
        {
            throw new ArgumentException(
                $"'{GgufFile.AlignmentKey}' must be the UInt32 {Alignment} given to the constructor.", nameof(value));
        }

        if (!_keys.Add(key))
        {
            throw new ArgumentException($"Duplicate metadata key '{key}'.", nameof(key));
        }

        _metadata.Add(new KeyValuePair<string, GgufValue>(key, value));
    }

    /// <summary>Adds a string entry.</summary>
    /// <param name="key">The key.</param>
    /// <param name="value">The value.</param>
    public void Add(string key, string value) => Add(key, GgufValue.From(value));

    /// <summary>Adds a UInt32 entry.</summary>
    /// <param name="key">The key.</param>
    /// <param name="value">The value.</param>
    public void Add(string key, uint value) => Add(key, GgufValue.From(value));

    /// <summary>Adds an Int32 entry.</summary>
    /// <param name="key">The key.</param>
    /// <param name="value">The value.</param>
    public void Add(string key, int value) => Add(key, GgufValue.From(value));

    /// <summary>Adds a UInt64 entry.</summary>
    /// <param name="key">The key.</param>
    /// <param name="value">The value.</param>
    public void Add(string key, ulong value) => Add(key, GgufValue.From(value));

    /// <summary>Adds a Float32 entry.</summary>
    /// <param name="key">The key.</param>
    /// <param name="value">The value.</param>
    public void Add(string key, float value) => Add(key, GgufValue.From(value));

    /// <summary>Adds a Bool entry.</summary>
    /// <param name="key">The key.</param>
    /// <param name="value">The value.</param>
    public void Add(string key, bool value) => Add(key, GgufValue.From(value));

    /// <summary>Adds an array-of-strings entry.</summary>
    /// <param name="key">The key.</param>
    /// <param name="value">The elements.</param>
    public void Add(string key, string[] value) => Add(key, GgufValue.FromArray(value));

    /// <summary>Adds an array-of-Float32 entry.</summary>
    /// <param name="key">The key.</param>
    /// <param name="value">The elements.</param>
    public void Add(string key, float[] value) => Add(key, GgufValue.FromArray(value));

    /// <summary>Adds an array-of-Int32 entry.</summary>
    /// <param name="key">The key.</param>
    /// <param name="value">The elements.</param>
    public void Add(string key, int[] value) => Add(key, GgufValue.FromArray(value));

    /// <summary>Adds a tensor; its data is copied. Tensors are laid out in the order added.</summary>
    /// <param name="name">A unique name.</param>
    /// <param name="type">The element type.</param>
    /// <param name="dims">The shape, ne0 first: 1 to 4 positive dimensions, ne0 a multiple of the block size.</param>
    /// <param name="data">Exactly <see cref="GgmlTypeInfo.TensorBytes"/> bytes of data.</param>
    /// <exception cref="ArgumentException">Any of the above does not hold.</exception>
    public void AddTensor(string name, GgmlType type, long[] dims, ReadOnlySpan<byte> data)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(dims);
        Encode(name, nameof(name));
        if (!GgmlTypeInfo.IsKnown(type))
        {
            throw new ArgumentException($"Unknown ggml type id {(uint)type}.", nameof(type));
        }

        if (dims.Length is 0 or > GgufFile.MaxDimensions)
        {
            throw new ArgumentException($"A tensor has 1 to {GgufFile.MaxDimensions} dimensions, not {dims.Length}.", nameof(dims));
        }

        long elements = 1;
        foreach (long d in dims)
        {
            if (d <= 0 || d > (1L << 62) / elements)
            {
                throw new ArgumentException($"Invalid shape [{string.Join(", ", dims)}] for tensor '{name}'.", nameof(dims));
            }

            elements *= d;
        }

        long bytes = GgmlTypeInfo.TensorBytes(type, dims);
        if (data.Length != bytes)
        {
            throw new ArgumentException(
                $"Tensor '{name}' of type {type} and shape [{string.Join(", ", dims)}] needs {bytes} bytes, not {data.Length}.",
                nameof(data));
        }

        if (!_tensorNames.Add(name))
        {
            throw new ArgumentException($"Duplicate tensor name '{name}'.", nameof(name));
        }

        _tensors.Add((name, type, (long[])dims.Clone(), data.ToArray()));
    }

    /// <summary>Writes the file to a stream (which need not be seekable).</summary>
    /// <param name="stream">The destination; left open.</param>
    public void WriteTo(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);

        // Header, metadata and directory go through a buffer first so the padding before the data section can be
        // computed from the buffer's length.
        using var head = new MemoryStream();
        using (var w = new BinaryWriter(head, StrictUtf8, leaveOpen: true))
        {
            bool autoAlignment = Alignment != GgufFile.DefaultAlignment && !_keys.Contains(GgufFile.AlignmentKey);
            w.Write((byte)'G');
            w.Write((byte)'G');
            w.Write((byte)'U');
            w.Write((byte)'F');
            w.Write(Version);
            w.Write((ulong)_tensors.Count);
            w.Write((ulong)(_metadata.Count + (autoAlignment ? 1 : 0)));
            if (autoAlignment)
            {
                WriteString(w, GgufFile.AlignmentKey);
                w.Write((uint)GgufValueType.UInt32);
                w.Write(Alignment);
            }

            foreach (var (key, value) in _metadata)
            {
                WriteString(w, key);
                w.Write((uint)value.Type);
                WritePayload(w, value);
            }

            ulong offset = 0;
            foreach (var t in _tensors)
            {
                WriteString(w, t.Name);
                w.Write((uint)t.Dims.Length);
                foreach (long d in t.Dims)
                {
                    w.Write((ulong)d);
                }

                w.Write((uint)t.Type);
                w.Write(offset);
                offset = Align(offset + (ulong)t.Data.Length);
            }
        }

        head.Write(new byte[Align((ulong)head.Length) - (ulong)head.Length]);
        head.Position = 0;
        head.CopyTo(stream);

        foreach (var t in _tensors)
        {
            stream.Write(t.Data);
            stream.Write(new byte[Align((ulong)t.Data.Length) - (ulong)t.Data.Length]);
        }
    }

    /// <summary>Writes the file to <paramref name="path"/>, replacing any existing file.</summary>
    /// <param name="path">The destination path.</param>
    public void Save(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None);
        WriteTo(file);
    }

    private ulong Align(ulong n) => (n + Alignment - 1) / Alignment * Alignment;

    private static byte[] Encode(string s, string paramName)
    {
        try
        {
            return StrictUtf8.GetBytes(s);
        }
        catch (EncoderFallbackException e)
        {
            throw new ArgumentException("The string is not valid Unicode (unpaired surrogate).", paramName, e);
        }
    }

    private static void WriteString(BinaryWriter w, string s)
    {
        byte[] bytes = Encode(s, nameof(s));
        w.Write((ulong)bytes.Length);
        w.Write(bytes);
    }

    private static void WritePayload(BinaryWriter w, GgufValue value)
    {
        switch (value.Value)
        {
            case byte v: w.Write(v); break;
            case sbyte v: w.Write(v); break;
            case ushort v: w.Write(v); break;
            case short v: w.Write(v); break;
            case uint v: w.Write(v); break;
            case int v: w.Write(v); break;
            case ulong v: w.Write(v); break;
            case long v: w.Write(v); break;
            case float v: w.Write(v); break;
            case double v: w.Write(v); break;
            case bool v: w.Write((byte)(v ? 1 : 0)); break;
            case string v: WriteString(w, v); break;
            case Array a:
                w.Write((uint)value.ElementType!.Value);
                w.Write((ulong)a.Length);
                WriteElements(w, a);
                break;
            default:
                throw new InvalidOperationException($"Unexpected value of type {value.Value.GetType()}.");
        }
    }

    private static void WriteElements(BinaryWriter w, Array a)
    {
        // BinaryWriter is always little-endian, matching the format.
        switch (a)
        {
            case byte[] v: w.Write(v); break;
            case sbyte[] v: foreach (sbyte x in v) { w.Write(x); } break;
            case ushort[] v: foreach (ushort x in v) { w.Write(x); } break;
            case short[] v: foreach (short x in v) { w.Write(x); } break;
            case uint[] v: foreach (uint x in v) { w.Write(x); } break;
            case int[] v: foreach (int x in v) { w.Write(x); } break;
            case ulong[] v: foreach (ulong x in v) { w.Write(x); } break;
            case long[] v: foreach (long x in v) { w.Write(x); } break;
            case float[] v: foreach (float x in v) { w.Write(x); } break;
            case double[] v: foreach (double x in v) { w.Write(x); } break;
            case bool[] v: foreach (bool x in v) { w.Write((byte)(x ? 1 : 0)); } break;
            case string[] v: foreach (string x in v) { WriteString(w, x); } break;
            case GgufValue[] v: foreach (GgufValue x in v) { WritePayload(w, x); } break;
            default: throw new InvalidOperationException($"Unexpected array of type {a.GetType()}.");
        }
    }
}
