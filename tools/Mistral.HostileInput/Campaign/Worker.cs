using System.Globalization;
using Mistral.HostileInput.Oracle;

namespace Mistral.HostileInput.Campaign;

/// <summary>
/// Runs cases [from, to) in this process, one line before and after each (flushed at once), so that the supervisor
/// knows which case was in flight when this process dies or stops making progress:
/// <code>
/// begin &lt;i&gt; &lt;kind&gt; &lt;base&gt; &lt;what was done to the file&gt;
/// done &lt;i&gt; &lt;outcome&gt; &lt;first line of the message&gt;
/// </code>
/// </summary>
internal static class Worker
{
    /// <summary>Test hooks, honoured by the worker alone: the case at which to fail fast, or to hang.</summary>
    public const string AbortCaseVariable = "MISTRAL_HOSTILE_INPUT_ABORT_AT_CASE";

    public const string HangCaseVariable = "MISTRAL_HOSTILE_INPUT_HANG_AT_CASE";

    public static int Run(CasePlan plan, long from, long to, MistralBackend backend, string scratchDirectory, TextWriter output)
    {
        var abortAt = CaseFromEnvironment(AbortCaseVariable);
        var hangAt = CaseFromEnvironment(HangCaseVariable);
        var runner = new CaseRunner(backend);
        Directory.CreateDirectory(scratchDirectory);
        for (var i = from; i < to; i++)
        {
            var (kind, baseName) = plan.At(i);
            Mutations.MutatedFile file;
            try
            {
                file = plan.Build(i);
            }
            catch (Exception ex)
            {
                Write(output, $"begin {i} {kind.Name} {baseName} (the mutation failed)");
                Write(output, $"done {i} {Outcomes.ToolError} building the case threw {ex.GetType().Name}: {OneLine(ex.Message)}");
                continue;
            }

            Write(output, $"begin {i} {kind.Name} {baseName} {OneLine(file.Description)}");
            if (i == abortAt) Environment.FailFast($"{AbortCaseVariable}={i}: aborting as asked, to test the supervisor");
            if (i == hangAt) Thread.Sleep(Timeout.Infinite);
            var path = Path.Combine(scratchDirectory, string.Create(CultureInfo.InvariantCulture, $"case-{i}.gguf"));
            var outcome = runner.Run(path, file);
            File.Delete(path);
            Write(output, $"done {i} {outcome.Outcome} {OneLine(outcome.Message)}");
        }
        return 0;
    }

    private static long? CaseFromEnvironment(string name) =>
        long.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.None, CultureInfo.InvariantCulture, out var i) ? i : null;

    private static void Write(TextWriter output, string line)
    {
        output.WriteLine(line);
        output.Flush();
    }

    /// <summary>The first line, at most 400 characters: one case, one line of the protocol.</summary>
    public static string OneLine(string text)
    {
        var line = text.Split('\n', 2)[0].TrimEnd('\r');
        return line.Length <= 400 ? line : line[..400] + "…";
    }
}
