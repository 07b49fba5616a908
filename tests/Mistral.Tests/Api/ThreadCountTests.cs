using Microsoft.Extensions.Logging;
using Mistral.Tests.Support;

namespace Mistral.Tests.Api;

/// <summary>
/// Asking for more threads than this process may run on is capped to the usable processors with a warning: on
/// 2 cores, 64 threads used to decode thousands of times slower than 2, as threads only waited on each other.
/// </summary>
[TestFixture]
public class ThreadCountTests : SmallModelFixture
{
    [Test]
    public void Too_many_threads_are_capped_with_a_warning_and_give_the_same_tokens()
    {
        var usable = Environment.ProcessorCount;
        var logger = new RecordingLogger();
        using var many = MistralModel.Load(Files.Path, new ModelOptions { Threads = usable * 32, Logger = logger });
        using var fit = MistralModel.Load(Files.Path, new ModelOptions { Threads = usable });
        var expected = fit.Generate("the cat", GenerationOptions.Greedy(8));
        Assert.That(many.Generate("the cat", GenerationOptions.Greedy(8)), Is.EqualTo(expected));
        Assert.That(logger.Lines, Has.Some.Matches<(LogLevel Level, string Message)>(l =>
            l.Level == LogLevel.Warning && l.Message.Contains($"{usable * 32} threads were asked for") && l.Message.Contains($"using {usable}")));
    }

    [Test]
    public void A_thread_count_that_fits_is_used_without_a_warning()
    {
        var logger = new RecordingLogger();
        using var model = MistralModel.Load(Files.Path, new ModelOptions { Threads = 1, Logger = logger });
        model.Generate("the cat", GenerationOptions.Greedy(2));
        Assert.That(logger.Lines.Where(l => l.Level >= LogLevel.Warning), Is.Empty);
    }
}
