using Mistral.Tests.Support;

namespace Mistral.Tests.Reliability;

/// <summary>
/// The native suite again, under the two memory checkers: a build with AddressSanitizer +
/// UndefinedBehaviorSanitizer (CMake option MISTRAL_SANITIZE; leaks detected too), and valgrind memcheck
/// over the regular build. Every kernel, the ABI error paths and whole-model runs go through both.
/// </summary>
/// <remarks>
/// valgrind 3.19 does not emulate AVX-512 and reports a CPU without it, so under memcheck the kernels
/// dispatch to AVX2/scalar; the AVX-512 paths are covered by the sanitizer build, which runs natively.
/// The CUDA suite (cuda_*, emu_*: kernels run by the SIMT emulator) runs under the sanitizers only: the
/// emulator's threads are fibers that switch stacks, which memcheck cannot follow, and its exact-size
/// device buffers are what ASan checks.
/// </remarks>
[TestFixture]
[Category("Sanitizers")]
public class NativeMemorySafetyTests
{
    private static string SanitizerBuildDir => RepoPaths.NativeBuildDir + "-sanitize";

    // abi_errors asks for a context of 2^31 tokens to check OUT_OF_MEMORY; valgrind's calloc zero-fills
    // what it grants, so under memcheck that test measures the machine's memory, not our code.
    // moe_grouped_equals_per_token sweeps 252 batches (7 weight types x 6 batch sizes x 3 routings, each also
    // run token by token): seconds natively, over ten minutes under memcheck's emulation. The same grouped
    // MoE code runs under valgrind in the moe_* and model tests, and this sweep under ASan+UBSan.
    private static readonly Dictionary<string, string> NotUnderValgrind = new(StringComparer.Ordinal)
    {
        ["abi_errors"] = "allocates a huge context on purpose",
        ["moe_grouped_equals_per_token"] = "a 252-batch sweep that takes over ten minutes under memcheck; the moe_* and model tests cover its code",
    };

    private static bool RunsOnTheEmulator(string name) => name.StartsWith("cuda_", StringComparison.Ordinal) || name.StartsWith("emu_", StringComparison.Ordinal);

    private static string? _buildFailure;

    [OneTimeSetUp]
    public void BuildSanitizerVariant()
    {
        var (configure, configureOutput) = Ctest.Run("cmake",
            ["-S", RepoPaths.Root, "-B", SanitizerBuildDir, "-DCMAKE_BUILD_TYPE=RelWithDebInfo", "-DMISTRAL_SANITIZE=ON", "-DMISTRAL_CUDA=AUTO"]);
        if (configure != 0)
        {
            _buildFailure = "configure failed:\n" + configureOutput;
            return;
        }
        var (build, buildOutput) = Ctest.Run("cmake", ["--build", SanitizerBuildDir, "--parallel"]);
        _buildFailure = build == 0 ? null : "build failed:\n" + buildOutput;
    }

    // The gpu_* twins need a real GPU, where compute-sanitizer is the checker: not run under these two.
    private static bool NotOnlyForAGpu(string name) => !name.StartsWith("gpu_", StringComparison.Ordinal);

    public static IEnumerable<TestCaseData> SanitizerCases() => Ctest.Cases("asan_ubsan", NotOnlyForAGpu);

    public static IEnumerable<TestCaseData> MemcheckCases() => Ctest.Cases("valgrind", NotOnlyForAGpu);

    [TestCaseSource(nameof(SanitizerCases))]
    public void Native_test_is_clean_under_address_and_undefined_behavior_sanitizers(string name, string? listingFailure)
    {
        Assert.That(listingFailure, Is.Null, listingFailure);
        Assert.That(_buildFailure, Is.Null, $"The sanitizer build in {SanitizerBuildDir}: {_buildFailure}");
        var (code, output) = Ctest.Run("ctest", ["--test-dir", SanitizerBuildDir, "-R", $"^{name}$", "--output-on-failure", "--timeout", "600"]);
        Assert.That(code, Is.Zero, $"'{name}' under ASan+UBSan:\n{output}");
        Assert.That(output, Does.Contain("100% tests passed"));
        Assert.That(output, Does.Not.Contain("runtime error:"), "UBSan reported undefined behaviour");
    }

    [TestCaseSource(nameof(MemcheckCases))]
    public void Native_test_is_clean_under_valgrind_memcheck(string name, string? listingFailure)
    {
        Assert.That(listingFailure, Is.Null, listingFailure);
        if (NotUnderValgrind.TryGetValue(name, out var why)) Assert.Ignore($"{name}: {why}; see the class remarks.");
        if (RunsOnTheEmulator(name)) Assert.Ignore($"{name} runs CUDA kernels on the SIMT emulator, whose fibers switch stacks: checked under ASan+UBSan instead (see the class remarks).");
        var test = Ctest.List(RepoPaths.NativeBuildDir).Single(t => t.Name == name);
        const int valgrindError = 97;
        var (code, output) = Ctest.Run("valgrind",
            [$"--error-exitcode={valgrindError}", "--leak-check=full", "--errors-for-leak-kinds=definite,indirect", "--show-leak-kinds=definite,indirect", "-q", .. test.Command]);
        Assert.That(code, Is.Not.EqualTo(valgrindError), $"valgrind found memory errors or leaks in '{name}':\n{output}");
        Assert.That(code, Is.Zero, $"'{name}' failed under valgrind:\n{output}");
    }
}
