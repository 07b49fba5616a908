using System.Globalization;
using System.Text.Json;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace Mistral.Benchmarks;

/// <summary>
/// <c>dotnet run -c Release --project benchmarks/Mistral.Benchmarks -- gate [--update] [--baseline F]</c>:
/// runs <see cref="PerfGateBenchmarks"/> and compares each kernel with the baseline recorded for this CPU
/// (benchmarks/perf-baselines/&lt;signature&gt;.json, see <see cref="CpuSignature"/>).
/// <para>Each kernel's median is divided by the median of the calibration probe that bounds it (the read probe
/// for the memory-bound GEMV and decode step, the FMA probe for the 16-token GEMM), measured in the same run;
/// the gate compares that normalised time with the baseline's. A machine that is slower or busier as a whole
/// moves kernel and probe together; a regression of ours moves the kernel alone.</para>
/// <para>Fails (exit 1) when a normalised time is more than <see cref="Threshold"/> times its baseline, or when
/// the decode step allocates. Without a baseline for this CPU it records one and passes, saying so: the
/// pipeline commits (or caches) the file, and later runs on that CPU are gated by it. --update re-records.</para>
/// <para>Why 1.30: on a shared machine the same binary's timings move between runs while other work runs
/// beside it (benchmarks/RESULTS.md records how much); the regressions the gate exists for (a lost VNNI/AVX2 path, a per-token allocation, a lost cache
/// tile) cost 1.5–3×. Tests never assert timings; this runs outside the test suite.</para>
/// </summary>
internal static class PerfGate
{
    public const double Threshold = 1.30;

    /// <summary>Which probe calibrates which kernel: the GEMV and the decode step stream weights (read probe over
    /// the same bytes), the 16-token GEMM is bound by multiply-adds (FMA probe).</summary>
    internal static string? ProbeFor(string method, string parameters) => method switch
    {
        "Matmul" when parameters.EndsWith("t16", StringComparison.Ordinal) => $"ComputeProbe [{parameters}]",
        "Matmul" or "DecodeStep" => $"ReadProbe [{parameters}]",
        _ => null,
    };

