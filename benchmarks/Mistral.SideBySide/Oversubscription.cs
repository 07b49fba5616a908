using System.Diagnostics;
using System.Globalization;
using System.Text;
using Mistral.Gguf;

namespace Mistral.SideBySide;

/// <summary>
/// <c>dotnet run -c Release --project benchmarks/Mistral.SideBySide -- oversubscribe [--out DIR] [--layers 2]
/// [--type Q4_0] [--prompt 64] [--gen 64] [--runs 3]</c>: what a user gets who asks for more threads than the
/// process may use, or whose cores are shared. Runs one 7B-shaped file in this library and in llama.cpp with
/// 1×, 2× and 4× the usable processors (Environment.ProcessorCount: affinity and cgroup quota), then with 1×
/// while a second process keeps every usable processor busy. Prints one table and writes
/// oversubscription.md/json. (This library caps a thread count above the usable processors, with a warning;
/// llama.cpp runs what it is given.)
/// </summary>
internal static class Oversubscription
{
    public static int Run(string[] args)
    {
        var ci = CultureInfo.InvariantCulture;
        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i + 1 < args.Length; i += 2) options[args[i].TrimStart('-')] = args[i + 1];
        string Opt(string name, string fallback) => options.TryGetValue(name, out var v) ? v : fallback;
        var outDir = Directory.CreateDirectory(Opt("out", Path.Combine("artifacts", "oversubscription"))).FullName;
        var layers = int.Parse(Opt("layers", "2"), ci);
        var type = Enum.Parse<GgmlType>(Opt("type", "Q4_0"), ignoreCase: true);
        var promptLength = int.Parse(Opt("prompt", "64"), ci);
        var gen = int.Parse(Opt("gen", "64"), ci);
        var runs = int.Parse(Opt("runs", "3"), ci);
        var cores = Environment.ProcessorCount;

        var path = Path.Combine(Path.GetTempPath(), $"oversubscription-{type}-{Environment.ProcessId}.gguf");
        SyntheticModel.Write(path, new SyntheticModelSpec
        {
            VocabSize = 32000, EmbeddingLength = 4096, LayerCount = layers, HeadCount = 32, KvHeadCount = 8,
            FeedForwardLength = 14336, ContextLength = 4096, Seed = 7, WeightType = type,
        });
        var prompt = Enumerable.Range(0, promptLength).Select(i => (int)((i * 7919L + 13) % 31000) + 259).ToArray();
        var ctx = promptLength + gen + 8;
        var rows = new List<(string Scenario, int Threads, Speed Ours, Speed Llama)>();
        try
        {
            foreach (var factor in new[] { 1, 2, 4 })
            {
                var threads = cores * factor;
                Console.WriteLine($"{factor}x: {threads} threads on {cores} usable processors");
                rows.Add(($"{factor}x threads", threads,
                    Median(() => new OurEngine(path, threads, ctx, promptLength), prompt, gen, runs),
                    Median(() => new LlamaCppEngine(path, threads, ctx, promptLength), prompt, gen, runs)));
            }
            Console.WriteLine($"1x with a competing process busy on {cores} processors");
            using (Competitor.Start(cores))
            {
                rows.Add(("1x + competing process", cores,
                    Median(() => new OurEngine(path, cores, ctx, promptLength), prompt, gen, runs),
                    Median(() => new LlamaCppEngine(path, cores, ctx, promptLength), prompt, gen, runs)));
            }
        }
        finally
        {
            File.Delete(path);
        }

        var table = new StringBuilder();
        table.AppendLine(string.Create(ci, $"7B-shaped {type}, {layers} layers, {cores} usable processors, prompt {promptLength}, decode {gen}; medians of {runs} runs after a warm-up. \"of 1x\": the engine's own decode speed over its decode speed at 1x on an idle machine."));
        table.AppendLine();
        table.AppendLine("| scenario | threads asked | prefill ours (t/s) | prefill llama.cpp | decode ours (t/s) | decode llama.cpp | decode ours/llama.cpp | ours of 1x | llama.cpp of 1x |");
        table.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        var baseOurs = rows[0].Ours.DecodeTps;
        var baseLlama = rows[0].Llama.DecodeTps;
        foreach (var r in rows)
            table.AppendLine(string.Create(ci,
                $"| {r.Scenario} | {r.Threads} | {r.Ours.PrefillTps:F1} | {r.Llama.PrefillTps:F1} | {r.Ours.DecodeTps:F1} | {r.Llama.DecodeTps:F1} | {r.Ours.DecodeTps / r.Llama.DecodeTps:F2}x | {r.Ours.DecodeTps / baseOurs:P0} | {r.Llama.DecodeTps / baseLlama:P0} |"));
        Console.WriteLine();
        Console.WriteLine(table);
        File.WriteAllText(Path.Combine(outDir, "oversubscription.md"), table.ToString());
        File.WriteAllText(Path.Combine(outDir, "oversubscription.json"), System.Text.Json.JsonSerializer.Serialize(
            rows.Select(r => new
            {
                scenario = r.Scenario, threads = r.Threads, usable_processors = cores,
                prefill_tps = r.Ours.PrefillTps, decode_tps = r.Ours.DecodeTps,
                llamacpp_prefill_tps = r.Llama.PrefillTps, llamacpp_decode_tps = r.Llama.DecodeTps,
            }), new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
        Console.WriteLine($"wrote {Path.Combine(outDir, "oversubscription.md")} and oversubscription.json");
        return 0;
    }

    private static Speed Median(Func<IEngine> create, int[] prompt, int gen, int runs)
    {
        using var engine = create();
        engine.Run(prompt, Math.Min(gen, 8)); // warm-up: pages in the weights, starts the threads
        var results = Enumerable.Range(0, runs).Select(_ => engine.Run(prompt, gen)).ToArray();
        var prefill = results.Select(r => r.PrefillTps).Order().ElementAt(runs / 2);
        var decode = results.Select(r => r.DecodeTps).Order().ElementAt(runs / 2);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {engine.Name,-15} prefill {prefill,8:F1} t/s  decode {decode,7:F1} t/s"));
        return new Speed(prefill, decode);
    }

    /// <summary><c>burn N</c>: the competing process, N threads spinning until it is killed.</summary>
    public static int Burn(string[] args)
    {
        var n = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : Environment.ProcessorCount;
        for (var i = 0; i < n; i++)
            new Thread(() => { var x = 0UL; while (true) x = x * 6364136223846793005UL + 1; }) { IsBackground = true }.Start();
        Thread.Sleep(Timeout.Infinite);
        return 0;
    }

    /// <summary>A second process (this program, "burn N") that keeps N processors busy while it lives.</summary>
    private sealed class Competitor : IDisposable
    {
        private readonly Process _process;

        private Competitor(Process process) => _process = process;

        public static Competitor Start(int threads)
        {
            var self = Environment.ProcessPath ?? throw new InvalidOperationException("cannot find this program's path to start the competing process");
            var info = new ProcessStartInfo(self) { UseShellExecute = false };
            if (Path.GetFileNameWithoutExtension(self) == "dotnet") info.ArgumentList.Add(typeof(Competitor).Assembly.Location);
            info.ArgumentList.Add("burn");
            info.ArgumentList.Add(threads.ToString(CultureInfo.InvariantCulture));
            var process = Process.Start(info) ?? throw new InvalidOperationException("the competing process did not start");
            Thread.Sleep(500); // let its threads reach full speed before measuring
            return new Competitor(process);
        }

        public void Dispose()
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
            _process.Dispose();
        }
    }
}
