using System.Collections;
using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;

namespace Mistral.Gguf;

/// <summary>
/// A GGUF (v2 or v3) file, memory-mapped read-only: its metadata, its tensor directory, and direct access to
/// tensor data without copying.
/// </summary>
/// <remarks>
/// <para>
/// The whole file is validated in <see cref="Open"/> before anything is returned: every count, length, type id,
/// dimension and tensor range is checked against the file's actual size, so a truncated or hostile file yields a
/// <see cref="GgufFormatException"/> (naming the file, the byte offset and the problem) rather than an
/// out-of-memory condition, an access violation, or some other exception type.
/// </para>
/// <para>
/// Reading from several threads at once is safe. Spans and pointers handed out by <see cref="GetTensorBytes"/> and
/// <see cref="GetTensorPointer"/> point into the mapping and are valid only until <see cref="Dispose"/>; there is no
/// finalizer (a finalizer could unmap memory a caller still points into), so always dispose the file.
/// </para>
/// </remarks>
public sealed unsafe class GgufFile : IDisposable
{
    /// <summary>The alignment of the data section and of every tensor when <c>general.alignment</c> is absent.</summary>
    public const uint DefaultAlignment = 32;

    /// <summary>The most dimensions a GGML tensor can have.</summary>
    public const int MaxDimensions = 4;

    /// <summary>The metadata key that overrides <see cref="DefaultAlignment"/>.</summary>
    public const string AlignmentKey = "general.alignment";

    private const uint Magic = 0x46554747; // "GGUF" read as a little-endian u32
    private const long MaxElements = 1L << 62;

    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;
    private readonly byte* _base;
    private readonly Dictionary<string, GgufTensorInfo> _tensorsByName;
    private readonly MetadataMap _metadata;
    private int _disposed;

    private GgufFile(
        string path,
        MemoryMappedFile map,
        MemoryMappedViewAccessor view,
        byte* basePointer,
        long length,
        in Parsed parsed)
    {
        Path = path;
        _map = map;
        _view = view;
        _base = basePointer;
        FileLength = length;
        Version = parsed.Version;
        Alignment = parsed.Alignment;
        DataOffset = parsed.DataOffset;
        _metadata = parsed.Metadata;
        Tensors = parsed.Tensors.AsReadOnly();
        _tensorsByName = parsed.TensorsByName;
    }

    /// <summary>The full path of the file.</summary>
    public string Path { get; }

    /// <summary>The GGUF format version (2 or 3).</summary>
    public uint Version { get; }

    /// <summary>The alignment of the data section and of each tensor's offset (a power of two).</summary>
    public uint Alignment { get; }

    /// <summary>The absolute byte offset at which the data section starts; tensor offsets are relative to it.</summary>
    public long DataOffset { get; }

    /// <summary>The file's length in bytes.</summary>
    public long FileLength { get; }

    /// <summary>All metadata, enumerated in file order.</summary>
    public IReadOnlyDictionary<string, GgufValue> Metadata => _metadata;

    /// <summary>The tensor directory, in file order.</summary>
    public IReadOnlyList<GgufTensorInfo> Tensors { get; }

    /// <summary>Maps and validates a GGUF file.</summary>
    /// <param name="path">The file to open. It is opened with <see cref="FileShare.Read"/>.</param>
    /// <returns>The open file; dispose it to unmap.</returns>
    /// <exception cref="GgufFormatException">The file is not a valid GGUF v2/v3 file.</exception>
    /// <exception cref="IOException">The file cannot be opened (e.g. <see cref="FileNotFoundException"/>).</exception>
    /// <exception cref="UnauthorizedAccessException">The file may not be read.</exception>
    public static GgufFile Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string fullPath = System.IO.Path.GetFullPath(path);
        var stream = new FileStream(fullPath, FileMode.Open, FileAccess.Read, FileShare.Read);
        MemoryMappedFile? map = null;
        MemoryMappedViewAccessor? view = null;
        bool acquired = false;
        try
        {
            long length = stream.Length;
            if (length == 0)
            {
                // Mapping an empty file throws ArgumentException, so say what is actually wrong instead.
                throw new GgufFormatException("The file is empty.", fullPath, 0);
            }

            map = MemoryMappedFile.CreateFromFile(
                stream, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
            stream = null;
            view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            byte* p = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
            acquired = true;
            p += view.PointerOffset;

            var cursor = new Cursor(p, length, fullPath);
            Parsed parsed = Parse(ref cursor);
            return new GgufFile(fullPath, map, view, p, length, parsed);
        }
        catch
        {
            if (acquired)
            {
                view!.SafeMemoryMappedViewHandle.ReleasePointer();
            }

            view?.Dispose();
            map?.Dispose();
            stream?.Dispose();
            throw;
        }
    }

