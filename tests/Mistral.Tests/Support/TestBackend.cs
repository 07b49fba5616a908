namespace Mistral.Tests.Support;

/// <summary>
/// Runs a test fixture on one backend. Cuda runs through the native SIMT emulator (MISTRAL_CUDA_EMULATE=1, set for
/// the whole process: only Backend = Cuda reads it, so the CPU fixtures beside it are unaffected), or on a real GPU
/// when MISTRAL_TEST_CUDA_DEVICE=1 (the GPU check). Where even the emulator is missing (a library built with
/// MISTRAL_CUDA=OFF) the Cuda fixtures report themselves skipped with the native reason.
/// </summary>
internal static class TestBackend
{
    /// <summary>"1": the Cuda fixtures run on the machine's GPU instead of the emulator.</summary>
    public const string RealDeviceVariable = "MISTRAL_TEST_CUDA_DEVICE";

    /// <summary>Fixture arguments: every fixture that takes a backend runs once on each.</summary>
    public static readonly MistralBackend[] Both = [MistralBackend.Cpu, MistralBackend.Cuda];

    /// <summary>Prepares <paramref name="backend"/> for a fixture's tests, or marks them skipped (Assert.Ignore) when it cannot run.</summary>
    public static void Require(MistralBackend backend)
    {
        if (backend != MistralBackend.Cuda) return;
        if (Environment.GetEnvironmentVariable(RealDeviceVariable) != "1")
            Environment.SetEnvironmentVariable("MISTRAL_CUDA_EMULATE", "1");
        var cuda = BackendInfo.Query(MistralBackend.Cuda);
        if (!cuda.IsAvailable) Assert.Ignore($"skipped: no CUDA device ({cuda.UnavailableReason})");
        TestContext.Progress.WriteLine($"{TestContext.CurrentContext.Test.FullName}: {cuda}");
    }

    /// <summary>The options a test loads its model with on <paramref name="backend"/>.</summary>
    public static ModelOptions Options(MistralBackend backend, int threads = 2) => new() { Threads = threads, Backend = backend };
}
