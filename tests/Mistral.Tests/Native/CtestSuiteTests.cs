using System.Diagnostics;
using System.Text.Json;
using Mistral.Tests.Support;

namespace Mistral.Tests.Native;

/// <summary>
/// Runs the native ctest suite (each kernel against its scalar reference, ABI error paths, KV-cache
/// consistency) as NUnit cases, one per ctest test, so `dotnet test` is the one command that runs
/// everything and each native test is counted and reported by name.
/// </summary>
[TestFixture]
public class CtestSuiteTests
{
    public static IEnumerable<TestCaseData> CtestCases()
    {
        string[] names;
        try
        {
            var (code, output) = Run("ctest", $"--test-dir \"{RepoPaths.NativeBuildDir}\" --show-only=json-v1");
            if (code != 0) throw new InvalidOperationException(output);
            using var json = JsonDocument.Parse(output);
            names = json.RootElement.GetProperty("tests").EnumerateArray().Select(t => t.GetProperty("name").GetString()!).ToArray();
        }
        catch (Exception ex)
        {
            // Listing failed: one case that fails and says why, rather than a silently empty suite.
            var failure = ex.Message;
            return [new TestCaseData("(listing)", failure).SetName("ctest_listing_failed")];
        }
        if (names.Length == 0) return [new TestCaseData("(listing)", "ctest lists no tests").SetName("ctest_listing_failed")];
        return names.Select(n => new TestCaseData(n, null).SetName($"ctest_{n}"));
    }

    [TestCaseSource(nameof(CtestCases))]
    public void Native_test_passes(string name, string? listingFailure)
    {
        Assert.That(listingFailure, Is.Null, $"Could not list the ctest suite in {RepoPaths.NativeBuildDir}: {listingFailure}");
        var (code, output) = Run("ctest", $"--test-dir \"{RepoPaths.NativeBuildDir}\" -R \"^{name}$\" --output-on-failure --timeout 300");
        TestContext.Out.WriteLine(output);
        Assert.That(code, Is.Zero, $"ctest test '{name}' failed:\n{output}");
        Assert.That(output, Does.Contain("100% tests passed"), "ctest did not run the test");
    }

    private static (int Code, string Output) Run(string file, string arguments)
    {
        var start = new ProcessStartInfo(file, arguments)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        return (process.ExitCode, stdout.Result + stderr.Result);
    }
}
