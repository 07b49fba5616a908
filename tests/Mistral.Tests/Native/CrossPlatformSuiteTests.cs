using System.Text.RegularExpressions;
using Mistral.Tests.Support;

namespace Mistral.Tests.Native;

/// <summary>
/// The native suite built for the other runtime identifiers the package targets and run under emulation:
/// win-x64 (mingw-w64, run by wine) and linux-arm64 (gcc-aarch64-linux-gnu, run by qemu-aarch64 on a CPU with
/// dotprod/i8mm and on one without). Each script builds, runs ctest and ends with "N passed, N failed"; the test
/// passes when the script exits 0 and reports no failure. Without the cross tools (Debian packages, which
/// .ci/run installs) the test says what to install and is ignored, so a developer box without them still runs the rest.
/// </summary>
/// <remarks>
/// Parallelizable, each suite on its own: a script is processes only, in a build folder of its own (nothing of the
/// test process, no environment variable, no file another suite writes), so it overlaps the other process-bound
/// suites (memcheck's single-core valgrind runs, the sanitizer build, the fuzz smoke) instead of leaving a core idle
/// while it links, configures or waits on wine. NUnit never runs it beside an in-process or [NonParallelizable]
/// fixture (the packaging test, which builds in the same cross build folders, is one).
/// </remarks>
[TestFixture]
[Parallelizable(ParallelScope.All)]
public sealed class CrossPlatformSuiteTests
{
    private static readonly Regex Totals = new(@"^(\d+) passed, (\d+) failed$", RegexOptions.Multiline);

    [Test]
    public void Win_x64_native_suite_passes_under_wine() =>
        RunSuite("cross-test-win.sh", ["x86_64-w64-mingw32-gcc", "wine", "wineboot"], "gcc-mingw-w64-x86-64 wine64 wine");

    [Test]
    public void Linux_arm64_native_suite_passes_under_qemu() =>
        RunSuite("cross-test-arm64.sh", ["aarch64-linux-gnu-gcc", "qemu-aarch64"], "gcc-aarch64-linux-gnu qemu-user");

    private static void RunSuite(string script, string[] tools, string packages)
    {
        var missing = tools.Where(t => Ctest.Run("sh", ["-c", $"command -v {t}"]).Code != 0).ToArray();
        if (missing.Length > 0)
            Assert.Ignore($"{string.Join(", ", missing)} not installed (apt-get install {packages}); .ci/run installs them");

        var (code, output) = Ctest.Run("bash", [Path.Combine(RepoPaths.Root, "scripts", script)]);
        TestContext.Out.WriteLine(output);
        var totals = Totals.Matches(output).LastOrDefault();
        Assert.That(totals, Is.Not.Null, $"{script} printed no \"N passed, N failed\" line (exit {code}):\n{Tail(output)}");
        var passed = int.Parse(totals!.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        var failed = int.Parse(totals.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.Multiple(() =>
        {
            Assert.That(failed, Is.Zero, $"{script}: {failed} native tests failed:\n{Tail(output)}");
            Assert.That(passed, Is.GreaterThan(20), $"{script}: only {passed} native tests ran:\n{Tail(output)}");
            Assert.That(code, Is.Zero, $"{script} exited {code}:\n{Tail(output)}");
        });
    }

    private static string Tail(string text) => text.Length <= 6000 ? text : "…" + text[^6000..];
}