    public static int Run(string[] args)
    {
        var update = args.Contains("--update");
        var signature = CpuSignature.Current();
        var i = Array.IndexOf(args, "--baseline");
        var baselinePath = i >= 0 && i + 1 < args.Length
            ? args[i + 1]
            : Path.Combine(FindBaselineDirectory(), signature.Key + ".json");
        Console.WriteLine($"perf gate: {signature.Description}; baseline {baselinePath}");

        Summary summary = BenchmarkRunner.Run<PerfGateBenchmarks>();
        var medians = new Dictionary<string, double>(StringComparer.Ordinal);
        var failures = new List<string>();
        foreach (var report in summary.Reports)
        {
            var method = report.BenchmarkCase.Descriptor.WorkloadMethod.Name;
            var name = $"{method} [{report.BenchmarkCase.Parameters.PrintInfo}]";
            if (report.ResultStatistics is null)
            {
                failures.Add($"{name}: no result");
                continue;
            }
            medians[name] = report.ResultStatistics.Median;
            var allocated = report.GcStats.GetBytesAllocatedPerOperation(report.BenchmarkCase) ?? 0;
            if (method == "DecodeStep" && allocated > 0)
                failures.Add($"{name}: allocates {allocated} B per decode step (must be 0)");
        }

        var current = Measure(summary, medians, failures);
        if (update || !File.Exists(baselinePath))
        {
            var baseline = new GateBaseline(signature.Description, DateTime.UtcNow.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), current);
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(baselinePath))!);
            File.WriteAllText(baselinePath, JsonSerializer.Serialize(baseline, JsonOptions));
            Console.WriteLine(update
                ? $"baseline written: {baselinePath}"
                : $"perf gate: no baseline for this CPU ({signature.Key}): recorded one at {baselinePath}. " +
                  "Commit it (or keep it in the pipeline's cache) so later runs on this CPU are compared with it; nothing was compared this time.");
            foreach (var f in failures) Console.Error.WriteLine($"perf gate: {f}");
            return failures.Count == 0 ? 0 : 1;
        }

        var stored = JsonSerializer.Deserialize<GateBaseline>(File.ReadAllText(baselinePath), JsonOptions)
                     ?? throw new InvalidDataException($"{baselinePath} is empty");
        failures.AddRange(Compare(stored, current, Console.Out));
        foreach (var f in failures) Console.Error.WriteLine($"perf gate: {f}");
        return failures.Count == 0 ? 0 : 1;
    }

    private static SortedDictionary<string, GateEntry> Measure(Summary summary, Dictionary<string, double> medians, List<string> failures)
    {
        var entries = new SortedDictionary<string, GateEntry>(StringComparer.Ordinal);
        foreach (var report in summary.Reports)
        {
            var method = report.BenchmarkCase.Descriptor.WorkloadMethod.Name;
            var parameters = report.BenchmarkCase.Parameters.PrintInfo;
            var probe = ProbeFor(method, parameters);
            var name = $"{method} [{parameters}]";
            if (probe is null || !medians.TryGetValue(name, out var ns)) continue;
            if (!medians.TryGetValue(probe, out var probeNs) || probeNs <= 0)
            {
                failures.Add($"{name}: its calibration {probe} has no result");
                continue;
            }
            entries[name] = new GateEntry(ns, probe, ns / probeNs);
        }
        return entries;
    }

    /// <summary>Compares normalised times, writes the table, returns the failures.</summary>
    internal static List<string> Compare(GateBaseline baseline, IReadOnlyDictionary<string, GateEntry> current, TextWriter output)
    {
        var failures = new List<string>();
        output.WriteLine($"baseline: {baseline.Cpu}, recorded {baseline.Recorded}");
        output.WriteLine($"| benchmark | baseline ns | now ns | raw ratio | normalised ratio | limit {Threshold:F2} |");
        output.WriteLine("| --- | ---: | ---: | ---: | ---: | --- |");
        foreach (var (name, now) in current)
        {
            if (!baseline.Benchmarks.TryGetValue(name, out var before))
            {
                output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {name} | (none) | {now.Ns:F0} | | | new |"));
                continue;
            }
            var ratio = now.Normalized / before.Normalized;
            var ok = ratio <= Threshold;
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {name} | {before.Ns:F0} | {now.Ns:F0} | {now.Ns / before.Ns:F2} | {ratio:F2} | {(ok ? "ok" : "REGRESSED")} |"));
            if (!ok)
                failures.Add(string.Create(CultureInfo.InvariantCulture,
                    $"{name}: {ratio:F2}x the baseline after calibration by {now.Probe} ({now.Ns / before.Ns:F2}x raw)"));
        }
        foreach (var name in baseline.Benchmarks.Keys.Where(k => !current.ContainsKey(k)))
            failures.Add($"{name}: in the baseline but not measured (renamed or removed? re-record with --update)");
        return failures;
    }

    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    private static string FindBaselineDirectory()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (Directory.Exists(Path.Combine(dir.FullName, ".git")) || File.Exists(Path.Combine(dir.FullName, "Mistral.Native.sln")))
                return Path.Combine(dir.FullName, "benchmarks", "perf-baselines");
        return Path.Combine("benchmarks", "perf-baselines");
    }
}

/// <summary>One CPU's recorded gate timings (benchmarks/perf-baselines/&lt;signature&gt;.json).</summary>
internal sealed record GateBaseline(string Cpu, string Recorded, IDictionary<string, GateEntry> Benchmarks);

/// <summary>A kernel's median, the probe that calibrates it and the median divided by the probe's.</summary>
internal sealed record GateEntry(double Ns, string Probe, double Normalized);
