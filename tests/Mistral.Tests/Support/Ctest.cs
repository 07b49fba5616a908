using System.Diagnostics;
using System.Text.Json;

namespace Mistral.Tests.Support;

/// <summary>Lists and runs the native ctest suite of a CMake build folder.</summary>
internal static class Ctest
{
    /// <summary>
    /// One ctest test: its command line, and the ENVIRONMENT (NAME=VALUE) and WORKING_DIRECTORY properties ctest runs
    /// it with, which a runner that starts <see cref="Command"/> itself (valgrind) must apply too: the MISTRAL_CPU
    /// twins differ from their base test only there.
    /// </summary>
    public sealed record NativeTest(string Name, string[] Command, IReadOnlyDictionary<string, string> Environment, string? WorkingDirectory);

    /// <summary>The tests of the regular native build (the one `dotnet build` makes).</summary>
    public static IReadOnlyList<NativeTest> List(string buildDir)
    {
        var (code, output) = Run("ctest", ["--test-dir", buildDir, "--show-only=json-v1"]);
        if (code != 0) throw new InvalidOperationException($"ctest could not list {buildDir}: {output}");
        using var json = JsonDocument.Parse(output);
        return json.RootElement.GetProperty("tests").EnumerateArray().Select(Parse).ToList();
    }

    private static NativeTest Parse(JsonElement test)
    {
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        string? workingDirectory = null;
        if (test.TryGetProperty("properties", out var properties))
        {
            foreach (var property in properties.EnumerateArray())
            {
                var value = property.GetProperty("value");
                switch (property.GetProperty("name").GetString())
                {
                    case "ENVIRONMENT":
                        foreach (var pair in value.EnumerateArray().Select(v => v.GetString()!))
                        {
                            var equals = pair.IndexOf('=', StringComparison.Ordinal);
                            if (equals > 0) environment[pair[..equals]] = pair[(equals + 1)..];
                        }
                        break;
                    case "WORKING_DIRECTORY":
                        workingDirectory = value.GetString();
                        break;
                }
            }
        }
        return new NativeTest(
            test.GetProperty("name").GetString()!,
            test.GetProperty("command").EnumerateArray().Select(a => a.GetString()!).ToArray(),
            environment,
            workingDirectory);
    }

    /// <summary>Test cases, one per native test; a listing failure becomes one failing case that says why.</summary>
    public static IEnumerable<TestCaseData> Cases(string prefix, Func<string, bool>? include = null)
    {
        IReadOnlyList<NativeTest> tests;
        try
        {
            tests = List(RepoPaths.NativeBuildDir);
        }
        catch (Exception ex) when (ex is InvalidOperationException or System.ComponentModel.Win32Exception or JsonException)
        {
            return [new TestCaseData("(listing)", ex.Message).SetName($"{prefix}_listing_failed")];
        }
        if (tests.Count == 0) return [new TestCaseData("(listing)", "ctest lists no tests").SetName($"{prefix}_listing_failed")];
        return tests.Where(t => include?.Invoke(t.Name) ?? true).Select(t => new TestCaseData(t.Name, null).SetName($"{prefix}_{t.Name}"));
    }

    public static (int Code, string Output) Run(string file, IEnumerable<string> arguments,
        IReadOnlyDictionary<string, string>? environment = null, string? workingDirectory = null)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? "",
        };
        foreach (var a in arguments) start.ArgumentList.Add(a);
        foreach (var (k, v) in environment ?? new Dictionary<string, string>()) start.Environment[k] = v;
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        return (process.ExitCode, stdout.Result + stderr.Result);
    }
}
