using System.ClientModel;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.AI;
using Mistral.Tests.Chat;
using OpenAI;

namespace Mistral.Server.Tests;

/// <summary>
/// Tool calling over HTTP: <c>tools</c>, <c>tool_choice</c>, <c>message.tool_calls</c> with finish_reason "tool_calls",
/// the streamed tool-call delta and tool messages in the history, through Microsoft.Extensions.AI's OpenAI client and
/// as raw JSON. The served model follows a plan (<see cref="PlannedModel"/>): a get_weather call for the user, a
/// sentence for the results.
/// </summary>
[TestFixture]
public class ToolCallingTests
{
    private const string Call1 = "\u2581[{\"name\":\u2581\"get_weather\",\u2581\"arguments\":\u2581{\"city\":\u2581\"";
    private const string Text1 = "\u2581Sunny";
    private const string Text2 = "\u2581in\u2581Paris.";

    private const string ToolsJson = """[{"type": "function", "function": {"name": "get_weather", "description": "Weather in a city", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]""";

    private PlannedModel? _file;
    private WebApplication? _app;
    private Uri _base = null!;

    [OneTimeSetUp]
    public async Task Start()
    {
        _file = new PlannedModel([Call1, "Paris", "\"}}]", Text1, Text2],
        [
            ("[/INST]", "[TOOL_CALLS]"), ("[TOOL_CALLS]", Call1), (Call1, "Paris"), ("Paris", "\"}}]"), ("\"}}]", "</s>"),
            ("[/TOOL_RESULTS]", Text1), (Text1, Text2), (Text2, "</s>"),
        ]);
        _app = MistralServerApp.Create(new MistralServerOptions { ModelPath = _file.Path, Port = 0, Sessions = 1, Model = new ModelOptions { Threads = 1 } });
        await _app.StartAsync();
        _base = MistralServerApp.BaseAddress(_app);
    }

    [OneTimeTearDown]
    public async Task Stop()
    {
        if (_app is not null) await _app.DisposeAsync();
        _file?.Dispose();
    }

