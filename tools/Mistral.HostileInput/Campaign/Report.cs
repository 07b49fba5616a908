using System.Globalization;
using System.Text;
using System.Text.Json;
using Mistral.HostileInput.Oracle;

namespace Mistral.HostileInput.Campaign;

/// <summary>A campaign's results as tables (mutation kind × outcome), in text, Markdown and JSON, with the bad cases to replay.</summary>
internal static class Report
{
    private const int MaxListedInText = 100;

    /// <summary>Outcome columns in table order: those that occurred.</summary>
    private static List<string> Columns(CampaignResult r) =>
        [.. r.Cases.Select(c => c.Outcome).Distinct().OrderBy(Outcomes.Order).ThenBy(o => o, StringComparer.Ordinal)];

    private static List<string[]> Rows(CampaignResult r, string rowTitle, Func<CaseRecord, string> rowOf, IEnumerable<string> rowNames)
    {
        var columns = Columns(r);
        List<string[]> rows = [[rowTitle, .. columns, "total"]];
        foreach (var name in rowNames)
        {
            var cases = r.Cases.Where(c => rowOf(c) == name).ToList();
            rows.Add([name, .. columns.Select(o => Count(cases.Count(c => c.Outcome == o))), Count(cases.Count)]);
        }
        rows.Add(["total", .. columns.Select(o => Count(r.Cases.Count(c => c.Outcome == o))), Count(r.Cases.Count)]);
        return rows;
    }

    private static string Count(int n) => n == 0 ? "." : n.ToString(CultureInfo.InvariantCulture);

    private static string Summary(CampaignResult r) => string.Create(CultureInfo.InvariantCulture,
        $"seed {r.Options.Seed}, {r.Cases.Count} cases, {r.Options.Workers} workers ({r.WorkerProcesses} worker processes), " +
        $"{r.Elapsed.TotalSeconds:F1} s, {r.CasesPerSecond:F1} cases/s, {r.BadCases.Count()} bad");

    /// <summary>The command that rebuilds and runs one case in-process.</summary>
    public static string ReplayCommand(CampaignResult r, long index) =>
        "dotnet run --project tools/Mistral.HostileInput -- replay " +
        string.Join(' ', CommandLine.Selection(r.Options.Seed, r.Options.Kinds, r.Options.Bases)) +
        string.Create(CultureInfo.InvariantCulture, $" --case {index} --write case-{index}.gguf");

    public static string Text(CampaignResult r)
    {
        var sb = new StringBuilder();
        sb.AppendLine(Summary(r)).AppendLine();
        AppendAligned(sb, Rows(r, "kind", c => c.Kind, r.Options.Kinds.Select(k => k.Name)));
        sb.AppendLine();
        AppendAligned(sb, Rows(r, "base", c => c.Base, r.Options.Bases));
        var bad = r.BadCases.ToList();
        if (bad.Count > 0)
        {
            sb.AppendLine().AppendLine($"bad cases ({bad.Count}{(bad.Count > MaxListedInText ? $", the first {MaxListedInText}" : "")}):");
            foreach (var c in bad.Take(MaxListedInText))
            {
                sb.AppendLine(string.Create(CultureInfo.InvariantCulture, $"  case {c.Index} {c.Kind} on {c.Base}: {c.Outcome} {c.Message}"));
                sb.AppendLine($"    mutation: {c.Description}");
                sb.AppendLine($"    replay:   {ReplayCommand(r, c.Index)}");
            }
        }
        return sb.ToString();
    }

    private static void AppendAligned(StringBuilder sb, List<string[]> rows)
    {
        var widths = Enumerable.Range(0, rows[0].Length).Select(i => rows.Max(row => row[i].Length)).ToArray();
        foreach (var row in rows)
            sb.AppendLine(string.Join("  ", row.Select((cell, i) => i == 0 ? cell.PadRight(widths[i]) : cell.PadLeft(widths[i]))).TrimEnd());
    }

    public static string Markdown(CampaignResult r)
    {
        var sb = new StringBuilder();
        sb.AppendLine("# Hostile-input campaign").AppendLine().AppendLine(Summary(r) + ".").AppendLine();
        sb.AppendLine("## Outcomes by mutation kind").AppendLine();
        AppendMarkdownTable(sb, Rows(r, "kind", c => c.Kind, r.Options.Kinds.Select(k => k.Name)));
        sb.AppendLine().AppendLine("## Outcomes by base model").AppendLine();
        AppendMarkdownTable(sb, Rows(r, "base", c => c.Base, r.Options.Bases));
        var bad = r.BadCases.ToList();
        sb.AppendLine().AppendLine($"## Bad cases ({bad.Count})").AppendLine();
        if (bad.Count == 0) sb.AppendLine("None.");
        else
        {
            sb.AppendLine("| case | kind | base | outcome | message | mutation |").AppendLine("| ---: | --- | --- | --- | --- | --- |");
            foreach (var c in bad)
                sb.AppendLine(string.Create(CultureInfo.InvariantCulture, $"| {c.Index} | {c.Kind} | {c.Base} | {c.Outcome} | {Escape(c.Message)} | {Escape(c.Description)} |"));
            sb.AppendLine().AppendLine("Replay one: `" + ReplayCommand(r, bad[0].Index) + "` (change `--case`).");
        }
        return sb.ToString();
    }

    private static void AppendMarkdownTable(StringBuilder sb, List<string[]> rows)
    {
        sb.AppendLine("| " + string.Join(" | ", rows[0]) + " |");
        sb.AppendLine("| --- |" + string.Concat(Enumerable.Repeat(" ---: |", rows[0].Length - 1)));
        foreach (var row in rows.Skip(1)) sb.AppendLine("| " + string.Join(" | ", row) + " |");
    }

    private static string Escape(string s) => s.Replace("|", "\\|", StringComparison.Ordinal);

    public static string Json(CampaignResult r)
    {
        var table = r.Options.Kinds.ToDictionary(k => k.Name, k => r.Cases.Where(c => c.Kind == k.Name)
            .GroupBy(c => c.Outcome).OrderBy(g => Outcomes.Order(g.Key)).ToDictionary(g => g.Key, g => g.Count()));
        var document = new
        {
            seed = r.Options.Seed,
            cases = r.Cases.Count,
            workers = r.Options.Workers,
            workerProcesses = r.WorkerProcesses,
            elapsedSeconds = Math.Round(r.Elapsed.TotalSeconds, 2),
            casesPerSecond = Math.Round(r.CasesPerSecond, 2),
            kinds = r.Options.Kinds.Select(k => k.Name),
            bases = r.Options.Bases,
            outcomesByKind = table,
            bad = r.BadCases.Select(c => new { @case = c.Index, kind = c.Kind, @base = c.Base, outcome = c.Outcome, message = c.Message, mutation = c.Description, replay = ReplayCommand(r, c.Index) }),
        };
        return JsonSerializer.Serialize(document, new JsonSerializerOptions { WriteIndented = true });
    }
}
