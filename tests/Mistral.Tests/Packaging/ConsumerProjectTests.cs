using System.IO.Compression;
using Mistral.Gguf;
using Mistral.Tests.Support;

namespace Mistral.Tests.Packaging;

/// <summary>
/// Packs Mistral.Native, then builds and runs a fresh console app that gets it only from a local folder
/// feed: proof that the package alone, with its one native library runtimes/linux-x64/native/libmistral.so
/// (both backends inside), is enough to generate. The app runs in its own process, outside the repository,
/// with no MISTRAL_NATIVE_LIBRARY override and no MISTRAL_CUDA_EMULATE. On a machine without an NVIDIA GPU
/// (this one) Backend = Auto must run on the CPU and log why CUDA was not used, in the native core's words.
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
        var feed = Directory.CreateDirectory(Path.Combine(temp.Path, "feed")).FullName;
        var app = Directory.CreateDirectory(Path.Combine(temp.Path, "app")).FullName;
        // A version no earlier run used, so the global packages folder cannot hand back a stale copy.
        var version = "0.0.0-consumer." + Guid.NewGuid().ToString("N")[..12];
        var cached = Path.Combine(GlobalPackagesFolder(), "mistral.native", version);
        try
        {
            // --no-build: pack exactly what this test run was built from (the solution build made it).
            ProcessRunner.Run("dotnet",
                $"pack \"{Path.Combine(RepoPaths.Root, "src", "Mistral", "Mistral.csproj")}\" --no-build -c {Configuration} -o \"{feed}\" -p:PackageVersion={version} -p:MistralSkipNative=true",
                RepoPaths.Root, StepLimit);
            var package = Path.Combine(feed, $"Mistral.Native.{version}.nupkg");
            CheckPackage(package);

            WriteApp(app, feed, version);
            ProcessRunner.Run("dotnet", "build -c Release -nodeReuse:false --disable-build-servers", app, StepLimit);
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
        }
        finally
        {
            try { if (Directory.Exists(cached)) Directory.Delete(cached, recursive: true); }
            catch (IOException) { /* only tidiness: a leftover version does no harm */ }
        }
    }

    /// <summary>Checks every asset is where NuGet and our resolver expect it, and prints the list with sizes.</summary>
    private static void CheckPackage(string package)
    {
        Assert.That(File.Exists(package), Is.True, $"{package} was not produced");
        using var zip = ZipFile.OpenRead(package);
        foreach (var entry in zip.Entries.OrderBy(e => e.FullName, StringComparer.Ordinal))
            TestContext.Out.WriteLine($"{entry.Length,10}  {entry.FullName}");
        var names = zip.Entries.Select(e => e.FullName).ToList();
        Assert.That(names, Does.Contain("lib/net10.0/Mistral.Native.dll"));
        Assert.That(names, Does.Contain("lib/net10.0/Mistral.Native.xml"));
        // One native library for every backend: the CUDA backend (host code, PTX, the SIMT emulator) is inside it.
        Assert.That(names.Where(n => n.StartsWith("runtimes/", StringComparison.Ordinal)), Is.EqualTo(new[] { "runtimes/linux-x64/native/libmistral.so" }));
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
            var result = session.Complete("{{Prompt}}", GenerationOptions.Greedy({{MaxTokens}}));
            Console.WriteLine("BACKEND " + model.Backend);
            Console.WriteLine("LIB " + model.NativeLibraryPath);
            Console.WriteLine("IDS " + string.Join(",", result.Tokens));

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
