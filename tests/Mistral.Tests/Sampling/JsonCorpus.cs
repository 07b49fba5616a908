using System.Text;
using System.Text.Json;

namespace Mistral.Tests.Sampling;

/// <summary>
/// Seeded JSON texts for testing the JSON constraint against System.Text.Json: valid documents with varied
/// whitespace, escapes, numbers and non-ASCII text, and single-byte mutations of them (mostly invalid).
/// </summary>
internal static class JsonCorpus
{
    private static readonly string[] Words = ["a", "key", "é", "日本", "😀", "tab\t", "quote\"", "back\\slash", "/", "", "x y"];

    /// <summary>A random JSON value as UTF-8, whitespace runs of at most 3 bytes, depth at most <paramref name="maxDepth"/>.</summary>
    public static byte[] Document(Random random, int maxDepth = 4, bool rootObject = false)
    {
        var text = new StringBuilder();
        Whitespace(random, text);
        if (rootObject) Object(random, text, maxDepth);
        else Value(random, text, maxDepth);
        Whitespace(random, text);
        return Encoding.UTF8.GetBytes(text.ToString());
    }

    /// <summary><paramref name="source"/> with one byte replaced, inserted or deleted at a random place.</summary>
    public static byte[] Mutate(Random random, byte[] source)
    {
        // Bytes that matter to JSON, plus random ones (invalid UTF-8 among them).
        ReadOnlySpan<byte> interesting = "{}[]:,\"\\ \n0123456789-+.eEtrufalsn/bu\x01"u8;
        var b = random.Next(3) == 0 ? (byte)random.Next(256) : interesting[random.Next(interesting.Length)];
        var at = random.Next(source.Length + 1);
        var list = source.ToList();
        switch (random.Next(3))
        {
            case 0 when at < list.Count: list[at] = b; break;
            case 1 when at < list.Count: list.RemoveAt(at); break;
            default: list.Insert(at, b); break;
        }
        return [.. list];
    }

    /// <summary>Whether System.Text.Json accepts the whole text (any value at the top, default depth limit 64).</summary>
    public static bool StjAccepts(byte[] utf8)
    {
        try
        {
            using var document = JsonDocument.Parse(utf8);
            // The reader checks strings lazily: reading every string back is what makes it check their UTF-8.
            Touch(document.RootElement);
            return true;
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or ArgumentException)
        {
            return false;
        }
    }

    /// <summary>
    /// Whether System.Text.Json finds no error in a text that may be cut short: its reader with
    /// <c>isFinalBlock: false</c> stops at the end of the data without complaint unless what came before was invalid.
    /// </summary>
    public static bool StjAcceptsPrefix(byte[] utf8)
    {
        var reader = new Utf8JsonReader(utf8, isFinalBlock: false, state: default);
        try
        {
            while (reader.Read())
            {
                if (reader.TokenType is JsonTokenType.String or JsonTokenType.PropertyName) reader.GetString();
            }
            return true;
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            return false;
        }
    }

    private static void Touch(JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.String: element.GetString(); break;
            case JsonValueKind.Array: foreach (var item in element.EnumerateArray()) Touch(item); break;
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    _ = property.Name;
                    Touch(property.Value);
                }
                break;
        }
    }

    private static void Value(Random random, StringBuilder text, int depth)
    {
        switch (random.Next(depth > 0 ? 8 : 6))
        {
            case 0: text.Append(random.Next(3) switch { 0 => "true", 1 => "false", _ => "null" }); break;
            case 1 or 2: Number(random, text); break;
            case 3 or 4 or 5: String(random, text); break;
            case 6: Object(random, text, depth - 1); break;
            default: Array(random, text, depth - 1); break;
        }
    }

    private static void Object(Random random, StringBuilder text, int depth)
    {
        text.Append('{');
        var count = random.Next(4);
        for (var i = 0; i < count; i++)
        {
            if (i > 0) text.Append(',');
            Whitespace(random, text);
            String(random, text);
            Whitespace(random, text);
            text.Append(':');
            Whitespace(random, text);
            Value(random, text, depth);
            Whitespace(random, text);
        }
        if (count == 0) Whitespace(random, text);
        text.Append('}');
    }

    private static void Array(Random random, StringBuilder text, int depth)
    {
        text.Append('[');
        var count = random.Next(4);
        for (var i = 0; i < count; i++)
        {
            if (i > 0) text.Append(',');
            Whitespace(random, text);
            Value(random, text, depth);
            Whitespace(random, text);
        }
        if (count == 0) Whitespace(random, text);
        text.Append(']');
    }

    private static void Number(Random random, StringBuilder text)
    {
        if (random.Next(3) == 0) text.Append('-');
        text.Append(random.Next(4) == 0 ? "0" : random.Next(1, 100000).ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (random.Next(3) == 0) text.Append('.').Append(random.Next(1000));
        if (random.Next(4) == 0) text.Append(random.Next(2) == 0 ? 'e' : 'E').Append(random.Next(3) switch { 0 => "+", 1 => "-", _ => "" }).Append(random.Next(300));
    }

    private static void String(Random random, StringBuilder text)
    {
        text.Append('"');
        var parts = random.Next(4);
        for (var i = 0; i < parts; i++)
        {
            switch (random.Next(4))
            {
                case 0: text.Append(random.Next(8) switch { 0 => "\\\"", 1 => "\\\\", 2 => "\\/", 3 => "\\b", 4 => "\\f", 5 => "\\n", 6 => "\\r", _ => "\\t" }); break;
                case 1: text.Append("\\u").Append(random.Next(0x7000).ToString("x4", System.Globalization.CultureInfo.InvariantCulture)); break;
                default: text.Append(JsonEncodedText.Encode(Words[random.Next(Words.Length)], System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping).Value); break;
            }
        }
        text.Append('"');
    }

    private static void Whitespace(Random random, StringBuilder text)
    {
        var n = random.Next(5) < 3 ? 0 : random.Next(1, 4);
        for (var i = 0; i < n; i++) text.Append(" \n\t\r"[random.Next(4)]);
    }
}