    /// <summary>Finds a tensor by name.</summary>
    /// <param name="name">The tensor name.</param>
    /// <returns>The tensor, or <see langword="null"/> if there is none of that name.</returns>
    public GgufTensorInfo? FindTensor(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return _tensorsByName.GetValueOrDefault(name);
    }

    /// <summary>Looks up a metadata value.</summary>
    /// <param name="key">The key, e.g. <c>general.architecture</c>.</param>
    /// <param name="value">The value when found.</param>
    /// <returns>Whether the key is present.</returns>
    public bool TryGetValue(string key, out GgufValue value) => _metadata.TryGetValue(key, out value!);

    /// <summary>A string metadata value.</summary>
    /// <param name="key">The key.</param>
    /// <returns>The value, or <see langword="null"/> if the key is absent.</returns>
    /// <exception cref="GgufFormatException">The key is present but not a string.</exception>
    public string? GetString(string key) => GetRef(key, static v => v.AsString());

    /// <summary>An integer metadata value as <see cref="uint"/> (any integer type is accepted if it fits).</summary>
    /// <param name="key">The key.</param>
    /// <returns>The value, or <see langword="null"/> if the key is absent.</returns>
    /// <exception cref="GgufFormatException">The key is present but not an integer, or out of range.</exception>
    public uint? GetUInt32(string key) => GetVal(key, static v => v.AsUInt32());

    /// <summary>An integer metadata value as <see cref="int"/> (any integer type is accepted if it fits).</summary>
    /// <param name="key">The key.</param>
    /// <returns>The value, or <see langword="null"/> if the key is absent.</returns>
    /// <exception cref="GgufFormatException">The key is present but not an integer, or out of range.</exception>
    public int? GetInt32(string key) => GetVal(key, static v => v.AsInt32());

    /// <summary>An integer metadata value as <see cref="ulong"/> (any integer type is accepted if it fits).</summary>
    /// <param name="key">The key.</param>
    /// <returns>The value, or <see langword="null"/> if the key is absent.</returns>
    /// <exception cref="GgufFormatException">The key is present but not an integer, or out of range.</exception>
    public ulong? GetUInt64(string key) => GetVal(key, static v => v.AsUInt64());

    /// <summary>A numeric metadata value as <see cref="float"/> (float32, float64 or integer).</summary>
    /// <param name="key">The key.</param>
    /// <returns>The value, or <see langword="null"/> if the key is absent.</returns>
    /// <exception cref="GgufFormatException">The key is present but not a number.</exception>
    public float? GetSingle(string key) => GetVal(key, static v => v.AsSingle());

    /// <summary>A Boolean metadata value.</summary>
    /// <param name="key">The key.</param>
    /// <returns>The value, or <see langword="null"/> if the key is absent.</returns>
    /// <exception cref="GgufFormatException">The key is present but not a Boolean.</exception>
    public bool? GetBoolean(string key) => GetVal(key, static v => v.AsBoolean());

    /// <summary>An array metadata value, copied (see <see cref="GgufValue.AsArray{T}"/> for the accepted types).</summary>
    /// <typeparam name="T">The .NET element type.</typeparam>
    /// <param name="key">The key.</param>
    /// <returns>The elements, or <see langword="null"/> if the key is absent.</returns>
    /// <exception cref="GgufFormatException">The key is present but not an array readable as <typeparamref name="T"/>.</exception>
    public T[]? GetArray<T>(string key) => GetRef(key, static v => v.AsArray<T>());

