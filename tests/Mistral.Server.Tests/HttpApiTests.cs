using System.Net;
using System.Text;
using System.Text.Json;
using Mistral.Server.Tests.Support;

namespace Mistral.Server.Tests;

/// <summary>The wire format and the refusals, with a plain HttpClient.</summary>
public sealed class HttpApiTests : ServerFixture
{
    private const string Hello = """{"model":"any","messages":[{"role":"user","content":"hello there"}],"temperature":0""";

    [Test]
    public async Task Streaming_sends_server_sent_event_chunks_ending_with_done()
    {
        using var http = Http();

        using var response = await http.PostAsync("v1/chat/completions", Json(Hello + ""","max_tokens":5,"stream":true}"""));
        var body = await response.Content.ReadAsStringAsync();

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("text/event-stream"));
        var events = body.Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.That(events, Has.All.StartWith("data: "), "every event is one data line");
        Assert.That(events[^1], Is.EqualTo("data: [DONE]"));
        var chunks = events[..^1].Select(e => JsonDocument.Parse(e["data: ".Length..]).RootElement).ToList();
        Assert.That(chunks.Select(c => c.GetProperty("object").GetString()), Has.All.EqualTo("chat.completion.chunk"));
        Assert.That(chunks.Select(c => c.GetProperty("id").GetString()).Distinct().Count(), Is.EqualTo(1), "one id for the whole stream");
        Assert.That(chunks[0].GetProperty("choices")[0].GetProperty("delta").GetProperty("role").GetString(), Is.EqualTo("assistant"));
        var last = chunks[^1];
        Assert.That(last.GetProperty("choices")[0].GetProperty("finish_reason").GetString(), Is.EqualTo("length"));
        Assert.That(last.GetProperty("usage").GetProperty("completion_tokens").GetInt32(), Is.EqualTo(5));
        Assert.That(chunks[..^1].Select(c => c.GetProperty("choices")[0].GetProperty("finish_reason").ValueKind), Has.All.EqualTo(JsonValueKind.Null));
    }

    [Test]
    public async Task A_whole_answer_has_mistral_s_response_shape()
    {
        using var http = Http();

        using var response = await http.PostAsync("v1/chat/completions", Json(Hello + ""","max_tokens":4}"""));
        var root = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(root.GetProperty("id").GetString(), Does.StartWith("chatcmpl-"));
        Assert.That(root.GetProperty("object").GetString(), Is.EqualTo("chat.completion"));
        Assert.That(root.GetProperty("created").GetInt64(), Is.EqualTo(DateTimeOffset.UtcNow.ToUnixTimeSeconds()).Within(60));
        Assert.That(root.GetProperty("model").GetString(), Is.EqualTo("model"), "the served model's id: its file name");
        var choice = root.GetProperty("choices")[0];
        Assert.That(choice.GetProperty("index").GetInt32(), Is.EqualTo(0));
        Assert.That(choice.GetProperty("message").GetProperty("role").GetString(), Is.EqualTo("assistant"));
        Assert.That(choice.GetProperty("finish_reason").GetString(), Is.EqualTo("length"));
        var usage = root.GetProperty("usage");
        Assert.That(usage.GetProperty("completion_tokens").GetInt32(), Is.EqualTo(4));
        Assert.That(usage.GetProperty("total_tokens").GetInt32(),
            Is.EqualTo(usage.GetProperty("prompt_tokens").GetInt32() + 4));
    }

    [TestCase("{\"messages\": [", "body")]
    [TestCase("[1, 2]", "body")]
    [TestCase("{\"model\":\"m\"}", "messages")]
    [TestCase("{\"messages\":[]}", "messages")]
    [TestCase("{\"messages\":[{\"role\":\"robot\",\"content\":\"hi\"}]}", "messages[0].role")]
    [TestCase("{\"messages\":[{\"role\":\"user\"}]}", "messages[0].content")]
    [TestCase("{\"messages\":[{\"role\":\"assistant\",\"content\":\"hi\"}]}", "messages")]
    [TestCase("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"temperature\":\"hot\"}", "temperature")]
    [TestCase("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"top_p\":0}", "top_p")]
    [TestCase("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"stop\":[1]}", "stop")]
    [TestCase("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":0}", "max_tokens")]
    [TestCase("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"tools\":[{\"type\":\"function\"}]}", "tools[0].function")] // a tool without its function; tools themselves are served (ToolCallingTests)
    public async Task Bad_requests_are_400_naming_the_field(string body, string field)
    {
        using var http = Http();

        using var response = await http.PostAsync("v1/chat/completions", Json(body));

        await AssertError(response, HttpStatusCode.BadRequest, field);
    }

    [Test]
    public async Task Max_tokens_over_the_limit_is_400_naming_the_limit()
    {
        using var http = Http();

        using var response = await http.PostAsync("v1/chat/completions", Json(Hello + ""","max_tokens":201}"""));

        var message = await AssertError(response, HttpStatusCode.BadRequest, "max_tokens");
        Assert.That(message, Does.Contain("200").And.Contain("MaxTokensLimit"));
    }

    [Test]
    public async Task A_body_over_the_size_limit_is_413_naming_the_limit()
    {
        using var http = Http();
        var huge = new string('a', 1 << 20);

        using var response = await http.PostAsync("v1/chat/completions",
            Json($$"""{"messages":[{"role":"user","content":"{{huge}}"}]}"""));

        var message = await AssertError(response, HttpStatusCode.RequestEntityTooLarge, null);
        Assert.That(message, Does.Contain("1048576").And.Contain("MaxRequestBodyBytes"));
    }

    [Test]
    public async Task A_missing_api_key_is_401_with_a_json_error_and_health_stays_open()
    {
        using var http = Http(key: null);

        using var chat = await http.PostAsync("v1/chat/completions", Json(Hello + "}"));
        using var models = await http.GetAsync("v1/models");
        using var health = await http.GetAsync("health");

        var message = await AssertError(chat, HttpStatusCode.Unauthorized, null);
        Assert.That(message, Does.Contain("Authorization: Bearer"));
        Assert.That(models.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That(health.StatusCode, Is.EqualTo(HttpStatusCode.OK));
    }

    [Test]
    public async Task Models_lists_the_served_model()
    {
        using var http = Http();

        var root = JsonDocument.Parse(await http.GetStringAsync("v1/models")).RootElement;

        Assert.That(root.GetProperty("object").GetString(), Is.EqualTo("list"));
        Assert.That(root.GetProperty("data").EnumerateArray().Select(m => m.GetProperty("id").GetString()), Is.EqualTo(new[] { "model" }));
    }

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    /// <summary>Checks the status and Mistral's error shape; returns the message.</summary>
    internal static async Task<string> AssertError(HttpResponseMessage response, HttpStatusCode status, string? param)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.That(response.StatusCode, Is.EqualTo(status), text);
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/json"));
        var root = JsonDocument.Parse(text).RootElement;
        Assert.That(root.GetProperty("object").GetString(), Is.EqualTo("error"));
        if (param is not null) Assert.That(root.GetProperty("param").GetString(), Is.EqualTo(param), text);
        return root.GetProperty("message").GetString()!;
    }
}
