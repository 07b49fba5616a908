using Microsoft.Extensions.AI;
using Mistral.Chat;

namespace Mistral.Tests.Chat;

/// <summary>
/// Tool calling through <see cref="MistralChatClient"/> on a model with a Tekken V11 vocabulary (<see cref="PlannedModel"/>
/// with <see cref="PlannedVocabulary.TekkenV11"/>): the format is detected from the control tokens, the model writes
/// <c>[TOOL_CALLS]get_weather[ARGS]{"city": "Paris"}</c>, and the result goes back as <c>[TOOL_RESULTS]id[TOOL_CONTENT]…</c>.
/// </summary>
[TestFixture]
public class ToolCallingV11EndToEndTests
{
    private const string Name = "get_weather";
    private const string Args1 = "{\"city\": \"";
    private const string Args2 = "Paris";
    private const string Args3 = "\"}";
    private const string Text1 = "Sunny";
    private const string Text2 = " in Paris.";
    private static readonly string[] Pieces = [Name, Args1, Args2, Args3, Text1, Text2];

    /// <summary>A call after the user's [/INST], a sentence after the result's [/TOOL_RESULTS].</summary>
    private static readonly (string, string)[] CallsThenAnswers =
    [
        ("[/INST]", "[TOOL_CALLS]"), ("[TOOL_CALLS]", Name), (Name, "[ARGS]"), ("[ARGS]", Args1), (Args1, Args2), (Args2, Args3), (Args3, "</s>"),
        ("[/TOOL_RESULTS]", Text1), (Text1, Text2), (Text2, "</s>"),
    ];

    private static readonly ChatMessage[] Question = [new(ChatRole.User, "weather?")];

    private static AIFunction WeatherTool(List<string> calls) =>
        AIFunctionFactory.Create(([System.ComponentModel.Description("The city")] string city) =>
        {
            calls.Add(city);
            return "Sunny, 24°C";
        }, Name, "Current weather in a city");

    private static MistralModel Load(PlannedModel file) => MistralModel.Load(file.Path, new ModelOptions { Threads = 1 });

    [Test]
    public async Task A_v11_call_is_returned_as_function_call_content()
    {
        using var file = new PlannedModel(Pieces, CallsThenAnswers, PlannedVocabulary.TekkenV11);
        using var model = Load(file);
        Assert.That(model.ChatTemplate.Kind, Is.EqualTo(ChatTemplateKind.TekkenV11), "[ARGS] and [CALL_ID] are control tokens");
        using var client = new MistralChatClient(model);
        var response = await client.GetResponseAsync(Question, new ChatOptions { Tools = [WeatherTool([])], Temperature = 0 });

        Assert.That(response.FinishReason, Is.EqualTo(ChatFinishReason.ToolCalls), response.Text);
        var call = response.Messages.Single().Contents.OfType<FunctionCallContent>().Single();
        Assert.That(call.Name, Is.EqualTo(Name));
        Assert.That(call.Arguments!["city"]?.ToString(), Is.EqualTo("Paris"));
        Assert.That(call.CallId, Does.Match("^[A-Za-z0-9]{9}$"), "the model wrote no [CALL_ID]: one is made");
        Assert.That(response.Text, Is.Empty, "the call is not answer text");
        Assert.That(response.Usage!.OutputTokenCount, Is.EqualTo(6), "[TOOL_CALLS], the name, [ARGS] and the three pieces of the arguments");
    }

    [Test]
    public async Task FunctionInvokingChatClient_runs_the_whole_v11_round_trip()
    {
        using var file = new PlannedModel(Pieces, CallsThenAnswers, PlannedVocabulary.TekkenV11);
        using var model = Load(file);
        var calls = new List<string>();
        using var inner = new MistralChatClient(model);
        using IChatClient client = new ChatClientBuilder(inner).UseFunctionInvocation().Build();
        var response = await client.GetResponseAsync(Question, new ChatOptions { Tools = [WeatherTool(calls)], Temperature = 0 });

        Assert.That(calls, Is.EqualTo(new[] { "Paris" }), "the tool ran once, with the arguments the model wrote");
        Assert.That(response.Text, Is.EqualTo("Sunny in Paris."), "the model answered the result, which ends with [/TOOL_RESULTS]");
    }

    [Test]
    public async Task Streaming_gives_the_v11_call_as_one_update_and_no_text()
    {
        using var file = new PlannedModel(Pieces, CallsThenAnswers, PlannedVocabulary.TekkenV11);
        using var model = Load(file);
        using var client = new MistralChatClient(model);
        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in client.GetStreamingResponseAsync(Question, new ChatOptions { Tools = [WeatherTool([])], Temperature = 0 }))
            updates.Add(update);
        Assert.That(string.Concat(updates.Select(u => u.Text)), Is.Empty);
        Assert.That(updates.SelectMany(u => u.Contents).OfType<FunctionCallContent>().Single().Name, Is.EqualTo(Name));
        Assert.That(updates[^1].FinishReason, Is.EqualTo(ChatFinishReason.ToolCalls));
    }

    [Test]
    public async Task A_v11_call_cut_off_by_the_token_limit_comes_back_as_text_with_the_reason()
    {
        using var file = new PlannedModel(Pieces, CallsThenAnswers, PlannedVocabulary.TekkenV11);
        using var model = Load(file);
        using var client = new MistralChatClient(model);
        var response = await client.GetResponseAsync(Question, new ChatOptions { Tools = [WeatherTool([])], Temperature = 0, MaxOutputTokens = 5 });
        Assert.That(response.FinishReason, Is.EqualTo(ChatFinishReason.Length));
        Assert.That(response.Messages.Single().Contents.OfType<FunctionCallContent>(), Is.Empty);
        Assert.That(response.Text, Is.EqualTo("[TOOL_CALLS]get_weather[ARGS]{\"city\": \"Paris"));
        Assert.That(response.AdditionalProperties![MistralChatClient.ToolCallErrorKey] as string, Does.Contain("not valid JSON"));
    }
}
