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
    };

    /// <summary>Weight types the CPU backend runs.</summary>
    internal static readonly GgmlType[] SupportedTypes = [GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0, GgmlType.Q4_0];

    internal static unsafe mst_tensor_desc[] Build(GgufFile file, ModelConfig config)
    {
        var table = new List<mst_tensor_desc>();
        foreach (var tensor in file.Tensors)
        {
            if (!TryGetRole(tensor.Name, config.LayerCount, out var role, out var layer)) continue; // not used by this architecture
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
                data = (void*)file.GetTensorPointer(tensor),
                n_bytes = (ulong)tensor.ByteSize,
            };
            for (var d = 0; d < 4; d++) desc.ne[d] = d < tensor.Dimensions.Length ? tensor.Dimensions[d] : 1;
            table.Add(desc);
        }
        CheckPresent(file, config);
        return [.. table];
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
            foreach (var suffix in LayerRoles.Keys)
            {
                var name = string.Create(CultureInfo.InvariantCulture, $"blk.{layer}.{suffix}");
                if (file.FindTensor(name) is null) throw new GgufFormatException($"{file.Path}: the required tensor '{name}' is missing.");
            }
        }
    }

    internal static bool TryGetRole(string name, int layerCount, out mst_tensor_role role, out int layer)
    {
        layer = -1;
        if (GlobalRoles.TryGetValue(name, out role)) return true;
        if (!name.StartsWith("blk.", StringComparison.Ordinal)) return false;
        var dot = name.IndexOf('.', 4);
        if (dot < 0 || !int.TryParse(name.AsSpan(4, dot - 4), NumberStyles.None, CultureInfo.InvariantCulture, out var index)) return false;
        if (!LayerRoles.TryGetValue(name[(dot + 1)..], out role)) return false;
        if (index >= layerCount) return false; // a stray block past block_count is not ours to run
        layer = index;
        return true;
    }
}
