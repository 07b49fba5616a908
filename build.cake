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
    .IsDependentOn("Build")
    .Does(() => DotNetPack("src/Mistral/Mistral.csproj", new DotNetPackSettings
    {
        Configuration = configuration,
        NoBuild = true,
        OutputDirectory = "artifacts/packages",
    }));

Task("Bench")
    .Description("Kernel benchmarks (BenchmarkDotNet).")
    .IsDependentOn("Build")
    .Does(() => Run("dotnet", $"run -c {configuration} --project benchmarks/Mistral.Benchmarks -- --filter *"));

void Run(string tool, string arguments)
{
    var exitCode = StartProcess(tool, new ProcessSettings { Arguments = arguments });
    if (exitCode != 0) throw new Exception($"{tool} {arguments} exited with {exitCode}");
}

RunTarget(target);
