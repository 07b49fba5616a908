using System.Reflection;
using System.Runtime.InteropServices;

namespace Mistral.Interop;

/// <summary>
/// Finds, loads and version-checks the native core. Order: the MISTRAL_NATIVE_LIBRARY environment
/// variable (a file path), then runtimes/&lt;rid&gt;/native/ next to this assembly and next to the app,
/// then the assembly's own folder, then the operating system's default search. Every path tried is
/// kept so a failure can say exactly where we looked. There is one library for every backend: the CUDA
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
        Publish(handle, from!);
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
