using System.Diagnostics;
using System.Text;

namespace Mistral.Server.Tests.Support;

/// <summary>
/// Runs a program to completion without blocking a thread (the server under test runs in this process and needs the
/// thread pool while the child talks to it), capturing stdout and stderr together for a failure message.
/// </summary>
internal static class ChildProcess
{
    public static async Task<(int Code, string Output)> RunAsync(string program, IEnumerable<string> arguments, string directory,
        TimeSpan limit, IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(program)
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        if (environment is not null)
            foreach (var (key, value) in environment) start.Environment[key] = value;

        var output = new StringBuilder();
        using var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => Append(output, e.Data);
        process.ErrorDataReceived += (_, e) => Append(output, e.Data);
        var clock = Stopwatch.StartNew();
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var timeout = new CancellationTokenSource(limit);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            Assert.Fail($"`{program} {string.Join(' ', start.ArgumentList)}` did not finish within {limit.TotalSeconds:F0} s:\n{Text(output)}");
        }
        // Each step's time in the test's output: what this costs CI is read from there.
        TestContext.Out.WriteLine($"{clock.Elapsed.TotalSeconds,6:F1} s  {program} {string.Join(' ', start.ArgumentList)}");
        return (process.ExitCode, Text(output));
    }

    /// <summary>The full path of <paramref name="name"/> on PATH, or null when it is not installed.</summary>
    public static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, name))
            .FirstOrDefault(File.Exists);

    private static void Append(StringBuilder output, string? line)
    {
        if (line is null) return;
        lock (output) output.AppendLine(line);
    }

    private static string Text(StringBuilder output)
    {
        lock (output) return output.ToString();
    }
}
