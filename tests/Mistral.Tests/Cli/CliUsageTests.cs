using System.Text.RegularExpressions;
using Mistral.Tests.Support;

namespace Mistral.Tests.Cli;

/// <summary>
/// The command line as System.CommandLine parses it: help per command with defaults, both option spellings, typo
/// suggestions, and every validation message in the CLI's words, exiting 2 (usage) before anything is loaded.
/// </summary>
[TestFixture]
public class CliUsageTests
{
    private TempDir _dir = null!;
    private string _file = null!;

    [OneTimeSetUp]
    public void CreateFile()
    {
        // Validation runs at parse time, before the file is read: any existing file is a valid --model.
        _dir = new TempDir();
        _file = _dir.File("m.gguf");
        File.WriteAllText(_file, "");
    }

    [OneTimeTearDown]
    public void RemoveFile() => _dir.Dispose();

    [TestCase("generate", "--max-tokens", "[default: 128]")]
    [TestCase("generate", "--temperature", "[default: 0.8]")]
    [TestCase("generate", "--ctx", "[default: 0]")]
    [TestCase("generate", "--backend", "[default: Auto]")]
    [TestCase("bench", "--prompt-tokens", "[default: 128]")]
    [TestCase("bench", "--gen-tokens", "[default: 64]")]
    [TestCase("bench", "--runs", "[default: 3]")]
    [TestCase("demo", "--max-tokens", "[default: 64]")]
    [TestCase("info", "--device", "[default: 0]")]
    [TestCase("tokenize", "--text", "(REQUIRED)")]
    public void Help_of_each_command_shows_each_option_with_its_default(string command, string option, string shown)
    {
        var result = CliProcess.Run(command, "--help");
        Assert.That(result.ExitCode, Is.Zero, result.StdErr);
        var line = result.StdOut.Split('\n').FirstOrDefault(l => Regex.IsMatch(l, $@"^\s+(-\w, )?{Regex.Escape(option)}\b"));
        Assert.That(line, Is.Not.Null, $"no {option} line in:\n{result.StdOut}");
        Assert.That(line, Does.Contain(shown));
    }

    [Test]
    public void Help_is_also_reached_as_mistral_help_command()
    {
        var result = CliProcess.Run("help", "generate");
        Assert.That(result.ExitCode, Is.Zero, result.StdErr);
        Assert.That(result.StdOut, Does.Contain("mistral generate [options]"));
    }

    [TestCase(new[] { "--max-tokens=0" }, "mistral generate: --max-tokens must be at least 1 (got 0)")]
    [TestCase(new[] { "--max-tokens", "0" }, "mistral generate: --max-tokens must be at least 1 (got 0)")]
    [TestCase(new[] { "--max-tokens", "many" }, "mistral generate: --max-tokens: 'many' is not a whole number")]
    [TestCase(new[] { "--temperature", "-1" }, "mistral generate: --temperature must be 0 (greedy) or more (got -1)")]
    [TestCase(new[] { "--top-p", "2" }, "mistral generate: --top-p must be more than 0 and at most 1 (got 2)")]
    [TestCase(new[] { "--min-p=1" }, "mistral generate: --min-p must be at least 0 and less than 1 (got 1)")]
    [TestCase(new[] { "--repeat-penalty", "0" }, "mistral generate: --repeat-penalty must be more than 0 (got 0)")]
    [TestCase(new[] { "--ctx", "-5" }, "mistral generate: --ctx must be at least 0 (got -5)")]
    [TestCase(new[] { "--threads", "x" }, "mistral generate: --threads: 'x' is not a whole number")]
    [TestCase(new[] { "--backend", "gpu" }, "mistral generate: --backend: 'gpu' is not one of auto, cpu, cuda")]
    [TestCase(new[] { "--device", "-1" }, "mistral generate: --device must be at least 0 (got -1)")]
    [TestCase(new[] { "--prompt-ids", "1,2" }, "mistral generate: give exactly one of --prompt and --prompt-ids")]
    public void A_bad_generate_value_is_a_usage_error_naming_the_option(string[] extra, string message)
    {
        var result = CliProcess.Run(["generate", "--model", _file, "--prompt", "x", .. extra]);
        Assert.That(result.ExitCode, Is.EqualTo(2), result.StdErr);
        Assert.That(Lines(result.StdErr), Does.Contain(message));
        Assert.That(Lines(result.StdErr), Does.Contain("Run 'mistral generate --help' for its options and their defaults."));
    }

