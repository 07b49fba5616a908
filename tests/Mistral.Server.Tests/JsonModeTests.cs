using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Mistral.Server.Tests.Support;

namespace Mistral.Server.Tests;

/// <summary><c>response_format: {"type":"json_object"}</c> through Microsoft.Extensions.AI.OpenAI's client, and its refusals.</summary>
public sealed class JsonModeTests : ServerFixture
{
    private static readonly ChatMessage[] Conversation = [new(ChatRole.User, "Describe a river as a JSON object.")];

    private static bool Parses(string text)
    {
        try
        {
            using var document = JsonDocument.Parse(text);
            return document.RootElement.ValueKind == JsonValueKind.Object;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    [Test]
    public async Task Json_mode_answers_parse_when_finished_and_say_length_when_cut_off()
    {
        using var client = ChatClient();
        var stopped = 0;
        foreach (var seed in (long[])[1, 2, 3, 4, 5, 6])
        {
            var options = new ChatOptions { Temperature = 0.9f, Seed = seed, MaxOutputTokens = 120, ResponseFormat = ChatResponseFormat.Json };
            var response = await client.GetResponseAsync(Conversation, options);

            if (ConstrainedAnswers.Check(response.Text, response.FinishReason, Parses, $"seed {seed}: {response.FinishReason}: {response.Text}"))
                stopped++;
        }
        Assert.That(stopped, Is.GreaterThan(0), "at least one answer closed its object, so the parse was checked");
    }

    [Test]
    public async Task Streamed_json_mode_is_constrained_too()
    {
        using var client = ChatClient();
        var stopped = 0;
        foreach (var seed in (long[])[1, 2, 3, 4])
        {
            var options = new ChatOptions { Temperature = 0.9f, Seed = seed, MaxOutputTokens = 120, ResponseFormat = ChatResponseFormat.Json };
            var (text, finish) = await ConstrainedAnswers.Stream(client, Conversation, options);
            var at = $"seed {seed}: {finish}: {text}";
            Assert.That(text.TrimStart(), Does.StartWith("{"), at);
            Assert.That(Parses(text), Is.EqualTo(finish == ChatFinishReason.Stop), at);
            if (finish == ChatFinishReason.Stop) stopped++;
        }
        Assert.That(stopped, Is.GreaterThan(0), "at least one streamed answer closed its object");
    }

    [TestCase("{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"x\",\"schema\":{}}}", "response_format.json_schema.schema")]
    [TestCase("{\"type\":\"xml\"}", "response_format.type")]
    [TestCase("\"json_object\"", "response_format")]
    public async Task Unsupported_response_formats_are_400_naming_the_field(string format, string field)
    {
        using var http = Http();
        var body = $$"""{"messages":[{"role":"user","content":"hi"}],"response_format":{{format}}}""";

        using var response = await http.PostAsync("v1/chat/completions", new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.That(error.ToString(), Does.Contain(field));
    }
}
