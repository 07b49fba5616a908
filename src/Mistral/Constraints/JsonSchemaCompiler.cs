using System.Text;
using System.Text.Json;

namespace Mistral.Constraints;

/// <summary>
/// Checks a JSON schema against the subset constrained decoding supports and compiles it into a
/// <see cref="SchemaGrammar"/>. Anything outside the subset is refused with the schema path where it was found,
/// never ignored: a caller must not get output that silently disregarded part of its schema.
/// </summary>
internal static class JsonSchemaCompiler
{
    /// <summary>Most nested objects and arrays a schema may describe: the recognizer keeps one frame per level inline.</summary>
    public const int MaxNesting = SchemaRecognizer.MaxNesting;

    /// <summary>Most properties an object may declare: the recognizer tracks them as bits of a 64-bit word.</summary>
    public const int MaxProperties = 64;

    // Keywords that only describe (no effect on what is valid): accepted and ignored.
    private static readonly HashSet<string> Annotations =
        ["title", "description", "$schema", "$id", "$comment", "default", "examples", "deprecated", "readOnly", "writeOnly"];

    private static readonly HashSet<string> Handled = ["type", "properties", "required", "additionalProperties", "items", "enum", "const"];

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <exception cref="NotSupportedException">The schema uses a keyword or form outside the subset (the message names its path).</exception>
    /// <exception cref="ArgumentException">The schema is not a valid schema (the message names the path).</exception>
    public static SchemaGrammar Compile(JsonElement schema)
    {
        var grammar = new SchemaGrammar();
        Node(grammar, schema, "$", containers: 0);
        return grammar;
    }

    /// <summary>
    /// The one spelling of a string the recognizer accepts for a property name or enum value: UTF-8 as is, with only
    /// <c>"</c>, <c>\</c> and control characters escaped (<c>\n</c>, <c>\t</c>… where JSON has a short form,
    /// <c>\u00XX</c> in lower case otherwise). Other spellings of the same string (<c>\u0061</c> for <c>a</c>) are
    /// valid JSON but are not generated.
    /// </summary>
    public static byte[] Spell(string value, string path)
    {
        var text = new StringBuilder(value.Length + 2);
        foreach (var c in value)
        {
            text.Append(c switch
            {
                '"' => "\\\"",
                '\\' => "\\\\",
                '\b' => "\\b",
                '\f' => "\\f",
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                < ' ' => $"\\u{(int)c:x4}",
                _ => c.ToString(),
            });
        }
        try
        {
            return StrictUtf8.GetBytes(text.ToString());
        }
        catch (EncoderFallbackException)
        {
            throw new ArgumentException($"{path}: the string has a lone UTF-16 surrogate, which generated JSON cannot contain.");
        }
    }

    private static int Node(SchemaGrammar grammar, JsonElement schema, string path, int containers)
    {
        if (schema.ValueKind != JsonValueKind.Object)
            throw new NotSupportedException($"{path}: a schema must be an object here ({schema.ValueKind} schemas are not supported).");
        foreach (var keyword in schema.EnumerateObject())
        {
            if (!Handled.Contains(keyword.Name) && !Annotations.Contains(keyword.Name))
                throw new NotSupportedException($"{path}: '{keyword.Name}' is not supported.");
        }

        var node = new SchemaNode();
        var index = grammar.Nodes.Count;
        if (index > ushort.MaxValue - 1) throw new NotSupportedException($"{path}: the schema has more than {ushort.MaxValue - 1} subschemas.");
        grammar.Nodes.Add(node);

        var declared = schema.TryGetProperty("type", out var type) ? Types(type, path + ".type") : SchemaTypes.None;
        node.Types = StringEnum(grammar, node, schema, path, declared);
        if (node.Types == SchemaTypes.None)
            throw new NotSupportedException($"{path}: 'type' (or 'enum'/'const') is required; a schema that allows any value is not supported.");

        if ((node.Types & (SchemaTypes.Object | SchemaTypes.Array)) != 0)
        {
            containers++;
            if (containers > MaxNesting)
                throw new NotSupportedException($"{path}: objects and arrays nested more than {MaxNesting} deep are not supported.");
            grammar.Nesting = Math.Max(grammar.Nesting, containers);
        }
        Object(grammar, node, schema, path, containers);
        Array(grammar, node, schema, path, containers);
        return index;
    }

    /// <summary>The type names of <c>type</c>, a string or an array of them.</summary>
    private static SchemaTypes Types(JsonElement type, string path)
    {
        if (type.ValueKind == JsonValueKind.String) return TypeName(type.GetString()!, path);
        if (type.ValueKind != JsonValueKind.Array || type.GetArrayLength() == 0)
            throw new ArgumentException($"{path}: 'type' must be a type name or a non-empty array of them.");
        var types = SchemaTypes.None;
        var i = 0;
        foreach (var name in type.EnumerateArray())
        {
            var at = $"{path}[{i++}]";
            if (name.ValueKind != JsonValueKind.String) throw new ArgumentException($"{at}: a type name must be a string.");
            types |= TypeName(name.GetString()!, at);
        }
        return types;
    }

    private static SchemaTypes TypeName(string name, string path) => name switch
    {
        "string" => SchemaTypes.String,
        "number" => SchemaTypes.Number,
        "integer" => SchemaTypes.Integer,
        "boolean" => SchemaTypes.Boolean,
        "null" => SchemaTypes.Null,
        "array" => SchemaTypes.Array,
        "object" => SchemaTypes.Object,
        _ => throw new ArgumentException($"{path}: \"{name}\" is not a JSON schema type."),
    };