    [TestCase("bench", "--runs", "0", "mistral bench: --runs must be at least 1 (got 0)")]
    [TestCase("bench", "--prompt-tokens", "0", "mistral bench: --prompt-tokens must be at least 1 (got 0)")]
    [TestCase("demo", "--max-tokens", "0", "mistral demo: --max-tokens must be at least 1 (got 0)")]
    public void A_bad_value_of_other_commands_is_a_usage_error_naming_the_option(string command, string option, string value, string message)
    {
        var args = command == "demo" ? new[] { command, option, value } : [command, "--model", _file, option, value];
        var result = CliProcess.Run(args);
        Assert.That(result.ExitCode, Is.EqualTo(2), result.StdErr);
        Assert.That(Lines(result.StdErr), Does.Contain(message));
    }

    [Test]
    public void A_directory_as_model_says_it_is_a_directory()
    {
        var result = CliProcess.Run("generate", "--model", _dir.Path, "--prompt", "x");
        Assert.That(result.ExitCode, Is.EqualTo(2));
        Assert.That(Lines(result.StdErr), Does.Contain($"mistral generate: --model: '{_dir.Path}' is a directory, expected a .gguf file"));
    }

    [Test]
    public void A_missing_model_file_says_it_does_not_exist()
    {
        var missing = Path.Combine(_dir.Path, "nowhere.gguf");
        var result = CliProcess.Run("info", "--model", missing);
        Assert.That(result.ExitCode, Is.EqualTo(2));
        Assert.That(Lines(result.StdErr), Does.Contain($"mistral info: --model: '{missing}' does not exist"));
    }

    [Test]
    public void A_missing_required_option_is_named()
    {
        var result = CliProcess.Run("generate", "--prompt", "x");
        Assert.That(result.ExitCode, Is.EqualTo(2));
        Assert.That(Lines(result.StdErr), Does.Contain("mistral generate: Option '--model' is required."));
    }

    [Test]
    public void A_mistyped_option_is_reported_with_the_option_meant()
    {
        var result = CliProcess.Run("generate", "--model", _file, "--promt", "x");
        Assert.That(result.ExitCode, Is.EqualTo(2));
        var lines = Lines(result.StdErr);
        Assert.That(lines, Does.Contain("mistral generate: Unrecognized command or argument '--promt'."));
        var at = lines.IndexOf("'--promt' was not matched. Did you mean one of the following?");
        Assert.That(at, Is.GreaterThanOrEqualTo(0), result.StdErr);
        Assert.That(lines[at + 1], Is.EqualTo("  --prompt"));
        // The stray value "x" gets no option suggestions ("-m", "-p"): they would only mislead.
        Assert.That(result.StdErr, Does.Not.Contain("'x' was not matched"));
    }

    [Test]
    public void A_mistyped_command_is_reported_with_the_command_meant()
    {
        var result = CliProcess.Run("genrate", "--model", _file);
        Assert.That(result.ExitCode, Is.EqualTo(2));
        var lines = Lines(result.StdErr);
        Assert.That(lines, Does.Contain("mistral: Unrecognized command or argument 'genrate'."));
        var at = lines.IndexOf("'genrate' was not matched. Did you mean one of the following?");
        Assert.That(at, Is.GreaterThanOrEqualTo(0), result.StdErr);
        Assert.That(lines[at + 1], Is.EqualTo("  generate"));
        Assert.That(lines, Does.Contain("Run 'mistral --help' for the commands."));
    }

    private static List<string> Lines(string text) => [.. text.Split('\n').Select(l => l.TrimEnd('\r'))];
}
