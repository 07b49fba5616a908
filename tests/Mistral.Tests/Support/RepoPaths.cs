namespace Mistral.Tests.Support;

/// <summary>Finds the repository from the test's output folder, so tests can reach the native build and the sources.</summary>
internal static class RepoPaths
{
    public static string Root { get; } = FindRoot();

    /// <summary>Where native/Native.targets builds the native core for this test build's configuration.</summary>
    public static string NativeBuildDir =>
#if DEBUG
        Path.Combine(Root, "artifacts", "native", "debug");
#else
        Path.Combine(Root, "artifacts", "native", "release");
#endif

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "native", "include", "mistral.h"))) return dir.FullName;
        }
        throw new InvalidOperationException($"No repository root (native/include/mistral.h) above {AppContext.BaseDirectory}.");
    }
}

/// <summary>A temporary folder deleted at dispose.</summary>
internal sealed class TempDir : IDisposable
{
    public TempDir() => Directory.CreateDirectory(Path);

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "mistral-tests-" + Guid.NewGuid().ToString("N"));

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); }
        catch (IOException) { /* a file still mapped by a leaked model must not fail the test that caused it */ }
    }
}
