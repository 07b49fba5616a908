using System.Text.RegularExpressions;
using Mistral.Tests.Support;

namespace Mistral.Tests.Cli;

/// <summary>
/// `mistral generate` as a user sees it: the text (streamed), a final newline, why it stopped on stderr, loading
/// progress, Ctrl-C keeping what was printed, and a prompt longer than --ctx named as such.
/// </summary>
[TestFixture]
public class CliGenerateTests : SmallModelFixture
{
    [Test]
    public void Generate_ends_with_a_newline_and_says_max_tokens_stopped_it()
    {
        var expected = Complete("the cat", GenerationOptions.Greedy(12));
        Assert.That(expected.FinishReason, Is.EqualTo(FinishReason.MaxTokens), "precondition: 12 greedy tokens without EOS");
        var result = CliProcess.Run("generate", "--model", Files.Path, "--prompt", "the cat", "--max-tokens", "12", "--temperature", "0");
        Assert.That(result.ExitCode, Is.Zero, result.StdErr);
        Assert.That(result.StdOut, Is.EqualTo(expected.Text + "\n"));
        Assert.That(Lines(result.StdErr), Does.Contain("stopped: max tokens reached (12 tokens, --max-tokens 12)"));
    }

    [Test]
    public void Options_written_with_equals_work_as_with_a_space()
    {
        var spaced = CliProcess.Run("generate", "--model", Files.Path, "--prompt", "the cat", "--max-tokens", "5", "--temperature", "0");
        var equals = CliProcess.Run("generate", $"--model={Files.Path}", "--prompt=the cat", "--max-tokens=5", "--temperature=0");
        Assert.That(equals.ExitCode, Is.Zero, equals.StdErr);
        Assert.That(equals.StdOut, Is.EqualTo(spaced.StdOut));
        Assert.That(Lines(equals.StdErr), Does.Contain("stopped: max tokens reached (5 tokens, --max-tokens 5)"));
    }

    [Test]
    public void A_stop_string_ends_the_text_before_it_and_is_named_as_the_reason()
    {
        var free = Complete("the cat", GenerationOptions.Greedy(24)).Text;
        Assume.That(free.Length, Is.GreaterThanOrEqualTo(12), "the greedy text is long enough to pick a stop string from");
        var stop = free.Substring(8, 3);
        var expected = Complete("the cat", GenerationOptions.Greedy(24) with { StopStrings = [stop] });
        Assert.That(expected.FinishReason, Is.EqualTo(FinishReason.StopString), "precondition");

        var result = CliProcess.Run("generate", "--model", Files.Path, "--prompt", "the cat", "--max-tokens", "24", "--temperature", "0", "--stop", stop);
        Assert.That(result.ExitCode, Is.Zero, result.StdErr);
        Assert.That(result.StdOut, Is.EqualTo(expected.Text + "\n"));
        Assert.That(Lines(result.StdErr), Does.Contain($"stopped: stop string (--stop) after {expected.Tokens.Count} tokens"));
    }

    [Test]
    public void A_full_context_is_named_with_the_tokens_generated_and_the_option_to_raise()
    {
        const int context = 24;
        using var small = MistralModel.Load(Files.Path, new ModelOptions { Threads = 2, Backend = MistralBackend.Cpu, ContextLength = context });
        var expected = Complete(small, "the cat", GenerationOptions.Greedy(100));
        Assert.That(expected.FinishReason, Is.EqualTo(FinishReason.ContextFull), "precondition: 100 greedy tokens overflow a context of 24");

        var result = CliProcess.Run("generate", "--model", Files.Path, "--prompt", "the cat", "--max-tokens", "100", "--temperature", "0", "--ctx", $"{context}");
        Assert.That(result.ExitCode, Is.Zero, result.StdErr);
        Assert.That(result.StdOut, Is.EqualTo(expected.Text + "\n"));
        Assert.That(Lines(result.StdErr), Does.Contain($"stopped: context full after {expected.Tokens.Count} tokens (--ctx {context}); raise --ctx"));
    }

    [Test]
    public void A_prompt_longer_than_the_context_names_ctx_and_exits_2()
    {
        var prompt = string.Join(' ', Enumerable.Repeat("cat", 40));
        var tokens = Model.Tokenizer.Encode(prompt, Model.Tokenizer.AddBos).Length;
        var result = CliProcess.Run("generate", "--model", Files.Path, "--prompt", prompt, "--ctx", "16");
        Assert.That(result.ExitCode, Is.EqualTo(2), result.StdErr);
        Assert.That(Lines(result.StdErr), Does.Contain(
            $"mistral generate: the prompt is {tokens} tokens but the context holds 16 (--ctx 16): raise --ctx (the model was trained for {Files.Spec.ContextLength}) or shorten the prompt"));
        Assert.That(result.StdErr, Does.Not.Contain("ContextLength"));
    }

