using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace Mistral.Bindings.Generator;

/// <summary>
/// Generates the raw C# interop layer (bindings/generated/NativeMethods.g.cs) from the C header,
/// using castxml to parse it, so the C# mirror cannot drift from the ABI by hand-editing.
/// </summary>
public static partial class BindingsGenerator
{
    /// <summary>Where the header lives, relative to the repository root.</summary>
    public const string DefaultHeaderPath = "native/include/mistral.h";

    /// <summary>Where the generated file is committed, relative to the repository root.</summary>
    public const string DefaultOutputPath = "bindings/generated/NativeMethods.g.cs";

    /// <summary>The command that regenerates the committed file.</summary>
    public const string RegenerateCommand = "dotnet run --project bindings/Mistral.Bindings.Generator";

    /// <summary>What to tell a user who lacks castxml.</summary>
    public const string CastxmlMissingMessage =
        "castxml was not found on PATH (or in the CASTXML environment variable). Install it, e.g. `apt-get install castxml`.";

    /// <summary>The generated file's encoding: UTF-8 without a byte-order mark.</summary>
    public static readonly Encoding OutputEncoding = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false);

    /// <summary>Parses <paramref name="headerPath"/> with castxml and returns the C# source of the bindings.</summary>
    /// <exception cref="NotSupportedException">The header uses a C construct with no exact C# mirror; the message names it.</exception>
    /// <exception cref="InvalidOperationException">castxml is missing or failed, or the header breaks a convention (e.g. no free function).</exception>
    public static string Generate(string headerPath, string? castxmlPath = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(headerPath);
        var fullHeaderPath = Path.GetFullPath(headerPath);
        if (!File.Exists(fullHeaderPath))
        {
            throw new FileNotFoundException($"Header not found: {fullHeaderPath}", fullHeaderPath);
        }

        castxmlPath ??= FindCastxml() ?? throw new InvalidOperationException(CastxmlMissingMessage);

        // castxml does not report macros, so the ABI version is read from the text itself.
        var abiVersion = ReadAbiVersion(File.ReadAllText(fullHeaderPath));
        var model = CastXmlReader.Read(RunCastxml(castxmlPath, fullHeaderPath), fullHeaderPath);
        return CSharpEmitter.Emit(model, abiVersion, DescribeHeader(fullHeaderPath));
    }

    /// <summary>The castxml executable: $CASTXML if set, else the first castxml on PATH; null when there is none.</summary>
    public static string? FindCastxml()
    {
        var fromEnvironment = Environment.GetEnvironmentVariable("CASTXML");
        if (!string.IsNullOrEmpty(fromEnvironment) && File.Exists(fromEnvironment))
        {
            return Path.GetFullPath(fromEnvironment);
        }

        var executable = OperatingSystem.IsWindows() ? "castxml.exe" : "castxml";
        var path = Environment.GetEnvironmentVariable("PATH") ?? "";
        foreach (var directory in path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(directory.Trim('"'), executable);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    /// <summary>
    /// The repository root above <paramref name="startDirectory"/>: the first folder holding
    /// Mistral.Native.sln or native/include/mistral.h; null when there is none.
    /// </summary>
    public static string? FindRepositoryRoot(string startDirectory)
    {
        for (var directory = new DirectoryInfo(Path.GetFullPath(startDirectory)); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Mistral.Native.sln"))
                || File.Exists(Path.Combine(directory.FullName, DefaultHeaderPath)))
            {
                return directory.FullName;
            }
        }

        return null;
    }

    private static uint ReadAbiVersion(string headerText)
    {
        var match = AbiVersionDefine().Match(headerText);
        return match.Success
            ? uint.Parse(match.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture)
            : throw new InvalidOperationException("The header has no `#define MST_ABI_VERSION <number>`.");
    }

    // The header's name as written in the generated file: repository-relative when the header is in
    // the repository, so the output does not change with where the repository is checked out.
    private static string DescribeHeader(string fullHeaderPath)
    {
        var root = FindRepositoryRoot(Path.GetDirectoryName(fullHeaderPath)!);
        return root is null
            ? Path.GetFileName(fullHeaderPath)
            : Path.GetRelativePath(root, fullHeaderPath).Replace('\\', '/');
    }

    private static XDocument RunCastxml(string castxmlPath, string fullHeaderPath)
    {
        var xmlPath = Path.Combine(Path.GetTempPath(), $"mistral-bindings-{Guid.NewGuid():N}.xml");
        try
        {
            var startInfo = new ProcessStartInfo(castxmlPath)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            // Parse as C (the header is plain C), so C++ rules never change what is seen.
            foreach (var argument in new[] { "--castxml-output=1", "-x", "c", "-std=c11", "-o", xmlPath, fullHeaderPath })
            {
                startInfo.ArgumentList.Add(argument);
            }

            using var process = Process.Start(startInfo)
                ?? throw new InvalidOperationException($"Could not start {castxmlPath}.");
            // Both streams are drained concurrently so a chatty castxml cannot block on a full pipe.
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            process.WaitForExit();
            if (process.ExitCode != 0 || !File.Exists(xmlPath))
            {
                throw new InvalidOperationException(
                    $"castxml failed on {fullHeaderPath} (exit code {process.ExitCode}):\n{stderr.Result}{stdout.Result}");
            }

            return XDocument.Load(xmlPath);
        }
        finally
        {
            File.Delete(xmlPath);
        }
    }

    [GeneratedRegex(@"^[ \t]*#[ \t]*define[ \t]+MST_ABI_VERSION[ \t]+([0-9]+)[uU]?[ \t]*(?:/[*/].*)?$", RegexOptions.Multiline | RegexOptions.CultureInvariant)]
    private static partial Regex AbiVersionDefine();
}
