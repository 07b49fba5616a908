using Mistral.Interop;
using Mistral.Tests.Support;

namespace Mistral.Tests.Packaging;

/// <summary>
/// What an app sees when the native asset for its platform is missing: the loader, pointed at folders with no
/// library, must name the RID, every path it looked in, and what to do, which differs between a RID the package
/// carries (the app's output lost it) and one it does not (build from source). The consumer test checks the same
/// message end to end, from an app whose runtimes folder was deleted.
/// </summary>
[TestFixture]
public class NativeLoaderMessageTests
{
    [Test]
    public void A_folder_without_the_library_gives_every_path_tried_and_the_fix()
    {
        using var appA = new TempDir();
        using var appB = new TempDir();
        var missingOverride = appA.File("nowhere/libmistral.so");
        var (handle, from, tried) = NativeLibraryLoader.Probe(missingOverride, [appA.Path, appB.Path], ["linux-x64"], "libmistral.so", trySystemSearch: false);
        Assert.Multiple(() =>
        {
            Assert.That(handle, Is.EqualTo(nint.Zero));
            Assert.That(from, Is.Null);
            Assert.That(tried, Is.EqualTo(new[]
            {
                missingOverride + " (not found)",
                Path.Combine(appA.Path, "runtimes", "linux-x64", "native", "libmistral.so") + " (not found)",
                Path.Combine(appB.Path, "runtimes", "linux-x64", "native", "libmistral.so") + " (not found)",
                Path.Combine(appA.Path, "libmistral.so") + " (not found)",
                Path.Combine(appB.Path, "libmistral.so") + " (not found)",
            }));
        });

        var message = NativeLibraryLoader.Missing("linux-x64", "libmistral.so", tried).Message;
        Assert.That(message, Does.StartWith("Mistral.Native has no native library for linux-x64 that this process could load (libmistral.so). Looked in:\n"));
        foreach (var path in tried) Assert.That(message, Does.Contain("\n  " + path + "\n"), "every path tried is listed on its own line");
        Assert.That(message, Does.Contain("runtimes/linux-x64/native/").And.Contain("MISTRAL_NATIVE_LIBRARY"),
            "a packaged RID: where the asset belongs in the output, and the override");
    }

    [Test]
    public void A_platform_the_package_does_not_carry_is_told_to_build_from_source()
    {
        var message = NativeLibraryLoader.Missing("osx-arm64", "libmistral.dylib", ["/app/runtimes/osx-arm64/native/libmistral.dylib (not found)"]).Message;
        Assert.That(message, Does.StartWith("Mistral.Native has no native library for osx-arm64"));
        Assert.That(message, Does.Contain("/app/runtimes/osx-arm64/native/libmistral.dylib (not found)"));
        Assert.That(message, Does.Contain("carries native libraries for linux-x64, linux-arm64, win-x64 only"));
        Assert.That(message, Does.Contain("build the native core from source").And.Contain("MISTRAL_NATIVE_LIBRARY").And.Contain("libmistral.dylib"));
    }

    [Test]
    public void A_file_that_is_there_but_not_loadable_says_why()
    {
        using var app = new TempDir();
        var fake = Path.Combine(app.Path, "runtimes", "linux-x64", "native", "libmistral.so");
        Directory.CreateDirectory(Path.GetDirectoryName(fake)!);
        File.WriteAllText(fake, "not a shared object");
        var (handle, _, tried) = NativeLibraryLoader.Probe(null, [app.Path], ["linux-x64"], "libmistral.so", trySystemSearch: false);
        Assert.That(handle, Is.EqualTo(nint.Zero));
        Assert.That(tried[0], Does.StartWith(fake + " (found but could not be loaded: "));
    }
}
