using System.Text.Json;
using Microsoft.Extensions.AI;
using Mistral.Chat;
using Mistral.Tokenization;
using static Mistral.Tests.Tokenization.TestVocabularies;

namespace Mistral.Tests.Chat;

/// <summary>Tool calling in the V3/Tekken templates, checked against the layouts mistral-common writes.</summary>
[TestFixture]
public class ToolTemplateTests
{
    private static readonly string[] ToolTokens = ["[TOOL_CALLS]", "[AVAILABLE_TOOLS]", "[/AVAILABLE_TOOLS]", "[TOOL_RESULTS]", "[/TOOL_RESULTS]"];

    /// <summary>The small test vocabulary plus Mistral v3's tool control tokens.</summary>
    private static MistralTokenizer WithToolTokens(bool addSpacePrefix = true) =>
        new(Build([.. SmallPieces, .. ToolTokens.Select(t => (t, 0f, TokenType.Control))], addSpacePrefix));

    private static int ToolId(string token) => 3 + 256 + SmallPieces.Length + Array.IndexOf(ToolTokens, token);

    private static JsonElement Json(string json) => JsonDocument.Parse(json).RootElement.Clone();

    private static Dictionary<string, object?> Arguments(string json) =>
        Json(json).EnumerateObject().ToDictionary(p => p.Name, p => (object?)p.Value.Clone());

    private static AIFunctionDeclaration Tool(string name, string description, string schema) =>
        AIFunctionFactory.CreateDeclaration(name, description, Json(schema));

