using System.IO.Compression;
using Mistral.Gguf;
using Mistral.Tests.Support;

namespace Mistral.Tests.Packaging;

/// <summary>
/// Packs Mistral.Native, then builds and runs a fresh console app that gets it only from a local folder
/// feed: proof that the package alone, with its one native library per RID (both backends inside the linux-x64
/// one), is enough to generate. The app runs in its own process, outside the repository, with no
/// MISTRAL_NATIVE_LIBRARY override and no MISTRAL_CUDA_EMULATE. On a machine without an NVIDIA GPU Backend = Auto
/// must run on the CPU and log why CUDA was not used, in the native core's words.
/// Two packages: the default one (the host's linux-x64 library only) and the release one (-p:MistralAllRids=true:
/// linux-x64, linux-arm64 and win-x64, each checked by its header to be the right machine's binary). The release pack
/// builds the two cross libraries itself (native/Native.targets, target MistralBuildCrossNative) in the build trees
/// the cross suites (Native/CrossPlatformSuiteTests) use: whichever of the two runs first builds the shared objects,
/// the other finds them up to date, so neither depends on running after the other.
/// </summary>
[TestFixture]
[Category("Slow")]
[NonParallelizable]
public class ConsumerProjectTests
{
#if DEBUG
    private const string Configuration = "Debug";
#else
    private const string Configuration = "Release";
#endif
    private static readonly TimeSpan StepLimit = TimeSpan.FromMinutes(4);

    private static readonly SyntheticModelSpec Spec = new()
    {
        VocabSize = 300, EmbeddingLength = 64, LayerCount = 1, HeadCount = 4, KvHeadCount = 2,
        FeedForwardLength = 96, ContextLength = 128, WeightType = GgmlType.Q8_0, Seed = 77,
    };

    private const string Prompt = "hello world";
    private const int MaxTokens = 12;

    [Test]
    public void A_console_app_generates_from_the_packed_package_alone()
    {
        using var temp = new TempDir();
        var (package, packOutput) = Pack(temp, "");
        Assert.That(packOutput, Does.Contain("Mistral.Native: packing the native library for linux-x64 only"),
            "the default pack says which RIDs went in");
        CheckPackage(package, new() { ["linux-x64"] = ("libmistral.so", "ELF x86-64 shared object") });
        var app = BuildConsumer(temp, package);
        _ = RunConsumer(temp, app);

        // The same app with the package's runtimes folder gone: the loader's message, not a DllNotFoundException.
        Directory.Delete(Path.Combine(app, "bin", "Release", "net10.0", "runtimes"), recursive: true);
        var (code, output) = ProcessRunner.RunAllowingFailure("dotnet", Path.Combine("bin", "Release", "net10.0", "Consumer.dll") + $" \"{temp.File("model2.gguf")}\"", app, StepLimit);
        Assert.That(code, Is.EqualTo(3), $"the app reports MistralNativeLibraryException and exits 3:\n{output}");
        var expectedPath = Path.Combine(app, "bin", "Release", "net10.0", "runtimes", "linux-x64", "native", "libmistral.so");
        Assert.That(output, Does.Contain("NATIVE_MISSING Mistral.Native has no native library for linux-x64"));
        Assert.That(output, Does.Contain(expectedPath + " (not found)"), "the message names the path the package's asset belongs at");
        Assert.That(output, Does.Contain("MISTRAL_NATIVE_LIBRARY"));
    }

    [Test]
    public void The_release_package_carries_linux_x64_linux_arm64_and_win_x64()
    {
        var missing = new[] { "aarch64-linux-gnu-gcc", "x86_64-w64-mingw32-gcc" }.Where(t => Ctest.Run("sh", ["-c", $"command -v {t}"]).Code != 0).ToArray();
        if (missing.Length > 0)
            Assert.Ignore($"{string.Join(", ", missing)} not installed (apt-get install gcc-aarch64-linux-gnu gcc-mingw-w64-x86-64); .ci/run installs them");

        using var temp = new TempDir();
        var (package, packOutput) = Pack(temp, "-p:MistralAllRids=true");
        Assert.That(packOutput, Does.Contain("Mistral.Native: packing native libraries for linux-x64, linux-arm64, win-x64."));
        CheckPackage(package, new()
        {
            ["linux-x64"] = ("libmistral.so", "ELF x86-64 shared object"),
            ["linux-arm64"] = ("libmistral.so", "ELF AArch64 shared object"),
            ["win-x64"] = ("mistral.dll", "PE AMD64 DLL"),
        });
        // Restored from the three-RID package, a linux-x64 app must still load the linux-x64 library.
        var app = BuildConsumer(temp, package);
        var x64Ids = RunConsumer(temp, app);
        RunConsumerOnArm64(temp, app, x64Ids);
    }

