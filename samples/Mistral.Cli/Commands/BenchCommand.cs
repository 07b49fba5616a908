using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Mistral;

namespace Mistral.Cli.Commands;

/// <summary>
/// <c>bench</c>: prefill and decode speed of any GGUF, measured the way the side-by-side runner measures it.
/// One run = a prompt of <c>--prompt-tokens</c> ids in one batch into an empty cache (prefill), then
/// <c>--gen-tokens</c> single-token steps continuing after it, reading the logits each step (decode).
/// One warm-up run, then the median of <c>--runs</c> (3) runs.
/// </summary>
internal static class BenchCommand
{
    private static readonly Option<string> Model = CliOptions.Model(required: true);
    private static readonly Option<int> PromptTokens = CliOptions.Int("--prompt-tokens", 128, 1, "prompt length of each run (one batch)");
    private static readonly Option<int> GenTokens = CliOptions.Int("--gen-tokens", 64, 1, "tokens decoded one by one after the prompt");
    private static readonly Option<int> Threads = CliOptions.Threads();
    private static readonly Option<int> Runs = CliOptions.Int("--runs", 3, 1, "measured runs after the warm-up; the median is reported");
    private static readonly Option<bool> Json = new("--json") { Description = "print one JSON object instead of a table" };
    private static readonly BackendChoice.Options Backend = BackendChoice.CreateOptions();

    public static Command Create()
    {
        var command = new Command("bench", "measure prefill and decode speed of a model");
        foreach (var option in new Option[] { Model, PromptTokens, GenTokens, Threads, Runs, Json })
            command.Options.Add(option);
        Backend.AddTo(command);
        command.SetAction(Run);
        return command;
    }

    private static int Run(ParseResult parse)
    {
        var modelPath = parse.GetValue(Model)!;
        var promptTokens = parse.GetValue(PromptTokens);
        var genTokens = parse.GetValue(GenTokens);
        var runs = parse.GetValue(Runs);
        var json = parse.GetValue(Json);
        var backend = BackendChoice.From(parse, Backend);
        // The count the session really runs with: 0 is one per usable CPU and more than that is capped (as
        // ModelOptions.Threads says), both by the processors this process may use, which ProcessorCount counts.
        var asked = parse.GetValue(Threads);
        var threads = asked == 0 ? Environment.ProcessorCount : Math.Min(asked, Environment.ProcessorCount);

        using var model = LoadProgress.Run("loading", progress => MistralModel.Load(modelPath, new ModelOptions
        {
            Threads = threads,
            ContextLength = promptTokens + genTokens,
            BatchSize = promptTokens,
            Backend = backend.Backend,
            Device = backend.Device,
            Progress = progress,
        }));
        var device = model.BackendInfo;
        using var session = model.CreateSession();
        var vocab = model.Config.VocabSize;
        // Ids spread over the vocabulary, deterministic; BOS-free, so any vocabulary works.
        var prompt = new int[promptTokens];
        for (var i = 0; i < prompt.Length; i++) prompt[i] = (int)((i * 7919L + 13) % vocab);
        var logits = new float[vocab];

        (double Prefill, double Decode) Once()
        {
            session.Reset();
            var start = Stopwatch.GetTimestamp();
            session.Evaluate(prompt, logits);
            var prefill = Stopwatch.GetElapsedTime(start).TotalSeconds;
            Span<int> next = stackalloc int[1];
            start = Stopwatch.GetTimestamp();
            for (var i = 0; i < genTokens; i++)
            {
                next[0] = ArgMax(logits);
                session.Evaluate(next, logits);
            }
            var decode = Stopwatch.GetElapsedTime(start).TotalSeconds;
            return (promptTokens / prefill, genTokens / decode);
        }

        Once(); // warm-up: page in the weights, spin up the pool
        var results = Enumerable.Range(0, runs).Select(_ => Once()).ToArray();
        var prefillTps = Median(results.Select(r => r.Prefill));
        var decodeTps = Median(results.Select(r => r.Decode));
        var weightBytes = new FileInfo(modelPath).Length;

        if (json)
        {
            var o = new Dictionary<string, object>
            {
                ["model"] = Path.GetFileName(modelPath),
                ["threads"] = threads,
                ["prompt_tokens"] = promptTokens,
                ["gen_tokens"] = genTokens,
                ["runs"] = runs,
                ["prefill_tps"] = Math.Round(prefillTps, 2),
                ["decode_tps"] = Math.Round(decodeTps, 2),
                ["prefill_tps_all"] = results.Select(r => Math.Round(r.Prefill, 2)).ToArray(),
                ["decode_tps_all"] = results.Select(r => Math.Round(r.Decode, 2)).ToArray(),
                ["file_bytes"] = weightBytes,
                ["backend"] = model.Backend.ToString().ToLowerInvariant(),
                ["device"] = device.Device,
                ["device_name"] = device.DeviceName,
                ["emulated"] = device.IsEmulated,
            };
            if (device.ComputeCapability is { } cc) o["compute_capability"] = cc.ToString(2);
            if (device.DriverVersion is { } driver) o["driver_version"] = driver.ToString(2);
            Console.WriteLine(JsonSerializer.Serialize(o));
        }
        else
        {
            var ci = CultureInfo.InvariantCulture;
            Console.WriteLine($"model   {modelPath} ({weightBytes / 1e6:F0} MB), threads {threads.ToString(ci)}, median of {runs} after a warm-up");
            Console.WriteLine($"backend {backend.Describe(model)}");
            Console.WriteLine($"| phase   | tokens | tokens/s |");
            Console.WriteLine($"| ------- | -----: | -------: |");
            Console.WriteLine(string.Create(ci, $"| prefill | {promptTokens,6} | {prefillTps,8:F1} |"));
            Console.WriteLine(string.Create(ci, $"| decode  | {genTokens,6} | {decodeTps,8:F1} |"));
        }
        return 0;
    }

    private static int ArgMax(ReadOnlySpan<float> values)
    {
        var best = 0;
        for (var i = 1; i < values.Length; i++)
            if (values[i] > values[best]) best = i;
        return best;
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
