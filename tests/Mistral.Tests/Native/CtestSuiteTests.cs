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
    public static IEnumerable<TestCaseData> CtestCases() => Ctest.Cases("ctest");

    [TestCaseSource(nameof(CtestCases))]
    public void Native_test_passes(string name, string? listingFailure)
    {
        Assert.That(listingFailure, Is.Null, $"Could not list the ctest suite in {RepoPaths.NativeBuildDir}: {listingFailure}");
        var (code, output) = Ctest.Run("ctest", ["--test-dir", RepoPaths.NativeBuildDir, "-R", $"^{name}$", "--output-on-failure", "--timeout", "300", "-V"]);
        TestContext.Out.WriteLine(output);
        Assert.That(code, Is.Zero, $"ctest test '{name}' failed:\n{output}");
        // A test that cannot run here (the gpu_* twins without a GPU) exits with ctest's skip code and says why.
        if (output.Contains("***Skipped", StringComparison.Ordinal))
        {
            var why = output.Split('\n').FirstOrDefault(l => l.Contains("skipped:", StringComparison.Ordinal));
            Assert.Ignore(why is null ? $"{name} skipped itself" : why[why.IndexOf("skipped:", StringComparison.Ordinal)..].Trim());
        }
        Assert.That(output, Does.Contain("100% tests passed"), "ctest did not run the test");
    }
}
