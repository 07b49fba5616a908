using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Mistral.Chat;

/// <summary>
/// Writes JSON the way Mistral's tool prompts were written in training: mistral-common serializes tools, calls and
/// results with Python's <c>json.dumps(value, ensure_ascii=False)</c>, whose output differs from compact JSON in its
/// separators (<c>", "</c> between items, <c>": "</c> after keys) and keeps non-ASCII characters as they are. Writing
/// the same bytes matters because the model saw exactly those tokens; object keys keep their order.
/// </summary>
internal static class MistralJson
{
    /// <summary>The value as <c>json.dumps(value, ensure_ascii=False)</c> writes it.</summary>
    public static string Dumps(JsonElement value)
    {
        var text = new StringBuilder();
        Write(text, value);
        return text.ToString();
    }

    /// <summary>A string as <c>json.dumps</c> writes it, quotes included.</summary>
    public static string Quote(string value)
    {
        var text = new StringBuilder(value.Length + 2);
        WriteString(text, value);
        return text.ToString();
    }

    private static void Write(StringBuilder text, JsonElement value)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.Object:
                text.Append('{');
                var firstMember = true;
                foreach (var member in value.EnumerateObject())
                {
                    if (!firstMember) text.Append(", ");
                    firstMember = false;
                    WriteString(text, member.Name);
                    text.Append(": ");
                    Write(text, member.Value);
                }
                text.Append('}');
                break;
            case JsonValueKind.Array:
                text.Append('[');
                var firstItem = true;
                foreach (var item in value.EnumerateArray())
                {
                    if (!firstItem) text.Append(", ");
                    firstItem = false;
                    Write(text, item);
                }
                text.Append(']');
                break;
            case JsonValueKind.String:
                WriteString(text, value.GetString()!);
                break;
            case JsonValueKind.True:
                text.Append("true");
                break;
            case JsonValueKind.False:
                text.Append("false");
                break;
            case JsonValueKind.Null or JsonValueKind.Undefined:
                text.Append("null");
                break;
            default:
                // A number keeps the digits it was given: Python re-prints an integer the same way, and the
                // arguments the model wrote are echoed back as it wrote them.
                text.Append(value.GetRawText());
                break;
        }
    }

    /// <summary>Python's escaping with ensure_ascii=False: the two-character escapes, \u00XX for other controls, all else verbatim.</summary>
    private static void WriteString(StringBuilder text, string value)
    {
        text.Append('"');
        foreach (var c in value)
        {
            switch (c)
            {
                case '"': text.Append("\\\""); break;
                case '\\': text.Append("\\\\"); break;
                case '\n': text.Append("\\n"); break;
                case '\r': text.Append("\\r"); break;
                case '\t': text.Append("\\t"); break;
                case '\b': text.Append("\\b"); break;
                case '\f': text.Append("\\f"); break;
                default:
                    if (c < 0x20) text.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    else text.Append(c);
                    break;
            }
        }
        text.Append('"');
    }
}