    [Test]
    public void Loading_progress_is_plain_percentage_lines_when_stderr_is_redirected()
    {
        var result = CliProcess.Run("generate", "--model", Files.Path, "--prompt", "x", "--max-tokens", "1");
        Assert.That(result.ExitCode, Is.Zero, result.StdErr);
        var percents = Lines(result.StdErr).Select(l => Regex.Match(l, @"^loading: (\d+)%$")).Where(m => m.Success)
            .Select(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.That(percents, Is.Not.Empty, result.StdErr);
        Assert.That(percents[0], Is.Zero);
        Assert.That(percents[^1], Is.EqualTo(100));
        Assert.That(percents, Is.Ordered.Ascending.And.Unique);
        Assert.That(result.StdErr, Does.Not.Contain("\u001b["), "no terminal escape codes in a redirected stream");
    }

    [Test]
    public void Chat_on_a_model_without_a_template_warns_naming_the_format_it_assumes()
    {
        var chat = CliProcess.Run("generate", "--model", Files.Path, "--prompt", "hello", "--chat", "--max-tokens", "2", "--temperature", "0");
        var raw = CliProcess.Run("generate", "--model", Files.Path, "--prompt", "hello", "--max-tokens", "2", "--temperature", "0");
        Assert.That(chat.ExitCode, Is.Zero, chat.StdErr);
        Assert.That(Lines(chat.StdErr), Does.Contain(
            "warning: the model has no chat template (no tokenizer.chat_template); --chat assumes the V1 format, which a base model was not trained on"));
        Assert.That(raw.StdErr, Does.Not.Contain("warning:"), "without --chat the raw prompt is used: nothing is assumed");
    }

    [Test]
    public void Ctrl_c_keeps_the_printed_text_says_cancelled_and_exits_130()
    {
        // A model whose decode is bound by memory (about 100 MB of Q4_0 weights read per token: 88 tokens per second on
        // one thread of a 2-core Xeon VM), so its 2,000 tokens (this seed reaches the limit, not an end-of-sequence
        // token) outlast the wait for the first characters by many seconds, even on a loaded machine. The default
        // synthetic shape decodes over a thousand tokens per second and, with this seed, ends after 1,847 tokens:
        // a busy test run could see it finish before the interrupt.
        using var dir = new TempDir();
        var path = dir.File("slow.gguf");
        SyntheticModel.Write(path, new SyntheticModelSpec
        {
            EmbeddingLength = 2048, FeedForwardLength = 5632, HeadCount = 16, KvHeadCount = 4, LayerCount = 4,
        });
        using var process = new InterruptibleCliProcess("generate", "--model", path, "--prompt", "Once upon a time", "--max-tokens", "2000", "--seed", "7", "--threads", "1");
        var streamed = process.WaitForOutput(8, TimeSpan.FromSeconds(90));
        Assert.That(streamed && !process.HasExited, Is.True, "text arrives while generation goes on (streamed, not printed at the end)");
        var before = process.StdOut;
        process.Interrupt();
        var result = process.WaitForExit(TimeSpan.FromSeconds(30));
        Assert.Multiple(() =>
        {
            Assert.That(result.ExitCode, Is.EqualTo(130), result.StdErr);
            Assert.That(result.StdOut, Does.StartWith(before), "what was printed before Ctrl-C stays");
            Assert.That(result.StdOut, Does.EndWith("\n"));
            Assert.That(Lines(result.StdErr), Does.Contain("cancelled"));
            Assert.That(result.StdErr, Does.Not.Contain("stopped:"));
            Assert.That(result.StdErr, Does.Not.Contain("   at "), "no stack trace");
        });
    }

    private GenerationResult Complete(string prompt, GenerationOptions options) => Complete(Model, prompt, options);

    private static GenerationResult Complete(MistralModel model, string prompt, GenerationOptions options)
    {
        using var session = model.CreateSession();
        return session.Complete(prompt, options);
    }

    private static List<string> Lines(string text) => [.. text.Split('\n').Select(l => l.TrimEnd('\r'))];
}
