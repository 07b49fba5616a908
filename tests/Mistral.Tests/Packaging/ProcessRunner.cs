using System.Diagnostics;

namespace Mistral.Tests.Packaging;

/// <summary>Runs a command to completion with a time limit, capturing its output for the failure message.</summary>
internal static class ProcessRunner
{
    public static string Run(string fileName, string arguments, string workingDirectory, TimeSpan limit, IDictionary<string, string?>? environment = null)
    {
        var (code, output) = RunAllowingFailure(fileName, arguments, workingDirectory, limit, environment);
        Assert.That(code, Is.Zero, $"`{fileName} {arguments}` in {workingDirectory} failed:\n{output}");
        return output;
    }

    /// <summary>The same, for a command whose failure is the thing tested: its exit code and output.</summary>
    public static (int Code, string Output) RunAllowingFailure(string fileName, string arguments, string workingDirectory, TimeSpan limit, IDictionary<string, string?>? environment = null)
    {
        var start = new ProcessStartInfo(fileName, arguments)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // The child must find the native core in what it restored, never through our override.
        start.Environment.Remove("MISTRAL_NATIVE_LIBRARY");
        // Nor run CUDA on the emulator because a CUDA test fixture of this process asked for it.
        start.Environment.Remove("MISTRAL_CUDA_EMULATE");
        // `dotnet test` hands its MSBuild node settings down; a nested build must start its own.
        start.Environment["MSBUILDNOINPROCNODE"] = null;
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        if (environment is not null)
            foreach (var (key, value) in environment) start.Environment[key] = value;

        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {fileName}.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(limit))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"`{fileName} {arguments}` in {workingDirectory} did not finish within {limit.TotalSeconds:F0} s.\n{stdout.Result}\n{stderr.Result}");
        }
        // Each step's time in the test's output: what the packaging tests cost CI is read from there.
        TestContext.Out.WriteLine($"{clock.Elapsed.TotalSeconds,6:F1} s  {fileName} {arguments}");
        return (process.ExitCode, stdout.Result + stderr.Result);
    }
}