    private async Task<(int Status, JsonElement Body)> PostAsync(string json)
    {
        using var http = new HttpClient { BaseAddress = _base };
        using var response = await http.PostAsync("v1/chat/completions", new StringContent(json, Encoding.UTF8, "application/json"));
        var text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, response.Content.Headers.ContentType?.MediaType == "application/json" ? JsonDocument.Parse(text).RootElement.Clone() : JsonSerializer.SerializeToElement(text));
    }

    [Test]
    public async Task Microsoft_Extensions_AI_function_invocation_round_trips_through_the_server()
    {
        var cities = new List<string>();
        var weather = AIFunctionFactory.Create((string city) =>
        {
            cities.Add(city);
            return "Sunny, 24°C";
        }, "get_weather", "Weather in a city");
        IChatClient client = new ChatClientBuilder(
                new OpenAI.Chat.ChatClient("mistral", new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = new Uri(_base, "v1/") }).AsIChatClient())
            .UseFunctionInvocation().Build();
        var response = await client.GetResponseAsync("weather?", new ChatOptions { Tools = [weather], Temperature = 0 });
        Assert.That(cities, Is.EqualTo(new[] { "Paris" }));
        Assert.That(response.Text, Is.EqualTo("Sunny in Paris."));
    }

    [Test]
    public async Task A_call_is_answered_with_tool_calls_and_finish_reason_tool_calls()
    {
        var (status, body) = await PostAsync($$"""{"messages": [{"role": "user", "content": "weather?"}], "tools": {{ToolsJson}}, "tool_choice": "auto", "temperature": 0}""");
        Assert.That(status, Is.EqualTo(200), body.ToString());
        var choice = body.GetProperty("choices")[0];
        Assert.That(choice.GetProperty("finish_reason").GetString(), Is.EqualTo("tool_calls"));
        var call = choice.GetProperty("message").GetProperty("tool_calls")[0];
        Assert.That(call.GetProperty("type").GetString(), Is.EqualTo("function"));
        Assert.That(call.GetProperty("id").GetString(), Does.Match("^[A-Za-z0-9]{9}$"));
        Assert.That(call.GetProperty("function").GetProperty("name").GetString(), Is.EqualTo("get_weather"));
        Assert.That(call.GetProperty("function").GetProperty("arguments").GetString(), Is.EqualTo("""{"city":"Paris"}"""));
    }

    [Test]
    public async Task Streaming_sends_the_call_in_one_delta()
    {
        using var http = new HttpClient { BaseAddress = _base };
        var request = $$"""{"messages": [{"role": "user", "content": "weather?"}], "tools": {{ToolsJson}}, "stream": true, "temperature": 0}""";
        using var response = await http.PostAsync("v1/chat/completions", new StringContent(request, Encoding.UTF8, "application/json"));
        var events = (await response.Content.ReadAsStringAsync()).Split("\n\n", StringSplitOptions.RemoveEmptyEntries)
            .Select(e => e["data: ".Length..]).Where(d => d != "[DONE]").Select(d => JsonDocument.Parse(d).RootElement.GetProperty("choices")[0]).ToList();
        var withCalls = events.Where(e => e.GetProperty("delta").TryGetProperty("tool_calls", out _)).ToList();
        Assert.That(withCalls, Has.Count.EqualTo(1));
        var call = withCalls[0].GetProperty("delta").GetProperty("tool_calls")[0];
        Assert.That(call.GetProperty("index").GetInt32(), Is.EqualTo(0));
        Assert.That(call.GetProperty("function").GetProperty("arguments").GetString(), Is.EqualTo("""{"city":"Paris"}"""));
        Assert.That(events[^1].GetProperty("finish_reason").GetString(), Is.EqualTo("tool_calls"));
        Assert.That(string.Concat(events.Select(e => e.GetProperty("delta").GetProperty("content").GetString())), Is.Empty);
    }

    [Test]
    public async Task Tool_messages_in_the_history_are_answered()
    {
        var (status, body) = await PostAsync($$$"""
            {"messages": [
                {"role": "user", "content": "weather?"},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "abcDEF123", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
                {"role": "tool", "tool_call_id": "abcDEF123", "name": "get_weather", "content": "Sunny"}],
             "tools": {{{ToolsJson}}}, "temperature": 0}
            """);
        Assert.That(status, Is.EqualTo(200), body.ToString());
        Assert.That(body.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString(), Is.EqualTo("Sunny in Paris."));
        Assert.That(body.GetProperty("choices")[0].GetProperty("finish_reason").GetString(), Is.EqualTo("stop"));
    }

    [TestCase("""{"messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function", "function": {"description": "no name"}}]}""", "tools[0].function.name")]
    [TestCase("""{"messages": [{"role": "user", "content": "x"}], "tools": [{"type": "retrieval"}]}""", "tools[0].type")]
    [TestCase("""{"messages": [{"role": "user", "content": "x"}], "tool_choice": "sometimes"}""", "tool_choice")]
    [TestCase("""{"messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": {"type": "function", "function": {"name": "g"}}}""", "tool_choice.function.name")]
    [TestCase("""{"messages": [{"role": "user", "content": "x"}, {"role": "tool", "content": "r"}]}""", "messages[1].tool_call_id")]
    [TestCase("""{"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "tool_calls": [{"id": "1", "function": {"name": "f", "arguments": "[1]"}}]}]}""", "messages[1].tool_calls[0].function.arguments")]
    public async Task Bad_tool_fields_are_refused_naming_the_field(string request, string param)
    {
        var (status, body) = await PostAsync(request);
        Assert.That(status, Is.EqualTo(400), body.ToString());
        Assert.That(body.ToString(), Does.Contain(param));
    }
}
