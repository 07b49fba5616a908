using Mistral.Tests.Support;

namespace Mistral.Tests.Reliability;

/// <summary>
/// The native suite under valgrind memcheck, over the regular build: every kernel, the ABI error paths and whole-model
/// runs, each test with the environment and working directory ctest gives it (the MISTRAL_CPU=scalar twins run the
/// scalar kernels here too). The other memory checker, ASan+UBSan, is <see cref="NativeMemorySafetyTests"/>.
/// </summary>
/// <remarks>
/// valgrind 3.19 emulates a CPU without AVX-512 and without AVX-VNNI (it cannot decode either; an uncapped test
/// that dispatched to them would die of SIGILL), so under memcheck the kernels dispatch to AVX2/scalar; the AVX-512
/// and AVX-VNNI paths are covered by the sanitizer build, which runs natively. For the same reason the twins capped
/// at avx2 or avxvnni (MISTRAL_CPU) choose exactly the AVX2 table their uncapped twin already runs here, so they are
/// reported ignored rather than run a second and third time.
/// The CUDA suite (cuda_*, emu_*: kernels run by the SIMT emulator) runs under the sanitizers only: the emulator's
/// threads are fibers that switch stacks, which memcheck cannot follow, and its exact-size device buffers are what
/// ASan checks.
/// Each case is a valgrind process of its own, which runs the program's threads one at a time (one core), and the
/// ctest tests share no file (they run under ctest -j in the cross suites): so the cases run in parallel with each
/// other and with the other process-bound suites, never beside an in-process fixture (NUnit keeps parallel and
/// non-parallel work apart).
/// </remarks>
[TestFixture]
[Category("Sanitizers")]
[Parallelizable(ParallelScope.All)]
public class NativeMemcheckTests
{
    // abi_errors asks for a context of 2^31 tokens to check OUT_OF_MEMORY; valgrind's calloc zero-fills
    // what it grants, so under memcheck that test measures the machine's memory, not our code.
    // moe_grouped_equals_per_token sweeps 252 batches (7 weight types x 6 batch sizes x 3 routings, each also
    // run token by token): seconds natively, over ten minutes under memcheck's emulation. The same grouped
    // MoE code runs under valgrind in the moe_* and model tests, and this sweep under ASan+UBSan.
    private static readonly Dictionary<string, string> NotUnderValgrind = new(StringComparer.Ordinal)
    {
        ["abi_errors"] = "allocates a huge context on purpose",
        ["moe_grouped_equals_per_token"] = "a 252-batch sweep that takes over ten minutes under memcheck; the moe_* and model tests cover its code",
        ["kernel_attention_long_context"] = "thousands of keys against a double reference; kernel_attention runs the same kernels under memcheck",
        ["kv_f16_attention_long_context"] = "long-context F16 shapes; kv_f16_attention_matches_reference runs the same kernels under memcheck",
    };

    // MISTRAL_CPU caps that leave valgrind's CPU (AVX2 at most) on the table the uncapped test already uses.
    private static readonly string[] CapsAboveValgrindsCpu = ["avx2", "avxvnni"];

    private static readonly Lazy<IReadOnlyList<Ctest.NativeTest>> Listing = new(() => Ctest.List(RepoPaths.NativeBuildDir));

    private static bool RunsOnTheEmulator(string name) => name.StartsWith("cuda_", StringComparison.Ordinal) || name.StartsWith("emu_", StringComparison.Ordinal);

    // The gpu_* twins need a real GPU, where compute-sanitizer is the checker: not run under memcheck.
    public static IEnumerable<TestCaseData> MemcheckCases() =>
        Ctest.Cases("valgrind", name => !name.StartsWith("gpu_", StringComparison.Ordinal));

    [TestCaseSource(nameof(MemcheckCases))]
    public void Native_test_is_clean_under_valgrind_memcheck(string name, string? listingFailure)
    {
        Assert.That(listingFailure, Is.Null, listingFailure);
        if (NotUnderValgrind.TryGetValue(name, out var why)) Assert.Ignore($"{name}: {why}; see the class remarks.");
        if (RunsOnTheEmulator(name)) Assert.Ignore($"{name} runs CUDA kernels on the SIMT emulator, whose fibers switch stacks: checked under ASan+UBSan instead (see the class remarks).");
        var test = Listing.Value.Single(t => t.Name == name);
        if (test.Environment.TryGetValue("MISTRAL_CPU", out var cap) && CapsAboveValgrindsCpu.Contains(cap))
            Assert.Ignore($"{name}: MISTRAL_CPU={cap} leaves valgrind's CPU (no AVX-512, no AVX-VNNI) on the AVX2 table its uncapped twin runs under memcheck; the capped table runs natively in ctest_{name} and asan_ubsan_{name} (see the class remarks).");
        const int valgrindError = 97;
        var (code, output) = Ctest.Run("valgrind",
            [$"--error-exitcode={valgrindError}", "--leak-check=full", "--errors-for-leak-kinds=definite,indirect", "--show-leak-kinds=definite,indirect", "-q", .. test.Command],
            test.Environment, test.WorkingDirectory);
        Assert.That(code, Is.Not.EqualTo(valgrindError), $"valgrind found memory errors or leaks in '{name}':\n{output}");
        Assert.That(code, Is.Zero, $"'{name}' failed under valgrind:\n{output}");
    }
}