    /// <summary>
    /// The same app published self-contained for linux-arm64 (NuGet serves the arm64 .NET runtime pack) and run under
    /// qemu-aarch64 with the cross compiler's arm64 libc: it must load the package's AArch64 library and generate the
    /// tokens the x64 run made. The model and prompt are fixed, so the comparison is deterministic; the sequence held on
    /// both emulated CPUs the arm64 suite uses (max and cortex-a57). A mismatch is a kernel disagreement between the two
    /// ISAs (or a near tie in this model's logits) worth a look, not noise. Skipped, saying so, without qemu.
    /// </summary>
    private static void RunConsumerOnArm64(TempDir temp, string app, string x64Ids)
    {
        const string sysroot = "/usr/aarch64-linux-gnu";
        if (Ctest.Run("sh", ["-c", "command -v qemu-aarch64"]).Code != 0 || !Directory.Exists(sysroot))
        {
            TestContext.Out.WriteLine($"linux-arm64 consumer not run: needs qemu-aarch64 (apt-get install qemu-user) and {sysroot}");
            return;
        }
        // InvariantGlobalization: no arm64 libicu beside the cross libc.
        ProcessRunner.Run("dotnet", "publish -c Release -r linux-arm64 --self-contained -p:InvariantGlobalization=true -o arm64 -nodeReuse:false --disable-build-servers", app, StepLimit);
        var output = ProcessRunner.Run("qemu-aarch64", $"-L {sysroot} -cpu max {Path.Combine("arm64", "Consumer")} \"{temp.File("arm64.gguf")}\"", app, StepLimit,
            // The JIT's W^X double mapping costs a lot under user-mode emulation and buys nothing in a test.
            new Dictionary<string, string?> { ["DOTNET_EnableWriteXorExecute"] = "0" });
        var lines = output.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines.Single(l => l.StartsWith("LIB ", StringComparison.Ordinal))[4..], Is.EqualTo(Path.Combine(app, "arm64", "libmistral.so")),
            "a linux-arm64 publish flattens the package's runtimes/linux-arm64/native/libmistral.so into the app folder");
        Assert.That(lines.Single(l => l.StartsWith("BACKEND ", StringComparison.Ordinal))[8..], Is.EqualTo("Cpu"));
        Assert.That(lines.Single(l => l.StartsWith("IDS ", StringComparison.Ordinal))[4..], Is.EqualTo(x64Ids),
            "the arm64 build generates what the x64 one did");
    }

    [Test]
    public void A_release_pack_with_a_missing_asset_fails_and_names_it()
    {
        using var temp = new TempDir();
        var feed = Directory.CreateDirectory(Path.Combine(temp.Path, "feed")).FullName;
        var absentDll = temp.File("no-such-build/mistral.dll");
        // Any file that exists stands in for the arm64 library: the pack must stop at the missing one before packing.
        var presentSo = Path.Combine(RepoPaths.NativeBuildDir, "libmistral.so");
        var (code, output) = ProcessRunner.RunAllowingFailure("dotnet",
            $"pack \"{Path.Combine(RepoPaths.Root, "src", "Mistral", "Mistral.csproj")}\" --no-build -c {Configuration} -o \"{feed}\" -p:MistralSkipNative=true " +
            $"-p:MistralAllRids=true -p:MistralNativeLibWinX64=\"{absentDll}\" -p:MistralNativeLibLinuxArm64=\"{presentSo}\" -p:PackageVersion=0.0.0-missing",
            RepoPaths.Root, StepLimit);
        Assert.That(code, Is.Not.Zero, $"the pack must fail:\n{output}");
        Assert.That(output, Does.Contain($"MistralAllRids: the win-x64 native library {absentDll} does not exist"));
        Assert.That(output, Does.Contain("must carry linux-x64, linux-arm64 and win-x64, so nothing was packed"));
        Assert.That(Directory.GetFiles(feed, "*.nupkg"), Is.Empty, "no package with fewer RIDs");
    }

    /// <summary>
    /// --no-build: packs exactly what this test run was built from (the solution build made it). A version no earlier
    /// run used, so the global packages folder cannot hand back a stale copy; TearDown removes that copy.
    /// </summary>
    private static (string Package, string Output) Pack(TempDir temp, string extraArguments)
    {
        var feed = Directory.CreateDirectory(Path.Combine(temp.Path, "feed")).FullName;
        var version = "0.0.0-consumer." + Guid.NewGuid().ToString("N")[..12];
        CachedVersions.Add(Path.Combine(GlobalPackagesFolder(), "mistral.native", version));
        var output = ProcessRunner.Run("dotnet",
            $"pack \"{Path.Combine(RepoPaths.Root, "src", "Mistral", "Mistral.csproj")}\" --no-build -c {Configuration} -o \"{feed}\" -p:PackageVersion={version} -p:MistralSkipNative=true {extraArguments}",
            RepoPaths.Root, StepLimit);
        return (Path.Combine(feed, $"Mistral.Native.{version}.nupkg"), output);
    }

    private static readonly List<string> CachedVersions = [];

    [TearDown]
    public void ForgetPackedVersions()
    {
        foreach (var cached in CachedVersions)
        {
            try { if (Directory.Exists(cached)) Directory.Delete(cached, recursive: true); }
            catch (IOException) { /* only tidiness: a leftover version does no harm */ }
        }
        CachedVersions.Clear();
    }

    private static string BuildConsumer(TempDir temp, string package)
    {
        var app = Directory.CreateDirectory(Path.Combine(temp.Path, "app")).FullName;
        var version = Path.GetFileNameWithoutExtension(package)["Mistral.Native.".Length..];
        WriteApp(app, Path.GetDirectoryName(package)!, version);
        ProcessRunner.Run("dotnet", "build -c Release -nodeReuse:false --disable-build-servers", app, StepLimit);
        return app;
    }

    /// <summary>Runs the app on the host (linux-x64): the library it loaded, the backend it chose, the tokens it made.</summary>
    private static string RunConsumer(TempDir temp, string app)
    {
        var output = ProcessRunner.Run("dotnet", Path.Combine("bin", "Release", "net10.0", "Consumer.dll") + $" \"{temp.File("model.gguf")}\"", app, StepLimit);

        var lines = output.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var library = lines.Single(l => l.StartsWith("LIB ", StringComparison.Ordinal))[4..];
        Assert.That(library, Does.StartWith(app).And.EndWith(Path.Combine("runtimes", "linux-x64", "native", "libmistral.so")),
            "the native core must come from the app's output, i.e. from the package");
        var backend = lines.Single(l => l.StartsWith("BACKEND ", StringComparison.Ordinal))[8..];
        var cudaReason = lines.Single(l => l.StartsWith("CUDA_REASON ", StringComparison.Ordinal))[12..];
        if (backend == "Cuda")
        {
            Assert.That(lines, Has.Some.StartsWith("LOG Backend: CUDA on "), "a machine with a GPU: Auto took it and said so");
        }
        else
        {
            Assert.That(backend, Is.EqualTo("Cpu"));
            Assert.That(cudaReason, Is.Not.Empty, "the native core says why CUDA cannot run");
            Assert.That(lines, Has.Some.EqualTo("LOG Backend: CPU, because " + cudaReason),
                "Auto on a machine without a GPU runs on the CPU and logs the reason");
            Assert.That(lines, Has.Some.StartsWith("CUDA MistralDeviceException The CUDA backend was requested but cannot run: " + cudaReason),
                "asking for CUDA where it cannot run is explained");
        }
        var ids = lines.Single(l => l.StartsWith("IDS ", StringComparison.Ordinal))[4..];

        // The same generation in this process, from the repository's build.
        SyntheticModel.Write(temp.File("same.gguf"), Spec);
        using var model = MistralModel.Load(temp.File("same.gguf"), new ModelOptions { Threads = 1 });
        using var session = model.CreateSession();
        var expected = session.Complete(Prompt, GenerationOptions.Greedy(MaxTokens));
        Assert.That(ids, Is.EqualTo(string.Join(",", expected.Tokens)));
        return ids;
    }

    /// <summary>
    /// Checks every asset is where NuGet and our resolver expect it, that the runtimes/ folder holds exactly the
    /// expected RIDs' libraries, and that each is built for its RID's machine (read from its header); prints the list.
    /// </summary>
    private static void CheckPackage(string package, Dictionary<string, (string File, string Header)> runtimes)
    {
        Assert.That(File.Exists(package), Is.True, $"{package} was not produced");
        using var zip = ZipFile.OpenRead(package);
        foreach (var entry in zip.Entries.OrderBy(e => e.FullName, StringComparer.Ordinal))
            TestContext.Out.WriteLine($"{entry.Length,10}  {entry.FullName}");
        var names = zip.Entries.Select(e => e.FullName).ToList();
        Assert.That(names, Does.Contain("lib/net10.0/Mistral.Native.dll"));
        Assert.That(names, Does.Contain("lib/net10.0/Mistral.Native.xml"));
        // One native library per RID for every backend: the CUDA backend (host code, PTX, the SIMT emulator) is inside it.
        Assert.That(names.Where(n => n.StartsWith("runtimes/", StringComparison.Ordinal)).Order(StringComparer.Ordinal),
            Is.EqualTo(runtimes.Select(r => $"runtimes/{r.Key}/native/{r.Value.File}").Order(StringComparer.Ordinal)));
        foreach (var (rid, (file, header)) in runtimes)
        {
            var name = $"runtimes/{rid}/native/{file}";
            using var stream = zip.GetEntry(name)!.Open();
            var bytes = new byte[4096];
            stream.ReadAtLeast(bytes, bytes.Length, throwOnEndOfStream: false);
            Assert.That(NativeBinaryHeader.Describe(bytes, name), Is.EqualTo(header), $"{name} is built for {rid}");
        }
        Assert.That(names, Does.Contain("PackageReadme.md"));
        Assert.That(names.Where(n => n.Contains("cuda", StringComparison.OrdinalIgnoreCase)), Is.Empty, "no separate CUDA library or cuda12/ folder");
        using var nuspec = new StreamReader(zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal)).Open());
        var text = nuspec.ReadToEnd();
        Assert.That(text, Does.Contain("<license type=\"expression\">MIT</license>"));
        Assert.That(text, Does.Contain("<readme>PackageReadme.md</readme>"));
    }

    private static void WriteApp(string app, string feed, string version)
    {
        File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <!-- The local feed holds Mistral.Native; the user's default feed still serves its dependencies. -->
              <packageSources>
                <add key="local" value="{feed}" />
              </packageSources>
            </configuration>
            """);
        File.WriteAllText(Path.Combine(app, "Consumer.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
                <ImplicitUsings>enable</ImplicitUsings>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="Mistral.Native" Version="{version}" />
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(app, "Program.cs"), $$"""
            using Microsoft.Extensions.Logging;
            using Mistral;
            using Mistral.Gguf;

            var path = args[0];
            try
            {
                BackendInfo.Query(MistralBackend.Cpu);
            }
            catch (MistralNativeLibraryException ex)
            {
                Console.WriteLine("NATIVE_MISSING " + ex.Message);
                return 3;
            }
            SyntheticModel.Write(path, new SyntheticModelSpec
            {
                VocabSize = {{Spec.VocabSize}}, EmbeddingLength = {{Spec.EmbeddingLength}}, LayerCount = {{Spec.LayerCount}},
                HeadCount = {{Spec.HeadCount}}, KvHeadCount = {{Spec.KvHeadCount}}, FeedForwardLength = {{Spec.FeedForwardLength}},
                ContextLength = {{Spec.ContextLength}}, WeightType = GgmlType.{{Spec.WeightType}}, Seed = {{Spec.Seed}},
            });
            try
            {
                MistralModel.Load(path, new ModelOptions { Backend = MistralBackend.Cuda }).Dispose();
                Console.WriteLine("CUDA loaded");
            }
            catch (MistralDeviceException ex)
            {
                Console.WriteLine("CUDA MistralDeviceException " + ex.Message.Split('\n')[0]);
            }
            Console.WriteLine("CUDA_REASON " + BackendInfo.Query(MistralBackend.Cuda).UnavailableReason);
            using var model = MistralModel.Load(path, new ModelOptions { Threads = 1, Backend = MistralBackend.Auto, Logger = new LineLogger() });
            using var session = model.CreateSession();
            // Seeded, though greedy ignores it: an unseeded run draws its seed from RandomNumberGenerator, i.e. OpenSSL
            // on Linux, which the arm64 run under qemu does not have.
            var result = session.Complete("{{Prompt}}", GenerationOptions.Greedy({{MaxTokens}}) with { Seed = 1 });
            Console.WriteLine("BACKEND " + model.Backend);
            Console.WriteLine("LIB " + model.NativeLibraryPath);
            Console.WriteLine("IDS " + string.Join(",", result.Tokens));
            return 0;

            sealed class LineLogger : ILogger
            {
                public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
                public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;
                public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                    Console.WriteLine("LOG " + formatter(state, exception));
            }
            """);
    }

    private static string GlobalPackagesFolder() =>
        Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } custom
            ? custom
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
}
