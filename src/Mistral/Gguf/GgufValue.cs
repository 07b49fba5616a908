using System.Globalization;
using System.Numerics;

namespace Mistral.Gguf;

/// <summary>
/// An immutable GGUF metadata value: a scalar, a string, or a (possibly nested) array of one element type.
/// </summary>
/// <remarks>
/// Arrays are held as typed .NET arrays (<c>byte[]</c>, <c>sbyte[]</c>, <c>ushort[]</c>, <c>short[]</c>,
/// <c>uint[]</c>, <c>int[]</c>, <c>float[]</c>, <c>bool[]</c>, <c>string[]</c>, <c>ulong[]</c>, <c>long[]</c>,
/// <c>double[]</c>, or <c>GgufValue[]</c> for arrays of arrays). Factories copy their input and accessors
/// hand out copies, so a value can be shared freely; <see cref="AsSpan{T}"/> gives zero-copy read-only access
/// for large arrays such as a tokenizer's vocabulary.
/// </remarks>
public sealed class GgufValue
{
    /// <summary>The deepest array nesting accepted by the reader and writer (an array of scalars has depth 1).</summary>
    public const int MaxNestingDepth = 8;

    private readonly object _value;

    internal GgufValue(GgufValueType type, GgufValueType? elementType, object value, int depth = 0)
    {
        Type = type;
        ElementType = elementType;
        _value = value;
        Depth = depth;
    }

    /// <summary>The value's type tag.</summary>
    public GgufValueType Type { get; }

    /// <summary>For arrays, the type tag of the elements; otherwise <see langword="null"/>.</summary>
    public GgufValueType? ElementType { get; }

    /// <summary>
    /// The value: a boxed primitive of the matching .NET type, a <see cref="string"/>, or a copy of the typed array.
    /// </summary>
    public object Value => _value is Array a ? a.Clone() : _value;

    /// <summary>The number of elements of an array value.</summary>
    /// <exception cref="GgufFormatException">The value is not an array.</exception>
    public int ArrayLength => Type == GgufValueType.Array
        ? ((Array)_value).Length
        : throw WrongType("an array");

    /// <summary>Array nesting depth: 0 for scalars and strings, 1 for an array of scalars, and so on.</summary>
    internal int Depth { get; }

    /// <summary>Creates a <see cref="GgufValueType.String"/> value.</summary>
    /// <param name="value">The string; must not be null.</param>
    /// <returns>The value.</returns>
    public static GgufValue From(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        return new GgufValue(GgufValueType.String, null, value);
    }

    /// <summary>Creates a <see cref="GgufValueType.UInt8"/> value.</summary>
    /// <param name="value">The value.</param>
    /// <returns>The value.</returns>
    public static GgufValue From(byte value) => new(GgufValueType.UInt8, null, value);

    /// <summary>Creates a <see cref="GgufValueType.Int8"/> value.</summary>
    /// <param name="value">The value.</param>
    /// <returns>The value.</returns>
    public static GgufValue From(sbyte value) => new(GgufValueType.Int8, null, value);

    /// <summary>Creates a <see cref="GgufValueType.UInt16"/> value.</summary>
    /// <param name="value">The value.</param>
    /// <returns>The value.</returns>
    public static GgufValue From(ushort value) => new(GgufValueType.UInt16, null, value);

    /// <summary>Creates a <see cref="GgufValueType.Int16"/> value.</summary>
    /// <param name="value">The value.</param>
    /// <returns>The value.</returns>
    public static GgufValue From(short value) => new(GgufValueType.Int16, null, value);

    /// <summary>Creates a <see cref="GgufValueType.UInt32"/> value.</summary>
    /// <param name="value">The value.</param>
    /// <returns>The value.</returns>
    public static GgufValue From(uint value) => new(GgufValueType.UInt32, null, value);

    /// <summary>Creates a <see cref="GgufValueType.Int32"/> value.</summary>
    /// <param name="value">The value.</param>
    /// <returns>The value.</returns>
    public static GgufValue From(int value) => new(GgufValueType.Int32, null, value);

    /// <summary>Creates a <see cref="GgufValueType.UInt64"/> value.</summary>
    /// <param name="value">The value.</param>
    /// <returns>The value.</returns>
    public static GgufValue From(ulong value) => new(GgufValueType.UInt64, null, value);

