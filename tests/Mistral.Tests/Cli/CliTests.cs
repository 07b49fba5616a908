using System.Text.Json;
using Mistral.Tests.Support;

namespace Mistral.Tests.Cli;

/// <summary>The `mistral` program end to end, as a separate process, against the library in-process.</summary>
[TestFixture]
public class CliTests : SmallModelFixture
{

    [Test]
    public void Generate_prints_only_the_generated_text()
    {
        var expected = Model.Generate("the cat", GenerationOptions.Greedy(12));
        var result = CliProcess.Run("generate", "--model", Files.Path, "--prompt", "the cat", "--max-tokens", "12", "--temperature", "0", "--threads", "2");
        Assert.That(result.ExitCode, Is.Zero, result.StdErr);
        Assert.That(result.StdOut, Is.EqualTo(expected + "\n"), "the text, then a newline");
        // Where it ran goes to stderr, so stdout stays the text alone.
        Assert.That(result.StdErr, Does.Contain("backend: "));
    }

    [Test]
    public void Generate_on_the_cpu_names_the_cpu_on_stderr()
    {
        var cpu = BackendInfo.Query(MistralBackend.Cpu);
        var result = CliProcess.Run("generate", "--model", Files.Path, "--prompt", "x", "--max-tokens", "2", "--temperature", "0", "--backend", "cpu");
        Assert.That(result.ExitCode, Is.Zero, result.StdErr);
        Assert.That(result.StdErr, Does.Contain("backend: CPU: " + cpu.DeviceName));
    }

    [Test]
    public void Generate_on_emulated_cuda_names_the_emulator_and_gives_the_ids_of_the_cuda_backend_in_process()
    {
        TestBackend.Require(MistralBackend.Cuda);
        var prompt = Model.Tokenizer.Encode("a b c", addBos: true);
        using var cudaModel = Files.Load(backend: MistralBackend.Cuda);
        using var session = cudaModel.CreateSession();
        var expected = session.GenerateTokens(prompt, GenerationOptions.Greedy(6)).ToArray();
        var environment = new Dictionary<string, string?> { ["MISTRAL_CUDA_EMULATE"] = Environment.GetEnvironmentVariable("MISTRAL_CUDA_EMULATE") };
        var result = CliProcess.RunWithEnvironment(environment, "generate", "--model", Files.Path, "--prompt-ids", string.Join(',', prompt),
            "--max-tokens", "6", "--temperature", "0", "--ids", "--backend", "cuda", "--device", "0");
        Assert.That(result.ExitCode, Is.Zero, result.StdErr);
        Assert.That(JsonSerializer.Deserialize<int[]>(result.StdOut), Is.EqualTo(expected));
        Assert.That(result.StdErr, Does.Contain("backend: CUDA: " + cudaModel.BackendInfo.DeviceName));
    }

    [Test]
    public void Generate_on_cuda_where_it_cannot_run_exits_1_with_the_reason_not_a_stack_trace()
    {
        var withoutEmulator = new Dictionary<string, string?> { ["MISTRAL_CUDA_EMULATE"] = null };
        Assume.That(CliProcess.RunWithEnvironment(withoutEmulator, "info").StdOut, Does.Contain("  cuda        CUDA: unavailable ("), "a CUDA device is present");
        var result = CliProcess.RunWithEnvironment(withoutEmulator, "generate", "--model", Files.Path, "--prompt", "x", "--backend", "cuda");
        Assert.That(result.ExitCode, Is.EqualTo(1));
        Assert.That(result.StdErr, Does.Contain("mistral generate: The CUDA backend was requested but cannot run: "));
        Assert.That(result.StdErr, Does.Not.Contain("   at "), "no stack trace for a missing GPU");
    }

    [Test]
    public void Info_without_a_model_lists_the_backends()
    {
        var result = CliProcess.Run("info");
        Assert.That(result.ExitCode, Is.Zero, result.StdErr);
        Assert.That(result.StdOut, Does.Contain("backend:      auto → "));
        Assert.That(result.StdOut, Does.Contain("  cpu         CPU: "));
        Assert.That(result.StdOut, Does.Contain("  cuda        CUDA: "));
    }

