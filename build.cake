// The build as named steps: native → bindings → build → test → pack → bench.
// Run with: dotnet tool restore && dotnet cake --target=Test
// `dotnet build` alone also works: the library's MSBuild target runs CMake when native sources change.

var target = Argument("target", "Test");
var configuration = Argument("configuration", "Release");
var nativeDir = $"artifacts/native/{configuration.ToLowerInvariant()}";
var solution = "Mistral.Native.sln";

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
    .Description("Mistral.Native for this host only: the managed assembly and the building host's native library (on linux-x64, CPU and CUDA backends inside). PackAllRids makes the release package.")
    .IsDependentOn("Build")
    .Does(() =>
{
    DotNetPack("src/Mistral/Mistral.csproj", new DotNetPackSettings
    {
        Configuration = configuration,
        NoBuild = true,
        OutputDirectory = "artifacts/packages",
    });
    foreach (var package in GetFiles("artifacts/packages/*.nupkg"))
        Information($"{package.GetFilename()}  {new System.IO.FileInfo(package.FullPath).Length / 1024} KiB");
});

Task("PackAllRids")
    .Description("The release package: Mistral.Native with the linux-x64, linux-arm64 and win-x64 native libraries. Cross-builds the two others " +
                 "(needs gcc-aarch64-linux-gnu and gcc-mingw-w64-x86-64, as .ci/run installs) and fails, naming the RID, if any library is missing.")
    .IsDependentOn("Build")
    .Does(() =>
{
    // native/Native.targets does the work (the same as `dotnet pack src/Mistral -c Release -p:MistralAllRids=true`):
    // it builds the cross libraries in the trees scripts/cross-test-*.sh use, then refuses a package without all three.
    DotNetPack("src/Mistral/Mistral.csproj", new DotNetPackSettings
    {
        Configuration = configuration,
        NoBuild = true,
        OutputDirectory = "artifacts/packages",
        MSBuildSettings = new DotNetMSBuildSettings().WithProperty("MistralAllRids", "true"),
    });
    foreach (var package in GetFiles("artifacts/packages/*.nupkg"))
        Information($"{package.GetFilename()}  {new System.IO.FileInfo(package.FullPath).Length / 1024} KiB");
});

Task("GpuCheck")
    .Description("On a machine with an NVIDIA GPU and its driver (no CUDA toolkit needed): the CUDA backend on the real device, native and managed.")
    .Does(() =>
{
    // MISTRAL_CUDA=ON: the PTX must be built in (a PTX compiler, clang++ >= 18, is required), or the GPU path is untested.
    var gpuDir = $"artifacts/native/gpu-{configuration.ToLowerInvariant()}";
    Run("cmake", $"-S . -B {gpuDir} -DCMAKE_BUILD_TYPE=Release -DMISTRAL_CUDA=ON");
    Run("cmake", $"--build {gpuDir} --parallel");
    Run("ctest", $"--test-dir {gpuDir} --output-on-failure");
    // The managed suite with its CUDA fixtures on the device instead of the SIMT emulator.
    DotNetTest(solution, new DotNetTestSettings
    {
        Configuration = configuration,
        EnvironmentVariables =
        {
            ["MISTRAL_NATIVE_LIBRARY"] = MakeAbsolute(File($"{gpuDir}/libmistral.so")).FullPath,
            ["MISTRAL_TEST_CUDA_DEVICE"] = "1",
        },
    });
});

Task("GpuBench")
    .Description("scripts/gpu-check.sh (no .NET needed; a GPU machine without .NET runs the script itself): build, the gpu_* tests, the " +
                 "7B/MoE benchmark against the bandwidth and tensor limits (docs/CUDA-PERFORMANCE.md), compute-sanitizer; " +
                 "writes artifacts/gpu-check. --emulate=true rehearses it on the SIMT emulator (no GPU; no figure is a GPU's).")
    .Does(() => Run("bash", Argument("emulate", false) ? "scripts/gpu-check.sh --emulate artifacts/gpu-check" : "scripts/gpu-check.sh artifacts/gpu-check"));

Task("NativeAllRids")
    .Description("Configure and build every RID's preset from CMakePresets.json that this host can: on Linux x64 that is linux-x64, linux-arm64 " +
                 "(gcc-aarch64-linux-gnu) and win-x64-mingw (mingw-w64); win-x64 (MSVC) and osx-arm64 need their own runners.")
    .Does(() =>
{
    foreach (var preset in new[] { "linux-x64", "linux-arm64", "win-x64-mingw", "win-x64", "osx-arm64" })
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
    .Description("Kernel perf gate: PerfGateBenchmarks vs this CPU's baseline in benchmarks/perf-baselines/, calibrated in the same run (threshold 1.30x; see benchmarks/README.md).")
    .IsDependentOn("Build")
    .Does(() => Run("dotnet", "run -c Release --project benchmarks/Mistral.Benchmarks -- gate"));

void Run(string tool, string arguments)
{
    var exitCode = StartProcess(tool, new ProcessSettings { Arguments = arguments });
    if (exitCode != 0) throw new Exception($"{tool} {arguments} exited with {exitCode}");
}

RunTarget(target);