    /// <summary>Creates a <see cref="GgufValueType.Int64"/> value.</summary>
    /// <param name="value">The value.</param>
    /// <returns>The value.</returns>
    public static GgufValue From(long value) => new(GgufValueType.Int64, null, value);

    /// <summary>Creates a <see cref="GgufValueType.Float32"/> value.</summary>
    /// <param name="value">The value.</param>
    /// <returns>The value.</returns>
    public static GgufValue From(float value) => new(GgufValueType.Float32, null, value);

    /// <summary>Creates a <see cref="GgufValueType.Float64"/> value.</summary>
    /// <param name="value">The value.</param>
    /// <returns>The value.</returns>
    public static GgufValue From(double value) => new(GgufValueType.Float64, null, value);

    /// <summary>Creates a <see cref="GgufValueType.Bool"/> value.</summary>
    /// <param name="value">The value.</param>
    /// <returns>The value.</returns>
    public static GgufValue From(bool value) => new(GgufValueType.Bool, null, value);

    /// <summary>Creates an array of <see cref="GgufValueType.UInt8"/> (copied).</summary>
    /// <param name="values">The elements.</param>
    /// <returns>The value.</returns>
    public static GgufValue FromArray(byte[] values) => Arr(GgufValueType.UInt8, values);

    /// <summary>Creates an array of <see cref="GgufValueType.Int8"/> (copied).</summary>
    /// <param name="values">The elements.</param>
    /// <returns>The value.</returns>
    public static GgufValue FromArray(sbyte[] values) => Arr(GgufValueType.Int8, values);

    /// <summary>Creates an array of <see cref="GgufValueType.UInt16"/> (copied).</summary>
    /// <param name="values">The elements.</param>
    /// <returns>The value.</returns>
    public static GgufValue FromArray(ushort[] values) => Arr(GgufValueType.UInt16, values);

    /// <summary>Creates an array of <see cref="GgufValueType.Int16"/> (copied).</summary>
    /// <param name="values">The elements.</param>
    /// <returns>The value.</returns>
    public static GgufValue FromArray(short[] values) => Arr(GgufValueType.Int16, values);

    /// <summary>Creates an array of <see cref="GgufValueType.UInt32"/> (copied).</summary>
    /// <param name="values">The elements.</param>
    /// <returns>The value.</returns>
    public static GgufValue FromArray(uint[] values) => Arr(GgufValueType.UInt32, values);

    /// <summary>Creates an array of <see cref="GgufValueType.Int32"/> (copied).</summary>
    /// <param name="values">The elements.</param>
    /// <returns>The value.</returns>
    public static GgufValue FromArray(int[] values) => Arr(GgufValueType.Int32, values);

    /// <summary>Creates an array of <see cref="GgufValueType.UInt64"/> (copied).</summary>
    /// <param name="values">The elements.</param>
    /// <returns>The value.</returns>
    public static GgufValue FromArray(ulong[] values) => Arr(GgufValueType.UInt64, values);

    /// <summary>Creates an array of <see cref="GgufValueType.Int64"/> (copied).</summary>
    /// <param name="values">The elements.</param>
    /// <returns>The value.</returns>
    public static GgufValue FromArray(long[] values) => Arr(GgufValueType.Int64, values);

    /// <summary>Creates an array of <see cref="GgufValueType.Float32"/> (copied).</summary>
    /// <param name="values">The elements.</param>
    /// <returns>The value.</returns>
    public static GgufValue FromArray(float[] values) => Arr(GgufValueType.Float32, values);

    /// <summary>Creates an array of <see cref="GgufValueType.Float64"/> (copied).</summary>
    /// <param name="values">The elements.</param>
    /// <returns>The value.</returns>
    public static GgufValue FromArray(double[] values) => Arr(GgufValueType.Float64, values);

    /// <summary>Creates an array of <see cref="GgufValueType.Bool"/> (copied).</summary>
    /// <param name="values">The elements.</param>
    /// <returns>The value.</returns>
    public static GgufValue FromArray(bool[] values) => Arr(GgufValueType.Bool, values);

    /// <summary>Creates an array of <see cref="GgufValueType.String"/> (copied).</summary>
    /// <param name="values">The elements; none may be null.</param>
    /// <returns>The value.</returns>
    /// <exception cref="ArgumentException">An element is null.</exception>
    public static GgufValue FromArray(string[] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (Array.IndexOf(values, null) is int i and >= 0)
        {
            throw new ArgumentException($"String array element {i} is null.", nameof(values));
        }

        return Arr(GgufValueType.String, values);
    }

