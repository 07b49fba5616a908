using System.Reflection;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Mistral.Backends;

namespace Mistral.Interop;

/// <summary>
/// Finds, loads and version-checks the native core. Order: the MISTRAL_NATIVE_LIBRARY environment
/// variable (a file path), then runtimes/&lt;rid&gt;/native/ next to this assembly and next to the app,
/// then the assembly's own folder, then the operating system's default search. Every path tried is
/// kept so a failure can say exactly where we looked. The CUDA build is a different file
/// (runtimes/&lt;rid&gt;/native/cuda12/libmistral_cuda.so, from the Mistral.Native.Runtime.Cuda package) with
/// the same ABI: whichever is loaded first serves every P/Invoke of the process.
/// </summary>
internal static class NativeLibraryLoader
{
    internal const string OverrideVariable = "MISTRAL_NATIVE_LIBRARY";

    private static readonly object Gate = new();
    private static nint _handle;
    private static string? _loadedFrom;
    private static MistralNativeLibraryException? _failure;
    private static MistralBackend _loadedBackend;

    /// <summary>The subfolder of runtimes/&lt;rid&gt;/native/ that the CUDA runtime package ships its library in.</summary>
    internal const string CudaSubfolder = "cuda12";

    /// <summary>Where the library was loaded from, once it is.</summary>
    internal static string? LoadedFrom => _loadedFrom;

    /// <summary>The backend of the loaded library (Cpu or Cuda), once it is loaded.</summary>
    internal static MistralBackend LoadedBackend => _loadedBackend;

    /// <summary>Called once, from NativeMethods' static constructor, before the first P/Invoke binds.</summary>
    internal static void RegisterResolver() =>
        NativeLibrary.SetDllImportResolver(typeof(NativeLibraryLoader).Assembly, Resolve);