    /// <summary>The bytes of a tensor's data, straight from the mapping (no copy).</summary>
    /// <param name="tensor">A tensor of this file.</param>
    /// <returns>The data; valid until the file is disposed.</returns>
    /// <exception cref="ArgumentException">The tensor is larger than 2 GiB (use <see cref="GetTensorPointer"/>),
    /// or its range is not inside this file.</exception>
    /// <exception cref="ObjectDisposedException">The file has been disposed.</exception>
    public ReadOnlySpan<byte> GetTensorBytes(GgufTensorInfo tensor)
    {
        long start = CheckedStart(tensor);
        if (tensor.ByteSize > int.MaxValue)
        {
            throw new ArgumentException(
                $"Tensor '{tensor.Name}' is {tensor.ByteSize} bytes, too large for a span; use GetTensorPointer.",
                nameof(tensor));
        }

        return new ReadOnlySpan<byte>(_base + start, (int)tensor.ByteSize);
    }

    /// <summary>A pointer to a tensor's data inside the mapping.</summary>
    /// <param name="tensor">A tensor of this file.</param>
    /// <returns>The address of the first byte; valid until the file is disposed. The memory is read-only.</returns>
    /// <exception cref="ArgumentException">The tensor's range is not inside this file.</exception>
    /// <exception cref="ObjectDisposedException">The file has been disposed.</exception>
    public IntPtr GetTensorPointer(GgufTensorInfo tensor) => (IntPtr)(_base + CheckedStart(tensor));

