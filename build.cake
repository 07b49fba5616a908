// The build as named steps: native → bindings → build → test → pack → bench.
// Run with: dotnet tool restore && dotnet cake --target=Test
// `dotnet build` alone also works: the library's MSBuild target runs CMake when native sources change.

var target = Argument("target", "Test");
var configuration = Argument("configuration", "Release");
var nativeDir = $"artifacts/native/{configuration.ToLowerInvariant()}";
var solution = "Mistral.Native.sln";
var cudaDir = "artifacts/native/cuda-release";
var cudaLibrary = $"{cudaDir}/libmistral_cuda.so";

Task("Native")
    .Description("Configure and build the native core with CMake, then run its ctest suite.")
    .Does(() =>
{
    var buildType = configuration == "Debug" ? "RelWithDebInfo" : "Release";
    Run("cmake", $"-S . -B {nativeDir} -DCMAKE_BUILD_TYPE={buildType} -DMISTRAL_CUDA=AUTO");
    Run("cmake", $"--build {nativeDir} --parallel");
    Run("ctest", $"--test-dir {nativeDir} --output-on-failure");
});

Task("Bindings")
    .Description("Regenerate bindings/generated/NativeMethods.g.cs from native/include/mistral.h (needs castxml).")
    .Does(() => Run("dotnet", "run --project bindings/Mistral.Bindings.Generator"));

Task("Build")
    .IsDependentOn("Native")
    .Does(() => DotNetBuild(solution, new DotNetBuildSettings { Configuration = configuration }));

Task("Test")
    .IsDependentOn("Build")
    .Does(() => DotNetTest(solution, new DotNetTestSettings { Configuration = configuration, NoBuild = true }));

Task("Pack")
    .Description("Mistral.Native (CPU core inside) and, where GpuCheck built the CUDA core, Mistral.Native.Runtime.Cuda.linux-x64.")
    .IsDependentOn("Build")
    .Does(() =>
{
    DotNetPack("src/Mistral/Mistral.csproj", new DotNetPackSettings
    {
        Configuration = configuration,
        NoBuild = true,
        OutputDirectory = "artifacts/packages",
    });
    if (FileExists(cudaLibrary))
        DotNetPack("src/Mistral.Runtime.Cuda/Mistral.Runtime.Cuda.csproj", new DotNetPackSettings { Configuration = configuration, OutputDirectory = "artifacts/packages" });
    else
        Information($"Skipping Mistral.Native.Runtime.Cuda.linux-x64: {cudaLibrary} was not built (run --target=GpuCheck on a machine with nvcc).");
    foreach (var package in GetFiles("artifacts/packages/*.nupkg"))
        Information($"{package.GetFilename()}  {new System.IO.FileInfo(package.FullPath).Length / 1024} KiB");
});

Task("GpuCheck")
    .Description("On a machine with nvcc: build the native core with CUDA (-DMISTRAL_CUDA=ON), run its ctest suite, keep the library for Pack.")
    .Does(() =>
{
    Run("cmake", $"-S . -B {cudaDir} -DCMAKE_BUILD_TYPE=Release -DMISTRAL_CUDA=ON");
    Run("cmake", $"--build {cudaDir} --parallel");
    Run("ctest", $"--test-dir {cudaDir} --output-on-failure");
    // The runtime package ships it under its own name, never the CPU package's runtimes/<rid>/native/libmistral.so.
    CopyFile($"{cudaDir}/libmistral.so", cudaLibrary);
    // The whole managed suite again, every P/Invoke served by the CUDA build (the loader's override variable).
    DotNetTest(solution, new DotNetTestSettings
    {
        Configuration = configuration,
        EnvironmentVariables = { ["MISTRAL_NATIVE_LIBRARY"] = MakeAbsolute(File(cudaLibrary)).FullPath },
    });
});

Task("NativeAllRids")
    .Description("Configure every planned RID from CMakePresets.json; builds those this host can (linux-x64 here; linux-arm64 needs aarch64-linux-gnu-gcc; win-x64 and osx-arm64 need their own runners).")
    .Does(() =>
{
    foreach (var preset in new[] { "linux-x64", "linux-arm64", "win-x64", "osx-arm64" })
    {
        var configured = StartProcess("cmake", new ProcessSettings { Arguments = $"--preset {preset}" }) == 0;
        if (configured && StartProcess("cmake", new ProcessSettings { Arguments = $"--build --preset {preset}" }) == 0)
            Information($"{preset}: built");
        else
            Warning($"{preset}: cannot be built on this host");
    }
});

Task("Bench")
    .Description("Kernel benchmarks (BenchmarkDotNet).")
    .IsDependentOn("Build")
    .Does(() => Run("dotnet", $"run -c {configuration} --project benchmarks/Mistral.Benchmarks -- --filter *"));

Task("PerfGate")
    .Description("Kernel perf gate: PerfGateBenchmarks vs benchmarks/perf-baseline.json (threshold 1.30x; see benchmarks/README.md).")
    .IsDependentOn("Build")
    .Does(() => Run("dotnet", "run -c Release --project benchmarks/Mistral.Benchmarks -- gate"));

void Run(string tool, string arguments)
{
    var exitCode = StartProcess(tool, new ProcessSettings { Arguments = arguments });
    if (exitCode != 0) throw new Exception($"{tool} {arguments} exited with {exitCode}");
}

RunTarget(target);
