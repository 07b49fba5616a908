using System.Globalization;
using System.Text.RegularExpressions;
using Mistral.Gguf;

namespace Mistral.HostileInput.Oracle;

/// <summary>
/// The "no silent drops" oracle, computed from the file alone and never from the library: the tensors a llama-architecture
/// model of the file's own block_count and expert_count uses, against the tensors the file holds and the layers the
/// loaded model runs.
/// </summary>
internal static partial class TensorAccounting
{
    private static readonly string[] AttentionParts = ["attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm"];
    private static readonly string[] DenseParts = ["ffn_gate", "ffn_up", "ffn_down"];
    private static readonly string[] ExpertParts = ["ffn_gate_inp", "ffn_gate_exps", "ffn_up_exps", "ffn_down_exps"];

    [GeneratedRegex(@"^blk\.(\d+)\.")]
    private static partial Regex LayerPrefix();

    /// <summary>Every tensor name a model of <paramref name="blockCount"/> layers uses (output.weight included: a tied file simply lacks it).</summary>
    public static HashSet<string> UsedTensors(long blockCount, long expertCount)
    {
        var used = new HashSet<string>(StringComparer.Ordinal) { "token_embd.weight", "output_norm.weight", "output.weight" };
        for (var l = 0L; l < blockCount; l++)
        {
            foreach (var part in AttentionParts.Concat(expertCount > 0 ? ExpertParts : DenseParts))
                used.Add(string.Create(CultureInfo.InvariantCulture, $"blk.{l}.{part}.weight"));
        }
        return used;
    }

    /// <summary>What the loaded model silently leaves out, or null when every tensor and layer is accounted for.</summary>
    public static string? FindSilentDrop(GgufFile file, int loadedLayers) =>
        FindSilentDrop(file.Metadata, file.Tensors.Select(t => t.Name).ToList(), loadedLayers);

    /// <summary>What a model that loaded <paramref name="loadedLayers"/> layers from this metadata and these tensors silently leaves out.</summary>
    public static string? FindSilentDrop(IReadOnlyDictionary<string, GgufValue> metadata, IReadOnlyList<string> tensorNames, int loadedLayers)
    {
        var arch = metadata.TryGetValue("general.architecture", out var a) && a.Type == GgufValueType.String ? a.AsString() : "llama";
        var blockCount = Integer(metadata, $"{arch}.block_count") ?? loadedLayers;
        var experts = Integer(metadata, $"{arch}.expert_count") ?? 0;
        if (blockCount != loadedLayers)
            return $"the model runs {loadedLayers} layers but {arch}.block_count is {blockCount}";

        var used = UsedTensors(blockCount, experts);
        var unused = tensorNames.Where(n => !used.Contains(n)).ToList();
        if (unused.Count > 0)
        {
            return $"tensor '{unused[0]}'{(unused.Count > 1 ? $" (and {unused.Count - 1} more)" : "")} is in the file but not used by a " +
                $"{(experts > 0 ? "mixture-of-experts " : "")}model of {blockCount} layers";
        }

        var present = tensorNames.Select(n => LayerPrefix().Match(n)).Where(m => m.Success)
            .Select(m => long.TryParse(m.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : -1)
            .Distinct().Order().ToList();
        if (present.Count != loadedLayers || present.Any(n => n < 0 || n >= loadedLayers))
            return $"the file has tensors for layers [{string.Join(", ", present)}] but the model runs {loadedLayers} layers";
        return null;
    }

    private static long? Integer(IReadOnlyDictionary<string, GgufValue> metadata, string key)
    {
        if (!metadata.TryGetValue(key, out var value)) return null;
        try
        {
            return value.AsInt64();
        }
        catch (GgufFormatException)
        {
            return null; // not a scalar integer: the loader must have read it some other way; judge by what it loaded
        }
    }
}
