using System.Text.Json;
using Mistral.Constraints;
using Mistral.Tokenization;

namespace Mistral;

/// <summary>
/// What shape the generated text must have, enforced while sampling (constrained decoding): at every step only the
/// tokens that keep the text a valid prefix of that shape can be chosen. Set it on
/// <see cref="GenerationOptions.ResponseFormat"/>; null there means free text.
/// </summary>
/// <remarks>
/// A constrained run that completes the value ends right there with <see cref="FinishReason.EndOfSequence"/>.
/// Any other finish reason (<see cref="FinishReason.MaxTokens"/>, <see cref="FinishReason.ContextFull"/>,
/// <see cref="FinishReason.StopString"/>) means the text was cut off before the value closed: it is a valid
/// prefix, not a complete value, so give the run more tokens rather than parse it.
/// </remarks>
public sealed class ResponseFormat
{
    private readonly SchemaGrammar? _grammar;

    private ResponseFormat(string name, JsonElement? schema = null, string? schemaName = null, SchemaGrammar? grammar = null)
    {
        Name = name;
        Schema = schema;
        SchemaName = schemaName;
        _grammar = grammar;
    }

    /// <summary>
    /// A JSON object (RFC 8259): <c>{</c> first, then anything JSON allows, strings checked as UTF-8. As with
    /// OpenAI's <c>json_object</c> mode the top level is an object. Whitespace is limited to 24 bytes in a row
    /// and nesting to 64 levels, so a model cannot stall on blanks or brackets. Tell the model in the prompt to
    /// answer in JSON too: the constraint keeps it valid, the prompt makes it meaningful.
    /// </summary>
    public static ResponseFormat JsonObject { get; } = new("json_object");

    /// <summary>
    /// JSON that validates against <paramref name="schema"/>, a subset of JSON Schema checked here, at once:
    /// <list type="bullet">
    /// <item><c>type</c>: <c>string</c>, <c>number</c>, <c>integer</c>, <c>boolean</c>, <c>null</c>, <c>array</c>
    /// (with <c>items</c>), <c>object</c> (with <c>properties</c>, <c>required</c>, <c>additionalProperties: false</c>,
    /// nested at will), or an array of them such as <c>["string", "null"]</c>;</item>
    /// <item><c>enum</c> and <c>const</c> with string (and null) values;</item>
    /// <item><c>title</c>, <c>description</c>, <c>default</c>, <c>examples</c> and other annotations, ignored.</item>
    /// </list>
    /// Anything else (<c>minimum</c>, <c>pattern</c>, <c>$ref</c>, <c>anyOf</c>…) is refused, the message naming its
    /// path (<c>$.properties.age: 'minimum' is not supported.</c>), never silently ignored.
    /// </summary>
    /// <remarks>
    /// Of the texts the schema allows, one spelling is generated: keys in the order <c>properties</c> declares them
    /// (optional ones may be left out; no others are written, as if <c>additionalProperties</c> were false), integers
    /// without fraction or exponent, and property names and enum strings with only <c>"</c>, <c>\</c> and control
    /// characters escaped. At most 64 properties per object and 16 nested objects and arrays. As with
    /// <see cref="JsonObject"/>, say in the prompt what to answer: the schema keeps the shape, not the meaning.
    /// </remarks>
    /// <param name="schema">The JSON schema; copied, so the document it came from may be disposed.</param>
    /// <param name="name">A name for the schema, as OpenAI-style APIs carry it (<c>json_schema.name</c>); not used in decoding.</param>
    /// <exception cref="NotSupportedException">The schema uses something outside the subset.</exception>
    /// <exception cref="ArgumentException">The schema is not a valid schema (a misspelled type name, <c>required</c> not an array…).</exception>
    public static ResponseFormat ForJsonSchema(JsonElement schema, string? name = null)
    {
        var copy = schema.Clone();
        return new("json_schema", copy, name, JsonSchemaCompiler.Compile(copy));
    }

    /// <summary>The format's name, as OpenAI-style APIs spell it: <c>json_object</c> or <c>json_schema</c>.</summary>
    public string Name { get; }

    /// <summary>The schema of a <see cref="ForJsonSchema"/> format; null otherwise.</summary>
    public JsonElement? Schema { get; }

    /// <summary>The name given to <see cref="ForJsonSchema"/>, if any.</summary>
    public string? SchemaName { get; }

    /// <summary>A fresh constraint for one generation run over <paramref name="tokenizer"/>'s vocabulary.</summary>
    internal ITokenConstraint CreateConstraint(MistralTokenizer tokenizer) =>
        _grammar is null
            ? new JsonTokenMask(tokenizer, rootObjectOnly: true)
            : new TokenMask<SchemaRecognizer>(tokenizer, SchemaRecognizer.Start(_grammar));

    /// <inheritdoc/>
    public override string ToString() => SchemaName is null ? Name : $"{Name} ({SchemaName})";
}