    /// <summary>
    /// Creates an array of arrays (element type <see cref="GgufValueType.Array"/>). Every element must itself be an
    /// array value; each inner array carries its own element type, as in the file format.
    /// </summary>
    /// <param name="values">The inner arrays (copied shallowly; they are immutable).</param>
    /// <returns>The value.</returns>
    /// <exception cref="ArgumentException">An element is null or not an array, or nesting exceeds <see cref="MaxNestingDepth"/>.</exception>
    public static GgufValue FromArray(GgufValue[] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        int depth = 1;
        for (int i = 0; i < values.Length; i++)
        {
            GgufValue? v = values[i];
            if (v is null || v.Type != GgufValueType.Array)
            {
                throw new ArgumentException(
                    $"Element {i} of a nested array must be an array value, not {(v is null ? "null" : v.Type.ToString())}.",
                    nameof(values));
            }

            depth = Math.Max(depth, v.Depth + 1);
        }

        if (depth > MaxNestingDepth)
        {
            throw new ArgumentException($"Arrays may be nested at most {MaxNestingDepth} deep.", nameof(values));
        }

        return new GgufValue(GgufValueType.Array, GgufValueType.Array, values.Clone(), depth);
    }

    /// <summary>The string value.</summary>
    /// <returns>The string.</returns>
    /// <exception cref="GgufFormatException">The value is not a string.</exception>
    public string AsString() => _value as string ?? throw WrongType("a string");

    /// <summary>The value as a <see cref="bool"/>.</summary>
    /// <returns>The Boolean.</returns>
    /// <exception cref="GgufFormatException">The value is not a Boolean.</exception>
    public bool AsBoolean() => _value is bool b ? b : throw WrongType("a Boolean");

    /// <summary>The value as a <see cref="long"/>; any integer type is accepted if the value fits.</summary>
    /// <returns>The integer.</returns>
    /// <exception cref="GgufFormatException">Not an integer, or out of range.</exception>
    public long AsInt64() => ConvertInteger<long>();

    /// <summary>The value as a <see cref="ulong"/>; any integer type is accepted if the value fits.</summary>
    /// <returns>The integer.</returns>
    /// <exception cref="GgufFormatException">Not an integer, or out of range.</exception>
    public ulong AsUInt64() => ConvertInteger<ulong>();

    /// <summary>The value as an <see cref="int"/>; any integer type is accepted if the value fits.</summary>
    /// <returns>The integer.</returns>
    /// <exception cref="GgufFormatException">Not an integer, or out of range.</exception>
    public int AsInt32() => ConvertInteger<int>();

    /// <summary>The value as a <see cref="uint"/>; any integer type is accepted if the value fits.</summary>
    /// <returns>The integer.</returns>
    /// <exception cref="GgufFormatException">Not an integer, or out of range.</exception>
    public uint AsUInt32() => ConvertInteger<uint>();

    /// <summary>The value as a <see cref="float"/>; float32, float64 (rounded) and integers are accepted.</summary>
    /// <returns>The number.</returns>
    /// <exception cref="GgufFormatException">Not a number.</exception>
    public float AsSingle() => _value switch
    {
        float f => f,
        double d => (float)d,
        _ when TryGetInteger(_value, out Int128 i) => (float)i,
        _ => throw WrongType("a number"),
    };

    /// <summary>The value as a <see cref="double"/>; float32, float64 and integers are accepted.</summary>
    /// <returns>The number.</returns>
    /// <exception cref="GgufFormatException">Not a number.</exception>
    public double AsDouble() => _value switch
    {
        float f => f,
        double d => d,
        _ when TryGetInteger(_value, out Int128 i) => (double)i,
        _ => throw WrongType("a number"),
    };