    [Test]
    public void Info_with_cuda_where_it_cannot_run_says_why_and_exits_1()
    {
        var withoutEmulator = new Dictionary<string, string?> { ["MISTRAL_CUDA_EMULATE"] = null };
        var probe = CliProcess.RunWithEnvironment(withoutEmulator, "info");
        Assume.That(probe.StdOut, Does.Contain("  cuda        CUDA: unavailable ("), "a CUDA device is present");
        var result = CliProcess.RunWithEnvironment(withoutEmulator, "info", "--backend", "cuda");
        Assert.That(result.ExitCode, Is.EqualTo(1));
        Assert.That(result.StdErr, Does.Contain("the CUDA backend cannot run here: "));
        Assert.That(result.StdOut, Does.Contain("backend:      cuda → CUDA: unavailable ("));
    }

    [Test]
    public void Bench_json_names_the_backend_and_device()
    {
        var result = CliProcess.Run("bench", "--model", Files.Path, "--prompt-tokens", "4", "--gen-tokens", "2", "--runs", "1", "--json", "--backend", "cpu");
        Assert.That(result.ExitCode, Is.Zero, result.StdErr);
        using var json = JsonDocument.Parse(result.StdOut);
        Assert.That(json.RootElement.GetProperty("backend").GetString(), Is.EqualTo("cpu"));
        Assert.That(json.RootElement.GetProperty("device_name").GetString(), Is.EqualTo(BackendInfo.Query(MistralBackend.Cpu).DeviceName));
        Assert.That(json.RootElement.GetProperty("emulated").GetBoolean(), Is.False);
    }

    [Test]
    public void Generate_with_ids_prints_the_generated_ids_as_json_and_accepts_prompt_ids()
    {
        var prompt = Model.Tokenizer.Encode("a b c", addBos: true);
        using var session = Model.CreateSession();
        var expected = session.GenerateTokens(prompt, GenerationOptions.Greedy(8)).ToArray();
        var result = CliProcess.Run("generate", "--model", Files.Path, "--prompt-ids", string.Join(',', prompt), "--max-tokens", "8", "--temperature", "0", "--ids");
        Assert.That(result.ExitCode, Is.Zero, result.StdErr);
        Assert.That(JsonSerializer.Deserialize<int[]>(result.StdOut), Is.EqualTo(expected));
    }

    [Test]
    public void Same_seed_gives_the_same_sampled_text_across_processes()
    {
        string[] args = ["generate", "--model", Files.Path, "--prompt", "seeded", "--max-tokens", "16", "--temperature", "1.0", "--seed", "77"];
        var first = CliProcess.Run(args);
        var second = CliProcess.Run(args);
        Assert.That(first.ExitCode, Is.Zero, first.StdErr);
        Assert.That(second.StdOut, Is.EqualTo(first.StdOut));
        Assert.That(first.StdOut, Is.EqualTo(Model.Generate("seeded", new GenerationOptions { MaxTokens = 16, Temperature = 1.0f, Seed = 77 }) + "\n"));
    }

    [Test]
    public void Tokenize_prints_ids_as_json_with_and_without_bos()
    {
        var with = CliProcess.Run("tokenize", "--model", Files.Path, "--text", "hello world", "--bos");
        var without = CliProcess.Run("tokenize", "--model", Files.Path, "--text", "hello world");
        Assert.That(JsonSerializer.Deserialize<int[]>(with.StdOut), Is.EqualTo(Model.Tokenizer.Encode("hello world", addBos: true)));
        Assert.That(JsonSerializer.Deserialize<int[]>(without.StdOut), Is.EqualTo(Model.Tokenizer.Encode("hello world", addBos: false)));
    }

    [Test]
    public void Tokenize_works_on_a_vocabulary_only_file_and_generate_says_it_has_no_weights()
    {
        using var dir = new TempDir();
        var path = dir.File("vocab-only.gguf");
        GgufRewrite.Copy(Files.Path, path, tensors: (_, _) => null);
        var tokenize = CliProcess.Run("tokenize", "--model", path, "--text", "hello world", "--bos");
        var generate = CliProcess.Run("generate", "--model", path, "--prompt", "hello");
        Assert.Multiple(() =>
        {
            Assert.That(tokenize.ExitCode, Is.Zero, tokenize.StdErr);
            Assert.That(JsonSerializer.Deserialize<int[]>(tokenize.StdOut), Is.EqualTo(Model.Tokenizer.Encode("hello world", addBos: true)));
            Assert.That(generate.ExitCode, Is.EqualTo(1));
            Assert.That(generate.StdErr, Does.Contain("no weights").And.Contain("vocab-only.gguf"));
            Assert.That(generate.StdErr, Does.Not.Contain("   at "), "no stack trace for a user error");
        });
    }

