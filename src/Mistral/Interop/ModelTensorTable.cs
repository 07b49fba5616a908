using System.Globalization;
using Mistral.Gguf;

namespace Mistral.Interop;

/// <summary>
/// Turns a GGUF tensor directory into the native core's tensor table: which tensor plays which role in
/// which layer, and where its bytes lie in the mapping. Names follow llama.cpp's converter for the
/// "llama" architecture. Pointers handed over always come from GgufFile, which has already checked that
/// every tensor's whole byte range lies inside the file.
/// </summary>
internal static class ModelTensorTable
{
    private static readonly Dictionary<string, mst_tensor_role> GlobalRoles = new(StringComparer.Ordinal)
    {
        ["token_embd.weight"] = mst_tensor_role.MST_ROLE_TOKEN_EMBD,
        ["output_norm.weight"] = mst_tensor_role.MST_ROLE_OUTPUT_NORM,
        ["output.weight"] = mst_tensor_role.MST_ROLE_OUTPUT,
    };

    private static readonly Dictionary<string, mst_tensor_role> LayerRoles = new(StringComparer.Ordinal)
    {
        ["attn_norm.weight"] = mst_tensor_role.MST_ROLE_ATTN_NORM,
        ["attn_q.weight"] = mst_tensor_role.MST_ROLE_ATTN_Q,
        ["attn_k.weight"] = mst_tensor_role.MST_ROLE_ATTN_K,
        ["attn_v.weight"] = mst_tensor_role.MST_ROLE_ATTN_V,
        ["attn_output.weight"] = mst_tensor_role.MST_ROLE_ATTN_OUT,
        ["ffn_norm.weight"] = mst_tensor_role.MST_ROLE_FFN_NORM,
        ["ffn_gate.weight"] = mst_tensor_role.MST_ROLE_FFN_GATE,
        ["ffn_up.weight"] = mst_tensor_role.MST_ROLE_FFN_UP,
        ["ffn_down.weight"] = mst_tensor_role.MST_ROLE_FFN_DOWN,
        // Mixture of experts (Mixtral): the router, and every expert's matrices stacked in one 3-D tensor.
        ["ffn_gate_inp.weight"] = mst_tensor_role.MST_ROLE_FFN_GATE_INP,
        ["ffn_gate_exps.weight"] = mst_tensor_role.MST_ROLE_FFN_GATE_EXPS,
        ["ffn_up_exps.weight"] = mst_tensor_role.MST_ROLE_FFN_UP_EXPS,
        ["ffn_down_exps.weight"] = mst_tensor_role.MST_ROLE_FFN_DOWN_EXPS,
    };

    private static readonly string[] DenseFfn = ["ffn_gate.weight", "ffn_up.weight", "ffn_down.weight"];
    private static readonly string[] ExpertFfn = ["ffn_gate_inp.weight", "ffn_gate_exps.weight", "ffn_up_exps.weight", "ffn_down_exps.weight"];

    /// <summary>Older converters wrote one tensor per expert: blk.N.ffn_gate.E.weight, ffn_up.E, ffn_down.E.</summary>
    internal static bool IsSplitExpertName(string name)
    {
        var parts = name.Split('.');
        return parts is ["blk", var layer, "ffn_gate" or "ffn_up" or "ffn_down", var expert, "weight"]
            && layer.Length > 0 && layer.All(char.IsAsciiDigit) && expert.Length > 0 && expert.All(char.IsAsciiDigit);
    }

    /// <summary>Weight types the CPU backend runs.</summary>
    internal static readonly GgmlType[] SupportedTypes =
    [
        GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0, GgmlType.Q4_0,
        GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K,
    ];

    internal static unsafe mst_tensor_desc[] Build(GgufFile file, ModelConfig config)
    {
        RejectSplitExperts(file, config);
        var used = file.Tensors.Select(t => (Tensor: t, Use: Classify(file, config, t.Name))).ToList();
        ModelShapes.Check(file, config, used.Select(u => (u.Tensor.Name, u.Use.Suffix)));
        var table = new List<mst_tensor_desc>();
        foreach (var (tensor, (role, layer, _)) in used)
        {
            if (Array.IndexOf(SupportedTypes, tensor.Type) < 0)
            {
                throw new NotSupportedException(
                    $"{file.Path}: tensor '{tensor.Name}' has type {tensor.Type}, which this version cannot run " +
                    $"(supported: {string.Join(", ", SupportedTypes)}).");
            }
            var desc = new mst_tensor_desc
            {
                struct_size = (uint)sizeof(mst_tensor_desc),
                role = (int)role,
                layer = layer,
                type = (int)tensor.Type,
                n_dims = (uint)tensor.Dimensions.Length,
                // GgufFile maps the file read-only and nothing writes it: the core may drop the pages of
                // tensors it copies (repacking), so a loaded model is resident once, not twice.
                flags = (uint)mst_tensor_flag.MST_TENSOR_FILE_MAPPED,
                data = (void*)file.GetTensorPointer(tensor),
                n_bytes = (ulong)tensor.ByteSize,
            };
            for (var d = 0; d < 4; d++) desc.ne[d] = d < tensor.Dimensions.Length ? tensor.Dimensions[d] : 1;
            table.Add(desc);
        }
        CheckPresent(file, config);
        return [.. table];
    }

