using Mistral.Gguf;
using Mistral.HostileInput.Gguf;
using Mistral.HostileInput.Models;

namespace Mistral.HostileInput.Mutations;

/// <summary>A mutated model file and what was done to it.</summary>
/// <param name="NonFiniteTensors">For the NaN/Inf kinds, the tensors that now hold a non-finite value (the weight scan
/// must name one of them); null for every other kind.</param>
internal sealed record MutatedFile(byte[] Bytes, string Description, IReadOnlyList<string>? NonFiniteTensors = null);

/// <summary>A named way of damaging a model file.</summary>
/// <param name="Name">The name used on the command line and in the tables.</param>
/// <param name="Summary">One line for the README and <c>--help</c>.</param>
/// <param name="MustBite">Whether a few hundred cases of this kind must include a refusal or a detection (every kind
/// but weight-garbage, whose files are meant to load and run).</param>
internal sealed record MutationKind(string Name, string Summary, Func<MutationContext, MutatedFile> Apply, bool MustBite = true);

/// <summary>What one case's mutation works on: a fresh copy of the base, and the case's own random numbers.</summary>
internal sealed class MutationContext(BaseModel baseModel, Random random)
{
    public BaseModel Base { get; } = baseModel;

    public ModelShape Shape => Base.Shape;

    public Random Random { get; } = random;

    /// <summary>A copy of the base's image to edit (made on first use).</summary>
    public GgufImage Image => _image ??= Base.Image.Clone();

    private GgufImage? _image;

    /// <summary>The base's bytes and field map, for byte-level mutations (copy before editing).</summary>
    public SerializedGguf Original => Base.Serialized;

    public T Pick<T>(IReadOnlyList<T> items) => items[Random.Next(items.Count)];

    public bool Chance(double p) => Random.NextDouble() < p;

    /// <summary>The edited image, written out.</summary>
    public MutatedFile Written(string description, IReadOnlyList<string>? nonFiniteTensors = null) =>
        new(Image.Serialize().Bytes, description, nonFiniteTensors);

    /// <summary>A random tensor of the image, optionally among those matching <paramref name="where"/>.</summary>
    public TensorEntry PickTensor(Func<TensorEntry, bool>? where = null)
    {
        var candidates = where is null ? Image.Tensors : Image.Tensors.Where(where).ToList();
        return Pick(candidates);
    }

    /// <summary>Which field, if any, holds byte <paramref name="offset"/> (for descriptions).</summary>
    public string Describe(long offset)
    {
        var field = Original.Fields.LastOrDefault(f => f.Offset <= offset && offset < f.Offset + f.Width);
        return field is null ? $"byte {offset}" : $"byte {offset} ({field.Name})";
    }
}

/// <summary>Every mutation kind, in the order the tables list them.</summary>
internal static class MutationKinds
{
    public static IReadOnlyList<MutationKind> All { get; } =
    [
        RawByteMutations.Truncate,
        RawByteMutations.BitFlip,
        RawByteMutations.ByteSwap,
        RawByteMutations.PlantedCount,
        DirectoryMutations.TensorType,
        DirectoryMutations.TensorOffset,
        DirectoryMutations.TensorDims,
        MetadataMutations.MetadataType,
        MetadataMutations.DuplicateKey,
        MetadataMutations.TokenizerArray,
        HyperParameterMutations.HyperParameter,
        DirectoryMutations.BlockCount,
        DirectoryMutations.ExtraTensor,
        DirectoryMutations.MissingTensor,
        NonFiniteMutations.NonFiniteWeight,
        NonFiniteMutations.NonFiniteNorm,
        NonFiniteMutations.NonFiniteScales,
        RawByteMutations.WeightGarbage,
    ];

    /// <summary>The kinds named in a comma-separated list (all of them for null or empty).</summary>
    public static IReadOnlyList<MutationKind> Parse(string? names)
    {
        if (string.IsNullOrWhiteSpace(names)) return All;
        return [.. names.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(n =>
            All.FirstOrDefault(k => k.Name == n) ?? throw new ArgumentException(
                $"Unknown mutation kind '{n}'; the kinds are {string.Join(", ", All.Select(k => k.Name))}."))];
    }

    /// <summary>Types a model file may hold and the loader supports, and ones it may hold but the loader does not.</summary>
    public static readonly GgmlType[] SupportedTypes =
        [GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K];
}
