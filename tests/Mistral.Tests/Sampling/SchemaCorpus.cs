using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Mistral.Tests.Sampling;

/// <summary>The ways <see cref="SchemaCorpus.Mutate"/> breaks a valid document, one schema rule each.</summary>
public enum SchemaMutation
{
    MissingRequiredKey,
    WrongType,
    OutsideEnum,
    ExtraKey,
}

/// <summary>
/// Seeded documents for testing the schema constraint: schemas covering the supported subset, random documents
/// that follow them, mutations that each break one rule, and a validator written here, apart from the recognizer,
/// that says whether a document follows a schema.
/// </summary>
/// <remarks>
/// The validator holds documents to what the constraint generates (its documented choices among equivalent
/// texts): only declared keys, in declared order, integers without fraction or exponent. Keys and enum strings here avoid <c>/</c>,
/// so no one-byte mutation can respell one of them (<c>\/</c>) into an equal string the constraint would refuse.
/// </remarks>
internal static class SchemaCorpus
{
    public static readonly string[] Schemas =
    [
        // Objects nested in objects and arrays, required and optional keys, a nullable type, a string enum.
        """
        {"type":"object","title":"person","properties":{
          "name":{"type":"string","description":"full name"},
          "age":{"type":"integer"},
          "email":{"type":["string","null"]},
          "role":{"enum":["admin","user","guest \"x\""]},
          "tags":{"type":"array","items":{"type":"string"}},
          "address":{"type":"object","properties":{"city":{"type":"string"},"zip":{"type":"string"}},"required":["city"],"additionalProperties":false},
          "active":{"type":"boolean"},
          "score":{"type":"number"}},
         "required":["name","age","role"],"additionalProperties":false}
        """,
        // An array at the top, a const, nullable integers, arrays of arrays.
        """
        {"type":"array","items":{"type":"object","properties":{
          "kind":{"const":"point"},
          "n":{"type":["integer","null"]},
          "m":{"type":"array","items":{"type":"array","items":{"type":"number"}}}},
         "required":["kind","n"]}}
        """,
        // Keys that are prefixes of each other, a required one in the middle, every scalar type.
        """
        {"type":"object","properties":{
          "a":{"type":"null"},"ab":{"type":"boolean"},"abc":{"type":["number","string"]},"b":{"type":"integer"},"ba":{"enum":["x","xy","",null]}},
         "required":["ab"]}
        """,
        // Non-ASCII and escaped characters in keys and enum values; an object with no properties.
        """
        {"type":"object","properties":{
          "caf\u00e9 \u65e5\u672c":{"enum":["\ud83d\ude00","tab\t","new\nline","back\\slash"]},
          "empty":{"type":"object","properties":{}},
          "q\"k":{"type":"array","items":{"enum":["\u00e9","e"]}}},
         "required":["empty","q\"k"],"additionalProperties":false}
        """,
    ];

    private static readonly string[] Words = ["a", "é", "日本", "😀", "tab\t", "quote\"", "back\\slash", "/", "", "x y", "\u0001"];

    public static JsonElement Schema(int index) => JsonDocument.Parse(Schemas[index]).RootElement.Clone();

    /// <summary>A random value that follows <paramref name="schema"/>.</summary>
    public static JsonNode? Document(Random random, JsonElement schema)
    {
        if (schema.TryGetProperty("const", out var constant)) return JsonValue.Create(constant.GetString());
        if (schema.TryGetProperty("enum", out var values))
        {
            var value = values[random.Next(values.GetArrayLength())];
            return value.ValueKind == JsonValueKind.Null ? null : JsonValue.Create(value.GetString());
        }
        var types = Types(schema);
        return Of(random, schema, types[random.Next(types.Count)]);
    }

    private static JsonNode? Of(Random random, JsonElement schema, string type)
    {
        switch (type)
        {
            case "string":
                return JsonValue.Create(string.Concat(Enumerable.Range(0, random.Next(4)).Select(_ => Words[random.Next(Words.Length)])));
            case "integer":
                return JsonValue.Create(random.Next(4) == 0 ? 0 : random.Next(-100000, 100000));
            case "number":
                return random.Next(3) switch
                {
                    0 => JsonValue.Create(random.Next(-1000, 1000)),
                    1 => JsonValue.Create(Math.Round((random.NextDouble() - 0.5) * 1000, 3)),
                    _ => JsonValue.Create(random.NextDouble() * 1e-5),
                };
            case "boolean":
                return JsonValue.Create(random.Next(2) == 0);
            case "null":
                return null;
            case "array":
                var array = new JsonArray();
                for (int i = 0, n = random.Next(4); i < n; i++) array.Add(Document(random, schema.GetProperty("items")));
                return array;
            default:
                var obj = new JsonObject();
                var required = Required(schema);
                foreach (var property in Properties(schema))
                {
                    if (required.Contains(property.Name) || random.Next(2) == 0) obj[property.Name] = Document(random, property.Value);
                }
                return obj;
        }
    }

