using System.Text;
using Mistral.Gguf;

namespace Mistral.HostileInput.Gguf;

/// <summary>Encodes metadata values as GGUF stores them (type tag, then payload), recording the lengths inside.</summary>
internal static class ValueCodec
{
    /// <summary>The entry for <paramref name="value"/>, with its payload's string and array lengths mapped.</summary>
    public static KeyValueEntry Entry(string key, GgufValue value)
    {
        using var stream = new MemoryStream();
        using var w = new BinaryWriter(stream);
        var fields = new List<Field>();
        WritePayload(w, stream, value.Type, value.Value, value.ElementType, $"'{key}'", fields);
        w.Flush();
        return new KeyValueEntry(key, (uint)value.Type, stream.ToArray(), fields);
    }

    /// <summary>A string entry whose bytes are written as given, valid UTF-8 or not.</summary>
    public static KeyValueEntry RawString(string key, byte[] utf8)
    {
        var payload = new byte[8 + utf8.Length];
        BitConverter.TryWriteBytes(payload, (ulong)utf8.Length);
        utf8.CopyTo(payload, 8);
        return new KeyValueEntry(key, (uint)GgufValueType.String, payload, [new Field($"length of '{key}'", FieldClass.StringLength, 0, 8)]);
    }

    /// <summary>An array-of-strings entry whose elements are written as given, valid UTF-8 or not.</summary>
    public static KeyValueEntry RawStringArray(string key, IReadOnlyList<byte[]> items)
    {
        using var stream = new MemoryStream();
        using var w = new BinaryWriter(stream);
        var fields = new List<Field>
        {
            new($"element type of '{key}'", FieldClass.TypeTag, 0, 4),
            new($"length of '{key}'", FieldClass.ArrayLength, 4, 8),
        };
        w.Write((uint)GgufValueType.String);
        w.Write((ulong)items.Count);
        foreach (var item in items)
        {
            w.Write((ulong)item.Length);
            w.Write(item);
        }
        w.Flush();
        return new KeyValueEntry(key, (uint)GgufValueType.Array, stream.ToArray(), fields);
    }

    private static void WritePayload(BinaryWriter w, MemoryStream s, GgufValueType type, object value, GgufValueType? elementType,
        string where, List<Field> fields)
    {
        switch (value)
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
            case string v:
                fields.Add(new Field($"length of {where}", FieldClass.StringLength, s.Position, 8));
                WriteString(w, v);
                break;
            case Array a when type == GgufValueType.Array:
                fields.Add(new Field($"element type of {where}", FieldClass.TypeTag, s.Position, 4));
                w.Write((uint)elementType!.Value);
                fields.Add(new Field($"length of {where}", FieldClass.ArrayLength, s.Position, 8));
                w.Write((ulong)a.Length);
                for (var i = 0; i < a.Length; i++)
                {
                    var element = a.GetValue(i)!;
                    var at = $"{where}[{i}]";
                    if (element is GgufValue inner) WritePayload(w, s, inner.Type, inner.Value, inner.ElementType, at, fields);
                    else WritePayload(w, s, elementType.Value, element, null, at, fields);
                }
                break;
            default:
                throw new InvalidOperationException($"A value of type {value.GetType()} has no GGUF encoding.");
        }
    }

    private static void WriteString(BinaryWriter w, string s)
    {
        var utf8 = Encoding.UTF8.GetBytes(s);
        w.Write((ulong)utf8.Length);
        w.Write(utf8);
    }
}
