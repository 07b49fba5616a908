using System.Text.Json;

namespace Mistral.Tests.Sampling;

/// <summary><see cref="ResponseFormat.ForJsonSchema"/>: what it accepts, and refusals that name the schema path.</summary>
[TestFixture]
public class SchemaCompilerTests
{
    private static JsonElement Parse(string json) => JsonDocument.Parse(json).RootElement;

    [TestCase("{\"type\":\"object\",\"properties\":{\"age\":{\"type\":\"integer\",\"minimum\":0}}}", "$.properties.age: 'minimum' is not supported")]
    [TestCase("{\"type\":\"object\",\"properties\":{\"a\":{\"$ref\":\"#/$defs/x\"}}}", "$.properties.a: '$ref' is not supported")]
    [TestCase("{\"anyOf\":[{\"type\":\"string\"}]}", "$: 'anyOf' is not supported")]
    [TestCase("{\"type\":\"string\",\"pattern\":\"^a\"}", "$: 'pattern' is not supported")]
    [TestCase("{\"type\":\"object\",\"additionalProperties\":true}", "$.additionalProperties: only false is supported")]
    [TestCase("{\"type\":\"object\",\"additionalProperties\":{\"type\":\"string\"}}", "$.additionalProperties: only false is supported")]
    [TestCase("{\"type\":\"array\"}", "$: an array needs 'items'")]
    [TestCase("{\"type\":\"array\",\"items\":[{\"type\":\"string\"}]}", "$.items: a schema must be an object here")]
    [TestCase("{\"type\":\"object\",\"properties\":{\"a b\":{\"enum\":[\"x\",1]}}}", "$.properties['a b'].enum[1]: only string and null values")]
    [TestCase("{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"}},\"required\":[\"b\"]}", "$.required[0]: \"b\" is not one of 'properties'")]
    [TestCase("{\"type\":\"object\",\"properties\":{\"a\":{}}}", "$.properties.a: 'type' (or 'enum'/'const') is required")]
    [TestCase("true", "$: a schema must be an object here")]
    public void Unsupported_schemas_are_refused_naming_the_path(string schema, string message)
    {
        var error = Assert.Throws<NotSupportedException>(() => ResponseFormat.ForJsonSchema(Parse(schema)));
        Assert.That(error!.Message, Does.StartWith(message));
    }

    [TestCase("{\"type\":\"strin\"}", "$.type: \"strin\" is not a JSON schema type")]
    [TestCase("{\"type\":[\"string\",3]}", "$.type[1]: a type name must be a string")]
    [TestCase("{\"type\":\"object\",\"required\":\"a\"}", "$.required: 'required' must be an array")]
    [TestCase("{\"type\":\"string\",\"enum\":[\"a\",null]}", "$.enum[1]: the value is Null, which the schema's 'type' does not allow")]
    [TestCase("{\"type\":\"string\",\"items\":{\"type\":\"string\"}}", "$: 'items' is given but 'type' does not allow an array")]
    [TestCase("{\"enum\":[]}", "$.enum: 'enum' must be a non-empty array")]
    public void Invalid_schemas_are_refused_naming_the_path(string schema, string message)
    {
        var error = Assert.Throws<ArgumentException>(() => ResponseFormat.ForJsonSchema(Parse(schema)));
        Assert.That(error!.Message, Does.StartWith(message));
    }

    [Test]
    public void Nesting_and_property_counts_are_bounded()
    {
        var deep = "{\"type\":\"string\"}";
        for (var i = 0; i < 17; i++) deep = $"{{\"type\":\"array\",\"items\":{deep}}}";
        var error = Assert.Throws<NotSupportedException>(() => ResponseFormat.ForJsonSchema(Parse(deep)));
        Assert.That(error!.Message, Does.Contain("nested more than 16"));
        Assert.That(error.Message, Does.StartWith("$" + string.Concat(Enumerable.Repeat(".items", 16)) + ":"));

        var wide = "{\"type\":\"object\",\"properties\":{" + string.Join(",", Enumerable.Range(0, 65).Select(i => $"\"p{i}\":{{\"type\":\"null\"}}")) + "}}";
        Assert.That(() => ResponseFormat.ForJsonSchema(Parse(wide)), Throws.TypeOf<NotSupportedException>().With.Message.Contains("more than 64 properties"));
    }

    [Test]
    public void Every_corpus_schema_compiles_and_keeps_its_name_and_a_copy_of_the_schema()
    {
        foreach (var text in SchemaCorpus.Schemas)
        {
            ResponseFormat format;
            using (var document = JsonDocument.Parse(text)) format = ResponseFormat.ForJsonSchema(document.RootElement, "person");
            Assert.That(format.Name, Is.EqualTo("json_schema"));
            Assert.That(format.SchemaName, Is.EqualTo("person"));
            Assert.That(format.Schema?.GetRawText(), Is.EqualTo(JsonDocument.Parse(text).RootElement.GetRawText()), "readable after its document is disposed");
        }
        Assert.That(ResponseFormat.JsonObject.Schema, Is.Null);
    }
}
