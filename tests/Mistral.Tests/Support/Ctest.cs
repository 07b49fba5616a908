using System.Diagnostics;
using System.Text.Json;

namespace Mistral.Tests.Support;

/// <summary>Lists and runs the native ctest suite of a CMake build folder.</summary>
internal static class Ctest
{
    public sealed record NativeTest(string Name, string[] Command);

    /// <summary>The tests of the regular native build (the one `dotnet build` makes).</summary>
    public static IReadOnlyList<NativeTest> List(string buildDir)
    {
        var (code, output) = Run("ctest", ["--test-dir", buildDir, "--show-only=json-v1"]);
        if (code != 0) throw new InvalidOperationException($"ctest could not list {buildDir}: {output}");
        using var json = JsonDocument.Parse(output);
        return json.RootElement.GetProperty("tests").EnumerateArray()
            .Select(t => new NativeTest(
                t.GetProperty("name").GetString()!,
                t.GetProperty("command").EnumerateArray().Select(a => a.GetString()!).ToArray()))
            .ToList();
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

    public static (int Code, string Output) Run(string file, IEnumerable<string> arguments, IDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
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
