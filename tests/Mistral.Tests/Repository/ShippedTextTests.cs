using System.Diagnostics;
using System.Text.RegularExpressions;
using Mistral.Tests.Support;

namespace Mistral.Tests.Repository;

/// <summary>
/// The repository explains itself: no shipped file describes the machine it was written on or points to a folder
/// outside the repository, and no relative Markdown link leads nowhere. Measured numbers live in
/// benchmarks/RESULTS.md, dated and naming their machine; everywhere else a comment gives the reason only.
/// </summary>
/// <remarks>
/// "Shipped" is every file git tracks (or would track: new files not yet committed count) except <c>tests/</c> and
/// <c>.ci/</c>. Those two are left out on purpose: tests quote the phrases as data (this file does), and neither is
/// in the package or read as documentation of the library. Everything else (README, docs, src, native, samples,
/// benchmarks, bindings, tools, fuzz, scripts and the build files) is what a user or the next maintainer reads.
/// </remarks>
[TestFixture]
public partial class ShippedTextTests
{
    /// <summary>Phrases that only make sense on one machine, or point outside the repository.</summary>
    [GeneratedRegex(@"\.\./shared|\bthis machine\b|\bour Xeon\b|\bdevelopment machine\b", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    internal static partial Regex MachineSpecific();

    // [text](target) or [text](target "title"); images too. Reference definitions: [label]: target
    [GeneratedRegex(@"\]\((?<target><[^>]*>|[^)\s]+)(?:\s+""[^""]*"")?\)|^\s{0,3}\[[^\]]+\]:\s*(?<target><[^>]*>|\S+)", RegexOptions.Multiline | RegexOptions.CultureInvariant)]
    private static partial Regex MarkdownLink();

    [GeneratedRegex("`[^`]*`", RegexOptions.CultureInvariant)]
    private static partial Regex InlineCode();

    private static readonly string[] NotShipped = ["tests/", ".ci/"];

    [Test]
    public void No_shipped_file_speaks_of_one_machine_or_points_outside_the_repository()
    {
        var files = ShippedFiles();
        // A listing that lost the sources would pass vacuously.
        Assert.That(files, Does.Contain("native/include/mistral.h").And.Contain("README.md"));
        var found = new List<string>();
        foreach (var file in files)
        {
            var text = ReadText(file);
            if (text is null) continue;
            var lines = text.Split('\n');
            for (var i = 0; i < lines.Length; i++)
                foreach (Match m in MachineSpecific().Matches(lines[i]))
                    found.Add($"{file}:{i + 1}: \"{m.Value}\" in: {lines[i].Trim()}");
        }
        Assert.That(found, Is.Empty,
            "Shipped text must not describe one machine or point outside the repository: give the reason in the text and " +
            "move the measured number to benchmarks/RESULTS.md, with its date, CPU, flags and command.");
    }

    [Test]
    public void Every_relative_Markdown_link_leads_to_a_file_in_the_repository()
    {
        var markdown = ShippedFiles().Where(f => f.EndsWith(".md", StringComparison.OrdinalIgnoreCase)).ToList();
        Assert.That(markdown, Does.Contain("README.md").And.Contain("docs/ARCHITECTURE.md").And.Contain("benchmarks/RESULTS.md"));
        var broken = new List<string>();
        foreach (var file in markdown)
        {
            var text = ReadText(file);
            if (text is null) continue;
            foreach (var (line, target) in RelativeLinks(text))
            {
                var problem = Resolve(RepoPaths.Root, file, target);
                if (problem is not null) broken.Add($"{file}:{line}: ({target}) {problem}");
            }
        }
        Assert.That(broken, Is.Empty);
    }

    // The matcher and the link checker on their own, so that an empty list above means "nothing found", not "could find nothing".

    [TestCase("measured on this machine: 141 t/s", "this machine")]
    [TestCase("This Machine's bandwidth drifts", "This Machine")]
    [TestCase("Design: `../shared/DESIGN.md` in the team's folder", "../shared")]
    [TestCase("on our Xeon the L2 streamer", "our Xeon")]
    [TestCase("one run on the development machine", "development machine")]
    public void The_matcher_finds_a_machine_specific_phrase(string line, string expected) =>
        Assert.That(MachineSpecific().Match(line).Value, Is.EqualTo(expected));

    [TestCase("the machinery that starts this machinery")]
    [TestCase("decode reads every weight once per token: the L2 streamer does not cover the row stride")]
    [TestCase("nothing leaves the machine; the shared library")]
    [TestCase("for the development of machine-learning apps")]
    public void The_matcher_leaves_ordinary_text_alone(string line) =>
        Assert.That(MachineSpecific().IsMatch(line), Is.False);

    [Test]
    public void The_link_finder_sees_inline_and_reference_links_and_skips_code()
    {
        const string text = """
            See [the design](docs/ARCHITECTURE.md#the-c-abi) and ![a chart](img/chart.png "Chart").
            [gone]: ../shared/DESIGN.md
            Web: [site](https://example.org/x.md), [mail](mailto:a@b.c), [here](#layout), `code[0](i)`.
            ```csharp
            var x = list[0](y); // [not](a-link.md)
            ```
            """;
        Assert.That(RelativeLinks(text), Is.EqualTo(new[]
        {
            (1, "docs/ARCHITECTURE.md#the-c-abi"),
            (1, "img/chart.png"),
            (2, "../shared/DESIGN.md"),
        }));
    }

    [Test]
    public void The_link_checker_refuses_missing_files_and_paths_outside_the_repository()
    {
        var root = RepoPaths.Root;
        Assert.Multiple(() =>
        {
            Assert.That(Resolve(root, "README.md", "docs/ARCHITECTURE.md#data-flow"), Is.Null);
            Assert.That(Resolve(root, "benchmarks/README.md", "RESULTS.md"), Is.Null);
            Assert.That(Resolve(root, "docs/ARCHITECTURE.md", "../native/include/mistral.h"), Is.Null);
            Assert.That(Resolve(root, "docs/ARCHITECTURE.md", "../native/src/"), Is.Null);
            Assert.That(Resolve(root, "README.md", "docs/NO-SUCH-FILE.md"), Does.Contain("no such file"));
            Assert.That(Resolve(root, "README.md", "../shared/DESIGN.md"), Does.Contain("outside the repository"));
        });
    }

    /// <summary>(1-based line, target) of every link in <paramref name="markdown"/> that is not a URL or an in-page anchor.</summary>
    internal static List<(int Line, string Target)> RelativeLinks(string markdown)
    {
        var links = new List<(int, string)>();
        var lines = markdown.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        var inCode = false;
        for (var i = 0; i < lines.Length; i++)
        {
            if (lines[i].TrimStart().StartsWith("```", StringComparison.Ordinal) || lines[i].TrimStart().StartsWith("~~~", StringComparison.Ordinal))
            {
                inCode = !inCode;
                continue;
            }
            if (inCode) continue;
            foreach (Match m in MarkdownLink().Matches(InlineCode().Replace(lines[i], "")))
            {
                var target = m.Groups["target"].Value.Trim('<', '>');
                if (target.Length == 0 || target.StartsWith('#') || Uri.TryCreate(target, UriKind.Absolute, out var uri) && uri.Scheme != Uri.UriSchemeFile)
                    continue;
                links.Add((i + 1, target));
            }
        }
        return links;
    }

    /// <summary>Null when <paramref name="target"/>, relative to the Markdown file <paramref name="from"/>, is a file or
    /// folder inside <paramref name="root"/>; else why not.</summary>
    internal static string? Resolve(string root, string from, string target)
    {
        var path = target.Split('#', '?')[0];
        if (path.Length == 0) return null; // an anchor or query on this same page
        var fullRoot = Path.GetFullPath(root).TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar;
        var resolved = Path.GetFullPath(Path.Combine(root, Path.GetDirectoryName(from) ?? "", Uri.UnescapeDataString(path)));
        if (!(resolved + Path.DirectorySeparatorChar).StartsWith(fullRoot, StringComparison.Ordinal))
            return "leads outside the repository";
        return File.Exists(resolved) || Directory.Exists(resolved) ? null : "no such file in the repository";
    }

    /// <summary>Repository-relative paths ('/'-separated) of the shipped files that exist in the working tree.</summary>
    private static List<string> ShippedFiles()
    {
        var start = new ProcessStartInfo("git", "ls-files -z --cached --others --exclude-standard")
        {
            WorkingDirectory = RepoPaths.Root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        Process? process = null;
        try
        {
            process = Process.Start(start);
        }
        catch (System.ComponentModel.Win32Exception)
        {
        }
        if (process is null)
        {
            Assert.Ignore("git could not be started: the shipped files are what git tracks, so this check needs it.");
            return [];
        }
        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEnd();
            process.WaitForExit();
            if (process.ExitCode != 0)
                Assert.Ignore($"not a git checkout ({stderr.Trim()}): the shipped files are what git tracks.");
            return [.. stdout.Result.Split('\0', StringSplitOptions.RemoveEmptyEntries)
                .Where(f => !NotShipped.Any(p => f.StartsWith(p, StringComparison.Ordinal)))
                .Where(f => File.Exists(Path.Combine(RepoPaths.Root, f))) // deleted in the working tree, not yet in git
                .Order(StringComparer.Ordinal)];
        }
    }

    /// <summary>The file as text, or null for a binary file (a NUL byte in it).</summary>
    private static string? ReadText(string relative)
    {
        var bytes = File.ReadAllBytes(Path.Combine(RepoPaths.Root, relative));
        if (Array.IndexOf(bytes, (byte)0) >= 0) return null;
        return System.Text.Encoding.UTF8.GetString(bytes).Replace("\r\n", "\n", StringComparison.Ordinal);
    }
}
