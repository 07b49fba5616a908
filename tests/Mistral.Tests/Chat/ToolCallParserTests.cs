using Mistral.Chat;

namespace Mistral.Tests.Chat;

/// <summary>Reading what a model writes after [TOOL_CALLS]: good, partial and malformed outputs.</summary>
[TestFixture]
public class ToolCallParserTests
{
    [Test]
    public void A_list_of_calls_with_ids_is_read_in_order()
    {
        var parse = ToolCallParser.Parse(""" [{"name": "get_weather", "arguments": {"city": "Paris", "days": 3}, "id": "a1B2c3D4e"}, {"name": "now", "arguments": {}, "id": "zzzzzzzzz"}]""");
        Assert.That(parse.Error, Is.Null);
        Assert.That(parse.Calls.Select(c => (c.Name, c.Id)), Is.EqualTo(new[] { ("get_weather", "a1B2c3D4e"), ("now", "zzzzzzzzz") }));
        Assert.That(parse.Calls[0].Arguments.GetProperty("city").GetString(), Is.EqualTo("Paris"));
        Assert.That(parse.Calls[0].Arguments.GetProperty("days").GetInt32(), Is.EqualTo(3));
    }

    [Test]
    public void A_call_without_an_id_gets_nine_letters_and_digits()
    {
        var calls = ToolCallParser.Parse("""[{"name": "f", "arguments": {}}, {"name": "f", "arguments": {}, "id": "null"}]""").Calls;
        Assert.That(calls, Has.Count.EqualTo(2));
        foreach (var call in calls) Assert.That(call.Id, Does.Match("^[A-Za-z0-9]{9}$"));
        Assert.That(calls[0].Id, Is.Not.EqualTo(calls[1].Id));
    }

    [Test]
    public void A_single_object_and_string_arguments_are_accepted()
    {
        var parse = ToolCallParser.Parse("""{"name": "f", "arguments": "{\"x\": [1]}"}""");
        Assert.That(parse.Succeeded, Is.True, parse.Error);
        Assert.That(parse.Calls.Single().Arguments.GetProperty("x")[0].GetInt32(), Is.EqualTo(1));
        Assert.That(ToolCallParser.Parse("""[{"name": "f"}]""").Calls.Single().Arguments.EnumerateObject(), Is.Empty, "missing arguments are an empty object");
    }

    [TestCase("", "nothing after it")]
    [TestCase(" [{\"name\": \"get_weather\", \"argum", "not valid JSON")] // cut off by the token limit
    [TestCase("[{\"name\": \"f\", \"arguments\": {}}] and then text", "not valid JSON")]
    [TestCase("42", "not a list of calls")]
    [TestCase("[]", "empty")]
    [TestCase("[{\"arguments\": {}}]", "call 0 has no \"name\"")]
    [TestCase("[{\"name\": \"f\", \"arguments\": {}}, 3]", "call 1 is a JSON Number")]
    [TestCase("[{\"name\": \"f\", \"arguments\": [1, 2]}]", "\"arguments\" that are not a JSON object")]
    [TestCase("[{\"name\": \"f\", \"arguments\": \"not json\"}]", "\"arguments\" that are not a JSON object")]
    public void Malformed_output_is_reported_not_thrown(string text, string reason)
    {
        var parse = ToolCallParser.Parse(text);
        Assert.That(parse.Succeeded, Is.False);
        Assert.That(parse.Calls, Is.Empty);
        Assert.That(parse.Error, Does.Contain(reason));
    }
}
