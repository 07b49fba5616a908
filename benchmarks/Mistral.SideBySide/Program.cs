using System.Globalization;
using System.Text;
using System.Text.Json;
using Mistral;
using Mistral.Gguf;
using Mistral.SideBySide;

// dotnet run -c Release --project benchmarks/Mistral.SideBySide -- [--out DIR] [--layers 2] [--threads N]
//     [--prompt 512] [--gen 128] [--runs 3] [--types Q4_0,Q8_0,Q4_K_M] [--bandwidth-mb 2048] [--probe-mb 1024]
//     [--keep DIR]
// dotnet run -c Release --project benchmarks/Mistral.SideBySide -- oversubscribe [--out DIR] [--type Q4_0]
//     decode with 1x, 2x, 4x the usable processors and beside a competing process (Oversubscription.cs)
// A type is a GGML weight type written throughout, or Q4_K_M for llama-quantize's Q4_K_M mix (Q4_K with
// Q6_K output, attn_v and ffn_down in some layers). --keep DIR keeps the written models there (for profiling).
// [--experts 0,8] [--experts-used 2]: the feed-forward shapes to run each type in: 0 = dense (the default), N =
// Mixtral-shaped, N experts of the same FFN size stacked per layer, --experts-used chosen per token (MixtralFile.cs).
// Writes a 7B-shaped synthetic model per type (Mistral 7B dims, fewer layers), runs it in this library and in
// llama.cpp with the same threads, measures the read bandwidth, prints one table, writes JSON + Markdown.
if (args.Length > 0 && args[0] == "oversubscribe") return Oversubscription.Run(args[1..]);
if (args.Length > 0 && args[0] == "burn") return Oversubscription.Burn(args[1..]);
var options = ParseArgs(args);
var ci = CultureInfo.InvariantCulture;
string Opt(string name, string fallback) => options.TryGetValue(name, out var v) ? v : fallback;
var outDir = Opt("out", Path.Combine("artifacts", "sidebyside"));
var layers = int.Parse(Opt("layers", "2"), ci);
var threads = int.Parse(Opt("threads", Environment.ProcessorCount.ToString(ci)), ci);
var promptLength = int.Parse(Opt("prompt", "512"), ci);
var gen = int.Parse(Opt("gen", "128"), ci);
var runs = int.Parse(Opt("runs", "3"), ci);
var types = Opt("types", "Q4_0,Q8_0,Q4_K_M").Split(',').Select(t => t.Trim()).ToArray();
var keepDir = options.TryGetValue("keep", out var keep) ? keep : null;
var bandwidthBytes = long.Parse(Opt("bandwidth-mb", "2048"), ci) * 1024 * 1024;
var probeBytes = long.Parse(Opt("probe-mb", "1024"), ci) * 1024 * 1024;
var expertCounts = Opt("experts", "0").Split(',').Select(e => int.Parse(e.Trim(), ci)).ToArray();
var expertsUsed = int.Parse(Opt("experts-used", "2"), ci);
Directory.CreateDirectory(outDir);

Console.WriteLine($"read bandwidth: {bandwidthBytes >> 20} MiB buffer, up to {threads} threads, Vector512 accelerated: {System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated}");
var bandwidth = ReadBandwidth.Measure(bandwidthBytes, threads);
foreach (var p in bandwidth) Console.WriteLine(string.Create(ci, $"  {p.Threads} thread(s) x {p.Streams} stream(s), {p.Pages} pages: {p.GBps:F1} GB/s"));
var peak = bandwidth.Max(p => p.GBps);
using var probe = new ReadBandwidth.Probe(probeBytes, bandwidth.MaxBy(p => p.GBps)!);

var rows = new List<Row>();
foreach (var experts in expertCounts)
foreach (var type in types)
{
    var shape = experts > 0 ? string.Create(ci, $"{experts}x{expertsUsed}moe") : "7b";
    var path = keepDir is null
        ? Path.Combine(Path.GetTempPath(), $"sidebyside-{shape}{layers}l-{type}-{Environment.ProcessId}.gguf")
        : Path.Combine(Directory.CreateDirectory(keepDir).FullName, $"sidebyside-{shape}{layers}l-{type}.gguf");
    var label = experts > 0 ? string.Create(ci, $"{type} MoE {experts}x top-{expertsUsed}") : type;
    Console.WriteLine(experts > 0
        ? $"{label}: writing a Mixtral-shaped {layers}-layer model ({experts} experts, {expertsUsed} per token) to {path}"
        : $"{type}: writing a 7B-shaped {layers}-layer model to {path}");
    try
    {
        var spec = new SyntheticModelSpec
        {
            VocabSize = 32000, EmbeddingLength = 4096, LayerCount = layers, HeadCount = 32, KvHeadCount = 8,
            FeedForwardLength = 14336, ContextLength = 4096, Seed = 7,
        };
        spec = type.Equals("Q4_K_M", StringComparison.OrdinalIgnoreCase)
            ? spec.WithQ4_K_M_Mix()
            : spec with { WeightType = Enum.Parse<GgmlType>(type, ignoreCase: true) };
        if (experts > 0)
            MixtralFile.Write(path, spec, experts, expertsUsed);
        else
            SyntheticModel.Write(path, spec);
    }
    catch (Exception ex) when (ex is NotSupportedException or ArgumentException)
    {
        Console.WriteLine($"{type}: skipped, the synthetic writer cannot produce it: {ex.Message}");
        continue;
    }

    try
    {
        var bytesPerToken = WeightBytesPerToken(path);
        var prompt = Enumerable.Range(0, promptLength).Select(i => (int)((i * 7919L + 13) % 31000) + 259).ToArray();
        var ctx = promptLength + gen + 8;
        var (ours, llama, pairs) = MeasurePaired(() => new OurEngine(path, threads, ctx, promptLength),
            () => new LlamaCppEngine(path, threads, ctx, promptLength), prompt, gen, runs, probe, bytesPerToken);
        rows.Add(new Row(label, layers, threads, bytesPerToken, ours, llama, peak, experts, pairs));
    }
    finally
    {
        if (keepDir is null) File.Delete(path);
    }
}

