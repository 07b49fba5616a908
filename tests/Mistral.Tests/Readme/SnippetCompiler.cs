using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Mistral.Tests.Readme;

/// <summary>The outcome of compiling a snippet: the assembly, or what is wrong with it in the Markdown file's lines.</summary>
/// <param name="Image">The compiled program; null when <see cref="Problems"/> is not empty.</param>
/// <param name="Problems">Errors and warnings, each "README.md:LINE:COLUMN: error CSxxxx: message".</param>
internal sealed record SnippetBuild(byte[]? Image, IReadOnlyList<string> Problems);

/// <summary>
/// Compiles a snippet as the whole Program.cs of a console app (top-level statements), as a reader who pastes it into
/// <c>dotnet new console</c> and adds the Mistral.Native package gets it: the SDK's implicit usings, nullable on, the
/// references of such an app. Warnings count as problems too: a reader would see them.
/// </summary>
internal static class SnippetCompiler
{
    // The global usings `dotnet new console` gives a project (ImplicitUsings enabled), which a snippet may rely on.
    private const string ImplicitUsings = """
        global using System;
        global using System.Collections.Generic;
        global using System.IO;
        global using System.Linq;
        global using System.Net.Http;
        global using System.Threading;
        global using System.Threading.Tasks;
        """;

    private static readonly Lazy<ImmutableArray<MetadataReference>> References = new(FindReferences);

    public static SnippetBuild Compile(Snippet snippet) => Compile(snippet, snippet.Code);

    /// <summary>Compiles <paramref name="code"/> (the snippet's text, or a variant with as many lines) and reports by the snippet's lines.</summary>
    public static SnippetBuild Compile(Snippet snippet, string code)
    {
        var parse = new CSharpParseOptions(LanguageVersion.Latest);
        var program = CSharpSyntaxTree.ParseText(code, parse, path: snippet.Source);
        var usings = CSharpSyntaxTree.ParseText(ImplicitUsings, parse, path: "(implicit usings)");
        var options = new CSharpCompilationOptions(OutputKind.ConsoleApplication, nullableContextOptions: NullableContextOptions.Enable)
            // The SDK silences these two by default: assembly version unification, which the runtime handles.
            .WithSpecificDiagnosticOptions([new("CS1701", ReportDiagnostic.Suppress), new("CS1702", ReportDiagnostic.Suppress)]);
        var compilation = CSharpCompilation.Create("ReadmeSnippet_" + Guid.NewGuid().ToString("N"), [usings, program], References.Value, options);

        using var image = new MemoryStream();
        var emitted = compilation.Emit(image);
        var problems = emitted.Diagnostics
            .Where(d => d.Severity >= DiagnosticSeverity.Warning)
            .OrderBy(d => d.Location.SourceSpan.Start)
            .Select(d => Describe(d, snippet, program))
            .ToList();
        return new SnippetBuild(emitted.Success && problems.Count == 0 ? image.ToArray() : null, problems);
    }

    private static string Describe(Diagnostic diagnostic, Snippet snippet, SyntaxTree program)
    {
        var severity = diagnostic.Severity == DiagnosticSeverity.Error ? "error" : "warning";
        var text = $"{severity} {diagnostic.Id}: {diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture)}";
        if (diagnostic.Location.SourceTree != program) return $"{snippet.Source} (snippet at line {snippet.FirstLine}): {text}";
        var start = diagnostic.Location.GetLineSpan().StartLinePosition;
        return $"{snippet.Source}:{snippet.FirstLine + start.Line}:{start.Character + 1}: {text}";
    }

    /// <summary>
    /// What a console app with the package has: the .NET runtime's assemblies, Mistral.Native and the assemblies
    /// it depends on (plus Microsoft.Extensions.DependencyInjection, the package a DI
    /// snippet names, and Microsoft.Extensions.AI.OpenAI with OpenAI, which the server section's client uses). All are in this test run's trusted platform assemblies; nothing else of the tests' is offered.
    /// </summary>
    private static ImmutableArray<MetadataReference> FindReferences()
    {
        var runtimeDir = Path.GetDirectoryName(typeof(object).Assembly.Location)!;
        var trusted = ((string?)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries);
        var chosen = trusted.Where(path =>
        {
            var name = Path.GetFileName(path);
            return Path.GetDirectoryName(path) == runtimeDir
                || name == "Mistral.Native.dll"
                || name.StartsWith("Microsoft.Extensions.", StringComparison.Ordinal)
                // Mistral.Native's own dependencies, which a consumer of the package gets with it.
                || name.StartsWith("Microsoft.ML.", StringComparison.Ordinal)
                || name == "Google.Protobuf.dll"
                // The OpenAI client the server section's snippet uses (package Microsoft.Extensions.AI.OpenAI).
                || name is "OpenAI.dll" or "System.ClientModel.dll";
        }).ToList();
        if (!chosen.Any(p => Path.GetFileName(p) == "Mistral.Native.dll"))
            throw new InvalidOperationException("Mistral.Native.dll is not among the trusted platform assemblies of this test run.");
        return [.. chosen.Select(p => (MetadataReference)MetadataReference.CreateFromFile(p))];
    }
}
