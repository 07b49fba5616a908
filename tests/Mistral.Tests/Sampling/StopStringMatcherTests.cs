using Mistral.Generation;

namespace Mistral.Tests.Sampling;

[TestFixture]
public class StopStringMatcherTests
{
    [Test]
    public void Text_that_may_start_a_stop_string_is_held_until_decided()
    {
        var matcher = new StopStringMatcher(["</end>"]);
        Assert.That(matcher.Push("hello </", out var stopped), Is.EqualTo("hello "));
        Assert.That(stopped, Is.False);
        Assert.That(matcher.Push("en", out stopped), Is.Empty);
        Assert.That(matcher.Push("dless", out stopped), Is.EqualTo("</endless"));
        Assert.That(stopped, Is.False);
    }

    [Test]
    public void A_stop_string_split_across_pieces_ends_generation_without_being_emitted()
    {
        var matcher = new StopStringMatcher(["STOP", "\n\n"]);
        Assert.That(matcher.Push("abc ST", out var stopped), Is.EqualTo("abc "));
        Assert.That(matcher.Push("OP tail", out stopped), Is.Empty);
        Assert.That(stopped, Is.True);
    }

    [Test]
    public void The_earliest_of_several_stop_strings_wins()
    {
        var matcher = new StopStringMatcher(["world", "lo"]);
        Assert.That(matcher.Push("hello world", out var stopped), Is.EqualTo("hel"));
        Assert.That(stopped, Is.True);
    }

    [Test]
    public void Flush_returns_held_text_when_generation_ends_otherwise()
    {
        var matcher = new StopStringMatcher(["###"]);
        Assert.That(matcher.Push("a #", out _), Is.EqualTo("a "));
        Assert.That(matcher.Flush(), Is.EqualTo("#"));
    }

    [Test]
    public void Without_stop_strings_everything_passes_through() =>
        Assert.That(new StopStringMatcher([]).Push("any text", out _), Is.EqualTo("any text"));
}