var table = new StringBuilder();
table.AppendLine(string.Create(ci, $"7B-shaped (hidden 4096, 32/8 heads, FFN 14336, vocab 32000{(expertCounts.Any(e => e > 0) ? $"; MoE rows: Mixtral-shaped, that FFN as {string.Join("/", expertCounts.Where(e => e > 0))} experts, {expertsUsed} per token" : "")}), {layers} layers, {threads} threads, prompt {promptLength}, decode {gen}; medians of {runs} runs after a warm-up, the engines in turn (paired: the median ratio of adjacent runs); read bandwidth {peak:F1} GB/s (peak of the read test); adjacent: each decode run over the mean of a short read test just before and just after it, median of the runs"));
table.AppendLine();
table.AppendLine("| weights | prefill ours (t/s) | prefill llama.cpp | ours/llama.cpp | paired (range) | decode ours (t/s) | decode llama.cpp | ours/llama.cpp | paired (range) | decode GB/s ours | of bandwidth | llama.cpp of bandwidth | ours of adjacent read | llama.cpp of adjacent read |");
table.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
foreach (var r in rows)
{
    table.AppendLine(string.Create(ci,
        $"| {r.Type} | {r.Ours.PrefillTps:F1} | {r.Llama.PrefillTps:F1} | {r.Ours.PrefillTps / r.Llama.PrefillTps:F2}x | {r.Pairs.Prefill:F2}x ({r.Pairs.PrefillMin:F2}-{r.Pairs.PrefillMax:F2}) | {r.Ours.DecodeTps:F1} | {r.Llama.DecodeTps:F1} | {r.Ours.DecodeTps / r.Llama.DecodeTps:F2}x | {r.Pairs.Decode:F2}x ({r.Pairs.DecodeMin:F2}-{r.Pairs.DecodeMax:F2}) | {r.Ours.DecodeTps * r.BytesPerToken / 1e9:F1} | {r.Ours.DecodeTps * r.BytesPerToken / 1e9 / peak:P0} | {r.Llama.DecodeTps * r.BytesPerToken / 1e9 / peak:P0} | {r.Ours.DecodeAdjacentShare:P0} | {r.Llama.DecodeAdjacentShare:P0} |"));
}
table.AppendLine();
table.AppendLine("read bandwidth test (GB/s):");
table.AppendLine();
table.AppendLine("| threads | streams | pages | GB/s |");
table.AppendLine("| ---: | ---: | :---: | ---: |");
foreach (var p in bandwidth) table.AppendLine(string.Create(ci, $"| {p.Threads} | {p.Streams} | {p.Pages} | {p.GBps:F1} |"));
Console.WriteLine();
Console.WriteLine(table);
File.WriteAllText(Path.Combine(outDir, "sidebyside.md"), table.ToString());
var json = JsonSerializer.Serialize(new
{
    layers, threads, prompt = promptLength, gen, runs,
    bandwidth_gbps = peak,
    bandwidth = bandwidth.Select(p => new { threads = p.Threads, streams = p.Streams, pages = p.Pages, gbps = p.GBps }),
    results = rows.Select(r => new
    {
        type = r.Type, experts = r.Experts, experts_used = r.Experts > 0 ? expertsUsed : 0, bytes_per_token = r.BytesPerToken,
        prefill_tps = r.Ours.PrefillTps, decode_tps = r.Ours.DecodeTps,
        llamacpp_prefill_tps = r.Llama.PrefillTps, llamacpp_decode_tps = r.Llama.DecodeTps,
        prefill_ratio = r.Ours.PrefillTps / r.Llama.PrefillTps, decode_ratio = r.Ours.DecodeTps / r.Llama.DecodeTps,
        prefill_ratio_paired = r.Pairs.Prefill, prefill_ratio_paired_min = r.Pairs.PrefillMin, prefill_ratio_paired_max = r.Pairs.PrefillMax,
        decode_ratio_paired = r.Pairs.Decode, decode_ratio_paired_min = r.Pairs.DecodeMin, decode_ratio_paired_max = r.Pairs.DecodeMax,
        decode_bandwidth_fraction = r.Ours.DecodeTps * r.BytesPerToken / 1e9 / peak,
        decode_adjacent_fraction = r.Ours.DecodeAdjacentShare,
        llamacpp_decode_adjacent_fraction = r.Llama.DecodeAdjacentShare,
    }),
}, new JsonSerializerOptions { WriteIndented = true });
File.WriteAllText(Path.Combine(outDir, "sidebyside.json"), json);
Console.WriteLine($"wrote {Path.Combine(outDir, "sidebyside.md")} and sidebyside.json");
return 0;