    /// <summary>
    /// What a tensor of the file is for. Every tensor must have a use: llama.cpp refuses a file with tensors it did
    /// not load ("wrong number of tensors"), and running while ignoring one would be a silently different model — a
    /// layer past <c>block_count</c> dropped, an attention bias left out.
    /// </summary>
    private static (mst_tensor_role Role, int Layer, string Suffix) Classify(GgufFile file, ModelConfig config, string name)
    {
        var arch = config.Architecture;
        if (GlobalRoles.TryGetValue(name, out var global)) return (global, -1, name);
        if (ParseLayerName(name) is not var (index, suffix))
        {
            if (name == "rope_freqs.weight")
                throw new NotSupportedException($"{file.Path}: tensor 'rope_freqs.weight' (RoPE frequency factors) is not supported; running without it would change every position's encoding.");
            throw new GgufFormatException($"{file.Path}: tensor '{name}' is not part of a {arch} model; llama.cpp refuses such a file too (wrong number of tensors).");
        }
        if (!LayerRoles.TryGetValue(suffix, out var role))
        {
            if (suffix.EndsWith(".bias", StringComparison.Ordinal))
                throw new NotSupportedException($"{file.Path}: tensor '{name}' is a bias; Mistral models have none and this version does not run them.");
            throw new GgufFormatException($"{file.Path}: tensor '{name}' is not part of a {arch} model; llama.cpp refuses such a file too (wrong number of tensors).");
        }
        if (index >= config.LayerCount)
        {
            throw new GgufFormatException(
                $"{file.Path}: tensor '{name}' belongs to layer {index}, but {arch}.block_count is {config.LayerCount} " +
                $"(layers 0..{config.LayerCount - 1}): the key or the tensors are corrupt, and running would drop that layer.");
        }
        var moe = config.ExpertCount > 0;
        if (moe ? Array.IndexOf(DenseFfn, suffix) >= 0 : Array.IndexOf(ExpertFfn, suffix) >= 0)
        {
            throw new GgufFormatException(moe
                ? $"{file.Path}: tensor '{name}' is a dense feed-forward matrix, but {arch}.expert_count = {config.ExpertCount} makes this a mixture-of-experts model."
                : $"{file.Path}: tensor '{name}' belongs to a mixture-of-experts layer, but the file has no {arch}.expert_count.");
        }
        return (role, index, suffix);
    }

    /// <summary>"blk.N.rest" as (N, rest); null for any other name.</summary>
    private static (int Layer, string Suffix)? ParseLayerName(string name)
    {
        if (!name.StartsWith("blk.", StringComparison.Ordinal)) return null;
        var dot = name.IndexOf('.', 4);
        if (dot < 0 || !int.TryParse(name.AsSpan(4, dot - 4), NumberStyles.None, CultureInfo.InvariantCulture, out var index)) return null;
        return (index, name[(dot + 1)..]);
    }

    /// <summary>Names a missing tensor by its file name, which says more to a user than a role number.</summary>
    private static void CheckPresent(GgufFile file, ModelConfig config)
    {
        foreach (var name in new[] { "token_embd.weight", "output_norm.weight" })
        {
            if (file.FindTensor(name) is null) throw new GgufFormatException($"{file.Path}: the required tensor '{name}' is missing.");
        }
        for (var layer = 0; layer < config.LayerCount; layer++)
        {
            foreach (var suffix in LayerRoles.Keys.Where(s => Array.IndexOf(config.ExpertCount > 0 ? DenseFfn : ExpertFfn, s) < 0))
            {
                var name = string.Create(CultureInfo.InvariantCulture, $"blk.{layer}.{suffix}");
                if (file.FindTensor(name) is null)
                {
                    throw new GgufFormatException(
                        $"{file.Path}: the required tensor '{name}' is missing ({config.Architecture}.block_count is {config.LayerCount}, so layers 0..{config.LayerCount - 1} must all be present).");
                }
            }
        }
    }

    /// <summary>
    /// Per-expert tensors are refused rather than stacked: the native core reads weights in place from the
    /// mapping and addresses expert e at a fixed stride inside one tensor, which split tensors (interleaved in
    /// the file) cannot give without copying every expert's weights into new memory — the whole model, for
    /// Mixtral. Current llama.cpp converters write the stacked form; re-converting is the fix.
    /// </summary>
    private static void RejectSplitExperts(GgufFile file, ModelConfig config)
    {
        if (config.ExpertCount == 0) return;
        var split = file.Tensors.Select(t => t.Name).Where(IsSplitExpertName).Take(3).ToList();
        if (split.Count == 0) return;
        throw new NotSupportedException(
            $"{file.Path}: this mixture-of-experts file stores each expert as its own tensor ({string.Join(", ", split)}, ...), " +
            "the layout of older converters. Only stacked experts (blk.N.ffn_gate_exps.weight, ffn_up_exps, ffn_down_exps) " +
            "are supported: re-convert the model with a current llama.cpp convert_hf_to_gguf.py.");
    }
}