    /// <summary>
    /// <c>enum</c> or <c>const</c>: the allowed values, strings and null only, become the node's types and its string
    /// trie. Without them the declared types stand.
    /// </summary>
    private static SchemaTypes StringEnum(SchemaGrammar grammar, SchemaNode node, JsonElement schema, string path, SchemaTypes declared)
    {
        var hasEnum = schema.TryGetProperty("enum", out var values);
        var hasConst = schema.TryGetProperty("const", out var constant);
        if (!hasEnum && !hasConst) return declared;
        if (hasEnum && hasConst) throw new NotSupportedException($"{path}: 'enum' and 'const' together are not supported.");
        if (hasEnum && (values.ValueKind != JsonValueKind.Array || values.GetArrayLength() == 0))
            throw new ArgumentException($"{path}.enum: 'enum' must be a non-empty array.");

        var types = SchemaTypes.None;
        var root = grammar.NewTrie();
        var i = 0;
        foreach (var value in hasEnum ? [.. values.EnumerateArray()] : (JsonElement[])[constant])
        {
            var at = hasEnum ? $"{path}.enum[{i++}]" : $"{path}.const";
            var type = value.ValueKind switch
            {
                JsonValueKind.String => SchemaTypes.String,
                JsonValueKind.Null => SchemaTypes.Null,
                _ => throw new NotSupportedException($"{at}: only string and null values are supported in 'enum' and 'const', not {value.ValueKind}."),
            };
            if (declared != SchemaTypes.None && (declared & type) == 0)
                throw new ArgumentException($"{at}: the value is {value.ValueKind}, which the schema's 'type' does not allow.");
            if (type == SchemaTypes.String) grammar.AddString(root, [.. Spell(value.GetString()!, at), (byte)'"'], 0, 1);
            types |= type;
        }
        if ((types & SchemaTypes.String) != 0) node.Enum = root;
        return types;
    }

    private static void Object(SchemaGrammar grammar, SchemaNode node, JsonElement schema, string path, int containers)
    {
        var hasProperties = schema.TryGetProperty("properties", out var properties);
        var hasRequired = schema.TryGetProperty("required", out var required);
        if ((node.Types & SchemaTypes.Object) == 0)
        {
            foreach (var keyword in (string[])["properties", "required", "additionalProperties"])
            {
                if (schema.TryGetProperty(keyword, out _))
                    throw new ArgumentException($"{path}: '{keyword}' is given but 'type' does not allow an object.");
            }
            return;
        }
        if (schema.TryGetProperty("additionalProperties", out var additional) && additional.ValueKind != JsonValueKind.False)
            throw new NotSupportedException($"{path}.additionalProperties: only false is supported (no properties beyond 'properties' are generated).");

        var names = new List<string>();
        var nodes = new List<int>();
        if (hasProperties)
        {
            if (properties.ValueKind != JsonValueKind.Object) throw new ArgumentException($"{path}.properties: 'properties' must be an object.");
            foreach (var property in properties.EnumerateObject())
            {
                var at = $"{path}.properties{Member(property.Name)}";
                if (names.Contains(property.Name)) throw new ArgumentException($"{at}: the property is declared twice.");
                if (names.Count == MaxProperties) throw new NotSupportedException($"{path}.properties: more than {MaxProperties} properties are not supported.");
                names.Add(property.Name);
                nodes.Add(Node(grammar, property.Value, at, containers));
            }
        }
        node.Properties = [.. nodes];
        node.Keys = grammar.NewTrie();
        for (var p = 0; p < names.Count; p++)
            grammar.AddString(node.Keys, [.. Spell(names[p], $"{path}.properties{Member(names[p])}"), (byte)'"'], p, 1UL << p);

        if (!hasRequired) return;
        if (required.ValueKind != JsonValueKind.Array) throw new ArgumentException($"{path}.required: 'required' must be an array of property names.");
        var i = 0;
        foreach (var name in required.EnumerateArray())
        {
            var at = $"{path}.required[{i++}]";
            var p = name.ValueKind == JsonValueKind.String ? names.IndexOf(name.GetString()!) : -1;
            if (p < 0) throw new NotSupportedException($"{at}: {name.GetRawText()} is not one of 'properties' (only declared properties are generated).");
            node.Required |= 1UL << p;
        }
    }

    private static void Array(SchemaGrammar grammar, SchemaNode node, JsonElement schema, string path, int containers)
    {
        var hasItems = schema.TryGetProperty("items", out var items);
        if ((node.Types & SchemaTypes.Array) == 0)
        {
            if (hasItems) throw new ArgumentException($"{path}: 'items' is given but 'type' does not allow an array.");
            return;
        }
        if (!hasItems) throw new NotSupportedException($"{path}: an array needs 'items' (arrays of any value are not supported).");
        node.Items = Node(grammar, items, path + ".items", containers);
    }

    /// <summary>A property name as a path step: <c>.name</c> when it reads as an identifier, <c>['a b']</c> otherwise.</summary>
    private static string Member(string name) =>
        name.Length > 0 && (char.IsAsciiLetter(name[0]) || name[0] == '_') && name.All(c => char.IsAsciiLetterOrDigit(c) || c == '_')
            ? "." + name
            : "['" + name.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("'", "\\'", StringComparison.Ordinal) + "']";
}
