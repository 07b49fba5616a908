using Mistral.HostileInput.Models;
using Mistral.HostileInput.Mutations;

namespace Mistral.HostileInput.Campaign;

/// <summary>
/// Which case is which: case i of a selection of kinds and bases is kind i mod K on base (i / K) mod B, so that any
/// K × B consecutive cases cover every pair, and its mutation draws from a random stream seeded by (seed, i) alone, so
/// that <c>replay --seed S --case I</c> rebuilds exactly that file in any process.
/// </summary>
internal sealed class CasePlan(ulong seed, IReadOnlyList<MutationKind> kinds, IReadOnlyList<string> bases, string scratchDirectory)
{
    private readonly Dictionary<string, BaseModel> _bases = new(StringComparer.Ordinal);

    public ulong Seed { get; } = seed;

    public IReadOnlyList<MutationKind> Kinds { get; } = kinds;

    public IReadOnlyList<string> Bases { get; } = bases;

    public (MutationKind Kind, string Base) At(long index) => At(index, Kinds, Bases);

    public static (MutationKind Kind, string Base) At(long index, IReadOnlyList<MutationKind> kinds, IReadOnlyList<string> bases) =>
        (kinds[(int)(index % kinds.Count)], bases[(int)(index / kinds.Count % bases.Count)]);

    /// <summary>Builds case <paramref name="index"/>'s mutated file (the base model is written once per process).</summary>
    public MutatedFile Build(long index)
    {
        var (kind, baseName) = At(index);
        if (!_bases.TryGetValue(baseName, out var model)) _bases[baseName] = model = BaseModels.Create(baseName, scratchDirectory);
        return kind.Apply(new MutationContext(model, RandomFor(Seed, index)));
    }

    /// <summary>A stream that depends on nothing but (seed, index): SplitMix64 of both, feeding System.Random's seeded (stable) generator.</summary>
    public static Random RandomFor(ulong seed, long index) =>
        new((int)(SplitMix64(SplitMix64(seed) ^ (ulong)index) & int.MaxValue));

    private static ulong SplitMix64(ulong x)
    {
        x += 0x9E3779B97F4A7C15UL;
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
        return x ^ (x >> 31);
    }
}
