using Mistral.Gguf;

namespace Mistral.HostileInput.Gguf;

/// <summary>
/// A GGUF file as an editable list of parts, written back byte for byte as it says, right or wrong.
/// </summary>
/// <remarks>
/// The library's <see cref="GgufWriter"/> checks everything its reader checks, so it cannot write a duplicate key, an
/// unknown tensor type, a zero dimension or a planted offset; the campaign needs exactly those files. This image holds
/// each metadata value as its type tag and encoded payload (so a tag can disagree with its payload) and each tensor as
/// its raw directory fields, and <see cref="Serialize"/> records where every length, count and type landed so that
/// byte-level mutations can aim at them.
/// </remarks>
internal sealed class GgufImage
{
    public const uint Magic = 0x46554747; // "GGUF" as a little-endian u32

    public uint Version { get; set; } = 3;

    /// <summary>Where tensor data is placed (the file's general.alignment, default 32).</summary>
    public uint Alignment { get; set; } = GgufFile.DefaultAlignment;

    /// <summary>A tensor count to write instead of the real one.</summary>
    public ulong? TensorCountOverride { get; set; }

    /// <summary>A metadata count to write instead of the real one.</summary>
    public ulong? KvCountOverride { get; set; }

    public List<KeyValueEntry> Metadata { get; } = [];

    public List<TensorEntry> Tensors { get; } = [];

    /// <summary>Reads a valid file (the base models) into an image.</summary>
    public static GgufImage FromFile(GgufFile file)
    {
        var image = new GgufImage { Version = file.Version, Alignment = file.Alignment };
        foreach (var (key, value) in file.Metadata) image.Metadata.Add(ValueCodec.Entry(key, value));
        foreach (var tensor in file.Tensors)
        {
            image.Tensors.Add(new TensorEntry(tensor.Name, [.. tensor.Dimensions.Select(d => (ulong)d)], (uint)tensor.Type,
                file.GetTensorBytes(tensor).ToArray()));
        }
        return image;
    }

    /// <summary>A copy whose lists and entries can be edited without touching this one (tensor data is shared until edited).</summary>
    public GgufImage Clone()
    {
        var copy = new GgufImage
        {
            Version = Version,
            Alignment = Alignment,
            TensorCountOverride = TensorCountOverride,
            KvCountOverride = KvCountOverride,
        };
        copy.Metadata.AddRange(Metadata);
        copy.Tensors.AddRange(Tensors.Select(t => t.Clone()));
        return copy;
    }

    public int IndexOfKey(string key) => Metadata.FindIndex(e => e.Key == key);

    /// <summary>Replaces the value of <paramref name="key"/> where it stands, or appends it.</summary>
    public void Set(string key, GgufValue value) => Set(ValueCodec.Entry(key, value));

    public void Set(KeyValueEntry entry)
    {
        var at = IndexOfKey(entry.Key);
        if (at >= 0) Metadata[at] = entry;
        else Metadata.Add(entry);
    }

    public bool RemoveKey(string key) => Metadata.RemoveAll(e => e.Key == key) > 0;

    public TensorEntry? Tensor(string name) => Tensors.Find(t => t.Name == name);

