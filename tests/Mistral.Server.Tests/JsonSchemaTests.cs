using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Mistral.Server.Tests.Support;

namespace Mistral.Server.Tests;

/// <summary>
/// <c>response_format: {"type":"json_schema",…}</c> through Microsoft.Extensions.AI.OpenAI's client
/// (<see cref="ChatResponseFormat.ForJsonSchema(JsonElement, string?, string?)"/>), and schemas the server refuses.
/// </summary>
public sealed class JsonSchemaTests : ServerFixture
{
    // Few fields: the random-weight model pads every gap with whitespace, and answers are capped at 200 tokens here.
    private static readonly JsonElement Schema = JsonDocument.Parse("""
        {"type":"object","properties":{"kind":{"enum":["river","lake"]},"navigable":{"type":["boolean","null"]}},
         "required":["kind"],"additionalProperties":false}
        """).RootElement.Clone();

    private static readonly ChatMessage[] Conversation = [new(ChatRole.User, "Describe a river as JSON.")];

    /// <summary>Whether <paramref name="text"/> follows <see cref="Schema"/>, checked here by hand.</summary>
    private static bool Follows(string text)
    {
        try
        {
            using var document = JsonDocument.Parse(text);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object) return false;
            var names = root.EnumerateObject().Select(p => p.Name).ToList();
            if (!(names.SequenceEqual(["kind"]) || names.SequenceEqual(["kind", "navigable"]))) return false;
            if (root.GetProperty("kind").GetString() is not ("river" or "lake")) return false;
            return names.Count == 1 || root.GetProperty("navigable").ValueKind is JsonValueKind.True or JsonValueKind.False or JsonValueKind.Null;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    [Test]
    public async Task Answers_follow_the_schema_when_finished_and_say_length_when_cut_off()
    {
        using var client = ChatClient();
        var stopped = 0;
        foreach (var seed in (long[])[1, 2, 3, 4, 5, 6])
        {
            var options = new ChatOptions
            {
                Temperature = 0.9f, Seed = seed, MaxOutputTokens = 200, ResponseFormat = ChatResponseFormat.ForJsonSchema(Schema, "river"),
            };
            var response = await client.GetResponseAsync(Conversation, options);
            if (ConstrainedAnswers.Check(response.Text, response.FinishReason, Follows, $"seed {seed}: {response.FinishReason}: {response.Text}"))
                stopped++;
        }
        Assert.That(stopped, Is.GreaterThan(0), "at least one answer closed its document, so the schema was checked");
    }

    [Test]
    public async Task Streamed_answers_follow_the_schema_too()
    {
        using var client = ChatClient();
        var stopped = 0;
        foreach (var seed in (long[])[1, 2, 3])
        {
            var options = new ChatOptions
            {
                Temperature = 0.9f, Seed = seed, MaxOutputTokens = 200, ResponseFormat = ChatResponseFormat.ForJsonSchema(Schema, "river"),
            };
            var (text, finish) = await ConstrainedAnswers.Stream(client, Conversation, options);
            var at = $"seed {seed}: {finish}: {text}";
            Assert.That(Follows(text), Is.EqualTo(finish == ChatFinishReason.Stop), at);
            if (finish == ChatFinishReason.Stop) stopped++;
        }
        Assert.That(stopped, Is.GreaterThan(0), "at least one streamed answer closed its document");
    }

    [TestCase("""{"type":"object","properties":{"age":{"type":"integer","minimum":0}}}""", "$.properties.age: 'minimum' is not supported")]
    [TestCase("""{"type":"object","properties":{"a":{"type":"strin"}}}""", "$.properties.a.type: \\\"strin\\\" is not a JSON schema type")]
    [TestCase("""{"type":"array"}""", "$: an array needs 'items'")]
    public async Task Schemas_outside_the_subset_are_400_naming_the_field_and_the_schema_path(string schema, string path)
    {
        using var http = Http();
        var body = """{"messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_schema","json_schema":{"name":"x","strict":true,"schema":""" +
            schema + "}}}";

        using var response = await http.PostAsync("v1/chat/completions", new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        var error = await response.Content.ReadAsStringAsync();
        Assert.That(error, Does.Contain("response_format.json_schema.schema"));
        Assert.That(error, Does.Contain(path));
    }

    [TestCase("""{"type":"json_schema"}""", "response_format.json_schema")]
    [TestCase("""{"type":"json_schema","json_schema":{"name":"x"}}""", "response_format.json_schema.schema")]
    [TestCase("""{"type":"json_schema","json_schema":{"name":3,"schema":{"type":"string"}}}""", "response_format.json_schema.name")]
    [TestCase("""{"type":"json_schema","json_schema":{"strict":"yes","schema":{"type":"string"}}}""", "response_format.json_schema.strict")]
    public async Task Malformed_json_schema_objects_are_400_naming_the_field(string format, string field)
    {
        using var http = Http();
        var body = $$"""{"messages":[{"role":"user","content":"hi"}],"response_format":{{format}}}""";

        using var response = await http.PostAsync("v1/chat/completions", new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(await response.Content.ReadAsStringAsync(), Does.Contain($"'{field}'"));
    }
}
