using System.Text.Json;
using Mistral.Tests.Support;

namespace Mistral.Tests.Cli;

/// <summary>`mistral bench --json` reports the thread count the session really ran with, never 0.</summary>
[TestFixture]
public class CliBenchTests : SmallModelFixture
{
    [Test]
    public void Bench_json_reports_the_threads_asked_for()
    {
        Assert.That(Threads("--threads", "1"), Is.EqualTo(1));
    }

    [Test]
    public void Bench_json_reports_the_default_thread_count_not_zero()
    {
        // The default is one thread per processor this process may use, which ProcessorCount counts in the child as here.
        var threads = Threads();
        Assert.That(threads, Is.GreaterThan(0));
        Assert.That(threads, Is.EqualTo(Environment.ProcessorCount));
    }

    [Test]
    public void Bench_json_reports_a_request_above_the_processors_as_capped()
    {
        Assert.That(Threads("--threads", $"{Environment.ProcessorCount + 3}"), Is.EqualTo(Environment.ProcessorCount));
    }

    private int Threads(params string[] extra)
    {
        var result = CliProcess.Run(["bench", "--model", Files.Path, "--prompt-tokens", "4", "--gen-tokens", "2", "--runs", "1", "--json", "--backend", "cpu", .. extra]);
        Assert.That(result.ExitCode, Is.Zero, result.StdErr);
        using var json = JsonDocument.Parse(result.StdOut);
        return json.RootElement.GetProperty("threads").GetInt32();
    }
}