    /// <summary>
    /// A copy of the array's elements as <typeparamref name="T"/>[]. <typeparamref name="T"/> must match the element
    /// type (see the class remarks), except that integer arrays convert to any integer type when every element fits,
    /// and float32/float64 arrays convert to <see cref="float"/> or <see cref="double"/>.
    /// </summary>
    /// <typeparam name="T">The .NET element type.</typeparam>
    /// <returns>A new array.</returns>
    /// <exception cref="GgufFormatException">Not an array, or the elements cannot be read as <typeparamref name="T"/>.</exception>
    public T[] AsArray<T>()
    {
        // Compare exact types: the CLR lets a uint[] pass as int[] (and byte[] as sbyte[]), which would
        // silently reinterpret values instead of range-checking them.
        if (_value.GetType() == typeof(T[]))
        {
            return (T[])((T[])_value).Clone();
        }

        if (_value is not Array source)
        {
            throw WrongType($"an array of {typeof(T).Name}");
        }

        object? converted = typeof(T) switch
        {
            Type t when t == typeof(byte) => ConvertIntegers<byte>(source),
            Type t when t == typeof(sbyte) => ConvertIntegers<sbyte>(source),
            Type t when t == typeof(ushort) => ConvertIntegers<ushort>(source),
            Type t when t == typeof(short) => ConvertIntegers<short>(source),
            Type t when t == typeof(uint) => ConvertIntegers<uint>(source),
            Type t when t == typeof(int) => ConvertIntegers<int>(source),
            Type t when t == typeof(ulong) => ConvertIntegers<ulong>(source),
            Type t when t == typeof(long) => ConvertIntegers<long>(source),
            Type t when t == typeof(float) && source is double[] d => Array.ConvertAll(d, x => (float)x),
            Type t when t == typeof(double) && source is float[] f => Array.ConvertAll(f, x => (double)x),
            _ => null,
        };
        return converted as T[] ?? throw WrongType($"an array of {typeof(T).Name}");
    }

    /// <summary>Zero-copy read-only view of an array whose element type matches <typeparamref name="T"/> exactly.</summary>
    /// <typeparam name="T">The .NET element type (see the class remarks).</typeparam>
    /// <returns>The elements.</returns>
    /// <exception cref="GgufFormatException">Not an array of exactly <typeparamref name="T"/>.</exception>
    public ReadOnlySpan<T> AsSpan<T>() =>
        _value.GetType() == typeof(T[]) ? (T[])_value : throw WrongType($"an array of {typeof(T).Name}");

    /// <inheritdoc/>
    public override string ToString() => _value switch
    {
        string s => s,
        Array a => $"{ElementType}[{a.Length}]",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => _value.ToString() ?? string.Empty,
    };

    /// <summary>
    /// The value of an integer scalar of any width or signedness, widened so that no value is lost (for readers
    /// that give out-of-range values a meaning of their own, such as "absent", instead of refusing them).
    /// </summary>
    internal bool TryGetInteger(out Int128 result) => TryGetInteger(_value, out result);

    private static GgufValue Arr<T>(GgufValueType elementType, T[] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        return new GgufValue(GgufValueType.Array, elementType, values.Clone(), 1);
    }

    private T ConvertInteger<T>()
        where T : IBinaryInteger<T>
    {
        if (!TryGetInteger(_value, out Int128 i))
        {
            throw WrongType($"an integer ({typeof(T).Name})");
        }

        return CheckedFrom<T>(i);
    }

    private T CheckedFrom<T>(Int128 i)
        where T : IBinaryInteger<T>
    {
        try
        {
            return T.CreateChecked(i);
        }
        catch (OverflowException)
        {
            throw new GgufFormatException($"The {Type} value {i} does not fit in {typeof(T).Name}.");
        }
    }

    private T[]? ConvertIntegers<T>(Array source)
        where T : IBinaryInteger<T>
    {
        if (ElementType is not (GgufValueType.UInt8 or GgufValueType.Int8 or GgufValueType.UInt16 or GgufValueType.Int16
            or GgufValueType.UInt32 or GgufValueType.Int32 or GgufValueType.UInt64 or GgufValueType.Int64))
        {
            return null;
        }

        var result = new T[source.Length];
        for (int k = 0; k < result.Length; k++)
        {
            TryGetInteger(source.GetValue(k)!, out Int128 i);
            result[k] = CheckedFrom<T>(i);
        }

        return result;
    }

    private static bool TryGetInteger(object value, out Int128 result)
    {
        switch (value)
        {
            case byte v: result = v; return true;
            case sbyte v: result = v; return true;
            case ushort v: result = v; return true;
            case short v: result = v; return true;
            case uint v: result = v; return true;
            case int v: result = v; return true;
            case ulong v: result = v; return true;
            case long v: result = v; return true;
            default: result = 0; return false;
        }
    }

    private GgufFormatException WrongType(string wanted)
    {
        string actual = Type == GgufValueType.Array ? $"an array of {ElementType}" : Type.ToString();
        return new GgufFormatException($"Expected {wanted} but the value is {actual}.");
    }
}
