using System.Reflection;

namespace Mistral.Tests.Support;

/// <summary>Runs the `mistral` command-line program the way a user does: a separate process.</summary>
internal static class CliProcess
{
    public static string DllPath { get; } = typeof(CliProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(a => a.Key == "CliPath").Value!;

    public sealed record Result(int ExitCode, string StdOut, string StdErr);

    public static Result Run(params string[] args) => RunWith(null, args);

    /// <summary>Runs it with environment variables set (a null value removes the variable) for the child alone.</summary>
    public static Result RunWithEnvironment(IReadOnlyDictionary<string, string?> environment, params string[] args) =>
        RunWith(null, environment, args);

    /// <summary>Runs it under another program (e.g. strace), which gets the dotnet command line appended.</summary>
    public static Result RunWith(string[]? wrapper, params string[] args) => RunWith(wrapper, null, args);

    private static Result RunWith(string[]? wrapper, IReadOnlyDictionary<string, string?>? environment, string[] args)
    {
        var start = new System.Diagnostics.ProcessStartInfo(wrapper?[0] ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null) start.Environment.Remove(name);
            else start.Environment[name] = value;
        }
        if (wrapper is not null)
        {
            foreach (var a in wrapper.Skip(1)) start.ArgumentList.Add(a);
            start.ArgumentList.Add("dotnet");
        }
        start.ArgumentList.Add(DllPath);
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = System.Diagnostics.Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(3)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"mistral {string.Join(' ', args)} did not finish in 3 minutes");
        }
        return new Result(process.ExitCode, stdout.Result, stderr.Result);
    }
}