    /// <summary>The bytes of the file and where each field is in them.</summary>
    public SerializedGguf Serialize()
    {
        using var head = new MemoryStream();
        using var w = new BinaryWriter(head);
        var fields = new List<Field>();
        void Mark(string name, FieldClass kind, int width) => fields.Add(new Field(name, kind, head.Position, width));

        w.Write(Magic);
        Mark("version", FieldClass.Version, 4);
        w.Write(Version);
        Mark("tensor_count", FieldClass.Count, 8);
        w.Write(TensorCountOverride ?? (ulong)Tensors.Count);
        Mark("kv_count", FieldClass.Count, 8);
        w.Write(KvCountOverride ?? (ulong)Metadata.Count);

        foreach (var kv in Metadata)
        {
            Mark($"key length of '{kv.Key}'", FieldClass.StringLength, 8);
            WriteString(w, kv.Key);
            Mark($"type tag of '{kv.Key}'", FieldClass.TypeTag, 4);
            w.Write(kv.Tag);
            var payloadAt = head.Position;
            foreach (var f in kv.PayloadFields) fields.Add(f with { Offset = payloadAt + f.Offset });
            w.Write(kv.Payload);
        }

        // Data offsets are where the data really goes; a planted Offset changes only what the directory says.
        var placed = new ulong[Tensors.Count];
        ulong next = 0;
        for (var i = 0; i < Tensors.Count; i++)
        {
            placed[i] = next;
            next = Align(next + (ulong)Tensors[i].Data.Length);
        }

        for (var i = 0; i < Tensors.Count; i++)
        {
            var t = Tensors[i];
            Mark($"name length of tensor '{t.Name}'", FieldClass.StringLength, 8);
            WriteString(w, t.Name);
            Mark($"dimension count of '{t.Name}'", FieldClass.DimCount, 4);
            w.Write(t.DimCountOverride ?? (uint)t.Dims.Length);
            for (var d = 0; d < t.Dims.Length; d++)
            {
                Mark($"ne{d} of '{t.Name}'", FieldClass.Dim, 8);
                w.Write(t.Dims[d]);
            }
            Mark($"type of '{t.Name}'", FieldClass.TensorType, 4);
            w.Write(t.Type);
            Mark($"offset of '{t.Name}'", FieldClass.TensorOffset, 8);
            w.Write(t.Offset ?? placed[i]);
        }

        w.Flush();
        var dataOffset = (long)Align((ulong)head.Length);
        var bytes = new byte[dataOffset + (long)next];
        Array.Copy(head.GetBuffer(), bytes, head.Length);
        var tensorRanges = new List<TensorRange>(Tensors.Count);
        for (var i = 0; i < Tensors.Count; i++)
        {
            var at = dataOffset + (long)placed[i];
            Tensors[i].Data.CopyTo(bytes, at);
            tensorRanges.Add(new TensorRange(Tensors[i].Name, at, Tensors[i].Data.Length));
        }
        return new SerializedGguf(bytes, dataOffset, fields, tensorRanges);
    }

    private ulong Align(ulong n) => (n + Alignment - 1) / Alignment * Alignment;

    private static void WriteString(BinaryWriter w, string s)
    {
        var utf8 = System.Text.Encoding.UTF8.GetBytes(s);
        w.Write((ulong)utf8.Length);
        w.Write(utf8);
    }
}

/// <summary>A metadata entry as stored: its key, its type tag and the bytes after the tag.</summary>
/// <param name="PayloadFields">Lengths and tags inside <paramref name="Payload"/>, offsets relative to its start.</param>
internal sealed record KeyValueEntry(string Key, uint Tag, byte[] Payload, IReadOnlyList<Field> PayloadFields);

/// <summary>One tensor's directory entry and data.</summary>
internal sealed class TensorEntry(string name, ulong[] dims, uint type, byte[] data)
{
    private bool _ownsData;

    public string Name { get; set; } = name;

    public ulong[] Dims { get; set; } = dims;

    public uint Type { get; set; } = type;

    /// <summary>The data; shared with the image it was cloned from until <see cref="EditableData"/> is called.</summary>
    public byte[] Data { get; set; } = data;

    /// <summary>A directory offset to write instead of the data's real one.</summary>
    public ulong? Offset { get; set; }

    /// <summary>A dimension count to write instead of <see cref="Dims"/>'s length.</summary>
    public uint? DimCountOverride { get; set; }

    /// <summary>The data, copied first if it is still shared with another image.</summary>
    public byte[] EditableData()
    {
        if (!_ownsData)
        {
            Data = (byte[])Data.Clone();
            _ownsData = true;
        }
        return Data;
    }

    public TensorEntry Clone() => new(Name, (ulong[])Dims.Clone(), Type, Data) { Offset = Offset, DimCountOverride = DimCountOverride };
}

/// <summary>What kind of number a field holds, so that a mutation can pick the fields it means.</summary>
internal enum FieldClass
{
    Version,
    Count,
    StringLength,
    ArrayLength,
    TypeTag,
    DimCount,
    Dim,
    TensorType,
    TensorOffset,
}

/// <summary>A field of the header, metadata or directory: what it is, where, and how wide (4 or 8 bytes).</summary>
internal sealed record Field(string Name, FieldClass Class, long Offset, int Width);

/// <summary>Where a tensor's data landed in the file.</summary>
internal sealed record TensorRange(string Name, long Offset, int Length);

/// <summary>A written file: its bytes, where the data section starts, and the map of its fields.</summary>
internal sealed record SerializedGguf(byte[] Bytes, long DataOffset, IReadOnlyList<Field> Fields, IReadOnlyList<TensorRange> TensorData);
