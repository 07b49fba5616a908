using System.Diagnostics;
using Mistral.Tests.Packaging;
using Mistral.Tests.Support;

namespace Mistral.Tests.Reliability;

/// <summary>
/// Coverage-guided fuzzing of the native model table (mst_model_create, then a context and a few decodes) with
/// libFuzzer under ASan/UBSan: a fixed-seed smoke of 10,000 inputs from fuzz/native's seed corpus (fuzz/README.md
/// says how to run it for hours). A crash, a sanitizer report, a leak, an allocation over 64 MiB or a seed that no
/// longer loads fails it. Needs clang with libFuzzer (Debian: clang-19 and libclang-rt-19-dev, which .ci/run installs);
/// without them it reports itself ignored, saying which is missing.
/// Parallelizable: a build and a single-threaded fuzzer process in artifacts/fuzz alone, so it overlaps the other
/// process-bound suites; NUnit never runs it beside an in-process fixture.
/// </summary>
[TestFixture]
[Category("Fuzz")]
[Parallelizable(ParallelScope.Self)]
public class NativeFuzzSmokeTests
{
    [Test]
    public void The_native_model_table_survives_a_fuzz_smoke()
    {
        var clang = FindOnPath("clang-19") ?? FindOnPath("clang");
        if (clang is null) Assert.Ignore("skipped: no clang on PATH (apt-get install clang-19 libclang-rt-19-dev)");
        var probe = Path.Combine(Path.GetTempPath(), $"fuzz-probe-{Guid.NewGuid():N}.c");
        File.WriteAllText(probe, "int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return (int)(d && n) * 0; }\n");
        try
        {
            using var link = Process.Start(new ProcessStartInfo(clang, $"-fsanitize=fuzzer,address,undefined {probe} -o /dev/null")
            { RedirectStandardError = true, RedirectStandardOutput = true })!;
            link.WaitForExit();
            if (link.ExitCode != 0) Assert.Ignore($"skipped: {clang} cannot link a libFuzzer target (apt-get install libclang-rt-19-dev)");
        }
        finally
        {
            File.Delete(probe);
        }
        var build = Path.Combine(RepoPaths.Root, "artifacts", "fuzz", "native-smoke");
        // A guard against a hung build or fuzzer, not a speed bound (libFuzzer's -timeout bounds each input): room for
        // the build and the 10,000 inputs while the other process-bound suites share the cores.
        var output = ProcessRunner.Run("bash", $"fuzz/native/smoke.sh \"{build}\" 10000", RepoPaths.Root, TimeSpan.FromMinutes(20));
        TestContext.Out.WriteLine(output);
        Assert.That(output, Does.Contain("fuzz smoke: PASS"));
    }

    private static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, name)).FirstOrDefault(File.Exists);
}