// Both engines loaded side by side and run in turn, ours then llama.cpp, run after run: a virtual machine's speed
// drifts over tens of seconds (other tenants of the host), and all of one engine's runs followed by all of the
// other's put that drift into the ratio. Each pair of adjacent runs gives one ratio; the table reports the median
// of those beside each engine's own median.
static (Result Ours, Result Llama, PairRatios Pairs) MeasurePaired(Func<IEngine> createOurs, Func<IEngine> createLlama,
    int[] prompt, int gen, int runs, ReadBandwidth.Probe probe, long bytesPerToken)
{
    using var ours = createOurs();
    using var llama = createLlama();
    ours.Run(prompt, Math.Min(gen, 8)); // warm-up: pages in the weights, starts the threads
    llama.Run(prompt, Math.Min(gen, 8));
    var runsOf = new[] { new List<Speed>(), new List<Speed>() };
    var sharesOf = new[] { new List<double>(), new List<double>() };
    var engines = new[] { ours, llama };
    for (var i = 0; i < runs; i++)
    {
        for (var e = 0; e < 2; e++)
        {
            var before = probe.Measure();
            var run = engines[e].Run(prompt, gen);
            var adjacent = (before + probe.Measure()) / 2;
            runsOf[e].Add(run);
            sharesOf[e].Add(run.DecodeTps * bytesPerToken / 1e9 / adjacent);
        }
    }
    var results = new Result[2];
    for (var e = 0; e < 2; e++)
    {
        results[e] = new Result(Median(runsOf[e].Select(r => r.PrefillTps)), Median(runsOf[e].Select(r => r.DecodeTps)), Median(sharesOf[e]));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  {engines[e].Name,-15} prefill {results[e].PrefillTps,8:F1} t/s  decode {results[e].DecodeTps,7:F1} t/s  (runs: {string.Join(", ", runsOf[e].Select(r => $"{r.PrefillTps:F0}/{r.DecodeTps:F1}"))}; of adjacent read: {string.Join(", ", sharesOf[e].Select(v => $"{v:P0}"))})"));
    }
    var prefill = runsOf[0].Zip(runsOf[1], (a, b) => a.PrefillTps / b.PrefillTps).ToArray();
    var decode = runsOf[0].Zip(runsOf[1], (a, b) => a.DecodeTps / b.DecodeTps).ToArray();
    var pairs = new PairRatios(Median(prefill), prefill.Min(), prefill.Max(), Median(decode), decode.Min(), decode.Max());
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"  ours/llama.cpp, run by run: prefill {string.Join(", ", prefill.Select(v => $"{v:F2}"))}; decode {string.Join(", ", decode.Select(v => $"{v:F2}"))}"));
    return (results[0], results[1], pairs);
}

static double Median(IEnumerable<double> values)
{
    var s = values.Order().ToArray();
    return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
}

// Bytes a decode step must read: every matrix once, except the token embedding (one row) when the
// output projection is a separate tensor, and of a layer's stacked experts only the chosen ones (used of count).
static long WeightBytesPerToken(string path)
{
    using var file = GgufFile.Open(path);
    var tied = file.Tensors.All(t => t.Name != "output.weight");
    var count = file.GetUInt32("llama.expert_count") ?? 0;
    var used = file.GetUInt32("llama.expert_used_count") ?? 0;
    return file.Tensors.Where(t => tied || t.Name != "token_embd.weight")
        .Sum(t => t.Name.EndsWith("_exps.weight", StringComparison.Ordinal) && count > 0 ? t.ByteSize / count * used : t.ByteSize);
}

static Dictionary<string, string> ParseArgs(string[] args)
{
    var d = new Dictionary<string, string>(StringComparer.Ordinal);
    for (var i = 0; i + 1 < args.Length; i += 2)
    {
        if (!args[i].StartsWith("--", StringComparison.Ordinal)) throw new ArgumentException($"unexpected '{args[i]}'");
        d[args[i][2..]] = args[i + 1];
    }
    return d;
}

/// <summary>Medians over the runs: prefill and decode tokens/s, and decode bytes/s over the adjacent read bandwidth.</summary>
internal sealed record Result(double PrefillTps, double DecodeTps, double DecodeAdjacentShare);

/// <summary>Ours over llama.cpp for each pair of adjacent runs: the median and the range, prefill and decode.</summary>
internal sealed record PairRatios(double Prefill, double PrefillMin, double PrefillMax, double Decode, double DecodeMin, double DecodeMax);

internal sealed record Row(string Type, int Layers, int Threads, long BytesPerToken, Result Ours, Result Llama, double Bandwidth, int Experts, PairRatios Pairs);