    /// <summary>
    /// <paramref name="document"/> (left as it was) broken in the way <paramref name="mutation"/> says, at a random
    /// place where that is possible; <paramref name="applied"/> is false when the document has no such place.
    /// </summary>
    public static JsonNode? Mutate(Random random, JsonElement schema, JsonNode? document, SchemaMutation mutation, out bool applied)
    {
        // The root sits in a holder so that replacing it is replacing an element like any other.
        var holder = new JsonArray(document?.DeepClone());
        var sites = new List<Action>();
        Sites(schema, holder[0], holder, 0, mutation, sites);
        applied = sites.Count > 0;
        if (applied) sites[random.Next(sites.Count)]();
        return holder[0]?.DeepClone();
    }

    private static void Sites(JsonElement schema, JsonNode? node, JsonNode parent, object key, SchemaMutation mutation, List<Action> sites)
    {
        void Replace(JsonNode? value)
        {
            if (parent is JsonObject o) o[(string)key] = value;
            else ((JsonArray)parent)[(int)key] = value;
        }

        var isEnum = schema.TryGetProperty("enum", out var values) || schema.TryGetProperty("const", out values);
        var types = isEnum
            ? (values.ValueKind == JsonValueKind.Array ? values.EnumerateArray() : (IEnumerable<JsonElement>)[values])
                .Select(v => v.ValueKind == JsonValueKind.Null ? "null" : "string").Distinct().ToList()
            : Types(schema);
        if (mutation == SchemaMutation.WrongType)
        {
            foreach (var type in (string[])["string", "integer", "number", "boolean", "null", "array", "object"])
            {
                if (!types.Contains(type) && !(type == "integer" && types.Contains("number"))) sites.Add(() => Replace(WrongValue(type)));
            }
        }
        if (mutation == SchemaMutation.OutsideEnum && isEnum && node is JsonValue)
            sites.Add(() => Replace(JsonValue.Create("not in the enum")));
        if (node is JsonObject obj)
        {
            var required = Required(schema);
            if (mutation == SchemaMutation.MissingRequiredKey)
                foreach (var name in required.Where(obj.ContainsKey)) sites.Add(() => obj.Remove(name));
            if (mutation == SchemaMutation.ExtraKey)
                sites.Add(() => obj["undeclared"] = 1);
            var properties = Properties(schema).ToDictionary(p => p.Name, p => p.Value);
            foreach (var (name, value) in obj.ToList()) Sites(properties[name], value, obj, name, mutation, sites);
        }
        else if (node is JsonArray array)
        {
            for (var i = 0; i < array.Count; i++) Sites(schema.GetProperty("items"), array[i], array, i, mutation, sites);
        }
    }

    /// <summary>A value of <paramref name="type"/> (never 1.0-style: an integer value is written as an integer).</summary>
    private static JsonNode? WrongValue(string type) => type switch
    {
        "string" => JsonValue.Create("text"),
        "integer" => JsonValue.Create(7),
        "number" => JsonValue.Create(2.5),
        "boolean" => JsonValue.Create(true),
        "null" => null,
        "array" => new JsonArray(),
        _ => new JsonObject(),
    };

    /// <summary>
    /// <paramref name="node"/> as UTF-8 JSON with random whitespace (runs of at most 3 bytes), strings escaping
    /// only what JSON requires.
    /// </summary>
    public static byte[] Write(Random random, JsonNode? node)
    {
        var text = new StringBuilder();
        Blank(random, text);
        Write(random, text, node);
        Blank(random, text);
        return Encoding.UTF8.GetBytes(text.ToString());
    }

