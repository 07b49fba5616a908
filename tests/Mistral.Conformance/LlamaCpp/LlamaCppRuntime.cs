using System.Collections.Concurrent;
using System.Runtime.Intrinsics.X86;
using LLama.Exceptions;
using LLama.Native;

namespace Mistral.Conformance.LlamaCpp;

/// <summary>
/// Loads llama.cpp's native library once per test process, pinned to one CPU build, and keeps its log so a
/// failure can say why. A load failure is a test failure carrying the reason, never a silent pass.
/// </summary>
internal static class LlamaCppRuntime
{
    // llama.cpp logs per model load; only the tail matters when explaining a failure.
    private const int LogLinesKept = 200;

    private static readonly ConcurrentQueue<string> Log = new();
    private static readonly Lazy<string?> LoadError = new(Load, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The CPU build chosen for this machine.</summary>
    public static AvxLevel Avx { get; } =
        Avx512F.IsSupported ? AvxLevel.Avx512 : Avx2.IsSupported ? AvxLevel.Avx2 : System.Runtime.Intrinsics.X86.Avx.IsSupported ? AvxLevel.Avx : AvxLevel.None;

    /// <summary>Makes sure the native library is loaded; fails the calling test with the reason otherwise.</summary>
    public static void EnsureLoaded()
    {
        if (LoadError.Value is { } error)
            Assert.Fail(error);
    }

    /// <summary>The last lines llama.cpp logged (warnings and errors), for failure messages.</summary>
    public static string RecentLog() => string.Join("", Log.TakeLast(20));

    private static string? Load()
    {
        try
        {
            // Pin one CPU build: with CUDA and Vulkan off and no fallback, a missing or unloadable file is an
            // error naming that build instead of a silent switch to another one with different numerics.
            NativeLibraryConfig.All
                .WithCuda(false)
                .WithVulkan(false)
                .WithAvx(Avx)
                .WithAutoFallback(false)
                .WithLogCallback(static (level, message) =>
                {
                    if (level is LLamaLogLevel.Warning or LLamaLogLevel.Error)
                    {
                        Log.Enqueue($"[{level}] {message}");
                        while (Log.Count > LogLinesKept)
                            Log.TryDequeue(out _);
                    }
                });
            // Without this call first, LLamaModelParams.Default() fails with DllNotFoundException: llama.
            NativeApi.llama_empty_call();
            return null;
        }
        catch (Exception ex) when (ex is DllNotFoundException or TypeInitializationException or EntryPointNotFoundException
                                       or BadImageFormatException or InvalidOperationException or RuntimeError)
        {
            return $"llama.cpp ({Avx} CPU build of LLamaSharp.Backend.Cpu 0.30.0) could not be loaded from "
                   + $"{Path.Combine(AppContext.BaseDirectory, "runtimes")}: {ex}";
        }
    }
}