    [Test]
    public void V3_renders_mistral_commons_get_weather_sample_byte_for_byte()
    {
        // The conversation and tools of mistral-common's tests/data/samples/get_weather_full/sample.json.
        const string locationFormat = """
            "location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"},
            "format": {"type": "string", "enum": ["celsius", "fahrenheit"], "description": "The temperature unit to use. Infer this from the users location."}
            """;
        AIFunctionDeclaration[] tools =
        [
            Tool("get_current_weather", "Get the current weather",
                $$"""{"type": "object", "properties": { {{locationFormat}} }, "required": ["location", "format"]}"""),
            Tool("get_n_day_weather_forecast", "Get an N-day weather forecast",
                $$"""{"type": "object", "properties": { {{locationFormat}}, "num_days": {"type": "integer", "description": "The number of days to forecast"} }, "required": ["location", "format", "num_days"]}"""),
        ];
        ChatMessage[] messages =
        [
            new(ChatRole.System, "Don't make assumptions about what values to plug into functions."),
            new(ChatRole.System, "Ask for clarification if a user request is ambiguous."),
            new(ChatRole.User, "What's the weather like today"),
            new(ChatRole.Assistant, "Sure, can you please provide me with your location?"),
            new(ChatRole.User, "I'm in Paris, France."),
            new(ChatRole.Assistant, [new FunctionCallContent("123456789", "get_current_weather", Arguments("""{"location":"Paris, France","format":"celsius"}"""))]),
            new(ChatRole.Tool, [new FunctionResultContent("123456789", "22")]),
            new(ChatRole.Assistant, "The current temperature in Paris, France is 22 degrees Celsius."),
            new(ChatRole.User, "what is the weather going to be like in Paris, France over the next x days"),
            new(ChatRole.Assistant, "Please tell me the number of days you want the weather forecast for."),
            new(ChatRole.User, "5 days"),
            new(ChatRole.Assistant, [new FunctionCallContent("123456789", "get_n_day_weather_forecast", Arguments("""{"location":"Paris, France","format":"celsius","num_days":5}"""))]),
            new(ChatRole.Tool, [new FunctionResultContent("123456789", """{"2024-05-22":"22","2024-05-23":"23","2024-05-24":"24","2024-05-25":"25","2024-05-26":"26"}""")]),
        ];
        // mistral-common's tests/data/samples/get_weather_full/text_v3.txt, verbatim: its pieces are shown as SentencePiece
        // writes them ("▁" for a space, <0x0A> for a newline byte); the rendered text has the characters themselves.
        const string textV3 = """<s>[INST]▁What's▁the▁weather▁like▁today[/INST]▁Sure,▁can▁you▁please▁provide▁me▁with▁your▁location?</s>[INST]▁I'm▁in▁Paris,▁France.[/INST][TOOL_CALLS]▁[{"name":▁"get_current_weather",▁"arguments":▁{"location":▁"Paris,▁France",▁"format":▁"celsius"},▁"id":▁"123456789"}]</s>[TOOL_RESULTS]▁{"content":▁22,▁"call_id":▁"123456789"}[/TOOL_RESULTS]▁The▁current▁temperature▁in▁Paris,▁France▁is▁22▁degrees▁Celsius.</s>[INST]▁what▁is▁the▁weather▁going▁to▁be▁like▁in▁Paris,▁France▁over▁the▁next▁x▁days[/INST]▁Please▁tell▁me▁the▁number▁of▁days▁you▁want▁the▁weather▁forecast▁for.</s>[AVAILABLE_TOOLS]▁[{"type":▁"function",▁"function":▁{"name":▁"get_current_weather",▁"description":▁"Get▁the▁current▁weather",▁"parameters":▁{"type":▁"object",▁"properties":▁{"location":▁{"type":▁"string",▁"description":▁"The▁city▁and▁state,▁e.g.▁San▁Francisco,▁CA"},▁"format":▁{"type":▁"string",▁"enum":▁["celsius",▁"fahrenheit"],▁"description":▁"The▁temperature▁unit▁to▁use.▁Infer▁this▁from▁the▁users▁location."}},▁"required":▁["location",▁"format"]}}},▁{"type":▁"function",▁"function":▁{"name":▁"get_n_day_weather_forecast",▁"description":▁"Get▁an▁N-day▁weather▁forecast",▁"parameters":▁{"type":▁"object",▁"properties":▁{"location":▁{"type":▁"string",▁"description":▁"The▁city▁and▁state,▁e.g.▁San▁Francisco,▁CA"},▁"format":▁{"type":▁"string",▁"enum":▁["celsius",▁"fahrenheit"],▁"description":▁"The▁temperature▁unit▁to▁use.▁Infer▁this▁from▁the▁users▁location."},▁"num_days":▁{"type":▁"integer",▁"description":▁"The▁number▁of▁days▁to▁forecast"}},▁"required":▁["location",▁"format",▁"num_days"]}}}][/AVAILABLE_TOOLS][INST]▁Don't▁make▁assumptions▁about▁what▁values▁to▁plug▁into▁functions.<0x0A><0x0A>Ask▁for▁clarification▁if▁a▁user▁request▁is▁ambiguous.<0x0A><0x0A>5▁days[/INST][TOOL_CALLS]▁[{"name":▁"get_n_day_weather_forecast",▁"arguments":▁{"location":▁"Paris,▁France",▁"format":▁"celsius",▁"num_days":▁5},▁"id":▁"123456789"}]</s>[TOOL_RESULTS]▁{"content":▁{"2024-05-22":▁"22",▁"2024-05-23":▁"23",▁"2024-05-24":▁"24",▁"2024-05-25":▁"25",▁"2024-05-26":▁"26"},▁"call_id":▁"123456789"}[/TOOL_RESULTS]""";
        var expected = textV3.Replace("▁", " ", StringComparison.Ordinal).Replace("<0x0A>", "\n", StringComparison.Ordinal);
        Assert.That(ChatTemplate.V3.Render(messages, tools), Is.EqualTo(expected));
        // Tekken writes the same tokens without the SentencePiece space before each text.
        Assert.That(ChatTemplate.Tekken.Render(messages, tools), Does.StartWith("<s>[INST]What's the weather like today[/INST]Sure,"));
        Assert.That(ChatTemplate.Tekken.Render(messages, tools), Does.EndWith("[TOOL_RESULTS]{\"content\": {\"2024-05-22\": \"22\", \"2024-05-23\": \"23\", \"2024-05-24\": \"24\", \"2024-05-25\": \"25\", \"2024-05-26\": \"26\"}, \"call_id\": \"123456789\"}[/TOOL_RESULTS]"));
    }

