using System.Text.RegularExpressions;

namespace Mistral.Tests.Readme;

/// <summary>What the snippet test does with a C# block.</summary>
public enum SnippetMode
{
    /// <summary>Compiled, then run against a small model (the default for a ```csharp block).</summary>
    Run,

    /// <summary>Compiled only: the block's fence says <c>```csharp compile-only</c>.</summary>
    CompileOnly,
}

/// <summary>One fenced C# block of a Markdown file.</summary>
/// <param name="Source">The Markdown file's name as reports show it (README.md).</param>
/// <param name="FirstLine">The 1-based line of the file that holds the block's first line of code.</param>
/// <param name="Code">The block's text, lines joined with \n.</param>
/// <param name="Mode">Whether the block also runs.</param>
public sealed record Snippet(string Source, int FirstLine, string Code, SnippetMode Mode)
{
    /// <summary>"README.md:42": where a reader finds the block; also the test case's name.</summary>
    public override string ToString() => $"{Source}:{FirstLine}";
}

/// <summary>Finds the fenced C# blocks of a Markdown file, with the line each starts on.</summary>
internal static partial class MarkdownSnippets
{
    // An opening fence: up to three spaces, three or more backticks, the language, then optional words.
    [GeneratedRegex(@"^ {0,3}(?<fence>`{3,})\s*(?<info>[^`]*)$")]
    private static partial Regex Fence();

    private static readonly HashSet<string> CSharpNames = new(StringComparer.OrdinalIgnoreCase) { "csharp", "cs", "c#" };

    /// <summary>Every C# block of the file at <paramref name="path"/>, named by <paramref name="source"/> in reports.</summary>
    public static IReadOnlyList<Snippet> FromFile(string path, string source) => Parse(File.ReadAllText(path), source);

    /// <summary>Every C# block of <paramref name="markdown"/>; a block left open at the end is an error naming its line.</summary>
    public static IReadOnlyList<Snippet> Parse(string markdown, string source)
    {
        var lines = markdown.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        var snippets = new List<Snippet>();
        for (var i = 0; i < lines.Length; i++)
        {
            var open = Fence().Match(lines[i]);
            if (!open.Success) continue;
            var fence = open.Groups["fence"].Value;
            var words = open.Groups["info"].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            var close = i + 1;
            while (close < lines.Length && !IsClosing(lines[close], fence)) close++;
            if (close == lines.Length)
                throw new FormatException($"{source}:{i + 1}: the code block opened here is never closed.");
            if (words.Length > 0 && CSharpNames.Contains(words[0]))
            {
                var mode = words.Skip(1).Contains("compile-only", StringComparer.Ordinal) ? SnippetMode.CompileOnly : SnippetMode.Run;
                snippets.Add(new Snippet(source, i + 2, string.Join('\n', lines[(i + 1)..close]), mode));
            }
            i = close;
        }
        return snippets;
    }

    // CommonMark: a closing fence is at least as long as the opening one and has nothing after it.
    private static bool IsClosing(string line, string fence)
    {
        var trimmed = line.Trim();
        return trimmed.Length >= fence.Length && trimmed.All(c => c == '`');
    }
}
