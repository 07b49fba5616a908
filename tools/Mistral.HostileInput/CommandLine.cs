using System.Globalization;
using Mistral.HostileInput.Campaign;
using Mistral.HostileInput.Models;
using Mistral.HostileInput.Mutations;

namespace Mistral.HostileInput;

/// <summary>The tool's options: <c>--name value</c> pairs after the command.</summary>
internal sealed class CommandLine
{
    private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);

    public CommandLine(IEnumerable<string> args)
    {
        using var e = args.GetEnumerator();
        while (e.MoveNext())
        {
            var name = e.Current;
            if (!name.StartsWith("--", StringComparison.Ordinal) || !e.MoveNext())
                throw new ArgumentException($"Expected '--option value' pairs, got '{name}'.");
            _values[name[2..]] = e.Current;
        }
    }

    public string? Text(string name) => _values.GetValueOrDefault(name);

    public long Integer(string name, long? fallback = null) =>
        _values.TryGetValue(name, out var v) ? long.Parse(v, NumberStyles.None, CultureInfo.InvariantCulture)
        : fallback ?? throw new ArgumentException($"--{name} is required.");

    public ulong Seed => ulong.Parse(Text("seed") ?? throw new ArgumentException("--seed is required."), NumberStyles.None, CultureInfo.InvariantCulture);

    public IReadOnlyList<MutationKind> Kinds => MutationKinds.Parse(Text("kinds"));

    public IReadOnlyList<string> Bases
    {
        get
        {
            var names = Text("bases");
            if (string.IsNullOrWhiteSpace(names)) return BaseModels.Names;
            var list = names.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            foreach (var n in list.Where(n => !BaseModels.Names.Contains(n)))
                throw new ArgumentException($"Unknown base model '{n}'; the bases are {string.Join(", ", BaseModels.Names)}.");
            return list;
        }
    }

    public MistralBackend Backend => Text("backend") switch
    {
        null or "cpu" => MistralBackend.Cpu,
        "auto" => MistralBackend.Auto,
        "cuda" => MistralBackend.Cuda,
        var other => throw new ArgumentException($"--backend is cpu, auto or cuda, not '{other}'."),
    };

    /// <summary>The options a campaign's worker gets, so that it plans exactly the cases the supervisor expects.</summary>
    public static IEnumerable<string> WorkerArguments(CampaignOptions options, long from, long to, string scratch)
    {
        yield return "worker";
        foreach (var a in Selection(options.Seed, options.Kinds, options.Bases)) yield return a;
        yield return "--from";
        yield return from.ToString(CultureInfo.InvariantCulture);
        yield return "--to";
        yield return to.ToString(CultureInfo.InvariantCulture);
        yield return "--backend";
        yield return options.Backend.ToString().ToLowerInvariant();
        yield return "--scratch";
        yield return scratch;
    }

    /// <summary>--seed, and --kinds/--bases where they are not all of them (case numbers depend on the selection).</summary>
    public static IEnumerable<string> Selection(ulong seed, IReadOnlyList<MutationKind> kinds, IReadOnlyList<string> bases)
    {
        yield return "--seed";
        yield return seed.ToString(CultureInfo.InvariantCulture);
        if (!kinds.SequenceEqual(MutationKinds.All))
        {
            yield return "--kinds";
            yield return string.Join(",", kinds.Select(k => k.Name));
        }
        if (!bases.SequenceEqual(BaseModels.Names))
        {
            yield return "--bases";
            yield return string.Join(",", bases);
        }
    }
}