    [Test]
    public void Info_shows_architecture_dimensions_types_and_tensors()
    {
        var result = CliProcess.Run("info", "--model", Files.Path);
        Assert.That(result.ExitCode, Is.Zero, result.StdErr);
        Assert.That(result.StdOut, Does.Contain("architecture: llama"));
        Assert.That(result.StdOut, Does.Contain("heads 4/2 kv"));
        Assert.That(result.StdOut, Does.Contain("experts:      none (dense)"));
        Assert.That(result.StdOut, Does.Contain("window none (full)"));
        Assert.That(result.StdOut, Does.Contain("Q8_0"));
        Assert.That(result.StdOut, Does.Contain("blk.1.ffn_down.weight"));
    }

    [Test]
    public void Info_shows_experts_and_the_sliding_window_of_a_mixtral_style_file()
    {
        using var moe = Mistral.Tests.Models.TinyModelFactory.Create(Mistral.Tests.Models.TinyModelSpec.BlockAligned().WithExperts(4, 2) with { SlidingWindow = 16 });
        var result = CliProcess.Run("info", "--model", moe.Path);
        Assert.That(result.ExitCode, Is.Zero, result.StdErr);
        Assert.That(result.StdOut, Does.Contain("experts:      2 of 4 per token"));
        Assert.That(result.StdOut, Does.Contain("window 16"));
        Assert.That(result.StdOut, Does.Contain("blk.0.ffn_gate_exps.weight"));
    }

    [Test]
    public void The_default_command_runs_the_demo_and_reports_speed()
    {
        var result = CliProcess.Run("demo", "--max-tokens", "8");
        Assert.That(result.ExitCode, Is.Zero, result.StdErr);
        Assert.That(result.StdOut, Does.Match(@"prefill:\s+\d+ tokens, [\d.]+ tokens/s"));
        Assert.That(result.StdOut, Does.Match(@"decode:\s+\d+ tokens, [\d.]+ tokens/s"));
    }

    [TestCase(new[] { "generate", "--prompt", "x" }, "mistral generate: Option '--model' is required.")]
    [TestCase(new[] { "generate", "--model", "m.gguf", "--prompt", "x", "--max-tokens", "many" }, "mistral generate: --max-tokens: 'many' is not a whole number")]
    [TestCase(new[] { "generate", "--model", "m.gguf", "--prompt", "x", "--tempreature", "1" }, "mistral generate: Unrecognized command or argument '--tempreature'.")]
    [TestCase(new[] { "fly" }, "mistral: Unrecognized command or argument 'fly'.")]
    [TestCase(new[] { "generate", "--model", "m.gguf", "--prompt", "x", "--backend", "gpu" }, "mistral generate: --backend: 'gpu' is not one of auto, cpu, cuda")]
    [TestCase(new[] { "info", "--device", "-1" }, "mistral info: --device must be at least 0 (got -1)")]
    public void Usage_errors_exit_with_2_and_say_what_is_wrong(string[] args, string message)
    {
        var result = CliProcess.Run(args);
        Assert.That(result.ExitCode, Is.EqualTo(2));
        Assert.That(result.StdErr, Does.Contain(message));
    }

    [Test]
    public void A_bad_model_file_exits_with_1_and_a_message_not_a_stack_trace()
    {
        using var dir = new TempDir();
        var path = dir.File("bad.gguf");
        File.WriteAllText(path, "GGUF but not really");
        var result = CliProcess.Run("generate", "--model", path, "--prompt", "x");
        Assert.That(result.ExitCode, Is.EqualTo(1));
        Assert.That(result.StdErr, Does.Contain("bad.gguf"));
        Assert.That(result.StdErr, Does.Not.Contain("   at "), "no stack trace for a user error");
    }
}