    /// <summary>Unmaps the file. Safe to call more than once.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _map.Dispose();
    }

    private long CheckedStart(GgufTensorInfo tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);

        // The record is public and constructible, so re-check its range rather than trusting it came from us.
        long room = FileLength - DataOffset;
        if (tensor.ByteSize < 0 || tensor.Offset > (ulong)room || tensor.ByteSize > room - (long)tensor.Offset)
        {
            throw new ArgumentException(
                $"Tensor '{tensor.Name}' [offset {tensor.Offset}, {tensor.ByteSize} bytes] is not inside the data section of '{Path}'.",
                nameof(tensor));
        }

        return DataOffset + (long)tensor.Offset;
    }

    private T? GetVal<T>(string key, Func<GgufValue, T> convert)
        where T : struct
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (!_metadata.TryGetValue(key, out GgufValue? value))
        {
            return null;
        }

        try
        {
            return convert(value);
        }
        catch (GgufFormatException e)
        {
            throw new GgufFormatException($"Metadata key '{key}': {e.Message}", Path, null, e);
        }
    }

    private T? GetRef<T>(string key, Func<GgufValue, T> convert)
        where T : class
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (!_metadata.TryGetValue(key, out GgufValue? value))
        {
            return null;
        }

        try
        {
            return convert(value);
        }
        catch (GgufFormatException e)
        {
            throw new GgufFormatException($"Metadata key '{key}': {e.Message}", Path, null, e);
        }
    }

    private static Parsed Parse(ref Cursor c)
    {
        uint magic = c.U32("the magic number");
        if (magic != Magic)
        {
            throw c.Error($"Bad magic 0x{magic:X8}; a GGUF file starts with the bytes 'GGUF'.", 0);
        }

        uint version = c.U32("the version");
        if (version != 2 && version != 3)
        {
            uint swapped = System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(version);
            string hint = version == 1
                ? " (GGUF v1 used 32-bit counts and is not supported; re-convert the model)"
                : swapped is 2 or 3 ? " (this looks like a big-endian GGUF file, which is not supported)" : string.Empty;
            throw c.Error($"Unsupported GGUF version {version}{hint}; versions 2 and 3 are supported.", 4);
        }

        long countsAt = c.Position;
        ulong tensorCount = c.U64("the tensor count");
        ulong kvCount = c.U64("the metadata count");

        // Every tensor info takes at least 32 bytes (empty name, one dimension) and every key/value pair at least
        // 13 (empty key, type, one-byte value); refuse counts the rest of the file cannot possibly hold before
        // sizing anything by them.
        ulong remaining = (ulong)c.Remaining;
        if (tensorCount > remaining / 32 || kvCount > remaining / 13 || (tensorCount * 32) + (kvCount * 13) > remaining)
        {
            throw c.Error(
                $"The header claims {tensorCount} tensors and {kvCount} metadata entries, which cannot fit in the remaining {remaining} bytes of the file.",
                countsAt);
        }

        // Counts are now bounded by the file size, but a large file could still claim millions of entries; let the
        // collections grow as entries actually parse instead of trusting the header for their capacity.
        var metadata = new MetadataMap((int)Math.Min(kvCount, 1024));
        long alignmentAt = -1;
        for (ulong i = 0; i < kvCount; i++)
        {
            long keyAt = c.Position;
            string key = c.String($"the key of metadata entry {i}");
            if (metadata.ContainsKey(key))
            {
                throw c.Error($"Duplicate metadata key '{key}'.", keyAt);
            }

            long typeAt = c.Position;
            var type = (GgufValueType)c.U32($"the value type of metadata key '{key}'");
            GgufValue value = ReadValue(ref c, type, 0, key, typeAt);
            metadata.Add(key, value);
            if (key == AlignmentKey)
            {
                alignmentAt = typeAt;
            }
        }

        uint alignment = DefaultAlignment;
        if (alignmentAt >= 0)
        {
            GgufValue a = metadata[AlignmentKey];
            if (a.Type != GgufValueType.UInt32)
            {
                throw c.Error($"'{AlignmentKey}' must be a UInt32 but is {a.Type}.", alignmentAt);
            }

            alignment = (uint)a.Value;
            if (alignment == 0 || (alignment & (alignment - 1)) != 0)
            {
                throw c.Error($"'{AlignmentKey}' is {alignment}; it must be a nonzero power of two.", alignmentAt);
            }
        }

        int tensorCapacity = (int)Math.Min(tensorCount, 4096);
        var tensors = new List<GgufTensorInfo>(tensorCapacity);
        var infoOffsets = new List<long>(tensorCapacity);
        var byName = new Dictionary<string, GgufTensorInfo>(tensorCapacity, StringComparer.Ordinal);
        for (ulong i = 0; i < tensorCount; i++)
        {
            long at = c.Position;
            string name = c.String($"the name of tensor {i}");
            if (byName.ContainsKey(name))
            {
                throw c.Error($"Duplicate tensor name '{name}'.", at);
            }

            long nDimsAt = c.Position;
            uint nDims = c.U32($"the dimension count of tensor '{name}'");
            if (nDims is 0 or > MaxDimensions)
            {
                throw c.Error($"Tensor '{name}' has {nDims} dimensions; 1 to {MaxDimensions} are allowed.", nDimsAt);
            }

            var dims = new long[nDims];
            long elements = 1;
            for (int d = 0; d < nDims; d++)
            {
                long dimAt = c.Position;
                ulong dim = c.U64($"dimension {d} of tensor '{name}'");
                if (dim == 0)
                {
                    throw c.Error($"Dimension {d} of tensor '{name}' is 0.", dimAt);
                }

                if (dim > (ulong)(MaxElements / elements))
                {
                    throw c.Error(
                        $"Tensor '{name}' is too large: its element count exceeds 2^62 at dimension {d} (size {dim}).",
                        dimAt);
                }

                dims[d] = (long)dim;
                elements *= (long)dim;
            }

            long typeAt = c.Position;
            var type = (GgmlType)c.U32($"the type of tensor '{name}'");
            if (!GgmlTypeInfo.IsKnown(type))
            {
                throw c.Error($"Tensor '{name}' has unknown ggml type id {(uint)type}.", typeAt);
            }

            int blockSize = GgmlTypeInfo.BlockSize(type);
            if (dims[0] % blockSize != 0)
            {
                throw c.Error(
                    $"Tensor '{name}' of type {type} has ne0 = {dims[0]}, which is not a multiple of the block size {blockSize}.",
                    nDimsAt);
            }

            long offsetAt = c.Position;
            ulong offset = c.U64($"the data offset of tensor '{name}'");
            if (offset % alignment != 0)
            {
                throw c.Error(
                    $"Tensor '{name}' data offset {offset} is not a multiple of the alignment {alignment}.", offsetAt);
            }

            long byteSize;
            try
            {
                byteSize = GgmlTypeInfo.TensorBytes(type, dims);
            }
            catch (OverflowException e)
            {
                throw c.Error($"Tensor '{name}' is too large: its byte size overflows 64 bits.", nDimsAt, e);
            }

            var info = new GgufTensorInfo(name, type, dims, offset, byteSize);
            tensors.Add(info);
            infoOffsets.Add(offsetAt);
            byName.Add(name, info);
        }

        // The data section starts at the next multiple of the alignment. A file without tensors may legitimately
        // stop right after its metadata, so the padding is only required when there is data to find.
        long dataOffset = (long)(((ulong)c.Position + alignment - 1) / alignment * alignment);
        long length = c.Length;
        if (tensorCount > 0 && dataOffset > length)
        {
            throw c.Error(
                $"The data section would start at {dataOffset}, past the end of the file (length {length}).",
                c.Position);
        }

        long room = Math.Max(0, length - dataOffset);
        for (int i = 0; i < tensors.Count; i++)
        {
            GgufTensorInfo t = tensors[i];
            if (t.Offset > (ulong)room || t.ByteSize > room - (long)t.Offset)
            {
                throw c.Error(
                    $"Tensor '{t.Name}' data [offset {t.Offset} in the data section at {dataOffset}, {t.ByteSize} bytes] runs past the end of the file (length {length}).",
                    infoOffsets[i]);
            }
        }

        // Ranges are all inside the file now, so sums below cannot overflow.
        var order = new int[tensors.Count];
        for (int i = 0; i < order.Length; i++)
        {
            order[i] = i;
        }

        Array.Sort(order, (a, b) => tensors[a].Offset.CompareTo(tensors[b].Offset));
        for (int k = 1; k < order.Length; k++)
        {
            GgufTensorInfo prev = tensors[order[k - 1]];
            GgufTensorInfo next = tensors[order[k]];
            if (next.Offset < prev.Offset + (ulong)prev.ByteSize)
            {
                throw c.Error(
                    $"Tensor '{next.Name}' data [offset {next.Offset}, {next.ByteSize} bytes] overlaps tensor '{prev.Name}' [offset {prev.Offset}, {prev.ByteSize} bytes].",
                    infoOffsets[order[k]]);
            }
        }

        return new Parsed(version, alignment, dataOffset, metadata, tensors, byName);
    }

    private static GgufValue ReadValue(ref Cursor c, GgufValueType type, int depth, string key, long typeAt)
    {
        string what = $"the value of metadata key '{key}'";
        switch (type)
        {
            case GgufValueType.UInt8: return GgufValue.From(c.U8(what));
            case GgufValueType.Int8: return GgufValue.From((sbyte)c.U8(what));
            case GgufValueType.UInt16: return GgufValue.From(c.U16(what));
            case GgufValueType.Int16: return GgufValue.From((short)c.U16(what));
            case GgufValueType.UInt32: return GgufValue.From(c.U32(what));
            case GgufValueType.Int32: return GgufValue.From((int)c.U32(what));
            case GgufValueType.UInt64: return GgufValue.From(c.U64(what));
            case GgufValueType.Int64: return GgufValue.From((long)c.U64(what));
            case GgufValueType.Float32: return GgufValue.From(BitConverter.UInt32BitsToSingle(c.U32(what)));
            case GgufValueType.Float64: return GgufValue.From(BitConverter.UInt64BitsToDouble(c.U64(what)));
            case GgufValueType.Bool: return GgufValue.From(c.Bool(what));
            case GgufValueType.String: return GgufValue.From(c.String(what));
            case GgufValueType.Array: return ReadArray(ref c, depth + 1, key);
            default:
                throw c.Error($"Metadata key '{key}' has unknown value type {(uint)type}.", typeAt);
        }
    }

    private static GgufValue ReadArray(ref Cursor c, int depth, string key)
    {
        long at = c.Position;
        if (depth > GgufValue.MaxNestingDepth)
        {
            throw c.Error(
                $"Metadata key '{key}' nests arrays more than {GgufValue.MaxNestingDepth} deep.", at);
        }

        var elementType = (GgufValueType)c.U32($"the array element type of metadata key '{key}'");
        int minSize = elementType switch
        {
            GgufValueType.UInt8 or GgufValueType.Int8 or GgufValueType.Bool => 1,
            GgufValueType.UInt16 or GgufValueType.Int16 => 2,
            GgufValueType.UInt32 or GgufValueType.Int32 or GgufValueType.Float32 => 4,
            GgufValueType.UInt64 or GgufValueType.Int64 or GgufValueType.Float64 or GgufValueType.String => 8,
            GgufValueType.Array => 12,
            _ => throw c.Error($"Metadata key '{key}' is an array of unknown value type {(uint)elementType}.", at),
        };

        long countAt = c.Position;
        ulong count = c.U64($"the array length of metadata key '{key}'");
        if (count > (ulong)(c.Remaining / minSize) || count > (ulong)Array.MaxLength)
        {
            throw c.Error(
                $"Metadata key '{key}' claims {count} array elements of type {elementType}, which cannot fit in the remaining {c.Remaining} bytes.",
                countAt);
        }

        int n = (int)count;
        string what = $"an element of the array in metadata key '{key}'";
        switch (elementType)
        {
            case GgufValueType.UInt8: return Wrap(elementType, c.Block<byte>(n, what));
            case GgufValueType.Int8: return Wrap(elementType, c.Block<sbyte>(n, what));
            case GgufValueType.UInt16: return Wrap(elementType, c.Block<ushort>(n, what));
            case GgufValueType.Int16: return Wrap(elementType, c.Block<short>(n, what));
            case GgufValueType.UInt32: return Wrap(elementType, c.Block<uint>(n, what));
            case GgufValueType.Int32: return Wrap(elementType, c.Block<int>(n, what));
            case GgufValueType.Float32: return Wrap(elementType, c.Block<float>(n, what));
            case GgufValueType.UInt64: return Wrap(elementType, c.Block<ulong>(n, what));
            case GgufValueType.Int64: return Wrap(elementType, c.Block<long>(n, what));
            case GgufValueType.Float64: return Wrap(elementType, c.Block<double>(n, what));
            case GgufValueType.Bool:
            {
                var result = new bool[n];
                for (int i = 0; i < n; i++)
                {
                    result[i] = c.Bool(what);
                }

                return Wrap(elementType, result);
            }

            case GgufValueType.String:
            {
                var result = new string[n];
                for (int i = 0; i < n; i++)
                {
                    result[i] = c.String(what);
                }

                return Wrap(elementType, result);
            }

            default:
            {
                var result = new GgufValue[n];
                int maxDepth = 1;
                for (int i = 0; i < n; i++)
                {
                    GgufValue inner = ReadArray(ref c, depth + 1, key);
                    result[i] = inner;
                    maxDepth = Math.Max(maxDepth, inner.Depth + 1);
                }

                return new GgufValue(GgufValueType.Array, GgufValueType.Array, result, maxDepth);
            }
        }
    }

    private static GgufValue Wrap(GgufValueType elementType, Array values) =>
        new(GgufValueType.Array, elementType, values, 1);

    private readonly record struct Parsed(
        uint Version,
        uint Alignment,
        long DataOffset,
        MetadataMap Metadata,
        List<GgufTensorInfo> Tensors,
        Dictionary<string, GgufTensorInfo> TensorsByName);

    /// <summary>A bounds-checked little-endian reader over the mapped bytes.</summary>
    private ref struct Cursor
    {
        private static readonly System.Text.UTF8Encoding StrictUtf8 = new(false, throwOnInvalidBytes: true);

        private readonly byte* _p;
        private readonly string _path;

        public Cursor(byte* p, long length, string path)
        {
            _p = p;
            Length = length;
            _path = path;
        }

        public long Length { get; }

        public long Position { get; private set; }

        public readonly long Remaining => Length - Position;

        public readonly GgufFormatException Error(string message, long offset, Exception? inner = null) =>
            new(message, _path, offset, inner);

        public byte U8(string what) => *Take(1, what);

        public ushort U16(string what) => System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(Span(2, what));

        public uint U32(string what) => System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(Span(4, what));

        public ulong U64(string what) => System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(Span(8, what));

        public bool Bool(string what)
        {
            long at = Position;
            byte b = U8(what);
            return b switch
            {
                0 => false,
                1 => true,
                _ => throw Error($"Invalid Boolean byte {b} in {what}; only 0 and 1 are valid.", at),
            };
        }

        public string String(string what)
        {
            long at = Position;
            ulong length = U64($"the length of {what}");
            if (length > (ulong)Remaining || length > int.MaxValue)
            {
                throw Error(
                    $"The string length {length} of {what} exceeds the remaining {Remaining} bytes of the file.", at);
            }

            ReadOnlySpan<byte> bytes = Span((int)length, what);
            try
            {
                return StrictUtf8.GetString(bytes);
            }
            catch (System.Text.DecoderFallbackException e)
            {
                throw Error($"Invalid UTF-8 in {what}.", at, e);
            }
        }

        public T[] Block<T>(int count, string what)
            where T : unmanaged
        {
            // Callers have checked count against the remaining bytes, so the byte size fits comfortably.
            long bytes = (long)count * sizeof(T);
            byte* start = Take(bytes, what);
            var result = new T[count];
            if (BitConverter.IsLittleEndian)
            {
                new ReadOnlySpan<byte>(start, (int)bytes).CopyTo(MemoryMarshal.AsBytes(result.AsSpan()));
            }
            else
            {
                throw new PlatformNotSupportedException("GGUF reading requires a little-endian machine.");
            }

            return result;
        }

        private ReadOnlySpan<byte> Span(int n, string what) => new(Take(n, what), n);

        private byte* Take(long n, string what)
        {
            if (n > Remaining)
            {
                throw Error(
                    $"Unexpected end of file while reading {what}: {n} bytes needed, {Remaining} left (file length {Length}).",
                    Position);
            }

            byte* at = _p + Position;
            Position += n;
            return at;
        }
    }

    /// <summary>Metadata in file order with hashed lookup.</summary>
    private sealed class MetadataMap(int capacity) : IReadOnlyDictionary<string, GgufValue>
    {
        private readonly List<KeyValuePair<string, GgufValue>> _ordered = new(capacity);
        private readonly Dictionary<string, GgufValue> _byKey = new(capacity, StringComparer.Ordinal);

        public int Count => _ordered.Count;

        public IEnumerable<string> Keys => _ordered.Select(static p => p.Key);

        public IEnumerable<GgufValue> Values => _ordered.Select(static p => p.Value);

        public GgufValue this[string key] => _byKey[key];

        public void Add(string key, GgufValue value)
        {
            _byKey.Add(key, value);
            _ordered.Add(new KeyValuePair<string, GgufValue>(key, value));
        }

        public bool ContainsKey(string key) => _byKey.ContainsKey(key);

        public bool TryGetValue(string key, [System.Diagnostics.CodeAnalysis.MaybeNullWhen(false)] out GgufValue value) =>
            _byKey.TryGetValue(key, out value);

        public IEnumerator<KeyValuePair<string, GgufValue>> GetEnumerator() => _ordered.GetEnumerator();

        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
