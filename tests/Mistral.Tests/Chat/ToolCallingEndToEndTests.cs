using Microsoft.Extensions.AI;

namespace Mistral.Tests.Chat;

/// <summary>
/// Tool calling through <see cref="MistralChatClient"/> on the native forward pass, with a model built to follow a plan
/// (<see cref="PlannedModel"/>): it answers the user with a get_weather call, and the tool's result with a sentence.
/// </summary>
[TestFixture]
public class ToolCallingEndToEndTests
{
    private const string Call1 = "\u2581[{\"name\":\u2581\"get_weather\",\u2581\"arguments\":\u2581{\"city\":\u2581\"";
    private const string Call2 = "Paris";
    private const string Call3 = "\"}}]";
    private const string Text1 = "\u2581Sunny";
    private const string Text2 = "\u2581in\u2581Paris.";
    private static readonly string[] Pieces = [Call1, Call2, Call3, Text1, Text2];

    /// <summary>The model's plan: a call after the user's [/INST], a sentence after the results.</summary>
    private static readonly (string, string)[] CallsThenAnswers =
    [
        ("[/INST]", "[TOOL_CALLS]"), ("[TOOL_CALLS]", Call1), (Call1, Call2), (Call2, Call3), (Call3, "</s>"),
        ("[/TOOL_RESULTS]", Text1), (Text1, Text2), (Text2, "</s>"),
    ];

    private static readonly ChatMessage[] Question = [new(ChatRole.User, "weather?")];

    private static AIFunction WeatherTool(List<string> calls) =>
        AIFunctionFactory.Create(([System.ComponentModel.Description("The city")] string city) =>
        {
            calls.Add(city);
            return "Sunny, 24°C";
        }, "get_weather", "Current weather in a city");

    private static MistralModel Load(PlannedModel file) => MistralModel.Load(file.Path, new ModelOptions { Threads = 1 });

    [Test]
    public async Task FunctionInvokingChatClient_runs_the_whole_round_trip()
    {
        using var file = new PlannedModel(Pieces, CallsThenAnswers);
        using var model = Load(file);
        var calls = new List<string>();
        using var inner = new MistralChatClient(model);
        using IChatClient client = new ChatClientBuilder(inner).UseFunctionInvocation().Build();
        // The client's default sampling (temperature 0.8): the plan's margin makes it deterministic anyway.
        var response = await client.GetResponseAsync(Question, new ChatOptions { Tools = [WeatherTool(calls)] });

        Assert.That(calls, Is.EqualTo(new[] { "Paris" }), "the tool ran once, with the arguments the model wrote");
        Assert.That(response.Text, Is.EqualTo("Sunny in Paris."));
        var call = response.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>().Single();
        Assert.That(call.Name, Is.EqualTo("get_weather"));
        Assert.That(call.CallId, Does.Match("^[A-Za-z0-9]{9}$"), "the model wrote no id: one is made as Mistral's API makes them");
        var result = response.Messages.SelectMany(m => m.Contents).OfType<FunctionResultContent>().Single();
        Assert.That(result.CallId, Is.EqualTo(call.CallId));
    }

    [Test]
    public async Task A_call_is_returned_as_function_call_content_with_finish_reason_tool_calls()
    {
        using var file = new PlannedModel(Pieces, CallsThenAnswers);
        using var model = Load(file);
        using var client = new MistralChatClient(model);
        var response = await client.GetResponseAsync(Question, new ChatOptions { Tools = [WeatherTool([])], Temperature = 0 });
        Assert.That(response.FinishReason, Is.EqualTo(ChatFinishReason.ToolCalls));
        var call = response.Messages.Single().Contents.OfType<FunctionCallContent>().Single();
        Assert.That(call.Arguments!["city"]?.ToString(), Is.EqualTo("Paris"));
        Assert.That(response.Text, Is.Empty, "the JSON of the call is not answer text");
        Assert.That(response.Usage!.OutputTokenCount, Is.EqualTo(4), "[TOOL_CALLS] and the three pieces of the call");
    }

