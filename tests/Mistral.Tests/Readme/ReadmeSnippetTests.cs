using Mistral.Tests.Support;

namespace Mistral.Tests.Readme;

/// <summary>
/// Every C# block of README.md and of the package's readme compiles as pasted into a new console app, and every block
/// not marked <c>```csharp compile-only</c> runs to its end against a small synthetic model (its "….gguf" literals
/// point there instead), so the first code a reader copies cannot rot.
/// </summary>
[TestFixture]
[NonParallelizable]
public class ReadmeSnippetTests
{
    // Generous: a snippet loads a small model and generates a few hundred tokens at most.
    private static readonly TimeSpan RunLimit = TimeSpan.FromMinutes(2);

    private SmallModel? _model;

    private static IEnumerable<Snippet> Snippets() =>
        MarkdownSnippets.FromFile(Path.Combine(RepoPaths.Root, "README.md"), "README.md")
            .Concat(MarkdownSnippets.FromFile(Path.Combine(RepoPaths.Root, "src", "Mistral", "PackageReadme.md"), "PackageReadme.md"));

    private static IEnumerable<TestCaseData> EverySnippet() =>
        Snippets().Select(s => new TestCaseData(s).SetArgDisplayNames(s.ToString()));

    private static IEnumerable<TestCaseData> RunnableSnippets() =>
        Snippets().Where(s => s.Mode == SnippetMode.Run).Select(s => new TestCaseData(s).SetArgDisplayNames(s.ToString()));

    [OneTimeSetUp]
    public void WriteModel() =>
        // Room for the longest snippet conversation: two chat turns of up to 128 tokens each on a byte-level vocabulary.
        _model = new SmallModel(contextLength: 2048);

    [OneTimeTearDown]
    public void DeleteModel() => _model?.Dispose();

    [Test]
    public void Both_readmes_hold_csharp_snippets_and_most_of_them_run()
    {
        var snippets = Snippets().ToList();
        Assert.That(snippets.Count(s => s.Source == "README.md"), Is.GreaterThanOrEqualTo(3), "README.md's C# blocks were not found");
        Assert.That(snippets.Count(s => s.Source == "PackageReadme.md"), Is.GreaterThanOrEqualTo(1), "PackageReadme.md's C# blocks were not found");
        Assert.That(snippets.Count(s => s.Mode == SnippetMode.Run), Is.GreaterThan(snippets.Count / 2), "most snippets should be runnable");
    }

    [TestCaseSource(nameof(EverySnippet))]
    public void Compiles_as_pasted(Snippet snippet)
    {
        var build = SnippetCompiler.Compile(snippet);
        Assert.That(build.Problems, Is.Empty, $"the C# block at {snippet} does not compile cleanly:\n" + string.Join('\n', build.Problems));
    }

    [TestCaseSource(nameof(RunnableSnippets))]
    public void Runs_to_its_end_against_a_small_model(Snippet snippet)
    {
        var (code, replaced) = SnippetRunner.WithModelPath(snippet.Code, _model!.Path);
        if (replaced == 0 && code.Contains(".gguf", StringComparison.Ordinal))
            Assert.Fail($"{snippet}: the block names a model file other than as a \"….gguf\" string literal, so the test cannot point it at its own model; write the path as such a literal or mark the block ```csharp compile-only");
        var build = SnippetCompiler.Compile(snippet, code);
        Assert.That(build.Problems, Is.Empty, string.Join('\n', build.Problems));

        var run = SnippetRunner.Run(build.Image!, RunLimit);
        TestContext.Out.WriteLine(run.Output);
        Assert.That(run.Failure, Is.Null, $"the C# block at {snippet} failed when run:\n{run.Failure}");
        if (code.Contains("Console.Write", StringComparison.Ordinal))
            Assert.That(run.Output, Is.Not.Empty, $"the C# block at {snippet} prints, but its run printed nothing");
    }
}
