using Mistral.Tests.Support;

namespace Mistral.Tests.Reliability;

/// <summary>
/// The native suite again, under AddressSanitizer + UndefinedBehaviorSanitizer (CMake option MISTRAL_SANITIZE; leaks
/// detected too), in a build of its own: every kernel at every ISA level this CPU has, the ABI error paths, whole-model
/// runs and the CUDA suite on the SIMT emulator. The other memory checker, valgrind memcheck over the regular build, is
/// <see cref="NativeMemcheckTests"/>.
/// </summary>
/// <remarks>
/// Parallelizable with the other process-bound suites (memcheck, the cross suites, the fuzz smoke): the build and the
/// tests are processes in a build folder of their own, and NUnit never runs them beside an in-process fixture. Its
/// own cases run one after another, as the CMake build must finish first and some native tests bound the CPU time a
/// step takes.
/// </remarks>
[TestFixture]
[Category("Sanitizers")]
[Parallelizable(ParallelScope.Self)]
public class NativeMemorySafetyTests
{
    private static string SanitizerBuildDir => RepoPaths.NativeBuildDir + "-sanitize";

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
        // One job per CPU: a bare --parallel is an unbounded `make -j`, which on a small CI machine only adds memory
        // and switching, and here would also starve the memcheck cases that run beside this build.
        var (build, buildOutput) = Ctest.Run("cmake", ["--build", SanitizerBuildDir, "--parallel", Environment.ProcessorCount.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        _buildFailure = build == 0 ? null : "build failed:\n" + buildOutput;
    }

    // The gpu_* twins need a real GPU, where compute-sanitizer is the checker: not run under ASan here. The device
    // script's rehearsal is a shell script over the benchmark harness, whose kernels and model runs each have their
    // own case here; under ASan it would only repeat them, a minute slower (it runs in the regular ctest suite).
    private static bool NotOnlyForAGpu(string name) =>
        !name.StartsWith("gpu_", StringComparison.Ordinal) && name != "cuda_gpu_check_rehearsal_writes_bench_json";

    public static IEnumerable<TestCaseData> SanitizerCases() => Ctest.Cases("asan_ubsan", NotOnlyForAGpu);

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
}