    [Test]
    public async Task Streaming_gives_the_call_as_one_update_and_no_json_text()
    {
        using var file = new PlannedModel(Pieces, CallsThenAnswers);
        using var model = Load(file);
        using var client = new MistralChatClient(model);
        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in client.GetStreamingResponseAsync(Question, new ChatOptions { Tools = [WeatherTool([])], Temperature = 0 }))
            updates.Add(update);
        Assert.That(updates.Where(u => u.Contents.OfType<FunctionCallContent>().Any()), Has.Exactly(1).Items);
        Assert.That(string.Concat(updates.Select(u => u.Text)), Is.Empty);
        Assert.That(updates[^1].FinishReason, Is.EqualTo(ChatFinishReason.ToolCalls));
        var call = updates.ToChatResponse().Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>().Single();
        Assert.That(call.Name, Is.EqualTo("get_weather"));
    }

    [Test]
    public async Task RequireAny_starts_the_answer_with_a_call_and_None_rules_calls_out()
    {
        // This plan answers the user with text; only a forced [TOOL_CALLS] leads into the call.
        (string, string)[] textFirst = [("[/INST]", Text1), (Text1, Text2), (Text2, "</s>"), ("[TOOL_CALLS]", Call1), (Call1, Call2), (Call2, Call3), (Call3, "</s>")];
        using var file = new PlannedModel(Pieces, textFirst);
        using var model = Load(file);
        using var client = new MistralChatClient(model);
        var tools = new List<AITool> { WeatherTool([]) };

        var free = await client.GetResponseAsync(Question, new ChatOptions { Tools = tools, Temperature = 0 });
        Assert.That(free.Text, Is.EqualTo("Sunny in Paris."));

        var forced = await client.GetResponseAsync(Question, new ChatOptions { Tools = tools, Temperature = 0, ToolMode = ChatToolMode.RequireAny });
        Assert.That(forced.FinishReason, Is.EqualTo(ChatFinishReason.ToolCalls));
        Assert.That(forced.Messages.Single().Contents.OfType<FunctionCallContent>().Single().Name, Is.EqualTo("get_weather"));

        var named = await client.GetResponseAsync(Question, new ChatOptions { Tools = tools, Temperature = 0, ToolMode = ChatToolMode.RequireSpecific("get_weather") });
        Assert.That(named.FinishReason, Is.EqualTo(ChatFinishReason.ToolCalls));
        Assert.That(() => client.GetResponseAsync(Question, new ChatOptions { Tools = tools, ToolMode = ChatToolMode.RequireSpecific("nope") }),
            Throws.ArgumentException.With.Message.Contains("'nope'"));

        using var file2 = new PlannedModel(Pieces, CallsThenAnswers);
        using var model2 = Load(file2);
        using var client2 = new MistralChatClient(model2);
        var none = await client2.GetResponseAsync(Question, new ChatOptions { Tools = tools, Temperature = 0, ToolMode = ChatToolMode.None, MaxOutputTokens = 3 });
        Assert.That(none.Messages.Single().Contents.OfType<FunctionCallContent>(), Is.Empty);
        Assert.That(none.FinishReason, Is.Not.EqualTo(ChatFinishReason.ToolCalls));
    }

    [Test]
    public async Task A_call_cut_off_by_the_token_limit_comes_back_as_text_with_the_reason()
    {
        using var file = new PlannedModel(Pieces, CallsThenAnswers);
        using var model = Load(file);
        using var client = new MistralChatClient(model);
        var response = await client.GetResponseAsync(Question, new ChatOptions { Tools = [WeatherTool([])], Temperature = 0, MaxOutputTokens = 3 });
        Assert.That(response.FinishReason, Is.EqualTo(ChatFinishReason.Length));
        Assert.That(response.Messages.Single().Contents.OfType<FunctionCallContent>(), Is.Empty);
        Assert.That(response.Text, Is.EqualTo("[TOOL_CALLS] [{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris"));
        Assert.That(response.AdditionalProperties![MistralChatClient.ToolCallErrorKey] as string, Does.Contain("not valid JSON"));
    }

    [Test]
    public void Tools_on_a_model_without_tool_tokens_are_refused_clearly()
    {
        var path = Path.Combine(Directory.CreateTempSubdirectory("mistral-notools-").FullName, "model.gguf");
        SyntheticModel.Write(path, new SyntheticModelSpec { VocabSize = 300, EmbeddingLength = 32, LayerCount = 1, HeadCount = 2, KvHeadCount = 1, FeedForwardLength = 64, ContextLength = 64, WeightType = Mistral.Gguf.GgmlType.F32 });
        using var model = MistralModel.Load(path, new ModelOptions { Threads = 1 });
        using var client = new MistralChatClient(model);
        Assert.That(() => client.GetResponseAsync(Question, new ChatOptions { Tools = [WeatherTool([])] }),
            Throws.TypeOf<NotSupportedException>().With.Message.Contains("[TOOL_CALLS]"));
    }
}