    [Test]
    public void Tool_control_tokens_are_single_ids_and_each_json_is_tokenized_alone()
    {
        var tokenizer = WithToolTokens();
        AIFunctionDeclaration[] tools = [Tool("ab", "", """{"type": "object"}""")];
        ChatMessage[] messages =
        [
            new(ChatRole.User, "hello"),
            new(ChatRole.Assistant, [new FunctionCallContent("abc123XYZ", "ab", Arguments("""{"x": 1}"""))]),
            new(ChatRole.Tool, [new FunctionResultContent("abc123XYZ", "world")]),
        ];
        // Layout (mistral-common InstructTokenizerV3: encode_user_message, _encode_tool_calls_in_assistant_message, encode_tool_message).
        int[] expected =
        [
            Bos,
            ToolId("[AVAILABLE_TOOLS]"), .. tokenizer.Encode("""[{"type": "function", "function": {"name": "ab", "description": "", "parameters": {"type": "object"}}}]""", addBos: false), ToolId("[/AVAILABLE_TOOLS]"),
            Id("[INST]"), Id("▁hello"), Id("[/INST]"),
            ToolId("[TOOL_CALLS]"), .. tokenizer.Encode("""[{"name": "ab", "arguments": {"x": 1}, "id": "abc123XYZ"}]""", addBos: false), Eos,
            ToolId("[TOOL_RESULTS]"), .. tokenizer.Encode("""{"content": "world", "call_id": "abc123XYZ"}""", addBos: false), ToolId("[/TOOL_RESULTS]"),
        ];
        Assert.That(ChatTemplate.V3.Tokenize(messages, tokenizer, tools), Is.EqualTo(expected));
    }

    [Test]
    public void Tools_go_before_the_last_user_message_only()
    {
        ChatMessage[] messages = [new(ChatRole.User, "a"), new(ChatRole.Assistant, "b"), new(ChatRole.User, "c")];
        var text = ChatTemplate.V3.Render(messages, [Tool("f", "d", """{"type": "object"}""")]);
        Assert.That(text, Does.StartWith("<s>[INST] a[/INST] b</s>[AVAILABLE_TOOLS] [{"));
        Assert.That(text, Does.EndWith("[/AVAILABLE_TOOLS][INST] c[/INST]"));
    }

    [Test]
    public void A_vocabulary_without_the_tool_tokens_is_refused_naming_the_token()
    {
        var ex = Assert.Throws<ArgumentException>(() =>
            ChatTemplate.V3.Tokenize([new ChatMessage(ChatRole.User, "hello")], new MistralTokenizer(Small()), [Tool("f", "", "{}")]));
        Assert.That(ex!.Message, Does.Contain("[AVAILABLE_TOOLS]"));
    }

    [Test]
    public void V1_has_no_tool_calling()
    {
        Assert.Throws<NotSupportedException>(() => ChatTemplate.V1.Render([new ChatMessage(ChatRole.User, "hello")], [Tool("f", "", "{}")]));
        ChatMessage[] withCall = [new(ChatRole.User, "a"), new(ChatRole.Assistant, [new FunctionCallContent("1", "f")]), new(ChatRole.Tool, [new FunctionResultContent("1", "r")])];
        Assert.Throws<NotSupportedException>(() => ChatTemplate.V1.Render(withCall));
    }

    [Test]
    public void Results_must_follow_calls_and_are_refused_with_the_position()
    {
        ChatMessage[] orphan = [new(ChatRole.User, "a"), new(ChatRole.Tool, [new FunctionResultContent("1", "r")])];
        var ex = Assert.Throws<ArgumentException>(() => ChatTemplate.V3.Render(orphan));
        Assert.That(ex!.Message, Does.Contain("Message 1"));
        ChatMessage[] unanswered = [new(ChatRole.User, "a"), new(ChatRole.Assistant, [new FunctionCallContent("1", "f")]), new(ChatRole.User, "b")];
        ex = Assert.Throws<ArgumentException>(() => ChatTemplate.V3.Render(unanswered));
        Assert.That(ex!.Message, Does.Contain("Message 2").And.Contain("tool calls"));
        ChatMessage[] noCallId = [new(ChatRole.User, "a"), new(ChatRole.Assistant, [new FunctionCallContent("1", "f")]), new(ChatRole.Tool, [new FunctionResultContent("", "r")])];
        ex = Assert.Throws<ArgumentException>(() => ChatTemplate.V3.Render(noCallId));
        Assert.That(ex!.Message, Does.Contain("Message 2").And.Contain("CallId"));
    }

    [Test]
    public void Json_is_written_as_pythons_json_dumps_writes_it()
    {
        // json.dumps(..., ensure_ascii=False): ", " and ": " separators, non-ASCII kept, controls escaped, key order kept.
        Assert.That(MistralJson.Dumps(Json("""{"b":[1,2.50,true,null],"a":"é\n\u0001\"\\"}""")),
            Is.EqualTo("{\"b\": [1, 2.50, true, null], \"a\": \"é\\n\\u0001\\\"\\\\\"}"));
    }
}
