using System.Reflection;
using System.Runtime.InteropServices;

namespace Mistral.Interop;

/// <summary>
/// Finds, loads and version-checks the native core. Order: the MISTRAL_NATIVE_LIBRARY environment
/// variable (a file path), then runtimes/&lt;rid&gt;/native/ next to this assembly and next to the app,
/// then the assembly's own folder, then the operating system's default search. Every path tried is
/// kept so a failure can say exactly where we looked, for which RID, and what to do (Missing). There is one
/// library per RID for every backend: the CUDA
/// backend is inside it (host code, PTX kernels, the SIMT emulator) and opens the NVIDIA driver itself
/// when a model asks for it, so loading the library never needs a GPU (see BackendSelection).
/// </summary>
internal static class NativeLibraryLoader
{
    internal const string OverrideVariable = "MISTRAL_NATIVE_LIBRARY";

    private static readonly object Gate = new();
    private static nint _handle;
    private static string? _loadedFrom;
    private static MistralNativeLibraryException? _failure;

    /// <summary>Where the library was loaded from, once it is.</summary>
    internal static string? LoadedFrom => _loadedFrom;

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
    internal static void EnsureLoaded()
    {
        if (Volatile.Read(ref _handle) != 0) return;
        lock (Gate)
        {
            if (_handle != 0) return;
            if (_failure is not null) throw _failure;
            try
            {
                LoadAndCheck();
            }
            catch (MistralNativeLibraryException ex)
            {
                _failure = ex;
                throw;
            }
        }
    }

    private static void Publish(nint handle, string from)
    {
        _loadedFrom = from;
        Volatile.Write(ref _handle, handle); // last: a reader that sees the handle sees the rest
    }

    private static void LoadAndCheck()
    {
        var (handle, from, tried) = Probe(
            Environment.GetEnvironmentVariable(OverrideVariable), SearchFolders(), RuntimeIds().ToList(), PlatformFileName(), trySystemSearch: true);
        if (handle == 0) throw Missing(PortableRuntimeId(), PlatformFileName(), tried);
        CheckAbi(handle, from!);
        Publish(handle, from!);
    }

    /// <summary>
    /// Tries the override path, then runtimes/&lt;rid&gt;/native/ under each folder, then each folder itself, then
    /// (if asked) the system search path; returns the first handle that loads and, for the error, every path tried
    /// with why it was not used. Takes its inputs so a test can point it at a folder with no library.
    /// </summary>
    internal static (nint Handle, string? From, List<string> Tried) Probe(
        string? overridePath, IReadOnlyList<string> folders, IReadOnlyList<string> runtimeIds, string fileName, bool trySystemSearch)
    {
        var tried = new List<string>();
        foreach (var candidate in CandidatePaths(overridePath, folders, runtimeIds, fileName))
        {
            if (!File.Exists(candidate))
            {
                tried.Add($"{candidate} (not found)");
                continue;
            }
            if (NativeLibrary.TryLoad(candidate, out var handle))
                return (handle, candidate, tried);
            tried.Add($"{candidate} (found but could not be loaded: {DescribeLoadFailure(candidate)})");
        }
        if (trySystemSearch)
        {
            if (NativeLibrary.TryLoad(fileName, typeof(NativeLibraryLoader).Assembly, DllImportSearchPath.SafeDirectories, out var handle))
                return (handle, fileName + " (system search path)", tried);
            tried.Add($"{fileName} (not on the system search path)");
        }
        return (0, null, tried);
    }

    /// <summary>The RIDs whose library the Mistral.Native package carries (native/Native.targets packs them).</summary>
    internal static readonly string[] PackagedRuntimeIds = ["linux-x64", "linux-arm64", "win-x64"];

    /// <summary>
    /// The failure when no library loaded: the RID, every path looked in, and what to do, which depends on whether
    /// the package carries this RID (then the app's output lost it) or not (then it must be built from source).
    /// </summary>
    internal static MistralNativeLibraryException Missing(string rid, string fileName, IReadOnlyList<string> tried)
    {
        var advice = PackagedRuntimeIds.Contains(rid)
            ? $"The Mistral.Native package carries it; it belongs in the app's output, under runtimes/{rid}/native/ " +
              $"(beside Mistral.Native.dll after a publish with -r {rid}): build or publish the app again with its " +
              "PackageReference to Mistral.Native and deploy the whole output folder, or set " + OverrideVariable +
              " to the library's full path."
            : $"The Mistral.Native package carries native libraries for {string.Join(", ", PackagedRuntimeIds)} only. " +
              $"On {rid}, build the native core from source with CMake (see the repository's README) and set " +
              OverrideVariable + $" to the full path of the {fileName} it builds.";
        return new MistralNativeLibraryException(
            $"Mistral.Native has no native library for {rid} that this process could load ({fileName}). Looked in:\n  " +
            string.Join("\n  ", tried) + "\n" + advice);
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

    private static IEnumerable<string> CandidatePaths(string? overridePath, IReadOnlyList<string> folders, IReadOnlyList<string> runtimeIds, string fileName)
    {
        if (!string.IsNullOrWhiteSpace(overridePath)) yield return overridePath;
        foreach (var folder in folders)
            foreach (var rid in runtimeIds)
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

    /// <summary>The portable RID (os-arch, the folder names NuGet packages use), then the exact one if it differs.</summary>
    private static IEnumerable<string> RuntimeIds()
    {
        var portable = PortableRuntimeId();
        var exact = RuntimeInformation.RuntimeIdentifier;
        yield return portable;
        if (exact != portable) yield return exact;
    }

    private static string PortableRuntimeId()
    {
        var arch = RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant();
        var os = OperatingSystem.IsWindows() ? "win" : OperatingSystem.IsMacOS() ? "osx" : "linux";
        return $"{os}-{arch}";
    }

    internal static string PlatformFileName() =>
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