    private static void Write(Random random, StringBuilder text, JsonNode? node)
    {
        switch (node)
        {
            case null: text.Append("null"); break;
            case JsonObject obj:
                text.Append('{');
                var first = true;
                foreach (var (name, value) in obj)
                {
                    if (!first) text.Append(',');
                    first = false;
                    Blank(random, text);
                    Quote(text, name);
                    Blank(random, text);
                    text.Append(':');
                    Blank(random, text);
                    Write(random, text, value);
                    Blank(random, text);
                }
                if (first) Blank(random, text);
                text.Append('}');
                break;
            case JsonArray array:
                text.Append('[');
                for (var i = 0; i < array.Count; i++)
                {
                    if (i > 0) text.Append(',');
                    Blank(random, text);
                    Write(random, text, array[i]);
                    Blank(random, text);
                }
                if (array.Count == 0) Blank(random, text);
                text.Append(']');
                break;
            default:
                if (node.GetValueKind() == JsonValueKind.String) Quote(text, node.GetValue<string>());
                else text.Append(node.ToJsonString());
                break;
        }
    }

    /// <summary>The spelling the constraint requires of keys and enum strings: only <c>"</c>, <c>\</c> and controls escaped.</summary>
    private static void Quote(StringBuilder text, string value)
    {
        text.Append('"');
        foreach (var c in value)
        {
            switch (c)
            {
                case '"': text.Append("\\\""); break;
                case '\\': text.Append("\\\\"); break;
                case '\n': text.Append("\\n"); break;
                case '\t': text.Append("\\t"); break;
                case '\r': text.Append("\\r"); break;
                case '\b': text.Append("\\b"); break;
                case '\f': text.Append("\\f"); break;
                case < ' ': text.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture)); break;
                default: text.Append(c); break;
            }
        }
        text.Append('"');
    }

    private static void Blank(Random random, StringBuilder text)
    {
        var n = random.Next(5) < 3 ? 0 : random.Next(1, 4);
        for (var i = 0; i < n; i++) text.Append(" \n\t\r"[random.Next(4)]);
    }

    /// <summary>Whether the UTF-8 text is one JSON value that follows <paramref name="schema"/>.</summary>
    public static bool Valid(JsonElement schema, byte[] utf8)
    {
        if (!JsonCorpus.StjAccepts(utf8)) return false;
        using var document = JsonDocument.Parse(utf8);
        return Valid(schema, document.RootElement);
    }

    public static bool Valid(JsonElement schema, JsonElement value)
    {
        if (schema.TryGetProperty("const", out var constant)) return value.ValueKind == JsonValueKind.String && value.GetString() == constant.GetString();
        if (schema.TryGetProperty("enum", out var values))
        {
            return values.EnumerateArray().Any(v => v.ValueKind == value.ValueKind &&
                (v.ValueKind == JsonValueKind.Null || (v.ValueKind == JsonValueKind.String && v.GetString() == value.GetString())));
        }
        var types = Types(schema);
        switch (value.ValueKind)
        {
            case JsonValueKind.String: return types.Contains("string");
            case JsonValueKind.True or JsonValueKind.False: return types.Contains("boolean");
            case JsonValueKind.Null: return types.Contains("null");
            case JsonValueKind.Number:
                var raw = value.GetRawText();
                return types.Contains("number") || (types.Contains("integer") && raw.IndexOfAny(['.', 'e', 'E']) < 0);
            case JsonValueKind.Array:
                return types.Contains("array") && value.EnumerateArray().All(item => Valid(schema.GetProperty("items"), item));
            case JsonValueKind.Object:
                if (!types.Contains("object")) return false;
                var declared = Properties(schema).Select(p => p.Name).ToList();
                var last = -1;
                var seen = new HashSet<string>();
                foreach (var property in value.EnumerateObject())
                {
                    var index = declared.IndexOf(property.Name);
                    if (index <= last) return false;   // undeclared (-1), repeated or out of declared order
                    last = index;
                    seen.Add(property.Name);
                    if (!Valid(schema.GetProperty("properties").GetProperty(property.Name), property.Value)) return false;
                }
                return Required(schema).All(seen.Contains);
            default:
                return false;
        }
    }

    private static List<string> Types(JsonElement schema)
    {
        if (!schema.TryGetProperty("type", out var type)) return [];
        return type.ValueKind == JsonValueKind.String ? [type.GetString()!] : [.. type.EnumerateArray().Select(t => t.GetString()!)];
    }

    private static IEnumerable<JsonProperty> Properties(JsonElement schema) =>
        schema.TryGetProperty("properties", out var properties) ? properties.EnumerateObject() : [];

    private static HashSet<string> Required(JsonElement schema) =>
        schema.TryGetProperty("required", out var required) ? [.. required.EnumerateArray().Select(r => r.GetString()!)] : [];
}
