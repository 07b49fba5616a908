namespace Mistral.Tests.Readme;

/// <summary>The snippet test's own parts, on Markdown written in this file: they find the blocks, and they fail where they should.</summary>
public class SnippetCheckTests
{
    private const string Sample = """
        # Title

        ```bash
        dotnet run
        ```

        ```csharp
        Console.WriteLine("one");
        ```

        ```csharp compile-only
        int x = 1;
        Console.WriteLine(x);
        ```
        """;

    // The two faults issue 17 found in the README as it was: a token nobody declared, and a using after a statement.
    private const string Broken = """
        Intro.

        ```csharp
        using Mistral;

        await foreach (var piece in MistralModel.Load("m.gguf").GenerateAsync("hi", null, cancellationToken))
            Console.Write(piece);
        using Microsoft.Extensions.AI;
        ```
        """;

    [Test]
    public void Csharp_blocks_are_found_with_their_first_line_and_mode_and_other_languages_are_not()
    {
        var snippets = MarkdownSnippets.Parse(Sample, "SAMPLE.md");
        Assert.That(snippets, Has.Count.EqualTo(2));
        Assert.That(snippets[0], Is.EqualTo(new Snippet("SAMPLE.md", 8, "Console.WriteLine(\"one\");", SnippetMode.Run)));
        Assert.That(snippets[1].FirstLine, Is.EqualTo(12));
        Assert.That(snippets[1].Mode, Is.EqualTo(SnippetMode.CompileOnly));
        Assert.That(snippets[1].Code, Is.EqualTo("int x = 1;\nConsole.WriteLine(x);"));
    }

    [Test]
    public void A_block_never_closed_is_an_error_naming_its_line()
    {
        var ex = Assert.Throws<FormatException>(() => MarkdownSnippets.Parse("text\n```csharp\nint x = 1;\n", "OPEN.md"));
        Assert.That(ex!.Message, Does.StartWith("OPEN.md:2:"));
    }

    [Test]
    public void A_clean_block_compiles_to_a_program()
    {
        var build = SnippetCompiler.Compile(MarkdownSnippets.Parse(Sample, "SAMPLE.md")[1]);
        Assert.That(build.Problems, Is.Empty);
        Assert.That(build.Image, Is.Not.Null.And.Not.Empty);
    }

    [Test]
    public void Compile_errors_name_the_markdown_line_of_each_fault()
    {
        var build = SnippetCompiler.Compile(MarkdownSnippets.Parse(Broken, "BROKEN.md").Single());
        Assert.That(build.Image, Is.Null);
        Assert.That(build.Problems, Has.Some.StartsWith("BROKEN.md:6:").And.Contains("error CS0103").And.Contains("cancellationToken"));
        Assert.That(build.Problems, Has.Some.StartsWith("BROKEN.md:8:").And.Contains("error CS1529"));
    }

    [Test]
    public void A_warning_is_a_problem_too()
    {
        var build = SnippetCompiler.Compile(new Snippet("WARN.md", 3, "string s = null;\nConsole.WriteLine(s);", SnippetMode.Run));
        Assert.That(build.Image, Is.Null);
        Assert.That(build.Problems, Has.Some.StartsWith("WARN.md:3:").And.Contains("warning CS8600"));
    }

    [Test]
    public void A_run_captures_the_output_and_the_exception_it_ended_with()
    {
        var snippet = new Snippet("THROWS.md", 1, "Console.WriteLine(\"before\");\nthrow new InvalidOperationException(\"the snippet failed\");", SnippetMode.Run);
        var build = SnippetCompiler.Compile(snippet);
        Assert.That(build.Problems, Is.Empty);
        var run = SnippetRunner.Run(build.Image!, TimeSpan.FromSeconds(30));
        Assert.That(run.Output, Is.EqualTo("before" + Environment.NewLine));
        Assert.That(run.Failure, Is.TypeOf<InvalidOperationException>().With.Message.EqualTo("the snippet failed"));
    }

    [Test]
    public void An_async_snippet_that_finishes_has_no_failure()
    {
        var snippet = new Snippet("ASYNC.md", 1, "await Task.Delay(1);\nConsole.Write(args.Length);", SnippetMode.Run);
        var run = SnippetRunner.Run(SnippetCompiler.Compile(snippet).Image!, TimeSpan.FromSeconds(30));
        Assert.That(run.Failure, Is.Null);
        Assert.That(run.Output, Is.EqualTo("0"));
    }

    [Test]
    public void Model_file_literals_become_the_test_model_and_the_lines_stay_put()
    {
        const string code = "var a = MistralModel.Load(\"mistral-7b.Q4_0.gguf\");\nvar b = \"notes.txt\";\nLoad(\"x\\\\y.gguf\");";
        var (replaced, count) = SnippetRunner.WithModelPath(code, "/tmp/t \"q\".gguf");
        Assert.That(count, Is.EqualTo(2));
        Assert.That(replaced.Split('\n'), Is.EqualTo(new[]
        {
            "var a = MistralModel.Load(@\"/tmp/t \"\"q\"\".gguf\");",
            "var b = \"notes.txt\";",
            "Load(@\"/tmp/t \"\"q\"\".gguf\");",
        }));
    }
}