    private static nint Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (libraryName != NativeMethods.LibraryName) return 0;
        // The P/Invoke layer must not get a library whose ABI we have not checked; EnsureLoaded throws
        // the explanatory exception instead of a bare DllNotFoundException.
        EnsureLoaded();
        return _handle;
    }

    /// <summary>Loads and checks the library once; throws the same explanation on every later call if it failed.</summary>
    internal static void EnsureLoaded() => EnsureLoaded(MistralBackend.Auto, null);

    /// <summary>
    /// Chooses the backend (first call only: the process keeps it), loads and checks its library, and returns
    /// the backend in use. A request the loaded library cannot serve is an exception, not a silent fallback.
    /// </summary>
    internal static MistralBackend EnsureLoaded(MistralBackend requested, ILogger? logger)
    {
        if (_handle == 0)
        {
            lock (Gate)
            {
                if (_handle == 0) LoadFirst(requested, logger);
            }
        }
        if (requested != MistralBackend.Auto && requested != _loadedBackend)
        {
            throw new MistralNativeLibraryException(
                $"Backend {requested} was requested, but this process already runs the {_loadedBackend} backend from {_loadedFrom}: " +
                "the first model loaded chooses the native library for the whole process. Load every model with the same ModelOptions.Backend.");
        }
        return _loadedBackend;
    }

    private static void LoadFirst(MistralBackend requested, ILogger? logger)
    {
        if (_failure is not null) throw _failure;
        var overridePath = Environment.GetEnvironmentVariable(OverrideVariable);
        if (!string.IsNullOrWhiteSpace(overridePath))
        {
            logger?.LogInformation("Native library: {Path} from {Variable}; backend selection skipped", overridePath, OverrideVariable);
            LoadCpu(requested == MistralBackend.Cuda ? MistralBackend.Cuda : MistralBackend.Cpu);
            return;
        }
        if (requested != MistralBackend.Cpu)
        {
            var cudaLibrary = FindCudaLibrary(out var lookedFor);
            var devices = CudaDriver.CountDevices(out var driverDetail);
            if (cudaLibrary is not null && devices > 0)
            {
                if (!NativeLibrary.TryLoad(cudaLibrary, out var cudaHandle))
                    throw new MistralNativeLibraryException($"{cudaLibrary} was found but could not be loaded: {DescribeLoadFailure(cudaLibrary)}. Check the CUDA runtime libraries it depends on (ldd).");
                CheckAbi(cudaHandle, cudaLibrary);
                logger?.LogInformation("Backend: CUDA ({Library}; {Detail})", cudaLibrary, driverDetail);
                Publish(cudaHandle, cudaLibrary, MistralBackend.Cuda);
                return;
            }
            var why = WhyNoCuda(cudaLibrary, lookedFor, driverDetail);
            // Not cached in _failure: a later Auto or Cpu load in the same process may still succeed.
            if (requested == MistralBackend.Cuda) throw new MistralNativeLibraryException(CudaUnavailableMessage(why));
            logger?.LogInformation("Backend: CPU, because {Reason}", why);
        }
        else
        {
            logger?.LogInformation("Backend: CPU (requested)");
        }
        LoadCpu(MistralBackend.Cpu);
    }

    private static void LoadCpu(MistralBackend reportAs)
    {
        try
        {
            LoadAndCheck(reportAs);
        }
        catch (MistralNativeLibraryException ex)
        {
            _failure = ex;
            throw;
        }
    }

    private static void Publish(nint handle, string from, MistralBackend backend)
    {
        _loadedFrom = from;
        _loadedBackend = backend;
        Volatile.Write(ref _handle, handle); // last: a reader that sees the handle sees the rest
    }

    /// <summary>Why the CUDA backend cannot run here and what to install, or null when it can.</summary>
    internal static string? ExplainCudaUnavailable()
    {
        var cudaLibrary = FindCudaLibrary(out var lookedFor);
        var devices = CudaDriver.CountDevices(out var driverDetail);
        return cudaLibrary is not null && devices > 0 ? null : CudaUnavailableMessage(WhyNoCuda(cudaLibrary, lookedFor, driverDetail));
    }

    private static string WhyNoCuda(string? cudaLibrary, List<string> lookedFor, string driverDetail) => cudaLibrary is null
        ? $"no CUDA build of the native library was found (looked for: {string.Join(", ", lookedFor)}); {driverDetail}"
        : $"{cudaLibrary} is present but {driverDetail}";

    private static string CudaUnavailableMessage(string why) =>
        $"The CUDA backend was requested but cannot run: {why}.\n" +
        $"It needs (1) the {CudaPackageId()} package, which ships runtimes/{PortableRid()}/native/{CudaSubfolder}/{CudaFileName()}, " +
        $"and (2) an NVIDIA GPU with its driver ({CudaDriver.LibraryName}; the CUDA toolkit is not needed). " +
        "Use ModelOptions.Backend = Auto or Cpu to run on the CPU instead.";

    /// <summary>The first CUDA build found in the places the CPU build is looked for, under cuda12/.</summary>
    private static string? FindCudaLibrary(out List<string> lookedFor)
    {
        lookedFor = [];
        foreach (var folder in SearchFolders())
        {
            foreach (var rid in RuntimeIds())
            {
                var path = Path.Combine(folder, "runtimes", rid, "native", CudaSubfolder, CudaFileName());
                if (File.Exists(path)) return path;
                lookedFor.Add(path);
            }
        }
        return null;
    }

    internal static string CudaFileName() =>
        OperatingSystem.IsWindows() ? "mistral_cuda.dll" : "libmistral_cuda.so";

    internal static string CudaPackageId() => "Mistral.Native.Runtime.Cuda." + PortableRid();

    private static string PortableRid() => RuntimeIds().First();

    private static void LoadAndCheck(MistralBackend reportAs)
    {
        var tried = new List<string>();
        nint handle = 0;
        string? from = null;
        foreach (var candidate in CandidatePaths())
        {
            if (!File.Exists(candidate))
            {
                tried.Add($"{candidate} (not found)");
                continue;
            }
            if (NativeLibrary.TryLoad(candidate, out handle))
            {
                from = candidate;
                break;
            }
            tried.Add($"{candidate} (found but could not be loaded: {DescribeLoadFailure(candidate)})");
        }
        if (handle == 0)
        {
            var platformName = PlatformFileName();
            if (NativeLibrary.TryLoad(platformName, typeof(NativeLibraryLoader).Assembly, DllImportSearchPath.SafeDirectories, out handle))
                from = platformName + " (system search path)";
            else
                tried.Add($"{platformName} (not on the system search path)");
        }
        if (handle == 0)
        {
            throw new MistralNativeLibraryException(
                $"The Mistral.Native core library ({PlatformFileName()}) for {RuntimeInformation.RuntimeIdentifier} could not be loaded. Tried:\n  " +
                string.Join("\n  ", tried) +
                "\nInstall the Mistral.Native package for this platform (it ships runtimes/<rid>/native/), build it from source " +
                "(`dotnet build` runs CMake), or set " + OverrideVariable + " to the library's full path.");
        }
        CheckAbi(handle, from!);
        Publish(handle, from!, reportAs);
    }

    private static unsafe void CheckAbi(nint handle, string from)
    {
        if (!NativeLibrary.TryGetExport(handle, "mst_abi_version", out var export))
        {
            throw new MistralNativeLibraryException(
                $"{from} is not a Mistral.Native core library: it has no mst_abi_version export.");
        }
        var version = ((delegate* unmanaged[Cdecl]<uint>)export)();
        if (version != MistralAbi.Version)
        {
            throw new MistralNativeLibraryException(
                $"{from} has ABI version {version}, but this Mistral.Native assembly needs ABI version {MistralAbi.Version}. " +
                "The native library and the managed assembly come from different builds: reinstall the package, or rebuild both.");
        }
    }

    private static IEnumerable<string> CandidatePaths()
    {
        var fromEnvironment = Environment.GetEnvironmentVariable(OverrideVariable);
        if (!string.IsNullOrWhiteSpace(fromEnvironment)) yield return fromEnvironment;

        var fileName = PlatformFileName();
        var folders = SearchFolders();
        foreach (var folder in folders)
            foreach (var rid in RuntimeIds())
                yield return Path.Combine(folder, "runtimes", rid, "native", fileName);
        foreach (var folder in folders)
            yield return Path.Combine(folder, fileName);
    }

    /// <summary>The assembly's folder, then the app's (they differ when the app is not where the library is).</summary>
    private static List<string> SearchFolders()
    {
        var folders = new List<string>();
#pragma warning disable IL3000 // empty in a single-file app; AppContext.BaseDirectory below covers that case
        var assemblyDir = Path.GetDirectoryName(typeof(NativeLibraryLoader).Assembly.Location);
#pragma warning restore IL3000
        if (!string.IsNullOrEmpty(assemblyDir)) folders.Add(assemblyDir);
        if (!folders.Contains(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)))
            folders.Add(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        return folders;
    }

    private static IEnumerable<string> RuntimeIds()
    {
        var arch = RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant();
        var os = OperatingSystem.IsWindows() ? "win" : OperatingSystem.IsMacOS() ? "osx" : "linux";
        var portable = $"{os}-{arch}";
        var exact = RuntimeInformation.RuntimeIdentifier;
        yield return portable;
        if (exact != portable) yield return exact;
    }

    private static string PlatformFileName() =>
        OperatingSystem.IsWindows() ? "mistral.dll" : OperatingSystem.IsMacOS() ? "libmistral.dylib" : "libmistral.so";

    private static string DescribeLoadFailure(string path)
    {
        try
        {
            NativeLibrary.Free(NativeLibrary.Load(path));
            return "unknown reason";
        }
        catch (Exception ex) when (ex is DllNotFoundException or BadImageFormatException)
        {
            return ex.Message;
        }
    }
}
