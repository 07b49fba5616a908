using System.Text.Json;
using Microsoft.Extensions.AI;

namespace Mistral.Tests.Sampling;

/// <summary>Microsoft.Extensions.AI's response formats mapped onto the library's constraints.</summary>
[TestFixture]
public class SchemaChatOptionsTests
{
    private static readonly GenerationOptions Defaults = new();

    [Test]
    public void ForJsonSchema_becomes_a_schema_constraint_with_its_name()
    {
        var schema = JsonDocument.Parse("{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"}}}").RootElement;
        var options = ChatOptionsMapping.ToGenerationOptions(new ChatOptions { ResponseFormat = ChatResponseFormat.ForJsonSchema(schema, "thing") }, Defaults);
        Assert.That(options.ResponseFormat?.Name, Is.EqualTo("json_schema"));
        Assert.That(options.ResponseFormat?.SchemaName, Is.EqualTo("thing"));
        Assert.That(options.ResponseFormat?.Schema?.GetProperty("properties").GetProperty("a").GetProperty("type").GetString(), Is.EqualTo("integer"));
    }

    [Test]
    public void Json_without_a_schema_stays_the_plain_JSON_object_constraint()
    {
        var options = ChatOptionsMapping.ToGenerationOptions(new ChatOptions { ResponseFormat = ChatResponseFormat.Json }, Defaults);
        Assert.That(options.ResponseFormat, Is.SameAs(ResponseFormat.JsonObject));
    }

    [Test]
    public void A_schema_outside_the_subset_is_refused_with_its_path()
    {
        var schema = JsonDocument.Parse("{\"type\":\"object\",\"properties\":{\"age\":{\"type\":\"integer\",\"minimum\":0}}}").RootElement;
        var request = new ChatOptions { ResponseFormat = ChatResponseFormat.ForJsonSchema(schema) };
        Assert.That(() => ChatOptionsMapping.ToGenerationOptions(request, Defaults),
            Throws.TypeOf<NotSupportedException>().With.Message.StartsWith("$.properties.age: 'minimum' is not supported"));
    }
}
